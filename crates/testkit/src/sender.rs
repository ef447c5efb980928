//! The receiver and the sender on port 0 over one store with an admin, as `switchboard serve` runs
//! them: what the sender's tests drive.

use crate::http::Api;
use crate::{TempStore, bot_token, roles};
use serde_json::json;
use std::time::Duration;
use switchboard_realtime::FeedOptions;
use switchboard_sender::SenderOptions;
use switchboard_sioclient::Client;
use switchboard_storage::{AccountKind, Cipher, Store};
use switchboard_web::Shutdown;

pub use crate::ADMIN_PASSWORD;

/// The console's origin, the one page in the sender's CORS allowlist.
pub const CONSOLE_ORIGIN: &str = "http://127.0.0.1:8000";

/// Dereferences to the sender's [`Api`]: `call` and `login` go to the sender.
pub struct TestSystem {
    shutdown: roles::StopOnDrop,
    pub receiver: String,
    pub sender: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub dir: crate::TestDir,
    cipher: Cipher,
    api: Api,
}

/// A second node's sender on the same database, with its own store, feed and port, as another
/// machine behind a load balancer runs it. Its sweeps are an hour apart, so whatever reaches it
/// promptly came through the wake-ups between nodes. Dereferences to its [`Api`].
pub struct OtherNode {
    pub sender: String,
    pub store: Store,
    api: Api,
}

impl OtherNode {
    /// A Socket.IO connection to this node's sender with `token` in the handshake.
    pub async fn socket(&self, token: &str) -> Client {
        Client::connect(&self.sender, &json!({"token": token}), "")
            .await
            .expect("socket")
    }
}

impl std::ops::Deref for OtherNode {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestSystem {
    /// With the role's default options: commands reach bots through the wake-ups, not a fast poll.
    pub async fn spawn() -> Self {
        Self::spawn_with(SenderOptions::default()).await
    }

    /// A system with page1's bot token, and an admin's console socket, which hears every event (the
    /// bot's presence among them).
    pub async fn with_bot_and_console() -> (Self, String, Client) {
        let app = Self::spawn().await;
        let bot_token = app.bot("page1").await;
        let admin = app.admin().await;
        let console = app.socket(&admin).await;
        (app, bot_token, console)
    }

    pub async fn spawn_with(options: SenderOptions) -> Self {
        let TempStore { store, cipher, dir } = TempStore::with_admin().await;
        let shutdown = Shutdown::new();
        let feed = roles::feed(&store, &shutdown).await.expect("feed");
        let receiver = roles::receiver(&store, &feed, roles::any_port())
            .await
            .expect("receiver");
        let sender = roles::sender(
            &store,
            &feed,
            &cipher,
            options,
            roles::any_port(),
            &[CONSOLE_ORIGIN.to_owned()],
        )
        .await
        .expect("sender");
        let grace = Duration::from_secs(5);
        let sender = roles::serve(sender, &shutdown, grace).expect("serve");
        let api = Api::new(&sender);
        Self {
            receiver: roles::serve(receiver, &shutdown, grace).expect("serve"),
            sender,
            store,
            http: api.http.clone(),
            dir,
            cipher,
            api,
            shutdown: roles::StopOnDrop(shutdown),
        }
    }

    /// Another node on this system's database (see [`OtherNode`]); stops with this system.
    pub async fn other_node(&self) -> OtherNode {
        let hour = Duration::from_secs(3600);
        let store =
            crate::store::patient(Store::open(self.dir.database_url()).await.expect("open"));
        let feed_options = FeedOptions {
            poll_interval: hour,
            ..FeedOptions::default()
        };
        let feed = roles::feed_with(&store, feed_options, &self.shutdown)
            .await
            .expect("feed");
        let options = SenderOptions {
            command_poll: hour,
            ..SenderOptions::default()
        };
        let sender = roles::sender(&store, &feed, &self.cipher, options, roles::any_port(), &[])
            .await
            .expect("sender");
        let sender = roles::serve(sender, &self.shutdown, Duration::from_secs(5)).expect("serve");
        let api = Api::new(&sender);
        OtherNode { sender, store, api }
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

    /// Creates the account (if new) and a bot token for it.
    pub async fn bot(&self, account: &str) -> String {
        bot_token(&self.store, account, "Shop", AccountKind::Page).await
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
        let receiver = Api {
            url: self.receiver.clone(),
            http: self.http.clone(),
        };
        let (status, answer) = receiver
            .call("POST", "/api/bot/new_messages", Some(bot), Some(body))
            .await;
        assert!((200..300).contains(&status), "{status}: {answer}");
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

    /// A Socket.IO connection to the sender with `token` in the handshake.
    pub async fn socket(&self, token: &str) -> Client {
        Client::connect(&self.sender, &json!({"token": token}), "")
            .await
            .expect("socket")
    }

    /// The database's bytes on disk.
    pub fn db_bytes(&self) -> Vec<u8> {
        crate::db_bytes(&self.dir)
    }
}

impl std::ops::Deref for TestSystem {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
