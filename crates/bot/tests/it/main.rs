//! The bot's integration tests: one binary, a module per driver (see "Test kit" in
//! docs/architecture.md).

mod page;
mod sim;
