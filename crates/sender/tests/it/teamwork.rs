//! The team inbox over the API: taking and assigning, states and snoozes, labels, private notes,
//! each change live in every console and never at a page's bot.

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_sioclient::Client;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::{next_named, next_named_within};

/// A user's id, from `GET /api/auth/me` with their token.
async fn user_id(app: &TestSystem, token: &str) -> i64 {
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(status, 200, "{me}");
    me["data"]["user"]["id"].as_i64().expect("id")
}

/// A sender with one conversation on page1 (its id), its bot's token, and three users logged in:
/// agents Lan and Minh and supervisor Thu, as (token, id).
struct Team {
    app: TestSystem,
    bot: String,
    conversation: i64,
    lan: (String, i64),
    minh: (String, i64),
    thu: (String, i64),
}

async fn team() -> Team {
    let app = TestSystem::spawn().await;
    let bot = app.bot("page1").await;
    let conversation = app
        .incoming(&bot, "page1", "m1", "t1", "Shop ơi, còn hàng không?")
        .await;
    let mut people = Vec::new();
    for (name, role) in [("lan", "agent"), ("minh", "agent"), ("thu", "supervisor")] {
        let token = app.user(name, role).await;
        let id = user_id(&app, &token).await;
        people.push((token, id));
    }
    let [lan, minh, thu]: [(String, i64); 3] = people.try_into().expect("three");
    Team {
        app,
        bot,
        conversation,
        lan,
        minh,
        thu,
    }
}

/// The next `conversation_updated` on `console`.
async fn updated(console: &mut Client) -> Value {
    next_named(console, "conversation_updated").await
}

