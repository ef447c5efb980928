//! The seed's endpoints for the console: accounts, conversations, messages, notifications, posts, and
//! sending. Thin: check the caller, validate, call the store, wake what must be woken, answer.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::outbound::{PostIn, SendMessageIn};
use switchboard_domain::{ConversationId, MessageId, PostId, ValidationError};
use switchboard_storage::ConversationFilter;
use switchboard_web::{
    ApiError, Console, Id, JsonBody, Paging, PathParam as Path, QueryParams as Query, ok, parse_id,
};

/// What narrows a list of conversations, beside its paging.
#[derive(Debug, Deserialize)]
pub struct ConversationQuery {
    /// `true` for those with unread messages.
    unread: Option<bool>,
    /// A name or words from the messages.
    q: Option<String>,
}

pub async fn accounts(State(state): State<AppState>, _: Console) -> Result<Response, ApiError> {
    Ok(ok(state.store.accounts().await?))
}

pub async fn conversations(
    State(state): State<AppState>,
    _: Console,
    Path(user_id_chat): Path<String>,
    paging: Paging,
    Query(query): Query<ConversationQuery>,
) -> Result<Response, ApiError> {
    let filter = ConversationFilter {
        unread_only: query.unread.unwrap_or(false),
        search: query.q,
    };
    let page = state
        .store
        .conversations(&user_id_chat, filter, paging.cursor(), paging.limit()?)
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
    _: Console,
    Query(query): Query<IdsQuery>,
) -> Result<Response, ApiError> {
    let text = query.ids.unwrap_or_default();
    let mut ids = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| parse_id(part, "ids").map(ConversationId::get))
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
    _: Console,
    Id(conversation_id): Id<ConversationId>,
) -> Result<Response, ApiError> {
    let (conversation, event) = state.store.mark_read(conversation_id.get()).await?;
    if event.is_some() {
        state.feed.notify();
    }
    Ok(ok(conversation))
}

pub async fn messages(
    State(state): State<AppState>,
    _: Console,
    Id(conversation_id): Id<ConversationId>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let page = state
        .store
        .messages(conversation_id.get(), paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

pub async fn notifications(
    State(state): State<AppState>,
    _: Console,
    Path(user_id_chat): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let page = state
        .store
        .notifications(&user_id_chat, paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

pub async fn posts(
    State(state): State<AppState>,
    _: Console,
    Path(user_id_chat): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let page = state
        .store
        .posts(&user_id_chat, paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

/// A command was queued for `account`'s bot: consoles hear of it, and the account's delivery tasks
/// wake to send it.
fn announce_queued(state: &AppState, account: &str) {
    state.feed.notify();
    state.bots.wake_account(account);
}

#[tracing::instrument(skip_all, fields(conversation_id))]
pub async fn send_message(
    State(state): State<AppState>,
    Console(principal): Console,
    JsonBody(body): JsonBody<SendMessageIn>,
) -> Result<Response, ApiError> {
    let (conversation_id, text) = body.validate()?;
    tracing::Span::current().record("conversation_id", conversation_id);
    let queued = state
        .store
        .queue_message(conversation_id, text, principal.user_id())
        .await?;
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

pub async fn retry_message(
    State(state): State<AppState>,
    _: Console,
    Id(message_id): Id<MessageId>,
) -> Result<Response, ApiError> {
    let queued = state.store.retry_message(message_id.get()).await?;
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

#[tracing::instrument(skip_all, fields(account))]
pub async fn post_to_facebook(
    State(state): State<AppState>,
    Console(principal): Console,
    JsonBody(body): JsonBody<PostIn>,
) -> Result<Response, ApiError> {
    let new = body.validate()?;
    tracing::Span::current().record("account", new.user_id_chat.as_str());
    let account = new.user_id_chat.clone();
    let queued = state.store.queue_post(new, principal.user_id()).await?;
    announce_queued(&state, &account);
    Ok(ok(queued))
}

pub async fn retry_post(
    State(state): State<AppState>,
    _: Console,
    Id(post_id): Id<PostId>,
) -> Result<Response, ApiError> {
    let queued = state.store.retry_post(post_id.get()).await?;
    announce_queued(&state, &queued.post.user_id_chat);
    Ok(ok(queued))
}
