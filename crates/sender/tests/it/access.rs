//! Access by page and team: an agent sees only the accounts an admin let them see, in every list and
//! read and in their live stream, and a change of access applies to the stream at that point of the
//! log. Events of hidden accounts are proven absent by order, not by waiting: a later event of a
//! visible account arrives first.

use serde_json::{Value, json};
use switchboard_sioclient::Client;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::next_named;

async fn user_id(app: &TestSystem, token: &str) -> i64 {
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(status, 200, "{me}");
    me["data"]["user"]["id"].as_i64().expect("id")
}

/// The account of the next `new_messages` on `console`.
async fn next_message_account(console: &mut Client) -> Value {
    next_named(console, "new_messages").await["user_id_chat"].clone()
}

/// The next `access_changed` on an agent's console: its event id and nothing about any account.
async fn access_notice(console: &mut Client) {
    let notice = next_named(console, "access_changed").await;
    let keys: Vec<&String> = notice.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["event_id"], "{notice}");
}

fn accounts_of(answer: &Value) -> Vec<&str> {
    let mut found: Vec<&str> = answer["data"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["user_id_chat"].as_str())
        .collect();
    found.sort_unstable();
    found
}

#[tokio::test]
async fn an_agent_sees_only_the_pages_granted_to_them_or_their_team_live() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let (bot1, bot2) = (app.bot("page1").await, app.bot("page2").await);
    let first = app.incoming(&bot1, "page1", "m1", "t1", "Xin chào").await;
    let hidden = app
        .incoming(&bot2, "page2", "m2", "t2", "Còn hàng không ạ?")
        .await;
    let lan = app.user("lan", "agent").await;
    let minh = app.user("minh", "agent").await;
    let thu = app.user("thu", "supervisor").await;
    let (lan_id, minh_id) = (user_id(&app, &lan).await, user_id(&app, &minh).await);
    let mut lan_console = app.socket(&lan).await;

    // Before any list, every user sees every page, as before access existed.
    let (_, listed) = app.get("/api/fb_accounts", &lan).await;
    assert_eq!(accounts_of(&listed), ["page1", "page2"]);

    let (status, set) = app
        .put(
            "/api/fb_accounts/page2/access",
            &admin,
            json!({"user_ids": [minh_id]}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        (&set["data"]["restricted"], &set["data"]["user_ids"]),
        (&json!(true), &json!([minh_id]))
    );
    // Lan's console is told its view changed, with nothing about the account.
    access_notice(&mut lan_console).await;

    // Every list and read leaves page2 out, or answers as if it did not exist.
    let (_, listed) = app.get("/api/fb_accounts", &lan).await;
    assert_eq!(accounts_of(&listed), ["page1"]);
    let (_, listed) = app.get("/api/fb_accounts", &minh).await;
    assert_eq!(accounts_of(&listed), ["page1", "page2"]);
    assert_error(
        &app.get("/api/conversations/page2", &lan).await,
        422,
        "code",
        "unknown_account",
    );
    assert_error(
        &app.get("/api/notifications/page2", &lan).await,
        422,
        "code",
        "unknown_account",
    );
    assert_error(
        &app.get(&format!("/api/messages/{hidden}"), &lan).await,
        404,
        "code",
        "not_found",
    );
    assert_error(
        &app.post(
            "/api/send_message_from_crm",
            &lan,
            json!({"conversation_id": hidden, "message": "Dạ còn ạ"}),
        )
        .await,
        404,
        "code",
        "not_found",
    );
    assert_error(
        &app.post_empty(&format!("/api/conversations/{hidden}/take"), &lan)
            .await,
        404,
        "code",
        "not_found",
    );
    let (_, by_id) = app
        .get(&format!("/api/conversations?ids={first},{hidden}"), &lan)
        .await;
    assert_eq!(by_id["data"].as_array().map(Vec::len), Some(1), "{by_id}");
    let (_, inbox) = app.get("/api/inbox", &lan).await;
    assert_eq!(
        inbox["data"]["items"].as_array().map(Vec::len),
        Some(1),
        "{inbox}"
    );
    let (_, counts) = app.get("/api/inbox/counts", &lan).await;
    assert_eq!(counts["data"]["all"], 1, "{counts}");
    let (_, counts) = app.get("/api/inbox/counts", &minh).await;
    assert_eq!(counts["data"]["all"], 2, "{counts}");

    // A supervisor cannot give page2's conversation to someone who may not see it.
    assert_error(
        &app.patch(
            &format!("/api/conversations/{hidden}"),
            &admin,
            json!({"assignee_user_id": lan_id}),
        )
        .await,
        422,
        "field",
        "assignee_user_id",
    );
    let _ = thu;

    // Live: page2's message never reaches Lan; page1's, written after it, does.
    app.incoming(&bot2, "page2", "m3", "t2", "Alo shop").await;
    app.incoming(&bot1, "page1", "m4", "t1", "Cảm ơn").await;
    assert_eq!(next_message_account(&mut lan_console).await, "page1");

    // Through a team: Lan joins "Ca sáng", which is put on page2's list.
    let (status, team) = app
        .post(
            "/api/teams",
            &admin,
            json!({"name": "Ca sáng", "member_ids": [lan_id]}),
        )
        .await;
    assert_eq!(status, 200, "{team}");
    let team_id = team["data"]["id"].as_i64().expect("team id");
    // Joining a team that sees nothing new changes nothing Lan sees: no notice.
    let (status, _) = app
        .put(
            "/api/fb_accounts/page2/access",
            &admin,
            json!({"user_ids": [minh_id], "team_ids": [team_id]}),
        )
        .await;
    assert_eq!(status, 200);
    access_notice(&mut lan_console).await;
    app.incoming(&bot2, "page2", "m5", "t2", "Ship về Đà Nẵng được không?")
        .await;
    assert_eq!(next_message_account(&mut lan_console).await, "page2");
    let (_, listed) = app.get("/api/fb_accounts", &lan).await;
    assert_eq!(accounts_of(&listed), ["page1", "page2"]);

    // Leaving the team takes it away again, at once.
    let (status, _) = app
        .patch(
            &format!("/api/teams/{team_id}"),
            &admin,
            json!({"member_ids": []}),
        )
        .await;
    assert_eq!(status, 200);
    access_notice(&mut lan_console).await;
    app.incoming(&bot2, "page2", "m6", "t2", "Shop ơi").await;
    app.incoming(&bot1, "page1", "m7", "t1", "Dạ").await;
    assert_eq!(next_message_account(&mut lan_console).await, "page1");

    // An empty body lifts the restriction: everyone sees page2 again.
    let (status, open) = app
        .put("/api/fb_accounts/page2/access", &admin, json!({}))
        .await;
    assert_eq!((status, &open["data"]["restricted"]), (200, &json!(false)));
    let (_, listed) = app.get("/api/fb_accounts", &lan).await;
    assert_eq!(accounts_of(&listed), ["page1", "page2"]);
}

