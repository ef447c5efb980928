//! What the call center asks of the phone system: connect or drop a call a console decided on, place
//! a call for an agent (click-to-call), move a connected call to another agent or queue. Each is stored
//! before it is sent and retried until the phone system takes it, so none is lost to a restart; a
//! refusal, or a phone system that keeps failing, is the command's outcome the agent sees.

use crate::ValidationError;
use serde::Deserialize;
use std::time::Duration;

crate::named_enum! {
    /// What a command asks.
    pub enum PhoneCommandKind {
        /// Connect the call to the agent who answered in a console.
        Answer = "answer",
        /// Stop ringing: the console rejected the call.
        Reject = "reject",
        /// Hang up: the console ended a connected call.
        Hangup = "hangup",
        /// Ring the agent's phone, then the number (click-to-call).
        Dial = "dial",
        /// Move a connected call to another agent or to a queue.
        Transfer = "transfer",
    }
}

crate::named_enum! {
    /// Where a command is.
    pub enum PhoneCommandStatus {
        /// Stored; sent or to be sent again at its next attempt.
        Pending = "pending",
        /// The phone system answered 2xx.
        Delivered = "delivered",
        /// The phone system refused it (4xx), or failed every attempt: its answer is kept.
        Failed = "failed",
    }
}

/// Attempts before a command is given up as failed.
pub const MAX_ATTEMPTS: i64 = 6;

/// The pause before attempt `attempt + 1`, after `attempt` failed: 1 s, doubled each time, at most a
/// minute (1, 2, 4, 8, 16 s: about half a minute in all before the last).
pub fn retry_after(attempt: i64) -> Duration {
    let exponent = u32::try_from(attempt.clamp(1, 7) - 1).unwrap_or(0);
    Duration::from_secs(2_u64.pow(exponent)).min(Duration::from_secs(60))
}

/// `POST /api/calls/dial`: an agent's click-to-call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DialIn {
    /// The number to call, in any spelling (`0912 345 678`, `+84912345678`).
    #[schema(example = "0912 345 678")]
    pub number: String,
    /// Who places it: agents leave it out (themselves); supervisors, admins and API tokens name one.
    #[schema(value_type = Option<i64>, minimum = 1, example = 3)]
    pub agent_id: Option<crate::AgentId>,
    /// The customer called, shown with the call.
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub customer_id: Option<crate::CustomerId>,
    /// The callback task this call returns, if any.
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub callback_id: Option<crate::CallbackId>,
}

impl DialIn {
    /// The number, normalised; `422` naming `number` when it is not a phone number.
    pub fn number(&self) -> Result<String, ValidationError> {
        crate::phone::normalize(&self.number).map_err(|e| {
            ValidationError::new(
                "number",
                format!(
                    "`{}` is not a phone number: {}",
                    crate::validation::clip(&self.number, 40),
                    e.problem
                ),
            )
        })
    }
}

/// `POST /api/calls/{call_id}/transfer`: to an agent, or to a queue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransferIn {
    #[schema(value_type = Option<i64>, minimum = 1, example = 4)]
    pub agent_id: Option<crate::AgentId>,
    #[schema(example = "billing", max_length = 100)]
    pub queue: Option<String>,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Agent(i64),
    Queue(String),
}

impl TransferIn {
    pub fn target(self) -> Result<TransferTarget, ValidationError> {
        match (self.agent_id, self.queue) {
            (Some(agent), None) => Ok(TransferTarget::Agent(agent.get())),
            (None, Some(queue)) => Ok(TransferTarget::Queue(crate::validation::identifier(
                "queue", &queue, 100,
            )?)),
            _ => Err(ValidationError::new(
                "agentId",
                "name either an agent (agentId) or a queue (queue)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_minute() {
        let pauses: Vec<u64> = (1..=8).map(|a| retry_after(a).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn a_dial_needs_a_phone_number_and_a_transfer_one_target() {
        let dial = |number: &str| DialIn {
            number: number.into(),
            agent_id: None,
            customer_id: None,
            callback_id: None,
        };
        assert_eq!(dial("0912 345 678").number().unwrap(), "+84912345678");
        let refused = dial("hello").number().unwrap_err();
        assert_eq!(refused.field, "number");
        assert!(refused.problem.contains("`hello`"), "{}", refused.problem);
        let transfer = |agent: Option<i64>, queue: Option<&str>| TransferIn {
            agent_id: agent.map(crate::AgentId::new),
            queue: queue.map(str::to_owned),
        };
        assert_eq!(
            transfer(Some(4), None).target().unwrap(),
            TransferTarget::Agent(4)
        );
        assert_eq!(
            transfer(None, Some(" billing ")).target().unwrap(),
            TransferTarget::Queue("billing".into())
        );
        assert_eq!(transfer(None, None).target().unwrap_err().field, "agentId");
        assert_eq!(
            transfer(Some(4), Some("x")).target().unwrap_err().field,
            "agentId"
        );
    }
}
