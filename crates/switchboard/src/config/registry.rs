//! Every setting's names: its key in `switchboard.toml`, its `SWITCHBOARD_*` variable and its flag.
//! The limits' names are made by one rule from their key, so a role's override cannot be forgotten.
//! A setting's default is read from [`Config::default`](super::Config), never written here.

use super::Config;
use super::layers::Problem;
use std::sync::LazyLock;
use toml::Value;

/// Which commands take a setting's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every command (the store, its key and the logs).
    Every,
    /// The server commands: `serve`, `receiver`, `sender`, `callcenter` and `demo`.
    Servers,
}

/// How a setting's text in the environment or on the command line becomes a value: the type of its
/// default, so it cannot disagree with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Bool,
    /// Comma-separated.
    List,
    /// `PER_SECOND/BURST`.
    Rate,
}

/// One setting.
#[derive(Debug)]
pub struct Setting {
    /// Its dotted key in the file: `callcenter.ring_timeout_seconds` is `ring_timeout_seconds` in `[callcenter]`.
    pub key: String,
    pub env: String,
    /// With its dashes: `--ring-timeout-seconds`.
    pub flag: String,
    /// A command's own short flag for it: `receiver --listen`.
    pub also: Option<(&'static str, &'static str)>,
    pub scope: Scope,
    pub kind: Kind,
    /// `None` for a role's limit: unset, the common one applies.
    pub default: Option<Value>,
    pub help: &'static str,
}

/// The settings that are not limits: key, variable, flag, scope, help.
const DECLARED: &[(&str, &str, &str, Scope, &str)] = &[
    (
        "database_url",
        "SWITCHBOARD_DATABASE_URL",
        "--database-url",
        Scope::Every,
        "Database to use: sqlite://PATH (created if missing).",
    ),
    (
        "encryption_key_path",
        "SWITCHBOARD_ENCRYPTION_KEY",
        "--encryption-key",
        Scope::Every,
        "File holding the key that encrypts account credentials (created, mode 0600, on first start).",
    ),
    (
        "log_format",
        "SWITCHBOARD_LOG_FORMAT",
        "--log-format",
        Scope::Every,
        "Log format: `text`, or `json` for one JSON object per line.",
    ),
    (
        "log_level",
        "SWITCHBOARD_LOG",
        "--log-level",
        Scope::Every,
        "Log filter, e.g. `info` or `switchboard_receiver=debug,info` (RUST_LOG syntax).",
    ),
    (
        "receiver.listen",
        "SWITCHBOARD_RECEIVER_LISTEN",
        "--receiver-listen",
        Scope::Servers,
        "Address of the receiver (bots' ingest).",
    ),
    (
        "sender.listen",
        "SWITCHBOARD_SENDER_LISTEN",
        "--sender-listen",
        Scope::Servers,
        "Address of the sender (the console's API).",
    ),
    (
        "callcenter.listen",
        "SWITCHBOARD_CALLCENTER_LISTEN",
        "--callcenter-listen",
        Scope::Servers,
        "Address of the call center (the web console, call popups, the phone system's webhook).",
    ),
    (
        "callcenter.ring_timeout_seconds",
        "SWITCHBOARD_RING_TIMEOUT_SECONDS",
        "--ring-timeout-seconds",
        Scope::Servers,
        "Seconds a call rings at one agent before it moves to the next (0.1–600).",
    ),
    (
        "callcenter.wrap_up_seconds",
        "SWITCHBOARD_WRAP_UP_SECONDS",
        "--wrap-up-seconds",
        Scope::Servers,
        "Seconds without new calls after each call an agent talked on (0–3600).",
    ),
    (
        "callcenter.max_no_answer",
        "SWITCHBOARD_MAX_NO_ANSWER",
        "--max-no-answer",
        Scope::Servers,
        "Offers in a row an agent may let ring out before they are set away and supervisors told (0: never; at most 100).",
    ),
    (
        "callcenter.time_zone",
        "SWITCHBOARD_TIME_ZONE",
        "--time-zone",
        Scope::Servers,
        "The business's IANA time zone: \"today\" on the floor and the days of reports.",
    ),
    (
        "callcenter.service_level_seconds",
        "SWITCHBOARD_SERVICE_LEVEL_SECONDS",
        "--service-level-seconds",
        Scope::Servers,
        "A call answered within this many seconds is within the service level (1–3600).",
    ),
    (
        "callcenter.short_abandon_seconds",
        "SWITCHBOARD_SHORT_ABANDON_SECONDS",
        "--short-abandon-seconds",
        Scope::Servers,
        "Callers who hang up within this many seconds are left out of the service level (0–600).",
    ),
    (
        "callcenter.webhook_url",
        "SWITCHBOARD_CALLCENTER_WEBHOOK_URL",
        "--webhook-url",
        Scope::Servers,
        "The phone system's http:// or https:// URL the call center POSTs its commands to (answer, reject, hang up, dial, transfer), stored until delivered.",
    ),
    (
        "callcenter.webhook_secret",
        "SWITCHBOARD_CALLCENTER_WEBHOOK_SECRET",
        "--webhook-secret",
        Scope::Servers,
        "Secret that signs that webhook's body (X-Switchboard-Signature); unsigned when empty. Prefer the environment.",
    ),
    (
        "console.receiver_url",
        "SWITCHBOARD_CONSOLE_RECEIVER_URL",
        "--console-receiver-url",
        Scope::Servers,
        "Public http(s):// URL of the receiver for the web console; empty: the receiver's port on the host the console was loaded from.",
    ),
    (
        "console.sender_url",
        "SWITCHBOARD_CONSOLE_SENDER_URL",
        "--console-sender-url",
        Scope::Servers,
        "Public http(s):// URL of the sender for the web console; empty: the sender's port on the host the console was loaded from.",
    ),
    (
        "cors_origins",
        "SWITCHBOARD_CORS_ORIGINS",
        "--cors-origins",
        Scope::Servers,
        "Browser origins allowed to call the receiver and the sender, comma-separated; the call center's own are always added.",
    ),
    (
        "session_hours",
        "SWITCHBOARD_SESSION_HOURS",
        "--session-hours",
        Scope::Servers,
        "Hours a console login lasts (1–87600).",
    ),
    (
        "secure_cookies",
        "SWITCHBOARD_SECURE_COOKIES",
        "--secure-cookies",
        Scope::Servers,
        "Mark the session cookie `Secure` (the console is served over HTTPS): `true` or `false`.",
    ),
    (
        "admin_password",
        "SWITCHBOARD_ADMIN_PASSWORD",
        "--admin-password",
        Scope::Servers,
        "Password of the user `admin` made on the first start of an empty database; empty: a random one, printed once. Prefer the environment.",
    ),
    (
        "shutdown_grace_seconds",
        "SWITCHBOARD_SHUTDOWN_GRACE_SECONDS",
        "--shutdown-grace-seconds",
        Scope::Servers,
        "Seconds in-flight requests get to finish after SIGINT or SIGTERM.",
    ),
    (
        "drain_seconds",
        "SWITCHBOARD_DRAIN_SECONDS",
        "--drain-seconds",
        Scope::Servers,
        "Seconds a node keeps serving after SIGINT or SIGTERM while /readyz answers 503, so a load balancer takes it out first (0: stop at once; at most 3600). A second signal stops it at once.",
    ),
    (
        "metrics_listen",
        "SWITCHBOARD_METRICS_LISTEN",
        "--metrics-listen",
        Scope::Servers,
        "Address of a listener of its own for /metrics (the roles' ports then answer 404 there); empty: /metrics on every role's port.",
    ),
    (
        "event_retention_hours",
        "SWITCHBOARD_EVENT_RETENTION_HOURS",
        "--event-retention-hours",
        Scope::Servers,
        "Hours events are kept for clients that resume after an absence (0: forever; at most 876000).",
    ),
];

