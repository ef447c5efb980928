//! The call center's REST API: the seed's endpoints, customers, agents, the call log, and what bad
//! requests get (a 4xx naming the problem; nothing stored changes).

use serde_json::json;
use switchboard_callcenter::CallCenterOptions;
use switchboard_testkit::callcenter::TestCallCenter;
use switchboard_testkit::fixtures_http::Verbs;

#[tokio::test]
async fn the_seeds_endpoints_answer_success_and_data() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (lan, _) = app.agent("lan", "101").await;
    let (minh, _) = app.agent("minh", "102").await;
    app.store
        .set_agent_status(minh.id, switchboard_domain::routing::AgentStatus::Busy)
        .await
        .expect("busy");
    let token = app.api_token.as_str();

    let (status, all) = app.get("/api/agents/status", token).await;
    assert_eq!(status, 200);
    assert_eq!(all["success"], true);
    let agents = all["data"].as_array().expect("list");
    assert_eq!(agents.len(), 2);
    for key in ["id", "userId", "fullName", "status", "state", "extension"] {
        assert!(agents[0].get(key).is_some(), "agents lack `{key}`: {all}");
    }
    let (_, available) = app.get("/api/agents/available", token).await;
    assert_eq!(available["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(available["data"][0]["id"], lan.id);

    let (_, status_body) = app.get("/api/call-center/status", token).await;
    assert_eq!(
        (
            &status_body["data"]["agentsTotal"],
            &status_body["data"]["agentsAvailable"],
            &status_body["data"]["agentsBusy"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );

    let customer = json!({"fullName": "Trần Thị B", "phoneNumbers": ["0987 654 321", "028 3822 1234"], "cif": "CIF9"});
    let (status, created) = app.post("/api/customers", token, customer).await;
    assert_eq!(status, 200, "{created}");
    for (number, exact, found) in [
        ("0987654321", true, 1),
        ("+84987654321", true, 1),
        ("84 987 654 321", true, 1),
        ("0987654000", true, 0),
        ("654 321", false, 1),
        ("0987", false, 1),
        ("3822", false, 1),
        ("111", false, 0),
    ] {
        let (status, body) = app
            .post(
                "/api/customers/search",
                token,
                json!({"phoneNumber": number, "exactMatch": exact}),
            )
            .await;
        assert_eq!(status, 200, "{number}: {body}");
        assert_eq!(
            body["data"].as_array().map(Vec::len),
            Some(found),
            "{number} exact={exact}: {body}"
        );
    }
    let (status, body) = app
        .post(
            "/api/customers/search",
            token,
            json!({"phoneNumber": "gọi tôi", "exactMatch": true}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("phoneNumber")),
        "{body}"
    );
    let (_, by_name) = app.get("/api/customers?q=Tr%E1%BA%A7n", token).await;
    assert_eq!(by_name["data"][0]["cif"], "CIF9");

    // The seed's page calls these without a token only when served with the console's cookie.
    let (status, body) = app.call("GET", "/api/agents/available", None, None).await;
    assert_eq!((status, &body["success"]), (401, &json!(false)));
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The status of a POST of `body`, as it is, to the CTI webhook with `token` in its URL.
async fn post_to_webhook(app: &TestCallCenter, token: &str, content_type: &str, body: &str) -> u16 {
    let url = format!("{}/api/v1/cti/{token}", app.url);
    let request = app.http.post(url).header("content-type", content_type);
    let response = request.body(body.to_owned()).send().await.expect("send");
    response.status().as_u16()
}

#[tokio::test]
async fn bad_cti_requests_get_a_4xx_naming_the_problem_and_change_nothing() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    app.agent("lan", "101").await;
    app.new_call("KEEP", "0912000111").await;
    for (fields, status, field) in [
        (vec![("callId", "X")], 422, "event"),
        (vec![("event", "ring"), ("callId", "X")], 422, "event"),
        (vec![("event", "newCall"), ("from", "0912")], 422, "callId"),
        (
            vec![("event", "hangup"), ("callId", "KEEP"), ("cause", "bored")],
            422,
            "cause",
        ),
        (
            vec![
                ("event", "newCall"),
                ("callId", "X"),
                ("from", "1"),
                ("direction", "sideways"),
            ],
            422,
            "direction",
        ),
    ] {
        let (code, body) = app.cti(&fields).await;
        assert_eq!(code, status, "{fields:?}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (code, body) = app.cti(&[("event", "hangup"), ("callId", "NOPE")]).await;
    assert_eq!((code, &body["error"]["code"]), (404, &json!("not_found")));
    let integrator = app.api_token.as_str();
    for (token, content_type, body, status) in [
        (
            "sba_not_a_token",
            FORM,
            "event=newCall&callId=1&from=0912000111",
            401,
        ),
        (integrator, "text/xml", "<call/>", 415),
        (integrator, JSON, "{\"event\": ", 422),
    ] {
        let code = post_to_webhook(&app, token, content_type, body).await;
        assert_eq!(code, status, "{content_type}: {body}");
    }
    // JSON works as well as form fields.
    let answer =
        json!({"event": "answer", "callId": "KEEP", "answeringNumber": "101", "user": "Agent lan"});
    let code = post_to_webhook(&app, integrator, JSON, &answer.to_string()).await;
    assert_eq!(code, 200);
    let call = app.store.call("KEEP").await.expect("call");
    assert_eq!(call.status, "connected");
}

#[tokio::test]
async fn the_phone_system_token_posts_call_events_and_reads_the_call_center_only() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let pbx = app.pbx_token.clone();
    assert!(pbx.starts_with("sbp_"));
    app.new_call("P1", "0912000111").await;
    for path in [
        "/api/calls",
        "/api/calls/P1",
        "/api/agents/status",
        "/api/call-center/status",
    ] {
        let (status, body) = app.get(path, &pbx).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Nothing an admin or an agent does: no agents made, no calls answered, no customers read.
    let (status, _) = app
        .post(
            "/api/agents",
            &pbx,
            json!({"userId": 1, "fullName": "X", "extension": "999"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/api/customers", &pbx).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post("/api/calls/P1/answer", &pbx, json!({"agentId": 1}))
        .await;
    assert_eq!(status, 403);
    // A console cannot pose as the phone system with a login.
    let (_, agent_token) = app.agent("lan", "101").await;
    let code = post_to_webhook(&app, &agent_token, FORM, "event=hangup&callId=P1").await;
    assert_eq!(code, 403);
}

#[tokio::test]
async fn outbound_calls_are_logged_without_popups() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (lan, _) = app.agent("lan", "101").await;
    let (code, body) = app
        .cti(&[
            ("event", "newCall"),
            ("direction", "out"),
            ("from", "101"),
            ("to", "0912 000 123"),
            ("callId", "OUT_1"),
            ("user[]", "Agent lan"),
        ])
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["data"]["direction"], &body["data"]["offeredAgentId"]),
        (&json!("out"), &json!(lan.id))
    );
    let (code, _) = app.answered("OUT_1", "101").await;
    assert_eq!(code, 200);
    let (code, body) = app.hangup("OUT_1", "normalClearing").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["data"]["missed"], &body["data"]["answeredBy"]),
        (&json!(false), &json!(lan.id))
    );
    let (_, log) = app.get("/api/calls?number=000123", &app.api_token).await;
    assert_eq!(log["data"]["items"][0]["callId"], "OUT_1");
}

#[tokio::test]
async fn agents_are_managed_by_supervisors() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (lan, lan_token) = app.agent("lan", "101").await;
    let (code, body) = app
        .post("/api/agents", &lan_token, json!({"fullName": "X"}))
        .await;
    assert_eq!((code, &body["error"]["code"]), (403, &json!("forbidden")));
    let (code, body) = app
        .post("/api/agents", &app.api_token, json!({"extension": "200"}))
        .await;
    assert_eq!((code, &body["error"]["field"]), (422, &json!("fullName")));
    let (code, body) = app
        .post(
            "/api/agents",
            &app.api_token,
            json!({"fullName": "Hoa", "extension": "103", "queues": ["sales"]}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["data"]["status"], &body["data"]["queues"]),
        (&json!("offline"), &json!(["sales"]))
    );
    let (code, body) = app
        .patch(
            &format!("/api/agents/{}", lan.id),
            &app.api_token,
            json!({"extension": "111"}),
        )
        .await;
    assert_eq!(
        (code, &body["data"]["extension"]),
        (200, &json!("111")),
        "{body}"
    );
    let (code, me) = app.get("/api/agents/me", &lan_token).await;
    assert_eq!((code, &me["data"]["extension"]), (200, &json!("111")));
    let (code, body) = app
        .put(
            "/api/agents/999/status",
            &app.api_token,
            json!({"status": "away"}),
        )
        .await;
    assert_eq!((code, &body["error"]["code"]), (404, &json!("not_found")));
    let (code, body) = app.get("/api/calls?from=yesterday", &app.api_token).await;
    assert_eq!((code, &body["error"]["field"]), (422, &json!("from")));
}

#[tokio::test]
async fn the_console_is_served_beside_the_api_and_unknown_paths_stay_json_404s() {
    let app = TestCallCenter::spawn(CallCenterOptions {
        console: switchboard_console::ConsoleConfig {
            receiver: switchboard_console::Endpoint::Port(15001),
            sender: switchboard_console::Endpoint::url("https://crm.example.vn:5002")
                .expect("valid"),
        },
        ..CallCenterOptions::default()
    })
    .await;
    let page = app
        .http
        .get(format!("{}/", app.url))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(header("cache-control"), "no-cache");
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("x-content-type-options"), "nosniff");

    let (status, config) = app.call("GET", "/console/config.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        config,
        json!({"receiver": {"url": null, "port": 15001}, "sender": {"url": "https://crm.example.vn:5002", "port": null}})
    );

    for path in ["/assets/index-missing.js", "/inbox", "/api/nothing"] {
        let (status, body) = app.call("GET", path, None, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
}
