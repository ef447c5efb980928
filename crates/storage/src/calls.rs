//! The call center's state: agents, calls and blocked numbers, and every change to them as one
//! transaction with its event (the seed's `incoming_call_to_crm`, `call_answered`, `call_ended`,
//! `agent_status_update` payloads). Who gets a call is decided by `domain::routing::pick`; the single
//! writer makes "the first answer wins" exact.

use crate::customers::{Customer, customer};
use crate::events::append;
use crate::sqlite::Cached;
use crate::{Result, StorageError, Store};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::json;
use switchboard_domain::callcenter::Lang;
use switchboard_domain::routing::{AgentState, AgentStatus, Candidate, pick};
use switchboard_domain::{EventKind, UnixMillis};

/// Events are stored in the default language; consoles that chose another get them translated.
const LANG: Lang = Lang::Vi;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: i64,
    pub user_id: Option<i64>,
    pub full_name: String,
    pub status: AgentStatus,
    pub state: AgentState,
    pub extension: String,
    pub queues: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub user_id: Option<i64>,
    pub full_name: String,
    pub extension: String,
    pub queues: Vec<String>,
}

/// A call as the call log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub call_id: String,
    pub direction: String,
    pub caller_number: String,
    pub called_number: String,
    pub queue: Option<String>,
    pub source: String,
    pub status: String,
    pub customer_id: Option<i64>,
    /// The agent the call is with: ringing at, or answered by (the last one it rang at, once ended).
    pub offered_agent_id: Option<i64>,
    pub answered_by: Option<i64>,
    pub start_time: UnixMillis,
    pub answered_at: Option<UnixMillis>,
    pub end_time: Option<UnixMillis>,
    pub end_reason: Option<String>,
    pub missed: bool,
    /// Seconds from the start until answered (or until the end, when never answered).
    pub wait_seconds: i64,
    /// Seconds from the answer until the end.
    pub talk_seconds: i64,
}

/// A new call from the phone system.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub call_id: String,
    pub caller_number: String,
    /// `domain::phone::normalize` of the caller's number (or the number as given when it is not one).
    pub caller_normalized: String,
    pub called_number: String,
    pub direction: String,
    pub queue: Option<String>,
    pub source: String,
    /// Outbound calls only: the agent who dialled (matched by the phone system's extension or user).
    pub agent_id: Option<i64>,
}

/// A call offered to an agent: the role starts the ring timer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub call_id: String,
    pub agent_id: i64,
}

/// What a change did: the events it wrote (to wake the feed) and the offers it made (to time them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub events: usize,
    pub offers: Vec<Offer>,
    /// Agents who went into wrap-up: the role ends it after the wrap-up time.
    pub wrap_ups: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewCallOutcome {
    Accepted {
        call: Call,
        effects: Effects,
    },
    /// The same call id was reported before (a phone system retrying): nothing changed.
    Duplicate {
        call: Call,
    },
    Blocked {
        reason: String,
    },
}

const AGENT_COLUMNS: &str = "id, user_id, full_name, status, state, extension, queues, idle_since";

fn agent_from_row(r: &Row<'_>) -> rusqlite::Result<(Agent, i64)> {
    let status: String = r.get(3)?;
    let state: String = r.get(4)?;
    let queues: String = r.get(6)?;
    Ok((
        Agent {
            id: r.get(0)?,
            user_id: r.get(1)?,
            full_name: r.get(2)?,
            status: AgentStatus::parse(&status).unwrap_or(AgentStatus::Offline),
            state: AgentState::parse(&state).unwrap_or(AgentState::Idle),
            extension: r.get(5)?,
            queues: serde_json::from_str(&queues).unwrap_or_default(),
        },
        r.get(7)?,
    ))
}

fn agent(tx: &Connection, id: i64) -> Result<Agent> {
    tx.row(
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
        [id],
        agent_from_row,
    )
    .optional()?
    .map(|(agent, _)| agent)
    .ok_or(StorageError::UnknownAgent(id))
}

