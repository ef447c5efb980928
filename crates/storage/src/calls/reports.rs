//! What supervisors read: the calls of a period summed per agent, queue or time bucket (the reports),
//! and the floor now (calls waiting and connected, each agent's status and time in it, chats waiting).
//! Sums only: the figures are derived once, by `domain::reports`.

use super::Agent;
use super::agents::all_agents;
use crate::sql::{Row, Tx, args};
use crate::{Result, Store};
use serde::Serialize;
use switchboard_domain::reports::{BUCKET_MILLIS, CallTally, ServiceLevelRule};
use switchboard_domain::{CallStatus, UnixMillis};

/// How a report's calls are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGrouping {
    /// By the agent who answered, or the last one it rang at (`None`: no agent ever had it).
    Agent,
    /// By queue (`None`: calls without one).
    Queue,
    /// By `domain::reports::BUCKET_MILLIS` since the epoch (folded into local days by the caller).
    Bucket,
    /// One group: the whole period.
    Total,
}

/// One group of a report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    Agent(Option<i64>),
    Queue(Option<String>),
    Bucket(i64),
    Total,
}

impl CallGrouping {
    /// The key's SQL over `calls`, and over `ring_outs`.
    fn columns(self) -> (String, String) {
        match self {
            Self::Agent => (
                "COALESCE(answered_by, offered_agent_id)".into(),
                "agent_id".into(),
            ),
            Self::Queue => ("queue".into(), "queue".into()),
            Self::Bucket => (
                format!("started_at / {BUCKET_MILLIS}"),
                format!("rang_at / {BUCKET_MILLIS}"),
            ),
            Self::Total => ("0".into(), "0".into()),
        }
    }

    fn key(self, r: &Row<'_>) -> Result<GroupKey> {
        Ok(match self {
            Self::Agent => GroupKey::Agent(r.get(0)?),
            Self::Queue => GroupKey::Queue(r.get(0)?),
            Self::Bucket => GroupKey::Bucket(r.get(0)?),
            Self::Total => GroupKey::Total,
        })
    }
}

/// Sums the calls that started in `[start, end)` per group; `now` decides which waiting callers
/// are still inside the service level's threshold. Read from the `calls_for_reports` index alone.
fn call_tallies(
    tx: &Tx<'_>,
    (start, end): (UnixMillis, UnixMillis),
    grouping: CallGrouping,
    rule: ServiceLevelRule,
    now: UnixMillis,
) -> Result<Vec<(GroupKey, CallTally)>> {
    let (calls_key, ring_outs_key) = grouping.columns();
    // PostgreSQL sums BIGINTs into NUMERIC: every sum is cast back.
    let sum = |condition: &str, value: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN {value} ELSE 0 END), 0) AS BIGINT)")
    };
    let inbound = "direction = 'in'";
    let answered = "direction = 'in' AND answered_at IS NOT NULL";
    let abandoned = "direction = 'in' AND answered_at IS NULL AND status = 'ended'";
    let handled = "direction = 'in' AND answered_at IS NOT NULL AND status = 'ended'";
    let sql = format!(
        "SELECT {calls_key}, {offered}, {answered_count}, {abandoned_count}, {short}, {in_time}, {waiting},
                {answer_millis}, {handled_count}, {handle_millis}, {outbound}
         FROM calls WHERE started_at >= ?1 AND started_at < ?2 GROUP BY 1",
        offered = sum(inbound, "1"),
        answered_count = sum(answered, "1"),
        abandoned_count = sum(abandoned, "1"),
        short = sum(&format!("{abandoned} AND ended_at - started_at < ?3"), "1"),
        in_time = sum(&format!("{answered} AND answered_at - started_at <= ?4"), "1"),
        waiting = sum(
            "direction = 'in' AND answered_at IS NULL AND status <> 'ended' AND ?5 - started_at <= ?4",
            "1"
        ),
        answer_millis = sum(answered, "answered_at - started_at"),
        handled_count = sum(handled, "1"),
        handle_millis = sum(handled, "ended_at - answered_at"),
        outbound = sum("direction = 'out'", "1"),
    );
    let mut tallies = tx.rows(
        &sql,
        args![
            start,
            end,
            rule.short_abandon_millis,
            rule.answer_within_millis,
            now
        ],
        |r| {
            let mut tally = CallTally::default();
            let fields = [
                &mut tally.offered,
                &mut tally.answered,
                &mut tally.abandoned,
                &mut tally.short_abandoned,
                &mut tally.answered_in_time,
                &mut tally.waiting_in_time,
                &mut tally.answer_millis,
                &mut tally.handled,
                &mut tally.handle_millis,
                &mut tally.outbound,
            ];
            for (i, field) in fields.into_iter().enumerate() {
                *field = r.get(i + 1)?;
            }
            Ok((grouping.key(r)?, tally))
        },
    )?;
    let ring_outs = tx.rows(
        &format!(
            "SELECT {ring_outs_key}, COUNT(*) FROM ring_outs WHERE rang_at >= ?1 AND rang_at < ?2 GROUP BY 1"
        ),
        args![start, end],
        |r| Ok((grouping.key(r)?, r.get::<i64>(1)?)),
    )?;
    for (key, count) in ring_outs {
        match tallies.iter_mut().find(|(k, _)| *k == key) {
            Some((_, tally)) => tally.ring_outs += count,
            None => tallies.push((
                key,
                CallTally {
                    ring_outs: count,
                    ..CallTally::default()
                },
            )),
        }
    }
    tallies.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(tallies)
}

