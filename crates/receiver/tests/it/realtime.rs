//! Events over Socket.IO on the receiver: live, resumable without gaps or duplicates, and scoped.

use crate::{NEW_MESSAGES, push};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_sioclient::{Client, ClientError};
use switchboard_testkit::receiver::{TestReceiver, batch, message};
use switchboard_testkit::socket::{next, nothing_more};

/// How long "nothing more" is watched for: the waiting is the thing under test.
const QUIET: Duration = Duration::from_millis(400);

/// The receiver with the account `page1`: it, the bot's token, and an integrator's token (a
/// console's).
async fn page1_and_console() -> (TestReceiver, String, String) {
    let (app, bot) = crate::page1().await;
    let console = app.integrator().await;
    (app, bot, console)
}

/// Pushes the messages `{prefix}{i}` for each `i` in `ids` to `page1`, one batch each (each accepted).
async fn push_each(
    app: &TestReceiver,
    bot: &str,
    prefix: &str,
    ids: impl IntoIterator<Item = u32>,
) {
    for i in ids {
        let id = format!("{prefix}{i}");
        let (status, _) = push(app, bot, "page1", vec![message(&id, "t1", "x")]).await;
        assert_eq!(status, 200);
    }
}

/// A Socket.IO connection with `auth` (it must be accepted).
async fn connect(app: &TestReceiver, auth: Value) -> Client {
    Client::connect(&app.url, &auth, "").await.expect("connect")
}

/// A Socket.IO connection with `auth`, which the receiver must refuse: the error.
async fn refusal(app: &TestReceiver, auth: Value) -> ClientError {
    Client::connect(&app.url, &auth, "")
        .await
        .err()
        .expect("refused")
}

/// The id of the next event on `client`.
async fn next_event_id(client: &mut Client) -> i64 {
    next(client).await.data::<Value>().expect("data")["event_id"]
        .as_i64()
        .expect("id")
}

#[tokio::test]
async fn a_console_receives_new_messages_live() {
    let (app, bot, console) = page1_and_console().await;
    let mut client = connect(&app, json!({"token": console})).await;
    let (status, _) = push(&app, &bot, "page1", vec![message("m1", "t1", "Chào")]).await;
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
    push(&app, &bot, "page1", vec![message("m1", "t1", "Chào")]).await;
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn reconnecting_with_the_last_event_id_gives_exactly_the_missed_events() {
    let (app, bot, console) = page1_and_console().await;
    let mut client = connect(&app, json!({"token": console})).await;
    push(&app, &bot, "page1", vec![message("m1", "t1", "1")]).await;
    let last_seen = next_event_id(&mut client).await;
    drop(client);

    // While the console is away: three more events.
    push_each(&app, &bot, "m", 2..=4).await;
    let mut client = connect(&app, json!({"token": console, "last_event_id": last_seen})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(next_event_id(&mut client).await);
    }
    assert_eq!(ids, [last_seen + 1, last_seen + 2, last_seen + 3]);
    // Then live events continue on the same connection, with nothing repeated.
    push(&app, &bot, "page1", vec![message("m5", "t1", "x")]).await;
    assert_eq!(next_event_id(&mut client).await, last_seen + 4);
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn resuming_while_events_keep_arriving_has_no_gap_and_no_duplicate() {
    let (app, bot, console) = page1_and_console().await;
    push_each(&app, &bot, "a", 0..50).await;
    let writer = {
        let (url, http, bot) = (app.url.clone(), app.http.clone(), bot.clone());
        tokio::spawn(async move {
            for i in 0..50 {
                let body = batch("page1", vec![message(&format!("b{i}"), "t1", "x")]);
                let response = http
                    .post(format!("{url}{NEW_MESSAGES}"))
                    .bearer_auth(&bot)
                    .json(&body)
                    .send()
                    .await;
                assert!(response.is_ok_and(|r| r.status().is_success()));
            }
        })
    };
    let mut client = connect(&app, json!({"token": console, "last_event_id": 0})).await;
    let mut ids = Vec::new();
    while ids.len() < 100 {
        ids.push(next_event_id(&mut client).await);
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
    push(&app, &bot2, "page2", vec![message("x1", "t1", "x")]).await;
    push(&app, &bot1, "page1", vec![message("y1", "t1", "y")]).await;
    let data: Value = next(&mut client).await.data().expect("data");
    assert_eq!(data["user_id_chat"], "page1");
    nothing_more(&mut client, QUIET).await;
}

#[tokio::test]
async fn sockets_without_a_valid_token_are_refused() {
    let app = TestReceiver::spawn().await;
    let refused = refusal(&app, json!({})).await;
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains("token")),
        "{refused}"
    );
    let refused = refusal(&app, json!({"token": "sba_wrong"})).await;
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains("unknown or revoked")),
        "{refused}"
    );
    let console = app.integrator().await;
    let refused = refusal(&app, json!({"token": console, "last_event_id": -5})).await;
    assert!(matches!(refused, ClientError::Refused(_)));
}

#[tokio::test]
async fn resuming_from_before_the_retention_period_asks_the_client_to_resync() {
    let (app, bot, console) = page1_and_console().await;
    push_each(&app, &bot, "old", 0..3).await;
    let later = switchboard_domain::UnixMillis(switchboard_domain::UnixMillis::now().0 + 60_000);
    assert_eq!(app.store.prune_events(later, 100).await.expect("prune"), 3);
    push(&app, &bot, "page1", vec![message("new", "t1", "x")]).await;
    let mut client = connect(&app, json!({"token": console, "last_event_id": 1})).await;
    let notice = next(&mut client).await;
    assert_eq!(notice.name, "resync_required");
    assert_eq!(notice.data::<Value>().expect("data")["oldest_event_id"], 4);
    let event = next(&mut client).await;
    assert_eq!(
        event.data::<Value>().expect("data")["messages"][0]["message_id"],
        "new"
    );
}
