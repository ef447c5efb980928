//! Slows down password guessing. Every attempt counts *before* the password is checked, so parallel
//! requests cannot slip past the limit; after 5 attempts for one username, or 20 from one address,
//! within 5 minutes, logins are refused for a while (429 with `Retry-After`). A success clears the
//! username's count. Password checks also run at most a few at a time: each argon2 check takes ~19 MiB,
//! and a flood of them must not exhaust memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const WINDOW: Duration = Duration::from_secs(300);
const MAX_ATTEMPTS_PER_USER: u32 = 5;
const MAX_ATTEMPTS_PER_ADDRESS: u32 = 20;
/// Password checks running at once.
pub const CONCURRENT_CHECKS: usize = 4;

#[derive(Clone)]
pub struct LoginLimiter {
    attempts: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
    pub checks: Arc<Semaphore>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            attempts: Arc::default(),
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
        }
    }
}

fn keys(username: &str, address: IpAddr) -> [(String, u32); 2] {
    [
        (
            format!("user:{}", username.trim().to_lowercase()),
            MAX_ATTEMPTS_PER_USER,
        ),
        (format!("ip:{address}"), MAX_ATTEMPTS_PER_ADDRESS),
    ]
}

impl LoginLimiter {
    /// Counts an attempt; `Err(seconds to wait)` when the limit is already reached.
    pub fn attempt(&self, username: &str, address: IpAddr) -> Result<(), u64> {
        let mut attempts = self
            .attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        attempts.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        let keys = keys(username, address);
        for (key, max) in &keys {
            if let Some((count, since)) = attempts.get(key)
                && count >= max
            {
                return Err(WINDOW
                    .saturating_sub(now.duration_since(*since))
                    .as_secs()
                    .max(1));
            }
        }
        for (key, _) in keys {
            attempts.entry(key).or_insert((0, now)).0 += 1;
        }
        Ok(())
    }

    /// The password was right: the username starts afresh.
    pub fn succeeded(&self, username: &str) {
        let mut attempts = self
            .attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        attempts.remove(&format!("user:{}", username.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_attempts_lock_the_username_only() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..MAX_ATTEMPTS_PER_USER {
            assert!(limiter.attempt("lan", address).is_ok());
        }
        assert!(limiter.attempt("LAN", address).is_err());
        assert!(limiter.attempt("minh", address).is_ok());
        // Another user's success does not unlock the locked one.
        limiter.succeeded("minh");
        assert!(limiter.attempt("lan", address).is_err());
    }

    #[test]
    fn a_success_clears_the_username() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..10 {
            assert!(limiter.attempt("lan", address).is_ok());
            limiter.succeeded("lan");
        }
    }
}
