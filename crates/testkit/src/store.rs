//! A fresh store in a temporary directory, as every test and benchmark starts.

use crate::KitError;
use switchboard_domain::Role;
use switchboard_storage::{AccountKind, Cipher, Store, TokenKind};
use tempfile::TempDir;

/// The password of the `admin` user that [`TempStore::with_admin`] creates.
pub const ADMIN_PASSWORD: &str = "admin password for tests";

/// The database's file name in the temporary directory.
const DATABASE: &str = "test.db";

/// A new SQLite file and its encryption key (checked in, as `serve` does) in a temporary directory
/// that is removed when this is dropped.
pub struct TempStore {
    pub store: Store,
    pub cipher: Cipher,
    pub dir: TempDir,
}

impl TempStore {
    /// The fallible form, for the benchmarks; tests use [`TempStore::new`].
    pub async fn create() -> Result<Self, KitError> {
        let dir = tempfile::tempdir().map_err(KitError::TempDir)?;
        let url = format!("sqlite://{}", dir.path().join(DATABASE).display());
        let store = Store::open(&url).await?;
        let cipher = Cipher::create(&dir.path().join("encryption.key"))?;
        store.check_key(Some(cipher.clone())).await?;
        Ok(Self { store, cipher, dir })
    }

    pub async fn new() -> Self {
        Self::create().await.expect("a temporary store")
    }

    /// With the `admin` user, password [`ADMIN_PASSWORD`].
    pub async fn with_admin() -> Self {
        let temp = Self::new().await;
        temp.store
            .create_user("admin", "Admin", Role::Admin, ADMIN_PASSWORD.into())
            .await
            .expect("admin");
        temp
    }

    /// The database's bytes on disk (main file and WAL), to prove a secret is not stored in clear.
    pub fn db_bytes(&self) -> Vec<u8> {
        db_bytes(&self.dir)
    }
}

/// The bytes of the database file and its WAL in `dir`.
pub fn db_bytes(dir: &TempDir) -> Vec<u8> {
    let mut bytes = Vec::new();
    for file in [DATABASE.to_owned(), format!("{DATABASE}-wal")] {
        bytes.extend(std::fs::read(dir.path().join(file)).unwrap_or_default());
    }
    bytes
}

/// Creates the account (if new) and issues a bot token for it.
pub async fn bot_token(store: &Store, account: &str, name: &str, kind: AccountKind) -> String {
    store
        .ensure_account(account, name, kind)
        .await
        .expect("account");
    store
        .issue_token(TokenKind::Bot {
            account: account.into(),
        })
        .await
        .expect("bot token")
        .1
}

/// Issues an integrator's API token.
pub async fn api_token(store: &Store, name: &str) -> String {
    store
        .issue_token(TokenKind::Api { name: name.into() })
        .await
        .expect("api token")
        .1
}
