//! The real binary under cheap abuse and operator mistakes: a flood of idle connections on a process
//! with few descriptors, a second process for the same role, a lost database beside its key, huge
//! logins, and what a clean stop leaves on disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::{
    BIN, SERVE, allowed_origin, dir_with_config, refused, sigterm, start, start_role, switchboard,
    wait_for_exit,
};
use switchboard_testkit::eventually;

/// `switchboard ARGS` through bash, with the open-file limit (soft and hard) set to `descriptors`.
fn with_descriptor_limit(dir: &Path, descriptors: u32) -> Command {
    let base = switchboard(dir);
    let mut command = Command::new("bash");
    command
        .current_dir(dir)
        .arg("-c")
        .arg(format!("ulimit -n {descriptors} && exec \"$0\" \"$@\""))
        .arg(BIN);
    for (key, value) in base.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_does_not_take_the_server_down() {
    let dir = dir_with_config("[limits]\nheader_timeout_seconds = 1\n");
    // 128 descriptors, as a process under a low limit: 300 idle connections used to exhaust them,
    // and then every port stopped answering for good.
    let mut running = start(
        with_descriptor_limit(dir.path(), 128),
        &["receiver", "--listen", "127.0.0.1:0"],
        1,
    );
    let url = running.url("receiver").to_owned();
    let addr = url.trim_start_matches("http://").to_owned();
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(stream) = tokio::net::TcpStream::connect(&addr).await {
            flood.push(stream);
        }
    }
    assert!(
        running.child.try_wait().expect("wait").is_none(),
        "the server died under the flood"
    );
    // The flood is still connected; the server closes what it accepted and keeps answering.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    eventually(
        30,
        "/healthz answering while idle connections are held",
        || async {
            let response = http.get(format!("{url}/healthz")).send().await.ok()?;
            (response.status() == 200).then_some(())
        },
    )
    .await;
    drop(flood);
}

#[test]
fn a_second_process_for_the_same_role_on_one_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = start_role(dir.path(), "receiver");
    let message = refused(switchboard(dir.path()).args(["receiver", "--listen", "127.0.0.1:0"]));
    assert!(
        message.contains("already runs the receiver")
            && message.contains(&first.child.id().to_string()),
        "{message}"
    );
    // Split mode: another role on the same file starts.
    let sender = start_role(dir.path(), "sender");
    drop(sender);
    drop(first);
}

#[test]
fn a_missing_or_empty_database_beside_its_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("encryption.key"), "ab".repeat(32)).expect("key");
    for setup in ["missing", "empty"] {
        if setup == "empty" {
            std::fs::write(dir.path().join("sb.db"), "").expect("empty db");
        }
        let message = refused(switchboard(dir.path()).args(["bots", "list"]));
        assert!(
            message.contains("sb.db") && message.contains("encryption.key"),
            "{setup}: {message}"
        );
    }
    // Nothing was created in its place.
    assert_eq!(
        std::fs::metadata(dir.path().join("sb.db"))
            .expect("db")
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_logins_cost_no_memory_and_a_clean_stop_leaves_the_database_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = start_role(dir.path(), "sender");
    let url = running.url("sender").to_owned();
    let http = reqwest::Client::new();
    let username = "a".repeat(7_500_000);
    for _ in 0..20 {
        let response = http
            .post(format!("{url}/api/auth/login"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"username":"{username}","password":"whatever it is"}}"#
            ))
            .send()
            .await;
        if let Ok(response) = response {
            assert_eq!(response.status(), 413);
        }
    }
    // A long but bounded name is named as the problem, not kept.
    let response = http
        .post(format!("{url}/api/auth/login"))
        .json(&serde_json::json!({"username": "b".repeat(1000), "password": "whatever it is"}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 422);
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", running.child.id())).expect("status");
    let resident_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    assert!(
        resident_kb < 150 * 1024,
        "{resident_kb} kB resident after huge logins"
    );
    // SIGTERM: the WAL is copied into the database and cut to nothing.
    sigterm(&running.child);
    assert!(wait_for_exit(&mut running.child, Duration::from_secs(15)).success());
    let wal = std::fs::metadata(dir.path().join("sb.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "a clean stop left a {wal}-byte WAL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_trusts_the_console_where_it_is_bound_not_a_fixed_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = start(switchboard(dir.path()), &SERVE, 3);
    let console = running.url("callcenter").to_owned();
    let http = reqwest::Client::new();
    let sender = running.url("sender");
    assert_eq!(
        allowed_origin(&http, sender, &console).await,
        Some(console.clone())
    );
    // The default port of the console is nobody's here, unless the console is bound to it.
    if !console.ends_with(":8000") {
        assert_eq!(
            allowed_origin(&http, sender, "http://127.0.0.1:8000").await,
            None
        );
    }
}
