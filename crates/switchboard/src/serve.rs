//! Starting server roles: one store, one event feed, every requested role bound before any runs (so a
//! taken port stops the start cleanly), then all served until a signal.

use crate::Settings;
use crate::config::{DEFAULT_CALLCENTER_LISTEN, DEFAULT_RECEIVER_LISTEN, DEFAULT_SENDER_LISTEN};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use switchboard_domain::Role as UserRole;
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_storage::{Cipher, StorageError, Store};
use switchboard_web::{Server, Shutdown};

/// How long events are kept for clients that resume after an absence (a week).
const DEFAULT_EVENT_RETENTION_HOURS: u64 = 168;
/// How often old events are removed, and how many per write.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const PRUNE_BATCH: usize = 5_000;

/// Removes events older than `retention`, a batch at a time so writers are never held up for long.
async fn prune_events(store: Store, retention: Duration, shutdown: Shutdown) {
    loop {
        let age = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = switchboard_domain::UnixMillis(
            switchboard_domain::UnixMillis::now().0.saturating_sub(age),
        );
        loop {
            match store.prune_events(cutoff, PRUNE_BATCH).await {
                Ok(removed) if removed == PRUNE_BATCH => continue,
                Ok(removed) => {
                    if removed > 0 {
                        tracing::info!(removed, "old events removed");
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot remove old events; will retry");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {},
            () = shutdown.wait() => return,
        }
    }
}

pub enum Role {
    Receiver {
        listen: Option<SocketAddr>,
        flag: &'static str,
    },
    Sender {
        listen: Option<SocketAddr>,
        flag: &'static str,
    },
    CallCenter {
        listen: Option<SocketAddr>,
        flag: &'static str,
        args: crate::CallCenterArgs,
    },
}

/// The call center's options: flags and environment over the `[callcenter]` table over defaults.
fn call_center_options(
    args: &crate::CallCenterArgs,
    file: &crate::config::CallCenterFile,
) -> Result<switchboard_callcenter::CallCenterOptions, String> {
    let mut options = switchboard_callcenter::CallCenterOptions::default();
    if let Some(seconds) = args.ring_timeout_seconds.or(file.ring_timeout_seconds) {
        if !(0.1..=600.0).contains(&seconds) {
            return Err(format!(
                "ring_timeout_seconds must be between 0.1 and 600, not {seconds}"
            ));
        }
        options.ring_timeout = Duration::from_secs_f64(seconds);
    }
    if let Some(seconds) = args.wrap_up_seconds.or(file.wrap_up_seconds) {
        if !(0.0..=3600.0).contains(&seconds) {
            return Err(format!(
                "wrap_up_seconds must be between 0 and 3600, not {seconds}"
            ));
        }
        options.wrap_up = Duration::from_secs_f64(seconds);
    }
    options.webhook_url = args
        .webhook_url
        .clone()
        .or(file.webhook_url.clone())
        .filter(|u| !u.is_empty());
    if let Some(url) = &options.webhook_url
        && !url.starts_with("http://")
    {
        return Err(format!(
            "the call-center webhook URL must be http:// (the phone system on your network), not `{url}`"
        ));
    }
    options.webhook_secret = args
        .webhook_secret
        .clone()
        .or(file.webhook_secret.clone())
        .filter(|s| !s.is_empty());
    Ok(options)
}

/// Loads the credentials key, or creates it on first start; refuses a missing or wrong key when the
/// database already holds encrypted credentials.
pub async fn load_cipher(path: &Path, store: &Store) -> Result<Cipher, String> {
    let explain = |error: StorageError| format!("{error} (key file: {})", path.display());
    match Cipher::load(path).map_err(|e| e.to_string())? {
        Some(cipher) => {
            store
                .check_key(Some(cipher.clone()))
                .await
                .map_err(explain)?;
            Ok(cipher)
        }
        None => {
            store.check_key(None).await.map_err(explain)?;
            let cipher = Cipher::create(path).map_err(|e| e.to_string())?;
            store
                .check_key(Some(cipher.clone()))
                .await
                .map_err(explain)?;
            tracing::info!(path = %path.display(), "created a new encryption key; back it up with the database");
            Ok(cipher)
        }
    }
}

/// On the first start of an empty database, creates the `admin` user: with `SWITCHBOARD_ADMIN_PASSWORD`
/// if set, otherwise with a random password printed once.
async fn ensure_admin(store: &Store) -> Result<(), String> {
    if store.user_count().await.map_err(|e| e.to_string())? > 0 {
        return Ok(());
    }
    let given = std::env::var("SWITCHBOARD_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = match &given {
        Some(password) => {
            switchboard_domain::outbound::password(password)
                .map_err(|e| format!("SWITCHBOARD_ADMIN_PASSWORD: {}", e.problem))?;
            password.clone()
        }
        None => crate::admin::random_password()?,
    };
    match store
        .create_user("admin", "Administrator", UserRole::Admin, password.clone())
        .await
    {
        Ok(_) => {}
        // Another process on the same database got there first.
        Err(StorageError::UserExists(_)) => return Ok(()),
        Err(error) => return Err(error.to_string()),
    }
    if given.is_none() {
        eprintln!(
            "switchboard: first start: created the user `admin` with the password `{password}`"
        );
        eprintln!("switchboard: it is shown only this once; log in and change it");
    } else {
        eprintln!(
            "switchboard: first start: created the user `admin` with the password from SWITCHBOARD_ADMIN_PASSWORD"
        );
    }
    Ok(())
}

pub(crate) fn listen(
    given: Option<SocketAddr>,
    from_file: Option<SocketAddr>,
    default: &str,
) -> Result<SocketAddr, String> {
    match given.or(from_file) {
        Some(addr) => Ok(addr),
        None => default.parse().map_err(|e| format!("{e}")),
    }
}

pub async fn run(roles: &[Role], settings: Settings) -> Result<(), String> {
    let store = settings.open().await?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let stop = shutdown.clone();
    let feed = EventFeed::start(store.clone(), FeedOptions::default(), async move {
        stop.wait().await
    })
    .await
    .map_err(|e| e.to_string())?;
    let retention = settings
        .file
        .event_retention_hours
        .unwrap_or(DEFAULT_EVENT_RETENTION_HOURS);
    if retention > 0 {
        tokio::spawn(prune_events(
            store.clone(),
            Duration::from_secs(retention * 3600),
            shutdown.clone(),
        ));
    }
    let mut servers = Vec::new();
    for role in roles {
        // Each role: its name, the address it takes, the option (and variable) that sets it, its routes.
        let (name, addr, flag, env, (router, io)) = match role {
            Role::Receiver {
                listen: given,
                flag,
            } => {
                let addr = listen(
                    *given,
                    settings.file.receiver.listen,
                    DEFAULT_RECEIVER_LISTEN,
                )?;
                let state = switchboard_receiver::AppState {
                    store: store.clone(),
                    feed: feed.clone(),
                };
                let routes = switchboard_receiver::router(state, &settings.cors_origins);
                (
                    "receiver",
                    addr,
                    flag,
                    "SWITCHBOARD_RECEIVER_LISTEN",
                    routes,
                )
            }
            Role::Sender {
                listen: given,
                flag,
            } => {
                let addr = listen(*given, settings.file.sender.listen, DEFAULT_SENDER_LISTEN)?;
                let cipher = load_cipher(&settings.encryption_key, &store).await?;
                ensure_admin(&store).await?;
                let options = switchboard_sender::SenderOptions {
                    session_lifetime: Duration::from_secs(
                        3600 * settings.file.session_hours.unwrap_or(12).max(1),
                    ),
                    secure_cookies: settings.file.secure_cookies.unwrap_or(false),
                    ..Default::default()
                };
                let state =
                    switchboard_sender::AppState::new(store.clone(), feed.clone(), cipher, options);
                let routes = switchboard_sender::router(state, &settings.cors_origins);
                ("sender", addr, flag, "SWITCHBOARD_SENDER_LISTEN", routes)
            }
            Role::CallCenter {
                listen: given,
                flag,
                args,
            } => {
                let addr = listen(
                    *given,
                    settings.file.callcenter.listen,
                    DEFAULT_CALLCENTER_LISTEN,
                )?;
                let options = call_center_options(args, &settings.file.callcenter)?;
                let state =
                    switchboard_callcenter::AppState::start(store.clone(), feed.clone(), options)
                        .await
                        .map_err(|e| e.to_string())?;
                let routes = switchboard_callcenter::router(state, &settings.cors_origins);
                (
                    "callcenter",
                    addr,
                    flag,
                    "SWITCHBOARD_CALLCENTER_LISTEN",
                    routes,
                )
            }
        };
        let server = Server::bind(addr, &format!("{flag} ({env})"), router, io)
            .await
            .map_err(|e| e.to_string())?;
        servers.push((name, server));
    }
    let mut serving = tokio::task::JoinSet::new();
    for (name, server) in servers {
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "{name} listening");
        // Stable lines on stdout for scripts and tests that start us on port 0.
        println!("switchboard {name} listening on http://{addr}");
        serving.spawn(server.run(shutdown.clone(), settings.grace));
    }
    // Roles stop together: one that fails stops the others, and its error is the process's.
    let mut failure = None;
    while let Some(result) = serving.join_next().await {
        let result = result
            .map_err(|e| e.to_string())
            .and_then(|served| served.map_err(|e| e.to_string()));
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
