//! Telling the phone system what a console decided: when an agent answers or rejects (or hangs up) in
//! the console, the PBX must connect or drop the call. One JSON POST per decision to the configured URL,
//! retried with backoff while the phone system is unreachable or answers 5xx; a 4xx is final.

use serde::Serialize;
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_storage::{Agent, Call};

/// The body of the webhook (documented in docs/protocol.md).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneSystemNotice {
    /// `answer`, `reject` (ended while ringing) or `hangup` (ended while connected).
    pub event: &'static str,
    pub call_id: String,
    pub caller_number: String,
    pub called_number: String,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    /// The extension the phone system should connect (or stop ringing).
    pub extension: Option<String>,
    pub end_reason: Option<String>,
    /// Who decided: the `source` the console sent (`crm_system` for the seed's client).
    pub source: String,
    pub timestamp: UnixMillis,
}

impl PhoneSystemNotice {
    fn new(event: &'static str, call: &Call, agent: Option<&Agent>, source: &str) -> Self {
        Self {
            event,
            call_id: call.call_id.clone(),
            caller_number: call.caller_number.clone(),
            called_number: call.called_number.clone(),
            agent_id: agent.map(|a| a.id),
            agent_name: agent.map(|a| a.full_name.clone()),
            extension: agent.map(|a| a.extension.clone()).filter(|e| !e.is_empty()),
            end_reason: call.end_reason.clone(),
            source: source.to_owned(),
            timestamp: UnixMillis::now(),
        }
    }

    pub fn answer(call: &Call, agent: &Agent, source: &str) -> Self {
        Self::new("answer", call, Some(agent), source)
    }

    pub fn end(call: &Call, agent: Option<&Agent>, was_connected: bool, source: &str) -> Self {
        let event = if was_connected { "hangup" } else { "reject" };
        Self::new(event, call, agent, source)
    }
}

// The `X-Switchboard-Signature` header: the HMAC-SHA256 of the body under the secret.
use switchboard_domain::encoding::signature;

/// Attempts per notice, and the pause before the first retry (doubled each time).
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct Webhook {
    target: Option<(String, Option<String>)>,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(url: Option<String>, secret: Option<String>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            target: url.map(|url| (url, secret)),
            client,
        }
    }

    /// Whether a phone system is configured: callers skip building notices nobody will receive.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `notice` in the background; the console's action does not wait for the phone system.
    pub fn notify(&self, notice: PhoneSystemNotice) {
        let Some((url, secret)) = self.target.clone() else {
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let body = match serde_json::to_vec(&notice) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(%error, "cannot encode the phone-system notice");
                    return;
                }
            };
            let mut pause = FIRST_RETRY;
            for attempt in 1..=ATTEMPTS {
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(secret) = &secret {
                    request = request.header("x-switchboard-signature", signature(secret, &body));
                }
                match request.send().await {
                    Ok(response) if response.status().is_success() => return,
                    Ok(response) if response.status().is_client_error() => {
                        tracing::warn!(status = %response.status(), call_id = %notice.call_id, event = notice.event,
                            "the phone system refused the notice");
                        return;
                    }
                    Ok(response) => {
                        tracing::warn!(status = %response.status(), attempt, call_id = %notice.call_id, "phone-system webhook failed");
                    }
                    Err(error) => {
                        tracing::warn!(%error, attempt, call_id = %notice.call_id, "phone-system webhook unreachable");
                    }
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            tracing::error!(call_id = %notice.call_id, event = notice.event, "gave up telling the phone system");
        });
    }
}
