//! The real receiver and sender on port 0 over one store, and a bot runtime in-process: what the bot's
//! tests drive. The receiver can be stopped and started again on the same port, as an outage would.

use crate::http::Api;
use crate::{ADMIN_PASSWORD, TempStore, bot_token, eventually, roles};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_bot::{Backoff, BotConfig, BotError, Driver};
use switchboard_realtime::EventFeed;
use switchboard_sender::SenderOptions;
use switchboard_storage::{
    Account, AccountKind, Cipher, ConversationFilter, MessageView, PostView, Spool, Store,
};
use switchboard_web::Shutdown;

/// The account the bot is for.
pub const ACCOUNT: &str = "5550001";

pub struct System {
    pub store: Store,
    pub cipher: Cipher,
    pub feed: EventFeed,
    pub receiver_addr: SocketAddr,
    pub sender: String,
    pub http: reqwest::Client,
    pub dir: crate::TestDir,
    pub bot_token: String,
    receiver_stop: Option<Shutdown>,
    shutdown: Shutdown,
}

impl System {
    /// With the account [`ACCOUNT`] of `kind` and a bot token for it.
    pub async fn start(kind: AccountKind) -> Self {
        let TempStore { store, cipher, dir } = TempStore::with_admin().await;
        let bot_token = bot_token(&store, ACCOUNT, "Shop Hoa", kind).await;
        let shutdown = Shutdown::new();
        let feed = roles::feed(&store, &shutdown).await.expect("feed");
        let options = SenderOptions::default();
        let sender = roles::sender(&store, &feed, &cipher, options, roles::any_port(), &[])
            .await
            .expect("sender");
        let sender = roles::serve(sender, &shutdown, Duration::from_secs(1)).expect("serve");
        let mut system = Self {
            store,
            cipher,
            feed,
            receiver_addr: roles::any_port(),
            sender,
            http: reqwest::Client::new(),
            dir,
            bot_token,
            receiver_stop: None,
            shutdown,
        };
        system.start_receiver().await;
        system
    }

    /// Binds the receiver, on the port it had before if it ran already (waiting, with a deadline,
    /// for the old socket to let the port go).
    pub async fn start_receiver(&mut self) {
        let (store, feed, addr) = (&self.store, &self.feed, self.receiver_addr);
        let server = eventually(5, "the receiver's port free again", || async move {
            match roles::receiver(store, feed, addr).await {
                Ok(server) => Some(server),
                Err(error) => {
                    tracing::debug!(%error, "port not free yet");
                    None
                }
            }
        })
        .await;
        self.receiver_addr = server.local_addr().expect("addr");
        let stop = Shutdown::new();
        roles::serve(server, &stop, Duration::from_millis(100)).expect("serve");
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

    /// The bot's spool, opened on its own (as a second process would).
    pub fn spool(&self) -> Spool {
        Spool::open(&self.spool_path()).expect("spool")
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

    /// Runs a bot until [`RunningBot::stop`].
    pub fn run_bot(&self, driver: Driver) -> RunningBot {
        let stop = Shutdown::new();
        let wait = stop.clone();
        let config = self.bot_config();
        let handle = tokio::spawn(async move {
            switchboard_bot::run(config, driver, async move { wait.wait().await }).await
        });
        RunningBot { stop, handle }
    }

    /// The sender's API, as a console calls it.
    pub fn api(&self) -> Api {
        Api {
            url: self.sender.clone(),
            http: self.http.clone(),
        }
    }

    /// An admin's session token on the sender.
    pub async fn login(&self) -> String {
        self.api().login("admin", ADMIN_PASSWORD).await
    }

    /// What an agent does: `POST /api/send_message_from_crm`. Returns the answer's data.
    pub async fn reply(&self, session: &str, conversation_id: i64, text: &str) -> Value {
        let body = serde_json::json!({"conversation_id": conversation_id, "text": text});
        self.succeed("/api/send_message_from_crm", session, body)
            .await
    }

    /// `POST /api/post_to_facebook`. Returns the new post's id.
    pub async fn post(&self, session: &str, body: Value) -> i64 {
        let data = self.succeed("/api/post_to_facebook", session, body).await;
        data["post"]["id"].as_i64().expect("post id")
    }

    /// Posts `body` to the sender's `path`; the answer's data (it must say `success`).
    async fn succeed(&self, path: &str, session: &str, body: Value) -> Value {
        let (_, answer) = self
            .api()
            .call("POST", path, Some(session), Some(body))
            .await;
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

    /// Every message of the account (as [`System::messages`]) once there are exactly `count` (fails
    /// the test after 10 s).
    pub async fn messages_reaching(&self, count: usize) -> Vec<MessageView> {
        eventually(10, &format!("{count} messages in the CRM"), || async {
            let messages = self.messages().await;
            (messages.len() == count).then_some(messages)
        })
        .await
    }

    pub async fn message(&self, id: i64) -> MessageView {
        self.messages()
            .await
            .into_iter()
            .find(|m| m.id == id)
            .expect("message")
    }

    /// The account [`ACCOUNT`] as stored now.
    pub async fn account(&self) -> Account {
        self.store
            .account(ACCOUNT)
            .await
            .expect("read")
            .expect("account")
    }

    /// The account's bot status once it is `status` (fails the test after 10 s).
    pub async fn bot_status_reaching(&self, status: &str) {
        eventually(10, &format!("the bot {status}"), || async {
            (self.account().await.bot_status == status).then_some(())
        })
        .await
    }
}

/// A bot running in-process (see [`System::run_bot`]).
pub struct RunningBot {
    stop: Shutdown,
    handle: tokio::task::JoinHandle<Result<(), BotError>>,
}

impl RunningBot {
    /// Stops the bot; it must stop cleanly.
    pub async fn stop(self) {
        self.stop.trigger();
        self.handle
            .await
            .expect("join")
            .expect("bot stopped cleanly");
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.stop_receiver();
        self.shutdown.trigger();
    }
}