#[tokio::test]
async fn deleting_the_only_team_on_a_list_keeps_the_page_restricted() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    app.bot("page1").await;
    let lan = app.user("lan", "agent").await;
    let lan_id = user_id(&app, &lan).await;
    let (_, team) = app
        .post(
            "/api/teams",
            &admin,
            json!({"name": "Kho", "member_ids": [lan_id]}),
        )
        .await;
    let team_id = team["data"]["id"].as_i64().expect("team id");
    app.put(
        "/api/fb_accounts/page1/access",
        &admin,
        json!({"team_ids": [team_id]}),
    )
    .await;
    let (_, listed) = app.get("/api/fb_accounts", &lan).await;
    assert_eq!(accounts_of(&listed), ["page1"]);

    let (status, left) = app.delete(&format!("/api/teams/{team_id}"), &admin).await;
    assert_eq!((status, &left["data"]), (200, &json!([])));
    let (_, access) = app.get("/api/fb_accounts/page1/access", &admin).await;
    assert_eq!(
        (&access["data"]["restricted"], &access["data"]["team_ids"]),
        (&json!(true), &json!([]))
    );
    let (_, listed) = app.get("/api/fb_accounts", &lan).await;
    assert_eq!(accounts_of(&listed), Vec::<&str>::new());
}

