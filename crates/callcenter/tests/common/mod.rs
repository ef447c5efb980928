//! The call center on port 0 over a fresh SQLite file, with users, agents and tokens made directly in
//! the store, a fake phone system posting to the CTI webhook, and one that receives ours.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_callcenter::{AppState, CallCenter, CallCenterOptions};
use switchboard_domain::Role;
use switchboard_domain::routing::AgentStatus;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_sioclient::{Client, Event};
use switchboard_storage::{Agent, NewAgent, Store, TokenKind};
use switchboard_web::Shutdown;

pub struct TestCallCenter {
    pub url: String,
    pub store: Store,
    pub http: reqwest::Client,
    /// An integrator's API token: the "CRM system" console's (and older set-ups' CTI webhook).
    pub api_token: String,
    /// The phone system's own token, in the CTI webhook's URL.
    pub pbx_token: String,
    pub dir: tempfile::TempDir,
    shutdown: Shutdown,
}

impl TestCallCenter {
    pub async fn spawn(options: CallCenterOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("cc.db").display()))
            .await
            .expect("store");
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let feed = EventFeed::start(store.clone(), FeedOptions::default(), async move {
            stop.wait().await
        })
        .await
        .expect("feed");
        let state = AppState::start(store.clone(), feed, options)
            .await
            .expect("state");
        let server = CallCenter::bind("127.0.0.1:0".parse().expect("addr"), state, &[])
            .await
            .expect("bind");
        let url = format!("http://{}", server.local_addr().expect("addr"));
        tokio::spawn(server.run(shutdown.clone(), Duration::from_secs(5)));
        let api_token = store
            .issue_token(TokenKind::Api { name: "pbx".into() })
            .await
            .expect("token")
            .1;
        let pbx_token = store
            .issue_token(TokenKind::Pbx {
                name: "asterisk".into(),
            })
            .await
            .expect("token")
            .1;
        Self {
            url,
            store,
            http: reqwest::Client::new(),
            api_token,
            pbx_token,
            dir,
            shutdown,
        }
    }

    /// A console user who is an agent (with `extension`), logged in; their status is `available`.
    pub async fn agent(&self, username: &str, extension: &str) -> (Agent, String) {
        let user = self
            .store
            .create_user(
                username,
                username,
                Role::Agent,
                format!("{username} password"),
            )
            .await
            .expect("user");
        let agent = self
            .store
            .create_agent(NewAgent {
                user_id: Some(user.id),
                full_name: format!("Agent {username}"),
                extension: extension.into(),
                queues: Vec::new(),
            })
            .await
            .expect("agent");
        let (agent, _) = self
            .store
            .set_agent_status(agent.id, AgentStatus::Available)
            .await
            .expect("status");
        let (_, token) = self
            .store
            .login(
                username,
                &format!("{username} password"),
                Duration::from_secs(3600),
            )
            .await
            .expect("login")
            .expect("session");
        (agent, token)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts a CTI event as form fields, as Zammad's PBX scripts do.
    pub async fn cti(&self, fields: &[(&str, &str)]) -> (u16, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .http
            .post(format!("{}/api/v1/cti/{}", self.url, self.pbx_token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("cti");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn new_call(&self, call_id: &str, from: &str) -> Value {
        let (status, body) = self
            .cti(&[
                ("event", "newCall"),
                ("from", from),
                ("to", "1900"),
                ("direction", "in"),
                ("callId", call_id),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A console connected as the seed's client connects: `?token=` on the URL, then `join_call_center`.
    pub async fn console(&self, token: &str) -> Client {
        self.console_with(token, "").await
    }

    pub async fn console_with(&self, token: &str, extra_query: &str) -> Client {
        let mut client = Client::connect(
            &self.url,
            &json!({}),
            &format!("token={token}{extra_query}"),
        )
        .await
        .expect("socket");
        client
            .emit(
                "join_call_center",
                &json!({"userType": "crm_system", "userId": "crm_main"}),
            )
            .expect("join");
        let joined = next_named(&mut client, "joined_call_center").await;
        assert_eq!(
            joined,
            json!({"message": "Joined call center as CRM system", "userType": "crm_system"})
        );
        client
    }
}

impl Drop for TestCallCenter {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub async fn next(client: &mut Client) -> Event {
    tokio::time::timeout(Duration::from_secs(5), client.next_event())
        .await
        .expect("an event within 5 s")
        .expect("open")
}

/// The next event named `name`, skipping others.
pub async fn next_named(client: &mut Client, name: &str) -> Value {
    loop {
        let event = next(client).await;
        if event.name == name {
            return event.data().expect("data");
        }
    }
}

/// Asserts no `name` event arrives within `millis`.
pub async fn quiet(client: &mut Client, name: &str, millis: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(millis);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next_event()).await {
        assert_ne!(event.name, name, "unexpected {name}: {}", event.raw());
    }
}

#[derive(Debug, Clone)]
pub struct Notice {
    pub body: Value,
    pub raw: Vec<u8>,
    pub signature: Option<String>,
}

/// A phone system's endpoint for our webhook: records each body with its signature header.
pub struct FakePhoneSystem {
    pub url: String,
    pub received: Arc<Mutex<Vec<Notice>>>,
}

impl FakePhoneSystem {
    pub async fn start() -> Self {
        use axum::routing::post;
        let received: Arc<Mutex<Vec<Notice>>> = Arc::default();
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/pbx",
            post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let sink = sink.clone();
                    async move {
                        let signature = headers
                            .get("x-switchboard-signature")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        sink.lock().expect("lock").push(Notice {
                            body: value,
                            raw: body.to_vec(),
                            signature,
                        });
                        "ok"
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/pbx", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received }
    }

    /// Waits until `count` notices arrived and returns them.
    pub async fn notices(&self, count: usize) -> Vec<Notice> {
        for _ in 0..100 {
            let received = self.received.lock().expect("lock").clone();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the phone system did not receive {count} notices");
    }
}
