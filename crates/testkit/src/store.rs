//! A fresh store in a temporary directory, as every test and benchmark starts.

use crate::KitError;
use std::path::Path;
use switchboard_domain::Role;
use switchboard_storage::scratch::{POSTGRES_ENV, ScratchDatabase};
use switchboard_storage::{AccountKind, Cipher, Store, TokenKind};
use tempfile::TempDir;

/// The password of the `admin` user that [`TempStore::with_admin`] creates.
pub const ADMIN_PASSWORD: &str = "admin password for tests";

/// The database's file name in the temporary directory.
const DATABASE: &str = "test.db";

/// A test's temporary folder (the key, the bots' spools, a SQLite database) and its database, which
/// is a scratch schema on PostgreSQL when the environment names a server (see
/// [`switchboard_storage::scratch`]); both are removed when this is dropped.
pub struct TestDir {
    database: ScratchDatabase,
    dir: TempDir,
}

impl TestDir {
    pub fn create() -> Result<Self, KitError> {
        let dir = tempfile::tempdir().map_err(KitError::TempDir)?;
        let database = ScratchDatabase::new(dir.path(), DATABASE)?;
        Ok(Self { database, dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The URL the test's roles open their store with.
    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    pub fn is_postgres(&self) -> bool {
        self.database.is_postgres()
    }
}

/// Whether the environment names a PostgreSQL server for tests ([`switchboard_storage::scratch`]). A
/// test that needs one (several nodes on one database, a database to take away) skips itself when
/// not, saying so: `scripts/test` runs the suite a second time with a server.
pub fn postgres_or_skip(test: &str) -> bool {
    let set = std::env::var(POSTGRES_ENV).is_ok_and(|url| !url.is_empty());
    if !set {
        eprintln!("{test}: needs PostgreSQL ({POSTGRES_ENV} is not set): skipped");
    }
    set
}

/// `store`, whose limits shared with other nodes (PostgreSQL) wait for the database however slowly
/// it answers on a loaded machine, and try again at once after a failure: a test's limits never
/// turn into one node's by chance. (What a node does when the database does not answer is tested
/// on its own, in the storage and web crates.)
pub fn patient(store: Store) -> Store {
    if let Some(limits) = store.shared_limits() {
        limits.set_patience(
            std::time::Duration::from_secs(30),
            std::time::Duration::ZERO,
        );
    }
    store
}

/// A new database and its encryption key (checked in, as `serve` does), removed when this is dropped.
pub struct TempStore {
    pub store: Store,
    pub cipher: Cipher,
    pub dir: TestDir,
}

impl TempStore {
    /// The fallible form, for the benchmarks; tests use [`TempStore::new`].
    pub async fn create() -> Result<Self, KitError> {
        let dir = TestDir::create()?;
        let store = crate::store::patient(Store::open(dir.database_url()).await?);
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

    /// Everything the database holds, as bytes, to prove a secret is not stored in clear.
    pub fn db_bytes(&self) -> Vec<u8> {
        db_bytes(&self.dir)
    }
}

/// Everything the test's database holds, as bytes: on SQLite the file and its WAL; on PostgreSQL
/// every value of every table, text as its UTF-8 and blobs as they are.
pub fn db_bytes(dir: &TestDir) -> Vec<u8> {
    if dir.is_postgres() {
        return crate::postgres::every_value(dir.database_url());
    }
    let mut bytes = Vec::new();
    for file in [DATABASE.to_owned(), format!("{DATABASE}-wal")] {
        bytes.extend(std::fs::read(dir.path().join(file)).unwrap_or_default());
    }
    bytes
}

/// One number from the test's database (`SELECT COUNT(*) …`), read with a connection of its own.
pub async fn db_count(dir: &TestDir, sql: &'static str) -> i64 {
    let url = dir.database_url().to_owned();
    if dir.is_postgres() {
        return crate::postgres::count(url, sql).await;
    }
    let path = switchboard_storage::sqlite_file(&url).expect("a SQLite URL");
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    })
    .await
    .expect("join")
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
