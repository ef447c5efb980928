//! Thin handlers: authenticate, parse, validate, check the account, store, wake the feed, answer.
//! Every endpoint takes the one path of [`push`]; what differs is its body's [`Push`].

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use switchboard_domain::comments::CommentBatch;
use switchboard_domain::ingest::{
    BotStatus, MessageBatch, NotificationBatch, RegisterIn, StatusUpdateIn,
};
use switchboard_storage::{IngestOutcome, Store};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Answer, ApiError, BotsOnly, JsonBody, ok};

/// The answer to a registration or a status update: the bot's account, its status now, and the event
/// that told the consoles.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BotState {
    #[schema(example = "page_shop_hoa")]
    user_id_chat: String,
    status: BotStatus,
    event_id: i64,
}

/// Declares one documented endpoint per body, each running [`push`].
macro_rules! endpoints {
    ($($(#[$doc:meta])* $name:ident: $path:literal, $body:ty => $answer:ty;)*) => {$(
        $(#[$doc])*
        #[utoipa::path(post, path = $path, tag = "bots", request_body = $body,
            security(("bearer" = [])),
            responses(
                (status = 200, description = "Committed", body = Answer<$answer>),
                (status = 401, description = "No valid bot token", body = ErrorAnswer),
                (status = 403, description = "Not a bot token, or another account's data", body = ErrorAnswer),
                (status = 422, description = "A field is invalid (`item`, `field` say which) or the account is unknown", body = ErrorAnswer),
            ))]
        pub async fn $name(
            state: State<AppState>,
            bot: Bot,
            body: JsonBody<$body>,
        ) -> Result<Response, ApiError> {
            push(state, bot, body).await
        }
    )*};
}

endpoints! {
    /// A bot announces itself when it starts (its account shows online).
    register: "/api/bot/register", RegisterIn => BotState;
    /// Messages from Facebook, up to 500 per batch; a message already stored (same `message_id`) is
    /// counted as a duplicate and not stored again.
    new_messages: "/api/bot/new_messages", MessageBatch => IngestOutcome;
    /// Notifications (reactions, …), idempotent by `notification_id` like messages.
    new_notifications: "/api/bot/new_notifications", NotificationBatch => IngestOutcome;
    /// Comments under the page's posts, up to 500 per batch, idempotent by `comment_id`; each
    /// customer's comments under a post are one conversation of the inbox. With the previews of the
    /// posts when the bot knows them (`posts`; a comment on a post never previewed is stored all the
    /// same).
    new_comments: "/api/bot/new_comments", CommentBatch => IngestOutcome;
    /// A bot's state: online, offline, error, needs_login, rate_limited.
    status_update: "/api/bot/status_update", StatusUpdateIn => BotState;
}

/// Only a bot, and only for its own account (checked against the body), may push data.
pub struct Ingest;

impl BotsOnly for Ingest {
    const REFUSAL: &'static str = "only bot tokens can push data to the receiver";
}

type Bot = switchboard_web::Bot<Ingest>;

/// The answer's `data`, and whether an event was written (then the feed must wake).
type Pushed = (Value, bool);

/// The body of one of the bots' endpoints.
pub trait Push: DeserializeOwned + Send + 'static {
    /// Validates the body, refuses it (with [`check_account`]) unless it is for the bot's own
    /// account, and stores it.
    fn push(self, bot: &Bot, store: Store)
    -> impl Future<Output = Result<Pushed, ApiError>> + Send;
}

/// `POST /api/bot/{register,new_messages,new_notifications,status_update}`: the body pushed, the feed
/// woken if an event was written, the answer.
#[tracing::instrument(skip_all, fields(account, items))]
async fn push<P: Push>(
    State(state): State<AppState>,
    bot: Bot,
    JsonBody(body): JsonBody<P>,
) -> Result<Response, ApiError> {
    let (answer, written) = body.push(&bot, state.store).await?;
    if written {
        state.feed.notify();
    }
    Ok(ok(answer))
}

/// Names the account in the request's span, then refuses a bot that pushes for another account.
fn check_account(bot: &Bot, account: &str) -> Result<(), ApiError> {
    tracing::Span::current().record("account", account);
    bot.may_write_for(account)
}

impl Push for RegisterIn {
    async fn push(self, bot: &Bot, store: Store) -> Result<Pushed, ApiError> {
        let registration = self.validate()?;
        check_account(bot, &registration.account)?;
        let account = registration.account.clone();
        let event_id = store.register_bot(registration).await?;
        tracing::info!(%account, "bot registered");
        let answer = BotState {
            user_id_chat: account,
            status: BotStatus::Online,
            event_id,
        };
        Ok((json!(answer), true))
    }
}

impl Push for StatusUpdateIn {
    async fn push(self, bot: &Bot, store: Store) -> Result<Pushed, ApiError> {
        let update = self.validate()?;
        check_account(bot, &update.account)?;
        let (account, status) = (update.account.clone(), update.status);
        let event_id = store.update_bot_status(update).await?;
        let answer = BotState {
            user_id_chat: account,
            status,
            event_id,
        };
        Ok((json!(answer), true))
    }
}

/// The batch endpoints differ only in what they store; an event is written only when some items
/// were new.
macro_rules! batch_push {
    ($($body:ty => $ingest:ident, $kind:literal;)*) => {$(
        impl Push for $body {
            async fn push(self, bot: &Bot, store: Store) -> Result<Pushed, ApiError> {
                let batch = self.validate()?;
                tracing::Span::current().record("items", batch.items.len());
                check_account(bot, &batch.account)?;
                let outcome = store.$ingest(batch).await?;
                switchboard_metrics::metrics().ingested($kind, outcome.new, outcome.duplicates);
                Ok((json!(outcome), outcome.event_id.is_some()))
            }
        }
    )*};
}

batch_push! {
    MessageBatch => ingest_messages, "message";
    NotificationBatch => ingest_notifications, "notification";
}

impl Push for CommentBatch {
    async fn push(self, bot: &Bot, store: Store) -> Result<Pushed, ApiError> {
        let (batch, posts) = self.validate()?;
        tracing::Span::current().record("items", batch.items.len());
        check_account(bot, &batch.account)?;
        let outcome = store.ingest_comments(batch, posts).await?;
        switchboard_metrics::metrics().ingested("comment", outcome.new, outcome.duplicates);
        Ok((json!(outcome), outcome.event_id.is_some()))
    }
}
