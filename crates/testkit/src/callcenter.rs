//! The call center on port 0 over a fresh store, with users, agents and tokens made directly in the
//! store, a fake phone system posting to the CTI webhook, and one that receives ours.

use crate::http::{Api, answer};
use crate::socket::next_named;
use crate::{TempStore, api_token, eventually, roles};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_callcenter::CallCenterOptions;
use switchboard_domain::Role;
use switchboard_domain::routing::AgentStatus;
use switchboard_sioclient::Client;
use switchboard_storage::{Agent, NewAgent, Store, TokenKind};
use switchboard_web::Shutdown;

/// Dereferences to the call center's [`Api`]: `call` goes to its REST API.
pub struct TestCallCenter {
    /// Stops the servers when the handle is dropped.
    _shutdown: roles::StopOnDrop,
    pub url: String,
    pub store: Store,
    pub http: reqwest::Client,
    /// An integrator's API token: the "CRM system" console's (and older set-ups' CTI webhook).
    pub api_token: String,
    /// The phone system's own token, in the CTI webhook's URL.
    pub pbx_token: String,
    pub dir: crate::TestDir,
    api: Api,
}

impl TestCallCenter {
    pub async fn spawn(options: CallCenterOptions) -> Self {
        let TempStore { store, dir, .. } = TempStore::new().await;
        let shutdown = Shutdown::new();
        let feed = roles::feed(&store, &shutdown).await.expect("feed");
        let server = roles::callcenter(&store, &feed, options, roles::any_port())
            .await
            .expect("bind");
        let url = roles::serve(server, &shutdown, Duration::from_secs(5)).expect("serve");
        let api_token = api_token(&store, "pbx").await;
        let pbx_token = store
            .issue_token(TokenKind::Pbx {
                name: "asterisk".into(),
            })
            .await
            .expect("token")
            .1;
        let api = Api::new(&url);
        Self {
            url,
            store,
            http: api.http.clone(),
            api,
            api_token,
            pbx_token,
            dir,
            _shutdown: roles::StopOnDrop(shutdown),
        }
    }

    /// A console user who is an agent (with `extension`), logged in; their status is `available`.
    pub async fn agent(&self, username: &str, extension: &str) -> (Agent, String) {
        let password = format!("{username} password");
        let user = self
            .store
            .create_user(username, username, Role::Agent, password.clone())
            .await
            .expect("user");
        let new = NewAgent {
            user_id: Some(user.id),
            full_name: format!("Agent {username}"),
            extension: extension.into(),
            queues: Vec::new(),
        };
        let agent = available_agent(&self.store, new).await;
        let (_, token) = self
            .store
            .login(username, &password, Duration::from_secs(3600))
            .await
            .expect("login")
            .expect("session");
        (agent, token)
    }

    /// Posts a CTI event as form fields, as Zammad's PBX scripts do.
    pub async fn cti(&self, fields: &[(&str, &str)]) -> (u16, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        answer(
            self.http
                .post(format!("{}/api/v1/cti/{}", self.url, self.pbx_token))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// The phone system reports a new inbound call to 1900.
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

    /// The phone system reports that `extension` picked up `call_id`.
    pub async fn answered(&self, call_id: &str, extension: &str) -> (u16, Value) {
        self.cti(&[
            ("event", "answer"),
            ("callId", call_id),
            ("answeringNumber", extension),
        ])
        .await
    }

    /// The phone system reports that `call_id` ended, for `cause` as Zammad names it
    /// (`normalClearing`, `cancel`, …).
    pub async fn hangup(&self, call_id: &str, cause: &str) -> (u16, Value) {
        self.cti(&[("event", "hangup"), ("callId", call_id), ("cause", cause)])
            .await
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

/// A new agent, made `available` (no console of theirs is needed for calls to be offered to them).
pub async fn available_agent(store: &Store, new: NewAgent) -> Agent {
    let agent = store.create_agent(new).await.expect("agent");
    let (agent, _) = store
        .set_agent_status(agent.id, AgentStatus::Available)
        .await
        .expect("status");
    agent
}

impl std::ops::Deref for TestCallCenter {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A webhook delivery the fake phone system received.
#[derive(Debug, Clone)]
pub struct Notice {
    pub body: Value,
    pub raw: Vec<u8>,
    pub signature: Option<String>,
}

/// A phone system's endpoint for our webhook: records each body with its signature header, and
/// answers `200 ok` unless told otherwise ([`FakePhoneSystem::answering`]).
pub struct FakePhoneSystem {
    pub url: String,
    pub received: Arc<Mutex<Vec<Notice>>>,
}

impl FakePhoneSystem {
    pub async fn start() -> Self {
        Self::answering(Vec::new()).await
    }

    /// A phone system whose first answers are `answers` (status and body, in order), then `200 ok`:
    /// a PBX that is restarting (5xx) or refuses a command (4xx).
    pub async fn answering(answers: Vec<(u16, &'static str)>) -> Self {
        use axum::routing::post;
        let received: Arc<Mutex<Vec<Notice>>> = Arc::default();
        let answers = Arc::new(Mutex::new(std::collections::VecDeque::from(answers)));
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/pbx",
            post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (sink, answers) = (sink.clone(), answers.clone());
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
                        let (status, text) = answers
                            .lock()
                            .expect("lock")
                            .pop_front()
                            .unwrap_or((200, "ok"));
                        (
                            axum::http::StatusCode::from_u16(status)
                                .unwrap_or(axum::http::StatusCode::OK),
                            text,
                        )
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind(roles::any_port())
            .await
            .expect("bind");
        let url = format!("http://{}/pbx", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received }
    }

    /// Waits until `count` notices arrived (at most 10 s) and returns them.
    pub async fn notices(&self, count: usize) -> Vec<Notice> {
        eventually(
            10,
            &format!("{count} notices at the phone system"),
            || async {
                let received = self.received.lock().expect("lock").clone();
                (received.len() >= count).then_some(received)
            },
        )
        .await
    }
}
