//! `GET /metrics` on a real node: Prometheus text whose numbers move with what the node does, with
//! bounded labels only (route patterns, never paths, accounts or tokens).

use crate::{SERVE, add_bot, messages, post_json, start, switchboard};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use switchboard_sioclient::Client;

/// The value of the sample `name{labels}` (labels as written in the text), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(http: &reqwest::Client, base: &str) -> String {
    let answer = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(answer.status(), 200);
    let kind = answer.headers()["content-type"].to_str().expect("ascii");
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    answer.text().await.expect("text")
}

/// Messages `m-1`, `m-2`, `m-3` of the test's page.
fn batch() -> Value {
    json!({"user_id_chat": "page-metrics", "messages": messages("m", 1, 3)})
}

#[tokio::test]
async fn the_numbers_move_with_the_work_and_the_labels_stay_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page-metrics");
    let node = start(switchboard(dir.path()), &SERVE, 3);
    let receiver = node.url("receiver").to_owned();
    let http = reqwest::Client::new();

    let before = scrape(&http, &receiver).await;
    let url = format!("{receiver}/api/bot/new_messages");
    post_json(&http, &url, &token, batch()).await;
    // The same again through the versioned path: all three are duplicates now.
    post_json(
        &http,
        &format!("{receiver}/api/v1/bot/new_messages"),
        &token,
        batch(),
    )
    .await;
    let missing = http
        .get(format!("{receiver}/api/no/such/thing/42"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    let after = scrape(&http, &receiver).await;

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    let posted = r#"switchboard_http_requests_total{role="receiver",route="/api/bot/new_messages",method="POST",status="200"}"#;
    assert_eq!(moved(posted), 2.0, "{after}");
    assert_eq!(
        moved(r#"switchboard_ingested_total{kind="message",result="new"}"#),
        3.0
    );
    assert_eq!(
        moved(r#"switchboard_ingested_total{kind="message",result="duplicate"}"#),
        3.0
    );
    assert_eq!(
        moved(
            r#"switchboard_http_requests_total{role="receiver",route="unmatched",method="GET",status="404"}"#
        ),
        1.0
    );
    assert!(moved(r#"switchboard_write_groups_total{outcome="committed"}"#) >= 1.0);
    assert!(sample(&after, "process_resident_memory_bytes") > 0.0);
    assert!(sample(&after, "process_open_fds") > 0.0);
    // Bounded: no path, message id or token in any label, and an account only as the label of the
    // bots' gauge (accounts are what an admin created, not what callers send).
    let elsewhere: String = after
        .lines()
        .filter(|line| !line.starts_with("switchboard_bot_connected{"))
        .collect();
    for leak in ["page-metrics", "m-1", "/api/no/such", "42\"", &token] {
        assert!(!elsewhere.contains(leak), "{leak} in the metrics");
    }
    assert!(after.trim_end().ends_with("# EOF"));
    // Every role serves the process's metrics.
    for role in ["sender", "callcenter"] {
        let text = scrape(&http, node.url(role)).await;
        assert!(text.contains("switchboard_ingested_total"), "{role}");
    }
}

/// Scrapes `base` until its text meets `condition` (named `what` when it never does, after 20 s).
async fn until_text(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    condition: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(http, base).await;
        if condition(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never happened:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scrapes `base` until `series` reads `value`.
async fn until(http: &reqwest::Client, base: &str, series: &str, value: f64) {
    until_text(http, base, &format!("{series} = {value}"), |text| {
        sample(text, series) == value
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_connection_shows_in_the_gauges_while_it_lasts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = add_bot(dir.path(), "page-gauges");
    let node = start(switchboard(dir.path()), &SERVE, 3);
    let sender = node.url("sender").to_owned();
    let http = reqwest::Client::new();
    let sockets = r#"switchboard_socketio_connections{role="sender",kind="bot"}"#;
    let connected = r#"switchboard_bot_connected{account="page-gauges"}"#;
    // Known before its bot ever connects (the presence heartbeat reports every enabled account).
    until_text(&http, &sender, "the account in the bots' gauge", |text| {
        text.contains(connected)
    })
    .await;
    until(&http, &sender, connected, 0.0).await;

    let bot = Client::connect(&sender, &json!({"token": token}), "")
        .await
        .expect("the bot connects");
    until(&http, &sender, sockets, 1.0).await;
    until(&http, &sender, connected, 1.0).await;
    bot.close();
    until(&http, &sender, sockets, 0.0).await;
    until(&http, &sender, connected, 0.0).await;

    // The call center's gauges are read from the store by its sweep: present, and zero when idle.
    let callcenter = node.url("callcenter").to_owned();
    let waiting = r#"switchboard_calls{state="waiting"}"#;
    let text = until_text(&http, &callcenter, "the call-center gauges", |text| {
        text.contains(waiting)
    })
    .await;
    assert_eq!(sample(&text, waiting), 0.0);
    assert!(
        text.contains(r#"switchboard_agents{status="available",state="idle"}"#),
        "{text}"
    );
}
