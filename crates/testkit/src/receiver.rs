//! The receiver alone on port 0, as its own tests drive it.

use crate::http::answer;
use crate::{TempStore, api_token, bot_token, roles};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_storage::{AccountKind, Store};
use switchboard_web::Shutdown;

pub struct TestReceiver {
    pub url: String,
    pub store: Store,
    pub http: reqwest::Client,
    /// Stops the servers when the handle is dropped.
    _shutdown: roles::StopOnDrop,
    _temp: TempStore,
}

impl TestReceiver {
    pub async fn spawn() -> Self {
        let temp = TempStore::new().await;
        let shutdown = Shutdown::new();
        let feed = roles::feed(&temp.store, &shutdown).await.expect("feed");
        let server = roles::receiver(&temp.store, &feed, roles::any_port())
            .await
            .expect("bind");
        let url = roles::serve(server, &shutdown, Duration::from_secs(5)).expect("serve");
        Self {
            url,
            store: temp.store.clone(),
            http: reqwest::Client::new(),
            _shutdown: roles::StopOnDrop(shutdown),
            _temp: temp,
        }
    }

    /// Creates the account (if new) and a bot token for it.
    pub async fn bot(&self, account: &str) -> String {
        bot_token(&self.store, account, "", AccountKind::Page).await
    }

    /// An integrator's token (what a console uses).
    pub async fn integrator(&self) -> String {
        api_token(&self.store, "console").await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request).await
    }

    /// One number from the database, read with a connection of its own.
    pub async fn db_count(&self, sql: &'static str) -> i64 {
        crate::db_count(&self._temp.dir, sql).await
    }
}

/// A customer's message as a bot posts it.
pub fn message(id: &str, thread: &str, text: &str) -> Value {
    json!({
        "message_id": id,
        "conversation": {"thread_id": thread, "participant_id": format!("u-{thread}"), "participant_name": "Trần Thị Bình"},
        "direction": "in",
        "text": text,
        "sent_at": "2026-11-22T09:00:00+07:00"
    })
}

/// A bot's batch for `account`.
pub fn batch(account: &str, messages: Vec<Value>) -> Value {
    json!({"user_id_chat": account, "messages": messages})
}
