//! Group commit, the same for every engine: the writer of a node takes whatever units of write work
//! are queued, runs them in one transaction with a savepoint each (a unit that fails is rolled back
//! alone), commits once, and only then answers each caller. One commit (one fsync) serves many
//! callers, and no caller hears of a write that was not committed.

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

/// A unit of write work queued for a writer, type-erased so different results share a queue.
pub(crate) trait WriteJob: Send {
    /// Runs the work inside the open transaction.
    fn run(&mut self, tx: &Tx<'_>) -> UnitOutcome;
    /// Makes a unit that ran fail after all, with an error heard after it returned (a statement it
    /// did not wait for).
    fn fail(&mut self, error: StorageError) -> UnitOutcome;
    /// Answers the caller, given how the transaction ended.
    fn finish(self: Box<Self>, group: &GroupEnd);
}

pub(crate) struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

impl<T, F> TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
{
    /// The job, and where its answer arrives once its group has ended.
    pub(crate) fn queued(
        work: F,
    ) -> (Box<dyn WriteJob>, tokio::sync::oneshot::Receiver<Result<T>>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Self {
            work: Some(work),
            result: None,
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
            None => (UnitOutcome::Failed, error),
            Some(reason) => (
                UnitOutcome::Unavailable(reason.clone()),
                StorageError::Unavailable(reason),
            ),
        };
        self.result = Some(Err(error));
        outcome
    }

    fn finish(self: Box<Self>, group: &GroupEnd) {
        let answer = match (self.result, group) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(value)), GroupEnd::Committed) => Ok(value),
            (_, GroupEnd::NotCommitted(reason)) => Err(StorageError::Unavailable(format!(
                "the transaction was not committed: {reason}"
            ))),
            (None, GroupEnd::Committed) => {
                Err(StorageError::Task("the write was never run".into()))
            }
        };
        // The caller may have gone away (request cancelled); the data is committed either way.
        let _ = self.reply.send(answer);
    }
}

/// How a group's transaction ended, as every unit in it is answered.
pub(crate) enum GroupEnd {
    Committed,
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
    /// Opens the group's transaction.
    fn begin(&mut self) -> Result<()>;
    /// Marks where a unit starts, to go back to if it fails.
    fn savepoint(&mut self) -> Result<()>;
    /// Keeps what the unit did.
    fn release(&mut self) -> Result<()>;
    /// Undoes what the failed unit did; what it sent and was not heard yet is its own, and dropped.
    fn roll_back_unit(&mut self) -> Result<()>;
    /// Commits the group, and waits until it is durable.
    fn commit(&mut self) -> Result<()>;
    /// Undoes the whole group.
    fn roll_back(&mut self);
    /// Waits for the answers of the unit's statements not read yet, if it sent any (a PostgreSQL
    /// writer sends some without waiting).
    fn settle_statements(&mut self) -> Result<()> {
        Ok(())
    }
    /// Runs one unit of work on the open transaction.
    fn run(&mut self, job: &mut dyn WriteJob) -> UnitOutcome;
}

/// Commits a group: all the units that did not fail, or nothing.
pub(crate) fn run_group<S: WriteSession>(
    session: &mut S,
    group: &mut [Box<dyn WriteJob>],
) -> std::result::Result<(), NotCommitted> {
    let started = std::time::Instant::now();
    crate::events::set_appended(0);
    let result = match session.begin() {
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
    let metrics = switchboard_metrics::metrics();
    metrics.write_group(group.len(), started.elapsed(), result.is_ok());
    if result.is_ok() {
        metrics.events_appended.inc_by(crate::events::appended());
    }
    result
}

fn run_units<S: WriteSession>(
    session: &mut S,
    group: &mut [Box<dyn WriteJob>],
) -> std::result::Result<(), NotCommitted> {
    for job in group.iter_mut() {
        session.savepoint()?;
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
            UnitOutcome::Done => session.release()?,
            UnitOutcome::Failed => {
                session.roll_back_unit()?;
                crate::events::set_appended(appended_before);
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
    Ok(session.commit()?)
}

/// Why writes fail right now, shared by a writer and the health checks: the first failure of a run
/// is logged clearly, then the recovery, not every failed write.
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    failure: std::sync::Mutex<Option<String>>,
    /// How many times a connection found the database gone: the node's other connections, idle
    /// meanwhile, may be just as dead without knowing it, so each checks itself once before its next
    /// use (see `postgres::conn::PgConn::is_stale`) instead of failing one request.
    losses: std::sync::atomic::AtomicU64,
}

impl WriteHealth {
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
