//! The API Receiver: where bots push what they collect from Facebook.
//!
//! `POST /api/bot/register`, `/api/bot/new_messages`, `/api/bot/new_notifications` and
//! `/api/bot/status_update` (bodies in `docs/protocol.md`). A 2xx means the data is committed together
//! with the event that announces it; the same events stream live over Socket.IO on this port to every
//! client that may see them, resumable from the last event id a client has.

mod handlers;

use axum::extract::FromRef;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use switchboard_realtime::EventFeed;
use switchboard_storage::Store;
use switchboard_web::RoleShell;
use switchboard_web::openapi::{OpenApiRouter, routes, utoipa};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub feed: EventFeed,
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

/// The receiver's OpenAPI document, completed by the shell (`/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Switchboard API Receiver",
        description = "Where bots push what they collect from Facebook. A 2xx means the data is \
            committed with the event that announces it. Every endpoint takes a bot token \
            (`Authorization: Bearer …`) and only for the bot's own account. The events stream live \
            over Socket.IO on this port (docs/protocol.md)."
    ),
    tags((name = "bots", description = "Data pushed by bots"))
)]
struct Document;

/// The receiver role (see [`switchboard_web::RoleShell`]).
pub struct Receiver;

impl RoleShell for Receiver {
    type State = AppState;
    const NAME: &'static str = "receiver";
    const LISTEN_FLAG: &'static str = "--listen (SWITCHBOARD_RECEIVER_LISTEN)";

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(<Document as utoipa::OpenApi>::openapi())
            .routes(routes!(handlers::register))
            .routes(routes!(handlers::new_messages))
            .routes(routes!(handlers::new_notifications))
            .routes(routes!(handlers::new_comments))
            .routes(routes!(handlers::status_update))
    }

    /// Every client that may see an event receives it as it is committed.
    fn sockets(io: &SocketIo, state: AppState, cors_origins: &[String]) {
        let feed = state.feed;
        switchboard_realtime::namespace(
            io,
            "receiver",
            state.store,
            cors_origins,
            |_, _| Ok(()),
            move |socket: SocketRef| {
                let feed = feed.clone();
                async move {
                    tracing::debug!(sid = %socket.id, "socket connected");
                    let closed = switchboard_realtime::closed_signal(&socket);
                    switchboard_realtime::stream_events(socket, feed, closed);
                }
            },
        );
    }
}

switchboard_web::role_entry_points!(Receiver);
