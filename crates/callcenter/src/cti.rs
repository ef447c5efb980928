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
use serde::Serialize;
use switchboard_domain::Principal;
use switchboard_domain::ValidationError;
use switchboard_domain::callcenter::{
    CtiEvent, CtiParams, Direction, HangupCause, cti_params_from_json,
};
use switchboard_storage::Call;
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::ratelimit::AuthOutcome;
use switchboard_web::{Answer, ApiError, PathParam as Path};

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

/// The fields of a Generic-CTI event, Zammad's: which ones an event takes depends on `event`.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Described only: the event is read from its fields by `CtiEvent::parse`.
struct CtiFields {
    event: CtiEventName,
    /// The phone system's id of the call.
    #[schema(example = "1733380000.123", min_length = 1, max_length = 200)]
    call_id: String,
    /// `newCall`: the caller's number (required), or the agent's extension when `direction` is `out`.
    #[schema(example = "0912345678")]
    from: Option<String>,
    /// `newCall`: the number called.
    #[schema(example = "1900")]
    to: Option<String>,
    /// `newCall`: `in` if not given.
    direction: Option<Direction>,
    /// `newCall`: the agents the phone system rings (informative: routing decides); `answer`: the
    /// agent's name. Zammad sends it as `user[]`, also taken.
    #[schema(example = json!(["Nguyễn Văn An"]))]
    user: Option<Vec<String>>,
    /// `newCall`: the queue whose agents take the call.
    #[schema(example = "sales")]
    queue: Option<String>,
    /// `answer`: the extension that picked up.
    #[schema(example = "101")]
    answering_number: Option<String>,
    /// `hangup`: why it ended (`normalClearing` if not given).
    cause: Option<HangupCause>,
    /// `hangup`: where the call's recording is (an `http(s)://` URL the console's player opens).
    #[schema(
        example = "https://pbx.example.vn/recordings/1733380000.123.mp3",
        max_length = 4096
    )]
    recording_url: Option<String>,
}

/// What happened to the call.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
enum CtiEventName {
    NewCall,
    Answer,
    Hangup,
}

/// What the phone system hears back: the call as recorded, or Zammad's refusal of a blocked caller.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CtiAnswer {
    Recorded(Box<Answer<Call>>),
    Rejected(CtiRejection),
}

/// Zammad's answer to a caller it blocks: the phone system rejects the call as busy.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CtiRejection {
    /// Always `true`: the event was taken.
    success: bool,
    action: RejectAction,
    reason: RejectReason,
    data: BlockedCaller,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum RejectAction {
    Reject,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum RejectReason {
    Busy,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedCaller {
    /// Always `true`.
    blocked: bool,
    /// Why the number is blocked.
    #[schema(example = "Gọi quấy rối nhiều lần")]
    block_reason: String,
}

/// An event of the phone system (Zammad's Generic CTI): a new call, its answer, its hangup.
///
/// Zammad's path is `/api/v1/cti/{token}`, the same endpoint. The event may also be sent as a JSON
/// object with the same fields. Reports are idempotent: a phone system may retry freely.
#[utoipa::path(post, path = "/api/cti/{token}", tag = "phone system",
    request_body(content(
        (CtiFields = "application/x-www-form-urlencoded"),
        (CtiFields = "application/json"),
    )),
    params(("token" = String, Path,
        description = "A phone-system token (`switchboard tokens add --pbx NAME`); an API token still works, with a warning in the log")),
    security(()),
    responses(
        (status = 200, description = "The call as recorded, or a blocked caller's call refused", body = CtiAnswer),
        (status = 401, description = "The token is unknown or revoked", body = ErrorAnswer),
        (status = 403, description = "A login's or a bot's token", body = ErrorAnswer),
        (status = 404, description = "No such call (`answer`, `hangup`)", body = ErrorAnswer),
        (status = 409, description = "The call was answered by another agent (`call_taken`) or ended (`call_ended`)", body = ErrorAnswer),
        (status = 415, description = "Neither form fields nor JSON", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
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
        CtiReply::Recorded(call) => CtiAnswer::Recorded(Box::new(Answer {
            success: true,
            data: *call,
        })),
        CtiReply::Reject { reason } => CtiAnswer::Rejected(CtiRejection {
            success: true,
            action: RejectAction::Reject,
            reason: RejectReason::Busy,
            data: BlockedCaller {
                blocked: true,
                block_reason: reason,
            },
        }),
    };
    Ok(axum::Json(reply).into_response())
}
