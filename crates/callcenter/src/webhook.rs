//! Telling the phone system what the call center decided or wants: connect or drop a call a console
//! answered or rejected, place a call for an agent, transfer a connected one. Each command is stored
//! first (`Store::queue_phone_command`) and sent by the outbox (`crate::outbox`): one signed JSON POST,
//! retried with backoff while the phone system is unreachable or answers 5xx; a 4xx is final.

use serde::Serialize;
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_storage::{Agent, Call};

/// The body of the webhook (documented in docs/protocol.md). Fields that do not apply to an event are
/// left out.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneSystemNotice {
    /// `answer`, `reject` (ended while ringing), `hangup` (ended while connected), `dial`, `transfer`.
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_number: Option<String>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    /// The extension the phone system should connect, stop ringing, ring first (dial) or move from.
    pub extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// `dial`: the number to call, in E.164 (`+84912345678`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// `dial`: the customer called and the callback task it returns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<i64>,
    /// `transfer`: the agent (and extension) or the queue the call moves to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_agent_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_agent_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_queue: Option<String>,
    /// Who decided: the `source` the console sent (`crm_system` for the seed's client).
    pub source: String,
    pub timestamp: UnixMillis,
}

fn extension(agent: &Agent) -> Option<String> {
    Some(agent.extension.clone()).filter(|e| !e.is_empty())
}

impl PhoneSystemNotice {
    /// An event with nothing said yet.
    fn blank(event: &'static str, source: &str) -> Self {
        Self {
            event,
            call_id: None,
            caller_number: None,
            called_number: None,
            agent_id: None,
            agent_name: None,
            extension: None,
            end_reason: None,
            number: None,
            customer_id: None,
            callback_id: None,
            to_agent_id: None,
            to_agent_name: None,
            to_extension: None,
            to_queue: None,
            source: source.to_owned(),
            timestamp: UnixMillis::now(),
        }
    }

    fn about(event: &'static str, call: &Call, agent: Option<&Agent>, source: &str) -> Self {
        Self {
            call_id: Some(call.call_id.clone()),
            caller_number: Some(call.caller_number.clone()),
            called_number: Some(call.called_number.clone()),
            agent_id: agent.map(|a| a.id),
            agent_name: agent.map(|a| a.full_name.clone()),
            extension: agent.and_then(extension),
            end_reason: call.end_reason.clone(),
            ..Self::blank(event, source)
        }
    }

    pub fn answer(call: &Call, agent: &Agent, source: &str) -> Self {
        Self::about("answer", call, Some(agent), source)
    }

    pub fn end(call: &Call, agent: Option<&Agent>, was_connected: bool, source: &str) -> Self {
        let event = if was_connected { "hangup" } else { "reject" };
        Self::about(event, call, agent, source)
    }

    /// Click-to-call: ring the agent's extension, then `number`.
    pub fn dial(
        agent: &Agent,
        number: String,
        (customer_id, callback_id): (Option<i64>, Option<i64>),
    ) -> Self {
        Self {
            agent_id: Some(agent.id),
            agent_name: Some(agent.full_name.clone()),
            extension: extension(agent),
            number: Some(number),
            customer_id,
            callback_id,
            ..Self::blank("dial", "crm_system")
        }
    }

    /// Move a connected call from `agent` to another agent or a queue.
    pub fn transfer(
        call: &Call,
        agent: Option<&Agent>,
        to: (Option<&Agent>, Option<String>),
    ) -> Self {
        let (to_agent, to_queue) = to;
        Self {
            to_agent_id: to_agent.map(|a| a.id),
            to_agent_name: to_agent.map(|a| a.full_name.clone()),
            to_extension: to_agent.and_then(extension),
            to_queue,
            ..Self::about("transfer", call, agent, "crm_system")
        }
    }
}

// The `X-Switchboard-Signature` header: the HMAC-SHA256 of the body under the secret.
use switchboard_domain::encoding::signature;

/// What one send to the phone system came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// A 4xx: the phone system will not do it; its answer, clipped.
    Refused(String),
    /// A 5xx, a timeout or no connection: worth another try.
    Failed(String),
}

/// The phone system's URL and secret, and the client that posts to it (5 s per request).
#[derive(Clone)]
pub struct Webhook {
    target: Option<(String, Option<String>)>,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(url: Option<String>, secret: Option<String>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Self {
            target: url.map(|url| (url, secret)),
            client,
        }
    }

    /// Whether a phone system is configured: nothing is stored for one that is not.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Posts one stored command, signed, with its id as `commandId` so the phone system can tell a
    /// retry from a new command.
    pub async fn send(&self, command_id: i64, stored: &str) -> Sent {
        let Some((url, secret)) = &self.target else {
            return Sent::Refused("no phone system is configured (callcenter.webhook_url)".into());
        };
        let mut body: serde_json::Value = match serde_json::from_str(stored) {
            Ok(body) => body,
            Err(error) => return Sent::Refused(format!("the stored command is not JSON: {error}")),
        };
        if let Some(object) = body.as_object_mut() {
            object.insert("commandId".into(), command_id.into());
        }
        let body = body.to_string().into_bytes();
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(secret) = secret {
            request = request.header("x-switchboard-signature", signature(secret, &body));
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Sent::Delivered,
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let answer = format!(
                    "{status}: {}",
                    switchboard_domain::validation::clip(text.trim(), 300)
                );
                if status.is_client_error() {
                    Sent::Refused(answer)
                } else {
                    Sent::Failed(answer)
                }
            }
            Err(error) => Sent::Failed(switchboard_domain::validation::clip(
                &error.to_string(),
                300,
            )),
        }
    }
}
