//! The call center end to end: the phone system posts to the CTI webhook, consoles connect over
//! Socket.IO as the seed's client does, and the seed's events and payloads come out.

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_callcenter::CallCenterOptions;
use switchboard_sioclient::Client;
use switchboard_storage::Agent;
use switchboard_testkit::callcenter::{FakePhoneSystem, TestCallCenter};
use switchboard_testkit::eventually;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::socket::{next, next_named, quiet};

fn options(ring_timeout_ms: u64) -> CallCenterOptions {
    CallCenterOptions {
        ring_timeout: Duration::from_millis(ring_timeout_ms),
        ..Default::default()
    }
}

const ACK: Duration = Duration::from_secs(5);

/// Emits `event` with `body` and waits (at most [`ACK`]) for the server's acknowledgement.
async fn emit_acked(console: &Client, event: &str, body: Value) -> Value {
    console.emit_with_ack(event, &body, ACK).await.expect("ack")
}

/// `answer_call` from `console` for `agent`, as a console's answer button sends it: the ack.
async fn answer_call(console: &Client, call_id: &str, agent: &Agent) -> Value {
    let body = json!({"callId": call_id, "agentId": agent.id});
    emit_acked(console, "answer_call", body).await
}

/// The phone system reports a new inbound call: the popup it shows on `console`.
async fn ring(app: &TestCallCenter, console: &mut Client, call_id: &str, from: &str) -> Value {
    app.new_call(call_id, from).await;
    next_named(console, "incoming_call_to_crm").await
}

/// A call center with two agents, both available: Lan at extension 101 (the longer idle, so offered
/// calls first) and Minh at 102, each with a console session token.
async fn lan_and_minh(options: CallCenterOptions) -> (TestCallCenter, [(Agent, String); 2]) {
    let app = TestCallCenter::spawn(options).await;
    let lan = app.agent("lan", "101").await;
    let minh = app.agent("minh", "102").await;
    (app, [lan, minh])
}

#[tokio::test]
async fn a_cti_call_pops_up_with_the_seeds_payload_then_answer_and_hangup_follow() {
    let app = TestCallCenter::spawn(options(20_000)).await;
    let (agent, _) = app.agent("lan", "101").await;
    let (status, customer) = app
        .post(
            "/api/customers",
            &app.api_token,
            json!({"fullName": "Nguyễn Văn A", "phoneNumber": "0912345678",
                        "email": "nguyenvana@email.com", "cif": "CIF001230022"}),
        )
        .await;
    assert_eq!(status, 200, "{customer}");
    let mut console = app.console(&app.api_token).await;

    let incoming = ring(&app, &mut console, "CALL_12345", "+84 912 345 678").await;
    assert_eq!(incoming["callId"], "CALL_12345");
    assert_eq!(incoming["callerNumber"], "+84 912 345 678");
    assert_eq!(incoming["calledNumber"], "1900");
    assert_eq!(incoming["status"], "ringing");
    assert_eq!(incoming["source"], "cti");
    assert_eq!(
        (
            &incoming["assignedAgent"]["id"],
            &incoming["assignedAgent"]["fullName"],
            &incoming["assignedAgent"]["status"]
        ),
        (&json!(agent.id), &json!("Agent lan"), &json!("available"))
    );
    assert!(incoming["assignedAgent"]["userId"].is_i64());
    let info = &incoming["customerInfo"];
    assert_eq!(
        (
            &info["id"],
            &info["fullName"],
            &info["phoneNumber"],
            &info["email"],
            &info["cif"]
        ),
        (
            &customer["data"]["id"],
            &json!("Nguyễn Văn A"),
            &json!("+84912345678"),
            &json!("nguyenvana@email.com"),
            &json!("CIF001230022")
        )
    );
    assert!(incoming["startTime"].is_string());

    let ack = emit_acked(
        &console,
        "answer_call",
        json!({"callId": "CALL_12345", "agentId": agent.id, "source": "crm_system"}),
    )
    .await;
    assert_eq!(ack["success"], true, "{ack}");
    let answered = next_named(&mut console, "call_answered").await;
    assert_eq!(answered["message"], "Cuộc gọi đã được kết nối");
    assert_eq!(answered["call"]["callId"], "CALL_12345");
    assert_eq!(answered["call"]["status"], "connected");
    assert_eq!(answered["call"]["agentInfo"]["id"], agent.id);
    assert_eq!(answered["call"]["customerInfo"]["fullName"], "Nguyễn Văn A");

    // The call lasts a second (its duration is checked below): the wait is the thing under test.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = app.hangup("CALL_12345", "normalClearing").await;
    assert_eq!(status, 200, "{body}");
    let ended = next_named(&mut console, "call_ended").await;
    assert_eq!(ended["callId"], "CALL_12345");
    assert_eq!(ended["endReason"], "normal_clearing");
    assert_eq!(ended["message"], "Cuộc gọi đã kết thúc");
    assert!(
        ended["duration"].as_i64().is_some_and(|d| d >= 1),
        "{ended}"
    );

    let (_, log) = app.get("/api/calls", &app.api_token).await;
    let call = &log["data"]["items"][0];
    assert_eq!(
        (
            &call["callId"],
            &call["answeredBy"],
            &call["missed"],
            &call["endReason"]
        ),
        (
            &json!("CALL_12345"),
            &json!(agent.id),
            &json!(false),
            &json!("normal_clearing")
        )
    );
    assert!(call["talkSeconds"].as_i64().is_some_and(|t| t >= 1));
    // The phone system retrying its hangup changes nothing.
    let (status, _) = app.hangup("CALL_12345", "normalClearing").await;
    assert_eq!(status, 200);
    quiet(&mut console, "call_ended", Duration::from_millis(300)).await;
}

