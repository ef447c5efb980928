//! Comments under a page's posts, as bots push them (`POST /api/bot/new_comments`) and as agents act
//! on them. Each customer's comments under one post are one conversation of the inbox, with the same
//! ownership, states and labels as a Messenger conversation (the way Vietnamese shops work their
//! comments): its thread is [`thread_of`] the post and the author.

use crate::UnixMillis;
use crate::ingest::{
    Attachment, Batch, ConversationIn, Direction, MessageIn, NewMessage, account_id,
};
use crate::validation::{self, ValidationError};
use serde::{Deserialize, Serialize};

/// Longest post or author id in a comment (a thread id holds both).
const MAX_PART_CHARS: usize = 100;
/// Longest post preview kept.
pub const MAX_POST_TEXT_CHARS: usize = 2_000;

/// The thread of `author`'s comments under `post`.
pub fn thread_of(post_id: &str, author_id: &str) -> String {
    format!("comments:{post_id}:{author_id}")
}

/// Whether a conversation's thread is one of comments (its post and author: [`thread_of`]).
pub fn is_comment_thread(thread_id: &str) -> bool {
    thread_id.starts_with("comments:")
}

/// The post of a comments thread.
pub fn post_of_thread(thread_id: &str) -> Option<&str> {
    thread_id
        .strip_prefix("comments:")?
        .rsplit_once(':')
        .map(|(post, _)| post)
}

/// Body of `POST /api/bot/new_comments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommentBatch {
    pub user_id_chat: String,
    pub comments: Vec<CommentIn>,
    /// Previews of the posts commented on, when the bot knows them (it may send them later).
    #[serde(default)]
    pub posts: Vec<FeedPostIn>,
}

/// Who wrote a comment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CommentAuthor {
    /// Their id as the platform gives it (app-scoped on Facebook).
    #[schema(example = "6543210987")]
    pub id: String,
    #[serde(default)]
    #[schema(example = "Trần Văn Đức")]
    pub name: Option<String>,
}

/// One comment, as a bot pushes it. Idempotent by `comment_id`: a comment sent again is stored once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CommentIn {
    #[schema(example = "1234567890_1122334455")]
    pub comment_id: String,
    /// The post it is under (Facebook's `{page-id}_{post-id}`).
    #[schema(example = "1234567890_9988776655")]
    pub post_id: String,
    /// The comment it answers, for a reply; none for a comment on the post itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub author: CommentAuthor,
    /// Written by the page itself (in Facebook's app, or an agent's reply coming back): shown as the
    /// page's, in the thread of the comment it answers.
    #[serde(default)]
    pub from_page: bool,
    #[serde(default)]
    #[schema(example = "Giá bao nhiêu ạ?")]
    pub text: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub created_at: UnixMillis,
    /// Hidden on the platform already.
    #[serde(default)]
    pub hidden: bool,
    /// Its post's preview, when the bot knows it (the same as an entry of the batch's `posts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<FeedPostIn>,
}

/// A post's preview, as shown above its comments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct FeedPostIn {
    pub post_id: String,
    #[serde(default)]
    #[schema(example = "Bình gốm men lam, giá 450k")]
    pub text: Option<String>,
    /// A picture of the post (http or https).
    #[serde(default)]
    pub picture: Option<String>,
    /// The post on the platform (http or https).
    #[serde(default)]
    pub permalink: Option<String>,
    #[serde(default)]
    pub created_at: Option<UnixMillis>,
}

/// A comment ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    /// As a message: `message_id` is the comment's id, the thread is the post's and the author's
    /// ([`thread_of`]), `in` for the customer's, `out` for the page's.
    pub message: NewMessage,
    pub post_id: String,
    pub parent_id: Option<String>,
    pub hidden: bool,
}

impl NewComment {
    pub fn from_page(&self) -> bool {
        self.message.direction == Direction::Out
    }
}

