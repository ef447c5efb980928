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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
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

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    wait_until: Instant,
}

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
    pub checks: Arc<Semaphore>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
        }
    }
}

/// An attempt let through: what it was counted against, to clear on success.
#[derive(Debug)]
pub struct Attempt {
    username: String,
    keys: Vec<Key>,
}

fn wait_after(failures_past_free: u32) -> Duration {
    FIRST_WAIT
        .saturating_mul(1 << failures_past_free.min(10))
        .min(LONGEST_WAIT)
}

impl LoginLimiter {
    /// The counts and known places, even after a panic elsewhere poisoned the lock: they only slow
    /// logins down, and a stale count must not stop everyone from logging in.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an attempt for `username` (already normalised) from `address` with the device cookie
    /// `device`; `Err(seconds to wait)` when it must wait.
    pub fn attempt(
        &self,
        username: &str,
        address: IpAddr,
        device: Option<&str>,
    ) -> Result<Attempt, u64> {
        let now = Instant::now();
        let address = switchboard_web::limits::limit_key(address);
        let mut state = self.state();
        if state.failures.len() >= MAX_ENTRIES {
            state
                .failures
                .retain(|_, f| now.duration_since(f.last) < WINDOW || f.wait_until > now);
            if state.failures.len() >= MAX_ENTRIES {
                // Under a flood from everywhere at once: slow everyone rather than grow without end.
                return Err(FIRST_WAIT.as_secs());
            }
        }
        let places = device
            .map(|d| Place::Device(d.to_owned()))
            .into_iter()
            .chain([Place::Address(address)]);
        let known_places = state.known.get(username);
        let known = places.into_iter().find(|place| {
            known_places.is_some_and(|places| {
                places
                    .iter()
                    .any(|(known, until)| known == place && *until > now)
            })
        });
        let keys: Vec<(Key, u32)> = match known {
            Some(place) => vec![(Key::Known(username.to_owned(), place), FREE_PER_KNOWN_PLACE)],
            None => vec![
                (Key::User(username.to_owned()), FREE_PER_USER),
                (Key::Address(address), FREE_PER_ADDRESS),
            ],
        };
        for (key, _) in &keys {
            if let Some(f) = state.failures.get(key)
                && f.wait_until > now
            {
                return Err(f.wait_until.duration_since(now).as_secs().max(1));
            }
        }
        for (key, free) in &keys {
            let entry = state.failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                wait_until: now,
            });
            if now.duration_since(entry.last) >= WINDOW {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count >= *free {
                entry.wait_until = now + wait_after(entry.count - free);
            }
        }
        Ok(Attempt {
            username: username.to_owned(),
            keys: keys.into_iter().map(|(key, _)| key).collect(),
        })
    }

    /// The password was right: the attempt's counts start afresh, and the address and the device
    /// (`device`, the cookie value the caller now holds) become known places of the user.
    pub fn succeeded(&self, attempt: Attempt, address: IpAddr, device: &str) {
        let now = Instant::now();
        let address = switchboard_web::limits::limit_key(address);
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

    #[test]
    fn five_failures_make_the_username_wait_from_unknown_places() {
        let limiter = LoginLimiter::default();
        for _ in 0..FREE_PER_USER {
            assert!(limiter.attempt("lan", ip(1), None).is_ok());
        }
        let wait = limiter.attempt("lan", ip(1), None).expect_err("must wait");
        assert!((1..=30).contains(&wait), "{wait}");
        // From another unknown address too: the guesser may be anywhere.
        assert!(limiter.attempt("lan", ip(2), None).is_err());
        assert!(limiter.attempt("minh", ip(2), None).is_ok());
    }

    #[test]
    fn a_known_device_or_address_is_not_locked_out_by_failures_elsewhere() {
        let limiter = LoginLimiter::default();
        let attempt = limiter.attempt("lan", ip(1), None).expect("first");
        limiter.succeeded(attempt, ip(1), "device-of-lan");
        // An attacker elsewhere makes the username wait…
        for _ in 0..FREE_PER_USER {
            let _ = limiter.attempt("lan", ip(66), None);
        }
        assert!(limiter.attempt("lan", ip(66), None).is_err());
        // …but Lan's own browser (from a new address, say a phone network) and her usual address
        // are counted on their own.
        assert!(limiter.attempt("lan", ip(9), Some("device-of-lan")).is_ok());
        assert!(limiter.attempt("lan", ip(1), None).is_ok());
        // A stolen guess at the device value does not help.
        assert!(limiter.attempt("lan", ip(66), Some("guessed")).is_err());
    }

    #[test]
    fn known_places_are_kept_per_user_and_bounded() {
        let limiter = LoginLimiter::default();
        for i in 0..100u8 {
            let attempt = limiter.attempt("lan", ip(i), None).expect("attempt");
            limiter.succeeded(attempt, ip(i), &format!("device-{i}"));
        }
        let state = limiter.state();
        assert_eq!(state.known.len(), 1);
        assert_eq!(state.known["lan"].len(), KNOWN_PER_USER);
        drop(state);
        // The newest are the ones kept.
        assert!(limiter.attempt("lan", ip(3), Some("device-99")).is_ok());
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
            assert!(limiter.attempt(&format!("user{i}"), ip(7), None).is_ok());
        }
        assert!(limiter.attempt("someone", ip(7), None).is_err());
        assert!(limiter.attempt("someone", ip(8), None).is_ok());
    }
}
