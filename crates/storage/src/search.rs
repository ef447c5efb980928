//! The search index (`domain::search`): written in the transaction that stores what it indexes, read
//! as sets of ids that the inbox's and the customers' queries filter by.
//!
//! SQLite keeps it in FTS5 tables, PostgreSQL in `tsvector` columns with GIN indexes; the words are
//! made by `domain::search` for both, so the two engines find the same rows. Rows stored before the
//! index existed (or copied from another database) are listed in `search_backlog` and indexed when a
//! store opens, newest first, one chunk per transaction.

use crate::multirow::{MultiRow, rows_of};
use crate::sql::{Dialect, ToValue, Tx, args};
use crate::{Result, Store};
use switchboard_domain::search::{Document, SearchQuery, prefix_flags};

/// What is indexed: each is a table of its own, keyed by the indexed row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A message's text.
    Messages,
    /// A conversation's participant name.
    Conversations,
    /// A customer's name, emails and CIF.
    Customers,
}

impl Source {
    const ALL: [Self; 3] = [Self::Messages, Self::Conversations, Self::Customers];

    /// The index's table.
    pub(crate) const fn table(self) -> &'static str {
        match self {
            Self::Messages => "message_search",
            Self::Conversations => "conversation_search",
            Self::Customers => "customer_search",
        }
    }

    /// PostgreSQL's insert of new rows into the index, many at once (see [`index`]).
    fn insert(self) -> &'static MultiRow {
        macro_rules! insert_into {
            ($table:literal) => {
                MultiRow::new(
                    concat!("INSERT INTO ", $table, " (id, exact, folded) VALUES "),
                    "(?, array_to_tsvector(string_to_array(?, ' ')), array_to_tsvector(string_to_array(?, ' ')))",
                    " ON CONFLICT (id) DO NOTHING",
                    0,
                )
            };
        }
        static MESSAGES: MultiRow = insert_into!("message_search");
        static CONVERSATIONS: MultiRow = insert_into!("conversation_search");
        static CUSTOMERS: MultiRow = insert_into!("customer_search");
        match self {
            Self::Messages => &MESSAGES,
            Self::Conversations => &CONVERSATIONS,
            Self::Customers => &CUSTOMERS,
        }
    }

    /// The indexed table (and the source's key in `search_backlog`).
    const fn source_table(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Conversations => "conversations",
            Self::Customers => "customers",
        }
    }

    /// The indexed text of a row of the source table, as one column per field (a customer's is
    /// read whole: their emails are rows of their own).
    const fn fields(self) -> Option<&'static str> {
        match self {
            Self::Messages => Some("text"),
            Self::Conversations => Some("participant_name"),
            Self::Customers => None,
        }
    }
}

/// The index tables, which a copy between databases leaves out (the target indexes what it got).
pub(crate) const TABLES: [&str; 3] = [
    Source::Messages.table(),
    Source::Conversations.table(),
    Source::Customers.table(),
];

/// Which of a text's two spellings a query is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// As written, accents kept: the matches that rank first.
    Exact,
    /// Without accents.
    Folded,
}

impl Spelling {
    const fn column(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Folded => "folded",
        }
    }
}

/// The query text the engine's matcher takes, for `spelling`: FTS5's `"w1" "w2"*` on SQLite,
/// `'w1' & 'w2':*` (a `tsquery`) on PostgreSQL. Words are letters, digits and marks only (see
/// `domain::search`), so quoting them is all the escaping either syntax needs.
pub(crate) fn match_text(dialect: Dialect, query: &SearchQuery, spelling: Spelling) -> String {
    query_text(dialect, query, spelling, true)
}

/// [`match_text`], the last word as a prefix or (`last_as_prefix` false) as a whole word.
fn query_text(
    dialect: Dialect,
    query: &SearchQuery,
    spelling: Spelling,
    last_as_prefix: bool,
) -> String {
    let terms = match spelling {
        Spelling::Exact => query.exact_terms(),
        Spelling::Folded => query.folded_terms(),
    };
    let parts: Vec<String> = prefix_flags(terms)
        .map(|(term, prefix)| match (dialect, prefix && last_as_prefix) {
            (Dialect::Sqlite, false) => format!("\"{term}\""),
            (Dialect::Sqlite, true) => format!("\"{term}\"*"),
            (Dialect::Postgres, false) => format!("'{term}'"),
            (Dialect::Postgres, true) => format!("'{term}':*"),
        })
        .collect();
    match dialect {
        Dialect::Sqlite => parts.join(" "),
        Dialect::Postgres => parts.join(" & "),
    }
}

