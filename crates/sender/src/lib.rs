//! The API Sender: the console's and integrators' Facebook API, logins and administration, and the
//! commands it hands to bots over Socket.IO, never lost.
//!
//! Consoles connect to this role's Socket.IO to receive every event (the receiver's, forwarded through
//! the shared event log, and this role's status changes), resumable from their last event id. Bots
//! connect with their bot token to receive `send_message_command` and `post_news_feed_command`.

mod access;
mod admin;
mod attachments;
mod auth;
mod bots;
mod comments;
mod consoles;
mod delivered;
mod inbox;
mod limiter;
mod presence;
mod socket;
mod teamwork;

use axum::extract::FromRef;

use socketioxide::SocketIo;
use std::time::Duration;
use switchboard_realtime::EventFeed;
use switchboard_storage::{Cipher, NodeId, Store};
use switchboard_web::RoleShell;
use switchboard_web::openapi::{OpenApiRouter, routes, utoipa};

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
    /// How long an agent's consoles may all be gone before, on pages that ask for it, their open
    /// conversations go back to the queue: a reload or a short network loss is not leaving.
    pub offline_grace: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            session_lifetime: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            command_poll: Duration::from_secs(5),
            presence_heartbeat: Duration::from_secs(5),
            presence_timeout: Duration::from_secs(30),
            offline_grace: Duration::from_secs(60),
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
    consoles: consoles::ConsoleRegistry,
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
            consoles: consoles::ConsoleRegistry::default(),
        };
        tokio::spawn(presence::heartbeat(&state));
        tokio::spawn(teamwork::wake_snoozes(&state));
        tokio::spawn(attachments::forget_unsent(&state));
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
#[openapi(
    info(
        title = "Switchboard API Sender",
        description = "The console's API: logins, accounts, the inboxes, replies and posts sent \
            through the bots (commands stored before the answer, delivered until acknowledged), \
            users and tokens. A console logs in (`POST /api/auth/login`) and is then known by its \
            HttpOnly session cookie; integrations use an API token (`Authorization: Bearer …`). \
            Bots read their account here and take their commands over Socket.IO on this port \
            (docs/protocol.md)."
    ),
    tags(
        (name = "auth", description = "Logging in and out"),
        (name = "accounts", description = "The Facebook accounts and their bots"),
        (name = "inbox", description = "Conversations, messages and notifications"),
        (name = "sending", description = "Replies and posts, sent through the account's bot"),
        (name = "comments", description = "Comments under a page's posts: answered under them, hidden, shown again or deleted through the page's bot"),
        (name = "team", description = "Who owns each conversation, its state, labels and private notes"),
        (name = "access", description = "Teams, and who may see which account (admins)"),
        (name = "administration", description = "Users, tokens and accounts (admins and integrators' tokens)"),
        (name = "bots", description = "What a bot reads of its own account")
    )
)]
struct Document;

impl RoleShell for Sender {
    type State = AppState;
    const NAME: &'static str = "sender";
    const LISTEN_FLAG: &'static str = "--listen (SWITCHBOARD_SENDER_LISTEN)";

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(<Document as utoipa::OpenApi>::openapi())
            // The login's body is two short strings: a smaller limit than the other routes'.
            .routes({
                let (schemas, paths, login) = routes!(auth::login);
                (
                    schemas,
                    paths,
                    switchboard_web::json::small_body(login, auth::LOGIN_BODY_LIMIT),
                )
            })
            .routes(routes!(auth::logout))
            .routes(routes!(auth::me))
            .routes(routes!(inbox::accounts, admin::create_account))
            .routes(routes!(admin::update_account, admin::delete_account))
            .routes(routes!(admin::create_bot_token))
            .routes(routes!(access::access, access::set_access))
            .routes(routes!(access::teams, access::create_team))
            .routes(routes!(access::update_team, access::delete_team))
            .routes(routes!(inbox::conversations_by_id))
            .routes(routes!(inbox::conversations, teamwork::update))
            .routes(routes!(teamwork::take))
            .routes(routes!(teamwork::notes, teamwork::add_note))
            .routes(routes!(teamwork::inbox))
            .routes(routes!(teamwork::counts))
            .routes(routes!(teamwork::members))
            .routes(routes!(teamwork::set_assignment))
            // A file is larger than a JSON body may be.
            .routes({
                let (schemas, paths, upload) = routes!(attachments::upload);
                (
                    schemas,
                    paths,
                    switchboard_web::json::small_body(
                        upload,
                        switchboard_domain::attachments::MAX_ATTACHMENT_BYTES,
                    ),
                )
            })
            .routes(routes!(attachments::download))
            .routes(routes!(teamwork::canned_responses, teamwork::create_canned))
            .routes(routes!(teamwork::update_canned, teamwork::delete_canned))
            .routes(routes!(teamwork::labels, teamwork::create_label))
            .routes(routes!(teamwork::update_label, teamwork::delete_label))
            .routes(routes!(inbox::mark_read))
            .routes(routes!(inbox::messages))
            .routes(routes!(inbox::retry_message))
            .routes(routes!(comments::reply))
            .routes(routes!(comments::private_reply))
            .routes(routes!(comments::moderate))
            .routes(routes!(comments::feed_post))
            .routes(routes!(inbox::send_message))
            .routes(routes!(inbox::post_to_facebook))
            .routes(routes!(inbox::posts))
            .routes(routes!(inbox::retry_post))
            .routes(routes!(inbox::notifications))
            .routes(routes!(bots::own_account))
            .routes(routes!(admin::users, admin::create_user))
            .routes(routes!(admin::update_user))
            .routes(routes!(admin::tokens, admin::create_token))
            .routes(routes!(admin::revoke_token))
    }

    fn sockets(io: &SocketIo, state: AppState, cors_origins: &[String]) {
        socket::attach(io, state, cors_origins);
    }
}

switchboard_web::role_entry_points!(Sender);
