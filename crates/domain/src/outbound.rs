//! What the console asks for (send a message, publish a post, manage users and accounts), the commands
//! the sender hands to bots, and what bots report back.

use crate::auth::Role;
use crate::validation::{self, Checked, ValidationError};
use serde::{Deserialize, Serialize};

/// Longest post a page can publish (Facebook allows 63,206 characters).
pub const MAX_POST_CHARS: usize = 63_206;
/// Longest message an agent sends (Messenger's limit is 2,000 characters).
pub const MAX_SEND_CHARS: usize = 2_000;

/// Body of `POST /api/send_message_from_crm`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SendMessageIn {
    /// Switchboard's conversation id (from `GET /api/conversations/<user_id_chat>`).
    pub conversation_id: i64,
    /// The text; `message` is accepted too, as the seed's frontend names it. May be empty when files
    /// are attached.
    #[serde(alias = "message", default)]
    pub text: String,
    /// Files uploaded with `POST /api/attachments`, sent before the text (at most 5).
    #[serde(default)]
    #[schema(value_type = Vec<i64>, example = json!([12]))]
    pub attachment_ids: Vec<crate::AttachmentId>,
}

/// A reply to send, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReply {
    pub conversation_id: i64,
    pub text: String,
    /// Distinct, in the order given.
    pub attachment_ids: Vec<i64>,
}

impl SendMessageIn {
    pub fn validate(self) -> Result<NewReply, ValidationError> {
        if self.conversation_id <= 0 {
            return Err(ValidationError::new(
                "conversation_id",
                "must be a positive conversation id",
            ));
        }
        let text = self.text.trim().to_owned();
        if self.attachment_ids.len() > crate::attachments::MAX_ATTACHMENTS_PER_REPLY {
            return Err(ValidationError::new(
                "attachment_ids",
                format!(
                    "at most {} files on one reply",
                    crate::attachments::MAX_ATTACHMENTS_PER_REPLY
                ),
            ));
        }
        let mut attachment_ids: Vec<i64> = Vec::with_capacity(self.attachment_ids.len());
        for id in self.attachment_ids {
            if !attachment_ids.contains(&id.get()) {
                attachment_ids.push(id.get());
            }
        }
        if text.is_empty() && attachment_ids.is_empty() {
            return Err(ValidationError::new("text", "must not be empty"));
        }
        validation::text("text", &text, MAX_SEND_CHARS)?;
        Ok(NewReply {
            conversation_id: self.conversation_id,
            text,
            attachment_ids,
        })
    }
}

/// Body of `POST /api/post_to_facebook`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PostIn {
    pub user_id_chat: String,
    #[serde(alias = "message", default)]
    pub content: String,
    /// A photo to publish with the text (`POST /{page-id}/photos`); an http(s) URL Facebook can fetch.
    #[serde(default)]
    pub image_url: Option<String>,
}

/// A post to publish, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    pub user_id_chat: String,
    pub content: String,
    pub image_url: Option<String>,
}

impl PostIn {
    pub fn validate(self) -> Result<NewPost, ValidationError> {
        let user_id_chat = crate::ingest::account_id("user_id_chat", &self.user_id_chat)?;
        let content = self.content.trim().to_owned();
        let image_url = validation::optional_web_url("image_url", self.image_url)?;
        if content.is_empty() && image_url.is_none() {
            return Err(ValidationError::new("content", "must not be empty"));
        }
        validation::text("content", &content, MAX_POST_CHARS)?;
        Ok(NewPost {
            user_id_chat,
            content,
            image_url,
        })
    }
}

/// `send_message_command`, as a bot receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SendMessageCommand {
    /// Unique and stable across redeliveries: execute a command id at most once.
    pub command_id: String,
    pub user_id_chat: String,
    /// Switchboard's id of the outgoing message.
    pub message_id: i64,
    pub conversation_id: i64,
    pub thread_id: String,
    /// Who to send to (the customer's platform id).
    pub recipient_id: String,
    /// Empty when the reply is files only.
    pub text: String,
    /// Files to send before the text, each downloaded from the sender with the bot's token. Left out
    /// when there are none (as the seed's bots know the command).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::attachments::CommandAttachment>,
}

