//! `switchboard bot` as an operator runs it: it explains itself, refuses a bad token or an account it
//! is not for with one clear line and a non-zero exit, and with the `sim` driver brings messages in
//! through a real `switchboard serve`.

use crate::{SERVE, add_bot, login, sigterm, start, switchboard, wait_for_exit};
use std::process::Stdio;
use std::time::Duration;
use switchboard_testkit::http::Api;

/// Runs `switchboard bot ARGS` to its end (at most 20 s) and returns (exit code, stderr).
fn bot_exit(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = switchboard(dir)
        .arg("bot")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    let output = child.wait_with_output().expect("output");
    (
        status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_explains_every_option() {
    let output = std::process::Command::new(crate::BIN)
        .args(["bot", "--help"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--token",
        "--driver",
        "--receiver-url",
        "--sender-url",
        "--accounts-file",
        "--state-dir",
        "--sim-messages-per-minute",
        "--app-secret",
        "--verify-token",
        "--webhook-listen",
        "--graph-url",
        "--backfill-days",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
}

#[tokio::test]
async fn a_bad_token_or_another_account_ends_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page1");
    let running = start(switchboard(dir.path()), &SERVE, 3);
    let sender = running.url("sender").to_owned();
    let receiver = running.url("receiver").to_owned();
    let urls = [
        "--sender-url",
        sender.as_str(),
        "--receiver-url",
        receiver.as_str(),
    ];

    // `switchboard bot ARGS --sender-url … --receiver-url …`
    let bot_exit_with_urls = |args: &[&str]| bot_exit(dir.path(), &[args, &urls[..]].concat());

    for (account, token, wanted) in [
        ("page1", "sbb_not_a_real_token", "unknown or revoked"),
        (
            "no-such-account",
            token.as_str(),
            "unknown account `no-such-account`",
        ),
    ] {
        let (code, stderr) = bot_exit_with_urls(&[account, "--driver", "sim", "--token", token]);
        assert_eq!(code, Some(1));
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(wanted), "{stderr}");
    }

    let (code, stderr) = bot_exit(dir.path(), &["page1", "--driver", "sim"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no bot token"), "{stderr}");

    // A seed-style user_accounts.json names the account; its entry must exist.
    std::fs::write(
        dir.path().join("user_accounts.json"),
        r#"{"account1": {"user_id_chat": "page1", "page_access_token": "EAAB"}}"#,
    )
    .expect("write");
    let (code, stderr) = bot_exit_with_urls(&[
        "account9",
        "--accounts-file",
        "user_accounts.json",
        "--driver",
        "sim",
        "--token",
        token.as_str(),
    ]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unknown account `account9`"), "{stderr}");
}

#[tokio::test]
async fn a_sim_bot_process_brings_messages_into_the_crm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page1");
    std::fs::write(
        dir.path().join("user_accounts.json"),
        r#"{"account1": {"user_id_chat": "page1", "name": "Shop Hoa"}}"#,
    )
    .expect("write");
    let running = start(switchboard(dir.path()), &SERVE, 3);
    let (sender, receiver) = (
        running.url("sender").to_owned(),
        running.url("receiver").to_owned(),
    );
    let mut bot = switchboard(dir.path());
    bot.env("SWITCHBOARD_BOT_TOKEN", &token).args([
        "bot",
        "account1",
        "--accounts-file",
        "user_accounts.json",
        "--driver",
        "sim",
        "--sim-messages-per-minute",
        "600",
        "--sender-url",
        &sender,
        "--receiver-url",
        &receiver,
    ]);
    let mut child = bot
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn bot");

    let http = reqwest::Client::new();
    let admin = login(&http, &sender).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let api = Api::new(&sender);
        let (_, page) = api
            .call("GET", "/api/conversations/page1", Some(&admin), None)
            .await;
        let (_, accounts) = api
            .call("GET", "/api/fb_accounts", Some(&admin), None)
            .await;
        let online = accounts["data"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["user_id_chat"] == "page1" && a["bot_status"] == "online");
        if page["data"]["items"]
            .as_array()
            .is_some_and(|items| items.len() >= 2)
            && online
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no simulated messages arrived: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        dir.path().join("data/bots/page1.db").exists(),
        "the spool lives in the state directory"
    );
    // SIGTERM: a clean stop, status 0.
    sigterm(&child);
    let exit = wait_for_exit(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}
