//! Who may see which account: teams, accounts' access lists, scoped API tokens, and the view each
//! caller reads the inbox through. Every change is one transaction with an `access_changed` event, so
//! that live streams on every node read their view again at that point of the log.

use crate::events::append;
use crate::sql::{Tx, args};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use std::collections::BTreeSet;
use switchboard_domain::access::{AccessList, TeamChanges};
use switchboard_domain::{AccountView, EventKind, Principal, Role, UnixMillis, ValidationError};

/// An account's access list as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccessView {
    pub user_id_chat: String,
    /// `false`: every user sees the account (the lists are empty).
    pub restricted: bool,
    pub user_ids: Vec<i64>,
    pub team_ids: Vec<i64>,
}

/// A team, with its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    pub member_ids: Vec<i64>,
}

/// The payload of `access_changed` (admins receive it whole; others only learn that their view may
/// have changed).
#[derive(Serialize)]
struct AccessChanged<'a> {
    /// The account whose list changed, or `null` when a team's members did.
    user_id_chat: Option<&'a str>,
    team_id: Option<i64>,
}

/// The accounts `principal` sees, read in `tx`.
pub(crate) fn view_of(tx: &Tx<'_>, principal: &Principal) -> Result<AccountView> {
    Ok(match principal {
        Principal::User {
            role: Role::Admin, ..
        }
        | Principal::Integrator { scoped: false, .. }
        | Principal::PhoneSystem { .. } => AccountView::All,
        Principal::Bot { account, .. } => AccountView::Only(BTreeSet::from([account.clone()])),
        Principal::User { user_id, .. } => AccountView::Except(
            tx.rows(
                "SELECT a.user_id_chat FROM facebook_accounts a
                 WHERE a.restricted AND NOT EXISTS (
                     SELECT 1 FROM account_access x WHERE x.account_id = a.id
                        AND (x.user_id = ?1
                             OR x.team_id IN (SELECT team_id FROM team_members WHERE user_id = ?1)))",
                args![*user_id],
                |r| r.get(0),
            )?
            .into_iter()
            .collect(),
        ),
        Principal::Integrator { token_id, .. } => AccountView::Only(
            tx.rows(
                "SELECT a.user_id_chat FROM token_accounts t
                 JOIN facebook_accounts a ON a.id = t.account_id WHERE t.token_id = ?1",
                args![*token_id],
                |r| r.get(0),
            )?
            .into_iter()
            .collect(),
        ),
    })
}

/// A condition on `column` (an account's id) that keeps the accounts `view` sees; the ids are the
/// database's own integers, written into the text.
pub(crate) fn view_clause(tx: &Tx<'_>, view: &AccountView, column: &str) -> Result<String> {
    let (names, keep) = match view {
        AccountView::All => return Ok("1 = 1".to_owned()),
        AccountView::Except(hidden) if hidden.is_empty() => return Ok("1 = 1".to_owned()),
        AccountView::Only(names) => (names, true),
        AccountView::Except(names) => (names, false),
    };
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        if let Some(account) = crate::accounts::find(tx, name)? {
            ids.push(account.id.to_string());
        }
    }
    Ok(match (keep, ids.is_empty()) {
        (true, true) => "1 = 0".to_owned(),
        (false, true) => "1 = 1".to_owned(),
        (true, false) => format!("{column} IN ({})", ids.join(", ")),
        (false, false) => format!("{column} NOT IN ({})", ids.join(", ")),
    })
}

/// Whether the user may see the account (for an assignee): admins always; others when the account
/// is unrestricted or lists them or one of their teams.
pub(crate) fn user_sees(tx: &Tx<'_>, user_id: i64, account_id: i64) -> Result<bool> {
    tx.one(
        "SELECT (SELECT role FROM users WHERE id = ?1) = 'admin'
             OR NOT (SELECT restricted FROM facebook_accounts WHERE id = ?2)
             OR EXISTS (SELECT 1 FROM account_access x WHERE x.account_id = ?2
                          AND (x.user_id = ?1
                               OR x.team_id IN (SELECT team_id FROM team_members WHERE user_id = ?1)))",
        args![user_id, account_id],
        |r| r.get(0),
    )
}

