//! Request rate limits: a token bucket per caller, one per address for everything it sends, and one
//! per address for requests whose token turns out unknown (probing for tokens). Refusals are `429`
//! with `Retry-After`. Nothing here reads the database: a token gets a bucket of its own (at its kind's
//! rate, named by its prefix) only once [`Authenticated`](crate::Authenticated) has found it valid;
//! until then its requests count as anonymous ones from its address, so made-up tokens buy nothing and
//! fill no memory.

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
use std::time::Instant;
use switchboard_domain::limits::{CountedSlots, Held, TokenBucket};

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
    sweep_at: usize,
}

/// A request in progress, counted against its token until dropped.
type InFlight = Held<Key>;

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
        let client = limit_key(client);
        let mut buckets = self.lock();
        if buckets.map.len() >= buckets.sweep_at {
            buckets.map.retain(|_, bucket| !bucket.is_full(now));
            buckets.sweep_at = (buckets.map.len() * 2).max(SWEEP_AT);
        }
        // An address that keeps presenting unknown tokens is refused any token until it slows down.
        if token.is_some()
            && let Some(failures) = buckets.map.get_mut(&Key::FailedAuth(client))
        {
            failures.check(now).map_err(|retry_after_seconds| Refusal {
                retry_after_seconds,
                limit: "failed authentications from this address",
            })?;
        }
        // A token has its own allowance once found valid; until then it is an anonymous request.
        let known = token
            .map(|t| self.token_key(t))
            .filter(|key| buckets.map.contains_key(key));
        let (caller, kind) = match (known, token) {
            (Some(key), Some(token)) => (key, CallerKind::of_token(token)),
            _ => (Key::Anonymous(client), CallerKind::Anonymous),
        };
        take_all(
            &mut buckets.map,
            &[
                (
                    Key::Address(client),
                    self.rates.address,
                    "requests from this address",
                ),
                (caller, kind.rate(&self.rates), kind.describe()),
            ],
            now,
        )
    }

    /// Counts a request against its address only.
    fn admit_address(&self, client: IpAddr, now: Instant) -> Result<(), Refusal> {
        let key = Key::Address(limit_key(client));
        let rate = self.rates.address;
        take_all(
            &mut self.lock().map,
            &[(key, rate, "requests from this address")],
            now,
        )
    }

    /// `token` was found valid: from now on it is counted on its own, at its kind's rate.
    pub fn authenticated(&self, token: &str, now: Instant) {
        let rate = CallerKind::of_token(token).rate(&self.rates);
        if rate.is_unlimited() {
            return;
        }
        let key = self.token_key(token);
        self.lock().map.entry(key).or_insert_with(|| {
            let mut bucket = TokenBucket::full(rate, now);
            bucket.spend();
            bucket
        });
    }

    /// Counts a request of `token` in progress, or `None` when the token has as many as it may.
    fn start(&self, token: &str) -> Option<InFlight> {
        self.in_flight
            .take(self.token_key(token), self.rates.in_flight_per_token)
    }

    /// A token was refused as unknown or revoked: count a failure for the address, and forget the
    /// token if it had a bucket (it was revoked).
    pub fn failed_authentication(&self, client: IpAddr, token: &str, now: Instant) {
        let client = limit_key(client);
        let rate = self.rates.failed_auth;
        let key = self.token_key(token);
        let mut buckets = self.lock();
        buckets.map.remove(&key);
        if rate.is_unlimited() {
            return;
        }
        let bucket = buckets
            .map
            .entry(Key::FailedAuth(client))
            .or_insert(TokenBucket::full(rate, now));
        let _ = bucket.check(now);
        bucket.spend();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

/// Takes a token from every bucket of `checks`, or from none when one of them is empty.
fn take_all(
    buckets: &mut HashMap<Key, TokenBucket>,
    checks: &[(Key, Rate, &'static str)],
    now: Instant,
) -> Result<(), Refusal> {
    for &(key, rate, limit) in checks.iter().filter(|(_, rate, _)| !rate.is_unlimited()) {
        buckets
            .entry(key)
            .or_insert(TokenBucket::full(rate, now))
            .check(now)
            .map_err(|retry_after_seconds| Refusal {
                retry_after_seconds,
                limit,
            })?;
    }
    for (key, _, _) in checks.iter().filter(|(_, rate, _)| !rate.is_unlimited()) {
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.spend();
        }
    }
    Ok(())
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
    let admitted = if open_session {
        limiter.admit_address(client, Instant::now())
    } else {
        limiter.admit(client, token.as_deref(), Instant::now())
    };
    if let Err(refusal) = admitted {
        tracing::debug!(%client, limit = refusal.limit, "rate limited");
        return ApiError::RateLimited {
            retry_after_seconds: refusal.retry_after_seconds,
            limit: refusal.limit,
        }
        .into_response();
    }
    let in_flight = match token.as_deref() {
        Some(token) if CallerKind::of_token(token).bounded_in_flight() => {
            match limiter.start(token) {
                Some(in_flight) => Some(in_flight),
                None => {
                    return ApiError::RateLimited {
                        retry_after_seconds: 1,
                        limit: "requests in progress at once for this token",
                    }
                    .into_response();
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
        match outcome.get() {
            VALID => limiter.authenticated(&token, Instant::now()),
            UNKNOWN => limiter.failed_authentication(client, &token, Instant::now()),
            _ => {}
        }
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
        let client = ip("192.0.2.1");
        // Found valid once (the first request): from then on the session has its own bucket.
        limiter.authenticated("sbs_a", start);
        limiter.authenticated("sbs_b", start);
        for _ in 0..4 {
            assert!(limiter.admit(client, Some("sbs_a"), start).is_ok());
        }
        let refusal = limiter
            .admit(client, Some("sbs_a"), start)
            .expect_err("burst spent");
        assert_eq!(refusal.retry_after_seconds, 1);
        // Another session, even from the same address, has its own allowance.
        assert!(limiter.admit(client, Some("sbs_b"), start).is_ok());
        // A tenth of a second later, one more request is allowed.
        let later = start + Duration::from_millis(100);
        assert!(limiter.admit(client, Some("sbs_a"), later).is_ok());
        assert!(limiter.admit(client, Some("sbs_a"), later).is_err());
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
    fn a_made_up_token_is_an_anonymous_request() {
        let limiter = RateLimiter::new(RateLimits {
            anonymous: Rate::new(0.1, 3.0),
            ..RateLimits::default()
        });
        let now = Instant::now();
        let client = ip("203.0.113.5");
        // Each request with a new, never valid, token spends the address's anonymous allowance.
        for i in 0..3 {
            let token = format!("sbs_fake{i}");
            assert!(limiter.admit(client, Some(&token), now).is_ok());
        }
        assert!(limiter.admit(client, Some("sbs_fake9"), now).is_err());
        assert!(limiter.admit(client, None, now).is_err());
    }

    #[test]
    fn addresses_of_one_ipv6_network_share_their_limits() {
        let limiter = RateLimiter::new(RateLimits {
            anonymous: Rate::new(0.1, 2.0),
            ..RateLimits::default()
        });
        let now = Instant::now();
        assert!(limiter.admit(ip("2001:db8::1"), None, now).is_ok());
        assert!(limiter.admit(ip("2001:db8::2"), None, now).is_ok());
        assert!(limiter.admit(ip("2001:db8::3"), None, now).is_err());
        assert!(limiter.admit(ip("2001:db8:0:1::1"), None, now).is_ok());
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
