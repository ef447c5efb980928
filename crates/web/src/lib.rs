//! HTTP plumbing every role shares, written once: the error type and its mapping to responses, the JSON
//! body extractor that names the bad field, bearer-token authentication, binding a listener with a
//! useful message when the port is taken, graceful shutdown, and `/healthz`.

mod auth;
mod bind;
mod error;
mod health;
pub mod json;
mod shutdown;

pub use auth::{Authenticated, bearer_token};
pub use bind::{BindError, bind};
pub use error::ApiError;
pub use health::healthz;
pub use json::{JsonBody, ok};
pub use shutdown::Shutdown;
