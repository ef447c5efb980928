//! The sender's integration tests: one binary, a module per concern (see "Test kit" in
//! docs/architecture.md).

mod access;
mod accounts;
mod assignment;
mod attachments;
mod auth;
mod commands;
mod inbox;
mod nodes;
mod socket_cookie;
mod teamwork;
