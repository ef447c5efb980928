//! The seed's Socket.IO protocol on the default namespace.
//!
//! A console connects with its token (`?token=` on the URL, as the seed's client can, or `auth.token`)
//! or, in a browser, the session cookie of its login; it emits `join_call_center`, and receives
//! `joined_call_center`, the calls ringing now, then every `incoming_call_to_crm`, `call_answered`,
//! `call_ended` and `agent_status_update` as they happen (resumable with `last_event_id`). It emits
//! `answer_call`, `end_call` and `set_agent_status`; a bad one gets an `error` event
//! `{success: false, error: {code, message, event}}` (and the same in the Socket.IO acknowledgement,
//! when the client asked for one). The connection always stays up.

use crate::AppState;
use crate::engine::ConsoleAction;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use switchboard_domain::callcenter::{JOINED_MESSAGE, Lang};
use switchboard_domain::{EventKind, Principal, ValidationError};
use switchboard_realtime::{FeedEvent, Handshake, RealtimeError, StreamFilter};
use switchboard_web::{ApiError, SocketFailure};

/// What a call-center console receives from the event log.
const CALL_CENTER_EVENTS: &[EventKind] = &[
    EventKind::IncomingCallToCrm,
    EventKind::CallAnswered,
    EventKind::CallEnded,
    EventKind::AgentStatusUpdate,
    EventKind::CallbackUpdated,
    EventKind::PhoneCommandUpdated,
];

/// The console's language; it may change it when it joins.
#[derive(Clone, Default)]
struct English(Arc<AtomicBool>);

