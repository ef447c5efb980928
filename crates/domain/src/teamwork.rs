//! The team inbox's rules: who owns a conversation, what state it is in, its labels, and the private
//! notes agents leave on it. Checked here once; storage applies them, the sender serves them.

use crate::validation::{self, ValidationError};
use crate::{UnixMillis, UserId};
use serde::{Deserialize, Deserializer};

crate::named_enum! {
    /// Where a conversation stands for the team. A customer's new message reopens any but `open`.
    pub enum ConversationStatus {
        /// Someone should answer.
        Open = "open",
        /// Answered; waiting for the customer.
        Pending = "pending",
        /// Out of the way until `snoozed_until`, then open again (its assignee is told).
        Snoozed = "snoozed",
        /// Done, until the customer writes again.
        Resolved = "resolved",
    }
}

crate::named_enum! {
    /// Why a conversation changed, as `conversation_updated` says it.
    pub enum UpdateReason {
        /// Someone set its assignee, status or labels.
        Changed = "changed",
        /// An agent took it from the queue.
        Taken = "taken",
        /// An agent replied to it while it was unassigned, and now owns it.
        Replied = "replied",
        /// Its snooze ended: it is open again, and its assignee should look.
        SnoozeEnded = "snooze_ended",
        /// Automatic assignment gave it to the online agent with the fewest open conversations.
        AutoAssigned = "auto_assigned",
        /// Its assignee went offline, and the account hands their open conversations back.
        Returned = "returned",
    }
}

/// Most open conversations an agent may be given automatically, as an admin may set it.
pub const MAX_ASSIGN_LIMIT: i64 = 1000;

/// Body of `PUT /api/fb_accounts/{user_id_chat}/assignment`: how the account's conversations are
/// shared out. A field left out keeps its value.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentIn {
    /// New and reopened conversations go to the online agent (with access) who has the fewest open
    /// ones, under `limit`; when all are full they wait, unassigned, oldest first.
    pub auto: Option<bool>,
    /// Most open conversations automatic assignment gives one agent (1–1000).
    #[schema(example = 10)]
    pub limit: Option<i64>,
    /// An agent offline for longer than a minute hands their open conversations back to the queue.
    pub return_when_offline: Option<bool>,
}

impl AssignmentIn {
    /// Checks the limit; answers the body as it is to be applied.
    pub fn validate(self) -> Result<Self, ValidationError> {
        if let Some(limit) = self.limit
            && !(1..=MAX_ASSIGN_LIMIT).contains(&limit)
        {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {MAX_ASSIGN_LIMIT}"),
            ));
        }
        Ok(self)
    }
}

/// Most labels on one conversation.
pub const MAX_LABELS_PER_CONVERSATION: usize = 20;
/// Longest label name.
pub const MAX_LABEL_CHARS: usize = 50;
/// Longest private note (a long note is a document: link it).
pub const MAX_NOTE_CHARS: usize = 5_000;
/// Most users one note may mention.
pub const MAX_MENTIONS: usize = 20;
/// Furthest a snooze may reach: further is a typo of the year, not a plan.
pub const MAX_SNOOZE_MILLIS: i64 = 366 * 24 * 3600 * 1000;

/// A field of a `PATCH` that may be given as `null`: absent is `None`, `null` is `Some(None)`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Body of `PATCH /api/conversations/{id}`: a field left out stays as it is.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatch {
    /// The user who owns the conversation, or `null` to hand it back to the queue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, example = 7)]
    pub assignee_user_id: Option<Option<i64>>,
    #[schema(value_type = Option<ConversationStatus>)]
    pub status: Option<ConversationStatus>,
    /// When a snooze ends (RFC 3339, or Unix seconds); implies `status: snoozed`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<UnixMillis>)]
    pub snoozed_until: Option<Option<UnixMillis>>,
    /// The conversation's labels, by name, replacing the ones it has (`[]` removes them all).
    #[schema(example = json!(["VIP", "Đơn hàng"]))]
    pub labels: Option<Vec<String>>,
}

