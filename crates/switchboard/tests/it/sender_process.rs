//! The sender as an operator runs it: commands survive a SIGKILL, split processes share one database,
//! the encryption key guards start-up, and secrets never reach a log line.

use crate::{
    ADMIN_PASSWORD, SERVE, add_bot, error_line, login, next_named, post_json, refused, start,
    start_role, switchboard,
};
use serde_json::{Value, json};
use switchboard_sioclient::Client;
use switchboard_testkit::http::Api;

async fn ingest(http: &reqwest::Client, receiver: &str, bot: &str, account: &str, id: &str) {
    let body = json!({"user_id_chat": account, "messages": [{"message_id": id,
        "conversation": {"thread_id": "t1", "participant_id": "p1", "participant_name": "Ngô Bảo Châu"},
        "direction": "in", "text": "Chào shop", "sent_at": 1795312800}]});
    post_json(http, &format!("{receiver}/api/bot/new_messages"), bot, body).await;
}

#[tokio::test]
async fn a_command_queued_before_a_sigkill_is_delivered_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = add_bot(dir.path(), "page1");
    let http = reqwest::Client::new();
    let running = start(switchboard(dir.path()), &SERVE, 3);
    let (receiver, sender) = (
        running.url("receiver").to_owned(),
        running.url("sender").to_owned(),
    );
    ingest(&http, &receiver, &bot, "page1", "m1").await;
    let admin = login(&http, &sender).await;
    let (conversation,): (i64,) = {
        let (_, page) = Api::new(&sender)
            .call("GET", "/api/conversations/page1", Some(&admin), None)
            .await;
        (page["data"]["items"][0]["id"].as_i64().expect("id"),)
    };
    post_json(
        &http,
        &format!("{sender}/api/send_message_from_crm"),
        &admin,
        json!({"conversation_id": conversation, "text": "Dạ shop chào bạn"}),
    )
    .await;
    running.kill();

    let running = start(switchboard(dir.path()), &SERVE, 3);
    let mut client = Client::connect(running.url("sender"), &json!({"token": bot}), "")
        .await
        .expect("bot connects");
    let command = next_named(&mut client, "send_message_command").await;
    assert_eq!(command["text"], "Dạ shop chào bạn");
    running.kill();
}

#[tokio::test]
async fn receiver_and_sender_as_two_processes_share_one_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = add_bot(dir.path(), "page1");
    let receiver = start_role(dir.path(), "receiver");
    let sender = start_role(dir.path(), "sender");
    let http = reqwest::Client::new();
    let admin = login(&http, sender.url("sender")).await;
    let mut console = Client::connect(sender.url("sender"), &json!({"token": admin}), "")
        .await
        .expect("console");
    ingest(&http, receiver.url("receiver"), &bot, "page1", "m-split").await;
    let event = next_named(&mut console, "new_messages").await;
    assert_eq!(event["messages"][0]["message_id"], "m-split");
    receiver.kill();
    sender.kill();
}

#[test]
fn a_missing_or_wrong_key_with_encrypted_data_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = dir.path().join("user_accounts.json");
    std::fs::write(&accounts, r#"{"account1": {"user_id_chat": "100089", "password": "bí mật 123", "cookies": "c_user=1"}}"#).expect("write");
    let import = switchboard(dir.path())
        .args(["accounts", "import"])
        .arg(&accounts)
        .output()
        .expect("import");
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let key = dir.path().join("encryption.key");
    assert!(key.exists());

    std::fs::rename(&key, dir.path().join("saved.key")).expect("move key");
    let stderr = refused(switchboard(dir.path()).args(["sender", "--listen", "127.0.0.1:0"]));
    let line = error_line(&stderr);
    assert!(line.contains("encryption key is missing"), "{line}");
    assert!(!key.exists(), "no new key may replace the lost one");

    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).expect("wrong key");
    let stderr = refused(switchboard(dir.path()).args(["sender", "--listen", "127.0.0.1:0"]));
    assert!(stderr.contains("does not open the credentials"));

    std::fs::rename(dir.path().join("saved.key"), &key).expect("restore key");
    let running = start_role(dir.path(), "sender");
    running.kill();
}

#[tokio::test]
async fn credentials_never_appear_in_responses_or_log_lines() {
    const SECRET: &str = "EAAG-very-secret-page-token-42";
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = switchboard(dir.path());
    command.env("SWITCHBOARD_LOG", "trace");
    let running = crate::start_logging_to(
        command,
        &["sender", "--listen", "127.0.0.1:0"],
        1,
        &dir.path().join("server.log"),
    );
    let sender = running.url("sender").to_owned();
    let http = reqwest::Client::new();
    let admin = login(&http, &sender).await;
    let mut bodies = String::new();
    for (method, path, body) in [
        (
            "POST",
            "/api/fb_accounts",
            json!({"user_id_chat": "5550001", "credentials": {"page_access_token": SECRET}}),
        ),
        (
            "PATCH",
            "/api/fb_accounts/5550001",
            json!({"credentials": {"password": SECRET}}),
        ),
        ("GET", "/api/fb_accounts", Value::Null),
    ] {
        let request = http
            .request(method.parse().expect("method"), format!("{sender}{path}"))
            .bearer_auth(&admin);
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        bodies.push_str(
            &request
                .send()
                .await
                .expect("call")
                .text()
                .await
                .expect("text"),
        );
    }
    running.kill();
    assert!(
        !bodies.contains(SECRET),
        "a response holds the credential: {bodies}"
    );
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("read log");
    assert!(
        log.lines().count() > 5,
        "trace logging produced too little to be a real check"
    );
    assert!(!log.contains(SECRET), "a log line holds the credential");
    assert!(
        !log.contains(ADMIN_PASSWORD),
        "a log line holds the admin password"
    );
}

#[test]
fn the_first_start_creates_an_admin_with_a_password_shown_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = switchboard(dir.path());
    command
        .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .args(["sender", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let password = loop {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).expect("read") > 0,
            "no admin password printed"
        );
        if let Some(rest) = line.split("with the password `").nth(1) {
            break rest.split('`').next().expect("password").to_owned();
        }
    };
    assert!(password.len() >= 16);
    child.kill().expect("kill");
    child.wait().expect("reap");
    // The second start creates nobody.
    let mut command = switchboard(dir.path());
    command.env_remove("SWITCHBOARD_ADMIN_PASSWORD");
    let running = start(command, &["sender", "--listen", "127.0.0.1:0"], 1);
    running.kill();
    let users = switchboard(dir.path())
        .args(["users", "list"])
        .output()
        .expect("list");
    assert_eq!(
        String::from_utf8_lossy(&users.stdout)
            .lines()
            .filter(|l| l.contains("admin"))
            .count(),
        1
    );
}
