//! Request rate limits: a token bucket per caller, one per address for everything it sends, and one
//! per address for requests whose token turns out unknown (probing for tokens). Refusals are `429`
//! with `Retry-After`. Nothing here reads the database: a token gets a bucket of its own (at its kind's
//! rate, named by its prefix) only once [`Authenticated`](crate::Authenticated) has found it valid;
//! until then its requests count as anonymous ones from its address, so made-up tokens buy nothing and
//! fill no memory.
//!
//! On PostgreSQL the buckets are the nodes' together ([`SharedRates`]): a request the node's own
//! buckets would let through is checked against the shared ones too, in one round trip (see
//! `switchboard_storage::SharedLimits`), and the node's buckets are set to what the shared ones hold,
//! so a caller over its limit is refused without asking the database again until its bucket could
//! have refilled. A caller known by a valid token takes its tokens in small blocks (a [`Lease`]) that
//! the node spends without asking again, so a busy bot costs the database one round trip per block,
//! not one per request. When the database does not answer in time, the node's buckets decide alone.

use crate::ApiError;
use crate::client::ClientAddr;
use crate::limits::{Rate, RateLimits, limit_key};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::limits::{CountedSlots, Held, TokenBucket};
use switchboard_storage::{RateCheck, SharedLimits, Store};

/// The kinds of caller a token's prefix names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerKind {
    Anonymous,
    User,
    Integrator,
    Bot,
    PhoneSystem,
}

impl CallerKind {
    fn of_token(token: &str) -> Self {
        match token.get(..4) {
            Some("sbs_") => Self::User,
            Some("sba_") => Self::Integrator,
            Some("sbb_") => Self::Bot,
            Some("sbp_") => Self::PhoneSystem,
            _ => Self::Anonymous,
        }
    }

    fn rate(self, rates: &RateLimits) -> Rate {
        match self {
            Self::Anonymous => rates.anonymous,
            Self::User => rates.user,
            Self::Integrator => rates.integrator,
            Self::Bot => rates.bot,
            Self::PhoneSystem => rates.phone_system,
        }
    }

    /// The kind as the metrics label it (see [`switchboard_domain::Principal::kind`]).
    fn label(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User => "user",
            Self::Integrator => "integrator",
            Self::Bot => "bot",
            Self::PhoneSystem => "phone_system",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Anonymous => "requests without a known token from this address",
            Self::User => "requests of this session",
            Self::Integrator => "requests of this API token",
            Self::Bot => "requests of this bot token",
            Self::PhoneSystem => "requests of this phone-system token",
        }
    }

    /// People and integrations run searches and lists; bots and phone systems post events, which
    /// must not be refused for being many at once during a slow moment.
    fn bounded_in_flight(self) -> bool {
        matches!(self, Self::User | Self::Integrator)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    /// A token found valid, by a keyed hash of it: the limiter keeps no secrets.
    Token(u64),
    Anonymous(IpAddr),
    FailedAuth(IpAddr),
}

/// Buckets kept before idle (full) ones are swept away; a sweep runs again only once the map has grown
/// by as many again, so a map of busy buckets is not swept at every request.
const SWEEP_AT: usize = 10_000;

pub struct RateLimiter {
    rates: RateLimits,
    buckets: Mutex<Buckets>,
    /// Requests in progress per token (by the same keyed hash).
    in_flight: Arc<CountedSlots<Key>>,
    hasher: RandomState,
}

#[derive(Default)]
struct Buckets {
    map: HashMap<Key, TokenBucket>,
    /// Tokens of the shared buckets this node took in advance (PostgreSQL only).
    leases: HashMap<Key, Lease>,
    sweep_at: usize,
}

/// How long this node may spend tokens it leased. Tokens left then are lost to the caller; a block is
/// never more than the bucket refills in this time, so what is lost comes back within it.
const LEASE_LIFETIME: Duration = Duration::from_secs(1);
/// Most tokens leased at once.
const MAX_LEASE: f64 = 64.0;

