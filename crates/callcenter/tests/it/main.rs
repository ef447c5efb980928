//! The call center's integration tests: one binary, a module per concern (see "Test kit" in
//! docs/architecture.md).

mod callbacks;
mod calls;
mod customers;
mod nodes;
mod openapi;
mod outcomes;
mod phone;
mod reports;
mod rest;
