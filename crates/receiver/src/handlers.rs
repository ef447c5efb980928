//! Thin handlers: authenticate, parse, validate, check the account, store, wake the feed, answer.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use switchboard_domain::ingest::{
    Batch, MessageBatch, NotificationBatch, RegisterIn, StatusUpdateIn,
};
use switchboard_storage::{IngestOutcome, StorageError, Store};
use switchboard_web::{ApiError, BotsOnly, JsonBody, ok};

/// Only a bot, and only for its own account (checked against the body), may push data.
pub struct Ingest;

impl BotsOnly for Ingest {
    const REFUSAL: &'static str = "only bot tokens can push data to the receiver";
}

type Bot = switchboard_web::Bot<Ingest>;

/// Names the account in the request's span, then refuses a bot that pushes for another account.
fn check_account(bot: &Bot, account: &str) -> Result<(), ApiError> {
    tracing::Span::current().record("account", account);
    bot.may_write_for(account)
}

#[tracing::instrument(skip_all, fields(account))]
pub async fn register(
    State(state): State<AppState>,
    bot: Bot,
    JsonBody(body): JsonBody<RegisterIn>,
) -> Result<Response, ApiError> {
    let registration = body.validate()?;
    check_account(&bot, &registration.account)?;
    let account = registration.account.clone();
    let event_id = state.store.register_bot(registration).await?;
    state.feed.notify();
    tracing::info!(%account, "bot registered");
    Ok(ok(
        json!({"user_id_chat": account, "status": "online", "event_id": event_id}),
    ))
}

/// The shared path of both batch endpoints: check who may write, store, wake the feed, answer.
async fn ingest<T, F, Fut>(
    state: AppState,
    bot: &Bot,
    batch: Batch<T>,
    store: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Store, Batch<T>) -> Fut,
    Fut: Future<Output = Result<IngestOutcome, StorageError>>,
{
    tracing::Span::current().record("items", batch.items.len());
    check_account(bot, &batch.account)?;
    let outcome = store(state.store, batch).await?;
    if outcome.event_id.is_some() {
        state.feed.notify();
    }
    Ok(ok(outcome))
}

#[tracing::instrument(skip_all, fields(account, items))]
pub async fn new_messages(
    State(state): State<AppState>,
    bot: Bot,
    JsonBody(body): JsonBody<MessageBatch>,
) -> Result<Response, ApiError> {
    ingest(state, &bot, body.validate()?, |store, batch| async move {
        store.ingest_messages(batch).await
    })
    .await
}

#[tracing::instrument(skip_all, fields(account, items))]
pub async fn new_notifications(
    State(state): State<AppState>,
    bot: Bot,
    JsonBody(body): JsonBody<NotificationBatch>,
) -> Result<Response, ApiError> {
    ingest(state, &bot, body.validate()?, |store, batch| async move {
        store.ingest_notifications(batch).await
    })
    .await
}

#[tracing::instrument(skip_all, fields(account))]
pub async fn status_update(
    State(state): State<AppState>,
    bot: Bot,
    JsonBody(body): JsonBody<StatusUpdateIn>,
) -> Result<Response, ApiError> {
    let update = body.validate()?;
    check_account(&bot, &update.account)?;
    let (account, status) = (update.account.clone(), update.status);
    let event_id = state.store.update_bot_status(update).await?;
    state.feed.notify();
    Ok(ok(
        json!({"user_id_chat": account, "status": status, "event_id": event_id}),
    ))
}
