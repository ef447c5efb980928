//! The call center (port 8000): the seed's Socket.IO protocol and REST API for consoles, the routing
//! behind it (longest-idle agent, ring timeout, queue), and the phone system's side: calls in through a
//! Zammad-compatible Generic-CTI webhook, and a webhook out when a console answers or rejects. The web
//! console itself is served here too (`switchboard-console`), so agents open one address.

mod cti;
mod engine;
mod rest;
mod socket;
mod webhook;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, patch, post, put};
use socketioxide::SocketIo;
use std::net::SocketAddr;
use switchboard_realtime::EventFeed;
use switchboard_storage::{StorageError, Store};
use switchboard_web::{BindError, Server};

pub use engine::{CallCenterOptions, CtiReply, Engine};
pub use webhook::PhoneSystemNotice;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
}

impl AppState {
    /// The state of a call center, with the ring timers of calls still ringing from before restarted.
    pub async fn start(
        store: Store,
        feed: EventFeed,
        options: CallCenterOptions,
    ) -> Result<Self, StorageError> {
        let engine = Engine::new(store, feed, options);
        engine.resume().await?;
        Ok(Self { engine })
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.engine.store().clone()
    }
}

pub fn router(state: AppState, cors_origins: &[String]) -> (Router, SocketIo) {
    let (socket_layer, io) = switchboard_web::socket_io();
    socket::attach(&io, state.clone(), cors_origins);
    let api = Router::new()
        .route("/api/agents", post(rest::create_agent))
        .route("/api/agents/status", get(rest::agents_status))
        .route("/api/agents/available", get(rest::agents_available))
        .route("/api/agents/me", get(rest::agent_me))
        .route("/api/agents/{id}", patch(rest::update_agent))
        .route(
            "/api/agents/{id}/status",
            put(rest::set_agent_status).post(rest::set_agent_status),
        )
        .route("/api/call-center/status", get(rest::call_center_status))
        .route(
            "/api/customers",
            get(rest::customers).post(rest::create_customer),
        )
        .route(
            "/api/customers/search",
            post(rest::search_customers_by_phone),
        )
        .route(
            "/api/customers/{id}",
            get(rest::customer).patch(rest::update_customer),
        )
        .route(
            "/api/customers/{id}/conversations",
            post(rest::link_conversation),
        )
        .route("/api/calls", get(rest::calls))
        .route("/api/calls/{call_id}", get(rest::call))
        .route("/api/calls/{call_id}/answer", post(rest::answer_call))
        .route("/api/calls/{call_id}/end", post(rest::end_call))
        .route(
            "/api/blocked-numbers",
            get(rest::blocked_numbers).post(rest::block_number),
        )
        .route(
            "/api/blocked-numbers/{number}",
            axum::routing::delete(rest::unblock_number),
        )
        .route("/api/v1/cti/{token}", post(cti::webhook))
        .route("/healthz", get(switchboard_web::healthz))
        .route("/readyz", get(switchboard_web::readyz))
        .with_state(state.clone())
        .merge(switchboard_console::routes(
            state.engine.options().console.clone(),
        ));
    (
        switchboard_web::with_common_layers(api, socket_layer, cors_origins),
        io,
    )
}

/// Binds the call-center role: a [`Server`] that exists (and knows its port) before it runs.
pub struct CallCenter;

impl CallCenter {
    pub async fn bind(
        addr: SocketAddr,
        state: AppState,
        cors_origins: &[String],
    ) -> Result<Server, BindError> {
        let (router, io) = router(state, cors_origins);
        Server::bind(addr, "--listen (SWITCHBOARD_CALLCENTER_LISTEN)", router, io).await
    }
}
