//! A bot's presence is its connections on every sender node, and an agent's their consoles: this node
//! records those it holds and heartbeats; the store forgets the connections of nodes whose heartbeat
//! stopped (see `switchboard_storage::Store::presence_heartbeat` and `console_heartbeat`).

use crate::AppState;
use switchboard_domain::CommandStatus;

/// Records every `presence_heartbeat` that this node lives, with the accounts whose bots are
/// connected here, until the role's state is dropped.
pub(crate) fn heartbeat(state: &AppState) -> impl Future<Output = ()> + Send + 'static {
    let bots = state.bots.downgrade();
    let (store, feed, node) = (state.store.clone(), state.feed.clone(), state.node.clone());
    let consoles = state.consoles.clone();
    let (every, timeout, grace) = (
        state.options.presence_heartbeat,
        state.options.presence_timeout,
        state.options.offline_grace,
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
            // Then the consoles: agents who left hand back, and whatever waits is handed out.
            let held_consoles = consoles.clone();
            match store
                .console_heartbeat(&node, move || held_consoles.held(), grace)
                .await
            {
                Ok(0) => {}
                Ok(_) => feed.notify(),
                Err(error) => tracing::warn!(%node, %error, "cannot record this node's consoles"),
            }
            report_gauges(&store, &held, &mut reported).await;
        }
    }
}

/// Sets the gauges of the bots and their commands, per enabled account: `switchboard_bot_connected`
/// (1 when its bot is connected here) and `switchboard_command_oldest_unacknowledged_seconds` (0 when
/// its bot has everything), so an account whose bot never connected since the start still shows
/// (and alerts); accounts deleted or disabled since the last report are dropped from both. Then
/// `switchboard_commands` by state (pending, delivered).
async fn report_gauges(
    store: &switchboard_storage::Store,
    held: &[String],
    reported: &mut std::collections::HashSet<String>,
) {
    let (accounts, commands) = match (store.accounts().await, store.command_gauges().await) {
        (Ok(accounts), Ok(commands)) => (accounts, commands),
        (Err(error), _) | (_, Err(error)) => {
            tracing::debug!(%error, "cannot read the accounts and commands for the metrics");
            return;
        }
    };
    let metrics = switchboard_metrics::metrics();
    let now = switchboard_domain::UnixMillis::now();
    let mut enabled = std::collections::HashSet::with_capacity(accounts.len());
    for account in accounts.into_iter().filter(|account| account.enabled) {
        let connected = held.contains(&account.user_id_chat);
        let waiting_since = commands
            .oldest_unacknowledged
            .iter()
            .find(|(of, _)| *of == account.user_id_chat)
            .map(|(_, since)| *since);
        let labels = switchboard_metrics::AccountLabels {
            account: account.user_id_chat,
        };
        metrics
            .bot_connected
            .get_or_create(&labels)
            .set(i64::from(connected));
        let age = waiting_since.map_or(0.0, |since| {
            now.0.saturating_sub(since.0).max(0) as f64 / 1000.0
        });
        metrics
            .command_oldest_unacknowledged_seconds
            .get_or_create(&labels)
            .set(age);
        enabled.insert(labels.account);
    }
    for gone in reported.difference(&enabled) {
        let labels = switchboard_metrics::AccountLabels {
            account: gone.clone(),
        };
        metrics.bot_connected.remove(&labels);
        metrics
            .command_oldest_unacknowledged_seconds
            .remove(&labels);
    }
    *reported = enabled;
    for status in [CommandStatus::Pending, CommandStatus::Delivered] {
        let count = commands
            .by_state
            .iter()
            .find(|(found, _)| *found == status)
            .map_or(0, |(_, count)| *count);
        metrics
            .commands
            .get_or_create(&switchboard_metrics::CommandLabels {
                state: status.as_str(),
            })
            .set(count);
    }
}
