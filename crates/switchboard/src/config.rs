//! Configuration: flags > `SWITCHBOARD_*` environment > `switchboard.toml` > defaults.
//!
//! clap resolves flags and environment (each flag declares its variable); what is still unset is taken
//! from the file, then from the defaults here.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_web::{IpNet, Limits, Rate};

/// `switchboard.toml`. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub cors_origins: Option<Vec<String>>,
    pub shutdown_grace_seconds: Option<u64>,
    pub encryption_key_path: Option<std::path::PathBuf>,
    pub session_hours: Option<u64>,
    pub secure_cookies: Option<bool>,
    pub event_retention_hours: Option<u64>,
    #[serde(default)]
    pub receiver: RoleFile,
    #[serde(default)]
    pub sender: RoleFile,
    #[serde(default)]
    pub callcenter: CallCenterFile,
    #[serde(default)]
    pub console: ConsoleFile,
    /// Limits for every role; `[receiver.limits]` and the like override them for one role.
    #[serde(default)]
    pub limits: LimitsFile,
}

/// `[limits]`: timeouts, connection caps and request rates (see docs/security.md). Every key optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub header_timeout_seconds: Option<f64>,
    pub body_timeout_seconds: Option<f64>,
    pub connections_per_address: Option<usize>,
    pub max_connections: Option<usize>,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
    pub anonymous: Option<RateFile>,
    pub user: Option<RateFile>,
    pub integrator: Option<RateFile>,
    pub bot: Option<RateFile>,
    pub phone_system: Option<RateFile>,
    pub address: Option<RateFile>,
    pub failed_auth: Option<RateFile>,
    pub in_flight_per_token: Option<usize>,
}

/// A request rate: `{ per_second = 50, burst = 200 }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateFile {
    pub per_second: f64,
    pub burst: f64,
}

impl LimitsFile {
    /// This table's keys over `base`'s.
    fn over(&self, base: &Self) -> Self {
        Self {
            header_timeout_seconds: self.header_timeout_seconds.or(base.header_timeout_seconds),
            body_timeout_seconds: self.body_timeout_seconds.or(base.body_timeout_seconds),
            connections_per_address: self
                .connections_per_address
                .or(base.connections_per_address),
            max_connections: self.max_connections.or(base.max_connections),
            trusted_proxies: self
                .trusted_proxies
                .clone()
                .or(base.trusted_proxies.clone()),
            anonymous: self.anonymous.or(base.anonymous),
            user: self.user.or(base.user),
            integrator: self.integrator.or(base.integrator),
            bot: self.bot.or(base.bot),
            phone_system: self.phone_system.or(base.phone_system),
            address: self.address.or(base.address),
            failed_auth: self.failed_auth.or(base.failed_auth),
            in_flight_per_token: self.in_flight_per_token.or(base.in_flight_per_token),
        }
    }

