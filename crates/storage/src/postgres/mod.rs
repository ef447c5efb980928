//! The PostgreSQL engine: for several nodes on one database. The same operations as SQLite, run
//! through the same seam; only the connections and the writer are this engine's.
//!
//! The client is the synchronous `postgres` crate (tokio-postgres underneath): every operation is a
//! synchronous function over [`Tx`], run off the async runtime exactly as on SQLite, so one body of
//! operations serves both engines. `sqlx` cannot be linked beside rusqlite (both link `sqlite3`).
//!
//! Each node keeps [`WRITERS`] write connections that commit queued operations in groups (the group
//! commit of [`crate::group`]), like SQLite's one, and a few read connections. A lost connection is made again on
//! next use; until then callers get [`StorageError::Unavailable`] (a 503), never a half-written change.

mod conn;
mod limits;
mod listen;
mod pipeline;
mod writer;

pub(crate) use conn::{PgConn, PgStatements, column};
pub use limits::{LoginFailures, RateAnswer, RateCheck, SharedLimits};

use crate::group::{WriteHealth, WriteJob};
use crate::sql::Tx;
use crate::store::{READERS, Reader, Readers, off_runtime, send_to_writer};
use crate::{Result, StorageError, migrate};

use std::sync::Arc;
use std::time::Duration;

/// How long making a connection may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// No statement runs longer than this: a stuck query must not hold a connection for ever.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Writer connections a node keeps. One backend executes one transaction's statements at a time,
/// and at a few thousand messages a second an ingest's statements kept one backend busy while the
/// machine's other core idled: groups that need not take turns (`Store::write_keyed`) now run on
/// two. Units that take turns all go to the first (their key is 0) and wait for each other anyway.
const WRITERS: usize = 2;

/// The channel every group commit notifies and every node listens on.
const CHANNEL: &str = "switchboard_commits";
/// Ends each write transaction that appended events: the notification is delivered to the
/// listeners only if it commits.
const NOTIFY_AND_COMMIT: &str = "NOTIFY switchboard_commits; COMMIT";

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL as it may be logged: without its password.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// A PostgreSQL database. Cheap to clone; every clone shares the same connections.
#[derive(Clone)]
pub(crate) struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    config: postgres::Config,
    /// The URL without its password, for messages.
    target: String,
    /// The node's writers, each on a connection and a thread of its own; a unit goes to the one of
    /// its key (see [`WRITERS`]).
    writers: Vec<std::sync::mpsc::Sender<Box<dyn WriteJob>>>,
    /// `None` once a connection is lost; made again on next use.
    readers: Readers<Option<PgConn>>,
    /// Losses of connections, counted for all of the node's connections.
    health: Arc<WriteHealth>,
    /// Each writer's failure (and the shared losses).
    writer_health: Vec<Arc<WriteHealth>>,
    /// Bumped when any node commits (see `listen`).
    commits: tokio::sync::watch::Receiver<u64>,
    /// The limits this node counts with the others, on connections of their own.
    limits: SharedLimits,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("postgres::Database")
            .field("target", &self.inner.target)
            .finish()
    }
}

/// Drops a connection's client or runtime, on a thread of its own when this one drives an async
/// runtime (where the last handle of a store may well be dropped): dropping either blocks on a
/// runtime of its own, which panics there.
fn drop_off_runtime<T: Send + 'static>(value: T) {
    if tokio::runtime::Handle::try_current().is_err() {
        drop(value);
        return;
    }
    let closing = std::thread::Builder::new().name("postgres-close".into());
    if let Err(error) = closing.spawn(move || drop(value)) {
        tracing::warn!(%error, "a PostgreSQL connection was left for the server to close");
    }
}

/// Opens a connection with the settings every connection of the store has.
fn connect(config: &postgres::Config, target: &str) -> Result<PgConn> {
    let mut client = config
        .connect(postgres::NoTls)
        .map_err(|e| StorageError::Connect {
            target: target.to_owned(),
            source: Box::new(e),
        })?;
    client.batch_execute(&session_settings())?;
    Ok(PgConn::new(client))
}

/// What every connection sets first.
fn session_settings() -> String {
    // A 2xx means committed and durable: never let a server default weaken that.
    format!(
        "SET synchronous_commit = on; SET statement_timeout = {}; SET TIME ZONE 'UTC'",
        STATEMENT_TIMEOUT.as_millis()
    )
}

impl Database {
    /// Connects, applies pending migrations (once, however many nodes start together) and starts
    /// the writer.
    pub(crate) async fn open(url: &str) -> Result<Self> {
        let url = url.to_owned();
        off_runtime(move || Self::open_blocking(&url)).await
    }

