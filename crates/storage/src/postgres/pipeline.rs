//! The writer's connection, pipelined: a statement whose answer nobody reads (an update whose count
//! does not matter, `SAVEPOINT`, `NOTIFY`) is sent at once and its answer read later, so a group
//! costs one round trip for each answer it needs rather than one for each statement. The writer
//! waits on the database for most of its time (see `docs/benchmarks.md`), so round trips are what a
//! write costs.
//!
//! tokio-postgres writes a request to the connection's queue when its future is first polled and
//! hands answers back in the order the requests were sent; this connection polls each request once
//! as it is made and keeps the unread answers, oldest first, until something waits.

use super::conn::{IDLE_CHECK, IDLE_CHECK_TIMEOUT, PgArg, PgStatements, StatementCache};
use crate::events::NewEvent;
use crate::sql::{OwnedValue, Value};
use crate::{Result, StorageError};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The answer of a statement sent and not yet read.
type Unread = Pin<Box<dyn Future<Output = std::result::Result<(), postgres::Error>> + Send>>;

pub(crate) struct PipelinedConn {
    /// Runs the connection's I/O, only while this connection waits for an answer. `None` while
    /// dropping (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    client: Arc<tokio_postgres::Client>,
    statements: StatementCache,
    /// Answers of the statements sent without waiting, oldest first.
    unread: VecDeque<Unread>,
    /// How many of `unread` are the operations' statements rather than transaction control.
    unread_statements: usize,
    last_used: Instant,
    /// See `PgConn::losses_seen`.
    pub(crate) losses_seen: u64,
    /// The open transaction's events, numbered and written as it commits (see `commit_numbering`).
    pending_events: Vec<NewEvent>,
    /// How many of `pending_events` were kept when the running unit's savepoint was set.
    pending_at_savepoint: usize,
}

/// Numbers a transaction's events and writes them, in one statement: the counter's row is locked
/// from here to the end of the `COMMIT` sent right behind it, so ids become visible in the order
/// they are given, with no gap, whichever node commits first; the rest of the transaction runs
/// beside other nodes' transactions. Answers the first id given. An event of an account that
/// another node deleted since the event was made is left out, as the deletion removed the
/// account's other events (its id stays given: a gap a cursor passes over), rather than fail the
/// whole group on the foreign key.
const NUMBER_EVENTS: &str = "WITH counter AS (
         UPDATE event_counter SET last_id = last_id + ?1 RETURNING last_id - ?1 AS before
     ), written AS (
         INSERT INTO events (id, kind, account_id, account, payload, created_at)
         SELECT counter.before + e.n, e.kind, e.account_id, e.account, e.payload, e.created_at
         FROM counter, unnest(CAST(?2 AS TEXT[]), CAST(?3 AS BIGINT[]), CAST(?4 AS TEXT[]),
                              CAST(?5 AS TEXT[]), CAST(?6 AS BIGINT[]))
              WITH ORDINALITY AS e (kind, account_id, account, payload, created_at, n)
         WHERE e.account_id IS NULL
            OR EXISTS (SELECT 1 FROM facebook_accounts a WHERE a.id = e.account_id)
     )
     SELECT before + 1 FROM counter";

impl Drop for PipelinedConn {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            super::drop_off_runtime(runtime);
        }
    }
}

/// Sends the request `future` stands for (its first poll writes it to the connection's queue) and
/// gives back what it will answer. A request that needs no answer from the server is ready at once.
fn send<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