/// A call on the floor now: waiting for an agent, ringing at one, or connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveCall {
    #[schema(example = "1733380000.123")]
    pub call_id: String,
    #[schema(example = "0912345678")]
    pub caller_number: String,
    #[schema(example = "sales")]
    pub queue: Option<String>,
    pub status: CallStatus,
    pub customer_id: Option<i64>,
    /// The caller's customer record's name, when they have one.
    #[schema(example = "Trần Thị Bình")]
    pub customer_name: Option<String>,
    /// Ringing at, or connected to.
    pub agent_id: Option<i64>,
    pub started_at: UnixMillis,
    pub answered_at: Option<UnixMillis>,
}

/// An agent on the floor: their status and state, since when, and their chat load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FloorAgent {
    #[serde(flatten)]
    pub agent: Agent,
    pub status_since: UnixMillis,
    pub state_since: UnixMillis,
    /// Open conversations owned by the agent's console user.
    pub open_conversations: i64,
    /// Offers that rang out at them since their last answer (max-no-answer counts these).
    pub ring_outs_in_row: i64,
}

/// The inbox's side of the floor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatFloor {
    /// Open conversations nobody owns.
    pub unassigned: i64,
    /// Open conversations whose last message is the customer's: waiting for an answer.
    pub awaiting_reply: i64,
    /// When the customer who has waited longest for an answer wrote.
    pub oldest_awaiting_since: Option<UnixMillis>,
}

/// The floor now, as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorSnapshot {
    /// Inbound calls not answered yet (queued or ringing), longest waiting first.
    pub waiting: Vec<LiveCall>,
    /// Calls connected to an agent, oldest first.
    pub connected: Vec<LiveCall>,
    pub agents: Vec<FloorAgent>,
    pub chats: ChatFloor,
    /// Today's calls, summed.
    pub today: CallTally,
    pub open_callbacks: i64,
}