#[tokio::test]
async fn two_consoles_answering_at_once_exactly_one_wins() {
    let (app, [(_, lan_token), (_, minh_token)]) = lan_and_minh(options(20_000)).await;
    let mut lan = app.console(&lan_token).await;
    let mut minh = app.console(&minh_token).await;
    for round in 0..5 {
        let call_id = format!("RACE_{round}");
        app.new_call(&call_id, "0912000111").await;
        next_named(&mut lan, "incoming_call_to_crm").await;
        next_named(&mut minh, "incoming_call_to_crm").await;
        let body = json!({"callId": call_id, "source": "crm_system"});
        let (a, b) = tokio::join!(
            emit_acked(&lan, "answer_call", body.clone()),
            emit_acked(&minh, "answer_call", body)
        );
        let wins = [&a, &b].iter().filter(|r| r["success"] == true).count();
        assert_eq!(wins, 1, "round {round}: {a} / {b}");
        let loser = if a["success"] == true { &b } else { &a };
        assert_eq!(loser["error"]["code"], "call_taken", "{loser}");
        // Both consoles hide the popup: each gets `call_answered`; the loser also an `error` event.
        let lan_won = a["success"] == true;
        let seen_by_lan = next_of(&mut lan, &["call_answered", "error"], !lan_won).await;
        let seen_by_minh = next_of(&mut minh, &["call_answered", "error"], lan_won).await;
        assert_eq!(seen_by_lan["call_answered"], seen_by_minh["call_answered"]);
        let error = if lan_won {
            &seen_by_minh["error"]
        } else {
            &seen_by_lan["error"]
        };
        assert_eq!(error["error"]["code"], "call_taken");
        let (status, _) = app.hangup(&call_id, "normalClearing").await;
        assert_eq!(status, 200);
        next_named(&mut lan, "call_ended").await;
        next_named(&mut minh, "call_ended").await;
    }
}

/// The first event of each of `names` (the last one only if `all`), whatever their order.
async fn next_of(client: &mut Client, names: &[&str], all: bool) -> Value {
    let wanted = if all { names } else { &names[..1] };
    let mut seen = serde_json::Map::new();
    while seen.len() < wanted.len() {
        let event = next(client).await;
        if wanted.contains(&event.name.as_str()) {
            seen.insert(event.name.clone(), event.data().expect("data"));
        }
    }
    Value::Object(seen)
}