fn access_of(tx: &Tx<'_>, user_id_chat: &str) -> Result<AccessView> {
    let account = crate::accounts::find(tx, user_id_chat)?
        .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.to_owned()))?;
    let restricted: bool = tx.one(
        "SELECT restricted FROM facebook_accounts WHERE id = ?1",
        args![account.id],
        |r| r.get(0),
    )?;
    let grantees = |column: &str| {
        tx.rows(
            &format!(
                "SELECT {column} FROM account_access WHERE account_id = ?1 AND {column} IS NOT NULL
                 ORDER BY {column}"
            ),
            args![account.id],
            |r| r.get::<i64>(0),
        )
    };
    Ok(AccessView {
        user_id_chat: account.user_id_chat.clone(),
        restricted,
        user_ids: grantees("user_id")?,
        team_ids: grantees("team_id")?,
    })
}

/// Refuses ids in `ids` that name no row of `table`, naming the first as `field[index]`.
fn ensure_exist(tx: &Tx<'_>, table: &str, field: &str, ids: &[i64]) -> Result<()> {
    for (index, id) in ids.iter().enumerate() {
        let found: Option<i64> = tx.optional(
            &format!("SELECT id FROM {table} WHERE id = ?1"),
            args![*id],
            |r| r.get(0),
        )?;
        if found.is_none() {
            return Err(ValidationError::new(
                format!("{field}[{index}]"),
                format!("no such id {id}"),
            )
            .into());
        }
    }
    Ok(())
}

fn announce(tx: &Tx<'_>, user_id_chat: Option<&str>, team_id: Option<i64>) -> Result<()> {
    append(
        tx,
        EventKind::AccessChanged,
        None,
        &AccessChanged {
            user_id_chat,
            team_id,
        },
    )
}

fn team(tx: &Tx<'_>, id: i64) -> Result<TeamView> {
    let name: String = tx
        .optional("SELECT name FROM teams WHERE id = ?1", args![id], |r| {
            r.get(0)
        })?
        .ok_or(StorageError::UnknownTeam(id))?;
    let member_ids = tx.rows(
        "SELECT user_id FROM team_members WHERE team_id = ?1 ORDER BY user_id",
        args![id],
        |r| r.get(0),
    )?;
    Ok(TeamView {
        id,
        name,
        member_ids,
    })
}

fn set_members(tx: &Tx<'_>, team_id: i64, member_ids: &[i64]) -> Result<()> {
    ensure_exist(tx, "users", "member_ids", member_ids)?;
    tx.execute(
        "DELETE FROM team_members WHERE team_id = ?1",
        args![team_id],
    )?;
    for user in member_ids {
        tx.execute(
            "INSERT INTO team_members (team_id, user_id) VALUES (?1, ?2)",
            args![team_id, *user],
        )?;
    }
    Ok(())
}

fn team_name_taken(name: &str) -> StorageError {
    StorageError::Conflict(format!("a team named `{name}` already exists"))
}

impl Store {
    /// The accounts `principal` sees now.
    pub async fn account_view(&self, principal: &Principal) -> Result<AccountView> {
        if matches!(
            principal,
            Principal::User {
                role: Role::Admin,
                ..
            } | Principal::Integrator { scoped: false, .. }
                | Principal::PhoneSystem { .. }
        ) {
            return Ok(AccountView::All);
        }
        let principal = principal.clone();
        self.read(move |tx| view_of(tx, &principal)).await
    }

    pub async fn access(&self, user_id_chat: &str) -> Result<AccessView> {
        let user_id_chat = user_id_chat.to_owned();
        self.read(move |tx| access_of(tx, &user_id_chat)).await
    }

    /// Sets who may see an account (`None`: everyone again). Streams on every node re-read their
    /// view when they reach the change in the log.
    pub async fn set_access(
        &self,
        user_id_chat: &str,
        list: Option<AccessList>,
    ) -> Result<(AccessView, i64)> {
        let user_id_chat = user_id_chat.to_owned();
        self.write_with_event(move |tx| {
            let account = crate::accounts::find(tx, &user_id_chat)?
                .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            let list = list.unwrap_or(AccessList {
                user_ids: Vec::new(),
                team_ids: Vec::new(),
            });
            ensure_exist(tx, "users", "user_ids", &list.user_ids)?;
            ensure_exist(tx, "teams", "team_ids", &list.team_ids)?;
            tx.execute(
                "DELETE FROM account_access WHERE account_id = ?1",
                args![account.id],
            )?;
            for user in &list.user_ids {
                tx.execute(
                    "INSERT INTO account_access (account_id, user_id) VALUES (?1, ?2)",
                    args![account.id, *user],
                )?;
            }
            for team in &list.team_ids {
                tx.execute(
                    "INSERT INTO account_access (account_id, team_id) VALUES (?1, ?2)",
                    args![account.id, *team],
                )?;
            }
            let restricted = !(list.user_ids.is_empty() && list.team_ids.is_empty());
            tx.execute(
                "UPDATE facebook_accounts SET restricted = ?2, updated_at = ?3 WHERE id = ?1",
                args![account.id, restricted, UnixMillis::now().0],
            )?;
            announce(tx, Some(&account.user_id_chat), None)?;
            access_of(tx, &account.user_id_chat)
        })
        .await
    }

