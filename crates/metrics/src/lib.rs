//! The process's metrics, one registry for every role it runs, served as Prometheus text at `/metrics`
//! on each role's port (docs/deploy.md, "Metrics", lists them). Every label set is bounded: roles, route
//! patterns (never paths), methods, status codes and fixed names, never a user id, an account or free
//! text, so a scraper's memory does not grow with the traffic.
//!
//! One registry per process, reached through [`metrics`]: the crates that record (web, receiver,
//! storage) need no handle passed through every constructor, as with every Prometheus client.

mod process;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histograms, in seconds: a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Units of work per group commit (at most 64).
const GROUP_SIZE_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub role: &'static str,
    /// The route's pattern (`/api/conversations/{id}`), `/socket.io/`, or `unmatched`.
    pub route: String,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub role: &'static str,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub role: &'static str,
    /// Which limit: one of the limiter's fixed descriptions.
    pub limit: &'static str,
    /// The kind of token the caller presented: `anonymous` (none, or none the limiter knows the
    /// kind of), `user`, `integrator`, `bot` or `phone_system`.
    pub caller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    /// `message` or `notification`.
    pub kind: &'static str,
    /// `new` or `duplicate`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    pub role: &'static str,
    /// `console`, `bot` or `callcenter_client`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    /// A Facebook account's id: bounded by the accounts an admin created, never a caller's text.
    pub account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    /// A command its bot has not acknowledged: `pending` (not sent to it yet) or `delivered`
    /// (sent, not acknowledged).
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `ringing`, `waiting` (in the queue) or `connected`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentLabels {
    /// What the agent chose (`available`, `busy`, `away`, `offline`).
    pub status: &'static str,
    /// What the system knows they do (`idle`, `ringing`, `on_call`, `wrap_up`).
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `committed` or `failed` (nothing of the group was written).
    pub outcome: &'static str,
}

