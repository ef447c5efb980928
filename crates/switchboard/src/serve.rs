//! `switchboard serve` (every role) and `receiver`, `sender`, `callcenter` (one): one store, one event
//! feed, every requested role's port bound before anything else (so a taken port stops the start
//! cleanly, and the console learns the ports really bound), then all served until a signal.

use crate::config::Settings;
use crate::role::Role;
use crate::startup::{self, RoleContext};
use anyhow::Result;
use switchboard_storage::Store;

/// Runs `roles` in this process until a signal or a failure.
pub async fn run(roles: &[Role], settings: Settings) -> Result<()> {
    let store = startup::open_store(&settings).await?;
    let _claims = startup::claim_roles(&store, roles)?;
    let result = serve(&store, roles, &settings).await;
    // Leave the database file whole on its own: the WAL copied in and cut to nothing.
    store.close().await;
    result
}

async fn serve(store: &Store, roles: &[Role], settings: &Settings) -> Result<()> {
    let shutdown = startup::stop_on_signals(settings.drain);
    let feed = startup::start_feed(store, &shutdown).await?;
    startup::start_event_pruning(store, settings.event_retention, &shutdown);
    let listeners = startup::bind_listeners(roles, settings).await?;
    let context = RoleContext::new(store, &feed, settings, &listeners);
    let mut servers = Vec::new();
    for listener in listeners {
        servers.push(startup::bind_role(listener, &context).await?);
    }
    startup::announce(&servers);
    startup::start_metrics_listener(settings, &shutdown).await?;
    startup::serve_until_stopped(servers, shutdown, settings.grace).await
}
