//! The configuration model: layers, names of bad values, and the documentation's table.

use super::layers::Source;
use super::registry::{LIMIT_KEYS, lookup, settings};
use super::*;
use crate::role::Role;
use std::collections::BTreeSet;
use std::path::Path;
use switchboard_console::{ConsoleConfig, Endpoint};
use switchboard_web::{Limits, Rate};

/// Loads `file` (as `switchboard.toml`), then `env`, then `flags` (setting key, text).
fn load(file: &str, env: &[(&str, &str)], flags: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, file).expect("write");
    let mut layers = Layers::defaults();
    layers.file(&path, true)?;
    layers.environment(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })?;
    for (key, text) in flags {
        let setting = lookup(key).expect("a setting");
        layers.flag(setting, &setting.flag, text)?;
    }
    Settings::resolve(&layers.load()?)
}

fn error_of(result: Result<Settings, ConfigError>) -> String {
    match result {
        Ok(_) => panic!("accepted"),
        Err(error) => format!("{:#}", anyhow::Error::new(error)),
    }
}

#[test]
fn a_role_s_limits_override_the_common_ones_key_by_key() {
    let settings = load(
        "[limits]\nheader_timeout_seconds = 5\ntrusted_proxies = [\"10.0.0.0/8\"]\nbot = { per_second = 10, burst = 20 }\n\
         [receiver.limits]\nbot = { per_second = 1000, burst = 5000 }\n",
        &[],
        &[],
    )
    .expect("valid");
    let receiver = &settings.role(Role::Receiver).limits;
    assert_eq!(receiver.header_timeout, Duration::from_secs(5));
    assert_eq!(receiver.rates.bot, Rate::new(1000.0, 5000.0));
    assert!(receiver.is_trusted_proxy("10.1.2.3".parse().expect("ip")));
    let sender = &settings.role(Role::Sender).limits;
    assert_eq!(sender.rates.bot, Rate::new(10.0, 20.0));
    assert_eq!(sender.body_timeout, Limits::default().body_timeout);

    let error = error_of(load(
        "[limits]\ntrusted_proxies = [\"proxy.local\"]\n",
        &[],
        &[],
    ));
    assert!(
        error.contains("limits.trusted_proxies") && error.contains("proxy.local"),
        "{error}"
    );
    let error = error_of(load(
        "[limits]\nuser = { per_second = 0, burst = 5 }\n",
        &[],
        &[],
    ));
    assert!(error.contains("limits.user"), "{error}");
    let error = error_of(load(
        "[sender.limits]\nconnections_per_address = 0\n",
        &[],
        &[],
    ));
    assert!(
        error.contains("sender.limits.connections_per_address"),
        "{error}"
    );
}

#[test]
fn a_missing_default_file_is_empty_but_a_named_one_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.toml");
    assert!(Layers::defaults().file(&path, false).is_ok());
    assert!(Layers::defaults().file(&path, true).is_err());
}

#[test]
fn unknown_keys_are_named() {
    let error = error_of(load(
        "database_url = \"sqlite://x.db\"\n[receiver]\nlisten = \"127.0.0.1:7001\"\nport = 3\n",
        &[],
        &[],
    ));
    assert!(error.contains("port"), "{error}");
    let settings = load(
        "[receiver]\nlisten = \"127.0.0.1:7001\"\n[console]\nsender_url = \"https://crm.example.vn\"\n",
        &[],
        &[],
    )
    .expect("valid");
    assert_eq!(
        settings.role(Role::Receiver).listen,
        "127.0.0.1:7001".parse().expect("addr")
    );
    assert_eq!(
        settings.callcenter.console.sender,
        Endpoint::Url("https://crm.example.vn".into())
    );
    let error = error_of(load(
        "[console]\nsender = \"https://crm.example.vn\"\n",
        &[],
        &[],
    ));
    assert!(error.contains("sender"), "{error}");
    let error = error_of(load("receiver = 5\n", &[], &[]));
    assert!(error.contains("`receiver` must be a table"), "{error}");
}

