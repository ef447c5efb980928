//! Logging in and out. A session is a token: in the JSON answer for API clients, and in an HttpOnly
//! cookie for the console.

use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use switchboard_domain::{Principal, UnixMillis};
use switchboard_web::{ApiError, Authenticated, JsonBody, SESSION_COOKIE, ok, require_console};

#[derive(Deserialize)]
pub struct LoginIn {
    username: String,
    password: String,
}

pub fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin may do this".into()))
    }
}

fn cookie(state: &AppState, token: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if state.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .ok()
}

#[tracing::instrument(skip_all, fields(username))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<LoginIn>,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("username", body.username.as_str());
    state
        .limiter
        .attempt(&body.username, peer.ip())
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let lifetime = state.options.session_lifetime;
    let checked = {
        let _permit = state
            .limiter
            .checks
            .acquire()
            .await
            .map_err(|_| ApiError::Unauthorized("the server is stopping"))?;
        state
            .store
            .login(&body.username, &body.password, lifetime)
            .await?
    };
    let Some((user, token)) = checked else {
        tracing::info!("login refused");
        return Err(ApiError::Unauthorized("wrong username or password"));
    };
    state.limiter.succeeded(&body.username);
    tracing::info!(user_id = user.id, "logged in");
    let expires_at =
        UnixMillis(UnixMillis::now().0 + i64::try_from(lifetime.as_millis()).unwrap_or(0));
    let mut response = ok(json!({"token": token, "expires_at": expires_at, "user": user}));
    if let Some(value) = cookie(&state, &token, lifetime.as_secs()) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    parts: Parts,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    if !matches!(principal, Principal::User { .. }) {
        return Err(ApiError::BadRequest {
            code: "not_a_session",
            message: "only a login session can log out".into(),
        });
    }
    if let Some(token) =
        switchboard_web::bearer_token(&parts).or_else(|| switchboard_web::session_cookie(&parts))
    {
        state.store.logout(token).await?;
        state.feed.revalidate_sockets();
    }
    let mut response = ok(json!({"logged_out": true}));
    if let Some(value) = cookie(&state, "", 0) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response.into_response())
}

pub async fn me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    match principal {
        Principal::User { user_id, .. } => Ok(ok(
            json!({"kind": "user", "user": state.store.user(user_id).await?}),
        )),
        other => Ok(ok(other)),
    }
}
