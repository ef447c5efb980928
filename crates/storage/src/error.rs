use std::path::PathBuf;

/// Everything that can go wrong in storage. The web layer maps it to HTTP once; most variants are
/// the caller's to fix (a 4xx), the database ones are ours (an opaque 500, logged).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unknown account `{0}`")]
    UnknownAccount(String),
    #[error("account `{0}` is disabled")]
    AccountDisabled(String),
    #[error("unknown token id {0}")]
    UnknownToken(i64),
    #[error(
        "unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST[:PORT]/DATABASE"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        /// The URL without its password.
        target: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "the database at {path} has schema version {found}, newer than this switchboard knows ({known}); run a newer switchboard"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_detail(.0))]
    Postgres(#[from] postgres::Error),
    #[error(
        "the encryption key is missing but the database holds encrypted credentials; restore the key file (see encryption_key_path)"
    )]
    KeyMissing,
    #[error(
        "the encryption key does not open the credentials in this database; is it the right key file?"
    )]
    WrongKey,
    #[error("unknown user")]
    UnknownUser,
    #[error("a user named `{0}` already exists")]
    UserExists(String),
    #[error("account `{0}` already exists")]
    AccountExists(String),
    #[error("unknown conversation {0}")]
    UnknownConversation(i64),
    #[error("unknown message {0}")]
    UnknownMessage(i64),
    #[error("unknown post {0}")]
    UnknownPost(i64),
    #[error("unknown customer {0}")]
    UnknownCustomer(i64),
    #[error("unknown agent {0}")]
    UnknownAgent(i64),
    #[error("unknown call `{0}`")]
    UnknownCall(String),
    #[error("call `{0}` was already answered")]
    CallTaken(String),
    #[error("call `{0}` has already ended")]
    CallEnded(String),
    #[error("`{0}` is not a cursor this server gave out")]
    BadCursor(String),
    #[error("{0}")]
    Conflict(String),
    /// A rule of the domain checked against what is stored (an unknown label, a disabled assignee).
    #[error(transparent)]
    Invalid(#[from] switchboard_domain::ValidationError),
    #[error("the conversation is already assigned to user {0}")]
    AlreadyAssigned(i64),
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    #[error("unknown label {0}")]
    UnknownLabel(i64),
    #[error("unknown canned response {0}")]
    UnknownCannedResponse(i64),
    #[error("unknown team {0}")]
    UnknownTeam(i64),
    #[error("unknown customer field {0}")]
    UnknownCustomField(i64),
    #[error("unknown callback {0}")]
    UnknownCallback(i64),
    #[error("unknown outcome code {0}")]
    UnknownOutcomeCode(i64),
    #[error(
        "the target database already holds data (table {0} is not empty): copy only into a database with nothing but its schema"
    )]
    TargetNotEmpty(String),
    #[error(
        "the source database has a table `{0}` that this switchboard does not know how to copy; use the switchboard that made it"
    )]
    CopyUnknownTable(String),
    #[error("cannot back up into {path}: {reason}")]
    Backup { path: PathBuf, reason: String },
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("a storage task stopped unexpectedly: {0}")]
    Task(String),
    /// Writes cannot be made now (the disk is full, the database file was removed); retry later.
    #[error("the database cannot take writes: {0}")]
    Unavailable(String),
    /// The write met another node's at the same rows and was rolled back alone; retry it.
    #[error("the write met another at the same time and was not made; try again: {0}")]
    Contended(String),
    #[error(
        "another switchboard process (pid {pid}) already runs the {role} on {path}; stop it first, or give this one another database"
    )]
    RoleTaken {
        role: String,
        path: PathBuf,
        pid: String,
    },
}

impl StorageError {
    /// A write broke a uniqueness or reference rule of the schema (a duplicate, a missing parent), as
    /// opposed to the database failing: the operation turns it into the conflict it means.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            Self::Sqlite(error) => {
                error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            }
            // Class 23: integrity constraint violation.
            Self::Postgres(error) => error
                .code()
                .is_some_and(|code| code.code().starts_with("23")),
            _ => false,
        }
    }

    /// PostgreSQL rolled the statement back because it met another transaction (SQLSTATE class 40:
    /// a deadlock it broke, a serialization failure): trying again is the answer.
    pub(crate) fn is_contention(&self) -> bool {
        match self {
            Self::Postgres(error) => error
                .code()
                .is_some_and(|code| code.code().starts_with("40")),
            _ => false,
        }
    }

    /// The reason, when this error says the database itself cannot work now (disk full, I/O error,
    /// connection lost, server shutting down) rather than that the request was wrong: the caller
    /// gets a 503 and retries, and nothing is half-written.
    pub(crate) fn unavailable_reason(&self) -> Option<String> {
        match self {
            Self::Sqlite(error) => {
                use rusqlite::ErrorCode as E;
                match error.sqlite_error_code()? {
                    E::DiskFull => {
                        Some("the disk is full (or the database reached its size limit)".to_owned())
                    }
                    E::SystemIoFailure | E::ReadOnly | E::CannotOpen | E::NotADatabase => {
                        Some(error.to_string())
                    }
                    _ => None,
                }
            }
            Self::Postgres(error) => {
                let class = error.code().map(|code| &code.code()[..2]);
                // No SQLSTATE: the connection itself failed. 08: connection exception; 53:
                // insufficient resources; 57: operator intervention (shutdown); 58: system error.
                let down = error.is_closed()
                    || class.is_none_or(|class| matches!(class, "08" | "53" | "57" | "58"));
                down.then(|| format!("PostgreSQL: {}", postgres_detail(error)))
            }
            Self::Unavailable(reason) => Some(reason.clone()),
            _ => None,
        }
    }
}

/// What PostgreSQL said: its message and SQLSTATE, not the client's bare "db error".
fn postgres_detail(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(error: serde_json::Error) -> Self {
        Self::Corrupt(error.to_string())
    }
}
