//! Bearer-token authentication for HTTP requests.

use crate::ApiError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use switchboard_domain::Principal;
use switchboard_storage::Store;

/// The caller, proven by `Authorization: Bearer <token>`. Handlers that take it refuse anonymous calls.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

pub use switchboard_domain::auth::SESSION_COOKIE;

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// [`bearer_token`] from headers alone.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether a request cannot have come from a plain HTML form of another page: reads, and writes sent as
/// JSON or as a file's bytes (`application/octet-stream`, an upload), types a browser sends
/// cross-origin only after a CORS preflight the allowlist decides.
fn is_safe(parts: &Parts) -> bool {
    use axum::http::Method;
    matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        || crate::json::is_json(&parts.headers)
        || parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"))
}

/// The session token from the `Cookie` header, if there is one.
pub fn session_cookie(parts: &Parts) -> Option<&str> {
    session_cookie_in(&parts.headers)
}

/// [`session_cookie`] from headers alone.
pub fn session_cookie_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    cookie_in(headers, SESSION_COOKIE)
}

/// The token a request's headers carry: `Authorization: Bearer`, else the session cookie (then
/// `true`). The one order the rate limiter and authentication both follow.
pub(crate) fn header_token(headers: &axum::http::HeaderMap) -> Option<(&str, bool)> {
    match bearer_in(headers) {
        Some(token) => Some((token, false)),
        None => session_cookie_in(headers).map(|token| (token, true)),
    }
}

/// The value of the cookie `name` in the `Cookie` headers, if it is there and not empty.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    let values = headers
        .get_all(axum::http::header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok());
    switchboard_domain::auth::cookie(values, name)
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Some((token, from_cookie)) = header_token(&parts.headers) else {
            return Err(ApiError::Unauthorized(
                "log in, or send a token as `Authorization: Bearer <token>`",
            ));
        };
        if from_cookie && !is_safe(parts) {
            return Err(ApiError::Forbidden(
                "a change made with the session cookie must be sent with `Content-Type: application/json` \
                 (a file: `application/octet-stream`; this stops other pages from making it in your name)"
                    .into(),
            ));
        }
        let store = Store::from_ref(state);
        let outcome = parts
            .extensions
            .get::<crate::ratelimit::AuthOutcome>()
            .cloned();
        let principal = store.authenticate(token).await?;
        if let Some(outcome) = outcome {
            outcome.record(principal.is_some());
        }
        match principal {
            Some(principal) => {
                crate::record_principal(&principal);
                Ok(Self(principal))
            }
            None => Err(ApiError::Unauthorized("the token is unknown or revoked")),
        }
    }
}
