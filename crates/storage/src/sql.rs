//! The storage seam: the small interface every operation of the store is written against.
//!
//! An operation ("ingest this batch", "answer this call") is a plain function over a [`Tx`]: it runs
//! statements with [`Tx::execute`], reads with [`Tx::one`], [`Tx::optional`] and [`Tx::rows`], and
//! inserts with [`Tx::insert`] (`… RETURNING id`). Values go in as [`ToValue`] and come out of a
//! [`Row`] as [`FromValue`], so no operation names the engine. The engine decides how a `Tx` reaches the
//! database: SQLite's runs on its single writer thread inside a group commit (writes) or on a read
//! connection (reads); a second engine adds a variant to [`Engine`] and implements the same five
//! calls, and every operation runs on it unchanged.
//!
//! SQL is written with numbered placeholders (`?1`, `?2`, …), which an engine that spells them
//! otherwise (`$1`) rewrites once per statement text.

use crate::postgres::PgStatements;
use crate::{Result, StorageError};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// A value bound to a statement or read from a row, borrowed where it can be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Integer(i64),
    Bool(bool),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Value<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// A [`Value`] that owns its text and blobs, for a value kept past the row or the call it came from
/// (a row copied between engines, an argument of a statement answered later).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedValue {
    Null,
    Integer(i64),
    Bool(bool),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<Value<'_>> for OwnedValue {
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Integer(n) => Self::Integer(n),
            Value::Bool(b) => Self::Bool(b),
            Value::Real(x) => Self::Real(x),
            Value::Text(text) => Self::Text(text.to_owned()),
            Value::Blob(bytes) => Self::Blob(bytes.to_vec()),
        }
    }
}

/// What can be bound to a statement's placeholder.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

/// Why a stored value cannot be read as the type asked for; it becomes [`StorageError::Corrupt`].
#[derive(Debug)]
pub(crate) struct Unreadable(String);

/// What can be read from a column. An unexpected stored value is an error naming what was found,
/// never a default.
pub(crate) trait FromValue: Sized {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable>;
}

/// The arguments of one statement, in placeholder order: `args![conversation_id, text]`.
macro_rules! args {
    () => { &[] as &[&dyn $crate::sql::ToValue] };
    ($($arg:expr),+ $(,)?) => { &[$(&$arg as &dyn $crate::sql::ToValue),+] as &[&dyn $crate::sql::ToValue] };
}
pub(crate) use args;

/// A struct read from a row whose columns are its fields, in the order the fields are listed, so
/// that the list reads like the SELECT it mirrors and no column index is written by hand:
/// `read_row!(row => User { id, username, role })`. A field stored as JSON text is marked
/// `field: json`. Fields that are not columns follow, with their values, after `with`.
macro_rules! read_row {
    ($row:expr => $ty:ident { $($field:ident $(: $how:ident)?),+ $(,)? }
     $(with { $($extra:ident: $value:expr),+ $(,)? })?) => {{
        let row: &$crate::sql::Row<'_> = $row;
        let mut column = 0_usize;
        $ty {
            $($field: { column += 1; $crate::sql::read_row!(@column row, column - 1 $(, $how)?) }),+
            $($(, $extra: $value)+)?
        }
    }};
    (@column $row:ident, $index:expr) => { $row.get($index)? };
    (@column $row:ident, $index:expr, json) => { $row.get_json($index)? };
}
pub(crate) use read_row;

/// The connection a [`Tx`] runs on.
enum Engine<'c> {
    Sqlite(&'c rusqlite::Connection),
    /// In a cell: a PostgreSQL client needs `&mut` to run a statement, operations hold `&Tx`.
    Postgres(std::cell::RefCell<&'c mut dyn PgStatements>),
}

/// Which SQL an engine speaks, for the few statements that cannot be written once for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One transaction (a write) or one connection's latest committed state (a read), as operations see it.
pub(crate) struct Tx<'c> {
    engine: Engine<'c>,
}

/// One row of a result, read by column position.
pub(crate) struct Row<'r> {
    inner: RowInner<'r>,
    /// The column read as 0: a row that joins two things is read in parts (see [`Row::after`]).
    first: usize,
}

