//! Socket.IO building blocks: who is connecting, and the resumable event stream each socket gets.

use crate::feed::{EventFeed, FeedEvent};
use crate::handshake::Handshake;
use serde_json::Value;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide::{SendError, SocketIo};
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::limits::{CountedSlots, Rate, TokenBucket};
use switchboard_domain::{AccountView, EventKind, Principal};
use switchboard_storage::{StorageError, Store};
use tokio::sync::watch;

/// Why a connection was refused (the client receives the message in its `connect_error`), or why a
/// socket's stream stopped (the socket is closed; the client resumes from its last event id).
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error(
        "authentication required: pass the token as auth.token or the `token` query parameter, \
         or log in (a browser then sends the session cookie)"
    )]
    MissingToken,
    #[error("the token is unknown or revoked")]
    BadToken,
    #[error("the session cookie is unknown, expired or ended: log in again")]
    BadSession,
    /// A page of another site tried to use the browser's session cookie.
    #[error(
        "a page from `{0}` may not connect with the session cookie: that origin is not allowed here \
         (cors_origins)"
    )]
    ForeignOrigin(String),
    #[error("`{0}` must be a non-negative integer event id")]
    BadEventId(&'static str),
    #[error("the server cannot check tokens right now; retry")]
    Unavailable,
    #[error("`{0}` is too large")]
    TooLarge(&'static str),
    #[error("account `{0}` is disabled")]
    AccountDisabled(String),
    #[error(
        "this user has too many connections open (at most {MAX_SOCKETS_PER_USER}); close other tabs"
    )]
    TooManySockets,
    /// What a stream sends could not be read.
    #[error("cannot read what the socket is sent: {0}")]
    Storage(#[from] StorageError),
    #[error("the event feed stopped")]
    FeedStopped,
    #[error("the client disconnected")]
    Disconnected,
    #[error("cannot send to the client: {0}")]
    Send(#[from] SendError),
}

/// Sets up namespace `/` as every role does: a socket is admitted once [`authenticate`]d and once
/// `admit` agrees (which may also set the socket up before the client learns it is connected, so an
/// event the client emits at once is not lost; such a handler awaits [`until_connected`] before it
/// emits); then `connected` serves it.
pub fn namespace<A, C, F>(
    io: &SocketIo,
    role: &'static str,
    store: Store,
    cors_origins: &[String],
    admit: A,
    connected: C,
) where
    A: Fn(&SocketRef, Principal) -> Result<(), RealtimeError> + Send + Sync + 'static,
    C: Fn(SocketRef) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let origins: Arc<[String]> = cors_origins.into();
    let admit = Arc::new(admit);
    io.ns(
        "/",
        (move |socket: SocketRef| {
            count_connection(&socket, role);
            if let Some(ready) = socket.extensions.get::<Ready>() {
                ready.0.send_replace(true);
            }
            connected(socket)
        })
        .with(move |socket: SocketRef, TryData(auth): TryData<Value>| {
            let (store, origins, admit) = (store.clone(), Arc::clone(&origins), Arc::clone(&admit));
            async move {
                authenticate(&store, &socket, auth.ok().as_ref(), &origins).await?;
                let principal = socket
                    .extensions
                    .get::<Principal>()
                    .ok_or(RealtimeError::BadToken)?;
                socket
                    .extensions
                    .insert(Ready(Arc::new(watch::Sender::new(false))));
                admit(&socket, principal)
            }
        }),
    );
}

/// Turns true when socketioxide counts the socket as connected. It sends CONNECT, then marks the socket
/// connected, then runs the connect handler, while the client's first event is handled on another
/// task: a handler set up at admission can run in between, and every emit then fails with `Closed`.
/// Seen in CI with CPU burners beside the tests: a console that joined the call center was shown none
/// of the calls ringing.
#[derive(Clone)]
struct Ready(Arc<watch::Sender<bool>>);

/// How long a handler set up at admission waits for its socket to be connected.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Waits until `socket` may be emitted to (see [`Ready`]); false if it never was within a deadline
/// (it was closed first).
pub async fn until_connected(socket: &SocketRef) -> bool {
    if socket.connected() {
        return true;
    }
    let Some(Ready(ready)) = socket.extensions.get::<Ready>() else {
        return false;
    };
    let mut connected = ready.subscribe();
    matches!(
        tokio::time::timeout(READY_WITHIN, connected.wait_for(|now| *now)).await,
        Ok(Ok(_))
    )
}

