//! Copying a whole database into another, on any engine (`switchboard db copy`): how a running
//! business moves from SQLite to PostgreSQL without its consoles and bots noticing.
//!
//! Every row is copied with its id, so cursors stay valid: event ids, conversation and message ids,
//! tokens (kept as their hashes) and credentials (kept encrypted: both ends share the key). The source
//! is read page by page through the same seam as every operation; the target is written in one
//! transaction, so a copy that fails leaves the target as it was. Tables go in an order where every
//! row's parents come first, and each engine's counters end past the source's: identity sequences on
//! PostgreSQL, `sqlite_sequence` on SQLite, and the event counter at the highest event id ever given
//! (not the highest kept: the events of a deleted account may be gone).

use crate::sql::{Dialect, OwnedValue, ToValue, Tx, args};
use crate::{Result, StorageError, Store};
use std::sync::Arc;

/// Every table the schema has, parents first, each with the columns that order it uniquely (read
/// page by page along them). The engines' own bookkeeping is in [`BOOKKEEPING`].
const TABLES: &[(&str, &[&str])] = &[
    ("facebook_accounts", &["id"]),
    ("users", &["id"]),
    ("auth_tokens", &["id"]),
    ("sessions", &["id"]),
    ("settings", &["key"]),
    ("conversations", &["id"]),
    ("messages", &["id"]),
    ("comments", &["message_id"]),
    ("feed_posts", &["account_id", "post_id"]),
    ("attachments", &["id"]),
    ("notifications", &["id"]),
    ("posts", &["id"]),
    ("commands", &["id"]),
    ("events", &["id"]),
    ("customers", &["id"]),
    // SQLite's hidden rowid orders a customer's numbers; PostgreSQL has a column of that name.
    ("customer_phones", &["rowid"]),
    ("customer_emails", &["rowid"]),
    ("customer_fields", &["id"]),
    ("customer_field_values", &["customer_id", "field_id"]),
    ("customer_distinct_pairs", &["customer_id", "other_id"]),
    (
        "customer_conversations",
        &["customer_id", "conversation_id"],
    ),
    ("agents", &["id"]),
    ("call_outcome_codes", &["id"]),
    ("calls", &["id"]),
    ("callbacks", &["id"]),
    ("phone_commands", &["id"]),
    ("ring_outs", &["id"]),
    ("call_stats", &["day", "queue", "agent_id"]),
    ("blocked_numbers", &["number"]),
    ("labels", &["id"]),
    ("conversation_labels", &["conversation_id", "label_id"]),
    ("conversation_notes", &["id"]),
    ("teams", &["id"]),
    ("team_members", &["team_id", "user_id"]),
    ("canned_responses", &["id"]),
    ("account_access", &["id"]),
    ("token_accounts", &["token_id", "account_id"]),
];

/// Tables that belong to the engines, not to the data: never copied (the target has its own). The
/// sender nodes' bot connections are live state of the nodes running on the source: its nodes' next
/// heartbeats record them on the target.
/// The shared limits' counts (PostgreSQL only) are not data either.
const BOOKKEEPING: &[&str] = &[
    "schema_migrations",
    "event_counter",
    "sqlite_sequence",
    "sender_nodes",
    "bot_connections",
    "console_connections",
    "rate_buckets",
    "login_failures",
    "login_places",
    "search_backlog",
];

/// Whether a table is the search index (or one of SQLite's tables behind it): never copied, the
/// target indexes what it got.
fn is_search_index(table: &str) -> bool {
    crate::search::TABLES.iter().any(|index| {
        table == *index
            || table
                .strip_prefix(index)
                .is_some_and(|rest| rest.starts_with('_'))
    })
}

/// Rows read from the source at a time.
const PAGE: usize = 500;

/// Most values bound to one `INSERT` (SQLite allows 32,766, PostgreSQL 65,535).
const VALUES_PER_INSERT: usize = 4_000;

/// What a copy did: the rows copied per table, in the order they were copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
    /// The highest event id ever given, which the target's next event follows.
    pub last_event_id: i64,
}

/// One table as the copy reads and writes it.
#[derive(Debug)]
struct TablePlan {
    name: &'static str,
    columns: Vec<String>,
    /// Where each key column is in `columns`.
    key: Vec<usize>,
}

/// What the reader hands the writer.
enum Piece {
    Rows {
        table: usize,
        rows: Vec<Vec<OwnedValue>>,
    },
    /// Everything was read; the highest event id the source ever gave.
    End { last_event_id: i64 },
}