fn all_agents(tx: &Connection) -> Result<Vec<(Agent, i64)>> {
    Ok(tx
        .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))?
        .query_map([], agent_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

fn set_state(tx: &Connection, agent_id: i64, state: AgentState, now: i64) -> Result<()> {
    // Becoming idle starts the agent's wait for the next call.
    tx.run(
        "UPDATE agents SET state = ?2, idle_since = CASE WHEN ?2 = 'idle' AND state <> 'idle' THEN ?3 ELSE idle_since END,
             updated_at = ?3 WHERE id = ?1",
        params![agent_id, state.as_str(), now],
    )?;
    Ok(())
}

const CALL_COLUMNS: &str = "call_id, direction, caller_number, called_number, queue, source, status, customer_id,
     offered_agent_id, answered_by, started_at, answered_at, ended_at, end_reason, missed, declined_agents";

fn call_from_row(r: &Row<'_>) -> rusqlite::Result<(Call, Vec<i64>)> {
    let started: i64 = r.get(10)?;
    let answered: Option<i64> = r.get(11)?;
    let ended: Option<i64> = r.get(12)?;
    let declined: String = r.get(15)?;
    let now = UnixMillis::now().0;
    let wait_until = answered.or(ended).unwrap_or(now);
    let talk = match (answered, ended) {
        (Some(a), Some(e)) => e - a,
        (Some(a), None) => now - a,
        _ => 0,
    };
    Ok((
        Call {
            call_id: r.get(0)?,
            direction: r.get(1)?,
            caller_number: r.get(2)?,
            called_number: r.get(3)?,
            queue: r.get(4)?,
            source: r.get(5)?,
            status: r.get(6)?,
            customer_id: r.get(7)?,
            offered_agent_id: r.get(8)?,
            answered_by: r.get(9)?,
            start_time: UnixMillis(started),
            answered_at: answered.map(UnixMillis),
            end_time: ended.map(UnixMillis),
            end_reason: r.get(13)?,
            missed: r.get(14)?,
            wait_seconds: (wait_until - started).max(0) / 1000,
            talk_seconds: talk.max(0) / 1000,
        },
        serde_json::from_str(&declined).unwrap_or_default(),
    ))
}

fn call(tx: &Connection, call_id: &str) -> Result<(Call, Vec<i64>)> {
    tx.row(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?1"),
        [call_id],
        call_from_row,
    )
    .optional()?
    .ok_or_else(|| StorageError::UnknownCall(call_id.to_owned()))
}

fn customer_info(tx: &Connection, id: Option<i64>) -> Result<Option<Customer>> {
    id.map(|id| customer(tx, id)).transpose()
}

/// The seed's agent object: `{id, userId, fullName, status}` (plus our `state` and `extension`).
fn agent_json(agent: &Agent) -> serde_json::Value {
    json!({
        "id": agent.id, "userId": agent.user_id, "fullName": agent.full_name, "status": agent.status,
        "state": agent.state, "extension": agent.extension,
    })
}

/// The seed's `incoming_call_to_crm` payload for `call` ringing at `agent_id`.
fn incoming_payload(tx: &Connection, call: &Call, agent_id: i64) -> Result<serde_json::Value> {
    let agent = agent(tx, agent_id)?;
    let customer = customer_info(tx, call.customer_id)?;
    Ok(json!({
        "callId": call.call_id,
        "callerNumber": call.caller_number,
        "calledNumber": call.called_number,
        "assignedAgent": agent_json(&agent),
        "customerInfo": customer,
        "startTime": call.start_time,
        "status": "ringing",
        "source": call.source,
        "queue": call.queue,
    }))
}

/// Offers `call` to the best agent now, if any; writes `incoming_call_to_crm`.
fn offer(
    tx: &Connection,
    call: &Call,
    declined: &[i64],
    now: i64,
    effects: &mut Effects,
) -> Result<bool> {
    let agents = all_agents(tx)?;
    let candidates: Vec<Candidate<'_>> = agents
        .iter()
        .map(|(a, idle_since)| Candidate {
            agent_id: a.id,
            status: a.status,
            state: a.state,
            idle_since: *idle_since,
            queues: &a.queues,
        })
        .collect();
    let Some(agent_id) = pick(&candidates, call.queue.as_deref(), declined) else {
        return Ok(false);
    };
    set_state(tx, agent_id, AgentState::Ringing, now)?;
    tx.run(
        "UPDATE calls SET status = 'ringing', offered_agent_id = ?2, offered_at = ?3 WHERE call_id = ?1",
        params![call.call_id, agent_id, now],
    )?;
    let payload = incoming_payload(tx, call, agent_id)?;
    append(tx, EventKind::IncomingCallToCrm, None, &payload)?;
    effects.events += 1;
    effects.offers.push(Offer {
        call_id: call.call_id.clone(),
        agent_id,
    });
    Ok(true)
}

/// Offers waiting calls, oldest first, while someone can take them.
fn route_waiting(tx: &Connection, now: i64, effects: &mut Effects) -> Result<()> {
    let waiting: Vec<String> = tx
        .prepare_cached(
            "SELECT call_id FROM calls WHERE status = 'queued' ORDER BY started_at, id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for call_id in waiting {
        // A full call center is the common case while calls wait: stop as soon as nobody is free,
        // instead of loading every agent again for every waiting call.
        let anyone_free: bool = tx.row(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE status = 'available' AND state = 'idle')",
            [],
            |r| r.get(0),
        )?;
        if !anyone_free {
            break;
        }
        let (call, declined) = call(tx, &call_id)?;
        // A call nobody can take stays queued; calls of other queues may still find an agent.
        offer(tx, &call, &declined, now, effects)?;
    }
    Ok(())
}

