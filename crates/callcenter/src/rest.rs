//! The call center's REST API: the seed's four endpoints, and what running a call center needs
//! (agents, customers, the call log, blocked numbers, and the socket actions for clients without one).
//! Every answer is `{success, data}`; every failure `{success: false, error}` (switchboard_web::ApiError).
//! Each handler carries its OpenAPI description (`#[utoipa::path]`): the routes are registered with it.

use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::callcenter::{AgentStatusIn, AnswerCallIn, EndCallIn};
use switchboard_domain::routing::AgentStatus;
use switchboard_domain::validation::optional_text;
use switchboard_domain::{AgentId, CallId, UnixMillis, UserId, ValidationError, phone};
use switchboard_storage::{
    Agent, AgentChanges, BlockedNumber, Call, CallCenterStatus, CallFilter, NewAgent, Page,
};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    Answer, ApiError, CallCenterReader, Console, Id, JsonBody, Paging, PathParam as Path,
    QueryParams as Query, Supervisor, ok,
};

/// Every agent, with their status and state.
#[utoipa::path(get, path = "/api/agents/status", tag = "agents",
    responses(
        (status = 200, description = "Every agent, by id", body = Answer<Vec<Agent>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn agents_status(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().agents().await?))
}

/// The agents whose status is `available` (on a call or not: see `state`).
#[utoipa::path(get, path = "/api/agents/available", tag = "agents",
    responses(
        (status = 200, description = "The available agents, by id", body = Answer<Vec<Agent>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn agents_available(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    let agents = state.engine.store().agents().await?;
    Ok(ok(agents
        .into_iter()
        .filter(|a| a.status == AgentStatus::Available)
        .collect::<Vec<_>>()))
}

/// The agent the logged-in user works as.
#[utoipa::path(get, path = "/api/agents/me", tag = "agents",
    responses(
        (status = 200, description = "The caller's own agent", body = Answer<Agent>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
        (status = 404, description = "The caller is no agent (an API token never is)", body = ErrorAnswer),
    ))]
pub async fn agent_me(
    State(state): State<AppState>,
    Console(principal): Console,
) -> Result<Response, ApiError> {
    let Some(user_id) = principal.user_id() else {
        return Err(ApiError::NotFound("an API token is not an agent".into()));
    };
    match state.engine.store().agent_for_user(user_id).await? {
        Some(agent) => Ok(ok(agent)),
        None => Err(ApiError::NotFound("your login is not an agent's".into())),
    }
}

/// A new agent: a console user, or a name alone (for a phone that is no console user's).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentIn {
    /// The console user who works as this agent; their name is the default `fullName`.
    #[schema(value_type = Option<i64>, minimum = 1, example = 7)]
    user_id: Option<UserId>,
    /// Required without a `userId`.
    #[schema(example = "Nguyễn Văn An", max_length = 200)]
    full_name: Option<String>,
    /// The agent's phone extension, which the phone system names.
    #[schema(example = "101", max_length = 50)]
    extension: Option<String>,
    /// The queues whose calls the agent takes (none: any call).
    #[schema(example = json!(["sales"]))]
    queues: Option<Vec<String>>,
}

/// Changes to an agent; a field left out stays as it is.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentChangesIn {
    /// Refused: an agent's user cannot change (create another agent).
    #[schema(ignore)]
    user_id: Option<UserId>,
    #[schema(example = "Nguyễn Văn An", min_length = 1, max_length = 200)]
    full_name: Option<String>,
    #[schema(example = "101", max_length = 50)]
    extension: Option<String>,
    /// Replaces the agent's queues.
    #[schema(example = json!(["sales", "support"]))]
    queues: Option<Vec<String>>,
}

fn queues(value: Option<Vec<String>>) -> Result<Option<Vec<String>>, ApiError> {
    value
        .map(|queues| {
            queues
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    switchboard_domain::validation::identifier(&format!("queues[{i}]"), q, 100)
                        .map_err(ApiError::from)
                })
                .collect()
        })
        .transpose()
}

