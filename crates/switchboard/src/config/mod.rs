//! The configuration model.
//!
//! [`Config`] is the one typed structure: its `Default` impl, beside the fields, holds every default
//! (taken from the library that owns it where one does). [`registry`] gives each of its leaves a file
//! key, a `SWITCHBOARD_*` variable and a flag; [`layers`] reads defaults, then `switchboard.toml`, then
//! the environment, then the flags, the same way for every setting; [`resolve`] turns the result into
//! what the roles take, and a bad value stops the start with a line naming the setting and where it
//! was given. `docs/configuration.md` lists the registry; a test keeps the two equal.

pub mod flags;
pub mod layers;
mod limits;
pub mod registry;
mod resolve;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use layers::{ConfigError, Layers, Problem};
pub use limits::{LimitOverrides, LimitsConfig};
pub use resolve::Settings;

/// Where the credentials key lives unless configured.
pub const DEFAULT_ENCRYPTION_KEY: &str = "data/encryption.key";

/// Everything `switchboard.toml` can hold; the environment and flags set the same leaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub encryption_key_path: PathBuf,
    pub log_format: LogFormat,
    /// RUST_LOG syntax.
    pub log_level: String,
    pub cors_origins: Vec<String>,
    pub shutdown_grace_seconds: u64,
    /// Seconds to keep serving, not ready, after a stop signal (0: stop at once).
    pub drain_seconds: u64,
    pub session_hours: u64,
    pub secure_cookies: bool,
    /// `0` keeps events forever.
    pub event_retention_hours: u64,
    /// Empty: `/metrics` on every role's port; an address: there only.
    pub metrics_listen: String,
    /// The first admin's password on an empty database; empty: a random one, printed once.
    pub admin_password: String,
    pub receiver: RoleConfig,
    pub sender: RoleConfig,
    pub callcenter: CallCenterConfig,
    pub console: ConsoleUrls,
    /// Limits of every role; `[receiver.limits]` and the like override them key by key.
    pub limits: LimitsConfig,
}

impl Default for Config {
    fn default() -> Self {
        let sender = switchboard_sender::SenderOptions::default();
        Self {
            database_url: switchboard_storage::DEFAULT_DATABASE_URL.into(),
            encryption_key_path: DEFAULT_ENCRYPTION_KEY.into(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            cors_origins: Vec::new(),
            shutdown_grace_seconds: 10,
            drain_seconds: 0,
            session_hours: sender.session_lifetime.as_secs() / 3600,
            secure_cookies: sender.secure_cookies,
            event_retention_hours: 168,
            metrics_listen: String::new(),
            admin_password: String::new(),
            receiver: RoleConfig::at(5001),
            sender: RoleConfig::at(5002),
            callcenter: CallCenterConfig::default(),
            console: ConsoleUrls::default(),
            limits: LimitsConfig::default(),
        }
    }
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

/// `[receiver]`, `[sender]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub listen: SocketAddr,
    #[serde(default)]
    pub limits: LimitOverrides,
}

impl RoleConfig {
    /// On the loopback address: a role is reachable from elsewhere only when told so.
    fn at(port: u16) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            limits: LimitOverrides::default(),
        }
    }
}

/// `[callcenter]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallCenterConfig {
    pub listen: SocketAddr,
    #[serde(default)]
    pub limits: LimitOverrides,
    pub ring_timeout_seconds: f64,
    pub wrap_up_seconds: f64,
    pub max_no_answer: u32,
    pub time_zone: String,
    pub service_level_seconds: f64,
    pub short_abandon_seconds: f64,
    /// Empty: the phone system is not told.
    pub webhook_url: String,
    /// Empty: the webhook is not signed.
    pub webhook_secret: String,
}

impl Default for CallCenterConfig {
    fn default() -> Self {
        let options = switchboard_callcenter::CallCenterOptions::default();
        let RoleConfig { listen, limits } = RoleConfig::at(8000);
        Self {
            listen,
            limits,
            ring_timeout_seconds: options.ring_timeout.as_secs_f64(),
            wrap_up_seconds: options.wrap_up.as_secs_f64(),
            max_no_answer: options.max_no_answer,
            time_zone: options.time_zone,
            service_level_seconds: options.service_level.answer_within_millis as f64 / 1000.0,
            short_abandon_seconds: options.service_level.short_abandon_millis as f64 / 1000.0,
            webhook_url: options.webhook_url.unwrap_or_default(),
            webhook_secret: options.webhook_secret.unwrap_or_default(),
        }
    }
}

/// `[console]`: the public URLs the web console uses for the receiver and the sender; empty: the
/// role's port on the host the console was loaded from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleUrls {
    pub receiver_url: String,
    pub sender_url: String,
}

/// Seconds as written in the configuration, checked against `range`.
fn seconds(value: f64, range: std::ops::RangeInclusive<f64>) -> Result<Duration, Problem> {
    if value.is_finite() && range.contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Problem::Seconds {
            value,
            min: *range.start(),
            max: *range.end(),
        })
    }
}