/// Counts an admitted socket in `switchboard_socketio_connections` for as long as it lives: the count
/// goes down when the socket's last reference (its extensions with it) is dropped.
fn count_connection(socket: &SocketRef, role: &'static str) {
    let kind = match socket.extensions.get::<Principal>() {
        Some(Principal::Bot { .. }) => "bot",
        _ if role == "callcenter" => "callcenter_client",
        _ => "console",
    };
    let labels = switchboard_metrics::ConnectionLabels { role, kind };
    switchboard_metrics::metrics()
        .socketio_connections
        .get_or_create(&labels)
        .inc();
    socket.extensions.insert(Arc::new(Counted(labels)));
}

/// Takes its connection off the gauge when dropped.
#[derive(Debug)]
struct Counted(switchboard_metrics::ConnectionLabels);

impl Drop for Counted {
    fn drop(&mut self) {
        switchboard_metrics::metrics()
            .socketio_connections
            .get_or_create(&self.0)
            .dec();
    }
}

/// Sockets one console user may have open at once in this process: a tab holds one per role, so this
/// is many tabs; 40 sockets of one user replaying the log slowed everyone else's requests to seconds.
pub const MAX_SOCKETS_PER_USER: usize = 24;

/// A user's open sockets, per database (several test servers share a process).
static SOCKETS_PER_USER: std::sync::LazyLock<Arc<CountedSlots<(String, i64)>>> =
    std::sync::LazyLock::new(Default::default);

/// Events one socket may send, a token bucket: people click (20 a second, 100 at once), bots report
/// every command they run (2,000 a second, 4,000 at once). An event past it is answered
/// `too_many_requests` and not acted on.
#[derive(Debug)]
pub struct EventAllowance(std::sync::Mutex<TokenBucket>);

impl EventAllowance {
    fn for_principal(principal: &Principal) -> Self {
        let rate = match principal {
            Principal::Bot { .. } => Rate::new(2000.0, 4000.0),
            _ => Rate::new(20.0, 100.0),
        };
        Self(std::sync::Mutex::new(TokenBucket::full(
            rate,
            std::time::Instant::now(),
        )))
    }

    fn take(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(std::time::Instant::now())
            .is_ok()
    }
}

/// Whether the socket may send one more event now (see [`EventAllowance`]); sockets that were not
/// authenticated here have no allowance and may not.
pub fn event_allowed(socket: &SocketRef) -> bool {
    let allowed = socket
        .extensions
        .get::<Arc<EventAllowance>>()
        .is_some_and(|allowance| allowance.take());
    if !allowed
        && let (Some(counted), Some(principal)) = (
            socket.extensions.get::<Arc<Counted>>(),
            socket.extensions.get::<Principal>(),
        )
    {
        switchboard_metrics::metrics()
            .rate_limited
            .get_or_create(&switchboard_metrics::RefusalLabels {
                role: counted.0.role,
                limit: EVENTS_LIMIT,
                caller: principal.kind(),
            })
            .inc();
    }
    allowed
}

/// The limit of [`event_allowed`], as refusals name it.
pub const EVENTS_LIMIT: &str = "events on this connection";

/// The console's session cookie, which the sender sets at login (HttpOnly: page scripts cannot read it).
pub use switchboard_domain::auth::SESSION_COOKIE;

/// The session token in a request's `Cookie` headers, if there is one.
fn session_cookie<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    switchboard_domain::auth::cookie(headers, SESSION_COOKIE)
}

/// Whether a page of `origin` may act with the browser's cookie here: its origin is on the role's
/// allowlist (the one CORS uses), or it is this server's own origin (`host`, the request's `Host`).
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if !a.is_empty() && a.eq_ignore_ascii_case(h))
}