#[derive(Clone, Copy)]
enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// The rest of the row after its first `columns`, read from 0: so that a reader of one thing's
    /// columns reads them wherever a query puts them.
    pub(crate) fn after(&self, columns: usize) -> Row<'_> {
        Row {
            inner: self.inner,
            first: self.first + columns,
        }
    }

    /// Column `index` (from 0) as `T`; a value of another type is [`StorageError::Corrupt`].
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let index = self.first + index;
        let value = match &self.inner {
            RowInner::Sqlite(row) => sqlite_value(row.get_ref(index)?)?,
            RowInner::Postgres(row) => crate::postgres::column(row, index)?,
        };
        T::from_value(value).map_err(|Unreadable(reason)| {
            StorageError::Corrupt(format!("column {index}: {reason}"))
        })
    }

    /// Column `index` holding JSON text, parsed as `T`.
    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(&self, index: usize) -> Result<T> {
        let text: String = self.get(index)?;
        serde_json::from_str(&text).map_err(|e| {
            StorageError::Corrupt(format!("column {index}: JSON that does not fit: {e}"))
        })
    }
}

fn sqlite_value(value: ValueRef<'_>) -> Result<Value<'_>> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(bytes) => Value::Text(
            std::str::from_utf8(bytes)
                .map_err(|e| StorageError::Corrupt(format!("text that is not UTF-8: {e}")))?,
        ),
        ValueRef::Blob(bytes) => Value::Blob(bytes),
    })
}

/// Binds our values to SQLite without copying text or blobs.
struct SqliteArg<'a>(Value<'a>);

impl rusqlite::ToSql for SqliteArg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(n) => ValueRef::Integer(n),
            Value::Bool(b) => ValueRef::Integer(i64::from(b)),
            Value::Real(x) => ValueRef::Real(x),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

fn sqlite_args<'a>(
    args: &'a [&'a dyn ToValue],
) -> rusqlite::ParamsFromIter<impl Iterator<Item = SqliteArg<'a>>> {
    rusqlite::params_from_iter(args.iter().map(|arg| SqliteArg(arg.to_value())))
}

impl<'c> Tx<'c> {
    pub(crate) fn sqlite(conn: &'c rusqlite::Connection) -> Self {
        Self {
            engine: Engine::Sqlite(conn),
        }
    }

