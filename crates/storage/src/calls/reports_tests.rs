//! The floor and the reports, on both engines: sums that match what happened, time in state,
//! max-no-answer.

use super::tests::{available_agent, call, ring, set_status};
use super::*;
use crate::sql::args;
use crate::{AccountKind, Store};
use switchboard_domain::EventKind;
use switchboard_domain::reports::{CallTally, ReportPeriod};

/// Offers ring out when this test says, and nobody is set away for it unless the test asks.
fn timers(max_no_answer: u32) -> crate::CallTimers {
    crate::CallTimers {
        ring: std::time::Duration::ZERO,
        wrap_up: std::time::Duration::ZERO,
        max_no_answer,
    }
}

/// Moves a call's moments to `base` + the given seconds (`None`: leave as it is).
async fn at(store: &Store, call_id: &str, base: i64, seconds: [Option<i64>; 3]) {
    let [started, answered, ended] = seconds.map(|s| s.map(|s| base + s * 1000));
    let call_id = call_id.to_owned();
    store
        .write(move |tx| {
            tx.execute(
                "UPDATE calls SET started_at = ?2, answered_at = COALESCE(CAST(?3 AS BIGINT), answered_at),
                     ended_at = COALESCE(CAST(?4 AS BIGINT), ended_at) WHERE call_id = ?1",
                args![call_id, started, answered, ended],
            )?;
            Ok(())
        })
        .await
        .expect("moments");
}

const HCM: &str = "Asia/Ho_Chi_Minh";

/// Yesterday and today in `zone`: wide enough for calls moved up to an hour back, at any hour.
async fn report(
    store: &Store,
    zone: &str,
    grouping: CallGrouping,
    now: UnixMillis,
) -> Vec<(GroupKey, CallTally)> {
    let today = ReportPeriod::today(zone, UnixMillis::now()).expect("zone");
    let yesterday =
        ReportPeriod::today(zone, UnixMillis(UnixMillis::now().0 - 86_400_000)).expect("zone");
    let period = ReportPeriod::parse(Some(&yesterday.from()), Some(&today.until()), zone, now)
        .expect("period");
    store
        .call_report(period, grouping, now)
        .await
        .expect("report")
}

fn today() -> ReportPeriod {
    ReportPeriod::today(HCM, UnixMillis::now()).expect("today")
}

async fn forget_stats_rules(store: &Store) {
    store
        .write(|tx| {
            tx.execute(
                "DELETE FROM settings WHERE key = 'call_stats_rules'",
                args![],
            )?;
            Ok(())
        })
        .await
        .expect("forget");
}

