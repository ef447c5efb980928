//! Request rate limits: a token bucket per caller (its token, or its address when it has none), one per
//! address for everything it sends, and one per address for requests that fail authentication (probing
//! for tokens). Refusals are `429` with `Retry-After`. Nothing here reads the database: the kind of
//! caller is the token's prefix, and a token that turns out unknown is forgotten at once.

use crate::ApiError;
use crate::client::ClientAddr;
use crate::limits::{Rate, RateLimits};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

    fn describe(self) -> &'static str {
        match self {
            Self::Anonymous => "requests without a token from this address",
            Self::User => "requests of this session",
            Self::Integrator => "requests of this API token",
            Self::Bot => "requests of this bot token",
            Self::PhoneSystem => "requests of this phone-system token",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    /// A token, by a keyed hash of it: the limiter keeps no secrets.
    Token(u64),
    Anonymous(IpAddr),
    FailedAuth(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
    }

    /// Seconds until one request is allowed again.
    fn wait(&self, rate: Rate) -> u64 {
        let missing = (1.0 - self.tokens).max(0.0);
        (missing / rate.per_second).ceil().clamp(1.0, 3600.0) as u64
    }
}

/// Buckets kept before idle (full) ones are swept away.
const SWEEP_AT: usize = 10_000;

pub struct RateLimiter {
    rates: RateLimits,
    buckets: Mutex<HashMap<Key, Bucket>>,
    /// Requests in progress per token (by the same keyed hash).
    in_flight: Mutex<HashMap<Key, usize>>,
    hasher: RandomState,
}

/// A request in progress, counted against its token until dropped.
pub struct InFlight {
    limiter: Arc<RateLimiter>,
    key: Key,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut in_flight = self
            .limiter
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.key);
            }
        }
    }
}

/// Why a request was refused: which limit, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after_seconds: u64,
    pub limit: &'static str,
}

impl RateLimiter {
    pub fn new(rates: RateLimits) -> Arc<Self> {
        Arc::new(Self {
            rates,
            buckets: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
        })
    }

    fn token_key(&self, token: &str) -> Key {
        Key::Token(self.hasher.hash_one(token))
    }

