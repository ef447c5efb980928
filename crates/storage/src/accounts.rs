//! Facebook accounts and pages, and what their bots last said about themselves.

use crate::crypto::Cipher;
use crate::events::append;
use crate::sql::{Row, Tx, args};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use serde_json::json;
use switchboard_domain::ingest::{BotStatus, Registration, StatusUpdate};
use switchboard_domain::outbound::{AccountChanges, AccountKind, Credentials};
use switchboard_domain::validation::Checked;
use switchboard_domain::{EventKind, UnixMillis};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub user_id_chat: String,
    pub name: String,
    pub kind: AccountKind,
    pub enabled: bool,
    pub bot_status: String,
    pub bot_status_message: String,
    /// The bot said Facebook wants new credentials (code 190, a checkpoint): the console shows it.
    pub needs_login: bool,
    pub bot_seen_at: Option<UnixMillis>,
    /// Which credentials are stored. The credentials themselves never leave the server this way.
    pub credentials: CredentialsSet,
    /// How its conversations are shared out among agents.
    pub assignment: AssignmentSettings,
    /// Every comment holding a phone number is hidden as it arrives (a page's setting).
    pub hide_phone_comments: bool,
}

/// How an account's conversations are shared out (`PUT /api/fb_accounts/{user_id_chat}/assignment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AssignmentSettings {
    /// New and reopened conversations go to the online agent with the fewest open ones.
    pub auto: bool,
    /// Most open conversations automatic assignment gives one agent.
    pub limit: i64,
    /// An agent offline for longer than a minute hands their open conversations back.
    pub return_when_offline: bool,
}

impl Account {
    /// The account as an event about it names it (see [`append`]).
    pub(crate) fn event_target(&self) -> Option<(i64, &str)> {
        Some((self.id, &self.user_id_chat))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CredentialsSet {
    pub password: bool,
    pub cookies: bool,
    pub two_factor_secret: bool,
    pub page_access_token: bool,
}

/// A new account or page, with its credentials in clear (they are encrypted before they are stored).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub user_id_chat: String,
    pub name: String,
    pub kind: AccountKind,
    pub credentials: Credentials,
}

const ACCOUNT_COLUMNS: &str =
    "id, user_id_chat, name, kind, enabled, bot_status, bot_status_message, bot_seen_at,
     password_enc IS NOT NULL, cookies_enc IS NOT NULL, two_factor_secret_enc IS NOT NULL,
     page_access_token_enc IS NOT NULL, auto_assign, assign_limit, return_when_offline, hide_phone_comments";

/// The four encrypted columns, in the order of [`Credentials`]' fields.
const CREDENTIAL_COLUMNS: [&str; 4] = [
    "password_enc",
    "cookies_enc",
    "two_factor_secret_enc",
    "page_access_token_enc",
];

fn credential_fields(credentials: &Credentials) -> [&Option<String>; 4] {
    [
        &credentials.password,
        &credentials.cookies,
        &credentials.two_factor_secret,
        &credentials.page_access_token,
    ]
}

/// What to do with one encrypted column: `None` leave it, `Some(None)` clear it, `Some(Some(_))` set it.
type SealedCredential = Option<Option<Vec<u8>>>;

/// Encrypts the credentials that are given.
fn sealed(credentials: &Credentials, cipher: &Cipher) -> Result<[SealedCredential; 4]> {
    let mut out: [SealedCredential; 4] = Default::default();
    for (slot, value) in out.iter_mut().zip(credential_fields(credentials)) {
        *slot = match value.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(secret) => Some(Some(cipher.encrypt(secret.as_bytes())?)),
        };
    }
    Ok(out)
}

fn write_credentials(tx: &Tx<'_>, id: i64, sealed: [SealedCredential; 4]) -> Result<()> {
    for (column, value) in CREDENTIAL_COLUMNS.iter().zip(sealed) {
        if let Some(value) = value {
            tx.execute(
                &format!("UPDATE facebook_accounts SET {column} = ?2 WHERE id = ?1"),
                args![id, value],
            )?;
        }
    }
    Ok(())
}

