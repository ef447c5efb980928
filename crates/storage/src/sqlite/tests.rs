use super::*;
use crate::Store;
use crate::sql::args;

#[test]
fn urls_name_files() {
    for (url, file) in [
        ("sqlite://data/s.db", "data/s.db"),
        ("sqlite:///tmp/s.db", "/tmp/s.db"),
        ("sqlite:s.db?mode=rwc", "s.db"),
        ("plain/file.db", "plain/file.db"),
    ] {
        assert_eq!(sqlite_path(url).ok(), Some(PathBuf::from(file)), "{url}");
    }
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
        .read(|tx| {
            tx.one("SELECT COUNT(*) FROM schema_migrations", args![], |r| {
                r.get(0)
            })
        })
        .await
        .expect("count");
    assert_eq!(versions, migrate::count());
}

/// Runs one statement in a write of its own.
async fn execute(store: &Store, sql: &'static str) -> crate::Result<usize> {
    store.write(move |tx| tx.execute(sql, args![])).await
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
async fn the_wal_stays_bounded_under_writes_and_readers_and_is_emptied_when_idle_and_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = Store::open(&url).await.expect("open");
    let path = store.file().expect("a file").to_owned();
    store
        .write(|tx| {
            tx.execute(
                "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)",
                args![],
            )
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
                    .read(|c| c.one("SELECT COUNT(*) FROM blobs", args![], |r| r.get::<i64>(0)))
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
                        tx.execute(
                            "INSERT INTO blobs (id, data) VALUES (?1, ?2)",
                            args![(chunk * 16 + i) as i64, row],
                        )
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
    execute(&store, "DELETE FROM blobs WHERE id < 10")
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
    execute(&store, "CREATE TABLE t (x)").await.expect("write");
    for suffix in ["", "-wal", "-shm"] {
        let mut name = store.file().expect("a file").as_os_str().to_owned();
        name.push(suffix);
        let mode = std::fs::metadata(&name)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(
            mode,
            0o600,
            "{}{suffix}",
            store.file().expect("a file").display()
        );
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
    let (_dir, store) = crate::temp_sqlite().await;
    execute(&store, "CREATE TABLE blobs (data BLOB)")
        .await
        .expect("table");
    assert_eq!(store.write_failure(), None);
    // A database that may not grow stands in for a disk that cannot.
    let pages: i64 = store
        .read(|c| c.one("PRAGMA page_count", args![], |r| r.get(0)))
        .await
        .expect("pages");
    store
        .write(move |tx| {
            tx.one(&format!("PRAGMA max_page_count = {pages}"), args![], |r| {
                r.get::<i64>(0)
            })
        })
        .await
        .expect("limit");
    let error = execute(&store, "INSERT INTO blobs VALUES (zeroblob(1000000))")
        .await
        .expect_err("full");
    assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
    let reason = store.write_failure().expect("failing");
    assert!(reason.contains("disk is full"), "{reason}");
    store
        .write(|tx| {
            tx.one("PRAGMA max_page_count = 1000000", args![], |r| {
                r.get::<i64>(0)
            })
        })
        .await
        .expect("room again");
    execute(&store, "INSERT INTO blobs VALUES (x'00')")
        .await
        .expect("writes work again");
    assert_eq!(store.write_failure(), None);
}

#[tokio::test]
async fn a_database_file_removed_while_running_takes_no_more_writes() {
    let (_dir, store) = crate::temp_sqlite().await;
    execute(&store, "CREATE TABLE t (x)").await.expect("table");
    std::fs::remove_file(store.file().expect("a file")).expect("remove");
    let error = execute(&store, "INSERT INTO t VALUES (1)")
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