impl Store {
    pub async fn create_agent(&self, new: NewAgent) -> Result<Agent> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            tx.run(
                "INSERT INTO agents (user_id, full_name, extension, queues, idle_since, status_changed_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?5)",
                params![new.user_id, new.full_name, new.extension, serde_json::to_string(&new.queues)?, now],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StorageError::Conflict("that user already is an agent, or the user does not exist".into())
                }
                other => other.into(),
            })?;
            agent(tx, tx.last_insert_rowid())
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
        self.write(move |tx| {
            let before = agent(tx, agent_id)?;
            let mut effects = Effects::default();
            if before.status == status {
                return Ok((before, effects));
            }
            let now = UnixMillis::now().0;
            tx.run(
                "UPDATE agents SET status = ?2, status_changed_at = ?3, updated_at = ?3,
                     idle_since = CASE WHEN ?2 = 'available' THEN ?3 ELSE idle_since END WHERE id = ?1",
                params![agent_id, status.as_str(), now],
            )?;
            append(
                tx,
                EventKind::AgentStatusUpdate,
                None,
                &json!({"agentId": agent_id, "agentName": before.full_name, "status": status, "previousStatus": before.status}),
            )?;
            effects.events += 1;
            if status == AgentStatus::Available {
                route_waiting(tx, now, &mut effects)?;
            }
            Ok((agent(tx, agent_id)?, effects))
        })
        .await
    }

    /// A call arrives: refused if the number is blocked, otherwise matched to a customer and offered to
    /// the longest-idle available agent, or queued when nobody is.
    pub async fn new_call(&self, new: NewCall) -> Result<NewCallOutcome> {
        self.write(move |tx| {
            match call(tx, &new.call_id) {
                Ok((existing, _)) => return Ok(NewCallOutcome::Duplicate { call: existing }),
                Err(StorageError::UnknownCall(_)) => {}
                Err(error) => return Err(error),
            }
            let blocked: Option<String> = tx
                .row("SELECT reason FROM blocked_numbers WHERE number = ?1", [&new.caller_normalized], |r| r.get(0))
                .optional()?;
            let outbound = new.direction == "out";
            if let Some(reason) = blocked.filter(|_| !outbound) {
                return Ok(NewCallOutcome::Blocked { reason });
            }
            let customer_id: Option<i64> = tx
                .row(
                    "SELECT customer_id FROM customer_phones WHERE number = ?1 ORDER BY customer_id LIMIT 1",
                    [&new.caller_normalized],
                    |r| r.get(0),
                )
                .optional()?;
            let now = UnixMillis::now().0;
            // An outbound call rings at the customer from the start, held by the agent who dialled it:
            // nobody else is offered it and no timer runs until the phone system reports its answer or
            // hangup. An inbound one waits until `offer` finds an agent.
            let (status, holder) = if outbound { ("ringing", new.agent_id) } else { ("queued", None) };
            if let Some(agent_id) = holder {
                agent(tx, agent_id)?;
            }
            tx.run(
                "INSERT INTO calls (call_id, direction, caller_number, caller_normalized, called_number, queue, source,
                                    customer_id, status, started_at, offered_agent_id, offered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CASE WHEN ?11 IS NULL THEN NULL ELSE ?10 END)",
                params![
                    new.call_id,
                    new.direction,
                    new.caller_number,
                    new.caller_normalized,
                    new.called_number,
                    new.queue,
                    new.source,
                    customer_id,
                    status,
                    now,
                    holder
                ],
            )?;
            let mut effects = Effects::default();
            let (inserted, _) = call(tx, &new.call_id)?;
            match holder {
                Some(agent_id) => set_state(tx, agent_id, AgentState::Ringing, now)?,
                None if !outbound => {
                    offer(tx, &inserted, &[], now, &mut effects)?;
                }
                None => {}
            }
            // An offer changed the row; otherwise it is as inserted.
            let call = if effects.offers.is_empty() { inserted } else { call(tx, &new.call_id)?.0 };
            Ok(NewCallOutcome::Accepted { call, effects })
        })
        .await
    }

    /// An agent answers. The first answer wins; a later one is a conflict naming who has the call.
    pub async fn answer_call(&self, call_id: &str, agent_id: i64) -> Result<(Call, Effects)> {
        let call_id = call_id.to_owned();
        self.write(move |tx| {
            let (current, _) = call(tx, &call_id)?;
            agent(tx, agent_id)?;
            match current.status.as_str() {
                "connected" => return Err(StorageError::CallTaken(call_id)),
                "ended" => return Err(StorageError::CallEnded(call_id)),
                _ => {}
            }
            let now = UnixMillis::now().0;
            tx.run(
                // The call is now with the agent who answered: `offered_agent_id` always names the agent a
                // live call is with, so ending it (and checking who may end it) needs no special case.
                "UPDATE calls SET status = 'connected', answered_by = ?2, answered_at = ?3, offered_agent_id = ?2
                 WHERE call_id = ?1",
                params![call_id, agent_id, now],
            )?;
            if let Some(offered) = current.offered_agent_id.filter(|id| *id != agent_id) {
                set_state(tx, offered, AgentState::Idle, now)?;
            }
            set_state(tx, agent_id, AgentState::OnCall, now)?;
            let customer = customer_info(tx, current.customer_id)?;
            append(
                tx,
                EventKind::CallAnswered,
                None,
                &json!({
                    "call": {"callId": call_id, "status": "connected", "agentInfo": agent_json(&agent(tx, agent_id)?),
                             "customerInfo": customer},
                    "message": LANG.call_connected(),
                }),
            )?;
            let mut effects = Effects { events: 1, ..Effects::default() };
            // The agent who was offered it is free again; another waiting call may be theirs.
            route_waiting(tx, now, &mut effects)?;
            Ok((call(tx, &call_id)?.0, effects))
        })
        .await
    }

    /// The call ends (hung up, rejected, given up). Unanswered calls are marked missed.
    ///
    /// With `wrap_up`, the agent who talked goes into wrap-up (no offers) until [`Store::finish_wrap_up`];
    /// the role times it. Without, they are idle at once.
    pub async fn end_call(
        &self,
        call_id: &str,
        reason: &str,
        wrap_up: bool,
    ) -> Result<(Call, Effects)> {
        let (call_id, reason) = (call_id.to_owned(), reason.to_owned());
        self.write(move |tx| {
            let (current, _) = call(tx, &call_id)?;
            if current.status == "ended" {
                return Err(StorageError::CallEnded(call_id));
            }
            let now = UnixMillis::now().0;
            // An outbound call nobody picked up is not one the call center missed.
            let missed = current.answered_by.is_none() && current.direction == "in";
            tx.run(
                "UPDATE calls SET status = 'ended', ended_at = ?2, end_reason = ?3, missed = ?4 WHERE call_id = ?1",
                params![call_id, now, reason, missed],
            )?;
            let mut effects = Effects { events: 1, ..Effects::default() };
            // The agent the call is with: wrapping up after talking, otherwise free at once.
            if let Some(agent_id) = current.offered_agent_id {
                if wrap_up && current.answered_by.is_some() {
                    set_state(tx, agent_id, AgentState::WrapUp, now)?;
                    effects.wrap_ups.push(agent_id);
                } else {
                    set_state(tx, agent_id, AgentState::Idle, now)?;
                }
            }
            let ended = call(tx, &call_id)?.0;
            append(
                tx,
                EventKind::CallEnded,
                None,
                &json!({"callId": call_id, "endReason": reason, "duration": ended.talk_seconds, "message": LANG.call_ended()}),
            )?;
            route_waiting(tx, now, &mut effects)?;
            Ok((ended, effects))
        })
        .await
    }

    /// An agent's wrap-up time is over: they are idle, and waiting calls may be theirs. Nothing happens
    /// if they are no longer wrapping up.
    pub async fn finish_wrap_up(&self, agent_id: i64) -> Result<Effects> {
        self.write(move |tx| {
            let mut effects = Effects::default();
            if agent(tx, agent_id)?.state != AgentState::WrapUp {
                return Ok(effects);
            }
            let now = UnixMillis::now().0;
            set_state(tx, agent_id, AgentState::Idle, now)?;
            route_waiting(tx, now, &mut effects)?;
            Ok(effects)
        })
        .await
    }

    /// Agents in wrap-up now, to time after a restart.
    pub async fn agents_in_wrap_up(&self) -> Result<Vec<Agent>> {
        self.read(|tx| {
            let ids = tx
                .prepare_cached("SELECT id FROM agents WHERE state = 'wrap_up'")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            ids.into_iter().map(|id| agent(tx, id)).collect()
        })
        .await
    }

    /// The ring timer of an offer ran out: the call moves on to the next agent, or waits.
    /// Nothing happens if the offer is no longer current (answered, ended, or offered elsewhere).
    pub async fn ring_timeout(&self, expired: Offer) -> Result<Effects> {
        self.write(move |tx| {
            let (current, mut declined) = call(tx, &expired.call_id)?;
            let mut effects = Effects::default();
            if current.status != "ringing" || current.offered_agent_id != Some(expired.agent_id) {
                return Ok(effects);
            }
            let now = UnixMillis::now().0;
            declined.push(expired.agent_id);
            tx.run(
                "UPDATE calls SET status = 'queued', offered_agent_id = NULL, declined_agents = ?2 WHERE call_id = ?1",
                params![expired.call_id, serde_json::to_string(&declined)?],
            )?;
            set_state(tx, expired.agent_id, AgentState::Idle, now)?;
            let (queued, declined) = call(tx, &expired.call_id)?;
            offer(tx, &queued, &declined, now, &mut effects)?;
            Ok(effects)
        })
        .await
    }

    pub async fn call(&self, call_id: &str) -> Result<Call> {
        let call_id = call_id.to_owned();
        self.read(move |tx| Ok(call(tx, &call_id)?.0)).await
    }

    /// Calls ringing at an agent: each offer (to restart its ring timer after a restart), when it was
    /// made, and the `incoming_call_to_crm` payload a console that (re)connects is shown.
    pub async fn ringing_calls(&self) -> Result<Vec<RingingCall>> {
        self.read(|tx| {
            let rows = tx
                .prepare_cached(
                    "SELECT call_id, offered_agent_id, offered_at FROM calls
                     WHERE status = 'ringing' AND direction = 'in' AND offered_agent_id IS NOT NULL
                     ORDER BY started_at, id",
                )?
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(call_id, agent_id, offered_at)| {
                    let (current, _) = call(tx, &call_id)?;
                    Ok(RingingCall {
                        payload: incoming_payload(tx, &current, agent_id)?,
                        offered_at: UnixMillis(offered_at.unwrap_or(current.start_time.0)),
                        offer: Offer { call_id, agent_id },
                    })
                })
                .collect()
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
                .row(
                    &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE user_id = ?1"),
                    [user_id],
                    agent_from_row,
                )
                .optional()?
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
            tx.run(
                "UPDATE agents SET full_name = ?2, extension = ?3, queues = ?4, updated_at = ?5 WHERE id = ?1",
                params![
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

    pub async fn unblock_number(&self, number: &str) -> Result<bool> {
        let number = number.to_owned();
        self.write(move |tx| {
            Ok(tx.run("DELETE FROM blocked_numbers WHERE number = ?1", [number])? > 0)
        })
        .await
    }

    pub async fn blocked_numbers(&self) -> Result<Vec<BlockedNumber>> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT number, reason, created_at FROM blocked_numbers ORDER BY number",
                )?
                .query_map([], |r| {
                    Ok(BlockedNumber {
                        number: r.get(0)?,
                        reason: r.get(1)?,
                        created_at: UnixMillis(r.get(2)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    pub async fn block_number(&self, number: &str, reason: &str) -> Result<()> {
        let (number, reason) = (number.to_owned(), reason.to_owned());
        self.write(move |tx| {
            tx.run(
                "INSERT INTO blocked_numbers (number, reason, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (number) DO UPDATE SET reason = excluded.reason",
                params![number, reason, UnixMillis::now().0],
            )?;
            Ok(())
        })
        .await
    }
}

/// A call ringing at an agent now.
#[derive(Debug, Clone)]
pub struct RingingCall {
    pub offer: Offer,
    pub offered_at: UnixMillis,
    pub payload: serde_json::Value,
}

/// Changes to an agent (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct AgentChanges {
    pub full_name: Option<String>,
    pub extension: Option<String>,
    pub queues: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedNumber {
    pub number: String,
    pub reason: String,
    pub created_at: UnixMillis,
}

/// Filters of the call log (`GET /api/calls`). Every field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Calls that started at or after this time.
    pub from: Option<UnixMillis>,
    /// Calls that started before this time.
    pub until: Option<UnixMillis>,
    /// Calls answered by, or last offered to, this agent.
    pub agent_id: Option<i64>,
    /// Calls from a number containing these digits (`domain::phone::search_digits`).
    pub number_digits: Option<String>,
    /// Only missed (`true`) or only answered (`false`) calls.
    pub missed: Option<bool>,
}

/// Counts for `GET /api/call-center/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallCenterStatus {
    pub agents_total: i64,
    pub agents_available: i64,
    pub agents_busy: i64,
    pub agents_away: i64,
    pub agents_offline: i64,
    pub agents_on_call: i64,
    pub calls_ringing: i64,
    pub calls_waiting: i64,
    pub calls_connected: i64,
}

impl Store {
    /// The call log, newest first, a page at a time (`cursor` is the `next_cursor` of the last page).
    pub async fn calls(
        &self,
        filter: CallFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<crate::Page<Call>> {
        let before = crate::inbox::parse_cursor(cursor)?;
        let limit = limit.clamp(1, 200);
        self.read_long(move |tx| {
            let digits = filter
                .number_digits
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| format!("%{d}%"));
            let mut statement = tx.prepare_cached(&format!(
                "SELECT {CALL_COLUMNS}, id FROM calls
                 WHERE (started_at < ?1 OR (started_at = ?1 AND id < ?2))
                   AND started_at >= ?3 AND started_at < ?4
                   AND (?5 IS NULL OR answered_by = ?5 OR offered_agent_id = ?5)
                   AND (?6 IS NULL OR caller_normalized LIKE ?6)
                   AND (?7 IS NULL OR missed = ?7)
                 ORDER BY started_at DESC, id DESC LIMIT {}",
                limit + 1
            ))?;
            let rows = statement.query_map(
                params![
                    before.0,
                    before.1,
                    filter.from.map_or(i64::MIN, |t| t.0),
                    filter.until.map_or(i64::MAX, |t| t.0),
                    filter.agent_id,
                    digits,
                    filter.missed
                ],
                |r| Ok((call_from_row(r)?.0, r.get::<_, i64>(16)?)),
            )?;
            let items = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let page = crate::inbox::page(items, limit, |(call, id)| (call.start_time.0, *id));
            Ok(crate::Page {
                items: page.items.into_iter().map(|(call, _)| call).collect(),
                next_cursor: page.next_cursor,
            })
        })
        .await
    }

    pub async fn call_center_status(&self) -> Result<CallCenterStatus> {
        self.read(|tx| {
            let mut status = CallCenterStatus::default();
            for (agent, _) in all_agents(tx)? {
                status.agents_total += 1;
                match agent.status {
                    AgentStatus::Available => status.agents_available += 1,
                    AgentStatus::Busy => status.agents_busy += 1,
                    AgentStatus::Away => status.agents_away += 1,
                    AgentStatus::Offline => status.agents_offline += 1,
                }
                if agent.state == AgentState::OnCall {
                    status.agents_on_call += 1;
                }
            }
            let mut statement = tx.prepare_cached(
                "SELECT status, COUNT(*) FROM calls WHERE status IN ('queued', 'ringing', 'connected') GROUP BY status",
            )?;
            let rows =
                statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (call_status, count) = row?;
                match call_status.as_str() {
                    "ringing" => status.calls_ringing = count,
                    "queued" => status.calls_waiting = count,
                    "connected" => status.calls_connected = count,
                    _ => {}
                }
            }
            Ok(status)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .expect("open");
        (dir, store)
    }

    async fn available_agent(store: &Store, name: &str) -> Agent {
        let agent = store
            .create_agent(NewAgent {
                full_name: name.into(),
                ..Default::default()
            })
            .await
            .expect("agent");
        store
            .set_agent_status(agent.id, AgentStatus::Available)
            .await
            .expect("status")
            .0
    }

    fn call(id: &str, from: &str) -> NewCall {
        NewCall {
            call_id: id.into(),
            caller_number: from.into(),
            caller_normalized: switchboard_domain::phone::normalize(from).expect("number"),
            called_number: "1900".into(),
            direction: "in".into(),
            queue: None,
            source: "cti".into(),
            agent_id: None,
        }
    }

    fn accepted(outcome: NewCallOutcome) -> (Call, Effects) {
        match outcome {
            NewCallOutcome::Accepted { call, effects } => (call, effects),
            other => panic!("expected an accepted call, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_call_rings_at_the_longest_idle_agent_with_the_seeds_payload() {
        let (_dir, store) = store().await;
        let first = available_agent(&store, "Agent Một").await;
        available_agent(&store, "Agent Hai").await;
        let customer = store
            .create_customer(
                switchboard_domain::customer::CustomerIn {
                    full_name: Some("Nguyễn Văn A".into()),
                    phone_number: Some("0912345678".into()),
                    cif: Some("CIF001230022".into()),
                    ..Default::default()
                }
                .validate()
                .expect("valid"),
            )
            .await
            .expect("customer");
        let (ringing, effects) = accepted(
            store
                .new_call(call("CALL_1", "+84 912 345 678"))
                .await
                .expect("call"),
        );
        assert_eq!(ringing.status, "ringing");
        assert_eq!(
            effects.offers,
            [Offer {
                call_id: "CALL_1".into(),
                agent_id: first.id
            }]
        );
        let events = store.events_after(0, 100).await.expect("events");
        let incoming = events
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::IncomingCallToCrm)
            .expect("incoming");
        let payload = incoming.json().expect("json");
        assert_eq!(payload["callId"], "CALL_1");
        assert_eq!(payload["callerNumber"], "+84 912 345 678");
        assert_eq!(payload["calledNumber"], "1900");
        assert_eq!(payload["status"], "ringing");
        assert_eq!(payload["assignedAgent"]["fullName"], "Agent Một");
        assert_eq!(payload["assignedAgent"]["status"], "available");
        assert_eq!(payload["customerInfo"]["id"], customer.id);
        assert_eq!(payload["customerInfo"]["cif"], "CIF001230022");
        assert_eq!(payload["customerInfo"]["phoneNumber"], "+84912345678");
    }

    #[tokio::test]
    async fn the_first_answer_wins_and_the_log_keeps_times() {
        let (_dir, store) = store().await;
        let one = available_agent(&store, "Một").await;
        let two = available_agent(&store, "Hai").await;
        accepted(
            store
                .new_call(call("C1", "0987654321"))
                .await
                .expect("call"),
        );
        let (answered, _) = store.answer_call("C1", two.id).await.expect("answer");
        assert_eq!(
            (answered.status.as_str(), answered.answered_by),
            ("connected", Some(two.id))
        );
        assert!(matches!(
            store.answer_call("C1", one.id).await,
            Err(StorageError::CallTaken(_))
        ));
        let agents = store.agents().await.expect("agents");
        let state = |id| agents.iter().find(|a| a.id == id).map(|a| a.state);
        assert_eq!(
            (state(one.id), state(two.id)),
            (Some(AgentState::Idle), Some(AgentState::OnCall))
        );
        let (ended, _) = store
            .end_call("C1", "customer_hangup", false)
            .await
            .expect("end");
        assert_eq!((ended.status.as_str(), ended.missed), ("ended", false));
        assert!(matches!(
            store.end_call("C1", "again", false).await,
            Err(StorageError::CallEnded(_))
        ));
        let events = store.events_after(0, 100).await.expect("events");
        let ended_event = events
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::CallEnded)
            .expect("ended")
            .json()
            .expect("json");
        assert_eq!(ended_event["message"], "Cuộc gọi đã kết thúc");
        assert!(ended_event["duration"].as_i64().is_some());
    }

    #[tokio::test]
    async fn ring_outs_move_on_then_wait_and_away_agents_get_nothing() {
        let (_dir, store) = store().await;
        let one = available_agent(&store, "Một").await;
        let two = available_agent(&store, "Hai").await;
        let away = available_agent(&store, "Ba").await;
        store
            .set_agent_status(away.id, AgentStatus::Away)
            .await
            .expect("away");
        let (_, effects) = accepted(
            store
                .new_call(call("C1", "0987654321"))
                .await
                .expect("call"),
        );
        assert_eq!(effects.offers[0].agent_id, one.id);
        let moved = store
            .ring_timeout(effects.offers[0].clone())
            .await
            .expect("timeout");
        assert_eq!(
            moved.offers,
            [Offer {
                call_id: "C1".into(),
                agent_id: two.id
            }]
        );
        // A stale timer (the offer moved on) changes nothing.
        assert_eq!(
            store
                .ring_timeout(effects.offers[0].clone())
                .await
                .expect("stale"),
            Effects::default()
        );
        // Both busy elsewhere: the next call waits, and goes to whoever becomes free first.
        store
            .set_agent_status(one.id, AgentStatus::Busy)
            .await
            .expect("busy");
        let (waiting, effects) = accepted(
            store
                .new_call(call("C2", "0911111111"))
                .await
                .expect("call"),
        );
        assert_eq!(
            (waiting.status.as_str(), effects.offers.len()),
            ("queued", 0)
        );
        let (_, effects) = store
            .set_agent_status(one.id, AgentStatus::Available)
            .await
            .expect("back");
        assert_eq!(
            effects.offers,
            [Offer {
                call_id: "C2".into(),
                agent_id: one.id
            }]
        );
        let (missed, _) = store.end_call("C1", "cancel", false).await.expect("end");
        assert!(missed.missed);
    }

    #[tokio::test]
    async fn blocked_and_repeated_calls() {
        let (_dir, store) = store().await;
        store
            .block_number("+84911111111", "spam")
            .await
            .expect("block");
        assert_eq!(
            store
                .new_call(call("C1", "0911 111 111"))
                .await
                .expect("call"),
            NewCallOutcome::Blocked {
                reason: "spam".into()
            }
        );
        accepted(
            store
                .new_call(call("C2", "0922222222"))
                .await
                .expect("call"),
        );
        assert!(matches!(
            store
                .new_call(call("C2", "0922222222"))
                .await
                .expect("again"),
            NewCallOutcome::Duplicate { .. }
        ));
        assert!(matches!(
            store.answer_call("nope", 1).await,
            Err(StorageError::UnknownCall(_))
        ));
    }

    #[tokio::test]
    async fn the_call_log_filters_by_number_agent_and_missed() {
        let (_dir, store) = store().await;
        let one = available_agent(&store, "Một").await;
        for (id, from) in [
            ("A", "0912345678"),
            ("B", "0987654321"),
            ("C", "0912000111"),
        ] {
            accepted(store.new_call(call(id, from)).await.expect("call"));
            if id == "B" {
                store.answer_call(id, one.id).await.expect("answer");
            }
            store.end_call(id, "hangup", false).await.expect("end");
        }
        let all = store
            .calls(CallFilter::default(), None, 2)
            .await
            .expect("log");
        assert_eq!(
            all.items
                .iter()
                .map(|c| c.call_id.as_str())
                .collect::<Vec<_>>(),
            ["C", "B"]
        );
        let rest = store
            .calls(CallFilter::default(), all.next_cursor.as_deref(), 2)
            .await
            .expect("page 2");
        assert_eq!(
            rest.items
                .iter()
                .map(|c| c.call_id.as_str())
                .collect::<Vec<_>>(),
            ["A"]
        );
        let missed = store
            .calls(
                CallFilter {
                    missed: Some(true),
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .expect("missed");
        assert_eq!(missed.items.len(), 2);
        let by_number = CallFilter {
            number_digits: Some(switchboard_domain::phone::search_digits("0912")),
            ..Default::default()
        };
        assert_eq!(
            store
                .calls(by_number, None, 10)
                .await
                .expect("number")
                .items
                .len(),
            2
        );
        let by_agent = CallFilter {
            agent_id: Some(one.id),
            missed: Some(false),
            ..Default::default()
        };
        assert_eq!(
            store.calls(by_agent, None, 10).await.expect("agent").items[0].call_id,
            "B"
        );
        let status = store.call_center_status().await.expect("status");
        assert_eq!(
            (
                status.agents_total,
                status.agents_available,
                status.calls_ringing
            ),
            (1, 1, 0)
        );
    }
}
