//! What bots push to the receiver: the wire shapes (as sent) and the validated records (as stored).
//!
//! Parsing and validating are separate steps on purpose: serde reports type errors with a path, and
//! [`MessageBatch::validate`] and friends check the rules serde cannot express, naming the item and field.

use crate::timestamp::UnixMillis;
use crate::validation::{self, ValidationError};
use serde::{Deserialize, Serialize};

/// Most items in one request. A bigger backlog is sent as several requests.
pub const MAX_BATCH_ITEMS: usize = 500;
/// Longest message or notification text (Messenger's own limit is 2,000; comments and posts run longer).
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Most attachments on one message (Messenger allows 10 images per message; leave room).
pub const MAX_ATTACHMENTS: usize = 20;
/// Longest platform identifier (Facebook's `m_…` message ids are about 100 characters).
pub const MAX_ID_CHARS: usize = 256;
/// Longest display name.
pub const MAX_NAME_CHARS: usize = 512;

/// `user_id_chat`: the Facebook account or page a bot works for, as the seed names it.
pub fn account_id(field: &str, value: &str) -> Result<String, ValidationError> {
    validation::identifier(field, value, MAX_ID_CHARS)
}

crate::named_enum! {
    /// Who wrote a message, seen from the account: the customer (`in`) or the account itself (`out`).
    /// A call goes the same two ways ([`crate::callcenter::Direction`] is this type).
    pub enum Direction {
        #[serde(alias = "incoming")]
        In = "in",
        #[serde(alias = "outgoing")]
        Out = "out",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    File,
    Sticker,
    Link,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: AttachmentKind,
    pub url: String,
}

/// Body of `POST /api/bot/new_messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MessageBatch {
    pub user_id_chat: String,
    pub messages: Vec<MessageIn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageIn {
    /// Optional repeat of the batch's account; when present it must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id_chat: Option<String>,
    pub message_id: String,
    pub conversation: ConversationIn,
    pub direction: Direction,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub sent_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationIn {
    pub thread_id: String,
    pub participant_id: String,
    #[serde(default)]
    pub participant_name: Option<String>,
}

/// A message ready to store: trimmed, bounded, with its account checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub message_id: String,
    pub thread_id: String,
    pub participant_id: String,
    pub participant_name: String,
    pub direction: Direction,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub sent_at: UnixMillis,
}

/// Body of `POST /api/bot/new_notifications`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NotificationBatch {
    pub user_id_chat: String,
    pub notifications: Vec<NotificationIn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id_chat: Option<String>,
    pub notification_id: String,
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    pub occurred_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub notification_id: String,
    pub kind: String,
    pub text: String,
    pub link: Option<String>,
    pub occurred_at: UnixMillis,
}

/// A validated batch: the account it is for and its items, in the order they were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<T> {
    pub account: String,
    pub items: Vec<T>,
}

/// Checks a batch's account and size, then each item against the account; an error names its item.
fn validate_batch<I, T>(
    account: &str,
    field: &str,
    items: Vec<I>,
    validate: impl Fn(I, &str) -> Result<T, ValidationError>,
) -> Result<Batch<T>, ValidationError> {
    let account = account_id("user_id_chat", account)?;
    if items.is_empty() {
        return Err(ValidationError::new(field, "must hold at least one item"));
    }
    if items.len() > MAX_BATCH_ITEMS {
        return Err(ValidationError::new(
            field,
            format!(
                "holds {} items; send at most {MAX_BATCH_ITEMS} per request",
                items.len()
            ),
        ));
    }
    let items = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| validate(item, &account).map_err(|e| e.at_item(index)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch { account, items })
}

fn same_account(account: &str, item: Option<&str>) -> Result<(), ValidationError> {
    match item {
        Some(other) if other.trim() != account => Err(ValidationError::new(
            "user_id_chat",
            format!("is `{}` but the batch is for `{account}`", other.trim()),
        )),
        _ => Ok(()),
    }
}

fn optional_name(field: &str, value: Option<&str>) -> Result<String, ValidationError> {
    validation::name(field, value.unwrap_or_default(), MAX_NAME_CHARS)
}

impl MessageBatch {
    pub fn validate(self) -> Result<Batch<NewMessage>, ValidationError> {
        validate_batch(
            &self.user_id_chat,
            "messages",
            self.messages,
            |m, account| {
                let message = m.validate(account)?;
                if crate::comments::is_comment_thread(&message.thread_id) {
                    return Err(ValidationError::new(
                        "conversation.thread_id",
                        "`comments:` starts the threads of comments: push comments to /api/bot/new_comments",
                    ));
                }
                Ok(message)
            },
        )
    }
}

