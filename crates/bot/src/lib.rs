//! The bot role: one process per Facebook account or page, between Facebook and the CRM.
//!
//! A driver collects (the `sim` driver invents customers; the `page` driver takes Meta's webhooks and
//! backfills through the Conversations API). What it collects goes into the bot's spool, a small SQLite
//! file, before anything else happens, and the uplink pushes the spool to the receiver in order, oldest
//! first, until each batch is confirmed: a receiver that is down for an hour loses nothing. Commands come
//! from the sender over Socket.IO; each is stored before it is acknowledged, executed at most once, and
//! its outcome reported until the sender confirms it.

mod backoff;
mod collector;
mod commands;
pub mod driver;
mod error;
pub mod page;
pub mod sim;
mod uplink;

pub use backoff::Backoff;
pub use collector::Collector;
pub use driver::{Driver, Executed};
pub use error::BotError;

use serde::Deserialize;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use switchboard_domain::outbound::Credentials;
use switchboard_storage::Spool;
use tokio::sync::{Notify, mpsc};

/// Everything the runtime needs besides its driver.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The account's `user_id_chat`.
    pub account: String,
    /// `http://127.0.0.1:5001`
    pub receiver_url: String,
    /// `http://127.0.0.1:5002`
    pub sender_url: String,
    /// The account's bot token (`sbb_…`).
    pub token: String,
    /// The bot's spool file (outbox, commands, driver state).
    pub spool_path: PathBuf,
    /// Shown in the console (`bot_register`).
    pub bot_name: String,
    /// Waits between attempts to reach the receiver or the sender.
    pub backoff: Backoff,
}

/// The account as the CRM knows it (`GET /api/bot/account` on the sender), credentials in clear.
#[derive(Clone, Deserialize)]
pub struct AccountInfo {
    pub user_id_chat: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub credentials: Credentials,
}

fn yes() -> bool {
    true
}

/// Locks `mutex` even when another task panicked while holding it: the values behind the bot's locks are
/// small and each update leaves them consistent, so going on beats stopping the bot.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl std::fmt::Debug for AccountInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials, even in a debug log.
        f.debug_struct("AccountInfo")
            .field("user_id_chat", &self.user_id_chat)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// An HTTP client for the CRM and Graph, with TLS from rustls and the system's roots.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, BotError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("switchboard-bot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BotError::Setup(format!("cannot build the HTTP client: {e}")))
}

/// Reads the bot's account from the CRM. A bad token or an unknown account is an error at once;
/// an unreachable sender is retried with backoff (it may be starting too).
pub async fn fetch_account(
    http: &reqwest::Client,
    sender_url: &str,
    token: &str,
    backoff: &Backoff,
) -> Result<AccountInfo, BotError> {
    let url = format!("{}/api/bot/account", sender_url.trim_end_matches('/'));
    let mut attempt = 0;
    loop {
        match http.get(&url).bearer_auth(token).send().await {
            Ok(response) => {
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if status.is_success() {
                    return serde_json::from_value(body["data"].clone()).map_err(|e| {
                        BotError::Setup(format!(
                            "the sender's account answer is not understood: {e}"
                        ))
                    });
                }
                let error = match error::from_answer(status.as_u16(), &body) {
                    BotError::Refused { message, .. } => {
                        return Err(BotError::Setup(format!(
                            "the sender does not give this bot its account ({status}): {message}"
                        )));
                    }
                    error if !error.is_retryable() => return Err(error),
                    error => error,
                };
                tracing::warn!(%error, "cannot read the account from the sender yet");
            }
            Err(error) if attempt % 10 == 0 => {
                tracing::warn!(%url, error = %error, "the sender is not reachable yet; retrying");
            }
            Err(_) => {}
        }
        tokio::time::sleep(backoff.delay(attempt)).await;
        attempt += 1;
    }
}

/// Runs the bot until `shutdown` completes or something fatal happens (a revoked token, a disabled
/// or removed account): that error is returned, for one clear line and a non-zero exit.
pub async fn run(
    config: BotConfig,
    driver: Driver,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BotError> {
    let spool = Spool::open(&config.spool_path)?;
    let (pending, rejected) = spool.counts().await?;
    tracing::info!(
        account = %config.account,
        driver = driver.name(),
        spool = %config.spool_path.display(),
        pending,
        rejected,
        "bot starting"
    );
    let config = Arc::new(config);
    let http = http_client(Duration::from_secs(30))?;
    let (fatal_tx, mut fatal) = mpsc::channel::<BotError>(4);
    let uplink_wake = Arc::new(Notify::new());
    let collector = Collector::new(config.account.clone(), spool.clone(), uplink_wake.clone());

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(uplink::run(
        config.clone(),
        spool.clone(),
        uplink_wake,
        http.clone(),
        driver.name(),
        fatal_tx.clone(),
    ));
    commands::start(
        &mut tasks,
        config.clone(),
        spool.clone(),
        driver.clone(),
        fatal_tx.clone(),
    );
    driver.start(collector, &mut tasks).await?;

    // Every task runs for the bot's whole life: one that ends (a panic, a server that stopped) would
    // leave a bot that looks online and does nothing, so it stops the bot, to be restarted.
    let result = tokio::select! {
        () = shutdown => Ok(()),
        Some(error) = fatal.recv() => Err(error),
        Some(ended) = tasks.join_next() => Err(BotError::Setup(match ended {
            Err(error) if error.is_panic() => format!("a part of the bot failed unexpectedly: {error}"),
            _ => "a part of the bot stopped unexpectedly".to_owned(),
        })),
    };
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    tracing::info!(account = %config.account, "bot stopped");
    result
}
