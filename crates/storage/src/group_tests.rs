//! Group commit with statements sent without waiting: a unit's error is its own, wherever it is
//! heard, and the units beside it commit.

use crate::sql::args;
use futures_util::future::join_all;

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
    let stored: Vec<String> = store
        .read(|tx| {
            tx.rows(
                "SELECT number FROM blocked_numbers ORDER BY number",
                args![],
                |r| r.get(0),
            )
        })
        .await
        .expect("read");
    let mut expected: Vec<String> = (0..60)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("n{i}"))
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
}
