//! The guarantees several nodes on one database rely on, at the storage level: several `Store`s on
//! the same scratch database (on SQLite, split mode on one file; on PostgreSQL, several nodes).

use crate::calls::tests::{available_agent, call};
use crate::group::Turns;
use crate::{AccountKind, NewCallOutcome, StorageError, Store};
use std::time::{Duration, Instant};
use switchboard_domain::MessageStatus;
use switchboard_domain::ingest::{BotStatus, StatusUpdate};
use switchboard_domain::outbound::Outcome;

const NODES: usize = 3;

/// The scratch database and `NODES` stores on it.
async fn nodes() -> (crate::TestDatabase, Vec<Store>) {
    let (db, first) = crate::temp_store().await;
    let mut stores = vec![first];
    for _ in 1..NODES {
        stores.push(Store::open(db.url()).await.expect("another node"));
    }
    (db, stores)
}

/// Follows the log from `store` after `cursor` until `last`, checking that every id comes once, in
/// order, with none skipped: the next id seen is always the one after the cursor.
async fn follow(store: Store, mut cursor: i64, last: i64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while cursor < last {
        assert!(
            Instant::now() < deadline,
            "stuck at event {cursor} of {last}"
        );
        let events = store.events_after(cursor, 50).await.expect("events");
        for event in &events {
            assert_eq!(
                event.id,
                cursor + 1,
                "a gap or a repeat after event {cursor}"
            );
            cursor = event.id;
            seen += 1;
        }
        if events.is_empty() {
            tokio::task::yield_now().await;
        }
    }
    seen
}

/// A reader on every node, from the end of the log now to `count` events further: the first id
/// before them, the last of them, and the readers.
async fn follow_on_every_node(
    stores: &[Store],
    count: usize,
) -> (i64, i64, Vec<tokio::task::JoinHandle<usize>>) {
    let start = stores[0].last_event_id().await.expect("last");
    let last = start + i64::try_from(count).expect("count");
    let readers = stores
        .iter()
        .map(|store| tokio::spawn(follow(store.clone(), start, last)))
        .collect();
    (start, last, readers)
}

/// Checks that the writers were answered each id after `start` up to `last` once, and that every
/// reader followed all of them.
async fn each_given_once_and_seen_by_all(
    writers: Vec<tokio::task::JoinHandle<Vec<i64>>>,
    readers: Vec<tokio::task::JoinHandle<usize>>,
    start: i64,
    last: i64,
) {
    let mut given = Vec::new();
    for writer in writers {
        given.extend(writer.await.expect("writer"));
    }
    given.sort_unstable();
    assert_eq!(
        given,
        (start + 1..=last).collect::<Vec<_>>(),
        "each id given once"
    );
    let total = usize::try_from(last - start).expect("count");
    for reader in readers {
        assert_eq!(reader.await.expect("reader"), total);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_on_every_node_see_every_event_of_concurrent_writers_once_in_order() {
    const WRITERS_PER_NODE: usize = 3;
    const UPDATES: usize = 40;
    let (_db, stores) = nodes().await;
    for writer in 0..NODES * WRITERS_PER_NODE {
        stores[0]
            .ensure_account(&format!("page{writer}"), "", AccountKind::Page)
            .await
            .expect("account");
    }
    let (start, last, readers) =
        follow_on_every_node(&stores, NODES * WRITERS_PER_NODE * UPDATES).await;
    let writers: Vec<_> = (0..NODES * WRITERS_PER_NODE)
        .map(|writer| {
            let store = stores[writer % NODES].clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..UPDATES {
                    let update = StatusUpdate {
                        account: format!("page{writer}"),
                        status: if n % 2 == 0 {
                            BotStatus::Online
                        } else {
                            BotStatus::Offline
                        },
                        message: String::new(),
                    };
                    ids.push(store.update_bot_status(update).await.expect("event"));
                }
                ids
            })
        })
        .collect();
    each_given_once_and_seen_by_all(writers, readers, start, last).await;
    for store in &stores {
        assert_eq!(store.last_event_id().await.expect("last"), last);
    }
}

