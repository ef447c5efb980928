//! The database as a fault: a PostgreSQL URL that cannot be used stops the start with one line, and a
//! database that goes away while a node works gets `503` with `Retry-After` (never a 500, never half a
//! change), then the node recovers by itself when it returns.

use crate::{SERVE, cli_on, login, refused, start, switchboard, switchboard_on};
use serde_json::{Value, json};
use switchboard_storage::scratch::POSTGRES_ENV;
use switchboard_testkit::forwarder::{Forwarder, host_and_port, redirected};
use switchboard_testkit::haproxy::free_port;
use switchboard_testkit::{TestDir, db_count, eventually, postgres_or_skip};

/// `serve` on `url`, which must refuse to start: its only line of output, which must name `host`.
fn refused_start(url: &str, host: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = refused(
        switchboard(dir.path())
            .env("SWITCHBOARD_DATABASE_URL", url)
            .args(SERVE),
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("switchboard:"), "{stderr}");
    assert!(lines[0].contains(host), "the line names {host}: {stderr}");
    lines[0].to_owned()
}

#[test]
fn a_postgresql_url_that_cannot_be_used_stops_the_start_with_one_line() {
    let port = free_port();
    let line = refused_start(
        &format!("postgres://switchboard@127.0.0.1:{port}/switchboard"),
        &format!("127.0.0.1:{port}"),
    );
    assert!(line.contains("Connection refused"), "{line}");

    // Against a real server: a user and a database it does not know.
    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        return;
    };
    let host = host_and_port(&server);
    let line = refused_start(&format!("postgres://no_such_user@{host}/postgres"), &host);
    assert!(
        line.contains(r#"role "no_such_user" does not exist"#),
        "{line}"
    );
    let (before_database, _) = server.rsplit_once('/').expect("a database in the URL");
    let line = refused_start(&format!("{before_database}/no_such_database"), &host);
    assert!(
        line.contains(r#"database "no_such_database" does not exist"#),
        "{line}"
    );
}

/// A request's status, its `Retry-After` and its JSON answer.
async fn request(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A bot's batch of one message for `page1`.
fn one_message(id: &str) -> Value {
    json!({"user_id_chat": "page1", "messages": [{"message_id": id,
        "conversation": {"thread_id": "t1", "participant_id": "p1", "participant_name": "Lý Thị Hoa"},
        "direction": "in", "text": "Còn hàng không?", "sent_at": 1795312800}]})
}

/// Asserts the API's answer for a database that is away.
fn assert_unavailable(what: &str, (status, retry_after, body): &(u16, Option<String>, Value)) {
    assert_eq!(*status, 503, "{what}: {body}");
    assert!(retry_after.is_some(), "{what}: no Retry-After");
    assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_gets_503_and_the_node_recovers_by_itself() {
    if !postgres_or_skip("the database going away") {
        return;
    }
    let dir = TestDir::create().expect("test dir");
    let bot = cli_on(&dir, &["bots", "add", "page1"]);
    let forwarder = Forwarder::start(&host_and_port(dir.database_url())).await;
    let mut command = switchboard_on(&dir);
    command.env(
        "SWITCHBOARD_DATABASE_URL",
        redirected(dir.database_url(), forwarder.address()),
    );
    let node = start(command, &SERVE, 3);
    let (receiver, sender) = (node.url("receiver"), node.url("sender"));
    let http = reqwest::Client::new();
    let ingest = |id: &str| {
        http.post(format!("{receiver}/api/bot/new_messages"))
            .bearer_auth(&bot)
            .json(&one_message(id))
    };
    let (status, _, body) = request(ingest("m-before")).await;
    assert_eq!(status, 200, "{body}");
    let admin = login(&http, sender).await;
    let (_, _, page) = request(
        http.get(format!("{sender}/api/conversations/page1"))
            .bearer_auth(&admin),
    )
    .await;
    let conversation = page["data"]["items"][0]["id"]
        .as_i64()
        .expect("a conversation");
    let send = |text: &str| {
        http.post(format!("{sender}/api/send_message_from_crm"))
            .bearer_auth(&admin)
            .json(&json!({"conversation_id": conversation, "text": text}))
    };
    let health = || http.get(format!("{sender}/healthz"));

    forwarder.cut();
    eventually(30, "/healthz to answer 503", || async {
        let (status, _, _) = request(health()).await;
        (status == 503).then_some(())
    })
    .await;
    assert_unavailable("a bot's post", &request(ingest("m-cut")).await);
    assert_unavailable(
        "an agent's send",
        &request(send("gửi lúc mất kết nối")).await,
    );
    let (status, _, _) = request(health()).await;
    assert_eq!(status, 503);

    forwarder.restore();
    // No restart: the node makes its connections again on its own.
    eventually(30, "a bot's post to succeed again", || async {
        let (status, _, body) = request(ingest("m-after")).await;
        assert!(status == 200 || status == 503, "{status}: {body}");
        (status == 200).then_some(())
    })
    .await;
    let (status, _, body) = request(send("gửi sau khi có lại")).await;
    assert_eq!(status, 200, "{body}");
    eventually(30, "/healthz to answer 200 again", || async {
        let (status, _, _) = request(health()).await;
        (status == 200).then_some(())
    })
    .await;

    // Nothing of what was refused was written.
    assert_eq!(
        db_count(
            &dir,
            "SELECT COUNT(*) FROM messages WHERE platform_message_id = 'm-cut'"
        )
        .await,
        0
    );
    assert_eq!(
        db_count(
            &dir,
            "SELECT COUNT(*) FROM messages WHERE text = 'gửi lúc mất kết nối'"
        )
        .await,
        0
    );
    assert_eq!(db_count(&dir, "SELECT COUNT(*) FROM commands").await, 1);
    assert_eq!(
        db_count(
            &dir,
            "SELECT COUNT(*) FROM messages WHERE platform_message_id IN ('m-before', 'm-after')"
        )
        .await,
        2
    );
    drop(node);
}
