//! The delivered marks of every bot connection of this node, written together: one store operation
//! for whatever was handed over while the previous one was written, instead of one per account and
//! wake-up. A mark only says that a command reached a bot at least once (and how often); redelivery
//! does not depend on it, so a mark written a moment late, or lost with the process, loses nothing.

use switchboard_storage::Store;
use tokio::sync::mpsc;

/// Ids waiting for their mark, at most: past it, a delivery waits for the writer (backpressure).
const WAITING: usize = 4096;
/// Ids marked by one store operation, at most.
const PER_WRITE: usize = 512;

#[derive(Clone)]
pub(crate) struct DeliveredMarks(mpsc::Sender<i64>);

impl DeliveredMarks {
    /// Starts the node's writer of marks; it stops, after writing what it holds, when the last clone
    /// is dropped (with the role's state).
    pub(crate) fn start(store: Store) -> Self {
        let (marks, mut waiting) = mpsc::channel(WAITING);
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(PER_WRITE);
            while waiting.recv_many(&mut ids, PER_WRITE).await > 0 {
                let count = ids.len();
                if let Err(error) = store.mark_delivered(std::mem::take(&mut ids)).await {
                    tracing::warn!(%error, count, "cannot record commands as delivered");
                }
            }
        });
        Self(marks)
    }

    /// Notes that these commands were handed to their bot.
    pub(crate) async fn note(&self, ids: Vec<i64>) {
        for id in ids {
            // Fails only when the writer is gone: the role is stopping, and the mark does not matter.
            if self.0.send(id).await.is_err() {
                return;
            }
        }
    }
}