/// Writes that run beside each other (`Store::write_beside`: PostgreSQL's nodes do not take turns
/// for them) mixed with writes that take turns, on every node: each appends an event, then keeps
/// its transaction open for a few more statements, so that transactions of several nodes overlap
/// after their events exist. Every reader still sees every event once, in order, with no gap: ids
/// are given as each transaction commits, not as its events are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_of_writes_beside_each_other_reach_every_reader_once_in_order() {
    const WRITERS_PER_NODE: usize = 4;
    const WRITES: usize = 30;
    let (_db, stores) = nodes().await;
    let (start, last, readers) =
        follow_on_every_node(&stores, NODES * WRITERS_PER_NODE * WRITES).await;
    let writers: Vec<_> = (0..NODES * WRITERS_PER_NODE)
        .map(|writer| {
            let store = stores[writer % NODES].clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..WRITES {
                    let number = format!("w{writer}n{n}");
                    let ((), announced) = store
                        .submit(
                            move |tx| {
                                crate::events::append(
                                    tx,
                                    switchboard_domain::EventKind::BotStatus,
                                    None,
                                    &serde_json::json!({"writer": writer, "n": n}),
                                )?;
                                for suffix in ["a", "b", "c"] {
                                    tx.execute(
                                        "INSERT INTO blocked_numbers (number, created_at) VALUES (?1, 0)",
                                        crate::sql::args![format!("{number}{suffix}")],
                                    )?;
                                }
                                Ok(())
                            },
                            // A third of the writers take turns, a third run beside the
                            // others, a third beside those of other keys but not beside those
                            // that take turns.
                            match writer % 3 {
                                0 => Turns::Alone,
                                1 => Turns::Beside,
                                _ => Turns::Shared,
                            },
                            writer as u64,
                        )
                        .await
                        .expect("write");
                    ids.push(announced.last_given().expect("its event"));
                }
                ids
            })
        })
        .collect();
    each_given_once_and_seen_by_all(writers, readers, start, last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_call_answered_at_once_on_two_nodes_has_exactly_one_winner() {
    const CALLS: usize = 100;
    let (_db, stores) = nodes().await;
    let (b, c) = (stores[1].clone(), stores[2].clone());
    let agents = [
        available_agent(&b, "Agent B").await.id,
        available_agent(&c, "Agent C").await.id,
    ];
    for n in 0..CALLS {
        let outcome = stores[0]
            .new_call(call(&format!("CALL_{n}"), "0987654321"))
            .await
            .expect("call");
        assert!(matches!(outcome, NewCallOutcome::Accepted { .. }));
    }
    let answers: Vec<_> = (0..CALLS)
        .flat_map(|n| {
            [(b.clone(), agents[0]), (c.clone(), agents[1])].map(|(store, agent)| {
                tokio::spawn(async move { store.answer_call(&format!("CALL_{n}"), agent).await })
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut results = Vec::new();
    for answer in answers {
        results.push(answer.await.expect("answer"));
    }
    for (n, pair) in results.chunks(2).enumerate() {
        let call_id = format!("CALL_{n}");
        let won: Vec<_> = pair.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "{call_id}: {pair:?}");
        let lost = pair.iter().find_map(|r| r.as_ref().err());
        assert!(
            matches!(lost, Some(StorageError::CallTaken(id)) if *id == call_id),
            "{call_id}: {lost:?}"
        );
        let stored = stores[0].call(&call_id).await.expect("call");
        assert_eq!(stored.answered_by, won[0].0.answered_by);
        winners.push(won[0].0.answered_by);
    }
    assert_eq!(winners.len(), CALLS);
}

/// Two reports of each command at once, on two nodes (a bot that reconnected elsewhere and repeats
/// itself): the reports run beside each other's writes, and still exactly one of them closes the
/// command and announces the message; the message ends as that one said. A report that met the
/// other node's in a deadlock is answered `Contended` and made again, as a bot retries a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reports_of_a_command_at_once_on_two_nodes_close_it_once() {
    const COMMANDS: usize = 40;
    let (_db, stores) = nodes().await;
    let a = &stores[0];
    a.ensure_account("page1", "", AccountKind::Page)
        .await
        .expect("account");
    a.ingest_messages(crate::ingest::tests::batch("page1", &["m1"]))
        .await
        .expect("ingest");
    let conversation = a
        .conversations("page1", Default::default(), None, 10)
        .await
        .expect("conversations")
        .items[0]
        .id;
    let mut queued = Vec::new();
    for n in 0..COMMANDS {
        queued.push(
            a.queue_message(conversation, format!("Trả lời {n}"), None)
                .await
                .expect("queue"),
        );
    }
    let reports: Vec<_> = queued
        .iter()
        .flat_map(|q| {
            let sent = Outcome::Sent {
                platform_id: None,
                link: None,
                recipient_id: None,
            };
            let failed = Outcome::Failed {
                reason: "blocked".into(),
            };
            [(stores[1].clone(), sent), (stores[2].clone(), failed)].map(|(store, outcome)| {
                let command_id = q.command_id.clone();
                tokio::spawn(async move {
                    // Two groups that close the same commands in different orders can deadlock;
                    // PostgreSQL fails one report, answered `Contended` (a 503 to retry), and the
                    // caller tries again, as a bot does.
                    loop {
                        match store
                            .record_outcome("page1", &command_id, outcome.clone())
                            .await
                        {
                            Err(StorageError::Contended(_)) => tokio::task::yield_now().await,
                            answer => return answer,
                        }
                    }
                })
            })
        })
        .collect();
    let mut answers = Vec::new();
    for report in reports {
        answers.push(report.await.expect("report").expect("recorded"));
    }
    let messages = a
        .messages(conversation, None, 100)
        .await
        .expect("messages")
        .items;
    for (q, pair) in queued.iter().zip(answers.chunks(2)) {
        let applied: Vec<usize> = (0..2).filter(|&i| pair[i].is_some()).collect();
        assert_eq!(applied.len(), 1, "message {}: {pair:?}", q.message.id);
        let expected = if applied[0] == 0 {
            MessageStatus::Sent
        } else {
            MessageStatus::Failed
        };
        let stored = messages
            .iter()
            .find(|m| m.id == q.message.id)
            .expect("stored");
        assert_eq!(stored.status, expected, "message {}", q.message.id);
    }
}

/// A write beside the others appends an event for an account that another node deletes while the
/// write's transaction is still open: the deletion removes the account's events, and the write's
/// group still commits, leaving that event out (its id a gap) and keeping its other events. Only
/// PostgreSQL runs writes beside each other (SQLite's one writer makes this impossible).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_of_an_account_deleted_meanwhile_on_another_node_is_left_out() {
    let (db, stores) = nodes().await;
    if !db.url().starts_with("postgres") {
        return;
    }
    let (a, b) = (stores[0].clone(), stores[1].clone());
    let (gone, _) = a
        .ensure_account("gone", "", AccountKind::Page)
        .await
        .expect("account");
    let (kept, _) = a
        .ensure_account("kept", "", AccountKind::Page)
        .await
        .expect("account");
    let start = a.last_event_id().await.expect("last");
    let (started, appended) = tokio::sync::oneshot::channel::<()>();
    let (go_on, deleted) = std::sync::mpsc::channel::<()>();
    let paused = tokio::spawn(async move {
        a.submit(
            move |tx| {
                for account in [&gone, &kept] {
                    crate::events::append(
                        tx,
                        switchboard_domain::EventKind::BotStatus,
                        account.event_target(),
                        &serde_json::json!({"user_id_chat": account.user_id_chat}),
                    )?;
                }
                let _ = started.send(());
                deleted
                    .recv_timeout(Duration::from_secs(30))
                    .map_err(|e| StorageError::Task(format!("never told to go on: {e}")))
            },
            Turns::Beside,
            0,
        )
        .await
    });
    appended.await.expect("the write began");
    b.delete_account("gone").await.expect("deleted");
    go_on.send(()).expect("the write waits");
    let ((), announced) = paused.await.expect("task").expect("committed");
    assert_eq!(announced.ids(), [start + 1, start + 2]);
    let events = b.events_after(start, 10).await.expect("events");
    let stored: Vec<(i64, Option<&str>)> = events
        .iter()
        .map(|event| (event.id, event.account.as_deref()))
        .collect();
    assert_eq!(stored, [(start + 2, Some("kept"))]);
}

/// Holds a unit of `turns` open on `store` until told to go on; answers once it runs (its group
/// then holds its lock) with the sender that lets it commit, and the task that ends with it.
async fn held_open(
    store: &Store,
    turns: Turns,
    key: u64,
) -> (
    std::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<crate::Result<((), crate::group::Announced)>>,
) {
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let (go_on, told) = std::sync::mpsc::channel::<()>();
    let store = store.clone();
    let held = tokio::spawn(async move {
        store
            .submit(
                move |tx| {
                    // Waits for the group's `BEGIN` and its lock, sent without waiting.
                    tx.one("SELECT 1", &[], |r| r.get::<i64>(0))?;
                    let _ = started.send(());
                    told.recv_timeout(Duration::from_secs(30))
                        .map_err(|e| StorageError::Task(format!("never told to go on: {e}")))
                },
                turns,
                key,
            )
            .await
    });
    running.await.expect("the held write began");
    (go_on, held)
}

/// Waits until a writer waits for the writers' lock of the store's schema (a request not granted
/// yet), within a deadline.
async fn until_a_writer_waits(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = store
            .read(|tx| {
                // This schema's writers' lock: a key of one `bigint`, its low half in `objid`.
                tx.one(
                    "SELECT COUNT(*) FROM pg_locks
                     WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
                       AND objid = CAST(CAST(hashtext('switchboard writer ' || current_schema()) AS BIGINT)
                                        & 4294967295 AS oid)",
                    &[],
                    |r| r.get(0),
                )
            })
            .await
            .expect("locks");
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no writer waits for the lock");
        tokio::task::yield_now().await;
    }
}

/// Ingests run beside each other (on other writers of a node, on other nodes), and never beside
/// a write that takes turns: one that takes turns waits for an ingest's group to commit, and an
/// ingest waits for one that takes turns. Only PostgreSQL has several writers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingests_run_beside_each_other_and_never_beside_a_write_that_takes_turns() {
    let (db, stores) = nodes().await;
    if !db.url().starts_with("postgres") {
        return;
    }
    let (a, b) = (stores[0].clone(), stores[1].clone());
    for page in ["page1", "page2"] {
        a.ensure_account(page, "", AccountKind::Page)
            .await
            .expect("account");
    }
    let within = |what: &'static str| {
        move |answer: Result<crate::Result<crate::IngestOutcome>, tokio::time::error::Elapsed>| {
            answer
                .unwrap_or_else(|_| panic!("{what} waited"))
                .expect(what)
        }
    };

    // An ingest held open on node A, on the writer page1's ingests do not go to: ingests on both
    // nodes go through meanwhile.
    let other_writer = crate::store::writer_key("page1") + 1;
    let (go_on, held) = held_open(&a, Turns::Shared, other_writer).await;
    for (store, page, id) in [(&a, "page1", "a1"), (&b, "page2", "b1")] {
        let batch = crate::ingest::tests::batch(page, &[id]);
        let outcome =
            tokio::time::timeout(Duration::from_secs(20), store.ingest_messages(batch)).await;
        assert_eq!(within("an ingest beside another")(outcome).new, 1);
    }
    // A write that takes turns waits for it.
    let alone = {
        let b = b.clone();
        tokio::spawn(async move { b.ensure_account("page3", "", AccountKind::Page).await })
    };
    until_a_writer_waits(&a).await;
    assert!(
        !alone.is_finished(),
        "a write that takes turns ran beside an ingest"
    );
    go_on.send(()).expect("the held write waits");
    held.await
        .expect("task")
        .expect("the held ingest committed");
    alone.await.expect("task").expect("the write after it");

    // A write that takes turns held open: an ingest waits for it.
    let (go_on, held) = held_open(&a, Turns::Alone, 0).await;
    let ingest = {
        let b = b.clone();
        tokio::spawn(async move {
            b.ingest_messages(crate::ingest::tests::batch("page2", &["b2"]))
                .await
        })
    };
    until_a_writer_waits(&a).await;
    assert!(
        !ingest.is_finished(),
        "an ingest ran beside a write that takes turns"
    );
    go_on.send(()).expect("the held write waits");
    held.await.expect("task").expect("the held write committed");
    let outcome = ingest.await.expect("task").expect("the ingest after it");
    assert_eq!(outcome.new, 1);
    assert_eq!(b.message_count("page2").await.expect("count"), 2);
}