/// Connect middleware body: checks the credentials and stores the [`Principal`] and [`Handshake`] on
/// the socket. A token in `auth` or the query wins; without one, the session cookie of the handshake
/// request is used, but only from a page of `allowed_origins` (the role's CORS allowlist) or of this
/// server: another site's page must not open a socket in the user's name. A handshake without `Origin`
/// does not come from a page, and may use it.
pub async fn authenticate(
    store: &Store,
    socket: &SocketRef,
    auth: Option<&Value>,
    allowed_origins: &[String],
) -> Result<(), RealtimeError> {
    let parts = socket.req_parts();
    let mut handshake = Handshake::parse(auth, parts.uri.query())?;
    let from_cookie = handshake.token.is_none();
    if from_cookie {
        let cookies = parts.headers.get_all("cookie");
        let token = session_cookie(cookies.iter().filter_map(|v| v.to_str().ok()))
            .ok_or(RealtimeError::MissingToken)?;
        if let Some(origin) = parts.headers.get("origin") {
            let host = parts.headers.get("host").and_then(|h| h.to_str().ok());
            match origin.to_str() {
                Ok(origin) if origin_allowed(origin, host, allowed_origins) => {}
                Ok(origin) => {
                    let shown: String = origin.chars().take(200).collect();
                    tracing::debug!(sid = %socket.id, origin = %shown, "socket refused: session cookie from a foreign origin");
                    return Err(RealtimeError::ForeignOrigin(shown));
                }
                Err(_) => return Err(RealtimeError::ForeignOrigin("?".into())),
            }
        }
        handshake.token = Some(token.to_owned());
    }
    let token = handshake
        .token
        .as_deref()
        .ok_or(RealtimeError::MissingToken)?;
    let principal = store
        .authenticate(token)
        .await
        .map_err(|error| match error {
            switchboard_storage::StorageError::AccountDisabled(account) => {
                RealtimeError::AccountDisabled(account)
            }
            error => {
                tracing::error!(%error, "socket authentication failed");
                RealtimeError::Unavailable
            }
        })?;
    let principal = principal.ok_or(if from_cookie {
        RealtimeError::BadSession
    } else {
        RealtimeError::BadToken
    })?;
    if let Principal::User { user_id, .. } = &principal {
        let slot = SOCKETS_PER_USER
            .take((store.location(), *user_id), MAX_SOCKETS_PER_USER)
            .ok_or(RealtimeError::TooManySockets)?;
        // Counted until the socket, and with it its extensions, is dropped.
        socket.extensions.insert(Arc::new(slot));
    }
    socket
        .extensions
        .insert(Arc::new(EventAllowance::for_principal(&principal)));
    socket.extensions.insert(principal);
    socket.extensions.insert(handshake);
    Ok(())
}

/// Whether `principal`, who sees the accounts of `view` and asked for `accounts`, should receive
/// `event`.
fn visible(
    principal: &Principal,
    view: &AccountView,
    accounts: &[String],
    event: &FeedEvent,
) -> bool {
    // The team's notes and assignments are no business of a page's bot.
    if event.kind.is_teamwork() && matches!(principal, Principal::Bot { .. }) {
        return false;
    }
    let Some(account) = event.account.as_deref() else {
        return principal.account_scope().is_none() && accounts.is_empty();
    };
    principal.account_scope().is_none_or(|own| own == account)
        && view.sees(account)
        && (accounts.is_empty() || accounts.iter().any(|a| a == account))
}

/// How long to wait before retrying a send to a client whose outgoing buffer is full.
const BACKPRESSURE_PAUSE: Duration = Duration::from_millis(5);

/// A flag that turns true when the socket disconnects. Call it once per socket: it installs the socket's
/// disconnect handler, and long-lived tasks watch the flag to end (and clean up) themselves.
pub fn closed_signal(socket: &SocketRef) -> watch::Receiver<bool> {
    let (closed_tx, closed_rx) = watch::channel(false);
    let closed_tx = Arc::new(closed_tx);
    socket.on_disconnect(move |_: DisconnectReason| async move {
        closed_tx.send_replace(true);
    });
    closed_rx
}

/// How often a connected socket's token is checked again, for revocations made by another process
/// (the command line, a second sender). Revocations in this process are applied at once.
const REVALIDATE_EVERY: Duration = Duration::from_secs(30);

/// Keeps a long-lived socket honest: its credentials are checked again periodically and whenever this
/// process revokes access, and the socket is closed when they no longer hold.
pub struct AccessGuard {
    store: Store,
    revalidations: watch::Receiver<u64>,
    next_check: tokio::time::Instant,
}

impl AccessGuard {
    pub fn new(feed: &EventFeed) -> Self {
        let mut revalidations = feed.revalidations();
        revalidations.borrow_and_update();
        Self {
            store: feed.store().clone(),
            revalidations,
            next_check: tokio::time::Instant::now() + REVALIDATE_EVERY,
        }
    }

    /// Resolves when a check is due; for `select!` in an idle loop.
    pub async fn due(&mut self) {
        tokio::select! {
            _ = self.revalidations.changed() => {
                // `changed` marked the news as seen: make the next `still_allowed` check at once.
                self.next_check = tokio::time::Instant::now();
            }
            () = tokio::time::sleep_until(self.next_check) => {},
        }
    }

