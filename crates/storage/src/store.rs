//! [`Store`]: the handle the roles hold, whichever engine is behind it.

use crate::group::{self, Announced, Turns, TypedJob};
use crate::sql::Tx;
use crate::{Result, StorageError, postgres, sqlite};
use std::path::Path;
use std::sync::Arc;

/// A handle to the database. Cheap to clone; every clone shares the same connections.
#[derive(Clone, Debug)]
pub struct Store {
    engine: Engine,
    /// Long reads (searches, the call log, replays of the event log) may hold all of an engine's
    /// readers but one: the last stays free for the short reads every request makes.
    long_reads: Arc<tokio::sync::Semaphore>,
    /// How long offers ring and wrap-ups last, written as due moments with the changes that start them.
    call_timers: CallTimers,
    /// The business's day and service level, by which finished calls are summed per day.
    report_rules: Arc<switchboard_domain::reports::ReportRules>,
}

/// The call center's timer lengths. The store writes each timer's due moment in the transaction that
/// starts it, so that any call-center node can fire it (see `Store::pending_timers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTimers {
    /// How long a call rings at one agent before it moves on to the next.
    pub ring: std::time::Duration,
    /// How long an agent stays in wrap-up after a call they talked on; zero for none.
    pub wrap_up: std::time::Duration,
    /// Offers in a row an agent lets ring out before they are set away; zero: never.
    pub max_no_answer: u32,
}

impl Default for CallTimers {
    fn default() -> Self {
        Self {
            ring: std::time::Duration::from_secs(20),
            wrap_up: std::time::Duration::ZERO,
            max_no_answer: 3,
        }
    }
}

impl CallTimers {
    fn millis(duration: std::time::Duration) -> i64 {
        i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
    }

    /// When an offer made at `now` rings out.
    pub(crate) fn ring_due(&self, now: i64) -> i64 {
        now.saturating_add(Self::millis(self.ring))
    }

    /// When a wrap-up begun at `now` ends; `None` when there are no wrap-ups.
    pub(crate) fn wrap_up_due(&self, now: i64) -> Option<i64> {
        (!self.wrap_up.is_zero()).then(|| now.saturating_add(Self::millis(self.wrap_up)))
    }
}

/// The key of [`Store::write_keyed`]'s units for `key`: the same for one key throughout a process
/// (a node's writers are its own, so no two processes need agree).
pub(crate) fn writer_key(key: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// Read connections each engine keeps (besides the one for token checks).
pub(crate) const READERS: usize = 4;

/// Runs blocking work (SQL, hashing) on a blocking thread, off the async runtime.
pub(crate) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
}

/// Hands a unit of write work to an engine's writer thread.
pub(crate) fn send_to_writer<J>(writer: &std::sync::mpsc::Sender<J>, job: J) -> Result<()> {
    writer
        .send(job)
        .map_err(|_| StorageError::Task("the database writer has stopped".into()))
}

/// Which read connection a read runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    /// The next of the pool (see [`next_reader`]).
    Pool,
    /// The one kept for checking tokens, which long reads never hold.
    Auth,
}

/// An engine's read connections: a pool, and one kept apart for token checks so that a user's slow
/// searches on every reader never make everyone else's requests wait to be authenticated.
pub(crate) struct Readers<C> {
    pool: Vec<std::sync::Mutex<C>>,
    next: std::sync::atomic::AtomicUsize,
    auth: std::sync::Mutex<C>,
}

impl<C> Readers<C> {
    pub(crate) fn new(pool: Vec<C>, auth: C) -> Self {
        Self {
            pool: pool.into_iter().map(std::sync::Mutex::new).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
            auth: std::sync::Mutex::new(auth),
        }
    }

    /// The connection of `reader`, waiting for it if busy.
    pub(crate) fn lock(&self, reader: Reader) -> std::sync::MutexGuard<'_, C> {
        match reader {
            Reader::Pool => next_reader(&self.pool, &self.next),
            Reader::Auth => self
                .auth
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }
}

