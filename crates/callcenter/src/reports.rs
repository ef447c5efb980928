//! What supervisors read: the live floor (`GET /api/floor`) and the call reports
//! (`GET /api/reports/calls`), in the business's time zone. The store sums; `domain::reports`
//! derives the figures, so the floor's "today" and a report for today agree.

use crate::AppState;
use crate::rest::{csv_file, wants_csv};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_domain::reports::{CallFigures, CallTally, ChatFigures, ChatTally, ReportPeriod};
use switchboard_storage::{
    CallGrouping, ChatFloor, ConversationActivity, ConversationReport, FloorAgent, FloorSnapshot,
    GroupKey, LiveCall,
};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Answer, ApiError, CallCenterReader, QueryParams as Query, Supervisor, ok};
use tokio::time::Instant;

/// How a report groups its calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// By the agent who answered, or the last one the call rang at.
    #[default]
    Agent,
    /// By hotline queue.
    Queue,
    /// By local day: every day of the period, with or without calls.
    Day,
}

/// A report's period and grouping.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CallReportQuery {
    /// The first day (YYYY-MM-DD, in the time zone); today if not given.
    #[param(example = "2026-12-01")]
    from: Option<String>,
    /// The last day, included (YYYY-MM-DD); today if not given. At most 366 days after `from`.
    #[param(example = "2026-12-07")]
    until: Option<String>,
    /// `agent` (default), `queue` or `day`.
    group_by: Option<GroupBy>,
    /// An IANA time zone; the business's (`callcenter.time_zone`) if not given.
    #[param(example = "Asia/Ho_Chi_Minh")]
    time_zone: Option<String>,
}

/// One group of a report, with its figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportGroup {
    /// The agent's id, the queue's name or the day (YYYY-MM-DD); `""` for calls no agent had, or
    /// without a queue.
    #[schema(example = "3")]
    pub key: String,
    /// What people read: the agent's name, the queue, the day.
    #[schema(example = "Nguyễn Văn An")]
    pub label: String,
    #[serde(flatten)]
    pub figures: CallFigures,
}

/// A call report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallReport {
    #[schema(example = "2026-12-01")]
    pub from: String,
    #[schema(example = "2026-12-07")]
    pub until: String,
    #[schema(example = "Asia/Ho_Chi_Minh")]
    pub time_zone: String,
    /// The first moment of `from` and the first moment after `until`: the call log of the same
    /// period is `GET /api/calls?from={start}&until={end}`.
    pub start: UnixMillis,
    pub end: UnixMillis,
    pub group_by: GroupBy,
    /// The service level's threshold: answered within this many seconds.
    #[schema(example = 20)]
    pub service_level_seconds: f64,
    /// Callers who hung up within this many seconds are not in the service level.
    #[schema(example = 5)]
    pub short_abandon_seconds: f64,
    pub groups: Vec<ReportGroup>,
    pub total: CallFigures,
}

/// The report's days: `from` through `until` in `time_zone`, or the business's zone.
fn period(
    state: &AppState,
    (from, until, time_zone): (Option<&str>, Option<&str>, Option<&str>),
    now: UnixMillis,
) -> Result<ReportPeriod, ApiError> {
    let zone = time_zone.unwrap_or(&state.engine.options().time_zone);
    Ok(ReportPeriod::parse(from, until, zone, now)?)
}

fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// The store's groups, named and (by day) folded into local days, every day present.
async fn groups(
    state: &AppState,
    period: &ReportPeriod,
    group_by: GroupBy,
    tallies: Vec<(GroupKey, CallTally)>,
) -> Result<Vec<ReportGroup>, ApiError> {
    let named = |key: String, label: String, tally: &CallTally| ReportGroup {
        key,
        label,
        figures: tally.figures(),
    };
    Ok(match group_by {
        GroupBy::Day => {
            let mut days: Vec<(String, CallTally)> = period
                .days()
                .into_iter()
                .map(|day| (day, CallTally::default()))
                .collect();
            for (key, tally) in &tallies {
                if let GroupKey::Day(day) = key
                    && let Some((_, sum)) = days.iter_mut().find(|(d, _)| d == day)
                {
                    sum.add(tally);
                }
            }
            days.iter()
                .map(|(day, tally)| named(day.clone(), day.clone(), tally))
                .collect()
        }
        GroupBy::Queue => tallies
            .iter()
            .map(|(key, tally)| {
                let queue = match key {
                    GroupKey::Queue(Some(queue)) => queue.clone(),
                    _ => String::new(),
                };
                named(queue.clone(), queue, tally)
            })
            .collect(),
        GroupBy::Agent => {
            let names: HashMap<i64, String> = state
                .engine
                .store()
                .agents()
                .await?
                .into_iter()
                .map(|a| (a.id, a.full_name))
                .collect();
            tallies
                .iter()
                .map(|(key, tally)| match key {
                    GroupKey::Agent(Some(id)) => named(
                        id.to_string(),
                        names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
                        tally,
                    ),
                    _ => named(String::new(), String::new(), tally),
                })
                .collect()
        }
    })
}

/// Offered, answered and abandoned calls, average speed of answer, service level, handle time
/// and ring-outs, per agent, queue or local day of a period.
#[utoipa::path(get, path = "/api/reports/calls", tag = "reports",
    params(CallReportQuery),
    responses(
        (status = 200, description = "The report; with `Accept: text/csv`, the same as a file for spreadsheets (one row per group, then the total)",
            content((Answer<CallReport> = "application/json"), (String = "text/csv"))),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
        (status = 422, description = "A bad date, a reversed period or one over 366 days, or an unknown time zone (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn call_report(
    State(state): State<AppState>,
    _: Supervisor,
    Query(query): Query<CallReportQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let options = state.engine.options();
    let now = UnixMillis::now();
    let dates = (
        query.from.as_deref(),
        query.until.as_deref(),
        query.time_zone.as_deref(),
    );
    let period = period(&state, dates, now)?;
    let group_by = query.group_by.unwrap_or_default();
    let grouping = match group_by {
        GroupBy::Agent => CallGrouping::Agent,
        GroupBy::Queue => CallGrouping::Queue,
        GroupBy::Day => CallGrouping::Day,
    };
    let rule = options.service_level;
    let tallies = state
        .engine
        .store()
        .call_report(period.clone(), grouping, now)
        .await?;
    let mut total = CallTally::default();
    tallies.iter().for_each(|(_, tally)| total.add(tally));
    let report = CallReport {
        from: period.from(),
        until: period.until(),
        time_zone: period.time_zone_name().to_owned(),
        start: period.start,
        end: period.end,
        group_by,
        service_level_seconds: seconds(rule.answer_within_millis),
        short_abandon_seconds: seconds(rule.short_abandon_millis),
        groups: groups(&state, &period, group_by, tallies).await?,
        total: total.figures(),
    };
    if wants_csv(&headers) {
        return Ok(report_csv(&report));
    }
    Ok(ok(report))
}

fn report_csv(report: &CallReport) -> Response {
    let mut writer = switchboard_domain::spreadsheet::Writer::new(&[
        "key",
        "label",
        "offered",
        "answered",
        "abandoned",
        "shortAbandoned",
        "averageSpeedOfAnswer",
        "serviceLevel",
        "averageHandleTime",
        "ringOuts",
        "outbound",
    ]);
    let optional = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    let total = ReportGroup {
        key: "total".into(),
        label: String::new(),
        figures: report.total.clone(),
    };
    for group in report.groups.iter().chain([&total]) {
        let f = &group.figures;
        let cells = [
            group.key.clone(),
            group.label.clone(),
            f.offered.to_string(),
            f.answered.to_string(),
            f.abandoned.to_string(),
            f.short_abandoned.to_string(),
            optional(f.average_speed_of_answer),
            optional(f.service_level),
            optional(f.average_handle_time),
            f.ring_outs.to_string(),
            f.outbound.to_string(),
        ];
        writer.row(cells.iter().map(String::as_str));
    }
    let name = format!(
        "calls-by-{}-{}-{}.csv",
        match report.group_by {
            GroupBy::Agent => "agent",
            GroupBy::Queue => "queue",
            GroupBy::Day => "day",
        },
        report.from,
        report.until
    );
    csv_file(&name, writer.finish())
}

/// A call waiting, ringing or connected, with how long so far.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FloorCall {
    #[serde(flatten)]
    pub call: LiveCall,
    /// Seconds since the call started (waiting) or was answered (connected), when the floor was read.
    #[schema(example = 42)]
    pub seconds: i64,
}

