//! The guarantees several nodes on one database rely on, at the storage level: several `Store`s on
//! the same scratch database (on SQLite, split mode on one file; on PostgreSQL, several nodes).

use crate::calls::tests::{available_agent, call};
use crate::{AccountKind, NewCallOutcome, StorageError, Store};
use std::time::{Duration, Instant};
use switchboard_domain::ingest::{BotStatus, StatusUpdate};

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
    let start = stores[0].last_event_id().await.expect("last");
    let total = NODES * WRITERS_PER_NODE * UPDATES;
    let last = start + i64::try_from(total).expect("count");
    let readers: Vec<_> = stores
        .iter()
        .map(|store| tokio::spawn(follow(store.clone(), start, last)))
        .collect();
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
    for reader in readers {
        assert_eq!(reader.await.expect("reader"), total);
    }
    for store in &stores {
        assert_eq!(store.last_event_id().await.expect("last"), last);
    }
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