/// A [`ConversationPatch`] that obeys the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationChanges {
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<UserId>>,
    pub status: Option<ConversationStatus>,
    /// Set exactly when `status` is `Snoozed`.
    pub snoozed_until: Option<UnixMillis>,
    /// Trimmed, distinct (ignoring case), in the order given.
    pub labels: Option<Vec<String>>,
}

impl ConversationPatch {
    pub fn validate(self, now: UnixMillis) -> Result<ConversationChanges, ValidationError> {
        if self.assignee_user_id.is_none()
            && self.status.is_none()
            && self.snoozed_until.is_none()
            && self.labels.is_none()
        {
            return Err(ValidationError::new(
                "body",
                "give at least one of assignee_user_id, status, snoozed_until, labels",
            ));
        }
        let assignee = match self.assignee_user_id {
            Some(Some(id)) if id <= 0 => {
                return Err(ValidationError::new(
                    "assignee_user_id",
                    "must be a user's id, or null",
                ));
            }
            other => other.map(|id| id.map(UserId::new)),
        };
        let (status, snoozed_until) = snooze(self.status, self.snoozed_until, now)?;
        let labels = self.labels.map(|names| label_names(&names)).transpose()?;
        Ok(ConversationChanges {
            assignee,
            status,
            snoozed_until,
            labels,
        })
    }
}

/// The status and the end of its snooze: a time alone means a snooze; a snooze needs a time to come.
fn snooze(
    status: Option<ConversationStatus>,
    until: Option<Option<UnixMillis>>,
    now: UnixMillis,
) -> Result<(Option<ConversationStatus>, Option<UnixMillis>), ValidationError> {
    let field = "snoozed_until";
    match (status, until) {
        (None | Some(ConversationStatus::Snoozed), Some(Some(until))) => {
            if until <= now {
                return Err(ValidationError::new(field, "must be in the future"));
            }
            if until.0 - now.0 > MAX_SNOOZE_MILLIS {
                return Err(ValidationError::new(field, "must be within a year"));
            }
            Ok((Some(ConversationStatus::Snoozed), Some(until)))
        }
        (Some(ConversationStatus::Snoozed), _) => Err(ValidationError::new(
            field,
            "is required with status `snoozed`: when should it wake?",
        )),
        (Some(_), Some(Some(_))) => Err(ValidationError::new(
            field,
            "goes only with status `snoozed`",
        )),
        (None, Some(None)) => Err(ValidationError::new(
            field,
            "to end a snooze, set `status` (open, pending or resolved)",
        )),
        (status, _) => Ok((status, None)),
    }
}

/// Label names as given: trimmed, printable, at most [`MAX_LABEL_CHARS`], the first of names equal
/// but for case kept.
fn label_names(names: &[String]) -> Result<Vec<String>, ValidationError> {
    if names.len() > MAX_LABELS_PER_CONVERSATION {
        return Err(ValidationError::new(
            "labels",
            format!("at most {MAX_LABELS_PER_CONVERSATION} labels"),
        ));
    }
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let name = label_name(&format!("labels[{index}]"), name)?;
        if !kept.iter().any(|k| k.to_lowercase() == name.to_lowercase()) {
            kept.push(name);
        }
    }
    Ok(kept)
}

fn label_name(field: &str, name: &str) -> Result<String, ValidationError> {
    let name = validation::name(field, name, MAX_LABEL_CHARS)?;
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    Ok(name)
}

/// Body of `POST /api/labels` and `PATCH /api/labels/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelIn {
    #[schema(example = "Đơn hàng")]
    pub name: String,
    /// `#rrggbb`.
    #[schema(example = "#1f8a4c")]
    pub color: String,
}

/// A label to store: a name and a colour the console can paint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLabel {
    pub name: String,
    pub color: String,
}

