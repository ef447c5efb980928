//! Missed calls followed up: a callback task per caller, closed with what came of it.

use crate::validation::{ValidationError, text};
use serde::Deserialize;

crate::named_enum! {
    /// Whether a callback is still to do.
    pub enum CallbackStatus {
        Open = "open",
        Closed = "closed",
    }
}

crate::named_enum! {
    /// What came of calling back.
    pub enum CallbackOutcome {
        /// The agent spoke with the caller.
        Reached = "reached",
        /// Nobody answered (the task is closed; a new missed call opens another).
        NoAnswer = "no_answer",
        WrongNumber = "wrong_number",
        /// The caller no longer needs it (they called again and were served, wrote on Facebook…).
        NotNeeded = "not_needed",
    }
}

/// The most characters of a callback's note.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Body of `POST /api/callbacks/{id}/close`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CloseCallbackIn {
    pub outcome: CallbackOutcome,
    /// What the agent learned (≤ 2,000 characters), kept with the task.
    #[serde(default)]
    #[schema(example = "Khách hẹn gọi lại sau 17h để chốt đơn")]
    pub note: Option<String>,
}

impl CloseCallbackIn {
    pub fn validate(self) -> Result<(CallbackOutcome, String), ValidationError> {
        let note = self.note.unwrap_or_default().trim().to_owned();
        text("note", &note, MAX_NOTE_CHARS)?;
        Ok((self.outcome, note))
    }
}
