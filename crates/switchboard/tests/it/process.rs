//! The real `switchboard` binary as an operator runs it: crash safety, start-up errors, shutdown.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{
    BIN, Running, add_bot, dir_with_config, error_line, messages, refused, sigterm, start_role,
    switchboard, wait_for_exit,
};

/// Starts the receiver on a free port and returns it with its base URL, read from its ready line.
fn start_receiver(dir: &Path) -> (Running, String) {
    let running = start_role(dir, "receiver");
    let url = running.url("receiver").to_owned();
    (running, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_item_survives_a_sigkill_and_the_event_log_has_no_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = ["acc1", "acc2", "acc3", "acc4"];
    let tokens: Vec<String> = accounts.iter().map(|a| add_bot(dir.path(), a)).collect();
    let (mut child, url) = start_receiver(dir.path());
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut posters = Vec::new();
    for (account, token) in accounts.iter().zip(&tokens) {
        let (http, url, token, acknowledged) = (
            http.clone(),
            url.clone(),
            token.clone(),
            Arc::clone(&acknowledged),
        );
        let account = account.to_string();
        posters.push(tokio::spawn(async move {
            let mut next = 0;
            loop {
                let batch =
                    json!({"user_id_chat": account, "messages": messages(&account, next, 20)});
                match http
                    .post(format!("{url}/api/bot/new_messages"))
                    .bearer_auth(&token)
                    .json(&batch)
                    .send()
                    .await
                {
                    Ok(response) if response.status().is_success() => {
                        let mut acked = acknowledged.lock().expect("lock");
                        acked.extend((next..next + 20).map(|i| format!("{account}-{i}")));
                        next += 20;
                    }
                    Ok(response) => panic!("unexpected status {}", response.status()),
                    Err(_) => return, // the receiver is gone
                }
            }
        }));
    }
    // Let the bots post for a while, then pull the plug mid-stream.
    let started = Instant::now();
    while acknowledged.lock().expect("lock").len() < 4_000
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.child.kill().expect("SIGKILL");
    child.child.wait().expect("reap");
    for poster in posters {
        poster.await.expect("poster");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 4_000 - 100,
        "only {} acknowledged before the kill",
        acknowledged.len()
    );

    // The receiver restarts cleanly on the same file and keeps taking data.
    let (mut child, url) = start_receiver(dir.path());
    let again = json!({"user_id_chat": "acc1", "messages": messages("acc1", 0, 5)});
    let response = http
        .post(format!("{url}/api/bot/new_messages"))
        .bearer_auth(&tokens[0])
        .json(&again)
        .send()
        .await;
    assert!(response.expect("post after restart").status().is_success());
    child.child.kill().expect("stop");
    child.child.wait().expect("reap");

    let conn = rusqlite::Connection::open(dir.path().join("sb.db")).expect("open");
    let stored: HashSet<String> = conn
        .prepare("SELECT platform_message_id FROM messages")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let lost: Vec<_> = acknowledged.difference(&stored).take(5).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");

    let mut ids = Vec::new();
    let mut announced = 0usize;
    let mut statement = conn
        .prepare("SELECT id, kind, payload FROM events ORDER BY id")
        .expect("prepare");
    let rows = statement
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .expect("query");
    for row in rows {
        let (id, kind, payload) = row.expect("row");
        ids.push(id);
        if kind == "new_messages" {
            let payload: Value = serde_json::from_str(&payload).expect("payload json");
            announced += payload["messages"].as_array().map_or(0, Vec::len);
        }
    }
    assert_eq!(
        ids,
        (1..=ids.len() as i64).collect::<Vec<_>>(),
        "the event log has a gap"
    );
    assert_eq!(
        announced,
        stored.len(),
        "every stored message is announced by exactly one event"
    );
}

#[test]
fn a_taken_port_gives_one_line_naming_the_port_and_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let stderr = refused(switchboard(dir.path()).args([
        "receiver",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]));
    let line = error_line(&stderr);
    assert!(
        line.contains(&port.to_string()) && line.contains("--listen"),
        "{line}"
    );

    let stderr = refused(switchboard(dir.path()).args([
        "serve",
        "--receiver-listen",
        &format!("127.0.0.1:{port}"),
    ]));
    assert!(stderr.contains("--receiver-listen"), "{stderr}");
}