    /// Counts one request of `client` with `token`; refuses it when any of its buckets is empty.
    pub fn admit(&self, client: IpAddr, token: Option<&str>, now: Instant) -> Result<(), Refusal> {
        let kind = token.map_or(CallerKind::Anonymous, CallerKind::of_token);
        let caller = match (kind, token) {
            (CallerKind::Anonymous, _) | (_, None) => Key::Anonymous(client),
            (_, Some(token)) => self.token_key(token),
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            self.sweep(&mut buckets, now);
        }
        // An address that keeps presenting unknown tokens is refused any token until it slows down.
        if token.is_some()
            && let Some(failures) = buckets.get_mut(&Key::FailedAuth(client))
        {
            failures.refill(self.rates.failed_auth, now);
            if failures.tokens < 1.0 {
                return Err(Refusal {
                    retry_after_seconds: failures.wait(self.rates.failed_auth),
                    limit: "failed authentications from this address",
                });
            }
        }
        let checks = [
            (
                Key::Address(client),
                self.rates.address,
                "requests from this address",
            ),
            (caller, kind.rate(&self.rates), kind.describe()),
        ];
        for (key, rate, limit) in checks {
            if rate.is_unlimited() {
                continue;
            }
            let bucket = buckets.entry(key).or_insert(Bucket {
                tokens: rate.burst,
                at: now,
            });
            bucket.refill(rate, now);
            if bucket.tokens < 1.0 {
                return Err(Refusal {
                    retry_after_seconds: bucket.wait(rate),
                    limit,
                });
            }
        }
        for (key, rate, _) in checks {
            if let Some(bucket) = buckets.get_mut(&key).filter(|_| !rate.is_unlimited()) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// Counts a request of `token` in progress, or `None` when the token has as many as it may.
    pub fn start(self: &Arc<Self>, token: &str) -> Option<InFlight> {
        let key = self.token_key(token);
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = in_flight.entry(key).or_insert(0);
        if *count >= self.rates.in_flight_per_token {
            return None;
        }
        *count += 1;
        Some(InFlight {
            limiter: Arc::clone(self),
            key,
        })
    }

    /// `token` was refused as unknown or revoked: count a failure for the address, and forget the
    /// token's bucket (random tokens must not fill memory).
    pub fn failed_authentication(&self, client: IpAddr, token: &str, now: Instant) {
        let rate = self.rates.failed_auth;
        let key = self.token_key(token);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets.remove(&key);
        if rate.is_unlimited() {
            return;
        }
        let bucket = buckets.entry(Key::FailedAuth(client)).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        bucket.refill(rate, now);
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
    }

    /// Drops buckets that have refilled: they hold nothing a new bucket would not.
    fn sweep(&self, buckets: &mut HashMap<Key, Bucket>, now: Instant) {
        let rates = &self.rates;
        buckets.retain(|key, bucket| {
            let rate = match key {
                Key::Address(_) => rates.address,
                Key::Anonymous(_) => rates.anonymous,
                Key::FailedAuth(_) => rates.failed_auth,
                // The kind is unknown here; the slowest refill keeps a busy token's count.
                Key::Token(_) => Rate::new(
                    rates.user.per_second.min(rates.integrator.per_second),
                    rates.user.burst.max(rates.integrator.burst),
                ),
            };
            let mut refilled = *bucket;
            refilled.refill(rate, now);
            refilled.tokens < rate.burst
        });
    }

    pub fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The token a request carries, wherever it carries it: the `Authorization` header, the session
/// cookie, the `token` query parameter (Socket.IO clients), or the CTI webhook's path.
fn token_of(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(token) =
        crate::auth::bearer_in(headers).or_else(|| crate::auth::session_cookie_in(headers))
    {
        return Some(token.to_owned());
    }
    let uri = request.uri();
    if let Some(rest) = uri.path().split("/cti/").nth(1) {
        return rest
            .split('/')
            .next()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
    }
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Requests of a Socket.IO session already open (they name it with `sid`): its handshake was counted,
/// and a polling client makes a request per batch of events it receives.
fn is_open_socket_session(request: &Request) -> bool {
    request.uri().path().starts_with("/socket.io/")
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("sid=")))
}

/// The middleware: `axum::middleware::from_fn_with_state(limiter, rate_limit)`.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    client: ClientAddr,
    request: Request,
    next: Next,
) -> Response {
    if is_open_socket_session(&request) {
        return next.run(request).await;
    }
    let token = token_of(&request).filter(|t| t.len() <= switchboard_storage::MAX_TOKEN_LENGTH);
    if let Err(refusal) = limiter.admit(client.0, token.as_deref(), Instant::now()) {
        tracing::debug!(client = %client.0, limit = refusal.limit, "rate limited");
        return ApiError::RateLimited {
            retry_after_seconds: refusal.retry_after_seconds,
            limit: refusal.limit,
        }
        .into_response();
    }
    let in_flight = match token.as_deref() {
        Some(token) => match limiter.start(token) {
            Some(in_flight) => Some(in_flight),
            None => {
                return ApiError::RateLimited {
                    retry_after_seconds: 1,
                    limit: "requests in progress at once for this token",
                }
                .into_response();
            }
        },
        None => None,
    };
    let response = next.run(request).await;
    drop(in_flight);
    if response.status() == StatusCode::UNAUTHORIZED
        && let Some(token) = token
    {
        limiter.failed_authentication(client.0, &token, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn a_caller_gets_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(RateLimits {
            user: Rate::new(10.0, 5.0),
            ..RateLimits::default()
        });
        let start = Instant::now();
        for _ in 0..5 {
            assert!(limiter.admit(ip("192.0.2.1"), Some("sbs_a"), start).is_ok());
        }
        let refusal = limiter
            .admit(ip("192.0.2.1"), Some("sbs_a"), start)
            .expect_err("burst spent");
        assert_eq!(refusal.retry_after_seconds, 1);
        // Another session, even from the same address, has its own allowance.
        assert!(limiter.admit(ip("192.0.2.1"), Some("sbs_b"), start).is_ok());
        // A tenth of a second later, one more request is allowed.
        let later = start + Duration::from_millis(100);
        assert!(limiter.admit(ip("192.0.2.1"), Some("sbs_a"), later).is_ok());
        assert!(
            limiter
                .admit(ip("192.0.2.1"), Some("sbs_a"), later)
                .is_err()
        );
    }

    #[test]
    fn probing_for_tokens_is_refused_after_a_few_failures() {
        let limiter = RateLimiter::new(RateLimits::default());
        let now = Instant::now();
        let prober = ip("198.51.100.7");
        let burst = RateLimits::default().failed_auth.burst as usize;
        for i in 0..burst {
            let token = format!("sba_guess{i}");
            assert!(limiter.admit(prober, Some(&token), now).is_ok());
            limiter.failed_authentication(prober, &token, now);
        }
        let refusal = limiter
            .admit(prober, Some("sba_another"), now)
            .expect_err("probing");
        assert!(refusal.limit.contains("failed"), "{refusal:?}");
        // Unknown tokens leave nothing behind but the address's counts.
        assert!(limiter.len() <= 3, "{}", limiter.len());
        // Another address is not affected.
        assert!(
            limiter
                .admit(ip("198.51.100.8"), Some("sba_x"), now)
                .is_ok()
        );
    }

    #[test]
    fn a_token_has_a_bounded_number_of_requests_in_progress() {
        let limiter = RateLimiter::new(RateLimits {
            in_flight_per_token: 2,
            ..RateLimits::default()
        });
        let first = limiter.start("sbs_a").expect("first");
        let _second = limiter.start("sbs_a").expect("second");
        assert!(limiter.start("sbs_a").is_none());
        assert!(limiter.start("sbs_b").is_some());
        drop(first);
        assert!(limiter.start("sbs_a").is_some());
    }

    #[test]
    fn the_kind_of_caller_is_its_token_prefix() {
        assert_eq!(CallerKind::of_token("sbb_1"), CallerKind::Bot);
        assert_eq!(CallerKind::of_token("sbp_1"), CallerKind::PhoneSystem);
        assert_eq!(CallerKind::of_token("sba_1"), CallerKind::Integrator);
        assert_eq!(CallerKind::of_token("sbs_1"), CallerKind::User);
        assert_eq!(CallerKind::of_token("x"), CallerKind::Anonymous);
        assert_eq!(CallerKind::of_token("é"), CallerKind::Anonymous);
    }

    #[test]
    fn idle_buckets_are_swept() {
        let limiter = RateLimiter::new(RateLimits::default());
        let start = Instant::now();
        for i in 0..SWEEP_AT {
            let client = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert!(limiter.admit(client, None, start).is_ok());
        }
        assert!(limiter.len() >= SWEEP_AT);
        // A minute later every one of them has refilled: the next request sweeps them away.
        let later = start + Duration::from_secs(60);
        assert!(limiter.admit(ip("192.0.2.50"), None, later).is_ok());
        assert!(limiter.len() <= 2, "{}", limiter.len());
    }
}
