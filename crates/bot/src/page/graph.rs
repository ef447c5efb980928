//! A Graph API client that obeys Facebook's limits: it reads the usage headers and slows down before
//! Facebook blocks it, waits out a rate limit (for as long as Facebook says, when it says), retries
//! transient failures with backoff, and reports an expired token instead of retrying it.

use crate::Backoff;
use reqwest::Method;
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchboard_domain::facebook::{GraphError, GraphFailure, Usage};

/// Above this share of any quota (per the usage headers), pause before the next call.
const USAGE_CEILING: u32 = 95;
/// A send or post does not wait out a longer pause: the page's commands run one after another, and an
/// agent is better told now than after an hour.
const LONGEST_WAIT_FOR_A_COMMAND: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphCallError {
    /// Facebook answered with an error object.
    Graph {
        failure: GraphFailure,
        error: GraphError,
    },
    /// No answer (connection refused, timeout), after the retries.
    Network(String),
}

impl GraphCallError {
    pub fn reason(&self) -> String {
        match self {
            Self::Graph { error, .. } => error.reason(),
            Self::Network(message) => format!("cannot reach Facebook: {message}"),
        }
    }

    pub fn failure(&self) -> GraphFailure {
        match self {
            Self::Graph { failure, .. } => *failure,
            Self::Network(_) => GraphFailure::Transient,
        }
    }
}

/// One Graph call. `path` is relative to the versioned base (`/123/messages`) or a full `paging.next`
/// URL. `retry_unanswered` is false for calls that must not run twice (sends, posts): such a call
/// that got no answer at all is reported, not repeated.
pub struct GraphRequest<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub json: Option<&'a Value>,
    pub form: Option<&'a [(&'a str, &'a str)]>,
    pub multipart: Option<&'a [FormPart<'a>]>,
    pub retry_unanswered: bool,
}