    fn open_blocking(url: &str) -> Result<Self> {
        let target = redacted(url);
        let mut write_config: tokio_postgres::Config =
            url.parse().map_err(|e| StorageError::Connect {
                target: target.clone(),
                source: Box::new(e),
            })?;
        write_config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("switchboard");
        let config = postgres::Config::from(write_config.clone());
        let mut auth_reader = connect(&config, &target)?;
        migrate::apply_postgres(auth_reader.client(), &target)?;
        let pool = (0..READERS)
            .map(|_| connect(&config, &target).map(Some))
            .collect::<Result<Vec<_>>>()?;
        let readers = Readers::new(pool, Some(auth_reader));
        let health = Arc::new(WriteHealth::default());
        let writer_health: Vec<Arc<WriteHealth>> =
            (0..WRITERS).map(|_| Arc::new(health.sibling())).collect();
        let writers = (0..WRITERS)
            .map(|number| {
                let (inbox, queued) = std::sync::mpsc::channel();
                let writer = writer::Writer {
                    conn: Some(writer::connect(&write_config, &target)?),
                    config: write_config.clone(),
                    target: target.clone(),
                    health: Arc::clone(&writer_health[number]),
                };
                std::thread::Builder::new()
                    .name(format!("postgres-writer-{number}"))
                    .spawn(move || writer.run(queued))
                    .map_err(|e| {
                        StorageError::Task(format!("cannot start the database writer: {e}"))
                    })?;
                Ok(inbox)
            })
            .collect::<Result<Vec<_>>>()?;
        let (signal, commits) = crate::commits::channel();
        let (listen_config, listen_target) = (config.clone(), target.clone());
        std::thread::Builder::new()
            .name("postgres-listen".into())
            .spawn(move || listen::run(&listen_config, &listen_target, &signal))
            .map_err(|e| StorageError::Task(format!("cannot start the database listener: {e}")))?;
        tracing::info!(database = %target, "database ready");
        let limits = SharedLimits::new(config.clone(), target.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                limits,
                config,
                target,
                writers,
                writer_health,
                readers,
                health,
                commits,
            }),
        })
    }

    /// The database as it may be shown: its URL without the password.
    pub(crate) fn target(&self) -> &str {
        &self.inner.target
    }

    /// Changes whenever any node (this one included) commits.
    pub(crate) fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.clone()
    }

    /// The limits this node counts with the others.
    pub(crate) fn shared_limits(&self) -> SharedLimits {
        self.inner.limits.clone()
    }

    /// Why writes fail right now, or `None` when they work; for health checks.
    pub(crate) fn write_failure(&self) -> Option<String> {
        self.inner
            .writer_health
            .iter()
            .find_map(|health| health.failure())
    }

    /// Queues a unit of write work for the writer of its key (see [`crate::Store::write`]).
    pub(crate) fn submit(&self, job: Box<dyn WriteJob>) -> Result<()> {
        let writers = &self.inner.writers;
        let lane = usize::try_from(job.key() % writers.len() as u64).unwrap_or(0);
        send_to_writer(&writers[lane], job)
    }

    /// See [`crate::Store::read`]; blocks (the store calls it off the runtime).
    pub(crate) fn read<T>(
        &self,
        reader: Reader,
        work: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.inner.run_read(self.inner.readers.lock(reader), work)
    }

    /// Runs `work` on a connection made for it and closed after, on a blocking thread: for a lock
    /// held by the session across several writes (see [`crate::Store::prune_old_events`]).
    pub(crate) async fn with_own_connection<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        off_runtime(move || {
            let mut conn = connect(&inner.config, &inner.target)
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            work(&Tx::postgres(&mut conn))
        })
        .await
    }
}

impl Inner {
    /// Runs a read on the connection in `slot`, making it again if it was lost; a read that finds
    /// the database gone answers [`StorageError::Unavailable`] and leaves the slot empty.
    fn run_read<T>(
        &self,
        mut slot: std::sync::MutexGuard<'_, Option<PgConn>>,
        work: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let losses = self.health.losses();
        if slot.as_mut().is_none_or(|conn| conn.is_stale(losses)) {
            *slot = None;
            let mut conn = connect(&self.config, &self.target).map_err(|e| {
                self.health.note_loss();
                StorageError::Unavailable(e.to_string())
            })?;
            conn.seen_losses(losses);
            *slot = Some(conn);
        }
        let conn = slot
            .as_mut()
            .ok_or_else(|| StorageError::Task("no read connection".into()))?;
        match work(&Tx::postgres(conn)) {
            Err(error) => match error.unavailable_reason() {
                Some(reason) => {
                    *slot = None;
                    self.health.note_loss();
                    Err(StorageError::Unavailable(reason))
                }
                None => Err(error),
            },
            ok => ok,
        }
    }
}