/// A subquery answering the ids of `source`'s rows whose `spelling` matches the query bound at
/// `?{param}` (a [`match_text`]).
pub(crate) fn matching_ids(
    dialect: Dialect,
    source: Source,
    spelling: Spelling,
    param: usize,
) -> String {
    let (table, column) = (source.table(), spelling.column());
    match dialect {
        Dialect::Sqlite => format!("SELECT rowid FROM {table} WHERE {column} MATCH ?{param}"),
        Dialect::Postgres => {
            format!(
                "SELECT id FROM {table} WHERE {column} @@ CAST(CAST(?{param} AS TEXT) AS tsquery)"
            )
        }
    }
}

/// A subquery answering the ids of the conversations whose participant name or any message
/// matches the query at `?{param}`.
pub(crate) fn matching_conversations(dialect: Dialect, spelling: Spelling, param: usize) -> String {
    format!(
        "SELECT conversation_id FROM messages WHERE id IN ({})
         UNION SELECT id FROM conversations WHERE id IN ({})",
        matching_ids(dialect, Source::Messages, spelling, param),
        matching_ids(dialect, Source::Conversations, spelling, param),
    )
}

/// How a list finds the conversations a search matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// From the index: every matching message's conversation, then those in order. Its cost grows
    /// with the matches, so it is for queries that match few messages.
    FromMatches,
    /// From the list: conversations in the list's order, each checked against the index until the
    /// page is full. Its cost grows with the conversations passed over, so it is for queries that
    /// match many (a common word matches most recent conversations).
    FromList,
}

/// Matching messages from which a query is common enough to walk the list instead
/// ([`Strategy::FromList`]).
const COMMON_MATCHES: usize = 2_000;

/// Conversations a search that walks the list ([`Strategy::FromList`]) checks at most before it goes
/// on from the index: a query may be rare among the conversations a filter leaves (a label, one
/// agent's), or, on PostgreSQL, rare at all. Checking a conversation's messages costs about 1 µs a
/// message on SQLite and 15 µs on PostgreSQL (an index lookup each), hence the shorter walk there.
pub(crate) fn walk_length(dialect: Dialect) -> usize {
    if cfg!(test) {
        // Tests' few conversations take the walk and what follows it.
        return 2;
    }
    match dialect {
        Dialect::Sqlite => 1_000,
        Dialect::Postgres => 200,
    }
}

/// The strategy for `query` in `spelling`. On SQLite, its matches are counted up to
/// [`COMMON_MATCHES`], which costs at most that many index entries; the last word is counted as a
/// whole word first: FTS5 reads all of a prefix's matches before the first (unless its prefix index
/// covers that length), so a common last word is found common without that.
///
/// On PostgreSQL a count is not lazy (a GIN index answers all of a word's matches at once: 20 to 80 ms
/// for common words over a million messages), and the planner's estimate, tried instead, guessed an
/// unknown prefix at 5,000 matches. There a search always walks the list first, a short walk
/// ([`walk_length`]), and goes on from the index if the page is not full by then.
pub(crate) fn strategy(tx: &Tx<'_>, query: &SearchQuery, spelling: Spelling) -> Result<Strategy> {
    let common = |matches: i64| {
        if usize::try_from(matches).unwrap_or(usize::MAX) >= COMMON_MATCHES {
            Strategy::FromList
        } else {
            Strategy::FromMatches
        }
    };
    if tx.dialect() == Dialect::Postgres {
        return Ok(Strategy::FromList);
    }
    let matches = format!(
        "SELECT COUNT(*) FROM ({} LIMIT {COMMON_MATCHES}) AS m",
        matching_ids(tx.dialect(), Source::Messages, spelling, 1)
    );
    for last_as_prefix in [false, true] {
        let text = query_text(tx.dialect(), query, spelling, last_as_prefix);
        let count = tx.one(&matches, args![text], |r| r.get::<i64>(0))?;
        if common(count) == Strategy::FromList {
            return Ok(Strategy::FromList);
        }
    }
    Ok(Strategy::FromMatches)
}

/// The query's text bound for `strategy`: a [`match_text`], or on SQLite walking the list, the
/// terms `search_has` takes (one FTS5 query per row costs tens of microseconds to set up).
pub(crate) fn bound_text(
    dialect: Dialect,
    strategy: Strategy,
    query: &SearchQuery,
    spelling: Spelling,
) -> String {
    match (dialect, strategy) {
        (Dialect::Sqlite, Strategy::FromList) => query.terms(spelling == Spelling::Exact),
        _ => match_text(dialect, query, spelling),
    }
}

