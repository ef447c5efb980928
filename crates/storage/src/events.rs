//! The event log: every change a console cares about, appended in the transaction that made it.

use crate::sql::{Dialect, Tx, args};
use crate::{Result, StorageError, Store};
use serde_json::Value;
use serde_json::value::RawValue;
use std::cell::RefCell;
use switchboard_domain::{EventKind, UnixMillis};

/// One row of the event log, as clients receive it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Strictly increasing; a client resumes with the last one it saw.
    pub id: i64,
    pub kind: EventKind,
    /// The account the event is about (`user_id_chat`), used to route it to that account's bot.
    pub account: Option<String>,
    /// The event's body as it goes on the wire, `event_id` and `at` included, encoded once.
    pub payload: Box<RawValue>,
    /// When the event was written (its `at`), inside the transaction that committed it.
    pub written_at: UnixMillis,
}

impl StoredEvent {
    /// The payload as a JSON value, for callers that need to look inside.
    pub fn json(&self) -> Result<Value> {
        Ok(serde_json::from_str(self.payload.get())?)
    }
}

thread_local! {
    /// The ids of the events the write group running on this thread has appended, in order; `None`
    /// outside a group. A writer thread runs one group at a time. PostgreSQL's writer numbers a
    /// group's events only as it commits (see `postgres::pipeline`): 0 until then.
    static GROUP_EVENTS: RefCell<Option<Vec<i64>>> = const { RefCell::new(None) };
}

/// Starts counting the events of a write group on this thread.
pub(crate) fn group_began() {
    GROUP_EVENTS.with(|ids| *ids.borrow_mut() = Some(Vec::new()));
}

/// How many events the running group has appended so far.
pub(crate) fn appended() -> usize {
    GROUP_EVENTS.with(|ids| ids.borrow().as_ref().map_or(0, Vec::len))
}

/// Forgets the events appended after the first `count`: those of a unit that was rolled back.
pub(crate) fn roll_back_to(count: usize) {
    GROUP_EVENTS.with(|ids| {
        if let Some(ids) = ids.borrow_mut().as_mut() {
            ids.truncate(count);
        }
    });
}

/// Gives the group's events the ids from `first` on, in the order they were appended (PostgreSQL
/// numbers them as it commits).
pub(crate) fn numbered_from(first: i64) {
    GROUP_EVENTS.with(|ids| {
        if let Some(ids) = ids.borrow_mut().as_mut() {
            for (slot, id) in ids.iter_mut().zip(first..) {
                *slot = id;
            }
        }
    });
}

/// Ends the group: the ids of its events, in order.
pub(crate) fn group_ended() -> Vec<i64> {
    GROUP_EVENTS.with(|ids| ids.borrow_mut().take().unwrap_or_default())
}

/// An event to be written, as the engines store it.
pub(crate) struct NewEvent {
    pub(crate) kind: EventKind,
    pub(crate) account_id: Option<i64>,
    pub(crate) account: Option<String>,
    pub(crate) payload: String,
    pub(crate) created_at: UnixMillis,
}

/// Appends an event inside the caller's transaction. Its id is known once the group commits: a
/// caller that answers it uses [`Store::write_announcing`], which hands out the ids of the unit's
/// events in the order they were appended.
pub(crate) fn append(
    tx: &Tx<'_>,
    kind: EventKind,
    account: Option<(i64, &str)>,
    payload: &impl serde::Serialize,
) -> Result<()> {
    let event = NewEvent {
        kind,
        account_id: account.map(|a| a.0),
        account: account.map(|a| a.1.to_owned()),
        payload: serde_json::to_string(payload)?,
        created_at: UnixMillis::now(),
    };
    // Ids become visible in the order they are given, so a client resuming after id N never finds
    // a smaller id committed later, and they have no gaps. SQLite runs one write transaction at a
    // time and rolls its AUTOINCREMENT counter back with a failed unit. PostgreSQL's writer keeps a
    // group's events aside and numbers them as it commits, under the lock of the counter's row,
    // which it holds only from there to the end of the `COMMIT` (see `postgres::pipeline`).
    let id = match tx.dialect() {
        Dialect::Sqlite => Some(tx.insert(
            "INSERT INTO events (kind, account_id, account, payload, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            args![
                event.kind.as_str(),
                event.account_id,
                event.account,
                event.payload,
                event.created_at
            ],
        )?),
        Dialect::Postgres => {
            tx.append_event(event)?;
            None
        }
    };
    GROUP_EVENTS.with(|ids| {
        if let Some(ids) = ids.borrow_mut().as_mut() {
            ids.push(id.unwrap_or(0));
        }
    });
    Ok(())
}

