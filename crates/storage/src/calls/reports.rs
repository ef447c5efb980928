//! What supervisors read: the calls of a period summed per agent, queue or time bucket (the reports),
//! and the floor now (calls waiting and connected, each agent's status and time in it, chats waiting).
//! Sums only: the figures are derived once, by `domain::reports`.

use super::Agent;
use super::agents::all_agents;
use crate::sql::{Row, Tx, args};
use crate::{Result, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use switchboard_domain::reports::{
    BUCKET_MILLIS, CallTally, ReportPeriod, ReportRules, ServiceLevelRule,
};
use switchboard_domain::{CallStatus, UnixMillis};

/// How a report's calls are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGrouping {
    /// By the agent who answered, or the last one it rang at (`None`: no agent ever had it).
    Agent,
    /// By queue (`None`: calls without one).
    Queue,
    /// By local day of the report's time zone.
    Day,
    /// One group: the whole period.
    Total,
}

/// One group of a report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    Agent(Option<i64>),
    Queue(Option<String>),
    /// `YYYY-MM-DD`.
    Day(String),
    Total,
}

/// The columns of a tally, in the order every query here selects them after the key.
const TALLY_COLUMNS: [&str; 11] = [
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_in_time",
    "answer_millis",
    "handled",
    "handle_millis",
    "ring_outs",
    "outbound",
    "waiting_in_time",
];

fn tally_from(r: &Row<'_>, first: usize) -> Result<CallTally> {
    let mut tally = CallTally::default();
    let fields = [
        &mut tally.offered,
        &mut tally.answered,
        &mut tally.abandoned,
        &mut tally.short_abandoned,
        &mut tally.answered_in_time,
        &mut tally.answer_millis,
        &mut tally.handled,
        &mut tally.handle_millis,
        &mut tally.ring_outs,
        &mut tally.outbound,
        &mut tally.waiting_in_time,
    ];
    for (i, field) in fields.into_iter().enumerate() {
        *field = r.get(first + i)?;
    }
    Ok(tally)
}

/// A group's key as the raw tables give it: the agent, the queue, a time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum RawKey {
    Agent(Option<i64>),
    Queue(Option<String>),
    Bucket(i64),
    Total,
}

impl CallGrouping {
    /// The key's SQL over `calls`, over `ring_outs`, and over `call_stats`.
    fn columns(self) -> [String; 3] {
        match self {
            Self::Agent => [
                "COALESCE(answered_by, offered_agent_id)".into(),
                "agent_id".into(),
                "agent_id".into(),
            ],
            Self::Queue => ["queue".into(), "queue".into(), "queue".into()],
            Self::Day => [
                format!("started_at / {BUCKET_MILLIS}"),
                format!("rang_at / {BUCKET_MILLIS}"),
                "day".into(),
            ],
            Self::Total => ["0".into(), "0".into(), "0".into()],
        }
    }

    fn raw_key(self, r: &Row<'_>) -> Result<RawKey> {
        Ok(match self {
            Self::Agent => RawKey::Agent(r.get(0)?),
            Self::Queue => RawKey::Queue(r.get(0)?),
            Self::Day => RawKey::Bucket(r.get(0)?),
            Self::Total => RawKey::Total,
        })
    }

    /// A `call_stats` row's key: there, no agent is 0 and no queue is ''.
    fn stats_key(self, r: &Row<'_>) -> Result<GroupKey> {
        Ok(match self {
            Self::Agent => GroupKey::Agent(Some(r.get::<i64>(0)?).filter(|id| *id != 0)),
            Self::Queue => GroupKey::Queue(Some(r.get::<String>(0)?).filter(|q| !q.is_empty())),
            Self::Day => GroupKey::Day(r.get(0)?),
            Self::Total => GroupKey::Total,
        })
    }
}

