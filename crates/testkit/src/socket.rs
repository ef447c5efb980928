//! Socket.IO in tests: the next event, the next event of a name, or none, each with a deadline.

use serde_json::Value;
use std::time::Duration;
use switchboard_sioclient::{Client, Event};

/// How long a test waits for an event it expects: generous, for a loaded machine.
pub const EVENT_WITHIN: Duration = Duration::from_secs(10);

/// The next event, within [`EVENT_WITHIN`].
pub async fn next(client: &mut Client) -> Event {
    tokio::time::timeout(EVENT_WITHIN, client.next_event())
        .await
        .unwrap_or_else(|_| panic!("no event within {EVENT_WITHIN:?}"))
        .expect("the connection is open")
}

/// The data of the next event named `name` (others skipped), within [`EVENT_WITHIN`].
pub async fn next_named(client: &mut Client, name: &str) -> Value {
    next_named_within(client, name, EVENT_WITHIN).await
}

/// The data of the next event named `name` (others skipped), within `within`.
pub async fn next_named_within(client: &mut Client, name: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let event = tokio::time::timeout_at(deadline, client.next_event())
            .await
            .unwrap_or_else(|_| panic!("no {name} within {within:?}"))
            .expect("the connection is open");
        if event.name == name {
            return event.data().expect("data");
        }
    }
}

/// Asserts that no `name` event arrives during `window`: the waiting is the thing under test.
pub async fn quiet(client: &mut Client, name: &str, window: Duration) {
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next_event()).await {
        assert_ne!(event.name, name, "unexpected {name}: {}", event.raw());
    }
}

/// Asserts that no event at all arrives during `window`: the waiting is the thing under test.
pub async fn nothing_more(client: &mut Client, window: Duration) {
    let extra = tokio::time::timeout(window, client.next_event()).await;
    assert!(
        extra.is_err(),
        "unexpected event: {:?}",
        extra.ok().flatten().map(|e| e.raw().to_owned())
    );
}

/// The next `bot_status` a console hears, as `(account, status)`.
pub async fn next_presence(console: &mut Client) -> (String, String) {
    let event = next_named(console, "bot_status").await;
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
    (text("user_id_chat"), text("status"))
}
