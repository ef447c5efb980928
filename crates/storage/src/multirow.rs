//! Statements over many rows at once (`VALUES (…), (…), …`), written once for both engines, so a batch
//! costs a few statements rather than one per row: on PostgreSQL each statement is a round trip.
//!
//! A statement's text depends on its number of rows, and both engines cache prepared statements by
//! text, so the rows go in chunks of at most [`MAX_ROWS`], each padded up to a power of two by
//! repeating its last row: at most eight texts per statement, built once. A statement run this way
//! must therefore treat a repeated row as one: `INSERT … ON CONFLICT DO NOTHING` (a repeat conflicts
//! with its first) or `UPDATE … FROM (VALUES …)` (both engines update a target row once, from one of
//! the rows it joins), never `ON CONFLICT DO UPDATE`, which PostgreSQL refuses to apply twice.
//!
//! The columns of `(VALUES …) AS c` are `c.column1`, `c.column2`, … on both engines. PostgreSQL types
//! an unmarked parameter in a `VALUES` list outside an `INSERT` as text: cast the others.

use crate::Result;
use crate::sql::{Row, ToValue, Tx};
use std::sync::OnceLock;

/// Rows per statement at most: 128 rows of a few columns stay far under both engines' limits on
/// bound parameters (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const MAX_ROWS: usize = 128;

/// The number of padded sizes: 1, 2, 4, … [`MAX_ROWS`].
const SIZES: usize = MAX_ROWS.trailing_zeros() as usize + 1;

/// One statement over rows: `head`, the rows, `tail`. In `row`, each `?` not followed by a digit is
/// the row's next parameter (numbered after the statement's `shared` ones, `?1`…); `?N` is a shared
/// parameter, the same in every row.
pub(crate) struct MultiRow {
    head: &'static str,
    row: &'static str,
    tail: &'static str,
    shared: usize,
    texts: OnceLock<Vec<String>>,
}

impl MultiRow {
    pub(crate) const fn new(
        head: &'static str,
        row: &'static str,
        tail: &'static str,
        shared: usize,
    ) -> Self {
        Self {
            head,
            row,
            tail,
            shared,
            texts: OnceLock::new(),
        }
    }

    /// Parameters of each row.
    fn width(&self) -> usize {
        row_parameters(self.row)
    }

    /// The text for `rows` rows, `rows` a power of two up to [`MAX_ROWS`].
    fn text(&self, rows: usize) -> &str {
        let texts = self.texts.get_or_init(|| {
            (0..SIZES)
                .map(|size| self.build(1 << size))
                .collect::<Vec<_>>()
        });
        &texts[rows.trailing_zeros() as usize]
    }

    fn build(&self, rows: usize) -> String {
        let mut sql = String::with_capacity(self.head.len() + self.tail.len() + rows * 64);
        sql.push_str(self.head);
        let mut next = self.shared + 1;
        for index in 0..rows {
            if index > 0 {
                sql.push_str(", ");
            }
            let mut chars = self.row.chars().peekable();
            while let Some(c) = chars.next() {
                sql.push(c);
                if c == '?' && !chars.peek().is_some_and(char::is_ascii_digit) {
                    sql.push_str(&next.to_string());
                    next += 1;
                }
            }
        }
        sql.push_str(self.tail);
        sql
    }

    /// Runs the statement over `rows` (each row's parameters one after another, in the order its `?`
    /// appear) with the `shared` ones first, and answers what `map` reads from every returned row.
    /// Returned rows come in no promised order: match them by a key, not by position.
    pub(crate) fn run<'a, T>(
        &self,
        tx: &Tx<'_>,
        shared: &[&'a dyn ToValue],
        rows: &[&'a dyn ToValue],
        mut map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut found = Vec::new();
        self.each_chunk(shared, rows, |text, args| {
            found.extend(tx.rows(text, args, &mut map)?);
            Ok(())
        })?;
        Ok(found)
    }

    /// Runs the statement over `rows` as [`MultiRow::run`] does, for a statement whose answer is not
    /// read: on PostgreSQL each chunk is sent without waiting (see `Tx::execute_pipelined`).
    pub(crate) fn execute_pipelined<'a>(
        &self,
        tx: &Tx<'_>,
        shared: &[&'a dyn ToValue],
        rows: &[&'a dyn ToValue],
    ) -> Result<()> {
        self.each_chunk(shared, rows, |text, args| tx.execute_pipelined(text, args))
    }

    /// Hands `each` the text and the parameters of every chunk of `rows`, padded.
    fn each_chunk<'a>(
        &self,
        shared: &[&'a dyn ToValue],
        rows: &[&'a dyn ToValue],
        mut each: impl FnMut(&str, &[&'a dyn ToValue]) -> Result<()>,
    ) -> Result<()> {
        debug_assert_eq!(shared.len(), self.shared);
        let width = self.width();
        debug_assert_eq!(rows.len() % width, 0);
        let mut args: Vec<&dyn ToValue> = Vec::with_capacity(self.shared + MAX_ROWS * width);
        for chunk in rows.chunks(MAX_ROWS * width) {
            let count = chunk.len() / width;
            let padded = count.next_power_of_two();
            args.clear();
            args.extend_from_slice(shared);
            args.extend_from_slice(chunk);
            let last = &chunk[chunk.len() - width..];
            for _ in count..padded {
                args.extend_from_slice(last);
            }
            each(self.text(padded), &args)?;
        }
        Ok(())
    }
}

/// The parameters of every item's row, one row after another, as [`MultiRow::run`] takes them.
pub(crate) fn rows_of<'a, T: 'a, const N: usize>(
    items: impl IntoIterator<Item = T>,
    row: impl Fn(T) -> [&'a dyn ToValue; N],
) -> Vec<&'a dyn ToValue> {
    items.into_iter().flat_map(row).collect()
}

fn row_parameters(row: &str) -> usize {
    let mut chars = row.chars().peekable();
    let mut count = 0;
    while let Some(c) = chars.next() {
        if c == '?' && !chars.peek().is_some_and(char::is_ascii_digit) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_after_the_shared_parameters() {
        let statement = MultiRow::new(
            "INSERT INTO t (a, b, c) VALUES ",
            "(?1, ?, CAST(? AS BIGINT))",
            " ON CONFLICT DO NOTHING",
            1,
        );
        assert_eq!(statement.width(), 2);
        assert_eq!(
            statement.text(2),
            "INSERT INTO t (a, b, c) VALUES (?1, ?2, CAST(?3 AS BIGINT)), (?1, ?4, CAST(?5 AS BIGINT)) ON CONFLICT DO NOTHING"
        );
        assert!(
            statement
                .text(MAX_ROWS)
                .ends_with("?257 AS BIGINT)) ON CONFLICT DO NOTHING")
        );
    }
}