/// A post preview ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPost {
    pub post_id: String,
    pub text: String,
    pub picture: Option<String>,
    pub permalink: Option<String>,
    pub created_at: Option<UnixMillis>,
}

/// A checked batch: its comments and the post previews that came with them.
pub type Comments = (Batch<NewComment>, Vec<FeedPost>);

impl CommentBatch {
    pub fn validate(self) -> Result<Comments, ValidationError> {
        let account = account_id("user_id_chat", &self.user_id_chat)?;
        if self.comments.is_empty() && self.posts.is_empty() {
            return Err(ValidationError::new(
                "comments",
                "must hold at least one comment (or `posts` one post)",
            ));
        }
        let max = crate::ingest::MAX_BATCH_ITEMS;
        if self.comments.len() > max || self.posts.len() > max {
            return Err(ValidationError::new(
                "comments",
                format!("at most {max} comments and {max} posts in one batch"),
            ));
        }
        let mut given_posts = self.posts;
        let mut items = Vec::with_capacity(self.comments.len());
        for (i, mut comment) in self.comments.into_iter().enumerate() {
            given_posts.extend(comment.post.take());
            items.push(comment.validate(&account).map_err(|e| e.at_item(i))?);
        }
        let posts = given_posts
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.validate().map_err(|e| e.at_item(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Batch { account, items }, posts))
    }
}

fn part(field: &str, value: &str) -> Result<String, ValidationError> {
    validation::identifier(field, value, MAX_PART_CHARS)
}

impl CommentIn {
    fn validate(self, account: &str) -> Result<NewComment, ValidationError> {
        let post_id = part("post_id", &self.post_id)?;
        let author_id = part("author.id", &self.author.id)?;
        let parent_id = self
            .parent_id
            .filter(|p| !p.trim().is_empty())
            .map(|p| validation::identifier("parent_id", &p, crate::ingest::MAX_ID_CHARS))
            .transpose()?;
        if self.from_page && parent_id.is_none() {
            return Err(ValidationError::new(
                "parent_id",
                "a comment of the page itself is stored as the answer to a customer's comment: give the comment it answers",
            ));
        }
        let message = MessageIn {
            user_id_chat: None,
            message_id: self.comment_id,
            conversation: ConversationIn {
                thread_id: thread_of(&post_id, &author_id),
                participant_id: author_id,
                participant_name: self.author.name,
            },
            direction: if self.from_page {
                Direction::Out
            } else {
                Direction::In
            },
            text: self.text,
            attachments: self.attachments,
            sent_at: self.created_at,
        };
        let message = message.validate(account).map_err(|mut e| {
            if e.field == "message_id" {
                e.field = "comment_id".into();
            }
            e
        })?;
        Ok(NewComment {
            message,
            post_id,
            parent_id,
            hidden: self.hidden,
        })
    }
}

impl FeedPostIn {
    fn validate(self) -> Result<FeedPost, ValidationError> {
        let text = self.text.unwrap_or_default().trim().to_owned();
        // A long post is shown as its start: cut, not refused (the bot cannot shorten Facebook's).
        let text = match text.char_indices().nth(MAX_POST_TEXT_CHARS) {
            Some((end, _)) => text[..end].to_owned(),
            None => text,
        };
        Ok(FeedPost {
            post_id: part("post_id", &self.post_id)?,
            text,
            picture: validation::optional_web_url("picture", self.picture)?,
            permalink: validation::optional_web_url("permalink", self.permalink)?,
            created_at: self.created_at,
        })
    }
}

crate::named_enum! {
    /// What an agent does to a comment on the platform.
    pub enum Moderation {
        /// Hidden from everyone but its author and their friends (Facebook's "hide").
        Hide = "hide",
        Unhide = "unhide",
        /// Removed for good.
        Delete = "delete",
    }
}

/// Body of `POST /api/comments/{id}/reply` and of `POST /api/comments/{id}/private_reply`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommentReplyIn {
    #[schema(example = "Dạ shop inbox bạn giá ạ")]
    pub text: String,
}