/// Every metric the process keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub rate_limited: Family<RefusalLabels, Counter>,
    pub ingested: Family<IngestLabels, Counter>,
    pub write_groups: Family<OutcomeLabels, Counter>,
    pub write_group_units: Histogram,
    pub write_group_seconds: Histogram,
    pub socketio_connections: Family<ConnectionLabels, Gauge>,
    pub bot_connected: Family<AccountLabels, Gauge>,
    pub calls: Family<CallLabels, Gauge>,
    pub agents: Family<AgentLabels, Gauge>,
    pub events_appended: Counter,
    pub event_delivery_seconds: Histogram,
    pub commands: Family<CommandLabels, Gauge>,
    pub command_oldest_unacknowledged_seconds: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    pub call_oldest_wait_seconds: Gauge<f64, AtomicU64>,
    pub calls_offered: Counter,
    pub calls_answered: Counter,
    pub calls_missed: Counter,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    fn new() -> Self {
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let rate_limited = Family::<RefusalLabels, Counter>::default();
        let ingested = Family::<IngestLabels, Counter>::default();
        let write_groups = Family::<OutcomeLabels, Counter>::default();
        let write_group_units = Histogram::new(GROUP_SIZE_BUCKETS);
        let write_group_seconds = latency_histogram();
        let socketio_connections = Family::<ConnectionLabels, Gauge>::default();
        let bot_connected = Family::<AccountLabels, Gauge>::default();
        let calls = Family::<CallLabels, Gauge>::default();
        let agents = Family::<AgentLabels, Gauge>::default();
        let events_appended = Counter::default();
        let event_delivery_seconds = latency_histogram();
        let commands = Family::<CommandLabels, Gauge>::default();
        let command_oldest_unacknowledged_seconds =
            Family::<AccountLabels, Gauge<f64, AtomicU64>>::default();
        let call_oldest_wait_seconds = Gauge::<f64, AtomicU64>::default();
        let (calls_offered, calls_answered, calls_missed) =
            (Counter::default(), Counter::default(), Counter::default());

        // The standard `process_*` names at the top, everything of ours under `switchboard_`.
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::Process::new()));
        let ours = registry.sub_registry_with_prefix("switchboard");
        ours.register(
            "http_requests",
            "HTTP requests answered, by role, route, method and status",
            http_requests.clone(),
        );
        ours.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by role and route",
            http_duration.clone(),
        );
        ours.register(
            "rate_limited",
            "Requests (and Socket.IO events) refused by a rate limit, by role, limit and kind of caller",
            rate_limited.clone(),
        );
        ours.register(
            "ingested",
            "Messages and notifications received from bots, new or already stored",
            ingested.clone(),
        );
        ours.register(
            "write_groups",
            "Group commits of the database writers, committed or failed",
            write_groups.clone(),
        );
        ours.register(
            "write_group_units",
            "Units of write work committed together in one transaction",
            write_group_units.clone(),
        );
        ours.register(
            "write_group_seconds",
            "Time a group commit takes, from its first statement to its durable commit",
            write_group_seconds.clone(),
        );
        ours.register(
            "socketio_connections",
            "Socket.IO connections open on this node, by role and kind of client",
            socketio_connections.clone(),
        );
        ours.register(
            "bot_connected",
            "1 when a bot of the account is connected to this node's sender, else 0",
            bot_connected.clone(),
        );
        ours.register(
            "calls",
            "Calls now ringing, waiting in the queue and connected (from the database: the same on every node)",
            calls.clone(),
        );
        ours.register(
            "agents",
            "Agents by the status they chose and the state they are in (from the database)",
            agents.clone(),
        );
        ours.register(
            "events_appended",
            "Events committed to the log by this node's writers",
            events_appended.clone(),
        );
        ours.register(
            "event_delivery_seconds",
            "Time from an event's write to this node's feed holding it for its sockets",
            event_delivery_seconds.clone(),
        );
        ours.register(
            "commands",
            "Commands their bot has not acknowledged, pending or delivered (from the database)",
            commands.clone(),
        );
        ours.register(
            "command_oldest_unacknowledged_seconds",
            "Age of the account's oldest command its bot has not acknowledged, 0 when none (from the database)",
            command_oldest_unacknowledged_seconds.clone(),
        );
        ours.register(
            "call_oldest_wait_seconds",
            "How long the longest-waiting caller (queued or ringing) has waited, 0 when none (from the database)",
            call_oldest_wait_seconds.clone(),
        );
        ours.register(
            "calls_offered",
            "Inbound calls the phone system reported to this node",
            calls_offered.clone(),
        );
        ours.register(
            "calls_answered",
            "Inbound calls answered through this node",
            calls_answered.clone(),
        );
        ours.register(
            "calls_missed",
            "Inbound calls that ended unanswered, recorded by this node",
            calls_missed.clone(),
        );
        Self {
            registry,
            events_appended,
            event_delivery_seconds,
            commands,
            command_oldest_unacknowledged_seconds,
            call_oldest_wait_seconds,
            calls_offered,
            calls_answered,
            calls_missed,
            calls,
            agents,
            socketio_connections,
            bot_connected,
            http_requests,
            http_duration,
            rate_limited,
            ingested,
            write_groups,
            write_group_units,
            write_group_seconds,
        }
    }

    /// Counts an answered HTTP request.
    pub fn http_request(&self, labels: HttpLabels, took: Duration) {
        self.http_duration
            .get_or_create(&RouteLabels {
                role: labels.role,
                route: labels.route.clone(),
            })
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    /// Counts a group commit of `units` units that took `took`.
    pub fn write_group(&self, units: usize, took: Duration, committed: bool) {
        let outcome = if committed { "committed" } else { "failed" };
        self.write_groups
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if committed {
            self.write_group_units.observe(units as f64);
            self.write_group_seconds.observe(took.as_secs_f64());
        }
    }

    /// Counts a batch of items from a bot.
    pub fn ingested(&self, kind: &'static str, new: usize, duplicates: usize) {
        for (result, count) in [("new", new), ("duplicate", duplicates)] {
            if count > 0 {
                self.ingested
                    .get_or_create(&IngestLabels { kind, result })
                    .inc_by(count as u64);
            }
        }
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Every metric, as Prometheus (OpenMetrics) text.
pub fn render() -> String {
    let mut text = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &metrics().registry);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn what_is_recorded_is_rendered() {
        let before = render();
        metrics().ingested("notification", 2, 1);
        metrics().write_group(5, Duration::from_millis(3), true);
        metrics().write_group(1, Duration::from_millis(1), false);
        let after = render();
        let moved = |series: &str| sample(&after, series) - sample(&before, series);
        assert_eq!(
            moved(r#"switchboard_ingested_total{kind="notification",result="new"}"#),
            2.0
        );
        assert_eq!(
            moved(r#"switchboard_ingested_total{kind="notification",result="duplicate"}"#),
            1.0
        );
        assert_eq!(
            moved(r#"switchboard_write_groups_total{outcome="failed"}"#),
            1.0
        );
        assert_eq!(moved("switchboard_write_group_units_sum"), 5.0);
        assert!(after.contains("# TYPE process_cpu_seconds counter"));
        assert!(after.trim_end().ends_with("# EOF"));
    }
}
