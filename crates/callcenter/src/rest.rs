//! The call center's REST API: the seed's four endpoints, and what running a call center needs
//! (agents, customers, the call log, blocked numbers, and the socket actions for clients without one).
//! Every answer is `{success, data}`; every failure `{success: false, error}` (switchboard_web::ApiError).

use crate::AppState;
use crate::engine::ConsoleAction;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use serde::Deserialize;
use switchboard_domain::customer::CustomerIn;
use switchboard_domain::routing::AgentStatus;
use switchboard_domain::validation::optional_text;
use switchboard_domain::{
    AgentId, CallId, ConversationId, CustomerId, UnixMillis, UserId, ValidationError, phone,
};
use switchboard_storage::{AgentChanges, CallFilter, NewAgent};
use switchboard_web::{
    ApiError, CallCenterReader, Console, DEFAULT_PAGE, Id, JsonBody, Paging, PathParam as Path,
    QueryParams as Query, Supervisor, ok,
};

/// The most customers a search answers.
const MAX_CUSTOMERS: usize = 100;

/// `GET /api/agents/status`: every agent with their status and state.
pub async fn agents_status(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().agents().await?))
}

/// `GET /api/agents/available`: agents whose status is `available` (on a call or not: see `state`).
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

/// `GET /api/agents/me`: the agent the logged-in user works as.
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentIn {
    user_id: Option<UserId>,
    full_name: Option<String>,
    extension: Option<String>,
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

/// `POST /api/agents`: makes a console user (or a name alone) an agent.
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

/// `PATCH /api/agents/{id}`: name, extension, queues.
pub async fn update_agent(
    State(state): State<AppState>,
    _: Supervisor,
    Id(agent_id): Id<AgentId>,
    JsonBody(body): JsonBody<AgentIn>,
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

#[derive(Debug, Deserialize)]
pub struct StatusIn {
    status: String,
}

/// `PUT /api/agents/{id}/status {status}`: as `set_agent_status` over Socket.IO.
pub async fn set_agent_status(
    State(state): State<AppState>,
    Console(principal): Console,
    Id(agent_id): Id<AgentId>,
    JsonBody(body): JsonBody<StatusIn>,
) -> Result<Response, ApiError> {
    let body = serde_json::json!({"agentId": agent_id, "status": body.status});
    Ok(ok(state
        .engine
        .act(&principal, ConsoleAction::SetStatus, &body)
        .await?))
}

/// `GET /api/call-center/status`: agents by status, calls ringing, waiting and connected.
pub async fn call_center_status(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().call_center_status().await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSearchIn {
    phone_number: String,
    #[serde(default = "yes")]
    exact_match: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/customers/search {phoneNumber, exactMatch}`: the customers with that number (any
/// spelling), or, with `exactMatch: false`, whose numbers contain it. `data` is a list.
pub async fn search_customers_by_phone(
    State(state): State<AppState>,
    _: Console,
    JsonBody(body): JsonBody<CustomerSearchIn>,
) -> Result<Response, ApiError> {
    let store = state.engine.store();
    let customers = if body.exact_match {
        let number = phone::normalize(&body.phone_number)
            .map_err(|e| ValidationError::new("phoneNumber", e.problem))?;
        store
            .customers_by_phone(&number, true, DEFAULT_PAGE)
            .await?
    } else {
        let digits = phone::search_digits(&body.phone_number);
        if digits.len() < 3 {
            return Err(
                ValidationError::new("phoneNumber", "give at least 3 digits to search").into(),
            );
        }
        store
            .customers_by_phone(&digits, false, DEFAULT_PAGE)
            .await?
    };
    Ok(ok(customers))
}

#[derive(Debug, Deserialize)]
pub struct CustomerQuery {
    q: Option<String>,
    /// The customers linked to this Facebook conversation (instead of `q`).
    #[serde(rename = "conversationId")]
    conversation_id: Option<ConversationId>,
}

/// `GET /api/customers?q=`: by name, email, CIF or part of a number; `?conversationId=` the customers
/// linked to a Facebook conversation (the console's thread shows whose it is).
pub async fn customers(
    State(state): State<AppState>,
    _: Console,
    Query(query): Query<CustomerQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    if let Some(conversation_id) = query.conversation_id {
        return Ok(ok(state
            .engine
            .store()
            .customers_of_conversation(conversation_id.get())
            .await?));
    }
    let q = query.q.unwrap_or_default();
    let limit = paging.limit_up_to(MAX_CUSTOMERS)?;
    let digits = phone::search_digits(&q);
    let digits = if digits.len() >= 3 {
        digits
    } else {
        String::new()
    };
    Ok(ok(state
        .engine
        .store()
        .search_customers(&q, &digits, limit)
        .await?))
}

pub async fn create_customer(
    State(state): State<AppState>,
    _: Console,
    JsonBody(body): JsonBody<CustomerIn>,
) -> Result<Response, ApiError> {
    let fields = body.validate()?;
    if fields.full_name.as_deref().is_none_or(str::is_empty) {
        return Err(ValidationError::new("fullName", "is required").into());
    }
    Ok(ok(state.engine.store().create_customer(fields).await?))
}

pub async fn customer(
    State(state): State<AppState>,
    _: Console,
    Id(customer_id): Id<CustomerId>,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().customer(customer_id.get()).await?))
}

pub async fn update_customer(
    State(state): State<AppState>,
    _: Console,
    Id(customer_id): Id<CustomerId>,
    JsonBody(body): JsonBody<CustomerIn>,
) -> Result<Response, ApiError> {
    let fields = body.validate()?;
    if fields.full_name.as_deref() == Some("") {
        return Err(ValidationError::new("fullName", "must not be empty").into());
    }
    Ok(ok(state
        .engine
        .store()
        .update_customer(customer_id.get(), fields)
        .await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkIn {
    conversation_id: ConversationId,
}

/// `POST /api/customers/{id}/conversations {conversationId}`: this Facebook conversation is theirs.
pub async fn link_conversation(
    State(state): State<AppState>,
    _: Console,
    Id(customer_id): Id<CustomerId>,
    JsonBody(body): JsonBody<LinkIn>,
) -> Result<Response, ApiError> {
    let customer = state
        .engine
        .store()
        .link_conversation(customer_id.get(), body.conversation_id.get())
        .await?;
    Ok(ok(customer))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallQuery {
    from: Option<String>,
    until: Option<String>,
    agent_id: Option<AgentId>,
    number: Option<String>,
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

/// `GET /api/calls`: the call log, newest first, filtered by time, agent, number and missed.
pub async fn calls(
    State(state): State<AppState>,
    _: CallCenterReader,
    Query(query): Query<CallQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let limit = paging.limit()?;
    let filter = CallFilter {
        from: time("from", query.from)?,
        until: time("until", query.until)?,
        agent_id: query.agent_id.map(AgentId::get),
        number_digits: query.number.as_deref().map(phone::search_digits),
        missed: query.missed,
    };
    let page = state
        .engine
        .store()
        .calls(filter, paging.cursor(), limit)
        .await?;
    Ok(ok(page))
}

pub async fn call(
    State(state): State<AppState>,
    _: CallCenterReader,
    Id(call_id): Id<CallId>,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().call(call_id.as_str()).await?))
}

/// `POST /api/calls/{callId}/answer {agentId?}` and `POST /api/calls/{callId}/end {endReason?}`: the
/// socket action (`answer_call`, `end_call`) on the call in the path, for clients without a socket.
pub fn call_action(action: ConsoleAction) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Console(principal): Console,
              Id(call_id): Id<CallId>,
              JsonBody(mut body): JsonBody<serde_json::Value>| async move {
            if let Some(object) = body.as_object_mut() {
                object.insert("callId".into(), call_id.into_string().into());
            }
            let outcome = state.engine.act(&principal, action, &body).await?;
            Ok::<_, ApiError>(ok(outcome))
        },
    )
}

pub async fn blocked_numbers(
    State(state): State<AppState>,
    _: Console,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().blocked_numbers().await?))
}

#[derive(Debug, Deserialize)]
pub struct BlockIn {
    number: String,
    #[serde(default)]
    reason: String,
}

/// `POST /api/blocked-numbers {number, reason}`: calls from it are rejected from now on.
pub async fn block_number(
    State(state): State<AppState>,
    _: Supervisor,
    JsonBody(body): JsonBody<BlockIn>,
) -> Result<Response, ApiError> {
    let number =
        phone::normalize(&body.number).map_err(|e| ValidationError::new("number", e.problem))?;
    let reason = optional_text("reason", Some(body.reason), 500)?.unwrap_or_default();
    state.engine.store().block_number(&number, &reason).await?;
    Ok(ok(serde_json::json!({"number": number, "reason": reason})))
}

pub async fn unblock_number(
    State(state): State<AppState>,
    _: Supervisor,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number =
        phone::normalize(&number).map_err(|e| ValidationError::new("number", e.problem))?;
    if state.engine.store().unblock_number(&number).await? {
        Ok(ok(serde_json::json!({"number": number})))
    } else {
        Err(ApiError::NotFound(format!("{number} is not blocked")))
    }
}