impl MessageIn {
    pub(crate) fn validate(self, account: &str) -> Result<NewMessage, ValidationError> {
        same_account(account, self.user_id_chat.as_deref())?;
        let message_id = validation::identifier("message_id", &self.message_id, MAX_ID_CHARS)?;
        let thread_id = validation::identifier(
            "conversation.thread_id",
            &self.conversation.thread_id,
            MAX_ID_CHARS,
        )?;
        let participant_id = validation::identifier(
            "conversation.participant_id",
            &self.conversation.participant_id,
            MAX_ID_CHARS,
        )?;
        let participant_name = optional_name(
            "conversation.participant_name",
            self.conversation.participant_name.as_deref(),
        )?;
        let text = self.text.unwrap_or_default();
        validation::text("text", &text, MAX_TEXT_CHARS)?;
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(ValidationError::new(
                "attachments",
                format!(
                    "holds {} attachments; at most {MAX_ATTACHMENTS}",
                    self.attachments.len()
                ),
            ));
        }
        let attachments = self
            .attachments
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let url = validation::web_url(&format!("attachments[{i}].url"), &a.url)?;
                Ok(Attachment { kind: a.kind, url })
            })
            .collect::<Result<Vec<_>, ValidationError>>()?;
        if text.trim().is_empty() && attachments.is_empty() {
            return Err(ValidationError::new(
                "text",
                "a message needs text or at least one attachment",
            ));
        }
        Ok(NewMessage {
            message_id,
            thread_id,
            participant_id,
            participant_name,
            direction: self.direction,
            text,
            attachments,
            sent_at: self.sent_at,
        })
    }
}

impl NotificationBatch {
    pub fn validate(self) -> Result<Batch<NewNotification>, ValidationError> {
        validate_batch(
            &self.user_id_chat,
            "notifications",
            self.notifications,
            NotificationIn::validate,
        )
    }
}

impl NotificationIn {
    fn validate(self, account: &str) -> Result<NewNotification, ValidationError> {
        same_account(account, self.user_id_chat.as_deref())?;
        let notification_id =
            validation::identifier("notification_id", &self.notification_id, MAX_ID_CHARS)?;
        let kind = validation::identifier("kind", &self.kind, 64)?;
        let text = self.text.unwrap_or_default();
        validation::text("text", &text, MAX_TEXT_CHARS)?;
        let link = self
            .link
            .map(|l| validation::web_url("link", &l))
            .transpose()?;
        Ok(NewNotification {
            notification_id,
            kind,
            text,
            link,
            occurred_at: self.occurred_at,
        })
    }
}

crate::named_enum! {
    /// What a bot says about itself. `needs_login` is shown in the console as "credentials needed".
    pub enum BotStatus {
        Online = "online",
        Offline = "offline",
        Error = "error",
        NeedsLogin = "needs_login",
        RateLimited = "rate_limited",
    }
}

/// Body of `POST /api/bot/status_update`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusUpdateIn {
    pub user_id_chat: String,
    pub status: BotStatus,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub account: String,
    pub status: BotStatus,
    pub message: String,
}

impl StatusUpdateIn {
    pub fn validate(self) -> Result<StatusUpdate, ValidationError> {
        let account = account_id("user_id_chat", &self.user_id_chat)?;
        let message = self.message.unwrap_or_default();
        validation::text("message", &message, 2_000)?;
        Ok(StatusUpdate {
            account,
            status: self.status,
            message,
        })
    }
}

/// Body of `POST /api/bot/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterIn {
    pub user_id_chat: String,
    #[serde(default)]
    pub bot_name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub driver: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub account: String,
    pub bot_name: String,
    pub version: String,
    pub driver: String,
}