#[test]
fn flags_beat_environment_which_beats_the_file() {
    let dir = dir_with_config("database_url = \"sqlite://from-file.db\"\n");
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir.path())
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .args(["tokens", "add", "t"]);
        if let Some(env) = env {
            command.env("SWITCHBOARD_DATABASE_URL", env);
        }
        if let Some(flag) = flag {
            command.args(["--database-url", flag]);
        }
        assert!(command.output().expect("run").status.success());
    };
    run(None, None);
    assert!(dir.path().join("from-file.db").exists());
    run(Some("sqlite://from-env.db"), None);
    assert!(dir.path().join("from-env.db").exists());
    run(Some("sqlite://from-env2.db"), Some("sqlite://from-flag.db"));
    assert!(dir.path().join("from-flag.db").exists() && !dir.path().join("from-env2.db").exists());

    std::fs::write(dir.path().join("switchboard.toml"), "databse_url = 1\n").expect("write");
    let stderr = refused(
        Command::new(BIN)
            .current_dir(dir.path())
            .args(["tokens", "list"]),
    );
    assert!(stderr.contains("databse_url"));
}

#[test]
fn sigterm_stops_the_receiver_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _url) = start_receiver(dir.path());
    sigterm(&child.child);
    let status = wait_for_exit(&mut child.child, Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}

#[test]
fn bot_tokens_are_listed_without_secrets_and_can_be_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page-9");
    assert!(token.starts_with("sbb_") && token.len() > 40);
    let list = switchboard(dir.path())
        .args(["bots", "list"])
        .output()
        .expect("list");
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(
        listing.contains("page-9") && !listing.contains(&token[4..]),
        "{listing}"
    );
    let revoke = switchboard(dir.path())
        .args(["bots", "revoke", "1"])
        .output()
        .expect("revoke");
    assert!(revoke.status.success());
    let again = switchboard(dir.path())
        .args(["bots", "revoke", "1"])
        .output()
        .expect("revoke");
    assert!(!again.status.success());
    for file in ["sb.db", "sb.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{file} holds the token in plain text"
        );
    }
}

#[tokio::test]
async fn a_requests_log_lines_carry_its_id_route_and_principal_never_its_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page1");
    let mut command = switchboard(dir.path());
    command
        .env("SWITCHBOARD_LOG", "info,tower_http=debug")
        .env("SWITCHBOARD_LOG_FORMAT", "json");
    let mut receiver = crate::start_logging_to(
        command,
        &["receiver", "--listen", "127.0.0.1:0"],
        1,
        &dir.path().join("server.log"),
    );
    let base = receiver.url("receiver").to_owned();
    // Versioned: routed as `/api/bot/new_messages`, logged as asked.
    let url = format!("{base}/api/v1/bot/new_messages");
    let answer = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .header("x-request-id", "it-req-1")
        .json(&json!({"user_id_chat": "page1", "messages": messages("page1", 0, 2)}))
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-request-id"], "it-req-1");
    sigterm(&receiver.child);
    assert!(wait_for_exit(&mut receiver.child, Duration::from_secs(30)).success());

    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(!log.contains(&token), "a token in the log");
    let spans: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line.get("span").cloned())
        .filter(|span| span["request_id"] == "it-req-1")
        .collect();
    assert!(!spans.is_empty(), "no line of the request in:\n{log}");
    let last = spans.last().expect("a line");
    assert_eq!(last["route"], "/api/bot/new_messages", "{last}");
    assert_eq!(last["path"], "/api/v1/bot/new_messages", "{last}");
    let principal = last["principal"]
        .as_str()
        .expect("the principal, once known");
    assert!(
        principal.starts_with("bot:") && principal.ends_with(":page1"),
        "{principal}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_is_not_ready_but_still_serves_until_a_second_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page1");
    let mut command = switchboard(dir.path());
    // Far longer than the test: the second signal ends the drain.
    command.env("SWITCHBOARD_DRAIN_SECONDS", "600");
    let (mut receiver, url) = {
        let running = crate::start(command, &["receiver", "--listen", "127.0.0.1:0"], 1);
        let url = running.url("receiver").to_owned();
        (running, url)
    };
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.get(format!("{url}{path}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        }
    };
    assert_eq!(status("/readyz").await, Some(200));
    sigterm(&receiver.child);
    switchboard_testkit::eventually(30, "/readyz to answer 503 while draining", || async {
        (status("/readyz").await == Some(503)).then_some(())
    })
    .await;
    // Draining is not stopping: liveness and the API still answer, writes included.
    assert_eq!(status("/healthz").await, Some(200));
    let answer = reqwest::Client::new()
        .post(format!("{url}/api/bot/new_messages"))
        .bearer_auth(&token)
        .json(&json!({"user_id_chat": "page1", "messages": messages("drain", 0, 1)}))
        .send()
        .await
        .expect("post while draining");
    assert_eq!(answer.status(), 200);
    let body: Value = reqwest::get(format!("{url}/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "draining");
    // A second signal stops it now, not ten minutes later.
    sigterm(&receiver.child);
    assert!(wait_for_exit(&mut receiver.child, Duration::from_secs(30)).success());
}