impl Store {
    /// Copies every row of this database into `target`, ids and all, in one transaction of the
    /// target's. The target must hold nothing but the schema ([`StorageError::TargetNotEmpty`]).
    /// Nothing should write to this database meanwhile: stop its nodes first.
    pub async fn copy_into(&self, target: &Store) -> Result<CopyReport> {
        let plan = Arc::new(self.read(plan_tables).await?);
        let (pieces, inbox) = tokio::sync::mpsc::channel(4);
        let writer_plan = Arc::clone(&plan);
        let (read, written) = tokio::join!(
            self.read_all(&plan, pieces),
            target.write(move |tx| write_all(tx, &writer_plan, inbox))
        );
        // The reader's failure is the cause when both failed (the writer then only saw it stop).
        read?;
        let report = written?;
        // Indexed after the copy committed, a chunk at a time; what a stop leaves undone is indexed
        // when the target next opens.
        target.catch_up_search_index().await?;
        target.analyze().await?;
        Ok(report)
    }

    /// Refreshes PostgreSQL's planner statistics of every table (`ANALYZE`), as after any bulk load:
    /// until autovacuum first gets to a table, statements prepared while it looked small keep plans
    /// made for a small table (a sequential scan where a key lookup was meant). SQLite plans without
    /// statistics: there it does nothing.
    pub async fn analyze(&self) -> Result<()> {
        self.write(|tx| {
            if tx.dialect() == Dialect::Postgres {
                for (table, _) in TABLES {
                    tx.execute(&format!("ANALYZE {table}"), args![])?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Reads every table page by page and hands the pages to the writer, then the event counter.
    async fn read_all(
        &self,
        plan: &Arc<Vec<TablePlan>>,
        pieces: tokio::sync::mpsc::Sender<Piece>,
    ) -> Result<()> {
        for table in 0..plan.len() {
            let mut after: Option<Vec<OwnedValue>> = None;
            loop {
                let (reading, last) = (Arc::clone(plan), after.take());
                let rows = self
                    .read_long(move |tx| read_page(tx, &reading[table], last.as_deref()))
                    .await?;
                let full = rows.len() == PAGE;
                after = rows
                    .last()
                    .map(|row| plan[table].key.iter().map(|&i| row[i].clone()).collect());
                if !rows.is_empty() && pieces.send(Piece::Rows { table, rows }).await.is_err() {
                    // The writer stopped (the target was refused); its error says why.
                    return Ok(());
                }
                if !full {
                    break;
                }
            }
        }
        let last_event_id = self.last_event_id().await?;
        // A closed channel means the writer stopped; its error says why.
        let _ = pieces.send(Piece::End { last_event_id }).await;
        Ok(())
    }
}

/// The tables to copy and their columns, as the source has them; a table the copy does not know
/// (a newer schema) stops it before anything is written.
fn plan_tables(tx: &Tx<'_>) -> Result<Vec<TablePlan>> {
    let found = tx.rows(
        match tx.dialect() {
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            }
        },
        args![],
        |r| r.get::<String>(0),
    )?;
    if let Some(unknown) = found.iter().find(|name| {
        !BOOKKEEPING.contains(&name.as_str())
            && !is_search_index(name)
            && !TABLES.iter().any(|(table, _)| table == name)
    }) {
        return Err(StorageError::CopyUnknownTable(unknown.clone()));
    }
    TABLES
        .iter()
        .map(|&(name, key)| {
            let mut columns = tx.rows(
                match tx.dialect() {
                    Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
                    Dialect::Postgres => {
                        "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
                         WHERE table_schema = current_schema() AND table_name = ?1
                         ORDER BY ordinal_position"
                    }
                },
                args![name],
                |r| r.get::<String>(0),
            )?;
            // SQLite's rowid is no column of its table's, but is read and written by that name.
            for column in key {
                if !columns.iter().any(|c| c == column) {
                    columns.push((*column).to_owned());
                }
            }
            let key = key
                .iter()
                .map(|k| columns.iter().position(|c| c == k).unwrap_or_default())
                .collect();
            Ok(TablePlan { name, columns, key })
        })
        .collect()
}

/// The page of `table` after the row whose key is `after` (the first page without one).
fn read_page(
    tx: &Tx<'_>,
    table: &TablePlan,
    after: Option<&[OwnedValue]>,
) -> Result<Vec<Vec<OwnedValue>>> {
    let key: Vec<&str> = table
        .key
        .iter()
        .map(|&i| table.columns[i].as_str())
        .collect();
    let key = key.join(", ");
    let filter = match after {
        Some(last) => {
            let placeholders: Vec<String> = (1..=last.len()).map(|n| format!("?{n}")).collect();
            format!("WHERE ({key}) > ({})", placeholders.join(", "))
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT {} FROM {} {filter} ORDER BY {key} LIMIT {PAGE}",
        table.columns.join(", "),
        table.name
    );
    let values: Vec<&dyn ToValue> = after
        .unwrap_or_default()
        .iter()
        .map(|cell| cell as &dyn ToValue)
        .collect();
    tx.rows(&sql, &values, |r| {
        (0..table.columns.len())
            .map(|i| r.get::<OwnedValue>(i))
            .collect()
    })
}

/// The target's side: refuses it if it holds anything, inserts what the reader hands over, then moves
/// the counters past the copied ids.
fn write_all(
    tx: &Tx<'_>,
    plan: &[TablePlan],
    mut inbox: tokio::sync::mpsc::Receiver<Piece>,
) -> Result<CopyReport> {
    refuse_if_not_empty(tx)?;
    let mut counts = vec![0_u64; plan.len()];
    let last_event_id = loop {
        match inbox.blocking_recv() {
            Some(Piece::Rows { table, rows }) => {
                insert_rows(tx, &plan[table], &rows)?;
                counts[table] += u64::try_from(rows.len()).unwrap_or(u64::MAX);
            }
            Some(Piece::End { last_event_id }) => break last_event_id,
            None => return Err(StorageError::Task("the copy's reader stopped".into())),
        }
    };
    move_counters(tx, last_event_id)?;
    crate::search::index_everything_later(tx)?;
    Ok(CopyReport {
        tables: plan.iter().map(|t| t.name).zip(counts).collect(),
        last_event_id,
    })
}

/// A target is empty when no table has a row and no event id was ever given.
fn refuse_if_not_empty(tx: &Tx<'_>) -> Result<()> {
    for (table, _) in TABLES {
        let sql = format!("SELECT 1 FROM {table} LIMIT 1");
        if tx.optional(&sql, args![], |r| r.get::<i64>(0))?.is_some() {
            return Err(StorageError::TargetNotEmpty((*table).to_owned()));
        }
    }
    if crate::events::last_id(tx)? > 0 {
        return Err(StorageError::TargetNotEmpty("events".to_owned()));
    }
    Ok(())
}

/// Inserts rows with as many rows per statement as the bound values allow.
fn insert_rows(tx: &Tx<'_>, table: &TablePlan, rows: &[Vec<OwnedValue>]) -> Result<()> {
    let width = table.columns.len().max(1);
    let per_insert = (VALUES_PER_INSERT / width).max(1);
    for chunk in rows.chunks(per_insert) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|row| {
                let placeholders: Vec<String> = (1..=width)
                    .map(|column| format!("?{}", row * width + column))
                    .collect();
                format!("({})", placeholders.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            table.name,
            table.columns.join(", "),
            tuples.join(", ")
        );
        let values: Vec<&dyn ToValue> = chunk
            .iter()
            .flatten()
            .map(|cell| cell as &dyn ToValue)
            .collect();
        tx.execute(&sql, &values)?;
    }
    Ok(())
}

/// Each engine's counters past the copied ids: the next row of any table gets a new id, and the
/// next event the one after the source's last.
fn move_counters(tx: &Tx<'_>, last_event_id: i64) -> Result<()> {
    match tx.dialect() {
        Dialect::Postgres => {
            let identities = tx.rows(
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT)
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND is_identity = 'YES'",
                args![],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?;
            for (table, column) in identities {
                let sql = format!(
                    "SELECT setval(CAST(pg_get_serial_sequence(?1, ?2) AS regclass), MAX({column}))
                     FROM {table} HAVING MAX({column}) IS NOT NULL"
                );
                tx.rows(&sql, args![table, column], |r| r.get::<i64>(0))?;
            }
            tx.execute(
                "UPDATE event_counter SET last_id = ?1",
                args![last_event_id],
            )?;
        }
        Dialect::Sqlite => {
            // Inserting explicit ids already moved each AUTOINCREMENT counter to the highest copied;
            // the event counter goes on to the highest ever given.
            if last_event_id > 0
                && tx.execute(
                    "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'events'",
                    args![last_event_id],
                )? == 0
            {
                tx.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
                    args![last_event_id],
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
