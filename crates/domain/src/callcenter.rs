//! The call center's inputs and words: what consoles emit over Socket.IO (the seed's `answer_call`,
//! `end_call`, plus `set_agent_status`), what a phone system posts to the Generic-CTI webhook (Zammad's
//! format), and the messages consoles show, in Vietnamese (the seed's) or English.

// Which way a call goes: Zammad's Generic CTI says `in` and `out`, the two ways a message goes.
pub use crate::ingest::Direction;

use crate::routing::AgentStatus;
use crate::validation::{ValidationError, identifier};
use serde_json::Value;

/// The language of a console's messages. Vietnamese unless the client asks for English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `en`, `en-US`, `EN` → English; `vi` → Vietnamese; anything else is not a choice (`None`).
    pub fn parse(text: &str) -> Option<Self> {
        let primary = text.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "vi" => Some(Self::Vi),
            _ => None,
        }
    }

    /// The `message` of `call_answered`.
    pub fn call_connected(self) -> &'static str {
        self.pick("Cuộc gọi đã được kết nối", "The call is connected")
    }

    /// The `message` of `call_ended`.
    pub fn call_ended(self) -> &'static str {
        self.pick("Cuộc gọi đã kết thúc", "The call has ended")
    }

    /// The first words of an `error` event's message, by its code.
    pub fn error(self, code: &str) -> &'static str {
        let (vi, en) = match code {
            "invalid_field" => (
                "Dữ liệu gửi lên không hợp lệ",
                "The event's data is not valid",
            ),
            "not_found" => ("Không tìm thấy", "Not found"),
            "call_taken" => (
                "Cuộc gọi đã được nhân viên khác trả lời",
                "Another agent already answered the call",
            ),
            "call_ended" => ("Cuộc gọi đã kết thúc", "The call has already ended"),
            "forbidden" => (
                "Bạn không có quyền thực hiện thao tác này",
                "You may not do this",
            ),
            "too_many_requests" => (
                "Bạn thao tác quá nhanh; hãy thử lại sau giây lát",
                "Too many actions at once; try again in a moment",
            ),
            _ => (
                "Máy chủ không xử lý được yêu cầu; hãy thử lại",
                "The server could not do this; try again",
            ),
        };
        self.pick(vi, en)
    }

    /// One text in this language; each text is written with its translation beside it.
    fn pick(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Vi => vi,
            Self::En => en,
        }
    }
}

/// The seed's `joined_call_center` message (English in the seed, kept as is for its clients).
pub const JOINED_MESSAGE: &str = "Joined call center as CRM system";

fn object(body: &Value) -> Result<&serde_json::Map<String, Value>, ValidationError> {
    body.as_object()
        .ok_or_else(|| ValidationError::new("body", "must be a JSON object"))
}

/// A text field that may also arrive as a number (`callId: 12345`).
fn text_field(
    body: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<String>, ValidationError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ValidationError::new(field, "must be a string")),
    }
}

fn required_id(
    body: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<String, ValidationError> {
    let value =
        text_field(body, field)?.ok_or_else(|| ValidationError::new(field, "is required"))?;
    identifier(field, &value, 200)
}

/// An agent id as the seed's page sends it: a number, or digits in a string (`parseInt` of a select).
fn agent_id(value: Option<&Value>, field: &str) -> Result<Option<i64>, ValidationError> {
    let id = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    id.filter(|id| *id > 0)
        .map(Some)
        .ok_or_else(|| ValidationError::new(field, "must be a positive integer agent id"))
}

fn optional_label(
    body: &serde_json::Map<String, Value>,
    field: &str,
    default: &str,
) -> Result<String, ValidationError> {
    match text_field(body, field)? {
        Some(value) if !value.trim().is_empty() => identifier(field, &value, 100),
        _ => Ok(default.to_owned()),
    }
}

/// The call a console acts on, and who acts (`source`, passed on to the phone system as the seed
/// does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAction {
    pub call_id: String,
    pub source: String,
}

impl CallAction {
    fn parse(body: &serde_json::Map<String, Value>) -> Result<Self, ValidationError> {
        Ok(Self {
            call_id: required_id(body, "callId")?,
            source: optional_label(body, "source", "crm_system")?,
        })
    }
}

