//! Switchboard's storage: the only crate that speaks SQL and the only owner of migrations.
//!
//! [`Store`] is the contract the roles use. Its methods are whole operations ("ingest this batch",
//! "events after id N"), each one transaction, so a second backend (PostgreSQL) implements the same list
//! of functions. The SQLite backend keeps one write connection (SQLite has one writer at a time anyway)
//! and a few read connections; WAL lets readers run beside the writer. Writes start with
//! `BEGIN IMMEDIATE`, which takes the write lock up front and so never fails half-way with SQLITE_BUSY
//! when another process (split mode) writes to the same file.

mod accounts;
mod calls;
mod commands;
mod crypto;
mod customers;
mod error;
mod events;
mod inbox;
mod ingest;
mod migrate;
mod spool;
mod sqlite;
mod tokens;
mod users;

pub use accounts::{Account, AccountChanges, AccountKind, CredentialsSet, NewAccount};
pub use calls::{
    Agent, AgentChanges, BlockedNumber, Call, CallCenterStatus, CallFilter, Effects, NewAgent,
    NewCall, NewCallOutcome, Offer, RingingCall,
};
pub use commands::{DeliverableCommand, QueuedMessage, QueuedPost};
pub use crypto::{Cipher, KeyError};
pub use customers::Customer;
pub use error::StorageError;
pub use events::StoredEvent;
pub use inbox::{
    ConversationFilter, ConversationView, MessageView, NotificationView, Page, PostView,
};
pub use ingest::IngestOutcome;
pub use spool::{CommandState, OutboxItem, OutboxKind, Spool, StoredCommand};
pub use sqlite::{RoleLock, Store, WAL_RESTART_BYTES, WAL_SIZE_LIMIT_BYTES, sqlite_file};
pub use tokens::{MAX_TOKEN_LENGTH, TokenInfo, TokenKind};
pub use users::{User, UserChanges};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Where the embedded database lives when nothing else is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchboard.db";