#[tokio::test]
async fn a_report_sums_answers_abandons_ring_outs_and_the_service_level_per_group() {
    let (_dir, store) = crate::temp_store().await;
    let store = store.with_call_timers(timers(0));
    let lan = available_agent(&store, "Lan").await;
    let minh = available_agent(&store, "Minh").await;
    // Answered in 10 s, 60 s of talk.
    let (first, _) = ring(&store, "A1", "0911000001").await;
    let first_agent = first.offered_agent_id.expect("offered");
    store.answer_call("A1", first_agent).await.expect("answer");
    store.end_call("A1", "hangup").await.expect("end");
    // Rings out at one agent, answered by the other in 30 s, 120 s of talk.
    let (second, effects) = ring(&store, "A2", "0911000002").await;
    let rang_out_at = second.offered_agent_id.expect("offered");
    store
        .ring_timeout(effects.offers[0].clone())
        .await
        .expect("ring out");
    let answered_by = if rang_out_at == lan.id {
        minh.id
    } else {
        lan.id
    };
    store.answer_call("A2", answered_by).await.expect("answer");
    store.end_call("A2", "hangup").await.expect("end");
    // Nobody free: callers who give up at 3 s and at 40 s, and one still waiting.
    set_status(&store, lan.id, AgentStatus::Away).await;
    set_status(&store, minh.id, AgentStatus::Away).await;
    for (id, queue) in [("A3", "support"), ("A4", "support"), ("A5", "sales")] {
        let new = NewCall {
            queue: Some(queue.into()),
            ..call(id, "0911000003")
        };
        store.new_call(new).await.expect("call");
    }
    store.end_call("A3", "caller_cancel").await.expect("end");
    store.end_call("A4", "caller_cancel").await.expect("end");
    let outbound = NewCall {
        direction: "out".into(),
        agent_id: Some(lan.id),
        ..call("OUT1", "0911000009")
    };
    store.new_call(outbound).await.expect("outbound");

    // The daily sums kept as calls ended agree with the calls themselves (read raw in another zone
    // with the same clock), for every grouping.
    let now = UnixMillis::now();
    for grouping in [
        CallGrouping::Total,
        CallGrouping::Agent,
        CallGrouping::Queue,
        CallGrouping::Day,
    ] {
        let kept = report(&store, HCM, grouping, now).await;
        let raw = report(&store, "Asia/Bangkok", grouping, now).await;
        assert_eq!(kept, raw, "{grouping:?}");
    }

    let base = UnixMillis::now().0 - 3_600_000;
    at(&store, "A1", base, [Some(0), Some(10), Some(70)]).await;
    at(&store, "A2", base, [Some(100), Some(130), Some(250)]).await;
    at(&store, "A3", base, [Some(300), None, Some(303)]).await;
    at(&store, "A4", base, [Some(400), None, Some(440)]).await;
    at(&store, "A5", base, [Some(500), None, None]).await;
    at(&store, "OUT1", base, [Some(600), None, None]).await;
    // Moved behind the store's back: the sums are made again from the calls, once.
    forget_stats_rules(&store).await;
    assert!(store.keep_call_stats().await.expect("rebuilt"));
    assert!(!store.keep_call_stats().await.expect("kept"));
    // The waiting caller has waited 5 s: not decided yet either way.
    let now = UnixMillis(base + 505_000);

    let total = report(&store, HCM, CallGrouping::Total, now).await;
    let expected = CallTally {
        offered: 5,
        answered: 2,
        abandoned: 2,
        short_abandoned: 1,
        answered_in_time: 1,
        waiting_in_time: 1,
        answer_millis: 40_000,
        handled: 2,
        handle_millis: 180_000,
        ring_outs: 1,
        outbound: 1,
    };
    assert_eq!(total, vec![(GroupKey::Total, expected)]);
    assert_eq!(
        report(&store, "Asia/Bangkok", CallGrouping::Total, now).await,
        total
    );
    assert_eq!(expected.figures().service_level, Some(0.333));
    // Once the caller has waited past the threshold, they count against the service level.
    let later = report(&store, HCM, CallGrouping::Total, UnixMillis(base + 530_000)).await;
    assert_eq!(later[0].1.waiting_in_time, 0);

    let by_queue = report(&store, HCM, CallGrouping::Queue, now).await;
    let queues: Vec<(GroupKey, i64, i64, i64)> = by_queue
        .iter()
        .map(|(k, t)| (k.clone(), t.offered, t.abandoned, t.outbound))
        .collect();
    assert_eq!(
        queues,
        [
            (GroupKey::Queue(None), 2, 0, 1),
            (GroupKey::Queue(Some("sales".into())), 1, 0, 0),
            (GroupKey::Queue(Some("support".into())), 2, 2, 0),
        ]
    );

    let by_agent = report(&store, HCM, CallGrouping::Agent, now).await;
    let of = |key: GroupKey| {
        by_agent
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| *t)
            .unwrap_or_default()
    };
    assert_eq!(of(GroupKey::Agent(None)).offered, 3, "{by_agent:?}");
    assert_eq!(of(GroupKey::Agent(Some(rang_out_at))).ring_outs, 1);
    assert_eq!(of(GroupKey::Agent(Some(lan.id))).outbound, 1);
    let answered: i64 = [lan.id, minh.id]
        .iter()
        .map(|id| of(GroupKey::Agent(Some(*id))).answered)
        .sum();
    assert_eq!(answered, 2);
    assert!(of(GroupKey::Agent(Some(answered_by))).answer_millis >= 30_000);

    let by_day = report(&store, HCM, CallGrouping::Day, now).await;
    let mut summed = CallTally::default();
    for (key, tally) in &by_day {
        assert!(
            matches!(key, GroupKey::Day(day) if day.len() == 10),
            "{key:?}"
        );
        summed.add(tally);
    }
    assert_eq!(summed, expected);
    // Calls outside the period are not in it.
    let long_ago =
        ReportPeriod::parse(Some("2020-01-01"), Some("2020-12-31"), HCM, now).expect("period");
    let before = store
        .call_report(long_ago, CallGrouping::Total, now)
        .await
        .expect("report");
    assert!(before.is_empty(), "{before:?}");
}