impl RawKey {
    fn into_group(self, period: &ReportPeriod) -> GroupKey {
        match self {
            Self::Agent(agent) => GroupKey::Agent(agent),
            Self::Queue(queue) => GroupKey::Queue(queue),
            Self::Bucket(bucket) => {
                GroupKey::Day(period.day_of(UnixMillis(bucket * BUCKET_MILLIS)))
            }
            Self::Total => GroupKey::Total,
        }
    }
}

/// The sums of a tally over `calls`, in [`TALLY_COLUMNS`] order (ring-outs are counted apart). Its
/// parameters: `?3` the short-abandon threshold, `?4` the answer threshold, `?5` now.
fn tally_sums() -> String {
    // PostgreSQL sums BIGINTs into NUMERIC: every sum is cast back.
    let sum = |condition: &str, value: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN {value} ELSE 0 END), 0) AS BIGINT)")
    };
    let answered = "direction = 'in' AND answered_at IS NOT NULL";
    let abandoned = "direction = 'in' AND answered_at IS NULL AND status = 'ended'";
    let handled = "direction = 'in' AND answered_at IS NOT NULL AND status = 'ended'";
    [
        sum("direction = 'in'", "1"),
        sum(answered, "1"),
        sum(abandoned, "1"),
        sum(&format!("{abandoned} AND ended_at - started_at < ?3"), "1"),
        sum(&format!("{answered} AND answered_at - started_at <= ?4"), "1"),
        sum(answered, "answered_at - started_at"),
        sum(handled, "1"),
        sum(handled, "ended_at - answered_at"),
        "0".into(),
        sum("direction = 'out'", "1"),
        sum(
            "direction = 'in' AND answered_at IS NULL AND status <> 'ended' AND ?5 - started_at <= ?4",
            "1",
        ),
    ]
    .join(", ")
}

/// Which calls a raw sum reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawCalls {
    /// Every call (and ring-out) of the period: a report in another zone than the business's.
    All,
    /// Calls not ended yet: the daily sums hold the others (and every ring-out).
    Open,
}

/// Sums the calls that started in `[start, end)` per raw group, from the calls themselves; `now`
/// decides which waiting callers are still inside the service level's threshold.
fn raw_tallies(
    tx: &Tx<'_>,
    (start, end): (UnixMillis, UnixMillis),
    grouping: CallGrouping,
    which: RawCalls,
    (rule, now): (ServiceLevelRule, UnixMillis),
) -> Result<Vec<(RawKey, CallTally)>> {
    let [calls_key, ring_outs_key, _] = grouping.columns();
    // Open calls are few: found through the partial index `calls_not_ended`, not the period's.
    let open_only = match which {
        RawCalls::All => "",
        RawCalls::Open => "status <> 'ended' AND",
    };
    let sql = format!(
        "SELECT {calls_key}, {sums} FROM calls WHERE {open_only} started_at >= ?1 AND started_at < ?2 GROUP BY 1",
        sums = tally_sums(),
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
        |r| Ok((grouping.raw_key(r)?, tally_from(r, 1)?)),
    )?;
    if which == RawCalls::All {
        let ring_outs = tx.rows(
            &format!(
                "SELECT {ring_outs_key}, COUNT(*) FROM ring_outs WHERE rang_at >= ?1 AND rang_at < ?2 GROUP BY 1"
            ),
            args![start, end],
            |r| Ok((grouping.raw_key(r)?, r.get::<i64>(1)?)),
        )?;
        tallies.extend(ring_outs.into_iter().map(|(key, count)| {
            (
                key,
                CallTally {
                    ring_outs: count,
                    ..CallTally::default()
                },
            )
        }));
    }
    Ok(tallies)
}

/// Sums the daily sums of the days `[from, until]` per group.
fn stats_tallies(
    tx: &Tx<'_>,
    (from, until): (&str, &str),
    grouping: CallGrouping,
) -> Result<Vec<(GroupKey, CallTally)>> {
    let [_, _, key] = grouping.columns();
    let sums = TALLY_COLUMNS[..10]
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ");
    tx.rows(
        &format!(
            "SELECT {key}, {sums}, 0 FROM call_stats WHERE day >= ?1 AND day <= ?2 GROUP BY 1"
        ),
        args![from, until],
        |r| Ok((grouping.stats_key(r)?, tally_from(r, 1)?)),
    )
}

