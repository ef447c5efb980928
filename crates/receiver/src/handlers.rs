//! Thin handlers: authenticate, parse, validate, check the account, store, wake the feed, answer.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use switchboard_domain::Principal;
use switchboard_domain::ingest::{
    Batch, MessageBatch, NotificationBatch, RegisterIn, StatusUpdateIn,
};
use switchboard_storage::{IngestOutcome, StorageError, Store};
use switchboard_web::{ApiError, Authenticated, JsonBody, ok};

/// Only a bot, and only for its own account, may push data.
fn may_write(principal: &Principal, account: &str) -> Result<(), ApiError> {
    if principal.may_ingest_for(account) {
        return Ok(());
    }
    Err(ApiError::Forbidden(match principal {
        Principal::Bot { account: own, .. } => {
            format!("this bot's token is for account `{own}`; it cannot write for `{account}`")
        }
        Principal::Integrator { .. } | Principal::User { .. } | Principal::PhoneSystem { .. } => {
            "only bot tokens can push data to the receiver".to_owned()
        }
    }))
}

#[tracing::instrument(skip_all, fields(account))]
pub async fn register(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(body): JsonBody<RegisterIn>,
) -> Result<Response, ApiError> {
    let registration = body.validate()?;
    tracing::Span::current().record("account", registration.account.as_str());
    may_write(&principal, &registration.account)?;
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
    principal: &Principal,
    batch: Batch<T>,
    store: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Store, Batch<T>) -> Fut,
    Fut: Future<Output = Result<IngestOutcome, StorageError>>,
{
    tracing::Span::current()
        .record("account", batch.account.as_str())
        .record("items", batch.items.len());
    may_write(principal, &batch.account)?;
    let outcome = store(state.store, batch).await?;
    if outcome.event_id.is_some() {
        state.feed.notify();
    }
    Ok(ok(outcome))
}

#[tracing::instrument(skip_all, fields(account, items))]
pub async fn new_messages(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(body): JsonBody<MessageBatch>,
) -> Result<Response, ApiError> {
    ingest(
        state,
        &principal,
        body.validate()?,
        |store, batch| async move { store.ingest_messages(batch).await },
    )
    .await
}

#[tracing::instrument(skip_all, fields(account, items))]
pub async fn new_notifications(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(body): JsonBody<NotificationBatch>,
) -> Result<Response, ApiError> {
    ingest(
        state,
        &principal,
        body.validate()?,
        |store, batch| async move { store.ingest_notifications(batch).await },
    )
    .await
}

#[tracing::instrument(skip_all, fields(account))]
pub async fn status_update(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(body): JsonBody<StatusUpdateIn>,
) -> Result<Response, ApiError> {
    let update = body.validate()?;
    tracing::Span::current().record("account", update.account.as_str());
    may_write(&principal, &update.account)?;
    let (account, status) = (update.account.clone(), update.status);
    let event_id = state.store.update_bot_status(update).await?;
    state.feed.notify();
    Ok(ok(
        json!({"user_id_chat": account, "status": status, "event_id": event_id}),
    ))
}
