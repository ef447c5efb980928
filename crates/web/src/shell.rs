//! The one shape of a role (receiver, sender, call center): its state, its routes and its Socket.IO
//! namespace are its own; the Socket.IO layer, `/healthz` and `/readyz`, the common layers (body
//! limit, rate limits, CORS, tracing) and binding are the shell's, so every role gets them alike.

use crate::openapi::OpenApiRouter;
use crate::{BindError, Server};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use socketioxide::SocketIo;
use std::net::SocketAddr;
use switchboard_storage::Store;

/// What one role gives the shell: only what differs from the others.
pub trait RoleShell {
    /// Shared by every handler of the role; health checks find the store in it.
    type State: Clone + Send + Sync + 'static;

    /// The role's name: its limits are its own, apart from other roles' (on every node, see
    /// [`crate::SharedRates`]).
    const NAME: &'static str;

    /// The option that changes the role's address, named when its port is taken.
    const LISTEN_FLAG: &'static str;

    /// The role's API, each route with its OpenAPI description (health checks, metrics and the
    /// document itself are added by the shell). Starts from the role's own document (title, tags).
    fn routes() -> OpenApiRouter<Self::State>;

    /// The role's OpenAPI 3.1 document, as `/openapi.json` serves it and `switchboard openapi` prints it.
    fn document() -> utoipa::openapi::OpenApi
    where
        Store: FromRef<Self::State>,
    {
        let (_, doc) = crate::openapi::with_shared_routes(Self::routes()).split_for_parts();
        crate::openapi::finish(doc)
    }

    /// Sets up the role's Socket.IO namespace; `cors_origins` are the pages besides the role's own
    /// that may connect with the browser's session cookie.
    fn sockets(io: &SocketIo, state: Self::State, cors_origins: &[String]);

    /// Routes with no need of the state, served beside the API (the call center's web console).
    fn pages(_state: &Self::State) -> Router {
        Router::new()
    }
}

/// The role's routes and Socket.IO endpoint, wrapped in the layers every role has, ready to serve.
pub fn assemble<R>(state: R::State, cors_origins: &[String]) -> (Router, SocketIo)
where
    R: RoleShell,
    Store: FromRef<R::State>,
{
    let (socket_layer, io) = crate::socket_io();
    R::sockets(&io, state.clone(), cors_origins);
    let pages = R::pages(&state);
    let shared = crate::SharedRates::of(&Store::from_ref(&state), R::NAME);
    let (routes, doc) = crate::openapi::with_shared_routes(R::routes()).split_for_parts();
    let document = crate::openapi::Served::new(&crate::openapi::finish(doc));
    let routes = routes
        .route(
            "/openapi.json",
            get(move || async move { document.answer() }),
        )
        .with_state(state)
        .merge(switchboard_console::docs_routes())
        .merge(pages);
    let router = crate::with_common_layers(routes, socket_layer, cors_origins);
    let router = crate::with_shared_rates(router, shared).layer(
        axum::middleware::from_fn_with_state(R::NAME, crate::metrics::count_requests),
    );
    (router, io)
}

/// Binds the role at `addr`: a [`Server`] that exists (and knows its port) before it runs.
pub async fn bind_role<R>(
    addr: SocketAddr,
    state: R::State,
    cors_origins: &[String],
) -> Result<Server, BindError>
where
    R: RoleShell,
    Store: FromRef<R::State>,
{
    let (router, io) = assemble::<R>(state, cors_origins);
    Server::bind(addr, R::LISTEN_FLAG, router, io).await
}

/// What [`role_entry_points`] names, whatever the calling crate imports.
#[doc(hidden)]
pub mod reexport {
    pub use axum::Router;
    pub use socketioxide::SocketIo;
    pub use std::net::SocketAddr;
}

/// A role's entry points as the binary, the tests and the benchmarks call them, both the shell's:
/// `router(state, cors_origins)` (routes and Socket.IO, to serve on a listener bound already) and
/// `Role::bind(addr, state, cors_origins)`.
#[macro_export]
macro_rules! role_entry_points {
    ($role:ident) => {
        /// The role's routes and its Socket.IO endpoint, ready to serve.
        pub fn router(
            state: <$role as $crate::RoleShell>::State,
            cors_origins: &[String],
        ) -> (
            $crate::shell::reexport::Router,
            $crate::shell::reexport::SocketIo,
        ) {
            $crate::assemble::<$role>(state, cors_origins)
        }

        impl $role {
            /// Binds the role: a server that exists (and knows its port) before it runs.
            pub async fn bind(
                addr: $crate::shell::reexport::SocketAddr,
                state: <$role as $crate::RoleShell>::State,
                cors_origins: &[String],
            ) -> Result<$crate::Server, $crate::BindError> {
                $crate::bind_role::<$role>(addr, state, cors_origins).await
            }
        }
    };
}
