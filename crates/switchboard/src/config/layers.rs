//! The one way settings are loaded: each layer (defaults, the file, the environment, the flags) sets
//! leaves by key, a later layer over an earlier one, remembering where each value came from; the
//! result is then read into [`Config`] at once, so a value of the wrong type is named like any other.

use super::Config;
use super::registry::{Setting, lookup, settings};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Value;

/// A configuration that cannot be used; it names the file, or the setting and where it was given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
    #[error("{setting}: {problem}")]
    Value { setting: String, problem: String },
}

/// What is wrong with one value; [`ConfigError`] adds which setting it is and where it was given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("`{0}` is not a whole number")]
    NotWhole(String),
    #[error("`{0}` is not a number")]
    NotNumber(String),
    #[error("`{0}` is neither `true` nor `false`")]
    NotBool(String),
    #[error("`{0}` is not a rate written PER_SECOND/BURST, like 50/200")]
    NotRate(String),
    #[error("must be between {min} and {max} seconds, not {value}")]
    Seconds { value: f64, min: f64, max: f64 },
    #[error("`{0}` must be a table")]
    NotATable(String),
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Environment(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("by default"),
            Source::File(path) => write!(f, "in {}", path.display()),
            Source::Environment(name) => write!(f, "from {name}"),
            Source::Flag(flag) => write!(f, "from {flag}"),
        }
    }
}

/// A setting's names and where its value was given, for an error message.
fn describe(setting: &Setting, source: &Source) -> String {
    format!(
        "`{}` ({}, {}) {source}",
        setting.key, setting.flag, setting.env
    )
}

/// The layers read so far: every set leaf, with its value and source.
pub struct Layers {
    values: BTreeMap<&'static str, (Value, Source)>,
}

impl Layers {
    /// The first layer: every setting's default.
    pub fn defaults() -> Self {
        let values = settings()
            .iter()
            .filter_map(|s| Some((s.key.as_str(), (s.default.clone()?, Source::Default))))
            .collect();
        Self { values }
    }

    /// `switchboard.toml`. A missing file is fine when it is the default one; a named one must exist.
    /// An unknown key is an error that names it: a typo never falls back to a default.
    pub fn file(&mut self, path: &Path, explicitly_named: bool) -> Result<(), ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicitly_named => {
                return Ok(());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.to_owned(),
                    message: e.to_string().trim().to_owned(),
                })?;
        let in_file = |problem: String| ConfigError::File {
            path: path.to_owned(),
            problem,
        };
        for setting in settings() {
            if let Some(value) =
                take(&mut table, &setting.key).map_err(|problem| in_file(problem.to_string()))?
            {
                self.values
                    .insert(&setting.key, (value, Source::File(path.to_owned())));
            }
        }
        match leftover(&table) {
            Some(key) => Err(in_file(format!("unknown key `{key}`"))),
            None => Ok(()),
        }
    }

    /// `SWITCHBOARD_*` variables, through `var` (the process's environment, or a test's). An empty
    /// variable counts as unset.
    pub fn environment(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for setting in settings() {
            if let Some(text) = var(&setting.env).filter(|text| !text.is_empty()) {
                self.set(setting, &text, Source::Environment(&setting.env))?;
            }
        }
        Ok(())
    }

    /// A flag given on the command line (`flag` as typed, for messages).
    pub fn flag(
        &mut self,
        setting: &'static Setting,
        flag: &'static str,
        text: &str,
    ) -> Result<(), ConfigError> {
        self.set(setting, text, Source::Flag(flag))
    }

    fn set(
        &mut self,
        setting: &'static Setting,
        text: &str,
        source: Source,
    ) -> Result<(), ConfigError> {
        let value = setting
            .kind
            .parse(text)
            .map_err(|problem| ConfigError::Value {
                setting: describe(setting, &source),
                problem: problem.to_string(),
            })?;
        self.values.insert(&setting.key, (value, source));
        Ok(())
    }

    /// Reads the layers into the typed configuration.
    pub fn load(self) -> Result<Loaded, ConfigError> {
        let mut table = toml::Table::new();
        for (key, (value, _)) in &self.values {
            insert(&mut table, key, value.clone());
        }
        let config = serde_path_to_error::deserialize::<_, Config>(Value::Table(table)).map_err(
            |error| {
                let path = error.path().to_string();
                let problem = error.inner().message().trim().to_owned();
                // The setting is the longest key that starts the path (`limits.bot` for
                // `limits.bot.burst`).
                let found = self
                    .values
                    .iter()
                    .filter(|(key, _)| path == **key || path.starts_with(&format!("{key}.")))
                    .max_by_key(|(key, _)| key.len())
                    .and_then(|(key, (_, source))| Some(describe(lookup(key)?, source)));
                ConfigError::Value {
                    setting: found.unwrap_or_else(|| format!("`{path}`")),
                    problem,
                }
            },
        )?;
        let sources = self
            .values
            .into_iter()
            .map(|(key, (_, source))| (key, source))
            .collect();
        Ok(Loaded { config, sources })
    }
}

/// The configuration, with where each of its values came from.
pub struct Loaded {
    pub config: Config,
    sources: BTreeMap<&'static str, Source>,
}

impl Loaded {
    /// Where `key`'s value came from; `Default` for one never set.
    pub fn source(&self, key: &str) -> &Source {
        self.sources.get(key).unwrap_or(&Source::Default)
    }

    /// The error for a bad value of `key`: its names, where it was given, and `problem`.
    pub fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        let source = self.source(key);
        ConfigError::Value {
            setting: lookup(key).map_or_else(|| format!("`{key}`"), |s| describe(s, source)),
            problem: problem.into(),
        }
    }
}

/// Removes the value at dotted `key` from `table`, if it is there.
fn take(table: &mut toml::Table, key: &str) -> Result<Option<Value>, Problem> {
    let mut parts = key.split('.').peekable();
    let mut table = table;
    let mut walked = String::new();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return Ok(table.remove(part));
        }
        walked = if walked.is_empty() {
            part.to_owned()
        } else {
            format!("{walked}.{part}")
        };
        table = match table.get_mut(part) {
            None => return Ok(None),
            Some(Value::Table(inner)) => inner,
            Some(_) => return Err(Problem::NotATable(walked)),
        };
    }
    Ok(None)
}

/// The first key left in `table` once every setting was taken out: one nobody reads.
fn leftover(table: &toml::Table) -> Option<String> {
    table.iter().find_map(|(key, value)| match value {
        Value::Table(inner) => leftover(inner).map(|rest| format!("{key}.{rest}")),
        _ => Some(key.clone()),
    })
}

/// Puts `value` at dotted `key`, making the tables on the way.
fn insert(table: &mut toml::Table, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = table
                .entry(head)
                .or_insert_with(|| Value::Table(toml::Table::new()));
            if let Value::Table(inner) = inner {
                insert(inner, rest, value);
            }
        }
    }
}
