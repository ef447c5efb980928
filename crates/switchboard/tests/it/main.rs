//! The real `switchboard` binary as an operator runs it: one test binary, a module per concern (see
//! "Test kit" in docs/architecture.md). Only this crate knows where cargo built the binary, so the
//! kit's process helpers get its path here.

mod abuse;
mod bot_process;
mod callcenter_process;
mod console_process;
mod process;
mod sender_process;

use std::path::Path;
use std::process::Command;
use switchboard_testkit::process::Binary;

pub use switchboard_testkit::process::{ADMIN_PASSWORD, Running, SERVE, start};
pub use switchboard_testkit::socket::{next_named, next_named_within};
pub use switchboard_testkit::wait::wait_for_exit;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const SWITCHBOARD: Binary = Binary(BIN);

/// `switchboard` with its database and key in `dir` (see [`Binary::command`]).
pub fn switchboard(dir: &Path) -> Command {
    SWITCHBOARD.command(dir)
}

/// Runs a command-line subcommand and returns what it printed.
pub fn cli(dir: &Path, args: &[&str]) -> String {
    SWITCHBOARD.cli(dir, args)
}

pub fn add_bot(dir: &Path, account: &str) -> String {
    SWITCHBOARD.add_bot(dir, account)
}

/// An admin session on the sender at `sender`.
pub async fn login(http: &reqwest::Client, sender: &str) -> String {
    switchboard_testkit::http::login(http, sender, "admin", ADMIN_PASSWORD).await
}