/// Makes a console user (or a name alone) an agent, `offline` until they say otherwise.
#[utoipa::path(post, path = "/api/agents", tag = "agents", request_body = AgentIn,
    responses(
        (status = 200, description = "The new agent", body = Answer<Agent>),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
        (status = 409, description = "That user already is an agent", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which), or there is no such user", body = ErrorAnswer),
    ))]
pub async fn create_agent(
    State(state): State<AppState>,
    _: Supervisor,
    JsonBody(body): JsonBody<AgentIn>,
) -> Result<Response, ApiError> {
    let store = state.engine.store();
    let mut full_name = optional_text("fullName", body.full_name, 200)?.filter(|n| !n.is_empty());
    if let Some(user_id) = body.user_id {
        let user = store.user(user_id.get()).await.map_err(|_| {
            ApiError::from(ValidationError::new(
                "userId",
                format!("there is no user {user_id}"),
            ))
        })?;
        full_name = full_name
            .or(Some(user.display_name).filter(|n| !n.is_empty()))
            .or(Some(user.username));
    }
    let full_name = full_name
        .ok_or_else(|| ValidationError::new("fullName", "is required without a userId"))?;
    let agent = store
        .create_agent(NewAgent {
            user_id: body.user_id.map(UserId::get),
            full_name,
            extension: optional_text("extension", body.extension, 50)?.unwrap_or_default(),
            queues: queues(body.queues)?.unwrap_or_default(),
        })
        .await?;
    Ok(ok(agent))
}

/// Changes an agent's name, extension or queues.
#[utoipa::path(patch, path = "/api/agents/{id}", tag = "agents", request_body = AgentChangesIn,
    params(("id" = i64, Path, description = "The agent's id", minimum = 1)),
    responses(
        (status = 200, description = "The agent as changed", body = Answer<Agent>),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
        (status = 404, description = "No such agent", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which; `userId` cannot change)", body = ErrorAnswer),
    ))]
pub async fn update_agent(
    State(state): State<AppState>,
    _: Supervisor,
    Id(agent_id): Id<AgentId>,
    JsonBody(body): JsonBody<AgentChangesIn>,
) -> Result<Response, ApiError> {
    if body.user_id.is_some() {
        return Err(
            ValidationError::new("userId", "cannot be changed; create another agent").into(),
        );
    }
    let changes = AgentChanges {
        full_name: optional_text("fullName", body.full_name, 200)?,
        extension: optional_text("extension", body.extension, 50)?,
        queues: queues(body.queues)?,
    };
    if changes.full_name.as_deref() == Some("") {
        return Err(ValidationError::new("fullName", "must not be empty").into());
    }
    let agent = state
        .engine
        .store()
        .update_agent(agent_id.get(), changes)
        .await?;
    Ok(ok(agent))
}

/// An agent's status, as `set_agent_status` over Socket.IO takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusIn {
    /// Checked by the action, which names the field when it is none of these.
    #[schema(value_type = AgentStatus)]
    status: String,
}

/// Declares the documented methods of `/api/agents/{id}/status`, which do one thing: the seed's
/// clients `PUT` it, others `POST`.
macro_rules! agent_status_endpoints {
    ($($(#[$doc:meta])* $name:ident: $method:ident;)*) => {$(
        $(#[$doc])*
        #[utoipa::path($method, path = "/api/agents/{id}/status", tag = "agents", request_body = StatusIn,
            params(("id" = i64, Path, description = "The agent's id", minimum = 1)),
                    responses(
                (status = 200, description = "The agent, with their status now", body = Answer<Agent>),
                (status = 403, description = "An agent setting another agent's status, or a bot token", body = ErrorAnswer),
                (status = 404, description = "No such agent", body = ErrorAnswer),
                (status = 422, description = "`status` is not one of the statuses", body = ErrorAnswer),
            ))]
        pub async fn $name(
            state: State<AppState>,
            console: Console,
            agent_id: Id<AgentId>,
            body: JsonBody<StatusIn>,
        ) -> Result<Response, ApiError> {
            set_agent_status(state, console, agent_id, body).await
        }
    )*};
}

