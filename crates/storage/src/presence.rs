//! A bot's presence across sender nodes: the account is online while any live node holds a connection
//! of its bot. Each node records its connections under its own [`NodeId`] and heartbeats; a node whose
//! heartbeat is older than the timeout is dead and its connections stop counting. A `bot_status` event
//! (the consoles' online dot) is written only when the account's presence changes, so a bot that
//! reconnects through another node before the first one noticed the old connection closing stays
//! online throughout.

use crate::events::append;
use crate::sql::{Tx, args};
use crate::tokens::random_secret;
use crate::{Result, StorageError, Store, accounts};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use switchboard_domain::ingest::BotStatus;
use switchboard_domain::{EventKind, UnixMillis};

/// A sender node as its bots' connections are recorded: chosen at random when the node starts, so a
/// restarted node is a new one (the old one's connections go with its heartbeat).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId(String);

impl NodeId {
    pub fn random() -> Self {
        match random_secret() {
            Ok(mut secret) => {
                secret.truncate(16);
                Self(secret)
            }
            // Unique enough among the nodes of one installation when the system has no randomness.
            Err(error) => {
                tracing::warn!(%error, "a node id from the clock and process id");
                Self(format!(
                    "{:x}-{:x}",
                    std::process::id(),
                    UnixMillis::now().0
                ))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether any node holds a connection of the account's bot (dead nodes' are removed by heartbeats).
fn is_online(tx: &Tx<'_>, account_id: i64) -> Result<bool> {
    tx.one(
        "SELECT EXISTS (SELECT 1 FROM bot_connections WHERE account_id = ?1)",
        args![account_id],
        |r| r.get(0),
    )
}

/// `node` is alive now.
pub(crate) fn beat(tx: &Tx<'_>, node: &NodeId, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO sender_nodes (node_id, heartbeat_at) VALUES (?1, ?2)
         ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        args![node.as_str(), now],
    )?;
    Ok(())
}

/// Records the account's presence and announces it (`bot_status` from the sender).
fn announce(tx: &Tx<'_>, account_id: i64, online: bool, now: i64) -> Result<()> {
    let status = if online {
        BotStatus::Online
    } else {
        BotStatus::Offline
    };
    tx.execute(
        "UPDATE facebook_accounts SET bot_status = ?2, bot_seen_at = ?3, updated_at = ?3 WHERE id = ?1
           AND NOT (bot_status = ?4 AND ?2 = ?5)",
        args![
            account_id,
            status.as_str(),
            now,
            BotStatus::NeedsLogin.as_str(),
            BotStatus::Online.as_str()
        ],
    )?;
    // Announce what is stored: a bot that connects while its account needs a new login stays
    // `needs_login` for the console, as in `GET /api/fb_accounts`.
    let (user_id_chat, stored, message): (String, String, String) = tx.one(
        "SELECT user_id_chat, bot_status, bot_status_message FROM facebook_accounts WHERE id = ?1",
        args![account_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    append(
        tx,
        EventKind::BotStatus,
        Some((account_id, &user_id_chat)),
        &json!({"user_id_chat": user_id_chat, "status": stored, "message": message, "source": "sender"}),
    )
}

impl Store {
    /// Records that `node` holds a connection of the account's bot (`online`), or no longer holds any.
    /// Answers the `bot_status` event written when that changed the account's presence, `None` when
    /// another node's connection keeps it as it was.
    pub async fn bot_connection(
        &self,
        node: &NodeId,
        user_id_chat: &str,
        online: bool,
    ) -> Result<Option<i64>> {
        let (node, user_id_chat) = (node.clone(), user_id_chat.to_owned());
        let ((), announced) = self.write_announcing(move |tx| {
            let account = accounts::find(tx, &user_id_chat)?
                .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            let before = is_online(tx, account.id)?;
            let now = UnixMillis::now().0;
            beat(tx, &node, now)?;
            if online {
                tx.execute(
                    "INSERT INTO bot_connections (node_id, account_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    args![node.as_str(), account.id],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM bot_connections WHERE node_id = ?1 AND account_id = ?2",
                    args![node.as_str(), account.id],
                )?;
            }
            let after = is_online(tx, account.id)?;
            if before != after {
                announce(tx, account.id, after, now)?;
            }
            Ok(())
        })
        .await?;
        Ok(announced.last())
    }

    /// How many sender nodes hold a connection of the account's bot (dead ones until forgotten).
    pub async fn bot_connection_nodes(&self, user_id_chat: &str) -> Result<usize> {
        let user_id_chat = user_id_chat.to_owned();
        self.read(move |tx| {
            let count: i64 = tx.one(
                "SELECT COUNT(*) FROM bot_connections c JOIN facebook_accounts a ON a.id = c.account_id
                 WHERE a.user_id_chat = ?1",
                args![user_id_chat],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// A sender node's heartbeat: `node` is alive and holds connections of exactly the accounts `held`
    /// answers, asked inside the transaction so that it agrees with the connections' own records
    /// written before and after (and corrects one that raced its close); nodes whose heartbeat is
    /// older than `timeout` are dead, and their connections are forgotten. Writes a `bot_status` event
    /// for each account whose presence changed; answers how many.
    pub async fn presence_heartbeat(
        &self,
        node: &NodeId,
        held: impl FnOnce() -> Vec<String> + Send + 'static,
        timeout: Duration,
    ) -> Result<usize> {
        let node = node.clone();
        let timeout = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let cutoff = now.saturating_sub(timeout);
            beat(tx, &node, now)?;
            let held = held();
            let mut held_ids = Vec::with_capacity(held.len());
            for name in &held {
                // An account removed while its bot was connected has nothing to record.
                if let Some(account) = accounts::find(tx, name)? {
                    held_ids.push(account.id);
                }
            }
            let recorded = tx.rows(
                "SELECT account_id FROM bot_connections WHERE node_id = ?1",
                args![node.as_str()],
                |r| r.get::<i64>(0),
            )?;
            let of_dead_nodes = tx.rows(
                "SELECT DISTINCT c.account_id FROM bot_connections c JOIN sender_nodes n ON n.node_id = c.node_id
                 WHERE n.heartbeat_at < ?1",
                args![cutoff],
                |r| r.get::<i64>(0),
            )?;
            let mut before = BTreeMap::new();
            for &account_id in held_ids.iter().chain(&recorded).chain(&of_dead_nodes) {
                if let std::collections::btree_map::Entry::Vacant(entry) = before.entry(account_id) {
                    entry.insert(is_online(tx, account_id)?);
                }
            }
            tx.execute(
                "DELETE FROM bot_connections WHERE node_id IN (SELECT node_id FROM sender_nodes WHERE heartbeat_at < ?1)",
                args![cutoff],
            )?;
            // Consoles of dead nodes go with them (the foreign key); their users whose last console
            // that was are offline from now (see `assignment`).
            tx.execute(
                "UPDATE users SET console_left_at = ?2
                 WHERE console_left_at IS NULL
                   AND id IN (SELECT c.user_id FROM console_connections c
                              JOIN sender_nodes n ON n.node_id = c.node_id WHERE n.heartbeat_at < ?1)
                   AND NOT EXISTS (SELECT 1 FROM console_connections c
                                   JOIN sender_nodes n ON n.node_id = c.node_id
                                   WHERE c.user_id = users.id AND n.heartbeat_at >= ?1)",
                args![cutoff, now],
            )?;
            tx.execute("DELETE FROM sender_nodes WHERE heartbeat_at < ?1", args![cutoff])?;
            for account_id in recorded.iter().filter(|id| !held_ids.contains(id)) {
                tx.execute(
                    "DELETE FROM bot_connections WHERE node_id = ?1 AND account_id = ?2",
                    args![node.as_str(), account_id],
                )?;
            }
            for account_id in &held_ids {
                tx.execute(
                    "INSERT INTO bot_connections (node_id, account_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    args![node.as_str(), account_id],
                )?;
            }
            let mut announced = 0;
            for (account_id, was_online) in before {
                let now_online = is_online(tx, account_id)?;
                if now_online != was_online {
                    announce(tx, account_id, now_online, now)?;
                    announced += 1;
                }
            }
            Ok(announced)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::NodeId;
    use crate::{AccountKind, Store};
    use std::time::{Duration, Instant};

    /// The `status` of the account's newest `bot_status` event, and how many there are.
    async fn announced(store: &Store) -> (usize, Option<String>) {
        let events = store.events_after(0, 1000).await.expect("events");
        let statuses: Vec<_> = events
            .iter()
            .filter(|e| e.kind == switchboard_domain::EventKind::BotStatus)
            .map(|e| {
                let payload: serde_json::Value =
                    serde_json::from_str(e.payload.get()).expect("json");
                payload["status"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        (statuses.len(), statuses.last().cloned())
    }

    /// A bot that connects while its account needs a new Facebook login does not hide that from the
    /// console: the account stays `needs_login`, and that is what is announced.
    #[tokio::test]
    async fn a_bot_connecting_leaves_an_account_that_needs_a_login_as_it_is() {
        let (_db, store) = crate::temp_store().await;
        store
            .ensure_account("page", "", AccountKind::Page)
            .await
            .expect("account");
        store
            .update_bot_status(switchboard_domain::ingest::StatusUpdate {
                account: "page".into(),
                status: switchboard_domain::ingest::BotStatus::NeedsLogin,
                message: "checkpoint".into(),
            })
            .await
            .expect("needs login");
        let node = NodeId::random();
        let event = store
            .bot_connection(&node, "page", true)
            .await
            .expect("connect");
        assert!(event.is_some(), "the connection is announced");
        assert_eq!(announced(&store).await, (2, Some("needs_login".into())));
        let account = store.account("page").await.expect("read").expect("account");
        assert!(account.needs_login, "{account:?}");
        // The bot leaving is recorded as such.
        store
            .bot_connection(&node, "page", false)
            .await
            .expect("leave");
        assert_eq!(announced(&store).await, (3, Some("offline".into())));
    }

    #[tokio::test]
    async fn a_bot_is_online_while_any_live_node_holds_a_connection() {
        let (db, a) = crate::temp_store().await;
        let b = Store::open(db.url()).await.expect("another node");
        a.ensure_account("page", "", AccountKind::Page)
            .await
            .expect("account");
        let (node_a, node_b) = (NodeId::random(), NodeId::random());
        assert_ne!(node_a, node_b);
        let first = a.bot_connection(&node_a, "page", true).await.expect("a");
        assert!(first.is_some(), "the first connection makes the bot online");
        assert_eq!(
            b.bot_connection(&node_b, "page", true).await.expect("b"),
            None
        );
        // The bot left node A for node B: it is online throughout.
        assert_eq!(
            a.bot_connection(&node_a, "page", false).await.expect("a"),
            None
        );
        assert_eq!(announced(&a).await, (1, Some("online".into())));
        // Node A comes back with the bot; node B dies (its heartbeat stops): once its heartbeat is
        // older than the timeout its connection stops counting, and node A's keeps the bot online.
        assert_eq!(
            a.bot_connection(&node_a, "page", true).await.expect("a"),
            None
        );
        let timeout = Duration::from_millis(300);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            a.presence_heartbeat(&node_a, || vec!["page".into()], timeout)
                .await
                .expect("heartbeat");
            let holders = a.bot_connection_nodes("page").await.expect("count");
            if holders == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "node B never counted as dead");
            tokio::task::yield_now().await;
        }
        assert_eq!(announced(&a).await, (1, Some("online".into())));
        // Then node A dies too, with the bot connected: a new node's heartbeat forgets its connection
        // after the timeout, and the bot is offline.
        let node_c = NodeId::random();
        loop {
            b.presence_heartbeat(&node_c, Vec::new, timeout)
                .await
                .expect("heartbeat");
            if announced(&b).await == (2, Some("offline".into())) {
                break;
            }
            assert!(Instant::now() < deadline, "node A never counted as dead");
            tokio::task::yield_now().await;
        }
        let account = b.account("page").await.expect("read").expect("account");
        assert_eq!(account.bot_status, "offline");
    }

    #[tokio::test]
    async fn a_heartbeat_records_exactly_the_connections_its_node_holds() {
        let (_db, store) = crate::temp_store().await;
        for page in ["one", "two"] {
            store
                .ensure_account(page, "", AccountKind::Page)
                .await
                .expect("account");
        }
        let node = NodeId::random();
        let long = Duration::from_secs(3600);
        // A connection whose record was lost (a write that raced its close) is recorded again, and one
        // recorded but no longer held is forgotten: one event each.
        store.bot_connection(&node, "one", true).await.expect("one");
        let changed = store
            .presence_heartbeat(&node, || vec!["two".into(), "gone".into()], long)
            .await
            .expect("heartbeat");
        assert_eq!(changed, 2);
        let status = |page: &'static str| {
            let store = store.clone();
            async move {
                store
                    .account(page)
                    .await
                    .expect("read")
                    .expect("account")
                    .bot_status
            }
        };
        assert_eq!(
            (status("one").await, status("two").await),
            ("offline".into(), "online".into())
        );
        assert_eq!(
            store
                .presence_heartbeat(&node, || vec!["two".into()], long)
                .await
                .expect("heartbeat"),
            0
        );
    }
}
