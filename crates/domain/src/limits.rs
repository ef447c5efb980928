//! The two shapes every limit takes, written once for the HTTP layer and the sockets: a token bucket
//! (so many a second, so many at once) and a count of things held per key (connections per address,
//! requests in progress per token, sockets per user) given back when its guard is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst }
    }

    /// No limit: for benchmarks that measure the server, not its limiter.
    pub const UNLIMITED: Self = Self::new(f64::INFINITY, f64::INFINITY);

    pub fn is_unlimited(&self) -> bool {
        self.per_second.is_infinite()
    }
}

/// A token bucket: full at first, one token per request, refilled at its rate up to its burst.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
    rate: Rate,
}

impl TokenBucket {
    pub fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.burst,
            at: now,
            rate,
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.burst);
        self.at = now;
    }

    /// Whether a request may go now (without taking a token); `Err(seconds to wait)` if not.
    pub fn check(&mut self, now: Instant) -> Result<(), u64> {
        self.refill(now);
        if self.tokens >= 1.0 {
            return Ok(());
        }
        Err(Self::seconds_until_one(self.tokens, self.rate))
    }

    /// Takes a token (after a successful [`TokenBucket::check`]), or, for a penalty, one down to empty.
    pub fn spend(&mut self) {
        self.tokens = (self.tokens - 1.0).max(0.0);
    }

    /// [`TokenBucket::check`] and [`TokenBucket::spend`] together.
    pub fn take(&mut self, now: Instant) -> Result<(), u64> {
        self.check(now)?;
        self.spend();
        Ok(())
    }

    /// Sets what the bucket holds now: what a bucket shared with other nodes said it holds.
    pub fn set_level(&mut self, tokens: f64, now: Instant) {
        self.tokens = tokens.clamp(0.0, self.rate.burst);
        self.at = now;
    }

    /// Seconds until a bucket holding `tokens` has one again (at least one, at most an hour).
    pub fn seconds_until_one(tokens: f64, rate: Rate) -> u64 {
        ((1.0 - tokens) / rate.per_second).ceil().clamp(1.0, 3600.0) as u64
    }

    /// Whether the bucket has refilled to its burst: it holds nothing a new one would not.
    pub fn is_full(&self, now: Instant) -> bool {
        let mut refilled = *self;
        refilled.refill(now);
        refilled.tokens >= self.rate.burst
    }
}

/// How many things each key holds now, each given back when its [`Held`] guard is dropped.
#[derive(Debug)]
pub struct CountedSlots<K: Eq + Hash> {
    held: Mutex<HashMap<K, usize>>,
}

impl<K: Eq + Hash> Default for CountedSlots<K> {
    fn default() -> Self {
        Self {
            held: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> CountedSlots<K> {
    /// One more for `key`, unless it holds `max` already.
    pub fn take(self: &Arc<Self>, key: K, max: usize) -> Option<Held<K>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= max {
            if *count == 0 {
                held.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(Held {
            slots: Arc::clone(self),
            key,
        })
    }

    /// What `key` holds now.
    pub fn held(&self, key: &K) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

/// One slot of a key, given back on drop.
#[derive(Debug)]
pub struct Held<K: Eq + Hash> {
    slots: Arc<CountedSlots<K>>,
    key: K,
}

impl<K: Eq + Hash> Drop for Held<K> {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(Rate::new(10.0, 2.0), start);
        assert!(bucket.take(start).is_ok());
        assert!(bucket.take(start).is_ok());
        assert_eq!(bucket.take(start), Err(1));
        assert!(!bucket.is_full(start));
        let later = start + Duration::from_millis(100);
        assert!(bucket.take(later).is_ok());
        assert!(bucket.is_full(start + Duration::from_secs(1)));
    }

    #[test]
    fn slots_are_given_back_when_dropped_and_leave_no_key_behind() {
        let slots: Arc<CountedSlots<&str>> = Arc::default();
        let first = slots.take("a", 2).expect("first");
        let _second = slots.take("a", 2).expect("second");
        assert!(slots.take("a", 2).is_none());
        assert!(slots.take("b", 2).is_some());
        drop(first);
        assert_eq!(slots.held(&"a"), 1);
        assert!(slots.take("z", 0).is_none());
        assert_eq!(slots.held(&"z"), 0);
        drop(_second);
        assert!(slots.held.lock().expect("lock").is_empty());
    }
}
