//! A call's way through the call center: it arrives, is offered to the longest-idle agent (or waits),
//! is answered (the first answer wins) and ends; ring-outs and wrap-ups move it and its agents on.

use super::agents::{agent, all_agents, set_state};
use super::{Agent, Call, Effects, LANG, NewCall, NewCallOutcome, Offer};
use crate::customers::{Customer, customer};
use crate::events::append;
use crate::sql::{Row, Tx, args};
use crate::{CallTimers, Result, StorageError, Store};
use serde_json::json;
use switchboard_domain::routing::{AgentState, Candidate, pick};
use switchboard_domain::{CallStatus, EventKind, UnixMillis};

pub(super) const CALL_COLUMNS: &str = "call_id, direction, caller_number, called_number, queue, source, status, customer_id,
     offered_agent_id, answered_by, started_at, answered_at, ended_at, end_reason, missed, declined_agents,
     outcome_code, outcome_note, recording_url, transferred_from";

pub(super) fn call_from_row(r: &Row<'_>) -> Result<(Call, Vec<i64>)> {
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
            outcome: r.get(16)?,
            outcome_note: r.get(17)?,
            recording_url: r.get(18)?,
            transferred_from: r.get(19)?,
        },
        serde_json::from_str(&declined)?,
    ))
}

/// A call as the log shows it.
pub(super) fn call_by_id(tx: &Tx<'_>, call_id: &str) -> Result<Call> {
    Ok(call(tx, call_id)?.0)
}

fn call(tx: &Tx<'_>, call_id: &str) -> Result<(Call, Vec<i64>)> {
    tx.optional(
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?1"),
        args![call_id],
        call_from_row,
    )?
    .ok_or_else(|| StorageError::UnknownCall(call_id.to_owned()))
}

