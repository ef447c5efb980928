//! `[limits]` and each role's `[ROLE.limits]`: timeouts, connection caps and request rates (see
//! docs/security.md). The defaults are those of [`switchboard_web::Limits`], written there once.

use crate::role::Role;
use serde::{Deserialize, Serialize};
use switchboard_web::{IpNet, Limits, Rate};

/// A request rate: `{ per_second = 50, burst = 200 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub per_second: f64,
    pub burst: f64,
}

impl From<Rate> for RateConfig {
    fn from(rate: Rate) -> Self {
        Self {
            per_second: rate.per_second,
            burst: rate.burst,
        }
    }
}

/// `[limits]`: every role's limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub header_timeout_seconds: f64,
    pub body_timeout_seconds: f64,
    pub connections_per_address: usize,
    /// `0`: the open-file limit less a reserve.
    pub max_connections: usize,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    pub anonymous: RateConfig,
    pub user: RateConfig,
    pub integrator: RateConfig,
    pub bot: RateConfig,
    pub phone_system: RateConfig,
    pub address: RateConfig,
    pub failed_auth: RateConfig,
    pub in_flight_per_token: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let limits = Limits::default();
        let rates = &limits.rates;
        Self {
            header_timeout_seconds: limits.header_timeout.as_secs_f64(),
            body_timeout_seconds: limits.body_timeout.as_secs_f64(),
            connections_per_address: limits.connections_per_address,
            max_connections: limits.max_connections,
            // The web crate's default is empty: nobody's `X-Forwarded-For` is believed.
            trusted_proxies: Vec::new(),
            anonymous: rates.anonymous.into(),
            user: rates.user.into(),
            integrator: rates.integrator.into(),
            bot: rates.bot.into(),
            phone_system: rates.phone_system.into(),
            address: rates.address.into(),
            failed_auth: rates.failed_auth.into(),
            in_flight_per_token: rates.in_flight_per_token,
        }
    }
}

/// `[receiver.limits]`, `[sender.limits]`, `[callcenter.limits]`: a key set here wins over `[limits]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub header_timeout_seconds: Option<f64>,
    pub body_timeout_seconds: Option<f64>,
    pub connections_per_address: Option<usize>,
    pub max_connections: Option<usize>,
    pub trusted_proxies: Option<Vec<String>>,
    pub anonymous: Option<RateConfig>,
    pub user: Option<RateConfig>,
    pub integrator: Option<RateConfig>,
    pub bot: Option<RateConfig>,
    pub phone_system: Option<RateConfig>,
    pub address: Option<RateConfig>,
    pub failed_auth: Option<RateConfig>,
    pub in_flight_per_token: Option<usize>,
}

/// A bad limit: the key that gave it (the role's or the common one) and what is wrong.
#[derive(Debug)]
pub struct InvalidLimit {
    pub key: String,
    pub problem: String,
}

impl InvalidLimit {
    fn new(key: String, problem: impl ToString) -> Self {
        Self {
            key,
            problem: problem.to_string(),
        }
    }
}

/// One key of a role's limits: the role's own value if set, else the common one, with its key.
fn pick<T: Clone>(own: &Option<T>, common: &T, role: Role, key: &str) -> (T, String) {
    match own {
        Some(value) => (value.clone(), format!("{}.limits.{key}", role.name())),
        None => (common.clone(), format!("limits.{key}")),
    }
}

impl LimitsConfig {
    /// The limits of `role`: its own keys over these, checked; a bad value comes back with its key.
    pub fn resolve(&self, own: &LimitOverrides, role: Role) -> Result<Limits, InvalidLimit> {
        let mut limits = Limits::default();
        for (own, common, key, field) in [
            (
                &own.header_timeout_seconds,
                &self.header_timeout_seconds,
                "header_timeout_seconds",
                &mut limits.header_timeout,
            ),
            (
                &own.body_timeout_seconds,
                &self.body_timeout_seconds,
                "body_timeout_seconds",
                &mut limits.body_timeout,
            ),
        ] {
            let (value, key) = pick(own, common, role, key);
            *field = super::seconds(value, 0.1..=3600.0).map_err(|e| InvalidLimit::new(key, e))?;
        }
        let (value, key) = pick(
            &own.connections_per_address,
            &self.connections_per_address,
            role,
            "connections_per_address",
        );
        limits.connections_per_address = at_least_one(value, key)?;
        limits.max_connections = pick(
            &own.max_connections,
            &self.max_connections,
            role,
            "max_connections",
        )
        .0;
        let (value, key) = pick(
            &own.in_flight_per_token,
            &self.in_flight_per_token,
            role,
            "in_flight_per_token",
        );
        limits.rates.in_flight_per_token = at_least_one(value, key)?;
        let (proxies, key) = pick(
            &own.trusted_proxies,
            &self.trusted_proxies,
            role,
            "trusted_proxies",
        );
        limits.trusted_proxies = proxies
            .iter()
            .map(|p| {
                IpNet::parse(p).ok_or_else(|| {
                    InvalidLimit::new(
                        key.clone(),
                        format!("`{p}` is not an address or a network like 10.0.0.0/8"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let rates = &mut limits.rates;
        for (own, common, key, rate) in [
            (
                &own.anonymous,
                &self.anonymous,
                "anonymous",
                &mut rates.anonymous,
            ),
            (&own.user, &self.user, "user", &mut rates.user),
            (
                &own.integrator,
                &self.integrator,
                "integrator",
                &mut rates.integrator,
            ),
            (&own.bot, &self.bot, "bot", &mut rates.bot),
            (
                &own.phone_system,
                &self.phone_system,
                "phone_system",
                &mut rates.phone_system,
            ),
            (&own.address, &self.address, "address", &mut rates.address),
            (
                &own.failed_auth,
                &self.failed_auth,
                "failed_auth",
                &mut rates.failed_auth,
            ),
        ] {
            let (given, key) = pick(own, common, role, key);
            if !(given.per_second > 0.0 && given.burst >= 1.0) {
                return Err(InvalidLimit::new(
                    key,
                    "per_second must be above 0 and burst at least 1",
                ));
            }
            *rate = Rate::new(given.per_second, given.burst);
        }
        Ok(limits)
    }
}

fn at_least_one(value: usize, key: String) -> Result<usize, InvalidLimit> {
    if value == 0 {
        Err(InvalidLimit::new(key, "must be at least 1"))
    } else {
        Ok(value)
    }
}
