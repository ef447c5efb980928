//! Several nodes on one database: what is accepted on one reaches clients connected to another through
//! the wake-ups between nodes (PostgreSQL's NOTIFY, SQLite's data version), not a poll.
//! On PostgreSQL the login limiter counts every node's failures together.

use serde_json::json;
use switchboard_testkit::eventually;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::{next_named, next_presence};

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

/// Waits (at most 30 s) until `count` nodes hold a connection of page1's bot.
async fn held_by(app: &TestSystem, count: usize, what: &str) {
    eventually(30, what, || async {
        let nodes = app.store.bot_connection_nodes("page1").await;
        (nodes.expect("nodes") == count).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_bot_that_reconnects_through_another_node_stays_online() {
    let (app, bot_token, mut console) = TestSystem::with_bot_and_console().await;
    let other = app.other_node().await;
    let first = app.socket(&bot_token).await;
    let page = "page1".to_owned();
    assert_eq!(
        next_presence(&mut console).await,
        (page.clone(), "online".into())
    );
    // The bot reconnects through the other node before this one notices its old connection close.
    let second = other.socket(&bot_token).await;
    held_by(&app, 2, "the bot held by both nodes").await;
    drop(first);
    held_by(&app, 1, "the first node noticing the close").await;
    let account = app.store.account("page1").await.expect("read");
    assert_eq!(account.expect("account").bot_status, "online");
    // The next presence consoles hear of is the bot leaving the other node: nothing came between.
    drop(second);
    assert_eq!(next_presence(&mut console).await, (page, "offline".into()));
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

/// An agent is online for automatic assignment wherever their console is connected: a console on
/// another node is given the conversation a message stored through this one starts, in the same write.
#[tokio::test]
async fn an_agent_connected_to_another_node_is_given_work_from_this_one() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let bot_token = app.bot("page1").await;
    let lan = app.user("lan", "agent").await;
    let (status, _) = app
        .put(
            "/api/fb_accounts/page1/assignment",
            &admin,
            json!({"auto": true}),
        )
        .await;
    assert_eq!(status, 200);
    let other = app.other_node().await;
    let mut console = other.socket(&lan).await;
    let (_, me) = app.get("/api/auth/me", &lan).await;
    let lan_id = me["data"]["user"]["id"].clone();
    // The other node records the console when it connects: seen from this node's API.
    eventually(10, "Lan online, seen from this node", || async {
        let (_, team) = app.get("/api/team", &admin).await;
        team["data"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|m| m["id"] == lan_id && m["online"] == true)
            .then_some(())
    })
    .await;
    let conversation = app
        .incoming(&bot_token, "page1", "m1", "t1", "Shop ơi")
        .await;
    loop {
        let update = next_named(&mut console, "conversation_updated").await;
        if update["conversation"]["id"] == conversation {
            assert_eq!(update["reason"], "auto_assigned");
            assert_eq!(update["conversation"]["assignee_user_id"], lan_id);
            break;
        }
    }
}