    pub(crate) fn postgres(conn: &'c mut dyn PgStatements) -> Self {
        Self {
            engine: Engine::Postgres(std::cell::RefCell::new(conn)),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self.engine {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Every row of a PostgreSQL query (it answers them all at once).
    fn postgres_rows(
        conn: &std::cell::RefCell<&'c mut dyn PgStatements>,
        sql: &str,
        args: &[&dyn ToValue],
    ) -> Result<Vec<postgres::Row>> {
        let values: Vec<Value<'_>> = args.iter().map(|arg| arg.to_value()).collect();
        conn.borrow_mut().query(sql, &values)
    }

    /// Runs a statement that returns no rows; answers how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, args: &[&dyn ToValue]) -> Result<usize> {
        match self.engine {
            // Cached: preparing the SQL on every call was a quarter of the sender's CPU.
            Engine::Sqlite(conn) => Ok(conn.prepare_cached(sql)?.execute(sqlite_args(args))?),
            Engine::Postgres(ref conn) => {
                let values: Vec<Value<'_>> = args.iter().map(|arg| arg.to_value()).collect();
                let changed = conn.borrow_mut().execute(sql, &values)?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Runs a statement whose answer the operation does not need (how many rows it changed). The
    /// PostgreSQL writer sends it without waiting; an error in it fails the operation all the same,
    /// heard at the operation's next statement that waits or at its end. For statements that only
    /// fail when the database does (or on a bug): the operation goes on as if it had succeeded.
    pub(crate) fn execute_pipelined(&self, sql: &str, args: &[&dyn ToValue]) -> Result<()> {
        match self.engine {
            Engine::Sqlite(_) => self.execute(sql, args).map(drop),
            Engine::Postgres(ref conn) => {
                let values: Vec<Value<'_>> = args.iter().map(|arg| arg.to_value()).collect();
                conn.borrow_mut().execute_pipelined(sql, &values)
            }
        }
    }

    /// Hands an event to PostgreSQL's writer, which numbers and writes a group's events as it
    /// commits (see `crate::events::append`).
    pub(crate) fn append_event(&self, event: crate::events::NewEvent) -> Result<()> {
        match self.engine {
            Engine::Sqlite(_) => Err(StorageError::Task(
                "SQLite writes its events at once".into(),
            )),
            Engine::Postgres(ref conn) => conn.borrow_mut().append_event(event),
        }
    }

    /// The first row of a query that returns at most one; `None` when it returns none.
    pub(crate) fn optional<T>(
        &self,
        sql: &str,
        args: &[&dyn ToValue],
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.engine {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(sqlite_args(args))?;
                match rows.next()? {
                    Some(row) => map(&Row {
                        inner: RowInner::Sqlite(row),
                        first: 0,
                    })
                    .map(Some),
                    None => Ok(None),
                }
            }
            Engine::Postgres(ref conn) => Self::postgres_rows(conn, sql, args)?
                .first()
                .map(|row| {
                    map(&Row {
                        inner: RowInner::Postgres(row),
                        first: 0,
                    })
                })
                .transpose(),
        }
    }

    /// The first row of each of two queries, `None` for one that returns none. PostgreSQL's writer
    /// sends both before it waits (one round trip for the two), so the second must not need the
    /// first's answer: it runs whatever that is, and a unit that fails on the answer rolls both back.
    pub(crate) fn optional_pair<A, B>(
        &self,
        first: (&str, &[&dyn ToValue]),
        read_first: impl FnOnce(&Row<'_>) -> Result<A>,
        second: (&str, &[&dyn ToValue]),
        read_second: impl FnOnce(&Row<'_>) -> Result<B>,
    ) -> Result<(Option<A>, Option<B>)> {
        match self.engine {
            Engine::Sqlite(_) => Ok((
                self.optional(first.0, first.1, read_first)?,
                self.optional(second.0, second.1, read_second)?,
            )),
            Engine::Postgres(ref conn) => {
                let first_values: Vec<Value<'_>> =
                    first.1.iter().map(|arg| arg.to_value()).collect();
                let second_values: Vec<Value<'_>> =
                    second.1.iter().map(|arg| arg.to_value()).collect();
                let (first_rows, second_rows) = conn
                    .borrow_mut()
                    .query_pair((first.0, &first_values), (second.0, &second_values))?;
                fn read(rows: &[postgres::Row]) -> Option<Row<'_>> {
                    rows.first().map(|row| Row {
                        inner: RowInner::Postgres(row),
                        first: 0,
                    })
                }
                Ok((
                    read(&first_rows).map(|row| read_first(&row)).transpose()?,
                    read(&second_rows)
                        .map(|row| read_second(&row))
                        .transpose()?,
                ))
            }
        }
    }

    /// The one row a query returns (an aggregate, a row known to exist); none is an error.
    pub(crate) fn one<T>(
        &self,
        sql: &str,
        args: &[&dyn ToValue],
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.optional(sql, args, map)?
            .ok_or_else(|| StorageError::Corrupt(format!("no row where one was expected: {sql}")))
    }

    /// Every row of a query, in its order.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        args: &[&dyn ToValue],
        mut map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match self.engine {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(sqlite_args(args))?;
                let mut found = Vec::new();
                while let Some(row) = rows.next()? {
                    found.push(map(&Row {
                        inner: RowInner::Sqlite(row),
                        first: 0,
                    })?);
                }
                Ok(found)
            }
            Engine::Postgres(ref conn) => {
                let values: Vec<Value<'_>> = args.iter().map(|arg| arg.to_value()).collect();
                let mut found = Vec::new();
                conn.borrow_mut().query_each(sql, &values, &mut |row| {
                    found.push(map(&Row {
                        inner: RowInner::Postgres(&row),
                        first: 0,
                    })?);
                    Ok(())
                })?;
                Ok(found)
            }
        }
    }

    /// Runs an `INSERT … RETURNING id` and answers the new row's id.
    pub(crate) fn insert(&self, sql: &str, args: &[&dyn ToValue]) -> Result<i64> {
        self.one(sql, args, |row| row.get(0))
    }
}

// What goes in.

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToValue for OwnedValue {
    fn to_value(&self) -> Value<'_> {
        match self {
            Self::Null => Value::Null,
            Self::Integer(n) => Value::Integer(*n),
            Self::Bool(b) => Value::Bool(*b),
            Self::Real(x) => Value::Real(*x),
            Self::Text(text) => Value::Text(text),
            Self::Blob(bytes) => Value::Blob(bytes),
        }
    }
}

impl ToValue for switchboard_domain::UnixMillis {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(self.0)
    }
}

// What comes out.

fn unexpected<T>(wanted: &str, found: Value<'_>) -> std::result::Result<T, Unreadable> {
    Err(Unreadable(format!(
        "expected {wanted}, found {}",
        found.kind()
    )))
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        match value {
            Value::Null => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        match value {
            Value::Integer(n) => Ok(n),
            Value::Bool(b) => Ok(i64::from(b)),
            found => unexpected("an integer", found),
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        let n = i64::from_value(value)?;
        u32::try_from(n).map_err(|_| Unreadable(format!("{n} is out of range")))
    }
}

impl FromValue for bool {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        match value {
            Value::Bool(b) => Ok(b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            found => unexpected("a boolean", found),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        match value {
            Value::Real(x) => Ok(x),
            // Lossless for what is stored as integers (counts, milliseconds).
            #[allow(clippy::cast_precision_loss)]
            Value::Integer(n) => Ok(n as f64),
            found => unexpected("a number", found),
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        match value {
            Value::Text(text) => Ok(text.to_owned()),
            found => unexpected("text", found),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        match value {
            Value::Blob(bytes) => Ok(bytes.to_vec()),
            Value::Text(text) => Ok(text.as_bytes().to_vec()),
            found => unexpected("a blob", found),
        }
    }
}

/// Any value at all, as it was stored.
impl FromValue for OwnedValue {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        Ok(value.into())
    }
}

impl FromValue for switchboard_domain::UnixMillis {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, Unreadable> {
        i64::from_value(value).map(Self)
    }
}

/// A status stored as its name: bound as text, read back through its parser, and an unknown name is
/// corrupt data rather than a default.
macro_rules! stored_as_text {
    ($($status:ty),+ $(,)?) => {$(
        impl $crate::sql::ToValue for $status {
            fn to_value(&self) -> $crate::sql::Value<'_> {
                $crate::sql::Value::Text(self.as_str())
            }
        }

        impl $crate::sql::FromValue for $status {
            fn from_value(value: $crate::sql::Value<'_>) -> std::result::Result<Self, Unreadable> {
                match value {
                    $crate::sql::Value::Text(text) => text
                        .parse::<$status>()
                        .map_err(|unknown| $crate::sql::Unreadable(unknown.to_string())),
                    found => Err($crate::sql::Unreadable(format!(
                        "expected a status, found {}",
                        found.kind()
                    ))),
                }
            }
        }
    )+};
}

use crate::AccountKind;
use switchboard_domain::routing::{AgentState, AgentStatus};
use switchboard_domain::status::CommandKind;
use switchboard_domain::{
    CallStatus, CommandStatus, ConversationStatus, MessageStatus, PostStatus, Role,
};

stored_as_text!(
    AccountKind,
    ConversationStatus,
    Role,
    MessageStatus,
    PostStatus,
    CommandStatus,
    CommandKind,
    CallStatus,
    AgentStatus,
    AgentState,
    switchboard_domain::attachments::AttachmentKind,
    switchboard_domain::comments::Moderation,
    switchboard_domain::callbacks::CallbackStatus,
    switchboard_domain::callbacks::CallbackOutcome,
    switchboard_domain::phone_commands::PhoneCommandKind,
    switchboard_domain::phone_commands::PhoneCommandStatus
);

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("memory database");
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, flag INTEGER, data BLOB)",
        )
        .expect("table");
        conn
    }

    #[test]
    fn values_round_trip_through_sqlite() -> Result<()> {
        let conn = memory();
        let tx = Tx::sqlite(&conn);
        let name = "Nguyễn Văn An".to_owned();
        let id = tx.insert(
            "INSERT INTO t (name, n, flag, data) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            args![name, Some(7_i64), true, vec![1_u8, 2]],
        )?;
        let row = tx.one(
            "SELECT name, n, flag, data FROM t WHERE id = ?1",
            args![id],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<Option<i64>>(1)?,
                    r.get::<bool>(2)?,
                    r.get::<Vec<u8>>(3)?,
                ))
            },
        )?;
        assert_eq!(row, (name, Some(7), true, vec![1, 2]));
        assert_eq!(
            tx.execute("UPDATE t SET n = NULL WHERE id = ?1", args![id])?,
            1
        );
        let missing = tx.optional("SELECT n FROM t WHERE id = ?1", args![id + 1], |r| {
            r.get::<i64>(0)
        })?;
        assert_eq!(missing, None);
        let all = tx.rows("SELECT n FROM t ORDER BY id", args![], |r| {
            r.get::<Option<i64>>(0)
        })?;
        assert_eq!(all, vec![None]);
        Ok(())
    }

    #[test]
    fn a_value_of_another_type_is_corrupt_not_a_default() {
        let conn = memory();
        let tx = Tx::sqlite(&conn);
        tx.execute("INSERT INTO t (name, flag) VALUES ('x', 2)", args![])
            .expect("insert");
        let text_as_number = tx.one("SELECT name FROM t", args![], |r| r.get::<i64>(0));
        assert!(
            matches!(&text_as_number, Err(StorageError::Corrupt(reason)) if reason.contains("expected an integer, found text")),
            "{text_as_number:?}"
        );
        let two_as_flag = tx.one("SELECT flag FROM t", args![], |r| r.get::<bool>(0));
        assert!(matches!(two_as_flag, Err(StorageError::Corrupt(_))));
        let none = tx.one("SELECT n FROM t WHERE id = 99", args![], |r| {
            r.get::<i64>(0)
        });
        assert!(matches!(none, Err(StorageError::Corrupt(_))));
    }
}