impl CommentReplyIn {
    pub fn validate(self) -> Result<String, ValidationError> {
        let text = self.text.trim().to_owned();
        if text.is_empty() {
            return Err(ValidationError::new("text", "must not be empty"));
        }
        validation::text("text", &text, crate::outbound::MAX_SEND_CHARS)?;
        Ok(text)
    }
}

/// `reply_comment_command`: answer a comment publicly, under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyCommentCommand {
    pub command_id: String,
    pub user_id_chat: String,
    /// Switchboard's id of the reply (a message of the comment's conversation).
    pub message_id: i64,
    pub conversation_id: i64,
    /// The platform's comment to answer (a reply to a reply answers its top comment, as Facebook
    /// threads them).
    pub comment_id: String,
    pub text: String,
}

/// `moderate_comment_command`: hide, show again, or delete a comment on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModerateCommentCommand {
    pub command_id: String,
    pub user_id_chat: String,
    /// Switchboard's id of the comment (a message).
    pub message_id: i64,
    pub conversation_id: i64,
    pub comment_id: String,
    pub action: Moderation,
}

/// `private_reply_command`: answer a comment in Messenger (Facebook's private reply), which opens a
/// Messenger conversation with its author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PrivateReplyCommand {
    pub command_id: String,
    pub user_id_chat: String,
    /// Switchboard's id of the reply (a message of the comment's conversation until it is sent).
    pub message_id: i64,
    pub conversation_id: i64,
    pub comment_id: String,
    /// The comment's author, as the platform gave it (Facebook answers with their Messenger id).
    pub author_id: String,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(comments: serde_json::Value) -> Result<Comments, ValidationError> {
        serde_json::from_value::<CommentBatch>(
            json!({"user_id_chat": "page1", "comments": comments}),
        )
        .expect("shape")
        .validate()
    }

    #[test]
    fn a_comment_is_a_message_of_its_authors_thread_under_the_post() {
        let (checked, posts) = batch(json!([{
            "comment_id": "c1", "post_id": "p1", "author": {"id": "u1", "name": "Đức"},
            "text": "Giá bao nhiêu ạ?", "created_at": 1_700_000_000
        }]))
        .expect("valid");
        assert!(posts.is_empty());
        let comment = &checked.items[0];
        assert_eq!(comment.message.thread_id, "comments:p1:u1");
        assert_eq!(comment.message.message_id, "c1");
        assert_eq!(comment.message.direction, Direction::In);
        assert_eq!(
            (comment.post_id.as_str(), comment.parent_id.as_deref()),
            ("p1", None)
        );
    }

    #[test]
    fn bad_comments_are_named() {
        let page_without_parent = batch(
            json!([{"comment_id": "c1", "post_id": "p1", "author": {"id": "page1"},
            "from_page": true, "text": "x", "created_at": 1_700_000_000}]),
        );
        assert_eq!(
            page_without_parent.map_err(|e| (e.item, e.field)),
            Err((Some(0), "parent_id".into()))
        );
        let empty = batch(
            json!([{"comment_id": "c1", "post_id": "p1", "author": {"id": "u"}, "created_at": 1_700_000_000}]),
        );
        assert_eq!(empty.map_err(|e| e.field), Err("text".into()));
        let long_post = batch(
            json!([{"comment_id": "c1", "post_id": "p".repeat(101), "author": {"id": "u"},
            "text": "x", "created_at": 1_700_000_000}]),
        );
        assert_eq!(long_post.map_err(|e| e.field), Err("post_id".into()));
        let no_id = batch(
            json!([{"comment_id": " ", "post_id": "p", "author": {"id": "u"}, "text": "x", "created_at": 1_700_000_000}]),
        );
        assert_eq!(no_id.map_err(|e| e.field), Err("comment_id".into()));
    }
}
