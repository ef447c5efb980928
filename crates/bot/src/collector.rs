//! What drivers hand their findings to: each call is one durable spool transaction, then a wake-up for
//! the uplink. Once a call returns, the item survives a crash and will reach the receiver.

use serde_json::json;
use std::sync::Arc;
use switchboard_domain::comments::CommentIn;
use switchboard_domain::ingest::{Direction, MessageIn, NotificationIn};
use switchboard_storage::{OutboxKind, Spool, StorageError};
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Collector {
    account: String,
    spool: Spool,
    wake: Arc<Notify>,
}

impl Collector {
    pub(crate) fn new(account: String, spool: Spool, wake: Arc<Notify>) -> Self {
        Self {
            account,
            spool,
            wake,
        }
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The bot's spool, for drivers' own state (a backfill watermark, customers' names).
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Messages in the order they were written; customers' messages also move their messaging window.
    pub async fn messages(&self, messages: Vec<MessageIn>) -> Result<(), StorageError> {
        if messages.is_empty() {
            return Ok(());
        }
        let wrote = messages
            .iter()
            .filter(|m| m.direction == Direction::In)
            .map(|m| (m.conversation.participant_id.clone(), m.sent_at))
            .collect();
        let items = messages
            .iter()
            .map(|m| Ok((OutboxKind::Messages, serde_json::to_string(m)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        self.spool.push(items, wrote).await?;
        self.wake.notify_one();
        Ok(())
    }

    pub async fn notifications(
        &self,
        notifications: Vec<NotificationIn>,
    ) -> Result<(), StorageError> {
        if notifications.is_empty() {
            return Ok(());
        }
        let items = notifications
            .iter()
            .map(|n| Ok((OutboxKind::Notifications, serde_json::to_string(n)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        self.spool.push(items, Vec::new()).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Comments under the page's posts, each with its post's preview when the driver knows it.
    pub async fn comments(&self, comments: Vec<CommentIn>) -> Result<(), StorageError> {
        if comments.is_empty() {
            return Ok(());
        }
        let items = comments
            .iter()
            .map(|c| Ok((OutboxKind::Comments, serde_json::to_string(c)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        self.spool.push(items, Vec::new()).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// A status for the console (`online`, `needs_login`, `rate_limited`, `error`), in order with the data.
    pub async fn status(&self, status: &str, message: &str) -> Result<(), StorageError> {
        let body = json!({"user_id_chat": self.account, "status": status, "message": message});
        self.spool
            .push(vec![(OutboxKind::Status, body.to_string())], Vec::new())
            .await?;
        self.wake.notify_one();
        Ok(())
    }
}