impl LabelIn {
    pub fn validate(self) -> Result<NewLabel, ValidationError> {
        let name = label_name("name", &self.name)?;
        let color = self.color.trim().to_ascii_lowercase();
        let hex = color.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ValidationError::new(
                "color",
                "must be a colour as #rrggbb, e.g. #1f8a4c",
            ));
        }
        Ok(NewLabel { name, color })
    }
}

/// Body of `POST /api/conversations/{id}/notes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    /// Seen by the team only, never sent to the customer; `@username` tells that user.
    #[schema(example = "@minh khách này hỏi giá sỉ, anh xem giúp")]
    pub text: String,
}

/// A private note, checked: its text and the usernames it mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    pub text: String,
    /// Lowercase, distinct, at most [`MAX_MENTIONS`]; unknown ones are ignored by storage.
    pub mentions: Vec<String>,
}

impl NoteIn {
    pub fn validate(self) -> Result<NewNote, ValidationError> {
        let text = self.text.trim().to_owned();
        if text.is_empty() {
            return Err(ValidationError::new("text", "must not be empty"));
        }
        validation::text("text", &text, MAX_NOTE_CHARS)?;
        let mentions = mentions(&text);
        Ok(NewNote { text, mentions })
    }
}

/// The usernames a text mentions: `@` at the start or after a space or punctuation, followed by a
/// username's characters (`a-z 0-9 . _ -`; a trailing `.` is the sentence's). E-mail addresses are
/// not mentions.
pub fn mentions(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = c == '@' && previous.is_none_or(|p| !p.is_alphanumeric() && p != '@');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let length = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(rest.len());
        let name = rest[..length].trim_end_matches('.').to_ascii_lowercase();
        if (2..=64).contains(&name.len()) && !found.contains(&name) {
            found.push(name);
            if found.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    found
}

/// Longest shortcut of a canned response (typed after `/` in the composer).
pub const MAX_SHORTCUT_CHARS: usize = 32;
/// The variables a canned response may use, filled in by the console when it is inserted.
pub const CANNED_VARIABLES: &[&str] = &["customer.name", "agent.name", "page.name"];

/// Body of `POST /api/canned_responses` and `PATCH /api/canned_responses/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedIn {
    /// Typed after `/` in the composer: lowercase letters, digits, `-` and `_`.
    #[schema(example = "chao")]
    pub shortcut: String,
    /// The reply; `{{customer.name}}`, `{{agent.name}}` and `{{page.name}}` are filled in.
    #[schema(example = "Dạ em chào {{customer.name}}, em là {{agent.name}} của {{page.name}} ạ")]
    pub text: String,
    /// A team's own reply, offered to its members only; left out (or `null`) for everyone's.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub team_id: Option<crate::TeamId>,
}

/// A canned response to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCanned {
    pub shortcut: String,
    pub text: String,
    /// The team it belongs to; `None` for everyone.
    pub team_id: Option<i64>,
}

impl CannedIn {
    pub fn validate(self) -> Result<NewCanned, ValidationError> {
        let shortcut = self.shortcut.trim().trim_start_matches('/').to_lowercase();
        if shortcut.is_empty() || shortcut.chars().count() > MAX_SHORTCUT_CHARS {
            return Err(ValidationError::new(
                "shortcut",
                format!("must be 1 to {MAX_SHORTCUT_CHARS} characters"),
            ));
        }
        if !shortcut
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(ValidationError::new(
                "shortcut",
                "may use letters a-z, digits, - and _ only",
            ));
        }
        let text = self.text.trim().to_owned();
        if text.is_empty() {
            return Err(ValidationError::new("text", "must not be empty"));
        }
        validation::text("text", &text, crate::outbound::MAX_SEND_CHARS)?;
        for variable in variables(&text) {
            if !CANNED_VARIABLES.contains(&variable) {
                return Err(ValidationError::new(
                    "text",
                    format!(
                        "unknown variable {{{{{variable}}}}}; use {{{{customer.name}}}}, {{{{agent.name}}}} or {{{{page.name}}}}"
                    ),
                ));
            }
        }
        Ok(NewCanned {
            shortcut,
            text,
            team_id: self.team_id.map(crate::TeamId::get),
        })
    }
}

