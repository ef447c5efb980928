//! The SQLite backend: opening the file, the connections, and running work off the async runtime.

use crate::{Result, StorageError, migrate};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Prepared statements kept per connection: more than the store has, so none is ever prepared twice.
const STATEMENT_CACHE: usize = 256;

/// Read connections kept open. Reads are short (a page of rows), so a few serve many clients.
const READERS: usize = 4;

/// A handle to the database. Cheap to clone; every clone shares the same connections.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// Work for the writer thread, which owns the only write connection.
    writer: std::sync::mpsc::Sender<ToWriter>,
    readers: Vec<Mutex<Connection>>,
    /// Kept apart from `readers` for token checks: a user's slow searches on every reader must not make
    /// everyone else's requests wait to be authenticated.
    auth_reader: Mutex<Connection>,
    /// Long reads (searches, the call log, replays of the event log) may hold all but one reader: the
    /// last one stays free for the short reads every request makes.
    long_reads: Arc<tokio::sync::Semaphore>,
    next_reader: AtomicUsize,
    shared: Arc<Shared>,
}

/// What the writer thread and the checkpointer share with the handles.
struct Shared {
    path: PathBuf,
    /// The database file as opened (device, inode): a file removed or replaced under us is noticed.
    identity: Option<(u64, u64)>,
    /// Why writes fail right now (the disk is full, the file was removed), or `None` when they work.
    write_failure: Mutex<Option<String>>,
    /// Set for good once the file is gone: every later write is refused rather than lost.
    file_lost: std::sync::atomic::AtomicBool,
    /// Transactions committed so far, for the checkpointer to tell an idle database from a busy one.
    commits: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Whether the file we opened is still the one at our path.
    fn file_is_ours(&self) -> bool {
        let Some(identity) = self.identity else {
            return true;
        };
        match std::fs::metadata(&self.path) {
            Ok(meta) => file_identity(&meta) == identity,
            Err(error) => error.kind() != std::io::ErrorKind::NotFound,
        }
    }

    /// Records the outcome of a write: logs the first failure of a run clearly, and the recovery.
    fn record_write(&self, failure: Option<String>) {
        let mut current = self
            .write_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&*current, failure) {
            (None, Some(reason)) => {
                tracing::error!(path = %self.path.display(), %reason, "database writes are failing; answering 503 until they work again");
                *current = Some(reason);
            }
            (Some(_), None) => {
                tracing::warn!(path = %self.path.display(), "database writes work again");
                *current = None;
            }
            (Some(_), Some(reason)) => *current = Some(reason),
            (None, None) => {}
        }
    }

    /// Whether the file is lost (removed or replaced under us), noticing it now if it just was.
    fn file_lost(&self) -> bool {
        if self.file_lost.load(Ordering::Relaxed) {
            return true;
        }
        if self.file_is_ours() {
            return false;
        }
        if !self.file_lost.swap(true, Ordering::Relaxed) {
            self.record_write(Some(format!(
                "the database file {} was removed or replaced while switchboard was running; restore it and restart",
                self.path.display()
            )));
        }
        true
    }

    fn write_failure(&self) -> Option<String> {
        self.write_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

fn file_identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// What the writer thread is asked to do.
enum ToWriter {
    Work(Box<dyn WriteJob>),
    /// Bring the WAL back to its start (see [`checkpoint_loop`]); answered when asked by `close`.
    Checkpoint(Checkpoint, Option<tokio::sync::oneshot::Sender<()>>),
}

#[derive(Debug, Clone, Copy)]
enum Checkpoint {
    /// Copy what is left and have the next write start the WAL from its beginning.
    Restart,
    /// The same, and cut the WAL file to nothing (idle, or stopping).
    Truncate,
}

impl Checkpoint {
    fn sql(self) -> &'static str {
        match self {
            Self::Restart => "PRAGMA wal_checkpoint(RESTART)",
            Self::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.shared.path)
            .finish()
    }
}

/// The file a SQLite database URL names, or `None` for a URL of another engine or a bad one.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    sqlite_path(url).ok()
}

