//! The roles bound on port 0 over a store: the one place where tests and benchmarks call the roles'
//! constructors.

use crate::KitError;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use switchboard_callcenter::{CallCenter, CallCenterOptions};
use switchboard_realtime::{EventFeed, FeedOptions};
use switchboard_receiver::Receiver;
use switchboard_sender::{Sender, SenderOptions};
use switchboard_storage::{Cipher, StorageError, Store};
use switchboard_web::{BindError, Server, Shutdown};

/// `127.0.0.1:0`: a free port on the loopback.
pub fn any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// The event feed over `store`, following the log until `shutdown`.
pub async fn feed(store: &Store, shutdown: &Shutdown) -> Result<EventFeed, StorageError> {
    feed_with(store, FeedOptions::default(), shutdown).await
}

/// [`feed`] with other options.
pub async fn feed_with(
    store: &Store,
    options: FeedOptions,
    shutdown: &Shutdown,
) -> Result<EventFeed, StorageError> {
    let stop = shutdown.clone();
    EventFeed::start(store.clone(), options, async move { stop.wait().await }).await
}

/// The receiver role, bound (not yet serving).
pub async fn receiver(
    store: &Store,
    feed: &EventFeed,
    addr: SocketAddr,
) -> Result<Server, BindError> {
    let state = switchboard_receiver::AppState {
        store: store.clone(),
        feed: feed.clone(),
    };
    Receiver::bind(addr, state, &[]).await
}

/// The sender role, bound (not yet serving).
pub async fn sender(
    store: &Store,
    feed: &EventFeed,
    cipher: &Cipher,
    options: SenderOptions,
    addr: SocketAddr,
    cors_origins: &[String],
) -> Result<Server, BindError> {
    let state =
        switchboard_sender::AppState::new(store.clone(), feed.clone(), cipher.clone(), options);
    Sender::bind(addr, state, cors_origins).await
}

/// The call center, its ring timers resumed, bound (not yet serving).
pub async fn callcenter(
    store: &Store,
    feed: &EventFeed,
    options: CallCenterOptions,
    addr: SocketAddr,
) -> Result<Server, KitError> {
    let state =
        switchboard_callcenter::AppState::start(store.clone(), feed.clone(), options).await?;
    Ok(CallCenter::bind(addr, state, &[]).await?)
}

/// A test's servers' [`Shutdown`], triggered when the test's handle is dropped. Declare it before the
/// handle's temporary directory or store (fields drop in order), so the servers are told to stop
/// before their files go.
pub struct StopOnDrop(pub Shutdown);

impl std::ops::Deref for StopOnDrop {
    type Target = Shutdown;

    fn deref(&self) -> &Shutdown {
        &self.0
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

/// Serves `server` until `shutdown` (requests in flight then get `grace`); its base URL.
pub fn serve(server: Server, shutdown: &Shutdown, grace: Duration) -> Result<String, KitError> {
    let addr = server.local_addr().map_err(KitError::Address)?;
    tokio::spawn(server.run(shutdown.clone(), grace));
    Ok(format!("http://{addr}"))
}
