//! Schema migrations: numbered SQL files compiled into the binary and applied in order at start.

use crate::{Result, StorageError};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The schema of both engines, in step: the same versions, names, tables and columns, listed once
/// here, each file spelled in its engine's dialect under `migrations/<engine>/`.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal),+ $(,)?) => {
        const SQLITE_MIGRATIONS: &[(i64, &str, &str)] =
            &[$(($version, $name, include_str!(concat!("../migrations/sqlite/", $file)))),+];
        const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] =
            &[$(($version, $name, include_str!(concat!("../migrations/postgres/", $file)))),+];
    };
}

migrations! {
    1 "init" "0001_init.sql",
    2 "sender" "0002_sender.sql",
    3 "customers" "0003_customers.sql",
    4 "calls" "0004_calls.sql",
    5 "calls_by_status" "0005_calls_by_status.sql",
    6 "indexes_for_deletes_and_recency" "0006_indexes_for_deletes_and_recency.sql",
    7 "post_images" "0007_post_images.sql",
    8 "phone_system_tokens" "0008_phone_system_tokens.sql",
    9 "shared_timers_and_presence" "0009_shared_timers_and_presence.sql",
    10 "shared_limits" "0010_shared_limits.sql",
    11 "rate_leases" "0011_rate_leases.sql",
    12 "team_inbox" "0012_team_inbox.sql",
    13 "canned_responses" "0013_canned_responses.sql",
    14 "access" "0014_access.sql",
    15 "team_canned_responses" "0015_team_canned_responses.sql",
    16 "auto_assignment" "0016_auto_assignment.sql",
    17 "attachments" "0017_attachments.sql",
    18 "handed_back" "0018_handed_back.sql",
    19 "search" "0019_search.sql",
    20 "one_customer" "0020_one_customer.sql",
    21 "comments" "0021_comments.sql",
    22 "private_replies" "0022_private_replies.sql",
    23 "callbacks" "0023_callbacks.sql",
    24 "floor_and_reports" "0024_floor_and_reports.sql",
    25 "call_outcomes" "0025_call_outcomes.sql",
    26 "phone_commands" "0026_phone_commands.sql",
    27 "conversation_reports" "0027_conversation_reports.sql",
    28 "messages_covering" "0028_messages_covering.sql",
    29 "lighter_search_index" "0029_lighter_search_index.sql",
    30 "indexes_a_message_leaves_alone" "0030_indexes_a_message_leaves_alone.sql",
    31 "one_index_for_an_assignee" "0031_one_index_for_an_assignee.sql",
}

/// The advisory lock nodes take while migrating, so that nodes started together apply each
/// migration once (the others wait, then find nothing to do). Any constant unique to switchboard.
const MIGRATION_LOCK: i64 = 0x5357_4254_4d49_4752;

/// Applies PostgreSQL migrations not yet applied, each in its own transaction, under an advisory lock.
pub(crate) fn apply_postgres(client: &mut postgres::Client, target: &str) -> Result<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = apply_postgres_locked(client, target);
    // Released with the session anyway; released now so waiting nodes go on at once.
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result.and(unlocked.map(|_| ()).map_err(StorageError::from))
}

fn apply_postgres_locked(client: &mut postgres::Client, target: &str) -> Result<()> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT   NOT NULL,
             applied_at BIGINT NOT NULL
         )",
    )?;
    let known = POSTGRES_MIGRATIONS.last().map_or(0, |m| m.0);
    let current: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .try_get(0)?;
    if current > known {
        return Err(StorageError::NewerSchema {
            path: target.into(),
            found: current,
            known,
        });
    }
    for &(version, name, sql) in POSTGRES_MIGRATIONS.iter().filter(|m| m.0 > current) {
        let mut tx = client.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &name, &switchboard_domain::UnixMillis::now().0],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

/// Applies every migration the database has not seen, each in its own immediate transaction, so two
/// processes starting on one file at once apply each migration exactly once.
pub(crate) fn apply(conn: &mut Connection, path: &Path) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let known = SQLITE_MIGRATIONS.last().map_or(0, |m| m.0);
    for &(version, name, sql) in SQLITE_MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        if current > known {
            return Err(StorageError::NewerSchema {
                path: path.to_owned(),
                found: current,
                known,
            });
        }
        if current >= version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, switchboard_domain::UnixMillis::now().0],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
#[test]
fn both_engines_have_the_same_migrations() {
    let names = |list: &[(i64, &'static str, &str)]| -> Vec<(i64, &'static str)> {
        list.iter().map(|m| (m.0, m.1)).collect()
    };
    assert_eq!(names(SQLITE_MIGRATIONS), names(POSTGRES_MIGRATIONS));
}

/// How many migrations there are (their versions may skip a number another branch took).
#[cfg(test)]
pub(crate) fn count() -> i64 {
    i64::try_from(SQLITE_MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// A node of an older release, started after another node migrated the database further, stops
/// instead of running on a schema it does not know: on either engine.
#[cfg(test)]
#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (database, store) = crate::temp_store().await;
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
                crate::sql::args![],
            )?;
            Ok(())
        })
        .await
        .expect("insert");
    drop(store);
    let error = crate::Store::open(database.url())
        .await
        .expect_err("a newer schema is refused");
    assert!(
        matches!(error, StorageError::NewerSchema { found: 999, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("newer than this switchboard"),
        "{error}"
    );
}