/// The highest event id ever given, 0 when none was (see [`Store::last_event_id`]).
pub(crate) fn last_id(tx: &Tx<'_>) -> Result<i64> {
    // The engine's own counter, which deletes do not lower.
    let sql = match tx.dialect() {
        Dialect::Sqlite => "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
        Dialect::Postgres => "SELECT last_id FROM event_counter",
    };
    Ok(tx
        .optional(sql, args![], |r| r.get::<Option<i64>>(0))?
        .flatten()
        .unwrap_or(0))
}

fn decode(
    id: i64,
    kind: &str,
    account: Option<String>,
    payload: &str,
    created_at: i64,
) -> Result<StoredEvent> {
    let kind = EventKind::parse(kind)
        .ok_or_else(|| StorageError::Corrupt(format!("event {id} has unknown kind `{kind}`")))?;
    // The stored body is a JSON object; the wire form puts `event_id` and `at` first. Splicing the text
    // avoids decoding and re-encoding payloads that run to tens of kilobytes.
    let rest = payload
        .trim()
        .strip_prefix('{')
        .ok_or_else(|| StorageError::Corrupt(format!("event {id} payload is not a JSON object")))?
        .trim_start();
    let separator = if rest.starts_with('}') { "" } else { "," };
    let at = UnixMillis(created_at).to_rfc3339();
    let wire = format!(r#"{{"event_id":{id},"at":"{at}"{separator}{rest}"#);
    Ok(StoredEvent {
        id,
        kind,
        account,
        payload: RawValue::from_string(wire)?,
        written_at: UnixMillis(created_at),
    })
}

impl Store {
    /// Events with an id above `after`, oldest first, at most `limit` of them.
    pub async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>> {
        self.read(move |tx| {
            // LIMIT in the SQL text: a bound LIMIT makes SQLite prepare the statement again per value.
            tx.rows(
                &format!(
                    "SELECT id, kind, account, payload, created_at FROM events WHERE id > ?1 ORDER BY id LIMIT {limit}"
                ),
                args![after],
                |r| decode(r.get(0)?, &r.get::<String>(1)?, r.get(2)?, &r.get::<String>(3)?, r.get(4)?),
            )
        })
        .await
    }

    /// The highest event id ever given, 0 when none was. Read from SQLite's AUTOINCREMENT counter, so
    /// it does not go back when the newest events are removed with their account.
    pub async fn last_event_id(&self) -> Result<i64> {
        self.read(last_id).await
    }

    /// The id of the oldest event still kept, `None` when the log is empty.
    pub async fn oldest_event_id(&self) -> Result<Option<i64>> {
        self.read(|tx| {
            tx.one("SELECT MIN(id) FROM events", args![], |r| {
                r.get::<Option<i64>>(0)
            })
        })
        .await
    }

    /// Removes events older than `before` (Unix milliseconds), oldest first, at most `limit` per call so
    /// that one call never holds the writer for long. Returns how many were removed.
    // The oldest `limit` events, of which those before the cutoff go: a read of `limit` rows from the
    // start of the log, where filtering by time first would scan the whole log once nothing is old.
    pub async fn prune_events(&self, before: UnixMillis, limit: usize) -> Result<usize> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT {limit}) AND created_at < ?1"
                ),
                args![before],
            )
        })
        .await
    }

    /// Removes every event older than `before`, `batch` per transaction (so no write waits long). On
    /// PostgreSQL one node prunes at a time: the run holds a session lock on a connection of its own
    /// (writes of all nodes are serialised anyway, so a lock inside one pruning transaction would
    /// always be free), and a node that finds it taken skips this round: `None`.
    pub async fn prune_old_events(
        &self,
        before: UnixMillis,
        batch: usize,
    ) -> Result<Option<usize>> {
        let Some(db) = self.postgres() else {
            return self.prune_in_batches(before, batch).await.map(Some);
        };
        let (store, runtime) = (self.clone(), tokio::runtime::Handle::current());
        db.with_own_connection(move |tx| {
            if !pruning_lock(tx, "pg_try_advisory_lock")? {
                return Ok(None);
            }
            let removed = runtime.block_on(store.prune_in_batches(before, batch));
            // Released with the connection anyway; released now so that nothing depends on when
            // the connection closes.
            pruning_lock(tx, "pg_advisory_unlock")?;
            removed.map(Some)
        })
        .await
    }

    /// Removes old events, then the phone commands that ended as long ago; how many events went.
    async fn prune_in_batches(&self, before: UnixMillis, batch: usize) -> Result<usize> {
        let mut removed = 0;
        loop {
            let now = self.prune_events(before, batch).await?;
            removed += now;
            if now < batch {
                break;
            }
        }
        while self.prune_phone_commands(before, batch).await? == batch {}
        Ok(removed)
    }
}

/// The lock of the node pruning the event log (per schema, as the writers' lock).
const PRUNING_LOCK: &str = "hashtext('switchboard pruning ' || current_schema())";

