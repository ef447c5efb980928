//! Meta's Messenger Platform and Graph API as the `page` bot driver meets them: webhook payloads turned
//! into Switchboard's messages and notifications, the messaging window, the meaning of Graph errors and
//! of the usage headers. Formats follow Meta's documentation (Webhooks for Messenger, Conversations API,
//! Send API, Graph API error handling and rate limiting).

use crate::UnixMillis;
use crate::comments::{CommentAuthor, CommentIn, FeedPostIn};
use crate::ingest::{
    Attachment, AttachmentKind, ConversationIn, Direction, MessageIn, NotificationIn,
};
use serde::Deserialize;
use serde_json::Value;

/// Header carrying `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the app secret.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// `metadata` we attach to every Send API message, so its echo is recognised as ours.
pub const ECHO_METADATA_PREFIX: &str = "switchboard:";

const HOUR_MS: i64 = 3_600_000;
/// Standard messaging: a page may answer freely within 24 hours of the customer's last message.
pub const STANDARD_WINDOW_MS: i64 = 24 * HOUR_MS;
/// The `HUMAN_AGENT` tag lets a person answer up to 7 days after the customer's last message.
pub const HUMAN_AGENT_WINDOW_MS: i64 = 7 * 24 * HOUR_MS;

/// What one webhook delivery (or one backfilled message) means for the CRM.
#[derive(Debug, PartialEq)]
pub enum Update {
    Message(MessageIn),
    Notification(NotificationIn),
    /// A comment under one of the page's posts (boxed: it is the largest update).
    Comment(Box<CommentIn>),
    /// Delivery and read receipts: the customer's app got or showed the page's messages up to `watermark`.
    Receipt {
        customer_id: String,
        kind: ReceiptKind,
        watermark: UnixMillis,
    },
    /// An echo of a message this bot sent through the Send API: already in the CRM as a command's outcome.
    OwnEcho {
        message_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Delivered,
    Read,
}

/// Why a webhook body is not one Meta sends for a page; its text is the `400` answer's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("`object` is `{0}`, expected `page`")]
    NotAPage(String),
    #[error("`object` is missing")]
    NoObject,
    #[error("`entry` must be an array")]
    NoEntries,
}

/// Turns a webhook body (`{"object": "page", "entry": [...]}`) into updates for `page_id`.
/// Entries for other pages (an app may serve several) are skipped and counted in the second value.
pub fn parse_webhook(page_id: &str, body: &Value) -> Result<(Vec<Update>, usize), WebhookError> {
    match body.get("object").and_then(Value::as_str) {
        Some("page") => {}
        Some(other) => return Err(WebhookError::NotAPage(other.to_owned())),
        None => return Err(WebhookError::NoObject),
    }
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(WebhookError::NoEntries)?;
    let mut updates = Vec::new();
    let mut foreign = 0;
    for entry in entries {
        let entry_id = id_of(entry.get("id"));
        if entry_id.as_deref() != Some(page_id) {
            foreign += 1;
            continue;
        }
        // `standby` carries the same events while another app holds the thread (handover protocol).
        for key in ["messaging", "standby"] {
            for event in entry
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                updates.extend(messaging_event(page_id, event));
            }
        }
        for change in entry
            .get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if change.get("field").and_then(Value::as_str) == Some("feed")
                && let Some(value) = change.get("value")
            {
                updates.extend(feed_change(page_id, value));
            }
        }
    }
    Ok((updates, foreign))
}

/// Graph ids arrive as strings, but some fixtures (and old payloads) write numbers.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn millis_of(value: Option<&Value>) -> Option<UnixMillis> {
    value?.as_i64().map(UnixMillis)
}