/// `post_news_feed_command`, as a bot receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostCommand {
    pub command_id: String,
    pub user_id_chat: String,
    /// Switchboard's id of the post.
    pub post_id: i64,
    pub content: String,
    /// When set, publish a photo post with `content` as its caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// What a bot reports after trying a command (`message_status_update`, `post_status_update`: the
/// seed's events), which differ only in what Facebook gave back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommandResultIn<Ids> {
    pub command_id: String,
    pub status: DeliveryStatus,
    #[serde(flatten)]
    pub ids: Ids,
    #[serde(default)]
    pub error: Option<String>,
}

pub type MessageResultIn = CommandResultIn<MessageIds>;
pub type PostResultIn = CommandResultIn<PostIds>;

/// What Facebook gave back for a sent message (a missing `Option` is `None`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MessageIds {
    pub platform_message_id: Option<String>,
    /// For a private reply to a comment: the commenter's Messenger id, which Facebook chose.
    #[serde(default)]
    pub recipient_id: Option<String>,
}

/// What Facebook gave back for a published post.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PostIds {
    pub platform_post_id: Option<String>,
    pub link: Option<String>,
}

/// The platform's id of what a command made, and its link: one shape for messages and posts.
pub struct PlatformIds {
    pub platform_id: Option<String>,
    pub link: Option<String>,
    pub recipient_id: Option<String>,
}

impl From<MessageIds> for PlatformIds {
    fn from(ids: MessageIds) -> Self {
        Self {
            platform_id: ids.platform_message_id,
            link: None,
            recipient_id: ids.recipient_id,
        }
    }
}

impl From<PostIds> for PlatformIds {
    fn from(ids: PostIds) -> Self {
        Self {
            platform_id: ids.platform_post_id,
            link: ids.link,
            recipient_id: None,
        }
    }
}

/// The outcome of a command. `posted` is accepted for `sent`, as posts say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[serde(alias = "posted", alias = "success")]
    Sent,
    #[serde(alias = "error")]
    Failed,
}

/// A command's outcome, validated: either the platform's id (and link), or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        platform_id: Option<String>,
        link: Option<String>,
        /// Who a private reply went to (the commenter's Messenger id).
        recipient_id: Option<String>,
    },
    Failed {
        reason: String,
    },
}

impl<Ids: Into<PlatformIds>> CommandResultIn<Ids> {
    /// Checks a bot's report on a command, messages and posts alike: the command's id, then its
    /// outcome.
    pub fn validate(self) -> Result<(String, Outcome), ValidationError> {
        let command_id = validation::identifier("command_id", &self.command_id, 64)?;
        let PlatformIds {
            platform_id,
            link,
            recipient_id,
        } = self.ids.into();
        let outcome = match self.status {
            DeliveryStatus::Sent => {
                let platform_id = platform_id
                    .filter(|id| !id.trim().is_empty())
                    .map(|id| {
                        validation::identifier("platform_id", &id, crate::ingest::MAX_ID_CHARS)
                    })
                    .transpose()?;
                let link = validation::optional_web_url("link", link)?;
                let recipient_id = recipient_id
                    .filter(|id| !id.trim().is_empty())
                    .map(|id| {
                        validation::identifier("recipient_id", &id, crate::ingest::MAX_ID_CHARS)
                    })
                    .transpose()?;
                Outcome::Sent {
                    platform_id,
                    link,
                    recipient_id,
                }
            }
            DeliveryStatus::Failed => {
                let reason = self
                    .error
                    .map(|e| e.trim().to_owned())
                    .filter(|e| !e.is_empty());
                let reason = reason
                    .unwrap_or_else(|| "the bot reported a failure without a reason".to_owned());
                validation::text("error", &reason, 2_000)?;
                Outcome::Failed { reason }
            }
        };
        Ok((command_id, outcome))
    }
}

