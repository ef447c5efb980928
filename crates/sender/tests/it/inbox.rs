//! The seed's read endpoints: accounts, conversations (paged, filtered), messages, notifications.

use serde_json::{Value, json};
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::next_named;

/// A sender where a customer wrote `first`, then `second`, in one conversation with page1, and
/// agent Lan is logged in: page1's bot token, the conversation's id and Lan's session token.
async fn two_messages_in_a_thread(first: &str, second: &str) -> (TestSystem, String, i64, String) {
    let app = TestSystem::spawn().await;
    let bot = app.bot("page1").await;
    let conversation = app.incoming(&bot, "page1", "m1", "t1", first).await;
    app.incoming(&bot, "page1", "m2", "t1", second).await;
    let agent = app.user("lan", "agent").await;
    (app, bot, conversation, agent)
}

/// The page after `page` of the list at `path` (a query string included): it follows the page's cursor.
async fn page_after(app: &TestSystem, token: &str, path: &str, page: &Value) -> Value {
    let cursor = page["data"]["next_cursor"].as_str().expect("cursor");
    app.get(&format!("{path}&cursor={cursor}"), token).await.1
}

#[tokio::test]
async fn conversations_are_paged_newest_first_and_filtered() {
    let app = TestSystem::spawn().await;
    let bot = app.bot("page1").await;
    for i in 0..5 {
        app.incoming(
            &bot,
            "page1",
            &format!("m{i}"),
            &format!("t{i}"),
            &format!("tin số {i}"),
        )
        .await;
        // Distinct arrival times, for the order: the wait is the thing under test.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let agent = app.user("lan", "agent").await;
    let two_at_a_time = "/api/conversations/page1?limit=2";
    let (status, first) = app.get(two_at_a_time, &agent).await;
    assert_eq!(status, 200, "{first}");
    let threads = |page: &Value| -> Vec<String> {
        page["data"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["thread_id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(threads(&first), ["t4", "t3"]);
    let second = page_after(&app, &agent, two_at_a_time, &first).await;
    assert_eq!(threads(&second), ["t2", "t1"]);
    let last = page_after(&app, &agent, two_at_a_time, &second).await;
    assert_eq!(threads(&last), ["t0"]);
    assert!(last["data"]["next_cursor"].is_null());

    let (_, found) = app
        .get("/api/conversations/page1?q=s%E1%BB%91%203", &agent)
        .await;
    assert_eq!(threads(&found), ["t3"]);
    let (_, by_name) = app
        .get("/api/conversations/page1?q=Thu%20Trang&limit=10", &agent)
        .await;
    assert_eq!(by_name["data"]["items"].as_array().map(Vec::len), Some(5));

    let answer = app
        .get("/api/conversations/page1?cursor=garbage", &agent)
        .await;
    assert_error(&answer, 422, "field", "cursor");
    for path in [
        "/api/conversations/page1?limit=0",
        "/api/conversations/nope",
    ] {
        let (status, _) = app.get(path, &agent).await;
        assert_eq!(status, 422, "{path}");
    }
}

#[tokio::test]
async fn reading_a_conversation_resets_its_unread_count_for_every_console() {
    let (app, _, conversation, agent) = two_messages_in_a_thread("một", "hai").await;
    let unread_only = "/api/conversations/page1?unread=true";
    let (_, unread) = app.get(unread_only, &agent).await;
    assert_eq!(unread["data"]["items"][0]["unread_count"], 2);
    let mut other_console = app.socket(&app.admin().await).await;
    let (status, read) = app
        .post_empty(&format!("/api/conversations/{conversation}/read"), &agent)
        .await;
    assert_eq!(
        (status, read["data"]["unread_count"].as_i64()),
        (200, Some(0))
    );
    let event = next_named(&mut other_console, "conversation_read").await;
    assert_eq!(event["conversation"]["id"].as_i64(), Some(conversation));
    let (_, unread) = app.get(unread_only, &agent).await;
    assert_eq!(unread["data"]["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn messages_and_notifications_page_newest_first() {
    let (app, bot, conversation, agent) = two_messages_in_a_thread("cũ", "mới").await;
    let one_at_a_time = format!("/api/messages/{conversation}?limit=1");
    let (_, page) = app.get(&one_at_a_time, &agent).await;
    assert_eq!(page["data"]["items"][0]["text"], "mới");
    let older = page_after(&app, &agent, &one_at_a_time, &page).await;
    assert_eq!(older["data"]["items"][0]["text"], "cũ");
    let (status, _) = app.get("/api/messages/999999", &agent).await;
    assert_eq!(status, 404);

    let notifications = json!({"user_id_chat": "page1", "notifications": [
        {"notification_id": "n1", "kind": "comment", "text": "một", "occurred_at": 1767225600},
        {"notification_id": "n2", "kind": "reaction", "text": "hai", "occurred_at": 1767225700}
    ]});
    app.http
        .post(format!("{}/api/bot/new_notifications", app.receiver))
        .bearer_auth(&bot)
        .json(&notifications)
        .send()
        .await
        .expect("post");
    let (_, list) = app.get("/api/notifications/page1", &agent).await;
    assert_eq!(list["data"]["items"][0]["notification_id"], "n2");
}

#[tokio::test]
async fn conversations_are_read_by_id_across_accounts() {
    let app = TestSystem::spawn().await;
    let page1 = app.bot("page1").await;
    let page2 = app.bot("page2").await;
    let first = app.incoming(&page1, "page1", "m1", "t1", "một").await;
    // Distinct arrival times, for the order: the wait is the thing under test.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = app.incoming(&page2, "page2", "m2", "t2", "hai").await;
    let agent = app.user("lan", "agent").await;
    let (status, found) = app
        .get(
            &format!("/api/conversations?ids={first},{second},999999,{first}"),
            &agent,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let items = found["data"].as_array().expect("a list");
    let seen: Vec<(i64, &str)> = items
        .iter()
        .map(|c| {
            (
                c["id"].as_i64().unwrap_or(0),
                c["user_id_chat"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // Newest first, each once, the unknown id left out.
    assert_eq!(seen, [(second, "page2"), (first, "page1")]);

    for (query, problem) in [
        ("", "give one or more"),
        ("?ids=1,abc", "`abc` is not an id"),
        ("?ids=-4", "`-4` is not an id"),
    ] {
        let (status, body) = app.get(&format!("/api/conversations{query}"), &agent).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["field"], "ids");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(problem),
            "{body}"
        );
    }
    let many = (1..=101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (status, _) = app
        .get(&format!("/api/conversations?ids={many}"), &agent)
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/conversations?ids={first}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
}