/// The call center and the inbox now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Floor {
    /// When it was read: clients count the seconds on from here.
    pub as_of: UnixMillis,
    #[schema(example = "Asia/Ho_Chi_Minh")]
    pub time_zone: String,
    #[schema(example = 20)]
    pub service_level_seconds: f64,
    #[schema(example = 5)]
    pub short_abandon_seconds: f64,
    /// Inbound calls not answered yet (queued or ringing), longest waiting first.
    pub waiting: Vec<FloorCall>,
    /// The longest current wait in seconds; 0 when nobody waits.
    pub longest_wait_seconds: i64,
    /// Calls connected to an agent, oldest first.
    pub connected: Vec<FloorCall>,
    pub agents: Vec<FloorAgent>,
    pub chats: ChatFloor,
    /// Today's calls in the business's time zone (service level as of now).
    pub today: CallFigures,
    /// Callback tasks still to do.
    #[schema(example = 3)]
    pub open_callbacks: i64,
}

impl Floor {
    fn of(snapshot: FloorSnapshot, state: &AppState, now: UnixMillis) -> Self {
        let options = state.engine.options();
        let since = |at: UnixMillis| ((now.0 - at.0) / 1000).max(0);
        let waiting: Vec<FloorCall> = snapshot
            .waiting
            .into_iter()
            .map(|call| FloorCall {
                seconds: since(call.started_at),
                call,
            })
            .collect();
        Self {
            as_of: now,
            time_zone: options.time_zone.clone(),
            service_level_seconds: seconds(options.service_level.answer_within_millis),
            short_abandon_seconds: seconds(options.service_level.short_abandon_millis),
            longest_wait_seconds: waiting.iter().map(|c| c.seconds).max().unwrap_or(0),
            waiting,
            connected: snapshot
                .connected
                .into_iter()
                .map(|call| FloorCall {
                    seconds: since(call.answered_at.unwrap_or(call.started_at)),
                    call,
                })
                .collect(),
            agents: snapshot.agents,
            chats: snapshot.chats,
            today: snapshot.today.figures(),
            open_callbacks: snapshot.open_callbacks,
        }
    }
}

