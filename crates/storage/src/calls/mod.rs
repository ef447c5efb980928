//! The call center's state: agents, calls and blocked numbers, and every change to them as one
//! transaction with its event (the seed's `incoming_call_to_crm`, `call_answered`, `call_ended`,
//! `agent_status_update` payloads). Who gets a call is decided by `domain::routing::pick`; the single
//! writer makes "the first answer wins" exact.
//!
//! By concern: [`agents`] (who takes calls and their status), [`routing`] (a call's way from arrival
//! through offers and the answer to its end), [`blocked`] (numbers refused), [`log`] (the call log and
//! the live counts), [`callbacks`] (missed calls followed up), [`reports`] (the floor and the reports).

mod agents;
mod blocked;
mod callbacks;
mod log;
mod outcomes;
mod phone_commands;
mod reports;
mod routing;

pub use agents::AgentChanges;
pub use blocked::BlockedNumber;
pub use callbacks::Callback;
pub use log::{CallCenterGauges, CallCenterStatus, CallFilter};
pub use outcomes::OutcomeCode;
pub use phone_commands::{DueCommand, PhoneCommand, SendResult};
pub use reports::{CallGrouping, ChatFloor, FloorAgent, FloorSnapshot, GroupKey, LiveCall};
pub use routing::{PendingTimers, RingingCall};

use serde::Serialize;
use switchboard_domain::callcenter::Lang;
use switchboard_domain::routing::{AgentState, AgentStatus};
use switchboard_domain::{CallStatus, UnixMillis};

/// Events are stored in the default language; consoles that chose another get them translated.
const LANG: Lang = Lang::Vi;

/// An agent: who takes calls, with their status (theirs to set) and state (the system's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    #[schema(example = 3)]
    pub id: i64,
    /// The console user who works as this agent, if one does.
    #[schema(example = 7)]
    pub user_id: Option<i64>,
    #[schema(example = "Nguyễn Văn An")]
    pub full_name: String,
    pub status: AgentStatus,
    pub state: AgentState,
    /// `""` when the agent has none.
    #[schema(example = "101")]
    pub extension: String,
    /// The queues whose calls the agent takes (none: any call).
    #[schema(example = json!(["sales"]))]
    pub queues: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub user_id: Option<i64>,
    pub full_name: String,
    pub extension: String,
    pub queues: Vec<String>,
}

/// A call as the call log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// The phone system's id of the call.
    #[schema(example = "1733380000.123")]
    pub call_id: String,
    #[schema(value_type = switchboard_domain::callcenter::Direction)]
    pub direction: String,
    /// As the phone system sent it.
    #[schema(example = "0912345678")]
    pub caller_number: String,
    #[schema(example = "1900")]
    pub called_number: String,
    #[schema(example = "sales")]
    pub queue: Option<String>,
    /// Who reported the call (`cti`: the phone system's webhook).
    #[schema(example = "cti")]
    pub source: String,
    pub status: CallStatus,
    pub customer_id: Option<i64>,
    /// The agent the call is with: ringing at, or answered by (the last one it rang at, once ended).
    pub offered_agent_id: Option<i64>,
    pub answered_by: Option<i64>,
    pub start_time: UnixMillis,
    pub answered_at: Option<UnixMillis>,
    pub end_time: Option<UnixMillis>,
    /// Why it ended: the console's (`crm_reject`) or the phone system's cause (`normal_clearing`, …).
    #[schema(example = "normal_clearing")]
    pub end_reason: Option<String>,
    pub missed: bool,
    /// Seconds from the start until answered (or until the end, when never answered).
    pub wait_seconds: i64,
    /// Seconds from the answer until the end.
    pub talk_seconds: i64,
    /// What came of it, as the agent recorded (`GET /api/call-outcomes` names the codes).
    #[schema(example = "sale")]
    pub outcome: Option<String>,
    /// The agent's note on it (`""` when none), shown in the customer's history.
    #[schema(example = "Khách đặt 2 bó hoa hồng, giao thứ Bảy")]
    pub outcome_note: String,
    /// Where the phone system keeps its recording (reported on hangup).
    #[schema(example = "https://pbx.example.vn/recordings/1733380000.123.mp3")]
    pub recording_url: Option<String>,
    /// The agent the call was with before the phone system moved it to `answeredBy` (a transfer).
    pub transferred_from: Option<i64>,
}

/// A new call from the phone system.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub call_id: String,
    pub caller_number: String,
    /// `domain::phone::normalize` of the caller's number (or the number as given when it is not one).
    pub caller_normalized: String,
    pub called_number: String,
    pub direction: String,
    pub queue: Option<String>,
    pub source: String,
    /// Outbound calls only: the agent who dialled (matched by the phone system's extension or user).
    pub agent_id: Option<i64>,
}

/// A call offered to an agent: the role starts the ring timer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub call_id: String,
    pub agent_id: i64,
}

/// What a change did: the events it wrote (to wake the feed) and the offers it made (to time them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub events: usize,
    pub offers: Vec<Offer>,
    /// Agents who went into wrap-up: the role ends it after the wrap-up time.
    pub wrap_ups: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewCallOutcome {
    Accepted {
        call: Call,
        effects: Effects,
    },
    /// The same call id was reported before (a phone system retrying): nothing changed.
    Duplicate {
        call: Call,
    },
    Blocked {
        reason: String,
    },
}

#[cfg(test)]
mod reports_tests;
#[cfg(test)]
pub(crate) mod tests;
