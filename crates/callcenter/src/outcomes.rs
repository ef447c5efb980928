//! What came of each call, over REST: the outcome codes admins keep, and the code and note an agent
//! records after a call (shown in the call log and the customer's history).

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use switchboard_domain::call_outcomes::{CallOutcomeIn, OutcomeCodeChanges, OutcomeCodeIn};
use switchboard_domain::{CallId, OutcomeCodeId};
use switchboard_storage::{Call, OutcomeCode};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Admin, Answer, ApiError, CallCenterReader, Console, Id, JsonBody, ok};

/// The outcome codes, in order; retired ones are marked `active: false`.
#[utoipa::path(get, path = "/api/call-outcomes", tag = "calls",
    responses(
        (status = 200, description = "The codes", body = Answer<Vec<OutcomeCode>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn outcome_codes(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().outcome_codes().await?))
}

/// A new outcome code.
#[utoipa::path(post, path = "/api/call-outcomes", tag = "calls", request_body = OutcomeCodeIn,
    responses(
        (status = 200, description = "The code", body = Answer<OutcomeCode>),
        (status = 403, description = "Not an admin", body = ErrorAnswer),
        (status = 409, description = "The code exists (retired or not), or there are 100 already", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn create_outcome_code(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<OutcomeCodeIn>,
) -> Result<Response, ApiError> {
    let (code, label, position) = body.validate()?;
    Ok(ok(state
        .engine
        .store()
        .create_outcome_code(code, label, position)
        .await?))
}

/// Renames, moves, retires (`active: false`) or brings back an outcome code; its code never changes.
#[utoipa::path(patch, path = "/api/call-outcomes/{id}", tag = "calls", request_body = OutcomeCodeChanges,
    params(("id" = i64, Path, description = "The code's id", minimum = 1)),
    responses(
        (status = 200, description = "The code as changed", body = Answer<OutcomeCode>),
        (status = 403, description = "Not an admin", body = ErrorAnswer),
        (status = 404, description = "No such code", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn update_outcome_code(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<OutcomeCodeId>,
    JsonBody(body): JsonBody<OutcomeCodeChanges>,
) -> Result<Response, ApiError> {
    let changes = body.validate()?;
    Ok(ok(state
        .engine
        .store()
        .update_outcome_code(id.get(), changes)
        .await?))
}

/// Records what came of a call and a note (again: the latest wins). The agent who answered it, or a
/// supervisor, an admin or an API token.
#[utoipa::path(post, path = "/api/calls/{call_id}/outcome", tag = "calls", request_body = CallOutcomeIn,
    params(("call_id" = String, Path, description = "The phone system's id of the call", example = "1733380000.123")),
    responses(
        (status = 200, description = "The call, with its outcome", body = Answer<Call>),
        (status = 403, description = "An agent recording another agent's call, or a bot token", body = ErrorAnswer),
        (status = 404, description = "No such call", body = ErrorAnswer),
        (status = 422, description = "Not a code in use, or a note over 2,000 characters", body = ErrorAnswer),
    ))]
pub async fn set_call_outcome(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(call_id): Id<CallId>,
    JsonBody(body): JsonBody<CallOutcomeIn>,
) -> Result<Response, ApiError> {
    let (code, note) = body.validate()?;
    let store = state.engine.store();
    if !principal.supervises_agents() {
        let call = store.call(call_id.as_str()).await?;
        let mine = match principal.user_id() {
            Some(user_id) => store
                .agent_for_user(user_id)
                .await?
                .is_some_and(|agent| Some(agent.id) == call.answered_by),
            None => false,
        };
        if !mine {
            return Err(ApiError::Forbidden(
                "only the agent who answered the call (or a supervisor) records its outcome".into(),
            ));
        }
    }
    Ok(ok(store
        .set_call_outcome(call_id.as_str(), code, note, principal.user_id())
        .await?))
}
