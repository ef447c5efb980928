//! The seed's endpoints for the console: accounts, conversations, messages, notifications, posts, and
//! sending. Thin: check the caller, validate, call the store, wake what must be woken, answer.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::outbound::{PostIn, SendMessageIn};
use switchboard_domain::{ConversationId, MessageId, PostId, ValidationError};
use switchboard_storage::ConversationFilter;
use switchboard_storage::{
    Account, ConversationView, MessageView, NotificationView, Page, PostView, QueuedMessage,
    QueuedPost,
};
use switchboard_web::Answer;
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    ApiError, Id, JsonBody, Paging, PathParam as Path, QueryParams as Query, Viewer, ok, parse_id,
};

/// What narrows a list of conversations, beside its paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `true` for those with unread messages.
    unread: Option<bool>,
    /// Words of the participant's name or of any message, case and accents ignored ("nguyen van an"
    /// finds "Nguyễn Văn An", "duc" finds "Đức"), the last word as the start of a word. Typed with
    /// accents, conversations that have the words as typed come first (`exact_match`). At most 8
    /// words count; punctuation is ignored.
    #[param(example = "nguyen van an", max_length = 1000)]
    q: Option<String>,
}

/// The Facebook accounts, with their bots' state (credentials only as which are set).
#[utoipa::path(get, path = "/api/fb_accounts", tag = "accounts",
    responses(
        (status = 200, description = "The accounts", body = Answer<Vec<Account>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn accounts(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    let mut accounts = state.store.accounts().await?;
    accounts.retain(|account| viewer.view.sees(&account.user_id_chat));
    Ok(ok(accounts))
}

/// An account's conversations, most recent first, a page at a time.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "inbox",
    params(("id" = String, Path, description = "The account's `user_id_chat` (the seed's name for this segment)", example = "100089123456789"),
        Paging, ConversationQuery, crate::teamwork::TeamQuery),
    responses(
        (status = 200, description = "A page of conversations", body = Answer<Page<ConversationView>>),
        (status = 422, description = "A bad criterion, `limit` or `cursor`, or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn conversations(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(user_id_chat): Path<String>,
    paging: Paging,
    Query(query): Query<ConversationQuery>,
    Query(team): Query<crate::teamwork::TeamQuery>,
) -> Result<Response, ApiError> {
    viewer.account(&user_id_chat)?;
    let filter = ConversationFilter {
        unread_only: query.unread.unwrap_or(false),
        search: query.q,
        ..ConversationFilter::default()
    };
    let filter = team.narrow(filter, &viewer.principal)?;
    let page = state
        .store
        .conversations(&user_id_chat, filter, paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdsQuery {
    /// Comma-separated conversation ids (1 to 100).
    #[param(example = "17,18")]
    ids: Option<String>,
}

/// Most conversations one `?ids=` request may name.
const MAX_IDS: usize = 100;

/// `GET /api/conversations?ids=17,18`: conversations by id, whatever their account (the console shows a
/// customer's linked conversations and a caller's recent chats with it). Unknown ids are left out.
#[utoipa::path(get, path = "/api/conversations", tag = "inbox",
    params(IdsQuery),
    responses(
        (status = 200, description = "The conversations found, by id", body = Answer<Vec<ConversationView>>),
        (status = 422, description = "No ids, too many, or one that is not an id", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn conversations_by_id(
    State(state): State<AppState>,
    viewer: Viewer,
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
    Ok(ok(state
        .store
        .conversations_by_id(&viewer.view, ids)
        .await?))
}

/// Marks a conversation read; the consoles are told.
#[utoipa::path(post, path = "/api/conversations/{id}/read", tag = "inbox",
    params(("id" = i64, Path, description = "The conversation's id", minimum = 1)),
    responses(
        (status = 200, description = "The conversation, read", body = Answer<ConversationView>),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn mark_read(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(conversation_id): Id<ConversationId>,
) -> Result<Response, ApiError> {
    viewer.conversation(conversation_id.get()).await?;
    let (conversation, event) = state.store.mark_read(conversation_id.get()).await?;
    if event.is_some() {
        state.feed.notify();
    }
    Ok(ok(conversation))
}

/// A conversation's messages, newest first, a page at a time.
#[utoipa::path(get, path = "/api/messages/{conversation_id}", tag = "inbox",
    params(("conversation_id" = i64, Path, description = "The conversation's id", minimum = 1), Paging),
    responses(
        (status = 200, description = "A page of messages", body = Answer<Page<MessageView>>),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 422, description = "A bad id, `limit` or `cursor`", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn messages(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(conversation_id): Id<ConversationId>,
    paging: Paging,
) -> Result<Response, ApiError> {
    viewer.conversation(conversation_id.get()).await?;
    let page = state
        .store
        .messages(conversation_id.get(), paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

/// An account's notifications (comments, reactions, …), newest first, a page at a time.
#[utoipa::path(get, path = "/api/notifications/{user_id_chat}", tag = "inbox",
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789"), Paging),
    responses(
        (status = 200, description = "A page of notifications", body = Answer<Page<NotificationView>>),
        (status = 422, description = "A bad `limit` or `cursor`, or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn notifications(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(user_id_chat): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    viewer.account(&user_id_chat)?;
    let page = state
        .store
        .notifications(&user_id_chat, paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

/// An account's posts queued or published from the console, newest first, a page at a time.
#[utoipa::path(get, path = "/api/posts/{id}", tag = "sending",
    params(("id" = String, Path, description = "The account's `user_id_chat` (the seed's name for this segment)", example = "100089123456789"), Paging),
    responses(
        (status = 200, description = "A page of posts", body = Answer<Page<PostView>>),
        (status = 422, description = "A bad `limit` or `cursor`, or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn posts(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(user_id_chat): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    viewer.account(&user_id_chat)?;
    let page = state
        .store
        .posts(&user_id_chat, paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

/// A command was queued for `account`'s bot: consoles hear of it, and the account's delivery tasks
/// wake to send it.
/// A command was queued for `account`'s bot: consoles see it, and the bot's connection takes it.
pub(crate) fn announce_queued(state: &AppState, account: &str) {
    state.feed.notify();
    state.bots.wake_account(account);
}

/// Sends a reply: stored as `queued` with its command to the account's bot in one transaction,
/// then delivered to the bot until it acknowledges it; the outcome comes as an event.
#[utoipa::path(post, path = "/api/send_message_from_crm", tag = "sending", request_body = SendMessageIn,
    responses(
        (status = 200, description = "Queued", body = Answer<QueuedMessage>),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 422, description = "A field is invalid: `text` empty with no file, `attachment_ids[i]` not a file of yours or sent already", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
#[tracing::instrument(skip_all, fields(conversation_id))]
pub async fn send_message(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody<SendMessageIn>,
) -> Result<Response, ApiError> {
    let reply = body.validate()?;
    tracing::Span::current().record("conversation_id", reply.conversation_id);
    // The store checks the conversation against the view in the send's own transaction: no read
    // before it.
    let queued = state
        .store
        .queue_reply(
            reply.conversation_id,
            reply.text,
            reply.attachment_ids,
            viewer.principal.user_id(),
            viewer.view,
        )
        .await?;
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

/// Sends a failed message again (a new command; the old one stays failed).
#[utoipa::path(post, path = "/api/messages/{message_id}/retry", tag = "sending",
    params(("message_id" = i64, Path, description = "The message's id", minimum = 1)),
    responses(
        (status = 200, description = "Queued again", body = Answer<QueuedMessage>),
        (status = 404, description = "No such message", body = ErrorAnswer),
        (status = 409, description = "The message has not failed", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn retry_message(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(message_id): Id<MessageId>,
) -> Result<Response, ApiError> {
    viewer.message(message_id.get()).await?;
    let queued = state.store.retry_message(message_id.get()).await?;
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

/// Publishes a post (text, images by URL) through the account's bot, stored with its command first.
#[utoipa::path(post, path = "/api/post_to_facebook", tag = "sending", request_body = PostIn,
    responses(
        (status = 200, description = "Queued", body = Answer<QueuedPost>),
        (status = 422, description = "A field is invalid, or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
#[tracing::instrument(skip_all, fields(account))]
pub async fn post_to_facebook(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody<PostIn>,
) -> Result<Response, ApiError> {
    let new = body.validate()?;
    viewer.account(&new.user_id_chat)?;
    let principal = viewer.principal;
    tracing::Span::current().record("account", new.user_id_chat.as_str());
    let account = new.user_id_chat.clone();
    let queued = state.store.queue_post(new, principal.user_id()).await?;
    announce_queued(&state, &account);
    Ok(ok(queued))
}

/// Publishes a failed post again.
#[utoipa::path(post, path = "/api/posts/{id}/retry", tag = "sending",
    params(("id" = i64, Path, description = "The post's id", minimum = 1)),
    responses(
        (status = 200, description = "Queued again", body = Answer<QueuedPost>),
        (status = 404, description = "No such post", body = ErrorAnswer),
        (status = 409, description = "The post has not failed", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn retry_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(post_id): Id<PostId>,
) -> Result<Response, ApiError> {
    viewer.post(post_id.get()).await?;
    let queued = state.store.retry_post(post_id.get()).await?;
    announce_queued(&state, &queued.post.user_id_chat);
    Ok(ok(queued))
}