    /// The limits of a role whose own table is `role` (`[receiver.limits]`, …), over `[limits]`, over
    /// the defaults; a bad value is named with its key.
    pub fn resolve(&self, role: Option<&Self>, table: &str) -> Result<Limits, String> {
        let file = role.map_or_else(|| self.clone(), |role| role.over(self));
        let mut limits = Limits::default();
        let seconds = |key: &str, value: f64| {
            if value.is_finite() && (0.1..=3600.0).contains(&value) {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(format!(
                    "{table}.{key} must be between 0.1 and 3600 seconds, not {value}"
                ))
            }
        };
        if let Some(value) = file.header_timeout_seconds {
            limits.header_timeout = seconds("header_timeout_seconds", value)?;
        }
        if let Some(value) = file.body_timeout_seconds {
            limits.body_timeout = seconds("body_timeout_seconds", value)?;
        }
        if let Some(value) = file.connections_per_address {
            if value == 0 {
                return Err(format!(
                    "{table}.connections_per_address must be at least 1"
                ));
            }
            limits.connections_per_address = value;
        }
        if let Some(value) = file.max_connections {
            limits.max_connections = value;
        }
        if let Some(proxies) = &file.trusted_proxies {
            limits.trusted_proxies = proxies
                .iter()
                .map(|p| {
                    IpNet::parse(p).ok_or_else(|| {
                        format!("{table}.trusted_proxies: `{p}` is not an address or a network like 10.0.0.0/8")
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(value) = file.in_flight_per_token {
            if value == 0 {
                return Err(format!("{table}.in_flight_per_token must be at least 1"));
            }
            limits.rates.in_flight_per_token = value;
        }
        let rates = &mut limits.rates;
        for (key, given, rate) in [
            ("anonymous", file.anonymous, &mut rates.anonymous),
            ("user", file.user, &mut rates.user),
            ("integrator", file.integrator, &mut rates.integrator),
            ("bot", file.bot, &mut rates.bot),
            ("phone_system", file.phone_system, &mut rates.phone_system),
            ("address", file.address, &mut rates.address),
            ("failed_auth", file.failed_auth, &mut rates.failed_auth),
        ] {
            if let Some(given) = given {
                if !(given.per_second > 0.0 && given.burst >= 1.0) {
                    return Err(format!(
                        "{table}.{key}: per_second must be above 0 and burst at least 1"
                    ));
                }
                *rate = Rate::new(given.per_second, given.burst);
            }
        }
        Ok(limits)
    }
}

/// `[console]`: where the console finds the receiver and the sender, when not on its own host's ports.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleFile {
    pub receiver_url: Option<String>,
    pub sender_url: Option<String>,
}

/// `[callcenter]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallCenterFile {
    pub listen: Option<SocketAddr>,
    pub limits: Option<LimitsFile>,
    pub ring_timeout_seconds: Option<f64>,
    pub wrap_up_seconds: Option<f64>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    pub listen: Option<SocketAddr>,
    pub limits: Option<LimitsFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

pub const DEFAULT_RECEIVER_LISTEN: &str = "127.0.0.1:5001";
pub const DEFAULT_SENDER_LISTEN: &str = "127.0.0.1:5002";
pub const DEFAULT_CALLCENTER_LISTEN: &str = "127.0.0.1:8000";
pub const DEFAULT_ENCRYPTION_KEY: &str = "data/encryption.key";

impl FileConfig {
    /// Reads `path`. A missing file is fine when it is the default one; a named one must exist.
    pub fn load(path: &Path, explicitly_named: bool) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string().trim().to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicitly_named => {
                Ok(Self::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_s_limits_override_the_common_ones_key_by_key() {
        let config: FileConfig = toml::from_str(
            "[limits]\nheader_timeout_seconds = 5\ntrusted_proxies = [\"10.0.0.0/8\"]\nbot = { per_second = 10, burst = 20 }\n\
             [receiver.limits]\nbot = { per_second = 1000, burst = 5000 }\n",
        )
        .expect("toml");
        let receiver = config
            .limits
            .resolve(config.receiver.limits.as_ref(), "receiver.limits")
            .expect("valid");
        assert_eq!(receiver.header_timeout, Duration::from_secs(5));
        assert_eq!(receiver.rates.bot, Rate::new(1000.0, 5000.0));
        assert!(receiver.is_trusted_proxy("10.1.2.3".parse().expect("ip")));
        let sender = config
            .limits
            .resolve(config.sender.limits.as_ref(), "sender.limits")
            .expect("valid");
        assert_eq!(sender.rates.bot, Rate::new(10.0, 20.0));
        assert_eq!(sender.body_timeout, Limits::default().body_timeout);

        let bad: FileConfig =
            toml::from_str("[limits]\ntrusted_proxies = [\"proxy.local\"]\n").expect("toml");
        let error = bad.limits.resolve(None, "limits").expect_err("bad proxy");
        assert!(
            error.contains("limits.trusted_proxies") && error.contains("proxy.local"),
            "{error}"
        );
        let bad: FileConfig =
            toml::from_str("[limits]\nuser = { per_second = 0, burst = 5 }\n").expect("toml");
        assert!(
            bad.limits
                .resolve(None, "limits")
                .expect_err("zero")
                .contains("limits.user")
        );
    }

    #[test]
    fn a_missing_default_file_is_empty_but_a_named_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("switchboard.toml");
        assert!(FileConfig::load(&path, false).is_ok());
        assert!(FileConfig::load(&path, true).is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("switchboard.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://x.db\"\n[receiver]\nlisten = \"127.0.0.1:7001\"\nport = 3\n",
        )
        .expect("write");
        let error = FileConfig::load(&path, false).expect_err("unknown key");
        assert!(error.to_string().contains("port"), "{error}");
        std::fs::write(
            &path,
            "[receiver]\nlisten = \"127.0.0.1:7001\"\n[console]\nsender_url = \"https://crm.example.vn\"\n",
        )
        .expect("write");
        let config = FileConfig::load(&path, false).expect("valid");
        assert_eq!(config.receiver.listen, "127.0.0.1:7001".parse().ok());
        assert_eq!(
            config.console.sender_url.as_deref(),
            Some("https://crm.example.vn")
        );
        std::fs::write(&path, "[console]\nsender = \"https://crm.example.vn\"\n").expect("write");
        let error = FileConfig::load(&path, false).expect_err("unknown key");
        assert!(error.to_string().contains("sender"), "{error}");
    }
}
