//! What the call center asks of the phone system, stored before it is sent (`phone_commands`): the
//! call center's outbox. Any node sends what is due, claiming it first so two nodes never send one
//! command at once; each change is `phone_command_updated` to the consoles.

use crate::events::append;
use crate::sql::{Row, Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use serde_json::json;
use switchboard_domain::phone_commands::{PhoneCommandKind, PhoneCommandStatus};
use switchboard_domain::{EventKind, UnixMillis};

/// A command to the phone system, as consoles see it (its body is what the phone system receives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneCommand {
    pub id: i64,
    pub kind: PhoneCommandKind,
    /// The call it is about (none for a dial: the phone system reports the new call itself).
    pub call_id: Option<String>,
    pub status: PhoneCommandStatus,
    /// Sends so far.
    pub attempts: i64,
    /// The phone system's answer (or why it could not be reached) to the last failed send.
    pub last_error: Option<String>,
    /// The agent it is for.
    pub agent_id: Option<i64>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A command due to be sent: what to send, and how many sends it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCommand {
    pub command: PhoneCommand,
    pub body: String,
}

/// What came of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Delivered,
    /// Try again at this moment.
    Retry {
        error: String,
        at: UnixMillis,
    },
    /// Given up: refused, or out of attempts.
    Failed {
        error: String,
    },
}

const COLUMNS: &str =
    "id, kind, call_id, status, attempts, last_error, agent_id, created_at, updated_at";

fn from_row(r: &Row<'_>) -> Result<PhoneCommand> {
    Ok(read_row!(r => PhoneCommand {
        id, kind, call_id, status, attempts, last_error, agent_id, created_at, updated_at
    }))
}

fn command(tx: &Tx<'_>, id: i64) -> Result<PhoneCommand> {
    tx.optional(
        &format!("SELECT {COLUMNS} FROM phone_commands WHERE id = ?1"),
        args![id],
        from_row,
    )?
    .ok_or_else(|| StorageError::Corrupt(format!("phone command {id} vanished")))
}

fn announce(tx: &Tx<'_>, command: &PhoneCommand) -> Result<()> {
    append(
        tx,
        EventKind::PhoneCommandUpdated,
        None,
        &json!({ "command": command }),
    )?;
    Ok(())
}

impl Store {
    /// Stores a command to send (`body`: the JSON the phone system receives) and tells the consoles.
    pub async fn queue_phone_command(
        &self,
        kind: PhoneCommandKind,
        call_id: Option<String>,
        body: String,
        (agent_id, user_id): (Option<i64>, Option<i64>),
    ) -> Result<PhoneCommand> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let id = tx.insert(
                "INSERT INTO phone_commands (kind, call_id, body, next_attempt_at, agent_id, requested_by_user_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?4) RETURNING id",
                args![kind, call_id, body, now, agent_id, user_id],
            )?;
            let queued = command(tx, id)?;
            announce(tx, &queued)?;
            Ok(queued)
        })
        .await
    }

    /// Takes up to `limit` commands due by `now` for this node to send: their next attempt moves to
    /// `now + lease`, so no other node sends them meanwhile (and if this one dies, another will then).
    pub async fn claim_phone_commands(
        &self,
        now: UnixMillis,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<DueCommand>> {
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx| {
            // The outer `next_attempt_at` check makes a second node, blocked on the same rows, skip
            // the ones the first claimed (PostgreSQL checks it again on the row as committed).
            tx.rows(
                &format!(
                    "UPDATE phone_commands SET next_attempt_at = ?1 + ?2, updated_at = ?1
                     WHERE status = 'pending' AND next_attempt_at <= ?1 AND id IN (
                         SELECT id FROM phone_commands WHERE status = 'pending' AND next_attempt_at <= ?1
                         ORDER BY next_attempt_at, id LIMIT ?3)
                     RETURNING {COLUMNS}, body"
                ),
                args![now, lease, limit],
                |r| {
                    Ok(DueCommand {
                        command: from_row(r)?,
                        body: r.get(9)?,
                    })
                },
            )
        })
        .await
    }

    /// Records what came of a send; the command as it is now (announced unless merely retried).
    pub async fn phone_command_sent(&self, id: i64, result: SendResult) -> Result<PhoneCommand> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let (status, error, next) = match &result {
                SendResult::Delivered => (PhoneCommandStatus::Delivered, None, now),
                SendResult::Retry { error, at } => {
                    (PhoneCommandStatus::Pending, Some(error.as_str()), at.0)
                }
                SendResult::Failed { error } => (PhoneCommandStatus::Failed, Some(error.as_str()), now),
            };
            tx.execute(
                "UPDATE phone_commands SET status = ?2, attempts = attempts + 1,
                     last_error = COALESCE(CAST(?3 AS TEXT), last_error), next_attempt_at = ?4, updated_at = ?5
                 WHERE id = ?1",
                args![id, status, error, next, now],
            )?;
            let sent = command(tx, id)?;
            if status != PhoneCommandStatus::Pending {
                announce(tx, &sent)?;
            }
            Ok(sent)
        })
        .await
    }

    /// Removes commands delivered or failed before `before`, oldest first, at most `limit` (pruned with
    /// the event log, as old as it). Pending ones stay whatever their age: they are still to be sent.
    pub(crate) async fn prune_phone_commands(
        &self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<usize> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "DELETE FROM phone_commands WHERE id IN (SELECT id FROM phone_commands ORDER BY id LIMIT {limit})
                     AND status <> 'pending' AND updated_at < ?1"
                ),
                args![before],
            )
        })
        .await
    }

    /// The latest commands, newest first (an agent's, or everyone's).
    pub async fn phone_commands(
        &self,
        agent_id: Option<i64>,
        status: Option<PhoneCommandStatus>,
        limit: usize,
    ) -> Result<Vec<PhoneCommand>> {
        let limit = i64::try_from(limit.clamp(1, 200)).unwrap_or(200);
        let status = status.map(PhoneCommandStatus::as_str);
        self.read(move |tx| {
            tx.rows(
                &format!(
                    "SELECT {COLUMNS} FROM phone_commands
                     WHERE (CAST(?1 AS BIGINT) IS NULL OR agent_id = ?1)
                       AND (CAST(?3 AS TEXT) IS NULL OR status = ?3)
                     ORDER BY id DESC LIMIT ?2"
                ),
                args![agent_id, limit, status],
                from_row,
            )
        })
        .await
    }
}