fn messaging_event(page_id: &str, event: &Value) -> Option<Update> {
    let sender = id_of(event.get("sender").and_then(|s| s.get("id")))?;
    let recipient = id_of(event.get("recipient").and_then(|s| s.get("id")))?;
    let timestamp = millis_of(event.get("timestamp"));
    if let Some(receipt) = event.get("delivery") {
        return Some(Update::Receipt {
            customer_id: sender,
            kind: ReceiptKind::Delivered,
            watermark: millis_of(receipt.get("watermark")).or(timestamp)?,
        });
    }
    if let Some(receipt) = event.get("read") {
        return Some(Update::Receipt {
            customer_id: sender,
            kind: ReceiptKind::Read,
            watermark: millis_of(receipt.get("watermark")).or(timestamp)?,
        });
    }
    let sent_at = timestamp?;
    if let Some(postback) = event.get("postback") {
        let title = postback.get("title").and_then(Value::as_str).unwrap_or("");
        let payload = postback
            .get("payload")
            .and_then(Value::as_str)
            .unwrap_or("");
        let message_id = postback
            .get("mid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("postback:{sender}:{}", sent_at.0));
        let text = if title.is_empty() { payload } else { title };
        return Some(Update::Message(message_in(
            &sender,
            None,
            message_id,
            Direction::In,
            Some(format!("▶ {text}")),
            Vec::new(),
            sent_at,
        )));
    }
    let message = event.get("message")?;
    let message_id = message.get("mid").and_then(Value::as_str)?.to_owned();
    let is_echo = message.get("is_echo").and_then(Value::as_bool) == Some(true);
    if is_echo
        && message
            .get("metadata")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with(ECHO_METADATA_PREFIX))
    {
        return Some(Update::OwnEcho { message_id });
    }
    // An echo was written by the page (in Facebook's own inbox, or by another app): the customer is
    // the recipient. Anything else the customer wrote.
    let (customer, direction) = if is_echo || sender == page_id {
        (recipient, Direction::Out)
    } else {
        (sender, Direction::In)
    };
    let text = message
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (attachments, described) = webhook_attachments(message.get("attachments"));
    let text = match text {
        Some(t) if !t.trim().is_empty() => Some(t),
        _ if attachments.is_empty() => Some(described.unwrap_or_else(|| "[message]".into())),
        _ => None,
    };
    Some(Update::Message(message_in(
        &customer,
        None,
        message_id,
        direction,
        text,
        attachments,
        sent_at,
    )))
}

/// Webhook attachments: `{type, payload: {url, sticker_id?, title?}}`. Kinds without a URL (a shared
/// location, a template) are described in words instead.
fn webhook_attachments(value: Option<&Value>) -> (Vec<Attachment>, Option<String>) {
    let mut attachments = Vec::new();
    let mut described = None;
    for item in value.and_then(Value::as_array).into_iter().flatten() {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("file");
        let payload = item.get("payload");
        let url = payload.and_then(|p| p.get("url")).and_then(Value::as_str);
        let is_sticker = payload.and_then(|p| p.get("sticker_id")).is_some();
        match url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
            Some(url) if attachments.len() < 20 => attachments.push(Attachment {
                kind: match kind {
                    _ if is_sticker => AttachmentKind::Sticker,
                    "image" => AttachmentKind::Image,
                    "video" | "reel" | "ig_reel" => AttachmentKind::Video,
                    "audio" => AttachmentKind::Audio,
                    "file" => AttachmentKind::File,
                    _ => AttachmentKind::Link,
                },
                url: url.to_owned(),
            }),
            Some(_) => {}
            None => described = Some(format!("[{kind}]")),
        }
    }
    (attachments, described)
}

fn message_in(
    customer_id: &str,
    customer_name: Option<String>,
    message_id: String,
    direction: Direction,
    text: Option<String>,
    attachments: Vec<Attachment>,
    sent_at: UnixMillis,
) -> MessageIn {
    MessageIn {
        user_id_chat: None,
        message_id,
        // One conversation per customer: webhooks name the customer, not Facebook's thread, so the
        // customer's page-scoped id is the thread id both for webhooks and for backfill.
        conversation: ConversationIn {
            thread_id: customer_id.to_owned(),
            participant_id: customer_id.to_owned(),
            participant_name: customer_name,
        },
        direction,
        text,
        attachments,
        sent_at,
    }
}