/// Callers waiting for an agent now (queued, or ringing at one), longest waiting first, with how long
/// each has waited: what a free agent picks from ("take this call" is `POST /api/calls/{call_id}/answer`).
#[utoipa::path(get, path = "/api/waiting-calls", tag = "calls",
    responses(
        (status = 200, description = "The callers waiting", body = Answer<Vec<FloorCall>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn waiting_calls(
    State(state): State<AppState>,
    _: CallCenterReader,
) -> Result<Response, ApiError> {
    let now = UnixMillis::now();
    let waiting: Vec<FloorCall> = state
        .engine
        .store()
        .waiting_calls()
        .await?
        .into_iter()
        .map(|call| FloorCall {
            seconds: ((now.0 - call.started_at.0) / 1000).max(0),
            call,
        })
        .collect();
    Ok(ok(waiting))
}

/// How long one reading of the floor serves every supervisor asking, while no event was committed.
const FLOOR_FRESH_FOR: Duration = Duration::from_secs(1);

/// The least time between two readings of the floor on one node, however many supervisors ask and
/// however busy the call center is: the floor is read at most five times a second, and a burst of
/// supervisors asking together costs one read.
const FLOOR_READ_EVERY: Duration = Duration::from_millis(200);

/// The floor last read on this node, shared by every supervisor. Reads are single-flight: a
/// supervisor asking while another's read is under way waits for it, and is served by it when it
/// was started after the last event this supervisor could have seen.
#[derive(Clone, Default)]
pub struct FloorCache(Arc<FloorReads<Floor>>);

struct FloorReads<T> {
    /// The event head the floor was read at, when, and the floor.
    last: Mutex<Option<(i64, Instant, Arc<T>)>>,
    /// Held while reading, so that one read is under way at a time; when the last one started.
    reading: tokio::sync::Mutex<Option<Instant>>,
}

impl<T> Default for FloorReads<T> {
    fn default() -> Self {
        Self {
            last: Mutex::new(None),
            reading: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T> FloorReads<T> {
    /// A reading at or after the event head `seen`, recent enough to show.
    fn fresh(&self, seen: i64) -> Option<Arc<T>> {
        let last = self.last.lock().ok()?;
        last.as_ref()
            .filter(|(head, at, _)| *head >= seen && at.elapsed() < FLOOR_FRESH_FOR)
            .map(|(_, _, floor)| floor.clone())
    }

    /// The floor as of at least event `seen`: the last reading when it is as new, else a new one
    /// (`read` answers the event head it read at and the floor), at most one under way at a time
    /// and one per [`FLOOR_READ_EVERY`].
    async fn read<F, Fut>(&self, seen: i64, read: F) -> Result<Arc<T>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(i64, T), ApiError>>,
    {
        if let Some(floor) = self.fresh(seen) {
            return Ok(floor);
        }
        let mut last_started = self.reading.lock().await;
        if let Some(floor) = self.fresh(seen) {
            return Ok(floor);
        }
        if let Some(pause) = last_started.and_then(|at| FLOOR_READ_EVERY.checked_sub(at.elapsed()))
        {
            tokio::time::sleep(pause).await;
        }
        *last_started = Some(Instant::now());
        let (head, floor) = read().await?;
        let floor = Arc::new(floor);
        if let Ok(mut last) = self.last.lock() {
            *last = Some((head, Instant::now(), floor.clone()));
        }
        Ok(floor)
    }
}

/// The floor now: calls waiting (with how long) and connected, every agent's status and state
/// and since when, today's figures, chats waiting for an answer, callback tasks to do. Consoles
/// read it again when a call-center event arrives (`docs/protocol.md`); the answer includes every
/// event committed before the request.
#[utoipa::path(get, path = "/api/floor", tag = "reports",
    responses(
        (status = 200, description = "The floor now", body = Answer<Floor>),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
    ))]
pub async fn floor(State(state): State<AppState>, _: Supervisor) -> Result<Response, ApiError> {
    let seen = state.engine.feed().head();
    let floor = state
        .floor
        .0
        .read(seen, || async {
            // The head before the read: everything up to it is in what is read.
            let head = state.engine.feed().head();
            let now = UnixMillis::now();
            let today = ReportPeriod::today(&state.engine.options().time_zone, now)?;
            let snapshot = state.engine.store().floor(today, now).await?;
            Ok((head, Floor::of(snapshot, &state, now)))
        })
        .await?;
    Ok(ok(&*floor))
}

/// How a conversation report groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatGroupBy {
    /// By the Facebook page or account.
    #[default]
    Page,
    /// By the console user who wrote the answers.
    Agent,
}

/// A conversation report's period and grouping.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ChatReportQuery {
    /// The first day (YYYY-MM-DD, in the time zone); today if not given.
    #[param(example = "2026-12-01")]
    from: Option<String>,
    /// The last day, included; today if not given. At most 366 days after `from`.
    #[param(example = "2026-12-07")]
    until: Option<String>,
    /// `page` (default) or `agent`.
    group_by: Option<ChatGroupBy>,
    /// An IANA time zone; the business's if not given.
    #[param(example = "Asia/Ho_Chi_Minh")]
    time_zone: Option<String>,
}

/// One group of a conversation report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatReportGroup {
    /// The page's `user_id_chat`, or the user's id.
    #[schema(example = "page_hoa_tuoi")]
    pub key: String,
    #[schema(example = "Shop Hoa Tươi")]
    pub label: String,
    #[serde(flatten)]
    pub figures: ChatFigures,
}

/// A conversation report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatReport {
    #[schema(example = "2026-12-01")]
    pub from: String,
    #[schema(example = "2026-12-07")]
    pub until: String,
    #[schema(example = "Asia/Ho_Chi_Minh")]
    pub time_zone: String,
    pub group_by: ChatGroupBy,
    pub groups: Vec<ChatReportGroup>,
    pub total: ChatFigures,
    /// More than 100,000 conversations were active: the report counts the most recent 100,000.
    pub truncated: bool,
}

