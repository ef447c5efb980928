//! The steps commands start with: open the store, load the key, make the first admin, start the
//! feed, bind the listeners, bind the roles, serve until stopped. Each is one function named for its
//! step, so a command reads as the list of them; each failure says which step failed.

mod roles;

pub use roles::{RoleContext, bind_role};

use crate::config::Settings;
use crate::role::Role;
use anyhow::{Context as _, Result, bail};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use switchboard_domain::Role as UserRole;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_storage::{Cipher, RoleLock, StorageError, Store};
use switchboard_web::{Server, Shutdown};
use tokio::net::TcpListener;

/// How often old events are removed, and how many per write.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const PRUNE_BATCH: usize = 5_000;

/// Opens the store; refuses a missing or empty database file beside an existing key, which is a lost
/// database (a fresh install would make a new admin and kill every token), not a new one.
pub async fn open_store(settings: &Settings) -> Result<Store> {
    if let Some(database) = switchboard_storage::sqlite_file(&settings.database_url) {
        let empty = std::fs::metadata(&database).map_or(true, |m| m.len() == 0);
        if empty && settings.encryption_key.exists() {
            bail!(
                "{} is missing or empty but the encryption key {} exists: this looks like a lost database, \
                 not a new install; restore the database from a backup, or move the key away to start afresh",
                database.display(),
                settings.encryption_key.display()
            );
        }
    }
    Ok(Store::open(&settings.database_url).await?)
}

/// Claims each role on the database: a second process of a role would fight the first over calls
/// and timers. The claims hold until the returned locks are dropped.
pub fn claim_roles(store: &Store, roles: &[Role]) -> Result<Vec<RoleLock>> {
    roles
        .iter()
        .map(|role| {
            store
                .claim_role(role.name())
                .with_context(|| format!("cannot run the {}", role.name()))
        })
        .collect()
}

/// Loads the credentials key, or creates it on first start; refuses a missing or wrong key when the
/// database already holds encrypted credentials.
pub async fn load_cipher(path: &Path, store: &Store) -> Result<Cipher> {
    let key_file = || format!("key file: {}", path.display());
    let cipher = match Cipher::load(path)? {
        Some(cipher) => cipher,
        None => {
            store.check_key(None).await.with_context(key_file)?;
            let cipher = Cipher::create(path)?;
            tracing::info!(path = %path.display(), "created a new encryption key; back it up with the database");
            cipher
        }
    };
    store
        .check_key(Some(cipher.clone()))
        .await
        .with_context(key_file)?;
    Ok(cipher)
}

/// 20 characters from a 56-character alphabet without look-alikes (about 116 bits).
pub fn random_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a password: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// On the first start of an empty database, creates the `admin` user: with the configured password
/// if there is one, otherwise with a random password printed once.
pub async fn ensure_admin(store: &Store, given: Option<&str>) -> Result<()> {
    if store.user_count().await? > 0 {
        return Ok(());
    }
    let password = match given {
        Some(password) => password.to_owned(),
        None => random_password()?,
    };
    match store
        .create_user("admin", "Administrator", UserRole::Admin, password.clone())
        .await
    {
        Ok(_) => {}
        // Another process on the same database got there first.
        Err(StorageError::UserExists(_)) => return Ok(()),
        Err(error) => return Err(error).context("cannot create the first admin"),
    }
    if given.is_none() {
        eprintln!(
            "switchboard: first start: created the user `admin` with the password `{password}`"
        );
        eprintln!("switchboard: it is shown only this once; log in and change it");
    } else {
        eprintln!(
            "switchboard: first start: created the user `admin` with the configured password (admin_password, SWITCHBOARD_ADMIN_PASSWORD)"
        );
    }
    Ok(())
}

/// A shutdown that SIGINT and SIGTERM trigger, after draining for `drain` (see `drain_seconds`).
pub fn stop_on_signals(drain: Duration) -> Shutdown {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals(drain);
    shutdown
}

/// Starts the event feed every role's Socket.IO streams read; it stops with `shutdown`.
pub async fn start_feed(store: &Store, shutdown: &Shutdown) -> Result<EventFeed> {
    let stop = shutdown.clone();
    EventFeed::start(store.clone(), FeedOptions::default(), async move {
        stop.wait().await
    })
    .await
    .context("cannot start the event feed")
}

/// Removes events older than `retention` in the background, until `shutdown` (never with `None`).
pub fn start_event_pruning(store: &Store, retention: Option<Duration>, shutdown: &Shutdown) {
    if let Some(retention) = retention {
        tokio::spawn(prune_events(store.clone(), retention, shutdown.clone()));
    }
}