/// The names inside `{{ }}` in `text`, trimmed.
fn variables(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.trim()))
}

/// Whose conversations a list shows: `me`, `none` (the queue) or a user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Me,
    Nobody,
    User(UserId),
}

impl AssigneeFilter {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text.trim() {
            "me" => Ok(Self::Me),
            "none" => Ok(Self::Nobody),
            id => id.parse().map(Self::User).map_err(|_| {
                ValidationError::new("assignee", "must be `me`, `none` or a user's id")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(1_780_000_000_000);

    fn patch(json: &str) -> Result<ConversationChanges, ValidationError> {
        serde_json::from_str::<ConversationPatch>(json)
            .expect("parses")
            .validate(NOW)
    }

    fn field(result: Result<ConversationChanges, ValidationError>) -> String {
        result.expect_err("refused").field
    }

    #[test]
    fn an_assignment_limit_is_bounded() {
        for (limit, ok) in [
            (0, false),
            (1, true),
            (1000, true),
            (1001, false),
            (-5, false),
        ] {
            let body = AssignmentIn {
                limit: Some(limit),
                ..AssignmentIn::default()
            };
            assert_eq!(body.validate().is_ok(), ok, "{limit}");
        }
        assert!(AssignmentIn::default().validate().is_ok());
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let changes = patch(r#"{"assignee_user_id": null}"#).expect("valid");
        assert_eq!(changes.assignee, Some(None));
        assert_eq!((changes.status, changes.labels), (None, None));
        let changes = patch(r#"{"status": "resolved", "assignee_user_id": 3}"#).expect("valid");
        assert_eq!(changes.assignee, Some(Some(UserId::new(3))));
        assert_eq!(changes.status, Some(ConversationStatus::Resolved));
        assert_eq!(field(patch("{}")), "body");
        assert_eq!(
            field(patch(r#"{"assignee_user_id": 0}"#)),
            "assignee_user_id"
        );
        assert!(serde_json::from_str::<ConversationPatch>(r#"{"state": "open"}"#).is_err());
        assert!(serde_json::from_str::<ConversationPatch>(r#"{"status": "closed"}"#).is_err());
    }

    #[test]
    fn a_snooze_needs_a_time_to_come_and_a_time_means_a_snooze() {
        let in_an_hour = NOW.0 / 1000 + 3600;
        let changes = patch(&format!(r#"{{"snoozed_until": {in_an_hour}}}"#)).expect("valid");
        assert_eq!(changes.status, Some(ConversationStatus::Snoozed));
        assert_eq!(changes.snoozed_until, Some(UnixMillis(in_an_hour * 1000)));
        let past = NOW.0 / 1000 - 60;
        for refused in [
            r#"{"status": "snoozed"}"#.to_owned(),
            format!(r#"{{"status": "snoozed", "snoozed_until": {past}}}"#),
            format!(r#"{{"status": "open", "snoozed_until": {in_an_hour}}}"#),
            format!(r#"{{"snoozed_until": {}}}"#, in_an_hour + 400 * 24 * 3600),
            r#"{"snoozed_until": null}"#.to_owned(),
        ] {
            assert_eq!(field(patch(&refused)), "snoozed_until", "{refused}");
        }
        let reopened = patch(r#"{"status": "open", "snoozed_until": null}"#).expect("valid");
        assert_eq!(
            (reopened.status, reopened.snoozed_until),
            (Some(ConversationStatus::Open), None)
        );
    }

    #[test]
    fn labels_are_trimmed_bounded_and_distinct() {
        let changes = patch(r#"{"labels": [" VIP ", "vip", "Đơn hàng"]}"#).expect("valid");
        assert_eq!(changes.labels, Some(vec!["VIP".into(), "Đơn hàng".into()]));
        assert_eq!(field(patch(r#"{"labels": ["ok", "  "]}"#)), "labels[1]");
        let long = format!(r#"{{"labels": ["{}"]}}"#, "a".repeat(51));
        assert_eq!(field(patch(&long)), "labels[0]");
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        let many = serde_json::json!({ "labels": many }).to_string();
        assert_eq!(field(patch(&many)), "labels");
    }

    #[test]
    fn a_label_has_a_name_and_a_hex_colour() {
        let label = LabelIn {
            name: " Khách sỉ ".into(),
            color: "#1F8A4C".into(),
        };
        assert_eq!(
            label.validate().expect("valid"),
            NewLabel {
                name: "Khách sỉ".into(),
                color: "#1f8a4c".into()
            }
        );
        for (name, color, field) in [
            ("", "#ffffff", "name"),
            ("a", "red", "color"),
            ("a", "#fffffg", "color"),
        ] {
            let label = LabelIn {
                name: name.into(),
                color: color.into(),
            };
            assert_eq!(label.validate().expect_err("refused").field, field);
        }
    }

    #[test]
    fn mentions_are_usernames_after_an_at_sign_not_email_addresses() {
        assert_eq!(
            mentions("@Minh xem giúp, cc @lan.nguyen. Email: an@shop.vn @@x @a"),
            vec!["minh".to_owned(), "lan.nguyen".to_owned()]
        );
        let many: String = (0..30).map(|i| format!("@user{i} ")).collect();
        assert_eq!(mentions(&many).len(), MAX_MENTIONS);
    }

    #[test]
    fn a_note_is_trimmed_and_bounded() {
        let note = NoteIn {
            text: "  @lan gọi lại khách lúc 3h  ".into(),
        };
        let note = note.validate().expect("valid");
        assert_eq!(note.text, "@lan gọi lại khách lúc 3h");
        assert_eq!(note.mentions, vec!["lan".to_owned()]);
        let empty = NoteIn { text: " ".into() };
        assert_eq!(empty.validate().expect_err("refused").field, "text");
        let long = NoteIn {
            text: "x".repeat(MAX_NOTE_CHARS + 1),
        };
        assert_eq!(long.validate().expect_err("refused").field, "text");
    }

    #[test]
    fn a_canned_response_has_a_short_shortcut_and_known_variables() {
        let canned = CannedIn {
            shortcut: " /Chao ".into(),
            text: " Dạ em chào {{ customer.name }}, em là {{agent.name}} ạ ".into(),
            team_id: None,
        };
        assert_eq!(
            canned.validate().expect("valid"),
            NewCanned {
                shortcut: "chao".into(),
                text: "Dạ em chào {{ customer.name }}, em là {{agent.name}} ạ".into(),
                team_id: None,
            }
        );
        for (shortcut, text, field) in [
            ("", "x", "shortcut"),
            ("chào", "x", "shortcut"),
            (&"a".repeat(33) as &str, "x", "shortcut"),
            ("ok", "  ", "text"),
            ("ok", "Chào {{customer.phone}}", "text"),
        ] {
            let canned = CannedIn {
                shortcut: shortcut.into(),
                text: text.into(),
                team_id: None,
            };
            assert_eq!(
                canned.validate().expect_err(shortcut).field,
                field,
                "{shortcut} {text}"
            );
        }
    }

    #[test]
    fn an_assignee_filter_is_me_none_or_an_id() {
        assert_eq!(AssigneeFilter::parse("me"), Ok(AssigneeFilter::Me));
        assert_eq!(AssigneeFilter::parse("none"), Ok(AssigneeFilter::Nobody));
        assert_eq!(
            AssigneeFilter::parse("12"),
            Ok(AssigneeFilter::User(UserId::new(12)))
        );
        assert!(AssigneeFilter::parse("-1").is_err());
        assert!(AssigneeFilter::parse("everyone").is_err());
    }
}