/// What one conversation adds to its page's group, and to its first responder's and resolver's.
fn conversation_tally(
    row: &ConversationActivity,
    end: UnixMillis,
) -> (ChatTally, Option<i64>, Option<i64>) {
    let mut tally = ChatTally {
        messages_in: row.messages_in,
        messages_out: row.messages_out,
        ..ChatTally::default()
    };
    let (mut responded, mut resolved) = (None, None);
    if let Some(first_in) = row.first_in {
        tally.conversations = 1;
        if let Some(first_out) = row.first_out {
            tally.first_responses.push(first_out.0 - first_in.0);
            responded = row.responder;
        }
        if let Some(at) = row.resolved_at.filter(|at| *at >= first_in && *at < end) {
            tally.resolutions.push(at.0 - first_in.0);
            resolved = row.resolved_by;
        }
    }
    (tally, responded, resolved)
}

/// The report's groups, and its total: each conversation is measured once.
fn chat_groups(
    report: &ConversationReport,
    group_by: ChatGroupBy,
    end: UnixMillis,
    users: &HashMap<i64, String>,
) -> (Vec<ChatReportGroup>, ChatTally) {
    type Groups = std::collections::BTreeMap<String, (String, ChatTally)>;
    fn group(groups: &mut Groups, key: String, label: String) -> &mut ChatTally {
        &mut groups
            .entry(key)
            .or_insert_with(|| (label, ChatTally::default()))
            .1
    }
    let mut groups = Groups::new();
    let mut total = ChatTally::default();
    let user = |id: i64| users.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    for row in &report.conversations {
        let (tally, responder, resolver) = conversation_tally(row, end);
        total.add(&tally);
        match group_by {
            ChatGroupBy::Page => {
                group(&mut groups, row.account.clone(), row.account_name.clone()).add(&tally)
            }
            ChatGroupBy::Agent => {
                if let (Some(id), Some(ms)) = (responder, tally.first_responses.first()) {
                    group(&mut groups, id.to_string(), user(id))
                        .first_responses
                        .push(*ms);
                }
                if let (Some(id), Some(ms)) = (resolver, tally.resolutions.first()) {
                    group(&mut groups, id.to_string(), user(id))
                        .resolutions
                        .push(*ms);
                }
            }
        }
    }
    if group_by == ChatGroupBy::Agent {
        for written in &report.agents {
            let tally = group(
                &mut groups,
                written.user_id.to_string(),
                user(written.user_id),
            );
            tally.conversations += 1;
            tally.messages_out += written.messages_out;
        }
    }
    let groups = groups
        .into_iter()
        .map(|(key, (label, tally))| ChatReportGroup {
            key,
            label,
            figures: tally.figures(),
        })
        .collect();
    (groups, total)
}

