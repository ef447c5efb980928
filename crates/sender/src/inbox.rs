//! The seed's endpoints for the console: accounts, conversations, messages, notifications, posts, and
//! sending. Thin: check the caller, validate, call the store, wake what must be woken, answer.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::ValidationError;
use switchboard_domain::outbound::{PostIn, SendMessageIn};
use switchboard_storage::ConversationFilter;
use switchboard_web::require_console;
use switchboard_web::{
    ApiError, Authenticated, JsonBody, PathParam as Path, QueryParams as Query, ok, path_id,
};

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    /// Conversations only: `true` for those with unread messages.
    unread: Option<bool>,
    /// Conversations only: a name or words from the messages.
    q: Option<String>,
}

const DEFAULT_PAGE: usize = 50;

fn limit(query: &PageQuery) -> Result<usize, ApiError> {
    match query.limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(ValidationError::new("limit", "must be between 1 and 200").into()),
    }
}

pub async fn accounts(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    Ok(ok(state.store.accounts().await?))
}

pub async fn conversations(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(user_id_chat): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let filter = ConversationFilter {
        unread_only: query.unread.unwrap_or(false),
        search: query.q.clone(),
    };
    let page = state
        .store
        .conversations(
            &user_id_chat,
            filter,
            query.cursor.as_deref(),
            limit(&query)?,
        )
        .await?;
    Ok(ok(page))
}

#[derive(Debug, Deserialize)]
pub struct IdsQuery {
    /// Comma-separated conversation ids.
    ids: Option<String>,
}

/// Most conversations one `?ids=` request may name.
const MAX_IDS: usize = 100;

/// `GET /api/conversations?ids=17,18`: conversations by id, whatever their account (the console shows a
/// customer's linked conversations and a caller's recent chats with it). Unknown ids are left out.
pub async fn conversations_by_id(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Query(query): Query<IdsQuery>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let text = query.ids.unwrap_or_default();
    let mut ids = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| path_id(part, "ids"))
        .collect::<Result<Vec<i64>, ApiError>>()?;
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(ValidationError::new(
            "ids",
            "give one or more conversation ids, comma-separated",
        )
        .into());
    }
    if ids.len() > MAX_IDS {
        return Err(ValidationError::new("ids", format!("at most {MAX_IDS} ids")).into());
    }
    Ok(ok(state.store.conversations_by_id(ids).await?))
}

pub async fn mark_read(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(conversation_id): Path<String>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let (conversation, event) = state
        .store
        .mark_read(path_id(&conversation_id, "conversation_id")?)
        .await?;
    if event.is_some() {
        state.feed.notify();
    }
    Ok(ok(conversation))
}

pub async fn messages(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(conversation_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let conversation_id = path_id(&conversation_id, "conversation_id")?;
    let page = state
        .store
        .messages(conversation_id, query.cursor.as_deref(), limit(&query)?)
        .await?;
    Ok(ok(page))
}

pub async fn notifications(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(user_id_chat): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let page = state
        .store
        .notifications(&user_id_chat, query.cursor.as_deref(), limit(&query)?)
        .await?;
    Ok(ok(page))
}

pub async fn posts(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(user_id_chat): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let page = state
        .store
        .posts(&user_id_chat, query.cursor.as_deref(), limit(&query)?)
        .await?;
    Ok(ok(page))
}

#[tracing::instrument(skip_all, fields(conversation_id))]
pub async fn send_message(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(body): JsonBody<SendMessageIn>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let (conversation_id, text) = body.validate()?;
    tracing::Span::current().record("conversation_id", conversation_id);
    let queued = state
        .store
        .queue_message(conversation_id, text, principal.user_id())
        .await?;
    state.feed.notify();
    state.bots.wake_account(&queued.user_id_chat);
    Ok(ok(queued))
}

pub async fn retry_message(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(message_id): Path<String>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let queued = state
        .store
        .retry_message(path_id(&message_id, "message_id")?)
        .await?;
    state.feed.notify();
    state.bots.wake_account(&queued.user_id_chat);
    Ok(ok(queued))
}

#[tracing::instrument(skip_all, fields(account))]
pub async fn post_to_facebook(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(body): JsonBody<PostIn>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let new = body.validate()?;
    tracing::Span::current().record("account", new.user_id_chat.as_str());
    let account = new.user_id_chat.clone();
    let queued = state.store.queue_post(new, principal.user_id()).await?;
    state.feed.notify();
    state.bots.wake_account(&account);
    Ok(ok(queued))
}

pub async fn retry_post(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(post_id): Path<String>,
) -> Result<Response, ApiError> {
    require_console(&principal)?;
    let queued = state
        .store
        .retry_post(path_id(&post_id, "post_id")?)
        .await?;
    state.feed.notify();
    state.bots.wake_account(&queued.post.user_id_chat);
    Ok(ok(queued))
}
