//! The Generic-CTI webhook, compatible with Zammad's: `POST /api/v1/cti/{token}` with the event as form
//! fields (what PBX scripts written for Zammad send) or as a JSON object. The token in the path is a
//! phone-system token (`switchboard tokens add --pbx NAME`), since phone systems cannot send headers of
//! their choosing; it can post call events and read the call center, nothing else. Integrators' API
//! tokens, which older set-ups put there, still work but are warned about: in a URL they leak into
//! the phone system's logs, and they can do everything an admin can.

use crate::AppState;
use crate::engine::CtiReply;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_domain::Principal;
use switchboard_domain::ValidationError;
use switchboard_domain::callcenter::{CtiEvent, CtiParams, cti_params_from_json};
use switchboard_web::ratelimit::AuthOutcome;
use switchboard_web::{ApiError, PathParam as Path};

/// Says once per API token (not once per call) that it should be replaced by a phone-system token.
fn warn_admin_token_in_url(token_id: i64) {
    static WARNED: std::sync::Mutex<Vec<i64>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !warned.contains(&token_id) && warned.len() < 1000 {
        warned.push(token_id);
        tracing::warn!(
            token_id,
            "the CTI webhook was called with an API token, which can do everything an admin can; \
             give the phone system its own token (switchboard tokens add --pbx NAME) and revoke this one"
        );
    }
}

fn params(headers: &HeaderMap, body: &[u8]) -> Result<CtiParams, ApiError> {
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/json" => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| ValidationError::new("body", format!("is not valid JSON: {e}")))?;
            Ok(cti_params_from_json(&value)?)
        }
        "application/x-www-form-urlencoded" | "" => Ok(form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "send the event as application/x-www-form-urlencoded or application/json, not `{media}`"
        ))),
    }
}

/// `POST /api/v1/cti/{token}`.
pub async fn webhook(
    State(state): State<AppState>,
    Path(token): Path<String>,
    outcome: Option<axum::Extension<AuthOutcome>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = state.engine.store().authenticate(&token).await?;
    if let Some(axum::Extension(outcome)) = outcome {
        outcome.record(principal.is_some());
    }
    if let Some(principal) = &principal {
        switchboard_web::record_principal(principal);
    }
    match principal {
        Some(Principal::PhoneSystem { .. }) => {}
        Some(Principal::Integrator { token_id, .. }) => {
            warn_admin_token_in_url(token_id);
        }
        Some(_) => {
            return Err(ApiError::Forbidden(
                "the CTI webhook takes a phone-system token (switchboard tokens add --pbx NAME), not a login or a bot token".into(),
            ));
        }
        None => {
            return Err(ApiError::Unauthorized(
                "the token in the URL is unknown or revoked",
            ));
        }
    }
    let event = CtiEvent::parse(&params(&headers, &body)?)?;
    let reply = match state.engine.cti(event).await? {
        CtiReply::Recorded(call) => json!({"success": true, "data": call}),
        // Zammad's answer to a caller it blocks: the phone system rejects the call as busy.
        CtiReply::Reject { reason } => json!({
            "success": true, "action": "reject", "reason": "busy",
            "data": {"blocked": true, "blockReason": reason},
        }),
    };
    Ok(axum::Json(reply).into_response())
}
