use super::*;
use crate::sql::args;
use crate::{StorageError, Store};
use switchboard_domain::EventKind;

pub(crate) async fn available_agent(store: &Store, name: &str) -> Agent {
    let agent = store
        .create_agent(NewAgent {
            full_name: name.into(),
            ..Default::default()
        })
        .await
        .expect("agent");
    set_status(store, agent.id, AgentStatus::Available).await.0
}

pub(crate) fn call(id: &str, from: &str) -> NewCall {
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

/// A new inbound call from `from` that the store must accept.
pub(crate) async fn ring(store: &Store, id: &str, from: &str) -> (Call, Effects) {
    accepted(store.new_call(call(id, from)).await.expect("call"))
}

pub(crate) async fn set_status(
    store: &Store,
    agent_id: i64,
    status: AgentStatus,
) -> (Agent, Effects) {
    store
        .set_agent_status(agent_id, status)
        .await
        .expect("status")
}

fn accepted(outcome: NewCallOutcome) -> (Call, Effects) {
    match outcome {
        NewCallOutcome::Accepted { call, effects } => (call, effects),
        other => panic!("expected an accepted call, got {other:?}"),
    }
}

#[tokio::test]
async fn a_call_rings_at_the_longest_idle_agent_with_the_seeds_payload() {
    let (_dir, store) = crate::temp_store().await;
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
    let (ringing, effects) = ring(&store, "CALL_1", "+84 912 345 678").await;
    assert_eq!(ringing.status.as_str(), "ringing");
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
    let (_dir, store) = crate::temp_store().await;
    let one = available_agent(&store, "Một").await;
    let two = available_agent(&store, "Hai").await;
    ring(&store, "C1", "0987654321").await;
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
    let (ended, _) = store.end_call("C1", "customer_hangup").await.expect("end");
    assert_eq!((ended.status.as_str(), ended.missed), ("ended", false));
    assert!(matches!(
        store.end_call("C1", "again").await,
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
    let (_dir, store) = crate::temp_store().await;
    // Offers due at once: this test fires their timers itself.
    let store = store.with_call_timers(crate::CallTimers {
        ring: std::time::Duration::ZERO,
        wrap_up: std::time::Duration::ZERO,
        max_no_answer: 0,
    });
    let one = available_agent(&store, "Một").await;
    let two = available_agent(&store, "Hai").await;
    let away = available_agent(&store, "Ba").await;
    set_status(&store, away.id, AgentStatus::Away).await;
    let (_, effects) = ring(&store, "C1", "0987654321").await;
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
    set_status(&store, one.id, AgentStatus::Busy).await;
    let (waiting, effects) = ring(&store, "C2", "0911111111").await;
    assert_eq!(
        (waiting.status.as_str(), effects.offers.len()),
        ("queued", 0)
    );
    let (_, effects) = set_status(&store, one.id, AgentStatus::Available).await;
    assert_eq!(
        effects.offers,
        [Offer {
            call_id: "C2".into(),
            agent_id: one.id
        }]
    );
    let (missed, _) = store.end_call("C1", "cancel").await.expect("end");
    assert!(missed.missed);
}

#[tokio::test]
async fn blocked_and_repeated_calls() {
    let (_dir, store) = crate::temp_store().await;
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
    ring(&store, "C2", "0922222222").await;
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

fn call_ids(page: &crate::Page<Call>) -> Vec<&str> {
    page.items.iter().map(|c| c.call_id.as_str()).collect()
}

#[tokio::test]
async fn the_call_log_filters_by_number_agent_and_missed() {
    let (_dir, store) = crate::temp_store().await;
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
        store.end_call(id, "hangup").await.expect("end");
    }
    let all = store
        .calls(CallFilter::default(), None, 2)
        .await
        .expect("log");
    assert_eq!(call_ids(&all), ["C", "B"]);
    let rest = store
        .calls(CallFilter::default(), all.next_cursor.as_deref(), 2)
        .await
        .expect("page 2");
    assert_eq!(call_ids(&rest), ["A"]);
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

#[tokio::test]
async fn timers_are_stored_with_their_moments_and_a_wrap_up_ends_only_when_due() {
    let (_dir, store) = crate::temp_store().await;
    let hour = std::time::Duration::from_secs(3600);
    let store = store.with_call_timers(crate::CallTimers {
        ring: hour,
        wrap_up: hour,
        max_no_answer: 0,
    });
    let lan = available_agent(&store, "Lan").await;
    let before = UnixMillis::now().0;
    let (_, effects) = ring(&store, "C1", "0911111111").await;
    let everything = UnixMillis(i64::MAX);
    let pending = store.pending_timers(everything).await.expect("pending");
    assert_eq!(pending.offers.len(), 1);
    let (offer, due) = &pending.offers[0];
    assert_eq!(offer, &effects.offers[0]);
    assert!(due.0 >= before + 3_600_000, "{due:?}");
    let not_yet = store.pending_timers(UnixMillis::now()).await.expect("due");
    assert_eq!(not_yet, PendingTimers::default());
    store.answer_call("C1", lan.id).await.expect("answer");
    let (_, effects) = store.end_call("C1", "hangup").await.expect("end");
    assert_eq!(effects.wrap_ups, vec![lan.id]);
    let pending = store.pending_timers(everything).await.expect("pending");
    assert!(pending.offers.is_empty(), "the answer ended the ring timer");
    assert_eq!(pending.wrap_ups.len(), 1);
    // A wrap-up timer that fires before the stored moment (an older wrap-up's) ends nothing.
    store.finish_wrap_up(lan.id).await.expect("finish");
    assert_eq!(
        store.agent(lan.id).await.expect("agent").state,
        AgentState::WrapUp
    );
}

/// A ring timer fires only at its offer's moment: early (another node's clock, a sweep) it does
/// nothing, and a timer of an offer the same agent has been made again since (nobody else was free)
/// leaves the new offer its full time, however many nodes fire it.
#[tokio::test]
async fn a_ring_timer_before_its_moment_or_of_an_older_offer_changes_nothing() {
    let (_dir, store) = crate::temp_store().await;
    let store = store.with_call_timers(crate::CallTimers {
        ring: std::time::Duration::from_secs(3600),
        wrap_up: std::time::Duration::ZERO,
        max_no_answer: 0,
    });
    let only = available_agent(&store, "Một").await;
    let (_, effects) = ring(&store, "C1", "0987654321").await;
    let first = effects.offers[0].clone();
    assert_eq!(first.agent_id, only.id);
    let early = store.ring_timeout(first.clone()).await.expect("early");
    assert_eq!(early, Effects::default());
    assert_eq!(
        store.call("C1").await.expect("call").offered_agent_id,
        Some(only.id)
    );
    // The moment passes: the call rings out and, nobody else being free, comes back to the same agent.
    store
        .write(|tx| {
            tx.execute(
                "UPDATE calls SET ring_due_at = 0 WHERE call_id = 'C1'",
                args![],
            )?;
            Ok(())
        })
        .await
        .expect("due");
    let moved = store.ring_timeout(first.clone()).await.expect("due");
    assert_eq!(moved.offers, std::slice::from_ref(&first));
    // The same timer fired again (a sweep on another node) leaves that new offer ringing.
    assert_eq!(
        store.ring_timeout(first).await.expect("again"),
        Effects::default()
    );
    let call = store.call("C1").await.expect("call");
    assert_eq!(
        (call.status, call.offered_agent_id),
        (CallStatus::Ringing, Some(only.id))
    );
}

/// The longest wait the metrics show: inbound calls not answered yet, from their start.
#[tokio::test]
async fn the_oldest_wait_is_the_first_unanswered_inbound_call() {
    let (_dir, store) = crate::temp_store().await;
    let gauges = store.call_center_gauges().await.expect("gauges");
    assert_eq!(gauges.oldest_waiting_since, None);
    let (first, _) = ring(&store, "WAIT_1", "0912000001").await;
    ring(&store, "WAIT_2", "0912000002").await;
    let outbound = NewCall {
        direction: "out".into(),
        ..call("OUT_1", "0912000003")
    };
    accepted(store.new_call(outbound).await.expect("outbound"));
    let gauges = store.call_center_gauges().await.expect("gauges");
    assert_eq!(gauges.oldest_waiting_since, Some(first.start_time));
    store
        .end_call("WAIT_1", "caller_cancel")
        .await
        .expect("end");
    store
        .end_call("WAIT_2", "caller_cancel")
        .await
        .expect("end");
    let gauges = store.call_center_gauges().await.expect("gauges");
    assert_eq!(gauges.oldest_waiting_since, None, "{gauges:?}");
}

#[tokio::test]
async fn a_missed_call_opens_a_callback_for_its_queue_in_turn_and_a_repeat_joins_it() {
    use switchboard_domain::callbacks::{CallbackOutcome, CallbackStatus};
    let (_dir, store) = crate::temp_store().await;
    let sales = |name: &str| NewAgent {
        full_name: name.into(),
        queues: vec!["sales".into()],
        ..Default::default()
    };
    let lan = store.create_agent(sales("Lan")).await.expect("lan");
    let minh = store.create_agent(sales("Minh")).await.expect("minh");
    let support = store
        .create_agent(NewAgent {
            full_name: "Hỗ trợ".into(),
            queues: vec!["support".into()],
            ..Default::default()
        })
        .await
        .expect("support");
    let in_sales = |id: &str, from: &str| NewCall {
        queue: Some("sales".into()),
        ..call(id, from)
    };
    // Nobody is available: each call waits, then the caller hangs up.
    for (id, from) in [
        ("C1", "0912 000 001"),
        ("C2", "0912 000 002"),
        ("C3", "0912.000.001"),
    ] {
        store.new_call(in_sales(id, from)).await.expect("call");
        store.end_call(id, "cancel").await.expect("end");
    }
    let open = store
        .callbacks(Some(CallbackStatus::Open), None, 50)
        .await
        .expect("open");
    let summary: Vec<(&str, &str, i64, Option<i64>)> = open
        .iter()
        .map(|c| {
            (
                c.number.as_str(),
                c.call_id.as_str(),
                c.missed_calls,
                c.assigned_agent_id,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("+84912000001", "C1", 2, Some(lan.id)),
            ("+84912000002", "C2", 1, Some(minh.id))
        ],
        "the repeat joins its caller's task; the sales agents take turns; support is not in the queue"
    );
    assert_eq!(open[0].last_call_id, "C3");
    assert!(open.iter().all(|c| c.assigned_agent_id != Some(support.id)));

    let events = store.events_after(0, 1_000).await.expect("events");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::CallbackUpdated)
            .count(),
        3
    );

    let closed = store
        .close_callback(
            open[0].id,
            CallbackOutcome::Reached,
            "Khách đặt 2 bình".into(),
            None,
        )
        .await
        .expect("close");
    assert_eq!(
        (closed.status, closed.outcome, closed.note.as_str()),
        (
            CallbackStatus::Closed,
            Some(CallbackOutcome::Reached),
            "Khách đặt 2 bình"
        )
    );
    assert!(matches!(
        store
            .close_callback(open[0].id, CallbackOutcome::Reached, String::new(), None)
            .await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        store
            .close_callback(9_999, CallbackOutcome::Reached, String::new(), None)
            .await,
        Err(StorageError::UnknownCallback(9_999))
    ));
    // Missed again after the task was closed: a new task, for the next agent in turn.
    store
        .new_call(in_sales("C4", "0912000001"))
        .await
        .expect("call");
    store.end_call("C4", "cancel").await.expect("end");
    let mine = store
        .callbacks(Some(CallbackStatus::Open), Some(lan.id), 50)
        .await
        .expect("mine");
    assert_eq!(
        mine.iter().map(|c| c.call_id.as_str()).collect::<Vec<_>>(),
        ["C4"]
    );

    // An answered call, and an outbound one nobody picked up, open nothing.
    let agent = available_agent(&store, "Trực").await;
    ring(&store, "C5", "0912000009").await;
    store.answer_call("C5", agent.id).await.expect("answer");
    store.end_call("C5", "normalClearing").await.expect("end");
    let all = store.callbacks(None, None, 50).await.expect("all");
    assert!(all.iter().all(|c| c.number != "+84912000009"));
}

#[tokio::test]
async fn an_agent_records_a_calls_outcome_from_the_codes_in_use_and_the_recording_is_kept() {
    let (_dir, store) = crate::temp_store().await;
    let lan = available_agent(&store, "Lan").await;
    let sale = store
        .create_outcome_code("sale".into(), "Chốt đơn".into(), None)
        .await
        .expect("code");
    let old = store
        .create_outcome_code("old".into(), "Cũ".into(), None)
        .await
        .expect("code");
    assert_eq!((sale.position, old.position), (1, 2));
    assert!(matches!(
        store
            .create_outcome_code("sale".into(), "Bán".into(), None)
            .await,
        Err(StorageError::Conflict(_))
    ));
    let retired = switchboard_domain::call_outcomes::OutcomeCodeChanges {
        label: None,
        position: None,
        active: Some(false),
    };
    assert!(
        !store
            .update_outcome_code(old.id, retired)
            .await
            .expect("retired")
            .active
    );
    ring(&store, "C1", "0912000001").await;
    store.answer_call("C1", lan.id).await.expect("answer");
    store.end_call("C1", "hangup").await.expect("end");

    let call = store
        .set_call_outcome("C1", "sale".into(), "giao thứ Bảy".into(), None)
        .await
        .expect("outcome");
    assert_eq!(
        (call.outcome.as_deref(), call.outcome_note.as_str()),
        (Some("sale"), "giao thứ Bảy")
    );
    for refused in ["old", "nope"] {
        match store
            .set_call_outcome("C1", refused.into(), String::new(), None)
            .await
        {
            Err(StorageError::Invalid(e)) => assert_eq!(e.field, "code"),
            other => panic!("{refused}: {other:?}"),
        }
    }
    assert!(matches!(
        store
            .set_call_outcome("NOPE", "sale".into(), String::new(), None)
            .await,
        Err(StorageError::UnknownCall(_))
    ));
    let url = "https://pbx.example.vn/rec/C1.mp3";
    let call = store
        .set_recording_url("C1", url.into())
        .await
        .expect("recording");
    assert_eq!(call.recording_url.as_deref(), Some(url));
    assert_eq!(
        store.call("C1").await.expect("call").outcome.as_deref(),
        Some("sale")
    );
    let codes: Vec<(String, bool)> = store
        .outcome_codes()
        .await
        .expect("codes")
        .into_iter()
        .map(|c| (c.code, c.active))
        .collect();
    assert_eq!(
        codes,
        [("sale".to_owned(), true), ("old".to_owned(), false)]
    );
}

/// A claimed command is this node's until its lease runs out: another claim passes it over, then
/// takes it again if it was never recorded as sent (the node died), so it is sent at least once.
#[tokio::test]
async fn a_claimed_phone_command_is_one_nodes_until_its_lease_runs_out() {
    use switchboard_domain::phone_commands::{PhoneCommandKind, PhoneCommandStatus};
    let (_dir, store) = crate::temp_store().await;
    let queued = store
        .queue_phone_command(PhoneCommandKind::Dial, None, "{}".into(), (None, None))
        .await
        .expect("queued");
    let now = UnixMillis::now();
    let lease = std::time::Duration::from_secs(30);
    let first = store
        .claim_phone_commands(now, lease, 10)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert!(
        store
            .claim_phone_commands(now, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let after_lease = UnixMillis(now.0 + 30_001);
    let again = store
        .claim_phone_commands(after_lease, lease, 10)
        .await
        .expect("claim");
    assert_eq!(again[0].command.id, queued.id);
    let retried = store
        .phone_command_sent(
            queued.id,
            SendResult::Retry {
                error: "503".into(),
                at: UnixMillis(0),
            },
        )
        .await
        .expect("retry");
    assert_eq!(
        (retried.status, retried.attempts),
        (PhoneCommandStatus::Pending, 1)
    );
    let delivered = store
        .phone_command_sent(queued.id, SendResult::Delivered)
        .await
        .expect("delivered");
    assert_eq!(
        (
            delivered.status,
            delivered.attempts,
            delivered.last_error.as_deref()
        ),
        (PhoneCommandStatus::Delivered, 2, Some("503"))
    );
    assert!(
        store
            .claim_phone_commands(UnixMillis(i64::MAX / 2), lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // Pruned with the event log once ended; a pending one stays whatever its age.
    let pending = store
        .queue_phone_command(PhoneCommandKind::Dial, None, "{}".into(), (None, None))
        .await
        .expect("queued");
    store
        .prune_old_events(UnixMillis(i64::MAX / 2), 100)
        .await
        .expect("pruned");
    let left: Vec<i64> = store
        .phone_commands(None, None, 10)
        .await
        .expect("listed")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, [pending.id]);
    let failed = store
        .phone_commands(None, Some(PhoneCommandStatus::Failed), 10)
        .await
        .expect("listed");
    assert!(failed.is_empty(), "{failed:?}");
    let still_pending = store
        .phone_commands(None, Some(PhoneCommandStatus::Pending), 10)
        .await
        .expect("listed");
    assert_eq!(still_pending.len(), 1);
}