/// A comment added under one of the page's posts (`item: comment`, `verb: add`), as Meta's `feed`
/// webhook describes it: `parent_id` is the post's id for a comment on the post itself, `photo` a
/// picture attached, `post.permalink_url` the post's address. The page's own comment (an agent's
/// answer coming back, or one written in Facebook) answers the comment in `parent_id`.
fn comment_of(page_id: &str, value: &Value) -> Option<CommentIn> {
    let comment_id = id_of(value.get("comment_id"))?;
    let post_id = id_of(value.get("post_id"))?;
    let from = value.get("from");
    let author_id = id_of(from.and_then(|f| f.get("id"))).unwrap_or_else(|| "unknown".into());
    let parent_id = id_of(value.get("parent_id")).filter(|p| *p != post_id);
    if author_id == page_id && parent_id.is_none() {
        return None; // the page commenting on its own post: nothing a customer said
    }
    let attachments = value
        .get("photo")
        .and_then(Value::as_str)
        .map(|url| Attachment {
            kind: AttachmentKind::Image,
            url: url.to_owned(),
        })
        .into_iter()
        .collect();
    let permalink = value
        .get("post")
        .and_then(|p| p.get("permalink_url"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(CommentIn {
        comment_id,
        post_id: post_id.clone(),
        from_page: author_id == page_id,
        parent_id,
        author: CommentAuthor {
            id: author_id,
            name: from
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        text: value
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        attachments,
        created_at: value
            .get("created_time")
            .and_then(Value::as_i64)
            .map_or_else(UnixMillis::now, |s| UnixMillis(s * 1000)),
        hidden: false,
        post: permalink.map(|permalink| FeedPostIn {
            post_id,
            text: None,
            picture: None,
            permalink: Some(permalink),
            created_at: None,
        }),
    })
}

/// A `feed` change on the page: a comment added is a comment of the inbox (`comment_of`); reactions
/// and the rest become notifications linking to the post.
fn feed_change(page_id: &str, value: &Value) -> Option<Update> {
    let item = value.get("item").and_then(Value::as_str)?;
    let verb = value.get("verb").and_then(Value::as_str).unwrap_or("add");
    if item == "comment" && verb == "add" {
        return comment_of(page_id, value).map(|c| Update::Comment(Box::new(c)));
    }
    let from_id = id_of(value.get("from").and_then(|f| f.get("id")));
    if from_id.as_deref() == Some(page_id) {
        return None; // the page's own activity
    }
    let from_name = value
        .get("from")
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let occurred_at = value
        .get("created_time")
        .and_then(Value::as_i64)
        .map(|s| UnixMillis(s * 1000))
        .unwrap_or_else(UnixMillis::now);
    let post_id = id_of(value.get("post_id")).unwrap_or_default();
    let (notification_id, text, target) = match item {
        "comment" => {
            let comment_id = id_of(value.get("comment_id"))?;
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            (
                format!("comment:{comment_id}:{verb}"),
                format!("{from_name}: {message}"),
                comment_id,
            )
        }
        "reaction" => {
            let reaction = value
                .get("reaction_type")
                .and_then(Value::as_str)
                .unwrap_or("like");
            (
                format!(
                    "reaction:{post_id}:{}:{verb}:{}",
                    from_id.as_deref().unwrap_or("?"),
                    occurred_at.0
                ),
                format!("{from_name}: {reaction}"),
                post_id.clone(),
            )
        }
        other => (
            format!("{other}:{post_id}:{verb}:{}", occurred_at.0),
            from_name.to_owned(),
            post_id.clone(),
        ),
    };
    let kind = if verb == "add" {
        item.to_owned()
    } else {
        format!("{item}_{verb}")
    };
    Some(Update::Notification(NotificationIn {
        user_id_chat: None,
        notification_id,
        kind,
        text: Some(text.trim_start_matches(": ").to_owned()),
        link: (!target.is_empty()).then(|| format!("https://www.facebook.com/{target}")),
        occurred_at,
    }))
}

/// Graph writes times as `2026-11-20T10:00:00+0000`; RFC 3339 wants a colon in the offset.
pub fn parse_graph_time(text: &str) -> Option<UnixMillis> {
    let text = text.trim();
    if let Ok(t) = UnixMillis::parse_rfc3339(text) {
        return Some(t);
    }
    let split = text.len().checked_sub(5)?;
    if !text.is_char_boundary(split) {
        return None;
    }
    let (head, offset) = text.split_at(split);
    if (offset.starts_with('+') || offset.starts_with('-'))
        && offset[1..].bytes().all(|b| b.is_ascii_digit())
    {
        UnixMillis::parse_rfc3339(&format!("{head}{}:{}", &offset[..3], &offset[3..])).ok()
    } else {
        None
    }
}

/// One conversation of `GET /{page-id}/conversations?fields=id,updated_time,participants`.
#[derive(Debug, Deserialize)]
pub struct GraphConversation {
    pub id: String,
    #[serde(default)]
    pub updated_time: Option<String>,
    #[serde(default)]
    pub participants: Option<GraphList<GraphParty>>,
}

#[derive(Debug, Deserialize)]
pub struct GraphList<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub paging: Option<GraphPaging>,
}

#[derive(Debug, Deserialize)]
pub struct GraphPaging {
    /// The next page's full URL (its cursor included): followed as it is.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GraphParty {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// One message of `GET /{conversation-id}/messages?fields=id,created_time,from,to,message,attachments`.
#[derive(Debug, Deserialize)]
pub struct GraphMessage {
    pub id: String,
    pub created_time: String,
    #[serde(default)]
    pub from: Option<GraphParty>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub attachments: Option<GraphList<Value>>,
}

/// A post of the page, as `GET /{page-id}/posts?fields=id,message,full_picture,permalink_url,created_time` lists it.
#[derive(Debug, Deserialize)]
pub struct GraphPost {
    pub id: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub full_picture: Option<String>,
    #[serde(default)]
    pub permalink_url: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
}

/// A comment, as `GET /{post-id}/comments?filter=stream&fields=id,message,from,created_time,parent{id},is_hidden,attachment` lists it.
#[derive(Debug, Deserialize)]
pub struct GraphComment {
    pub id: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub from: Option<GraphParty>,
    pub created_time: String,
    #[serde(default)]
    pub parent: Option<GraphObject>,
    #[serde(default)]
    pub is_hidden: bool,
    #[serde(default)]
    pub attachment: Option<Value>,
}

/// An object named by its id only (`parent{id}`).
#[derive(Debug, Deserialize)]
pub struct GraphObject {
    pub id: String,
}

impl GraphPost {
    /// The post's preview, as shown above its comments.
    pub fn preview(&self) -> FeedPostIn {
        FeedPostIn {
            post_id: self.id.clone(),
            text: self.message.clone(),
            picture: self.full_picture.clone(),
            permalink: self.permalink_url.clone(),
            created_at: self.created_time.as_deref().and_then(parse_graph_time),
        }
    }
}

impl GraphComment {
    pub fn created_at(&self) -> Option<UnixMillis> {
        parse_graph_time(&self.created_time)
    }

    /// The comment as the receiver takes it (`new_comments`), or `None` without a usable time or
    /// author, or for the page commenting on its own post.
    pub fn to_comment(&self, page_id: &str, post: &GraphPost) -> Option<CommentIn> {
        let created_at = self.created_at()?;
        let from = self.from.as_ref()?;
        let parent_id = self
            .parent
            .as_ref()
            .map(|p| p.id.clone())
            .filter(|p| *p != post.id);
        let from_page = from.id == page_id;
        if from_page && parent_id.is_none() {
            return None;
        }
        let attachments: Vec<Attachment> = self
            .attachment
            .as_ref()
            .and_then(|a| {
                a.get("media")?
                    .get("image")?
                    .get("src")?
                    .as_str()
                    .map(str::to_owned)
            })
            .map(|url| Attachment {
                kind: AttachmentKind::Image,
                url,
            })
            .into_iter()
            .collect();
        let text = self.message.clone().filter(|t| !t.trim().is_empty());
        let text = match text {
            None if attachments.is_empty() => Some("[comment]".to_owned()),
            other => other,
        };
        Some(CommentIn {
            comment_id: self.id.clone(),
            post_id: post.id.clone(),
            parent_id,
            author: CommentAuthor {
                id: from.id.clone(),
                name: from.name.clone(),
            },
            from_page,
            text,
            attachments,
            created_at,
            hidden: self.is_hidden,
            post: Some(post.preview()),
        })
    }
}

impl GraphConversation {
    pub fn updated_at(&self) -> Option<UnixMillis> {
        self.updated_time.as_deref().and_then(parse_graph_time)
    }

    /// The customer: the participant that is not the page.
    pub fn customer(&self, page_id: &str) -> Option<&GraphParty> {
        self.participants
            .as_ref()?
            .data
            .iter()
            .find(|p| p.id != page_id)
    }
}

impl GraphMessage {
    /// The message as the receiver takes it, or `None` when it has no usable time.
    pub fn to_message(&self, page_id: &str, customer: &GraphParty) -> Option<MessageIn> {
        let sent_at = parse_graph_time(&self.created_time)?;
        let from_page = self.from.as_ref().is_some_and(|f| f.id == page_id);
        let attachments: Vec<Attachment> = self
            .attachments
            .iter()
            .flat_map(|list| list.data.iter())
            .filter_map(graph_attachment)
            .take(20)
            .collect();
        let text = self.message.clone().filter(|t| !t.trim().is_empty());
        let text = match text {
            None if attachments.is_empty() => Some("[message]".to_owned()),
            other => other,
        };
        Some(message_in(
            &customer.id,
            customer.name.clone(),
            self.id.clone(),
            if from_page {
                Direction::Out
            } else {
                Direction::In
            },
            text,
            attachments,
            sent_at,
        ))
    }
}

/// Conversations API attachments: `image_data.url`, `video_data.url`, or `file_url`.
fn graph_attachment(value: &Value) -> Option<Attachment> {
    let url_at = |key: &str| {
        value
            .get(key)
            .and_then(|d| d.get("url"))
            .and_then(Value::as_str)
    };
    let (kind, url) = if let Some(url) = url_at("image_data") {
        (AttachmentKind::Image, url)
    } else if let Some(url) = url_at("video_data") {
        (AttachmentKind::Video, url)
    } else {
        let url = value.get("file_url").and_then(Value::as_str)?;
        let mime = value.get("mime_type").and_then(Value::as_str).unwrap_or("");
        let kind = if mime.starts_with("audio/") {
            AttachmentKind::Audio
        } else {
            AttachmentKind::File
        };
        (kind, url)
    };
    (url.starts_with("https://") || url.starts_with("http://")).then(|| Attachment {
        kind,
        url: url.to_owned(),
    })
}

/// How a message may be sent, given when the customer last wrote (Messenger's messaging window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingPolicy {
    /// `messaging_type: RESPONSE`, inside 24 hours.
    Response,
    /// `messaging_type: MESSAGE_TAG`, `tag: HUMAN_AGENT`, up to 7 days.
    HumanAgent,
}

/// Why Facebook would refuse a message now; its text becomes the failed send's reason in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowClosed {
    #[error(
        "the customer has not written to the page, and Facebook lets a page message only \
         people who wrote to it first"
    )]
    NeverWrote,
    #[error(
        "outside Facebook's messaging window: the customer last wrote on {last}, more than 7 days \
         ago; Facebook accepts a reply again once they write"
    )]
    Expired { last: UnixMillis },
}

