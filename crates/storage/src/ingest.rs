//! Storing what bots collect. Idempotent by (account, platform id): a retried batch stores nothing twice.

use crate::accounts::writable;
use crate::events::append;
use crate::sql::{Tx, args, read_row};
use crate::{Result, Store};
use serde::Serialize;
use std::collections::HashMap;
use switchboard_domain::ingest::{Attachment, Direction};
use switchboard_domain::ingest::{Batch, NewMessage, NewNotification};
use switchboard_domain::{EventKind, MessageStatus, UnixMillis};

/// What became of a batch: how many items it had, how many were new, and the event that announced them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub received: usize,
    pub new: usize,
    pub duplicates: usize,
    /// `None` when nothing was new, so no event was written.
    pub event_id: Option<i64>,
}

impl IngestOutcome {
    fn new(received: usize, new: usize, event_id: Option<i64>) -> Self {
        Self {
            received,
            new,
            duplicates: received - new,
            event_id,
        }
    }
}

const INSERT_MESSAGE: &str =
    "INSERT INTO messages (account_id, conversation_id, platform_message_id, direction, text, attachments,
                           status, sent_at, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
     ON CONFLICT (account_id, platform_message_id) DO NOTHING
     RETURNING id";

const INSERT_NOTIFICATION: &str =
    "INSERT INTO notifications (account_id, platform_notification_id, kind, text, link, occurred_at, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (account_id, platform_notification_id) DO NOTHING
     RETURNING id";

/// Conversation id for a thread, created on first sight; the participant's name is refreshed when known.
fn conversation_id(tx: &Tx<'_>, account_id: i64, message: &NewMessage, now: i64) -> Result<i64> {
    tx.one(
            "INSERT INTO conversations (account_id, thread_id, participant_id, participant_name, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (account_id, thread_id) DO UPDATE SET
                 participant_name = CASE WHEN excluded.participant_name <> '' THEN excluded.participant_name
                                         ELSE conversations.participant_name END
             RETURNING id",
            args![account_id, message.thread_id, message.participant_id, message.participant_name, now],
            |r| r.get(0),
        )
}

/// A stored message as events carry it. The conversation's details travel once, in `conversations`.
#[derive(Serialize)]
struct MessageOut<'a> {
    id: i64,
    conversation_id: i64,
    message_id: &'a str,
    direction: Direction,
    text: &'a str,
    attachments: &'a [Attachment],
    status: MessageStatus,
    sent_at: UnixMillis,
}

/// A conversation's list entry after the change, so consoles can update their lists without a fetch.
#[derive(Serialize)]
struct ConversationOut {
    id: i64,
    thread_id: String,
    participant_id: String,
    participant_name: String,
    last_message_text: String,
    last_message_direction: Option<String>,
    last_message_at: UnixMillis,
    unread_count: i64,
}

#[derive(Serialize)]
struct NewMessagesEvent<'a> {
    user_id_chat: &'a str,
    messages: Vec<MessageOut<'a>>,
    conversations: Vec<ConversationOut>,
}

#[derive(Serialize)]
struct NotificationOut<'a> {
    id: i64,
    notification_id: &'a str,
    kind: &'a str,
    text: &'a str,
    link: Option<&'a str>,
    occurred_at: UnixMillis,
}

#[derive(Serialize)]
struct NewNotificationsEvent<'a> {
    user_id_chat: &'a str,
    notifications: Vec<NotificationOut<'a>>,
}

/// Per conversation: the newest of the batch's new messages and how many unread ones it adds.
struct ConversationChange<'a> {
    newest: &'a NewMessage,
    unread: i64,
}

