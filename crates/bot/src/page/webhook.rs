//! The webhook endpoint Facebook calls: `GET /webhook` answers the subscription handshake, `POST
//! /webhook` takes signed event batches. The signature is checked on the raw bytes before any parsing;
//! a 200 goes back only once the events are in the spool (otherwise Facebook retries them).

use super::PageDriver;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::facebook::{SIGNATURE_HEADER, parse_webhook, signature_matches};

pub(super) fn router(driver: PageDriver) -> Router {
    Router::new()
        .route("/webhook", get(verify).post(receive))
        .route("/healthz", get(|| async { "ok" }))
        .layer(axum::extract::DefaultBodyLimit::max(4 << 20))
        .with_state(driver)
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"success": false, "error": {"message": message}})),
    )
        .into_response()
}

async fn verify(State(driver): State<PageDriver>, Query(handshake): Query<Handshake>) -> Response {
    let expected = &driver.inner.options.verify_token;
    match (
        handshake.mode.as_deref(),
        handshake.verify_token,
        handshake.challenge,
    ) {
        (Some("subscribe"), Some(token), Some(challenge)) if &token == expected => {
            tracing::info!("Facebook verified the webhook subscription");
            challenge.into_response()
        }
        (Some("subscribe"), Some(_), Some(_)) => {
            refuse(StatusCode::FORBIDDEN, "hub.verify_token does not match")
        }
        _ => refuse(
            StatusCode::BAD_REQUEST,
            "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
        ),
    }
}

async fn receive(State(driver): State<PageDriver>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        tracing::warn!("a webhook request without X-Hub-Signature-256 was refused");
        return refuse(StatusCode::UNAUTHORIZED, "X-Hub-Signature-256 is required");
    };
    if !signature_matches(&driver.inner.options.app_secret, &body, signature) {
        tracing::warn!("a webhook request with a wrong signature was refused");
        return refuse(
            StatusCode::FORBIDDEN,
            "X-Hub-Signature-256 does not match the body",
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the body is not JSON: {error}"),
            );
        }
    };
    let (updates, foreign) = match parse_webhook(&driver.inner.page_id, &value) {
        Ok(parsed) => parsed,
        Err(problem) => return refuse(StatusCode::BAD_REQUEST, &problem),
    };
    if foreign > 0 {
        tracing::warn!(
            entries = foreign,
            "webhook entries for other pages were ignored (run one bot per page, each with its own callback URL)"
        );
    }
    match driver.absorb(updates).await {
        Ok(()) => (StatusCode::OK, "EVENT_RECEIVED").into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot keep webhook events; Facebook will send them again");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot store the events now",
            )
        }
    }
}
