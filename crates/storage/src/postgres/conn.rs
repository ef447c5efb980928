//! One PostgreSQL connection as the operations use it: SQL written with SQLite's `?N` placeholders
//! (the operations are written once) prepared as `$N` once per connection, and our values bound to
//! whatever type the server infers for each parameter.

use crate::sql::{OwnedValue, ToValue, Value};
use crate::{Result, StorageError};
use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use std::collections::HashMap;

/// Prepared statements kept per connection. The store has fewer distinct statements than this, but
/// some carry their `LIMIT` in the text (one per page size), so the cache is bounded and starts over
/// when full rather than growing with what clients ask.
const STATEMENT_CACHE: usize = 1024;

/// A connection idle for longer than this is checked before it is used again.
pub(super) const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(5);
/// How long that check may take before the connection counts as lost.
pub(super) const IDLE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Statements prepared on one connection, by their SQL as the operations write it.
#[derive(Default)]
pub(super) struct StatementCache(HashMap<String, postgres::Statement>);

impl StatementCache {
    /// The statement for `sql`, prepared by `prepare` (given the SQL with `$N` placeholders) the
    /// first time.
    pub(super) fn get(
        &mut self,
        sql: &str,
        prepare: impl FnOnce(&str) -> Result<postgres::Statement>,
    ) -> Result<postgres::Statement> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = prepare(&numbered_placeholders(sql))?;
        if self.0.len() >= STATEMENT_CACHE {
            self.0.clear();
        }
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// What the operations run on a PostgreSQL connection (see [`crate::sql::Tx`]).
pub(crate) trait PgStatements {
    /// Runs a statement; answers how many rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64>;
    /// Runs a query; answers its rows.
    fn query(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<postgres::Row>>;
    /// Runs a query and hands each row to `each` as it arrives, so that a long answer is never
    /// held whole in memory.
    fn query_each(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
        each: &mut dyn FnMut(postgres::Row) -> Result<()>,
    ) -> Result<()> {
        self.query(sql, args)?.into_iter().try_for_each(each)
    }
    /// Runs two queries and answers the rows of each. A connection that pipelines sends both before
    /// it waits: one round trip. The second runs whatever the first answers.
    fn query_pair(
        &mut self,
        first: (&str, &[Value<'_>]),
        second: (&str, &[Value<'_>]),
    ) -> Result<(Vec<postgres::Row>, Vec<postgres::Row>)> {
        let first = self.query(first.0, first.1)?;
        Ok((first, self.query(second.0, second.1)?))
    }
    /// Runs a statement whose answer nobody reads. A connection that pipelines sends it without
    /// waiting; its error, if any, is answered by the next call that waits.
    fn execute_pipelined(&mut self, sql: &str, args: &[Value<'_>]) -> Result<()> {
        self.execute(sql, args).map(drop)
    }
    /// Keeps an event for the writer to number and write as the transaction commits. Only the
    /// writer's connection appends events.
    fn append_event(&mut self, _event: crate::events::NewEvent) -> Result<()> {
        Err(crate::StorageError::Task(
            "events are appended by the writer only".into(),
        ))
    }
}

pub(crate) struct PgConn {
    statements: StatementCache,
    /// When the connection last answered: one idle for long is checked before use (see `is_stale`).
    last_used: std::time::Instant,
    /// The node's count of lost connections when this one was last known good (see
    /// `WriteHealth::note_loss`): a newer loss makes it check itself before use.
    losses_seen: u64,
    /// Always `Some` but while dropping (see `Drop`).
    client: Option<postgres::Client>,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            super::drop_off_runtime(client);
        }
    }
}

impl PgConn {
    pub(crate) fn new(client: postgres::Client) -> Self {
        Self {
            statements: StatementCache::default(),
            last_used: std::time::Instant::now(),
            losses_seen: 0,
            client: Some(client),
        }
    }

    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        self.client
            .as_mut()
            .unwrap_or_else(|| unreachable!("a PostgreSQL connection is used after its drop"))
    }

    /// Whether the connection is gone (the server went away); a new one must be made.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    /// Notes that the connection is good as of the node's `losses`-th lost connection.
    pub(crate) fn seen_losses(&mut self, losses: u64) {
        self.losses_seen = losses;
    }

    /// Whether the connection must be made again before use: it is closed, or it has been idle long
    /// enough that the server may have restarted meanwhile, or another connection of the node found
    /// the database gone since this one last worked (`losses`), and a quick check says it is dead.
    /// (A client learns of a lost connection only when it next uses it: without the check, the
    /// first request on each idle connection after a database restart would fail.)
    pub(crate) fn is_stale(&mut self, losses: u64) -> bool {
        if self.is_closed() {
            return true;
        }
        let suspect = self.losses_seen != losses;
        self.losses_seen = losses;
        if !suspect && self.last_used.elapsed() < IDLE_CHECK {
            return false;
        }
        let alive = self.client().is_valid(IDLE_CHECK_TIMEOUT).is_ok();
        self.last_used = std::time::Instant::now();
        !alive
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        let client = self
            .client
            .as_mut()
            .unwrap_or_else(|| unreachable!("a PostgreSQL connection is used after its drop"));
        self.statements
            .get(sql, |numbered| Ok(client.prepare(numbered)?))
    }

    /// A statement without arguments or rows (`BEGIN`, `SAVEPOINT unit`, …), not prepared.
    pub(crate) fn control(&mut self, sql: &str) -> Result<()> {
        Ok(self.client().batch_execute(sql)?)
    }
}

impl PgStatements for PgConn {
    fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64> {
        let statement = self.statement(sql)?;
        let args = PgArg::all(args);
        let changed = self.client().execute(&statement, &PgArg::refs(&args))?;
        self.last_used = std::time::Instant::now();
        Ok(changed)
    }

    fn query(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<postgres::Row>> {
        let statement = self.statement(sql)?;
        let args = PgArg::all(args);
        let rows = self.client().query(&statement, &PgArg::refs(&args))?;
        self.last_used = std::time::Instant::now();
        Ok(rows)
    }

    fn query_each(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
        each: &mut dyn FnMut(postgres::Row) -> Result<()>,
    ) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let statement = self.statement(sql)?;
        let args = PgArg::all(args);
        let mut rows = self.client().query_raw(&statement, PgArg::refs(&args))?;
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        drop(rows);
        self.last_used = std::time::Instant::now();
        Ok(())
    }
}

/// `?1` → `$1`, outside quoted text. The operations' SQL is ours, never a user's.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A value bound to a PostgreSQL parameter of the type the server inferred for it.
#[derive(Debug)]
pub(super) struct PgArg<'a>(Value<'a>);

impl<'a> PgArg<'a> {
    pub(super) fn all(values: &[Value<'a>]) -> Vec<Self> {
        values.iter().map(|value| Self(*value)).collect()
    }

    pub(super) fn refs(args: &[Self]) -> Vec<&(dyn ToSql + Sync)> {
        args.iter().map(|arg| arg as &(dyn ToSql + Sync)).collect()
    }
}

/// A value kept for a statement answered later (see [`super::pipeline`]) is bound as [`PgArg`] is.
impl ToSql for OwnedValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        PgArg(self.to_value()).to_sql(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

fn mismatch(value: &Value<'_>, ty: &Type) -> BoxError {
    format!(
        "{} cannot be bound to a parameter of type {ty}",
        value.kind()
    )
    .into()
}

impl ToSql for PgArg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
                Type::BOOL => (n != 0).to_sql(ty, out),
                // Lossless for what is stored as integers (counts, milliseconds).
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (n as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR => n.to_string().as_str().to_sql(ty, out),
                _ => Err(mismatch(&self.0, ty)),
            },
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => i64::from(b).to_sql(ty, out),
                Type::INT4 => i32::from(b).to_sql(ty, out),
                Type::INT2 => i16::from(b).to_sql(ty, out),
                _ => Err(mismatch(&self.0, ty)),
            },
            Value::Real(x) => match *ty {
                Type::FLOAT8 => x.to_sql(ty, out),
                _ => Err(mismatch(&self.0, ty)),
            },
            Value::Text(text) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    text.to_sql(&Type::TEXT, out)
                }
                _ => Err(mismatch(&self.0, ty)),
            },
            Value::Blob(bytes) => match *ty {
                Type::BYTEA => bytes.to_sql(ty, out),
                _ => Err(mismatch(&self.0, ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `index` of a row as one of our values; a type the store never uses is corrupt data.
pub(crate) fn column(row: &postgres::Row, index: usize) -> Result<Value<'_>> {
    let ty = row
        .columns()
        .get(index)
        .ok_or_else(|| StorageError::Corrupt(format!("no column {index}")))?
        .type_()
        .clone();
    Ok(match ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)?
            .map_or(Value::Null, Value::Bool),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(index)?
            .map_or(Value::Null, Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map_or(Value::Null, |n| Value::Integer(i64::from(n))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map_or(Value::Null, |n| Value::Integer(i64::from(n))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(index)?
            .map_or(Value::Null, Value::Real),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<&str>>(index)?
            .map_or(Value::Null, Value::Text),
        Type::BYTEA => row
            .try_get::<_, Option<&[u8]>>(index)?
            .map_or(Value::Null, Value::Blob),
        other => {
            return Err(StorageError::Corrupt(format!(
                "column {index} is of type {other}, which the store does not read (cast it in the SQL)"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::numbered_placeholders;

    #[test]
    fn placeholders_are_numbered_outside_quotes_only() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d IN (?2, ?10)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d IN ($2, $10)"
        );
        assert_eq!(
            numbered_placeholders("SELECT '?' || ?1"),
            "SELECT '?' || $1"
        );
    }
}
