//! `switchboard`: one binary, one subcommand per role. Everything it does lives in the library crates;
//! this file only reads configuration, opens the store, and starts what was asked for.

mod config;

use clap::{Parser, Subcommand};
use config::{DEFAULT_CORS_ORIGINS, DEFAULT_RECEIVER_LISTEN, FileConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_storage::{AccountKind, DEFAULT_DATABASE_URL, Store, TokenKind};
use switchboard_web::Shutdown;

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
    },
    /// Run the API Receiver alone: bots push messages, notifications and status here.
    Receiver {
        /// Address to listen on.
        #[arg(long, env = "SWITCHBOARD_RECEIVER_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Run the API Sender alone (not built yet).
    Sender,
    /// Run the call center alone (not built yet).
    Callcenter,
    /// Run a bot for one Facebook account (not built yet).
    Bot {
        /// The account's user_id_chat.
        account: Option<String>,
    },
    /// Manage bot tokens: one per Facebook account or page.
    #[command(subcommand)]
    Bots(BotsCommand),
    /// Manage API tokens for integrators (consoles, other CRMs).
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Subcommand, Debug)]
enum BotsCommand {
    /// Create a token for the bot of ACCOUNT (creating the account if it is new) and print it once.
    Add {
        /// The account's user_id_chat (Facebook user or page id).
        account: String,
        /// Display name for a new account.
        #[arg(long, default_value = "")]
        name: String,
        /// Kind of a new account: `page` or `personal`.
        #[arg(long, default_value = "page")]
        kind: String,
    },
    /// List bot tokens (never their secrets).
    List,
    /// Revoke a bot token by id.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
enum TokensCommand {
    /// Create an API token named NAME and print it once.
    Add { name: String },
    /// List API tokens (never their secrets).
    List,
    /// Revoke an API token by id.
    Revoke { id: i64 },
}

/// Settings every command needs, resolved from flags, environment, file and defaults.
struct Settings {
    file: FileConfig,
    database_url: String,
    cors_origins: Vec<String>,
    grace: Duration,
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
        cors_origins: file.cors_origins.clone().unwrap_or_else(|| {
            DEFAULT_CORS_ORIGINS
                .iter()
                .map(|o| (*o).to_owned())
                .collect()
        }),
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

fn not_built(role: &str, issue: u32) -> Result<(), String> {
    Err(format!(
        "the {role} role is not built yet (tracked in issue #{issue}); nothing was started"
    ))
}

async fn run(command: Command, settings: Settings) -> Result<(), String> {
    match command {
        Command::Sender => not_built("sender", 3),
        Command::Callcenter => not_built("callcenter", 4),
        Command::Bot { .. } => not_built("bot", 5),
        Command::Serve { receiver_listen } => {
            tracing::warn!(
                "the sender, callcenter and console roles are not built yet; serving the receiver only"
            );
            serve_receiver(receiver_listen, "--receiver-listen", settings).await
        }
        Command::Receiver { listen } => serve_receiver(listen, "--listen", settings).await,
        Command::Bots(command) => bots(command, &open(&settings).await?).await,
        Command::Tokens(command) => tokens(command, &open(&settings).await?).await,
    }
}

async fn open(settings: &Settings) -> Result<Store, String> {
    Store::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())
}

async fn serve_receiver(
    listen: Option<SocketAddr>,
    flag: &str,
    settings: Settings,
) -> Result<(), String> {
    let default: SocketAddr = DEFAULT_RECEIVER_LISTEN
        .parse()
        .map_err(|e| format!("{e}"))?;
    let listen = listen.or(settings.file.receiver.listen).unwrap_or(default);
    let store = open(&settings).await?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let stop = shutdown.clone();
    let feed = EventFeed::start(store.clone(), FeedOptions::default(), async move {
        stop.wait().await
    })
    .await
    .map_err(|e| e.to_string())?;
    let state = switchboard_receiver::AppState { store, feed };
    let receiver = switchboard_receiver::Receiver::bind(listen, state, &settings.cors_origins)
        .await
        .map_err(|e| {
            e.to_string().replace(
                "--listen (SWITCHBOARD_RECEIVER_LISTEN)",
                &format!("{flag} (SWITCHBOARD_RECEIVER_LISTEN)"),
            )
        })?;
    let addr = receiver.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "receiver listening");
    // A stable line on stdout for scripts and tests that start us on port 0.
    println!("switchboard receiver listening on http://{addr}");
    receiver
        .run(shutdown, settings.grace)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("receiver stopped");
    Ok(())
}

async fn bots(command: BotsCommand, store: &Store) -> Result<(), String> {
    match command {
        BotsCommand::Add {
            account,
            name,
            kind,
        } => {
            let account = switchboard_domain::ingest::account_id("ACCOUNT", &account)
                .map_err(|e| e.to_string())?;
            let kind = AccountKind::parse(&kind)
                .ok_or_else(|| format!("--kind must be `page` or `personal`, not `{kind}`"))?;
            let (account, created) = store
                .ensure_account(&account, &name, kind)
                .await
                .map_err(|e| e.to_string())?;
            if created {
                eprintln!(
                    "created account {} ({})",
                    account.user_id_chat,
                    account.kind.as_str()
                );
            }
            let (id, token) = store
                .issue_token(TokenKind::Bot {
                    account: account.user_id_chat.clone(),
                })
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "bot token {id} for {}; it is shown once, store it now:",
                account.user_id_chat
            );
            println!("{token}");
            Ok(())
        }
        BotsCommand::List => list_tokens(store, "bot").await,
        BotsCommand::Revoke { id } => revoke(store, id).await,
    }
}

async fn tokens(command: TokensCommand, store: &Store) -> Result<(), String> {
    match command {
        TokensCommand::Add { name } => {
            let name = switchboard_domain::validation::identifier("NAME", &name, 128)
                .map_err(|e| e.to_string())?;
            let (id, token) = store
                .issue_token(TokenKind::Api { name })
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("API token {id}; it is shown once, store it now:");
            println!("{token}");
            Ok(())
        }
        TokensCommand::List => list_tokens(store, "api").await,
        TokensCommand::Revoke { id } => revoke(store, id).await,
    }
}

async fn list_tokens(store: &Store, kind: &str) -> Result<(), String> {
    let tokens = store.tokens().await.map_err(|e| e.to_string())?;
    println!(
        "{:>5}  {:<8}  {:<24}  {:<24}  status",
        "id", "kind", "name", "created"
    );
    for t in tokens.iter().filter(|t| t.kind == kind) {
        let name = t.account.as_deref().unwrap_or(&t.name);
        println!(
            "{:>5}  {:<8}  {:<24}  {:<24}  {}",
            t.id,
            t.kind,
            name,
            t.created_at,
            if t.revoked { "revoked" } else { "active" }
        );
    }
    Ok(())
}

async fn revoke(store: &Store, id: i64) -> Result<(), String> {
    store.revoke_token(id).await.map_err(|e| e.to_string())?;
    eprintln!("token {id} revoked");
    Ok(())
}
