//! Several nodes on one database: what is accepted on one reaches clients connected to another through
//! the wake-ups between nodes (PostgreSQL's NOTIFY, SQLite's data version), not a poll.
//! On PostgreSQL the login limiter counts every node's failures together.

use serde_json::json;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::next_named;

#[tokio::test]
async fn a_send_accepted_on_one_node_reaches_the_bot_and_consoles_on_another() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let conversation = app
        .incoming(&bot_token, "page1", "m1", "t1", "Còn hàng không shop?")
        .await;
    let agent = app.user("lan", "agent").await;
    let other = app.other_node().await;
    let mut bot = other.socket(&bot_token).await;
    let mut console = other.socket(&agent).await;

    let body = json!({"conversation_id": conversation, "text": "Dạ còn ạ"});
    let (status, sent) = app.post("/api/send_message_from_crm", &agent, body).await;
    assert_eq!(status, 200, "{sent}");

    let command = next_named(&mut bot, "send_message_command").await;
    assert_eq!(command["command_id"], sent["data"]["command_id"]);
    assert_eq!(command["text"], "Dạ còn ạ");
    let update = next_named(&mut console, "message_status_update").await;
    assert_eq!(
        (
            update["message"]["id"].clone(),
            update["message"]["status"].clone()
        ),
        (sent["data"]["message"]["id"].clone(), json!("queued"))
    );
}

#[tokio::test]
async fn failed_logins_on_one_node_count_on_another() {
    let app = TestSystem::spawn().await;
    let other = app.other_node().await;
    // The test kit's stores wait for the database however slowly it answers: it decides.
    let shared = app.store.shared_limits().is_some();
    let guess = |sender: &str| {
        app.http
            .post(format!("{sender}/api/auth/login"))
            .json(&json!({"username": "admin", "password": "wrong guess!"}))
            .send()
    };
    // Five failures are free, wherever they are made; a guesser spreading them over the nodes
    // gets no more.
    for sender in [
        &app.sender,
        &app.sender,
        &app.sender,
        &other.sender,
        &other.sender,
    ] {
        assert_eq!(guess(sender).await.expect("guess").status(), 401);
    }
    let sixth = guess(&other.sender).await.expect("guess");
    if shared {
        assert_eq!(sixth.status(), 429);
        assert!(sixth.headers().get("retry-after").is_some());
        assert_eq!(guess(&app.sender).await.expect("guess").status(), 429);
    } else {
        // SQLite: one sender runs per database file; two here count apart.
        assert_eq!(sixth.status(), 401);
    }
}
