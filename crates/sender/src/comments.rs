//! Comments under a page's posts, as agents act on them: an answer under a comment, hiding, showing
//! again and deleting, each through the page's bot with the command channel's guarantees (stored,
//! redelivered until acknowledged, executed once, the outcome live as `message_status_update`); and
//! what a post says, shown above its comments.

use crate::AppState;
use crate::inbox::announce_queued;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::MessageId;
use switchboard_domain::comments::{CommentReplyIn, Moderation};
use switchboard_storage::{FeedPostView, QueuedMessage, QueuedModeration};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Answer, ApiError, Id, JsonBody, PathParam as Path, Viewer, ok};

/// Answers a comment publicly, under it (a reply to a reply goes under its top comment, as Facebook
/// threads them). Queued as any reply: `message_status_update` tells when it is posted, with the
/// platform's id, or why it failed (`POST /api/messages/{id}/retry` sends it again).
#[utoipa::path(post, path = "/api/comments/{message_id}/reply", tag = "comments", request_body = CommentReplyIn,
    params(("message_id" = i64, Path, description = "The comment (a message of a comments conversation)", minimum = 1)),
    responses(
        (status = 200, description = "Queued", body = Answer<QueuedMessage>),
        (status = 404, description = "No such comment", body = ErrorAnswer),
        (status = 409, description = "The comment was deleted, or is not on Facebook yet", body = ErrorAnswer),
        (status = 422, description = "`text` empty or too long, or the message is not a comment", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn reply(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(message_id): Id<MessageId>,
    JsonBody(body): JsonBody<CommentReplyIn>,
) -> Result<Response, ApiError> {
    let text = body.validate()?;
    viewer.message(message_id.get()).await?;
    let queued = state
        .store
        .queue_comment_reply(message_id.get(), text, viewer.principal.user_id())
        .await?;
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

/// Answers a comment privately, in Messenger (Facebook's private reply, once per comment). The answer
/// waits in the comments conversation; once Facebook has sent it, it moves to the Messenger
/// conversation it opened with the commenter (made if new), which the comments conversation links as
/// `linked_conversation_id` (`conversation_updated` for both).
#[utoipa::path(post, path = "/api/comments/{message_id}/private_reply", tag = "comments", request_body = CommentReplyIn,
    params(("message_id" = i64, Path, description = "The customer's comment", minimum = 1)),
    responses(
        (status = 200, description = "Queued", body = Answer<QueuedMessage>),
        (status = 404, description = "No such comment", body = ErrorAnswer),
        (status = 409, description = "The comment was deleted, or already has its private reply", body = ErrorAnswer),
        (status = 422, description = "`text` empty or too long, or the page's own comment", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn private_reply(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(message_id): Id<MessageId>,
    JsonBody(body): JsonBody<CommentReplyIn>,
) -> Result<Response, ApiError> {
    let text = body.validate()?;
    viewer.message(message_id.get()).await?;
    let queued = state
        .store
        .queue_private_reply(message_id.get(), text, viewer.principal.user_id())
        .await?;
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

/// What to do to a comment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ModerationIn {
    /// `hide` (only its author and their friends still see it), `unhide`, or `delete` (for good).
    pub action: Moderation,
}

/// Hides, shows again or deletes a comment on Facebook through the page's bot. The comment shows
/// `comment.pending` until the bot reports; then `hidden` or `deleted`, or `comment.error` with
/// Facebook's reason (`message_status_update` each time).
#[utoipa::path(post, path = "/api/comments/{message_id}/moderation", tag = "comments", request_body = ModerationIn,
    params(("message_id" = i64, Path, description = "The comment", minimum = 1)),
    responses(
        (status = 200, description = "Queued", body = Answer<QueuedModeration>),
        (status = 404, description = "No such comment", body = ErrorAnswer),
        (status = 409, description = "The comment was deleted, or is not on Facebook yet", body = ErrorAnswer),
        (status = 422, description = "An unknown `action`, or the message is not a comment", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn moderate(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(message_id): Id<MessageId>,
    JsonBody(body): JsonBody<ModerationIn>,
) -> Result<Response, ApiError> {
    viewer.message(message_id.get()).await?;
    let queued = state
        .store
        .queue_moderation(message_id.get(), body.action)
        .await?;
    tracing::info!(
        message_id = message_id.get(),
        action = body.action.as_str(),
        "comment moderation queued"
    );
    announce_queued(&state, &queued.user_id_chat);
    Ok(ok(queued))
}

/// What a post says, as its page's bot told (shown above its comments).
#[utoipa::path(get, path = "/api/feed_posts/{user_id_chat}/{post_id}", tag = "comments",
    params(
        ("user_id_chat" = String, Path, description = "The page"),
        ("post_id" = String, Path, description = "The post (as in a comment's `comment.post_id`)"),
    ),
    responses(
        (status = 200, description = "The post", body = Answer<FeedPostView>),
        (status = 404, description = "No such page, or its bot has not told what the post says", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn feed_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((user_id_chat, post_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    viewer.account(&user_id_chat)?;
    match state.store.feed_post(&user_id_chat, &post_id).await? {
        Some(post) => Ok(ok(post)),
        None => Err(ApiError::NotFound(format!(
            "no preview of post `{}` yet",
            switchboard_domain::validation::clip(&post_id, 64)
        ))),
    }
}