agent_status_endpoints! {
    /// Sets an agent's status (their own, or, for supervisors, anyone's), as `set_agent_status`.
    put_agent_status: put;
    /// Sets an agent's status, as `PUT` does.
    post_agent_status: post;
}

/// `set_agent_status` for the agent in the path.
async fn set_agent_status(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(agent_id): Id<AgentId>,
    JsonBody(body): JsonBody<StatusIn>,
) -> Result<Response, ApiError> {
    // Parsed as the socket's payload is, so both refuse a bad status in the same words.
    let body = serde_json::json!({"agentId": agent_id, "status": body.status});
    let input = AgentStatusIn::parse(&body)?;
    Ok(ok(state.engine.set_status(&principal, input).await?))
}

/// Agents by status, and calls ringing, waiting and connected.
#[utoipa::path(get, path = "/api/call-center/status", tag = "call center",
    responses(
        (status = 200, description = "The counts now", body = Answer<CallCenterStatus>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn call_center_status(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().call_center_status().await?))
}

/// The most calls one CSV export holds (narrow it with `from` and `until` beyond that).
const MAX_CSV_CALLS: usize = 100_000;

/// Whether the caller asked for a spreadsheet (`Accept: text/csv`) rather than JSON.
pub(crate) fn wants_csv(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// The call log as a CSV file, one row per call, read a page at a time.
async fn calls_csv(state: &AppState, filter: CallFilter) -> Result<Response, ApiError> {
    let mut writer = switchboard_domain::spreadsheet::Writer::new(&[
        "callId",
        "direction",
        "callerNumber",
        "calledNumber",
        "queue",
        "source",
        "status",
        "customerId",
        "offeredAgentId",
        "answeredBy",
        "startTime",
        "answeredAt",
        "endTime",
        "endReason",
        "missed",
        "waitSeconds",
        "talkSeconds",
        "outcome",
        "outcomeNote",
        "recordingUrl",
    ]);
    let (mut cursor, mut written) = (None::<String>, 0);
    let optional = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
    let time = |value: Option<UnixMillis>| value.map(UnixMillis::to_rfc3339).unwrap_or_default();
    loop {
        let page = state
            .engine
            .store()
            .calls(filter.clone(), cursor.as_deref(), 200)
            .await?;
        for call in &page.items {
            let cells = [
                call.call_id.clone(),
                call.direction.clone(),
                call.caller_number.clone(),
                call.called_number.clone(),
                call.queue.clone().unwrap_or_default(),
                call.source.clone(),
                call.status.as_str().to_owned(),
                optional(call.customer_id),
                optional(call.offered_agent_id),
                optional(call.answered_by),
                call.start_time.to_rfc3339(),
                time(call.answered_at),
                time(call.end_time),
                call.end_reason.clone().unwrap_or_default(),
                call.missed.to_string(),
                call.wait_seconds.to_string(),
                call.talk_seconds.to_string(),
                call.outcome.clone().unwrap_or_default(),
                call.outcome_note.clone(),
                call.recording_url.clone().unwrap_or_default(),
            ];
            writer.row(cells.iter().map(String::as_str));
        }
        written += page.items.len();
        match page.next_cursor {
            Some(next) if written < MAX_CSV_CALLS => cursor = Some(next),
            _ => break,
        }
    }
    Ok(csv_file("calls.csv", writer.finish()))
}

/// A CSV file to download, named `name` (ASCII, no quotes).
pub(crate) fn csv_file(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Filters of the call log; each given one narrows it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// Calls that started at or after this time (RFC 3339).
    #[param(format = DateTime, example = "2026-12-05T00:00:00+07:00")]
    from: Option<String>,
    /// Calls that started before this time (RFC 3339).
    #[param(format = DateTime, example = "2026-12-06T00:00:00+07:00")]
    until: Option<String>,
    /// Calls answered by, or last offered to, this agent.
    #[param(value_type = Option<i64>)]
    agent_id: Option<AgentId>,
    /// Calls from a number containing these digits.
    #[param(example = "0912")]
    number: Option<String>,
    /// Only missed (`true`) or only not missed (`false`) calls.
    missed: Option<bool>,
}

fn time(field: &str, value: Option<String>) -> Result<Option<UnixMillis>, ApiError> {
    value
        .map(|v| {
            UnixMillis::parse_rfc3339(&v).map_err(|e| {
                ValidationError::new(field, format!("`{v}` is not an RFC 3339 time: {e}")).into()
            })
        })
        .transpose()
}

/// The call log, newest first, a page at a time, filtered by time, agent, number and missed.
#[utoipa::path(get, path = "/api/calls", tag = "calls",
    params(CallQuery, Paging),
    responses(
        (status = 200, description = "A page of the call log; with `Accept: text/csv`, every call the filters keep (up to 100,000, newest first) as a file for spreadsheets, one row per call",
            content((Answer<Page<Call>> = "application/json"), (String = "text/csv"))),
        (status = 403, description = "A bot token", body = ErrorAnswer),
        (status = 422, description = "A query parameter is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn calls(
    State(state): State<AppState>,
    _: CallCenterReader,
    Query(query): Query<CallQuery>,
    paging: Paging,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let limit = paging.limit()?;
    let filter = CallFilter {
        from: time("from", query.from)?,
        until: time("until", query.until)?,
        agent_id: query.agent_id.map(AgentId::get),
        number_digits: query.number.as_deref().map(phone::search_digits),
        missed: query.missed,
    };
    if wants_csv(&headers) {
        return calls_csv(&state, filter).await;
    }
    let page = state
        .engine
        .store()
        .calls(filter, paging.cursor(), limit)
        .await?;
    Ok(ok(page))
}

/// One call of the log.
#[utoipa::path(get, path = "/api/calls/{call_id}", tag = "calls",
    params(("call_id" = String, Path, description = "The phone system's id of the call", example = "1733380000.123")),
    responses(
        (status = 200, description = "The call", body = Answer<Call>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
        (status = 404, description = "No such call", body = ErrorAnswer),
    ))]
pub async fn call(
    State(state): State<AppState>,
    _: CallCenterReader,
    Id(call_id): Id<CallId>,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().call(call_id.as_str()).await?))
}

