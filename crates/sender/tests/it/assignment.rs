//! Automatic assignment through the API: an admin turns it on for a page, agents whose consoles are
//! connected are given its conversations fairly under the page's limit, the rest wait and go as room
//! appears or someone comes online, and an agent who leaves hands theirs back.

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_sender::SenderOptions;
use switchboard_sioclient::Client;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::next_named;
use switchboard_testkit::wait::eventually;

async fn user_id(app: &TestSystem, token: &str) -> i64 {
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(status, 200, "{me}");
    me["data"]["user"]["id"].as_i64().expect("id")
}

/// Waits until the team list shows `user_id` online (`true`) or offline.
async fn shown_online(app: &TestSystem, token: &str, user_id: i64, online: bool) {
    eventually(10, "the team list to show the presence", || async {
        let (_, team) = app.get("/api/team", token).await;
        let member = team["data"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|m| m["id"] == user_id)
            .cloned()
            .expect("a member");
        (member["online"] == online).then_some(())
    })
    .await;
}

/// The next `conversation_updated` about `conversation` with `reason`, on `console`.
async fn updated(console: &mut Client, conversation: i64, reason: &str) -> Value {
    loop {
        let update = next_named(console, "conversation_updated").await;
        if update["conversation"]["id"] == conversation && update["reason"] == reason {
            return update;
        }
    }
}

/// Who owns `conversation`, as the page's list shows it.
async fn owner(app: &TestSystem, token: &str, conversation: i64) -> Value {
    let (status, list) = app.get("/api/conversations/page1", token).await;
    assert_eq!(status, 200, "{list}");
    list["data"]["items"]
        .as_array()
        .expect("a page")
        .iter()
        .find(|c| c["id"] == conversation)
        .expect("the conversation")["assignee_user_id"]
        .clone()
}

#[tokio::test]
async fn online_agents_are_given_a_pages_conversations_fairly_and_hand_them_back_when_gone() {
    let app = TestSystem::spawn_with(SenderOptions {
        // Heartbeats often, and an agent whose console closed is gone at the next one.
        presence_heartbeat: Duration::from_millis(100),
        offline_grace: Duration::ZERO,
        ..SenderOptions::default()
    })
    .await;
    let admin = app.admin().await;
    let bot = app.bot("page1").await;
    let lan = app.user("lan", "agent").await;
    let minh = app.user("minh", "agent").await;
    let (lan_id, minh_id) = (user_id(&app, &lan).await, user_id(&app, &minh).await);

    // Bad settings are refused by name; agents may not change them.
    let zero = app
        .put(
            "/api/fb_accounts/page1/assignment",
            &admin,
            json!({"auto": true, "limit": 0}),
        )
        .await;
    assert_error(&zero, 422, "field", "limit");
    let by_agent = app
        .put(
            "/api/fb_accounts/page1/assignment",
            &lan,
            json!({"auto": true}),
        )
        .await;
    assert_error(&by_agent, 403, "code", "forbidden");
    let unknown = app
        .put(
            "/api/fb_accounts/nope/assignment",
            &admin,
            json!({"auto": true}),
        )
        .await;
    assert_error(&unknown, 422, "code", "unknown_account");
    let (_, accounts) = app.get("/api/fb_accounts", &admin).await;
    assert_eq!(
        accounts["data"][0]["assignment"],
        json!({"auto": false, "limit": 10, "return_when_offline": false}),
        "off by default"
    );

    // A conversation arrives before anyone is online: it waits.
    let first = app.incoming(&bot, "page1", "m1", "t1", "Shop ơi").await;
    let (status, set) = app
        .put(
            "/api/fb_accounts/page1/assignment",
            &admin,
            json!({"auto": true, "limit": 1, "return_when_offline": true}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        set["data"]["assignment"],
        json!({"auto": true, "limit": 1, "return_when_offline": true})
    );
    assert_eq!(owner(&app, &admin, first).await, Value::Null);

    // Lan's console connects: the waiting conversation is hers, and she is told.
    let mut lan_console = app.socket(&lan).await;
    let given = updated(&mut lan_console, first, "auto_assigned").await;
    assert_eq!(given["conversation"]["assignee_user_id"], lan_id);
    shown_online(&app, &admin, lan_id, true).await;

    // She is full (limit 1): the next one waits, decided in the write that stored it.
    let second = app
        .incoming(&bot, "page1", "m2", "t2", "Còn size M không?")
        .await;
    assert_eq!(owner(&app, &admin, second).await, Value::Null);
    // Minh comes online and is given it.
    let mut minh_console = app.socket(&minh).await;
    let given = updated(&mut minh_console, second, "auto_assigned").await;
    assert_eq!(given["conversation"]["assignee_user_id"], minh_id);

    // Lan resolves hers: room, but nothing waits. A third customer goes to her.
    let (status, _) = app
        .patch(
            &format!("/api/conversations/{first}"),
            &lan,
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200);
    let third = app
        .incoming(&bot, "page1", "m3", "t3", "Ship COD được không?")
        .await;
    assert_eq!(owner(&app, &admin, third).await, json!(lan_id));

    // Lan closes the console: at the next heartbeat her open conversation goes back to the queue
    // (Minh is full, so it waits there), and the others see it.
    lan_console.close();
    let returned = updated(&mut minh_console, third, "returned").await;
    assert_eq!(returned["conversation"]["assignee_user_id"], Value::Null);
    shown_online(&app, &admin, lan_id, false).await;
    assert_eq!(owner(&app, &admin, second).await, json!(minh_id));
}
