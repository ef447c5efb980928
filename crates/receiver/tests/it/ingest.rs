//! The receiver over HTTP: what bots may push, what is stored, and what is refused.

use crate::{NEW_MESSAGES, page1, push};
use serde_json::json;
use switchboard_testkit::http::answer;
use switchboard_testkit::receiver::{TestReceiver, batch, message};

#[tokio::test]
async fn a_batch_is_stored_and_the_answer_counts_new_items() {
    let (app, token) = page1().await;
    let (status, answer) = push(
        &app,
        &token,
        "page1",
        vec![
            message("m1", "t1", "Chào shop"),
            message("m2", "t1", "Còn hàng không?"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true);
    assert_eq!(answer["data"]["received"], 2);
    assert_eq!(answer["data"]["new"], 2);
    assert_eq!(app.store.message_count("page1").await.expect("count"), 2);
}

#[tokio::test]
async fn retried_batches_do_not_duplicate() {
    let (app, token) = page1().await;
    let body = batch(
        "page1",
        vec![message("m1", "t1", "một"), message("m2", "t2", "hai")],
    );
    for _ in 0..3 {
        let (status, _) = app.post(NEW_MESSAGES, Some(&token), &body).await;
        assert_eq!(status, 200);
    }
    let overlapping = vec![message("m2", "t2", "hai"), message("m3", "t2", "ba")];
    let (_, answer) = push(&app, &token, "page1", overlapping).await;
    assert_eq!(
        (
            answer["data"]["new"].as_i64(),
            answer["data"]["duplicates"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(app.db_count("SELECT COUNT(*) FROM messages").await, 3);
    // Only batches that brought something new wrote an event.
    assert_eq!(
        app.db_count("SELECT COUNT(*) FROM events WHERE kind = 'new_messages'")
            .await,
        2
    );
}

#[tokio::test]
async fn conversations_track_the_last_message_and_unread_count() {
    let (app, token) = page1().await;
    let mut reply = message("m3", "t1", "Dạ còn ạ");
    reply["direction"] = json!("out");
    reply["sent_at"] = json!("2026-11-22T09:05:00+07:00");
    let mut older = message("m0", "t1", "tin cũ");
    older["sent_at"] = json!("2026-11-22T08:00:00+07:00");
    let (status, _) = push(
        &app,
        &token,
        "page1",
        vec![message("m1", "t1", "Chào"), reply, older],
    )
    .await;
    assert_eq!(status, 200);
    let page = app
        .store
        .conversations("page1", Default::default(), None, 10)
        .await
        .expect("conversations");
    let t1 = page.items.iter().find(|c| c.thread_id == "t1").expect("t1");
    let (text, direction, unread) = (
        t1.last_message_text.clone(),
        t1.last_message_direction.clone().unwrap_or_default(),
        t1.unread_count,
    );
    assert_eq!(
        (text.as_str(), direction.as_str(), unread),
        ("Dạ còn ạ", "out", 2)
    );
}

#[tokio::test]
async fn a_batch_with_one_bad_item_stores_nothing_and_names_it() {
    let (app, token) = page1().await;
    let mut bad = message("m2", "t1", "x");
    bad["conversation"]["thread_id"] = json!(42);
    let (status, answer) = push(&app, &token, "page1", vec![message("m1", "t1", "ok"), bad]).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["success"], false);
    assert_eq!(answer["error"]["item"], 1);
    assert_eq!(answer["error"]["field"], "conversation.thread_id");

    let mut bad = message("m2", "t1", "x");
    bad["attachments"] = json!([{"type": "image", "url": "javascript:alert(1)"}]);
    let (status, answer) = push(&app, &token, "page1", vec![message("m1", "t1", "ok"), bad]).await;
    assert_eq!(status, 422);
    assert_eq!(
        (
            answer["error"]["item"].as_i64(),
            answer["error"]["field"].as_str()
        ),
        (Some(1), Some("attachments[0].url"))
    );
    assert_eq!(app.db_count("SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(app.db_count("SELECT COUNT(*) FROM conversations").await, 0);
    assert_eq!(app.db_count("SELECT COUNT(*) FROM events").await, 0);
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_4xx_with_the_field() {
    let (app, token) = page1().await;
    let cases = [
        (json!({"messages": []}), "user_id_chat"),
        (json!({"user_id_chat": "page1"}), "messages"),
        (
            json!({"user_id_chat": "page1", "messages": "nope"}),
            "messages",
        ),
        (
            json!({"user_id_chat": "page1", "messages": [{"message_id": "m"}]}),
            "messages",
        ),
        (json!({"user_id_chat": "page1", "messages": []}), "messages"),
        (json!({"user_id_chat": 5, "messages": []}), "user_id_chat"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post(NEW_MESSAGES, Some(&token), &body).await;
        assert!((400..500).contains(&status), "{body} gave {status}");
        let named = answer["error"]["field"].as_str().unwrap_or_default();
        assert!(
            named == field
                || answer["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn oversized_malformed_and_non_json_bodies_are_refused_cleanly() {
    let (app, token) = page1().await;
    let huge = "x".repeat(9 * 1024 * 1024);
    let oversized = format!("{{\"user_id_chat\":\"page1\",\"messages\":[],\"pad\":\"{huge}\"}}");
    // (content type, body, status, error code)
    let cases = [
        (
            Some("application/json"),
            oversized,
            413,
            Some("payload_too_large"),
        ),
        (
            Some("application/json"),
            "{\"user_id_chat\": ".to_owned(),
            400,
            None,
        ),
        (None, "user_id_chat=page1".to_owned(), 415, None),
    ];
    for (content_type, body, status, code) in cases {
        let mut request = app
            .http
            .post(format!("{}{NEW_MESSAGES}", app.url))
            .bearer_auth(&token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (got, refusal) = answer(request).await;
        assert_eq!(got, status);
        if let Some(code) = code {
            assert_eq!(refusal["error"]["code"], code);
        }
    }
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let (app, token) = page1().await;
    let body = batch("page1", vec![message("m1", "t1", "x")]);
    let (status, answer) = app.post(NEW_MESSAGES, None, &body).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = app.post(NEW_MESSAGES, Some("sbb_not-a-token"), &body).await;
    assert_eq!(status, 401);

    let id = app.store.tokens().await.expect("tokens")[0].id;
    app.store.revoke_token(id).await.expect("revoke");
    let (status, _) = app.post(NEW_MESSAGES, Some(&token), &body).await;
    assert_eq!(status, 401);
    assert_eq!(app.db_count("SELECT COUNT(*) FROM messages").await, 0);
}

#[tokio::test]
async fn a_bot_cannot_write_for_another_account() {
    let (app, token) = page1().await;
    app.bot("page2").await;
    for path in [NEW_MESSAGES, "/api/bot/register", "/api/bot/status_update"] {
        let body = json!({"user_id_chat": "page2", "messages": [message("m1", "t1", "x")], "status": "online"});
        let (status, answer) = app.post(path, Some(&token), &body).await;
        assert_eq!(status, 403, "{path}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("page2")
        );
    }
    // An item naming another account inside the bot's own batch is refused too.
    let mut sneaky = message("m1", "t1", "x");
    sneaky["user_id_chat"] = json!("page2");
    let (status, _) = push(&app, &token, "page1", vec![sneaky]).await;
    assert_eq!(status, 422);
    // Integrator tokens read; they do not push bot data.
    let integrator = app.integrator().await;
    let (status, _) = push(&app, &integrator, "page1", vec![message("m1", "t1", "x")]).await;
    assert_eq!(status, 403);
    assert_eq!(app.db_count("SELECT COUNT(*) FROM messages").await, 0);
}

#[tokio::test]
async fn register_status_and_notifications_are_stored_with_events() {
    let (app, token) = page1().await;
    // (path, body, status, the field an error names)
    let calls = [
        (
            "/api/bot/register",
            json!({"user_id_chat": "page1", "bot_name": "bot-1", "driver": "sim"}),
            200,
            None,
        ),
        (
            "/api/bot/status_update",
            json!({"user_id_chat": "page1", "status": "needs_login", "message": "checkpoint"}),
            200,
            None,
        ),
        (
            "/api/bot/status_update",
            json!({"user_id_chat": "page1", "status": "sleepy"}),
            422,
            Some("status"),
        ),
    ];
    for (path, body, status, field) in calls {
        let (got, answer) = app.post(path, Some(&token), &body).await;
        assert_eq!(
            (got, answer["error"]["field"].as_str()),
            (status, field),
            "{path}: {answer}"
        );
    }
    let account = app
        .store
        .account("page1")
        .await
        .expect("read")
        .expect("account");
    assert_eq!(
        (
            account.bot_status.as_str(),
            account.bot_status_message.as_str()
        ),
        ("needs_login", "checkpoint")
    );

    let notifications = json!({"user_id_chat": "page1", "notifications": [
        {"notification_id": "n1", "kind": "comment", "text": "Hà đã bình luận về bài viết của bạn", "link": "https://facebook.com/p/1", "occurred_at": 1767225600},
        {"notification_id": "n1", "kind": "comment", "text": "again", "occurred_at": 1767225600}
    ]});
    let (status, answer) = app
        .post("/api/bot/new_notifications", Some(&token), &notifications)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            answer["data"]["received"].as_i64(),
            answer["data"]["new"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let kinds: Vec<String> = app
        .store
        .events_after(0, 10)
        .await
        .expect("events")
        .iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect();
    assert_eq!(kinds, ["bot_register", "bot_status", "new_notifications"]);
}

#[tokio::test]
async fn health_and_unknown_paths_answer_json() {
    let app = TestReceiver::spawn().await;
    let (_, health) = answer(app.http.get(format!("{}/healthz", app.url))).await;
    assert_eq!(health["status"], "ok");
    let (status, _) = answer(app.http.get(format!("{}/api/nothing", app.url))).await;
    assert_eq!(status, 404);
}
