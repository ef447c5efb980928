//! The sender's Socket.IO: consoles receive the event stream; bots receive their commands and report
//! what became of them.
//!
//! To a bot: `send_message_command` and `post_news_feed_command`, each with a `command_id`. From a bot:
//! `command_ack {command_id}` once it has the command safely (until then it is sent again after every
//! reconnect), then `message_status_update` or `post_status_update` with the outcome. Every bot event
//! may carry a Socket.IO acknowledgement callback, answered `{success, error?}`; errors are also sent
//! as an `error` event, so bots that cannot take acknowledgements still learn of them.

use crate::AppState;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use switchboard_domain::outbound::{MessageResultIn, Outcome, PostResultIn};
use switchboard_domain::{Principal, ValidationError};
use switchboard_realtime::RealtimeError;
use switchboard_storage::StorageError;
use switchboard_web::{ApiError, SocketFailure};
use tokio::sync::watch;

/// `cors_origins`: the pages that may connect with the browser's session cookie.
pub fn attach(io: &SocketIo, state: AppState, cors_origins: &[String]) {
    let store = state.store.clone();
    switchboard_realtime::namespace(
        io,
        "sender",
        store,
        cors_origins,
        |_, _| Ok(()),
        move |socket: SocketRef| {
            let state = state.clone();
            async move { connected(socket, state).await }
        },
    );
}

async fn connected(socket: SocketRef, state: AppState) {
    let closed = switchboard_realtime::closed_signal(&socket);
    match socket.extensions.get::<Principal>() {
        Some(Principal::Bot { account, .. }) => bot_connected(socket, state, account, closed),
        Some(Principal::User { user_id, .. }) => {
            tokio::spawn(console_presence(state.clone(), user_id, closed.clone()));
            switchboard_realtime::stream_events(socket, state.feed.clone(), closed);
        }
        Some(_) => switchboard_realtime::stream_events(socket, state.feed.clone(), closed),
        None => {}
    }
}

/// Records that this node holds a console of the user until it closes: the user is online for
/// automatic assignment (see `consoles`).
async fn console_presence(state: AppState, user_id: i64, mut closed: watch::Receiver<bool>) {
    if state.consoles.connected(user_id) {
        record_console(&state, user_id, true).await;
    }
    let _ = closed.wait_for(|closed| *closed).await;
    if state.consoles.disconnected(user_id) {
        record_console(&state, user_id, false).await;
    }
}

