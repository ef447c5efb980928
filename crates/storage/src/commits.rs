//! Noticing what other processes or nodes commit to the same database, so that live clients hear of
//! it at once rather than at the next sweep of the event log. The signal carries no data: it only
//! says "look again"; the event log stays the one source of what happened.

use tokio::sync::watch;

/// The sending side, held by the engine's watcher thread.
pub(crate) struct CommitSignal {
    sender: watch::Sender<u64>,
}

/// A new signal and the receiver the store hands out clones of.
pub(crate) fn channel() -> (CommitSignal, watch::Receiver<u64>) {
    let (sender, receiver) = watch::channel(0);
    (CommitSignal { sender }, receiver)
}

impl CommitSignal {
    pub(crate) fn bump(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Nobody can hear it any more (the store and every subscriber are gone): the watcher stops.
    pub(crate) fn abandoned(&self) -> bool {
        self.sender.is_closed()
    }
}
