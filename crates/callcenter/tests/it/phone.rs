//! Acting on the phone system: click-to-call and transfer are signed commands on the outbound
//! webhook, stored before they are sent, retried while the phone system fails, given up with its
//! answer when it refuses; consoles follow each command live (`phone_command_updated`).

use serde_json::{Value, json};
use switchboard_callcenter::CallCenterOptions;
use switchboard_domain::phone_commands::PhoneCommandKind;
use switchboard_testkit::callcenter::{FakePhoneSystem, TestCallCenter};
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::socket::next_named;

async fn with_phone_system(answers: Vec<(u16, &'static str)>) -> (TestCallCenter, FakePhoneSystem) {
    let phone_system = FakePhoneSystem::answering(answers).await;
    let app = TestCallCenter::spawn(CallCenterOptions {
        webhook_url: Some(phone_system.url.clone()),
        webhook_secret: Some("pbx secret".into()),
        ..CallCenterOptions::default()
    })
    .await;
    (app, phone_system)
}

/// The next `phone_command_updated` of command `id` with `status`.
async fn command_update(
    console: &mut switchboard_sioclient::Client,
    id: &Value,
    status: &str,
) -> Value {
    loop {
        let update = next_named(console, "phone_command_updated").await;
        if &update["command"]["id"] == id && update["command"]["status"] == status {
            return update["command"].clone();
        }
    }
}

#[tokio::test]
async fn click_to_call_is_retried_while_the_phone_system_fails_then_delivered_once_per_send() {
    let (app, phone_system) = with_phone_system(vec![(503, "restarting")]).await;
    let (agent, lan) = app.agent("lan", "101").await;
    let mut console = app.console(&lan).await;

    let (status, queued) = app
        .post(
            "/api/calls/dial",
            &lan,
            json!({"number": "0912 345 678", "customerId": 7}),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(
        (&queued["data"]["kind"], &queued["data"]["status"]),
        (&json!("dial"), &json!("pending"))
    );
    let id = queued["data"]["id"].clone();
    let delivered = command_update(&mut console, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 2, "{delivered}");
    assert!(
        delivered["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{delivered}"
    );

    let notices = phone_system.notices(2).await;
    for notice in &notices {
        assert_eq!(notice.body["event"], "dial");
        assert_eq!(notice.body["commandId"], id, "a retry carries the same id");
        assert_eq!(notice.body["number"], "+84912345678");
        assert_eq!(notice.body["extension"], "101");
        assert_eq!(notice.body["agentId"], agent.id);
        assert_eq!(notice.body["customerId"], 7);
        let expected = switchboard_domain::encoding::signature("pbx secret", &notice.raw);
        assert_eq!(notice.signature.as_deref(), Some(expected.as_str()));
    }
    let (_, listed) = app.get("/api/phone-commands", &lan).await;
    assert_eq!(listed["data"][0]["status"], "delivered");

    let (status, bad) = app
        .post(
            "/api/calls/dial",
            &lan,
            json!({"number": "gọi cho chị Lan"}),
        )
        .await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("number")),
        "{bad}"
    );
    let (_, no_extension) = app.agent("minh", "").await;
    let (status, bad) = app
        .post(
            "/api/calls/dial",
            &no_extension,
            json!({"number": "0912345678"}),
        )
        .await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("agentId")),
        "{bad}"
    );
}

