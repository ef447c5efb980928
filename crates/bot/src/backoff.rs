//! Waits between attempts: exponential, capped, with jitter so that a fleet of bots that lost the
//! server together does not come back in lockstep.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1`: `min · 2^attempt`, capped at `max`, then a random
    /// 50–100 % of that ("equal jitter": never zero, never in step).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .min
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max)
            .max(Duration::from_millis(1));
        let half = ceiling / 2;
        half + ceiling.mul_f64(fastrand::f64() * 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_jitters() {
        let backoff = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..100 {
            let first = backoff.delay(0);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let later = backoff.delay(10);
            assert!((1000..=2000).contains(&later.as_millis()), "{later:?}");
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| backoff.delay(3).as_micros()).collect();
        assert!(spread.len() > 10, "jitter spreads the waits");
    }
}
