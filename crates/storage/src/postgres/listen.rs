//! The node's listener: one connection that `LISTEN`s for the commits of every node (each group
//! commit sends `NOTIFY` inside its transaction, delivered only if it commits).

use super::{CHANNEL, PgConn, connect};
use crate::commits::CommitSignal;
use postgres::fallible_iterator::FallibleIterator;
use std::time::Duration;

/// How long the listener waits for a notification before checking whether it is still wanted.
const WAIT: Duration = Duration::from_millis(250);

/// How long it waits before connecting again after losing the database.
const RECONNECT: Duration = Duration::from_secs(1);

pub(super) fn run(config: &postgres::Config, target: &str, signal: &CommitSignal) {
    while !signal.abandoned() {
        match connect(config, target).and_then(|mut conn| {
            conn.control(&format!("LISTEN {CHANNEL}"))?;
            Ok(conn)
        }) {
            Ok(mut conn) => {
                // Whatever was committed while nobody listened is found by looking once more.
                signal.bump();
                listen(&mut conn, signal);
            }
            Err(error) => {
                tracing::warn!(database = %target, %error, "cannot listen for other nodes' commits; retrying");
                std::thread::sleep(RECONNECT);
            }
        }
    }
}

/// Wakes the store's subscribers at each notification, until the connection fails or nobody listens.
fn listen(conn: &mut PgConn, signal: &CommitSignal) {
    while !signal.abandoned() {
        let heard = {
            let mut notifications = conn.client().notifications();
            let first = notifications.timeout_iter(WAIT).next();
            if matches!(first, Ok(Some(_))) {
                // Take what else has arrived without waiting, then wake once for all of it.
                let mut pending = notifications.iter();
                while let Ok(Some(_)) = pending.next() {}
            }
            first
        };
        match heard {
            Ok(Some(_)) => signal.bump(),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "lost the connection listening for other nodes' commits");
                return;
            }
        }
        if conn.is_closed() {
            return;
        }
    }
}
