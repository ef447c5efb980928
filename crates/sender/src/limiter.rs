//! Slows down password guessing without handing attackers a way to lock people out.
//!
//! Every attempt counts *before* the password is checked, so parallel requests cannot slip past. Past a
//! few failures a username, or an address, must wait before its next attempt, and the wait doubles
//! with each further failure (30 s, 1 min, 2 min, … 15 min): guessing stays hopeless, and a lockout is
//! never permanent. A wait is never a weapon against the user it protects: a device (a cookie given at
//! each successful login) or an address the user has logged in from before is counted on its own, so
//! failures made elsewhere never stop the right password from a place the user is known at.
//!
//! Password checks also run at most a few at a time: each argon2 check takes ~19 MiB, and a flood of
//! them must not exhaust memory.
//!
//! On PostgreSQL the counts and the known places are every node's together (the database's
//! `login_failures` and `login_places`, see `switchboard_storage::SharedLimits`): each attempt is
//! counted in one transaction that holds its rows against the other nodes, so parallel guesses spread
//! over the nodes cannot slip past either. When the database does not answer, a node counts alone, in
//! memory, as on SQLite (where one sender runs per database file).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use switchboard_storage::{LoginFailures, SharedLimits};
use tokio::sync::Semaphore;

/// Failures are forgotten this long after the last one.
const WINDOW: Duration = Duration::from_secs(900);
/// Failures a username (from unknown places) may have before it must wait.
const FREE_PER_USER: u32 = 5;
/// Failures one address may have, whatever the usernames, before it must wait.
const FREE_PER_ADDRESS: u32 = 20;
/// Failures of a place the user is known at before it must wait too.
const FREE_PER_KNOWN_PLACE: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(30);
const LONGEST_WAIT: Duration = Duration::from_secs(900);
/// How long a successful login makes a device or address known for its user.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Failure counts kept at most; past it, idle ones go, and if none is idle new attempts must wait.
const MAX_ENTRIES: usize = 100_000;
/// Known places kept per user, the newest: enough for the devices and offices one person works from.
const KNOWN_PER_USER: usize = 20;

/// Password checks running at once.
pub const CONCURRENT_CHECKS: usize = 4;
/// How long a login waits for a password check before it is told to come back.
pub const CHECK_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Where an attempt comes from, for a given user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Place {
    /// The device cookie's value (random, given by us at a successful login).
    Device(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
    Known(String, Place),
}

impl Place {
    /// Its name in the shared tables: a device by a hash of its cookie (the tables hold no secret).
    fn shared_name(&self) -> String {
        match self {
            Self::Device(device) => format!("d:{}", SharedLimits::secret_key(device)),
            Self::Address(address) => format!("a:{address}"),
        }
    }
}

impl Key {
    /// Its name in the shared tables (usernames hold no space).
    fn shared_name(&self) -> String {
        match self {
            Self::User(username) => format!("u:{username}"),
            Self::Address(address) => format!("a:{address}"),
            Self::Known(username, place) => format!("k:{username} {}", place.shared_name()),
        }
    }
}

/// Failures of a key, in milliseconds of the limiter's clock (this process's, or the database's).
type Failures = LoginFailures;

#[derive(Default)]
struct State {
    failures: HashMap<Key, Failures>,
    /// username → the places known for the user and until when, newest last. Only successful logins
    /// add to it, so it holds at most [`KNOWN_PER_USER`] entries per real user.
    known: HashMap<String, Vec<(Place, Instant)>>,
}

#[derive(Clone)]
pub struct LoginLimiter {
    state: Arc<Mutex<State>>,
    /// The zero of this process's clock for the counts kept in memory.
    epoch: Instant,
    /// On PostgreSQL, the counts every node keeps together.
    shared: Option<SharedLimits>,
    pub checks: Arc<Semaphore>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(None)
    }
}

/// An attempt let through: what it was counted against, to clear on success.
#[derive(Debug)]
pub struct Attempt {
    username: String,
    keys: Vec<Key>,
    /// Counted in the shared tables (else in memory).
    shared: bool,
}