/// Conversations per page or per agent over days of the business's time zone: conversations the
/// customers wrote in, messages each way, the median first response and resolution time. With
/// `Accept: text/csv`, one row per conversation instead.
#[utoipa::path(get, path = "/api/reports/conversations", tag = "reports",
    params(ChatReportQuery),
    responses(
        (status = 200, description = "The report; with `Accept: text/csv`, one row per conversation active in the period",
            content((Answer<ChatReport> = "application/json"), (String = "text/csv"))),
        (status = 403, description = "Not a supervisor, an admin or an API token", body = ErrorAnswer),
        (status = 422, description = "A bad date, a reversed period or one over 366 days, an unknown time zone or grouping (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn conversation_report(
    State(state): State<AppState>,
    Supervisor(principal): Supervisor,
    Query(query): Query<ChatReportQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let dates = (
        query.from.as_deref(),
        query.until.as_deref(),
        query.time_zone.as_deref(),
    );
    let period = period(&state, dates, UnixMillis::now())?;
    let store = state.engine.store();
    let report = store
        .conversation_report(&principal, (period.start, period.end))
        .await?;
    if wants_csv(&headers) {
        return Ok(conversations_csv(&report, &period));
    }
    let users: HashMap<i64, String> = store
        .users()
        .await?
        .into_iter()
        .map(|u| {
            let name = if u.display_name.is_empty() {
                u.username
            } else {
                u.display_name
            };
            (u.id, name)
        })
        .collect();
    let group_by = query.group_by.unwrap_or_default();
    let (groups, total) = chat_groups(&report, group_by, period.end, &users);
    Ok(ok(ChatReport {
        from: period.from(),
        until: period.until(),
        time_zone: period.time_zone_name().to_owned(),
        group_by,
        groups,
        total: total.figures(),
        truncated: report.truncated,
    }))
}

fn conversations_csv(report: &ConversationReport, period: &ReportPeriod) -> Response {
    let mut writer = switchboard_domain::spreadsheet::Writer::new(&[
        "conversationId",
        "page",
        "pageName",
        "participant",
        "firstMessageAt",
        "firstResponseAt",
        "firstResponseSeconds",
        "responderUserId",
        "messagesIn",
        "messagesOut",
        "resolvedAt",
        "resolvedByUserId",
    ]);
    let time = |at: Option<UnixMillis>| at.map(UnixMillis::to_rfc3339).unwrap_or_default();
    let id = |id: Option<i64>| id.map(|v| v.to_string()).unwrap_or_default();
    for row in &report.conversations {
        let response = match (row.first_in, row.first_out) {
            (Some(first_in), Some(first_out)) => ((first_out.0 - first_in.0) / 1000).to_string(),
            _ => String::new(),
        };
        let cells = [
            row.conversation_id.to_string(),
            row.account.clone(),
            row.account_name.clone(),
            row.participant_name.clone(),
            time(row.first_in),
            time(row.first_out),
            response,
            id(row.responder),
            row.messages_in.to_string(),
            row.messages_out.to_string(),
            time(row.resolved_at),
            id(row.resolved_by),
        ];
        writer.row(cells.iter().map(String::as_str));
    }
    csv_file(
        &format!("conversations-{}-{}.csv", period.from(), period.until()),
        writer.finish(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Semaphore;

    /// Supervisors asking together are served by one read, however many they are.
    #[tokio::test(flavor = "current_thread")]
    async fn supervisors_asking_together_cost_one_read() {
        let reads: Arc<FloorReads<&str>> = Arc::default();
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let mut asking = Vec::new();
        for _ in 0..10 {
            let (reads, started, gate) = (reads.clone(), started.clone(), gate.clone());
            asking.push(tokio::spawn(async move {
                reads
                    .read(7, || async move {
                        started.fetch_add(1, Ordering::SeqCst);
                        let _open = gate.acquire().await;
                        Ok((7, "floor"))
                    })
                    .await
            }));
        }
        // Let every supervisor reach the read before the first one finishes.
        while started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(10);
        for answer in asking {
            assert_eq!(*answer.await.unwrap().unwrap(), "floor");
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
    }

    /// A supervisor who has seen a newer event than the last reading gets a new one, but never
    /// sooner than FLOOR_READ_EVERY after the last.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_newer_event_is_read_again_at_a_bounded_pace() {
        let reads: FloorReads<i64> = FloorReads::default();
        let first = Instant::now();
        let floor = reads.read(1, || async { Ok((1, 1)) }).await.unwrap();
        assert_eq!(*floor, 1);
        let same = reads.read(1, || async { Ok((1, 99)) }).await.unwrap();
        assert_eq!(*same, 1, "nothing happened since: the reading is shared");
        let newer = reads
            .read(2, || async {
                Ok((2, Instant::now().duration_since(first).as_millis() as i64))
            })
            .await
            .unwrap();
        assert!(
            *newer >= FLOOR_READ_EVERY.as_millis() as i64,
            "read after {} ms",
            *newer
        );
        tokio::time::advance(FLOOR_FRESH_FOR).await;
        let stale = reads.read(2, || async { Ok((2, -1)) }).await.unwrap();
        assert_eq!(
            *stale, -1,
            "a reading older than FLOOR_FRESH_FOR is not shown"
        );
    }
}
