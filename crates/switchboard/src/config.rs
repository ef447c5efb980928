//! Configuration: flags > `SWITCHBOARD_*` environment > `switchboard.toml` > defaults.
//!
//! clap resolves flags and environment (each flag declares its variable); what is still unset is taken
//! from the file, then from the defaults here.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    pub ring_timeout_seconds: Option<f64>,
    pub wrap_up_seconds: Option<f64>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    pub listen: Option<SocketAddr>,
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
pub const DEFAULT_CORS_ORIGINS: [&str; 2] = ["http://127.0.0.1:8000", "http://localhost:8000"];

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
