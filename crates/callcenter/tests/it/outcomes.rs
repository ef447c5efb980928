//! What came of a call over REST: admins keep the outcome codes, the agent who answered records one
//! with a note, and the phone system's hangup brings the recording.

use serde_json::json;
use switchboard_callcenter::CallCenterOptions;
use switchboard_testkit::callcenter::TestCallCenter;
use switchboard_testkit::fixtures_http::Verbs;

#[tokio::test]
async fn the_agent_who_answered_records_the_outcome_and_the_recording_comes_with_the_hangup() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (_, lan) = app.agent("lan", "101").await;
    let (_, minh) = app.agent("minh", "102").await;
    let admin = &app.api_token;

    let (status, created) = app
        .post(
            "/api/call-outcomes",
            admin,
            json!({"code": "sale", "label": "Chốt đơn"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (status, _) = app
        .post(
            "/api/call-outcomes",
            admin,
            json!({"code": "sale", "label": "Bán"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, bad) = app
        .post(
            "/api/call-outcomes",
            admin,
            json!({"code": "Bán hàng", "label": "x"}),
        )
        .await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("code")),
        "{bad}"
    );
    let (status, _) = app
        .post(
            "/api/call-outcomes",
            &lan,
            json!({"code": "other", "label": "Khác"}),
        )
        .await;
    assert_eq!(status, 403, "agents do not set the codes");

    app.new_call("C1", "0912 345 678").await;
    app.answered("C1", "101").await;
    let (status, ended) = app
        .cti(&[
            ("event", "hangup"),
            ("callId", "C1"),
            ("cause", "normalClearing"),
            ("recordingUrl", "https://pbx.example.vn/rec/C1.mp3"),
        ])
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        ended["data"]["recordingUrl"],
        "https://pbx.example.vn/rec/C1.mp3"
    );
    let (status, refused) = app
        .cti(&[
            ("event", "hangup"),
            ("callId", "C1"),
            ("recordingUrl", "javascript:alert(1)"),
        ])
        .await;
    assert_eq!(
        (status, &refused["error"]["field"]),
        (422, &json!("recordingUrl"))
    );

    let outcome = json!({"code": "sale", "note": "Khách đặt 2 bó hoa, giao thứ Bảy"});
    let (status, _) = app
        .post("/api/calls/C1/outcome", &minh, outcome.clone())
        .await;
    assert_eq!(status, 403, "not Minh's call");
    let (status, call) = app.post("/api/calls/C1/outcome", &lan, outcome).await;
    assert_eq!(status, 200, "{call}");
    assert_eq!(
        (&call["data"]["outcome"], &call["data"]["outcomeNote"]),
        (&json!("sale"), &json!("Khách đặt 2 bó hoa, giao thứ Bảy"))
    );
    let (status, bad) = app
        .post("/api/calls/C1/outcome", &lan, json!({"code": "nope"}))
        .await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("code")),
        "{bad}"
    );
    let (status, _) = app
        .post("/api/calls/NOPE/outcome", admin, json!({"code": "sale"}))
        .await;
    assert_eq!(status, 404);

    let id = created["data"]["id"].as_i64().expect("id");
    let (status, retired) = app
        .patch(
            &format!("/api/call-outcomes/{id}"),
            admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!((status, &retired["data"]["active"]), (200, &json!(false)));
    let (status, _) = app
        .post("/api/calls/C1/outcome", &lan, json!({"code": "sale"}))
        .await;
    assert_eq!(status, 422, "a retired code is not offered");
    let (_, call) = app.get("/api/calls/C1", &lan).await;
    assert_eq!(call["data"]["outcome"], "sale", "the call keeps it");
}