/// Tokens taken from a shared bucket in one round trip, to be spent by this node alone: a sixteenth
/// of the bucket's burst and no more than it refills in [`LEASE_LIFETIME`] (one for small or slow
/// buckets, so their counts stay exact), at most [`MAX_LEASE`].
fn lease_size(rate: Rate) -> f64 {
    (rate.burst / 16.0)
        .min(rate.per_second * LEASE_LIFETIME.as_secs_f64())
        .floor()
        .clamp(1.0, MAX_LEASE)
}

/// Tokens a node took from a shared bucket beyond the one its request needed.
#[derive(Debug)]
struct Lease {
    tokens: f64,
    until: Instant,
    /// Until when a request is asking the database for a block: the others wait for it rather than
    /// each ask the database (one round trip a block, not one a request), and no more than one block
    /// at a time is leased to one node. A deadline, not a flag: a request dropped while it waited
    /// (its client went away) never says it is done; the others then ask themselves.
    refilling_until: Instant,
    /// Told when a refill ends, whatever it brought.
    refilled: tokio::sync::watch::Sender<()>,
}

/// The lease refills a request makes (its [`Take::Block`]s). However the request ends (answered, or
/// dropped because its client went away), the requests waiting for those refills are told as this
/// is dropped, after this node's buckets were brought up to the database's answer; a refill given
/// up on the way ends at once rather than leave the others waiting for its deadline.
struct Refills<'l> {
    limiter: &'l RateLimiter,
    /// Each refilled lease's key, and the deadline this request set for its refill.
    leases: Vec<(Key, Instant)>,
}

impl<'l> Refills<'l> {
    /// The refills of a plan made at `planned_at` (its blocks), with the deadline the plan set.
    fn of(limiter: &'l RateLimiter, checks: &[Check], takes: &[Take], planned_at: Instant) -> Self {
        Self {
            limiter,
            leases: checks
                .iter()
                .zip(takes)
                .filter(|(_, take)| **take == Take::Block)
                .map(|(check, _)| (check.key, refill_deadline(planned_at)))
                .collect(),
        }
    }
}

/// Until when a refill begun at `now` keeps the others waiting, at most.
fn refill_deadline(now: Instant) -> Instant {
    now + LEASE_LIFETIME
}

impl Drop for Refills<'_> {
    fn drop(&mut self) {
        if self.leases.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut buckets = self.limiter.lock();
        for (key, deadline) in &self.leases {
            if let Some(lease) = buckets.leases.get_mut(key) {
                // Still this request's refill (not one begun after its deadline passed).
                if lease.refilling_until == *deadline {
                    lease.refilling_until = now;
                }
                lease.refilled.send_replace(());
            }
        }
    }
}

/// What a request does about its buckets, decided under the limiter's lock.
enum Planned {
    /// Takes each bucket's token as said, in the order of its checks.
    Takes(Vec<Take>),
    /// Waits for the refill of a lease it needs (told by the receiver), until the refill's
    /// deadline at most, then plans again.
    WaitUntil(tokio::sync::watch::Receiver<()>, Instant),
}

/// How a request takes its token of one bucket, decided under the limiter's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Only checked (failed authentications): asks for nothing.
    Check,
    /// A token of this node's lease: the database is not asked for it.
    Leased,
    /// One token from the database.
    One,
    /// A block from the database: this request refills the node's lease.
    Block,
}

impl Lease {
    fn empty(now: Instant) -> Self {
        Self {
            tokens: 0.0,
            until: now,
            refilling_until: now,
            refilled: tokio::sync::watch::Sender::new(()),
        }
    }

    fn live(&self, now: Instant) -> f64 {
        if now < self.until { self.tokens } else { 0.0 }
    }

    fn take(&mut self, now: Instant) -> bool {
        let taken = self.live(now) >= 1.0;
        if taken {
            self.tokens -= 1.0;
        }
        taken
    }
}

/// A request in progress, counted against its token until dropped.
type InFlight = Held<Key>;

