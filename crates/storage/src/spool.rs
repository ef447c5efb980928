//! A bot's own durable state, in a small SQLite file beside the bot: what it collected and the receiver
//! has not confirmed (the outbox), the commands it was handed and what became of them, and what its
//! driver must remember across restarts. Every change is one fsync'd transaction, so a bot killed at any
//! point loses nothing it collected and never executes a command twice.

use crate::{Result, StorageError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use switchboard_domain::UnixMillis;

#[rustfmt::skip]
const SPOOL_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/spool/0001_spool.sql"),
    include_str!("../migrations/spool/0002_comments.sql"),
];

/// Finished, reported commands are forgotten after this long; the sender never redelivers that late.
const COMMAND_MEMORY_MS: i64 = 30 * 24 * 3_600_000;

/// Which receiver endpoint an outbox item goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    Messages,
    Notifications,
    Status,
    Comments,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Notifications => "notifications",
            Self::Status => "status",
            Self::Comments => "comments",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "messages" => Ok(Self::Messages),
            "notifications" => Ok(Self::Notifications),
            "status" => Ok(Self::Status),
            "comments" => Ok(Self::Comments),
            other => Err(StorageError::Corrupt(format!("outbox kind `{other}`"))),
        }
    }
}

/// One collected item, as JSON the receiver takes (a message, a notification, a status update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub kind: OutboxKind,
    pub body: String,
}

/// A command as the bot stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCommand {
    pub command_id: String,
    pub event: String,
    pub payload: String,
    pub state: CommandState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandState {
    /// Stored and acknowledged, not yet started.
    Received,
    /// Started; if the bot finds one at start, it stopped in the middle and must not run it again.
    Executing,
    /// Done; the outcome event and its JSON body, and whether the sender confirmed it.
    Finished {
        event: String,
        body: String,
        reported: bool,
    },
}

