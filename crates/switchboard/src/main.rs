//! `switchboard`: one binary, one subcommand per role. Everything it does lives in the library crates;
//! this crate only reads configuration, opens the store, and starts what was asked for.

mod admin;
mod bot;
mod config;
mod demo;
mod serve;

use clap::{Parser, Subcommand};
use config::{DEFAULT_ENCRYPTION_KEY, FileConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use switchboard_storage::{DEFAULT_DATABASE_URL, Store};

/// glibc's allocator returns freed memory with madvise, and the TLB shootdowns that follow cost
/// several percent of CPU under load (measured with perf); mimalloc keeps it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: an open contact-center CRM for Facebook and the phone"
)]
struct Cli {
    /// Configuration file (TOML). Flags and SWITCHBOARD_* variables override it.
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_CONFIG",
        default_value = "switchboard.toml"
    )]
    config: PathBuf,
    /// Database to use: sqlite://PATH (created if missing).
    #[arg(long, global = true, env = "SWITCHBOARD_DATABASE_URL")]
    database_url: Option<String>,
    /// File holding the key that encrypts account credentials (created, mode 0600, on first start).
    #[arg(long, global = true, env = "SWITCHBOARD_ENCRYPTION_KEY")]
    encryption_key: Option<PathBuf>,
    /// Log format: `text` or `json`.
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT")]
    log_format: Option<String>,
    /// Log filter, e.g. `info` or `switchboard_receiver=debug,info` (RUST_LOG syntax).
    #[arg(long, global = true, env = "SWITCHBOARD_LOG")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every server role in one process on the embedded database (the default way to run it).
    Serve {
        /// Address of the receiver (bots' ingest).
        #[arg(long, env = "SWITCHBOARD_RECEIVER_LISTEN")]
        receiver_listen: Option<SocketAddr>,
        /// Address of the sender (the console's API).
        #[arg(long, env = "SWITCHBOARD_SENDER_LISTEN")]
        sender_listen: Option<SocketAddr>,
        /// Address of the call center (consoles' call popups, the phone system's webhook).
        #[arg(long, env = "SWITCHBOARD_CALLCENTER_LISTEN")]
        callcenter_listen: Option<SocketAddr>,
        #[command(flatten)]
        call_center: CallCenterArgs,
    },
    /// Run the API Receiver alone: bots push messages, notifications and status here.
    Receiver {
        /// Address to listen on.
        #[arg(long, env = "SWITCHBOARD_RECEIVER_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Run the API Sender alone: the console's API, logins, and commands to bots.
    Sender {
        /// Address to listen on.
        #[arg(long, env = "SWITCHBOARD_SENDER_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Run the call center alone: the seed's call-center Socket.IO and REST API, and the CTI webhook.
    Callcenter {
        /// Address to listen on.
        #[arg(long, env = "SWITCHBOARD_CALLCENTER_LISTEN")]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        call_center: CallCenterArgs,
    },
    /// Run the bot of one Facebook account or page: collects into the receiver, executes the sender's commands.
    Bot(Box<bot::BotArgs>),
    /// Everything, with simulated Facebook pages and callers, on its own database (data/demo.db): try it out.
    Demo(Box<demo::DemoArgs>),
    /// Manage bot tokens: one per Facebook account or page.
    #[command(subcommand)]
    Bots(admin::BotsCommand),
    /// Manage API tokens for integrators (consoles, other CRMs).
    #[command(subcommand)]
    Tokens(admin::TokensCommand),
    /// Manage console users.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// Manage Facebook accounts and pages.
    #[command(subcommand)]
    Accounts(admin::AccountsCommand),
}

/// The call center's settings that are not addresses.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CallCenterArgs {
    /// Seconds a call rings at one agent before it moves to the next (default 20).
    #[arg(long, env = "SWITCHBOARD_RING_TIMEOUT_SECONDS")]
    ring_timeout_seconds: Option<f64>,
    /// Seconds an agent stays in wrap-up (no new calls) after each call they talked on (default 0).
    #[arg(long, env = "SWITCHBOARD_WRAP_UP_SECONDS")]
    wrap_up_seconds: Option<f64>,
    /// URL the call center POSTs to when a console answers or rejects a call (the phone system's).
    #[arg(long, env = "SWITCHBOARD_CALLCENTER_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Secret that signs the webhook's body (X-Switchboard-Signature); set it in the environment.
    #[arg(
        long,
        env = "SWITCHBOARD_CALLCENTER_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    webhook_secret: Option<String>,
    /// Public URL of the receiver for the web console (default: the receiver's port on the host the
    /// console was loaded from).
    #[arg(long, env = "SWITCHBOARD_CONSOLE_RECEIVER_URL")]
    console_receiver_url: Option<String>,
    /// Public URL of the sender for the web console (default: the sender's port on the host the console
    /// was loaded from).
    #[arg(long, env = "SWITCHBOARD_CONSOLE_SENDER_URL")]
    console_sender_url: Option<String>,
}

