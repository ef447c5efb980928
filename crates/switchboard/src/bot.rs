//! `switchboard bot ACCOUNT`: reads the account (from the CRM, or a seed-style `user_accounts.json`),
//! builds the driver, and runs the bot until a signal or a fatal error: [`run`] lists the steps.

use crate::accounts_file;
use crate::checks::{per_minute, seconds, share};
use crate::startup;
use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_bot::page::{PageDriver, PageOptions, TokenSource};
use switchboard_bot::sim::{SimDriver, SimOptions};
use switchboard_bot::{AccountInfo, Backoff, BotConfig, Driver};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// A simulated account: invented customers write, sends and posts succeed (for demos and tests).
    Sim,
    /// A Facebook Page through Meta's Graph API (webhooks in, Send API and page posts out).
    Page,
}

#[derive(Args, Debug, Clone)]
pub struct BotArgs {
    /// The account's user_id_chat (its Facebook id), or an entry name in --accounts-file (`account1`).
    pub account: String,
    /// Where the data comes from: `page` (a Facebook Page) or `sim` (simulated). Default: `page` for a
    /// page account, otherwise it must be given.
    #[arg(long, value_enum, env = "SWITCHBOARD_BOT_DRIVER")]
    pub driver: Option<DriverKind>,
    /// The account's bot token (`switchboard bots add ACCOUNT` makes one). Better set in the environment.
    #[arg(long, env = "SWITCHBOARD_BOT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The receiver's URL, where collected data goes.
    #[arg(
        long,
        env = "SWITCHBOARD_RECEIVER_URL",
        default_value = "http://127.0.0.1:5001"
    )]
    pub receiver_url: String,
    /// The sender's URL, where commands come from (and the account's credentials).
    #[arg(
        long,
        env = "SWITCHBOARD_SENDER_URL",
        default_value = "http://127.0.0.1:5002"
    )]
    pub sender_url: String,
    /// Take the account's credentials from a seed-style user_accounts.json instead of the CRM.
    #[arg(long, env = "SWITCHBOARD_ACCOUNTS_FILE")]
    pub accounts_file: Option<PathBuf>,
    /// Directory of the bots' spools (one SQLite file per account: unsent data, commands, state).
    #[arg(long, env = "SWITCHBOARD_BOT_STATE_DIR", default_value = "data/bots")]
    pub state_dir: PathBuf,
    /// The name the console shows for this bot.
    #[arg(long, env = "SWITCHBOARD_BOT_NAME")]
    pub name: Option<String>,
    /// Longest wait, in seconds, between attempts to reach the receiver or the sender.
    #[arg(long, default_value_t = 30.0)]
    pub max_backoff_seconds: f64,

    #[command(flatten)]
    pub sim: SimArgs,
    #[command(flatten)]
    pub page: PageArgs,
}

/// The `sim` driver's options, under their own heading in `--help`.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Simulated account (--driver sim)")]
pub struct SimArgs {
    /// sim: new customer messages per minute, on average.
    #[arg(long, default_value_t = 6.0)]
    pub sim_messages_per_minute: f64,
    /// sim: notifications per minute, on average.
    #[arg(long, default_value_t = 1.0)]
    pub sim_notifications_per_minute: f64,
    /// sim: comments under the account's posts per minute, on average.
    #[arg(long, default_value_t = 2.0)]
    pub sim_comments_per_minute: f64,
    /// sim: how many different customers write.
    #[arg(long, default_value_t = 12)]
    pub sim_customers: usize,
    /// sim: share of sends that fail, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub sim_send_failure_rate: f64,
    /// sim: share of posts that fail, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub sim_post_failure_rate: f64,
    /// sim: seconds a customer takes to answer an agent's reply (a random wait up to this).
    #[arg(long, default_value_t = 8.0)]
    pub sim_reply_seconds: f64,
}

