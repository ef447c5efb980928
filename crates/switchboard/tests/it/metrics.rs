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
    // per-account gauges (accounts are what an admin created, not what callers send).
    let elsewhere: String = after
        .lines()
        .filter(|line| {
            !line.starts_with("switchboard_bot_connected{")
                && !line.starts_with("switchboard_command_oldest_unacknowledged_seconds{")
        })
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

/// The value of `series` in `text` once `series` is present (a sweep has reported it).
fn reported(text: &str, series: &str) -> Option<f64> {
    text.contains(series).then(|| sample(text, series))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_commands_and_calls_are_counted_as_they_happen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot_token = add_bot(dir.path(), "page-work");
    let pbx = crate::cli(dir.path(), &["tokens", "add", "pbx"]);
    let node = start(switchboard(dir.path()), &SERVE, 3);
    let (receiver, sender, callcenter) = (
        node.url("receiver").to_owned(),
        node.url("sender").to_owned(),
        node.url("callcenter").to_owned(),
    );
    let http = reqwest::Client::new();

    // Events: each one appended is, on this single node, read by the feed once.
    let appended = "switchboard_events_appended_total";
    let delivered = "switchboard_event_delivery_seconds_count";
    let before = scrape(&http, &receiver).await;
    let body = json!({"user_id_chat": "page-work", "messages": messages("w", 1, 2)});
    post_json(
        &http,
        &format!("{receiver}/api/bot/new_messages"),
        &bot_token,
        body,
    )
    .await;
    let moved = |text: &str, series: &str| sample(text, series) - sample(&before, series);
    until_text(
        &http,
        &receiver,
        "the feed reading the new events",
        |text| moved(text, appended) >= 1.0 && moved(text, delivered) == moved(text, appended),
    )
    .await;

    // Commands: pending while the bot is away, delivered, then gone once acknowledged.
    let admin = crate::login(&http, &sender).await;
    let page = http
        .get(format!("{sender}/api/conversations/page-work"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("conversations");
    let page: Value = page.json().await.expect("json");
    let conversation = page["data"]["items"][0]["id"].as_i64().expect("id");
    post_json(
        &http,
        &format!("{sender}/api/send_message_from_crm"),
        &admin,
        json!({"conversation_id": conversation, "text": "Dạ shop chào bạn"}),
    )
    .await;
    let state = |state: &str| format!(r#"switchboard_commands{{state="{state}"}}"#);
    let oldest = r#"switchboard_command_oldest_unacknowledged_seconds{account="page-work"}"#;
    until_text(&http, &sender, "a pending command waiting", |text| {
        reported(text, &state("pending")) == Some(1.0)
            && reported(text, oldest).is_some_and(|age| age > 0.0)
    })
    .await;
    let mut bot = Client::connect(&sender, &json!({"token": bot_token}), "")
        .await
        .expect("the bot connects");
    let command = crate::next_named(&mut bot, "send_message_command").await;
    let command_id = command["command_id"]
        .as_str()
        .expect("command id")
        .to_owned();
    until(&http, &sender, &state("delivered"), 1.0).await;
    bot.emit("command_ack", &json!({"command_id": command_id}))
        .expect("ack");
    until_text(&http, &sender, "the command acknowledged", |text| {
        reported(text, &state("delivered")) == Some(0.0)
            && reported(text, &state("pending")) == Some(0.0)
            && reported(text, oldest) == Some(0.0)
    })
    .await;
    bot.close();

    // Calls: offered and waiting (nobody is available), then missed when the caller gives up.
    let before = scrape(&http, &callcenter).await;
    let cti = |form: &'static str| {
        http.post(format!("{callcenter}/api/v1/cti/{pbx}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let answer = cti("event=newCall&from=0912345678&to=1900&direction=in&callId=WAITS")
        .await
        .expect("cti");
    assert!(answer.status().is_success());
    let wait = "switchboard_call_oldest_wait_seconds";
    let offered = "switchboard_calls_offered_total";
    let text = until_text(&http, &callcenter, "a caller waiting", |text| {
        sample(text, wait) > 0.0
    })
    .await;
    assert_eq!(sample(&text, offered) - sample(&before, offered), 1.0);
    let answer = cti("event=hangup&callId=WAITS&cause=cancel")
        .await
        .expect("cti");
    assert!(answer.status().is_success());
    let missed = "switchboard_calls_missed_total";
    let text = until_text(&http, &callcenter, "nobody waiting any more", |text| {
        reported(text, wait) == Some(0.0)
    })
    .await;
    assert_eq!(sample(&text, missed) - sample(&before, missed), 1.0);
    let answered = "switchboard_calls_answered_total";
    assert_eq!(sample(&text, answered), sample(&before, answered));
}

#[tokio::test]
async fn metrics_on_a_listener_of_their_own_leave_the_roles_ports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args: Vec<&str> = SERVE
        .iter()
        .copied()
        .chain(["--metrics-listen", "127.0.0.1:0"])
        .collect();
    let node = start(switchboard(dir.path()), &args, 4);
    let http = reqwest::Client::new();
    let text = scrape(&http, node.url("metrics")).await;
    assert!(text.contains("switchboard_calls_offered_total"), "{text}");
    for role in ["receiver", "sender", "callcenter"] {
        let answer = http
            .get(format!("{}/metrics", node.url(role)))
            .send()
            .await
            .expect("get");
        assert_eq!(answer.status(), 404, "{role}");
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found", "{role}");
    }
    // Scrapes of its own port are counted under a role of their own.
    let text = scrape(&http, node.url("metrics")).await;
    assert!(
        text.contains(r#"switchboard_http_requests_total{role="metrics",route="/metrics",method="GET",status="200"}"#),
        "{text}"
    );
}