/// One bucket a request is counted against.
#[derive(Debug, Clone, Copy)]
struct Check {
    key: Key,
    rate: Rate,
    limit: &'static str,
    /// Whether the request takes a token, or only needs one to be there (failed authentications).
    takes: bool,
}

/// The buckets of one role, kept with every other node's of the same database (PostgreSQL).
#[derive(Clone, Debug)]
pub struct SharedRates {
    limits: SharedLimits,
    /// The role: each role's limits are its own, on every node.
    role: &'static str,
}

impl SharedRates {
    pub fn new(limits: SharedLimits, role: &'static str) -> Self {
        Self { limits, role }
    }

    /// The role's shared buckets on `store`'s database, or `None` (SQLite: one node, in memory).
    pub fn of(store: &Store, role: &'static str) -> Option<Self> {
        store.shared_limits().map(|limits| Self::new(limits, role))
    }

    /// The bucket's name on every node; a token is named by a hash of it.
    fn key(&self, key: Key, token: Option<&str>) -> String {
        let role = self.role;
        match key {
            Key::Address(ip) => format!("{role}/a/{ip}"),
            Key::Anonymous(ip) => format!("{role}/n/{ip}"),
            Key::FailedAuth(ip) => format!("{role}/f/{ip}"),
            Key::Token(_) => format!(
                "{role}/t/{}",
                SharedLimits::secret_key(token.unwrap_or_default())
            ),
        }
    }

    /// What to ask of the shared buckets for `checks`, taken as `takes` says (never `Leased`).
    fn wanted(&self, checks: &[Check], takes: &[Take], token: Option<&str>) -> Vec<RateCheck> {
        checks
            .iter()
            .zip(takes)
            .map(|(check, take)| RateCheck {
                key: self.key(check.key, token),
                rate: check.rate,
                tokens: match take {
                    Take::Check | Take::Leased => 0.0,
                    Take::One => 1.0,
                    Take::Block => lease_size(check.rate),
                },
            })
            .collect()
    }
}

/// Makes the rate limits of `router`'s requests count on every node of the database (see
/// [`SharedRates`]); with `None`, they stay the server's own.
pub fn with_shared_rates(router: axum::Router, shared: Option<SharedRates>) -> axum::Router {
    match shared {
        Some(shared) => router.layer(axum::Extension(Arc::new(shared))),
        None => router,
    }
}

/// Why a request was refused: which limit, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after_seconds: u64,
    pub limit: &'static str,
}

/// What authentication made of a request's token, told to the limiter by [`crate::Authenticated`]
/// (and the CTI webhook) through the request's extensions.
#[derive(Debug, Clone, Default)]
pub struct AuthOutcome(Arc<AtomicU8>);

const VALID: u8 = 1;
const UNKNOWN: u8 = 2;

impl AuthOutcome {
    /// Records whether the token was found (valid) or not (unknown or revoked).
    pub fn record(&self, found: bool) {
        self.0
            .store(if found { VALID } else { UNKNOWN }, Ordering::Relaxed);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }
}

impl RateLimiter {
    pub fn new(rates: RateLimits) -> Arc<Self> {
        Arc::new(Self {
            rates,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                leases: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
            in_flight: Arc::default(),
            hasher: RandomState::new(),
        })
    }