/// `answer_call {callId, agentId, source}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerCallIn {
    pub call: CallAction,
    /// `None`: the agent of the console's own user.
    pub agent_id: Option<i64>,
}

impl AnswerCallIn {
    pub fn parse(body: &Value) -> Result<Self, ValidationError> {
        let body = object(body)?;
        let call = CallAction::parse(body)?;
        let agent_id = agent_id(body.get("agentId"), "agentId")?;
        Ok(Self { call, agent_id })
    }
}

/// `end_call {callId, endReason, source}`: a hangup, or a reject while it rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndCallIn {
    pub call: CallAction,
    pub end_reason: String,
}

impl EndCallIn {
    pub fn parse(body: &Value) -> Result<Self, ValidationError> {
        let body = object(body)?;
        let call = CallAction::parse(body)?;
        // The seed's `rejectCall` default.
        let end_reason = optional_label(body, "endReason", "crm_reject")?;
        Ok(Self { call, end_reason })
    }
}

/// `set_agent_status {agentId?, status}` (ours; the REST API has the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatusIn {
    /// `None`: the agent of the console's own user.
    pub agent_id: Option<i64>,
    pub status: AgentStatus,
}

impl AgentStatusIn {
    pub fn parse(body: &Value) -> Result<Self, ValidationError> {
        let body = object(body)?;
        let status = text_field(body, "status")?
            .ok_or_else(|| ValidationError::new("status", "is required"))?;
        Ok(Self {
            agent_id: agent_id(body.get("agentId"), "agentId")?,
            status: AgentStatus::parse(status.trim()).ok_or_else(|| {
                ValidationError::new(
                    "status",
                    format!("`{status}` is not one of available, busy, away, offline"),
                )
            })?,
        })
    }
}

/// Why a call ended, in Zammad's words (`cause` of `hangup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupCause {
    NormalClearing,
    Busy,
    Cancel,
    NoAnswer,
    Congestion,
    NotFound,
    Forwarded,
}

const CAUSES: [(&str, HangupCause, &str); 7] = [
    (
        "normalClearing",
        HangupCause::NormalClearing,
        "normal_clearing",
    ),
    ("busy", HangupCause::Busy, "busy"),
    ("cancel", HangupCause::Cancel, "caller_cancel"),
    ("noAnswer", HangupCause::NoAnswer, "no_answer"),
    ("congestion", HangupCause::Congestion, "congestion"),
    ("notFound", HangupCause::NotFound, "not_found"),
    ("forwarded", HangupCause::Forwarded, "forwarded"),
];

/// A string, one of Zammad's names of the causes (the table [`HangupCause::parse`] reads).
impl utoipa::PartialSchema for HangupCause {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(CAUSES.iter().map(|(name, _, _)| *name)))
            .into()
    }
}

impl utoipa::ToSchema for HangupCause {}

impl HangupCause {
    pub fn parse(text: &str) -> Option<Self> {
        CAUSES
            .iter()
            .find(|(name, _, _)| *name == text)
            .map(|(_, cause, _)| *cause)
    }

    /// The `endReason` of `call_ended` for this cause (snake_case, like the seed's `customer_hangup`).
    pub fn end_reason(self) -> &'static str {
        CAUSES
            .iter()
            .find(|(_, cause, _)| *cause == self)
            .map_or("normal_clearing", |(_, _, reason)| reason)
    }
}

/// One event of Zammad's Generic-CTI webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtiEvent {
    NewCall {
        call_id: String,
        from: String,
        to: String,
        direction: Direction,
        /// The agents (names) the phone system rings; informative, our routing decides.
        users: Vec<String>,
        queue: Option<String>,
    },
    Answer {
        call_id: String,
        /// The agent's name, as the phone system knows it.
        user: Option<String>,
        /// The extension that picked up.
        answering_number: Option<String>,
    },
    Hangup {
        call_id: String,
        cause: HangupCause,
        /// Where the phone system keeps the call's recording (`recordingUrl`), when it says.
        recording_url: Option<String>,
    },
}

/// The parameters of a CTI request: form fields or a JSON object's members, in order. Zammad posts
/// `user[]` for several users; the key is taken without its brackets.
pub type CtiParams = Vec<(String, String)>;