fn customer_info(tx: &Tx<'_>, id: Option<i64>) -> Result<Option<Customer>> {
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
fn incoming_payload(tx: &Tx<'_>, call: &Call, agent_id: i64) -> Result<serde_json::Value> {
    let agent = agent(tx, agent_id)?;
    let customer = customer_info(tx, call.customer_id)?;
    Ok(json!({
        "callId": call.call_id,
        "callerNumber": call.caller_number,
        "calledNumber": call.called_number,
        "assignedAgent": agent_json(&agent),
        "customerInfo": customer,
        "startTime": call.start_time,
        "status": CallStatus::Ringing,
        "source": call.source,
        "queue": call.queue,
    }))
}

/// Offers `call` to the best agent now, if any, until its ring timeout (stored, so that any node rings
/// it out); writes `incoming_call_to_crm`.
fn offer(
    tx: &Tx<'_>,
    call: &Call,
    declined: &[i64],
    (now, timers): (i64, CallTimers),
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
    tx.execute(
        "UPDATE calls SET status = ?2, offered_agent_id = ?3, offered_at = ?4, ring_due_at = ?5 WHERE call_id = ?1",
        args![call.call_id, CallStatus::Ringing, agent_id, now, timers.ring_due(now)],
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
pub(super) fn route_waiting(
    tx: &Tx<'_>,
    clock: (i64, CallTimers),
    effects: &mut Effects,
) -> Result<()> {
    let waiting = tx.rows(
        "SELECT call_id FROM calls WHERE status = 'queued' ORDER BY started_at, id",
        args![],
        |r| r.get::<String>(0),
    )?;
    for call_id in waiting {
        // A full call center is the common case while calls wait: stop as soon as nobody is free,
        // instead of loading every agent again for every waiting call.
        let anyone_free: bool = tx.one(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE status = 'available' AND state = 'idle')",
            args![],
            |r| r.get(0),
        )?;
        if !anyone_free {
            break;
        }
        let (call, declined) = call(tx, &call_id)?;
        // A call nobody can take stays queued; calls of other queues may still find an agent.
        offer(tx, &call, &declined, clock, effects)?;
    }
    Ok(())
}

impl Store {
    /// A call arrives: refused if the number is blocked, otherwise matched to a customer and offered to
    /// the longest-idle available agent, or queued when nobody is.
    pub async fn new_call(&self, new: NewCall) -> Result<NewCallOutcome> {
        let timers = self.call_timers();
        self.write(move |tx| {
            match call(tx, &new.call_id) {
                Ok((existing, _)) => return Ok(NewCallOutcome::Duplicate { call: existing }),
                Err(StorageError::UnknownCall(_)) => {}
                Err(error) => return Err(error),
            }
            let blocked: Option<String> = tx.optional("SELECT reason FROM blocked_numbers WHERE number = ?1", args![&new.caller_normalized], |r| r.get(0))?;
            let outbound = new.direction == "out";
            if let Some(reason) = blocked.filter(|_| !outbound) {
                return Ok(NewCallOutcome::Blocked { reason });
            }
            let customer_id: Option<i64> = tx.optional(
                    "SELECT customer_id FROM customer_phones WHERE number = ?1 ORDER BY customer_id LIMIT 1", args![&new.caller_normalized],
                    |r| r.get(0),
                )?;
            let now = UnixMillis::now().0;
            // An outbound call rings at the customer from the start, held by the agent who dialled it:
            // nobody else is offered it and no timer runs until the phone system reports its answer or
            // hangup. An inbound one waits until `offer` finds an agent.
            let (status, holder) =
                if outbound { (CallStatus::Ringing, new.agent_id) } else { (CallStatus::Queued, None) };
            if let Some(agent_id) = holder {
                agent(tx, agent_id)?;
            }
            tx.execute(
                "INSERT INTO calls (call_id, direction, caller_number, caller_normalized, called_number, queue, source,
                                    customer_id, status, started_at, offered_agent_id, offered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CASE WHEN CAST(?11 AS BIGINT) IS NULL THEN NULL ELSE CAST(?10 AS BIGINT) END)",
                args![
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
                    offer(tx, &inserted, &[], (now, timers), &mut effects)?;
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
        let timers = self.call_timers();
        self.write(move |tx| {
            let (current, _) = call(tx, &call_id)?;
            agent(tx, agent_id)?;
            match current.status {
                CallStatus::Connected => return Err(StorageError::CallTaken(call_id)),
                CallStatus::Ended => return Err(StorageError::CallEnded(call_id)),
                CallStatus::Queued | CallStatus::Ringing => {}
            }
            let now = UnixMillis::now().0;
            tx.execute(
                // The call is now with the agent who answered: `offered_agent_id` always names the agent a
                // live call is with, so ending it (and checking who may end it) needs no special case.
                "UPDATE calls SET status = ?2, answered_by = ?3, answered_at = ?4, offered_agent_id = ?3,
                     ring_due_at = NULL
                 WHERE call_id = ?1",
                args![call_id, CallStatus::Connected, agent_id, now],
            )?;
            if let Some(offered) = current.offered_agent_id.filter(|id| *id != agent_id) {
                set_state(tx, offered, AgentState::Idle, now)?;
            }
            set_state(tx, agent_id, AgentState::OnCall, now)?;
            tx.execute("UPDATE agents SET ring_outs_in_row = 0 WHERE id = ?1", args![agent_id])?;
            let customer = customer_info(tx, current.customer_id)?;
            append(
                tx,
                EventKind::CallAnswered,
                None,
                &json!({
                    "call": {"callId": call_id, "status": CallStatus::Connected, "agentInfo": agent_json(&agent(tx, agent_id)?),
                             "customerInfo": customer},
                    "message": LANG.call_connected(),
                }),
            )?;
            let mut effects = Effects { events: 1, ..Effects::default() };
            // The agent who was offered it is free again; another waiting call may be theirs.
            route_waiting(tx, (now, timers), &mut effects)?;
            Ok((call(tx, &call_id)?.0, effects))
        })
        .await
    }

    /// The phone system reports a connected call answered by another agent: it was transferred. The
    /// agent it leaves is free (after wrap-up), the one it reaches is on the call, and every console
    /// hears `call_answered` naming both.
    pub async fn transfer_call(&self, call_id: &str, to_agent: i64) -> Result<(Call, Effects)> {
        let call_id = call_id.to_owned();
        let timers = self.call_timers();
        self.write(move |tx| {
            let (current, _) = call(tx, &call_id)?;
            if current.status != CallStatus::Connected {
                return Err(StorageError::CallEnded(call_id));
            }
            let to = agent(tx, to_agent)?;
            let from = current.answered_by.filter(|id| *id != to_agent);
            let Some(from) = from else {
                return Ok((current, Effects::default()));
            };
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE calls SET answered_by = ?2, offered_agent_id = ?2, transferred_from = ?3 WHERE call_id = ?1",
                args![call_id, to_agent, from],
            )?;
            let mut effects = Effects { events: 1, ..Effects::default() };
            match timers.wrap_up_due(now) {
                Some(due) => {
                    set_state(tx, from, AgentState::WrapUp, now)?;
                    tx.execute("UPDATE agents SET wrap_up_due_at = ?2 WHERE id = ?1", args![from, due])?;
                    effects.wrap_ups.push(from);
                }
                None => set_state(tx, from, AgentState::Idle, now)?,
            }
            set_state(tx, to_agent, AgentState::OnCall, now)?;
            let customer = customer_info(tx, current.customer_id)?;
            append(
                tx,
                EventKind::CallAnswered,
                None,
                &json!({
                    "call": {"callId": call_id, "status": CallStatus::Connected, "agentInfo": agent_json(&to),
                             "customerInfo": customer, "transferredFrom": from},
                    "message": LANG.call_connected(),
                }),
            )?;
            route_waiting(tx, (now, timers), &mut effects)?;
            Ok((call(tx, &call_id)?.0, effects))
        })
        .await
    }

    /// The call ends (hung up, rejected, given up). Unanswered calls are marked missed.
    ///
    /// With a wrap-up time (see [`CallTimers`]), the agent who talked goes into wrap-up (no offers)
    /// until [`Store::finish_wrap_up`] at its stored due moment. Without, they are idle at once.
    pub async fn end_call(&self, call_id: &str, reason: &str) -> Result<(Call, Effects)> {
        let (call_id, reason) = (call_id.to_owned(), reason.to_owned());
        let timers = self.call_timers();
        let rules = self.report_rules();
        self.write(move |tx| {
            let (current, _) = call(tx, &call_id)?;
            if current.status == CallStatus::Ended {
                return Err(StorageError::CallEnded(call_id));
            }
            let now = UnixMillis::now().0;
            // An outbound call nobody picked up is not one the call center missed.
            let missed = current.answered_by.is_none() && current.direction == "in";
            tx.execute(
                "UPDATE calls SET status = ?2, ended_at = ?3, end_reason = ?4, missed = ?5, ring_due_at = NULL
                 WHERE call_id = ?1",
                args![call_id, CallStatus::Ended, now, reason, missed],
            )?;
            let mut effects = Effects { events: 1, ..Effects::default() };
            // The agent the call is with: wrapping up after talking, otherwise free at once.
            if let Some(agent_id) = current.offered_agent_id {
                match timers.wrap_up_due(now).filter(|_| current.answered_by.is_some()) {
                    Some(due) => {
                        set_state(tx, agent_id, AgentState::WrapUp, now)?;
                        tx.execute("UPDATE agents SET wrap_up_due_at = ?2 WHERE id = ?1", args![agent_id, due])?;
                        effects.wrap_ups.push(agent_id);
                    }
                    None => set_state(tx, agent_id, AgentState::Idle, now)?,
                }
            }
            let ended = call(tx, &call_id)?.0;
            super::reports::call_ended(tx, &ended, &rules)?;
            if missed {
                let normalized: String = tx.one(
                    "SELECT caller_normalized FROM calls WHERE call_id = ?1",
                    args![call_id],
                    |r| r.get(0),
                )?;
                super::callbacks::missed(tx, &ended, &normalized, now)?;
                effects.events += 1;
            }
            append(
                tx,
                EventKind::CallEnded,
                None,
                &json!({"callId": call_id, "endReason": reason, "duration": ended.talk_seconds, "message": LANG.call_ended()}),
            )?;
            route_waiting(tx, (now, timers), &mut effects)?;
            Ok((ended, effects))
        })
        .await
    }

    /// An agent's wrap-up time is over: they are idle, and waiting calls may be theirs. Nothing happens
    /// if they are no longer wrapping up, or if their wrap-up is not due yet (a newer one began since
    /// the timer that fires was started): any node may fire it, any number of times.
    pub async fn finish_wrap_up(&self, agent_id: i64) -> Result<Effects> {
        let timers = self.call_timers();
        self.write(move |tx| {
            let mut effects = Effects::default();
            let now = UnixMillis::now().0;
            let due: Option<i64> = tx.one(
                "SELECT wrap_up_due_at FROM agents WHERE id = ?1",
                args![agent_id],
                |r| r.get(0),
            )?;
            if agent(tx, agent_id)?.state != AgentState::WrapUp || due.is_some_and(|due| due > now)
            {
                return Ok(effects);
            }
            set_state(tx, agent_id, AgentState::Idle, now)?;
            route_waiting(tx, (now, timers), &mut effects)?;
            Ok(effects)
        })
        .await
    }

    /// The ring timer of an offer ran out: the call moves on to the next agent, or waits.
    /// Nothing happens if the offer is no longer current (answered, ended, or offered elsewhere), or
    /// if it is not due yet: the same agent may have been offered the call again since (when nobody
    /// else is free) and that new offer rings its full time, whichever node's timer fires now and
    /// however many fire.
    pub async fn ring_timeout(&self, expired: Offer) -> Result<Effects> {
        let timers = self.call_timers();
        let rules = self.report_rules();
        self.write(move |tx| {
            let (current, mut declined) = call(tx, &expired.call_id)?;
            let mut effects = Effects::default();
            if current.status != CallStatus::Ringing || current.offered_agent_id != Some(expired.agent_id) {
                return Ok(effects);
            }
            let now = UnixMillis::now().0;
            let due: Option<i64> = tx.one(
                "SELECT ring_due_at FROM calls WHERE call_id = ?1",
                args![expired.call_id],
                |r| r.get(0),
            )?;
            if due.is_some_and(|due| due > now) {
                return Ok(effects);
            }
            declined.push(expired.agent_id);
            tx.execute(
                "UPDATE calls SET status = ?2, offered_agent_id = NULL, declined_agents = ?3, ring_due_at = NULL
                 WHERE call_id = ?1",
                args![expired.call_id, CallStatus::Queued, serde_json::to_string(&declined)?],
            )?;
            set_state(tx, expired.agent_id, AgentState::Idle, now)?;
            super::agents::rang_out(tx, expired.agent_id, &current, (now, timers.max_no_answer), &mut effects)?;
            let ring_out = switchboard_domain::reports::CallTally { ring_outs: 1, ..Default::default() };
            let day = rules.day_of(UnixMillis(now));
            super::reports::add_to_stats(tx, (&day, current.queue.as_deref(), Some(expired.agent_id)), &ring_out)?;
            let (queued, declined) = call(tx, &expired.call_id)?;
            offer(tx, &queued, &declined, (now, timers), &mut effects)?;
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
            let rows = tx.rows(
                "SELECT call_id, offered_agent_id, offered_at FROM calls
                 WHERE status = 'ringing' AND direction = 'in' AND offered_agent_id IS NOT NULL
                 ORDER BY started_at, id",
                args![],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<i64>(1)?,
                        r.get::<Option<i64>>(2)?,
                    ))
                },
            )?;
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
}

impl Store {
    /// The ring and wrap-up timers due by `due_by`, whoever started them, each with its due moment: a
    /// call-center node fires those overdue (the node that started them may have died) and times the
    /// others after a restart. Both come from indexes on the due moments.
    pub async fn pending_timers(&self, due_by: UnixMillis) -> Result<PendingTimers> {
        self.read(move |tx| {
            let offers = tx.rows(
                "SELECT call_id, offered_agent_id, ring_due_at FROM calls
                 WHERE ring_due_at <= ?1 AND status = 'ringing' AND offered_agent_id IS NOT NULL
                 ORDER BY ring_due_at",
                args![due_by],
                |r| Ok((Offer { call_id: r.get(0)?, agent_id: r.get(1)? }, UnixMillis(r.get(2)?))),
            )?;
            let wrap_ups = tx.rows(
                "SELECT id, wrap_up_due_at FROM agents WHERE wrap_up_due_at <= ?1 AND state = 'wrap_up'
                 ORDER BY wrap_up_due_at",
                args![due_by],
                |r| Ok((r.get::<i64>(0)?, UnixMillis(r.get(1)?))),
            )?;
            Ok(PendingTimers { offers, wrap_ups })
        })
        .await
    }
}

/// Ring and wrap-up timers with their due moments (see [`Store::pending_timers`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingTimers {
    /// Offers that ring out at their moment.
    pub offers: Vec<(Offer, UnixMillis)>,
    /// Agents whose wrap-up ends at its moment.
    pub wrap_ups: Vec<(i64, UnixMillis)>,
}

/// A call ringing at an agent now.
#[derive(Debug, Clone)]
pub struct RingingCall {
    pub offer: Offer,
    pub offered_at: UnixMillis,
    pub payload: serde_json::Value,
}
