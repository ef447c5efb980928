//! Real time for every role: the event feed that turns the event log into a live stream, and the
//! Socket.IO pieces every role's namespace is built from (handshake authentication, resumable streams).
//!
//! Delivery is per socket: each connection has its own cursor (the last event id it was sent) and its
//! own task that sends what lies past the cursor, from memory when recent, from the database when not.
//! A slow client therefore only delays itself, a reconnecting client resumes exactly where it left off,
//! and the order is the log's order. Nothing is ever "broadcast and hope".

mod feed;
mod handshake;
mod socket;

pub use feed::{EventFeed, FeedEvent, FeedOptions};
pub use handshake::Handshake;
pub use socket::{
    AccessGuard, EVENTS_LIMIT, MAX_SOCKETS_PER_USER, RealtimeError, Rewrite, SESSION_COOKIE,
    StreamFilter, authenticate, closed_signal, event_allowed, namespace, send, stream_events,
    stream_filtered, until_connected,
};