fn apply_conversation_change(
    tx: &Tx<'_>,
    id: i64,
    change: &ConversationChange<'_>,
    now: i64,
) -> Result<ConversationOut> {
    let newest = change.newest;
    tx.one(
            "UPDATE conversations SET
                 unread_count = unread_count + ?2,
                 last_message_text = CASE WHEN ?3 >= COALESCE(last_message_at, 0) THEN ?4 ELSE last_message_text END,
                 last_message_direction = CASE WHEN ?3 >= COALESCE(last_message_at, 0) THEN ?5 ELSE last_message_direction END,
                 last_message_at = CASE WHEN ?3 > COALESCE(last_message_at, 0) THEN ?3 ELSE COALESCE(last_message_at, 0) END,
                 updated_at = ?6
             WHERE id = ?1
             RETURNING id, thread_id, participant_id, participant_name, last_message_text, last_message_direction,
                       last_message_at, unread_count",
            args![id, change.unread, newest.sent_at.0, newest.preview(), newest.direction.as_str(), now],
            |r| {
                Ok(read_row!(r => ConversationOut {
                    id, thread_id, participant_id, participant_name, last_message_text,
                    last_message_direction, last_message_at, unread_count,
                }))
            },
        )
}

impl Store {
    /// Stores a batch of messages in one transaction, with its `new_messages` event when any were new.
    pub async fn ingest_messages(&self, batch: Batch<NewMessage>) -> Result<IngestOutcome> {
        self.write(move |tx| {
            let account = writable(tx, &batch.account)?;
            let now = UnixMillis::now().0;
            let mut conversation_ids: HashMap<&str, i64> = HashMap::new();
            let mut changes: Vec<(i64, ConversationChange<'_>)> = Vec::new();
            let mut stored = Vec::new();
            for message in &batch.items {
                let conversation = match conversation_ids.get(message.thread_id.as_str()) {
                    Some(&id) => id,
                    None => {
                        let id = conversation_id(tx, account.id, message, now)?;
                        conversation_ids.insert(&message.thread_id, id);
                        id
                    }
                };
                let status = match message.direction {
                    Direction::In => MessageStatus::Received,
                    Direction::Out => MessageStatus::Sent,
                };
                let attachments = serde_json::to_string(&message.attachments)?;
                let id: Option<i64> = tx.optional(
                    INSERT_MESSAGE,
                    args![
                        account.id,
                        conversation,
                        message.message_id,
                        message.direction.as_str(),
                        message.text,
                        attachments,
                        status,
                        message.sent_at,
                        now
                    ],
                    |r| r.get(0),
                )?;
                let Some(id) = id else { continue };
                let unread = i64::from(message.direction == Direction::In);
                match changes.iter_mut().find(|(c, _)| *c == conversation) {
                    Some((_, change)) => {
                        change.unread += unread;
                        if message.sent_at >= change.newest.sent_at {
                            change.newest = message;
                        }
                    }
                    None => changes.push((
                        conversation,
                        ConversationChange {
                            newest: message,
                            unread,
                        },
                    )),
                }
                stored.push(MessageOut {
                    id,
                    conversation_id: conversation,
                    message_id: &message.message_id,
                    direction: message.direction,
                    text: &message.text,
                    attachments: &message.attachments,
                    status,
                    sent_at: message.sent_at,
                });
            }
            if stored.is_empty() {
                return Ok(IngestOutcome::new(batch.items.len(), 0, None));
            }
            let conversations = changes
                .iter()
                .map(|(id, change)| apply_conversation_change(tx, *id, change, now))
                .collect::<Result<Vec<_>>>()?;
            let new = stored.len();
            let event_id = append(
                tx,
                EventKind::NewMessages,
                Some((account.id, &account.user_id_chat)),
                &NewMessagesEvent {
                    user_id_chat: &account.user_id_chat,
                    messages: stored,
                    conversations,
                },
            )?;
            Ok(IngestOutcome::new(batch.items.len(), new, Some(event_id)))
        })
        .await
    }

    /// Stores a batch of notifications in one transaction, with its `new_notifications` event.
    pub async fn ingest_notifications(
        &self,
        batch: Batch<NewNotification>,
    ) -> Result<IngestOutcome> {
        self.write(move |tx| {
            let account = writable(tx, &batch.account)?;
            let now = UnixMillis::now().0;
            let mut stored = Vec::new();
            for n in &batch.items {
                let id: Option<i64> = tx.optional(
                    INSERT_NOTIFICATION,
                    args![
                        account.id,
                        n.notification_id,
                        n.kind,
                        n.text,
                        n.link,
                        n.occurred_at,
                        now
                    ],
                    |r| r.get(0),
                )?;
                if let Some(id) = id {
                    stored.push(NotificationOut {
                        id,
                        notification_id: &n.notification_id,
                        kind: &n.kind,
                        text: &n.text,
                        link: n.link.as_deref(),
                        occurred_at: n.occurred_at,
                    });
                }
            }
            if stored.is_empty() {
                return Ok(IngestOutcome::new(batch.items.len(), 0, None));
            }
            let new = stored.len();
            let event_id = append(
                tx,
                EventKind::NewNotifications,
                Some((account.id, &account.user_id_chat)),
                &NewNotificationsEvent {
                    user_id_chat: &account.user_id_chat,
                    notifications: stored,
                },
            )?;
            Ok(IngestOutcome::new(batch.items.len(), new, Some(event_id)))
        })
        .await
    }

    /// Number of messages stored for an account (operators' and tests' sanity check).
    pub async fn message_count(&self, user_id_chat: &str) -> Result<i64> {
        let user_id_chat = user_id_chat.to_owned();
        self.read(move |tx| {
            tx.one(
                "SELECT COUNT(*) FROM messages m JOIN facebook_accounts a ON a.id = m.account_id WHERE a.user_id_chat = ?1",
                args![user_id_chat],
                |r| r.get(0),
            )
        })
        .await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::{AccountKind, StorageError};
    use switchboard_domain::UnixMillis;
    use switchboard_domain::ingest::{Batch, Direction, NewMessage};

    pub(crate) fn batch(account: &str, ids: &[&str]) -> Batch<NewMessage> {
        let items = ids
            .iter()
            .map(|id| NewMessage {
                message_id: (*id).to_owned(),
                thread_id: "t1".into(),
                participant_id: "u1".into(),
                participant_name: "Vũ Thị Hoa".into(),
                direction: Direction::In,
                text: "xin chào".into(),
                attachments: vec![],
                sent_at: UnixMillis(1_767_225_600_000),
            })
            .collect();
        Batch {
            account: account.to_owned(),
            items,
        }
    }

    #[tokio::test]
    async fn units_committed_together_fail_alone() {
        let (_dir, store) = crate::temp_store().await;
        store
            .ensure_account("page1", "", AccountKind::Page)
            .await
            .expect("account");
        // Many writes at once end up grouped in shared transactions; the bad ones must not take the
        // good ones down with them, nor leave anything behind. Half the bad ones fail before writing
        // (an unknown account), half after writing an event (so the unit's rollback is what removes it).
        let writes = (0..40).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                match i % 8 {
                    0 => {
                        store
                            .ingest_messages(batch("missing", &[&format!("m{i}")]))
                            .await
                    }
                    4 => {
                        store
                            .write(|tx| {
                                crate::events::append(
                                    tx,
                                    switchboard_domain::EventKind::NewMessages,
                                    None,
                                    &serde_json::json!({"written": "then failed"}),
                                )?;
                                Err(StorageError::Conflict("fails after writing".into()))
                            })
                            .await
                    }
                    _ => {
                        store
                            .ingest_messages(batch("page1", &[&format!("m{i}")]))
                            .await
                    }
                }
            })
        });
        let mut failed = 0;
        for write in writes {
            match write.await.expect("join") {
                Ok(outcome) => assert_eq!(outcome.new, 1),
                Err(StorageError::UnknownAccount(_) | StorageError::Conflict(_)) => failed += 1,
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert_eq!(failed, 10);
        assert_eq!(store.message_count("page1").await.expect("count"), 30);
        let ids: Vec<i64> = store
            .events_after(0, 100)
            .await
            .expect("events")
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            ids,
            (1..=30).collect::<Vec<_>>(),
            "event ids stay gap-free across rolled-back units"
        );
    }
}
