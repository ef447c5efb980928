//! Accounts and pages with encrypted credentials: in through the API, never out.

use serde_json::{Value, json};
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::TestSystem;

const SECRET_PASSWORD: &str = "mật-khẩu-rất-bí-mật-771";
const SECRET_TOKEN: &str = "EAABsbCS1iHgBAKZCZBPAGETOKEN5550001";

#[tokio::test]
async fn credentials_are_write_only_and_encrypted_at_rest() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let body = json!({"user_id_chat": "5550001", "name": "Shop Hoa", "kind": "page",
                      "credentials": {"password": SECRET_PASSWORD, "page_access_token": SECRET_TOKEN}});
    let (status, created) = app.post("/api/fb_accounts", &admin, body).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["data"]["credentials"],
        json!({"password": true, "cookies": false, "two_factor_secret": false, "page_access_token": true})
    );

    let (_, list) = app.get("/api/fb_accounts", &admin).await;
    let text = list.to_string();
    assert!(
        !text.contains(SECRET_PASSWORD) && !text.contains(SECRET_TOKEN),
        "{text}"
    );
    assert!(!created.to_string().contains(SECRET_TOKEN));

    let db = app.db_bytes();
    for secret in [SECRET_PASSWORD, SECRET_TOKEN] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the database holds `{secret}` in plain text"
        );
    }
    let key = std::fs::read(app.dir.path().join("encryption.key")).expect("key");
    let cipher = switchboard_storage::Cipher::load(&app.dir.path().join("encryption.key"))
        .expect("load")
        .expect("key");
    let opened = app
        .store
        .account_credentials("5550001", &cipher)
        .await
        .expect("open");
    assert_eq!(opened.password.as_deref(), Some(SECRET_PASSWORD));
    assert!(!key.is_empty());

    // Editing: an empty string removes a credential, an absent one stays.
    let (status, edited) = app
        .patch(
            "/api/fb_accounts/5550001",
            &admin,
            json!({"name": "Shop Hoa Mai", "credentials": {"password": ""}}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (
            edited["data"]["credentials"]["password"].as_bool(),
            edited["data"]["credentials"]["page_access_token"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(edited["data"]["name"], "Shop Hoa Mai");
}

#[tokio::test]
async fn accounts_are_added_disabled_and_removed_by_admins() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let add = |account: Value| app.post("/api/fb_accounts", &admin, account);
    let (status, _) = add(json!({"user_id_chat": "100089", "kind": "personal"})).await;
    assert_eq!(status, 200);
    let answer = add(json!({"user_id_chat": "100089"})).await;
    assert_error(&answer, 409, "code", "already_exists");
    let answer = add(json!({"user_id_chat": "x", "kind": "group"})).await;
    assert_error(&answer, 422, "field", "kind");

    let (_, made) = app
        .post_empty("/api/fb_accounts/100089/bot_token", &admin)
        .await;
    let bot = made["data"]["token"].as_str().expect("token").to_owned();
    let ingest = |token: String| {
        let (http, url) = (app.http.clone(), app.receiver.clone());
        async move {
            let body = json!({"user_id_chat": "100089", "bot_name": "b"});
            http.post(format!("{url}/api/bot/register"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    assert_eq!(ingest(bot.clone()).await, 200);
    let (status, _) = app
        .patch("/api/fb_accounts/100089", &admin, json!({"enabled": false}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        ingest(bot.clone()).await,
        403,
        "a disabled account's bot token stops working, and is told why (account_disabled)"
    );
    // Removed; a second removal finds nothing to remove.
    for expected in [200, 422] {
        let (status, _) = app.delete("/api/fb_accounts/100089", &admin).await;
        assert_eq!(status, expected);
    }
}

#[tokio::test]
async fn removing_an_account_removes_its_events_from_the_log() {
    let app = TestSystem::spawn().await;
    let bot = app.bot("page9").await;
    app.incoming(&bot, "page9", "m1", "t1", "bí mật của khách")
        .await;
    let other = app.bot("page8").await;
    app.incoming(&other, "page8", "m1", "t1", "ở lại").await;
    let admin = app.admin().await;
    let (status, _) = app.delete("/api/fb_accounts/page9", &admin).await;
    assert_eq!(status, 200);
    let events = app.store.events_after(0, 100).await.expect("events");
    assert!(events.iter().all(|e| e.account.as_deref() != Some("page9")));
    assert!(events.iter().any(|e| e.account.as_deref() == Some("page8")));
}