fn live_calls(tx: &Tx<'_>) -> Result<Vec<LiveCall>> {
    tx.rows(
        "SELECT c.call_id, c.caller_number, c.queue, c.status, c.customer_id, cu.full_name,
                COALESCE(c.answered_by, c.offered_agent_id), c.started_at, c.answered_at
         FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id
         WHERE c.status <> 'ended' AND (c.direction = 'in' OR c.status = 'connected') ORDER BY c.started_at, c.id LIMIT 1000",
        args![],
        |r| {
            Ok(LiveCall {
                call_id: r.get(0)?,
                caller_number: r.get(1)?,
                queue: r.get(2)?,
                status: r.get(3)?,
                customer_id: r.get(4)?,
                customer_name: r.get::<Option<String>>(5)?.filter(|n| !n.is_empty()),
                agent_id: r.get(6)?,
                started_at: UnixMillis(r.get(7)?),
                answered_at: r.get::<Option<i64>>(8)?.map(UnixMillis),
            })
        },
    )
}

fn floor_agents(tx: &Tx<'_>) -> Result<Vec<FloorAgent>> {
    let times = tx.rows(
        "SELECT a.id, a.status_changed_at, COALESCE(a.state_since, a.updated_at), a.ring_outs_in_row,
                (SELECT COUNT(*) FROM conversations c WHERE c.assignee_user_id = a.user_id AND c.status = 'open')
         FROM agents a ORDER BY a.id",
        args![],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<i64>(1)?,
                r.get::<i64>(2)?,
                r.get::<i64>(3)?,
                r.get::<i64>(4)?,
            ))
        },
    )?;
    let mut times: std::collections::HashMap<i64, (i64, i64, i64, i64)> = times
        .into_iter()
        .map(|(id, status_since, state_since, in_row, open)| {
            (id, (status_since, state_since, in_row, open))
        })
        .collect();
    Ok(all_agents(tx)?
        .into_iter()
        .map(|(agent, _)| {
            let (status_since, state_since, in_row, open) =
                times.remove(&agent.id).unwrap_or_default();
            FloorAgent {
                agent,
                status_since: UnixMillis(status_since),
                state_since: UnixMillis(state_since),
                open_conversations: open,
                ring_outs_in_row: in_row,
            }
        })
        .collect())
}

fn chat_floor(tx: &Tx<'_>) -> Result<ChatFloor> {
    tx.one(
        "SELECT CAST(COALESCE(SUM(CASE WHEN assignee_user_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN last_message_direction = 'in' THEN 1 ELSE 0 END), 0) AS BIGINT),
                MIN(CASE WHEN last_message_direction = 'in' THEN last_message_at END)
         FROM conversations WHERE status = 'open'",
        args![],
        |r| {
            Ok(ChatFloor {
                unassigned: r.get(0)?,
                awaiting_reply: r.get(1)?,
                oldest_awaiting_since: r.get::<Option<i64>>(2)?.map(UnixMillis),
            })
        },
    )
}

impl Store {
    /// The calls that started in `[start, end)`, summed per group (groups without calls left out).
    pub async fn call_report(
        &self,
        period: (UnixMillis, UnixMillis),
        grouping: CallGrouping,
        rule: ServiceLevelRule,
        now: UnixMillis,
    ) -> Result<Vec<(GroupKey, CallTally)>> {
        self.read_long(move |tx| call_tallies(tx, period, grouping, rule, now))
            .await
    }

    /// The floor now, with the calls of `today` summed: one consistent read.
    pub async fn floor(
        &self,
        today: (UnixMillis, UnixMillis),
        rule: ServiceLevelRule,
        now: UnixMillis,
    ) -> Result<FloorSnapshot> {
        self.read(move |tx| {
            let (waiting, connected) = live_calls(tx)?
                .into_iter()
                .partition(|call| call.status != CallStatus::Connected);
            let today = call_tallies(tx, today, CallGrouping::Total, rule, now)?
                .into_iter()
                .map(|(_, tally)| tally)
                .next()
                .unwrap_or_default();
            Ok(FloorSnapshot {
                waiting,
                connected,
                agents: floor_agents(tx)?,
                chats: chat_floor(tx)?,
                today,
                open_callbacks: tx.one(
                    "SELECT COUNT(*) FROM callbacks WHERE status = 'open'",
                    args![],
                    |r| r.get(0),
                )?,
            })
        })
        .await
    }
}
