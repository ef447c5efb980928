//! Administration from the command line: tokens, users, accounts. Secrets made here are printed once,
//! alone on stdout (so `TOKEN=$(switchboard bots add …)` works); everything else goes to stderr.

use crate::Settings;
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;
use switchboard_domain::Role;
use switchboard_domain::outbound::{self, Credentials};
use switchboard_storage::{AccountKind, NewAccount, Store, TokenKind};

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
pub enum AccountsCommand {
    /// List accounts and pages (credentials are never shown, only whether they are set).
    List,
    /// Import accounts from a `user_accounts.json` of the seed's kind (created or updated, all or none).
    Import { file: PathBuf },
}

fn text<E: std::fmt::Display>(error: E) -> String {
    error.to_string()
}

/// 20 characters from a 56-character alphabet without look-alikes (about 116 bits).
pub fn random_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(text)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

pub async fn bots(command: BotsCommand, store: &Store) -> Result<(), String> {
    match command {
        BotsCommand::Add {
            account,
            name,
            kind,
        } => {
            let account =
                switchboard_domain::ingest::account_id("ACCOUNT", &account).map_err(text)?;
            let kind = AccountKind::parse(&kind)
                .ok_or_else(|| format!("--kind must be `page` or `personal`, not `{kind}`"))?;
            let (account, created) = store
                .ensure_account(&account, &name, kind)
                .await
                .map_err(text)?;
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
                .map_err(text)?;
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

pub async fn tokens(command: TokensCommand, store: &Store) -> Result<(), String> {
    match command {
        TokensCommand::Add { name, pbx } => {
            let name =
                switchboard_domain::validation::identifier("NAME", &name, 128).map_err(text)?;
            let (kind, label) = if pbx {
                (TokenKind::Pbx { name }, "Phone-system token")
            } else {
                (TokenKind::Api { name }, "API token")
            };
            let (id, token) = store.issue_token(kind).await.map_err(text)?;
            eprintln!("{label} {id}; it is shown once, store it now:");
            println!("{token}");
            Ok(())
        }
        TokensCommand::List => list_tokens(store, &["api", "pbx"]).await,
        TokensCommand::Revoke { id } => revoke(store, id).await,
    }
}

async fn list_tokens(store: &Store, kinds: &[&str]) -> Result<(), String> {
    let tokens = store.tokens().await.map_err(text)?;
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

async fn revoke(store: &Store, id: i64) -> Result<(), String> {
    store.revoke_token(id).await.map_err(text)?;
    eprintln!("token {id} revoked");
    Ok(())
}

pub async fn users(command: UsersCommand, store: &Store) -> Result<(), String> {
    match command {
        UsersCommand::Add {
            username,
            role,
            display_name,
        } => {
            let username = outbound::username(&username).map_err(text)?;
            let role = Role::parse(&role).ok_or_else(|| {
                format!("--role must be admin, supervisor or agent, not `{role}`")
            })?;
            let given = std::env::var("SWITCHBOARD_NEW_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty());
            let password = match &given {
                Some(password) => {
                    outbound::password(password)
                        .map_err(|e| format!("SWITCHBOARD_NEW_PASSWORD: {}", e.problem))?;
                    password.clone()
                }
                None => random_password()?,
            };
            let display_name = outbound::display_name(&display_name).map_err(text)?;
            let user = store
                .create_user(&username, &display_name, role, password.clone())
                .await
                .map_err(text)?;
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
            for user in store.users().await.map_err(text)? {
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

pub async fn accounts(command: AccountsCommand, settings: &Settings) -> Result<(), String> {
    let store = settings.open().await?;
    match command {
        AccountsCommand::List => {
            println!(
                "{:<20}  {:<24}  {:<8}  {:<12}  credentials",
                "user_id_chat", "name", "kind", "bot"
            );
            for a in store.accounts().await.map_err(text)? {
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
            let content = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let json: Value = serde_json::from_str(&content)
                .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
            let accounts =
                parse_user_accounts(&json).map_err(|e| format!("{}: {e}", file.display()))?;
            let cipher = crate::serve::load_cipher(&settings.encryption_key, &store).await?;
            let count = accounts.len();
            let (created, updated) = store
                .import_accounts(accounts, &cipher)
                .await
                .map_err(text)?;
            eprintln!(
                "imported {count} accounts from {}: {created} created, {updated} updated",
                file.display()
            );
            Ok(())
        }
    }
}

/// Reads a seed-style `user_accounts.json`: an object of named entries (`{"account1": {…}}`), an array of
/// entries, or `{"accounts": […]}`. Field names vary between tools, so the usual spellings are accepted.
pub fn parse_user_accounts(json: &Value) -> Result<Vec<NewAccount>, String> {
    Ok(labelled_user_accounts(json)?
        .into_iter()
        .map(|(_, account)| account)
        .collect())
}

/// Like [`parse_user_accounts`], with each entry's name in the file (`account1`, `[0]`).
pub fn labelled_user_accounts(json: &Value) -> Result<Vec<(String, NewAccount)>, String> {
    let entries: Vec<(String, &Value)> = match json {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        Value::Object(map) => match map.get("accounts") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("accounts[{i}]"), v))
                .collect(),
            _ => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        },
        _ => return Err("expected an object or an array of accounts".into()),
    };
    let field = |entry: &Value, names: &[&str]| -> Option<String> {
        names.iter().find_map(|name| match entry.get(*name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(_) | Value::Object(_) => entry.get(*name).map(Value::to_string),
            _ => None,
        })
    };
    entries
        .into_iter()
        .map(|(label, entry)| {
            if !entry.is_object() {
                return Err(format!("{label}: expected an object"));
            }
            let user_id_chat = field(entry, &["user_id_chat", "uid", "user_id", "page_id", "id"])
                .ok_or_else(|| {
                format!("{label}: no `user_id_chat` (or uid, user_id, page_id, id)")
            })?;
            let user_id_chat =
                switchboard_domain::ingest::account_id("user_id_chat", &user_id_chat)
                    .map_err(|e| format!("{label}: {e}"))?;
            let credentials = Credentials {
                password: field(entry, &["password", "pass"]),
                cookies: field(entry, &["cookies", "cookie"]),
                two_factor_secret: field(
                    entry,
                    &[
                        "two_factor_secret",
                        "2fa",
                        "two_fa",
                        "totp_secret",
                        "2fa_secret",
                    ],
                ),
                page_access_token: field(entry, &["page_access_token", "access_token"]),
            };
            let kind = match field(entry, &["kind", "type"]).as_deref() {
                Some("page") => AccountKind::Page,
                Some("personal") | Some("user") => AccountKind::Personal,
                Some(other) => {
                    return Err(format!(
                        "{label}: kind `{other}` is neither `page` nor `personal`"
                    ));
                }
                None if credentials.page_access_token.is_some() => AccountKind::Page,
                None => AccountKind::Personal,
            };
            let name =
                field(entry, &["name", "display_name", "username", "email"]).unwrap_or_else(|| {
                    if label.starts_with('[') || label.starts_with("accounts[") {
                        String::new()
                    } else {
                        label.clone()
                    }
                });
            Ok((
                label,
                NewAccount {
                    user_id_chat,
                    name,
                    kind,
                    credentials,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_style_files_are_understood() {
        let file = json!({
            "account1": {"email": "shop@example.vn", "password": "p@ss", "user_id_chat": "100089", "cookies": [{"name": "c_user"}], "2fa": "JBSW"},
            "page1": {"page_id": 5550001, "page_access_token": "EAAB"}
        });
        let accounts = parse_user_accounts(&file).expect("parse");
        assert_eq!(accounts.len(), 2);
        let first = accounts
            .iter()
            .find(|a| a.user_id_chat == "100089")
            .expect("account1");
        assert_eq!(
            (first.kind, first.name.as_str()),
            (AccountKind::Personal, "shop@example.vn")
        );
        assert_eq!(first.credentials.two_factor_secret.as_deref(), Some("JBSW"));
        assert!(
            first
                .credentials
                .cookies
                .as_deref()
                .is_some_and(|c| c.contains("c_user"))
        );
        let page = accounts
            .iter()
            .find(|a| a.user_id_chat == "5550001")
            .expect("page1");
        assert_eq!(
            (page.kind, page.name.as_str()),
            (AccountKind::Page, "page1")
        );
        assert!(parse_user_accounts(&json!([{"password": "x"}])).is_err());
    }
}
