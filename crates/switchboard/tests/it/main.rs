//! The real `switchboard` binary as an operator runs it: one test binary, a module per concern (see
//! "Test kit" in docs/architecture.md). Only this crate knows where cargo built the binary, so the
//! kit's process helpers get its path here.

mod abuse;
mod bot_process;
mod callcenter_process;
mod cluster;
mod console_process;
mod db_backup;
mod db_copy;
mod db_faults;
mod deploy;
mod metrics;
mod process;
mod sender_process;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use switchboard_testkit::TestDir;
use switchboard_testkit::process::Binary;
use tempfile::TempDir;

pub use switchboard_testkit::process::{
    ADMIN_PASSWORD, Running, SERVE, error_line, refused, sigterm, start, start_logging_to,
};
pub use switchboard_testkit::socket::{next_named, next_named_within};
pub use switchboard_testkit::wait::wait_for_exit;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const SWITCHBOARD: Binary = Binary(BIN);

/// `switchboard` with its database and key in `dir` (see [`Binary::command`]).
pub fn switchboard(dir: &Path) -> Command {
    SWITCHBOARD.command(dir)
}

/// `switchboard` on the test's database (see [`Binary::command_on`]): on the PostgreSQL run, a scratch
/// schema several nodes share.
pub fn switchboard_on(dir: &TestDir) -> Command {
    SWITCHBOARD.command_on(dir)
}

/// [`cli`] on the test's database.
pub fn cli_on(dir: &TestDir, args: &[&str]) -> String {
    SWITCHBOARD.cli_on(dir, args)
}

/// Runs a command-line subcommand and returns what it printed.
pub fn cli(dir: &Path, args: &[&str]) -> String {
    SWITCHBOARD.cli(dir, args)
}

pub fn add_bot(dir: &Path, account: &str) -> String {
    SWITCHBOARD.add_bot(dir, account)
}

/// `switchboard ROLE --listen 127.0.0.1:0` over `dir`, once it is ready.
pub fn start_role(dir: &Path, role: &str) -> Running {
    start(switchboard(dir), &[role, "--listen", "127.0.0.1:0"], 1)
}

/// A temporary directory whose `switchboard.toml` holds `toml`.
pub fn dir_with_config(toml: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("switchboard.toml"), toml).expect("write switchboard.toml");
    dir
}

/// POSTs `body` as JSON with `token` as bearer; the call must succeed. Its JSON answer.
pub async fn post_json(http: &reqwest::Client, url: &str, token: &str, body: Value) -> Value {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.expect("json")
}

/// An admin session on the sender at `sender`.
pub async fn login(http: &reqwest::Client, sender: &str) -> String {
    switchboard_testkit::http::login(http, sender, "admin", ADMIN_PASSWORD).await
}

/// What the sender tells a browser asking, from `origin`, whether it may log in.
pub async fn allowed_origin(http: &reqwest::Client, sender: &str, origin: &str) -> Option<String> {
    let response = http
        .request(reqwest::Method::OPTIONS, format!("{sender}/api/auth/login"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight");
    response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `count` incoming messages for a bot to post, ids `PREFIX-N` from `from`, in seven threads.
pub fn messages(prefix: &str, from: usize, count: usize) -> Vec<Value> {
    (from..from + count)
        .map(|i| {
            json!({
                "message_id": format!("{prefix}-{i}"),
                "conversation": {"thread_id": format!("{prefix}-t{}", i % 7), "participant_id": format!("u{}", i % 7)},
                "direction": "in",
                "text": format!("tin nhắn {i}"),
                "sent_at": 1767225600 + i as i64
            })
        })
        .collect()
}
