//! The SQLite backend: opening the file, the connections, and running work off the async runtime.

use crate::group::{WriteHealth, WriteJob};
use crate::sql::Tx;
use crate::store::{READERS, Reader, Readers, off_runtime, send_to_writer};
use crate::{Result, StorageError, migrate};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use writer::{checkpoint_loop, write_loop};

/// Prepared statements kept per connection: more than the store has, so none is ever prepared twice.
const STATEMENT_CACHE: usize = 256;

/// A SQLite database. Cheap to clone; every clone shares the same connections.
#[derive(Clone)]
pub(crate) struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    /// Work for the writer thread, which owns the only write connection.
    writer: std::sync::mpsc::Sender<ToWriter>,
    readers: Readers<Connection>,
    shared: Arc<Shared>,
    /// Bumped when the file changes (see [`watch_commits`]).
    commits: tokio::sync::watch::Receiver<u64>,
}

/// How often the file is checked for commits of other processes.
const COMMIT_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// Notices commits to the file by any connection, this process's writer or another process's (split
/// mode): `PRAGMA data_version` changes then. It reads a counter in shared memory, no page of the
/// database, so checking it often costs next to nothing, unlike reading the event log as a poll did.
fn watch_commits(conn: &Connection, signal: &crate::commits::CommitSignal) {
    let mut seen = None;
    while !signal.abandoned() {
        match conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)) {
            Ok(version) if seen != Some(version) => {
                if seen.is_some() {
                    signal.bump();
                }
                seen = Some(version);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot check the database for other processes' commits")
            }
        }
        std::thread::sleep(COMMIT_CHECK);
    }
}

/// What the writer thread and the checkpointer share with the handles.
struct Shared {
    path: PathBuf,
    /// The database file as opened (device, inode): a file removed or replaced under us is noticed.
    identity: Option<(u64, u64)>,
    /// Why writes fail right now (the disk is full, the file was removed), or `None` when they work.
    health: WriteHealth,
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

    fn record_write(&self, failure: Option<String>) {
        self.health
            .record(&self.path.display().to_string(), failure);
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
        self.health.failure()
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

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("sqlite::Database")
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
    register_search(&conn)?;
    Ok(conn)
}

/// `search_has(text, terms, exact)`: `domain::search::text_has_terms` in SQL, for searches that check
/// conversations one by one (`search::Strategy::FromList`), where a query of the index per row
/// would cost more than the row. NULL text has nothing.
fn register_search(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "search_has",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Null => return Ok(false),
                value => value.as_str()?,
            };
            let terms = ctx.get_raw(1).as_str()?;
            let exact = ctx.get::<bool>(2)?;
            Ok(switchboard_domain::search::text_has_terms(
                text, terms, exact,
            ))
        },
    )?;
    Ok(())
}

impl Database {
    /// Opens (creating if needed) the database named by `url` and applies pending migrations.
    pub(crate) async fn open(url: &str) -> Result<Self> {
        let path = sqlite_path(url)?;
        off_runtime(move || Self::open_blocking(path)).await
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
        };
        let pool = (0..READERS).map(|_| reader()).collect::<Result<Vec<_>>>()?;
        let readers = Readers::new(pool, reader()?);
        // The WAL and shared-memory files exist now; an older install may have made them world-readable.
        private_files(&path).map_err(open_error)?;
        let shared = Arc::new(Shared {
            identity: std::fs::metadata(&path)
                .ok()
                .map(|meta| file_identity(&meta)),
            path: path.clone(),
            health: WriteHealth::default(),
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
        let (signal, commits) = crate::commits::channel();
        let watcher = open_connection(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        std::thread::Builder::new()
            .name("sqlite-commits".into())
            .spawn(move || watch_commits(&watcher, &signal))
            .map_err(open_error)?;
        let inner = Arc::new(Inner {
            writer: writer_tx,
            readers,
            shared,
            commits,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, weak))
            .map_err(open_error)?;
        Ok(Self { inner })
    }

    /// Claims `role` on this database for this process, until the returned file is closed: a second
    /// process running the same role on the same file is refused (its calls and timers would fight
    /// this one's). Different roles in different processes (split mode) share the file as before.
    pub(crate) fn claim_role(&self, role: &str) -> Result<std::fs::File> {
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
        Ok(file)
    }

    /// Why writes fail right now (the disk is full, the database file was removed), or `None` when
    /// they work; for health checks. Checks the file afresh, so an idle server notices too.
    pub(crate) fn write_failure(&self) -> Option<String> {
        let shared = &self.inner.shared;
        shared.file_lost();
        shared.write_failure()
    }

    /// Copies the whole WAL into the database and cuts it to nothing: for a clean stop, so that the
    /// data directory is the database file alone. Answers when done (or when the writer has gone).
    pub(crate) async fn close(&self) {
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

    /// Changes whenever the file changes (a commit of this process or another).
    pub(crate) fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.clone()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.inner.shared.path
    }

    /// Queues a unit of write work for this database's writer (see [`crate::Store::write`]).
    pub(crate) fn submit(&self, job: Box<dyn WriteJob>) -> Result<()> {
        send_to_writer(&self.inner.writer, ToWriter::Work(job))
    }

    /// Runs `work` on a read connection; blocks (the store calls it off the runtime). No transaction:
    /// each statement reads the latest committed state, and a single-statement read skips
    /// BEGIN/COMMIT altogether.
    pub(crate) fn read<T>(
        &self,
        reader: Reader,
        work: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        work(&Tx::sqlite(&self.inner.readers.lock(reader)))
    }
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

mod backup;
mod writer;

pub use backup::{BackupReport, backup_sqlite};

#[cfg(test)]
mod tests;
