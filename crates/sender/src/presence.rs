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
        let mut reported = std::collections::HashSet::new();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(bots) = bots.upgrade() else {
                return;
            };
            let held = bots.held();
            match store
                .presence_heartbeat(&node, move || bots.held(), timeout)
                .await
            {
                Ok(0) => {}
                Ok(_) => feed.notify(),
                Err(error) => tracing::warn!(%node, %error, "cannot record this node's heartbeat"),
            }
            report_connected_bots(&store, &held, &mut reported).await;
        }
    }
}

/// Sets `switchboard_bot_connected` to 1 for the enabled accounts whose bot is connected here and 0
/// for the others, so an account whose bot never connected since the start still shows (and alerts);
/// accounts deleted or disabled since the last report are dropped from it.
async fn report_connected_bots(
    store: &switchboard_storage::Store,
    held: &[String],
    reported: &mut std::collections::HashSet<String>,
) {
    let accounts = match store.accounts().await {
        Ok(accounts) => accounts,
        Err(error) => {
            tracing::debug!(%error, "cannot list the accounts for the bots' metric");
            return;
        }
    };
    let gauge = &switchboard_metrics::metrics().bot_connected;
    let mut now = std::collections::HashSet::with_capacity(accounts.len());
    for account in accounts.into_iter().filter(|account| account.enabled) {
        let connected = held.contains(&account.user_id_chat);
        let labels = switchboard_metrics::AccountLabels {
            account: account.user_id_chat,
        };
        gauge.get_or_create(&labels).set(i64::from(connected));
        now.insert(labels.account);
    }
    for gone in reported.difference(&now) {
        gauge.remove(&switchboard_metrics::AccountLabels {
            account: gone.clone(),
        });
    }
    *reported = now;
}
