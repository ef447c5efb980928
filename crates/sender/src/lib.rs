//! The API Sender: the console's and integrators' Facebook API, logins and administration, and the
//! commands it hands to bots over Socket.IO, never lost.
//!
//! Consoles connect to this role's Socket.IO to receive every event (the receiver's, forwarded through
//! the shared event log, and this role's status changes), resumable from their last event id. Bots
//! connect with their bot token to receive `send_message_command` and `post_news_feed_command`.

mod admin;
mod auth;
mod bots;
mod delivered;
mod inbox;
mod limiter;
mod presence;
mod socket;

use axum::extract::FromRef;
use axum::routing::{delete, get, patch, post};
use socketioxide::SocketIo;
use std::time::Duration;
use switchboard_realtime::EventFeed;
use switchboard_storage::{Cipher, NodeId, Store};
use switchboard_web::RoleShell;
use switchboard_web::openapi::{OpenApiRouter, utoipa};

pub use bots::BotRegistry;

/// Settings of this role.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// How long a console login lasts.
    pub session_lifetime: Duration,
    /// Mark the session cookie `Secure` (when the console is served over HTTPS).
    pub secure_cookies: bool,
    /// How often to look for commands even when nothing said one was queued: a safety sweep. Commands
    /// queued here wake the bot's connection at once, and those queued by other processes or nodes
    /// through the event log's feed.
    pub command_poll: Duration,
    /// How often this node records that it lives, with the accounts whose bots are connected here.
    pub presence_heartbeat: Duration,
    /// A node whose last heartbeat is older than this is dead: its bots' connections stop counting
    /// for their presence (any sender node's heartbeat forgets them).
    pub presence_timeout: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            session_lifetime: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            command_poll: Duration::from_secs(5),
            presence_heartbeat: Duration::from_secs(5),
            presence_timeout: Duration::from_secs(30),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub feed: EventFeed,
    /// Encrypts account credentials.
    pub cipher: Cipher,
    pub bots: BotRegistry,
    pub options: SenderOptions,
    /// This node, as its bots' connections are recorded (see [`presence::heartbeat`]).
    pub node: NodeId,
    limiter: limiter::LoginLimiter,
    delivered: delivered::DeliveredMarks,
}

impl AppState {
    /// The sender's state as a new node: starts its presence heartbeat and its writer of delivered
    /// marks, which stop when the last clone of the state is dropped.
    pub fn new(store: Store, feed: EventFeed, cipher: Cipher, options: SenderOptions) -> Self {
        let state = Self {
            limiter: limiter::LoginLimiter::new(store.shared_limits()),
            delivered: delivered::DeliveredMarks::start(store.clone()),
            store,
            feed,
            cipher,
            bots: BotRegistry::default(),
            options,
            node: NodeId::random(),
        };
        tokio::spawn(presence::heartbeat(&state));
        state
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

/// The sender role (see [`switchboard_web::RoleShell`]).
pub struct Sender;

/// This role's OpenAPI document, completed by the shell (`/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "Switchboard API Sender",
    description = "The console's API: logins, accounts, the inboxes, replies and posts sent through the bots (commands that are never lost), users and tokens. Routes listed here are documented; the rest of this role's routes are in docs/protocol.md until they are described here."
))]
struct Document;

impl RoleShell for Sender {
    type State = AppState;
    const NAME: &'static str = "sender";
    const LISTEN_FLAG: &'static str = "--listen (SWITCHBOARD_SENDER_LISTEN)";

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(<Document as utoipa::OpenApi>::openapi())
            .route(
                "/api/auth/login",
                switchboard_web::json::small_body(post(auth::login), auth::LOGIN_BODY_LIMIT),
            )
            .route("/api/auth/logout", post(auth::logout))
            .route("/api/auth/me", get(auth::me))
            .route(
                "/api/fb_accounts",
                get(inbox::accounts).post(admin::create_account),
            )
            .route(
                "/api/fb_accounts/{user_id_chat}",
                patch(admin::update_account).delete(admin::delete_account),
            )
            .route(
                "/api/fb_accounts/{user_id_chat}/bot_token",
                post(admin::create_bot_token),
            )
            .route("/api/conversations", get(inbox::conversations_by_id))
            .route("/api/conversations/{id}", get(inbox::conversations))
            .route("/api/conversations/{id}/read", post(inbox::mark_read))
            .route("/api/messages/{conversation_id}", get(inbox::messages))
            .route(
                "/api/messages/{message_id}/retry",
                post(inbox::retry_message),
            )
            .route("/api/send_message_from_crm", post(inbox::send_message))
            .route("/api/post_to_facebook", post(inbox::post_to_facebook))
            .route("/api/posts/{id}", get(inbox::posts))
            .route("/api/posts/{id}/retry", post(inbox::retry_post))
            .route(
                "/api/notifications/{user_id_chat}",
                get(inbox::notifications),
            )
            .route("/api/bot/account", get(bots::own_account))
            .route("/api/users", get(admin::users).post(admin::create_user))
            .route("/api/users/{id}", patch(admin::update_user))
            .route("/api/tokens", get(admin::tokens).post(admin::create_token))
            .route("/api/tokens/{id}", delete(admin::revoke_token))
    }

    fn sockets(io: &SocketIo, state: AppState, cors_origins: &[String]) {
        socket::attach(io, state, cors_origins);
    }
}

switchboard_web::role_entry_points!(Sender);
