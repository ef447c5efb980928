//! Missed calls followed up over REST and Socket.IO: the phone system reports a call nobody
//! answered, a callback task appears live with the call it came from, and an agent closes it.

use serde_json::json;
use switchboard_callcenter::CallCenterOptions;
use switchboard_testkit::callcenter::TestCallCenter;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::socket::next_named;

#[tokio::test]
async fn a_missed_call_becomes_a_callback_that_an_agent_closes_with_an_outcome() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (agent, token) = app.agent("lan", "101").await;
    let mut console = app.console(&token).await;
    // Lan is on a call already, so the next caller waits and gives up.
    app.new_call("busy-1", "0987 000 111").await;
    let (status, _) = app.answered("busy-1", "101").await;
    assert_eq!(status, 200);
    app.new_call("missed-1", "0912 345 678").await;
    let (status, _) = app.hangup("missed-1", "cancel").await;
    assert_eq!(status, 200);

    let update = next_named(&mut console, "callback_updated").await;
    assert_eq!(update["callback"]["callId"], "missed-1");
    assert_eq!(update["callback"]["assignedAgentId"], agent.id);
    let (status, open) = app.get("/api/callbacks?status=open", &token).await;
    assert_eq!(status, 200, "{open}");
    let task = &open["data"][0];
    assert_eq!(
        (
            &task["callId"],
            &task["number"],
            &task["status"],
            &task["missedCalls"]
        ),
        (
            &json!("missed-1"),
            &json!("+84912345678"),
            &json!("open"),
            &json!(1)
        )
    );
    let id = task["id"].as_i64().expect("id");

    // The same caller again, missed again: the open task gathers it.
    app.new_call("missed-2", "+84912345678").await;
    app.hangup("missed-2", "cancel").await;
    let joined = next_named(&mut console, "callback_updated").await;
    assert_eq!(
        (
            &joined["callback"]["id"],
            &joined["callback"]["missedCalls"]
        ),
        (&json!(id), &json!(2))
    );

    let path = format!("/api/callbacks/{id}/close");
    let (status, bad) = app.post(&path, &token, json!({"outcome": "maybe"})).await;
    assert_eq!(status, 422, "{bad}");
    let (status, long) = app
        .post(
            &path,
            &token,
            json!({"outcome": "reached", "note": "x".repeat(2_001)}),
        )
        .await;
    assert_eq!(
        (status, &long["error"]["field"]),
        (422, &json!("note")),
        "{long}"
    );
    let (status, closed) = app
        .post(
            &path,
            &token,
            json!({"outcome": "reached", "note": "Khách hẹn chiều mai chốt đơn"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(
        (&closed["data"]["status"], &closed["data"]["outcome"]),
        (&json!("closed"), &json!("reached"))
    );
    let (status, _) = app.post(&path, &token, json!({"outcome": "reached"})).await;
    assert_eq!(status, 409);
    let (_, open) = app.get("/api/callbacks?status=open", &token).await;
    assert_eq!(open["data"], json!([]));
    let (status, _) = app
        .post(
            "/api/callbacks/9999/close",
            &token,
            json!({"outcome": "no_answer"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/callbacks?status=sometimes", &token).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn the_call_log_downloads_as_csv_for_spreadsheets() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (_, token) = app.agent("lan", "101").await;
    app.new_call("answered-1", "0987 000 111").await;
    app.answered("answered-1", "101").await;
    app.hangup("answered-1", "normalClearing").await;
    app.new_call("missed-1", "=1+1").await;
    app.hangup("missed-1", "cancel").await;
    let response = app
        .http
        .get(format!("{}/api/calls?from=2000-01-01T00:00:00Z", app.url))
        .bearer_auth(&token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("text/csv; charset=utf-8")
    );
    let bytes = response.bytes().await.expect("bytes");
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8_lossy(&bytes[3..]).into_owned();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("callId,direction,callerNumber,calledNumber,queue,source,status"),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].starts_with("missed-1,in,'=1+1,"),
        "newest first, a formula guarded: {text}"
    );
    assert!(lines[1].contains(",true,"), "{text}");
    assert!(
        lines[2].starts_with("answered-1,in,0987 000 111,") && lines[2].contains(",false,"),
        "{text}"
    );
    let (status, json) = app.get("/api/calls", &token).await;
    assert_eq!(
        (status, json["data"]["items"].as_array().map(Vec::len)),
        (200, Some(2)),
        "JSON unless asked"
    );
}