fn account_from_row(row: &Row<'_>) -> Result<Account> {
    let bot_status: String = row.get(5)?;
    Ok(Account {
        id: row.get(0)?,
        user_id_chat: row.get(1)?,
        name: row.get(2)?,
        kind: row.get(3)?,
        enabled: row.get(4)?,
        needs_login: bot_status == "needs_login",
        bot_status,
        bot_status_message: row.get(6)?,
        bot_seen_at: row.get(7)?,
        credentials: CredentialsSet {
            password: row.get(8)?,
            cookies: row.get(9)?,
            two_factor_secret: row.get(10)?,
            page_access_token: row.get(11)?,
        },
        assignment: AssignmentSettings {
            auto: row.get(12)?,
            limit: row.get(13)?,
            return_when_offline: row.get(14)?,
        },
        hide_phone_comments: row.get(15)?,
    })
}

pub(crate) fn find(tx: &Tx<'_>, user_id_chat: &str) -> Result<Option<Account>> {
    tx.optional(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM facebook_accounts WHERE user_id_chat = ?1"),
        args![user_id_chat],
        account_from_row,
    )
}

/// The account `?1` (its `user_id_chat`), and what `with` reads beside it in the same query: `with`
/// is the rest of a `SELECT` whose first columns are the account's (`acc.*`), e.g.
/// `c.id FROM {account} LEFT JOIN commands c ON c.account_id = acc.id`, `{account}` standing for
/// the account. Read its row with [`read_account_and`].
pub(crate) fn find_with_sql(with: &str) -> String {
    let account =
        format!("(SELECT {ACCOUNT_COLUMNS} FROM facebook_accounts WHERE user_id_chat = ?1) acc");
    format!("SELECT acc.*, {}", with.replace("{account}", &account))
}

/// How many columns an account takes at the start of a row that reads it with something else.
pub(crate) const ACCOUNT_COLUMN_COUNT: usize = 16;

/// The query of conversation `?1` and its account, the account's columns first, then `columns`
/// (the conversation's, `c.…`); read a row with [`read_account_and`]. A reply reads both in
/// one query before anything else.
pub(crate) fn with_conversation_sql(columns: &str) -> String {
    format!(
        "SELECT acc.*, {columns} FROM conversations c
         JOIN (SELECT {ACCOUNT_COLUMNS} FROM facebook_accounts) acc ON acc.id = c.account_id
         WHERE c.id = ?1"
    )
}

