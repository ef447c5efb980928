//! HTTP plumbing every role shares, written once: the error type and its mapping to responses, the JSON
//! body extractor that names the bad field, bearer-token authentication, binding a listener with a
//! useful message when the port is taken, graceful shutdown, and `/healthz`.

mod auth;
mod bind;
mod client;
mod cors;
mod error;
mod extract;
mod health;
pub mod json;
pub mod limits;
pub mod ratelimit;
mod server;
mod shutdown;

pub use auth::{
    Authenticated, SESSION_COOKIE, bearer_token, cookie_in, require_call_center_reader,
    require_console, session_cookie,
};
pub use bind::{BindError, bind};
pub use client::ClientAddr;
pub use cors::cors;
pub use error::ApiError;
pub use extract::{HttpTrace, PathParam, QueryParams, http_trace, path_id, redact_path};
pub use health::{healthz, readyz};
pub use json::{JsonBody, ok};
pub use limits::{IpNet, Limits, Rate, RateLimits};
pub use server::{SOCKET_MAX_MESSAGE, Server, socket_io, with_common_layers};
pub use shutdown::Shutdown;