/// Decides the Send API's `messaging_type`, or why Facebook would refuse the message.
pub fn messaging_policy(
    now: UnixMillis,
    customer_last_wrote: Option<UnixMillis>,
) -> Result<MessagingPolicy, WindowClosed> {
    let Some(last) = customer_last_wrote else {
        return Err(WindowClosed::NeverWrote);
    };
    let age = now.0 - last.0;
    if age <= STANDARD_WINDOW_MS {
        Ok(MessagingPolicy::Response)
    } else if age <= HUMAN_AGENT_WINDOW_MS {
        Ok(MessagingPolicy::HumanAgent)
    } else {
        Err(WindowClosed::Expired { last })
    }
}

/// Graph's error object: `{"error": {message, type, code, error_subcode, fbtrace_id, is_transient}}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct GraphError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub code: i64,
    pub error_subcode: Option<i64>,
    pub fbtrace_id: Option<String>,
    pub is_transient: Option<bool>,
    pub error_user_msg: Option<String>,
}

/// What the bot should do about a failed Graph call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFailure {
    /// The access token expired or was revoked (code 190): the account needs new credentials.
    ExpiredToken,
    /// Throttled (codes 4, 17, 32, 613, and the business use case codes 80001–80014): back off.
    RateLimited,
    /// Facebook's side hiccuped (codes 1, 2, `is_transient`, 5xx without an error object): retry.
    Transient,
    /// Anything else: retrying the same call will fail the same way.
    Permanent,
}

