//! Commands to bots: an agent's send reaches the bot, the bot's report reaches every console, and no
//! command is lost or executed twice across disconnects.

use serde_json::{Value, json};
use std::collections::HashSet;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::{next_named, quiet};

/// How long a console is watched for an event that must not come: the waiting is the thing under test.
const QUIET: std::time::Duration = std::time::Duration::from_millis(500);

#[tokio::test]
async fn an_agents_send_reaches_the_bot_and_its_report_reaches_the_console() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let conversation = app
        .incoming(&bot_token, "page1", "m1", "t1", "Shop ơi còn size M không?")
        .await;
    let agent = app.user("lan", "agent").await;
    let mut console = app.socket(&agent).await;
    let mut bot = app.socket(&bot_token).await;

    let (status, sent) = app
        .call(
            "POST",
            "/api/send_message_from_crm",
            Some(&agent),
            Some(json!({"conversation_id": conversation, "text": "Dạ còn ạ"})),
        )
        .await;
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
    let answer = bot
        .emit_with_ack(
            "message_status_update",
            &json!({"command_id": command_id, "status": "sent", "platform_message_id": "m_out_1"}),
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("answer");
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
        .call(
            "GET",
            &format!("/api/messages/{conversation}"),
            Some(&agent),
            None,
        )
        .await;
    let newest = &page["data"]["items"][0];
    assert_eq!(
        (newest["direction"].as_str(), newest["status"].as_str()),
        (Some("out"), Some("sent"))
    );
}

#[tokio::test]
async fn a_send_while_the_bot_is_offline_is_delivered_when_it_connects() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let conversation = app.incoming(&bot_token, "page1", "m1", "t1", "Alo").await;
    let agent = app.admin().await;
    for text in ["một", "hai"] {
        let (status, _) = app
            .call(
                "POST",
                "/api/send_message_from_crm",
                Some(&agent),
                Some(json!({"conversation_id": conversation, "text": text})),
            )
            .await;
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
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let conversation = app.incoming(&bot_token, "page1", "m1", "t1", "Alo").await;
    let agent = app.admin().await;
    app.call(
        "POST",
        "/api/send_message_from_crm",
        Some(&agent),
        Some(json!({"conversation_id": conversation, "text": "x"})),
    )
    .await;

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
                    std::time::Duration::from_secs(10),
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
async fn a_failed_send_shows_its_reason_and_can_be_retried() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let conversation = app.incoming(&bot_token, "page1", "m1", "t1", "Alo").await;
    let agent = app.user("lan", "agent").await;
    let mut console = app.socket(&agent).await;
    let mut bot = app.socket(&bot_token).await;
    let (_, sent) = app
        .call(
            "POST",
            "/api/send_message_from_crm",
            Some(&agent),
            Some(json!({"conversation_id": conversation, "text": "x"})),
        )
        .await;
    let message_id = sent["data"]["message"]["id"].as_i64().expect("id");
    let command = next_named(&mut bot, "send_message_command").await;
    bot.emit(
        "message_status_update",
        &json!({"command_id": command["command_id"], "status": "failed", "error": "outside the 24-hour window"}),
    )
    .expect("report");
    let failed = loop {
        let update = next_named(&mut console, "message_status_update").await;
        if update["message"]["status"] == "failed" {
            break update;
        }
    };
    assert_eq!(failed["message"]["error"], "outside the 24-hour window");

    let (status, retried) = app
        .call(
            "POST",
            &format!("/api/messages/{message_id}/retry"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    let again = next_named(&mut bot, "send_message_command").await;
    assert_ne!(again["command_id"], command["command_id"]);
    assert_eq!(again["message_id"].as_i64(), Some(message_id));
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/messages/{message_id}/retry"),
            Some(&agent),
            None,
        )
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
        .call(
            "POST",
            "/api/post_to_facebook",
            Some(&agent),
            Some(json!({"user_id_chat": "page1", "content": "Khuyến mãi cuối tuần!"})),
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
    let posted = loop {
        let update = next_named(&mut console, "post_status_update").await;
        if update["post"]["status"] == "posted" {
            break update;
        }
    };
    assert_eq!(posted["post"]["link"], "https://www.facebook.com/5550_99");
    let (_, posts) = app
        .call("GET", "/api/posts/page1", Some(&agent), None)
        .await;
    assert_eq!(posts["data"]["items"][0]["platform_post_id"], "5550_99");
}

#[tokio::test]
async fn bots_get_clear_errors_for_bad_reports_and_consoles_see_them_come_and_go() {
    let app = TestSystem::spawn().await;
    let bot_token = app.bot("page1").await;
    let admin = app.admin().await;
    let mut console = app.socket(&admin).await;
    let bot = app.socket(&bot_token).await;
    let online = next_named(&mut console, "bot_status").await;
    assert_eq!(
        (online["user_id_chat"].as_str(), online["status"].as_str()),
        (Some("page1"), Some("online"))
    );
    let answer = bot
        .emit_with_ack(
            "message_status_update",
            &json!({"command_id": "nope", "status": "sent"}),
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("answer");
    assert_eq!(answer["success"], false);
    let answer = bot
        .emit_with_ack(
            "post_status_update",
            &json!({"status": "maybe"}),
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("answer");
    assert_eq!(answer["error"]["code"], "invalid_field");
    drop(bot);
    let offline: Value = next_named(&mut console, "bot_status").await;
    assert_eq!(offline["status"], "offline");
}
