//! The live floor and the call reports over REST: for supervisors only, figures that match the
//! calls the phone system reported, days of the business's time zone, CSV, and clear refusals.

use serde_json::{Value, json};
use switchboard_callcenter::CallCenterOptions;
use switchboard_domain::UnixMillis;
use switchboard_domain::reports::ReportPeriod;
use switchboard_testkit::callcenter::TestCallCenter;
use switchboard_testkit::fixtures_http::Verbs;

const ZONE: &str = "Asia/Ho_Chi_Minh";

/// The business's day `days_ago` days before today, as a report names it.
fn day(days_ago: i64) -> String {
    let at = UnixMillis(UnixMillis::now().0 - days_ago * 86_400_000);
    ReportPeriod::today(ZONE, at).expect("zone").from()
}

async fn report(app: &TestCallCenter, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/reports/calls?{query}"), &app.api_token)
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    body["data"].clone()
}

#[tokio::test]
async fn reports_sum_todays_calls_per_agent_queue_and_day_and_refuse_bad_periods() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (agent, agent_token) = app.agent("lan", "101").await;
    app.new_call("answered-1", "0987 000 111").await;
    app.answered("answered-1", "101").await;
    app.hangup("answered-1", "normalClearing").await;
    // Lan is busy: the next caller waits and hangs up at once (a short abandon).
    app.new_call("busy-1", "0987 000 222").await;
    app.answered("busy-1", "101").await;
    app.new_call("missed-1", "0912 345 678").await;
    app.hangup("missed-1", "cancel").await;

    let (status, _) = app.get("/api/reports/calls", &agent_token).await;
    assert_eq!(status, 403, "agents do not read reports");

    let by_agent = report(&app, "groupBy=agent").await;
    assert_eq!(
        (&by_agent["from"], &by_agent["until"], &by_agent["timeZone"]),
        (&json!(day(0)), &json!(day(0)), &json!(ZONE))
    );
    let total = &by_agent["total"];
    assert_eq!(
        [
            &total["offered"],
            &total["answered"],
            &total["abandoned"],
            &total["shortAbandoned"]
        ],
        [&json!(3), &json!(2), &json!(1), &json!(1)],
        "{total}"
    );
    // Both answers were within 20 s; the short abandon is not counted.
    assert_eq!(total["serviceLevel"], json!(1.0), "{total}");
    assert!(total["averageSpeedOfAnswer"].as_f64().is_some(), "{total}");
    let lan = by_agent["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["key"] == json!(agent.id.to_string()))
        .expect("Lan's row");
    assert_eq!(
        (&lan["label"], &lan["answered"]),
        (&json!("Agent lan"), &json!(2))
    );

    let by_day = report(
        &app,
        &format!("groupBy=day&from={}&until={}", day(2), day(0)),
    )
    .await;
    let days: Vec<(&str, i64)> = by_day["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"].as_str().expect("day"),
                g["offered"].as_i64().expect("n"),
            )
        })
        .collect();
    let (two_ago, one_ago, today) = (day(2), day(1), day(0));
    assert_eq!(
        days,
        [
            (two_ago.as_str(), 0),
            (one_ago.as_str(), 0),
            (today.as_str(), 3)
        ]
    );
    assert_eq!(
        by_day["groups"][0]["serviceLevel"],
        Value::Null,
        "no call, no level"
    );

    let by_queue = report(&app, "groupBy=queue&timeZone=Europe/Paris").await;
    assert_eq!(by_queue["timeZone"], "Europe/Paris");

    let csv = app
        .http
        .get(format!("{}/api/reports/calls?groupBy=agent", app.url))
        .bearer_auth(&app.api_token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("text");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("key,label,offered,answered,abandoned"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{},Agent lan,2,2,0", agent.id))),
        "{text}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("total,,3,2,1,1,")),
        "{text}"
    );

    for (query, field) in [
        ("from=2026-12-05&until=2026-12-04", "until"),
        ("from=2025-01-01&until=2026-06-30", "until"),
        ("from=05/12/2026", "from"),
        ("timeZone=Mars/Olympus_Mons", "timeZone"),
        ("groupBy=week", "groupBy"),
    ] {
        let (status, body) = app
            .get(&format!("/api/reports/calls?{query}"), &app.api_token)
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(body["error"].to_string().contains(field), "{query}: {body}");
    }
}

