//! The call center (port 8000): the seed's Socket.IO protocol and REST API for consoles, the routing
//! behind it (longest-idle agent, ring timeout, queue), and the phone system's side: calls in through a
//! Zammad-compatible Generic-CTI webhook, and a webhook out when a console answers or rejects. The web
//! console itself is served here too (`switchboard-console`), so agents open one address.

mod cti;
mod engine;
mod error;
mod rest;
mod socket;
mod webhook;

use axum::extract::FromRef;
use axum::routing::{get, patch, post, put};
use engine::ConsoleAction;
use socketioxide::SocketIo;
use switchboard_realtime::EventFeed;
use switchboard_storage::{StorageError, Store};
use switchboard_web::RoleShell;
use switchboard_web::openapi::{OpenApiRouter, utoipa};

pub use engine::{CallCenterOptions, CtiReply, Engine};
pub use error::CallCenterError;
pub use webhook::PhoneSystemNotice;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
}

impl AppState {
    /// The state of a call center, with the pending ring and wrap-up timers timed and the sweep for
    /// overdue ones (of any node) started.
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

/// The call-center role (see [`switchboard_web::RoleShell`]).
pub struct CallCenter;

/// This role's OpenAPI document, completed by the shell (`/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "Switchboard Call Center",
    description = "The call center: agents, customers, calls and blocked numbers, and the phone system's CTI webhook. Routes listed here are documented; the rest of this role's routes are in docs/protocol.md until they are described here."
))]
struct Document;

impl RoleShell for CallCenter {
    type State = AppState;
    const NAME: &'static str = "callcenter";
    const LISTEN_FLAG: &'static str = "--listen (SWITCHBOARD_CALLCENTER_LISTEN)";

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(<Document as utoipa::OpenApi>::openapi())
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
            .route(
                "/api/calls/{call_id}/answer",
                rest::call_action(ConsoleAction::Answer),
            )
            .route(
                "/api/calls/{call_id}/end",
                rest::call_action(ConsoleAction::End),
            )
            .route(
                "/api/blocked-numbers",
                get(rest::blocked_numbers).post(rest::block_number),
            )
            .route(
                "/api/blocked-numbers/{number}",
                axum::routing::delete(rest::unblock_number),
            )
            // Zammad's path, `/api/v1/cti/{token}`: versioned paths are routed without their version.
            .route("/api/cti/{token}", post(cti::webhook))
    }

    fn sockets(io: &SocketIo, state: AppState, cors_origins: &[String]) {
        socket::attach(io, state, cors_origins);
    }

    /// The web console, so agents open one address.
    fn pages(state: &AppState) -> axum::Router {
        switchboard_console::routes(state.engine.options().console.clone())
    }
}

switchboard_web::role_entry_points!(CallCenter);