/// Body of `POST /api/calls/{call_id}/answer`, read as the socket's `answer_call` payload is.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Described only: the action reads the body as the socket's payload.
struct AnswerCallBody {
    /// Who answers: a number, or its digits as a string. Agents may leave it out (themselves);
    /// supervisors, admins and API tokens name the agent.
    #[schema(minimum = 1, example = 3)]
    agent_id: Option<i64>,
    /// Who acts, passed on to the phone system (`crm_system` if not given).
    #[schema(example = "crm_system")]
    source: Option<String>,
}

/// Body of `POST /api/calls/{call_id}/end`, read as the socket's `end_call` payload is.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Described only: the action reads the body as the socket's payload.
struct EndCallBody {
    /// Why it ended (`crm_reject` if not given).
    #[schema(example = "crm_reject")]
    end_reason: Option<String>,
    /// Who acts, passed on to the phone system (`crm_system` if not given).
    #[schema(example = "crm_system")]
    source: Option<String>,
}

/// The socket action's payload: the body as sent, with the call in the path as its `callId`.
fn with_call_id(mut body: Value, call_id: CallId) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.insert("callId".into(), call_id.into_string().into());
    }
    body
}

/// Answers a call, as `answer_call` over Socket.IO: the first answer wins.
#[utoipa::path(post, path = "/api/calls/{call_id}/answer", tag = "calls", request_body = AnswerCallBody,
    params(("call_id" = String, Path, description = "The phone system's id of the call", example = "1733380000.123")),
    responses(
        (status = 200, description = "The call, connected to the agent", body = Answer<Call>),
        (status = 403, description = "An agent answering for another, a login that is no agent's, or a bot or phone-system token", body = ErrorAnswer),
        (status = 404, description = "No such call or agent", body = ErrorAnswer),
        (status = 409, description = "Another agent answered first (`call_taken`), or the call ended (`call_ended`)", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn answer_call(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(call_id): Id<CallId>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let input = AnswerCallIn::parse(&with_call_id(body, call_id))?;
    Ok(ok(state.engine.answer(&principal, input).await?))
}

/// Ends a call, as `end_call` over Socket.IO: a reject while it rings, a hangup once connected.
#[utoipa::path(post, path = "/api/calls/{call_id}/end", tag = "calls", request_body = EndCallBody,
    params(("call_id" = String, Path, description = "The phone system's id of the call", example = "1733380000.123")),
    responses(
        (status = 200, description = "The call, ended", body = Answer<Call>),
        (status = 403, description = "An agent ending a call that is not theirs, a login that is no agent's, or a bot or phone-system token", body = ErrorAnswer),
        (status = 404, description = "No such call", body = ErrorAnswer),
        (status = 409, description = "The call already ended (`call_ended`)", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn end_call(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(call_id): Id<CallId>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let input = EndCallIn::parse(&with_call_id(body, call_id))?;
    Ok(ok(state.engine.end(&principal, input).await?))
}

/// The numbers whose calls are refused.
#[utoipa::path(get, path = "/api/blocked-numbers", tag = "blocked numbers",
    responses(
        (status = 200, description = "The blocked numbers, in order", body = Answer<Vec<BlockedNumber>>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
    ))]
pub async fn blocked_numbers(
    State(state): State<AppState>,
    _: Console,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().blocked_numbers().await?))
}

/// A number to block.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BlockIn {
    /// Any spelling; stored normalised.
    #[schema(example = "0912 345 678")]
    number: String,
    #[serde(default)]
    #[schema(example = "Gọi quấy rối nhiều lần", max_length = 500)]
    reason: String,
}

