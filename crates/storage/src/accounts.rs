//! Facebook accounts and pages, and what their bots last said about themselves.

use crate::events::append;
use crate::{Result, StorageError, Store};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::json;
use switchboard_domain::ingest::{Registration, StatusUpdate};
use switchboard_domain::{EventKind, UnixMillis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Personal,
    Page,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Page => "page",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "personal" => Some(Self::Personal),
            "page" => Some(Self::Page),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub user_id_chat: String,
    pub name: String,
    pub kind: AccountKind,
    pub enabled: bool,
    pub bot_status: String,
    pub bot_status_message: String,
}

const ACCOUNT_COLUMNS: &str =
    "id, user_id_chat, name, kind, enabled, bot_status, bot_status_message";

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let kind: String = row.get(3)?;
    Ok(Account {
        id: row.get(0)?,
        user_id_chat: row.get(1)?,
        name: row.get(2)?,
        kind: AccountKind::parse(&kind).unwrap_or(AccountKind::Page),
        enabled: row.get(4)?,
        bot_status: row.get(5)?,
        bot_status_message: row.get(6)?,
    })
}

pub(crate) fn find(tx: &Transaction<'_>, user_id_chat: &str) -> Result<Option<Account>> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM facebook_accounts WHERE user_id_chat = ?1"
        ))?
        .query_row([user_id_chat], account_from_row)
        .optional()?)
}

/// The account a bot may write for: it must exist and be enabled.
pub(crate) fn writable(tx: &Transaction<'_>, user_id_chat: &str) -> Result<Account> {
    let account = find(tx, user_id_chat)?
        .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.to_owned()))?;
    if !account.enabled {
        return Err(StorageError::AccountDisabled(user_id_chat.to_owned()));
    }
    Ok(account)
}

impl Store {
    /// Returns the account, creating it with `name` and `kind` if it does not exist (the bool says so).
    pub async fn ensure_account(
        &self,
        user_id_chat: &str,
        name: &str,
        kind: AccountKind,
    ) -> Result<(Account, bool)> {
        let (user_id_chat, name) = (user_id_chat.to_owned(), name.to_owned());
        self.write(move |tx| {
            if let Some(account) = find(tx, &user_id_chat)? {
                return Ok((account, false));
            }
            let now = UnixMillis::now().0;
            tx.execute(
                "INSERT INTO facebook_accounts (user_id_chat, name, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![user_id_chat, name, kind.as_str(), now],
            )?;
            let account = find(tx, &user_id_chat)?.ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            Ok((account, true))
        })
        .await
    }

    pub async fn account(&self, user_id_chat: &str) -> Result<Option<Account>> {
        let user_id_chat = user_id_chat.to_owned();
        self.read(move |tx| find(tx, &user_id_chat)).await
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|tx| {
            let mut statement = tx.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM facebook_accounts ORDER BY user_id_chat"
            ))?;
            let rows = statement.query_map([], account_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Records that a bot came online for its account; returns the `bot_register` event id.
    pub async fn register_bot(&self, registration: Registration) -> Result<i64> {
        self.write(move |tx| {
            let account = writable(tx, &registration.account)?;
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE facebook_accounts SET bot_status = 'online', bot_status_message = '', bot_name = ?2,
                     bot_version = ?3, bot_driver = ?4, bot_seen_at = ?5, updated_at = ?5 WHERE id = ?1",
                params![account.id, registration.bot_name, registration.version, registration.driver, now],
            )?;
            append(
                tx,
                EventKind::BotRegister,
                Some((account.id, &account.user_id_chat)),
                &json!({
                    "user_id_chat": account.user_id_chat,
                    "account_name": account.name,
                    "bot_name": registration.bot_name,
                    "version": registration.version,
                    "driver": registration.driver,
                    "status": "online",
                }),
            )
        })
        .await
    }

    /// Records a bot's status report; returns the `bot_status` event id.
    pub async fn update_bot_status(&self, update: StatusUpdate) -> Result<i64> {
        self.write(move |tx| {
            let account = writable(tx, &update.account)?;
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE facebook_accounts SET bot_status = ?2, bot_status_message = ?3, bot_seen_at = ?4, updated_at = ?4
                 WHERE id = ?1",
                params![account.id, update.status.as_str(), update.message, now],
            )?;
            append(
                tx,
                EventKind::BotStatus,
                Some((account.id, &account.user_id_chat)),
                &json!({"user_id_chat": account.user_id_chat, "status": update.status, "message": update.message}),
            )
        })
        .await
    }
}
