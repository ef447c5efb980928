//! Thin handlers: authenticate, parse, validate, check the account, store, wake the feed, answer.
//! Every endpoint takes the one path of [`push`]; what differs is its body's [`Push`].

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use switchboard_domain::ingest::{MessageBatch, NotificationBatch, RegisterIn, StatusUpdateIn};
use switchboard_storage::Store;
use switchboard_web::{ApiError, BotsOnly, JsonBody, ok};

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
pub async fn push<P: Push>(
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
        let answer = json!({"user_id_chat": account, "status": "online", "event_id": event_id});
        Ok((answer, true))
    }
}

impl Push for StatusUpdateIn {
    async fn push(self, bot: &Bot, store: Store) -> Result<Pushed, ApiError> {
        let update = self.validate()?;
        check_account(bot, &update.account)?;
        let (account, status) = (update.account.clone(), update.status);
        let event_id = store.update_bot_status(update).await?;
        let answer = json!({"user_id_chat": account, "status": status, "event_id": event_id});
        Ok((answer, true))
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
