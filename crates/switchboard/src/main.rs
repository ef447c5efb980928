//! `switchboard`: one binary, one subcommand per role. Everything it does lives in the library crates;
//! this crate only reads configuration, opens the store, and starts what was asked for.
//!
//! Its modules depend one way: `main` → the commands (`serve`, `demo`, `bot`, `admin`; `demo` ends by
//! serving) → `startup` (the named steps) and `config` (the settings) → `role`.

mod accounts_file;
mod admin;
mod bot;
mod checks;
mod config;
mod demo;
mod role;
mod serve;
mod startup;

use anyhow::Result;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use config::{ConfigError, Layers, LogFormat, Settings};
use role::Role;
use std::path::PathBuf;
use std::process::ExitCode;

/// glibc's allocator returns freed memory with madvise, and the TLB shootdowns that follow cost
/// several percent of CPU under load (measured with perf); mimalloc keeps it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The command line. Every setting's flag is added from the configuration's registry
/// ([`config::flags::add_flags`]); what is declared here are the commands and their own arguments.
#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: an open contact-center CRM for Facebook and the phone"
)]
struct Cli {
    /// Configuration file (TOML). SWITCHBOARD_* variables override it, and flags override those.
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_CONFIG",
        default_value = "switchboard.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every server role in one process on the embedded database (the default way to run it).
    Serve,
    /// Run the API Receiver alone: bots push messages, notifications and status here.
    Receiver,
    /// Run the API Sender alone: the console's API, logins, and commands to bots.
    Sender,
    /// Run the call center alone: the seed's call-center Socket.IO and REST API, and the CTI webhook.
    Callcenter,
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
    /// Work on whole databases: copy one into another (moving to PostgreSQL), back up a SQLite store.
    #[command(subcommand)]
    Db(admin::DbCommand),
    /// Print a role's OpenAPI 3.1 document (JSON), the one it serves at `/openapi.json`.
    Openapi {
        #[arg(value_enum)]
        role: DocumentedRole,
    },
}

/// The roles with an HTTP API.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum DocumentedRole {
    Receiver,
    Sender,
    Callcenter,
}

/// A role's OpenAPI document, as its `/openapi.json` serves it.
fn openapi(role: DocumentedRole) -> anyhow::Result<()> {
    use switchboard_web::RoleShell;
    let document = match role {
        DocumentedRole::Receiver => switchboard_receiver::Receiver::document(),
        DocumentedRole::Sender => switchboard_sender::Sender::document(),
        DocumentedRole::Callcenter => switchboard_callcenter::CallCenter::document(),
    };
    println!("{}", document.to_pretty_json()?);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = config::flags::add_flags(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A bad configuration is a usage error (2), like a bad flag; a failure while running is 1.
    let settings = match load_settings(&cli, &matches) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("switchboard: {}", one_line(&anyhow::Error::new(error)));
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format, &settings.log_filter);
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchboard: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The whole chain on one line: what failed, then why, cause after cause. A cause whose text its
/// error already shows is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// The configuration's layers, in order: defaults, the file, the environment, the flags.
fn load_settings(cli: &Cli, matches: &clap::ArgMatches) -> Result<Settings, ConfigError> {
    let explicitly_named = std::env::var_os("SWITCHBOARD_CONFIG").is_some()
        || std::env::args().any(|a| a == "--config" || a.starts_with("--config="));
    let mut layers = Layers::defaults();
    layers.file(&cli.config, explicitly_named)?;
    layers.environment(|name| std::env::var(name).ok())?;
    config::flags::read_flags(&mut layers, matches)?;
    Settings::resolve(&layers.load()?)
}

fn init_logging(format: LogFormat, filter: &str) {
    // Checked when the settings were resolved; "info" only if the check and this ever disagree.
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, settings: Settings) -> Result<()> {
    match command {
        Command::Serve => serve::run(&Role::ALL, settings).await,
        Command::Receiver => serve::run(&[Role::Receiver], settings).await,
        Command::Sender => serve::run(&[Role::Sender], settings).await,
        Command::Callcenter => serve::run(&[Role::CallCenter], settings).await,
        Command::Bot(args) => bot::run(*args).await,
        Command::Demo(args) => demo::run(*args, settings).await,
        Command::Bots(command) => {
            admin::bots(command, &startup::open_store(&settings).await?).await
        }
        Command::Tokens(command) => {
            admin::tokens(command, &startup::open_store(&settings).await?).await
        }
        Command::Users(command) => {
            admin::users(command, &startup::open_store(&settings).await?).await
        }
        Command::Accounts(command) => admin::accounts(command, &settings).await,
        Command::Db(command) => admin::db(command, &settings).await,
        Command::Openapi { role } => openapi(role),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;
    use anyhow::Context as _;

    #[test]
    fn a_failure_is_one_line_with_every_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let repeated = anyhow::Error::new(io)
            .context("cannot open x.db: no such file")
            .context("cannot start the sender");
        assert_eq!(
            one_line(&repeated),
            "cannot start the sender: cannot open x.db: no such file"
        );
        let chained: anyhow::Result<()> = Err(anyhow::anyhow!("port 5001 is in use"));
        let error = chained
            .context("cannot start the receiver")
            .expect_err("failed");
        assert_eq!(
            one_line(&error),
            "cannot start the receiver: port 5001 is in use"
        );
    }
}