/// A reader for the next read: an idle one if any, else this turn's one (waiting for it).
pub(crate) fn next_reader<'a, C>(
    readers: &'a [std::sync::Mutex<C>],
    turn: &std::sync::atomic::AtomicUsize,
) -> std::sync::MutexGuard<'a, C> {
    let start = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let count = readers.len();
    (0..count)
        .find_map(|i| readers[(start + i) % count].try_lock().ok())
        .unwrap_or_else(|| {
            readers[start % count]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
}

#[derive(Clone, Debug)]
enum Engine {
    Sqlite(sqlite::Database),
    Postgres(postgres::Database),
}

/// A role claimed on a database by this process; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct RoleLock {
    _file: Option<std::fs::File>,
}

impl Store {
    /// Opens the database named by `url` (`sqlite://PATH`, a plain path, or
    /// `postgres://USER@HOST[:PORT]/DATABASE`), creating a SQLite file if needed, and applies
    /// pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let engine = if postgres::is_postgres_url(url) {
            Engine::Postgres(postgres::Database::open(url).await?)
        } else {
            Engine::Sqlite(sqlite::Database::open(url).await?)
        };
        let store = Self {
            engine,
            long_reads: Arc::new(tokio::sync::Semaphore::new(READERS - 1)),
            call_timers: CallTimers::default(),
            report_rules: Arc::default(),
        };
        let started = std::time::Instant::now();
        let chunks = store.catch_up_search_index().await?;
        if chunks > 0 {
            tracing::info!(chunks, elapsed = ?started.elapsed(), "indexed what was stored before search existed");
        }
        Ok(store)
    }

    /// This handle, writing `timers` as the due moments of the offers and wrap-ups its changes start.
    #[must_use]
    pub fn with_call_timers(mut self, timers: CallTimers) -> Self {
        self.call_timers = timers;
        self
    }

    /// The PostgreSQL engine, for what only it needs (locks between nodes).
    pub(crate) fn postgres(&self) -> Option<&postgres::Database> {
        match &self.engine {
            Engine::Sqlite(_) => None,
            Engine::Postgres(db) => Some(db),
        }
    }

    pub(crate) fn call_timers(&self) -> CallTimers {
        self.call_timers
    }

    /// This handle, summing finished calls by `rules` (call [`Store::keep_call_stats`] once after).
    #[must_use]
    pub fn with_report_rules(mut self, rules: switchboard_domain::reports::ReportRules) -> Self {
        self.report_rules = Arc::new(rules);
        self
    }

    /// Shared, not copied: every call that ends reads them.
    pub fn report_rules(&self) -> Arc<switchboard_domain::reports::ReportRules> {
        Arc::clone(&self.report_rules)
    }

    /// The database file, on SQLite.
    pub fn file(&self) -> Option<&Path> {
        match &self.engine {
            Engine::Sqlite(db) => Some(db.path()),
            Engine::Postgres(_) => None,
        }
    }

    /// The database as it may be shown and logged: the file, or the URL without its password.
    pub fn location(&self) -> String {
        match &self.engine {
            Engine::Sqlite(db) => db.path().display().to_string(),
            Engine::Postgres(db) => db.target().to_owned(),
        }
    }

    /// Claims `role` on this database for this process, until the returned lock is dropped. On
    /// SQLite a second process running the same role on the same file is refused (its calls and
    /// timers would fight this one's). On PostgreSQL several nodes of a role are the point.
    pub fn claim_role(&self, role: &str) -> Result<RoleLock> {
        match &self.engine {
            Engine::Sqlite(db) => Ok(RoleLock {
                _file: Some(db.claim_role(role)?),
            }),
            Engine::Postgres(_) => Ok(RoleLock { _file: None }),
        }
    }

    /// The rate limits' buckets and the login limiter's counts, shared by every node of the database:
    /// on PostgreSQL. `None` on SQLite, where one node counts in memory (docs/scaling.md).
    pub fn shared_limits(&self) -> Option<crate::SharedLimits> {
        match &self.engine {
            Engine::Sqlite(_) => None,
            Engine::Postgres(db) => Some(db.shared_limits()),
        }
    }

    /// Changes whenever a commit may have been made to the database by another process or node
    /// (and by this one): a subscriber looks at the event log again. The value carries nothing.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        match &self.engine {
            Engine::Sqlite(db) => db.commits(),
            Engine::Postgres(db) => db.commits(),
        }
    }

    /// Why writes fail right now (the disk is full, the database file was removed, the database
    /// server is unreachable), or `None` when they work; for health checks.
    pub fn write_failure(&self) -> Option<String> {
        match &self.engine {
            Engine::Sqlite(db) => db.write_failure(),
            Engine::Postgres(db) => db.write_failure(),
        }
    }

    /// Leaves the database tidy for a clean stop (SQLite: the WAL copied back and cut to nothing).
    pub async fn close(&self) {
        match &self.engine {
            Engine::Sqlite(db) => db.close().await,
            Engine::Postgres(_) => {}
        }
    }

    /// Runs `work` as one all-or-nothing unit of a write transaction and answers once it is
    /// committed (group commit: see [`crate::group`]). Nothing is answered before the `COMMIT`.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        Ok(self.write_announcing(work).await?.0)
    }

    /// [`Store::write`] for a unit whose every check is made by the row locks of its own statements
    /// (an `UPDATE … WHERE state = …` that counts the rows it changed, an `ON CONFLICT`), so that it
    /// stays exact under PostgreSQL's read committed while other nodes write: its group need not
    /// wait for them (see `postgres::writer`). A unit that reads, decides, then writes what it read
    /// is not one of them. The same as `write` on SQLite, which has one writer.
    pub(crate) async fn write_beside<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        Ok(self.submit(work, Turns::Beside, 0).await?.0)
    }

    /// [`Store::write_announcing`] for a unit that writes only rows of its `key` (one account's
    /// new messages, its conversations, their events: an ingest), checks nothing another unit
    /// decides, and queues no command (a bot's delivery follows commands in the order their ids
    /// were given, which only units that take turns keep). On PostgreSQL such groups run beside each
    /// other, on several writers of a node and on several nodes, but never beside one that takes
    /// turns; units of one key go to one writer of a node, in order. The same as `write` on SQLite.
    pub(crate) async fn write_keyed<T, F>(&self, key: &str, work: F) -> Result<(T, Announced)>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(work, Turns::Shared, writer_key(key)).await
    }

    /// [`Store::write`] for a unit that appends an event: the value, and the id of the unit's last
    /// event.
    pub(crate) async fn write_with_event<T, F>(&self, work: F) -> Result<(T, i64)>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let (value, announced) = self.write_announcing(work).await?;
        Ok((value, announced.last_given()?))
    }

    /// [`Store::write`], answering also the ids of the events the unit appended, which are known
    /// only once its group has committed.
    pub(crate) async fn write_announcing<T, F>(&self, work: F) -> Result<(T, Announced)>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(work, Turns::Alone, 0).await
    }

    /// Queues `work` for the writer of `key`, to take `turns` with the others.
    pub(crate) async fn submit<T, F>(
        &self,
        work: F,
        turns: Turns,
        key: u64,
    ) -> Result<(T, Announced)>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let (job, answer) = TypedJob::queued(work, turns, key);
        match &self.engine {
            Engine::Sqlite(db) => db.submit(job)?,
            Engine::Postgres(db) => db.submit(job)?,
        }
        group::answer(answer).await
    }

    /// Runs `work` on a read connection, on a blocking thread. No transaction: each statement reads
    /// the latest committed state.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.read_on(Reader::Pool, work).await
    }

    async fn read_on<T, F>(&self, reader: Reader, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let engine = self.engine.clone();
        off_runtime(move || match &engine {
            Engine::Sqlite(db) => db.read(reader, work),
            Engine::Postgres(db) => db.read(reader, work),
        })
        .await
    }

    /// [`Store::read`] for a read that may take long (a search, a page of the call log, a replay of
    /// the event log): it waits while the other long reads hold all readers but one.
    pub(crate) async fn read_long<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.long_reads)
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Task("the store is closing".into()))?;
        // The permit goes with the blocking work: a caller that hangs up cannot give it back while
        // the query still holds a reader.
        self.read(move |tx: &Tx<'_>| {
            let _permit = permit;
            work(tx)
        })
        .await
    }

    /// [`Store::read`] on the connection kept for checking tokens, which long reads never hold.
    pub(crate) async fn read_auth<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.read_on(Reader::Auth, work).await
    }
}