#[tokio::test]
async fn an_agent_takes_a_conversation_once_and_a_supervisor_reassigns_it_live() {
    let Team {
        app,
        conversation,
        lan,
        minh,
        thu,
        ..
    } = team().await;
    let mut watching = app.socket(&thu.0).await;
    let path = format!("/api/conversations/{conversation}");

    let (status, taken) = app.post_empty(&format!("{path}/take"), &lan.0).await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(taken["data"]["assignee_user_id"], lan.1);
    let event = updated(&mut watching).await;
    assert_eq!(
        (
            &event["reason"],
            &event["by_user_id"],
            &event["conversation"]["assignee_user_id"]
        ),
        (&json!("taken"), &json!(lan.1), &json!(lan.1))
    );

    // The second agent loses, by either route, and is told who owns it.
    let refused = app.post_empty(&format!("{path}/take"), &minh.0).await;
    assert_error(&refused, 409, "code", "already_assigned");
    let refused = app
        .patch(&path, &minh.0, json!({"assignee_user_id": minh.1}))
        .await;
    assert_error(&refused, 409, "code", "already_assigned");
    // Nor may an agent give it to someone else.
    let refused = app
        .patch(&path, &lan.0, json!({"assignee_user_id": minh.1}))
        .await;
    assert_error(&refused, 403, "code", "forbidden");

    let (status, moved) = app
        .patch(
            &path,
            &thu.0,
            json!({"assignee_user_id": minh.1, "status": "pending"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (&moved["data"]["assignee_user_id"], &moved["data"]["status"]),
        (&json!(minh.1), &json!("pending"))
    );
    let event = updated(&mut watching).await;
    assert_eq!(event["conversation"]["assignee_user_id"], minh.1);
    assert_eq!(event["by_user_id"], thu.1);

    // Two supervisors at once: both are applied in turn, and every console ends on the same owner.
    let (a, b) = tokio::join!(
        app.patch(&path, &thu.0, json!({"assignee_user_id": lan.1})),
        app.patch(&path, &thu.0, json!({"assignee_user_id": minh.1})),
    );
    assert_eq!((a.0, b.0), (200, 200));
    let (_, now) = app
        .get(&format!("/api/conversations?ids={conversation}"), &thu.0)
        .await;
    let owner = now["data"][0]["assignee_user_id"].clone();
    let mut last_seen = Value::Null;
    // Whatever came first, the last event carries the owner the database holds.
    for _ in 0..2 {
        let event = updated(&mut watching).await;
        last_seen = event["conversation"]["assignee_user_id"].clone();
        if last_seen == owner {
            break;
        }
    }
    assert_eq!(last_seen, owner);
}

#[tokio::test]
async fn bad_changes_are_refused_naming_the_field_and_change_nothing() {
    let Team {
        app,
        conversation,
        lan,
        thu,
        ..
    } = team().await;
    let path = format!("/api/conversations/{conversation}");
    let admin = app.admin().await;
    let (status, _) = app
        .post(
            "/api/labels",
            &admin,
            json!({"name": "VIP", "color": "#d4a017"}),
        )
        .await;
    assert_eq!(status, 200);
    let an_hour_ago = switchboard_domain::UnixMillis::now().0 / 1000 - 3600;
    for (body, field) in [
        (json!({"snoozed_until": an_hour_ago}), "snoozed_until"),
        (json!({"status": "snoozed"}), "snoozed_until"),
        (json!({"status": "closed"}), "status"),
        (json!({"labels": ["VIP", "Hoàn tiền"]}), "labels[1]"),
        (json!({"assignee_user_id": 9999}), "assignee_user_id"),
        (json!({"assignee_user_id": "lan"}), "assignee_user_id"),
        (json!({"owner": lan.1}), "owner"),
        (json!({}), "body"),
    ] {
        let answer = app.patch(&path, &thu.0, body.clone()).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.1);
        assert_eq!(answer.1["error"]["field"], field, "{body}: {}", answer.1);
    }
    let unknown = app
        .patch(
            "/api/conversations/987654",
            &thu.0,
            json!({"status": "open"}),
        )
        .await;
    assert_error(&unknown, 404, "code", "not_found");

    let empty = app
        .post(&format!("{path}/notes"), &lan.0, json!({"text": "  "}))
        .await;
    assert_error(&empty, 422, "field", "text");
    let long = app
        .post(
            &format!("{path}/notes"),
            &lan.0,
            json!({"text": "x".repeat(100 * 1024)}),
        )
        .await;
    assert!(matches!(long.0, 413 | 422), "{}: {}", long.0, long.1);

    let label = app
        .post(
            "/api/labels",
            &lan.0,
            json!({"name": "Mới", "color": "#ffffff"}),
        )
        .await;
    assert_error(&label, 403, "code", "forbidden");
    let colour = app
        .post(
            "/api/labels",
            &admin,
            json!({"name": "Mới", "color": "white"}),
        )
        .await;
    assert_error(&colour, 422, "field", "color");
    let twice = app
        .post(
            "/api/labels",
            &admin,
            json!({"name": "vip", "color": "#ffffff"}),
        )
        .await;
    assert_error(&twice, 409, "code", "conflict");

    let (_, list) = app
        .get(&format!("/api/conversations?ids={conversation}"), &thu.0)
        .await;
    let unchanged = &list["data"][0];
    assert_eq!(
        (
            &unchanged["status"],
            &unchanged["assignee_user_id"],
            &unchanged["labels"]
        ),
        (&json!("open"), &Value::Null, &json!([]))
    );
    let (_, notes) = app.get(&format!("{path}/notes"), &thu.0).await;
    assert_eq!(notes["data"]["items"], json!([]));
}

#[tokio::test]
async fn a_snooze_ends_on_time_and_a_customers_message_reopens_for_the_owner() {
    let Team {
        app,
        bot,
        conversation,
        lan,
        ..
    } = team().await;
    let mut console = app.socket(&lan.0).await;
    let path = format!("/api/conversations/{conversation}");
    app.post_empty(&format!("{path}/take"), &lan.0).await;
    updated(&mut console).await;

    // One second from now (as Unix seconds): the sweep on this node ends it.
    let soon = switchboard_domain::UnixMillis::now().0 as f64 / 1000.0 + 1.0;
    let (status, snoozed) = app
        .patch(&path, &lan.0, json!({"snoozed_until": soon}))
        .await;
    assert_eq!(status, 200, "{snoozed}");
    assert_eq!(snoozed["data"]["status"], "snoozed");
    assert!(snoozed["data"]["snoozed_until"].is_string());
    updated(&mut console).await;
    let woken = next_named_within(
        &mut console,
        "conversation_updated",
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(woken["reason"], "snooze_ended");
    assert_eq!(
        (
            &woken["conversation"]["status"],
            &woken["conversation"]["assignee_user_id"]
        ),
        (&json!("open"), &json!(lan.1))
    );

    let (status, _) = app
        .patch(&path, &lan.0, json!({"status": "resolved"}))
        .await;
    assert_eq!(status, 200);
    app.incoming(&bot, "page1", "m2", "t1", "Cho mình hỏi thêm")
        .await;
    let news = next_named(&mut console, "new_messages").await;
    assert_eq!(
        (
            &news["conversations"][0]["status"],
            &news["conversations"][0]["assignee_user_id"]
        ),
        (&json!("open"), &json!(lan.1))
    );
}

#[tokio::test]
async fn the_inbox_lists_mine_and_the_queue_with_their_counts() {
    let Team {
        app,
        bot,
        conversation,
        lan,
        thu,
        ..
    } = team().await;
    let other = app.incoming(&bot, "page1", "m9", "t9", "Alo shop").await;
    let admin = app.admin().await;
    app.post(
        "/api/labels",
        &admin,
        json!({"name": "Đơn hàng", "color": "#1f8a4c"}),
    )
    .await;
    app.post_empty(&format!("/api/conversations/{conversation}/take"), &lan.0)
        .await;
    let (status, _) = app
        .patch(
            &format!("/api/conversations/{other}"),
            &thu.0,
            json!({"labels": ["đơn hàng"]}),
        )
        .await;
    assert_eq!(status, 200);

    let ids = |page: &Value| -> Vec<i64> {
        page["data"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|c| c["id"].as_i64())
            .collect()
    };
    let (_, mine) = app.get("/api/inbox?assignee=me", &lan.0).await;
    assert_eq!(ids(&mine), [conversation]);
    let (_, queue) = app
        .get("/api/inbox?assignee=none&status=open", &lan.0)
        .await;
    assert_eq!(ids(&queue), [other]);
    let (_, labelled) = app
        .get(
            "/api/conversations/page1?label=%C4%90%C6%A1n%20h%C3%A0ng",
            &lan.0,
        )
        .await;
    assert_eq!(ids(&labelled), [other]);
    assert_eq!(labelled["data"]["items"][0]["labels"], json!(["Đơn hàng"]));
    let (_, counts) = app.get("/api/inbox/counts", &lan.0).await;
    assert_eq!(
        counts["data"],
        json!({"mine": 1, "unassigned": 1, "all": 2})
    );

    let integrator = {
        let (status, token) = app
            .post("/api/tokens", &admin, json!({"name": "crm"}))
            .await;
        assert_eq!(status, 200, "{token}");
        token["data"]["token"].as_str().expect("token").to_owned()
    };
    let me = app.get("/api/inbox?assignee=me", &integrator).await;
    assert_error(&me, 422, "field", "assignee");
    let bad = app.get("/api/inbox?status=done", &lan.0).await;
    assert_error(&bad, 422, "field", "status");

    // Anyone on the team reads who is on it (to assign, to mention): names and roles, nothing else.
    let (status, members) = app.get("/api/team", &lan.0).await;
    assert_eq!(status, 200, "{members}");
    let names: Vec<&str> = members["data"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert_eq!(names, ["admin", "lan", "minh", "thu"]);
    assert_eq!(members["data"][1]["role"], "agent");
    assert!(members["data"][1].get("disabled").is_none());
}

#[tokio::test]
async fn a_note_tells_whom_it_mentions_and_never_reaches_the_customer_or_the_bot() {
    let Team {
        app,
        bot,
        conversation,
        lan,
        minh,
        ..
    } = team().await;
    let mut minhs_console = app.socket(&minh.0).await;
    let mut bot_events = Client::connect(&app.receiver, &json!({"token": bot}), "")
        .await
        .expect("bot socket");
    let mut bot_commands = app.socket(&bot).await;

    let path = format!("/api/conversations/{conversation}");
    let (status, note) = app
        .post(
            &format!("{path}/notes"),
            &lan.0,
            json!({"text": "@minh khách hỏi giá sỉ, anh xem giúp"}),
        )
        .await;
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["data"]["mentions"], json!([minh.1]));
    let told = next_named(&mut minhs_console, "note_added").await;
    assert_eq!(told["note"]["mentions"], json!([minh.1]));
    assert_eq!(told["note"]["author_name"], "lan");
    app.post_empty(&format!("{path}/take"), &lan.0).await;

    // The reply that follows is the first command the bot gets; of the events, the bot sees the
    // reply's and the customer's next message, never the note or the assignment.
    let (status, _) = app
        .post(
            "/api/send_message_from_crm",
            &lan.0,
            json!({"conversation_id": conversation, "text": "Dạ, giá sỉ là 90k ạ"}),
        )
        .await;
    assert_eq!(status, 200);
    let command = next_named(&mut bot_commands, "send_message_command").await;
    assert_eq!(command["text"], "Dạ, giá sỉ là 90k ạ");
    app.incoming(&bot, "page1", "m2", "t1", "Ok shop").await;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), bot_events.next_event())
            .await
            .expect("new_messages within 10 s")
            .expect("an event");
        assert!(
            !matches!(
                event.name.as_str(),
                "note_added" | "conversation_updated" | "labels_changed"
            ),
            "the bot received {}",
            event.raw()
        );
        if event.name == "new_messages" {
            break;
        }
    }

    let (_, notes) = app.get(&format!("{path}/notes"), &minh.0).await;
    assert_eq!(
        notes["data"]["items"][0]["text"],
        "@minh khách hỏi giá sỉ, anh xem giúp"
    );
}