/// The keys of `[limits]` (and of each role's `[ROLE.limits]`), with what they bound.
pub const LIMIT_KEYS: &[(&str, &str)] = &[
    (
        "header_timeout_seconds",
        "Seconds a request's head may take, from the connection's opening or the previous answer (0.1–3600).",
    ),
    (
        "body_timeout_seconds",
        "Seconds a request's body may take (0.1–3600).",
    ),
    (
        "connections_per_address",
        "Connections one address may hold open (trusted proxies excepted).",
    ),
    (
        "max_connections",
        "Connections open at once in all; 0: the open-file limit less 256.",
    ),
    (
        "trusted_proxies",
        "Reverse proxies (addresses or networks like 10.0.0.0/8, comma-separated) whose X-Forwarded-For names the client.",
    ),
    ("anonymous", "Requests without a token, per address."),
    ("user", "Requests per console session."),
    ("integrator", "Requests per API token."),
    ("bot", "Requests per bot token."),
    ("phone_system", "Requests per phone-system token."),
    ("address", "Everything from one address."),
    (
        "failed_auth",
        "Requests answered 401 from one address; past it, requests with a token from there wait.",
    ),
    (
        "in_flight_per_token",
        "Requests one token may have in progress at once.",
    ),
];

/// The roles whose tables may override `[limits]`.
pub const LIMIT_TABLES: [&str; 3] = ["receiver", "sender", "callcenter"];

static SETTINGS: LazyLock<Vec<Setting>> = LazyLock::new(build);

/// Every setting, in the order of `docs/configuration.md`.
pub fn settings() -> &'static [Setting] {
    &SETTINGS
}

/// The setting whose key is `key`.
pub fn lookup(key: &str) -> Option<&'static Setting> {
    settings().iter().find(|s| s.key == key)
}