/// A condition on the conversation `c`: its participant name or any of its messages matches the
/// query at `?{param}` (a [`bound_text`]), checked for `c` alone ([`Strategy::FromList`]).
pub(crate) fn conversation_matches(dialect: Dialect, spelling: Spelling, param: usize) -> String {
    let column = spelling.column();
    match dialect {
        Dialect::Sqlite => {
            let exact = i32::from(spelling == Spelling::Exact);
            format!(
                "(search_has(c.participant_name, ?{param}, {exact})
                  OR EXISTS (SELECT 1 FROM messages m
                             WHERE m.conversation_id = c.id AND search_has(m.text, ?{param}, {exact})))"
            )
        }
        // Each EXISTS checks one conversation's rows by their keys: OFFSET 0 keeps the planner from
        // joining it with every match of the index, and `ts_match_vq` (what `@@` calls, but no
        // operator an index serves) from reading the GIN index once per conversation, which it chose
        // for a query it thought rare (5 ms a conversation, measured).
        Dialect::Postgres => format!(
            "(EXISTS (SELECT 1 FROM conversation_search n
                      WHERE n.id = c.id AND ts_match_vq(n.{column}, CAST(CAST(?{param} AS TEXT) AS tsquery)) OFFSET 0)
              OR EXISTS (SELECT 1 FROM messages m JOIN message_search s ON s.id = m.id
                         WHERE m.conversation_id = c.id
                           AND ts_match_vq(s.{column}, CAST(CAST(?{param} AS TEXT) AS tsquery))
                         OFFSET 0))"
        ),
    }
}

/// Runs `work` with PostgreSQL planning each statement for its values. Statements are prepared once
/// per connection and, after five runs, PostgreSQL keeps a generic plan, made without knowing the
/// query: for a `tsquery` it guesses, and a guess that chose to read every row cost 20 to 60 ms a
/// search over a million messages. A search's statements are few; planning them each time is cheap.
///
/// Parallel workers are turned off as well: a search reads a few thousand index entries at most, and
/// starting two workers for that cost 8 to 10 ms (measured), more than the search.
pub(crate) fn with_custom_plans<T>(tx: &Tx<'_>, work: impl FnOnce() -> Result<T>) -> Result<T> {
    if tx.dialect() != Dialect::Postgres {
        return work();
    }
    tx.one(
        "SELECT set_config('plan_cache_mode', 'force_custom_plan', false),
                set_config('max_parallel_workers_per_gather', '0', false)",
        args![],
        |_| Ok(()),
    )?;
    let answer = work();
    // Reset whatever `work` answered: the connection goes back to the pool.
    let reset = tx.rows(
        "SELECT set_config(name, reset_val, false) FROM pg_settings
         WHERE name IN ('plan_cache_mode', 'max_parallel_workers_per_gather')",
        args![],
        |_| Ok(()),
    );
    let answer = answer?;
    reset?;
    Ok(answer)
}

/// The condition that `column` (an id) is among the ids `subquery` answers. On PostgreSQL the ids
/// are read first, into an array: as `IN (…)` the planner, unable to guess how many rows a `tsquery`
/// matches, joined the subquery with every conversation read in full (50 ms for one match).
pub(crate) fn id_among(dialect: Dialect, column: &str, subquery: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("{column} IN ({subquery})"),
        Dialect::Postgres => format!("{column} = ANY(ARRAY({subquery}))"),
    }
}

/// Adds rows to the index (rows not indexed before: new ones). Empty documents are left out.
///
/// On PostgreSQL the rows go in one statement per chunk ([`MultiRow`]), as the rows they index do:
/// one statement a row was a fifth of a batch's statements in the writer's backend. SQLite's FTS5
/// tables take no `ON CONFLICT` for the repeated rows a chunk is padded with, and a statement there
/// costs no round trip, so it keeps one a row.
pub(crate) fn index(tx: &Tx<'_>, source: Source, documents: &[(i64, Document)]) -> Result<()> {
    let documents = documents.iter().filter(|(_, d)| !d.is_empty());
    match tx.dialect() {
        Dialect::Sqlite => {
            let sql = format!(
                "INSERT INTO {} (rowid, exact, folded) VALUES (?1, ?2, ?3)",
                source.table()
            );
            for (id, document) in documents {
                tx.execute_pipelined(&sql, args![id, document.exact, document.folded])?;
            }
            Ok(())
        }
        Dialect::Postgres => {
            let rows = rows_of(documents, |(id, document)| {
                [id as &dyn ToValue, &document.exact, &document.folded]
            });
            if rows.is_empty() {
                return Ok(());
            }
            source.insert().execute_pipelined(tx, &[], &rows)
        }
    }
}