#[tokio::test]
async fn supervisors_keep_the_canned_responses_and_agents_read_them() {
    let Team { app, lan, thu, .. } = team().await;
    let body = json!({"shortcut": "/Chao", "text": "Dạ em chào {{customer.name}}, em là {{agent.name}} ạ"});
    let (status, made) = app.post("/api/canned_responses", &thu.0, body).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["data"]["shortcut"], "chao");
    let id = made["data"]["id"].as_i64().expect("id");

    let by_agent = app
        .post(
            "/api/canned_responses",
            &lan.0,
            json!({"shortcut": "x", "text": "y"}),
        )
        .await;
    assert_error(&by_agent, 403, "code", "forbidden");
    let unknown = app
        .post(
            "/api/canned_responses",
            &thu.0,
            json!({"shortcut": "sdt", "text": "Số của anh là {{customer.phone}}"}),
        )
        .await;
    assert_error(&unknown, 422, "field", "text");
    let twice = app
        .post(
            "/api/canned_responses",
            &thu.0,
            json!({"shortcut": "chao", "text": "Chào"}),
        )
        .await;
    assert_error(&twice, 409, "code", "conflict");

    let (status, list) = app.get("/api/canned_responses", &lan.0).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["data"][0]["text"],
        "Dạ em chào {{customer.name}}, em là {{agent.name}} ạ"
    );
    let (status, changed) = app
        .patch(
            &format!("/api/canned_responses/{id}"),
            &thu.0,
            json!({"shortcut": "chao", "text": "Xin chào {{customer.name}}"}),
        )
        .await;
    assert_eq!(
        (status, &changed["data"]["text"]),
        (200, &json!("Xin chào {{customer.name}}"))
    );
    let (status, left) = app
        .delete(&format!("/api/canned_responses/{id}"), &thu.0)
        .await;
    assert_eq!((status, &left["data"]), (200, &json!([])));
    let gone = app
        .delete(&format!("/api/canned_responses/{id}"), &thu.0)
        .await;
    assert_error(&gone, 404, "code", "not_found");
}

