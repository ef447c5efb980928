//! Switchboard's storage: the only crate that speaks SQL and the only owner of migrations.
//!
//! [`Store`] is the contract the roles use. Its methods are whole operations ("ingest this batch",
//! "answer this call"), each one transaction. Each operation is written once, as a function over the
//! seam in `sql` (a `sql::Tx` with `execute`, `one`, `optional`, `rows` and `insert`, values in
//! and out through `ToValue`/`FromValue`), so an engine only supplies connections, a writer and the
//! five calls; the operations themselves do not name it. A stored status that is none of its enum's
//! names is [`StorageError::Corrupt`], never a default.
//!
//! SQLite (the `sqlite` module) keeps one write connection (SQLite has one writer at a time anyway)
//! that commits queued operations in groups, and a few read connections; WAL lets readers run beside
//! the writer. Writes start with `BEGIN IMMEDIATE`, which takes the write lock up front and so never
//! fails half-way with SQLITE_BUSY when another process (split mode) writes to the same file. The bot's
//! local [`Spool`] is a SQLite file by nature (it lives beside the bot) and uses rusqlite directly.

mod access;
mod accounts;
mod assignment;
#[cfg(test)]
mod assignment_tests;
mod attachments;
mod calls;
mod commands;
mod comments;
#[cfg(test)]
mod comments_tests;
mod commits;
mod conversation_reports;
mod copy;
mod crypto;
mod customers;
mod error;
mod events;
mod group;
#[cfg(test)]
mod group_tests;
mod inbox;
mod ingest;
mod migrate;
mod multirow;
#[cfg(test)]
mod nodes_tests;
mod postgres;
mod presence;
pub mod scratch;
pub(crate) mod search;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod shared_limits_tests;
mod spool;
mod sql;
mod sqlite;
mod store;
mod teamwork;
#[cfg(test)]
mod teamwork_tests;
mod tokens;
mod users;

pub use access::{AccessView, TeamView};
pub use accounts::{Account, AssignmentSettings, CredentialsSet, NewAccount};
pub use attachments::{AttachmentView, StoredFile};
pub use calls::{
    Agent, AgentChanges, BlockedNumber, Call, CallCenterGauges, CallCenterStatus, CallFilter,
    CallGrouping, Callback, ChatFloor, DueCommand, Effects, FloorAgent, FloorSnapshot, GroupKey,
    LiveCall, NewAgent, NewCall, NewCallOutcome, Offer, OutcomeCode, PendingTimers, PhoneCommand,
    RingingCall, SendResult,
};
pub use commands::{CommandGauges, DeliverableCommand, QueuedMessage, QueuedPost};
pub use comments::{CommentView, FeedPostView, QueuedModeration};
pub use conversation_reports::{
    AgentActivity, ConversationActivity, ConversationReport, MAX_REPORT_CONVERSATIONS,
};
pub use copy::CopyReport;
pub use crypto::{Cipher, KeyError};
pub use customers::{
    CustomField, Customer, CustomersMerged, DuplicateKind, DuplicatePair, DuplicateReason,
    ImportOptions, ImportReport, ImportedDuplicate, RefusedRow,
};
pub use error::StorageError;
pub use events::StoredEvent;
pub use inbox::{
    Assignee, ConversationCounts, ConversationFilter, ConversationView, MessageView,
    NotificationView, Page, PostView,
};
pub use ingest::IngestOutcome;
pub use postgres::{LoginFailures, RateAnswer, RateCheck, SharedLimits};
pub use presence::NodeId;
pub use spool::{CommandState, OutboxItem, OutboxKind, Spool, StoredCommand};
pub use sqlite::{
    BackupReport, WAL_RESTART_BYTES, WAL_SIZE_LIMIT_BYTES, backup_sqlite, sqlite_file,
};
pub use store::{CallTimers, RoleLock, Store};
pub use switchboard_domain::outbound::{AccountChanges, AccountKind, UserChanges};
pub use teamwork::{
    Actor, CannedResponse, ConversationUpdated, LabelView, LabelsChanged, NoteAdded, NoteView,
};
pub use tokens::{MAX_TOKEN_LENGTH, TokenInfo, TokenKind};
pub use users::User;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Where the embedded database lives when nothing else is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchboard.db";

/// A fresh database for one of this crate's tests, on the engine the environment names (see
/// [`scratch`]); removed with the guard.
#[cfg(test)]
pub(crate) async fn temp_store() -> (TestDatabase, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let scratch = scratch::ScratchDatabase::new(dir.path(), "s.db").expect("a scratch database");
    let store = Store::open(scratch.url()).await.expect("open");
    (TestDatabase { scratch, _dir: dir }, store)
}

/// Keeps a test's database until the test ends.
#[cfg(test)]
pub(crate) struct TestDatabase {
    scratch: scratch::ScratchDatabase,
    _dir: tempfile::TempDir,
}

#[cfg(test)]
impl TestDatabase {
    /// The database's URL, to open more stores on it (more nodes).
    pub(crate) fn url(&self) -> &str {
        self.scratch.url()
    }
}

/// A store on a fresh SQLite file, for tests of what only SQLite does (its files, its WAL).
#[cfg(test)]
pub(crate) async fn temp_sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .expect("open");
    (dir, store)
}
