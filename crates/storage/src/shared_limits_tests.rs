//! The limits nodes share on PostgreSQL: two stores on one scratch database take from the same
//! buckets and count the same failed logins; rows that count for nothing go; a lost connection is
//! made again; an unreachable database is not waited on. On SQLite there is nothing to share: one node counts in memory.

use crate::sql::args;
use crate::{LoginFailures, RateCheck, SharedLimits, StorageError, Store};
use std::time::Duration;
use switchboard_domain::limits::Rate;

/// Room for a slow answer on a loaded machine: no test may turn into a local decision by chance.
const PATIENT: Duration = Duration::from_secs(30);

/// Two nodes' shared limits on one database, or `None` on SQLite (after checking there are none).
async fn two_nodes() -> Option<(crate::TestDatabase, Store, SharedLimits, SharedLimits)> {
    let (db, first) = crate::temp_store().await;
    let Some(a) = first.shared_limits() else {
        // SQLite: a single node keeps its limits in memory.
        return None;
    };
    let second = Store::open(db.url()).await.expect("another node");
    let b = second.shared_limits().expect("both on PostgreSQL");
    for limits in [&a, &b] {
        limits.set_patience(PATIENT, Duration::ZERO);
    }
    Some((db, first, a, b))
}

fn check(key: &str, takes: bool) -> RateCheck {
    RateCheck {
        key: key.into(),
        // Refilling a thousandth of a token a second: nothing comes back during the test.
        rate: Rate::new(0.001, 4.0),
        tokens: if takes { 1.0 } else { 0.0 },
    }
}

/// Takes from (or only checks) the buckets `checks` name on `node`, no penalty.
async fn take(node: &SharedLimits, checks: &[(&str, bool)]) -> crate::RateAnswer {
    let checks = checks
        .iter()
        .map(|&(key, takes)| check(key, takes))
        .collect();
    node.take(checks, false).await.expect("take")
}

#[tokio::test]
async fn requests_spread_over_two_nodes_share_one_bucket() {
    let Some((_db, _store, a, b)) = two_nodes().await else {
        return;
    };
    let mut admitted = 0;
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let answer = take(node, &[("t/address", true), ("t/caller", true)]).await;
        admitted += usize::from(answer.admitted);
        assert_eq!(answer.levels.len(), 2);
    }
    assert_eq!(admitted, 4, "the burst is for both nodes together");
    // A refusal takes nothing: another caller from the same address still has nothing left either,
    // but a bucket only checked is neither made nor spent.
    let answer = take(&a, &[("t/address", true), ("t/other", false)]).await;
    assert!(!answer.admitted);
    let fresh = take(&b, &[("t/fresh", false)]).await;
    assert!(fresh.admitted);
    assert!(fresh.levels[0] >= 4.0 - 0.01, "{fresh:?}");
    // A penalty spends whatever the levels.
    let penalty = a
        .take(vec![check("t/fresh", true)], true)
        .await
        .expect("penalty");
    assert!(penalty.levels[0] < 3.01, "{penalty:?}");
}

#[tokio::test]
async fn a_lease_gives_what_the_bucket_holds_up_to_what_is_asked() {
    let Some((_db, _store, a, b)) = two_nodes().await else {
        return;
    };
    let lease = |tokens: f64| {
        vec![
            RateCheck {
                tokens,
                ..check("t/caller", true)
            },
            check("t/probes", false),
        ]
    };
    // The bucket holds 4: a lease of 3 leaves 1, the next lease of 3 gets that 1, then nothing.
    let first = a.take(lease(3.0), false).await.expect("lease");
    assert!(first.admitted);
    assert_eq!(
        first.granted,
        [3.0, 0.0],
        "a bucket only checked gives nothing"
    );
    assert!((first.levels[0] - 1.0).abs() < 0.01, "{first:?}");
    let second = b.take(lease(3.0), false).await.expect("lease");
    assert!(second.admitted);
    assert_eq!(second.granted[0], 1.0);
    let third = a.take(lease(3.0), false).await.expect("lease");
    assert!(!third.admitted);
    assert_eq!(third.granted, [0.0, 0.0], "a refusal gives nothing");
}