/// Takes (`pg_try_advisory_lock`) or lets go of (`pg_advisory_unlock`) the pruning lock on this
/// session; true when it did.
fn pruning_lock(tx: &Tx<'_>, function: &str) -> Result<bool> {
    tx.one(
        &format!("SELECT {function}({PRUNING_LOCK})"),
        args![],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use crate::{AccountKind, Store};
    use switchboard_domain::UnixMillis;
    use switchboard_domain::ingest::{Registration, StatusUpdate};

    async fn store_with_events(n: usize) -> (crate::TestDatabase, Store) {
        let (dir, store) = crate::temp_store().await;
        store
            .ensure_account("a", "", AccountKind::Page)
            .await
            .expect("account");
        for _ in 0..n {
            let update = StatusUpdate {
                account: "a".into(),
                status: switchboard_domain::ingest::BotStatus::Online,
                message: String::new(),
            };
            store.update_bot_status(update).await.expect("event");
        }
        (dir, store)
    }

    #[tokio::test]
    async fn pruning_removes_old_events_in_batches_and_keeps_the_high_water_mark() {
        let (_dir, store) = store_with_events(12).await;
        let later = UnixMillis(UnixMillis::now().0 + 60_000);
        assert_eq!(
            store.prune_events(UnixMillis(0), 5).await.expect("prune"),
            0,
            "nothing is that old"
        );
        assert_eq!(store.prune_events(later, 5).await.expect("prune"), 5);
        assert_eq!(store.oldest_event_id().await.expect("oldest"), Some(6));
        assert_eq!(store.prune_events(later, 100).await.expect("prune"), 7);
        assert_eq!(store.oldest_event_id().await.expect("oldest"), None);
        assert_eq!(
            store.last_event_id().await.expect("last"),
            12,
            "ids are never given twice"
        );
        let registration = Registration {
            account: "a".into(),
            bot_name: String::new(),
            version: String::new(),
            driver: String::new(),
        };
        assert_eq!(store.register_bot(registration).await.expect("event"), 13);
    }
}

#[cfg(test)]
mod pruning_on_nodes {
    use super::pruning_lock;
    use crate::{AccountKind, Store};
    use switchboard_domain::UnixMillis;
    use switchboard_domain::ingest::{BotStatus, StatusUpdate};

    async fn nodes_with_events(n: usize) -> (crate::TestDatabase, Store, Store) {
        let (db, a) = crate::temp_store().await;
        let b = Store::open(db.url()).await.expect("another node");
        a.ensure_account("a", "", AccountKind::Page)
            .await
            .expect("account");
        for _ in 0..n {
            let update = StatusUpdate {
                account: "a".into(),
                status: BotStatus::Online,
                message: String::new(),
            };
            a.update_bot_status(update).await.expect("event");
        }
        (db, a, b)
    }

    fn later() -> UnixMillis {
        UnixMillis(UnixMillis::now().0 + 60_000)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_pruning_at_once_remove_each_event_once() {
        let (_db, a, b) = nodes_with_events(30).await;
        let cutoff = later();
        let (on_a, on_b) =
            tokio::join!(a.prune_old_events(cutoff, 4), b.prune_old_events(cutoff, 4));
        let (on_a, on_b) = (on_a.expect("a prunes"), on_b.expect("b prunes"));
        assert!(on_a.is_some() || on_b.is_some(), "somebody pruned");
        assert_eq!(
            on_a.unwrap_or(0) + on_b.unwrap_or(0),
            30,
            "{on_a:?} {on_b:?}"
        );
        assert_eq!(a.oldest_event_id().await.expect("oldest"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_skips_pruning_while_another_node_prunes() {
        let (_db, a, b) = nodes_with_events(3).await;
        let Some(postgres) = a.postgres() else {
            // One SQLite file is pruned by the processes on it one transaction at a time.
            return;
        };
        let (node_b, runtime, cutoff) = (b.clone(), tokio::runtime::Handle::current(), later());
        // Node A holds the pruning lock (as a run in progress does): node B skips its round.
        let skipped = postgres
            .with_own_connection(move |tx| {
                assert!(pruning_lock(tx, "pg_try_advisory_lock")?);
                let skipped = runtime.block_on(node_b.prune_old_events(cutoff, 100));
                // Node A's run ends, as a run does: it lets the lock go. (Leaving it to the
                // connection's close would make the next step race the server's backend exit.)
                assert!(pruning_lock(tx, "pg_advisory_unlock")?);
                skipped
            })
            .await
            .expect("prune");
        assert_eq!(skipped, None);
        assert_eq!(a.oldest_event_id().await.expect("oldest"), Some(1));
        // The lock is free again: node B prunes now.
        assert_eq!(
            b.prune_old_events(cutoff, 100).await.expect("prune"),
            Some(3)
        );
    }
}