/// Replaces rows' documents (a name given again, maybe changed); an empty document removes the row
/// from the index. On PostgreSQL a document that did not change writes nothing: a new row version and
/// its index entries for each name a batch repeats would be most of what the index is written.
pub(crate) fn reindex(tx: &Tx<'_>, source: Source, documents: &[(i64, Document)]) -> Result<()> {
    let table = source.table();
    match tx.dialect() {
        Dialect::Sqlite => {
            let forget = format!("DELETE FROM {table} WHERE rowid = ?1");
            for (id, _) in documents {
                tx.execute_pipelined(&forget, args![id])?;
            }
            index(tx, source, documents)
        }
        Dialect::Postgres => {
            let forget = format!("DELETE FROM {table} WHERE id = ?1");
            let upsert = format!(
                "INSERT INTO {table} (id, exact, folded)
                 VALUES (?1, array_to_tsvector(string_to_array(?2, ' ')), array_to_tsvector(string_to_array(?3, ' ')))
                 ON CONFLICT (id) DO UPDATE SET exact = EXCLUDED.exact, folded = EXCLUDED.folded
                 WHERE {table}.exact <> EXCLUDED.exact OR {table}.folded <> EXCLUDED.folded"
            );
            for (id, document) in documents {
                if document.is_empty() {
                    tx.execute_pipelined(&forget, args![id])?;
                } else {
                    tx.execute_pipelined(&upsert, args![id, document.exact, document.folded])?;
                }
            }
            Ok(())
        }
    }
}

/// Rows indexed per transaction while catching up.
const BACKLOG_CHUNK: i64 = 5_000;

/// Indexes one chunk of the backlog, newest first; answers whether any is left.
fn index_backlog_chunk(tx: &Tx<'_>) -> Result<bool> {
    for source in Source::ALL {
        let Some(below) = tx.optional(
            "SELECT below FROM search_backlog WHERE source = ?1",
            args![source.source_table()],
            |r| r.get::<i64>(0),
        )?
        else {
            continue;
        };
        let from = below.saturating_sub(BACKLOG_CHUNK).max(0);
        let rows = match source.fields() {
            Some(fields) => tx.rows(
                &format!(
                    "SELECT id, {fields} FROM {} WHERE id >= ?1 AND id < ?2",
                    source.source_table()
                ),
                args![from, below],
                |r| {
                    let id = r.get::<i64>(0)?;
                    let fields = (1..=fields.split(',').count())
                        .map(|i| r.get::<Option<String>>(i).map(Option::unwrap_or_default))
                        .collect::<Result<Vec<String>>>()?;
                    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                    Ok((id, Document::of(&fields)))
                },
            )?,
            None => tx
                .rows(
                    "SELECT id FROM customers WHERE id >= ?1 AND id < ?2",
                    args![from, below],
                    |r| r.get::<i64>(0),
                )?
                .into_iter()
                .map(|id| {
                    Ok((
                        id,
                        crate::customers::document(&crate::customers::customer(tx, id)?),
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        };
        // Rows of the backlog may have been indexed since (a copy indexes nothing, an edit reindexes).
        reindex(tx, source, &rows)?;
        if from <= 1 {
            tx.execute(
                "DELETE FROM search_backlog WHERE source = ?1",
                args![source.source_table()],
            )?;
        } else {
            tx.execute(
                "UPDATE search_backlog SET below = ?2 WHERE source = ?1",
                args![source.source_table(), from],
            )?;
        }
        return Ok(true);
    }
    Ok(false)
}

/// Lists every row stored so far as not indexed (after a copy, whose target then indexes them when
/// it next opens).
pub(crate) fn index_everything_later(tx: &Tx<'_>) -> Result<()> {
    for source in Source::ALL {
        tx.execute(
            "DELETE FROM search_backlog WHERE source = ?1",
            args![source.source_table()],
        )?;
        tx.execute(
            &format!(
                "INSERT INTO search_backlog (source, below)
                 SELECT ?1, MAX(id) + 1 FROM {} HAVING MAX(id) IS NOT NULL",
                source.source_table()
            ),
            args![source.source_table()],
        )?;
    }
    Ok(())
}

impl Store {
    /// Indexes what was stored before the index existed, a chunk per transaction; answers how many
    /// chunks it took (0 when nothing was left). Nodes starting together share the work: each chunk
    /// is one write, and a row indexed twice is indexed once.
    pub async fn catch_up_search_index(&self) -> Result<usize> {
        let mut chunks = 0;
        while self.write(index_backlog_chunk).await? {
            chunks += 1;
        }
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_quoted_words_on_both_engines() {
        let query = SearchQuery::parse("Đức \"* OR ab").expect("words");
        assert_eq!(
            match_text(Dialect::Sqlite, &query, Spelling::Folded),
            r#""duc" "or" "ab"*"#
        );
        assert_eq!(
            match_text(Dialect::Postgres, &query, Spelling::Exact),
            "'đức' & 'or' & 'ab':*"
        );
    }
}
