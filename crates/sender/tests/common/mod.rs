//! The receiver and the sender on port 0, sharing one fresh SQLite file, as `switchboard serve` runs them.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_domain::Role;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_sender::{AppState, Sender, SenderOptions};
use switchboard_sioclient::{Client, Event};
use switchboard_storage::{AccountKind, Cipher, Store, TokenKind};
use switchboard_web::Shutdown;

pub const ADMIN_PASSWORD: &str = "admin password for tests";

pub struct TestSystem {
    pub receiver: String,
    pub sender: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Shutdown,
}

impl TestSystem {
    pub async fn spawn() -> Self {
        Self::spawn_with(SenderOptions {
            command_poll: Duration::from_millis(200),
            ..Default::default()
        })
        .await
    }

    pub async fn spawn_with(options: SenderOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("test.db").display()
        ))
        .await
        .expect("store");
        let cipher = Cipher::create(&dir.path().join("encryption.key")).expect("key");
        store
            .check_key(Some(cipher.clone()))
            .await
            .expect("key check");
        store
            .create_user("admin", "Admin", Role::Admin, ADMIN_PASSWORD.into())
            .await
            .expect("admin");
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let feed = EventFeed::start(store.clone(), FeedOptions::default(), async move {
            stop.wait().await
        })
        .await
        .expect("feed");
        let receiver = switchboard_receiver::Receiver::bind(
            "127.0.0.1:0".parse().expect("addr"),
            switchboard_receiver::AppState {
                store: store.clone(),
                feed: feed.clone(),
            },
            &[],
        )
        .await
        .expect("receiver");
        let sender = Sender::bind(
            "127.0.0.1:0".parse().expect("addr"),
            AppState::new(store.clone(), feed, cipher, options),
            &["http://127.0.0.1:8000".to_owned()],
        )
        .await
        .expect("sender");
        let receiver_url = format!("http://{}", receiver.local_addr().expect("addr"));
        let sender_url = format!("http://{}", sender.local_addr().expect("addr"));
        tokio::spawn(receiver.run(shutdown.clone(), Duration::from_secs(5)));
        tokio::spawn(sender.run(shutdown.clone(), Duration::from_secs(5)));
        Self {
            receiver: receiver_url,
            sender: sender_url,
            store,
            http: reqwest::Client::new(),
            dir,
            shutdown,
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "login as {username}: {body}");
        body["data"]["token"].as_str().expect("token").to_owned()
    }

    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user with `role` through the API and logs them in.
    pub async fn user(&self, username: &str, role: &str) -> String {
        let admin = self.admin().await;
        let password = format!("{username} password 123");
        let (status, body) = self
            .call(
                "POST",
                "/api/users",
                Some(&admin),
                Some(json!({"username": username, "role": role, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.login(username, &password).await
    }

    pub async fn bot(&self, account: &str) -> String {
        self.store
            .ensure_account(account, "Shop", AccountKind::Page)
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

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.sender));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A customer message arrives through the receiver; returns its conversation's id.
    pub async fn incoming(
        &self,
        bot: &str,
        account: &str,
        id: &str,
        thread: &str,
        text: &str,
    ) -> i64 {
        let body = json!({"user_id_chat": account, "messages": [{
            "message_id": id,
            "conversation": {"thread_id": thread, "participant_id": format!("p-{thread}"), "participant_name": "Đỗ Thu Trang"},
            "direction": "in", "text": text, "sent_at": switchboard_domain::UnixMillis::now().0 as f64 / 1000.0
        }]});
        let response = self
            .http
            .post(format!("{}/api/bot/new_messages", self.receiver))
            .bearer_auth(bot)
            .json(&body)
            .send()
            .await
            .expect("ingest");
        assert!(response.status().is_success());
        let page = self
            .store
            .conversations(account, Default::default(), None, 200)
            .await
            .expect("conversations");
        page.items
            .iter()
            .find(|c| c.thread_id == thread)
            .map(|c| c.id)
            .expect("conversation")
    }

    pub async fn socket(&self, token: &str) -> Client {
        Client::connect(&self.sender, &json!({"token": token}), "")
            .await
            .expect("socket")
    }

    pub fn db_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for file in ["test.db", "test.db-wal"] {
            bytes.extend(std::fs::read(self.dir.path().join(file)).unwrap_or_default());
        }
        bytes
    }
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub async fn next(client: &mut Client) -> Event {
    tokio::time::timeout(Duration::from_secs(5), client.next_event())
        .await
        .expect("an event within 5 s")
        .expect("open")
}

/// The next event named `name`, skipping others.
pub async fn next_named(client: &mut Client, name: &str) -> Value {
    loop {
        let event = next(client).await;
        if event.name == name {
            return event.data().expect("data");
        }
    }
}

pub async fn quiet(client: &mut Client, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next_event()).await {
        assert_ne!(event.name, name, "unexpected {name}: {}", event.raw());
    }
}