impl PipelinedConn {
    /// Connects and applies `settings` (a batch of `SET`s) before any other use.
    pub(super) fn connect(
        config: &tokio_postgres::Config,
        target: &str,
        settings: &str,
    ) -> Result<Self> {
        let connect_error =
            |source: Box<dyn std::error::Error + Send + Sync>| StorageError::Connect {
                target: target.to_owned(),
                source,
            };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| connect_error(Box::new(e)))?;
        let (client, connection) = runtime
            .block_on(config.connect(tokio_postgres::NoTls))
            .map_err(|e| connect_error(Box::new(e)))?;
        runtime.spawn(async move {
            // The client learns of the loss on its next request (`is_closed`, an error).
            if let Err(error) = connection.await {
                tracing::debug!(%error, "the PostgreSQL write connection ended");
            }
        });
        let mut conn = Self {
            runtime: Some(runtime),
            client: Arc::new(client),
            statements: StatementCache::default(),
            unread: VecDeque::new(),
            unread_statements: 0,
            last_used: Instant::now(),
            losses_seen: 0,
            pending_events: Vec::new(),
            pending_at_savepoint: 0,
        };
        conn.control(settings)?;
        Ok(conn)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .unwrap_or_else(|| unreachable!("a PostgreSQL connection is used after its drop"))
    }

    /// Whether the connection must be made again before use (see `PgConn::is_stale`).
    pub(crate) fn is_stale(&mut self, losses: u64) -> bool {
        if self.client.is_closed() {
            return true;
        }
        let suspect = self.losses_seen != losses;
        self.losses_seen = losses;
        if !suspect && self.last_used.elapsed() < IDLE_CHECK {
            return false;
        }
        let client = Arc::clone(&self.client);
        let alive = self.runtime().block_on(async move {
            matches!(
                tokio::time::timeout(IDLE_CHECK_TIMEOUT, client.check_connection()).await,
                Ok(Ok(()))
            )
        });
        self.last_used = Instant::now();
        !alive
    }

    /// Notes how many events were kept when the running unit's savepoint was set.
    pub(super) fn mark_savepoint(&mut self) {
        self.pending_at_savepoint = self.pending_events.len();
    }

    /// Forgets the events kept since the running unit's savepoint was set, or all of them.
    pub(super) fn roll_back_events(&mut self, to_savepoint: bool) {
        let keep = if to_savepoint {
            self.pending_at_savepoint
        } else {
            0
        };
        self.pending_events.truncate(keep);
    }

    /// Writes the transaction's events under the ids of the counter (`NUMBER_EVENTS`), then runs
    /// `finish` (`NOTIFY …; COMMIT`) and waits: one round trip, so that the counter's row is held
    /// for as short a time as the statements take. Answers the first id given, `None` without
    /// events. An error anywhere means nothing was committed (a `COMMIT` behind a failed statement
    /// is skipped, and the caller rolls back).
    pub(super) fn commit_numbering(&mut self, finish: &'static str) -> Result<Option<i64>> {
        let events = std::mem::take(&mut self.pending_events);
        self.pending_at_savepoint = 0;
        if events.is_empty() {
            // Nothing for the other nodes' feeds to read (they follow the log alone): no wake-up.
            self.control("COMMIT")?;
            return Ok(None);
        }
        let statement = self.statement(NUMBER_EVENTS)?;
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let mut kinds = Vec::with_capacity(events.len());
        let mut account_ids = Vec::with_capacity(events.len());
        let mut accounts = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut created = Vec::with_capacity(events.len());
        for event in events {
            kinds.push(event.kind.as_str());
            account_ids.push(event.account_id);
            accounts.push(event.account);
            payloads.push(event.payload);
            created.push(event.created_at.0);
        }
        let client = Arc::clone(&self.client);
        let mut numbering = Box::pin(async move {
            let row = client
                .query_one(
                    &statement,
                    &[&count, &kinds, &account_ids, &accounts, &payloads, &created],
                )
                .await?;
            row.try_get::<_, i64>(0)
        });
        let numbered = send(&mut numbering);
        let client = Arc::clone(&self.client);
        let mut committing = Box::pin(async move { client.batch_execute(finish).await });
        let committed = send(&mut committing);
        let unread = std::mem::take(&mut self.unread);
        self.unread_statements = 0;
        let (earlier, numbered, committed) = self.runtime().block_on(async move {
            let earlier = first_error(unread).await;
            let numbered = match numbered {
                Poll::Ready(numbered) => numbered,
                Poll::Pending => numbering.await,
            };
            let committed = match committed {
                Poll::Ready(committed) => committed,
                Poll::Pending => committing.await,
            };
            (earlier, numbered, committed)
        });
        self.last_used = Instant::now();
        if let Some(error) = earlier {
            return Err(error.into());
        }
        let first = numbered?;
        committed?;
        Ok(Some(first))
    }

    /// Runs a transaction-control statement and waits for it (and for everything sent before it).
    pub(crate) fn control(&mut self, sql: &str) -> Result<()> {
        let client = Arc::clone(&self.client);
        self.answer(async move { client.batch_execute(sql).await })
    }

    /// Sends a transaction-control statement without waiting for it.
    pub(crate) fn control_pipelined(&mut self, sql: &'static str) {
        let client = Arc::clone(&self.client);
        self.send_unread(Box::pin(async move { client.batch_execute(sql).await }));
    }

    /// Waits for every answer not read yet; the first error among them, if any.
    pub(crate) fn settle(&mut self) -> Result<()> {
        let unread = std::mem::take(&mut self.unread);
        self.unread_statements = 0;
        let first_error = self.runtime().block_on(first_error(unread));
        self.last_used = Instant::now();
        first_error.map_or(Ok(()), |error| Err(error.into()))
    }

    /// Waits for the answers of the operations' statements sent without waiting, if there are any:
    /// their errors are the operation's, to be heard before the next operation runs.
    pub(crate) fn settle_statements(&mut self) -> Result<()> {
        if self.unread_statements == 0 {
            return Ok(());
        }
        self.settle()
    }

    fn send_unread(&mut self, mut answer: Unread) {
        match send(&mut answer) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(error)) => self
                .unread
                .push_back(Box::pin(std::future::ready(Err(error)))),
            Poll::Pending => self.unread.push_back(answer),
        }
    }

    /// Sends `request`, then reads the answers sent before it and its own. An earlier statement's
    /// error comes first: a later one only says that the transaction was aborted.
    fn answer<T>(
        &mut self,
        request: impl Future<Output = std::result::Result<T, postgres::Error>>,
    ) -> Result<T> {
        let mut request = pin!(request);
        let sent = send(&mut request);
        let unread = std::mem::take(&mut self.unread);
        self.unread_statements = 0;
        let (earlier, own) = self.runtime().block_on(async move {
            let earlier = first_error(unread).await;
            let own = match sent {
                Poll::Ready(own) => own,
                Poll::Pending => request.await,
            };
            (earlier, own)
        });
        self.last_used = Instant::now();
        match earlier {
            Some(error) => Err(error.into()),
            None => Ok(own?),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        let Self {
            statements,
            client,
            runtime,
            unread,
            unread_statements,
            ..
        } = self;
        let runtime = runtime
            .as_ref()
            .unwrap_or_else(|| unreachable!("a PostgreSQL connection is used after its drop"));
        statements.get(sql, |numbered| {
            // Rare (once per statement and connection): what was sent before is read first, so
            // that its error, not this one's "transaction aborted", is the one reported.
            let earlier = runtime.block_on(first_error(std::mem::take(unread)));
            *unread_statements = 0;
            if let Some(error) = earlier {
                return Err(error.into());
            }
            Ok(runtime.block_on(client.prepare(numbered))?)
        })
    }
}