impl English {
    fn lang(&self) -> Lang {
        if self.0.load(Ordering::Relaxed) {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    fn set(&self, lang: Lang) {
        self.0.store(lang == Lang::En, Ordering::Relaxed);
    }
}

/// `cors_origins`: the pages besides the call center's own that may connect with the session cookie.
pub fn attach(io: &SocketIo, state: AppState, cors_origins: &[String]) {
    let streams = state.clone();
    switchboard_realtime::namespace(
        io,
        "callcenter",
        state.engine.store().clone(),
        cors_origins,
        move |socket, principal| {
            if !principal.works_inboxes() {
                return Err(RealtimeError::BadToken);
            }
            // Listen before the client learns it is connected: the seed's client emits
            // `join_call_center` the moment it is, and an event that arrives before its handler is
            // dropped (socketioxide runs the connect handler after sending CONNECT). Measured: under
            // load, the join was lost.
            listen(socket, &state, principal);
            Ok(())
        },
        move |socket: SocketRef| {
            let state = streams.clone();
            async move { start_stream(socket, &state) }
        },
    );
}

/// Stored events carry the default language's messages; an English console gets them translated.
fn translate(english: English) -> switchboard_realtime::Rewrite {
    Arc::new(move |event: &FeedEvent| {
        let lang = english.lang();
        if lang == Lang::Vi {
            return None;
        }
        let message = match event.kind {
            EventKind::CallAnswered => lang.call_connected(),
            EventKind::CallEnded => lang.call_ended(),
            _ => return None,
        };
        let mut payload: Value = serde_json::from_str(event.payload.get()).ok()?;
        payload
            .as_object_mut()?
            .insert("message".into(), message.into());
        Some(payload)
    })
}

/// The call-center events from the log, in the console's language.
fn start_stream(socket: SocketRef, state: &AppState) {
    let Some(english) = socket.extensions.get::<English>() else {
        return;
    };
    let closed = switchboard_realtime::closed_signal(&socket);
    switchboard_realtime::stream_filtered(
        socket,
        state.engine.feed().clone(),
        closed,
        StreamFilter {
            kinds: CALL_CENTER_EVENTS,
            rewrite: Some(translate(english)),
        },
    );
}

/// The console's events: `join_call_center` and the actions.
fn listen(socket: &SocketRef, state: &AppState, principal: Principal) {
    let english = English::default();
    if let Some(lang) = socket
        .extensions
        .get::<Handshake>()
        .and_then(|h| h.language.as_deref().and_then(Lang::parse))
    {
        english.set(lang);
    }
    socket.extensions.insert(english.clone());

    let (join_state, join_english) = (state.clone(), english.clone());
    socket.on(
        "join_call_center",
        move |socket: SocketRef, TryData(body): TryData<Value>| {
            let (state, english) = (join_state.clone(), join_english.clone());
            async move { join(socket, state, english, body.unwrap_or(Value::Null)).await }
        },
    );

    for action in ConsoleAction::ALL {
        let (state, english, principal) = (state.clone(), english.clone(), principal.clone());
        socket.on(
            action.event(),
            move |socket: SocketRef, TryData(body): TryData<Value>, ack: AckSender| {
                let (state, english, principal) =
                    (state.clone(), english.clone(), principal.clone());
                async move {
                    if !switchboard_realtime::until_connected(&socket).await {
                        return;
                    }
                    let result = match body {
                        _ if !switchboard_realtime::event_allowed(&socket) => {
                            Err(ApiError::RateLimited {
                                retry_after_seconds: 1,
                                limit: switchboard_realtime::EVENTS_LIMIT,
                            })
                        }
                        Ok(body) => state
                            .engine
                            .act(&principal, action, &body)
                            .await
                            .map_err(ApiError::from),
                        Err(_) => Err(not_an_object().into()),
                    };
                    reply(&socket, ack, english.lang(), action.event(), result);
                }
            },
        );
    }
}

fn not_an_object() -> ValidationError {
    ValidationError::new("body", "must be a JSON object")
}

/// `joined_call_center`, then the calls ringing now: a console that (re)connects shows every popup it
/// should, even those offered while it was away.
async fn join(socket: SocketRef, state: AppState, english: English, body: Value) {
    if !switchboard_realtime::until_connected(&socket).await {
        return;
    }
    if let Some(lang) = ["lang", "language"]
        .iter()
        .find_map(|key| body.get(key).and_then(Value::as_str))
        .and_then(Lang::parse)
    {
        english.set(lang);
    }
    let user_type = body
        .get("userType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 100)
        .unwrap_or("crm_system");
    if let Err(error) = socket.emit(
        "joined_call_center",
        &json!({"message": JOINED_MESSAGE, "userType": user_type}),
    ) {
        tracing::warn!(%error, "cannot tell a console it joined the call center");
    }
    match state.engine.store().ringing_calls().await {
        Ok(calls) => {
            // Says what a console was shown when it joined: a popup it missed is traced here.
            tracing::info!(sid = %socket.id, ringing = calls.len(), "a console joined the call center");
            for call in calls {
                if let Err(error) = socket.emit("incoming_call_to_crm", &call.payload) {
                    tracing::warn!(%error, call_id = %call.offer.call_id, "cannot show a ringing call to a joining console");
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot list ringing calls for a joining console"),
    }
}

/// What a console is told of an error: the code of the HTTP mapping, a message in the console's
/// language, and the detail (which field, which call).
fn failure(error: &ApiError, lang: Lang, event: &str) -> SocketFailure {
    let code = error.code();
    let message = if error.status().is_server_error() {
        tracing::error!(%error, event, "a console's request failed");
        lang.error(code).to_owned()
    } else {
        format!("{}: {error}", lang.error(code))
    };
    let failure = SocketFailure::new(code, message);
    match error {
        ApiError::Invalid(invalid) => failure.with_field(invalid.field.as_str()),
        _ => failure,
    }
}

fn reply(
    socket: &SocketRef,
    ack: AckSender,
    lang: Lang,
    event: &str,
    result: Result<Value, ApiError>,
) {
    let result = result
        .map(Some)
        .map_err(|error| failure(&error, lang, event));
    switchboard_web::reply(socket, ack, event, result);
}