/// A row that starts with an account's columns ([`find_with_sql`], [`with_conversation_sql`]): the
/// account, and what `more` reads of the rest (from its first column, as 0).
pub(crate) fn read_account_and<T>(
    row: &Row<'_>,
    more: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<(Account, T)> {
    Ok((
        account_from_row(row)?,
        more(&row.after(ACCOUNT_COLUMN_COUNT))?,
    ))
}

/// What is written for an account goes to its bot: a disabled account takes nothing.
pub(crate) fn ensure_enabled(account: &Account) -> Result<()> {
    if account.enabled {
        Ok(())
    } else {
        Err(StorageError::AccountDisabled(account.user_id_chat.clone()))
    }
}

/// The account a bot may write for: it must exist and be enabled.
pub(crate) fn writable(tx: &Tx<'_>, user_id_chat: &str) -> Result<Account> {
    let account = find(tx, user_id_chat)?
        .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.to_owned()))?;
    ensure_enabled(&account)?;
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
                args![user_id_chat, name, kind, now],
            )?;
            let account = find(tx, &user_id_chat)?.ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            Ok((account, true))
        })
        .await
    }

    /// Adds an account with its credentials encrypted by `cipher`.
    pub async fn create_account(&self, new: NewAccount, cipher: &Cipher) -> Result<Account> {
        let sealed = sealed(&new.credentials, cipher)?;
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let inserted = tx.optional(
                "INSERT INTO facebook_accounts (user_id_chat, name, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (user_id_chat) DO NOTHING RETURNING id",
                args![new.user_id_chat, new.name, new.kind, now],
                |r| r.get::<i64>(0),
            )?;
            let Some(id) = inserted else {
                return Err(StorageError::AccountExists(new.user_id_chat));
            };
            write_credentials(tx, id, sealed)?;
            find(tx, &new.user_id_chat)?.ok_or(StorageError::UnknownAccount(new.user_id_chat))
        })
        .await
    }

    /// Adds or updates many accounts at once, all or none; returns how many were created and updated.
    pub async fn import_accounts(
        &self,
        accounts: Vec<NewAccount>,
        cipher: &Cipher,
    ) -> Result<(usize, usize)> {
        let sealed = accounts
            .iter()
            .map(|a| sealed(&a.credentials, cipher))
            .collect::<Result<Vec<_>>>()?;
        self.write(move |tx| {
            let (mut created, mut updated) = (0, 0);
            let now = UnixMillis::now().0;
            for (account, sealed) in accounts.into_iter().zip(sealed) {
                let id = match find(tx, &account.user_id_chat)? {
                    Some(existing) => {
                        tx.execute(
                            "UPDATE facebook_accounts SET name = CASE WHEN ?2 <> '' THEN ?2 ELSE name END, kind = ?3,
                                 updated_at = ?4 WHERE id = ?1",
                            args![existing.id, account.name, account.kind, now],
                        )?;
                        updated += 1;
                        existing.id
                    }
                    None => {
                        created += 1;
                        tx.insert(
                            "INSERT INTO facebook_accounts (user_id_chat, name, kind, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
                            args![account.user_id_chat, account.name, account.kind, now],
                        )?
                    }
                };
                write_credentials(tx, id, sealed)?;
            }
            Ok((created, updated))
        })
        .await
    }

    /// Edits an account. Disabling it also stops its bot's token from working.
    pub async fn update_account(
        &self,
        user_id_chat: &str,
        changes: Checked<AccountChanges>,
        cipher: &Cipher,
    ) -> Result<Account> {
        let changes = changes.into_inner();
        let sealed = sealed(&changes.credentials, cipher)?;
        let user_id_chat = user_id_chat.to_owned();
        self.write(move |tx| {
            let account = find(tx, &user_id_chat)?
                .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            tx.execute(
                "UPDATE facebook_accounts SET name = COALESCE(?2, name), kind = COALESCE(?3, kind),
                     enabled = COALESCE(?4, enabled), updated_at = ?5,
                     hide_phone_comments = COALESCE(?6, hide_phone_comments) WHERE id = ?1",
                args![
                    account.id,
                    changes.name,
                    changes.kind,
                    changes.enabled,
                    UnixMillis::now().0,
                    changes.hide_phone_comments
                ],
            )?;
            write_credentials(tx, account.id, sealed)?;
            find(tx, &user_id_chat)?.ok_or(StorageError::UnknownAccount(user_id_chat))
        })
        .await
    }

    /// Removes an account with everything stored for it (conversations, messages, tokens, commands).
    pub async fn delete_account(&self, user_id_chat: &str) -> Result<()> {
        let user_id_chat = user_id_chat.to_owned();
        self.write(move |tx| {
            // The account's events carry its customers' messages: they go with it, so no client
            // resuming from an old event id replays them (and a new account of the same id does not
            // inherit them). Ids are never reused, so the gaps this leaves are harmless to cursors.
            tx.execute(
                "DELETE FROM events WHERE account_id = (SELECT id FROM facebook_accounts WHERE user_id_chat = ?1)",
                args![user_id_chat],
            )?;
            if tx.execute(
                "DELETE FROM facebook_accounts WHERE user_id_chat = ?1",
                args![user_id_chat],
            )? == 0
            {
                return Err(StorageError::UnknownAccount(user_id_chat));
            }
            Ok(())
        })
        .await
    }

    /// The account's credentials in clear, for its bot's driver. Never for an HTTP response.
    pub async fn account_credentials(
        &self,
        user_id_chat: &str,
        cipher: &Cipher,
    ) -> Result<Credentials> {
        let user_id_chat = user_id_chat.to_owned();
        let blobs: [Option<Vec<u8>>; 4] = self
            .read(move |tx| {
                tx.optional(
                    "SELECT password_enc, cookies_enc, two_factor_secret_enc, page_access_token_enc
                     FROM facebook_accounts WHERE user_id_chat = ?1",
                    args![user_id_chat],
                    |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
                )?
                .ok_or(StorageError::UnknownAccount(user_id_chat))
            })
            .await?;
        let open = |blob: &Option<Vec<u8>>| -> Result<Option<String>> {
            blob.as_deref()
                .map(|b| {
                    String::from_utf8(cipher.decrypt(b)?)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))
                })
                .transpose()
        };
        Ok(Credentials {
            password: open(&blobs[0])?,
            cookies: open(&blobs[1])?,
            two_factor_secret: open(&blobs[2])?,
            page_access_token: open(&blobs[3])?,
        })
    }

    pub async fn account(&self, user_id_chat: &str) -> Result<Option<Account>> {
        let user_id_chat = user_id_chat.to_owned();
        self.read(move |tx| find(tx, &user_id_chat)).await
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|tx| {
            tx.rows(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM facebook_accounts ORDER BY user_id_chat"),
                args![],
                account_from_row,
            )
        })
        .await
    }

    /// Records that a bot came online for its account; returns the `bot_register` event id.
    pub async fn register_bot(&self, registration: Registration) -> Result<i64> {
        self.write_with_event(move |tx| {
            let account = writable(tx, &registration.account)?;
            tx.execute(
                "UPDATE facebook_accounts SET bot_name = ?2, bot_version = ?3, bot_driver = ?4 WHERE id = ?1",
                args![account.id, registration.bot_name, registration.version, registration.driver],
            )?;
            set_bot_status(tx, account.id, BotStatus::Online, "")?;
            let registered = json!({
                "user_id_chat": account.user_id_chat,
                "account_name": account.name,
                "bot_name": registration.bot_name,
                "version": registration.version,
                "driver": registration.driver,
                "status": BotStatus::Online,
            });
            append(tx, EventKind::BotRegister, account.event_target(), &registered)
        })
        .await
        .map(|(_, event)| event)
    }

    /// Records a bot's status report; returns the `bot_status` event id.
    pub async fn update_bot_status(&self, update: StatusUpdate) -> Result<i64> {
        self.write_with_event(move |tx| {
            let account = writable(tx, &update.account)?;
            set_bot_status(tx, account.id, update.status, &update.message)?;
            let reported = json!({"user_id_chat": account.user_id_chat, "status": update.status, "message": update.message});
            append(tx, EventKind::BotStatus, account.event_target(), &reported)
        })
        .await
        .map(|(_, event)| event)
    }
}

/// What a bot last said of itself, and when it was last heard from.
fn set_bot_status(tx: &Tx<'_>, account_id: i64, status: BotStatus, message: &str) -> Result<()> {
    tx.execute(
        "UPDATE facebook_accounts SET bot_status = ?2, bot_status_message = ?3, bot_seen_at = ?4, updated_at = ?4
         WHERE id = ?1",
        args![account_id, status.as_str(), message, UnixMillis::now().0],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_account_column_count_is_that_of_the_account_columns() {
        assert_eq!(
            super::ACCOUNT_COLUMNS.split(',').count(),
            super::ACCOUNT_COLUMN_COUNT
        );
    }
}
