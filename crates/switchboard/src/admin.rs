//! Administration from the command line: tokens, users, accounts. Secrets made here are printed once,
//! alone on stdout (so `TOKEN=$(switchboard bots add …)` works); everything else goes to stderr.

use crate::accounts_file;
use crate::config::Settings;
use crate::startup;
use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use std::path::PathBuf;
use switchboard_domain::Role;
use switchboard_domain::outbound;
use switchboard_storage::{AccountKind, Store, TokenKind};

#[derive(Subcommand, Debug)]
pub enum BotsCommand {
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
pub enum TokensCommand {
    /// Create an API token named NAME and print it once. With --pbx, a phone system's token for the
    /// CTI webhook's URL: it can post call events and read the call center, nothing else.
    Add {
        name: String,
        #[arg(long)]
        pbx: bool,
    },
    /// List API and phone-system tokens (never their secrets).
    List,
    /// Revoke an API token by id.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a console user. The password comes from SWITCHBOARD_NEW_PASSWORD, or is made up and printed once.
    Add {
        username: String,
        /// `admin`, `supervisor` or `agent`.
        #[arg(long, default_value = "agent")]
        role: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Copy everything from one database into another, ids and all, so consoles and bots resume where
    /// they were (SQLite to PostgreSQL is the usual move; any engine to any engine works). The target
    /// must hold nothing but its schema (a new, empty database is fine). Stop every switchboard on the
    /// source first. Credentials are copied still encrypted: the target's nodes need the same
    /// encryption key file as the source's.
    Copy {
        /// The database to copy from: sqlite://PATH or postgres://USER@HOST[:PORT]/DATABASE.
        #[arg(long)]
        from: String,
        /// The database to copy into, of the same kinds: a SQLite file is created if missing, a PostgreSQL
        /// database must exist; the schema is applied if it is not there yet.
        #[arg(long)]
        to: String,
    },
    /// Back up the configured SQLite store while switchboard runs on it: a consistent copy, checked,
    /// into a new file (never over an existing one). To restore, stop switchboard and put the copy in
    /// the store's place (docs/deploy.md). On PostgreSQL, back up with pg_dump.
    Backup {
        /// The new file to write the copy to.
        path: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// List accounts and pages (credentials are never shown, only whether they are set).
    List,
    /// Import accounts from a `user_accounts.json` of the seed's kind (created or updated, all or none).
    Import { file: PathBuf },
}

pub async fn bots(command: BotsCommand, store: &Store) -> Result<()> {
    match command {
        BotsCommand::Add {
            account,
            name,
            kind,
        } => {
            let account = switchboard_domain::ingest::account_id("ACCOUNT", &account)?;
            let kind = AccountKind::parse(&kind)
                .ok_or_else(|| anyhow!("--kind must be `page` or `personal`, not `{kind}`"))?;
            let (account, created) = store.ensure_account(&account, &name, kind).await?;
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
                .await?;
            eprintln!(
                "bot token {id} for {}; it is shown once, store it now:",
                account.user_id_chat
            );
            println!("{token}");
            Ok(())
        }
        BotsCommand::List => list_tokens(store, &["bot"]).await,
        BotsCommand::Revoke { id } => revoke(store, id).await,
    }
}

pub async fn tokens(command: TokensCommand, store: &Store) -> Result<()> {
    match command {
        TokensCommand::Add { name, pbx } => {
            let name = switchboard_domain::validation::identifier("NAME", &name, 128)?;
            let (kind, label) = if pbx {
                (TokenKind::Pbx { name }, "Phone-system token")
            } else {
                (TokenKind::Api { name }, "API token")
            };
            let (id, token) = store.issue_token(kind).await?;
            eprintln!("{label} {id}; it is shown once, store it now:");
            println!("{token}");
            Ok(())
        }
        TokensCommand::List => list_tokens(store, &["api", "pbx"]).await,
        TokensCommand::Revoke { id } => revoke(store, id).await,
    }
}

async fn list_tokens(store: &Store, kinds: &[&str]) -> Result<()> {
    let tokens = store.tokens().await?;
    println!(
        "{:>5}  {:<8}  {:<24}  {:<24}  status",
        "id", "kind", "name", "created"
    );
    for t in tokens.iter().filter(|t| kinds.contains(&t.kind.as_str())) {
        let name = t.account.as_deref().unwrap_or(&t.name);
        let status = if t.revoked { "revoked" } else { "active" };
        println!(
            "{:>5}  {:<8}  {:<24}  {:<24}  {status}",
            t.id, t.kind, name, t.created_at
        );
    }
    Ok(())
}

async fn revoke(store: &Store, id: i64) -> Result<()> {
    store
        .revoke_token(id)
        .await
        .with_context(|| format!("cannot revoke token {id}"))?;
    eprintln!("token {id} revoked");
    Ok(())
}

pub async fn users(command: UsersCommand, store: &Store) -> Result<()> {
    match command {
        UsersCommand::Add {
            username,
            role,
            display_name,
        } => {
            let username = outbound::username(&username)?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow!("--role must be admin, supervisor or agent, not `{role}`")
            })?;
            let given = std::env::var("SWITCHBOARD_NEW_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty());
            let password = match &given {
                Some(password) => {
                    outbound::password(password)
                        .map_err(|e| anyhow!("SWITCHBOARD_NEW_PASSWORD: {}", e.problem))?;
                    password.clone()
                }
                None => startup::random_password()?,
            };
            let display_name = outbound::display_name(&display_name)?;
            let user = store
                .create_user(&username, &display_name, role, password.clone())
                .await?;
            eprintln!(
                "created user {} ({}), id {}",
                user.username,
                user.role.as_str(),
                user.id
            );
            if given.is_none() {
                eprintln!("password (shown once):");
                println!("{password}");
            }
            Ok(())
        }
        UsersCommand::List => {
            println!("{:>5}  {:<24}  {:<10}  status", "id", "username", "role");
            for user in store.users().await? {
                let status = if user.disabled { "disabled" } else { "active" };
                println!(
                    "{:>5}  {:<24}  {:<10}  {status}",
                    user.id,
                    user.username,
                    user.role.as_str()
                );
            }
            Ok(())
        }
    }
}

pub async fn accounts(command: AccountsCommand, settings: &Settings) -> Result<()> {
    let store = startup::open_store(settings).await?;
    match command {
        AccountsCommand::List => {
            println!(
                "{:<20}  {:<24}  {:<8}  {:<12}  credentials",
                "user_id_chat", "name", "kind", "bot"
            );
            for a in store.accounts().await? {
                let c = a.credentials;
                let set: Vec<&str> = [
                    (c.password, "password"),
                    (c.cookies, "cookies"),
                    (c.two_factor_secret, "2fa"),
                    (c.page_access_token, "page token"),
                ]
                .into_iter()
                .filter_map(|(set, name)| set.then_some(name))
                .collect();
                let bot = if a.enabled {
                    a.bot_status.as_str()
                } else {
                    "disabled"
                };
                println!(
                    "{:<20}  {:<24}  {:<8}  {:<12}  {}",
                    a.user_id_chat,
                    a.name,
                    a.kind.as_str(),
                    bot,
                    set.join(", ")
                );
            }
            Ok(())
        }
        AccountsCommand::Import { file } => {
            let accounts = accounts_file::parse_user_accounts(&accounts_file::read(&file)?)
                .with_context(|| file.display().to_string())?;
            let cipher = startup::load_cipher(&settings.encryption_key, &store).await?;
            let count = accounts.len();
            let (created, updated) = store.import_accounts(accounts, &cipher).await?;
            eprintln!(
                "imported {count} accounts from {}: {created} created, {updated} updated",
                file.display()
            );
            Ok(())
        }
    }
}

pub async fn db(command: DbCommand, settings: &Settings) -> Result<()> {
    match command {
        DbCommand::Backup { path } => {
            let database = settings.database_url.clone();
            if switchboard_storage::sqlite_file(&database).is_none() {
                bail!(
                    "`db backup` copies a SQLite store; back up PostgreSQL with pg_dump (docs/deploy.md, \"Backups\")"
                );
            }
            let report = tokio::task::spawn_blocking(move || {
                switchboard_storage::backup_sqlite(&database, &path)
            })
            .await
            .context("the backup stopped")??;
            println!("{:<24} {}", "backup", report.path.display());
            println!("{:<24} {:>10}", "bytes", report.bytes);
            println!("{:<24} {:>10}", "schema version", report.schema_version);
            println!("{:<24} {:>10}", "last event id", report.last_event_id);
            eprintln!(
                "backed up {} into {}; keep the encryption key ({}) too: the bots' credentials in the copy need it",
                settings.database_url,
                report.path.display(),
                settings.encryption_key.display()
            );
            Ok(())
        }
        DbCommand::Copy { from, to } => {
            // Opening a SQLite file that is not there would make an empty one and copy nothing.
            if let Some(file) = switchboard_storage::sqlite_file(&from)
                && !file.is_file()
            {
                bail!("--from: there is no database at {}", file.display());
            }
            let source = Store::open(&from).await.context("--from")?;
            let target = Store::open(&to).await.context("--to")?;
            // On SQLite, no switchboard may write to either database while it is copied.
            let _source_claims = startup::claim_roles(&source, &crate::role::Role::ALL)
                .context("--from: stop the switchboard using it first")?;
            let _target_claims = startup::claim_roles(&target, &crate::role::Role::ALL)
                .context("--to: stop the switchboard using it first")?;
            let report = source.copy_into(&target).await.with_context(|| {
                format!(
                    "cannot copy {} into {}",
                    source.location(),
                    target.location()
                )
            })?;
            for (table, rows) in &report.tables {
                println!("{table:<24} {rows:>10}");
            }
            println!("{:<24} {:>10}", "last event id", report.last_event_id);
            source.close().await;
            target.close().await;
            eprintln!("copied {} into {}", source.location(), target.location());
            Ok(())
        }
    }
}
