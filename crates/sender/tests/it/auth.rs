//! Logins, sessions, roles and tokens on the sender.

use serde_json::{Value, json};
use std::time::Duration;
use switchboard_sender::SenderOptions;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::{ADMIN_PASSWORD, TestSystem};

/// A login attempt as the console's form sends it.
async fn log_in(app: &TestSystem, username: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": username, "password": password});
    app.call("POST", "/api/auth/login", None, Some(body)).await
}

/// A login request built by hand (its headers, cookies or body are the test's).
fn login_request(app: &TestSystem) -> reqwest::RequestBuilder {
    app.http.post(format!("{}/api/auth/login", app.sender))
}

/// The status of listing the accounts with `token`: whether the credential is (still) accepted.
async fn accounts_status(app: &TestSystem, token: &str) -> u16 {
    app.status("GET", "/api/fb_accounts", Some(token)).await
}

/// An admin disables `username`'s account, as the users page does: the status of the change.
async fn disable_user(app: &TestSystem, admin: &str, username: &str) -> u16 {
    let (_, users) = app.get("/api/users", admin).await;
    let id = users["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|u| u["username"] == username)
        .expect("the user")["id"]
        .as_i64()
        .expect("id");
    let disabled = json!({"disabled": true});
    app.patch(&format!("/api/users/{id}"), admin, disabled)
        .await
        .0
}

#[tokio::test]
async fn login_gives_a_session_token_and_an_httponly_cookie() {
    let app = TestSystem::spawn().await;
    let response = login_request(&app)
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["data"]["user"]["role"], "admin");
    assert!(body["data"]["user"].get("password_hash").is_none());

    // The cookie alone authenticates, as the console's browser sends it.
    let session = cookie.split(';').next().expect("pair").to_owned();
    let me = app
        .http
        .get(format!("{}/api/auth/me", app.sender))
        .header("cookie", session)
        .send()
        .await
        .expect("me");
    let status = me.status().as_u16();
    assert_eq!(status, 200, "{}", me.text().await.unwrap_or_default());
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_then_slowed_down() {
    let app = TestSystem::spawn().await;
    let answer = log_in(&app, "admin", "nope nope nope").await;
    assert_error(&answer, 401, "code", "unauthorized");
    let (status, _) = log_in(&app, "ghost", ADMIN_PASSWORD).await;
    assert_eq!(status, 401);
    for _ in 0..4 {
        log_in(&app, "admin", "still wrong!").await;
    }
    let answer = log_in(&app, "admin", ADMIN_PASSWORD).await;
    assert_error(&answer, 429, "code", "too_many_requests");
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = TestSystem::spawn().await;
    let token = app.admin().await;
    assert_eq!(accounts_status(&app, &token).await, 200);
    assert_eq!(
        app.status("POST", "/api/auth/logout", Some(&token)).await,
        200
    );
    assert_eq!(accounts_status(&app, &token).await, 401);
}

#[tokio::test]
async fn expired_sessions_and_revoked_tokens_are_refused() {
    let app = TestSystem::spawn_with(SenderOptions {
        // Long enough that the first call is made within it on a loaded machine.
        session_lifetime: Duration::from_millis(1000),
        ..Default::default()
    })
    .await;
    let token = app.admin().await;
    assert_eq!(accounts_status(&app, &token).await, 200);
    // Outliving the session's lifetime: the wait is the thing under test.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(accounts_status(&app, &token).await, 401);

    // Revoked tokens, on a system whose sessions outlive a loaded machine's slowest requests.
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let (_, made) = app
        .post("/api/tokens", &admin, json!({"name": "erp"}))
        .await;
    let api_token = made["data"]["token"].as_str().expect("token").to_owned();
    assert_eq!(accounts_status(&app, &api_token).await, 200);
    let id = made["data"]["id"].as_i64().expect("id");
    assert_eq!(
        app.status("DELETE", &format!("/api/tokens/{id}"), Some(&admin))
            .await,
        200
    );
    assert_eq!(accounts_status(&app, &api_token).await, 401);
}

#[tokio::test]
async fn agents_cannot_call_admin_endpoints_and_bots_cannot_use_the_api() {
    let app = TestSystem::spawn().await;
    let agent = app.user("lan", "agent").await;
    assert_eq!(accounts_status(&app, &agent).await, 200);
    for (method, path, body) in [
        ("GET", "/api/users", None),
        (
            "POST",
            "/api/users",
            Some(json!({"username": "x", "role": "admin", "password": "0123456789ab"})),
        ),
        (
            "POST",
            "/api/fb_accounts",
            Some(json!({"user_id_chat": "p1"})),
        ),
        ("POST", "/api/tokens", Some(json!({"name": "t"}))),
    ] {
        let (status, body) = app.call(method, path, Some(&agent), body).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    let bot = app.bot("page1").await;
    assert_eq!(accounts_status(&app, &bot).await, 403);
    assert_eq!(app.status("GET", "/api/fb_accounts", None).await, 401);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions() {
    let app = TestSystem::spawn().await;
    let agent = app.user("minh", "agent").await;
    let admin = app.admin().await;
    assert_eq!(disable_user(&app, &admin, "minh").await, 200);
    assert_eq!(accounts_status(&app, &agent).await, 401);
    let add_user = |user: Value| app.post("/api/users", &admin, user);
    let answer =
        add_user(json!({"username": "minh", "role": "agent", "password": "another password"}))
            .await;
    assert_error(&answer, 409, "code", "already_exists");
    let answer = add_user(json!({"username": "an", "role": "agent", "password": "short"})).await;
    assert_error(&answer, 422, "field", "password");
}

#[tokio::test]
async fn browsers_may_call_only_from_allowed_origins() {
    let app = TestSystem::spawn().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/fb_accounts", app.sender),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("http://127.0.0.1:8000").await.expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://127.0.0.1:8000")
    );
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let refused = preflight("http://evil.example").await.expect("preflight");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_limit() {
    let app = TestSystem::spawn().await;
    let guesses = (0..20).map(|i| {
        let (http, url) = (app.http.clone(), app.sender.clone());
        tokio::spawn(async move {
            http.post(format!("{url}/api/auth/login"))
                .json(&json!({"username": "admin", "password": format!("guess number {i}")}))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.expect("join"));
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(
        checked, 5,
        "only 5 passwords may be checked per window: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15);
}

#[tokio::test]
async fn revoking_access_closes_live_sockets() {
    let app = TestSystem::spawn().await;
    let agent = app.user("lan", "agent").await;
    let bot_token = app.bot("page1").await;
    let admin = app.admin().await;
    let mut console = app.socket(&agent).await;
    let mut bot = app.socket(&bot_token).await;

    disable_user(&app, &admin, "lan").await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while console.next_event().await.is_some() {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the disabled agent's console was not disconnected"
    );

    let tokens = app.store.tokens().await.expect("tokens");
    let bot_id = tokens
        .iter()
        .find(|t| t.kind == "bot")
        .expect("bot token")
        .id;
    app.delete(&format!("/api/tokens/{bot_id}"), &admin).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while bot.next_event().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the revoked bot stayed connected");
}

#[tokio::test]
async fn bad_query_strings_and_paths_get_json_errors() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    for (method, path) in [
        ("GET", "/api/conversations/page1?limit=-1"),
        ("GET", "/api/conversations/page1?unread=maybe"),
        ("PATCH", "/api/users/abc"),
        ("POST", "/api/posts/x/retry"),
    ] {
        let (status, body) = app.call(method, path, Some(&admin), Some(json!({}))).await;
        assert_eq!(
            (status, body["success"].as_bool()),
            (422, Some(false)),
            "{method} {path}: {body}"
        );
    }
    let answer = app.post_empty("/api/posts/999/retry", &admin).await;
    assert_error(&answer, 404, "code", "not_found");
}

#[tokio::test]
async fn cookie_sessions_change_nothing_without_a_json_request() {
    let app = TestSystem::spawn().await;
    let token = app.admin().await;
    let cookie = format!("switchboard_session={token}");
    // What a form on another page could send: no JSON content type.
    let forged = app
        .http
        .post(format!("{}/api/tokens", app.sender))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=evil")
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status().as_u16(), 403);
    let real = app
        .http
        .post(format!("{}/api/tokens", app.sender))
        .header("cookie", &cookie)
        .json(&json!({"name": "from-console"}))
        .send()
        .await
        .expect("post");
    assert_eq!(real.status().as_u16(), 200);
}

/// The `switchboard_device` cookie a login answer sets.
fn device_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("switchboard_device="))
        .and_then(|v| v.split(';').next())
        .expect("a device cookie")
        .to_owned()
}

#[tokio::test]
async fn failures_elsewhere_never_lock_a_user_out_of_a_browser_they_logged_in_from() {
    let app = TestSystem::spawn().await;
    let login = |password: &str, cookie: Option<&str>| {
        let mut request =
            login_request(&app).json(&json!({"username": "admin", "password": password}));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    // The admin logs in once from her browser, which keeps the device cookie.
    let first = login(ADMIN_PASSWORD, None).await.expect("login");
    assert_eq!(first.status(), 200);
    let device = device_cookie(&first);
    assert!(
        first
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("switchboard_device=") && v.contains("HttpOnly")),
    );
    // Someone else guesses: after five failures, guesses wait (and so would the right password from
    // a place the admin is not known at).
    for _ in 0..5 {
        assert_eq!(
            login("wrong guess!", None).await.expect("guess").status(),
            401
        );
    }
    let waiting = login(ADMIN_PASSWORD, None).await.expect("login");
    assert_eq!(waiting.status(), 429);
    assert!(waiting.headers().get("retry-after").is_some());
    // Her browser is not locked out.
    let again = login(ADMIN_PASSWORD, Some(&device)).await.expect("login");
    assert_eq!(
        again.status(),
        200,
        "{}",
        again.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn login_fields_are_bounded_before_they_are_used() {
    let app = TestSystem::spawn().await;
    let huge = login_request(&app)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"username":"{}","password":"x"}}"#,
            "u".repeat(100_000)
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(huge.status(), 413);
    let body: serde_json::Value = huge.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("4096")),
        "{body}"
    );
    let answer = log_in(&app, &"x".repeat(65), "whatever it is").await;
    assert_error(&answer, 422, "field", "username");
}

#[tokio::test]
async fn a_user_has_a_bounded_number_of_sockets() {
    let app = TestSystem::spawn().await;
    let token = app.user("lan", "agent").await;
    let mut open = Vec::new();
    for _ in 0..switchboard_realtime::MAX_SOCKETS_PER_USER {
        open.push(app.socket(&token).await);
    }
    let refused = switchboard_sioclient::Client::connect(&app.sender, &json!({"token": token}), "")
        .await
        .err()
        .expect("one socket too many");
    assert!(
        refused.to_string().contains("too many connections"),
        "{refused}"
    );
    // Another user is not affected.
    let admin = app.admin().await;
    let _admin_socket = app.socket(&admin).await;
}
