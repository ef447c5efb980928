//! Starting server roles: one store, one event feed, every requested role's port bound before anything
//! else (so a taken port stops the start cleanly, and the console learns the ports really bound), then
//! all served until a signal.

use crate::Settings;
use crate::config::{DEFAULT_CALLCENTER_LISTEN, DEFAULT_RECEIVER_LISTEN, DEFAULT_SENDER_LISTEN};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use switchboard_console::{ConsoleConfig, Endpoint};
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

/// The call center's options: flags and environment over the `[callcenter]` and `[console]` tables over
/// defaults. The console's ports are those configured; [`run`] puts in the ones actually bound.
fn call_center_options(
    args: &crate::CallCenterArgs,
    config: &crate::config::FileConfig,
) -> Result<switchboard_callcenter::CallCenterOptions, String> {
    let file = &config.callcenter;
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
    options.console = ConsoleConfig {
        receiver: console_endpoint(
            args.console_receiver_url
                .as_ref()
                .or(config.console.receiver_url.as_ref()),
            "--console-receiver-url (SWITCHBOARD_CONSOLE_RECEIVER_URL, [console] receiver_url)",
            config.receiver.listen,
            DEFAULT_RECEIVER_LISTEN,
        )?,
        sender: console_endpoint(
            args.console_sender_url
                .as_ref()
                .or(config.console.sender_url.as_ref()),
            "--console-sender-url (SWITCHBOARD_CONSOLE_SENDER_URL, [console] sender_url)",
            config.sender.listen,
            DEFAULT_SENDER_LISTEN,
        )?,
    };
    Ok(options)
}

/// The console's way to a role: the public URL when one is set, else the port the role is configured on.
fn console_endpoint(
    url: Option<&String>,
    flag: &str,
    configured: Option<SocketAddr>,
    default: &str,
) -> Result<Endpoint, String> {
    match url.filter(|u| !u.is_empty()) {
        Some(url) => Endpoint::url(url).map_err(|e| format!("{flag}: {e}")),
        None => listen(None, configured, default).map(|addr| Endpoint::Port(addr.port())),
    }
}

/// The origins a browser gives pages loaded from the call center at `addr`: the console sends them with
/// every call to the receiver and the sender, whose CORS allowlists must hold them.
fn browser_origins(addr: SocketAddr) -> Vec<String> {
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

impl Role {
    fn name(&self) -> &'static str {
        match self {
            Self::Receiver { .. } => "receiver",
            Self::Sender { .. } => "sender",
            Self::CallCenter { .. } => "callcenter",
        }
    }
}