    /// Every team, by name.
    pub async fn teams(&self) -> Result<Vec<TeamView>> {
        self.read(|tx| {
            let ids: Vec<i64> = tx.rows("SELECT id FROM teams", args![], |r| r.get(0))?;
            let mut teams = ids
                .into_iter()
                .map(|id| team(tx, id))
                .collect::<Result<Vec<_>>>()?;
            teams.sort_by_cached_key(|t| (t.name.to_lowercase(), t.id));
            Ok(teams)
        })
        .await
    }

    pub async fn create_team(&self, changes: TeamChanges) -> Result<(TeamView, i64)> {
        self.write_with_event(move |tx| {
            let name = changes
                .name
                .ok_or_else(|| ValidationError::new("name", "a team needs a name"))?;
            let now = UnixMillis::now().0;
            let id = tx
                .optional(
                    "INSERT INTO teams (name, name_key, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT (name_key) DO NOTHING RETURNING id",
                    args![name, name.to_lowercase(), now],
                    |r| r.get::<i64>(0),
                )?
                .ok_or_else(|| team_name_taken(&name))?;
            set_members(tx, id, changes.member_ids.as_deref().unwrap_or_default())?;
            announce(tx, None, Some(id))?;
            team(tx, id)
        })
        .await
    }

    /// Renames a team or replaces its members; the accounts it may see follow its members at once.
    pub async fn update_team(&self, id: i64, changes: TeamChanges) -> Result<(TeamView, i64)> {
        self.write_with_event(move |tx| {
            team(tx, id)?;
            let now = UnixMillis::now().0;
            if let Some(name) = &changes.name {
                let clash: Option<i64> = tx.optional(
                    "SELECT id FROM teams WHERE name_key = ?1 AND id <> ?2",
                    args![name.to_lowercase(), id],
                    |r| r.get(0),
                )?;
                if clash.is_some() {
                    return Err(team_name_taken(name));
                }
                tx.execute(
                    "UPDATE teams SET name = ?2, name_key = ?3, updated_at = ?4 WHERE id = ?1",
                    args![id, name, name.to_lowercase(), now],
                )?;
            }
            if let Some(members) = &changes.member_ids {
                set_members(tx, id, members)?;
            }
            announce(tx, None, Some(id))?;
            team(tx, id)
        })
        .await
    }

    /// Deletes a team: its members lose what it granted (an account it alone could see stays
    /// restricted, seen by admins).
    pub async fn delete_team(&self, id: i64) -> Result<i64> {
        self.write_with_event(move |tx| {
            // Its members and its places on access lists go with it (ON DELETE CASCADE).
            if tx.execute("DELETE FROM teams WHERE id = ?1", args![id])? == 0 {
                return Err(StorageError::UnknownTeam(id));
            }
            announce(tx, None, Some(id))
        })
        .await
        .map(|((), event)| event)
    }
}

/// Limits an API token to `accounts` (each must exist).
pub(crate) fn scope_token(tx: &Tx<'_>, token_id: i64, accounts: &[String]) -> Result<()> {
    tx.execute(
        "UPDATE auth_tokens SET scoped = ?2 WHERE id = ?1",
        args![token_id, true],
    )?;
    for (index, name) in accounts.iter().enumerate() {
        let account = crate::accounts::find(tx, name)?.ok_or_else(|| {
            ValidationError::new(format!("accounts[{index}]"), format!("no account `{name}`"))
        })?;
        tx.execute(
            "INSERT INTO token_accounts (token_id, account_id) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            args![token_id, account.id],
        )?;
    }
    Ok(())
}
