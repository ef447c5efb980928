//! Switchboard's domain: the shapes of what bots and consoles exchange and the rules they must obey.
//!
//! Nothing here does I/O. The storage crate persists these types, the role crates move them over HTTP
//! and Socket.IO, and both rely on the validation here so a rule is written exactly once.

pub mod access;
pub mod attachments;
pub mod auth;
pub mod call_outcomes;
pub mod callbacks;
pub mod callcenter;
pub mod comments;
pub mod custom_fields;
pub mod customer;
pub mod customer_csv;
pub mod encoding;
pub mod event;
pub mod facebook;
pub mod ids;
pub mod ingest;
pub mod limits;
pub mod outbound;
pub mod phone;
pub mod phone_commands;
pub mod reports;
pub mod routing;
pub mod search;
pub mod spreadsheet;
pub mod status;
pub mod teamwork;
pub mod timestamp;
pub mod validation;

pub use access::AccountView;
pub use auth::{Principal, Role};
pub use event::EventKind;
pub use ids::{
    AgentId, AttachmentId, CallId, CallbackId, CannedResponseId, ConversationId, CustomFieldId,
    CustomerId, IdError, LabelId, MessageId, OutcomeCodeId, PostId, TeamId, TokenId, UserId,
};
pub use status::{CallStatus, CommandStatus, MessageStatus, PostStatus};
pub use teamwork::ConversationStatus;
pub use timestamp::{TimeError, UnixMillis};
pub use validation::ValidationError;