impl GraphError {
    pub fn classify(&self, http_status: u16) -> GraphFailure {
        match self.code {
            190 | 102 => GraphFailure::ExpiredToken,
            4 | 17 | 32 | 613 | 80001..=80014 => GraphFailure::RateLimited,
            1 | 2 => GraphFailure::Transient,
            _ if self.is_transient == Some(true) => GraphFailure::Transient,
            0 if http_status >= 500 || http_status == 429 => GraphFailure::Transient,
            _ => GraphFailure::Permanent,
        }
    }

    /// A reason an agent can read: Facebook's own words, with the code for support.
    pub fn reason(&self) -> String {
        let text = self
            .error_user_msg
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or(&self.message);
        match self.error_subcode {
            Some(sub) => format!("Facebook: {text} (code {}, subcode {sub})", self.code),
            None => format!("Facebook: {text} (code {})", self.code),
        }
    }
}

/// How loaded the app, page or business is, from `X-App-Usage`, `X-Page-Usage` and
/// `X-Business-Use-Case-Usage`: the highest percentage of any quota, and how long until Facebook
/// lifts a block (`estimated_time_to_regain_access`, minutes) when it says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub percent: u32,
    pub regain_minutes: Option<u32>,
}

impl Usage {
    /// Folds one header's JSON in; headers that do not parse are ignored.
    pub fn absorb(&mut self, header_value: &str) {
        let Ok(value) = serde_json::from_str::<Value>(header_value) else {
            return;
        };
        let mut visit = |object: &Value| {
            for key in [
                "call_count",
                "total_cputime",
                "total_time",
                "acc_id_util_pct",
            ] {
                if let Some(p) = object.get(key).and_then(Value::as_f64) {
                    self.percent = self.percent.max(p.clamp(0.0, 1000.0) as u32);
                }
            }
            if let Some(minutes) = object
                .get("estimated_time_to_regain_access")
                .and_then(Value::as_u64)
                .filter(|m| *m > 0)
            {
                let minutes = minutes.min(24 * 60) as u32;
                self.regain_minutes = Some(self.regain_minutes.unwrap_or(0).max(minutes));
            }
        };
        match &value {
            Value::Object(map) if map.values().all(Value::is_array) && !map.is_empty() => {
                for list in map.values().filter_map(Value::as_array) {
                    list.iter().for_each(&mut visit);
                }
            }
            object => visit(object),
        }
    }
}

#[cfg(test)]
mod tests;
