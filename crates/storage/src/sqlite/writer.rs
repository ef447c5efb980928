//! The single writer: units of write work committed in groups (one transaction, one fsync for many
//! callers), and the checkpoints that keep the WAL bounded.

use super::*;
use crate::group::{GroupEnd, MAX_GROUP, UnitOutcome, WriteJob, WriteSession, run_group};

/// The writer's connection as the group commit drives it.
struct SqliteSession<'c>(&'c Connection);

impl SqliteSession<'_> {
    fn control(&mut self, sql: &str) -> Result<()> {
        self.0.run(sql, [])?;
        Ok(())
    }
}

impl WriteSession for SqliteSession<'_> {
    fn begin(&mut self, _turns: crate::group::Turns) -> Result<()> {
        // Takes the write lock up front, so a transaction never fails half-way with SQLITE_BUSY
        // when another process (split mode) writes to the same file.
        self.control("BEGIN IMMEDIATE")
    }

    fn savepoint(&mut self) -> Result<()> {
        self.control("SAVEPOINT unit")
    }

    fn release(&mut self) -> Result<()> {
        self.control("RELEASE SAVEPOINT unit")
    }

    fn roll_back_unit(&mut self) -> Result<()> {
        self.control("ROLLBACK TO SAVEPOINT unit")
    }

    fn commit(&mut self) -> Result<Option<i64>> {
        // The events have their ids already: SQLite gives them as they are written.
        self.control("COMMIT").map(|()| None)
    }

    fn roll_back(&mut self) {
        let _ = self.control("ROLLBACK");
    }

    fn roll_back_group(&mut self) -> Result<()> {
        // Some errors end the transaction by themselves: then there is nothing left to undo.
        if self.0.is_autocommit() {
            return Ok(());
        }
        self.control("ROLLBACK")
    }

    fn run(&mut self, job: &mut dyn WriteJob) -> UnitOutcome {
        job.run(&Tx::sqlite(self.0))
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
pub(super) fn checkpoint_loop(conn: Connection, store: std::sync::Weak<Inner>) {
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

pub(super) fn write_loop(
    conn: Connection,
    inbox: std::sync::mpsc::Receiver<ToWriter>,
    shared: &Shared,
) {
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
            ToWriter::Checkpoint(mode, None) => {
                checkpoint(&conn, mode, CHECKPOINT_WAIT);
                continue;
            }
            // Someone waits for it (a clean stop): worth waiting for the checkpointer's own pass and
            // for readers, on a machine so busy that they take longer than a routine checkpoint waits.
            ToWriter::Checkpoint(mode, Some(done)) => {
                let deadline = std::time::Instant::now() + HARD_CHECKPOINT_WAIT;
                // Only a checkpoint kept waiting by readers is tried again; one that failed (an I/O
                // error, say) would fail the same way, and was logged once.
                while checkpoint(&conn, mode, CHECKPOINT_WAIT) == CheckpointEnd::Busy
                    && std::time::Instant::now() < deadline
                {}
                let _ = done.send(());
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
        let end = if shared.file_lost() {
            GroupEnd::NotCommitted(shared.write_failure().unwrap_or_default())
        } else {
            let outcome = run_group(&mut SqliteSession(&conn), &mut group);
            match &outcome {
                Ok(_) => shared.record_write(None),
                Err(failure) if failure.database_down => {
                    shared.record_write(Some(failure.reason.clone()))
                }
                // A lock held by another process (split mode), say: a wait, not a broken database.
                Err(_) => {}
            }
            shared.commits.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(events) => GroupEnd::Committed(events),
                Err(failure) => GroupEnd::NotCommitted(failure.reason),
            }
        };
        for job in group {
            job.finish(&end);
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
fn checkpoint(conn: &Connection, mode: Checkpoint, wait: std::time::Duration) -> CheckpointEnd {
    let started = std::time::Instant::now();
    let _ = conn.busy_timeout(wait);
    let result = conn.query_row(mode.sql(), [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    });
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    match result {
        Ok((busy, wal_pages)) => {
            tracing::debug!(
                ?mode,
                completed = busy == 0,
                wal_pages,
                took_ms = started.elapsed().as_millis() as u64,
                "WAL checkpoint"
            );
            if busy == 0 {
                CheckpointEnd::Completed
            } else {
                CheckpointEnd::Busy
            }
        }
        Err(error) => {
            tracing::warn!(?mode, %error, "WAL checkpoint failed; will retry");
            CheckpointEnd::Failed
        }
    }
}

/// How a checkpoint ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckpointEnd {
    Completed,
    /// Readers (or the checkpointer's own pass) kept it from finishing within its wait.
    Busy,
    Failed,
}

/// `execute` that reuses prepared statements: rusqlite's own prepare the SQL every
/// call, which perf showed as a quarter of the sender's CPU.
pub(crate) trait Cached {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}
