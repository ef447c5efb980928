//! The call log and the live counts of the call center.

use super::Call;
use super::agents::all_agents;
use super::routing::{CALL_COLUMNS, call_from_row};
use crate::sql::args;
use crate::{Result, Store};
use serde::Serialize;
use switchboard_domain::CallStatus;
use switchboard_domain::UnixMillis;
use switchboard_domain::routing::{AgentState, AgentStatus};

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// The call center now, for the metrics: agents by status and state, calls by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCenterGauges {
    /// Every (status, state) pair some agent is in, with how many are.
    pub agents: Vec<(AgentStatus, AgentState, i64)>,
    /// Calls ringing, queued and connected (the others are not counted).
    pub calls: Vec<(CallStatus, i64)>,
    /// When the longest-waiting inbound caller not answered yet (queued or ringing) called.
    pub oldest_waiting_since: Option<UnixMillis>,
}

impl Store {
    /// The call center's gauges (`switchboard_agents`, `switchboard_calls`): one short read.
    pub async fn call_center_gauges(&self) -> Result<CallCenterGauges> {
        self.read(|tx| {
            let mut agents: Vec<(AgentStatus, AgentState, i64)> = Vec::new();
            for (agent, _) in all_agents(tx)? {
                match agents
                    .iter_mut()
                    .find(|(status, state, _)| *status == agent.status && *state == agent.state)
                {
                    Some((_, _, count)) => *count += 1,
                    None => agents.push((agent.status, agent.state, 1)),
                }
            }
            let calls = tx.rows(
                "SELECT status, COUNT(*) FROM calls WHERE status IN ('queued', 'ringing', 'connected') GROUP BY status",
                args![],
                |r| Ok((r.get::<CallStatus>(0)?, r.get::<i64>(1)?)),
            )?;
            let oldest_waiting_since = tx.one(
                "SELECT MIN(started_at) FROM calls WHERE status IN ('queued', 'ringing') AND direction = 'in'",
                args![],
                |r| r.get::<Option<i64>>(0),
            )?;
            Ok(CallCenterGauges {
                agents,
                calls,
                oldest_waiting_since: oldest_waiting_since.map(UnixMillis),
            })
        })
        .await
    }

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
            let page = crate::inbox::page_of(
                tx,
                &format!(
                    "SELECT {CALL_COLUMNS}, id FROM calls
                 WHERE (started_at < ?1 OR (started_at = ?1 AND id < ?2))
                   AND started_at >= ?3 AND started_at < ?4
                   AND (CAST(?5 AS BIGINT) IS NULL OR answered_by = ?5 OR offered_agent_id = ?5)
                   AND (CAST(?6 AS TEXT) IS NULL OR caller_normalized LIKE ?6)
                   AND (CAST(?7 AS BOOLEAN) IS NULL OR missed = ?7)
                 ORDER BY started_at DESC, id DESC"
                ),
                args![
                    before.0,
                    before.1,
                    filter.from.map_or(i64::MIN, |t| t.0),
                    filter.until.map_or(i64::MAX, |t| t.0),
                    filter.agent_id,
                    digits,
                    filter.missed
                ],
                limit,
                |r| Ok((call_from_row(r)?.0, r.get::<i64>(20)?)),
                |(call, id)| (call.start_time.0, *id),
            )?;
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
            let counts = tx.rows(
                "SELECT status, COUNT(*) FROM calls WHERE status IN ('queued', 'ringing', 'connected') GROUP BY status",
                args![],
                |r| Ok((r.get::<CallStatus>(0)?, r.get::<i64>(1)?)),
            )?;
            for (call_status, count) in counts {
                match call_status {
                    CallStatus::Ringing => status.calls_ringing = count,
                    CallStatus::Queued => status.calls_waiting = count,
                    CallStatus::Connected => status.calls_connected = count,
                    CallStatus::Ended => {}
                }
            }
            Ok(status)
        })
        .await
    }
}
