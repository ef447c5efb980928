//! From the loaded configuration to what the commands and roles take: every value checked once, at
//! start, and a bad one named with its key, its flag, its variable and where it was given.

use super::layers::{ConfigError, Loaded, Source};
use super::registry::lookup;
use super::{LogFormat, seconds};
use crate::role::Role;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_callcenter::CallCenterOptions;
use switchboard_console::{ConsoleConfig, Endpoint};
use switchboard_sender::SenderOptions;
use switchboard_web::Limits;

/// What the commands take.
pub struct Settings {
    pub database_url: String,
    pub encryption_key: PathBuf,
    /// Whether neither the database nor the key was configured (the demo then uses its own).
    pub store_is_default: bool,
    pub key_is_default: bool,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub cors_origins: Vec<String>,
    pub grace: Duration,
    /// How long a node drains (serves, not ready) after a stop signal.
    pub drain: Duration,
    pub sender: SenderOptions,
    /// `None`: events are kept forever.
    pub event_retention: Option<Duration>,
    /// Where `/metrics` is served apart from the roles; `None`: on every role's port.
    pub metrics_listen: Option<SocketAddr>,
    pub admin_password: Option<String>,
    /// With the console's endpoints as configured; a process that binds the roles puts in their ports.
    pub callcenter: CallCenterOptions,
    roles: [RoleSettings; 3],
}

/// One role's address and limits.
#[derive(Debug, Clone)]
pub struct RoleSettings {
    pub listen: SocketAddr,
    pub limits: Limits,
    /// Every way to change the address, for a "port in use" message.
    pub listen_names: String,
}

