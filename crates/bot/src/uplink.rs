//! Pushes the spool to the receiver, oldest first, one confirmed batch at a time. Nothing leaves the
//! spool before the receiver answers 2xx (which means committed there); ingest is idempotent, so a batch
//! sent again after a lost answer is harmless.

use crate::error::from_answer;
use crate::{BotConfig, BotError};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use switchboard_storage::{OutboxItem, OutboxKind, Spool};
use tokio::sync::{Notify, mpsc};

/// The receiver takes at most 500 items per request and 8 MiB per body; stay well under.
const MAX_ITEMS: usize = 500;
const MAX_BYTES: usize = 4 << 20;
/// Even without a wake-up, look at the spool this often (a push from another task may race a wait).
const IDLE_CHECK: Duration = Duration::from_secs(5);

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
    retrying(config, || post(http, config, &register_url, &register)).await?;
    tracing::info!(account = %config.account, "registered with the receiver");
    // Shrinks while the receiver refuses a batch without naming an item, to find the one it refuses.
    let mut items = MAX_ITEMS;
    loop {
        let batch = spool.next_batch(items, MAX_BYTES).await?;
        let Some(first) = batch.first() else {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(IDLE_CHECK) => {}
            }
            continue;
        };
        let (path, body) = request_for(config, first.kind, &batch)?;
        let url = format!("{receiver}{path}");
        match retrying(config, || post(http, config, &url, &body)).await {
            Ok(()) => {
                spool.remove(batch.iter().map(|i| i.id).collect()).await?;
                items = MAX_ITEMS;
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
            }
            Err(error) => return Err(error),
        }
    }
}

fn request_for(
    config: &BotConfig,
    kind: OutboxKind,
    batch: &[OutboxItem],
) -> Result<(&'static str, Value), BotError> {
    let items = batch
        .iter()
        .map(|i| serde_json::from_str::<Value>(&i.body))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BotError::Setup(format!("the spool holds unreadable JSON: {e}")))?;
    Ok(match kind {
        OutboxKind::Messages => (
            "/api/bot/new_messages",
            json!({"user_id_chat": config.account, "messages": items}),
        ),
        OutboxKind::Notifications => (
            "/api/bot/new_notifications",
            json!({"user_id_chat": config.account, "notifications": items}),
        ),
        OutboxKind::Status => (
            "/api/bot/status_update",
            items.into_iter().next().unwrap_or(Value::Null),
        ),
    })
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
    body: &Value,
) -> Result<(), BotError> {
    let response = http
        .post(url)
        .bearer_auth(&config.token)
        .json(body)
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
