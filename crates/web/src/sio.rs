//! What a Socket.IO client is answered, built here once for every role: an event's acknowledgement is
//! `{success: true, data?}` or `{success: false, error: {code, message, event, field?}}`, and a failure
//! is also emitted as an `error` event, so clients that cannot take acknowledgements still learn of it.

use serde::Serialize;
use serde_json::Value;
use socketioxide::extract::{AckSender, SocketRef};

/// Why an event failed, as its client is told. The codes are those of the HTTP mapping
/// ([`crate::ApiError::code`]); the words are the role's (a console's are in its language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFailure {
    pub code: &'static str,
    pub message: String,
    /// The field of the event's data that is wrong, when a role names it.
    pub field: Option<String>,
}

impl SocketFailure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The body of the acknowledgement and of the `error` event.
    pub fn body(&self, event: &str) -> Value {
        #[derive(Serialize)]
        struct Detail<'a> {
            code: &'a str,
            message: &'a str,
            event: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            field: Option<&'a str>,
        }
        let detail = Detail {
            code: self.code,
            message: &self.message,
            event,
            field: self.field.as_deref(),
        };
        serde_json::json!({"success": false, "error": detail})
    }
}

/// Answers `event`: `Ok(Some(data))` as `{success: true, data}`, `Ok(None)` as `{success: true}`.
pub fn reply(
    socket: &SocketRef,
    ack: AckSender,
    event: &str,
    result: Result<Option<Value>, SocketFailure>,
) {
    let body = match result {
        Ok(Some(data)) => serde_json::json!({"success": true, "data": data}),
        Ok(None) => serde_json::json!({"success": true}),
        Err(failure) => {
            let body = failure.body(event);
            let _ = socket.emit("error", &body);
            body
        }
    };
    let _ = ack.send(&body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_event_and_field_only_when_known() {
        let plain = SocketFailure::new("internal", "try again").body("command_ack");
        assert_eq!(
            plain,
            serde_json::json!({"success": false, "error": {"code": "internal", "message": "try again", "event": "command_ack"}})
        );
        let named = SocketFailure::new("invalid_field", "no")
            .with_field("callId")
            .body("answer_call");
        assert_eq!(named["error"]["field"], "callId");
    }
}