impl RegisterIn {
    pub fn validate(self) -> Result<Registration, ValidationError> {
        Ok(Registration {
            account: account_id("user_id_chat", &self.user_id_chat)?,
            bot_name: optional_name("bot_name", self.bot_name.as_deref())?,
            version: optional_name("version", self.version.as_deref())?,
            driver: optional_name("driver", self.driver.as_deref())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(id: &str) -> serde_json::Value {
        json!({
            "message_id": id,
            "conversation": {"thread_id": "t1", "participant_id": "p1", "participant_name": "Nguyễn Văn An"},
            "direction": "in",
            "text": "Shop ơi còn hàng không?",
            "attachments": [{"type": "image", "url": "https://cdn.example/a.jpg"}],
            "sent_at": "2026-11-22T09:00:00+07:00"
        })
    }

    fn parse(body: serde_json::Value) -> Result<Batch<NewMessage>, ValidationError> {
        serde_json::from_value::<MessageBatch>(body)
            .expect("shape")
            .validate()
    }

    #[test]
    fn a_valid_batch_keeps_order_and_trims() {
        let batch =
            parse(json!({"user_id_chat": " acc1 ", "messages": [message("m2"), message("m1")]}))
                .expect("valid");
        assert_eq!(batch.account, "acc1");
        let ids: Vec<_> = batch.items.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["m2", "m1"]);
        assert_eq!(batch.items[0].participant_name, "Nguyễn Văn An");
    }

    #[test]
    fn the_bad_item_is_named() {
        let mut bad = message("m2");
        bad["attachments"][0]["url"] = json!("javascript:alert(1)");
        let error =
            parse(json!({"user_id_chat": "acc1", "messages": [message("m1"), bad]})).unwrap_err();
        assert_eq!(error.item, Some(1));
        assert_eq!(error.field, "attachments[0].url");
    }

    #[test]
    fn an_item_for_another_account_is_refused() {
        let mut other = message("m1");
        other["user_id_chat"] = json!("acc2");
        let error = parse(json!({"user_id_chat": "acc1", "messages": [other]})).unwrap_err();
        assert_eq!(
            (error.item, error.field.as_str()),
            (Some(0), "user_id_chat")
        );
    }

    #[test]
    fn empty_and_oversized_batches_are_refused() {
        assert!(parse(json!({"user_id_chat": "acc1", "messages": []})).is_err());
        let many: Vec<_> = (0..=MAX_BATCH_ITEMS)
            .map(|i| message(&format!("m{i}")))
            .collect();
        let error = parse(json!({"user_id_chat": "acc1", "messages": many})).unwrap_err();
        assert_eq!(error.field, "messages");
    }

    #[test]
    fn a_message_needs_text_or_an_attachment() {
        let mut empty = message("m1");
        empty["text"] = json!("  ");
        empty["attachments"] = json!([]);
        let error = parse(json!({"user_id_chat": "acc1", "messages": [empty]})).unwrap_err();
        assert_eq!(error.field, "text");
    }

    #[test]
    fn notifications_validate_links() {
        let body = json!({"user_id_chat": "acc1", "notifications": [
            {"notification_id": "n1", "kind": "comment", "text": "Lan đã bình luận", "link": "https://facebook.com/1", "occurred_at": 1767225600},
            {"notification_id": "n2", "kind": "comment", "link": "ftp://x", "occurred_at": 1767225600}
        ]});
        let error = serde_json::from_value::<NotificationBatch>(body)
            .expect("shape")
            .validate()
            .unwrap_err();
        assert_eq!((error.item, error.field.as_str()), (Some(1), "link"));
    }
}

impl NewMessage {
    /// The line a conversation list shows for this message: its text, or what it carries.
    pub fn preview(&self) -> String {
        const MAX: usize = 200;
        let text = self.text.trim();
        if text.is_empty() {
            let kinds: Vec<_> = self
                .attachments
                .iter()
                .map(|a| format!("[{}]", a.kind.as_str()))
                .collect();
            return kinds.join(" ");
        }
        match text.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::File => "file",
            Self::Sticker => "sticker",
            Self::Link => "link",
        }
    }
}

#[cfg(test)]
mod preview_tests {
    use super::*;

    fn message(text: &str, attachments: Vec<Attachment>) -> NewMessage {
        NewMessage {
            message_id: "m".into(),
            thread_id: "t".into(),
            participant_id: "p".into(),
            participant_name: String::new(),
            direction: Direction::In,
            text: text.into(),
            attachments,
            sent_at: UnixMillis(1_767_225_600_000),
        }
    }

    #[test]
    fn preview_names_attachments_when_there_is_no_text() {
        let image = Attachment {
            kind: AttachmentKind::Image,
            url: "https://x/a.jpg".into(),
        };
        assert_eq!(message("", vec![image]).preview(), "[image]");
        assert_eq!(message(" chào ", vec![]).preview(), "chào");
        assert_eq!(
            message(&"ă".repeat(300), vec![]).preview().chars().count(),
            201
        );
    }
}
