//! Limits the nodes of one PostgreSQL database count together: the request rate limits' token buckets
//! and the login limiter's failures and known places (the tables of migration 10, UNLOGGED).
//!
//! None of it goes through the group-commit writer: a limit is no business data and needs no
//! durability. Each check is one round trip on a small pool of connections of its own
//! (`synchronous_commit` off), with a short deadline; when the database does not answer in time, the
//! caller is told [`StorageError::Unavailable`] at once and decides with its own in-memory counts,
//! and for a few seconds after that it is told so without trying (a database outage must not hold
//! every request up to the deadline). A check that found every connection busy until its deadline is
//! told so too, but the next one asks again: that is load, not an outage. Rows that count for nothing any more (a full bucket, failures
//! past their window, places past their time) are removed about once a minute by each node.

use super::PgConn;
use crate::{Result, StorageError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use switchboard_domain::limits::Rate;

/// Connections each node keeps for its limits.
const CONNECTIONS: usize = 2;
/// How long a check may wait for an answer, connection included, before the caller decides alone.
const DEFAULT_WAIT: Duration = Duration::from_millis(500);
/// The same for a login's counts: a login waits seconds for its password check anyway, and a burst
/// of parallel attempts queues for the rows they share.
const LOGIN_WAIT: Duration = Duration::from_secs(5);
/// How long the shared limits are left alone after they failed to answer.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long making a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often each node removes the rows that count for nothing any more.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// One check of a request against a shared token bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCheck {
    /// The bucket's name, the same on every node (see [`SharedLimits::secret_key`] for tokens).
    pub key: String,
    pub rate: Rate,
    /// The tokens the request asks of it: 0 only needs one to be there, 1 takes one, more asks for a
    /// lease (as many as the bucket holds up to that, at least one) that the node spends on its own.
    pub tokens: f64,
}

/// What the shared buckets said of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RateAnswer {
    /// The request may go (its tokens were taken).
    pub admitted: bool,
    /// Each bucket's level afterwards, in the order of the checks.
    pub levels: Vec<f64>,
    /// The tokens each bucket gave (none when the request was refused), in the order of the checks.
    pub granted: Vec<f64>,
}

/// The failed logins of one key (a username, an address, a place), on the database's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub last_ms: i64,
    pub wait_until_ms: i64,
}

/// The limits shared by every node of a PostgreSQL database (see the module's comment). Cheap to
/// clone; clones share the connections.
#[derive(Clone)]
pub struct SharedLimits {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("target", &self.inner.target)
            .finish()
    }
}

struct Inner {
    config: postgres::Config,
    target: String,
    connections: Vec<Mutex<Option<LimitConn>>>,
    next: AtomicUsize,
    free: Arc<tokio::sync::Semaphore>,
    /// Until when the database is not asked (it failed to answer).
    down_until: Mutex<Option<Instant>>,
    wait_ms: AtomicU64,
    retry_after_ms: AtomicU64,
    next_prune: Mutex<Instant>,
    /// Rate checks asked of the database (see [`SharedLimits::rate_checks`]).
    rate_checks: AtomicU64,
}

struct LimitConn {
    conn: PgConn,
    take: postgres::Statement,
    #[cfg(test)]
    backend_pid: i32,
}