#[tokio::test]
async fn the_floor_shows_waiting_callers_agents_and_todays_figures_to_supervisors() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (agent, agent_token) = app.agent("lan", "101").await;
    app.new_call("talking-1", "0987 000 111").await;
    app.answered("talking-1", "101").await;
    app.new_call("waiting-1", "0912 345 678").await;

    let (status, _) = app.get("/api/floor", &agent_token).await;
    assert_eq!(status, 403);
    let (status, floor) = app.get("/api/floor", &app.api_token).await;
    assert_eq!(status, 200, "{floor}");
    let floor = &floor["data"];
    assert_eq!(floor["waiting"][0]["callId"], "waiting-1", "{floor}");
    assert_eq!(floor["waiting"][0]["status"], "queued");
    assert!(floor["longestWaitSeconds"].as_i64().is_some_and(|s| s >= 0));
    assert_eq!(floor["connected"][0]["callId"], "talking-1");
    assert_eq!(floor["connected"][0]["agentId"], agent.id);
    assert_eq!(floor["agents"][0]["state"], "on_call");
    assert!(
        floor["agents"][0]["stateSince"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        (&floor["today"]["offered"], &floor["today"]["answered"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(floor["timeZone"], ZONE);
    assert_eq!(floor["serviceLevelSeconds"], json!(20.0));
    assert_eq!(floor["chats"]["awaitingReply"], 0);

    // Agents see who waits too, to take a call themselves.
    let (status, waiting) = app.get("/api/waiting-calls", &agent_token).await;
    assert_eq!(status, 200, "{waiting}");
    let callers: Vec<&str> = waiting["data"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["callId"].as_str().expect("id"))
        .collect();
    assert_eq!(callers, ["waiting-1"]);
    assert!(waiting["data"][0]["seconds"].as_i64().is_some());
}

#[tokio::test]
async fn conversation_reports_measure_answers_per_page_and_per_agent() {
    use switchboard_domain::ingest::{Batch, Direction, NewMessage};
    use switchboard_storage::AccountKind;
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (agent, agent_token) = app.agent("lan", "101").await;
    let lan = agent.user_id.expect("a user");
    app.store
        .ensure_account("page1", "Shop Hoa", AccountKind::Page)
        .await
        .expect("account");
    let sent_at = UnixMillis(UnixMillis::now().0 - 90_000);
    let batch = Batch {
        account: "page1".into(),
        items: vec![NewMessage {
            message_id: "m1".into(),
            thread_id: "t1".into(),
            participant_id: "u1".into(),
            participant_name: "Vũ Thị Hoa".into(),
            direction: Direction::In,
            text: "còn hàng không ạ?".into(),
            attachments: vec![],
            sent_at,
        }],
    };
    app.store.ingest_messages(batch).await.expect("ingest");
    let conversation = app
        .store
        .conversations(
            "page1",
            switchboard_storage::ConversationFilter::default(),
            None,
            10,
        )
        .await
        .expect("conversations")
        .items[0]
        .id;
    app.store
        .queue_message(conversation, "Dạ còn ạ".into(), Some(lan))
        .await
        .expect("reply");

    let (status, _) = app.get("/api/reports/conversations", &agent_token).await;
    assert_eq!(status, 403);
    let (status, by_page) = app
        .get("/api/reports/conversations?groupBy=page", &app.api_token)
        .await;
    assert_eq!(status, 200, "{by_page}");
    let page = &by_page["data"]["groups"][0];
    assert_eq!(
        (
            &page["key"],
            &page["label"],
            &page["conversations"],
            &page["messagesIn"],
            &page["messagesOut"],
            &page["responded"]
        ),
        (
            &json!("page1"),
            &json!("Shop Hoa"),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(1)
        )
    );
    let first_response = page["medianFirstResponse"].as_f64().expect("seconds");
    assert!((89.0..200.0).contains(&first_response), "{page}");
    assert_eq!(by_page["data"]["total"]["conversations"], 1);

    let (_, by_agent) = app
        .get("/api/reports/conversations?groupBy=agent", &app.api_token)
        .await;
    let row = &by_agent["data"]["groups"][0];
    assert_eq!(
        (
            &row["key"],
            &row["label"],
            &row["conversations"],
            &row["messagesOut"],
            &row["responded"]
        ),
        (
            &json!(lan.to_string()),
            &json!("lan"),
            &json!(1),
            &json!(1),
            &json!(1)
        ),
        "{by_agent}"
    );

    let csv = app
        .http
        .get(format!("{}/api/reports/conversations", app.url))
        .bearer_auth(&app.api_token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("conversationId,page,pageName,participant,firstMessageAt"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with(&format!("{conversation},page1,Shop Hoa,Vũ Thị Hoa,")),
        "{csv}"
    );

    for (query, field) in [
        ("groupBy=team", "groupBy"),
        ("from=2026-12-05&until=2026-12-01", "until"),
    ] {
        let (status, body) = app
            .get(
                &format!("/api/reports/conversations?{query}"),
                &app.api_token,
            )
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(body["error"].to_string().contains(field), "{query}: {body}");
    }
}