    fn token_key(&self, token: &str) -> Key {
        Key::Token(self.hasher.hash_one(token))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one request of `client` with `token`; refuses it when any of its buckets is empty.
    pub fn admit(&self, client: IpAddr, token: Option<&str>, now: Instant) -> Result<(), Refusal> {
        let checks = self.checks(client, token);
        self.take_local(&checks, now)
    }

    /// The buckets a request of `client` with `token` counts against: its address's, its caller's,
    /// and (only checked) its address's failed authentications when it carries a token.
    fn checks(&self, client: IpAddr, token: Option<&str>) -> Vec<Check> {
        let client = limit_key(client);
        let mut checks = Vec::with_capacity(3);
        // An address that keeps presenting unknown tokens is refused any token until it slows down.
        if token.is_some() {
            checks.push(Check {
                key: Key::FailedAuth(client),
                rate: self.rates.failed_auth,
                limit: "failed authentications from this address",
                takes: false,
            });
        }
        checks.push(Check {
            key: Key::Address(client),
            rate: self.rates.address,
            limit: "requests from this address",
            takes: true,
        });
        // A token has its own allowance once found valid; until then it is an anonymous request.
        let known = token
            .map(|t| self.token_key(t))
            .filter(|key| self.lock().map.contains_key(key));
        let (caller, kind) = match (known, token) {
            (Some(key), Some(token)) => (key, CallerKind::of_token(token)),
            _ => (Key::Anonymous(client), CallerKind::Anonymous),
        };
        checks.push(Check {
            key: caller,
            rate: kind.rate(&self.rates),
            limit: kind.describe(),
            takes: true,
        });
        checks.retain(|check| !check.rate.is_unlimited());
        checks
    }

    /// The bucket a request of an open Socket.IO session counts against: its address's only.
    fn address_checks(&self, client: IpAddr) -> Vec<Check> {
        let rate = self.rates.address;
        if rate.is_unlimited() {
            return Vec::new();
        }
        vec![Check {
            key: Key::Address(limit_key(client)),
            rate,
            limit: "requests from this address",
            takes: true,
        }]
    }

    /// Takes the request's tokens from this node's buckets, or none when one of them is empty.
    fn take_local(&self, checks: &[Check], now: Instant) -> Result<(), Refusal> {
        let mut buckets = self.lock();
        self.check_locked(&mut buckets, checks, now)?;
        Self::spend_locked(&mut buckets, checks.iter().filter(|c| c.takes));
        Ok(())
    }

    fn spend_locked<'c>(buckets: &mut Buckets, checks: impl Iterator<Item = &'c Check>) {
        for check in checks {
            if let Some(bucket) = buckets.map.get_mut(&check.key) {
                bucket.spend();
            }
        }
    }

    /// Decides how the request takes each of its buckets' tokens: from this node's lease when it
    /// has one (taken now), else from the database, a block when `leasing` and no other request of
    /// this node is refilling that lease already, else one. While another request refills a lease
    /// this one needs, it takes nothing and waits for that refill ([`Planned::WaitUntil`]).
    fn plan(&self, checks: &[Check], leasing: bool, now: Instant) -> Planned {
        let mut buckets = self.lock();
        if leasing {
            let refilling = checks.iter().filter(|check| check.takes).find_map(|check| {
                let lease = buckets.leases.get(&check.key)?;
                (lease.live(now) < 1.0 && now < lease.refilling_until)
                    .then(|| (lease.refilled.subscribe(), lease.refilling_until))
            });
            if let Some((refilled, deadline)) = refilling {
                return Planned::WaitUntil(refilled, deadline);
            }
        }
        Planned::Takes(
            checks
                .iter()
                .map(|check| {
                    if !check.takes {
                        return Take::Check;
                    }
                    if !leasing {
                        return Take::One;
                    }
                    let lease = buckets
                        .leases
                        .entry(check.key)
                        .or_insert_with(|| Lease::empty(now));
                    if lease.take(now) {
                        Take::Leased
                    } else {
                        lease.refilling_until = refill_deadline(now);
                        Take::Block
                    }
                })
                .collect(),
        )
    }

    /// The request is let through: the tokens it took of its leases leave this node's buckets too.
    fn spend_leased(&self, checks: &[Check], takes: &[Take]) {
        let mut buckets = self.lock();
        let spent = checks
            .iter()
            .zip(takes)
            .filter(|(_, t)| **t == Take::Leased);
        Self::spend_locked(&mut buckets, spent.map(|(check, _)| check));
    }

    /// Ends the refills the request made (`Take::Block`): the lease keeps what the database
    /// `granted` beyond the request's own token, when it was let through.
    fn end_refills(&self, checks: &[Check], takes: &[Take], granted: Option<&[f64]>, now: Instant) {
        let mut buckets = self.lock();
        for (i, (check, take)) in checks.iter().zip(takes).enumerate() {
            if *take != Take::Block {
                continue;
            }
            if let Some(lease) = buckets.leases.get_mut(&check.key) {
                let more = granted
                    .and_then(|granted| granted.get(i))
                    .map_or(0.0, |g| (g - 1.0).max(0.0));
                lease.tokens = lease.live(now) + more;
                if more > 0.0 {
                    lease.until = now + LEASE_LIFETIME;
                }
                lease.refilling_until = now;
            }
        }
    }