/// Turns `sqlite://data/x.db`, `sqlite:x.db` or a plain path into a file path.
pub(crate) fn sqlite_path(url: &str) -> Result<PathBuf> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let rest = rest.split('?').next().unwrap_or_default();
        if rest.is_empty() {
            return Err(StorageError::UnsupportedUrl(url.to_owned()));
        }
        return Ok(PathBuf::from(rest));
    }
    if url.contains("://") {
        return Err(StorageError::UnsupportedUrl(url.to_owned()));
    }
    Ok(PathBuf::from(url))
}

/// How long a connection waits for a lock another one holds before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The WAL is brought back to its start once it holds this much; at the ingest ceiling (about 30 MB of
/// WAL a second) that is every second or so, each time a stall of a few milliseconds for writers.
pub const WAL_RESTART_BYTES: u64 = 32 << 20;

/// A restarted WAL file is cut back to this size (`journal_size_limit`), so the file on disk stays
/// near this size however busy the database was before.
pub const WAL_SIZE_LIMIT_BYTES: u64 = 64 << 20;

/// A restart waits at most this long for readers still using the old WAL; it is tried again later.
const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Past this, the writer stops to checkpoint before it writes more: checkpoints that cannot keep up
/// (a database of many gigabytes, a slow disk) must slow the writes down, not let the WAL grow.
pub const WAL_HARD_LIMIT_BYTES: u64 = 2 * WAL_SIZE_LIMIT_BYTES;

