//! Commands to bots: an agent's send reaches the bot, the bot's report reaches every console, and no
//! command is lost or executed twice across disconnects.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use switchboard_domain::CommandStatus;
use switchboard_sioclient::Client;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::{next_named, next_presence, quiet};
use switchboard_testkit::wait::eventually;

/// How long a console is watched for an event that must not come: the waiting is the thing under test.
const QUIET: Duration = Duration::from_millis(500);

/// A sender with page1's bot, and a conversation (thread `t1`) that a customer opened with `text`:
/// the bot's token and the conversation's id.
async fn a_conversation(text: &str) -> (TestSystem, String, i64) {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let conversation = app.incoming(&bot_token, "page1", "m1", "t1", text).await;
    (app, bot_token, conversation)
}

/// An agent's reply in `conversation`, as the console sends it.
async fn send(app: &TestSystem, agent: &str, conversation: i64, text: &str) -> (u16, Value) {
    let body = json!({"conversation_id": conversation, "text": text});
    app.post("/api/send_message_from_crm", agent, body).await
}

/// A bot's report that asks for an answer: the server's answer, within 5 s.
async fn report(bot: &Client, event: &str, body: Value) -> Value {
    let answer = bot.emit_with_ack(event, &body, Duration::from_secs(5));
    answer.await.expect("answer")
}

/// The next `event` on `console` whose `subject` has `status` (earlier updates skipped).
async fn update_to(console: &mut Client, event: &str, subject: &str, status: &str) -> Value {
    loop {
        let update = next_named(console, event).await;
        if update[subject]["status"] == status {
            return update;
        }
    }
}

#[tokio::test]
async fn an_agents_send_reaches_the_bot_and_its_report_reaches_the_console() {
    let (app, bot_token, conversation) = a_conversation("Shop ơi còn size M không?").await;
    let agent = app.user("lan", "agent").await;
    let mut console = app.socket(&agent).await;
    let mut bot = app.socket(&bot_token).await;

    let (status, sent) = send(&app, &agent, conversation, "Dạ còn ạ").await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["data"]["message"]["status"], "queued");
    let message_id = sent["data"]["message"]["id"].as_i64().expect("id");

    let queued = next_named(&mut console, "message_status_update").await;
    assert_eq!(
        (
            queued["message"]["id"].as_i64(),
            queued["message"]["status"].as_str()
        ),
        (Some(message_id), Some("queued"))
    );

    let command = next_named(&mut bot, "send_message_command").await;
    assert_eq!(command["text"], "Dạ còn ạ");
    assert_eq!(command["thread_id"], "t1");
    assert_eq!(command["recipient_id"], "p-t1");
    let command_id = command["command_id"]
        .as_str()
        .expect("command id")
        .to_owned();
    bot.emit("command_ack", &json!({"command_id": command_id}))
        .expect("ack");
    let answer = report(
        &bot,
        "message_status_update",
        json!({"command_id": command_id, "status": "sent", "platform_message_id": "m_out_1"}),
    )
    .await;
    assert_eq!(answer["success"], true);

    let sent = next_named(&mut console, "message_status_update").await;
    assert_eq!(sent["message"]["status"], "sent");
    assert_eq!(sent["message"]["message_id"], "m_out_1");

    // A repeated report changes nothing and announces nothing.
    bot.emit(
        "message_status_update",
        &json!({"command_id": command_id, "status": "sent", "platform_message_id": "m_out_1"}),
    )
    .expect("repeat");
    quiet(&mut console, "message_status_update", QUIET).await;

    let (_, page) = app
        .get(&format!("/api/messages/{conversation}"), &agent)
        .await;
    let newest = &page["data"]["items"][0];
    assert_eq!(
        (newest["direction"].as_str(), newest["status"].as_str()),
        (Some("out"), Some("sent"))
    );
}