/// A number blocked, normalised, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Blocked {
    #[schema(example = "+84912345678")]
    number: String,
    #[schema(example = "Gọi quấy rối nhiều lần")]
    reason: String,
}

/// A number unblocked, normalised.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unblocked {
    #[schema(example = "+84912345678")]
    number: String,
}

/// Blocks a number: its calls are rejected from now on (blocking it again changes the reason).
#[utoipa::path(post, path = "/api/blocked-numbers", tag = "blocked numbers", request_body = BlockIn,
    responses(
        (status = 200, description = "The number as blocked", body = Answer<Blocked>),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
        (status = 422, description = "`number` is not a phone number, or `reason` too long", body = ErrorAnswer),
    ))]
pub async fn block_number(
    State(state): State<AppState>,
    _: Supervisor,
    JsonBody(body): JsonBody<BlockIn>,
) -> Result<Response, ApiError> {
    let number =
        phone::normalize(&body.number).map_err(|e| ValidationError::new("number", e.problem))?;
    let reason = optional_text("reason", Some(body.reason), 500)?.unwrap_or_default();
    state.engine.store().block_number(&number, &reason).await?;
    Ok(ok(Blocked { number, reason }))
}

/// Unblocks a number: its calls ring again.
#[utoipa::path(delete, path = "/api/blocked-numbers/{number}", tag = "blocked numbers",
    params(("number" = String, Path, description = "The number, in any spelling", example = "+84912345678")),
    responses(
        (status = 200, description = "The number, no longer blocked", body = Answer<Unblocked>),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
        (status = 404, description = "The number is not blocked", body = ErrorAnswer),
        (status = 422, description = "Not a phone number", body = ErrorAnswer),
    ))]
pub async fn unblock_number(
    State(state): State<AppState>,
    _: Supervisor,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number =
        phone::normalize(&number).map_err(|e| ValidationError::new("number", e.problem))?;
    if state.engine.store().unblock_number(&number).await? {
        Ok(ok(Unblocked { number }))
    } else {
        Err(ApiError::NotFound(format!("{number} is not blocked")))
    }
}