/// The spool of one bot. Cheap to clone; calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct Spool {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Spool {
    /// Opens (creating if needed) the spool file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| StorageError::Open {
            path: path.to_owned(),
            source,
        };
        // What the bot collected is the customers' words: private to the owner, like the CRM's database.
        crate::sqlite::private_files(path).map_err(|e| open_error(e.into()))?;
        let mut conn = Connection::open(path).map_err(|e| open_error(e.into()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        crate::sqlite::private_files(path).map_err(|e| open_error(e.into()))?;
        // FULL: a collected item confirmed to the driver (and so to Facebook) survives a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = SPOOL_MIGRATIONS.len() as i64;
        if version > known {
            return Err(StorageError::NewerSchema {
                path: path.to_owned(),
                found: version,
                known,
            });
        }
        for (index, sql) in SPOOL_MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        conn.execute(
            "DELETE FROM commands WHERE state = 'finished' AND reported = 1 AND updated_at < ?1",
            [UnixMillis::now().0 - COMMAND_MEMORY_MS],
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        crate::store::off_runtime(move || {
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut conn)
        })
        .await
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Appends collected items in order, and notes when customers wrote, in one transaction.
    pub async fn push(
        &self,
        items: Vec<(OutboxKind, String)>,
        customers_wrote: Vec<(String, UnixMillis)>,
    ) -> Result<()> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let mut insert = tx.prepare_cached(
                "INSERT INTO outbox (kind, body, created_at) VALUES (?1, ?2, ?3)",
            )?;
            for (kind, body) in &items {
                insert.execute(params![kind.as_str(), body, now])?;
            }
            let mut wrote = tx.prepare_cached(
                "INSERT INTO customers (customer_id, last_wrote_at) VALUES (?1, ?2)
                 ON CONFLICT (customer_id) DO UPDATE SET last_wrote_at = MAX(last_wrote_at, excluded.last_wrote_at)",
            )?;
            for (customer, at) in &customers_wrote {
                wrote.execute(params![customer, at.0])?;
            }
            Ok(())
        })
        .await
    }

    /// The oldest items, as many as go in one request: a run of one kind (status updates go alone), at
    /// most `max` items and, beyond the first, `max_bytes` of JSON.
    pub async fn next_batch(&self, max: usize, max_bytes: usize) -> Result<Vec<OutboxItem>> {
        self.with(move |conn| {
            let limit = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
            let mut statement =
                conn.prepare_cached("SELECT id, kind, body FROM outbox ORDER BY id LIMIT ?1")?;
            let rows = statement.query_map([limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut batch: Vec<OutboxItem> = Vec::new();
            let mut bytes = 0;
            for row in rows {
                let (id, kind, body) = row?;
                let kind = OutboxKind::parse(&kind)?;
                bytes += body.len();
                match batch.first() {
                    Some(first)
                        if first.kind != kind
                            || kind == OutboxKind::Status
                            || bytes > max_bytes =>
                    {
                        break;
                    }
                    _ => batch.push(OutboxItem { id, kind, body }),
                }
            }
            Ok(batch)
        })
        .await
    }

    /// The receiver confirmed these items: they leave the outbox.
    pub async fn remove(&self, ids: Vec<i64>) -> Result<()> {
        self.write(move |tx| {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            for id in ids {
                delete.execute([id])?;
            }
            Ok(())
        })
        .await
    }

    /// The receiver refused these items as invalid: they move aside with the reason.
    pub async fn reject(&self, ids: Vec<i64>, reason: String) -> Result<()> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            for id in ids {
                tx.execute(
                    "INSERT INTO rejected (id, kind, body, reason, rejected_at)
                     SELECT id, kind, body, ?2, ?3 FROM outbox WHERE id = ?1",
                    params![id, reason, now],
                )?;
                tx.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
            }
            Ok(())
        })
        .await
    }

    /// How many items wait for the receiver, and how many were refused.
    pub async fn counts(&self) -> Result<(i64, i64)> {
        self.with(|conn| {
            Ok(conn.query_row(
                "SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM rejected)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }

    /// Stores a command the sender handed over, unless it is already known; returns what is stored.
    pub async fn receive_command(
        &self,
        command_id: String,
        event: String,
        payload: String,
    ) -> Result<StoredCommand> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            tx.execute(
                "INSERT INTO commands (command_id, event, payload, state, received_at, updated_at)
                 VALUES (?1, ?2, ?3, 'received', ?4, ?4) ON CONFLICT (command_id) DO NOTHING",
                params![command_id, event, payload, now],
            )?;
            command(tx, &command_id)?
                .ok_or_else(|| StorageError::Corrupt(format!("command {command_id} vanished")))
        })
        .await
    }

    /// Commands in a state, oldest first.
    pub async fn commands_in(&self, state: &'static str) -> Result<Vec<StoredCommand>> {
        self.with(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE state = ?1 ORDER BY received_at, rowid"
            ))?;
            let rows = statement.query_map([state], command_row)?;
            rows.map(|row| Ok(row?)).collect()
        })
        .await
    }

    /// Marks a command started. False when it was not waiting (another worker or a repeat has it).
    pub async fn start_command(&self, command_id: &str) -> Result<bool> {
        let command_id = command_id.to_owned();
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE commands SET state = 'executing', updated_at = ?2
                 WHERE command_id = ?1 AND state = 'received'",
                params![command_id, UnixMillis::now().0],
            )? == 1)
        })
        .await
    }

    /// Records a command's outcome (the event and body to report). The first outcome stays.
    pub async fn finish_command(&self, command_id: &str, event: &str, body: String) -> Result<()> {
        let (command_id, event) = (command_id.to_owned(), event.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE commands SET state = 'finished', outcome_event = ?2, outcome = ?3, updated_at = ?4
                 WHERE command_id = ?1 AND state != 'finished'",
                params![command_id, event, body, UnixMillis::now().0],
            )?;
            Ok(())
        })
        .await
    }

    /// Outcomes the sender has not confirmed, oldest first.
    pub async fn unreported(&self) -> Result<Vec<StoredCommand>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE reported = 0 AND state = 'finished'
                 ORDER BY updated_at, rowid"
            ))?;
            let rows = statement.query_map([], command_row)?;
            rows.map(|row| Ok(row?)).collect()
        })
        .await
    }

    pub async fn mark_reported(&self, command_id: &str) -> Result<()> {
        let command_id = command_id.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE commands SET reported = 1 WHERE command_id = ?1",
                [command_id],
            )?;
            Ok(())
        })
        .await
    }

    /// When the customer last wrote to the account, as far as this bot has seen.
    pub async fn customer_last_wrote(&self, customer_id: &str) -> Result<Option<UnixMillis>> {
        let customer_id = customer_id.to_owned();
        self.with(move |conn| {
            let at = lookup(
                conn,
                "SELECT last_wrote_at FROM customers WHERE customer_id = ?1",
                &customer_id,
            )?;
            Ok(at.map(UnixMillis))
        })
        .await
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.with(move |conn| lookup(conn, "SELECT value FROM driver_state WHERE key = ?1", &key))
            .await
    }

    pub async fn set(&self, key: &str, value: String) -> Result<()> {
        let key = key.to_owned();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO driver_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }
}