    /// The request was refused after all: the tokens it took of its leases go back to them.
    fn return_leased(&self, checks: &[Check], takes: &[Take]) {
        let mut buckets = self.lock();
        for (check, _) in checks
            .iter()
            .zip(takes)
            .filter(|(_, t)| **t == Take::Leased)
        {
            if let Some(lease) = buckets.leases.get_mut(&check.key) {
                lease.tokens += 1.0;
            }
        }
    }

    /// Whether this node's buckets would let the request through, taking nothing.
    fn check_local(&self, checks: &[Check], now: Instant) -> Result<(), Refusal> {
        let mut buckets = self.lock();
        self.check_locked(&mut buckets, checks, now)
    }

    fn check_locked(
        &self,
        buckets: &mut Buckets,
        checks: &[Check],
        now: Instant,
    ) -> Result<(), Refusal> {
        if buckets.map.len() >= buckets.sweep_at {
            buckets.map.retain(|_, bucket| !bucket.is_full(now));
            buckets
                .leases
                .retain(|_, lease| lease.live(now) > 0.0 || now < lease.refilling_until);
            buckets.sweep_at = (buckets.map.len() * 2).max(SWEEP_AT);
        }
        for check in checks {
            let refused = |retry_after_seconds| Refusal {
                retry_after_seconds,
                limit: check.limit,
            };
            if check.takes {
                buckets
                    .map
                    .entry(check.key)
                    .or_insert(TokenBucket::full(check.rate, now))
                    .check(now)
                    .map_err(refused)?;
            } else if let Some(bucket) = buckets.map.get_mut(&check.key) {
                bucket.check(now).map_err(refused)?;
            }
        }
        Ok(())
    }

    /// Sets this node's buckets to what the shared ones hold (`levels`, in the order of `checks`) and
    /// this node holds of them in leases: what it may still spend; a full one needs no bucket here.
    fn sync(&self, checks: &[Check], levels: &[f64], now: Instant) {
        let mut buckets = self.lock();
        for (check, &level) in checks.iter().zip(levels) {
            let level = level + buckets.leases.get(&check.key).map_or(0.0, |l| l.live(now));
            if level >= check.rate.burst && !buckets.map.contains_key(&check.key) {
                continue;
            }
            buckets
                .map
                .entry(check.key)
                .or_insert(TokenBucket::full(check.rate, now))
                .set_level(level, now);
        }
    }

