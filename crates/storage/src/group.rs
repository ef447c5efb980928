//! Group commit, the same for every engine: the writer of a node takes whatever units of write work
//! are queued, runs them in one transaction with a savepoint each (a unit that fails is rolled back
//! alone; a group of one unit needs none, and is rolled back whole), commits once, and only then
//! answers each caller. One commit (one fsync) serves many callers, and no caller hears of a write
//! that was not committed.

use crate::sql::Tx;
use crate::{Result, StorageError};

/// Most units of work committed in one transaction.
pub(crate) const MAX_GROUP: usize = 64;

/// How a unit of write work ended inside the group's transaction.
pub(crate) enum UnitOutcome {
    Done,
    /// The unit failed on its own (bad input, a conflict): it is rolled back, the group goes on.
    Failed,
    /// The database cannot take writes (disk full, I/O error, connection lost): the caller gets a 503.
    Unavailable(String),
}

/// How a unit's group takes turns with the other writers (every node's, and on PostgreSQL the
/// node's own: it runs [`WRITERS`](crate::postgres) of them). SQLite has one writer, which takes
/// turns with nothing. A group takes the strictest of its units' turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Turns {
    /// Every check is made by the row locks of the unit's own statements (see
    /// [`crate::Store::write_beside`]): it runs beside any other write.
    Beside,
    /// Writes rows that only its own key's units write at once (a batch of one account's messages,
    /// its conversations, their events), and checks nothing that another unit decides: it runs beside
    /// other such groups, never beside an [`Turns::Alone`] one, which thus sees it whole or not at all
    /// (see [`crate::Store::write_keyed`]).
    Shared,
    /// Reads, decides, then writes what it read (first answer wins, the last admin stays, commands
    /// numbered in the order they are given): one group at a time across all writers.
    Alone,
}

/// A unit of write work queued for a writer, type-erased so different results share a queue.
pub(crate) trait WriteJob: Send {
    /// Runs the work inside the open transaction.
    fn run(&mut self, tx: &Tx<'_>) -> UnitOutcome;
    /// Makes a unit that ran fail after all, with an error heard after it returned (a statement it
    /// did not wait for).
    fn fail(&mut self, error: StorageError) -> UnitOutcome;
    /// How the unit's group takes turns with the other writers.
    fn turns(&self) -> Turns;
    /// Which of a node's writers runs the unit: units with the same key run on the same one, in
    /// the order they were queued.
    fn key(&self) -> u64;
    /// Notes which of the group's events (by position) the unit appended, once it ran well.
    fn appended(&mut self, positions: std::ops::Range<usize>);
    /// Answers the caller, given how the transaction ended.
    fn finish(self: Box<Self>, group: &GroupEnd);
}

/// The ids of the events a unit of write work appended, in the order it appended them: known only
/// once its group has committed (PostgreSQL numbers a group's events as it commits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Announced(Vec<i64>);

impl Announced {
    /// The id of the unit's last event, `None` when it appended none.
    pub(crate) fn last(&self) -> Option<i64> {
        self.0.last().copied()
    }

    /// The id of the unit's first event, for a unit that appends at least one.
    pub(crate) fn first_given(&self) -> Result<i64> {
        self.0
            .first()
            .copied()
            .ok_or_else(|| StorageError::Task("a write that announces appended no event".into()))
    }

    /// The id of the unit's last event, for a unit that always appends one.
    pub(crate) fn last_given(&self) -> Result<i64> {
        self.last()
            .ok_or_else(|| StorageError::Task("a write that announces appended no event".into()))
    }

    /// The ids, in the order the events were appended.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> &[i64] {
        &self.0
    }
}

pub(crate) struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    /// Positions of the unit's events among the group's.
    events: std::ops::Range<usize>,
    turns: Turns,
    key: u64,
    reply: tokio::sync::oneshot::Sender<Result<(T, Announced)>>,
}

/// Where the answer of a queued unit arrives, once its group has ended.
pub(crate) type Answer<T> = tokio::sync::oneshot::Receiver<Result<(T, Announced)>>;

impl<T, F> TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
{
    /// The job, and where its answer arrives once its group has ended.
    pub(crate) fn queued(work: F, turns: Turns, key: u64) -> (Box<dyn WriteJob>, Answer<T>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Self {
            work: Some(work),
            result: None,
            events: 0..0,
            turns,
            key,
            reply,
        };
        (Box::new(job), answer)
    }
}

