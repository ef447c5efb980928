//! The call center (port 8000): the seed's Socket.IO protocol and REST API for consoles, the routing
//! behind it (longest-idle agent, ring timeout, queue), and the phone system's side: calls in through a
//! Zammad-compatible Generic-CTI webhook, and a webhook out when a console answers or rejects. The web
//! console itself is served here too (`switchboard-console`), so agents open one address.

mod callbacks;
mod cti;
mod customers;
mod engine;
mod error;
mod outbox;
mod outcomes;
mod phone;
mod reports;
mod rest;
mod socket;
mod webhook;

use axum::extract::FromRef;
use socketioxide::SocketIo;
use switchboard_realtime::EventFeed;
use switchboard_storage::{StorageError, Store};
use switchboard_web::RoleShell;
use switchboard_web::openapi::{OpenApiRouter, routes, utoipa};

pub use engine::{CallCenterOptions, CtiReply, Engine};
pub use error::CallCenterError;
pub use webhook::PhoneSystemNotice;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// The live floor last read, shared by the supervisors asking (`GET /api/floor`).
    pub floor: reports::FloorCache,
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
        if engine.webhook().is_enabled() {
            outbox::start(engine.clone());
        }
        if engine.store().keep_call_stats().await? {
            tracing::info!(
                "the daily call sums were made again from the calls (new time zone or service level)"
            );
        }
        Ok(Self {
            engine,
            floor: reports::FloorCache::default(),
        })
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
#[openapi(
    info(
        title = "Switchboard Call Center",
        description = "The call center: agents, customers, calls and blocked numbers for consoles, and \
            the phone system's CTI webhook. Answers use camelCase names, as the seed's guide does. \
            Consoles authenticate with their login's session cookie or a bearer token (bot tokens are \
            refused); the phone system puts its token in the webhook's path. Every `/api/…` path is \
            also served as `/api/v1/…`. The same actions and the call events stream over Socket.IO \
            on this port (docs/protocol.md)."
    ),
    tags(
        (name = "agents", description = "Who takes calls: their status (theirs) and state (the system's)"),
        (name = "call center", description = "The call center at a glance"),
        (name = "calls", description = "The call log, and answering or ending a call without a socket"),
        (name = "customers", description = "Callers and writers: found by any spelling of their number or name, with the fields a business defines, merged when they are one person, in and out of CSV files"),
        (name = "reports", description = "The live floor and the call reports, for supervisors"),
        (name = "blocked numbers", description = "Numbers whose calls are refused"),
        (name = "phone system", description = "Calls in: Zammad's Generic-CTI webhook"),
    )
)]
struct Document;

impl RoleShell for CallCenter {
    type State = AppState;
    const NAME: &'static str = "callcenter";
    const LISTEN_FLAG: &'static str = "--listen (SWITCHBOARD_CALLCENTER_LISTEN)";

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(<Document as utoipa::OpenApi>::openapi())
            .routes(routes!(rest::create_agent))
            .routes(routes!(rest::agents_status))
            .routes(routes!(rest::agents_available))
            .routes(routes!(rest::agent_me))
            .routes(routes!(rest::update_agent))
            .routes(routes!(rest::put_agent_status, rest::post_agent_status))
            .routes(routes!(rest::call_center_status))
            .routes(routes!(customers::customers, customers::create_customer))
            .routes(routes!(customers::search_customers_by_phone))
            .routes(routes!(customers::customer, customers::update_customer))
            .routes(routes!(customers::link_conversation))
            .routes(routes!(customers::merge_customers))
            .routes(routes!(customers::duplicates))
            .routes(routes!(customers::duplicates_of))
            .routes(routes!(customers::mark_distinct))
            .routes(routes!(customers::import_customers))
            .routes(routes!(customers::export_customers))
            .routes(routes!(
                customers::custom_fields,
                customers::create_custom_field
            ))
            .routes(routes!(
                customers::update_custom_field,
                customers::delete_custom_field
            ))
            .routes(routes!(rest::calls))
            .routes(routes!(callbacks::callbacks))
            .routes(routes!(callbacks::close_callback))
            .routes(routes!(rest::call))
            .routes(routes!(reports::floor))
            .routes(routes!(reports::waiting_calls))
            .routes(routes!(reports::call_report))
            .routes(routes!(reports::conversation_report))
            .routes(routes!(
                outcomes::outcome_codes,
                outcomes::create_outcome_code
            ))
            .routes(routes!(outcomes::update_outcome_code))
            .routes(routes!(outcomes::set_call_outcome))
            .routes(routes!(phone::dial))
            .routes(routes!(phone::transfer))
            .routes(routes!(phone::phone_commands))
            .routes(routes!(rest::answer_call))
            .routes(routes!(rest::end_call))
            .routes(routes!(rest::blocked_numbers, rest::block_number))
            .routes(routes!(rest::unblock_number))
            // Zammad's path, `/api/v1/cti/{token}`: versioned paths are routed without their version.
            .routes(routes!(cti::webhook))
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