#[tokio::test]
async fn an_unanswered_call_moves_on_after_the_ring_timeout_and_counts_as_missed() {
    let (app, [(first, _), (second, _)]) = lan_and_minh(options(300)).await;
    let mut console = app.console(&app.api_token).await;
    let offered = ring(&app, &mut console, "RING_1", "0912000222").await;
    assert_eq!(
        offered["assignedAgent"]["id"], first.id,
        "the longest idle first"
    );
    let moved = next_named(&mut console, "incoming_call_to_crm").await;
    assert_eq!(moved["assignedAgent"]["id"], second.id);
    // With everyone tried, it rings at the first again rather than waiting for nobody.
    let again = next_named(&mut console, "incoming_call_to_crm").await;
    assert_eq!(again["assignedAgent"]["id"], first.id);
    let (status, _) = app.hangup("RING_1", "cancel").await;
    assert_eq!(status, 200);
    let ended = next_named(&mut console, "call_ended").await;
    assert_eq!(
        (&ended["endReason"], &ended["duration"]),
        (&json!("caller_cancel"), &json!(0))
    );
    let (_, log) = app.get("/api/calls?missed=true", &app.api_token).await;
    assert_eq!(log["data"]["items"][0]["callId"], "RING_1");
    assert_eq!(log["data"]["items"][0]["missed"], true);
}

