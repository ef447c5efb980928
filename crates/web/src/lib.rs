//! HTTP plumbing every role shares, written once: the role shell that assembles a role, the error type
//! and its mapping to responses and Socket.IO replies, the extractors that say in a handler's signature
//! who may call it and which id it takes, the JSON body extractor that names the bad field, binding a
//! listener with a useful message when the port is taken, graceful shutdown, and `/healthz`.

mod auth;
mod bind;
mod client;
mod cors;
mod error;
mod extract;
mod health;
pub mod json;
pub mod limits;
mod metrics;
pub mod openapi;
pub mod ratelimit;
mod request_id;
mod rights;
mod server;
#[doc(hidden)]
pub mod shell;
mod shutdown;
mod sio;
mod versions;

pub use auth::{Authenticated, SESSION_COOKIE, bearer_token, cookie_in, session_cookie};
pub use bind::{BindError, bind};
pub use client::ClientAddr;
pub use cors::cors;
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use extract::{
    DEFAULT_PAGE, HttpTrace, Id, MAX_PAGE, Paging, PathId, PathParam, QueryParams, http_trace,
    parse_id, redact_path,
};
pub use health::{healthz, readyz};
pub use json::{Answer, JsonBody, RawBody, ok};
pub use limits::{IpNet, Limits, Rate, RateLimits};
pub use metrics::bind_metrics;
pub use ratelimit::{AuthOutcome, SharedRates, with_shared_rates};
pub use request_id::{MAX_REQUEST_ID, REQUEST_ID, RequestId, record_principal};
pub use rights::{Admin, Bot, BotsOnly, CallCenterReader, Console, Supervisor, Viewer};
pub use server::{SOCKET_MAX_MESSAGE, Server, socket_io, with_common_layers};
pub use shell::{RoleShell, assemble, bind_role};
pub use shutdown::Shutdown;
pub use sio::{SocketFailure, reply};
pub use versions::RequestedPath;
