//! HTTP in tests: JSON calls with an optional bearer token, and logging in.

use serde_json::{Value, json};

/// A JSON client for one server.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            http: reqwest::Client::new(),
        }
    }

    /// `METHOD path` with `token` as bearer and `body` as JSON: the status and the JSON answer
    /// (`null` when it is not JSON).
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
        answer(request).await
    }

    /// The status of `METHOD path` (no body) with `token` as bearer.
    pub async fn status(&self, method: &str, path: &str, token: Option<&str>) -> u16 {
        self.call(method, path, token, None).await.0
    }

    /// A session token for `username` (the login must succeed).
    pub async fn login(&self, username: &str, password: &str) -> String {
        login(&self.http, &self.url, username, password).await
    }
}

/// Sends `request`: the status and the JSON answer (`null` when it is not JSON).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Logs in on the sender at `url`; the session token (the login must succeed).
pub async fn login(http: &reqwest::Client, url: &str, username: &str, password: &str) -> String {
    let (status, body) = answer(
        http.post(format!("{url}/api/auth/login"))
            .json(&json!({"username": username, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "login as {username}: {body}");
    body["data"]["token"].as_str().expect("token").to_owned()
}

/// Asserts that `answer` is the API's error with this `status` and `error.{key}` (`code`, `field`).
#[track_caller]
pub fn assert_error(answer: &(u16, Value), status: u16, key: &str, value: &str) {
    let (got, body) = answer;
    assert_eq!(
        (*got, body["error"][key].as_str()),
        (status, Some(value)),
        "{body}"
    );
}