    /// Counts a request against the shared buckets, after this node's own (which refuse a caller
    /// known to be over its limit without asking); decides alone when the database does not answer.
    ///
    /// A caller known by a valid token spends the tokens this node leased for it, and asks the
    /// database only for the buckets whose lease is spent, for a new lease. Requests that may be
    /// probing for tokens (anonymous ones) are counted against the database one by one, so that
    /// the failed-authentication limit stays exact across nodes.
    async fn admit_shared(
        &self,
        shared: &SharedRates,
        checks: &[Check],
        token: Option<&str>,
    ) -> Result<(), Refusal> {
        if checks.is_empty() {
            return self.check_local(checks, Instant::now());
        }
        let leasing = checks.iter().any(|c| matches!(c.key, Key::Token(_)));
        let (takes, _refills) = loop {
            // Again after a wait: the refill may have found the bucket empty.
            self.check_local(checks, Instant::now())?;
            let planned_at = Instant::now();
            match self.plan(checks, leasing, planned_at) {
                Planned::Takes(takes) => {
                    let refills = Refills::of(self, checks, &takes, planned_at);
                    break (takes, refills);
                }
                Planned::WaitUntil(mut refilled, deadline) => {
                    let deadline = tokio::time::Instant::from_std(deadline);
                    // Past the deadline the refill counts as abandoned: the next plan refills.
                    let _ = tokio::time::timeout_at(deadline, refilled.changed()).await;
                }
            }
        };
        // Only-checked buckets (failed authentications) follow the node's own count meanwhile.
        if takes
            .iter()
            .all(|t| matches!(t, Take::Leased | Take::Check))
        {
            self.spend_leased(checks, &takes);
            return Ok(());
        }
        let (asked, asked_takes): (Vec<Check>, Vec<Take>) = checks
            .iter()
            .zip(&takes)
            .filter(|(_, take)| **take != Take::Leased)
            .map(|(check, take)| (*check, *take))
            .unzip();
        let answer = shared
            .limits
            .take(shared.wanted(&asked, &asked_takes, token), false)
            .await;
        let now = Instant::now();
        match answer {
            Ok(answer) => {
                let granted = answer.admitted.then_some(answer.granted.as_slice());
                self.end_refills(&asked, &asked_takes, granted, now);
                self.sync(&asked, &answer.levels, now);
                if answer.admitted {
                    self.spend_leased(checks, &takes);
                    return Ok(());
                }
                self.return_leased(checks, &takes);
                let (check, level) = asked
                    .iter()
                    .zip(&answer.levels)
                    .find(|(_, level)| **level < 1.0)
                    .map_or((asked[0], 0.0), |(check, level)| (*check, *level));
                Err(Refusal {
                    retry_after_seconds: TokenBucket::seconds_until_one(level, check.rate),
                    limit: check.limit,
                })
            }
            Err(error) => {
                tracing::debug!(%error, "shared rate limits unavailable; counting locally");
                self.end_refills(&asked, &asked_takes, None, now);
                self.return_leased(checks, &takes);
                self.take_local(checks, now)
            }
        }
    }

    /// Spends a token of `check`'s shared bucket whatever it holds (a request counted already: a
    /// penalty, or the first request of a token before it had a bucket), then follows it here.
    async fn spend_shared(&self, shared: &SharedRates, check: Check, token: Option<&str>) {
        match shared
            .limits
            .take(shared.wanted(&[check], &[Take::One], token), true)
            .await
        {
            Ok(answer) => self.sync(&[check], &answer.levels, Instant::now()),
            Err(error) => {
                tracing::debug!(%error, "shared rate limits unavailable; counted locally");
            }
        }
    }

    /// `token` was found valid: from now on it is counted on its own, at its kind's rate.
    /// Answers the token's bucket when it was made now (its first request here was counted in it).
    pub fn authenticated(&self, token: &str, now: Instant) {
        self.token_found(token, now);
    }

    fn token_found(&self, token: &str, now: Instant) -> Option<Check> {
        let kind = CallerKind::of_token(token);
        let rate = kind.rate(&self.rates);
        if rate.is_unlimited() {
            return None;
        }
        let key = self.token_key(token);
        let mut buckets = self.lock();
        if buckets.map.contains_key(&key) {
            return None;
        }
        let mut bucket = TokenBucket::full(rate, now);
        bucket.spend();
        buckets.map.insert(key, bucket);
        Some(Check {
            key,
            rate,
            limit: kind.describe(),
            takes: true,
        })
    }

    /// Counts a request of `token` in progress, or `None` when the token has as many as it may.
    fn start(&self, token: &str) -> Option<InFlight> {
        self.in_flight
            .take(self.token_key(token), self.rates.in_flight_per_token)
    }

    /// A token was refused as unknown or revoked: count a failure for the address, and forget the
    /// token if it had a bucket (it was revoked).
    pub fn failed_authentication(&self, client: IpAddr, token: &str, now: Instant) {
        self.token_refused(client, token, now);
    }