/// A new console user (`POST /api/users`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUserIn {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub role: Role,
    pub password: String,
}

/// Changes to a user (`PATCH /api/users/{id}`); absent fields stay as they are. The password is in
/// clear: the store hashes it.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

impl UserChanges {
    /// The changes as a body asked for them, checked, with the display name tidied.
    pub fn checked(self) -> Result<Checked<Self>, ValidationError> {
        if let Some(password) = &self.password {
            self::password(password)?;
        }
        let display_name = self.display_name.as_deref().map(display_name).transpose()?;
        Ok(Checked(Self {
            display_name,
            ..self
        }))
    }

    /// A disabled user, a new password or a new role: open consoles must log in again. A new
    /// display name changes no one's access, and is no reason to make every socket re-check its token.
    pub fn change_access(&self) -> bool {
        self.role.is_some() || self.password.is_some() || self.disabled.is_some()
    }
}

pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn username(value: &str) -> Result<String, ValidationError> {
    let name = value.trim().to_lowercase();
    if name.len() < 2 || name.len() > 64 {
        return Err(ValidationError::new(
            "username",
            "must be 2 to 64 characters",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(ValidationError::new(
            "username",
            "may use letters, digits and . _ - @ only",
        ));
    }
    Ok(name)
}

pub fn password(value: &str) -> Result<(), ValidationError> {
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    validation::text("password", value, 1024)
}

pub fn display_name(value: &str) -> Result<String, ValidationError> {
    validation::name("display_name", value, 128)
}

/// A Facebook account's secrets. `Debug` never prints them.
#[derive(Default, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(default)]
pub struct Credentials {
    pub password: Option<String>,
    pub cookies: Option<String>,
    #[serde(alias = "2fa", alias = "two_fa")]
    pub two_factor_secret: Option<String>,
    pub page_access_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unchanged>" };
        f.debug_struct("Credentials")
            .field("password", &set(&self.password))
            .field("cookies", &set(&self.cookies))
            .field("two_factor_secret", &set(&self.two_factor_secret))
            .field("page_access_token", &set(&self.page_access_token))
            .finish()
    }
}

crate::named_enum! {
    /// A personal Facebook account or a page: their bots drive Facebook differently.
    pub enum AccountKind {
        Personal = "personal",
        Page = "page",
    }
}

/// Reads an optional account kind from a body, spaces around it allowed, with the API's words for a
/// wrong one.
fn account_kind<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<AccountKind>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|kind| {
            AccountKind::parse(kind.trim())
                .ok_or_else(|| serde::de::Error::custom("must be `page` or `personal`"))
        })
        .transpose()
}

/// An account's name follows the rules of a display name, but an error names the body's `name` field.
pub fn account_name(value: &str) -> Result<String, ValidationError> {
    display_name(value).map_err(|e| ValidationError {
        field: "name".into(),
        ..e
    })
}

/// A new account or page (`POST /api/fb_accounts`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAccountIn {
    pub user_id_chat: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `page` when absent.
    #[serde(default, deserialize_with = "account_kind")]
    pub kind: Option<AccountKind>,
    /// Credentials to store encrypted. An empty string means "not set".
    #[serde(default)]
    pub credentials: Credentials,
}

/// Changes to an account (`PATCH /api/fb_accounts/{user_id_chat}`): absent fields stay. In
/// `credentials`, an absent field stays, a string replaces it, and an empty string removes it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AccountChanges {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "account_kind")]
    pub kind: Option<AccountKind>,
    pub enabled: Option<bool>,
    /// A page's setting: hide every comment that holds a phone number as it arrives.
    pub hide_phone_comments: Option<bool>,
    #[serde(default)]
    pub credentials: Credentials,
}