/// The `page` driver's options, under their own heading in `--help`.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Facebook Page (--driver page)")]
pub struct PageArgs {
    /// page: Graph API base URL.
    #[arg(
        long,
        env = "SWITCHBOARD_FACEBOOK_GRAPH_URL",
        default_value = "https://graph.facebook.com"
    )]
    pub graph_url: String,
    /// page: Graph API version.
    #[arg(
        long,
        env = "SWITCHBOARD_FACEBOOK_GRAPH_VERSION",
        default_value = "v23.0"
    )]
    pub graph_version: String,
    /// page: the Meta app's secret, which signs webhooks (X-Hub-Signature-256).
    #[arg(long, env = "SWITCHBOARD_FACEBOOK_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// page: the verify token set in the app's webhook subscription.
    #[arg(
        long,
        env = "SWITCHBOARD_FACEBOOK_VERIFY_TOKEN",
        hide_env_values = true
    )]
    pub verify_token: Option<String>,
    /// page: where Facebook's webhook calls arrive (`/webhook`); put HTTPS in front of it.
    #[arg(
        long,
        env = "SWITCHBOARD_FACEBOOK_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:5005"
    )]
    pub webhook_listen: SocketAddr,
    /// page: how many days of history the first backfill reads.
    #[arg(long, default_value_t = 7)]
    pub backfill_days: u32,
    /// page: seconds between backfills while running (0: only at start).
    #[arg(long, default_value_t = 600)]
    pub backfill_interval_seconds: u64,
    /// page: seconds to pause Graph calls after a rate limit that does not say how long (doubles while it lasts).
    #[arg(long, default_value_t = 60.0)]
    pub rate_limit_pause_seconds: f64,
}

/// Runs the bot of `args.account` until a signal or a fatal error.
pub async fn run(args: BotArgs) -> Result<()> {
    let token = bot_token(&args)?;
    // Options are checked before the CRM is contacted: a typo ends the start at once.
    let options = DriverOptions::check(&args)?;
    let http = switchboard_bot::http_client(Duration::from_secs(30))
        .context("cannot make the HTTP client")?;
    let backoff = options.backoff;
    let account = find_account(&http, &args, &token, &backoff).await?;
    let driver = build_driver(&args, options, &account, &http, &token)?;
    let config = bot_config(&args, &account, &driver, token, backoff);
    run_until_stopped(config, driver).await
}

/// The bot's token, from `--token` or the environment.
fn bot_token(args: &BotArgs) -> Result<String> {
    args.token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            anyhow!(
                "no bot token: pass --token or set SWITCHBOARD_BOT_TOKEN (make one with `switchboard bots add ACCOUNT`)"
            )
        })
}

/// Every driver's options, checked.
struct DriverOptions {
    backoff: Backoff,
    sim: SimOptions,
    page: PageOptions,
}

impl DriverOptions {
    fn check(args: &BotArgs) -> Result<Self> {
        let backoff = Backoff {
            min: Duration::from_millis(500),
            max: seconds(
                "max-backoff-seconds",
                args.max_backoff_seconds,
                0.01..=3600.0,
            )?,
        };
        let sim = args.sim.options()?;
        let page = args.page.options(backoff)?;
        Ok(Self { backoff, sim, page })
    }
}

impl SimArgs {
    /// The `sim` driver's options; a value out of range is named by its flag.
    fn options(&self) -> Result<SimOptions> {
        Ok(SimOptions {
            messages_per_minute: per_minute(
                "sim-messages-per-minute",
                self.sim_messages_per_minute,
            )?,
            notifications_per_minute: per_minute(
                "sim-notifications-per-minute",
                self.sim_notifications_per_minute,
            )?,
            comments_per_minute: per_minute(
                "sim-comments-per-minute",
                self.sim_comments_per_minute,
            )?,
            customers: self.sim_customers.max(1),
            reply_delay: (
                Duration::from_secs(1),
                seconds("sim-reply-seconds", self.sim_reply_seconds, 1.0..=3600.0)?,
            ),
            send_failure_rate: share("sim-send-failure-rate", self.sim_send_failure_rate)?,
            post_failure_rate: share("sim-post-failure-rate", self.sim_post_failure_rate)?,
            ..SimOptions::default()
        })
    }
}

impl PageArgs {
    /// The `page` driver's options; a value out of range is named by its flag.
    fn options(&self, backoff: Backoff) -> Result<PageOptions> {
        Ok(PageOptions {
            graph_url: self.graph_url.clone(),
            api_version: self.graph_version.clone(),
            app_secret: self.app_secret.clone().unwrap_or_default(),
            verify_token: self.verify_token.clone().unwrap_or_default(),
            webhook_listen: self.webhook_listen,
            backfill_days: self.backfill_days,
            backfill_interval: Duration::from_secs(self.backfill_interval_seconds),
            rate_limit_pause: seconds(
                "rate-limit-pause-seconds",
                self.rate_limit_pause_seconds,
                0.01..=86_400.0,
            )?,
            backoff,
            ..PageOptions::default()
        })
    }
}

