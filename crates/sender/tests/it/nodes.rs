//! Several nodes on one database: what is accepted on one reaches clients connected to another through
//! the wake-ups between nodes (PostgreSQL's NOTIFY, SQLite's data version), not a poll.

use serde_json::json;
use switchboard_testkit::eventually;
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
async fn a_bot_that_reconnects_through_another_node_stays_online() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let admin = app.admin().await;
    let mut console = app.socket(&admin).await;
    let other = app.other_node().await;
    let first = app.socket(&bot_token).await;
    let online = next_named(&mut console, "bot_status").await;
    assert_eq!(
        (online["user_id_chat"].as_str(), online["status"].as_str()),
        (Some("page1"), Some("online"))
    );
    // The bot reconnects through the other node before this one notices its old connection close.
    let second = other.socket(&bot_token).await;
    eventually(30, "the bot held by both nodes", || async {
        let nodes = app
            .store
            .bot_connection_nodes("page1")
            .await
            .expect("nodes");
        (nodes == 2).then_some(())
    })
    .await;
    drop(first);
    eventually(30, "the first node noticing the close", || async {
        let nodes = app
            .store
            .bot_connection_nodes("page1")
            .await
            .expect("nodes");
        (nodes == 1).then_some(())
    })
    .await;
    let account = app
        .store
        .account("page1")
        .await
        .expect("read")
        .expect("account");
    assert_eq!(account.bot_status, "online");
    // The next presence consoles hear of is the bot leaving the other node: nothing came between.
    drop(second);
    let offline = next_named(&mut console, "bot_status").await;
    assert_eq!(
        (offline["user_id_chat"].as_str(), offline["status"].as_str()),
        (Some("page1"), Some("offline"))
    );
}
