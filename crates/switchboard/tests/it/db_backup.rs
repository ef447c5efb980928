//! `switchboard db backup`: a consistent copy of a SQLite store taken while a node writes to it, a
//! node restored from the copy that goes on where the copy ends, no file ever overwritten, and
//! PostgreSQL pointed at pg_dump.

use crate::{
    add_bot, cli, error_line, messages, post_json, refused, sigterm, start_role, switchboard,
    wait_for_exit,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Ten messages of `account`, ids `m-FROM`….
fn batch(account: &str, from: usize) -> Value {
    json!({"user_id_chat": account, "messages": messages("m", from, 10)})
}

/// The figure a report line names (`name   value`).
fn figure(report: &str, name: &str) -> i64 {
    report
        .lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key.trim() == name).then(|| value.trim().parse().expect("a number"))
        })
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_backed_up_while_written_restores_into_a_node_that_goes_on_where_it_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page1");
    let mut receiver = start_role(dir.path(), "receiver");
    let post_url = format!("{}/api/bot/new_messages", receiver.url("receiver"));
    let http = reqwest::Client::new();
    let mut acknowledged = 0;
    for i in 0..3 {
        let answer = post_json(&http, &post_url, &token, batch("page1", i * 10)).await;
        acknowledged = answer["data"]["event_id"].as_i64().expect("an event id");
    }
    // The node keeps writing while the copy is made.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (http, url, token, stop) = (
            http.clone(),
            post_url.clone(),
            token.clone(),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let mut next = 30;
            while !stop.load(Ordering::Relaxed) {
                post_json(&http, &url, &token, batch("page1", next)).await;
                next += 10;
            }
            next
        })
    };
    std::fs::create_dir(dir.path().join("backups")).expect("folder");
    let report = {
        let dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || cli(&dir, &["db", "backup", "backups/sb-1.db"]))
            .await
            .expect("backup")
    };
    stop.store(true, Ordering::Relaxed);
    let posted = writer.await.expect("writer");
    assert!(posted > 30, "the node wrote during the backup");
    let last = figure(&report, "last event id");
    assert!(
        last >= acknowledged,
        "everything acknowledged before is in it: {report}"
    );
    assert!(figure(&report, "schema version") >= 11, "{report}");
    sigterm(&receiver.child);
    assert!(wait_for_exit(&mut receiver.child, Duration::from_secs(30)).success());

    // Restored: the copy in the store's place, with the same key, in a fresh folder.
    let restored = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        dir.path().join("backups/sb-1.db"),
        restored.path().join("sb.db"),
    )
    .expect("copy");
    // The key is made with the first stored credentials; the restore takes it when there is one.
    let key = dir.path().join("encryption.key");
    if key.exists() {
        std::fs::copy(&key, restored.path().join("encryption.key")).expect("key");
    }
    let node = start_role(restored.path(), "receiver");
    let url = format!("{}/api/bot/new_messages", node.url("receiver"));
    // The bot's token is in the copy, and the log goes on from the copy's last event.
    let answer = post_json(&http, &url, &token, batch("page1", 100_000)).await;
    assert_eq!(
        answer["data"]["event_id"].as_i64(),
        Some(last + 1),
        "{answer}"
    );
    // Messages of the copy are known: posting one again is a duplicate.
    let again = post_json(&http, &url, &token, batch("page1", 0)).await;
    assert_eq!(again["data"]["duplicates"], 10, "{again}");
    drop(node);

    // Never over a file; the old one is left as it was.
    let before = std::fs::read(dir.path().join("backups/sb-1.db")).expect("read");
    let refusal = refused(switchboard(dir.path()).args(["db", "backup", "backups/sb-1.db"]));
    assert!(error_line(&refusal).contains("exists already"), "{refusal}");
    assert_eq!(
        std::fs::read(dir.path().join("backups/sb-1.db")).expect("read"),
        before
    );
}

#[test]
fn a_postgresql_store_is_pointed_at_pg_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens there: the command answers before it connects anywhere.
    let refusal = refused(
        switchboard(dir.path())
            .env(
                "SWITCHBOARD_DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/sb",
            )
            .args(["db", "backup", "sb.dump"]),
    );
    assert!(error_line(&refusal).contains("pg_dump"), "{refusal}");
    assert!(!dir.path().join("sb.dump").exists());
}

#[test]
fn a_missing_store_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = switchboard(dir.path());
    let refusal = refused(command.args(["db", "backup", "copy.db"]));
    assert!(
        error_line(&refusal).contains("no database file"),
        "{refusal}"
    );
}