/// A field of a `multipart/form-data` call (an upload): text, or a file's bytes.
pub enum FormPart<'a> {
    Text(&'a str, String),
    File {
        field: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

/// The form for one attempt (a form is consumed by its request, and an attempt may be repeated).
fn multipart_form(parts: &[FormPart<'_>]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for part in parts {
        form = match part {
            FormPart::Text(name, value) => form.text((*name).to_owned(), value.clone()),
            FormPart::File {
                field,
                file_name,
                content_type,
                bytes,
            } => {
                let file = reqwest::multipart::Part::bytes(bytes.to_vec())
                    .file_name((*file_name).to_owned());
                // A type reqwest cannot parse is left to Facebook to guess from the bytes.
                let file = match file.mime_str(content_type) {
                    Ok(typed) => typed,
                    Err(_) => reqwest::multipart::Part::bytes(bytes.to_vec())
                        .file_name((*file_name).to_owned()),
                };
                form.part((*field).to_owned(), file)
            }
        };
    }
    form
}

impl<'a> GraphRequest<'a> {
    pub fn get(path: &'a str, query: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            method: Method::GET,
            path,
            query,
            json: None,
            form: None,
            multipart: None,
            retry_unanswered: true,
        }
    }

    pub fn post_json(path: &'a str, body: &'a Value) -> Self {
        Self {
            method: Method::POST,
            path,
            query: &[],
            json: Some(body),
            form: None,
            multipart: None,
            retry_unanswered: false,
        }
    }

    pub fn post_form(path: &'a str, form: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            method: Method::POST,
            path,
            query: &[],
            json: None,
            form: Some(form),
            multipart: None,
            retry_unanswered: false,
        }
    }

    pub fn delete(path: &'a str) -> Self {
        Self {
            method: Method::DELETE,
            path,
            query: &[],
            json: None,
            form: None,
            multipart: None,
            retry_unanswered: false,
        }
    }

    pub fn post_multipart(path: &'a str, parts: &'a [FormPart<'a>]) -> Self {
        Self {
            method: Method::POST,
            path,
            query: &[],
            json: None,
            form: None,
            multipart: Some(parts),
            retry_unanswered: false,
        }
    }
}

pub struct GraphClient {
    http: reqwest::Client,
    /// `https://graph.facebook.com/v23.0`
    base: String,
    retries: u32,
    backoff: Backoff,
    /// When no usage header says how long, a rate limit pauses calls this long (doubling while it lasts).
    rate_limit_pause: Duration,
    paused_until: Mutex<Option<Instant>>,
    consecutive_limits: Mutex<u32>,
}

impl GraphClient {
    pub fn new(
        http: reqwest::Client,
        graph_url: &str,
        api_version: &str,
        retries: u32,
        backoff: Backoff,
        rate_limit_pause: Duration,
    ) -> Self {
        Self {
            http,
            base: format!(
                "{}/{}",
                graph_url.trim_end_matches('/'),
                api_version.trim_matches('/')
            ),
            retries,
            backoff,
            rate_limit_pause,
            paused_until: Mutex::new(None),
            consecutive_limits: Mutex::new(0),
        }
    }

    fn pause_left(&self) -> Option<Duration> {
        let until = (*crate::lock(&self.paused_until))?;
        until.checked_duration_since(Instant::now())
    }

    /// Whether calls are currently held back by a rate limit.
    pub fn is_paused(&self) -> bool {
        self.pause_left().is_some()
    }

    fn pause_for(&self, wait: Duration) {
        let mut until = crate::lock(&self.paused_until);
        let new = Instant::now() + wait;
        if until.is_none_or(|u| u < new) {
            *until = Some(new);
        }
    }

    /// Calls Graph with `token`. `on_throttle` hears of each pause (to tell the console).
    pub async fn call(
        &self,
        request: &GraphRequest<'_>,
        token: &str,
        on_throttle: &(dyn Fn(Duration) + Sync),
    ) -> Result<Value, GraphCallError> {
        let path = request.path;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut attempt = 0;
        loop {
            if let Some(wait) = self.pause_left() {
                if !request.retry_unanswered && wait > LONGEST_WAIT_FOR_A_COMMAND {
                    return Err(GraphCallError::Graph {
                        failure: GraphFailure::RateLimited,
                        error: GraphError {
                            message: format!(
                                "Facebook limits this page's calls for about {} more minutes",
                                wait.as_secs().div_ceil(60)
                            ),
                            code: 4,
                            ..GraphError::default()
                        },
                    });
                }
                tokio::time::sleep(wait).await;
            }
            let mut http = self.http.request(request.method.clone(), &url);
            // The token goes in a header, never in the URL: URLs end up in error texts and logs.
            // (`paging.next` links carry Graph's own copy; errors are stripped of URLs below.)
            http = http.bearer_auth(token);
            http = http.query(request.query);
            if let Some(body) = request.json {
                http = http.json(body);
            }
            if let Some(fields) = request.form {
                http = http.form(fields);
            }
            if let Some(parts) = request.multipart {
                http = http.multipart(multipart_form(parts));
            }
            let failure = match http.send().await {
                Err(error) => GraphCallError::Network(error.without_url().to_string()),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let mut usage = Usage::default();
                    for name in ["x-app-usage", "x-page-usage", "x-business-use-case-usage"] {
                        if let Some(value) =
                            response.headers().get(name).and_then(|v| v.to_str().ok())
                        {
                            usage.absorb(value);
                        }
                    }
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if (200..300).contains(&status) && body.get("error").is_none() {
                        *crate::lock(&self.consecutive_limits) = 0;
                        if usage.percent >= USAGE_CEILING {
                            // Slow down before Facebook blocks the page: its quotas recover over minutes.
                            let wait = usage.regain_minutes.map_or(self.rate_limit_pause, |m| {
                                Duration::from_secs(u64::from(m) * 60)
                            });
                            tracing::warn!(
                                percent = usage.percent,
                                ?wait,
                                "Graph usage near its limit; pausing calls"
                            );
                            self.pause_for(wait);
                            on_throttle(wait);
                        }
                        return Ok(body);
                    }
                    let error: GraphError = serde_json::from_value(body["error"].clone())
                        .unwrap_or_else(|_| GraphError {
                            message: format!("HTTP {status} without an error object"),
                            ..GraphError::default()
                        });
                    let failure = error.classify(status);
                    if failure == GraphFailure::RateLimited {
                        let mut count = crate::lock(&self.consecutive_limits);
                        let wait = usage.regain_minutes.map_or_else(
                            || self.rate_limit_pause.saturating_mul(1 << (*count).min(6)),
                            |m| Duration::from_secs(u64::from(m) * 60),
                        );
                        *count += 1;
                        drop(count);
                        tracing::warn!(code = error.code, ?wait, "Graph rate limit; backing off");
                        self.pause_for(wait);
                        on_throttle(wait);
                    }
                    GraphCallError::Graph { failure, error }
                }
            };
            // A send that got no answer, or a gateway error without Graph's error object, may have
            // gone out; repeating it could deliver it twice.
            let unanswered = match &failure {
                GraphCallError::Network(_) => true,
                GraphCallError::Graph { error, .. } => error.code == 0,
            };
            let retry = matches!(
                failure.failure(),
                GraphFailure::Transient | GraphFailure::RateLimited
            ) && (request.retry_unanswered || !unanswered);
            if !retry || attempt >= self.retries {
                return Err(failure);
            }
            if failure.failure() == GraphFailure::Transient {
                tokio::time::sleep(self.backoff.delay(attempt)).await;
            }
            attempt += 1;
        }
    }
}