#[tokio::test]
async fn failed_logins_on_one_node_count_on_the_other() {
    let Some((_db, _store, a, b)) = two_nodes().await else {
        return;
    };
    let count = |node: &SharedLimits| {
        let node = node.clone();
        async move {
            node.update_login_failures(
                vec!["u:lan".into(), "a:192.0.2.1".into()],
                Duration::from_secs(900),
                |now, failures: &mut [LoginFailures]| {
                    for f in failures.iter_mut() {
                        f.count += 1;
                        f.last_ms = now;
                    }
                    failures[0].count
                },
            )
            .await
            .expect("count")
        }
    };
    assert_eq!(count(&a).await, 1);
    assert_eq!(count(&b).await, 2);
    assert_eq!(count(&a).await, 3);
    // A success forgets them and makes the places known, on every node.
    b.login_succeeded(
        vec!["u:lan".into()],
        "lan".into(),
        vec!["a:192.0.2.1".into(), "d:device".into()],
        Duration::from_secs(3600),
        20,
    )
    .await
    .expect("success");
    let known = a
        .known_login_place("lan".into(), vec!["d:device".into(), "a:192.0.2.9".into()])
        .await
        .expect("known");
    assert_eq!(known.as_deref(), Some("d:device"));
    let unknown = a
        .known_login_place("minh".into(), vec!["d:device".into()])
        .await
        .expect("unknown");
    assert_eq!(unknown, None);
    assert_eq!(count(&b).await, 1, "the username's count started afresh");
}

#[tokio::test]
async fn rows_that_count_for_nothing_are_removed() {
    let Some((db, store, a, _b)) = two_nodes().await else {
        return;
    };
    take(&a, &[("t/kept", true)]).await;
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO rate_buckets (key, tokens, at_ms, full_at_ms) VALUES ('t/old', 1, 0, 0)",
                args![],
            )?;
            tx.execute(
                "INSERT INTO login_failures (key, count, last_ms, wait_until_ms, expires_ms)
                 VALUES ('u:old', 3, 0, 0, 0)",
                args![],
            )?;
            tx.execute(
                "INSERT INTO login_places (username, place, until_ms) VALUES ('old', 'a:x', 0)",
                args![],
            )?;
            Ok(())
        })
        .await
        .expect("old rows");
    // A node prunes at its first check, then about once a minute.
    let node = SharedLimits::connect_lazily(db.url()).expect("node");
    node.set_patience(PATIENT, Duration::ZERO);
    take(&node, &[("t/new", true)]).await;
    let left: Vec<String> = store
        .read(|tx| {
            tx.rows(
                "SELECT key FROM rate_buckets UNION ALL SELECT key FROM login_failures
                 UNION ALL SELECT username FROM login_places ORDER BY 1",
                args![],
                |r| r.get(0),
            )
        })
        .await
        .expect("rows");
    assert_eq!(left, ["t/kept", "t/new"]);
}

#[tokio::test]
async fn a_lost_connection_is_made_again() {
    let Some((_db, store, a, _b)) = two_nodes().await else {
        return;
    };
    take(&a, &[("t/x", true)]).await;
    let pids = a.backend_pids();
    assert!(!pids.is_empty());
    for pid in pids {
        store
            .read(move |tx| {
                tx.one(
                    "SELECT pg_terminate_backend(CAST(?1 AS INTEGER))",
                    args![i64::from(pid)],
                    |r| r.get::<bool>(0),
                )
            })
            .await
            .expect("terminate");
    }
    // A connection cut is either seen closed and made again before use, or answers "unavailable"
    // once (the caller decides alone) and is made again on the next check (no pause after a failure
    // in this test): never another error, never a wait.
    let mut answered = false;
    for _ in 0..10 {
        match a.take(vec![check("t/x", true)], false).await {
            Ok(_) => {
                answered = true;
                break;
            }
            Err(StorageError::Unavailable(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert!(answered);
    assert!(!a.backend_pids().is_empty());
}

#[tokio::test]
async fn an_unreachable_database_is_not_asked_again_for_a_while() {
    // Nothing listens on port 1.
    let node =
        SharedLimits::connect_lazily("postgres://postgres@127.0.0.1:1/postgres").expect("node");
    node.set_patience(PATIENT, Duration::from_secs(3600));
    let first = node.take(vec![check("t/x", true)], false).await;
    assert!(
        matches!(first, Err(StorageError::Unavailable(_))),
        "{first:?}"
    );
    let started = std::time::Instant::now();
    let second = node.take(vec![check("t/x", true)], false).await;
    assert!(
        matches!(second, Err(StorageError::Unavailable(_))),
        "{second:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
