//! The event log: every change a console cares about, appended in the transaction that made it.

use crate::{Result, StorageError, Store};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use serde_json::value::RawValue;
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
}

impl StoredEvent {
    /// The payload as a JSON value, for callers that need to look inside.
    pub fn json(&self) -> Result<Value> {
        Ok(serde_json::from_str(self.payload.get())?)
    }
}

/// Appends an event inside the caller's transaction and returns its id.
pub(crate) fn append(
    tx: &Connection,
    kind: EventKind,
    account: Option<(i64, &str)>,
    payload: &impl serde::Serialize,
) -> Result<i64> {
    let text = serde_json::to_string(payload)?;
    tx.prepare_cached(
        "INSERT INTO events (kind, account_id, account, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind.as_str(), account.map(|a| a.0), account.map(|a| a.1), text, UnixMillis::now().0])?;
    Ok(tx.last_insert_rowid())
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
    })
}

impl Store {
    /// Events with an id above `after`, oldest first, at most `limit` of them.
    pub async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>> {
        self.read(move |tx| {
            // LIMIT in the SQL text: a bound LIMIT makes SQLite prepare the statement again per value.
            let mut statement = tx.prepare_cached(&format!(
                "SELECT id, kind, account, payload, created_at FROM events WHERE id > ?1 ORDER BY id LIMIT {limit}"
            ))?;
            let rows = statement.query_map(params![after], |r| {
                Ok((r.get(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?))
            })?;
            rows.map(|row| {
                let (id, kind, account, payload, at) = row?;
                decode(id, &kind, account, &payload, at)
            })
            .collect()
        })
        .await
    }

    /// The id of the newest event, 0 when the log is empty.
    pub async fn last_event_id(&self) -> Result<i64> {
        self.read(|tx| {
            Ok(tx
                .query_row("SELECT MAX(id) FROM events", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .optional()?
                .flatten()
                .unwrap_or(0))
        })
        .await
    }
}
