//! `GET /healthz`: the process is up and its database answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_storage::Store;

pub async fn healthz(State(store): State<Store>) -> Response {
    match store.last_event_id().await {
        Ok(last_event_id) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "last_event_id": last_event_id})),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "database unavailable"})))
                .into_response()
        }
    }
}