#[tokio::test]
async fn bad_access_changes_are_refused_naming_the_field() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    app.bot("page1").await;
    let lan = app.user("lan", "agent").await;
    let path = "/api/fb_accounts/page1/access";
    assert_error(
        &app.put(path, &admin, json!({"user_ids": [999]})).await,
        422,
        "field",
        "user_ids[0]",
    );
    assert_error(
        &app.put(path, &admin, json!({"team_ids": [0]})).await,
        422,
        "field",
        "team_ids",
    );
    assert_error(
        &app.put(path, &admin, json!({"users": [1]})).await,
        422,
        "code",
        "invalid_field",
    );
    assert_error(
        &app.put(path, &lan, json!({})).await,
        403,
        "code",
        "forbidden",
    );
    assert_error(
        &app.put("/api/fb_accounts/nope/access", &admin, json!({}))
            .await,
        422,
        "code",
        "unknown_account",
    );
    assert_error(
        &app.post("/api/teams", &admin, json!({"member_ids": []}))
            .await,
        422,
        "field",
        "name",
    );
    app.post("/api/teams", &admin, json!({"name": "Kho"})).await;
    assert_error(
        &app.post("/api/teams", &admin, json!({"name": "KHO"})).await,
        409,
        "code",
        "conflict",
    );
    assert_error(
        &app.post("/api/teams", &lan, json!({"name": "X"})).await,
        403,
        "code",
        "forbidden",
    );
    assert_error(
        &app.patch("/api/teams/77", &admin, json!({"name": "X"}))
            .await,
        404,
        "code",
        "not_found",
    );
    // Nothing was changed by any of it.
    let (_, access) = app.get(path, &admin).await;
    assert_eq!(access["data"]["restricted"], false);
}

#[tokio::test]
async fn a_scoped_api_token_sees_its_accounts_only_and_administers_nothing() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let bot1 = app.bot("page1").await;
    let bot2 = app.bot("page2").await;
    app.incoming(&bot1, "page1", "m1", "t1", "Xin chào").await;
    let hidden = app.incoming(&bot2, "page2", "m2", "t2", "Chào shop").await;
    let (status, issued) = app
        .post(
            "/api/tokens",
            &admin,
            json!({"name": "crm-kho", "accounts": ["page1"]}),
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    let token = issued["data"]["token"].as_str().expect("token").to_owned();
    let (_, listed) = app.get("/api/fb_accounts", &token).await;
    assert_eq!(accounts_of(&listed), ["page1"]);
    assert_error(
        &app.get(&format!("/api/messages/{hidden}"), &token).await,
        404,
        "code",
        "not_found",
    );
    assert_error(
        &app.get("/api/users", &token).await,
        403,
        "code",
        "forbidden",
    );
    assert_error(
        &app.put("/api/fb_accounts/page2/access", &token, json!({}))
            .await,
        403,
        "code",
        "forbidden",
    );
    // It works its pages as an unscoped token does: it assigns their conversations.
    let shared = app.incoming(&bot1, "page1", "m5", "t5", "Cho hỏi").await;
    let agent = app.user("lan", "agent").await;
    let lan_id = user_id(&app, &agent).await;
    let (status, assigned) = app
        .patch(
            &format!("/api/conversations/{shared}"),
            &token,
            json!({"assignee_user_id": lan_id}),
        )
        .await;
    assert_eq!(status, 200, "{assigned}");
    let (_, tokens) = app.get("/api/tokens", &admin).await;
    let listed = tokens["data"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == "crm-kho"))
        .expect("listed");
    assert_eq!(listed["accounts"], json!(["page1"]));

    let mut stream = app.socket(&token).await;
    app.incoming(&bot2, "page2", "m3", "t2", "Alo").await;
    app.incoming(&bot1, "page1", "m4", "t1", "Dạ").await;
    assert_eq!(next_message_account(&mut stream).await, "page1");

    assert_error(
        &app.post("/api/tokens", &admin, json!({"name": "x", "accounts": []}))
            .await,
        422,
        "field",
        "accounts",
    );
    assert_error(
        &app.post(
            "/api/tokens",
            &admin,
            json!({"name": "x", "accounts": ["nope"]}),
        )
        .await,
        422,
        "field",
        "accounts[0]",
    );
}