    /// Answers the bucket the failure was counted in, if any.
    fn token_refused(&self, client: IpAddr, token: &str, now: Instant) -> Option<Check> {
        let client = limit_key(client);
        let rate = self.rates.failed_auth;
        let key = self.token_key(token);
        let mut buckets = self.lock();
        buckets.map.remove(&key);
        buckets.leases.remove(&key);
        if rate.is_unlimited() {
            return None;
        }
        let bucket = buckets
            .map
            .entry(Key::FailedAuth(client))
            .or_insert(TokenBucket::full(rate, now));
        let _ = bucket.check(now);
        bucket.spend();
        Some(Check {
            key: Key::FailedAuth(client),
            rate,
            limit: "failed authentications from this address",
            takes: true,
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

/// The token a request carries, wherever it carries it: the `Authorization` header, the session
/// cookie, the `token` query parameter (Socket.IO clients), or the CTI webhook's path.
fn token_of(request: &Request) -> Option<String> {
    if let Some((token, _)) = crate::auth::header_token(request.headers()) {
        return Some(token.to_owned());
    }
    let uri = request.uri();
    if let Some(token) = crate::extract::cti_token(uri.path()) {
        return Some(token.to_owned());
    }
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The limiter's refusal, naming for the metrics the kind of caller it refused (by the prefix of
/// the token presented: it may still be unknown or revoked).
pub(crate) fn refused_as(error: ApiError, caller: CallerKind) -> Response {
    let mut response = error.into_response();
    response
        .extensions_mut()
        .insert(crate::metrics::RefusedCaller(caller.label()));
    response
}

/// Requests of a Socket.IO session already open (they name it with `sid`): its handshake was counted
/// as the caller's, and a polling client makes a request per batch of events it receives, so they
/// count only against the address.
fn is_open_socket_session(request: &Request) -> bool {
    request.uri().path().starts_with("/socket.io/")
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("sid=")))
}

/// The middleware, inside CORS (so a refusal carries CORS headers the console can read, and
/// preflights are not counted). The limiter comes with the request from the server's accept loop;
/// a router served any other way is not limited.
pub async fn rate_limit(mut request: Request, next: Next) -> Response {
    let Some(limiter) = request.extensions().get::<Arc<RateLimiter>>().cloned() else {
        return next.run(request).await;
    };
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
    let open_session = is_open_socket_session(&request);
    let token = if open_session {
        None
    } else {
        token_of(&request).filter(|t| t.len() <= switchboard_storage::MAX_TOKEN_LENGTH)
    };
    let caller = token
        .as_deref()
        .map_or(CallerKind::Anonymous, CallerKind::of_token);
    let shared = request.extensions().get::<Arc<SharedRates>>().cloned();
    let checks = if open_session {
        limiter.address_checks(client)
    } else {
        limiter.checks(client, token.as_deref())
    };
    let admitted = match &shared {
        Some(shared) => {
            limiter
                .admit_shared(shared, &checks, token.as_deref())
                .await
        }
        None => limiter.take_local(&checks, Instant::now()),
    };
    if let Err(refusal) = admitted {
        tracing::debug!(%client, limit = refusal.limit, "rate limited");
        return refused_as(
            ApiError::RateLimited {
                retry_after_seconds: refusal.retry_after_seconds,
                limit: refusal.limit,
            },
            caller,
        );
    }
    let in_flight = match token.as_deref() {
        Some(token) if CallerKind::of_token(token).bounded_in_flight() => {
            match limiter.start(token) {
                Some(in_flight) => Some(in_flight),
                None => {
                    return refused_as(
                        ApiError::RateLimited {
                            retry_after_seconds: 1,
                            limit: "requests in progress at once for this token",
                        },
                        caller,
                    );
                }
            }
        }
        _ => None,
    };
    let outcome = AuthOutcome::default();
    request.extensions_mut().insert(outcome.clone());
    let response = next.run(request).await;
    drop(in_flight);
    if let Some(token) = token {
        let counted = match outcome.get() {
            VALID => limiter.token_found(&token, Instant::now()),
            UNKNOWN => limiter.token_refused(client, &token, Instant::now()),
            _ => None,
        };
        if let (Some(shared), Some(check)) = (&shared, counted) {
            limiter.spend_shared(shared, check, Some(&token)).await;
        }
    }
    response
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
