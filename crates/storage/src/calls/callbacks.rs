//! Missed calls followed up. A missed inbound call opens a callback task for its caller in the
//! transaction that ends the call, given round robin to the agents of the call's queue; a repeat call
//! while one is open joins it (one open task per number, a unique index says so); an agent closes it
//! with an outcome and a note. Every change is `callback_updated` to the consoles.

use super::Call;
use crate::events::append;
use crate::sql::{Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use switchboard_domain::callbacks::{CallbackOutcome, CallbackStatus};
use switchboard_domain::{EventKind, UnixMillis};

/// A callback task, as `GET /api/callbacks` lists it and `callback_updated` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub id: i64,
    pub status: CallbackStatus,
    /// The caller's number, normalised.
    #[schema(example = "+84912345678")]
    pub number: String,
    /// As the phone system gave it.
    #[schema(example = "0912345678")]
    pub caller_number: String,
    /// The missed call it came from.
    #[schema(example = "1733380000.123")]
    pub call_id: String,
    /// The last missed call that joined it.
    pub last_call_id: String,
    /// How many missed calls it gathers.
    pub missed_calls: i64,
    pub queue: Option<String>,
    /// The customer the number is.
    pub customer_id: Option<i64>,
    /// Their name, when there is one.
    pub customer_name: Option<String>,
    /// Whose task it is.
    pub assigned_agent_id: Option<i64>,
    pub outcome: Option<CallbackOutcome>,
    pub note: String,
    pub closed_by_user_id: Option<i64>,
    pub last_missed_at: UnixMillis,
    pub created_at: UnixMillis,
    pub closed_at: Option<UnixMillis>,
}

const CALLBACK_COLUMNS: &str = "b.id, b.status, b.number, b.caller_number, b.call_id, b.last_call_id,
     b.missed_calls, b.queue, b.customer_id, (SELECT full_name FROM customers c WHERE c.id = b.customer_id),
     b.assigned_agent_id, b.outcome, b.note, b.closed_by_user_id, b.last_missed_at, b.created_at, b.closed_at";

fn callback_from_row(r: &crate::sql::Row<'_>) -> Result<Callback> {
    Ok(read_row!(r => Callback {
        id, status, number, caller_number, call_id, last_call_id, missed_calls, queue, customer_id,
        customer_name, assigned_agent_id, outcome, note, closed_by_user_id, last_missed_at, created_at,
        closed_at,
    }))
}

fn callback(tx: &Tx<'_>, id: i64) -> Result<Callback> {
    tx.optional(
        &format!("SELECT {CALLBACK_COLUMNS} FROM callbacks b WHERE b.id = ?1"),
        args![id],
        callback_from_row,
    )?
    .ok_or(StorageError::UnknownCallback(id))
}

fn announce(tx: &Tx<'_>, task: &Callback) -> Result<()> {
    append(
        tx,
        EventKind::CallbackUpdated,
        None,
        &serde_json::json!({ "callback": task }),
    )
}

/// The next agent for a callback of `queue`: among the agents who take that queue (everyone when
/// none does, or the call had none), the one given a callback longest ago (never first).
fn next_agent(tx: &Tx<'_>, queue: Option<&str>, now: i64) -> Result<Option<i64>> {
    let agents = tx.rows(
        "SELECT id, queues, last_callback_at FROM agents ORDER BY id",
        args![],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<String>(1)?,
                r.get::<Option<i64>>(2)?,
            ))
        },
    )?;
    let takes = |queues: &str| {
        queue.is_some_and(|q| {
            serde_json::from_str::<Vec<String>>(queues)
                .is_ok_and(|list| list.iter().any(|x| x == q))
        })
    };
    let of_queue: Vec<&(i64, String, Option<i64>)> =
        agents.iter().filter(|a| takes(&a.1)).collect();
    let pool: Vec<&(i64, String, Option<i64>)> = if of_queue.is_empty() {
        agents.iter().collect()
    } else {
        of_queue
    };
    let Some(&&(id, _, _)) = pool.iter().min_by_key(|a| (a.2.unwrap_or(i64::MIN), a.0)) else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE agents SET last_callback_at = ?2 WHERE id = ?1",
        args![id, now],
    )?;
    Ok(Some(id))
}

/// After `call` ended missed: its caller's open task gathers it, or a new one is made.
pub(crate) fn missed(tx: &Tx<'_>, call: &Call, normalized: &str, now: i64) -> Result<()> {
    let open: Option<i64> = tx.optional(
        "SELECT id FROM callbacks WHERE number = ?1 AND status = 'open'",
        args![normalized],
        |r| r.get(0),
    )?;
    let id = match open {
        Some(id) => {
            tx.execute(
                "UPDATE callbacks SET missed_calls = missed_calls + 1, last_call_id = ?2, last_missed_at = ?3,
                     updated_at = ?3, customer_id = COALESCE(customer_id, ?4) WHERE id = ?1",
                args![id, call.call_id, now, call.customer_id],
            )?;
            id
        }
        None => {
            let agent = next_agent(tx, call.queue.as_deref(), now)?;
            tx.insert(
                "INSERT INTO callbacks (number, caller_number, call_id, last_call_id, queue, customer_id,
                                        assigned_agent_id, last_missed_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?7, ?7) RETURNING id",
                args![normalized, call.caller_number, call.call_id, call.queue, call.customer_id, agent, now],
            )?
        }
    };
    let task = callback(tx, id)?;
    announce(tx, &task)?;
    Ok(())
}

impl Store {
    /// Callback tasks, newest missed first: `status` open or closed (both when none), and only those
    /// of `agent_id` when given.
    pub async fn callbacks(
        &self,
        status: Option<CallbackStatus>,
        agent_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Callback>> {
        let limit = limit.clamp(1, 200);
        self.read(move |tx| {
            tx.rows(
                &format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks b
                      WHERE (CAST(?1 AS TEXT) IS NULL OR b.status = ?1)
                        AND (CAST(?2 AS BIGINT) IS NULL OR b.assigned_agent_id = ?2)
                      ORDER BY b.last_missed_at DESC, b.id DESC LIMIT {limit}"
                ),
                args![status, agent_id],
                callback_from_row,
            )
        })
        .await
    }

    /// Closes an open task with what came of it; `409` once closed.
    pub async fn close_callback(
        &self,
        id: i64,
        outcome: CallbackOutcome,
        note: String,
        by_user_id: Option<i64>,
    ) -> Result<Callback> {
        self.write(move |tx| {
            let task = callback(tx, id)?;
            if task.status == CallbackStatus::Closed {
                return Err(StorageError::Conflict(format!("callback {id} is closed already")));
            }
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE callbacks SET status = 'closed', outcome = ?2, note = ?3, closed_by_user_id = ?4,
                     closed_at = ?5, updated_at = ?5 WHERE id = ?1",
                args![id, outcome, note, by_user_id, now],
            )?;
            let task = callback(tx, id)?;
            announce(tx, &task)?;
            Ok(task)
        })
        .await
    }
}