/// The account: from `--accounts-file` when given (with its credentials), else from the CRM; the CRM
/// says in both cases whether the token is good, for this account, and the account enabled.
async fn find_account(
    http: &reqwest::Client,
    args: &BotArgs,
    token: &str,
    backoff: &Backoff,
) -> Result<AccountInfo> {
    let from_file = args
        .accounts_file
        .as_ref()
        .map(|path| from_file(path, &args.account))
        .transpose()?;
    let crm = switchboard_bot::fetch_account(http, &args.sender_url, token, backoff).await?;
    let wanted = from_file
        .as_ref()
        .map_or(args.account.as_str(), |a| a.user_id_chat.as_str());
    if crm.user_id_chat != wanted {
        bail!(
            "unknown account `{wanted}` for this token: it is the bot token of `{}`",
            crm.user_id_chat
        );
    }
    if !crm.enabled {
        return Err(switchboard_bot::BotError::AccountDisabled(crm.user_id_chat).into());
    }
    Ok(from_file.unwrap_or(crm))
}

/// Finds ACCOUNT in a seed-style file, by entry name or by user_id_chat.
fn from_file(path: &Path, account: &str) -> Result<AccountInfo> {
    let entries = accounts_file::labelled_user_accounts(&accounts_file::read(path)?)
        .with_context(|| path.display().to_string())?;
    let (_, found) = entries
        .into_iter()
        .find(|(label, a)| label == account || a.user_id_chat == account)
        .ok_or_else(|| {
            anyhow!(
                "unknown account `{account}`: {} has no entry of that name or user_id_chat",
                path.display()
            )
        })?;
    Ok(AccountInfo {
        user_id_chat: found.user_id_chat,
        name: found.name,
        kind: found.kind.as_str().to_owned(),
        enabled: true,
        credentials: found.credentials,
    })
}

/// The driver `--driver` names, or a page's by default.
fn build_driver(
    args: &BotArgs,
    options: DriverOptions,
    account: &AccountInfo,
    http: &reqwest::Client,
    token: &str,
) -> Result<Driver> {
    let kind = match args.driver {
        Some(kind) => kind,
        None if account.kind == "page" => DriverKind::Page,
        None => bail!(
            "account `{}` is a personal account; only pages have a Facebook driver (Graph API). Run it with --driver sim to simulate it",
            account.user_id_chat
        ),
    };
    Ok(match kind {
        DriverKind::Sim => Driver::Sim(SimDriver::new(options.sim)),
        DriverKind::Page => {
            let source = args.accounts_file.is_none().then(|| TokenSource {
                http: http.clone(),
                sender_url: args.sender_url.clone(),
                bot_token: token.to_owned(),
            });
            Driver::Page(PageDriver::new(
                account,
                options.page,
                http.clone(),
                source,
            )?)
        }
    })
}

/// Where the bot sends, what it is called, and its spool: one file per account.
fn bot_config(
    args: &BotArgs,
    account: &AccountInfo,
    driver: &Driver,
    token: String,
    backoff: Backoff,
) -> BotConfig {
    let spool_name = account.user_id_chat.replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
        "_",
    );
    BotConfig {
        spool_path: args.state_dir.join(format!("{spool_name}.db")),
        bot_name: args
            .name
            .clone()
            .unwrap_or_else(|| format!("switchboard-{}", driver.name())),
        account: account.user_id_chat.clone(),
        receiver_url: args.receiver_url.clone(),
        sender_url: args.sender_url.clone(),
        token,
        backoff,
    }
}

/// Announces the bot on stdout and runs it until SIGINT or SIGTERM.
async fn run_until_stopped(config: BotConfig, driver: Driver) -> Result<()> {
    let shutdown = startup::stop_on_signals(std::time::Duration::ZERO);
    println!(
        "switchboard bot for {} running ({} driver)",
        config.account,
        driver.name()
    );
    Ok(switchboard_bot::run(config, driver, async move { shutdown.wait().await }).await?)
}
