//! The event feed: follows the event log and keeps the newest events in memory for live clients.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use switchboard_storage::{StorageError, Store, StoredEvent};
use tokio::sync::{Notify, watch};

/// One event ready to send: its JSON is encoded once and shared by every client.
pub type FeedEvent = StoredEvent;

fn size(event: &FeedEvent) -> usize {
    event.payload.get().len()
}

#[derive(Debug, Clone, Copy)]
pub struct FeedOptions {
    /// How often the log is read even when nothing said it changed: a safety sweep only. Writes made
    /// in this process wake the feed at once through [`EventFeed::notify`], and those of other
    /// processes or nodes through [`Store::commits`] (PostgreSQL's NOTIFY, SQLite's data version).
    pub poll_interval: Duration,
    /// Most events kept in memory; older ones are read from the database when a client needs them.
    pub max_events: usize,
    /// Most bytes of event JSON kept in memory.
    pub max_bytes: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            max_events: 4096,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Follows the event log. Cheap to clone.
#[derive(Clone)]
pub struct EventFeed {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    options: FeedOptions,
    recent: RwLock<Recent>,
    head: watch::Sender<i64>,
    wake: Notify,
    /// Bumped when access was taken away (token revoked, user disabled, logout): every socket checks
    /// its credentials again at once instead of at its next periodic check.
    revalidate: watch::Sender<u64>,
    /// Replays from the database (clients resuming from far back) one or two at a time: forty sockets
    /// replaying from event 0 at once held every reader and slowed live requests to seconds.
    replays: tokio::sync::Semaphore,
}

/// Replays from the database read at once, across all sockets.
const CONCURRENT_REPLAYS: usize = 2;

#[derive(Default)]
struct Recent {
    events: VecDeque<Arc<FeedEvent>>,
    bytes: usize,
}

/// Events read from the log in one go.
const PAGE: usize = 512;

impl EventFeed {
    /// Starts following the log from its current end. The pump stops when `stop` resolves.
    pub async fn start(
        store: Store,
        options: FeedOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Self, StorageError> {
        let head = store.last_event_id().await?;
        let feed = Self {
            inner: Arc::new(Inner {
                store,
                options,
                recent: RwLock::new(Recent::default()),
                head: watch::channel(head).0,
                wake: Notify::new(),
                revalidate: watch::channel(0).0,
                replays: tokio::sync::Semaphore::new(CONCURRENT_REPLAYS),
            }),
        };
        let pump = feed.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = pump.pump() => {},
                () = stop => {},
            }
        });
        Ok(feed)
    }

    /// Tells the feed that this process just committed events, so clients get them without waiting a poll.
    pub fn notify(&self) {
        self.inner.wake.notify_one();
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Asks every socket of this process to check its credentials again now.
    pub fn revalidate_sockets(&self) {
        self.inner
            .revalidate
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn revalidations(&self) -> watch::Receiver<u64> {
        self.inner.revalidate.subscribe()
    }

    /// The id of the newest event the feed has seen.
    pub fn head(&self) -> i64 {
        *self.inner.head.borrow()
    }

    /// A receiver that changes whenever new events are available.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.inner.head.subscribe()
    }

    async fn pump(&self) {
        let mut interval = tokio::time::interval(self.inner.options.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut commits = self.inner.store.commits();
        // False once the store's watcher is gone (it stopped): the sweep carries on alone.
        let mut watching = true;
        loop {
            tokio::select! {
                () = self.inner.wake.notified() => {},
                changed = commits.changed(), if watching => watching = changed.is_ok(),
                _ = interval.tick() => {},
            }
            if let Err(error) = self.catch_up().await {
                tracing::error!(%error, "event feed cannot read the event log; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn catch_up(&self) -> Result<(), StorageError> {
        loop {
            let head = self.head();
            let events = self.inner.store.events_after(head, PAGE).await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(());
            };
            let full_page = events.len() == PAGE;
            self.remember(events);
            self.inner.head.send_replace(last);
            if !full_page {
                return Ok(());
            }
        }
    }

    fn remember(&self, events: Vec<FeedEvent>) {
        let options = self.inner.options;
        let delivery = &switchboard_metrics::metrics().event_delivery_seconds;
        let now = switchboard_domain::UnixMillis::now();
        for event in &events {
            // Milliseconds, as the log keeps them; a clock stepped back reads 0, not a negative time.
            let delay = now.0.saturating_sub(event.written_at.0).max(0);
            delivery.observe(delay as f64 / 1000.0);
        }
        let mut recent = self
            .inner
            .recent
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            recent.bytes += size(&event);
            recent.events.push_back(Arc::new(event));
        }
        while recent.events.len() > options.max_events || recent.bytes > options.max_bytes {
            match recent.events.pop_front() {
                Some(old) => recent.bytes -= size(&old),
                None => break,
            }
        }
    }

    /// Up to `limit` events with an id above `cursor`, oldest first: from memory when the feed still holds
    /// them, otherwise from the database (a client resuming after a long absence).
    pub async fn after(
        &self,
        cursor: i64,
        limit: usize,
    ) -> Result<Vec<Arc<FeedEvent>>, StorageError> {
        {
            let recent = self
                .inner
                .recent
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let oldest = recent.events.front().map(|e| e.id);
            if oldest.is_some_and(|oldest| oldest <= cursor + 1) {
                // Ids in memory are consecutive committed ids, so a binary search finds the start.
                let start = recent.events.partition_point(|e| e.id <= cursor);
                return Ok(recent
                    .events
                    .iter()
                    .skip(start)
                    .take(limit)
                    .cloned()
                    .collect());
            }
            if oldest.is_none() && cursor >= self.head() {
                return Ok(Vec::new());
            }
        }
        let stored = {
            let _turn = self
                .inner
                .replays
                .acquire()
                .await
                .map_err(|_| StorageError::Task("the event feed is stopping".into()))?;
            self.inner.store.events_after(cursor, limit).await?
        };
        // Let live work run between two pages of a replay.
        tokio::task::yield_now().await;
        Ok(stored.into_iter().map(Arc::new).collect())
    }
}
