//! Slows down password guessing: after repeated failures for one username, or from one address, logins
//! are refused for a while (429 with `Retry-After`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(300);
const MAX_FAILURES_PER_USER: u32 = 5;
const MAX_FAILURES_PER_ADDRESS: u32 = 20;

#[derive(Clone, Default)]
pub struct LoginLimiter {
    failures: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
}

fn keys(username: &str, address: IpAddr) -> [(String, u32); 2] {
    [
        (
            format!("user:{}", username.trim().to_lowercase()),
            MAX_FAILURES_PER_USER,
        ),
        (format!("ip:{address}"), MAX_FAILURES_PER_ADDRESS),
    ]
}

impl LoginLimiter {
    /// `Err(seconds)` when this login must wait.
    pub fn check(&self, username: &str, address: IpAddr) -> Result<(), u64> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        failures.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        for (key, max) in keys(username, address) {
            if let Some((count, since)) = failures.get(&key)
                && *count >= max
            {
                return Err(WINDOW
                    .saturating_sub(now.duration_since(*since))
                    .as_secs()
                    .max(1));
            }
        }
        Ok(())
    }

    pub fn failed(&self, username: &str, address: IpAddr) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, _) in keys(username, address) {
            failures.entry(key).or_insert((0, Instant::now())).0 += 1;
        }
    }

    pub fn succeeded(&self, username: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&format!("user:{}", username.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_username_only() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..MAX_FAILURES_PER_USER {
            assert!(limiter.check("lan", address).is_ok());
            limiter.failed("lan", address);
        }
        assert!(limiter.check("LAN", address).is_err());
        assert!(limiter.check("minh", address).is_ok());
    }
}