#[tokio::test]
async fn a_teams_canned_responses_reach_its_members_only() {
    let Team {
        app,
        lan,
        minh,
        thu,
        ..
    } = team().await;
    let admin = app.admin().await;
    let (status, team) = app
        .post(
            "/api/teams",
            &admin,
            json!({"name": "Ca sáng", "member_ids": [lan.1]}),
        )
        .await;
    assert_eq!(status, 200, "{team}");
    let team_id = team["data"]["id"].as_i64().expect("team id");
    for (shortcut, team) in [("chao", json!(null)), ("ship-sang", json!(team_id))] {
        let body = json!({"shortcut": shortcut, "text": "Dạ em chào {{customer.name}} ạ", "team_id": team});
        let (status, made) = app.post("/api/canned_responses", &thu.0, body).await;
        assert_eq!(status, 200, "{made}");
        assert_eq!(made["data"]["team_id"], team);
    }
    let no_team = app
        .post(
            "/api/canned_responses",
            &thu.0,
            json!({"shortcut": "x", "text": "y", "team_id": team_id + 100}),
        )
        .await;
    assert_error(&no_team, 422, "field", "team_id");

    let shortcuts = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|c| c["shortcut"].as_str().expect("shortcut").to_owned())
            .collect()
    };
    let (_, for_lan) = app.get("/api/canned_responses", &lan.0).await;
    assert_eq!(shortcuts(&for_lan), ["chao", "ship-sang"]);
    let (_, for_minh) = app.get("/api/canned_responses", &minh.0).await;
    assert_eq!(shortcuts(&for_minh), ["chao"]);
    let (_, for_thu) = app.get("/api/canned_responses", &thu.0).await;
    assert_eq!(shortcuts(&for_thu), ["chao", "ship-sang"]);
}
