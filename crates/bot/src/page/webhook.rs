//! The webhook endpoint Facebook calls: `GET /webhook` answers the subscription handshake, `POST
//! /webhook` takes signed event batches. The signature is checked on the raw bytes before any parsing;
//! a 200 goes back only once the events are in the spool (otherwise Facebook retries them).

use super::PageDriver;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::encoding::signature_matches;
use switchboard_domain::facebook::{SIGNATURE_HEADER, parse_webhook};
use switchboard_storage::StorageError;
use switchboard_web::ApiError;

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

async fn verify(
    State(driver): State<PageDriver>,
    Query(handshake): Query<Handshake>,
) -> Result<String, ApiError> {
    let expected = &driver.inner.options.verify_token;
    match (
        handshake.mode.as_deref(),
        handshake.verify_token,
        handshake.challenge,
    ) {
        (Some("subscribe"), Some(token), Some(challenge)) if &token == expected => {
            tracing::info!("Facebook verified the webhook subscription");
            Ok(challenge)
        }
        (Some("subscribe"), Some(_), Some(_)) => Err(ApiError::Forbidden(
            "hub.verify_token does not match".into(),
        )),
        _ => Err(ApiError::BadRequest {
            code: switchboard_web::ErrorCode::InvalidHandshake,
            message: "expected hub.mode=subscribe, hub.verify_token and hub.challenge".into(),
        }),
    }
}

async fn receive(
    State(driver): State<PageDriver>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        // Debug, not warn: anyone can post here, and must not be able to fill our log.
        tracing::debug!("a webhook request without X-Hub-Signature-256 was refused");
        return Err(ApiError::Unauthorized("X-Hub-Signature-256 is required"));
    };
    if !signature_matches(&driver.inner.options.app_secret, &body, signature) {
        tracing::debug!("a webhook request with a wrong signature was refused");
        return Err(ApiError::Forbidden(
            "X-Hub-Signature-256 does not match the body".into(),
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|error| ApiError::BadRequest {
        code: switchboard_web::ErrorCode::MalformedJson,
        message: format!("the body is not JSON: {error}"),
    })?;
    let (updates, foreign) =
        parse_webhook(&driver.inner.page_id, &value).map_err(|error| ApiError::BadRequest {
            code: switchboard_web::ErrorCode::InvalidWebhook,
            message: error.to_string(),
        })?;
    if foreign > 0 {
        tracing::warn!(
            entries = foreign,
            "webhook entries for other pages were ignored (run one bot per page, each with its own callback URL)"
        );
    }
    // A 5xx makes Facebook send the events again; the error is logged by `ApiError`.
    driver.absorb(updates).await.map_err(|error| match error {
        crate::BotError::Spool(error) => ApiError::Storage(error),
        other => ApiError::Storage(StorageError::Task(other.to_string())),
    })?;
    Ok("EVENT_RECEIVED")
}
