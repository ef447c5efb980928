//! The call center as an operator runs it: `switchboard callcenter` alone, a ringing call survives a
//! SIGKILL (a console that reconnects is shown it, and it rings out at the due moment stored with the
//! offer, whichever node is alive then).

use crate::{cli, next_named, next_named_within, post_json, start, switchboard};
use serde_json::json;
use switchboard_sioclient::Client;

#[tokio::test]
async fn a_ringing_call_survives_a_sigkill_and_moves_on_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = cli(dir.path(), &["tokens", "add", "pbx"]);
    let args = [
        "callcenter",
        "--listen",
        "127.0.0.1:0",
        // Long enough that a restart on a loaded machine comes before the call moves on.
        "--ring-timeout-seconds",
        "15",
    ];
    let running = start(traced(dir.path()), &args, 1);
    let url = running.url("callcenter").to_owned();
    let http = reqwest::Client::new();
    let mut agents = Vec::new();
    for (name, extension) in [("Lan", "101"), ("Minh", "102")] {
        let agent = post_json(
            &http,
            &format!("{url}/api/agents"),
            &token,
            json!({"fullName": name, "extension": extension}),
        )
        .await;
        let id = agent["data"]["id"].as_i64().expect("id");
        post_json(
            &http,
            &format!("{url}/api/agents/{id}/status"),
            &token,
            json!({"status": "available"}),
        )
        .await;
        agents.push(id);
    }
    let response = http
        .post(format!("{url}/api/v1/cti/{token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("event=newCall&from=0912345678&to=1900&direction=in&callId=SURVIVOR")
        .send()
        .await
        .expect("cti");
    assert!(response.status().is_success());
    running.kill();

    let running = start(traced(dir.path()), &args, 1);
    let url = running.url("callcenter").to_owned();
    let mut console = Client::connect(&url, &json!({}), &format!("token={token}"))
        .await
        .expect("socket");
    console
        .emit("join_call_center", &json!({"userType": "crm_system"}))
        .expect("join");
    let shown = next_named(&mut console, "incoming_call_to_crm").await;
    assert_eq!(
        (&shown["callId"], &shown["assignedAgent"]["id"]),
        (&json!("SURVIVOR"), &json!(agents[0]))
    );
    // Nobody answers: at its stored due moment the restarted node moves it to the other agent.
    let moved = next_named_within(
        &mut console,
        "incoming_call_to_crm",
        std::time::Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        (&moved["callId"], &moved["assignedAgent"]["id"]),
        (&json!("SURVIVOR"), &json!(agents[1]))
    );
    running.kill();
}

/// The node, logging what the call center does with calls: a failure of this test shows (on stderr)
/// what the restarted node listed for the console that joined.
fn traced(dir: &std::path::Path) -> std::process::Command {
    let mut command = switchboard(dir);
    command.env("SWITCHBOARD_LOG", "warn,switchboard_callcenter=info");
    command
}