impl Settings {
    /// Checks every value of `loaded`; the first bad one is the error.
    pub fn resolve(loaded: &Loaded) -> Result<Self, ConfigError> {
        let config = &loaded.config;
        let invalid = |key: &str, problem: String| loaded.invalid(key, problem);
        tracing_subscriber::EnvFilter::try_new(&config.log_level)
            .map_err(|e| invalid("log_level", format!("`{}`: {e}", config.log_level)))?;
        if !(1..=87_600).contains(&config.session_hours) {
            return Err(invalid(
                "session_hours",
                format!("must be between 1 and 87600, not {}", config.session_hours),
            ));
        }
        if config.drain_seconds > 3600 {
            return Err(invalid(
                "drain_seconds",
                format!("must be at most 3600, not {}", config.drain_seconds),
            ));
        }
        if config.event_retention_hours > 876_000 {
            return Err(invalid(
                "event_retention_hours",
                format!(
                    "must be at most 876000, not {}",
                    config.event_retention_hours
                ),
            ));
        }
        let admin_password = non_empty(&config.admin_password);
        if let Some(password) = &admin_password {
            switchboard_domain::outbound::password(password)
                .map_err(|e| invalid("admin_password", e.problem))?;
        }
        let metrics_listen = match non_empty(&config.metrics_listen) {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "metrics_listen",
                    format!("`{text}` is not an address such as 127.0.0.1:9464"),
                )
            })?),
        };
        let roles = Role::ALL.map(|role| role_settings(loaded, role));
        let [receiver, sender, callcenter] = roles;
        let roles = [receiver?, sender?, callcenter?];
        Ok(Self {
            database_url: config.database_url.clone(),
            encryption_key: config.encryption_key_path.clone(),
            store_is_default: *loaded.source("database_url") == Source::Default,
            key_is_default: *loaded.source("encryption_key_path") == Source::Default,
            log_format: config.log_format,
            log_filter: config.log_level.clone(),
            cors_origins: config.cors_origins.clone(),
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            drain: Duration::from_secs(config.drain_seconds),
            sender: SenderOptions {
                session_lifetime: Duration::from_secs(3600 * config.session_hours),
                secure_cookies: config.secure_cookies,
                ..SenderOptions::default()
            },
            event_retention: (config.event_retention_hours > 0)
                .then(|| Duration::from_secs(config.event_retention_hours * 3600)),
            admin_password,
            metrics_listen,
            callcenter: call_center_options(loaded, &roles)?,
            roles,
        })
    }

    pub fn role(&self, role: Role) -> &RoleSettings {
        match role {
            Role::Receiver => &self.roles[0],
            Role::Sender => &self.roles[1],
            Role::CallCenter => &self.roles[2],
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    Some(text.to_owned()).filter(|t| !t.is_empty())
}

fn role_settings(loaded: &Loaded, role: Role) -> Result<RoleSettings, ConfigError> {
    let config = &loaded.config;
    let (listen, own) = match role {
        Role::Receiver => (config.receiver.listen, &config.receiver.limits),
        Role::Sender => (config.sender.listen, &config.sender.limits),
        Role::CallCenter => (config.callcenter.listen, &config.callcenter.limits),
    };
    let limits = config
        .limits
        .resolve(own, role)
        .map_err(|e| loaded.invalid(&e.key, e.problem))?;
    let key = format!("{}.listen", role.name());
    let listen_names = lookup(&key).map_or_else(
        || key.clone(),
        |s| {
            let also = s
                .also
                .map(|(command, flag)| format!(" or `{command} {flag}`"))
                .unwrap_or_default();
            format!("{}{also} ({}, `{key}` in the file)", s.flag, s.env)
        },
    );
    Ok(RoleSettings {
        listen,
        limits,
        listen_names,
    })
}

/// The call center's options; the console's ports are those configured for the receiver and sender.
fn call_center_options(
    loaded: &Loaded,
    roles: &[RoleSettings; 3],
) -> Result<CallCenterOptions, ConfigError> {
    let file = &loaded.config.callcenter;
    let ring_timeout = seconds(file.ring_timeout_seconds, 0.1..=600.0)
        .map_err(|e| loaded.invalid("callcenter.ring_timeout_seconds", e.to_string()))?;
    let wrap_up = seconds(file.wrap_up_seconds, 0.0..=3600.0)
        .map_err(|e| loaded.invalid("callcenter.wrap_up_seconds", e.to_string()))?;
    if file.max_no_answer > 100 {
        return Err(loaded.invalid(
            "callcenter.max_no_answer",
            format!("must be 0–100, not {}", file.max_no_answer),
        ));
    }
    switchboard_domain::reports::time_zone("callcenter.time_zone", &file.time_zone)
        .map_err(|e| loaded.invalid("callcenter.time_zone", e.problem))?;
    let millis =
        |duration: std::time::Duration| i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    let service_level = switchboard_domain::reports::ServiceLevelRule {
        answer_within_millis: millis(
            seconds(file.service_level_seconds, 1.0..=3600.0)
                .map_err(|e| loaded.invalid("callcenter.service_level_seconds", e.to_string()))?,
        ),
        short_abandon_millis: millis(
            seconds(file.short_abandon_seconds, 0.0..=600.0)
                .map_err(|e| loaded.invalid("callcenter.short_abandon_seconds", e.to_string()))?,
        ),
    };
    let webhook_url = non_empty(&file.webhook_url);
    if let Some(url) = &webhook_url {
        switchboard_domain::validation::web_url("callcenter.webhook_url", url)
            .map_err(|e| loaded.invalid("callcenter.webhook_url", e.problem))?;
    }
    let console = &loaded.config.console;
    let endpoint = |key: &str, url: &str, role: &RoleSettings| match non_empty(url) {
        Some(url) => Endpoint::url(&url).map_err(|e| loaded.invalid(key, e.to_string())),
        None => Ok(Endpoint::Port(role.listen.port())),
    };
    Ok(CallCenterOptions {
        ring_timeout,
        wrap_up,
        max_no_answer: file.max_no_answer,
        time_zone: file.time_zone.clone(),
        service_level,
        webhook_url,
        webhook_secret: non_empty(&file.webhook_secret),
        console: ConsoleConfig {
            receiver: endpoint("console.receiver_url", &console.receiver_url, &roles[0])?,
            sender: endpoint("console.sender_url", &console.sender_url, &roles[1])?,
        },
        ..CallCenterOptions::default()
    })
}
