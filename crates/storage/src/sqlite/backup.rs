//! A consistent copy of a running SQLite store, for `switchboard db backup`: SQLite's online backup,
//! all pages in one step, checked, then put in place whole.

use super::{sibling, sqlite_path};
use crate::{Result, StorageError};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a backup holds, checked on the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    /// Consoles and bots resuming on a store restored from this copy find every event up to here.
    pub last_event_id: i64,
}

/// How long the copy waits for a lock it needs (the writer's checkpoint) before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// The pause between two tries of a busy step.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Copies the SQLite store at `source` (`sqlite://PATH` or a path) into `target`, a new file, while
/// switchboard keeps running on it.
///
/// Every page is copied in one step, inside one read transaction: the copy is the store as of one
/// commit (every write acknowledged before the backup started is in it), and writers go on meanwhile
/// (a WAL reader blocks no writer; the WAL grows until the copy ends). A stepwise copy would start over
/// at each write of the running node and might never end. The copy is written beside `target`, checked
/// (`PRAGMA quick_check`, its schema, its last event id), switched to a rollback journal so that the
/// one file is the whole backup, flushed, and only then linked to `target`, which fails if `target`
/// exists: an existing file is never overwritten, even by a backup to the same path running at the
/// same time, and a backup that fails leaves nothing (one killed midway leaves its `.partial-PID`).
pub fn backup_sqlite(source: &str, target: &Path) -> Result<BackupReport> {
    let source = sqlite_path(source)?;
    if !source.is_file() {
        return Err(StorageError::Open {
            path: source,
            source: "there is no database file there".into(),
        });
    }
    let failed = |reason: String| StorageError::Backup {
        path: target.to_owned(),
        reason,
    };
    let exists =
        || failed("the file exists already; a backup never overwrites one, give a new path".into());
    if target.exists() {
        return Err(exists());
    }
    // This run's own file: another backup to the same path at the same time has its own.
    let partial = sibling(target, &format!(".partial-{}", std::process::id()));
    create_private(&partial).map_err(|e| failed(e.to_string()))?;
    let made = copy_pages(&source, &partial)
        .and_then(|()| check(&partial, target))
        .and_then(|report| {
            std::fs::File::open(&partial)
                .and_then(|file| file.sync_all())
                .map_err(|e| failed(e.to_string()))?;
            // A link, not a rename: it fails if the target appeared meanwhile.
            std::fs::hard_link(&partial, target).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    exists()
                } else {
                    failed(e.to_string())
                }
            })?;
            Ok(report)
        });
    for leftover in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(&partial, leftover));
    }
    let report = made?;
    sync_folder(target).map_err(|e| failed(e.to_string()))?;
    Ok(report)
}

/// A new file only its owner reads, like the store and the key; an existing one is an error.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

fn copy_pages(source: &Path, partial: &Path) -> Result<()> {
    let open = |path: &Path, flags: OpenFlags| {
        Connection::open_with_flags(path, flags).map_err(|e| StorageError::Open {
            path: path.to_owned(),
            source: Box::new(e),
        })
    };
    // Read-write without create: a WAL reader may have to make the shared-memory file.
    let from = open(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(LOCK_WAIT)?;
    let mut to = open(
        partial,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let backup = Backup::new(&from, &mut to)?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::Busy | StepResult::Locked if Instant::now() < deadline => {
                std::thread::sleep(RETRY_PAUSE);
            }
            StepResult::Busy | StepResult::Locked => {
                return Err(StorageError::Backup {
                    path: partial.to_owned(),
                    reason: format!("the store stayed locked for {LOCK_WAIT:?}"),
                });
            }
            // All pages are asked for at once: anything else is one more step.
            _ => {}
        }
    }
}

/// Checks the copy and makes it one self-contained file; answers what it holds.
fn check(partial: &Path, target: &Path) -> Result<BackupReport> {
    let conn = Connection::open_with_flags(
        partial,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The source's WAL mode came with its first page; a backup is better one file.
    let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    let verdict: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if verdict != "ok" || !mode.eq_ignore_ascii_case("delete") {
        return Err(StorageError::Backup {
            path: target.to_owned(),
            reason: format!("the copy failed its check ({verdict}; journal {mode})"),
        });
    }
    let schema_version: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let last_event_id: i64 = conn.query_row(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        [],
        |r| r.get(0),
    )?;
    drop(conn);
    let bytes = std::fs::metadata(partial)
        .map_err(|e| StorageError::Backup {
            path: target.to_owned(),
            reason: e.to_string(),
        })?
        .len();
    Ok(BackupReport {
        path: target.to_owned(),
        bytes,
        schema_version,
        last_event_id,
    })
}

/// The rename is durable once the folder holding it is flushed.
fn sync_folder(file: &Path) -> std::io::Result<()> {
    let folder = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with a few events, as a node leaves it: WAL mode, writes in the WAL not yet
    /// checkpointed.
    fn store_with_events(path: &Path, events: i64) -> Connection {
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER);
             INSERT INTO schema_migrations VALUES (11, 'x', 0);
             CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT);",
        )
        .expect("schema");
        for i in 0..events {
            conn.execute("INSERT INTO events (payload) VALUES (?1)", [i])
                .expect("event");
        }
        conn
    }

    #[test]
    fn a_running_store_is_copied_whole_into_one_checked_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("sb.db");
        // Kept open: the writes are in the WAL, as with a node running.
        let running = store_with_events(&source, 25);
        let target = dir.path().join("backups").join("sb-1.db");
        std::fs::create_dir(dir.path().join("backups")).expect("folder");
        let report =
            backup_sqlite(&format!("sqlite://{}", source.display()), &target).expect("backup");
        assert_eq!(report.schema_version, 11);
        assert_eq!(report.last_event_id, 25);
        assert_eq!(
            report.bytes,
            std::fs::metadata(&target).expect("file").len()
        );
        // One self-contained file, nothing left beside it.
        let partial = format!(".partial-{}", std::process::id());
        for leftover in ["-wal", "-shm", &partial] {
            assert!(!sibling(&target, leftover).exists(), "{leftover}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target)
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
        let copy = Connection::open(&target).expect("open the copy");
        let mode: String = copy
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "delete");
        let count: i64 = copy
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 25);
        drop(running);
    }

    #[test]
    fn a_backup_never_overwrites_and_needs_a_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("sb.db");
        let _running = store_with_events(&source, 1);
        let taken = dir.path().join("taken.db");
        std::fs::write(&taken, b"precious").expect("write");
        let refused = backup_sqlite(source.to_str().expect("utf-8"), &taken).expect_err("refused");
        assert!(refused.to_string().contains("exists already"), "{refused}");
        assert_eq!(std::fs::read(&taken).expect("read"), b"precious");
        let missing =
            backup_sqlite("sqlite://no/such.db", &dir.path().join("b.db")).expect_err("no store");
        assert!(
            missing.to_string().contains("no database file"),
            "{missing}"
        );
        assert!(!dir.path().join("b.db").exists());
    }
}