/// Settings every command needs, resolved from flags, environment, file and defaults.
pub struct Settings {
    pub file: FileConfig,
    pub database_url: String,
    pub encryption_key: PathBuf,
    pub cors_origins: Vec<String>,
    pub grace: Duration,
}

impl Settings {
    /// Opens the store; refuses a missing or empty database file beside an existing key, which is a
    /// lost database (a fresh install would make a new admin and kill every token), not a new one.
    pub async fn open(&self) -> Result<Store, String> {
        if let Some(database) = switchboard_storage::sqlite_file(&self.database_url) {
            let empty = std::fs::metadata(&database).map_or(true, |m| m.len() == 0);
            if empty && self.encryption_key.exists() {
                return Err(format!(
                    "{} is missing or empty but the encryption key {} exists: this looks like a lost database, \
                     not a new install; restore the database from a backup, or move the key away to start afresh",
                    database.display(),
                    self.encryption_key.display()
                ));
            }
        }
        Store::open(&self.database_url)
            .await
            .map_err(|e| e.to_string())
    }
}

fn init_logging(format: &str, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let explicitly_named = std::env::var_os("SWITCHBOARD_CONFIG").is_some()
        || std::env::args().any(|a| a == "--config" || a.starts_with("--config="));
    let file = match FileConfig::load(&cli.config, explicitly_named) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("switchboard: {error}");
            return ExitCode::from(2);
        }
    };
    let log_format = cli
        .log_format
        .clone()
        .or(file.log_format.clone())
        .unwrap_or_else(|| "text".into());
    let log_level = cli
        .log_level
        .clone()
        .or(file.log_level.clone())
        .unwrap_or_else(|| "info".into());
    init_logging(&log_format, &log_level);
    let settings = Settings {
        database_url: cli
            .database_url
            .clone()
            .or(file.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        encryption_key: cli
            .encryption_key
            .clone()
            .or(file.encryption_key_path.clone())
            .unwrap_or_else(|| DEFAULT_ENCRYPTION_KEY.into()),
        // The call center's own origins are added to it by `serve` (the console is served there).
        cors_origins: file.cors_origins.clone().unwrap_or_default(),
        grace: Duration::from_secs(file.shutdown_grace_seconds.unwrap_or(10)),
        file,
    };
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("switchboard: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), String> {
    use serve::Role;
    match command {
        Command::Callcenter {
            listen,
            call_center,
        } => {
            serve::run(
                &[Role::CallCenter {
                    listen,
                    flag: "--listen",
                    args: call_center,
                }],
                settings,
            )
            .await
        }
        Command::Bot(args) => bot::run(*args).await,
        Command::Demo(args) => demo::run(*args, settings).await,
        Command::Serve {
            receiver_listen,
            sender_listen,
            callcenter_listen,
            call_center,
        } => {
            let roles = [
                Role::Receiver {
                    listen: receiver_listen,
                    flag: "--receiver-listen",
                },
                Role::Sender {
                    listen: sender_listen,
                    flag: "--sender-listen",
                },
                Role::CallCenter {
                    listen: callcenter_listen,
                    flag: "--callcenter-listen",
                    args: call_center,
                },
            ];
            serve::run(&roles, settings).await
        }
        Command::Receiver { listen } => {
            serve::run(
                &[Role::Receiver {
                    listen,
                    flag: "--listen",
                }],
                settings,
            )
            .await
        }
        Command::Sender { listen } => {
            serve::run(
                &[Role::Sender {
                    listen,
                    flag: "--listen",
                }],
                settings,
            )
            .await
        }
        Command::Bots(command) => admin::bots(command, &settings.open().await?).await,
        Command::Tokens(command) => admin::tokens(command, &settings.open().await?).await,
        Command::Users(command) => admin::users(command, &settings.open().await?).await,
        Command::Accounts(command) => admin::accounts(command, &settings).await,
    }
}
