//! The console's Socket.IO connections authenticated by the session cookie alone, as a browser opens
//! them: the cookie is taken only from the allowed pages, and it lasts only as long as the session.
//!
//! Spoken over Engine.IO's polling transport (plain HTTP requests, so the test sets `Cookie` and
//! `Origin` itself): open a session, send the Socket.IO CONNECT packet, read the answer.

use std::time::Duration;
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::sender::{CONSOLE_ORIGIN, TestSystem};
use tokio::time::Instant;

/// Engine.IO separates the packets of one polling answer with this character.
const SEPARATOR: char = '\u{1e}';

struct Polling {
    http: reqwest::Client,
    url: String,
}

impl Polling {
    /// Opens an Engine.IO session with these request headers and asks to connect to the default
    /// namespace; returns the session and the server's first Socket.IO packet (`40…` or `44…`).
    async fn connect(app: &TestSystem, headers: &[(&str, &str)]) -> (Self, String) {
        Self::connect_with(app, headers, &serde_json::json!({})).await
    }

    /// [`Polling::connect`] with this `auth` payload in the CONNECT packet.
    async fn connect_with(
        app: &TestSystem,
        headers: &[(&str, &str)],
        auth: &serde_json::Value,
    ) -> (Self, String) {
        let http = app.http.clone();
        let mut open = http.get(format!("{}/socket.io/?EIO=4&transport=polling", app.sender));
        for (name, value) in headers {
            open = open.header(*name, *value);
        }
        let response = open.send().await.expect("open");
        assert_eq!(response.status().as_u16(), 200);
        let body = response.text().await.expect("body");
        let handshake: serde_json::Value =
            serde_json::from_str(body.strip_prefix('0').expect("an OPEN packet")).expect("json");
        let sid = handshake["sid"].as_str().expect("sid");
        let session = Self {
            url: format!(
                "{}/socket.io/?EIO=4&transport=polling&sid={sid}",
                app.sender
            ),
            http,
        };
        let sent = session
            .http
            .post(&session.url)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(format!("40{auth}"))
            .send()
            .await
            .expect("connect");
        assert_eq!(sent.status().as_u16(), 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        let first = loop {
            assert!(
                Instant::now() < deadline,
                "no answer to CONNECT within 10 s"
            );
            let packets = session.read().await.expect("an answer to CONNECT");
            // Socket.IO packets are Engine.IO messages (`4…`); pings are answered by `read`.
            if let Some(packet) = packets.into_iter().find(|p| p.starts_with('4')) {
                break packet;
            }
        };
        (session, first)
    }

    /// The next packets the server has for this session, its pings answered; `None` once the
    /// session is gone.
    async fn read(&self) -> Option<Vec<String>> {
        let packets = self.receive().await?;
        if packets.iter().any(|p| p == "2") {
            let pong = self.http.post(&self.url).body("3").send().await.ok()?;
            if !pong.status().is_success() {
                return None;
            }
        }
        Some(packets)
    }

    async fn receive(&self) -> Option<Vec<String>> {
        let response =
            tokio::time::timeout(Duration::from_secs(10), self.http.get(&self.url).send())
                .await
                .expect("an answer within 10 s")
                .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = response.text().await.ok()?;
        Some(body.split(SEPARATOR).map(str::to_owned).collect())
    }

    /// Whether the customer's message `message_id` reaches this session (false if it ends first).
    async fn receives_message(&self, message_id: &str) -> bool {
        self.wait_for(|p| p.starts_with("42[\"new_messages\"") && p.contains(message_id))
            .await
    }

    /// Reads until a packet satisfies `wanted` (true), or the session ends (false), within 10 s.
    async fn wait_for(&self, wanted: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.read().await {
                Some(packets) if packets.iter().any(|p| wanted(p)) => return true,
                Some(packets) if packets.iter().any(|p| p == "1" || p.starts_with("41")) => {
                    return false;
                }
                Some(_) => {}
                None => return false,
            }
        }
        panic!("nothing conclusive within 10 s");
    }
}

fn refusal(packet: &str) -> String {
    let body = packet
        .strip_prefix("44")
        .unwrap_or_else(|| panic!("a refusal (44…), got {packet}"));
    let body: serde_json::Value = serde_json::from_str(body).expect("json");
    body["message"].as_str().expect("message").to_owned()
}

