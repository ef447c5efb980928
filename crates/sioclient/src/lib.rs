//! A small Socket.IO client (protocol 5 over Engine.IO 4, WebSocket transport) for Switchboard's bots,
//! tests and benchmarks. It speaks exactly what Switchboard's servers need: connect to the default
//! namespace with an `auth` payload, receive events, emit events (with or without an acknowledgement),
//! acknowledge the server's events, and answer pings. No binary packets, no polling transport.

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect: {0}")]
    Transport(String),
    #[error("the server refused the connection: {0}")]
    Refused(String),
    #[error("unexpected packet from the server: {0}")]
    Protocol(String),
    #[error("the connection is closed")]
    Closed,
    #[error("no acknowledgement within {0:?}")]
    AckTimeout(Duration),
    #[error("cannot encode or decode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// An event the server sent: its name, its arguments as raw JSON, and an ack id if it wants an answer.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    /// The packet's JSON array, name first: `["name", arg1, …]` as text, parsed only on demand.
    raw: String,
    pub ack_id: Option<u64>,
}

impl Event {
    /// The first argument, deserialized.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        let (_, data): (serde::de::IgnoredAny, T) = serde_json::from_str(&self.raw)?;
        Ok(data)
    }

    /// The whole packet array (`["name", args…]`) as text.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

type PendingAcks = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// Locks the waiting acks even when a task panicked while holding them: a map of senders is never
/// left half-updated by one insert or remove.
fn lock_acks(pending: &PendingAcks) -> MutexGuard<'_, HashMap<u64, oneshot::Sender<Value>>> {
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connected client. Dropping it closes the connection.
pub struct Client {
    emitter: Emitter,
    events: mpsc::UnboundedReceiver<Event>,
    /// The Socket.IO session id the server gave this connection.
    pub sid: String,
}

/// The sending half of a connection, for tasks other than the one reading events. Clones share the
/// connection; they do not keep it open once the [`Client`] is dropped.
#[derive(Clone)]
pub struct Emitter {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: PendingAcks,
    next_ack: Arc<AtomicU64>,
}

/// Turns `http://host:port` (plus an optional query) into the Engine.IO WebSocket URL.
fn websocket_url(server: &str, query: &str) -> String {
    let base = server.trim_end_matches('/');
    let base = base
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let extra = if query.is_empty() {
        String::new()
    } else {
        format!("&{query}")
    };
    format!("{base}/socket.io/?EIO=4&transport=websocket{extra}")
}

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 8 * 1024;

impl Client {
    /// Connects to the default namespace of `server` (`http://127.0.0.1:5001`), sending `auth` in the
    /// CONNECT packet and `query` (`a=1&b=2`, already encoded) in the URL.
    pub async fn connect(server: &str, auth: &Value, query: &str) -> Result<Self, ClientError> {
        let url = websocket_url(server, query);
        // Socket.IO packets are small: a small read buffer spares zeroing 128 KiB per read (measured: a
        // quarter of a many-client benchmark's time went to that memset).
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER);
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))?;
        let open = next_text(&mut socket).await?;
        if !open.starts_with('0') {
            return Err(ClientError::Protocol(open));
        }
        // The server pings every pingInterval and waits pingTimeout for the pong; silence for longer
        // than both means the connection is gone even if TCP has not noticed (a NAT dropped it).
        let handshake: Value = serde_json::from_str(&open[1..]).unwrap_or_default();
        let millis = |key: &str, default: u64| handshake[key].as_u64().unwrap_or(default);
        let silence_limit =
            Duration::from_millis(millis("pingInterval", 25_000) + millis("pingTimeout", 20_000));
        socket
            .send(Message::text(format!("40{}", serde_json::to_string(auth)?)))
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let sid = loop {
            let packet = next_text(&mut socket).await?;
            if packet == "2" {
                socket
                    .send(Message::text("3"))
                    .await
                    .map_err(|e| ClientError::Transport(e.to_string()))?;
                continue;
            }
            if let Some(body) = packet.strip_prefix("40") {
                let body: Value = serde_json::from_str(body)?;
                break body
                    .get("sid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
            }
            if let Some(body) = packet.strip_prefix("44") {
                let body: Value =
                    serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
                let message = body
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| body.to_string(), str::to_owned);
                return Err(ClientError::Refused(message));
            }
            return Err(ClientError::Protocol(packet));
        };
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let (event_tx, events) = mpsc::unbounded_channel();
        let pending: PendingAcks = Arc::default();
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader_out = outgoing.clone();
        let reader_pending = Arc::clone(&pending);
        tokio::spawn(async move {
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(silence_limit, stream.next()).await
            {
                let Message::Text(text) = message else {
                    continue;
                };
                if !dispatch(text.as_str(), &reader_out, &event_tx, &reader_pending) {
                    break;
                }
            }
            // Wake everyone waiting on an ack: the connection is gone.
            lock_acks(&reader_pending).clear();
        });
        Ok(Self {
            emitter: Emitter {
                outgoing,
                pending,
                next_ack: Arc::new(AtomicU64::new(1)),
            },
            events,
            sid,
        })
    }

    /// A handle that emits on this connection from another task.
    pub fn emitter(&self) -> Emitter {
        self.emitter.clone()
    }

    /// The next event from the server; `None` once the connection is closed.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }
}