/// Turns a JSON object into [`CtiParams`] (arrays become repeated keys).
pub fn cti_params_from_json(body: &Value) -> Result<CtiParams, ValidationError> {
    let mut params = Vec::new();
    for (key, value) in object(body)? {
        let mut push = |value: &Value| -> Result<(), ValidationError> {
            match value {
                Value::String(s) => params.push((key.clone(), s.clone())),
                Value::Number(n) => params.push((key.clone(), n.to_string())),
                Value::Bool(b) => params.push((key.clone(), b.to_string())),
                Value::Null => {}
                _ => return Err(ValidationError::new(key.as_str(), "must be a string")),
            }
            Ok(())
        };
        match value {
            Value::Array(items) => items.iter().try_for_each(&mut push)?,
            other => push(other)?,
        }
    }
    Ok(params)
}

impl CtiEvent {
    pub fn parse(params: &CtiParams) -> Result<Self, ValidationError> {
        let all = |name: &str| -> Vec<&str> {
            params
                .iter()
                .filter(|(k, _)| k.strip_suffix("[]").unwrap_or(k) == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let one = |name: &str| all(name).first().map(|v| (*v).to_owned());
        let required = |name: &str| -> Result<String, ValidationError> {
            let value = one(name).ok_or_else(|| ValidationError::new(name, "is required"))?;
            identifier(name, &value, 200)
        };
        let event = one("event").ok_or_else(|| {
            ValidationError::new("event", "is required (newCall, answer or hangup)")
        })?;
        let call_id = required("callId")?;
        match event.as_str() {
            "newCall" => {
                let direction = match one("direction").as_deref() {
                    Some("in") | None => Direction::In,
                    Some("out") => Direction::Out,
                    Some(other) => {
                        return Err(ValidationError::new(
                            "direction",
                            format!("`{other}` is not `in` or `out`"),
                        ));
                    }
                };
                Ok(Self::NewCall {
                    call_id,
                    from: required("from")?,
                    to: one("to").unwrap_or_default(),
                    direction,
                    users: all("user").into_iter().map(str::to_owned).collect(),
                    queue: one("queue"),
                })
            }
            "answer" => Ok(Self::Answer {
                call_id,
                user: one("user"),
                answering_number: one("answeringNumber"),
            }),
            "hangup" => {
                let cause = match one("cause") {
                    None => HangupCause::NormalClearing,
                    Some(text) => HangupCause::parse(&text).ok_or_else(|| {
                        let names: Vec<&str> = CAUSES.iter().map(|(name, _, _)| *name).collect();
                        ValidationError::new(
                            "cause",
                            format!("`{text}` is not one of {}", names.join(", ")),
                        )
                    })?,
                };
                let recording_url = one("recordingUrl")
                    .filter(|url| !url.trim().is_empty())
                    .map(|url| crate::validation::web_url("recordingUrl", &url))
                    .transpose()?;
                Ok(Self::Hangup {
                    call_id,
                    cause,
                    recording_url,
                })
            }
            other => Err(ValidationError::new(
                "event",
                format!("`{other}` is not newCall, answer or hangup"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> CtiParams {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn zammad_form_events_parse() {
        let new_call = CtiEvent::parse(&form(&[
            ("event", "newCall"),
            ("from", "0912345678"),
            ("to", "1900"),
            ("direction", "in"),
            ("callId", "abc-1"),
            ("user[]", "Alice"),
            ("user[]", "Bob"),
            ("queue", "sales"),
        ]))
        .expect("newCall");
        assert_eq!(
            new_call,
            CtiEvent::NewCall {
                call_id: "abc-1".into(),
                from: "0912345678".into(),
                to: "1900".into(),
                direction: Direction::In,
                users: vec!["Alice".into(), "Bob".into()],
                queue: Some("sales".into()),
            }
        );
        let hangup = CtiEvent::parse(&form(&[
            ("event", "hangup"),
            ("callId", "abc-1"),
            ("cause", "noAnswer"),
        ]))
        .expect("hangup");
        assert_eq!(
            hangup,
            CtiEvent::Hangup {
                call_id: "abc-1".into(),
                cause: HangupCause::NoAnswer,
                recording_url: None,
            }
        );
        let recorded = |url: &str| {
            CtiEvent::parse(&form(&[
                ("event", "hangup"),
                ("callId", "abc-1"),
                ("recordingUrl", url),
            ]))
        };
        assert!(matches!(
            recorded("https://pbx.example.vn/rec/abc-1.mp3"),
            Ok(CtiEvent::Hangup { recording_url: Some(url), .. }) if url == "https://pbx.example.vn/rec/abc-1.mp3"
        ));
        assert_eq!(
            recorded("javascript:alert(1)").expect_err("refused").field,
            "recordingUrl"
        );
        assert_eq!(HangupCause::NoAnswer.end_reason(), "no_answer");
    }

    #[test]
    fn json_bodies_give_the_same_params() {
        let params = cti_params_from_json(&json!({
            "event": "answer", "callId": 42, "user": ["Alice"], "answeringNumber": "101"
        }))
        .expect("params");
        assert_eq!(
            CtiEvent::parse(&params).expect("answer"),
            CtiEvent::Answer {
                call_id: "42".into(),
                user: Some("Alice".into()),
                answering_number: Some("101".into()),
            }
        );
        assert!(cti_params_from_json(&json!(["x"])).is_err());
        assert!(cti_params_from_json(&json!({"callId": {"a": 1}})).is_err());
    }

    #[test]
    fn bad_cti_events_name_the_field() {
        let field =
            |pairs: &[(&str, &str)]| CtiEvent::parse(&form(pairs)).expect_err("invalid").field;
        assert_eq!(field(&[("callId", "1")]), "event");
        assert_eq!(field(&[("event", "ring"), ("callId", "1")]), "event");
        assert_eq!(field(&[("event", "newCall")]), "callId");
        assert_eq!(field(&[("event", "newCall"), ("callId", "1")]), "from");
        assert_eq!(
            field(&[
                ("event", "newCall"),
                ("callId", "1"),
                ("from", "1"),
                ("direction", "up")
            ]),
            "direction"
        );
        assert_eq!(
            field(&[("event", "hangup"), ("callId", "1"), ("cause", "tired")]),
            "cause"
        );
    }

    #[test]
    fn console_events_take_what_the_seed_sends() {
        let answer =
            AnswerCallIn::parse(&json!({"callId": "CALL_1", "agentId": 3, "source": "crm_system"}))
                .expect("answer");
        assert_eq!(answer.agent_id, Some(3));
        let from_select =
            AnswerCallIn::parse(&json!({"callId": "CALL_1", "agentId": "3"})).expect("answer");
        assert_eq!(from_select.agent_id, Some(3));
        assert_eq!(from_select.call.source, "crm_system");
        assert_eq!(
            AnswerCallIn::parse(&json!({"callId": "", "agentId": 3}))
                .expect_err("empty")
                .field,
            "callId"
        );
        assert_eq!(
            AnswerCallIn::parse(&json!({"callId": "C", "agentId": "abc"}))
                .expect_err("bad")
                .field,
            "agentId"
        );
        assert_eq!(
            AnswerCallIn::parse(&json!("CALL_1"))
                .expect_err("not an object")
                .field,
            "body"
        );
        let end = EndCallIn::parse(&json!({"callId": "CALL_1"})).expect("end");
        assert_eq!(end.end_reason, "crm_reject");
        assert_eq!(
            AgentStatusIn::parse(&json!({"status": "sleeping"}))
                .expect_err("bad")
                .field,
            "status"
        );
    }

    #[test]
    fn languages() {
        assert_eq!(Lang::parse("en-US"), Some(Lang::En));
        assert_eq!(Lang::parse("VI"), Some(Lang::Vi));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::default().call_connected(), "Cuộc gọi đã được kết nối");
        assert_eq!(Lang::En.call_ended(), "The call has ended");
        assert_eq!(
            Lang::En.error("call_taken"),
            "Another agent already answered the call"
        );
        assert_eq!(Lang::Vi.error("not_found"), "Không tìm thấy");
        assert_eq!(
            Lang::En.error("no_such_code"),
            "The server could not do this; try again"
        );
    }
}
