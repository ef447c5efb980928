//! The API Receiver: where bots push what they collect from Facebook.
//!
//! `POST /api/bot/register`, `/api/bot/new_messages`, `/api/bot/new_notifications` and
//! `/api/bot/status_update` (bodies in `docs/protocol.md`). A 2xx means the data is committed together
//! with the event that announces it; the same events stream live over Socket.IO on this port to every
//! client that may see them, resumable from the last event id a client has.

mod handlers;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use std::net::SocketAddr;
use std::sync::Arc;
use switchboard_realtime::EventFeed;
use switchboard_storage::Store;
use switchboard_web::{BindError, Server};

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

/// The receiver's routes and its Socket.IO endpoint, ready to serve.
pub fn router(state: AppState, cors_origins: &[String]) -> (Router, SocketIo) {
    let (socket_layer, io) = switchboard_web::socket_io();
    let (store, feed) = (state.store.clone(), state.feed.clone());
    let origins: Arc<[String]> = cors_origins.into();
    io.ns(
        "/",
        (move |socket: SocketRef| {
            let feed = feed.clone();
            async move {
                tracing::debug!(sid = %socket.id, "socket connected");
                let closed = switchboard_realtime::closed_signal(&socket);
                switchboard_realtime::stream_events(socket, feed, closed);
            }
        })
        .with(
            move |socket: SocketRef, TryData(auth): TryData<serde_json::Value>| {
                let (store, origins) = (store.clone(), Arc::clone(&origins));
                async move {
                    switchboard_realtime::authenticate(
                        &store,
                        &socket,
                        auth.ok().as_ref(),
                        &origins,
                    )
                    .await
                }
            },
        ),
    );
    let router = Router::new()
        .route("/api/bot/register", post(handlers::register))
        .route("/api/bot/new_messages", post(handlers::new_messages))
        .route(
            "/api/bot/new_notifications",
            post(handlers::new_notifications),
        )
        .route("/api/bot/status_update", post(handlers::status_update))
        .route("/healthz", get(switchboard_web::healthz))
        .route("/readyz", get(switchboard_web::readyz))
        .with_state(state);
    (
        switchboard_web::with_common_layers(router, socket_layer, cors_origins),
        io,
    )
}

/// Binds the receiver role: a [`Server`] that exists (and knows its port) before it runs.
pub struct Receiver;

impl Receiver {
    pub async fn bind(
        addr: SocketAddr,
        state: AppState,
        cors_origins: &[String],
    ) -> Result<Server, BindError> {
        let (router, io) = router(state, cors_origins);
        Server::bind(addr, "--listen (SWITCHBOARD_RECEIVER_LISTEN)", router, io).await
    }
}
