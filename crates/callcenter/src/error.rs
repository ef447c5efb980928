//! The call center's own error: what the engine refuses and why, with the storage error that caused
//! it. Mapped to HTTP in one place (`From<CallCenterError> for ApiError`), and to Socket.IO through
//! that mapping (the code a console receives is the HTTP one), so both answer a refusal alike.

use switchboard_domain::ValidationError;
use switchboard_storage::StorageError;
use switchboard_web::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum CallCenterError {
    /// The action's data breaks a rule; names the field.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An agent asked to act for another agent.
    #[error("agents act only for themselves")]
    NotTheirAgent,
    /// A console user who is no agent asked to act as one.
    #[error("your login is not an agent's")]
    NotAnAgent,
    /// An agent tried to end a call that is not theirs.
    #[error("call `{0}` is not ringing at or connected to you")]
    NotTheirCall(String),
    /// Placing or moving calls needs a phone system to ask.
    #[error("no phone system is configured to ask (callcenter.webhook_url)")]
    NoPhoneSystem,
    /// The call is not in the state the action needs.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<CallCenterError> for ApiError {
    fn from(error: CallCenterError) -> Self {
        match error {
            CallCenterError::Invalid(invalid) => Self::Invalid(invalid),
            CallCenterError::NotTheirAgent
            | CallCenterError::NotAnAgent
            | CallCenterError::NotTheirCall(_) => Self::Forbidden(error.to_string()),
            CallCenterError::NoPhoneSystem | CallCenterError::Conflict(_) => {
                Self::Conflict(error.to_string())
            }
            CallCenterError::Storage(storage) => Self::Storage(storage),
        }
    }
}