/// The report's groups, summed: from the daily sums and the open calls when the period is in the
/// business's zone, from every call otherwise.
fn call_tallies(
    tx: &Tx<'_>,
    period: &ReportPeriod,
    grouping: CallGrouping,
    rules: &ReportRules,
    now: UnixMillis,
) -> Result<Vec<(GroupKey, CallTally)>> {
    let range = (period.start, period.end);
    let measure = (rules.service_level, now);
    let mut groups: BTreeMap<GroupKey, CallTally> = BTreeMap::new();
    let mut add = |key: GroupKey, tally: &CallTally| groups.entry(key).or_default().add(tally);
    if period.time_zone_name() == rules.time_zone_name() {
        let (from, until) = (period.from(), period.until());
        for (key, tally) in stats_tallies(tx, (&from, &until), grouping)? {
            add(key, &tally);
        }
        for (key, tally) in raw_tallies(tx, range, grouping, RawCalls::Open, measure)? {
            add(key.into_group(period), &tally);
        }
    } else {
        for (key, tally) in raw_tallies(tx, range, grouping, RawCalls::All, measure)? {
            add(key.into_group(period), &tally);
        }
    }
    Ok(groups.into_iter().collect())
}

/// Adds to the daily sums: a call that ended, or an offer that rang out.
pub(super) fn add_to_stats(
    tx: &Tx<'_>,
    (day, queue, agent_id): (&str, Option<&str>, Option<i64>),
    tally: &CallTally,
) -> Result<()> {
    let columns = TALLY_COLUMNS[..10].join(", ");
    let added = TALLY_COLUMNS[..10]
        .iter()
        .map(|c| format!("{c} = call_stats.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Nothing to wait for: PostgreSQL's writer sends it on (a rebuild writes thousands).
    tx.execute_pipelined(
        &format!(
            "INSERT INTO call_stats (day, queue, agent_id, {columns})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (day, queue, agent_id) DO UPDATE SET {added}"
        ),
        args![
            day,
            queue.unwrap_or(""),
            agent_id.unwrap_or(0),
            tally.offered,
            tally.answered,
            tally.abandoned,
            tally.short_abandoned,
            tally.answered_in_time,
            tally.answer_millis,
            tally.handled,
            tally.handle_millis,
            tally.ring_outs,
            tally.outbound
        ],
    )
}

/// A call that just ended, added to its day's sums.
pub(super) fn call_ended(tx: &Tx<'_>, call: &super::Call, rules: &ReportRules) -> Result<()> {
    let tally = CallTally::of_finished(
        call.direction == "in",
        call.start_time,
        call.answered_at,
        call.end_time.unwrap_or(call.start_time),
        rules.service_level,
    );
    let day = rules.day_of(call.start_time);
    let agent = call.answered_by.or(call.offered_agent_id);
    add_to_stats(tx, (&day, call.queue.as_deref(), agent), &tally)
}

/// The settings row naming what the daily sums were made with.
const STATS_RULES_KEY: &str = "call_stats_rules";

/// Makes the daily sums again from the calls and ring-outs, by `rules`: summed per time bucket in
/// SQL first (buckets fold into the zone's days exactly), so a million calls are not read one by one.
fn rebuild_stats(tx: &Tx<'_>, rules: &ReportRules) -> Result<()> {
    tx.execute("DELETE FROM call_stats", args![])?;
    type Key = (String, Option<String>, Option<i64>);
    let mut days: BTreeMap<Key, CallTally> = BTreeMap::new();
    let rule = rules.service_level;
    let rows = tx.rows(
        &format!(
            "SELECT started_at / {BUCKET_MILLIS}, queue, COALESCE(answered_by, offered_agent_id), {sums}
             FROM calls WHERE status = 'ended' AND started_at >= ?1 AND started_at < ?2 GROUP BY 1, 2, 3",
            sums = tally_sums()
        ),
        args![
            i64::MIN,
            i64::MAX,
            rule.short_abandon_millis,
            rule.answer_within_millis,
            0_i64
        ],
        |r| {
            let day = rules.day_of(UnixMillis(r.get::<i64>(0)? * BUCKET_MILLIS));
            Ok(((day, r.get(1)?, r.get(2)?), tally_from(r, 3)?))
        },
    )?;
    for (key, tally) in rows {
        days.entry(key).or_default().add(&tally);
    }
    let ring_outs = tx.rows(
        &format!(
            "SELECT rang_at / {BUCKET_MILLIS}, queue, agent_id, COUNT(*) FROM ring_outs GROUP BY 1, 2, 3"
        ),
        args![],
        |r| {
            let day = rules.day_of(UnixMillis(r.get::<i64>(0)? * BUCKET_MILLIS));
            Ok(((day, r.get(1)?, r.get(2)?), r.get::<i64>(3)?))
        },
    )?;
    for (key, count) in ring_outs {
        days.entry(key).or_default().ring_outs += count;
    }
    for ((day, queue, agent), tally) in &days {
        add_to_stats(tx, (day, queue.as_deref(), *agent), tally)?;
    }
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![STATS_RULES_KEY, rules.fingerprint().into_bytes()],
    )?;
    Ok(())
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

/// Calls not ended, oldest first (at most 5,000: a phone system that never reports its hangups cannot
/// make the floor unbounded), read in order from the partial index `calls_not_ended`.
fn live_calls(tx: &Tx<'_>) -> Result<Vec<LiveCall>> {
    tx.rows(
        "SELECT c.call_id, c.caller_number, c.queue, c.status, c.customer_id, cu.full_name,
                COALESCE(c.answered_by, c.offered_agent_id), c.started_at, c.answered_at
         FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id
         WHERE c.status <> 'ended' AND (c.direction = 'in' OR c.status = 'connected')
         ORDER BY c.started_at, c.id LIMIT 5000",
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
    /// The calls of the period's days, summed per group (groups without calls left out), measured
    /// by the business's service level as of `now`.
    pub async fn call_report(
        &self,
        period: ReportPeriod,
        grouping: CallGrouping,
        now: UnixMillis,
    ) -> Result<Vec<(GroupKey, CallTally)>> {
        let rules = self.report_rules();
        self.read_long(move |tx| call_tallies(tx, &period, grouping, &rules, now))
            .await
    }

    /// Makes sure the daily sums are by the rules this handle has (see [`Store::with_report_rules`]):
    /// made again from the calls when the zone or a threshold changed since they were made (or
    /// never were). Whether it rebuilt them.
    pub async fn keep_call_stats(&self) -> Result<bool> {
        let rules = self.report_rules();
        self.write(move |tx| {
            let made_by: Option<Vec<u8>> = tx.optional(
                "SELECT value FROM settings WHERE key = ?1",
                args![STATS_RULES_KEY],
                |r| r.get(0),
            )?;
            if made_by.as_deref() == Some(rules.fingerprint().as_bytes()) {
                return Ok(false);
            }
            rebuild_stats(tx, &rules)?;
            Ok(true)
        })
        .await
    }

    /// Inbound calls not answered yet (queued or ringing), longest waiting first.
    pub async fn waiting_calls(&self) -> Result<Vec<LiveCall>> {
        self.read(|tx| {
            Ok(live_calls(tx)?
                .into_iter()
                .filter(|call| call.status != CallStatus::Connected)
                .collect())
        })
        .await
    }

    /// The floor now, with today's calls (in the business's zone) summed: one consistent read.
    pub async fn floor(&self, today: ReportPeriod, now: UnixMillis) -> Result<FloorSnapshot> {
        let rules = self.report_rules();
        self.read(move |tx| {
            let (waiting, connected) = live_calls(tx)?
                .into_iter()
                .partition(|call| call.status != CallStatus::Connected);
            let today = call_tallies(tx, &today, CallGrouping::Total, &rules, now)?
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
