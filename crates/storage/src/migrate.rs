//! Schema migrations: numbered SQL files compiled into the binary and applied in order at start.

use crate::{Result, StorageError};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

#[rustfmt::skip]
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
    (2, "sender", include_str!("../migrations/sqlite/0002_sender.sql")),
    (3, "customers", include_str!("../migrations/sqlite/0003_customers.sql")),
    (4, "calls", include_str!("../migrations/sqlite/0004_calls.sql")),
    (5, "calls_by_status", include_str!("../migrations/sqlite/0005_calls_by_status.sql")),
    (6, "indexes_for_deletes_and_recency", include_str!("../migrations/sqlite/0006_indexes_for_deletes_and_recency.sql")),
    (7, "post_images", include_str!("../migrations/sqlite/0007_post_images.sql")),
    (8, "phone_system_tokens", include_str!("../migrations/sqlite/0008_phone_system_tokens.sql")),
];

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
pub(crate) fn latest() -> i64 {
    SQLITE_MIGRATIONS.last().map_or(0, |m| m.0)
}
