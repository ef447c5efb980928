//! A writer of the node: a connection of its own committing queued operations in groups.

use super::pipeline::PipelinedConn;
use crate::Result;
use crate::group::{
    GroupEnd, MAX_GROUP, Turns, UnitOutcome, WriteHealth, WriteJob, WriteSession, run_group,
};
use crate::sql::Tx;
use std::sync::Arc;

/// How often a failing database is tried again while no write waits.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) struct Writer {
    /// `None` once the connection is lost; made again for the next group.
    pub(super) conn: Option<PipelinedConn>,
    pub(super) config: tokio_postgres::Config,
    pub(super) target: String,
    pub(super) health: Arc<WriteHealth>,
}

/// Makes the writer's connection.
pub(super) fn connect(config: &tokio_postgres::Config, target: &str) -> Result<PipelinedConn> {
    PipelinedConn::connect(config, target, &super::session_settings())
}

struct PgSession<'c>(&'c mut PipelinedConn);

// The transaction's control statements are sent without waiting (see `pipeline`): the answers
// arrive with those of the next statement an operation waits for.
impl WriteSession for PgSession<'_> {
    fn begin(&mut self, turns: Turns) -> Result<()> {
        // A group with a unit that checks and then writes (first answer wins, the last admin
        // stays) runs one at a time across all writers of all nodes, as on SQLite, so that it stays
        // exact: the lock is the transaction's, released at its end, and read committed then shows
        // each statement everything committed before it was taken. Groups of units that write only
        // rows of their own key (`Store::write_keyed`: ingest) hold the same lock shared: they run
        // beside each other, and never beside such a group. The lock is the schema's: the nodes of
        // one Switchboard share it, other schemas of the same database (tests' scratch schemas,
        // another installation) do not wait on it. A group of units that rest on their own rows'
        // locks alone (`Store::write_beside`) runs beside all others. Either way the events are
        // numbered as the group commits (see `pipeline::NUMBER_EVENTS`).
        self.0.control_pipelined(match turns {
            Turns::Alone => {
                "BEGIN; SELECT pg_advisory_xact_lock(hashtext('switchboard writer ' || current_schema()))"
            }
            Turns::Shared => {
                "BEGIN; SELECT pg_advisory_xact_lock_shared(hashtext('switchboard writer ' || current_schema()))"
            }
            Turns::Beside => "BEGIN",
        });
        self.0.roll_back_events(false);
        Ok(())
    }

    fn savepoint(&mut self) -> Result<()> {
        self.0.control_pipelined("SAVEPOINT unit");
        self.0.mark_savepoint();
        Ok(())
    }

    fn release(&mut self) -> Result<()> {
        self.0.control_pipelined("RELEASE SAVEPOINT unit");
        Ok(())
    }

    fn roll_back_unit(&mut self) -> Result<()> {
        // Errors not heard yet are the failed unit's, rolled back with it.
        let _ = self.0.settle();
        self.0.roll_back_events(true);
        self.0.control("ROLLBACK TO SAVEPOINT unit")?;
        Ok(())
    }

    fn commit(&mut self) -> Result<Option<i64>> {
        // The notification is delivered to every node's listener when (and only if) the
        // transaction commits.
        self.0.commit_numbering(super::NOTIFY_AND_COMMIT)
    }

    fn roll_back(&mut self) {
        self.0.roll_back_events(false);
        let _ = self.0.control("ROLLBACK");
    }

    fn roll_back_group(&mut self) -> Result<()> {
        // Errors not heard yet are the failed unit's, rolled back with it.
        let _ = self.0.settle();
        self.0.roll_back_events(false);
        self.0.control("ROLLBACK")
    }

    fn settle_statements(&mut self) -> Result<()> {
        self.0.settle_statements()
    }

    fn run(&mut self, job: &mut dyn WriteJob) -> UnitOutcome {
        job.run(&Tx::postgres(self.0))
    }
}

impl Writer {
    pub(super) fn run(mut self, inbox: std::sync::mpsc::Receiver<Box<dyn WriteJob>>) {
        use std::sync::mpsc::RecvTimeoutError;
        loop {
            // While writes fail, the database is tried again every second even when nothing is
            // written, so that health checks (`/readyz`) see it back without waiting for a write.
            let first = if self.health.failure().is_some() {
                match inbox.recv_timeout(RETRY_EVERY) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        self.try_again();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match inbox.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match inbox.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let end = self.commit(&mut group);
            for job in group {
                job.finish(&end);
            }
        }
    }

    /// Makes the connection again, and checks it, while writes are failing and none is waiting.
    fn try_again(&mut self) {
        self.conn = None;
        match connect(&self.config, &self.target) {
            Ok(mut conn) => match conn.control("SELECT 1") {
                Ok(()) => {
                    self.conn = Some(conn);
                    self.health.record(&self.target, None);
                }
                Err(error) => self.health.record(&self.target, Some(error.to_string())),
            },
            Err(error) => self.health.record(&self.target, Some(error.to_string())),
        }
    }

    fn commit(&mut self, group: &mut [Box<dyn WriteJob>]) -> GroupEnd {
        let losses = self.health.losses();
        if self.conn.as_mut().is_none_or(|conn| conn.is_stale(losses)) {
            self.conn = None;
            match connect(&self.config, &self.target) {
                Ok(mut conn) => {
                    conn.losses_seen = losses;
                    self.conn = Some(conn);
                }
                Err(error) => {
                    let reason = error.to_string();
                    self.health.record(&self.target, Some(reason.clone()));
                    return GroupEnd::NotCommitted(reason);
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return GroupEnd::NotCommitted("no write connection".into());
        };
        match run_group(&mut PgSession(conn), group) {
            Ok(events) => {
                self.health.record(&self.target, None);
                GroupEnd::Committed(events)
            }
            Err(failure) => {
                if failure.database_down {
                    // The connection is made again for the next group. (A COMMIT whose answer
                    // was lost in flight may have happened: its callers hear 503 all the same.)
                    self.conn = None;
                    self.health
                        .record(&self.target, Some(failure.reason.clone()));
                }
                GroupEnd::NotCommitted(failure.reason)
            }
        }
    }
}
