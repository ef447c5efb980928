//! The seed's read endpoints: accounts, conversations (paged, filtered), messages, notifications.

use serde_json::json;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::next_named;

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
    let (status, first) = app
        .call(
            "GET",
            "/api/conversations/page1?limit=2",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let threads = |page: &serde_json::Value| -> Vec<String> {
        page["data"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["thread_id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(threads(&first), ["t4", "t3"]);
    let cursor = first["data"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let (_, second) = app
        .call(
            "GET",
            &format!("/api/conversations/page1?limit=2&cursor={cursor}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(threads(&second), ["t2", "t1"]);
    let cursor = second["data"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let (_, last) = app
        .call(
            "GET",
            &format!("/api/conversations/page1?limit=2&cursor={cursor}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(threads(&last), ["t0"]);
    assert!(last["data"]["next_cursor"].is_null());

    let (_, found) = app
        .call(
            "GET",
            "/api/conversations/page1?q=s%E1%BB%91%203",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(threads(&found), ["t3"]);
    let (_, by_name) = app
        .call(
            "GET",
            "/api/conversations/page1?q=Thu%20Trang&limit=10",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(by_name["data"]["items"].as_array().map(Vec::len), Some(5));

    let (status, bad) = app
        .call(
            "GET",
            "/api/conversations/page1?cursor=garbage",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(
        (status, bad["error"]["field"].as_str()),
        (422, Some("cursor"))
    );
    let (status, _) = app
        .call(
            "GET",
            "/api/conversations/page1?limit=0",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .call("GET", "/api/conversations/nope", Some(&agent), None)
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn reading_a_conversation_resets_its_unread_count_for_every_console() {
    let app = TestSystem::spawn().await;
    let bot = app.bot("page1").await;
    let conversation = app.incoming(&bot, "page1", "m1", "t1", "một").await;
    app.incoming(&bot, "page1", "m2", "t1", "hai").await;
    let agent = app.user("lan", "agent").await;
    let (_, unread) = app
        .call(
            "GET",
            "/api/conversations/page1?unread=true",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(unread["data"]["items"][0]["unread_count"], 2);
    let mut other_console = app.socket(&app.admin().await).await;
    let (status, read) = app
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/read"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(
        (status, read["data"]["unread_count"].as_i64()),
        (200, Some(0))
    );
    let event = next_named(&mut other_console, "conversation_read").await;
    assert_eq!(event["conversation"]["id"].as_i64(), Some(conversation));
    let (_, unread) = app
        .call(
            "GET",
            "/api/conversations/page1?unread=true",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(unread["data"]["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn messages_and_notifications_page_newest_first() {
    let app = TestSystem::spawn().await;
    let bot = app.bot("page1").await;
    let conversation = app.incoming(&bot, "page1", "m1", "t1", "cũ").await;
    app.incoming(&bot, "page1", "m2", "t1", "mới").await;
    let agent = app.user("lan", "agent").await;
    let (_, page) = app
        .call(
            "GET",
            &format!("/api/messages/{conversation}?limit=1"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(page["data"]["items"][0]["text"], "mới");
    let cursor = page["data"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let (_, older) = app
        .call(
            "GET",
            &format!("/api/messages/{conversation}?limit=1&cursor={cursor}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(older["data"]["items"][0]["text"], "cũ");
    let (status, _) = app
        .call("GET", "/api/messages/999999", Some(&agent), None)
        .await;
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
    let (_, list) = app
        .call("GET", "/api/notifications/page1", Some(&agent), None)
        .await;
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
        .call(
            "GET",
            &format!("/api/conversations?ids={first},{second},999999,{first}"),
            Some(&agent),
            None,
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
        let (status, body) = app
            .call(
                "GET",
                &format!("/api/conversations{query}"),
                Some(&agent),
                None,
            )
            .await;
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
        .call(
            "GET",
            &format!("/api/conversations?ids={many}"),
            Some(&agent),
            None,
        )
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