/// Removes events older than `retention`, a batch at a time so writers are never held up for long. On
/// PostgreSQL one node prunes at a time; the others skip the round (see `Store::prune_old_events`).
async fn prune_events(store: Store, retention: Duration, shutdown: Shutdown) {
    loop {
        let age = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = switchboard_domain::UnixMillis(
            switchboard_domain::UnixMillis::now().0.saturating_sub(age),
        );
        match store.prune_old_events(cutoff, PRUNE_BATCH).await {
            Ok(Some(0)) => {}
            Ok(Some(removed)) => tracing::info!(removed, "old events removed"),
            Ok(None) => tracing::debug!("another node is removing old events"),
            Err(error) => tracing::warn!(%error, "cannot remove old events; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {},
            () = shutdown.wait() => return,
        }
    }
}

/// A role's port, taken.
pub struct Listener {
    pub role: Role,
    pub listener: TcpListener,
    pub addr: SocketAddr,
}

/// Binds every role's port before anything else: a taken port stops the start cleanly, and the
/// routes built next know the ports the roles really got (tests bind port 0).
pub async fn bind_listeners(roles: &[Role], settings: &Settings) -> Result<Vec<Listener>> {
    let mut bound = Vec::new();
    for &role in roles {
        let wanted = settings.role(role);
        let listener = switchboard_web::bind(wanted.listen, &wanted.listen_names)
            .await
            .with_context(|| format!("cannot start the {}", role.name()))?;
        let addr = listener.local_addr()?;
        bound.push(Listener {
            role,
            listener,
            addr,
        });
    }
    Ok(bound)
}

/// The origins a browser gives pages loaded from the call center at `addr`: the console sends them
/// with every call to the receiver and the sender, whose CORS allowlists must hold them.
pub fn browser_origins(addr: SocketAddr) -> Vec<String> {
    let (ip, port) = (addr.ip(), addr.port());
    if !(ip.is_loopback() || ip.is_unspecified()) {
        return vec![format!("http://{addr}")];
    }
    let mut origins = Vec::new();
    if ip.is_ipv4() || ip.is_unspecified() {
        origins.push(format!("http://127.0.0.1:{port}"));
    }
    if ip.is_ipv6() {
        origins.push(format!("http://[::1]:{port}"));
    }
    origins.push(format!("http://localhost:{port}"));
    origins
}

/// Prints where each role listens (stable lines on stdout for scripts and tests that start us on
/// port 0), and where the console is when this process serves it.
pub fn announce(servers: &[(Role, SocketAddr, Server)]) {
    if servers.iter().any(|(role, _, _)| *role == Role::CallCenter)
        && !switchboard_console::is_built()
    {
        tracing::warn!(
            "this binary was built without the web console (console/dist was missing): its page says \
             how to build it; the APIs work as usual"
        );
    }
    for (role, addr, _) in servers {
        let name = role.name();
        tracing::info!(%addr, "{name} listening");
        println!("switchboard {name} listening on http://{addr}");
    }
    let console = servers
        .iter()
        .find(|(role, _, _)| *role == Role::CallCenter)
        .and_then(|(_, addr, _)| browser_origins(*addr).into_iter().next());
    if let Some(origin) = console {
        // Not `println!`: a reader that stopped after the "listening" lines must not stop the server.
        let _ = writeln!(std::io::stdout(), "switchboard console on {origin}/");
    }
}

/// Serves `/metrics` on a listener of its own when `metrics_listen` says so, until `shutdown`; its
/// "listening" line comes after the roles' (scripts that read a fixed number of lines still can).
pub async fn start_metrics_listener(settings: &Settings, shutdown: &Shutdown) -> Result<()> {
    let Some(addr) = settings.metrics_listen else {
        return Ok(());
    };
    let server = switchboard_web::bind_metrics(addr)
        .await
        .context("cannot serve the metrics")?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, "metrics listening");
    let _ = writeln!(
        std::io::stdout(),
        "switchboard metrics listening on http://{addr}"
    );
    let (shutdown, grace) = (shutdown.clone(), settings.grace);
    tokio::spawn(async move {
        if let Err(error) = server.run(shutdown, grace).await {
            tracing::error!(%error, "the metrics listener failed");
        }
    });
    Ok(())
}

/// Serves every role until `shutdown`. Roles stop together: one that fails stops the others, and its
/// error is the process's.
pub async fn serve_until_stopped(
    servers: Vec<(Role, SocketAddr, Server)>,
    shutdown: Shutdown,
    grace: Duration,
) -> Result<()> {
    let mut serving = tokio::task::JoinSet::new();
    for (role, _, server) in servers {
        let shutdown = shutdown.clone();
        serving.spawn(async move { (role, server.run(shutdown, grace).await) });
    }
    let mut failure = None;
    while let Some(joined) = serving.join_next().await {
        let result = match joined {
            Ok((_, Ok(()))) => Ok(()),
            Ok((role, Err(error))) => {
                Err(anyhow::Error::new(error).context(format!("the {} failed", role.name())))
            }
            Err(error) => Err(anyhow::Error::new(error).context("a role stopped unexpectedly")),
        };
        if let Err(error) = result {
            shutdown.trigger();
            failure.get_or_insert(error);
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_origin_is_what_a_browser_sends() {
        let origins = |addr: &str| browser_origins(addr.parse().expect("addr"));
        assert_eq!(
            origins("127.0.0.1:8000"),
            ["http://127.0.0.1:8000", "http://localhost:8000"]
        );
        assert_eq!(
            origins("0.0.0.0:8000"),
            ["http://127.0.0.1:8000", "http://localhost:8000"]
        );
        assert_eq!(origins("10.1.2.3:8080"), ["http://10.1.2.3:8080"]);
        assert_eq!(
            origins("[::1]:8000"),
            ["http://[::1]:8000", "http://localhost:8000"]
        );
        assert_eq!(
            origins("[::]:8000"),
            [
                "http://127.0.0.1:8000",
                "http://[::1]:8000",
                "http://localhost:8000"
            ]
        );
    }
}
