//! What the tests of every crate share, and the benchmarks too: a store in a temporary directory, the
//! roles started on port 0 over it, an HTTP client with login helpers, a Socket.IO helper that waits
//! for the next named event with a deadline, polling with a deadline, and the `switchboard` binary run
//! as an operator runs it.
//!
//! Every role is started here and nowhere else in the tests: when a constructor changes, this crate
//! is the one place to follow it. See "Test kit" in docs/architecture.md.

pub mod bot;
pub mod callcenter;
mod error;
pub mod fixtures_http;
pub mod forwarder;
pub mod haproxy;
pub mod http;
mod postgres;
pub mod process;
pub mod receiver;
pub mod roles;
pub mod sender;
pub mod socket;
mod store;
pub mod wait;

pub use error::KitError;
pub use store::{
    ADMIN_PASSWORD, TempStore, TestDir, api_token, bot_token, db_bytes, db_count, postgres_or_skip,
};
pub use wait::eventually;
