//! The console as `switchboard serve` gives it to a browser: on the call center's port, told the ports
//! the receiver and the sender really got, and allowed by their CORS allowlists from its own origin.

use crate::{SERVE, allowed_origin, dir_with_config, refused, start, start_role, switchboard};
use serde_json::{Value, json};
use switchboard_testkit::http::answer;

fn port(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

/// The console's `config.json` as the call center at `callcenter` serves it.
async fn console_config(callcenter: &str) -> Value {
    reqwest::get(format!("{callcenter}/console/config.json"))
        .await
        .expect("config")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn serve_gives_the_console_the_real_ports_and_lets_it_call_the_apis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = start(switchboard(dir.path()), &SERVE, 3);
    let (receiver, sender, callcenter) = (
        running.url("receiver").to_owned(),
        running.url("sender").to_owned(),
        running.url("callcenter").to_owned(),
    );
    let console_line = running.next_line();
    assert_eq!(
        console_line,
        format!("switchboard console on {callcenter}/")
    );
    let http = reqwest::Client::new();

    let page = http
        .get(format!("{callcenter}/"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        policy.contains("connect-src 'self' http: https: ws: wss:"),
        "{policy}"
    );
    assert!(page.text().await.expect("html").contains("Switchboard"));

    assert_eq!(
        console_config(&callcenter).await,
        json!({"receiver": {"url": null, "port": port(&receiver)},
               "sender": {"url": null, "port": port(&sender)}})
    );

    let localhost = format!("http://localhost:{}", port(&callcenter));
    for origin in [callcenter.as_str(), localhost.as_str()] {
        assert_eq!(
            allowed_origin(&http, &sender, origin).await.as_deref(),
            Some(origin)
        );
        assert_eq!(
            allowed_origin(&http, &receiver, origin).await.as_deref(),
            Some(origin)
        );
    }
    assert_eq!(
        allowed_origin(&http, &sender, "http://127.0.0.1:1").await,
        None
    );

    let (status, body) = answer(http.get(format!("{callcenter}/assets/index-missing.js"))).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    running.kill();
}

#[test]
fn the_console_urls_are_configurable_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = refused(switchboard(dir.path()).args([
        "callcenter",
        "--listen",
        "127.0.0.1:0",
        "--console-sender-url",
        "crm.example.vn:5002",
    ]));
    assert!(
        stderr.contains("--console-sender-url") && stderr.contains("crm.example.vn:5002"),
        "{stderr}"
    );
}

#[tokio::test]
async fn split_mode_names_the_public_urls_from_the_environment_and_the_file() {
    let dir = dir_with_config(
        "[receiver]\nlisten = \"127.0.0.1:6001\"\n[console]\nsender_url = \"https://crm.example.vn/sender\"\n",
    );
    let mut command = switchboard(dir.path());
    command.env("SWITCHBOARD_CONSOLE_RECEIVER_URL", "http://10.0.0.5:5001");
    let running = start(command, &["callcenter", "--listen", "127.0.0.1:0"], 1);
    assert_eq!(
        console_config(running.url("callcenter")).await,
        json!({"receiver": {"url": "http://10.0.0.5:5001", "port": null},
               "sender": {"url": "https://crm.example.vn/sender", "port": null}})
    );
    running.kill();

    let running = start_role(dir.path(), "callcenter");
    let config = console_config(running.url("callcenter")).await;
    assert_eq!(config["receiver"], json!({"url": null, "port": 6001}));
    running.kill();
}