#[test]
fn the_socket_and_the_http_side_read_the_same_cookie() {
    assert_eq!(
        switchboard_realtime::SESSION_COOKIE,
        switchboard_web::SESSION_COOKIE
    );
}

#[tokio::test]
async fn a_socket_connects_with_the_session_cookie_alone_and_ends_with_the_session() {
    let app = TestSystem::spawn().await;
    let agent = app.user("lan", "agent").await;
    let cookie = format!("theme=dark; switchboard_session={agent}");

    // From the console's page, from the server's own origin, and from a client that is not a page.
    let sender_origin = app.sender.clone();
    for origin in [Some(CONSOLE_ORIGIN), Some(sender_origin.as_str()), None] {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(origin.map(|o| ("origin", o)));
        let (_, first) = Polling::connect(&app, &headers).await;
        assert!(first.starts_with("40{"), "origin {origin:?}: {first}");
    }

    // The stream is the user's: a customer's message arrives.
    let (socket, first) = Polling::connect(
        &app,
        &[("cookie", cookie.as_str()), ("origin", CONSOLE_ORIGIN)],
    )
    .await;
    assert!(first.starts_with("40{"), "{first}");
    let bot = app.bot("page1").await;
    app.incoming(&bot, "page1", "m_cookie_1", "t_cookie", "Shop ơi")
        .await;
    assert!(
        socket.receives_message("m_cookie_1").await,
        "the cookie's socket did not receive the message"
    );

    // A re-check of every socket's credentials (set off here by another session's logout) keeps it:
    // it checks the cookie's session again, which still holds.
    let other = app.admin().await;
    let (status, body) = app.post_empty("/api/auth/logout", &other).await;
    assert_eq!(status, 200, "{body}");
    app.incoming(&bot, "page1", "m_cookie_2", "t_cookie", "Còn size M không?")
        .await;
    assert!(
        socket.receives_message("m_cookie_2").await,
        "the cookie's socket did not survive a re-check"
    );

    // Logging out ends the session, and the socket that the cookie opened with it.
    let (status, body) = app.post_empty("/api/auth/logout", &agent).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !socket.wait_for(|_| false).await,
        "the socket outlived its session"
    );
    let (_, first) = Polling::connect(&app, &[("cookie", cookie.as_str())]).await;
    assert!(refusal(&first).contains("log in again"), "{first}");
}

#[tokio::test]
async fn another_sites_page_cannot_use_the_cookie() {
    let app = TestSystem::spawn().await;
    let agent = app.user("lan", "agent").await;
    let cookie = format!("switchboard_session={agent}");
    for origin in [
        "http://evil.example",
        "http://127.0.0.1:9999",
        "http://127.0.0.1:8000.evil.example",
        "null",
    ] {
        let (_, first) =
            Polling::connect(&app, &[("cookie", cookie.as_str()), ("origin", origin)]).await;
        let message = refusal(&first);
        assert!(
            message.contains("may not connect with the session cookie"),
            "{origin}: {message}"
        );
    }
    // Without the cookie, nothing is taken from the browser: a page with no token is refused as
    // any client is, and a token the client holds itself works from any page.
    let (_, first) = Polling::connect(&app, &[("origin", "http://evil.example")]).await;
    assert!(
        refusal(&first).contains("authentication required"),
        "{first}"
    );
    let (_, first) = Polling::connect_with(
        &app,
        &[("origin", "http://evil.example")],
        &serde_json::json!({"token": agent}),
    )
    .await;
    assert!(first.starts_with("40{"), "{first}");
}

#[tokio::test]
async fn a_bad_cookie_is_refused() {
    let app = TestSystem::spawn().await;
    for (cookie, expected) in [
        ("switchboard_session=sbs_not_a_session", "log in again"),
        ("switchboard_session=", "authentication required"),
        ("other=1", "authentication required"),
    ] {
        let (_, first) =
            Polling::connect(&app, &[("cookie", cookie), ("origin", CONSOLE_ORIGIN)]).await;
        let message = refusal(&first);
        assert!(message.contains(expected), "{cookie}: {message}");
    }
}