/// Waits for the answer of a job sent to a writer.
pub(crate) async fn answer<T>(answer: tokio::sync::oneshot::Receiver<Result<T>>) -> Result<T> {
    answer
        .await
        .map_err(|_| StorageError::Task("the database writer dropped a request".into()))?
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
{
    fn run(&mut self, tx: &Tx<'_>) -> UnitOutcome {
        let Some(work) = self.work.take() else {
            return UnitOutcome::Failed;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(tx)))
            .unwrap_or_else(|_| Err(StorageError::Task("a database write panicked".into())));
        match result {
            Ok(value) => {
                self.result = Some(Ok(value));
                UnitOutcome::Done
            }
            Err(error) => self.fail(error),
        }
    }

    fn fail(&mut self, error: StorageError) -> UnitOutcome {
        let (outcome, error) = match error.unavailable_reason() {
            // Only this unit met another node's write (PostgreSQL chose it to break a deadlock, say):
            // it is rolled back alone, and its caller may simply try again.
            None if error.is_contention() => (
                UnitOutcome::Failed,
                StorageError::Contended(error.to_string()),
            ),
            None => (UnitOutcome::Failed, error),
            Some(reason) => (
                UnitOutcome::Unavailable(reason.clone()),
                StorageError::Unavailable(reason),
            ),
        };
        self.result = Some(Err(error));
        outcome
    }

    fn turns(&self) -> Turns {
        self.turns
    }

    fn key(&self) -> u64 {
        self.key
    }

    fn appended(&mut self, positions: std::ops::Range<usize>) {
        self.events = positions;
    }

    fn finish(self: Box<Self>, group: &GroupEnd) {
        let answer = match (self.result, group) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(value)), GroupEnd::Committed(ids)) => match ids.get(self.events.clone()) {
                Some(own) => Ok((value, Announced(own.to_vec()))),
                None => Err(StorageError::Task(
                    "a write's events were not among its group's".into(),
                )),
            },
            (_, GroupEnd::NotCommitted(reason)) => Err(StorageError::Unavailable(format!(
                "the transaction was not committed: {reason}"
            ))),
            (None, GroupEnd::Committed(_)) => {
                Err(StorageError::Task("the write was never run".into()))
            }
        };
        // The caller may have gone away (request cancelled); the data is committed either way.
        let _ = self.reply.send(answer);
    }
}

/// How a group's transaction ended, as every unit in it is answered.
pub(crate) enum GroupEnd {
    /// With the ids of the group's events, in the order they were appended.
    Committed(Vec<i64>),
    /// Nothing of the group was written, for this reason.
    NotCommitted(String),
}

/// Why a group was not committed (then nothing of it was written).
pub(crate) struct NotCommitted {
    pub(crate) reason: String,
    /// The database itself cannot write (disk full, I/O, connection lost), as opposed to a wait or a
    /// lock.
    pub(crate) database_down: bool,
}

impl From<StorageError> for NotCommitted {
    fn from(error: StorageError) -> Self {
        match error.unavailable_reason() {
            Some(reason) => Self {
                reason,
                database_down: true,
            },
            None => Self {
                reason: error.to_string(),
                database_down: false,
            },
        }
    }
}

/// A write connection as the group commit drives it.
pub(crate) trait WriteSession {
    /// Opens the group's transaction, taking turns with the other writers as `turns` says.
    fn begin(&mut self, turns: Turns) -> Result<()>;
    /// Marks where a unit starts, to go back to if it fails.
    fn savepoint(&mut self) -> Result<()>;
    /// Keeps what the unit did.
    fn release(&mut self) -> Result<()>;
    /// Undoes what the failed unit did; what it sent and was not heard yet is its own, and dropped.
    fn roll_back_unit(&mut self) -> Result<()>;
    /// Commits the group, and waits until it is durable. Answers the id of the group's first
    /// event when the engine numbers the events only now (PostgreSQL), `None` when it gave them
    /// as they were written (SQLite) or there were none.
    fn commit(&mut self) -> Result<Option<i64>>;
    /// Undoes the whole group.
    fn roll_back(&mut self);
    /// Undoes the whole group when its only unit failed (it marked no savepoint): unlike
    /// [`WriteSession::roll_back`], a failure here (the connection lost) is heard, as the
    /// database's.
    fn roll_back_group(&mut self) -> Result<()>;
    /// Waits for the answers of the unit's statements not read yet, if it sent any (a PostgreSQL
    /// writer sends some without waiting).
    fn settle_statements(&mut self) -> Result<()> {
        Ok(())
    }
    /// Runs one unit of work on the open transaction.
    fn run(&mut self, job: &mut dyn WriteJob) -> UnitOutcome;
}

