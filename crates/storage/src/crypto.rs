//! Encryption at rest for Facebook credentials: XChaCha20-Poly1305 with a 32-byte key kept in a file
//! (`encryption.key`, mode 0600) outside the database, so a copy of the database alone reveals nothing.

use crate::sql::args;
use crate::{Result, StorageError, Store};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use std::path::{Path, PathBuf};

const NONCE_LEN: usize = 24;
/// Encrypted under the key and kept in `settings`, so a wrong key is caught at start, not at first use.
const KEY_CHECK: &[u8] = b"switchboard key check v1";

/// The credentials key. Not `Debug`: it must never reach a log.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the encryption key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the encryption key {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the encryption key {path} is not 64 hexadecimal characters")]
    Malformed { path: PathBuf },
}

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Reads the key file; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> std::result::Result<Option<Self>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes =
                    switchboard_domain::encoding::unhex(text.trim()).filter(|b| b.len() == 32);
                let key: [u8; 32] =
                    bytes
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| KeyError::Malformed {
                            path: path.to_owned(),
                        })?;
                Ok(Some(Self::from_key(&key)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Creates a new random key file readable by its owner only.
    pub fn create(path: &Path) -> std::result::Result<Self, KeyError> {
        let error = |source| KeyError::Create {
            path: path.to_owned(),
            source,
        };
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| error(std::io::Error::other(e.to_string())))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        let hex = switchboard_domain::encoding::hex(&key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(error)?;
        std::io::Write::write_all(&mut file, format!("{hex}\n").as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
        Ok(Self::from_key(&key))
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| StorageError::Task(format!("no randomness: {e}")))?;
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .map_err(|_| StorageError::Task("encryption failed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>> {
        if blob.len() < NONCE_LEN {
            return Err(StorageError::Corrupt(
                "an encrypted value is truncated".into(),
            ));
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| StorageError::WrongKey)
    }
}

impl Store {
    /// Checks the key against the database before anything is served. With no key given: fine while no
    /// credential is stored, an error otherwise. With a key: it must open what the database holds.
    pub async fn check_key(&self, cipher: Option<Cipher>) -> Result<()> {
        self.write(move |tx| {
            let check: Option<Vec<u8>> = tx.optional(
                "SELECT value FROM settings WHERE key = 'key_check'",
                args![],
                |r| r.get(0),
            )?;
            let encrypted: i64 = tx.one(
                "SELECT COUNT(*) FROM facebook_accounts WHERE password_enc IS NOT NULL OR cookies_enc IS NOT NULL
                     OR two_factor_secret_enc IS NOT NULL OR page_access_token_enc IS NOT NULL",
                args![],
                |r| r.get(0),
            )?;
            match (cipher, check) {
                (None, Some(_)) => Err(StorageError::KeyMissing),
                (None, None) if encrypted > 0 => Err(StorageError::KeyMissing),
                (None, None) => Ok(()),
                (Some(cipher), Some(check)) => match cipher.decrypt(&check) {
                    Ok(plain) if plain == KEY_CHECK => Ok(()),
                    _ => Err(StorageError::WrongKey),
                },
                (Some(cipher), None) => {
                    if encrypted > 0 {
                        return Err(StorageError::WrongKey);
                    }
                    tx.execute(
                        "INSERT INTO settings (key, value) VALUES ('key_check', ?1)",
                        args![cipher.encrypt(KEY_CHECK)?],
                    )?;
                    Ok(())
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_private_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/encryption.key");
        let cipher = Cipher::create(&path).expect("create");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let loaded = Cipher::load(&path).expect("load").expect("exists");
        let sealed = cipher.encrypt(b"mat khau").expect("encrypt");
        assert_eq!(loaded.decrypt(&sealed).expect("decrypt"), b"mat khau");
        assert!(
            Cipher::create(&path).is_err(),
            "an existing key is never overwritten"
        );
        let other = Cipher::from_key(&[7; 32]);
        assert!(matches!(
            other.decrypt(&sealed),
            Err(StorageError::WrongKey)
        ));
    }
}