pub async fn run(roles: &[Role], settings: Settings) -> Result<(), String> {
    let store = settings.open().await?;
    // One process per role on a database: a second would fight the first over calls and timers.
    let _claims = roles
        .iter()
        .map(|role| store.claim_role(role.name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let result = serve(roles, &settings, &store).await;
    // Leave the database file whole on its own: the WAL copied in and cut to nothing.
    store.close().await;
    result
}

async fn serve(roles: &[Role], settings: &Settings, store: &Store) -> Result<(), String> {
    let store = store.clone();
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
    // Every listener first: a taken port stops the start before anything else happens, and the routes
    // built next know the ports the roles really got (tests bind port 0).
    let mut bound = Vec::new();
    for role in roles {
        let (name, addr, flag, env) = match role {
            Role::Receiver {
                listen: given,
                flag,
            } => (
                "receiver",
                listen(
                    *given,
                    settings.file.receiver.listen,
                    DEFAULT_RECEIVER_LISTEN,
                )?,
                flag,
                "SWITCHBOARD_RECEIVER_LISTEN",
            ),
            Role::Sender {
                listen: given,
                flag,
            } => (
                "sender",
                listen(*given, settings.file.sender.listen, DEFAULT_SENDER_LISTEN)?,
                flag,
                "SWITCHBOARD_SENDER_LISTEN",
            ),
            Role::CallCenter {
                listen: given,
                flag,
                args,
            } => {
                // Checked before any port is taken.
                call_center_options(args, &settings.file)?;
                (
                    "callcenter",
                    listen(
                        *given,
                        settings.file.callcenter.listen,
                        DEFAULT_CALLCENTER_LISTEN,
                    )?,
                    flag,
                    "SWITCHBOARD_CALLCENTER_LISTEN",
                )
            }
        };
        let listener = switchboard_web::bind(addr, &format!("{flag} ({env})"))
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        bound.push((role, name, listener, addr));
    }
    let bound_port = |wanted: &str| {
        bound
            .iter()
            .find(|(_, name, _, _)| *name == wanted)
            .map(|(_, _, _, addr)| addr.port())
    };
    let (receiver_port, sender_port) = (bound_port("receiver"), bound_port("sender"));
    // The console served by the call center calls the receiver and the sender from its own origin:
    // the port it was bound on here, or the one configured for it when it runs in another process.
    let console_at = match bound.iter().find(|(_, name, _, _)| *name == "callcenter") {
        Some((_, _, _, addr)) => *addr,
        None => listen(
            None,
            settings.file.callcenter.listen,
            DEFAULT_CALLCENTER_LISTEN,
        )?,
    };
    let mut cors_origins = settings.cors_origins.clone();
    for origin in browser_origins(console_at) {
        if !cors_origins.contains(&origin) {
            cors_origins.push(origin);
        }
    }

    let mut servers = Vec::new();
    for (role, name, listener, addr) in bound {
        let (router, io) = match role {
            Role::Receiver { .. } => {
                let state = switchboard_receiver::AppState {
                    store: store.clone(),
                    feed: feed.clone(),
                };
                switchboard_receiver::router(state, &cors_origins)
            }
            Role::Sender { .. } => {
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
                switchboard_sender::router(state, &cors_origins)
            }
            Role::CallCenter { args, .. } => {
                let mut options = call_center_options(args, &settings.file)?;
                // A role in this process is where it was bound, which may differ from what was configured.
                for (endpoint, port) in [
                    (&mut options.console.receiver, receiver_port),
                    (&mut options.console.sender, sender_port),
                ] {
                    if let (Endpoint::Port(configured), Some(port)) = (endpoint, port) {
                        *configured = port;
                    }
                }
                let state =
                    switchboard_callcenter::AppState::start(store.clone(), feed.clone(), options)
                        .await
                        .map_err(|e| e.to_string())?;
                switchboard_callcenter::router(state, &cors_origins)
            }
        };
        let file = &settings.file;
        let own = match name {
            "receiver" => file.receiver.limits.as_ref(),
            "sender" => file.sender.limits.as_ref(),
            _ => file.callcenter.limits.as_ref(),
        };
        let limits = file.limits.resolve(own, &format!("{name}.limits"))?;
        servers.push((
            name,
            addr,
            Server::from_listener(listener, router, io).with_limits(limits),
        ));
    }
    if servers.iter().any(|(name, _, _)| *name == "callcenter") && !switchboard_console::is_built()
    {
        tracing::warn!(
            "this binary was built without the web console (console/dist was missing): its page says \
             how to build it; the APIs work as usual"
        );
    }
    let mut serving = tokio::task::JoinSet::new();
    let mut console = None;
    for (name, addr, server) in servers {
        tracing::info!(%addr, "{name} listening");
        // Stable lines on stdout for scripts and tests that start us on port 0.
        println!("switchboard {name} listening on http://{addr}");
        if name == "callcenter" {
            console = browser_origins(addr).into_iter().next();
        }
        serving.spawn(server.run(shutdown.clone(), settings.grace));
    }
    if let Some(origin) = console {
        // Not `println!`: a reader that stopped after the "listening" lines must not stop the server.
        let _ = writeln!(std::io::stdout(), "switchboard console on {origin}/");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CallCenterArgs;
    use crate::config::FileConfig;

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

    #[test]
    fn console_urls_come_from_flags_over_the_file_and_are_checked() {
        let mut file: FileConfig =
            toml::from_str("[sender]\nlisten = \"0.0.0.0:6002\"\n[console]\nreceiver_url = \"https://in.example.vn/\"\n")
                .expect("toml");
        let options = call_center_options(&CallCenterArgs::default(), &file).expect("valid");
        assert_eq!(
            options.console,
            ConsoleConfig {
                receiver: Endpoint::Url("https://in.example.vn".into()),
                sender: Endpoint::Port(6002),
            }
        );
        let args = CallCenterArgs {
            console_receiver_url: Some("http://10.0.0.5:5001".into()),
            console_sender_url: Some("https://crm.example.vn:5002".into()),
            ..CallCenterArgs::default()
        };
        let options = call_center_options(&args, &file).expect("valid");
        assert_eq!(
            options.console.receiver,
            Endpoint::Url("http://10.0.0.5:5001".into())
        );
        assert_eq!(
            options.console.sender,
            Endpoint::Url("https://crm.example.vn:5002".into())
        );

        file.console.sender_url = Some("crm.example.vn:5002".into());
        let error = call_center_options(&CallCenterArgs::default(), &file).expect_err("no scheme");
        assert!(
            error.contains("--console-sender-url") && error.contains("crm.example.vn:5002"),
            "{error}"
        );
    }
}