/// How long the writer waits for readers when it must bring the WAL back.
const HARD_CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StorageError::Open {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    // synchronous=FULL: a commit is on disk before we answer 2xx, even across a power cut.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"
    ))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Every whole operation uses a handful of statements; keep them all prepared (rusqlite keeps 16).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database named by `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let path = sqlite_path(url)?;
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StorageError::Task(e.to_string()))?
    }

    fn open_blocking(path: PathBuf) -> Result<Self> {
        let open_error = |e: std::io::Error| StorageError::Open {
            path: path.clone(),
            source: Box::new(e),
        };
        private_files(&path).map_err(open_error)?;
        let mut writer = open_connection(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mode: String = writer.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "SQLite refused WAL mode; concurrent readers will wait for writers");
        }
        migrate::apply(&mut writer, &path)?;
        // Checkpoints run on their own thread (below), not inside a commit: an automatic checkpoint
        // copies and fsyncs up to 4 MiB in the committing thread and stalled every writer for up to
        // half a second (measured: p99 of sends went from 10 ms to 500 ms).
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let checkpointer = open_connection(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let reader = || {
            open_connection(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map(Mutex::new)
        };
        let readers = (0..READERS).map(|_| reader()).collect::<Result<Vec<_>>>()?;
        let auth_reader = reader()?;
        // The WAL and shared-memory files exist now; an older install may have made them world-readable.
        private_files(&path).map_err(open_error)?;
        let shared = Arc::new(Shared {
            identity: std::fs::metadata(&path)
                .ok()
                .map(|meta| file_identity(&meta)),
            path: path.clone(),
            write_failure: Mutex::new(None),
            file_lost: std::sync::atomic::AtomicBool::new(false),
            commits: std::sync::atomic::AtomicU64::new(0),
        });
        tracing::info!(path = %path.display(), "database ready");
        let (writer_tx, writer_rx) = std::sync::mpsc::channel::<ToWriter>();
        let writer_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(writer, writer_rx, &writer_shared))
            .map_err(open_error)?;
        let inner = Arc::new(Inner {
            writer: writer_tx,
            readers,
            auth_reader,
            long_reads: Arc::new(tokio::sync::Semaphore::new(READERS - 1)),
            next_reader: AtomicUsize::new(0),
            shared,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, weak))
            .map_err(open_error)?;
        Ok(Self { inner })
    }

    /// Claims `role` on this database for this process, until the returned lock is dropped: a second
    /// process running the same role on the same file is refused (its calls and timers would fight
    /// this one's). Different roles in different processes (split mode) share the file as before.
    pub fn claim_role(&self, role: &str) -> Result<RoleLock> {
        use std::io::{Read as _, Seek as _, Write as _};
        let path = sibling(self.path(), &format!(".{role}.lock"));
        let open_error = |e: std::io::Error| StorageError::Open {
            path: path.clone(),
            source: Box::new(e),
        };
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(open_error)?
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(StorageError::RoleTaken {
                    role: role.to_owned(),
                    path: self.path().to_owned(),
                    pid: pid.trim().chars().take(20).collect(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(open_error(e)),
        }
        file.set_len(0).map_err(open_error)?;
        file.rewind().map_err(open_error)?;
        write!(file, "{}", std::process::id()).map_err(open_error)?;
        Ok(RoleLock { _file: file })
    }

    /// Why writes fail right now (the disk is full, the database file was removed), or `None` when
    /// they work; for health checks. Checks the file afresh, so an idle server notices too.
    pub fn write_failure(&self) -> Option<String> {
        let shared = &self.inner.shared;
        shared.file_lost();
        shared.write_failure()
    }

    /// Copies the whole WAL into the database and cuts it to nothing: for a clean stop, so that the
    /// data directory is the database file alone. Answers when done (or when the writer has gone).
    pub async fn close(&self) {
        let (done, finished) = tokio::sync::oneshot::channel();
        if self
            .inner
            .writer
            .send(ToWriter::Checkpoint(Checkpoint::Truncate, Some(done)))
            .is_ok()
        {
            let _ = finished.await;
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.shared.path
    }

    /// Runs `work` as one all-or-nothing unit of a write transaction and answers once it is committed.
    ///
    /// The writer thread commits whatever work is queued together (group commit): one `BEGIN IMMEDIATE`,
    /// a savepoint per unit so a failing unit is rolled back alone, one `COMMIT` and one fsync for all.
    /// Nothing is answered before the `COMMIT` succeeds.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = TypedJob {
            work: Some(work),
            result: None,
            reply,
        };
        self.inner
            .writer
            .send(ToWriter::Work(Box::new(job)))
            .map_err(|_| StorageError::Task("the database writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StorageError::Task("the database writer dropped a request".into()))?
    }

    /// Runs `work` on a read connection, on a blocking thread. No transaction: each statement reads
    /// the latest committed state, and a single-statement read skips BEGIN/COMMIT altogether.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.off_runtime(move |inner| {
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            let count = inner.readers.len();
            // Prefer an idle connection; wait on our turn's one only if all are busy.
            let conn = (0..count)
                .find_map(|i| inner.readers[(start + i) % count].try_lock().ok())
                .unwrap_or_else(|| {
                    inner.readers[start % count]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                });
            work(&conn)
        })
        .await
    }

    /// Runs blocking database work on a blocking thread.
    async fn off_runtime<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// [`Store::read`] for a read that may take long (a search, a page of the call log, a replay of
    /// the event log): it waits while the other long reads hold all readers but one.
    pub(crate) async fn read_long<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.long_reads)
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Task("the store is closing".into()))?;
        // The permit goes with the blocking work: a caller that hangs up cannot give it back while
        // the query still holds a reader.
        let conn_work = move |conn: &Connection| {
            let _permit = permit;
            work(conn)
        };
        self.read(conn_work).await
    }

    /// [`Store::read`] on the connection kept for checking tokens, which long reads never hold.
    pub(crate) async fn read_auth<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.off_runtime(move |inner| {
            let conn = inner
                .auth_reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&conn)
        })
        .await
    }
}

/// A role claimed on a database by this process; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct RoleLock {
    _file: std::fs::File,
}

/// The file beside the database named by its path and `suffix` (`-wal`, `.receiver.lock`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The database file and its WAL and shared-memory files readable by their owner only, like the key.
/// Its folder is created `0700` when missing.
pub(crate) fn private_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    // Created here first, so SQLite (which gives its WAL the database file's mode) never makes it 0644.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::set_permissions(
            sibling(path, suffix),
            std::fs::Permissions::from_mode(0o600),
        ) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// How a unit of write work ended inside the group's transaction.
enum UnitOutcome {
    Done,
    /// The unit failed on its own (bad input, a conflict): it is rolled back, the group goes on.
    Failed,
    /// The database cannot take writes (disk full, I/O error): the caller gets a 503.
    Unavailable(String),
}

/// A unit of write work queued for the writer thread, type-erased so different results share a queue.
trait WriteJob: Send {
    /// Runs the work inside the open transaction.
    fn run(&mut self, tx: &Transaction<'_>) -> UnitOutcome;
    /// Answers the caller, given how the transaction ended.
    fn finish(self: Box<Self>, committed: std::result::Result<(), String>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

/// The reason, when `error` says the database itself cannot write rather than that this write was wrong.
fn unavailable(error: &rusqlite::Error) -> Option<String> {
    use rusqlite::ErrorCode as E;
    match error.sqlite_error_code()? {
        E::DiskFull => Some("the disk is full (or the database reached its size limit)".to_owned()),
        E::SystemIoFailure | E::ReadOnly | E::CannotOpen | E::NotADatabase => {
            Some(error.to_string())
        }
        _ => None,
    }
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> UnitOutcome {
        let Some(work) = self.work.take() else {
            return UnitOutcome::Failed;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(tx)))
            .unwrap_or_else(|_| Err(StorageError::Task("a database write panicked".into())));
        let outcome = match &result {
            Ok(_) => UnitOutcome::Done,
            Err(StorageError::Sqlite(error)) => match unavailable(error) {
                Some(reason) => UnitOutcome::Unavailable(reason),
                None => UnitOutcome::Failed,
            },
            Err(_) => UnitOutcome::Failed,
        };
        self.result = Some(match (&outcome, result) {
            (UnitOutcome::Unavailable(reason), _) => Err(StorageError::Unavailable(reason.clone())),
            (_, result) => result,
        });
        outcome
    }

    fn finish(self: Box<Self>, committed: std::result::Result<(), String>) {
        let answer = match (self.result, committed) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(reason)) => Err(StorageError::Unavailable(format!(
                "the transaction was not committed: {reason}"
            ))),
            (None, Ok(())) => Err(StorageError::Task("the write was never run".into())),
        };
        // The caller may have gone away (request cancelled); the data is committed either way.
        let _ = self.reply.send(answer);
    }
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Keeps the WAL bounded without putting checkpoints on the commit path.
///
/// PASSIVE checkpoints copy committed pages into the database file beside the writer and never block
/// it, but they alone never bring the WAL back to its start while writers are busy: at a steady
/// 2,000 messages/s the file grew by 19 MB/s without end. So when the WAL passes
/// [`WAL_RESTART_BYTES`], the writer thread itself is asked (between two transactions) for a RESTART
/// checkpoint: almost everything is copied already, so it copies the last few pages, waits for readers
/// of the old WAL (milliseconds), and the next commit writes from the WAL's start; `journal_size_limit`
/// then cuts the file back. When the database is idle, the WAL is truncated to nothing.
fn checkpoint_loop(conn: Connection, store: std::sync::Weak<Inner>) {
    let page_size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(4096);
    let mut commits_seen = 0;
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(inner) = store.upgrade() else {
            return;
        };
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        let (wal_pages, copied) = match result {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(%error, "checkpoint failed; will retry");
                continue;
            }
        };
        let commits = inner.shared.commits.load(Ordering::Relaxed);
        let idle = commits == commits_seen;
        commits_seen = commits;
        let wal_bytes = u64::try_from(wal_pages).unwrap_or(0) * page_size;
        // Idle first: after a last RESTART the WAL still counts its old frames until the next write,
        // and only a TRUNCATE empties it.
        let wanted = if idle && wal_pages > 0 && copied == wal_pages {
            Some(Checkpoint::Truncate)
        } else if wal_bytes >= WAL_RESTART_BYTES {
            Some(Checkpoint::Restart)
        } else {
            None
        };
        tracing::trace!(wal_pages, copied, ?wanted, "checkpoint");
        if let Some(mode) = wanted {
            let _ = inner.writer.send(ToWriter::Checkpoint(mode, None));
        }
    }
}

/// Most units of work committed in one transaction.
const MAX_GROUP: usize = 64;

fn write_loop(mut conn: Connection, inbox: std::sync::mpsc::Receiver<ToWriter>, shared: &Shared) {
    let mut next = None;
    let mut last_hard_checkpoint: Option<std::time::Instant> = None;
    loop {
        let first = match next.take() {
            Some(message) => message,
            None => match inbox.recv() {
                Ok(message) => message,
                Err(_) => break,
            },
        };
        let first = match first {
            ToWriter::Work(job) => job,
            ToWriter::Checkpoint(mode, done) => {
                checkpoint(&conn, mode, CHECKPOINT_WAIT);
                if let Some(done) = done {
                    let _ = done.send(());
                }
                continue;
            }
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match inbox.try_recv() {
                Ok(ToWriter::Work(job)) => group.push(job),
                // Run after this group's commit.
                Ok(checkpoint) => {
                    next = Some(checkpoint);
                    break;
                }
                Err(_) => break,
            }
        }
        // Whatever is written to a file removed under us is lost: write nothing more.
        let outcome = if shared.file_lost() {
            Err(shared.write_failure().unwrap_or_default())
        } else {
            let outcome = run_group(&mut conn, &mut group);
            match &outcome {
                Ok(()) => shared.record_write(None),
                Err(failure) if failure.database_down => {
                    shared.record_write(Some(failure.reason.clone()))
                }
                // A lock held by another process (split mode), say: a wait, not a broken database.
                Err(_) => {}
            }
            shared.commits.fetch_add(1, Ordering::Relaxed);
            outcome.map_err(|failure| failure.reason)
        };
        for job in group {
            job.finish(outcome.clone());
        }
        // The file is cut back to WAL_SIZE_LIMIT_BYTES when the WAL restarts, so a larger file means
        // the checkpointer has fallen behind: catch up here, holding the next writes back.
        // At most once a second: a reader that pins the WAL (a backup, say) must not stall every group.
        if wal_file_size(&shared.path) > WAL_HARD_LIMIT_BYTES
            && last_hard_checkpoint
                .is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1))
        {
            checkpoint(&conn, Checkpoint::Restart, HARD_CHECKPOINT_WAIT);
            last_hard_checkpoint = Some(std::time::Instant::now());
        }
    }
    // Every handle is gone: leave the database file complete on its own.
    checkpoint(&conn, Checkpoint::Truncate, CHECKPOINT_WAIT);
}

fn wal_file_size(path: &Path) -> u64 {
    std::fs::metadata(sibling(path, "-wal")).map_or(0, |m| m.len())
}

/// Runs a checkpoint on the writer's connection, between transactions, waiting at most `wait` for
/// readers.
fn checkpoint(conn: &Connection, mode: Checkpoint, wait: std::time::Duration) {
    let started = std::time::Instant::now();
    let _ = conn.busy_timeout(wait);
    let result = conn.query_row(mode.sql(), [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    });
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    match result {
        Ok((busy, wal_pages)) => tracing::debug!(
            ?mode,
            completed = busy == 0,
            wal_pages,
            took_ms = started.elapsed().as_millis() as u64,
            "WAL checkpoint"
        ),
        Err(error) => tracing::warn!(?mode, %error, "WAL checkpoint failed; will retry"),
    }
}

/// Why a group was not committed (then nothing of it was written).
struct NotCommitted {
    reason: String,
    /// The database itself cannot write (disk full, I/O), as opposed to a wait or a lock.
    database_down: bool,
}

/// Commits a group.
fn run_group(
    conn: &mut Connection,
    group: &mut [Box<dyn WriteJob>],
) -> std::result::Result<(), NotCommitted> {
    let describe = |e: rusqlite::Error| match unavailable(&e) {
        Some(reason) => NotCommitted {
            reason,
            database_down: true,
        },
        None => NotCommitted {
            reason: e.to_string(),
            database_down: false,
        },
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(describe)?;
    for job in group.iter_mut() {
        tx.run("SAVEPOINT unit", []).map_err(describe)?;
        match job.run(&tx) {
            UnitOutcome::Done => {}
            UnitOutcome::Failed => {
                tx.run("ROLLBACK TO unit", []).map_err(describe)?;
            }
            // SQLite may have rolled back the whole transaction (a full disk does): nothing of this
            // group can commit, and the other units are answered that the database is unavailable.
            UnitOutcome::Unavailable(reason) => {
                return Err(NotCommitted {
                    reason,
                    database_down: true,
                });
            }
        }
        tx.run("RELEASE unit", []).map_err(describe)?;
    }
    tx.commit().map_err(describe)
}

/// `execute` and `query_row` that reuse prepared statements: rusqlite's own prepare the SQL every
/// call, which perf showed as a quarter of the sender's CPU.
pub(crate) trait Cached {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    #[test]
    fn urls_name_files() {
        assert_eq!(
            sqlite_path("sqlite://data/s.db").ok(),
            Some(PathBuf::from("data/s.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/s.db").ok(),
            Some(PathBuf::from("/tmp/s.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:s.db?mode=rwc").ok(),
            Some(PathBuf::from("s.db"))
        );
        assert_eq!(
            sqlite_path("plain/file.db").ok(),
            Some(PathBuf::from("plain/file.db"))
        );
        assert!(matches!(
            sqlite_path("postgres://x/y"),
            Err(StorageError::UnsupportedUrl(_))
        ));
    }

    #[tokio::test]
    async fn opening_twice_applies_migrations_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("nested/dir/s.db").display());
        let first = Store::open(&url).await.expect("first open");
        drop(first);
        let store = Store::open(&url).await.expect("second open");
        let versions: i64 = store
            .read(
                |tx| Ok(tx.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))?),
            )
            .await
            .expect("count");
        assert_eq!(versions, migrate::latest());
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::open(&url).await.expect("open");
        store
            .write(|tx| {
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
                    [],
                )?;
                Ok(())
            })
            .await
            .expect("insert");
        drop(store);
        let error = Store::open(&url).await.expect_err("newer schema");
        assert!(
            error.to_string().contains("newer than this switchboard"),
            "{error}"
        );
    }

    fn file_size(path: &Path, suffix: &str) -> u64 {
        std::fs::metadata(sibling(path, suffix)).map_or(0, |m| m.len())
    }

    /// Waits (with a deadline, never a fixed sleep) until `done` holds.
    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn the_wal_stays_bounded_under_writes_and_readers_and_is_emptied_when_idle_and_on_close()
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::open(&url).await.expect("open");
        let path = store.path().to_owned();
        store
            .write(|tx| {
                Ok(tx.execute_batch("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")?)
            })
            .await
            .expect("table");
        // Readers busy all along, as consoles are: they pin the WAL a PASSIVE checkpoint cannot restart.
        let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut readers = Vec::new();
        for _ in 0..3 {
            let (store, reading) = (store.clone(), std::sync::Arc::clone(&reading));
            readers.push(tokio::spawn(async move {
                while reading.load(Ordering::Relaxed) {
                    let _ = store
                        .read(|c| {
                            Ok(c.query_row("SELECT COUNT(*) FROM blobs", [], |r| {
                                r.get::<_, i64>(0)
                            })?)
                        })
                        .await;
                }
            }));
        }
        // Ten times the restart threshold, in 64 KiB rows, many writers at once.
        let row = vec![7u8; 64 * 1024];
        let rows = 10 * WAL_RESTART_BYTES as usize / row.len();
        let mut largest = 0;
        for chunk in 0..rows / 16 {
            let writes = (0..16).map(|i| {
                let (store, row) = (store.clone(), row.clone());
                async move {
                    store
                        .write(move |tx| {
                            Ok(tx.run(
                                "INSERT INTO blobs (id, data) VALUES (?1, ?2)",
                                params![(chunk * 16 + i) as i64, row],
                            )?)
                        })
                        .await
                }
            });
            for result in futures_util::future::join_all(writes).await {
                result.expect("write");
            }
            largest = largest.max(file_size(&path, "-wal"));
        }
        reading.store(false, Ordering::Relaxed);
        for reader in readers {
            reader.await.expect("reader");
        }
        // Without RESTART checkpoints the WAL held every row written (10 × the threshold and more);
        // now it passes the threshold by what is written between two checks of the checkpointer.
        assert!(
            largest < 5 * WAL_RESTART_BYTES,
            "the WAL reached {largest} bytes for {} bytes written",
            rows * row.len()
        );
        // Idle: the WAL is cut to nothing.
        wait_until("the idle WAL is truncated", || {
            file_size(&path, "-wal") == 0
        })
        .await;
        // After a last write, closing leaves the database file whole on its own.
        store
            .write(|tx| Ok(tx.run("DELETE FROM blobs WHERE id < 10", [])?))
            .await
            .expect("write");
        assert!(file_size(&path, "-wal") > 0);
        store.close().await;
        assert_eq!(file_size(&path, "-wal"), 0);
    }

    #[tokio::test]
    async fn database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("data/s.db").display());
        let store = Store::open(&url).await.expect("open");
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE t (x)")?))
            .await
            .expect("write");
        for suffix in ["", "-wal", "-shm"] {
            let mut name = store.path().as_os_str().to_owned();
            name.push(suffix);
            let mode = std::fs::metadata(&name)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{}{suffix}", store.path().display());
        }
        let dir_mode = std::fs::metadata(dir.path().join("data"))
            .expect("dir")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        // A bot's spool too: it holds what customers wrote.
        let spool_path = dir.path().join("bots/page.db");
        let _spool = crate::Spool::open(&spool_path).expect("spool");
        for (path, wanted) in [
            (spool_path.clone(), 0o600),
            (dir.path().join("bots"), 0o700),
        ] {
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, wanted, "{}", path.display());
        }
    }

    #[tokio::test]
    async fn a_full_disk_refuses_writes_with_a_reason_and_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .expect("open");
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE blobs (data BLOB)")?))
            .await
            .expect("table");
        assert_eq!(store.write_failure(), None);
        // A database that may not grow stands in for a disk that cannot.
        let pages: i64 = store
            .read(|c| Ok(c.query_row("PRAGMA page_count", [], |r| r.get(0))?))
            .await
            .expect("pages");
        store
            .write(move |tx| Ok(tx.execute_batch(&format!("PRAGMA max_page_count = {pages}"))?))
            .await
            .expect("limit");
        let error = store
            .write(|tx| Ok(tx.run("INSERT INTO blobs VALUES (zeroblob(1000000))", [])?))
            .await
            .expect_err("full");
        assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
        let reason = store.write_failure().expect("failing");
        assert!(reason.contains("disk is full"), "{reason}");
        store
            .write(|tx| Ok(tx.execute_batch("PRAGMA max_page_count = 1000000")?))
            .await
            .expect("room again");
        store
            .write(|tx| Ok(tx.run("INSERT INTO blobs VALUES (x'00')", [])?))
            .await
            .expect("writes work again");
        assert_eq!(store.write_failure(), None);
    }

    #[tokio::test]
    async fn a_database_file_removed_while_running_takes_no_more_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .expect("open");
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE t (x)")?))
            .await
            .expect("table");
        std::fs::remove_file(store.path()).expect("remove");
        let error = store
            .write(|tx| Ok(tx.run("INSERT INTO t VALUES (1)", [])?))
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("removed"), "{error}");
        assert!(store.write_failure().is_some_and(|r| r.contains("removed")));
    }

    #[tokio::test]
    async fn a_role_is_claimed_by_one_process_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::open(&url).await.expect("open");
        let claim = store.claim_role("callcenter").expect("first claim");
        // Another process would open the lock file anew; so does a second store here.
        let other = Store::open(&url).await.expect("open again");
        let error = other.claim_role("callcenter").expect_err("taken");
        let text = error.to_string();
        assert!(
            text.contains("callcenter") && text.contains(&std::process::id().to_string()),
            "{text}"
        );
        // Split mode: other roles on the same file are fine.
        let _receiver = other.claim_role("receiver").expect("another role");
        drop(claim);
        other.claim_role("callcenter").expect("free again");
    }
}