#[tokio::test]
async fn a_refused_transfer_fails_with_the_phone_systems_answer() {
    let (app, phone_system) = with_phone_system(vec![(404, "no such extension 102")]).await;
    let (lan_agent, lan) = app.agent("lan", "101").await;
    let (minh_agent, minh) = app.agent("minh", "102").await;
    let mut console = app.console(&lan).await;
    app.new_call("C1", "0912 345 678").await;
    app.answered("C1", "101").await;

    let (status, bad) = app
        .post(
            "/api/calls/C1/transfer",
            &lan,
            json!({"agentId": minh_agent.id, "queue": "sales"}),
        )
        .await;
    assert_eq!((status, &bad["error"]["field"]), (422, &json!("agentId")));
    let (status, _) = app
        .post("/api/calls/C1/transfer", &minh, json!({"queue": "sales"}))
        .await;
    assert_eq!(status, 403, "not Minh's call");
    let (status, queued) = app
        .post(
            "/api/calls/C1/transfer",
            &lan,
            json!({"agentId": minh_agent.id}),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    let failed = command_update(&mut console, &queued["data"]["id"], "failed").await;
    assert!(
        failed["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("404") && e.contains("no such extension 102")),
        "{failed}"
    );
    let notice = &phone_system.notices(1).await[0];
    assert_eq!(
        (
            &notice.body["event"],
            &notice.body["callId"],
            &notice.body["extension"],
            &notice.body["toExtension"],
            &notice.body["toAgentId"]
        ),
        (
            &json!("transfer"),
            &json!("C1"),
            &json!("101"),
            &json!("102"),
            &json!(minh_agent.id)
        )
    );
    assert_eq!(notice.body["agentId"], lan_agent.id);

    app.hangup("C1", "normalClearing").await;
    let (status, _) = app
        .post("/api/calls/C1/transfer", &lan, json!({"queue": "sales"}))
        .await;
    assert_eq!(status, 409, "an ended call is not transferred");
}

#[tokio::test]
async fn a_command_another_node_left_pending_is_sent_and_without_a_phone_system_none_is_taken() {
    let (app, phone_system) = with_phone_system(vec![]).await;
    // Stored as a node that stopped before sending it would have left it.
    let left = app
        .store
        .queue_phone_command(
            PhoneCommandKind::Dial,
            None,
            json!({"event": "dial", "number": "+84912000111"}).to_string(),
            (None, None),
        )
        .await
        .expect("stored");
    let notice = &phone_system.notices(1).await[0];
    assert_eq!(
        (&notice.body["commandId"], &notice.body["number"]),
        (&json!(left.id), &json!("+84912000111"))
    );

    let plain = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (_, lan) = plain.agent("lan", "101").await;
    let (status, refused) = plain
        .post("/api/calls/dial", &lan, json!({"number": "0912345678"}))
        .await;
    assert_eq!(status, 409, "{refused}");
}

#[tokio::test]
async fn a_transfer_the_phone_system_reports_moves_the_call_to_the_new_agent() {
    let (app, phone_system) = with_phone_system(vec![]).await;
    let (lan_agent, lan) = app.agent("lan", "101").await;
    let (minh_agent, _) = app.agent("minh", "102").await;
    let mut console = app.console(&lan).await;
    app.new_call("C1", "0912 345 678").await;
    app.answered("C1", "101").await;
    let (status, _) = app
        .post(
            "/api/calls/C1/transfer",
            &lan,
            json!({"agentId": minh_agent.id}),
        )
        .await;
    assert_eq!(status, 200);
    phone_system.notices(1).await;

    // The phone system connects Minh and says so.
    let (status, moved) = app.answered("C1", "102").await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (
            &moved["data"]["answeredBy"],
            &moved["data"]["transferredFrom"]
        ),
        (&json!(minh_agent.id), &json!(lan_agent.id))
    );
    let answered = loop {
        let event = next_named(&mut console, "call_answered").await;
        if event["call"]["transferredFrom"] == lan_agent.id {
            break event;
        }
    };
    assert_eq!(answered["call"]["agentInfo"]["id"], minh_agent.id);
    let (_, agents) = app.get("/api/agents/status", &lan).await;
    let state = |id: i64| {
        agents["data"]
            .as_array()
            .expect("agents")
            .iter()
            .find(|a| a["id"] == id)
            .expect("agent")["state"]
            .clone()
    };
    assert_eq!(
        (state(lan_agent.id), state(minh_agent.id)),
        (json!("idle"), json!("on_call"))
    );
    // Reported again (a retry): nothing changes.
    let (status, again) = app.answered("C1", "102").await;
    assert_eq!(
        (status, &again["data"]["answeredBy"]),
        (200, &json!(minh_agent.id))
    );
}
