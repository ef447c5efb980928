//! Agents: who takes calls, their own status and the state the system keeps for them.

use super::routing::route_waiting;
use super::{Agent, Effects, NewAgent};
use crate::events::append;
use crate::sql::{Row, Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde_json::json;
use switchboard_domain::routing::{AgentState, AgentStatus};
use switchboard_domain::{EventKind, UnixMillis};

const AGENT_COLUMNS: &str = "id, user_id, full_name, status, state, extension, queues, idle_since";

fn agent_from_row(r: &Row<'_>) -> Result<(Agent, i64)> {
    Ok((
        read_row!(r => Agent { id, user_id, full_name, status, state, extension, queues: json }),
        r.get(7)?,
    ))
}

pub(super) fn agent(tx: &Tx<'_>, id: i64) -> Result<Agent> {
    tx.optional(
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
        args![id],
        agent_from_row,
    )?
    .map(|(agent, _)| agent)
    .ok_or(StorageError::UnknownAgent(id))
}

pub(super) fn all_agents(tx: &Tx<'_>) -> Result<Vec<(Agent, i64)>> {
    tx.rows(
        &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"),
        args![],
        agent_from_row,
    )
}

pub(super) fn set_state(tx: &Tx<'_>, agent_id: i64, state: AgentState, now: i64) -> Result<()> {
    // Becoming idle starts the agent's wait for the next call; a wrap-up's due moment goes with it.
    tx.execute(
        "UPDATE agents SET state = ?2, idle_since = CASE WHEN ?2 = 'idle' AND state <> 'idle' THEN ?3 ELSE idle_since END,
             state_since = CASE WHEN state <> ?2 THEN ?3 ELSE state_since END,
             wrap_up_due_at = CASE WHEN ?2 = 'wrap_up' THEN wrap_up_due_at ELSE NULL END,
             updated_at = ?3 WHERE id = ?1",
        args![agent_id, state, now],
    )?;
    Ok(())
}

/// An offer rang out at an agent: it is counted for the reports, and an agent who lets
/// `max_no_answer` offers in a row ring out (zero: no limit) is set away, with the reason in the
/// event so supervisors are told (FreeSWITCH mod_callcenter's max-no-answer).
pub(super) fn rang_out(
    tx: &Tx<'_>,
    agent_id: i64,
    call: &super::Call,
    (now, max_no_answer): (i64, u32),
    effects: &mut Effects,
) -> Result<()> {
    tx.execute(
        "INSERT INTO ring_outs (call_id, agent_id, queue, rang_at) VALUES (?1, ?2, ?3, ?4)",
        args![call.call_id, agent_id, call.queue, now],
    )?;
    let in_row: i64 = tx.one(
        "UPDATE agents SET ring_outs_in_row = ring_outs_in_row + 1 WHERE id = ?1 RETURNING ring_outs_in_row",
        args![agent_id],
        |r| r.get(0),
    )?;
    let current = agent(tx, agent_id)?;
    if max_no_answer == 0
        || in_row < i64::from(max_no_answer)
        || current.status != AgentStatus::Available
    {
        return Ok(());
    }
    tx.execute(
        "UPDATE agents SET status = ?2, status_changed_at = ?3, updated_at = ?3, ring_outs_in_row = 0 WHERE id = ?1",
        args![agent_id, AgentStatus::Away, now],
    )?;
    append(
        tx,
        EventKind::AgentStatusUpdate,
        None,
        &json!({"agentId": agent_id, "agentName": current.full_name, "status": AgentStatus::Away,
                "previousStatus": current.status, "reason": "max_no_answer", "ringOutsInRow": in_row}),
    )?;
    effects.events += 1;
    Ok(())
}

impl Store {
    pub async fn create_agent(&self, new: NewAgent) -> Result<Agent> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let id = tx
                .insert(
                    "INSERT INTO agents (user_id, full_name, extension, queues, idle_since, status_changed_at, state_since, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?5, ?5) RETURNING id",
                    args![new.user_id, new.full_name, new.extension, serde_json::to_string(&new.queues)?, now],
                )
                .map_err(|e| {
                    if e.is_constraint_violation() {
                        StorageError::Conflict("that user already is an agent, or the user does not exist".into())
                    } else {
                        e
                    }
                })?;
            agent(tx, id)
        })
        .await
    }

    pub async fn agents(&self) -> Result<Vec<Agent>> {
        self.read(|tx| Ok(all_agents(tx)?.into_iter().map(|(a, _)| a).collect()))
            .await
    }

    /// Sets an agent's own status; announces it; an agent who becomes available is offered waiting calls.
    pub async fn set_agent_status(
        &self,
        agent_id: i64,
        status: AgentStatus,
    ) -> Result<(Agent, Effects)> {
        let timers = self.call_timers();
        self.write(move |tx| {
            let before = agent(tx, agent_id)?;
            let mut effects = Effects::default();
            if before.status == status {
                return Ok((before, effects));
            }
            let now = UnixMillis::now().0;
            tx.execute(
                // A fresh start for max-no-answer: the agent said they are there.
                "UPDATE agents SET status = ?2, status_changed_at = ?3, updated_at = ?3, ring_outs_in_row = 0,
                     idle_since = CASE WHEN ?2 = 'available' THEN ?3 ELSE idle_since END WHERE id = ?1",
                args![agent_id, status, now],
            )?;
            append(
                tx,
                EventKind::AgentStatusUpdate,
                None,
                &json!({"agentId": agent_id, "agentName": before.full_name, "status": status, "previousStatus": before.status}),
            )?;
            effects.events += 1;
            if status == AgentStatus::Available {
                route_waiting(tx, (now, timers), &mut effects)?;
            }
            Ok((agent(tx, agent_id)?, effects))
        })
        .await
    }

    pub async fn agent(&self, id: i64) -> Result<Agent> {
        self.read(move |tx| agent(tx, id)).await
    }

    /// The agent a console user works as, if they are one.
    pub async fn agent_for_user(&self, user_id: i64) -> Result<Option<Agent>> {
        self.read(move |tx| {
            Ok(tx
                .optional(
                    &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE user_id = ?1"),
                    args![user_id],
                    agent_from_row,
                )?
                .map(|(agent, _)| agent))
        })
        .await
    }

    /// The agent a phone system means: by extension first, then by name (Zammad's `user`).
    pub async fn find_agent(&self, extension: &str, name: &str) -> Result<Option<Agent>> {
        let (extension, name) = (extension.to_owned(), name.to_owned());
        self.read(move |tx| {
            Ok(all_agents(tx)?.into_iter().map(|(a, _)| a).find(|a| {
                (!extension.is_empty() && a.extension == extension)
                    || (!name.is_empty() && a.full_name.eq_ignore_ascii_case(&name))
            }))
        })
        .await
    }

    /// Changes an agent's name, extension or queues (`None`: keep).
    pub async fn update_agent(&self, id: i64, changes: AgentChanges) -> Result<Agent> {
        self.write(move |tx| {
            let current = agent(tx, id)?;
            let queues = changes.queues.unwrap_or(current.queues);
            tx.execute(
                "UPDATE agents SET full_name = ?2, extension = ?3, queues = ?4, updated_at = ?5 WHERE id = ?1",
                args![
                    id,
                    changes.full_name.unwrap_or(current.full_name),
                    changes.extension.unwrap_or(current.extension),
                    serde_json::to_string(&queues)?,
                    UnixMillis::now().0
                ],
            )?;
            agent(tx, id)
        })
        .await
    }
}

/// Changes to an agent (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct AgentChanges {
    pub full_name: Option<String>,
    pub extension: Option<String>,
    pub queues: Option<Vec<String>>,
}