impl AccountChanges {
    /// The changes as a body asked for them, checked, with the name tidied.
    pub fn checked(self) -> Result<Checked<Self>, ValidationError> {
        let name = self.name.as_deref().map(account_name).transpose()?;
        Ok(Checked(Self { name, ..self }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_output() {
        let credentials = Credentials {
            password: Some("hunter2-secret".into()),
            ..Default::default()
        };
        let text = format!("{credentials:?}");
        assert!(
            !text.contains("hunter2") && text.contains("<set>"),
            "{text}"
        );
    }

    #[test]
    fn account_changes_are_checked_as_the_api_words_them() {
        let changes: AccountChanges =
            serde_json::from_value(serde_json::json!({"name": "  Shop  ", "kind": " personal "}))
                .expect("valid");
        let changes = changes.checked().expect("checked");
        assert_eq!(changes.name.as_deref(), Some("Shop"));
        assert_eq!(changes.kind, Some(AccountKind::Personal));
        let wrong = serde_json::from_value::<AccountChanges>(serde_json::json!({"kind": "group"}))
            .expect_err("a wrong kind");
        assert!(
            wrong
                .to_string()
                .starts_with("must be `page` or `personal`"),
            "{wrong}"
        );
        let unnamed = AccountChanges {
            name: Some("Shop\u{7}".into()),
            ..Default::default()
        };
        assert_eq!(unnamed.checked().expect_err("unprintable").field, "name");
    }

    #[test]
    fn user_changes_check_the_password_and_say_when_access_changes() {
        let short = UserChanges {
            password: Some("short".into()),
            ..Default::default()
        };
        assert_eq!(short.checked().expect_err("short").field, "password");
        let renamed = UserChanges {
            display_name: Some(" Lan ".into()),
            ..Default::default()
        }
        .checked()
        .expect("checked");
        assert_eq!(renamed.display_name.as_deref(), Some("Lan"));
        assert!(!renamed.change_access());
        let disabled = UserChanges {
            disabled: Some(true),
            ..Default::default()
        };
        assert!(disabled.change_access());
    }

    #[test]
    fn usernames_and_passwords_have_rules() {
        assert_eq!(username(" Lan.Nguyen ").as_deref(), Ok("lan.nguyen"));
        assert!(username("a b").is_err());
        assert!(password("short").is_err());
        assert!(password("long enough password").is_ok());
    }

    #[test]
    fn a_failure_without_a_reason_gets_one() {
        let result: MessageResultIn =
            serde_json::from_str(r#"{"command_id": "c1", "status": "error"}"#).expect("parse");
        let (_, outcome) = result.validate().expect("valid");
        assert!(matches!(outcome, Outcome::Failed { reason } if !reason.is_empty()));
        let posted: PostResultIn =
            serde_json::from_str(r#"{"command_id": "c2", "status": "posted", "platform_post_id": "1_2", "link": "https://facebook.com/1_2"}"#)
                .expect("parse");
        assert!(matches!(posted.validate(), Ok((_, Outcome::Sent { .. }))));
    }

    #[test]
    fn sends_need_text_or_files() {
        let empty = SendMessageIn {
            conversation_id: 3,
            text: "  ".into(),
            attachment_ids: vec![],
        };
        assert_eq!(
            empty.validate().map_err(|e| e.field),
            Err("text".to_owned())
        );
        let seed_style: SendMessageIn =
            serde_json::from_str(r#"{"conversation_id": 3, "message": "Dạ"}"#).expect("alias");
        assert_eq!(
            seed_style.validate().map(|v| v.text).ok().as_deref(),
            Some("Dạ")
        );
        let files_only: SendMessageIn =
            serde_json::from_str(r#"{"conversation_id": 3, "attachment_ids": [7, 5, 7]}"#)
                .expect("files");
        assert_eq!(
            files_only.validate().map(|v| v.attachment_ids),
            Ok(vec![7, 5])
        );
        let too_many: SendMessageIn = serde_json::from_str(
            r#"{"conversation_id": 3, "text": "x", "attachment_ids": [1, 2, 3, 4, 5, 6]}"#,
        )
        .expect("parse");
        assert_eq!(
            too_many.validate().map_err(|e| e.field),
            Err("attachment_ids".to_owned())
        );
    }
}
