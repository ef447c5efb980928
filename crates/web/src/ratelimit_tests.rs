use super::*;
use std::time::Duration;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// A limiter with the default limits but for what `change` sets.
fn limiter_with(change: impl FnOnce(&mut RateLimits)) -> Arc<RateLimiter> {
    let mut limits = RateLimits::default();
    change(&mut limits);
    RateLimiter::new(limits)
}

#[test]
fn a_caller_gets_its_burst_then_its_rate() {
    let limiter = limiter_with(|limits| limits.user = Rate::new(10.0, 5.0));
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
    let limiter = limiter_with(|limits| limits.in_flight_per_token = 2);
    let first = limiter.start("sbs_a").expect("first");
    let _second = limiter.start("sbs_a").expect("second");
    assert!(limiter.start("sbs_a").is_none());
    assert!(limiter.start("sbs_b").is_some());
    drop(first);
    assert!(limiter.start("sbs_a").is_some());
}

#[test]
fn a_made_up_token_is_an_anonymous_request() {
    let limiter = limiter_with(|limits| limits.anonymous = Rate::new(0.1, 3.0));
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
    let limiter = limiter_with(|limits| limits.anonymous = Rate::new(0.1, 2.0));
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
fn a_node_follows_what_the_shared_buckets_hold() {
    let limiter = limiter_with(|limits| limits.anonymous = Rate::new(0.1, 5.0));
    let now = Instant::now();
    let client = ip("192.0.2.9");
    let checks = limiter.checks(client, None);
    // Other nodes spent the caller's allowance: this node refuses it without asking again.
    limiter.sync(&checks, &[4000.0, 0.0], now);
    // A full shared bucket needs no bucket here.
    assert_eq!(limiter.len(), 1);
    let refusal = limiter
        .check_local(&checks, now)
        .expect_err("spent elsewhere");
    assert_eq!(refusal.retry_after_seconds, 10);
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

/// The checks of a request of `token` (found valid at `now`) from `client`, and which of them is
/// the token's own bucket.
fn token_checks(
    limiter: &RateLimiter,
    token: &str,
    client: &str,
    now: Instant,
) -> (Vec<Check>, usize) {
    limiter.authenticated(token, now);
    let checks = limiter.checks(ip(client), Some(token));
    let caller = checks
        .iter()
        .position(|c| matches!(c.key, Key::Token(_)))
        .expect("the token's own bucket");
    (checks, caller)
}

/// The takes of a plan that waits for nothing.
fn takes(planned: Planned) -> Vec<Take> {
    match planned {
        Planned::Takes(takes) => takes,
        Planned::WaitUntil(..) => panic!("the plan waits for a refill"),
    }
}

#[test]
fn a_lease_is_spent_here_until_it_runs_out_or_expires() {
    let limiter = limiter_with(|limits| limits.integrator = Rate::new(100.0, 64.0));
    let now = Instant::now();
    let token = "sba_lease";
    let (checks, caller) = token_checks(&limiter, token, "192.0.2.7", now);
    assert_eq!(lease_size(checks[caller].rate), 4.0);
    // Nothing leased yet: this request asks the database for a block, and while it waits the next
    // one waits for that block (one refill at a time), told when it ends.
    let first = takes(limiter.plan(&checks, true, now));
    assert_eq!(first[caller], Take::Block);
    let Planned::WaitUntil(refilled, deadline) = limiter.plan(&checks, true, now) else {
        panic!("a refill is under way: the next request waits for it");
    };
    assert_eq!(deadline, now + LEASE_LIFETIME);
    assert!(!refilled.has_changed().expect("the lease is kept"));
    // The database gave 4: one for the request, three to spend here.
    let mut granted = vec![1.0; checks.len()];
    granted[caller] = 4.0;
    limiter.end_refills(&checks, &first, Some(&granted), now);
    // The waiter is told once the request's refills are dropped (see the test below).
    drop(refilled);
    for _ in 0..3 {
        let takes = takes(limiter.plan(&checks, true, now));
        assert_eq!(takes[caller], Take::Leased);
        limiter.spend_leased(&checks, &takes);
        // The address's bucket (a lease of its own) gives one token at a time here.
        limiter.end_refills(&checks, &takes, Some(&vec![1.0; checks.len()]), now);
    }
    let spent = takes(limiter.plan(&checks, true, now));
    assert_eq!(spent[caller], Take::Block, "spent: refill again");
    limiter.end_refills(&checks, &spent, None, now);
    // A token given back (the request was refused elsewhere) can be spent again, until it expires.
    let mut one = vec![Take::Check; checks.len()];
    one[caller] = Take::Leased;
    limiter.return_leased(&checks, &one);
    assert_eq!(
        takes(limiter.plan(&checks, true, now))[caller],
        Take::Leased
    );
    limiter.return_leased(&checks, &one);
    let later = now + LEASE_LIFETIME;
    assert_ne!(
        takes(limiter.plan(&checks, true, later))[caller],
        Take::Leased,
        "expired"
    );
}

#[test]
fn a_refill_given_up_on_the_way_ends_at_once_and_wakes_the_waiters() {
    let limiter = limiter_with(|limits| limits.integrator = Rate::new(100.0, 64.0));
    let now = Instant::now();
    let (checks, caller) = token_checks(&limiter, "sba_gone", "192.0.2.11", now);
    let first = takes(limiter.plan(&checks, true, now));
    assert_eq!(first[caller], Take::Block);
    let Planned::WaitUntil(refilled, _) = limiter.plan(&checks, true, now) else {
        panic!("a refill is under way: the next request waits for it");
    };
    // The refilling request (the token's lease and the address's) is dropped before the database
    // answered: its client went away.
    drop(Refills::of(&limiter, &checks, &first, now));
    assert!(
        refilled.has_changed().expect("the lease is kept"),
        "the waiter is told"
    );
    // Nobody refills any more: the next request does, well before the deadline.
    assert!(matches!(
        limiter.plan(&checks, true, Instant::now()),
        Planned::Takes(takes) if takes[caller] == Take::Block
    ));
}

#[test]
fn a_refill_that_never_ended_does_not_stop_leasing_for_long() {
    let limiter = limiter_with(|limits| limits.integrator = Rate::new(100.0, 64.0));
    let now = Instant::now();
    let (checks, caller) = token_checks(&limiter, "sba_dropped", "192.0.2.9", now);
    // A request planned a refill, then was dropped while it waited for the database: the others
    // wait for it until its deadline, then one of them refills.
    assert_eq!(takes(limiter.plan(&checks, true, now))[caller], Take::Block);
    assert!(matches!(
        limiter.plan(&checks, true, now),
        Planned::WaitUntil(_, deadline) if deadline == now + LEASE_LIFETIME
    ));
    assert_eq!(
        takes(limiter.plan(&checks, true, now + LEASE_LIFETIME))[caller],
        Take::Block
    );
}

#[test]
fn a_lease_is_never_more_than_a_second_of_refill() {
    assert_eq!(lease_size(Rate::new(1.0, 1000.0)), 1.0);
    assert_eq!(lease_size(Rate::new(200.0, 1000.0)), 62.0);
    assert_eq!(lease_size(Rate::new(1_000_000.0, 1_000_000.0)), MAX_LEASE);
    assert_eq!(lease_size(Rate::new(0.5, 20.0)), 1.0);
}

#[test]
fn a_revoked_token_loses_its_lease() {
    let limiter = limiter_with(|limits| limits.integrator = Rate::new(100.0, 64.0));
    let now = Instant::now();
    let token = "sba_revoked";
    limiter.authenticated(token, now);
    let checks = limiter.checks(ip("192.0.2.8"), Some(token));
    let planned = takes(limiter.plan(&checks, true, now));
    limiter.end_refills(&checks, &planned, Some(&vec![4.0; checks.len()]), now);
    limiter.failed_authentication(ip("192.0.2.8"), token, now);
    let caller = checks
        .iter()
        .position(|c| matches!(c.key, Key::Token(_)))
        .expect("the token's own bucket");
    assert_ne!(
        takes(limiter.plan(&checks, true, now))[caller],
        Take::Leased
    );
}

/// Requests of one token that reach a node together (polled before any answer comes back): the
/// first refills the lease from the database, the others wait for it instead of each asking for
/// its own token. On PostgreSQL only (SQLite's buckets are the node's own).
#[tokio::test]
async fn requests_that_arrive_together_share_one_refill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db =
        switchboard_storage::scratch::ScratchDatabase::new(dir.path(), "s.db").expect("database");
    let store = Store::open(db.url()).await.expect("store");
    let Some(limits) = store.shared_limits() else {
        return;
    };
    limits.set_patience(Duration::from_secs(30), Duration::ZERO);
    let shared = SharedRates::new(limits.clone(), "test");
    // Leases of 64 for the token (a sixteenth of its burst) and for the address.
    let limiter = limiter_with(|limits| limits.integrator = Rate::new(1_000.0, 1_024.0));
    let token = "sba_together";
    limiter.authenticated(token, Instant::now());
    let checks = limiter.checks(ip("192.0.2.10"), Some(token));
    let before = limits.rate_checks();
    let together = (0..32).map(|_| limiter.admit_shared(&shared, &checks, Some(token)));
    for admitted in futures_util::future::join_all(together).await {
        assert_eq!(admitted, Ok(()));
    }
    let asked = limits.rate_checks() - before;
    assert_eq!(
        asked, 1,
        "rate checks asked of the database for 32 requests"
    );
}