#[tokio::test]
async fn an_agent_who_lets_offers_ring_out_in_a_row_is_set_away_and_supervisors_are_told() {
    let (_dir, store) = crate::temp_store().await;
    let store = store.with_call_timers(timers(2));
    let lan = available_agent(&store, "Lan").await;
    // An answer in between starts the count again.
    let (_, effects) = ring(&store, "C1", "0912000001").await;
    store
        .ring_timeout(effects.offers[0].clone())
        .await
        .expect("ring out");
    let again = store
        .pending_timers(UnixMillis(i64::MAX))
        .await
        .expect("timers");
    assert_eq!(
        again.offers.len(),
        1,
        "offered to Lan again: nobody else is free"
    );
    store.answer_call("C1", lan.id).await.expect("answer");
    store.end_call("C1", "hangup").await.expect("end");
    assert_eq!(
        store.agent(lan.id).await.expect("agent").status,
        AgentStatus::Available
    );

    let (_, effects) = ring(&store, "C2", "0912000002").await;
    store
        .ring_timeout(effects.offers[0].clone())
        .await
        .expect("first");
    let offer = store
        .pending_timers(UnixMillis(i64::MAX))
        .await
        .expect("timers")
        .offers[0]
        .0
        .clone();
    let before = store.events_after(0, 1000).await.expect("events").len();
    let effects = store.ring_timeout(offer).await.expect("second");
    assert!(effects.offers.is_empty(), "Lan is away: the call waits");
    assert_eq!(
        store.agent(lan.id).await.expect("agent").status,
        AgentStatus::Away
    );
    let events = store.events_after(0, 1000).await.expect("events");
    let told = events[before..]
        .iter()
        .find(|e| e.kind == EventKind::AgentStatusUpdate)
        .expect("an agent_status_update")
        .json()
        .expect("payload");
    assert_eq!(told["reason"], "max_no_answer");
    assert_eq!(told["status"], "away");
    assert_eq!(
        store.call("C2").await.expect("call").status,
        CallStatus::Queued
    );
    // Back, with a fresh count: the waiting call is offered again.
    let (_, effects) = set_status(&store, lan.id, AgentStatus::Available).await;
    assert_eq!(effects.offers.len(), 1);
    let floor = store
        .floor(today(), UnixMillis::now())
        .await
        .expect("floor");
    assert_eq!(floor.agents[0].ring_outs_in_row, 0);
    assert_eq!(floor.today.ring_outs, 3);
}

#[tokio::test]
async fn the_floor_shows_who_waits_who_talks_each_agents_time_in_state_and_chats_waiting() {
    let (_dir, store) = crate::temp_store().await;
    let lan = available_agent(&store, "Lan").await;
    let start = UnixMillis::now();
    ring(&store, "W1", "0913000001").await;
    let new = NewCall {
        queue: Some("sales".into()),
        ..call("W2", "0913000002")
    };
    store.new_call(new).await.expect("call");
    let floor = store
        .floor(today(), UnixMillis::now())
        .await
        .expect("floor");
    let waiting: Vec<(&str, CallStatus)> = floor
        .waiting
        .iter()
        .map(|c| (c.call_id.as_str(), c.status))
        .collect();
    assert_eq!(
        waiting,
        [("W1", CallStatus::Ringing), ("W2", CallStatus::Queued)]
    );
    assert_eq!(floor.waiting[0].agent_id, Some(lan.id));
    assert_eq!(floor.agents[0].agent.state, AgentState::Ringing);
    assert!(floor.agents[0].state_since >= start);

    store.answer_call("W1", lan.id).await.expect("answer");
    let floor = store
        .floor(today(), UnixMillis::now())
        .await
        .expect("floor");
    assert_eq!(floor.connected.len(), 1);
    assert_eq!(floor.connected[0].call_id, "W1");
    assert_eq!(floor.waiting.len(), 1);
    assert_eq!(floor.agents[0].agent.state, AgentState::OnCall);
    assert_eq!((floor.today.offered, floor.today.answered), (2, 1));

    // Chats: a customer waiting for an answer, nobody owning the conversation.
    store
        .ensure_account("page1", "", AccountKind::Page)
        .await
        .expect("account");
    store
        .ingest_messages(crate::ingest::tests::batch("page1", &["m1"]))
        .await
        .expect("ingest");
    let floor = store
        .floor(today(), UnixMillis::now())
        .await
        .expect("floor");
    assert_eq!(floor.chats.unassigned, 1);
    assert_eq!(floor.chats.awaiting_reply, 1);
    assert_eq!(
        floor.chats.oldest_awaiting_since,
        Some(UnixMillis(1_767_225_600_000))
    );
    assert_eq!(floor.agents[0].open_conversations, 0);
}
