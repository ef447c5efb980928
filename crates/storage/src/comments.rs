//! Comments under a page's posts. Each customer's comments under one post are a conversation
//! (`domain::comments::thread_of`), stored by the same ingest as messages (ownership, states, labels,
//! unread counts, search and `new_messages` come with it); `comments` keeps what a comment has that a
//! message has not, and `feed_posts` what the post says. Agents answer under a comment, hide, show
//! again or delete it through the page's bot, with the command channel's guarantees.

use crate::accounts::{self, Account, writable};
use crate::commands::{
    EVENT_ID_AT_COMMIT, NamesItsEvent, QueuedMessage, insert_command, message_event, new_command_id,
};
use crate::inbox::{MESSAGE_COLUMNS, MessageView, conversation, message, message_from_row};
use crate::ingest::{IngestOutcome, store_messages};
use crate::sql::{Tx, args};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use std::collections::HashMap;
use switchboard_domain::comments::{
    FeedPost, ModerateCommentCommand, Moderation, NewComment, PrivateReplyCommand,
    ReplyCommentCommand,
};
use switchboard_domain::ingest::{Batch, Direction, NewMessage};
use switchboard_domain::status::CommandKind;
use switchboard_domain::{UnixMillis, ValidationError};

/// What a comment has that a message has not (`comment` of a message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CommentView {
    /// The post it is under.
    pub post_id: String,
    /// The platform id of the comment it answers; `null` for a comment on the post itself.
    pub parent_id: Option<String>,
    pub hidden: bool,
    pub deleted: bool,
    /// A moderation asked of the page's bot and not yet done.
    pub pending: Option<Moderation>,
    /// Why the last moderation failed (the platform's reason).
    pub error: Option<String>,
    /// A private reply (sent in Messenger) rather than an answer under the comment.
    pub private: bool,
}

/// A post's preview (`GET /api/feed_posts/{user_id_chat}/{post_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FeedPostView {
    pub post_id: String,
    pub text: String,
    pub picture: Option<String>,
    pub permalink: Option<String>,
    pub created_at: Option<UnixMillis>,
}

/// A moderation queued for the page's bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuedModeration {
    pub user_id_chat: String,
    /// The comment, with `comment.pending` set.
    pub message: MessageView,
    pub command_id: String,
    pub event_id: i64,
}

impl NamesItsEvent for QueuedModeration {
    fn name_event(&mut self, event_id: i64) {
        self.event_id = event_id;
    }
}

fn comment_from_row(r: &crate::sql::Row<'_>, at: usize) -> Result<CommentView> {
    Ok(CommentView {
        post_id: r.get(at)?,
        parent_id: r.get(at + 1)?,
        hidden: r.get(at + 2)?,
        deleted: r.get(at + 3)?,
        pending: r.get(at + 4)?,
        error: r.get(at + 5)?,
        private: r.get(at + 6)?,
    })
}

const COMMENT_COLUMNS: &str = "post_id, parent_id, hidden, deleted, pending, error, private";

/// Fills `comment` of the messages that are comments (or replies to one), with one query.
pub(crate) fn attach_comments(tx: &Tx<'_>, messages: &mut [MessageView]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // Ids read from the database, never a caller's text.
    let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    let found = tx.rows(
        &format!(
            "SELECT message_id, {COMMENT_COLUMNS} FROM comments WHERE message_id IN ({})",
            ids.join(", ")
        ),
        args![],
        |r| Ok((r.get::<i64>(0)?, comment_from_row(r, 1)?)),
    )?;
    let mut by_id: HashMap<i64, CommentView> = found.into_iter().collect();
    for message in messages {
        message.comment = by_id.remove(&message.id);
    }
    Ok(())
}

/// A reply to the comment `target`, stored in its conversation as any reply is. The caller checked
/// the comment's account against its view.
fn reply_in_thread(
    tx: &Tx<'_>,
    target: &MessageView,
    text: &str,
    author: Option<i64>,
) -> Result<(Account, crate::inbox::ConversationView, MessageView)> {
    crate::commands::insert_reply(
        tx,
        target.conversation_id,
        text,
        &[],
        author,
        &switchboard_domain::AccountView::All,
    )
}

/// A message with its comment, if it is one: both read in one round trip.
pub(crate) fn message_with_comment(tx: &Tx<'_>, id: i64) -> Result<MessageView> {
    message_with_comment_after(
        tx,
        &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"),
        args![id],
        id,
    )
}