    /// Checks the socket's credentials if a check is due; returns false (after disconnecting the
    /// socket) when they no longer grant what they granted at the handshake.
    pub async fn still_allowed(&mut self, socket: &SocketRef) -> bool {
        let changed = self.revalidations.has_changed().unwrap_or(false);
        if !changed && tokio::time::Instant::now() < self.next_check {
            return true;
        }
        self.revalidations.borrow_and_update();
        self.next_check = tokio::time::Instant::now() + REVALIDATE_EVERY;
        let (Some(handshake), Some(principal)) = (
            socket.extensions.get::<Handshake>(),
            socket.extensions.get::<Principal>(),
        ) else {
            return false;
        };
        let current = match handshake.token.as_deref() {
            Some(token) => self.store.authenticate(token).await,
            None => Ok(None),
        };
        match current {
            Ok(Some(now)) if now == principal => true,
            Ok(_) | Err(switchboard_storage::StorageError::AccountDisabled(_)) => {
                tracing::info!(sid = %socket.id, "access revoked; closing the socket");
                let _ = socket.clone().disconnect();
                false
            }
            Err(error) => {
                // A database hiccup is no reason to drop every client; check again soon.
                tracing::warn!(%error, "cannot re-check a socket's token");
                true
            }
        }
    }
}

/// Rewrites an event for one socket (a translation of its message), or `None` to send it as stored.
pub type Rewrite = Arc<dyn Fn(&FeedEvent) -> Option<Value> + Send + Sync>;

/// Which events a socket's stream carries, and how.
#[derive(Clone, Default)]
pub struct StreamFilter {
    /// Only events of these kinds; empty for every kind.
    pub kinds: &'static [EventKind],
    pub rewrite: Option<Rewrite>,
}

/// Streams the event log to an authenticated socket, from its handshake's `last_event_id` (or from now),
/// until `closed` turns true. Each event is sent once, in log order; a slow client is waited for.
pub fn stream_events(socket: SocketRef, feed: EventFeed, closed: watch::Receiver<bool>) {
    stream_filtered(socket, feed, closed, StreamFilter::default());
}

/// [`stream_events`], limited to the events `filter` lets through.
pub fn stream_filtered(
    socket: SocketRef,
    feed: EventFeed,
    closed: watch::Receiver<bool>,
    filter: StreamFilter,
) {
    let (Some(principal), Some(handshake)) = (
        socket.extensions.get::<Principal>(),
        socket.extensions.get::<Handshake>(),
    ) else {
        tracing::warn!(sid = %socket.id, "stream_events called on an unauthenticated socket");
        return;
    };
    tokio::spawn(async move {
        // Clamp a resume point beyond the log (a client of a database that was reset) to the log's end,
        // read from the database: another process may have written events this feed has not polled yet.
        let start = match handshake.last_event_id {
            None => feed.head(),
            Some(id) if id <= feed.head() => id,
            Some(id) => match feed.store().last_event_id().await {
                Ok(last) => id.min(last),
                Err(_) => id.min(feed.head()),
            },
        };
        let mut start = start;
        if let Some(requested) = handshake.last_event_id
            && let Ok(Some(oldest)) = feed.store().oldest_event_id().await
            && requested + 1 < oldest
        {
            start = start.max(oldest - 1);
            // Events the client missed are past the retention period: it gets what is left, and must
            // reload what it shows rather than trust its state to be complete.
            let notice =
                serde_json::json!({"requested_event_id": requested, "oldest_event_id": oldest});
            let _ = socket.emit("resync_required", &notice);
        }
        let result = run_stream(
            &socket,
            &feed,
            Audience {
                principal: &principal,
                accounts: &handshake.accounts,
                filter: &filter,
            },
            start,
            closed,
        )
        .await;
        if let Err(reason) = result {
            // The socket stays open only while it is being served: close it, and the client will
            // reconnect with its last event id and lose nothing.
            tracing::warn!(sid = %socket.id, %reason, "event stream failed; closing the socket");
            let _ = socket.disconnect();
        }
    });
}

/// Who a stream is for, and what they asked to receive.
struct Audience<'a> {
    principal: &'a Principal,
    accounts: &'a [String],
    filter: &'a StreamFilter,
}

