//! A real receiver on port 0 with a fresh SQLite file, and helpers to drive it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_receiver::{AppState, Receiver};
use switchboard_storage::{AccountKind, Store, TokenKind};
use switchboard_web::Shutdown;

pub struct TestReceiver {
    pub url: String,
    pub store: Store,
    pub http: reqwest::Client,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

impl TestReceiver {
    pub async fn spawn() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::open(&url).await.expect("open store");
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let feed = EventFeed::start(store.clone(), FeedOptions::default(), async move {
            stop.wait().await
        })
        .await
        .expect("feed");
        let receiver = Receiver::bind(
            "127.0.0.1:0".parse().expect("addr"),
            AppState {
                store: store.clone(),
                feed,
            },
            &[],
        )
        .await
        .expect("bind");
        let addr = receiver.local_addr().expect("addr");
        tokio::spawn(receiver.run(shutdown.clone(), Duration::from_secs(5)));
        Self {
            url: format!("http://{addr}"),
            store,
            http: reqwest::Client::new(),
            shutdown,
            _dir: dir,
        }
    }

    /// Creates the account (if new) and a bot token for it.
    pub async fn bot(&self, account: &str) -> String {
        self.store
            .ensure_account(account, "", AccountKind::Page)
            .await
            .expect("account");
        self.store
            .issue_token(TokenKind::Bot {
                account: account.into(),
            })
            .await
            .expect("token")
            .1
    }

    pub async fn integrator(&self) -> String {
        self.store
            .issue_token(TokenKind::Api {
                name: "console".into(),
            })
            .await
            .expect("token")
            .1
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn db_count(&self, sql: &'static str) -> i64 {
        let path = self.store.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.query_row(sql, [], |r| r.get(0)).expect("count")
        })
        .await
        .expect("join")
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub fn message(id: &str, thread: &str, text: &str) -> Value {
    json!({
        "message_id": id,
        "conversation": {"thread_id": thread, "participant_id": format!("u-{thread}"), "participant_name": "Trần Thị Bình"},
        "direction": "in",
        "text": text,
        "sent_at": "2026-11-22T09:00:00+07:00"
    })
}

pub fn batch(account: &str, messages: Vec<Value>) -> Value {
    json!({"user_id_chat": account, "messages": messages})
}
