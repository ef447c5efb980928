//! Events over Socket.IO on the receiver: live, resumable without gaps or duplicates, and scoped.

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_sioclient::{Client, ClientError};
use switchboard_testkit::receiver::{TestReceiver, batch, message};
use switchboard_testkit::socket::{next, nothing_more};

/// How long "nothing more" is watched for: the waiting is the thing under test.
const QUIET: Duration = Duration::from_millis(400);

#[tokio::test]
async fn a_console_receives_new_messages_live() {
    let app = TestReceiver::spawn().await;
    let bot = app.bot("page1").await;
    let console = app.integrator().await;
    let mut client = Client::connect(&app.url, &json!({"token": console}), "")
        .await
        .expect("connect");
    let (status, _) = app
        .post(
            "/api/bot/new_messages",
            Some(&bot),
            &batch("page1", vec![message("m1", "t1", "Chào")]),
        )
        .await;
    assert_eq!(status, 200);
    let event = next(&mut client).await;
    assert_eq!(event.name, "new_messages");
    let data: Value = event.data().expect("data");
    assert_eq!(data["user_id_chat"], "page1");
    assert_eq!(data["messages"][0]["message_id"], "m1");
    assert_eq!(data["messages"][0]["text"], "Chào");
    assert_eq!(data["conversations"][0]["unread_count"], 1);
    assert!(data["event_id"].as_i64().is_some_and(|id| id > 0));
    // A retry of the same batch is not news.
    app.post(
        "/api/bot/new_messages",
        Some(&bot),
        &batch("page1", vec![message("m1", "t1", "Chào")]),
    )
    .await;
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn reconnecting_with_the_last_event_id_gives_exactly_the_missed_events() {
    let app = TestReceiver::spawn().await;
    let bot = app.bot("page1").await;
    let console = app.integrator().await;
    let mut client = Client::connect(&app.url, &json!({"token": console}), "")
        .await
        .expect("connect");
    app.post(
        "/api/bot/new_messages",
        Some(&bot),
        &batch("page1", vec![message("m1", "t1", "1")]),
    )
    .await;
    let last_seen: i64 = next(&mut client).await.data::<Value>().expect("data")["event_id"]
        .as_i64()
        .expect("id");
    drop(client);

    // While the console is away: three more events.
    for i in 2..=4 {
        let (status, _) = app
            .post(
                "/api/bot/new_messages",
                Some(&bot),
                &batch("page1", vec![message(&format!("m{i}"), "t1", "x")]),
            )
            .await;
        assert_eq!(status, 200);
    }
    let mut client = Client::connect(
        &app.url,
        &json!({"token": console, "last_event_id": last_seen}),
        "",
    )
    .await
    .expect("reconnect");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            next(&mut client).await.data::<Value>().expect("data")["event_id"]
                .as_i64()
                .expect("id"),
        );
    }
    assert_eq!(ids, [last_seen + 1, last_seen + 2, last_seen + 3]);
    // Then live events continue on the same connection, with nothing repeated.
    app.post(
        "/api/bot/new_messages",
        Some(&bot),
        &batch("page1", vec![message("m5", "t1", "x")]),
    )
    .await;
    let live = next(&mut client).await.data::<Value>().expect("data")["event_id"].as_i64();
    assert_eq!(live, Some(last_seen + 4));
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn resuming_while_events_keep_arriving_has_no_gap_and_no_duplicate() {
    let app = TestReceiver::spawn().await;
    let bot = app.bot("page1").await;
    let console = app.integrator().await;
    for i in 0..50 {
        app.post(
            "/api/bot/new_messages",
            Some(&bot),
            &batch("page1", vec![message(&format!("a{i}"), "t1", "x")]),
        )
        .await;
    }
    let writer = {
        let (url, http, bot) = (app.url.clone(), app.http.clone(), bot.clone());
        tokio::spawn(async move {
            for i in 0..50 {
                let body = batch("page1", vec![message(&format!("b{i}"), "t1", "x")]);
                let response = http
                    .post(format!("{url}/api/bot/new_messages"))
                    .bearer_auth(&bot)
                    .json(&body)
                    .send()
                    .await;
                assert!(response.is_ok_and(|r| r.status().is_success()));
            }
        })
    };
    let mut client = Client::connect(&app.url, &json!({"token": console, "last_event_id": 0}), "")
        .await
        .expect("connect");
    let mut ids = Vec::new();
    while ids.len() < 100 {
        ids.push(
            next(&mut client).await.data::<Value>().expect("data")["event_id"]
                .as_i64()
                .expect("id"),
        );
    }
    writer.await.expect("writer");
    assert_eq!(ids, (1..=100).collect::<Vec<i64>>());
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn a_bot_socket_sees_only_its_own_account() {
    let app = TestReceiver::spawn().await;
    let bot1 = app.bot("page1").await;
    let bot2 = app.bot("page2").await;
    let mut client = Client::connect(&app.url, &json!({}), &format!("token={bot1}"))
        .await
        .expect("connect");
    app.post(
        "/api/bot/new_messages",
        Some(&bot2),
        &batch("page2", vec![message("x1", "t1", "x")]),
    )
    .await;
    app.post(
        "/api/bot/new_messages",
        Some(&bot1),
        &batch("page1", vec![message("y1", "t1", "y")]),
    )
    .await;
    let data: Value = next(&mut client).await.data().expect("data");
    assert_eq!(data["user_id_chat"], "page1");
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn sockets_without_a_valid_token_are_refused() {
    let app = TestReceiver::spawn().await;
    let refused = Client::connect(&app.url, &json!({}), "")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains("token")),
        "{refused}"
    );
    let refused = Client::connect(&app.url, &json!({"token": "sba_wrong"}), "")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains("unknown or revoked")),
        "{refused}"
    );
    let console = app.integrator().await;
    let refused = Client::connect(
        &app.url,
        &json!({"token": console, "last_event_id": -5}),
        "",
    )
    .await
    .err()
    .expect("refused");
    assert!(matches!(refused, ClientError::Refused(_)));
}

#[tokio::test]
async fn resuming_from_before_the_retention_period_asks_the_client_to_resync() {
    let app = TestReceiver::spawn().await;
    let bot = app.bot("page1").await;
    let console = app.integrator().await;
    for i in 0..3 {
        app.post(
            "/api/bot/new_messages",
            Some(&bot),
            &batch("page1", vec![message(&format!("old{i}"), "t1", "x")]),
        )
        .await;
    }
    let later = switchboard_domain::UnixMillis(switchboard_domain::UnixMillis::now().0 + 60_000);
    assert_eq!(app.store.prune_events(later, 100).await.expect("prune"), 3);
    app.post(
        "/api/bot/new_messages",
        Some(&bot),
        &batch("page1", vec![message("new", "t1", "x")]),
    )
    .await;
    let mut client = Client::connect(&app.url, &json!({"token": console, "last_event_id": 1}), "")
        .await
        .expect("connect");
    let notice = next(&mut client).await;
    assert_eq!(notice.name, "resync_required");
    assert_eq!(notice.data::<Value>().expect("data")["oldest_event_id"], 4);
    let event = next(&mut client).await;
    assert_eq!(
        event.data::<Value>().expect("data")["messages"][0]["message_id"],
        "new"
    );
}