const COMMAND_COLUMNS: &str = "command_id, event, payload, state, outcome_event, outcome, reported";

fn command_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCommand> {
    let state = match r.get::<_, String>(3)?.as_str() {
        "received" => CommandState::Received,
        "executing" => CommandState::Executing,
        _ => CommandState::Finished {
            event: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            body: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            reported: r.get(6)?,
        },
    };
    Ok(StoredCommand {
        command_id: r.get(0)?,
        event: r.get(1)?,
        payload: r.get(2)?,
        state,
    })
}

/// The one value a keyed `SELECT` finds, if any.
fn lookup<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    key: &str,
) -> Result<Option<T>> {
    Ok(conn.query_row(sql, [key], |r| r.get(0)).optional()?)
}

fn command(conn: &Connection, command_id: &str) -> Result<Option<StoredCommand>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = ?1"),
            [command_id],
            command_row,
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool() -> (tempfile::TempDir, Spool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(&dir.path().join("bot").join("spool.db")).expect("open");
        (dir, spool)
    }

    #[tokio::test]
    async fn batches_are_runs_of_one_kind_in_order_and_survive_a_reopen() {
        let (dir, spool) = spool();
        let items = vec![
            (OutboxKind::Messages, "m1".to_owned()),
            (OutboxKind::Messages, "m2".to_owned()),
            (OutboxKind::Status, "s1".to_owned()),
            (OutboxKind::Status, "s2".to_owned()),
            (OutboxKind::Notifications, "n1".to_owned()),
        ];
        spool
            .push(
                items,
                vec![("p1".into(), UnixMillis(5)), ("p1".into(), UnixMillis(3))],
            )
            .await
            .expect("push");
        drop(spool);
        let spool = Spool::open(&dir.path().join("bot").join("spool.db")).expect("reopen");
        assert_eq!(
            spool.customer_last_wrote("p1").await.expect("read"),
            Some(UnixMillis(5))
        );
        let mut seen = Vec::new();
        loop {
            let batch = spool.next_batch(500, 1 << 20).await.expect("batch");
            if batch.is_empty() {
                break;
            }
            seen.push(batch.iter().map(|i| i.body.clone()).collect::<Vec<_>>());
            spool
                .remove(batch.iter().map(|i| i.id).collect())
                .await
                .expect("remove");
        }
        assert_eq!(seen, [vec!["m1", "m2"], vec!["s1"], vec!["s2"], vec!["n1"]]);
    }

    #[tokio::test]
    async fn a_command_is_stored_once_and_started_once() {
        let (_dir, spool) = spool();
        let first = spool
            .receive_command("c1".into(), "send_message_command".into(), "{}".into())
            .await
            .expect("receive");
        assert_eq!(first.state, CommandState::Received);
        assert!(spool.start_command("c1").await.expect("start"));
        assert!(!spool.start_command("c1").await.expect("start again"));
        let again = spool
            .receive_command("c1".into(), "send_message_command".into(), "{}".into())
            .await
            .expect("receive again");
        assert_eq!(again.state, CommandState::Executing);
        spool
            .finish_command(
                "c1",
                "message_status_update",
                "{\"status\":\"sent\"}".into(),
            )
            .await
            .expect("finish");
        assert_eq!(spool.unreported().await.expect("unreported").len(), 1);
        spool.mark_reported("c1").await.expect("reported");
        assert!(spool.unreported().await.expect("unreported").is_empty());
    }

    #[tokio::test]
    async fn rejected_items_are_kept_aside() {
        let (_dir, spool) = spool();
        spool
            .push(vec![(OutboxKind::Messages, "bad".into())], Vec::new())
            .await
            .expect("push");
        let batch = spool.next_batch(10, 1 << 20).await.expect("batch");
        spool
            .reject(batch.iter().map(|i| i.id).collect(), "invalid".into())
            .await
            .expect("reject");
        assert_eq!(spool.counts().await.expect("counts"), (0, 1));
    }
}