fn build() -> Vec<Setting> {
    let defaults =
        Value::try_from(Config::default()).expect("the default configuration serialises");
    let default_of = |key: &str| {
        key.split('.')
            .try_fold(&defaults, |value, part| value.get(part))
            .cloned()
    };
    let mut all: Vec<Setting> = DECLARED
        .iter()
        .map(|&(key, env, flag, scope, help)| {
            let default = default_of(key);
            Setting {
                key: key.into(),
                env: env.into(),
                flag: flag.into(),
                also: key
                    .strip_suffix(".listen")
                    .and_then(|role| LIMIT_TABLES.into_iter().find(|r| *r == role))
                    .map(|role| (role, "--listen")),
                scope,
                kind: default.as_ref().map_or(Kind::Text, Kind::of),
                default,
                help,
            }
        })
        .collect();
    for table in std::iter::once("limits").chain(LIMIT_TABLES) {
        for &(name, help) in LIMIT_KEYS {
            let common = default_of(&format!("limits.{name}"));
            let key = if table == "limits" {
                format!("limits.{name}")
            } else {
                format!("{table}.limits.{name}")
            };
            all.push(Setting {
                env: format!("SWITCHBOARD_{}", key.replace('.', "_").to_uppercase()),
                flag: format!("--{}", key.replace(['.', '_'], "-")),
                also: None,
                scope: Scope::Servers,
                kind: common.as_ref().map_or(Kind::Text, Kind::of),
                default: if table == "limits" { common } else { None },
                help,
                key,
            });
        }
    }
    all
}

impl Kind {
    fn of(value: &Value) -> Self {
        match value {
            Value::Integer(_) => Kind::Integer,
            Value::Float(_) => Kind::Number,
            Value::Boolean(_) => Kind::Bool,
            Value::Array(_) => Kind::List,
            Value::Table(_) => Kind::Rate,
            Value::String(_) | Value::Datetime(_) => Kind::Text,
        }
    }

    /// The value that `text`, from the environment or a flag, stands for.
    pub fn parse(self, text: &str) -> Result<Value, Problem> {
        let number = |text: &str| {
            text.trim()
                .parse::<f64>()
                .map_err(|_| Problem::NotNumber(text.to_owned()))
        };
        match self {
            Kind::Text => Ok(Value::String(text.to_owned())),
            Kind::Integer => text
                .trim()
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| Problem::NotWhole(text.to_owned())),
            Kind::Number => number(text).map(Value::Float),
            Kind::Bool => match text.trim() {
                "true" => Ok(Value::Boolean(true)),
                "false" => Ok(Value::Boolean(false)),
                _ => Err(Problem::NotBool(text.to_owned())),
            },
            Kind::List => Ok(Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            )),
            Kind::Rate => {
                let (per_second, burst) = text
                    .split_once('/')
                    .ok_or_else(|| Problem::NotRate(text.to_owned()))?;
                let mut rate = toml::Table::new();
                rate.insert("per_second".into(), Value::Float(number(per_second)?));
                rate.insert("burst".into(), Value::Float(number(burst)?));
                Ok(Value::Table(rate))
            }
        }
    }

    /// What the flag's help calls its value.
    fn value_name(self, key: &str) -> &'static str {
        match self {
            Kind::Text if key.ends_with("listen") => "ADDR",
            Kind::Text if key.ends_with("_url") => "URL",
            Kind::Text if key.ends_with("_path") => "PATH",
            Kind::Text => "TEXT",
            Kind::Integer | Kind::Number if key.ends_with("_seconds") => "SECONDS",
            Kind::Integer | Kind::Number => "N",
            Kind::Bool => "BOOL",
            Kind::List => "A,B,…",
            Kind::Rate => "PER_SECOND/BURST",
        }
    }
}

impl Setting {
    /// Its default as `docs/configuration.md` writes it.
    pub fn default_text(&self) -> String {
        match &self.default {
            None => match self.key.split_once(".limits.") {
                Some((_, name)) => format!("as `limits.{name}`"),
                None => "none".into(),
            },
            Some(Value::String(text)) if text.is_empty() => "none".into(),
            Some(Value::String(text)) => format!("`{text}`"),
            Some(value) => format!("`{}`", shown(value)),
        }
    }

    /// The clap argument that sets it.
    pub fn arg(&'static self) -> clap::Arg {
        clap::Arg::new(self.key.as_str())
            .long(self.flag.trim_start_matches("--"))
            .value_name(self.kind.value_name(&self.key))
            .value_parser(clap::value_parser!(String))
            .help(format!(
                "{} [env: {}] [file: {}] [default: {}]",
                self.help,
                self.env,
                self.key,
                self.default_text().replace('`', "")
            ))
    }
}

/// A value as it is written in the file (numbers without a needless `.0`).
fn shown(value: &Value) -> String {
    match value {
        Value::Float(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{}", *number as i64)
        }
        Value::Float(number) => number.to_string(),
        Value::String(text) => format!("\"{text}\""),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(shown).collect::<Vec<_>>().join(", ")
        ),
        // A rate, in the order people write it.
        Value::Table(table) => format!(
            "{{ {} }}",
            ["per_second", "burst"]
                .iter()
                .filter_map(|key| Some(format!("{key} = {}", shown(table.get(*key)?))))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