/// Emitting is the [`Emitter`]'s (`emit`, `emit_with_ack`, `ack`, `close`): a client is one too.
impl std::ops::Deref for Client {
    type Target = Emitter;

    fn deref(&self) -> &Emitter {
        &self.emitter
    }
}

impl Emitter {
    /// Sends an event without waiting for anything.
    pub fn emit<T: Serialize>(&self, name: &str, data: &T) -> Result<(), ClientError> {
        self.send(format!("42{}", serde_json::to_string(&(name, data))?))
    }

    /// Sends an event and waits for the server's acknowledgement (its first argument).
    pub async fn emit_with_ack<T: Serialize>(
        &self,
        name: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock_acks(&self.pending).insert(id, tx);
        self.send(format!("42{id}{}", serde_json::to_string(&(name, data))?))?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                lock_acks(&self.pending).remove(&id);
                Err(ClientError::AckTimeout(timeout))
            }
        }
    }

    /// Answers an event the server sent with an ack id.
    pub fn ack<T: Serialize>(&self, ack_id: u64, data: &T) -> Result<(), ClientError> {
        self.send(format!("43{ack_id}{}", serde_json::to_string(&[data])?))
    }

    /// Queues one text packet for the writer; an error means the connection is gone.
    fn send(&self, packet: String) -> Result<(), ClientError> {
        self.outgoing
            .send(Message::text(packet))
            .map_err(|_| ClientError::Closed)
    }

    /// Leaves the namespace and closes the connection.
    pub fn close(&self) {
        let _ = self.outgoing.send(Message::text("41"));
        let _ = self.outgoing.send(Message::Close(None));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

async fn next_text<S>(socket: &mut S) -> Result<String, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ClientError::Transport(e.to_string())),
        }
    }
}

/// Splits `<digits>rest` into the number and the rest.
fn leading_number(text: &str) -> (Option<u64>, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (text[..end].parse().ok(), &text[end..])
}

/// Handles one Engine.IO packet; returns false when the connection should end.
fn dispatch(
    text: &str,
    outgoing: &mpsc::UnboundedSender<Message>,
    events: &mpsc::UnboundedSender<Event>,
    pending: &PendingAcks,
) -> bool {
    match text.as_bytes().first() {
        Some(b'2') => outgoing.send(Message::text("3")).is_ok(),
        Some(b'1') => false,
        Some(b'4') => {
            let packet = &text[1..];
            match packet.as_bytes().first() {
                Some(b'2') => {
                    let (ack_id, raw) = leading_number(&packet[1..]);
                    let name = serde_json::from_str::<(String, serde::de::IgnoredAny)>(raw)
                        .or_else(|_| {
                            serde_json::from_str::<(String,)>(raw)
                                .map(|(n,)| (n, serde::de::IgnoredAny))
                        });
                    match name {
                        Ok((name, _)) => events
                            .send(Event {
                                name,
                                raw: raw.to_owned(),
                                ack_id,
                            })
                            .is_ok(),
                        Err(error) => {
                            tracing::warn!(%error, "ignoring an event that is not a JSON array");
                            true
                        }
                    }
                }
                Some(b'3') => {
                    let (Some(id), raw) = leading_number(&packet[1..]) else {
                        return true;
                    };
                    let value = serde_json::from_str::<Vec<Value>>(raw)
                        .ok()
                        .and_then(|args| args.into_iter().next())
                        .unwrap_or(Value::Null);
                    if let Some(tx) = lock_acks(pending).remove(&id) {
                        let _ = tx.send(value);
                    }
                    true
                }
                Some(b'1') => false,
                _ => true,
            }
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_switch_scheme_and_keep_the_query() {
        assert_eq!(
            websocket_url("http://127.0.0.1:5001/", "token=a"),
            "ws://127.0.0.1:5001/socket.io/?EIO=4&transport=websocket&token=a"
        );
        assert_eq!(
            websocket_url("https://x", ""),
            "wss://x/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn events_are_parsed_with_their_ack_ids() {
        let (out, _out_rx) = mpsc::unbounded_channel();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let pending = PendingAcks::default();
        assert!(dispatch(
            r#"4212["send_message_command",{"id":7}]"#,
            &out,
            &tx,
            &pending
        ));
        let event = rx.try_recv().expect("event");
        assert_eq!(
            (event.name.as_str(), event.ack_id),
            ("send_message_command", Some(12))
        );
        assert_eq!(event.data::<Value>().expect("data")["id"], 7);
        assert!(!dispatch("1", &out, &tx, &pending));
    }
}
