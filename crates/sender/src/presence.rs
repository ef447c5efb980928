//! A bot's presence is its connections on every sender node: this node records those it holds and
//! heartbeats; the store forgets the connections of nodes whose heartbeat stopped (see
//! `switchboard_storage::Store::presence_heartbeat`).

use crate::AppState;

/// Records every `presence_heartbeat` that this node lives, with the accounts whose bots are
/// connected here, until the role's state is dropped.
pub(crate) fn heartbeat(state: &AppState) -> impl Future<Output = ()> + Send + 'static {
    let bots = state.bots.downgrade();
    let (store, feed, node) = (state.store.clone(), state.feed.clone(), state.node.clone());
    let (every, timeout) = (
        state.options.presence_heartbeat,
        state.options.presence_timeout,
    );
    async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(bots) = bots.upgrade() else {
                return;
            };
            match store
                .presence_heartbeat(&node, move || bots.held(), timeout)
                .await
            {
                Ok(0) => {}
                Ok(_) => feed.notify(),
                Err(error) => tracing::warn!(%node, %error, "cannot record this node's heartbeat"),
            }
        }
    }
}