async fn record_console(state: &AppState, user_id: i64, online: bool) {
    match state
        .store
        .console_connection(&state.node, user_id, online)
        .await
    {
        Ok(0) => {}
        Ok(_) => state.feed.notify(),
        // The heartbeat records it a moment later.
        Err(error) => tracing::warn!(user_id, %error, "cannot record a console's connection"),
    }
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ValidationError> {
    serde_json::from_value(value).map_err(|e| ValidationError::new("body", e.to_string()))
}

/// A bot's event answered: `{success: true}`, or the failure (see [`switchboard_web::reply`]).
fn reply(socket: &SocketRef, ack: AckSender, event: &str, result: Result<(), SocketFailure>) {
    switchboard_web::reply(socket, ack, event, result.map(|()| None));
}

/// An event past the socket's allowance, as the bot receives it.
fn too_many_events() -> SocketFailure {
    SocketFailure::new(
        "too_many_requests",
        "too many events on this connection; slow down",
    )
}

/// A report that does not parse or breaks a rule, as the bot receives it.
fn invalid(error: &ValidationError) -> SocketFailure {
    SocketFailure::new("invalid_field", error.to_string())
}

/// A storage error as a bot receives it: the code of the one HTTP mapping (`ApiError`).
fn storage_failure(error: StorageError) -> SocketFailure {
    let contended = matches!(error, StorageError::Contended(_));
    let error = ApiError::from(error);
    if error.status().is_server_error() {
        // `internal` is what bots repeat a report on; a report that met another node's write at
        // the same rows is such a case, expected now and then with several nodes, not a fault.
        if contended {
            tracing::info!(%error, "a bot's report met another write; the bot will repeat it");
        } else {
            tracing::error!(%error, "cannot record a bot's report");
        }
        SocketFailure::new(
            "internal",
            "the server could not record this; send it again",
        )
    } else {
        SocketFailure::new(error.code(), error.to_string())
    }
}

fn bot_connected(
    socket: SocketRef,
    state: AppState,
    account: String,
    closed: watch::Receiver<bool>,
) {
    tracing::info!(%account, sid = %socket.id, "bot connected to the sender");
    let (queued, first) = state.bots.connected(&account, socket.clone());

    let (ack_state, ack_account) = (state.clone(), account.clone());
    socket.on(
        "command_ack",
        move |socket: SocketRef, TryData(body): TryData<Value>, ack: AckSender| {
            let (state, account) = (ack_state.clone(), ack_account.clone());
            // A payload that is not JSON is answered like a missing field, not logged as our error.
            let body = body.unwrap_or_default();
            async move {
                if !switchboard_realtime::event_allowed(&socket) {
                    return reply(&socket, ack, "command_ack", Err(too_many_events()));
                }
                let command_id = body
                    .get("command_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let result = if command_id.is_empty() {
                    Err(SocketFailure::new(
                        "invalid_field",
                        "`command_id` is required",
                    ))
                } else {
                    state
                        .store
                        .acknowledge_command(&account, &command_id)
                        .await
                        .map(|_| ())
                        .map_err(storage_failure)
                };
                reply(&socket, ack, "command_ack", result);
            }
        },
    );

    for (event, is_post) in [
        ("message_status_update", false),
        ("post_status_update", true),
    ] {
        let (state, account) = (state.clone(), account.clone());
        socket.on(
            event,
            move |socket: SocketRef, TryData(body): TryData<Value>, ack: AckSender| {
                let (state, account) = (state.clone(), account.clone());
                let body = body.unwrap_or_default();
                async move {
                    if !switchboard_realtime::event_allowed(&socket) {
                        return reply(&socket, ack, event, Err(too_many_events()));
                    }
                    let parsed = if is_post {
                        parse::<PostResultIn>(body).and_then(PostResultIn::validate)
                    } else {
                        parse::<MessageResultIn>(body).and_then(MessageResultIn::validate)
                    };
                    let result = match parsed {
                        Err(error) => Err(invalid(&error)),
                        Ok((command_id, outcome)) => {
                            record(&state, &account, &command_id, outcome).await
                        }
                    };
                    reply(&socket, ack, event, result);
                }
            },
        );
    }

    tokio::spawn(async move {
        if first {
            announce(&state, &account, true).await;
        }
        if let Err(reason) = deliver(&socket, &state, &account, queued, closed).await {
            // Never leave a bot connected but unserved: closing makes it reconnect, and redelivery
            // picks up every unacknowledged command.
            tracing::warn!(%account, %reason, "command delivery failed; closing the bot's socket");
            let _ = socket.clone().disconnect();
        }
        if state.bots.disconnected(&account, &socket) {
            announce(&state, &account, false).await;
        }
        tracing::info!(%account, sid = %socket.id, "bot left the sender");
    });
}

async fn record(
    state: &AppState,
    account: &str,
    command_id: &str,
    outcome: Outcome,
) -> Result<(), SocketFailure> {
    // Recording the outcome closes the command, which also counts as its acknowledgement.
    match state
        .store
        .record_outcome(account, command_id, outcome)
        .await
    {
        Ok(Some(_)) => {
            state.feed.notify();
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(error) => Err(storage_failure(error)),
    }
}

/// Records that this node holds the account's bot (or no longer does); consoles hear of it when that
/// changed the account's presence (its bot may be connected through another node too).
async fn announce(state: &AppState, account: &str, online: bool) {
    match state
        .store
        .bot_connection(&state.node, account, online)
        .await
    {
        Ok(Some(_)) => state.feed.notify(),
        Ok(None) => {}
        Err(error) => tracing::warn!(%account, %error, "cannot record the bot's connection"),
    }
}

/// Hears of commands queued for an account by other sender processes or nodes: each queued send or
/// post is announced in the event log (its status update), which the feed follows.
struct QueuedElsewhere<'a> {
    feed: &'a switchboard_realtime::EventFeed,
    account: &'a str,
    head: watch::Receiver<i64>,
    seen: i64,
}

impl<'a> QueuedElsewhere<'a> {
    fn new(state: &'a AppState, account: &'a str) -> Self {
        let head = state.feed.subscribe();
        let seen = *head.borrow();
        Self {
            feed: &state.feed,
            account,
            head,
            seen,
        }
    }

    /// Resolves when the log shows a status update of one of the account's messages or posts.
    async fn queued(&mut self) {
        use switchboard_domain::EventKind::{MessageStatusUpdate, PostStatusUpdate};
        loop {
            if self.head.changed().await.is_err() {
                return std::future::pending().await;
            }
            let Ok(events) = self.feed.after(self.seen, 4096).await else {
                return;
            };
            self.seen = events.last().map_or(self.seen, |e| e.id);
            if events.iter().any(|e| {
                matches!(e.kind, MessageStatusUpdate | PostStatusUpdate)
                    && e.account.as_deref() == Some(self.account)
            }) {
                return;
            }
        }
    }
}

/// Hands the account's unacknowledged commands to this connection, oldest first, then each new one as
/// it is queued, until the connection closes.
async fn deliver(
    socket: &SocketRef,
    state: &AppState,
    account: &str,
    mut queued: watch::Receiver<u64>,
    mut closed: watch::Receiver<bool>,
) -> Result<(), RealtimeError> {
    let mut cursor = 0;
    let mut guard = switchboard_realtime::AccessGuard::new(&state.feed);
    let mut elsewhere = QueuedElsewhere::new(state, account);
    loop {
        if !guard.still_allowed(socket).await {
            return Ok(());
        }
        queued.borrow_and_update();
        let commands = state
            .store
            .commands_to_deliver(account, cursor, DELIVERY_BATCH)
            .await?;
        let more_behind = commands.len() == DELIVERY_BATCH;
        if !commands.is_empty() {
            let mut sent = Vec::with_capacity(commands.len());
            for command in &commands {
                switchboard_realtime::send(socket, command.event, &command.payload, &mut closed)
                    .await?;
                sent.push(command.id);
                cursor = command.id;
            }
            state.delivered.note(sent).await;
        }
        if more_behind {
            continue;
        }
        // The read took everything queued before it ran: what was queued since then has woken one
        // of these already (each is a watch, told of changes made while it was not being awaited),
        // so the next read waits for news rather than come back empty (one read a command, not two).
        tokio::select! {
            _ = queued.changed() => {},
            // Commands queued by another sender process or node on the same database.
            () = elsewhere.queued() => {},
            () = tokio::time::sleep(state.options.command_poll) => {},
            () = guard.due() => {},
            _ = closed.wait_for(|c| *c) => return Ok(()),
        }
    }
}

/// Most commands read for a bot at once; a full read is followed by another at once.
const DELIVERY_BATCH: usize = 100;