/// Reads every answer, in order; the first error among them.
async fn first_error(unread: VecDeque<Unread>) -> Option<postgres::Error> {
    let mut first = None;
    for answer in unread {
        if let Err(error) = answer.await {
            first.get_or_insert(error);
        }
    }
    first
}

impl PgStatements for PipelinedConn {
    fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64> {
        let statement = self.statement(sql)?;
        let args = PgArg::all(args);
        let client = Arc::clone(&self.client);
        self.answer(async move { client.execute(&statement, &PgArg::refs(&args)).await })
    }

    fn query(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<postgres::Row>> {
        let statement = self.statement(sql)?;
        let args = PgArg::all(args);
        let client = Arc::clone(&self.client);
        self.answer(async move { client.query(&statement, &PgArg::refs(&args)).await })
    }

    fn query_pair(
        &mut self,
        first: (&str, &[Value<'_>]),
        second: (&str, &[Value<'_>]),
    ) -> Result<(Vec<postgres::Row>, Vec<postgres::Row>)> {
        let statements = (self.statement(first.0)?, self.statement(second.0)?);
        let args = (PgArg::all(first.1), PgArg::all(second.1));
        let client = Arc::clone(&self.client);
        self.answer(async move {
            let (first_statement, second_statement) = statements;
            let (first_args, second_args) = args;
            // Both requests are queued before either answer is awaited: one round trip.
            let (first_refs, second_refs) = (PgArg::refs(&first_args), PgArg::refs(&second_args));
            let first = client.query(&first_statement, &first_refs);
            let second = client.query(&second_statement, &second_refs);
            let (first, second) = tokio::join!(first, second);
            // The first's error explains the second's (a transaction aborted by it).
            Ok((first?, second?))
        })
    }

    fn execute_pipelined(&mut self, sql: &str, args: &[Value<'_>]) -> Result<()> {
        let statement = self.statement(sql)?;
        let args: Vec<OwnedValue> = args.iter().map(|&value| value.into()).collect();
        let client = Arc::clone(&self.client);
        self.send_unread(Box::pin(async move {
            let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                .iter()
                .map(|arg| arg as &(dyn postgres::types::ToSql + Sync))
                .collect();
            client.execute(&statement, &refs).await.map(drop)
        }));
        self.unread_statements += 1;
        Ok(())
    }

    fn append_event(&mut self, event: NewEvent) -> Result<()> {
        self.pending_events.push(event);
        Ok(())
    }
}