#[tokio::test]
async fn a_send_while_the_bot_is_offline_is_delivered_when_it_connects() {
    let (app, bot_token, conversation) = a_conversation("Alo").await;
    let agent = app.admin().await;
    for text in ["một", "hai"] {
        let (status, _) = send(&app, &agent, conversation, text).await;
        assert_eq!(status, 200);
    }
    let mut bot = app.socket(&bot_token).await;
    let first = next_named(&mut bot, "send_message_command").await;
    let second = next_named(&mut bot, "send_message_command").await;
    assert_eq!(
        (first["text"].as_str(), second["text"].as_str()),
        (Some("một"), Some("hai"))
    );
}

#[tokio::test]
async fn unacknowledged_commands_come_again_after_a_reconnect_and_the_bot_executes_them_once() {
    let (app, bot_token, conversation) = a_conversation("Alo").await;
    let agent = app.admin().await;
    send(&app, &agent, conversation, "x").await;

    // A bot that remembers what it executed, as bots must (the command id is the key).
    let mut executed: HashSet<String> = HashSet::new();
    let mut sends = 0;
    for round in 0..3 {
        let mut bot = app.socket(&bot_token).await;
        let command = next_named(&mut bot, "send_message_command").await;
        let id = command["command_id"].as_str().expect("id").to_owned();
        if executed.insert(id.clone()) {
            sends += 1;
        }
        if round == 2 {
            // The server answers the ack once it has recorded it: wait for that, not for a while.
            let recorded = bot
                .emit_with_ack(
                    "command_ack",
                    &json!({"command_id": id}),
                    Duration::from_secs(10),
                )
                .await
                .expect("ack answered");
            assert_eq!(recorded["success"], true, "{recorded}");
        }
        // Rounds 0 and 1 drop the connection without acknowledging.
    }
    assert_eq!(
        (executed.len(), sends),
        (1, 1),
        "one command, executed once, whatever the redeliveries"
    );
    // Acknowledged: a fresh connection gets nothing.
    let mut bot = app.socket(&bot_token).await;
    quiet(&mut bot, "send_message_command", QUIET).await;
}

#[tokio::test]
async fn a_command_is_marked_delivered_each_time_it_is_handed_over_until_acknowledged() {
    let (app, bot_token, conversation) = a_conversation("Alo").await;
    let agent = app.admin().await;
    send(&app, &agent, conversation, "x").await;
    let delivery = |id: String| {
        let store = app.store.clone();
        async move { store.command_delivery(&id).await.expect("read") }
    };

    let mut id = String::new();
    for handed in 1..=2 {
        // Each connection is dropped without acknowledging: the next one gets the command again.
        let mut bot = app.socket(&bot_token).await;
        let command = next_named(&mut bot, "send_message_command").await;
        id = command["command_id"].as_str().expect("id").to_owned();
        eventually(10, "the delivered mark", || {
            let marked = delivery(id.clone());
            async move {
                marked
                    .await
                    .filter(|d| *d == (CommandStatus::Delivered, handed))
            }
        })
        .await;
    }
    let bot = app.socket(&bot_token).await;
    let recorded = report(&bot, "command_ack", json!({"command_id": id})).await;
    assert_eq!(recorded["success"], true, "{recorded}");
    let (status, _) = delivery(id.clone()).await.expect("known");
    assert_eq!(status, CommandStatus::Acknowledged);
}

#[tokio::test]
async fn a_failed_send_shows_its_reason_and_can_be_retried() {
    let (app, bot_token, conversation) = a_conversation("Alo").await;
    let agent = app.user("lan", "agent").await;
    let mut console = app.socket(&agent).await;
    let mut bot = app.socket(&bot_token).await;
    let (_, sent) = send(&app, &agent, conversation, "x").await;
    let message_id = sent["data"]["message"]["id"].as_i64().expect("id");
    let command = next_named(&mut bot, "send_message_command").await;
    bot.emit(
        "message_status_update",
        &json!({"command_id": command["command_id"], "status": "failed", "error": "outside the 24-hour window"}),
    )
    .expect("report");
    let failed = update_to(&mut console, "message_status_update", "message", "failed").await;
    assert_eq!(failed["message"]["error"], "outside the 24-hour window");

    let (status, retried) = app
        .post_empty(&format!("/api/messages/{message_id}/retry"), &agent)
        .await;
    assert_eq!(status, 200, "{retried}");
    let again = next_named(&mut bot, "send_message_command").await;
    assert_ne!(again["command_id"], command["command_id"]);
    assert_eq!(again["message_id"].as_i64(), Some(message_id));
    let (status, _) = app
        .post_empty(&format!("/api/messages/{message_id}/retry"), &agent)
        .await;
    assert_eq!(status, 409, "only failed messages are retried");
}