fn wait_after(failures_past_free: u32) -> Duration {
    FIRST_WAIT
        .saturating_mul(1 << failures_past_free.min(10))
        .min(LONGEST_WAIT)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Counts an attempt against `failures` (each key's, with its free allowance `free`) at `now`, or
/// answers the seconds to wait, counting nothing. The one rule for the counts in memory and shared.
fn count_attempt(now: i64, failures: &mut [Failures], free: &[u32]) -> Result<(), u64> {
    if let Some(waiting) = failures.iter().find(|f| f.wait_until_ms > now) {
        let seconds = (waiting.wait_until_ms - now) / 1000;
        return Err(u64::try_from(seconds).unwrap_or(0).max(1));
    }
    for (f, &free) in failures.iter_mut().zip(free) {
        if now - f.last_ms >= millis(WINDOW) {
            f.count = 0;
        }
        f.count += 1;
        f.last_ms = now;
        if f.count >= free {
            f.wait_until_ms = now + millis(wait_after(f.count - free));
        }
    }
    Ok(())
}

/// The keys an attempt counts against and their free allowances: its known place if it comes from
/// one, else the username and the address.
fn keys_of(username: &str, address: IpAddr, known: Option<Place>) -> Vec<(Key, u32)> {
    match known {
        Some(place) => vec![(Key::Known(username.to_owned(), place), FREE_PER_KNOWN_PLACE)],
        None => vec![
            (Key::User(username.to_owned()), FREE_PER_USER),
            (Key::Address(address), FREE_PER_ADDRESS),
        ],
    }
}

/// Where an attempt may come from: its device, if it has a cookie, then its address.
fn places_of(address: IpAddr, device: Option<&str>) -> Vec<Place> {
    device
        .map(|d| Place::Device(d.to_owned()))
        .into_iter()
        .chain([Place::Address(address)])
        .collect()
}

impl LoginLimiter {
    /// The counts and known places, even after a panic elsewhere poisoned the lock: they only slow
    /// logins down, and a stale count must not stop everyone from logging in.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn new(shared: Option<SharedLimits>) -> Self {
        Self {
            state: Arc::default(),
            epoch: Instant::now(),
            shared,
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
        }
    }

    /// Now on the clock of the counts kept in memory.
    fn now_ms(&self) -> i64 {
        millis(self.epoch.elapsed())
    }

    /// Counts an attempt for `username` (already normalised) from `address` with the device cookie
    /// `device`; `Err(seconds to wait)` when it must wait.
    pub async fn attempt(
        &self,
        username: &str,
        address: IpAddr,
        device: Option<&str>,
    ) -> Result<Attempt, u64> {
        let address = switchboard_web::limits::limit_key(address);
        if let Some(shared) = &self.shared {
            match Self::attempt_shared(shared, username, address, device).await {
                Ok(verdict) => return verdict,
                Err(error) => {
                    tracing::warn!(%error, "shared login limits unavailable; counting here alone");
                }
            }
        }
        self.attempt_here(username, address, device)
    }

    /// [`LoginLimiter::attempt`] counted with every node, in the database.
    async fn attempt_shared(
        shared: &SharedLimits,
        username: &str,
        address: IpAddr,
        device: Option<&str>,
    ) -> switchboard_storage::Result<Result<Attempt, u64>> {
        let places = places_of(address, device);
        let names = places.iter().map(Place::shared_name).collect();
        let known = shared
            .known_login_place(username.to_owned(), names)
            .await?
            .and_then(|name| places.into_iter().find(|p| p.shared_name() == name));
        let (keys, free): (Vec<Key>, Vec<u32>) =
            keys_of(username, address, known).into_iter().unzip();
        let names = keys.iter().map(Key::shared_name).collect();
        let verdict = shared
            .update_login_failures(names, WINDOW, move |now, failures| {
                count_attempt(now, failures, &free)
            })
            .await?;
        Ok(verdict.map(|()| Attempt {
            username: username.to_owned(),
            keys,
            shared: true,
        }))
    }

    /// [`LoginLimiter::attempt`] counted in this process's memory.
    fn attempt_here(
        &self,
        username: &str,
        address: IpAddr,
        device: Option<&str>,
    ) -> Result<Attempt, u64> {
        let now = self.now_ms();
        let mut state = self.state();
        if state.failures.len() >= MAX_ENTRIES {
            state
                .failures
                .retain(|_, f| now - f.last_ms < millis(WINDOW) || f.wait_until_ms > now);
            if state.failures.len() >= MAX_ENTRIES {
                // Under a flood from everywhere at once: slow everyone rather than grow without end.
                return Err(FIRST_WAIT.as_secs());
            }
        }
        let known_places = state.known.get(username);
        let known = places_of(address, device).into_iter().find(|place| {
            known_places.is_some_and(|places| {
                places
                    .iter()
                    .any(|(known, until)| known == place && *until > Instant::now())
            })
        });
        let (keys, free): (Vec<Key>, Vec<u32>) =
            keys_of(username, address, known).into_iter().unzip();
        let mut failures: Vec<Failures> = keys
            .iter()
            .map(|key| {
                state.failures.get(key).copied().unwrap_or(Failures {
                    count: 0,
                    last_ms: now,
                    wait_until_ms: now,
                })
            })
            .collect();
        count_attempt(now, &mut failures, &free)?;
        for (key, f) in keys.iter().zip(failures) {
            state.failures.insert(key.clone(), f);
        }
        Ok(Attempt {
            username: username.to_owned(),
            keys,
            shared: false,
        })
    }

    /// The password was right: the attempt's counts start afresh, and the address and the device
    /// (`device`, the cookie value the caller now holds) become known places of the user.
    pub async fn succeeded(&self, attempt: Attempt, address: IpAddr, device: &str) {
        let address = switchboard_web::limits::limit_key(address);
        if attempt.shared
            && let Some(shared) = &self.shared
        {
            let places = [Place::Address(address), Place::Device(device.to_owned())];
            let recorded = shared
                .login_succeeded(
                    attempt.keys.iter().map(Key::shared_name).collect(),
                    attempt.username.clone(),
                    places.iter().map(Place::shared_name).collect(),
                    KNOWN_FOR,
                    KNOWN_PER_USER,
                )
                .await;
            match recorded {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "shared login limits unavailable; remembered here alone");
                }
            }
        }
        self.succeeded_here(attempt, address, device);
    }

    fn succeeded_here(&self, attempt: Attempt, address: IpAddr, device: &str) {
        let now = Instant::now();
        let mut state = self.state();
        for key in attempt.keys {
            state.failures.remove(&key);
        }
        let places = state.known.entry(attempt.username).or_default();
        for place in [Place::Address(address), Place::Device(device.to_owned())] {
            places.retain(|(known, until)| *known != place && *until > now);
            places.push((place, now + KNOWN_FOR));
        }
        if places.len() > KNOWN_PER_USER {
            let extra = places.len() - KNOWN_PER_USER;
            places.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        [192, 0, 2, last].into()
    }

    /// Whether `user` may try a password now from `ip(last)`, bringing `device`.
    fn may_try(limiter: &LoginLimiter, user: &str, last: u8, device: Option<&str>) -> bool {
        limiter.attempt_here(user, ip(last), device).is_ok()
    }

    #[test]
    fn five_failures_make_the_username_wait_from_unknown_places() {
        let limiter = LoginLimiter::default();
        for _ in 0..FREE_PER_USER {
            assert!(may_try(&limiter, "lan", 1, None));
        }
        let wait = limiter
            .attempt_here("lan", ip(1), None)
            .expect_err("must wait");
        assert!((1..=30).contains(&wait), "{wait}");
        // From another unknown address too: the guesser may be anywhere.
        assert!(!may_try(&limiter, "lan", 2, None));
        assert!(may_try(&limiter, "minh", 2, None));
    }

    #[test]
    fn a_known_device_or_address_is_not_locked_out_by_failures_elsewhere() {
        let limiter = LoginLimiter::default();
        let attempt = limiter.attempt_here("lan", ip(1), None).expect("first");
        limiter.succeeded_here(attempt, ip(1), "device-of-lan");
        // An attacker elsewhere makes the username wait…
        for _ in 0..FREE_PER_USER {
            let _ = limiter.attempt_here("lan", ip(66), None);
        }
        assert!(!may_try(&limiter, "lan", 66, None));
        // …but Lan's own browser (from a new address, say a phone network) and her usual address
        // are counted on their own.
        assert!(may_try(&limiter, "lan", 9, Some("device-of-lan")));
        assert!(may_try(&limiter, "lan", 1, None));
        // A stolen guess at the device value does not help.
        assert!(!may_try(&limiter, "lan", 66, Some("guessed")));
    }

    #[test]
    fn known_places_are_kept_per_user_and_bounded() {
        let limiter = LoginLimiter::default();
        for i in 0..100u8 {
            let attempt = limiter.attempt_here("lan", ip(i), None).expect("attempt");
            limiter.succeeded_here(attempt, ip(i), &format!("device-{i}"));
        }
        let state = limiter.state();
        assert_eq!(state.known.len(), 1);
        assert_eq!(state.known["lan"].len(), KNOWN_PER_USER);
        drop(state);
        // The newest are the ones kept.
        assert!(may_try(&limiter, "lan", 3, Some("device-99")));
    }

    #[test]
    fn waits_grow_and_stay_bounded() {
        assert_eq!(wait_after(0), Duration::from_secs(30));
        assert_eq!(wait_after(1), Duration::from_secs(60));
        assert_eq!(wait_after(4), Duration::from_secs(480));
        assert_eq!(wait_after(5), LONGEST_WAIT);
        assert_eq!(wait_after(40), LONGEST_WAIT);
    }

    #[test]
    fn an_address_guessing_many_usernames_must_wait() {
        let limiter = LoginLimiter::default();
        for i in 0..FREE_PER_ADDRESS {
            assert!(
                limiter
                    .attempt_here(&format!("user{i}"), ip(7), None)
                    .is_ok()
            );
        }
        assert!(!may_try(&limiter, "someone", 7, None));
        assert!(may_try(&limiter, "someone", 8, None));
    }
}