impl SharedLimits {
    /// Shared limits on the database `config` names; no connection is made before the first check.
    pub(crate) fn new(mut config: postgres::Config, target: String) -> Self {
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name("switchboard-limits");
        Self {
            inner: Arc::new(Inner {
                config,
                target,
                connections: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
                next: AtomicUsize::new(0),
                free: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)),
                down_until: Mutex::new(None),
                wait_ms: AtomicU64::new(millis(DEFAULT_WAIT)),
                retry_after_ms: AtomicU64::new(millis(DEFAULT_RETRY_AFTER)),
                next_prune: Mutex::new(Instant::now()),
                rate_checks: AtomicU64::new(0),
            }),
        }
    }

    /// Shared limits on the database at `url`, connected on first use: for tests of what a node does
    /// when its database does not answer.
    pub fn connect_lazily(url: &str) -> Result<Self> {
        let target = super::redacted(url);
        let config: postgres::Config = url.parse().map_err(|e| StorageError::Connect {
            target: target.clone(),
            source: Box::new(e),
        })?;
        Ok(Self::new(config, target))
    }

    /// How long a check may wait for the database, and how long the database is left alone after it
    /// failed to answer. The defaults (half a second, five seconds) suit production; a test on a busy
    /// machine gives itself more room so that a slow answer cannot turn into a local decision.
    pub fn set_patience(&self, wait: Duration, retry_after: Duration) {
        self.inner.wait_ms.store(millis(wait), Ordering::Relaxed);
        self.inner
            .retry_after_ms
            .store(millis(retry_after), Ordering::Relaxed);
    }

    /// How many rate checks this node asked of the database: what its leases save it.
    pub fn rate_checks(&self) -> u64 {
        self.inner.rate_checks.load(Ordering::Relaxed)
    }

    /// A name for a secret (a token, a device cookie) that is the same on every node and gives the
    /// secret away to nobody who reads the tables.
    pub fn secret_key(secret: &str) -> String {
        switchboard_domain::encoding::hex(&Sha256::digest(secret.as_bytes())[..16])
    }

    /// Checks a request against the shared buckets of `checks` and takes its tokens when every one
    /// has one (a lease: as many as each holds up to what is asked); with `forced`, takes all it asks
    /// whatever the levels (down to empty): a penalty, or a request already let through.
    pub async fn take(&self, checks: Vec<RateCheck>, forced: bool) -> Result<RateAnswer> {
        self.inner.rate_checks.fetch_add(1, Ordering::Relaxed);
        self.run(Duration::ZERO, move |conn| {
            // One order for every caller: two checks never wait for each other's rows crosswise.
            let mut order: Vec<usize> = (0..checks.len()).collect();
            order.sort_by(|&a, &b| checks[a].key.cmp(&checks[b].key));
            let keys: Vec<&str> = order.iter().map(|&i| checks[i].key.as_str()).collect();
            let per_second: Vec<f64> = order.iter().map(|&i| checks[i].rate.per_second).collect();
            let burst: Vec<f64> = order.iter().map(|&i| checks[i].rate.burst).collect();
            let wants: Vec<f64> = order.iter().map(|&i| checks[i].tokens.max(0.0)).collect();
            let statement = conn.take.clone();
            let row = conn
                .conn
                .client()
                .query_one(&statement, &[&keys, &per_second, &burst, &wants, &forced])?;
            let admitted: bool = row.try_get(0)?;
            let unsort = |sorted: Vec<f64>| {
                let mut values = vec![0.0; checks.len()];
                for (value, &i) in sorted.into_iter().zip(&order) {
                    values[i] = value;
                }
                values
            };
            Ok(RateAnswer {
                admitted,
                levels: unsort(row.try_get(1)?),
                granted: unsort(row.try_get(2)?),
            })
        })
        .await
    }

    /// Runs `decide` on the failed logins of `keys` (rows made for keys that have none, with no
    /// failures), locked against every other node until it returns, at the database's clock; what
    /// it leaves in them is stored. A row is forgotten `forget_after` past its last failure, or once
    /// its wait is over if that is later.
    pub async fn update_login_failures<T, F>(
        &self,
        keys: Vec<String>,
        forget_after: Duration,
        decide: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(i64, &mut [LoginFailures]) -> T + Send + 'static,
    {
        let forget_after = i64::try_from(forget_after.as_millis()).unwrap_or(i64::MAX);
        self.run(LOGIN_WAIT, move |conn| {
            let mut sorted = keys.clone();
            sorted.sort();
            let mut tx = conn.conn.client().transaction()?;
            let now: i64 = tx.query_one(&format!("SELECT {NOW_MS}"), &[])?.try_get(0)?;
            tx.execute(
                "INSERT INTO login_failures (key, count, last_ms, wait_until_ms, expires_ms)
                 SELECT k, 0, $2, $2, $2 FROM unnest($1::TEXT[]) AS k ORDER BY k
                 ON CONFLICT (key) DO NOTHING",
                &[&sorted, &now],
            )?;
            let mut found: HashMap<String, LoginFailures> = HashMap::new();
            for row in tx.query(
                "SELECT key, count, last_ms, wait_until_ms FROM login_failures
                 WHERE key = ANY($1) ORDER BY key FOR UPDATE",
                &[&sorted],
            )? {
                let count: i32 = row.try_get(1)?;
                found.insert(
                    row.try_get(0)?,
                    LoginFailures {
                        count: u32::try_from(count).unwrap_or(0),
                        last_ms: row.try_get(2)?,
                        wait_until_ms: row.try_get(3)?,
                    },
                );
            }
            let mut failures: Vec<LoginFailures> = keys
                .iter()
                .map(|key| {
                    found.get(key).copied().unwrap_or(LoginFailures {
                        count: 0,
                        last_ms: now,
                        wait_until_ms: now,
                    })
                })
                .collect();
            let answer = decide(now, &mut failures);
            for (key, f) in keys.iter().zip(&failures) {
                let count = i32::try_from(f.count).unwrap_or(i32::MAX);
                tx.execute(
                    "UPDATE login_failures SET count = $2, last_ms = $3, wait_until_ms = $4,
                         expires_ms = GREATEST($4::BIGINT, $3::BIGINT + $5::BIGINT)
                     WHERE key = $1",
                    &[key, &count, &f.last_ms, &f.wait_until_ms, &forget_after],
                )?;
            }
            tx.commit()?;
            Ok(answer)
        })
        .await
    }

    /// The first of `candidates` that is a known place of `username` now.
    pub async fn known_login_place(
        &self,
        username: String,
        candidates: Vec<String>,
    ) -> Result<Option<String>> {
        self.run(LOGIN_WAIT, move |conn| {
            let known: Vec<String> = conn
                .conn
                .client()
                .query(
                    &format!(
                        "SELECT place FROM login_places
                         WHERE username = $1 AND place = ANY($2) AND until_ms > {NOW_MS}"
                    ),
                    &[&username, &candidates],
                )?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
            Ok(candidates.into_iter().find(|place| known.contains(place)))
        })
        .await
    }

    /// A login succeeded: the failures of `keys` are forgotten and `places` become known places of
    /// `username` for `known_for`, of which the newest `keep` are kept.
    pub async fn login_succeeded(
        &self,
        keys: Vec<String>,
        username: String,
        places: Vec<String>,
        known_for: Duration,
        keep: usize,
    ) -> Result<()> {
        let known_for = i64::try_from(known_for.as_millis()).unwrap_or(i64::MAX);
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.run(LOGIN_WAIT, move |conn| {
            let mut tx = conn.conn.client().transaction()?;
            tx.execute("DELETE FROM login_failures WHERE key = ANY($1)", &[&keys])?;
            for place in &places {
                tx.execute(
                    &format!(
                        "INSERT INTO login_places (username, place, until_ms)
                         VALUES ($1, $2, {NOW_MS} + $3)
                         ON CONFLICT (username, place) DO UPDATE SET until_ms = EXCLUDED.until_ms"
                    ),
                    &[&username, place, &known_for],
                )?;
            }
            tx.execute(
                &format!(
                    "DELETE FROM login_places WHERE username = $1 AND (until_ms <= {NOW_MS}
                         OR place NOT IN (SELECT place FROM login_places WHERE username = $1
                                          ORDER BY until_ms DESC, place LIMIT $2))"
                ),
                &[&username, &keep],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Runs `work` on a connection of the pool, within the wait (at least `at_least`), unless the
    /// database failed lately.
    async fn run<T, F>(&self, at_least: Duration, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut LimitConn) -> Result<T> + Send + 'static,
    {
        if let Some(until) = *lock(&self.inner.down_until)
            && Instant::now() < until
        {
            return Err(StorageError::Unavailable(
                "the shared limits did not answer lately".into(),
            ));
        }
        let inner = Arc::clone(&self.inner);
        let wait = Duration::from_millis(inner.wait_ms.load(Ordering::Relaxed)).max(at_least);
        // Every connection busy is load, not an outage: this caller decides alone, the next asks.
        let permit =
            match tokio::time::timeout(wait, Arc::clone(&inner.free).acquire_owned()).await {
                Ok(permit) => permit
                    .map_err(|_| StorageError::Task("the shared limits are closing".into()))?,
                Err(_) => {
                    return Err(StorageError::Unavailable(format!(
                        "no connection for the shared limits was free within {wait:?}"
                    )));
                }
            };
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            inner.run_blocking(work)
        });
        let result = match tokio::time::timeout(wait, work).await {
            Ok(result) => result.map_err(|e| StorageError::Task(e.to_string()))?,
            Err(_) => Err(StorageError::Unavailable(format!(
                "the shared limits did not answer within {wait:?}"
            ))),
        };
        if let Err(error) = &result
            && let Some(reason) = error.unavailable_reason()
        {
            let retry_after =
                Duration::from_millis(self.inner.retry_after_ms.load(Ordering::Relaxed));
            tracing::warn!(
                %reason,
                ?retry_after,
                "the shared limits are unavailable; each node counts alone meanwhile"
            );
            *lock(&self.inner.down_until) = Some(Instant::now() + retry_after);
        }
        result
    }

    /// The server processes of this node's limit connections, to cut them in tests.
    #[cfg(test)]
    pub(crate) fn backend_pids(&self) -> Vec<i32> {
        self.inner
            .connections
            .iter()
            .filter_map(|slot| lock(slot).as_ref().map(|c| c.backend_pid))
            .collect()
    }
}

impl Inner {
    fn run_blocking<T>(&self, work: impl FnOnce(&mut LimitConn) -> Result<T>) -> Result<T> {
        let mut slot = crate::store::next_reader(&self.connections, &self.next);
        // The limits keep no count of the node's lost connections: a limit that fails is skipped
        // (each node counts alone meanwhile), so only idleness makes a connection check itself.
        if slot.as_mut().is_none_or(|c| c.conn.is_stale(0)) {
            *slot = None;
            *slot = Some(
                self.connect()
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?,
            );
        }
        let conn = slot
            .as_mut()
            .ok_or_else(|| StorageError::Task("no limits connection".into()))?;
        let result = work(conn);
        match &result {
            Err(error) if error.unavailable_reason().is_some() => *slot = None,
            Err(_) => {}
            Ok(_) => self.prune_if_due(conn),
        }
        result
    }

    fn connect(&self) -> Result<LimitConn> {
        let client = self
            .config
            .connect(postgres::NoTls)
            .map_err(|e| StorageError::Connect {
                target: self.target.clone(),
                source: Box::new(e),
            })?;
        let mut conn = PgConn::new(client);
        // Nothing here is worth waiting for a disk; no statement may hold a row for long.
        conn.client().batch_execute(
            "SET synchronous_commit = off; SET statement_timeout = 5000; SET lock_timeout = 2000",
        )?;
        let take = conn.client().prepare(
            "SELECT admitted, levels, granted FROM lease_rate_tokens($1, $2, $3, $4, $5)",
        )?;
        #[cfg(test)]
        let backend_pid = conn
            .client()
            .query_one("SELECT pg_backend_pid()", &[])?
            .try_get(0)?;
        Ok(LimitConn {
            conn,
            take,
            #[cfg(test)]
            backend_pid,
        })
    }

    /// Removes what counts for nothing any more, about once a minute per node.
    fn prune_if_due(&self, conn: &mut LimitConn) {
        {
            let mut next = lock(&self.next_prune);
            if Instant::now() < *next {
                return;
            }
            *next = Instant::now() + PRUNE_EVERY;
        }
        let pruned = conn.conn.client().batch_execute(&format!(
            "DELETE FROM rate_buckets WHERE full_at_ms < {NOW_MS};
             DELETE FROM login_failures WHERE expires_ms < {NOW_MS};
             DELETE FROM login_places WHERE until_ms < {NOW_MS}"
        ));
        if let Err(error) = pruned {
            tracing::warn!(%error, "cannot remove old shared limits; will retry");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
