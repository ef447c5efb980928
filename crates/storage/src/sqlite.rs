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
    path: PathBuf,
    /// Work for the writer thread, which owns the only write connection.
    writer: std::sync::mpsc::Sender<Box<dyn WriteJob>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
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

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StorageError::Open {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    // synchronous=FULL: a commit is on disk before we answer 2xx, even across a power cut.
    conn.execute_batch(
        "PRAGMA busy_timeout = 10000;
         PRAGMA foreign_keys = ON;
         PRAGMA synchronous = FULL;",
    )?;
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
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StorageError::Open {
                path: path.clone(),
                source: Box::new(e),
            })?;
        }
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
        let readers = (0..READERS)
            .map(|_| {
                open_connection(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map(Mutex::new)
            })
            .collect::<Result<Vec<_>>>()?;
        tracing::info!(path = %path.display(), "database ready");
        let (writer_tx, writer_rx) = std::sync::mpsc::channel::<Box<dyn WriteJob>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(writer, writer_rx))
            .map_err(|e| StorageError::Open {
                path: path.clone(),
                source: Box::new(e),
            })?;
        let inner = Arc::new(Inner {
            path,
            writer: writer_tx,
            readers,
            next_reader: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, weak))
            .map_err(|e| StorageError::Open {
                path: inner.path.clone(),
                source: Box::new(e),
            })?;
        Ok(Self { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
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
            .send(Box::new(job))
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
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
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
        .map_err(|e| StorageError::Task(e.to_string()))?
    }
}

/// A unit of write work queued for the writer thread, type-erased so different results share a queue.
trait WriteJob: Send {
    /// Runs the work inside the open transaction; true when it succeeded.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Answers the caller, given how the transaction ended.
    fn finish(self: Box<Self>, committed: std::result::Result<(), String>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(tx)))
            .unwrap_or_else(|_| Err(StorageError::Task("a database write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, committed: std::result::Result<(), String>) {
        let answer = match (self.result, committed) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(reason)) => Err(StorageError::Task(format!(
                "the transaction was not committed: {reason}"
            ))),
            (None, Ok(())) => Err(StorageError::Task("the write was never run".into())),
        };
        // The caller may have gone away (request cancelled); the data is committed either way.
        let _ = self.reply.send(answer);
    }
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies committed pages from the WAL into the database file beside the writer (PASSIVE never blocks
/// it), until the store is dropped.
fn checkpoint_loop(conn: Connection, store: std::sync::Weak<Inner>) {
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        if store.upgrade().is_none() {
            return;
        }
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match result {
            Ok((wal_pages, copied)) => tracing::trace!(wal_pages, copied, "checkpoint"),
            Err(error) => tracing::warn!(%error, "checkpoint failed; will retry"),
        }
    }
}

/// Most units of work committed in one transaction.
const MAX_GROUP: usize = 64;

fn write_loop(mut conn: Connection, jobs: std::sync::mpsc::Receiver<Box<dyn WriteJob>>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcome = run_group(&mut conn, &mut group);
        if let Err(reason) = &outcome {
            tracing::error!(%reason, units = group.len(), "write transaction failed");
        }
        for job in group {
            job.finish(outcome.clone());
        }
    }
}

fn run_group(
    conn: &mut Connection,
    group: &mut [Box<dyn WriteJob>],
) -> std::result::Result<(), String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    for job in group.iter_mut() {
        tx.run("SAVEPOINT unit", []).map_err(|e| e.to_string())?;
        if !job.run(&tx) {
            tx.run("ROLLBACK TO unit", []).map_err(|e| e.to_string())?;
        }
        tx.run("RELEASE unit", []).map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
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
}