#[test]
fn console_urls_come_from_flags_over_the_file_and_are_checked() {
    let file = "[sender]\nlisten = \"0.0.0.0:6002\"\n[console]\nreceiver_url = \"https://in.example.vn/\"\n";
    let options = load(file, &[], &[]).expect("valid").callcenter;
    assert_eq!(
        options.console,
        ConsoleConfig {
            receiver: Endpoint::Url("https://in.example.vn".into()),
            sender: Endpoint::Port(6002),
        }
    );
    let flags = [
        ("console.receiver_url", "http://10.0.0.5:5001"),
        ("console.sender_url", "https://crm.example.vn:5002"),
    ];
    let options = load(file, &[], &flags).expect("valid").callcenter;
    assert_eq!(
        options.console.receiver,
        Endpoint::Url("http://10.0.0.5:5001".into())
    );
    assert_eq!(
        options.console.sender,
        Endpoint::Url("https://crm.example.vn:5002".into())
    );

    let error = error_of(load(
        &format!("{file}sender_url = \"crm.example.vn:5002\"\n"),
        &[],
        &[],
    ));
    assert!(
        error.contains("--console-sender-url") && error.contains("crm.example.vn:5002"),
        "{error}"
    );
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_default() {
    let ring = |settings: Settings| settings.callcenter.ring_timeout;
    let key = "callcenter.ring_timeout_seconds";
    let env = [("SWITCHBOARD_RING_TIMEOUT_SECONDS", "16")];
    let file = "[callcenter]\nring_timeout_seconds = 15\n";
    assert_eq!(
        ring(load("", &[], &[]).expect("valid")),
        Duration::from_secs(20)
    );
    assert_eq!(
        ring(load(file, &[], &[]).expect("valid")),
        Duration::from_secs(15)
    );
    assert_eq!(
        ring(load(file, &env, &[]).expect("valid")),
        Duration::from_secs(16)
    );
    assert_eq!(
        ring(load(file, &env, &[(key, "17")]).expect("valid")),
        Duration::from_secs(17)
    );
    // The settings that had only the file have the other layers too.
    let settings = load(
        "session_hours = 2\n",
        &[
            ("SWITCHBOARD_SESSION_HOURS", "3"),
            (
                "SWITCHBOARD_CORS_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("SWITCHBOARD_LIMITS_BOT", "5/10"),
        ],
        &[
            ("receiver.limits.bot", "7/70"),
            ("event_retention_hours", "0"),
        ],
    )
    .expect("valid");
    assert_eq!(
        settings.sender.session_lifetime,
        Duration::from_secs(3 * 3600)
    );
    assert_eq!(
        settings.cors_origins,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(
        settings.role(Role::Sender).limits.rates.bot,
        Rate::new(5.0, 10.0)
    );
    assert_eq!(
        settings.role(Role::Receiver).limits.rates.bot,
        Rate::new(7.0, 70.0)
    );
    assert_eq!(settings.event_retention, None);
}

#[test]
fn a_bad_value_stops_the_start_with_a_line_naming_the_setting() {
    for (env, named) in [
        (
            ("SWITCHBOARD_LOG_FORMAT", "xml"),
            "`log_format` (--log-format, SWITCHBOARD_LOG_FORMAT) from SWITCHBOARD_LOG_FORMAT",
        ),
        (("SWITCHBOARD_LOG", "info,=="), "`log_level`"),
        (
            ("SWITCHBOARD_RING_TIMEOUT_SECONDS", "soon"),
            "`callcenter.ring_timeout_seconds`",
        ),
        (
            ("SWITCHBOARD_RING_TIMEOUT_SECONDS", "0"),
            "`callcenter.ring_timeout_seconds`",
        ),
        (
            ("SWITCHBOARD_RECEIVER_LISTEN", "nowhere"),
            "`receiver.listen`",
        ),
        (
            ("SWITCHBOARD_SHUTDOWN_GRACE_SECONDS", "-1"),
            "`shutdown_grace_seconds`",
        ),
        (("SWITCHBOARD_DRAIN_SECONDS", "3601"), "`drain_seconds`"),
        (("SWITCHBOARD_SECURE_COOKIES", "yes"), "`secure_cookies`"),
        (("SWITCHBOARD_SESSION_HOURS", "0"), "`session_hours`"),
        (
            ("SWITCHBOARD_CALLCENTER_WEBHOOK_URL", "ftp://pbx.lan/hook"),
            "`callcenter.webhook_url`",
        ),
        (
            ("SWITCHBOARD_CALLCENTER_LIMITS_USER", "fast"),
            "`callcenter.limits.user`",
        ),
    ] {
        let error = error_of(load("", &[env], &[]));
        assert!(error.contains(named), "{env:?}: {error}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }
    let error = error_of(load("[callcenter]\nwrap_up_seconds = \"long\"\n", &[], &[]));
    assert!(
        error.contains("`callcenter.wrap_up_seconds`") && error.contains("switchboard.toml"),
        "{error}"
    );
}

#[test]
fn every_setting_is_a_leaf_of_the_model_with_its_own_variable_and_flag() {
    // Every leaf of the defaults has a setting (a rate is one leaf)…
    fn leaves(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) if !table.contains_key("per_second") => {
                for (key, value) in table {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(&path, value, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut all = Vec::new();
    leaves(
        "",
        &toml::Value::try_from(Config::default()).expect("serialises"),
        &mut all,
    );
    for key in &all {
        assert!(lookup(key).is_some(), "`{key}` has no setting");
    }
    // …every setting is read into the model from each layer…
    for setting in settings() {
        let text = match setting.kind {
            registry::Kind::Rate => "1/1",
            registry::Kind::Bool => "true",
            registry::Kind::List => "",
            registry::Kind::Text if setting.key.ends_with("listen") => "127.0.0.1:1",
            registry::Kind::Text if setting.key.ends_with("_url") => "http://10.0.0.1:1",
            registry::Kind::Text if setting.key == "log_format" => "json",
            registry::Kind::Text => "info",
            _ => "1",
        };
        let mut layers = Layers::defaults();
        layers.flag(setting, "--x", text).expect("parses");
        layers
            .load()
            .unwrap_or_else(|e| panic!("`{}` = {text}: {e}", setting.key));
    }
    // …and names are unique.
    let envs: BTreeSet<_> = settings().iter().map(|s| s.env.as_str()).collect();
    let flags: BTreeSet<_> = settings().iter().map(|s| s.flag.as_str()).collect();
    assert_eq!(envs.len(), settings().len());
    assert_eq!(flags.len(), settings().len());
    assert!(settings().iter().all(|s| s.env.starts_with("SWITCHBOARD_")));
}

#[test]
fn the_flags_are_on_the_commands_and_read_into_the_layers() {
    let command = flags::add_flags(
        clap::Command::new("switchboard").subcommands(
            flags::SERVER_COMMANDS
                .iter()
                .map(|name| clap::Command::new(*name)),
        ),
    );
    let matches = command
        .try_get_matches_from([
            "switchboard",
            "--log-level",
            "debug",
            "receiver",
            "--listen",
            "127.0.0.1:7001",
            "--receiver-limits-bot",
            "3/4",
            "--database-url",
            "sqlite://flag.db",
        ])
        .expect("parses");
    let mut layers = Layers::defaults();
    flags::read_flags(&mut layers, &matches).expect("read");
    let loaded = layers.load().expect("load");
    let settings = Settings::resolve(&loaded).expect("valid");
    assert_eq!(settings.log_filter, "debug");
    assert_eq!(settings.database_url, "sqlite://flag.db");
    assert_eq!(*loaded.source("receiver.listen"), Source::Flag("--listen"));
    assert_eq!(
        settings.role(Role::Receiver).listen,
        "127.0.0.1:7001".parse().expect("addr")
    );
    assert_eq!(
        settings.role(Role::Receiver).limits.rates.bot,
        Rate::new(3.0, 4.0)
    );
}

/// The rows the settings tables of docs/configuration.md must have: key, flag, variable, default. A
/// role's limits are one row per role, written with `KEY`.
fn documented_rows() -> BTreeSet<[String; 4]> {
    settings()
        .iter()
        .map(|s| {
            let mut flag = format!("`{}`", s.flag);
            if let Some((command, short)) = s.also {
                flag.push_str(&format!(", `{command} {short}`"));
            }
            let mut row = [
                format!("`{}`", s.key),
                flag,
                format!("`{}`", s.env),
                s.default_text(),
            ];
            if let Some((_, name)) = s.key.split_once(".limits.") {
                let upper = name.to_uppercase();
                let dashed = name.replace('_', "-");
                for (cell, from) in row.iter_mut().zip([name, &dashed, &upper, name]) {
                    *cell = cell.replace(from, "KEY");
                }
            }
            row
        })
        .collect()
}

#[test]
fn the_documentation_lists_exactly_the_settings_and_defaults_of_the_code() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .expect("docs/configuration.md");
    let mut documented = BTreeSet::new();
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| key in `switchboard.toml` |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|cell| cell.trim().to_owned())
            .collect();
        assert!(cells.len() >= 4, "a short row: {line}");
        let row = [0, 1, 2, 3].map(|i| cells[i].clone());
        assert!(documented.insert(row), "listed twice: {line}");
    }
    let expected = documented_rows();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/configuration.md lacks {missing:#?}\nand lists what the code has not: {extra:#?}"
    );
    // Every limit has its row under `[limits]`.
    assert_eq!(
        settings()
            .iter()
            .filter(|s| s.key.starts_with("limits."))
            .count(),
        LIMIT_KEYS.len()
    );
}
