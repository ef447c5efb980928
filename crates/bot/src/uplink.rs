//! Pushes the spool to the receiver, oldest first, one confirmed batch at a time. Nothing leaves the
//! spool before the receiver answers 2xx (which means committed there); ingest is idempotent, so a batch
//! sent again after a lost answer is harmless.

use crate::error::from_answer;
use crate::{BotConfig, BotError};
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_storage::{OutboxItem, OutboxKind, Spool};
use tokio::sync::{Notify, mpsc};

/// The receiver takes at most 500 items per request and 8 MiB per body; stay well under.
const MAX_ITEMS: usize = 500;
const MAX_BYTES: usize = 4 << 20;

pub(crate) async fn run(
    config: Arc<BotConfig>,
    spool: Spool,
    wake: Arc<Notify>,
    http: reqwest::Client,
    driver: &'static str,
    fatal: mpsc::Sender<BotError>,
) {
    if let Err(error) = work(&config, &spool, &wake, &http, driver).await {
        let _ = fatal.send(error).await;
    }
}

async fn work(
    config: &BotConfig,
    spool: &Spool,
    wake: &Notify,
    http: &reqwest::Client,
    driver: &'static str,
) -> Result<(), BotError> {
    let receiver = config.receiver_url.trim_end_matches('/');
    let register = json!({
        "user_id_chat": config.account,
        "bot_name": config.bot_name,
        "version": env!("CARGO_PKG_VERSION"),
        "driver": driver,
    });
    let register_url = format!("{receiver}/api/bot/register");
    let register = register.to_string();
    retrying(config, || post(http, config, &register_url, &register)).await?;
    tracing::info!(account = %config.account, "registered with the receiver");
    // Shrinks while the receiver refuses a batch without naming an item, to find the one it refuses;
    // it stays small until that item is set aside (or the spool is empty), so the search does not
    // resend the good items around it in full batches again and again.
    let mut items = MAX_ITEMS;
    loop {
        let batch = spool.next_batch(items, MAX_BYTES).await?;
        let Some(first) = batch.first() else {
            items = MAX_ITEMS;
            // `notify_one` keeps a wake-up given while nobody waited, so none is missed here.
            wake.notified().await;
            continue;
        };
        let (path, body) = request_for(config, first.kind, &batch);
        let url = format!("{receiver}{path}");
        match retrying(config, || post(http, config, &url, &body)).await {
            Ok(()) => {
                spool.remove(batch.iter().map(|i| i.id).collect()).await?;
            }
            Err(BotError::Refused { item: None, .. }) if batch.len() > 1 => {
                // Too large, or invalid somewhere unnamed: send halves until the refused item is alone.
                items = batch.len() / 2;
            }
            Err(BotError::Refused { message, item }) => {
                // Invalid data cannot become valid by waiting. Set aside the item the receiver named
                // (or the lone item it refused) and keep going with the rest.
                let ids: Vec<i64> = match item.and_then(|i| batch.get(i)) {
                    Some(bad) => vec![bad.id],
                    None => batch.iter().map(|i| i.id).collect(),
                };
                tracing::error!(
                    account = %config.account,
                    count = ids.len(),
                    %message,
                    spool = %spool.path().display(),
                    "the receiver refused collected data; kept in the spool's `rejected` table"
                );
                spool.reject(ids, message).await?;
                items = MAX_ITEMS;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The request for a batch. Spooled items are JSON already: they are joined as they are, not parsed
/// and written again. (A damaged row makes the receiver refuse the batch as malformed; halving then
/// isolates it and it is set aside.)
fn request_for(
    config: &BotConfig,
    kind: OutboxKind,
    batch: &[OutboxItem],
) -> (&'static str, String) {
    let items = || {
        let bodies: Vec<&str> = batch.iter().map(|i| i.body.as_str()).collect();
        bodies.join(",")
    };
    let account = Value::String(config.account.clone());
    match kind {
        OutboxKind::Messages => (
            "/api/bot/new_messages",
            format!(r#"{{"user_id_chat":{account},"messages":[{}]}}"#, items()),
        ),
        OutboxKind::Notifications => (
            "/api/bot/new_notifications",
            format!(
                r#"{{"user_id_chat":{account},"notifications":[{}]}}"#,
                items()
            ),
        ),
        OutboxKind::Comments => (
            "/api/bot/new_comments",
            format!(r#"{{"user_id_chat":{account},"comments":[{}]}}"#, items()),
        ),
        OutboxKind::Status => (
            "/api/bot/status_update",
            batch.first().map(|i| i.body.clone()).unwrap_or_default(),
        ),
    }
}

/// Tries until the receiver gives a final answer: success, a refusal, or a fatal error.
async fn retrying<F, Fut>(config: &BotConfig, mut attempt_once: F) -> Result<(), BotError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BotError>>,
{
    let mut attempt = 0;
    loop {
        match attempt_once().await {
            Err(error) if error.is_retryable() => {
                let wait = config.backoff.delay(attempt);
                if attempt == 0 {
                    tracing::warn!(%error, "cannot reach the receiver; keeping collected data in the spool");
                } else {
                    tracing::debug!(%error, attempt, ?wait, "receiver still unreachable");
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => {
                if attempt > 0 && other.is_ok() {
                    tracing::info!(attempts = attempt + 1, "the receiver is reachable again");
                }
                return other;
            }
        }
    }
}

async fn post(
    http: &reqwest::Client,
    config: &BotConfig,
    url: &str,
    body: &str,
) -> Result<(), BotError> {
    let response = http
        .post(url)
        .bearer_auth(&config.token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| BotError::Retry {
            status: 0,
            message: e.to_string(),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: Value = response.json().await.unwrap_or_default();
    Err(from_answer(status.as_u16(), &body))
}
