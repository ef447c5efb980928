//! The real receiver and sender on port 0 over one fresh SQLite file, and a bot runtime in-process.
//! The receiver can be stopped and started again on the same port, as an outage would.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_bot::{Backoff, BotConfig, BotError, Driver};
use switchboard_domain::Role;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_sender::{AppState, Sender, SenderOptions};
use switchboard_storage::{
    AccountKind, Cipher, ConversationFilter, MessageView, PostView, Store, TokenKind,
};
use switchboard_web::Shutdown;

pub const ADMIN_PASSWORD: &str = "admin password for tests";
pub const ACCOUNT: &str = "5550001";

pub struct System {
    pub store: Store,
    pub cipher: Cipher,
    pub feed: EventFeed,
    pub receiver_addr: SocketAddr,
    pub sender: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub bot_token: String,
    receiver_stop: Option<Shutdown>,
    shutdown: Shutdown,
}

impl System {
    pub async fn start(kind: AccountKind) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("crm.db").display()))
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
        store
            .ensure_account(ACCOUNT, "Shop Hoa", kind)
            .await
            .expect("account");
        let (_, bot_token) = store
            .issue_token(TokenKind::Bot {
                account: ACCOUNT.into(),
            })
            .await
            .expect("bot token");
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let feed = EventFeed::start(store.clone(), FeedOptions::default(), async move {
            stop.wait().await
        })
        .await
        .expect("feed");
        let options = SenderOptions {
            command_poll: Duration::from_millis(200),
            ..Default::default()
        };
        let sender = Sender::bind(
            "127.0.0.1:0".parse().expect("addr"),
            AppState::new(store.clone(), feed.clone(), cipher.clone(), options),
            &[],
        )
        .await
        .expect("sender");
        let sender_url = format!("http://{}", sender.local_addr().expect("addr"));
        tokio::spawn(sender.run(shutdown.clone(), Duration::from_secs(1)));
        let mut system = Self {
            store,
            cipher,
            feed,
            receiver_addr: "127.0.0.1:0".parse().expect("addr"),
            sender: sender_url,
            http: reqwest::Client::new(),
            dir,
            bot_token,
            receiver_stop: None,
            shutdown,
        };
        system.start_receiver().await;
        system
    }

    /// Binds the receiver, on the port it had before if it ran already.
    pub async fn start_receiver(&mut self) {
        let mut attempts = 0;
        let server = loop {
            match switchboard_receiver::Receiver::bind(
                self.receiver_addr,
                switchboard_receiver::AppState {
                    store: self.store.clone(),
                    feed: self.feed.clone(),
                },
                &[],
            )
            .await
            {
                Ok(server) => break server,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    tracing::debug!(%error, "port not free yet");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot bind the receiver again: {error}"),
            }
        };
        self.receiver_addr = server.local_addr().expect("addr");
        let stop = Shutdown::new();
        tokio::spawn(server.run(stop.clone(), Duration::from_millis(100)));
        self.receiver_stop = Some(stop);
    }

    pub fn stop_receiver(&mut self) {
        if let Some(stop) = self.receiver_stop.take() {
            stop.trigger();
        }
    }

    pub fn receiver_url(&self) -> String {
        format!("http://{}", self.receiver_addr)
    }

    pub fn spool_path(&self) -> PathBuf {
        self.dir.path().join("bots").join(format!("{ACCOUNT}.db"))
    }

    pub fn bot_config(&self) -> BotConfig {
        BotConfig {
            account: ACCOUNT.into(),
            receiver_url: self.receiver_url(),
            sender_url: self.sender.clone(),
            token: self.bot_token.clone(),
            spool_path: self.spool_path(),
            bot_name: "test-bot".into(),
            backoff: Backoff {
                min: Duration::from_millis(20),
                max: Duration::from_millis(200),
            },
        }
    }

    /// Runs a bot until the returned stopper is triggered; the join handle gives its result.
    pub fn run_bot(
        &self,
        driver: Driver,
    ) -> (Shutdown, tokio::task::JoinHandle<Result<(), BotError>>) {
        let stop = Shutdown::new();
        let wait = stop.clone();
        let config = self.bot_config();
        let handle = tokio::spawn(async move {
            switchboard_bot::run(config, driver, async move { wait.wait().await }).await
        });
        (stop, handle)
    }

    /// An admin's session token on the sender.
    pub async fn login(&self) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/api/auth/login", self.sender))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        answer["data"]["token"].as_str().expect("token").to_owned()
    }

    /// What an agent does: `POST /api/send_message_from_crm`. Returns the answer's data.
    pub async fn reply(&self, session: &str, conversation_id: i64, text: &str) -> Value {
        let answer: Value = self
            .http
            .post(format!("{}/api/send_message_from_crm", self.sender))
            .bearer_auth(session)
            .json(&json!({"conversation_id": conversation_id, "text": text}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["success"], true, "{answer}");
        answer["data"].clone()
    }

    pub async fn post(&self, session: &str, body: Value) -> Value {
        let answer: Value = self
            .http
            .post(format!("{}/api/post_to_facebook", self.sender))
            .bearer_auth(session)
            .json(&body)
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["success"], true, "{answer}");
        answer["data"].clone()
    }

    /// The post once it has `status` (fails the test after 10 s).
    pub async fn post_reaching(&self, post_id: i64, status: &str) -> PostView {
        eventually(10, &format!("post {post_id} {status}"), || async {
            let posts = self.store.posts(ACCOUNT, None, 10).await.expect("posts");
            posts
                .items
                .into_iter()
                .find(|p| p.id == post_id && p.status == status)
        })
        .await
    }

    /// Every message of the account, conversation by conversation, oldest first within each.
    pub async fn messages(&self) -> Vec<MessageView> {
        let conversations = self
            .store
            .conversations(ACCOUNT, ConversationFilter::default(), None, 200)
            .await
            .expect("conversations");
        let mut all = Vec::new();
        for conversation in conversations.items {
            let mut page = self
                .store
                .messages(conversation.id, None, 200)
                .await
                .expect("messages")
                .items;
            page.sort_by_key(|m| (m.sent_at, m.id));
            all.extend(page);
        }
        all
    }

    pub async fn message(&self, id: i64) -> MessageView {
        self.messages()
            .await
            .into_iter()
            .find(|m| m.id == id)
            .expect("message")
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.stop_receiver();
        self.shutdown.trigger();
    }
}

/// Polls `check` until it gives `Some`, or fails the test after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