#[tokio::test]
async fn an_away_agent_gets_no_offers_and_waiting_calls_go_to_whoever_becomes_available() {
    let (app, [(lan, lan_token), (minh, _)]) = lan_and_minh(options(20_000)).await;
    let mut lan_console = app.console(&lan_token).await;
    let ack = emit_acked(&lan_console, "set_agent_status", json!({"status": "away"})).await;
    assert_eq!(ack["data"]["status"], "away", "{ack}");
    let update = loop {
        // Earlier updates (the agents' set-up) may still be arriving.
        let update = next_named(&mut lan_console, "agent_status_update").await;
        if update["status"] == "away" {
            break update;
        }
    };
    assert_eq!(
        (
            &update["agentId"],
            &update["agentName"],
            &update["previousStatus"]
        ),
        (&json!(lan.id), &json!("Agent lan"), &json!("available"))
    );

    let first = ring(&app, &mut lan_console, "AWAY_1", "0912000333").await;
    assert_eq!(first["assignedAgent"]["id"], minh.id);
    // Minh's phone rings; Lan is away: the second call waits instead of ringing at Lan.
    app.new_call("AWAY_2", "0912000444").await;
    quiet(
        &mut lan_console,
        "incoming_call_to_crm",
        Duration::from_millis(500),
    )
    .await;
    let (_, status) = app.get("/api/call-center/status", &app.api_token).await;
    assert_eq!(
        (
            &status["data"]["callsWaiting"],
            &status["data"]["callsRinging"]
        ),
        (&json!(1), &json!(1))
    );
    let (_, available) = app.get("/api/agents/available", &app.api_token).await;
    let ids: Vec<&Value> = available["data"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [&json!(minh.id)]);

    // Back to available (over REST this time): the waiting call is offered at once.
    let (code, body) = app
        .put(
            &format!("/api/agents/{}/status", lan.id),
            &lan_token,
            json!({"status": "available"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let offered = next_named(&mut lan_console, "incoming_call_to_crm").await;
    assert_eq!(
        (&offered["callId"], &offered["assignedAgent"]["id"]),
        (&json!("AWAY_2"), &json!(lan.id))
    );
}

#[tokio::test]
async fn malformed_events_and_unknown_calls_get_an_error_and_the_connection_stays() {
    let app = TestCallCenter::spawn(options(20_000)).await;
    let (agent, _) = app.agent("lan", "101").await;
    let mut console = app.console(&app.api_token).await;
    let cases = [
        (json!("CALL_1"), "invalid_field", Some("body")),
        (
            json!({"agentId": agent.id}),
            "invalid_field",
            Some("callId"),
        ),
        (
            json!({"callId": "X", "agentId": "abc"}),
            "invalid_field",
            Some("agentId"),
        ),
        (
            json!({"callId": "NO_SUCH_CALL", "agentId": agent.id}),
            "not_found",
            None,
        ),
        (
            json!({"callId": "NO_SUCH_CALL", "agentId": 999_999}),
            "not_found",
            None,
        ),
        (
            json!({"callId": "NO_SUCH_CALL"}),
            "invalid_field",
            Some("agentId"),
        ),
    ];
    for (body, code, field) in cases {
        let ack = emit_acked(&console, "answer_call", body.clone()).await;
        assert_eq!(ack["success"], false);
        assert_eq!(ack["error"]["code"], code, "{body}: {ack}");
        if let Some(field) = field {
            assert_eq!(ack["error"]["field"], field, "{ack}");
        }
        assert!(
            ack["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        let error = next_named(&mut console, "error").await;
        assert_eq!(error, ack);
    }
    // Without an acknowledgement callback, as the seed's client emits: the `error` event alone.
    console
        .emit("end_call", &json!({"callId": 12, "endReason": "x"}))
        .expect("emit");
    let error = next_named(&mut console, "error").await;
    assert_eq!(
        (&error["error"]["code"], &error["error"]["event"]),
        (&json!("not_found"), &json!("end_call"))
    );
    console
        .emit(
            "set_agent_status",
            &json!({"agentId": agent.id, "status": "asleep"}),
        )
        .expect("emit");
    assert_eq!(
        next_named(&mut console, "error").await["error"]["field"],
        "status"
    );

    // Still connected and working.
    let incoming = ring(&app, &mut console, "AFTER", "0912000555").await;
    assert_eq!(incoming["callId"], "AFTER");
    let ack = emit_acked(
        &console,
        "end_call",
        json!({"callId": "AFTER", "endReason": "crm_user_reject", "source": "crm_system"}),
    )
    .await;
    assert_eq!(ack["success"], true, "{ack}");
    let ended = next_named(&mut console, "call_ended").await;
    assert_eq!(ended["endReason"], "crm_user_reject");
    let ack = answer_call(&console, "AFTER", &agent).await;
    assert_eq!(ack["error"]["code"], "call_ended");
}

#[tokio::test]
async fn agents_act_only_for_themselves() {
    let (app, [(lan, lan_token), (minh, _)]) = lan_and_minh(options(20_000)).await;
    let lan_console = app.console(&lan_token).await;
    let ack = emit_acked(
        &lan_console,
        "set_agent_status",
        json!({"agentId": minh.id, "status": "away"}),
    )
    .await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    app.new_call("MINE", "0912000666").await;
    let ack = answer_call(&lan_console, "MINE", &minh).await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    let ack = answer_call(&lan_console, "MINE", &lan).await;
    assert_eq!(ack["success"], true, "{ack}");
    // A bot token is refused at the door.
    let bot = app
        .store
        .issue_token(switchboard_storage::TokenKind::Bot {
            account: "page".into(),
        })
        .await;
    if let Ok((_, bot)) = bot {
        let refused = Client::connect(&app.url, &json!({"token": bot}), "").await;
        assert!(refused.is_err());
    }
}

#[tokio::test]
async fn english_consoles_get_english_messages() {
    let app = TestCallCenter::spawn(options(20_000)).await;
    let (agent, _) = app.agent("lan", "101").await;
    let mut english = app.console_with(&app.api_token, "&lang=en").await;
    let mut vietnamese = app.console(&app.api_token).await;
    app.new_call("EN_1", "0912000777").await;
    let ack = answer_call(&english, "EN_1", &agent).await;
    assert_eq!(ack["success"], true);
    assert_eq!(
        next_named(&mut english, "call_answered").await["message"],
        "The call is connected"
    );
    assert_eq!(
        next_named(&mut vietnamese, "call_answered").await["message"],
        "Cuộc gọi đã được kết nối"
    );
    // Answering again: each console is told why not, in its own language.
    for (console, reason) in [
        (&english, "Another agent"),
        (&vietnamese, "Cuộc gọi đã được"),
    ] {
        let ack = answer_call(console, "EN_1", &agent).await;
        assert!(
            ack["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(reason)),
            "{ack}"
        );
    }
}

#[tokio::test]
async fn a_reconnecting_console_is_shown_the_calls_still_ringing() {
    let app = TestCallCenter::spawn(options(20_000)).await;
    app.agent("lan", "101").await;
    app.new_call("WHILE_AWAY", "0912000888").await;
    let mut console = app.console(&app.api_token).await;
    let incoming = next_named(&mut console, "incoming_call_to_crm").await;
    assert_eq!(incoming["callId"], "WHILE_AWAY");
    assert_eq!(incoming["status"], "ringing");
}

#[tokio::test]
async fn blocked_numbers_are_rejected_the_zammad_way() {
    let app = TestCallCenter::spawn(options(20_000)).await;
    app.agent("lan", "101").await;
    let mut console = app.console(&app.api_token).await;
    let (status, body) = app
        .post(
            "/api/blocked-numbers",
            &app.api_token,
            json!({"number": "0912 999 999", "reason": "spam"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["number"], "+84912999999");
    let (status, body) = app
        .cti(&[
            ("event", "newCall"),
            ("from", "84912999999"),
            ("to", "1900"),
            ("direction", "in"),
            ("callId", "SPAM"),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["action"], &body["reason"]),
        (&json!("reject"), &json!("busy")),
        "{body}"
    );
    quiet(
        &mut console,
        "incoming_call_to_crm",
        Duration::from_millis(300),
    )
    .await;
    let (status, _) = app
        .delete("/api/blocked-numbers/+84912999999", &app.api_token)
        .await;
    assert_eq!(status, 200);
    let body = app.new_call("SPAM_2", "0912999999").await;
    assert_eq!(body["data"]["status"], "ringing", "{body}");
}

#[tokio::test]
async fn console_decisions_reach_the_phone_system_signed() {
    let phone_system = FakePhoneSystem::start().await;
    let app = TestCallCenter::spawn(CallCenterOptions {
        webhook_url: Some(phone_system.url.clone()),
        webhook_secret: Some("pbx-secret".into()),
        ..options(20_000)
    })
    .await;
    let (agent, _) = app.agent("lan", "101").await;
    let console = app.console(&app.api_token).await;
    app.new_call("HOOK_1", "0912000999").await;
    app.new_call("HOOK_2", "0912000998").await;
    let ack = emit_acked(
        &console,
        "answer_call",
        json!({"callId": "HOOK_1", "agentId": agent.id, "source": "crm_system"}),
    )
    .await;
    assert_eq!(ack["success"], true);
    let ack = emit_acked(
        &console,
        "end_call",
        json!({"callId": "HOOK_2", "endReason": "crm_user_reject", "source": "crm_system"}),
    )
    .await;
    assert_eq!(ack["success"], true);
    let notices = phone_system.notices(2).await;
    let answer = notices
        .iter()
        .find(|n| n.body["event"] == "answer")
        .expect("answer");
    assert_eq!(
        (
            &answer.body["callId"],
            &answer.body["agentId"],
            &answer.body["extension"],
            &answer.body["source"]
        ),
        (
            &json!("HOOK_1"),
            &json!(agent.id),
            &json!("101"),
            &json!("crm_system")
        )
    );
    assert_eq!(
        answer.signature.as_deref(),
        Some(switchboard_domain::encoding::signature("pbx-secret", &answer.raw).as_str())
    );
    let reject = notices
        .iter()
        .find(|n| n.body["event"] == "reject")
        .expect("reject");
    assert_eq!(
        (&reject.body["callId"], &reject.body["endReason"]),
        (&json!("HOOK_2"), &json!("crm_user_reject"))
    );
    // The phone system's own report of the answer does not echo back to it.
    let (status, _) = app.answered("HOOK_1", "101").await;
    assert_eq!(status, 200);
    // Proving that nothing is sent takes a window of time: the wait is the thing under test.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(phone_system.received.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn after_a_call_the_agent_wraps_up_before_the_next_one() {
    let app = TestCallCenter::spawn(CallCenterOptions {
        wrap_up: Duration::from_millis(800),
        ..options(20_000)
    })
    .await;
    let (lan, _) = app.agent("lan", "101").await;
    let mut console = app.console(&app.api_token).await;
    ring(&app, &mut console, "WRAP_1", "0912000101").await;
    let ack = answer_call(&console, "WRAP_1", &lan).await;
    assert_eq!(ack["success"], true);
    let (code, _) = app.hangup("WRAP_1", "normalClearing").await;
    assert_eq!(code, 200);
    let (_, agents) = app.get("/api/agents/status", &app.api_token).await;
    assert_eq!(agents["data"][0]["state"], "wrap_up", "{agents}");
    // A call during the wrap-up waits; it rings once the wrap-up is over.
    let asked = std::time::Instant::now();
    let offered = ring(&app, &mut console, "WRAP_2", "0912000102").await;
    assert_eq!(
        (&offered["callId"], &offered["assignedAgent"]["id"]),
        (&json!("WRAP_2"), &json!(lan.id))
    );
    assert!(
        asked.elapsed() >= Duration::from_millis(500),
        "offered during wrap-up"
    );
}

#[tokio::test]
async fn ending_a_call_answered_elsewhere_leaves_the_agent_it_first_rang_alone() {
    let (app, [(lan, lan_token), (minh, _)]) = lan_and_minh(options(20_000)).await;
    let mut console = app.console(&app.api_token).await;
    let first = ring(&app, &mut console, "FIRST", "0912000201").await;
    assert_eq!(first["assignedAgent"]["id"], lan.id);
    // Minh picks up the call ringing at Lan; Lan is free again and gets the next call.
    let ack = answer_call(&console, "FIRST", &minh).await;
    assert_eq!(ack["success"], true);
    let second = ring(&app, &mut console, "SECOND", "0912000202").await;
    assert_eq!(second["assignedAgent"]["id"], lan.id);
    // The first call is Minh's now: Lan, whom it rang first, may not end it.
    let lan_console = app.console(&lan_token).await;
    let ack = emit_acked(&lan_console, "end_call", json!({"callId": "FIRST"})).await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    // The first call ends: Lan's phone is still ringing with the second.
    app.cti(&[("event", "hangup"), ("callId", "FIRST")]).await;
    next_named(&mut console, "call_ended").await;
    let lan_now = app.store.agent(lan.id).await.expect("agent");
    assert_eq!(
        lan_now.state,
        switchboard_domain::routing::AgentState::Ringing
    );
}

#[tokio::test]
async fn an_earlier_wrap_up_does_not_cut_a_later_one_short() {
    // Long enough that the checks below fall well inside their windows on a loaded machine.
    let wrap_up = Duration::from_secs(2);
    let app = TestCallCenter::spawn(CallCenterOptions {
        wrap_up,
        ..options(20_000)
    })
    .await;
    let (lan, _) = app.agent("lan", "101").await;
    let state = || async {
        let (_, agents) = app.get("/api/agents/status", &app.api_token).await;
        agents["data"][0]["state"].as_str().unwrap_or("").to_owned()
    };
    let talk = |call_id: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let mut new_call = vec![("event", "newCall"), ("callId", call_id)];
            new_call.extend(fields);
            assert_eq!(app.cti(&new_call).await.0, 200);
            assert_eq!(app.answered(call_id, "101").await.0, 200);
            assert_eq!(app.hangup(call_id, "normalClearing").await.0, 200);
        }
    };
    // A call in, then a wrap-up; halfway through it the agent calls a customer back and wraps up again.
    talk("IN_1", vec![("from", "0912000301"), ("to", "1900")]).await;
    // The first wrap-up began before this instant: its timer fires by `first_ends`.
    let first_ends = tokio::time::Instant::now() + wrap_up;
    assert_eq!(state().await, "wrap_up");
    // Halfway through it (time passing is the thing under test), the agent calls back.
    tokio::time::sleep_until(first_ends - wrap_up / 2).await;
    let second_started = tokio::time::Instant::now();
    talk(
        "OUT_1",
        vec![("direction", "out"), ("from", "101"), ("to", "0912000301")],
    )
    .await;
    // Past the end of the first wrap-up (and a margin for its timer), the second one still runs: it
    // began after `second_started`, so it lasts until after `second_started + wrap_up`.
    tokio::time::sleep_until(first_ends + Duration::from_millis(300)).await;
    assert_eq!(
        state().await,
        "wrap_up",
        "the first wrap-up's timer ended the second"
    );
    // Then it ends: from its earliest end, wait for the agent to be idle.
    tokio::time::sleep_until(second_started + wrap_up).await;
    eventually(10, "the agent idle after the second wrap-up", || async {
        (state().await == "idle").then_some(())
    })
    .await;
    let _ = lan;
}

#[tokio::test]
async fn a_console_flooding_events_is_told_to_slow_down() {
    let app = TestCallCenter::spawn(options(20_000)).await;
    let (_lan, lan_token) = app.agent("lan", "101").await;
    let console = app.console(&lan_token).await;
    // A person clicks; a script sending status changes as fast as it can is refused past its
    // allowance (100 at once, 20 a second after), with the reason, and not acted on. Sent without
    // waiting for answers, so that a slow machine cannot refill the allowance between them.
    for i in 0..500 {
        let status = if i % 2 == 0 { "away" } else { "available" };
        console
            .emit("set_agent_status", &json!({"status": status}))
            .expect("emit");
    }
    let ack = emit_acked(&console, "set_agent_status", json!({"status": "away"})).await;
    let refused = (ack["success"] == false).then_some((500, ack));
    let (_, ack) = refused.expect("501 events in a row were all accepted");
    assert_eq!(ack["error"]["code"], "too_many_requests", "{ack}");
}