#[tokio::test]
async fn a_post_goes_through_the_bot_and_comes_back_posted_with_a_link() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let agent = app.user("lan", "agent").await;
    let mut console = app.socket(&agent).await;
    let mut bot = app.socket(&bot_token).await;
    let (status, queued) = app
        .post(
            "/api/post_to_facebook",
            &agent,
            json!({"user_id_chat": "page1", "content": "Khuyến mãi cuối tuần!"}),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    let command = next_named(&mut bot, "post_news_feed_command").await;
    assert_eq!(command["content"], "Khuyến mãi cuối tuần!");
    bot.emit(
        "post_status_update",
        &json!({"command_id": command["command_id"], "status": "posted", "platform_post_id": "5550_99", "link": "https://www.facebook.com/5550_99"}),
    )
    .expect("report");
    let posted = update_to(&mut console, "post_status_update", "post", "posted").await;
    assert_eq!(posted["post"]["link"], "https://www.facebook.com/5550_99");
    let (_, posts) = app.get("/api/posts/page1", &agent).await;
    assert_eq!(posts["data"]["items"][0]["platform_post_id"], "5550_99");
}

#[tokio::test]
async fn bots_get_clear_errors_for_bad_reports_and_consoles_see_them_come_and_go() {
    let (app, bot_token, mut console) = TestSystem::with_bot_and_console().await;
    let bot = app.socket(&bot_token).await;
    let page = "page1".to_owned();
    assert_eq!(
        next_presence(&mut console).await,
        (page.clone(), "online".into())
    );
    let answer = report(
        &bot,
        "message_status_update",
        json!({"command_id": "nope", "status": "sent"}),
    )
    .await;
    assert_eq!(answer["success"], false);
    let answer = report(&bot, "post_status_update", json!({"status": "maybe"})).await;
    assert_eq!(answer["error"]["code"], "invalid_field");
    drop(bot);
    assert_eq!(next_presence(&mut console).await, (page, "offline".into()));
}

#[tokio::test]
async fn a_sent_message_the_bot_had_already_brought_in_keeps_both_rows() {
    let (app, bot_token, conversation) = a_conversation("Shop ơi").await;
    let agent = app.user("lan", "agent").await;
    let mut bot = app.socket(&bot_token).await;
    let (status, sent) = send(&app, &agent, conversation, "Dạ shop đây ạ").await;
    assert_eq!(status, 200, "{sent}");
    let message_id = sent["data"]["message"]["id"].as_i64().expect("id");
    let command = next_named(&mut bot, "send_message_command").await;

    // The bot's scraper saw the page's reply before the bot reported it sent: the platform's id is
    // stored already, on another row.
    app.incoming(&bot_token, "page1", "m_out_2", "t1", "Dạ shop đây ạ")
        .await;
    let answer = report(
        &bot,
        "message_status_update",
        json!({"command_id": command["command_id"], "status": "sent", "platform_message_id": "m_out_2"}),
    )
    .await;
    assert_eq!(answer["success"], true, "{answer}");

    let (_, page) = app
        .get(&format!("/api/messages/{conversation}"), &agent)
        .await;
    let items = page["data"]["items"].as_array().expect("items");
    let ours = items
        .iter()
        .find(|m| m["id"].as_i64() == Some(message_id))
        .expect("the agent's message");
    assert_eq!(ours["status"], "sent");
    assert!(ours["message_id"].is_null(), "{ours}");
    assert!(
        items.iter().any(|m| m["message_id"] == "m_out_2"),
        "{items:?}"
    );
}
