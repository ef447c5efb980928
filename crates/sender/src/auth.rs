//! Logging in and out. A session is a token: in the JSON answer for API clients, and in an HttpOnly
//! cookie for the console.

use crate::AppState;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_domain::{Principal, UnixMillis, ValidationError};
use switchboard_storage::User;
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Answer, ApiError, ClientAddr, Console, JsonBody, SESSION_COOKIE, ok};
use utoipa::ToSchema;

/// A console login.
#[derive(Deserialize, ToSchema)]
pub struct LoginIn {
    #[schema(example = "lan.nguyen")]
    username: String,
    #[schema(example = "mật-khẩu-dài-và-khó-đoán")]
    password: String,
}

/// A session: its token (also set as the HttpOnly cookie `switchboard_session`), when it ends, and
/// who it is.
#[derive(Serialize, ToSchema)]
pub struct Session {
    token: String,
    expires_at: UnixMillis,
    user: User,
}

#[derive(Serialize, ToSchema)]
pub struct LoggedOut {
    /// Always `true`.
    logged_out: bool,
}

/// Who the caller is: a user (with their account), or an integrator's API token.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Me {
    User {
        user: User,
    },
    /// `scoped`: issued for some accounts only.
    Integrator {
        token_id: i64,
        name: String,
        scoped: bool,
    },
}

/// An HttpOnly, same-site cookie (`Secure` when the deployment says so).
fn cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
) -> Option<HeaderValue> {
    let secure = if state.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The device cookie lasts a year.
const DEVICE_COOKIE_SECONDS: u64 = 365 * 24 * 3600;

/// The cookie that makes a browser a known place of the users who logged in with it (see the limiter).
const DEVICE_COOKIE: &str = "switchboard_device";

/// The login's body is two short strings.
pub const LOGIN_BODY_LIMIT: usize = 4 * 1024;

/// The device cookie, if it has the form we give it (anything else is not worth remembering).
fn device_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    switchboard_web::cookie_in(headers, DEVICE_COOKIE)
        .filter(|v| (16..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn new_device_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::Storage(switchboard_storage::StorageError::Task(format!(
            "no randomness: {e}"
        )))
    })?;
    Ok(switchboard_domain::encoding::hex(&bytes))
}

/// Logs in: answers the session and sets it as an HttpOnly cookie. Failed attempts are limited per
/// user and per address (`429` with `Retry-After`).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginIn, security(()),
    responses(
        (status = 200, description = "Logged in; `Set-Cookie` carries the session", body = Answer<Session>),
        (status = 401, description = "Wrong username or password", body = ErrorAnswer),
        (status = 422, description = "A field is invalid", body = ErrorAnswer),
        (status = 429, description = "Too many failed attempts; `Retry-After` says when to try again", body = ErrorAnswer),
    ))]
#[tracing::instrument(skip_all, fields(username))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<LoginIn>,
) -> Result<Response, ApiError> {
    // Bounded before anything keeps or logs it: a 7 MB "username" must cost nothing.
    let username = switchboard_domain::outbound::username(&body.username)?;
    if body.password.len() > MAX_PASSWORD_BYTES {
        return Err(ValidationError::new("password", "must be at most 1024 characters").into());
    }
    tracing::Span::current().record("username", username.as_str());
    let device = device_cookie(&headers).map(str::to_owned);
    let attempt = state
        .limiter
        .attempt(&username, client, device.as_deref())
        .await
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let lifetime = state.options.session_lifetime;
    let checked = {
        // A flood of logins waits a little for a check, then is told to come back, rather than
        // queueing without end in front of the people who log in.
        let _permit = tokio::time::timeout(
            crate::limiter::CHECK_QUEUE_WAIT,
            state.limiter.checks.acquire(),
        )
        .await
        .map_err(|_| ApiError::TooManyRequests {
            retry_after_seconds: crate::limiter::CHECK_QUEUE_WAIT.as_secs(),
        })?
        .map_err(|_| ApiError::Unauthorized("the server is stopping"))?;
        state
            .store
            .login(&username, &body.password, lifetime)
            .await?
    };
    let Some((user, token)) = checked else {
        tracing::info!("login refused");
        return Err(ApiError::Unauthorized("wrong username or password"));
    };
    let device = match device {
        Some(device) => device,
        None => new_device_id()?,
    };
    state.limiter.succeeded(attempt, client, &device).await;
    tracing::info!(user_id = user.id, "logged in");
    let expires_at =
        UnixMillis(UnixMillis::now().0 + i64::try_from(lifetime.as_millis()).unwrap_or(0));
    let mut response = ok(Session {
        token: token.clone(),
        expires_at,
        user,
    });
    if let Some(value) = cookie(&state, SESSION_COOKIE, &token, "/", lifetime.as_secs()) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    if let Some(value) = cookie(
        &state,
        DEVICE_COOKIE,
        &device,
        "/api/auth",
        DEVICE_COOKIE_SECONDS,
    ) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}

/// Passwords are at most 1024 characters; in UTF-8 that is at most 4 bytes each.
const MAX_PASSWORD_BYTES: usize = 4 * 1024;

/// Ends the caller's login session (the cookie's or the bearer's) and clears the cookie; the
/// session's sockets close at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 200, description = "Logged out", body = Answer<LoggedOut>),
        (status = 400, description = "Not a login session (an API token cannot log out)", body = ErrorAnswer),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Console(principal): Console,
    parts: Parts,
) -> Result<Response, ApiError> {
    if !matches!(principal, Principal::User { .. }) {
        return Err(ApiError::BadRequest {
            code: switchboard_web::ErrorCode::NotASession,
            message: "only a login session can log out".into(),
        });
    }
    if let Some(token) =
        switchboard_web::bearer_token(&parts).or_else(|| switchboard_web::session_cookie(&parts))
    {
        state.store.logout(token).await?;
        state.feed.revalidate_sockets();
    }
    let mut response = ok(LoggedOut { logged_out: true });
    if let Some(value) = cookie(&state, SESSION_COOKIE, "", "/", 0) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response.into_response())
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Answer<Me>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn me(
    State(state): State<AppState>,
    Console(principal): Console,
) -> Result<Response, ApiError> {
    let me = match principal {
        Principal::User { user_id, .. } => Me::User {
            user: state.store.user(user_id).await?,
        },
        Principal::Integrator {
            token_id,
            name,
            scoped,
        } => Me::Integrator {
            token_id,
            name,
            scoped,
        },
        // `Console` lets only users and integrators in.
        Principal::Bot { .. } | Principal::PhoneSystem { .. } => {
            return Err(ApiError::Forbidden("not a console's caller".into()));
        }
    };
    Ok(ok(me))
}