/// Commits a group: all the units that did not fail, or nothing. Answers the ids of the group's
/// events, in the order they were appended.
pub(crate) fn run_group<S: WriteSession>(
    session: &mut S,
    group: &mut [Box<dyn WriteJob>],
) -> std::result::Result<Vec<i64>, NotCommitted> {
    let started = std::time::Instant::now();
    crate::events::group_began();
    let turns = group
        .iter()
        .map(|job| job.turns())
        .max()
        .unwrap_or(Turns::Beside);
    let result = match session.begin(turns) {
        Err(error) => Err(NotCommitted::from(error)),
        Ok(()) => {
            let result = run_units(session, group);
            if result.is_err() {
                // Nothing of the group may be left half-done for the next one; a connection that
                // is gone has rolled back on its own.
                session.roll_back();
            }
            result
        }
    };
    let events = crate::events::group_ended();
    let metrics = switchboard_metrics::metrics();
    metrics.write_group(group.len(), started.elapsed(), result.is_ok());
    if result.is_ok() {
        metrics
            .events_appended
            .inc_by(u64::try_from(events.len()).unwrap_or(u64::MAX));
    }
    result.map(|()| events)
}

fn run_units<S: WriteSession>(
    session: &mut S,
    group: &mut [Box<dyn WriteJob>],
) -> std::result::Result<(), NotCommitted> {
    // A group of one unit marks no savepoint: the whole transaction is that unit's to roll back.
    // (Two statements fewer for each such group, which are most groups below saturation.)
    let one_unit = group.len() == 1;
    for job in group.iter_mut() {
        if !one_unit {
            session.savepoint()?;
        }
        let appended_before = crate::events::appended();
        let outcome = match session.run(job.as_mut()) {
            // What the unit sent without waiting is its own: an error there fails it, not the next.
            UnitOutcome::Done => match session.settle_statements() {
                Ok(()) => UnitOutcome::Done,
                Err(error) => job.fail(error),
            },
            other => other,
        };
        match outcome {
            UnitOutcome::Done => {
                if !one_unit {
                    session.release()?;
                }
                job.appended(appended_before..crate::events::appended());
            }
            UnitOutcome::Failed if one_unit => {
                // Nothing is left to commit: the unit is answered its own error.
                crate::events::roll_back_to(appended_before);
                session.roll_back_group()?;
                return Ok(());
            }
            UnitOutcome::Failed => {
                session.roll_back_unit()?;
                crate::events::roll_back_to(appended_before);
            }
            // The engine may have rolled back the whole transaction (SQLite does on a full disk, a
            // lost connection does): nothing of this group can commit, and the other units are
            // answered that the database is unavailable.
            UnitOutcome::Unavailable(reason) => {
                return Err(NotCommitted {
                    reason,
                    database_down: true,
                });
            }
        }
    }
    if let Some(first) = session.commit()? {
        crate::events::numbered_from(first);
    }
    Ok(())
}

/// Why writes fail right now, shared by a writer and the health checks: the first failure of a run
/// is logged clearly, then the recovery, not every failed write.
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    failure: std::sync::Mutex<Option<String>>,
    /// How many times a connection found the database gone: the node's other connections, idle
    /// meanwhile, may be just as dead without knowing it, so each checks itself once before its next
    /// use (see `postgres::conn::PgConn::is_stale`) instead of failing one request. Shared by a
    /// node's writers ([`WriteHealth::sibling`]).
    losses: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl WriteHealth {
    /// The health of another writer of the same node: a failure of its own (a writer that cannot
    /// reconnect stays failing, and retrying, while another works), the same count of losses.
    pub(crate) fn sibling(&self) -> Self {
        Self {
            failure: std::sync::Mutex::new(None),
            losses: std::sync::Arc::clone(&self.losses),
        }
    }

    /// Counts a connection that found the database gone.
    pub(crate) fn note_loss(&self) {
        self.losses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many losses have been noted (see `note_loss`).
    pub(crate) fn losses(&self) -> u64 {
        self.losses.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn record(&self, database: &str, failure: Option<String>) {
        if failure.is_some() {
            self.note_loss();
        }
        let mut current = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&*current, failure) {
            (None, Some(reason)) => {
                tracing::error!(%database, %reason, "database writes are failing; answering 503 until they work again");
                *current = Some(reason);
            }
            (Some(_), None) => {
                tracing::warn!(%database, "database writes work again");
                *current = None;
            }
            (Some(_), Some(reason)) => *current = Some(reason),
            (None, None) => {}
        }
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
