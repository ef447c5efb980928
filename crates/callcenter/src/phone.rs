//! Acting on the phone system over REST: click-to-call, transfer, and the commands sent (with what the
//! phone system answered). Each is stored before it is sent (`crate::outbox`).

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::phone_commands::{DialIn, PhoneCommandStatus, TransferIn};
use switchboard_domain::{AgentId, CallId};
use switchboard_storage::PhoneCommand;
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    Answer, ApiError, CallCenterReader, Console, Id, JsonBody, Paging, QueryParams as Query, ok,
};

/// Places a call for an agent: the phone system rings the agent's extension, then the number. The
/// answer is the stored command (`pending`); `phone_command_updated` follows when the phone system
/// took it or refused it, and the call itself appears when the phone system reports it.
#[utoipa::path(post, path = "/api/calls/dial", tag = "calls", request_body = DialIn,
    responses(
        (status = 200, description = "The command, stored and being sent", body = Answer<PhoneCommand>),
        (status = 403, description = "An agent dialling for another, a login that is no agent's, or a bot token", body = ErrorAnswer),
        (status = 404, description = "No such agent", body = ErrorAnswer),
        (status = 409, description = "No phone system is configured (callcenter.webhook_url)", body = ErrorAnswer),
        (status = 422, description = "`number` is not a phone number, or the agent has no extension", body = ErrorAnswer),
    ))]
pub async fn dial(
    State(state): State<AppState>,
    Console(principal): Console,
    JsonBody(body): JsonBody<DialIn>,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.dial(&principal, body).await?))
}

/// Asks the phone system to move a connected call to another agent (`agentId`) or a queue (`queue`).
#[utoipa::path(post, path = "/api/calls/{call_id}/transfer", tag = "calls", request_body = TransferIn,
    params(("call_id" = String, Path, description = "The phone system's id of the call", example = "1733380000.123")),
    responses(
        (status = 200, description = "The command, stored and being sent", body = Answer<PhoneCommand>),
        (status = 403, description = "Not the agent who has the call, nor a supervisor", body = ErrorAnswer),
        (status = 404, description = "No such call or agent", body = ErrorAnswer),
        (status = 409, description = "The call is not connected, or no phone system is configured", body = ErrorAnswer),
        (status = 422, description = "Neither or both of `agentId` and `queue`, or the call's own agent", body = ErrorAnswer),
    ))]
pub async fn transfer(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(call_id): Id<CallId>,
    JsonBody(body): JsonBody<TransferIn>,
) -> Result<Response, ApiError> {
    let target = body.target()?;
    Ok(ok(state
        .engine
        .transfer(&principal, call_id.as_str(), target)
        .await?))
}

/// Which commands.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommandQuery {
    /// Only those for this agent.
    #[serde(rename = "agentId")]
    #[param(value_type = Option<i64>)]
    agent_id: Option<AgentId>,
    /// Only those in this state (`failed`: what supervisors follow up).
    #[param(example = "failed")]
    status: Option<PhoneCommandStatus>,
}

/// The latest commands to the phone system, newest first, with their state and the phone system's
/// answer to the last failed send.
#[utoipa::path(get, path = "/api/phone-commands", tag = "calls",
    params(CommandQuery,
        ("limit" = Option<i64>, Query, description = "The most commands (50 if not given)", minimum = 1, maximum = 200)),
    responses(
        (status = 200, description = "The commands", body = Answer<Vec<PhoneCommand>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
        (status = 422, description = "A query parameter is invalid", body = ErrorAnswer),
    ))]
pub async fn phone_commands(
    State(state): State<AppState>,
    _: CallCenterReader,
    Query(query): Query<CommandQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let limit = paging.limit_up_to(200)?;
    Ok(ok(state
        .engine
        .store()
        .phone_commands(query.agent_id.map(AgentId::get), query.status, limit)
        .await?))
}