async fn run_stream(
    socket: &SocketRef,
    feed: &EventFeed,
    audience: Audience<'_>,
    mut cursor: i64,
    mut closed: watch::Receiver<bool>,
) -> Result<(), RealtimeError> {
    let mut head = feed.subscribe();
    let mut guard = AccessGuard::new(feed);
    let mut view = feed.store().account_view(audience.principal).await?;
    loop {
        if !guard.still_allowed(socket).await {
            return Ok(());
        }
        head.borrow_and_update();
        let events = feed.after(cursor, 256).await?;
        if events.is_empty() {
            tokio::select! {
                changed = head.changed() => changed.map_err(|_| RealtimeError::FeedStopped)?,
                () = guard.due() => {},
                _ = closed.wait_for(|c| *c) => return Ok(()),
            }
            continue;
        }
        for event in events {
            if event.kind == EventKind::AccessChanged {
                // Read the view again here, in the log's order: what follows is filtered by it.
                let before = std::mem::replace(
                    &mut view,
                    feed.store().account_view(audience.principal).await?,
                );
                if audience.principal.works_inboxes() && !audience.principal.is_admin() {
                    // Only that their view changed: the lists are an admin's business.
                    if before != view {
                        let notice = serde_json::json!({"event_id": event.id});
                        send(socket, event.kind.as_str(), &notice, &mut closed).await?;
                    }
                    cursor = event.id;
                    continue;
                }
            }
            let wanted =
                audience.filter.kinds.is_empty() || audience.filter.kinds.contains(&event.kind);
            if wanted && visible(audience.principal, &view, audience.accounts, &event) {
                match audience
                    .filter
                    .rewrite
                    .as_ref()
                    .and_then(|rewrite| rewrite(&event))
                {
                    Some(payload) => {
                        send(socket, event.kind.as_str(), &payload, &mut closed).await?
                    }
                    None => send(socket, event.kind.as_str(), &event.payload, &mut closed).await?,
                }
            }
            cursor = event.id;
        }
    }
}

/// Sends one event to one socket, waiting while the client's outgoing buffer is full.
pub async fn send<T: serde::Serialize + ?Sized>(
    socket: &SocketRef,
    name: &str,
    payload: &T,
    closed: &mut watch::Receiver<bool>,
) -> Result<(), RealtimeError> {
    loop {
        match socket.emit(name, payload) {
            Ok(()) => return Ok(()),
            Err(SendError::Socket(socketioxide::SocketError::InternalChannelFull)) => {
                tokio::select! {
                    () = tokio::time::sleep(BACKPRESSURE_PAUSE) => {},
                    _ = closed.wait_for(|c| *c) => return Err(RealtimeError::Disconnected),
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let headers = ["theme=dark; switchboard_session=sbs_abc ; x=1", "other=2"];
        assert_eq!(session_cookie(headers), Some("sbs_abc"));
        assert_eq!(
            session_cookie(["a=1", "switchboard_session=sbs_second"]),
            Some("sbs_second")
        );
        assert_eq!(session_cookie(["switchboard_session="]), None);
        assert_eq!(session_cookie(["my_switchboard_session=sbs_x"]), None);
        assert_eq!(session_cookie([]), None);
    }

    #[test]
    fn cookies_are_taken_from_allowed_origins_and_the_server_itself() {
        let allowed = ["http://127.0.0.1:8000".to_owned()];
        let host = Some("127.0.0.1:5002");
        assert!(origin_allowed("http://127.0.0.1:8000", host, &allowed));
        assert!(origin_allowed("http://127.0.0.1:5002", host, &allowed));
        assert!(origin_allowed(
            "https://LOCALHOST:5002",
            Some("localhost:5002"),
            &[]
        ));
        for foreign in [
            "http://evil.example",
            "http://127.0.0.1:9999",
            "https://127.0.0.1:8000.evil.example",
            "null",
            "",
            "http://",
        ] {
            assert!(!origin_allowed(foreign, host, &allowed), "{foreign}");
        }
        assert!(!origin_allowed("http://127.0.0.1:5002", None, &allowed));
    }

    #[test]
    fn bots_see_only_their_account() {
        let event = |account: Option<&str>| FeedEvent {
            id: 1,
            kind: switchboard_domain::EventKind::NewMessages,
            account: account.map(str::to_owned),
            payload: serde_json::value::RawValue::from_string("{}".into()).expect("raw"),
            written_at: switchboard_domain::UnixMillis(0),
        };
        let bot = Principal::Bot {
            token_id: 1,
            account: "a1".into(),
        };
        let integrator = Principal::Integrator {
            token_id: 2,
            name: "crm".into(),
            scoped: false,
        };
        let all = AccountView::All;
        assert!(visible(&bot, &all, &[], &event(Some("a1"))));
        assert!(!visible(&bot, &all, &[], &event(Some("a2"))));
        assert!(!visible(&bot, &all, &[], &event(None)));
        assert!(visible(&integrator, &all, &[], &event(Some("a2"))));
        assert!(!visible(
            &integrator,
            &all,
            &["a1".into()],
            &event(Some("a2"))
        ));
        let except_a2 = AccountView::Except(["a2".to_owned()].into());
        assert!(visible(&integrator, &except_a2, &[], &event(Some("a1"))));
        assert!(!visible(&integrator, &except_a2, &[], &event(Some("a2"))));
        assert!(visible(&integrator, &except_a2, &[], &event(None)));
    }
}
