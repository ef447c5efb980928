//! The receiver's integration tests: one binary, a module per concern (see "Test kit" in
//! docs/architecture.md).

mod ingest;
mod realtime;

use serde_json::Value;
use switchboard_testkit::receiver::{TestReceiver, batch};

/// Where a bot pushes the messages it collected.
const NEW_MESSAGES: &str = "/api/bot/new_messages";

/// The receiver with the account `page1` and a bot token for it: where most tests start.
async fn page1() -> (TestReceiver, String) {
    let app = TestReceiver::spawn().await;
    let token = app.bot("page1").await;
    (app, token)
}

/// Pushes `messages` for `account` with the bot token `token`: the status and the answer.
async fn push(
    app: &TestReceiver,
    token: &str,
    account: &str,
    messages: Vec<Value>,
) -> (u16, Value) {
    app.post(NEW_MESSAGES, Some(token), &batch(account, messages))
        .await
}
