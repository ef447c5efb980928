//! Call-center nodes on one database: a ring or wrap-up timer fires at its due moment on whichever node
//! is alive, whoever started it. A node that dies is one on a runtime of its own, shut down: every task
//! it started (its own precise timers, its sweep) is gone with it.

use std::time::Duration;
use switchboard_callcenter::{AppState, CallCenterOptions, Engine};
use switchboard_domain::callcenter::{CtiEvent, Direction, HangupCause};
use switchboard_domain::routing::AgentState;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_storage::{NewAgent, Store};
use switchboard_testkit::{TestDir, eventually};
use tokio::time::Instant;

/// Timers short enough for a test, long enough that "not before its moment" is measurable; the sweep
/// runs often so that the test is quick.
fn options(ring_timeout: Duration, wrap_up: Duration) -> CallCenterOptions {
    CallCenterOptions {
        ring_timeout,
        wrap_up,
        timer_sweep: Duration::from_millis(200),
        ..CallCenterOptions::default()
    }
}

/// A call-center node in this test's runtime.
async fn node(url: &str, options: CallCenterOptions) -> Engine {
    start(url.to_owned(), options).await
}

async fn start(url: String, options: CallCenterOptions) -> Engine {
    let store = Store::open(&url).await.expect("store");
    let feed = EventFeed::start(
        store.clone(),
        FeedOptions::default(),
        std::future::pending(),
    )
    .await
    .expect("feed");
    AppState::start(store, feed, options)
        .await
        .expect("call center")
        .engine
}

/// A call-center node on a runtime of its own, which [`Mortal::die`] shuts down.
struct Mortal {
    /// `None` once dead.
    runtime: Option<tokio::runtime::Runtime>,
    engine: Engine,
}

impl Mortal {
    async fn start(url: &str, options: CallCenterOptions) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let engine = runtime
            .spawn(start(url.to_owned(), options))
            .await
            .expect("node");
        Self {
            runtime: Some(runtime),
            engine,
        }
    }

    /// Runs a phone system's event on this node (so that its timers are this node's).
    async fn cti(&self, event: CtiEvent) {
        let engine = self.engine.clone();
        let runtime = self.runtime.as_ref().expect("a living node");
        runtime
            .spawn(async move { engine.cti(event).await })
            .await
            .expect("task")
            .expect("cti");
    }

    fn die(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Mortal {
    /// A runtime may not be dropped in the test's own (a failed assertion unwinds through here).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn available_agent(store: &Store, name: &str, extension: &str) -> i64 {
    let new = NewAgent {
        full_name: name.into(),
        extension: extension.into(),
        ..NewAgent::default()
    };
    switchboard_testkit::callcenter::available_agent(store, new)
        .await
        .id
}

fn new_call(call_id: &str) -> CtiEvent {
    CtiEvent::NewCall {
        call_id: call_id.into(),
        from: "0912000111".into(),
        to: "1900".into(),
        direction: Direction::In,
        users: Vec::new(),
        queue: None,
    }
}

/// A call in, answered at `extension` and hung up on `node`: the agent wraps up.
async fn talk(node: &Mortal, call_id: &str, extension: &str) {
    node.cti(new_call(call_id)).await;
    node.cti(CtiEvent::Answer {
        call_id: call_id.into(),
        user: None,
        answering_number: Some(extension.into()),
    })
    .await;
    node.cti(CtiEvent::Hangup {
        call_id: call_id.into(),
        cause: HangupCause::NormalClearing,
        recording_url: None,
    })
    .await;
}

/// Waits (at most 30 s) until `agent_id` is idle; answers when that was seen.
async fn idle(store: &Store, agent_id: i64) -> Instant {
    eventually(30, "the agent idle after the wrap-up", || async {
        let agent = store.agent(agent_id).await.expect("agent");
        (agent.state == AgentState::Idle).then(Instant::now)
    })
    .await
}

/// A timer that fired at `fired` for a timer of `length` started after `started` fired at its moment
/// or later (wall and monotonic clocks may differ by a few milliseconds).
fn not_early(started: Instant, fired: Instant, length: Duration) {
    let waited = fired.duration_since(started);
    assert!(
        waited + Duration::from_millis(50) >= length,
        "fired after {waited:?}, before its moment ({length:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_of_a_node_that_died_rings_out_on_another_node_at_its_moment() {
    let dir = TestDir::create().expect("dir");
    let url = dir.database_url();
    // Long enough for the checks made while it rings, beside two CPU burners.
    let ring = Duration::from_secs(6);
    // Node B starts first: it has no timer of its own for the offer below, only its sweep.
    let b = node(url, options(ring, Duration::ZERO)).await;
    let lan = available_agent(b.store(), "Lan", "101").await;
    let minh = available_agent(b.store(), "Minh", "102").await;
    let a = Mortal::start(url, options(ring, Duration::ZERO)).await;
    let offered = Instant::now();
    a.cti(new_call("ORPHAN")).await;
    let call = b.store().call("ORPHAN").await.expect("call");
    assert_eq!(call.offered_agent_id, Some(lan));
    a.die();
    let moved = eventually(30, "the call offered to Minh", || async {
        let call = b.store().call("ORPHAN").await.expect("call");
        (call.offered_agent_id == Some(minh)).then(Instant::now)
    })
    .await;
    not_early(offered, moved, ring);
    let lan_now = b.store().agent(lan).await.expect("agent");
    assert_eq!(lan_now.state, AgentState::Idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrap_up_begun_on_a_node_that_died_ends_on_another_node_at_its_moment() {
    let dir = TestDir::create().expect("dir");
    let url = dir.database_url();
    let wrap_up = Duration::from_secs(6);
    let b = node(url, options(Duration::from_secs(20), wrap_up)).await;
    let lan = available_agent(b.store(), "Lan", "101").await;
    let a = Mortal::start(url, options(Duration::from_secs(20), wrap_up)).await;
    let started = Instant::now();
    talk(&a, "WRAPPED", "101").await;
    let agent = b.store().agent(lan).await.expect("agent");
    assert_eq!(agent.state, AgentState::WrapUp);
    a.die();
    not_early(started, idle(b.store(), lan).await, wrap_up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_starts_leaves_a_running_wrap_up_until_its_moment() {
    let dir = TestDir::create().expect("dir");
    let url = dir.database_url();
    // Long enough for node B to start (connect, migrate, listen) before it ends, on a loaded machine.
    let wrap_up = Duration::from_secs(10);
    let a = Mortal::start(url, options(Duration::from_secs(20), wrap_up)).await;
    let lan = available_agent(a.engine.store(), "Lan", "101").await;
    let started = Instant::now();
    talk(&a, "WRAPPING", "101").await;
    // Node B starts while node A's wrap-up runs: it neither ends it at once nor early.
    let b = node(url, options(Duration::from_secs(20), wrap_up)).await;
    let agent = b.store().agent(lan).await.expect("agent");
    assert_eq!(agent.state, AgentState::WrapUp);
    not_early(started, idle(b.store(), lan).await, wrap_up);
    a.die();
}
