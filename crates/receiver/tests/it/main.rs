//! The receiver's integration tests: one binary, a module per concern (see "Test kit" in
//! docs/architecture.md).

mod ingest;
mod realtime;
