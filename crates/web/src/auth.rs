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

/// The console's session cookie: HttpOnly, so page scripts (and injected ones) cannot read it.
pub const SESSION_COOKIE: &str = "switchboard_session";

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The session token from the `Cookie` header, if there is one.
pub fn session_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(parts)
            .or_else(|| session_cookie(parts))
            .ok_or(ApiError::Unauthorized(
                "log in, or send a token as `Authorization: Bearer <token>`",
            ))?;
        let store = Store::from_ref(state);
        match store.authenticate(token).await? {
            Some(principal) => Ok(Self(principal)),
            None => Err(ApiError::Unauthorized("the token is unknown or revoked")),
        }
    }
}