/// [`message_with_comment`], the message's columns read by `statement` (a `SELECT`, or an
/// `UPDATE … RETURNING` them that changes it first), its comment read in the same round trip.
pub(crate) fn message_with_comment_after(
    tx: &Tx<'_>,
    statement: &str,
    statement_args: &[&dyn crate::sql::ToValue],
    id: i64,
) -> Result<MessageView> {
    let (view, comment) = tx.optional_pair(
        (statement, statement_args),
        message_from_row,
        (
            &format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE message_id = ?1"),
            args![id],
        ),
        |r| comment_from_row(r, 0),
    )?;
    let mut view = view.ok_or(StorageError::UnknownMessage(id))?;
    view.comment = comment;
    Ok(view)
}

fn upsert_posts(tx: &Tx<'_>, account_id: i64, posts: &[FeedPost], now: i64) -> Result<()> {
    for post in posts {
        tx.execute_pipelined(
            "INSERT INTO feed_posts (account_id, post_id, text, picture, permalink, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (account_id, post_id) DO UPDATE SET text = excluded.text,
                 picture = COALESCE(excluded.picture, feed_posts.picture),
                 permalink = COALESCE(excluded.permalink, feed_posts.permalink),
                 created_at = COALESCE(excluded.created_at, feed_posts.created_at), updated_at = excluded.updated_at",
            args![account_id, post.post_id, post.text, post.picture, post.permalink, post.created_at, now],
        )?;
    }
    Ok(())
}

