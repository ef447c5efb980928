//! Missed calls followed up, over REST: the callback tasks (opened by the routing when a call is
//! missed) and their closing with an outcome.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::CallbackId;
use switchboard_domain::callbacks::{CallbackStatus, CloseCallbackIn};
use switchboard_storage::Callback;
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    Answer, ApiError, CallCenterReader, Console, Id, JsonBody, Paging, QueryParams as Query, ok,
};

/// Which callback tasks.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// `open` (to do) or `closed`; both when not given.
    status: Option<CallbackStatus>,
    /// Only those of this agent.
    #[serde(rename = "agentId")]
    agent_id: Option<i64>,
}

/// Callback tasks, the latest missed call first, each with the call it came from (`callId`), how
/// many missed calls it gathers, the customer the number is, and whose task it is.
#[utoipa::path(get, path = "/api/callbacks", tag = "calls",
    params(CallbackQuery,
        ("limit" = Option<i64>, Query, description = "The most tasks (50 if not given)", minimum = 1, maximum = 200)),
    responses(
        (status = 200, description = "The tasks", body = Answer<Vec<Callback>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
        (status = 422, description = "A query parameter is invalid", body = ErrorAnswer),
    ))]
pub async fn callbacks(
    State(state): State<AppState>,
    _: CallCenterReader,
    Query(query): Query<CallbackQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let limit = paging.limit_up_to(200)?;
    Ok(ok(state
        .engine
        .store()
        .callbacks(query.status, query.agent_id, limit)
        .await?))
}

/// Closes a callback task with what came of it (`reached`, `no_answer`, `wrong_number`,
/// `not_needed`) and a note; consoles are told (`callback_updated`). A new missed call from the
/// number then opens a new task.
#[utoipa::path(post, path = "/api/callbacks/{id}/close", tag = "calls", request_body = CloseCallbackIn,
    params(("id" = i64, Path, description = "The task's id", minimum = 1)),
    responses(
        (status = 200, description = "The task, closed", body = Answer<Callback>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
        (status = 404, description = "No such task", body = ErrorAnswer),
        (status = 409, description = "Closed already", body = ErrorAnswer),
        (status = 422, description = "An unknown outcome, or a note too long", body = ErrorAnswer),
    ))]
pub async fn close_callback(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(callback_id): Id<CallbackId>,
    JsonBody(body): JsonBody<CloseCallbackIn>,
) -> Result<Response, ApiError> {
    let (outcome, note) = body.validate()?;
    let closed = state
        .engine
        .store()
        .close_callback(callback_id.get(), outcome, note, principal.user_id())
        .await?;
    state.engine.feed().notify();
    Ok(ok(closed))
}
