//! `GET /healthz`: the process is up and its database answers, with whether writes work (a disk that
//! is full answers reads but loses nothing it acknowledges: every write is refused with a 503).
//! `GET /readyz`: whether this node should be sent traffic: `503` while writes fail, and while it drains
//! before a shutdown (`drain_seconds`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use switchboard_storage::Store;

fn report(store: &Store, last_event_id: i64) -> (bool, serde_json::Value) {
    let failure = store.write_failure();
    let body = serde_json::json!({
        "status": if failure.is_none() { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "last_event_id": last_event_id,
        "database": match &failure {
            None => serde_json::json!({"writes": "ok"}),
            Some(reason) => serde_json::json!({"writes": "failing", "reason": reason}),
        },
    });
    (failure.is_none(), body)
}

/// Liveness: `200` while the process runs and reads its database, naming a failing write path.
#[utoipa::path(get, path = "/healthz", tag = crate::openapi::OPERATIONS_TAG, security(()),
    responses((status = 200, body = crate::openapi::Health), (status = 503, body = crate::openapi::Health)))]
pub async fn healthz(State(store): State<Store>) -> Response {
    match store.last_event_id().await {
        Ok(last_event_id) => {
            (StatusCode::OK, Json(report(&store, last_event_id).1)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

/// Marks a request that arrived while the node drains before stopping.
#[derive(Debug, Clone, Copy)]
pub struct Draining;

/// Readiness: `200` only when this node can serve, writes included, and is not about to stop.
#[utoipa::path(get, path = "/readyz", tag = crate::openapi::OPERATIONS_TAG, security(()),
    responses((status = 200, body = crate::openapi::Health), (status = 503, body = crate::openapi::Health)))]
pub async fn readyz(State(store): State<Store>, draining: Option<Extension<Draining>>) -> Response {
    if draining.is_some() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "draining", "version": env!("CARGO_PKG_VERSION")})),
        )
            .into_response();
    }
    match store.last_event_id().await {
        Ok(last_event_id) => {
            let (ready, body) = report(&store, last_event_id);
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(body)).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}
