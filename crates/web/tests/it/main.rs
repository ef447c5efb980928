//! The web plumbing's integration tests: one binary (see "Test kit" in docs/architecture.md).

mod limits;
mod request_ids;