/// The thread and participant of the conversation holding the comment `platform_id`, if it arrived.
fn thread_of_comment(
    tx: &Tx<'_>,
    account_id: i64,
    platform_id: &str,
) -> Result<Option<(String, String, String)>> {
    tx.optional(
        "SELECT c.thread_id, c.participant_id, c.participant_name FROM messages m
           JOIN conversations c ON c.id = m.conversation_id
          WHERE m.account_id = ?1 AND m.platform_message_id = ?2",
        args![account_id, platform_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// A comment an agent may act on: its state and its platform id, or why not (not a comment, deleted
/// on the platform, or not there yet).
fn actionable(view: &MessageView) -> Result<(CommentView, String)> {
    let comment = view
        .comment
        .clone()
        .ok_or_else(|| ValidationError::new("id", "is not a comment"))?;
    if comment.deleted {
        return Err(StorageError::Conflict("the comment was deleted".into()));
    }
    let platform_id = view.message_id.clone().ok_or_else(|| {
        StorageError::Conflict(
            "the comment is not on the platform yet (its reply is still queued)".into(),
        )
    })?;
    Ok((comment, platform_id))
}

/// Queues a moderation of the comment `view` for `account`'s bot and announces it.
fn moderate(
    tx: &Tx<'_>,
    account: &Account,
    view: &MessageView,
    action: Moderation,
) -> Result<QueuedModeration> {
    let (_, comment_id) = actionable(view)?;
    let command_id = new_command_id()?;
    let command = ModerateCommentCommand {
        command_id: command_id.clone(),
        user_id_chat: account.user_id_chat.clone(),
        message_id: view.id,
        conversation_id: view.conversation_id,
        comment_id,
        action,
    };
    insert_command(
        tx,
        account.id,
        CommandKind::ModerateComment,
        &command,
        &command_id,
        Some(view.id),
        None,
    )?;
    tx.execute(
        "UPDATE comments SET pending = ?2, error = NULL WHERE message_id = ?1",
        args![view.id, action],
    )?;
    let view = message_with_comment(tx, view.id)?;
    message_event(tx, (account.id, &account.user_id_chat), &view)?;
    Ok(QueuedModeration {
        user_id_chat: account.user_id_chat.clone(),
        message: view,
        command_id,
        event_id: EVENT_ID_AT_COMMIT,
    })
}

/// After a moderation's outcome: what it changed on the comment (`Ok` with the action done, `Err`
/// with the platform's reason).
pub(crate) fn moderation_done(
    tx: &Tx<'_>,
    message_id: i64,
    outcome: std::result::Result<(), &str>,
) -> Result<()> {
    let pending: Option<Moderation> = tx
        .optional(
            "SELECT pending FROM comments WHERE message_id = ?1",
            args![message_id],
            |r| r.get(0),
        )?
        .flatten();
    match (outcome, pending) {
        (Ok(()), Some(Moderation::Hide)) => tx.execute(
            "UPDATE comments SET hidden = TRUE, pending = NULL, error = NULL WHERE message_id = ?1",
            args![message_id],
        )?,
        (Ok(()), Some(Moderation::Unhide)) => tx.execute(
            "UPDATE comments SET hidden = FALSE, pending = NULL, error = NULL WHERE message_id = ?1",
            args![message_id],
        )?,
        (Ok(()), Some(Moderation::Delete)) => tx.execute(
            "UPDATE comments SET deleted = TRUE, pending = NULL, error = NULL WHERE message_id = ?1",
            args![message_id],
        )?,
        (Ok(()), None) => 0,
        (Err(reason), _) => tx.execute(
            "UPDATE comments SET pending = NULL, error = ?2 WHERE message_id = ?1",
            args![message_id, reason],
        )?,
    };
    Ok(())
}

/// Whether a comment should be hidden by the page's setting: a customer's comment, not hidden yet,
/// that holds a phone number.
fn holds_a_number(comment: &NewComment) -> bool {
    comment.message.direction == Direction::In
        && !comment.hidden
        && !switchboard_domain::phone::find_numbers(&comment.message.text).is_empty()
}

impl Store {
    /// Stores a batch of comments and the post previews that came with it, in one transaction:
    /// each comment in its author's conversation under the post (a comment of the page itself in
    /// the conversation of the comment it answers; one answering a comment that never arrived is
    /// left out), with `new_messages`. On a page that hides comments with phone numbers, each new one
    /// that holds one is queued to be hidden.
    pub async fn ingest_comments(
        &self,
        batch: Batch<NewComment>,
        posts: Vec<FeedPost>,
    ) -> Result<IngestOutcome> {
        // Taking turns: moderation queues commands.
        let (outcome, ()) = self.write_ingest(None, move |tx| {
            let account = writable(tx, &batch.account)?;
            let now = UnixMillis::now().0;
            upsert_posts(tx, account.id, &posts, now)?;
            let mut items: Vec<NewMessage> = Vec::with_capacity(batch.items.len());
            let mut views: HashMap<String, CommentView> = HashMap::new();
            // The customers' comments of this batch, which the page's answers in it may answer.
            let in_batch: HashMap<&str, &NewMessage> = batch
                .items
                .iter()
                .filter(|c| !c.from_page())
                .map(|c| (c.message.message_id.as_str(), &c.message))
                .collect();
            for comment in &batch.items {
                let mut message = comment.message.clone();
                if comment.from_page() {
                    let parent = comment.parent_id.as_deref().unwrap_or_default();
                    let found = match in_batch.get(parent) {
                        Some(m) => Some((m.thread_id.clone(), m.participant_id.clone(), m.participant_name.clone())),
                        None => thread_of_comment(tx, account.id, parent)?,
                    };
                    let Some((thread, participant, name)) = found else {
                        continue;
                    };
                    (message.thread_id, message.participant_id, message.participant_name) = (thread, participant, name);
                }
                views.insert(message.message_id.clone(), CommentView {
                    post_id: comment.post_id.clone(),
                    parent_id: comment.parent_id.clone(),
                    hidden: comment.hidden,
                    deleted: false,
                    pending: None,
                    error: None,
                    private: false,
                });
                items.push(message);
            }
            if items.is_empty() {
                return Ok((IngestOutcome::new(batch.items.len(), 0, false), ()));
            }
            let (stored, inserted) = store_messages(tx, &account, &items, &|id| views.get(id).cloned(), now)?;
            // Comments of the page that answer nothing that arrived count as not new.
            let outcome = IngestOutcome::new(batch.items.len(), stored.new, stored.event_id.is_some());
            for comment in &batch.items {
                let Some(&id) = inserted.get(&comment.message.message_id) else { continue };
                tx.execute_pipelined(
                    "INSERT INTO comments (message_id, post_id, parent_id, hidden) VALUES (?1, ?2, ?3, ?4)",
                    args![id, comment.post_id, comment.parent_id, comment.hidden],
                )?;
            }
            if account.hide_phone_comments {
                for comment in batch.items.iter().filter(|c| holds_a_number(c)) {
                    let Some(&id) = inserted.get(&comment.message.message_id) else { continue };
                    let view = message_with_comment(tx, id)?;
                    moderate(tx, &account, &view, Moderation::Hide)?;
                }
            }
            if account.assignment.auto && outcome.new > 0 {
                crate::assignment::hand_out(tx, Some(account.id), now)?;
            }
            Ok((outcome, ()))
        })
        .await?;
        Ok(outcome)
    }

    /// What a post says, if its bot told.
    pub async fn feed_post(
        &self,
        user_id_chat: &str,
        post_id: &str,
    ) -> Result<Option<FeedPostView>> {
        let (user_id_chat, post_id) = (user_id_chat.to_owned(), post_id.to_owned());
        self.read(move |tx| {
            tx.optional(
                "SELECT p.post_id, p.text, p.picture, p.permalink, p.created_at FROM feed_posts p
                   JOIN facebook_accounts a ON a.id = p.account_id
                  WHERE a.user_id_chat = ?1 AND p.post_id = ?2",
                args![user_id_chat, post_id],
                |r| {
                    Ok(FeedPostView {
                        post_id: r.get(0)?,
                        text: r.get(1)?,
                        picture: r.get(2)?,
                        permalink: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                },
            )
        })
        .await
    }

    /// A comment (a message that is one), for the caller's checks before acting on it.
    pub async fn comment(&self, message_id: i64) -> Result<MessageView> {
        self.read(move |tx| {
            let view = message_with_comment(tx, message_id)?;
            if view.comment.is_none() {
                return Err(StorageError::UnknownMessage(message_id));
            }
            Ok(view)
        })
        .await
    }

    /// Hides, shows again or deletes a comment through the page's bot.
    pub async fn queue_moderation(
        &self,
        message_id: i64,
        action: Moderation,
    ) -> Result<QueuedModeration> {
        self.write_queued(move |tx| {
            let view = message_with_comment(tx, message_id)?;
            let conversation = conversation(tx, view.conversation_id)?;
            let account = accounts::writable(tx, &conversation.user_id_chat)?;
            moderate(tx, &account, &view, action)
        })
        .await
    }

    /// Answers a comment publicly, under it, through the page's bot: a reply in the comment's
    /// conversation, queued as any reply is (and, like one, making its author the owner).
    pub async fn queue_comment_reply(
        &self,
        message_id: i64,
        text: String,
        author: Option<i64>,
    ) -> Result<QueuedMessage> {
        self.write_queued(move |tx| {
            let target = message_with_comment(tx, message_id)?;
            let (comment, platform_id) = actionable(&target)?;
            // Facebook threads comments one level deep: an answer to a reply (a customer's or the
            // page's) goes under its top comment.
            let parent = comment.parent_id.clone().unwrap_or(platform_id);
            let (account, view, mut reply) = reply_in_thread(tx, &target, &text, author)?;
            tx.execute(
                "INSERT INTO comments (message_id, post_id, parent_id) VALUES (?1, ?2, ?3)",
                args![reply.id, comment.post_id, parent],
            )?;
            reply.comment = Some(CommentView {
                post_id: comment.post_id,
                parent_id: Some(parent.clone()),
                hidden: false,
                deleted: false,
                pending: None,
                error: None,
                private: false,
            });
            reply_under(tx, account, view.id, reply, parent)
        })
        .await
    }

    /// Answers a comment privately, in Messenger (Facebook's private reply: once per comment). The
    /// answer waits in the comment's conversation; once Facebook says who it went to, it moves to the
    /// Messenger conversation it opened with the comment's author, which the comment's conversation
    /// then links.
    pub async fn queue_private_reply(
        &self,
        message_id: i64,
        text: String,
        author: Option<i64>,
    ) -> Result<QueuedMessage> {
        self.write_queued(move |tx| {
            let target = message_with_comment(tx, message_id)?;
            let (comment, platform_id) = actionable(&target)?;
            if target.direction != "in" {
                return Err(ValidationError::new(
                    "id",
                    "is the page's own comment: a private reply answers a customer's",
                )
                .into());
            }
            let answered: Option<i64> = tx.optional(
                "SELECT k.message_id FROM comments k JOIN messages m ON m.id = k.message_id
                  WHERE k.private AND k.parent_id = ?1 AND m.account_id = (SELECT account_id FROM messages WHERE id = ?2)
                    AND m.status <> 'failed'",
                args![platform_id, message_id],
                |r| r.get(0),
            )?;
            if answered.is_some() {
                return Err(StorageError::Conflict(
                    "Facebook takes one private reply per comment, and this one has it".into(),
                ));
            }
            let (account, view, mut reply) = reply_in_thread(tx, &target, &text, author)?;
            tx.execute(
                "INSERT INTO comments (message_id, post_id, parent_id, private) VALUES (?1, ?2, ?3, TRUE)",
                args![reply.id, comment.post_id, platform_id],
            )?;
            reply.comment = Some(CommentView {
                post_id: comment.post_id,
                parent_id: Some(platform_id.clone()),
                hidden: false,
                deleted: false,
                pending: None,
                error: None,
                private: true,
            });
            private_reply(tx, account, &view, reply, platform_id)
        })
        .await
    }
}

/// Queues the command for a private reply to `comment_id` (new or retried) and announces it.
pub(crate) fn private_reply(
    tx: &Tx<'_>,
    account: Account,
    conversation: &crate::inbox::ConversationView,
    reply: MessageView,
    comment_id: String,
) -> Result<QueuedMessage> {
    let command_id = new_command_id()?;
    let command = PrivateReplyCommand {
        command_id: command_id.clone(),
        user_id_chat: account.user_id_chat.clone(),
        message_id: reply.id,
        conversation_id: conversation.id,
        comment_id,
        author_id: conversation.participant_id.clone(),
        text: reply.text.clone(),
    };
    insert_command(
        tx,
        account.id,
        CommandKind::PrivateReply,
        &command,
        &command_id,
        Some(reply.id),
        None,
    )?;
    message_event(tx, (account.id, &account.user_id_chat), &reply)?;
    Ok(QueuedMessage {
        user_id_chat: account.user_id_chat,
        message: reply,
        command_id,
        event_id: EVENT_ID_AT_COMMIT,
    })
}

/// A private reply went out to `recipient_id` (the commenter's Messenger id): it moves to their
/// Messenger conversation (made if it is new, named as the commenter, owned as the comments were),
/// which the comments' conversation links from now on; both conversations are announced.
pub(crate) fn private_reply_sent(
    tx: &Tx<'_>,
    account: &Account,
    message_id: i64,
    recipient_id: &str,
) -> Result<()> {
    let reply = message(tx, message_id)?;
    let comments = conversation(tx, reply.conversation_id)?;
    if !switchboard_domain::comments::is_comment_thread(&comments.thread_id) {
        return Ok(()); // moved already (a repeated outcome)
    }
    let now = UnixMillis::now().0;
    tx.execute(
        "INSERT INTO conversations (account_id, thread_id, participant_id, participant_name, assignee_user_id, created_at, updated_at)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (account_id, thread_id) DO NOTHING",
        args![account.id, recipient_id, comments.participant_name, comments.assignee_user_id, now],
    )?;
    let messenger: i64 = tx.one(
        "SELECT id FROM conversations WHERE account_id = ?1 AND thread_id = ?2",
        args![account.id, recipient_id],
        |r| r.get(0),
    )?;
    crate::search::reindex(
        tx,
        crate::search::Source::Conversations,
        &[(
            messenger,
            switchboard_domain::search::Document::of(&[&comments.participant_name]),
        )],
    )?;
    tx.execute(
        "UPDATE messages SET conversation_id = ?2 WHERE id = ?1",
        args![message_id, messenger],
    )?;
    tx.execute(
        "UPDATE conversations SET last_message_text = ?2, last_message_direction = 'out',
             last_message_at = CASE WHEN ?3 > COALESCE(last_message_at, 0) THEN ?3 ELSE COALESCE(last_message_at, 0) END,
             updated_at = ?4 WHERE id = ?1",
        args![messenger, reply.text.chars().take(200).collect::<String>(), reply.sent_at, now],
    )?;
    tx.execute(
        "UPDATE conversations SET linked_conversation_id = ?2, updated_at = ?3 WHERE id = ?1",
        args![comments.id, messenger, now],
    )?;
    for id in [messenger, comments.id] {
        let view = conversation(tx, id)?;
        crate::teamwork::announce_update(
            tx,
            &view,
            None,
            switchboard_domain::teamwork::UpdateReason::Changed,
        )?;
    }
    Ok(())
}

/// Queues the command for a reply under `parent` (new or retried) and announces it.
pub(crate) fn reply_under(
    tx: &Tx<'_>,
    account: Account,
    conversation_id: i64,
    reply: MessageView,
    parent: String,
) -> Result<QueuedMessage> {
    let command_id = new_command_id()?;
    let command = ReplyCommentCommand {
        command_id: command_id.clone(),
        user_id_chat: account.user_id_chat.clone(),
        message_id: reply.id,
        conversation_id,
        comment_id: parent,
        text: reply.text.clone(),
    };
    insert_command(
        tx,
        account.id,
        CommandKind::ReplyComment,
        &command,
        &command_id,
        Some(reply.id),
        None,
    )?;
    message_event(tx, (account.id, &account.user_id_chat), &reply)?;
    Ok(QueuedMessage {
        user_id_chat: account.user_id_chat,
        message: reply,
        command_id,
        event_id: EVENT_ID_AT_COMMIT,
    })
}
