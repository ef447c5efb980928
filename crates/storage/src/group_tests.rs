//! Group commit with statements sent without waiting: a unit's error is its own, wherever it is
//! heard, and the units beside it commit.

use crate::StorageError;
use crate::events::append;
use crate::sql::args;
use futures_util::future::join_all;
use serde_json::json;
use switchboard_domain::EventKind;

/// The numbers the tests' writes stored, in order.
async fn stored_numbers(store: &crate::Store) -> Vec<String> {
    store
        .read(|tx| {
            tx.rows(
                "SELECT number FROM blocked_numbers ORDER BY number",
                args![],
                |r| r.get(0),
            )
        })
        .await
        .expect("read")
}

/// Many writes at once, so that they share groups; each inserts its own number, and every even one
/// then sends (without waiting) a second insert of the same number, which the primary key refuses.
/// Half of those go on to a statement that waits, half return at once.
#[tokio::test]
async fn a_statement_sent_without_waiting_fails_its_own_unit_only() {
    let (_db, store) = crate::temp_store().await;
    let writes = (0..60).map(|i: i64| {
        store.write(move |tx| {
            let number = format!("n{i}");
            tx.execute(
                "INSERT INTO blocked_numbers (number, created_at) VALUES (?1, 0)",
                args![number],
            )?;
            if i % 2 == 0 {
                tx.execute_pipelined(
                    "INSERT INTO blocked_numbers (number, created_at) VALUES (?1, 0)",
                    args![number],
                )?;
                if i % 4 == 0 {
                    tx.one("SELECT COUNT(*) FROM blocked_numbers", args![], |r| {
                        r.get::<i64>(0)
                    })?;
                }
            }
            Ok(i)
        })
    });
    let answers = join_all(writes).await;
    for (i, answer) in (0_i64..).zip(&answers) {
        match answer {
            Ok(_) => assert!(i % 2 == 1, "write {i} should have failed"),
            Err(error) => {
                assert!(i % 2 == 0, "write {i} failed: {error}");
                // The refused insert is named, not a later statement's "transaction aborted".
                let message = error.to_string().to_lowercase();
                assert!(
                    message.contains("unique") || message.contains("duplicate"),
                    "write {i}: {message}"
                );
            }
        }
    }
    let stored = stored_numbers(&store).await;
    let mut expected: Vec<String> = (0..60)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("n{i}"))
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
}

/// Writes that share groups each append two events; every third then fails. A failed unit must
/// give its ids back (PostgreSQL numbers a group's events as it commits): what is stored is 1, 2,
/// 3, … with no gap, the counter is at the last, and every write that succeeded is answered the ids
/// its two events were stored under, in the order it appended them.
#[tokio::test]
async fn events_of_a_failed_unit_leave_no_gap() {
    let (_db, store) = crate::temp_store().await;
    let writes = (0..60).map(|i: i64| {
        let store = store.clone();
        async move {
            let (i, announced) = store
                .write_announcing(move |tx| {
                    append(tx, EventKind::BotStatus, None, &json!({"write": i, "n": 1}))?;
                    append(tx, EventKind::BotStatus, None, &json!({"write": i, "n": 2}))?;
                    if i % 3 == 0 {
                        return Err(StorageError::Conflict(format!("write {i} gives up")));
                    }
                    Ok(i)
                })
                .await?;
            match announced.ids() {
                &[first, second] => Ok((i, first, second)),
                other => panic!("write {i} was answered {other:?}"),
            }
        }
    });
    let answers: Vec<crate::Result<(i64, i64, i64)>> = join_all(writes).await;
    let succeeded: Vec<(i64, i64, i64)> = answers.into_iter().filter_map(Result::ok).collect();
    assert_eq!(succeeded.len(), 40);
    let events = store.events_after(0, 1000).await.expect("events");
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    assert_eq!(ids, (1..=80).collect::<Vec<i64>>());
    assert_eq!(store.last_event_id().await.expect("last id"), 80);
    for (i, first, second) in succeeded {
        for (id, n) in [(first, 1), (second, 2)] {
            let event = &events[usize::try_from(id - 1).expect("an id from 1")];
            let payload: serde_json::Value =
                serde_json::from_str(event.payload.get()).expect("json");
            assert_eq!(
                (&payload["write"], &payload["n"]),
                (&json!(i), &json!(n)),
                "event {id}: {payload}"
            );
        }
    }
}

/// A write alone in its group marks no savepoint: when it fails, its whole transaction is rolled
/// back (what it stored and appended included), it is answered its own error, and the writer goes
/// on with the next group, whose events follow with no gap. One write at a time, so that each is
/// its group's only unit.
#[tokio::test]
async fn a_write_alone_in_its_group_fails_whole_and_the_next_goes_on() {
    let (_db, store) = crate::temp_store().await;
    for i in 0..6_i64 {
        let answer = store
            .write_announcing(move |tx| {
                tx.execute(
                    "INSERT INTO blocked_numbers (number, created_at) VALUES (?1, 0)",
                    args![format!("n{i}")],
                )?;
                append(tx, EventKind::BotStatus, None, &json!({"write": i}))?;
                if i % 2 == 0 {
                    // Refused by the primary key, heard only as the unit ends.
                    tx.execute_pipelined(
                        "INSERT INTO blocked_numbers (number, created_at) VALUES (?1, 0)",
                        args![format!("n{i}")],
                    )?;
                }
                Ok(i)
            })
            .await;
        match answer {
            Ok((written, announced)) => {
                assert_eq!((written % 2, announced.ids().len()), (1, 1), "write {i}");
            }
            Err(error) => {
                let message = error.to_string().to_lowercase();
                assert!(
                    i % 2 == 0 && (message.contains("unique") || message.contains("duplicate")),
                    "write {i}: {message}"
                );
            }
        }
    }
    let stored = stored_numbers(&store).await;
    assert_eq!(stored, ["n1", "n3", "n5"]);
    let events = store.events_after(0, 100).await.expect("events");
    let written: Vec<serde_json::Value> = events
        .iter()
        .map(|event| serde_json::from_str::<serde_json::Value>(event.payload.get()).expect("json"))
        .map(|payload| payload["write"].clone())
        .collect();
    assert_eq!(written, [json!(1), json!(3), json!(5)]);
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    assert_eq!(ids, [1, 2, 3]);
}

/// A node's writers each keep their failure (one that cannot reconnect stays failing, and retrying,
/// while another works) and share the count of lost connections.
#[test]
fn a_writer_that_fails_stays_failing_while_its_sibling_works() {
    let first = crate::group::WriteHealth::default();
    let second = first.sibling();
    second.record("db", Some("connection refused".into()));
    first.record("db", None);
    assert_eq!(second.failure().as_deref(), Some("connection refused"));
    assert_eq!(first.failure(), None);
    assert_eq!(first.losses(), 1, "the loss is counted for both");
}
