//! Throwaway databases for tests and benchmarks, on the engine the environment names, so that one
//! suite runs on both engines: with `SWITCHBOARD_TEST_POSTGRES` set to the URL of a PostgreSQL
//! server that may be scribbled on (`scripts/test` starts one of its own), each scratch database is
//! a fresh schema there; without it, a SQLite file in the caller's folder.

use crate::{Result, StorageError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the PostgreSQL server for scratch databases.
pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES";

/// A database that exists for one test or benchmark and is removed after it.
#[derive(Debug)]
pub struct ScratchDatabase {
    url: String,
    /// The PostgreSQL server and the schema made there, dropped with this.
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    /// A new, empty database: a schema on the server `SWITCHBOARD_TEST_POSTGRES` names, or the
    /// SQLite file `file_name` in `dir`.
    pub fn new(dir: &Path, file_name: &str) -> Result<Self> {
        match std::env::var(POSTGRES_ENV) {
            Ok(server) if !server.is_empty() => Self::on_postgres(&server),
            _ => Ok(Self {
                url: format!("sqlite://{}", dir.join(file_name).display()),
                postgres: None,
            }),
        }
    }

    /// A new, empty schema on the PostgreSQL server `server` names, whatever the environment says (the
    /// benchmarks' `--database-url`).
    pub fn on_postgres(server: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "scratch_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        on_plain_thread(
            server,
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        )?;
        let separator = if server.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{server}{separator}options=-c%20search_path%3D{schema}"),
            postgres: Some((server.to_owned(), schema)),
        })
    }

    /// The URL to open the database with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this database is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some((server, schema)) = &self.postgres
            && let Err(error) =
                on_plain_thread(server, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        {
            tracing::warn!(%error, schema, "a scratch schema was left behind");
        }
    }
}

/// Runs `sql` on `server` from a thread of its own: the synchronous client cannot run on an async
/// runtime's thread, and tests create and drop their databases from async code.
fn on_plain_thread(server: &str, sql: &str) -> Result<()> {
    let (server, sql) = (server.to_owned(), sql.to_owned());
    std::thread::spawn(move || -> Result<()> {
        let mut client = postgres::Client::connect(&server, postgres::NoTls).map_err(|e| {
            StorageError::Connect {
                target: crate::postgres::redacted(&server),
                source: Box::new(e),
            }
        })?;
        client.batch_execute(&sql)?;
        Ok(())
    })
    .join()
    .map_err(|_| StorageError::Task("the scratch database thread panicked".into()))?
}
