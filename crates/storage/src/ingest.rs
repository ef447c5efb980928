//! Storing what bots collect. Idempotent by (account, platform id): a retried batch stores nothing twice.

use crate::accounts::writable;
use crate::events::append;
use crate::multirow::{MultiRow, rows_of};
use crate::sql::{ToValue, Tx, Value, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
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

/// New conversations of a batch; one already there is left to [`REFRESH_CONVERSATIONS`].
static INSERT_CONVERSATIONS: MultiRow = MultiRow::new(
    "INSERT INTO conversations (account_id, thread_id, participant_id, participant_name, created_at, updated_at)
     VALUES ",
    "(?1, ?, ?, ?, ?2, ?2)",
    " ON CONFLICT (account_id, thread_id) DO NOTHING",
    2,
);

/// The batch's conversations' ids by thread; a participant's name is refreshed when the batch knows it.
static REFRESH_CONVERSATIONS: MultiRow = MultiRow::new(
    "UPDATE conversations SET
         participant_name = CASE WHEN c.column2 <> '' THEN c.column2 ELSE participant_name END
     FROM (VALUES ",
    "(?, ?)",
    ") AS c
     WHERE account_id = ?1 AND thread_id = c.column1
     RETURNING id, thread_id",
    1,
);

static INSERT_MESSAGES: MultiRow = MultiRow::new(
    "INSERT INTO messages (account_id, conversation_id, platform_message_id, direction, text, attachments,
                           status, sent_at, created_at)
     VALUES ",
    "(?1, ?, ?, ?, ?, ?, ?, ?, ?2)",
    " ON CONFLICT (account_id, platform_message_id) DO NOTHING
     RETURNING id, platform_message_id",
    2,
);

/// The conversations that received new messages: unread ones counted, the last message replaced
/// only by a newer one.
static UPDATE_CONVERSATIONS: MultiRow = MultiRow::new(
    "UPDATE conversations SET
         unread_count = unread_count + c.column2,
         last_message_text = CASE WHEN c.column3 >= COALESCE(last_message_at, 0) THEN c.column4
                                  ELSE last_message_text END,
         last_message_direction = CASE WHEN c.column3 >= COALESCE(last_message_at, 0) THEN c.column5
                                       ELSE last_message_direction END,
         last_message_at = CASE WHEN c.column3 > COALESCE(last_message_at, 0) THEN c.column3
                                ELSE COALESCE(last_message_at, 0) END,
         updated_at = ?1
     FROM (VALUES ",
    "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?)",
    ") AS c
     WHERE id = c.column1
     RETURNING id, thread_id, participant_id, participant_name, last_message_text, last_message_direction,
               last_message_at, unread_count",
    1,
);

static INSERT_NOTIFICATIONS: MultiRow = MultiRow::new(
    "INSERT INTO notifications (account_id, platform_notification_id, kind, text, link, occurred_at, created_at)
     VALUES ",
    "(?1, ?, ?, ?, ?, ?, ?2)",
    " ON CONFLICT (account_id, platform_notification_id) DO NOTHING
     RETURNING id, platform_notification_id",
    2,
);

/// Each item whose key was not seen before it, in order: a key repeated within a batch counts from
/// its first occurrence, as when each item was stored on its own.
fn first_of_each<'b, T>(items: &'b [T], key: impl Fn(&'b T) -> &'b str) -> Vec<&'b T> {
    let mut seen: HashSet<&str> = HashSet::new();
    items.iter().filter(|item| seen.insert(key(item))).collect()
}

/// Runs an insert of rows keyed by a platform id (`RETURNING id, platform_…_id`) and answers the
/// ids of the rows it stored by their platform ids; the others were there already.
fn insert_new(
    tx: &Tx<'_>,
    statement: &MultiRow,
    account_id: i64,
    now: i64,
    rows: &[&dyn ToValue],
) -> Result<HashMap<String, i64>> {
    let inserted = statement.run(tx, args![account_id, now], rows, |r| {
        Ok((r.get::<String>(1)?, r.get::<i64>(0)?))
    })?;
    Ok(inserted.into_iter().collect())
}

/// Conversation ids of the batch's threads, created on first sight. A thread's first message in
/// the batch names its participant, as when each message was stored on its own.
fn conversation_ids(
    tx: &Tx<'_>,
    account_id: i64,
    messages: &[NewMessage],
    now: i64,
) -> Result<HashMap<String, i64>> {
    let firsts = first_of_each(messages, |m| &m.thread_id);
    let rows = rows_of(&firsts, |m| {
        [
            &m.thread_id as &dyn ToValue,
            &m.participant_id,
            &m.participant_name,
        ]
    });
    INSERT_CONVERSATIONS.run(tx, args![account_id, now], &rows, |_| Ok(()))?;
    let rows = rows_of(&firsts, |m| {
        [&m.thread_id as &dyn ToValue, &m.participant_name]
    });
    let ids = REFRESH_CONVERSATIONS.run(tx, args![account_id], &rows, |r| {
        Ok((r.get::<String>(1)?, r.get::<i64>(0)?))
    })?;
    Ok(ids.into_iter().collect())
}

/// How a message comes in is how it is stored: received from the participant or sent by the page.
fn status(direction: Direction) -> &'static MessageStatus {
    match direction {
        Direction::In => &MessageStatus::Received,
        Direction::Out => &MessageStatus::Sent,
    }
}

impl ToValue for Direction {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self.as_str())
    }
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
    id: i64,
    newest: &'a NewMessage,
    unread: i64,
}

/// Applies the changes in one statement per chunk and answers the conversations in the changes' order.
fn apply_conversation_changes(
    tx: &Tx<'_>,
    changes: &[ConversationChange<'_>],
    now: i64,
) -> Result<Vec<ConversationOut>> {
    let previews: Vec<String> = changes.iter().map(|c| c.newest.preview()).collect();
    let rows = rows_of(changes.iter().zip(&previews), |(change, preview)| {
        [
            &change.id as &dyn ToValue,
            &change.unread,
            &change.newest.sent_at,
            preview,
            &change.newest.direction,
        ]
    });
    let updated = UPDATE_CONVERSATIONS.run(tx, args![now], &rows, |r| {
        Ok(read_row!(r => ConversationOut {
            id, thread_id, participant_id, participant_name, last_message_text,
            last_message_direction, last_message_at, unread_count,
        }))
    })?;
    let mut by_id: HashMap<i64, ConversationOut> = updated.into_iter().map(|c| (c.id, c)).collect();
    changes
        .iter()
        .map(|change| {
            by_id.remove(&change.id).ok_or_else(|| {
                StorageError::Corrupt(format!("conversation {} was not updated", change.id))
            })
        })
        .collect()
}

impl Store {
    /// Stores a batch of messages in one transaction, with its `new_messages` event when any were new.
    /// A message id repeated within the batch is stored once, from its first occurrence.
    pub async fn ingest_messages(&self, batch: Batch<NewMessage>) -> Result<IngestOutcome> {
        self.write(move |tx| {
            let account = writable(tx, &batch.account)?;
            let now = UnixMillis::now().0;
            let conversations = conversation_ids(tx, account.id, &batch.items, now)?;
            let firsts: Vec<(&NewMessage, i64)> = first_of_each(&batch.items, |m| &m.message_id)
                .into_iter()
                .map(|m| {
                    let conversation =
                        conversations.get(&m.thread_id).copied().ok_or_else(|| {
                            StorageError::Corrupt(format!(
                                "no conversation for thread {}",
                                m.thread_id
                            ))
                        })?;
                    Ok((m, conversation))
                })
                .collect::<Result<_>>()?;
            let attachments = firsts
                .iter()
                .map(|(m, _)| serde_json::to_string(&m.attachments))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let rows = rows_of(
                firsts.iter().zip(&attachments),
                |((message, conversation), attachments)| {
                    [
                        conversation as &dyn ToValue,
                        &message.message_id,
                        &message.direction,
                        &message.text,
                        attachments,
                        status(message.direction),
                        &message.sent_at,
                    ]
                },
            );
            let inserted = insert_new(tx, &INSERT_MESSAGES, account.id, now, &rows)?;
            if inserted.is_empty() {
                return Ok(IngestOutcome::new(batch.items.len(), 0, None));
            }
            let mut changes: Vec<ConversationChange<'_>> = Vec::new();
            let mut change_of: HashMap<i64, usize> = HashMap::new();
            let mut stored = Vec::with_capacity(inserted.len());
            for &(message, conversation) in &firsts {
                let Some(&id) = inserted.get(&message.message_id) else {
                    continue;
                };
                let unread = i64::from(message.direction == Direction::In);
                match change_of.get(&conversation) {
                    Some(&index) => {
                        let change = &mut changes[index];
                        change.unread += unread;
                        if message.sent_at >= change.newest.sent_at {
                            change.newest = message;
                        }
                    }
                    None => {
                        change_of.insert(conversation, changes.len());
                        changes.push(ConversationChange {
                            id: conversation,
                            newest: message,
                            unread,
                        });
                    }
                }
                stored.push(MessageOut {
                    id,
                    conversation_id: conversation,
                    message_id: &message.message_id,
                    direction: message.direction,
                    text: &message.text,
                    attachments: &message.attachments,
                    status: *status(message.direction),
                    sent_at: message.sent_at,
                });
            }
            let conversations = apply_conversation_changes(tx, &changes, now)?;
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
    /// A notification id repeated within the batch is stored once, from its first occurrence.
    pub async fn ingest_notifications(
        &self,
        batch: Batch<NewNotification>,
    ) -> Result<IngestOutcome> {
        self.write(move |tx| {
            let account = writable(tx, &batch.account)?;
            let now = UnixMillis::now().0;
            let firsts = first_of_each(&batch.items, |n| &n.notification_id);
            let rows = rows_of(&firsts, |n| {
                [
                    &n.notification_id as &dyn ToValue,
                    &n.kind,
                    &n.text,
                    &n.link,
                    &n.occurred_at,
                ]
            });
            let inserted = insert_new(tx, &INSERT_NOTIFICATIONS, account.id, now, &rows)?;
            if inserted.is_empty() {
                return Ok(IngestOutcome::new(batch.items.len(), 0, None));
            }
            let stored: Vec<NotificationOut<'_>> = firsts
                .iter()
                .filter_map(|n| {
                    inserted.get(&n.notification_id).map(|&id| NotificationOut {
                        id,
                        notification_id: &n.notification_id,
                        kind: &n.kind,
                        text: &n.text,
                        link: n.link.as_deref(),
                        occurred_at: n.occurred_at,
                    })
                })
                .collect();
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
    use switchboard_domain::ingest::{Batch, Direction, NewMessage, NewNotification};

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

    fn message(id: &str, thread: &str, direction: Direction, sent_at: i64) -> NewMessage {
        NewMessage {
            message_id: id.to_owned(),
            thread_id: thread.to_owned(),
            participant_id: format!("u-{thread}"),
            participant_name: format!("Khách {thread}"),
            direction,
            text: format!("tin {id}"),
            attachments: vec![],
            sent_at: UnixMillis(sent_at),
        }
    }

    fn messages(account: &str, items: Vec<NewMessage>) -> Batch<NewMessage> {
        Batch {
            account: account.to_owned(),
            items,
        }
    }

    async fn event(store: &crate::Store, id: Option<i64>) -> serde_json::Value {
        let id = id.expect("an event");
        let events = store.events_after(id - 1, 1).await.expect("events");
        events[0].json().expect("payload")
    }

    const T0: i64 = 1_767_225_600_000;

    /// Received, new, duplicates.
    fn counts(outcome: &crate::IngestOutcome) -> (usize, usize, usize) {
        (outcome.received, outcome.new, outcome.duplicates)
    }

    /// The text field `field` of each entry of the event's list `list`.
    fn texts_of<'p>(payload: &'p serde_json::Value, list: &str, field: &str) -> Vec<&'p str> {
        payload[list]
            .as_array()
            .expect("a list")
            .iter()
            .map(|entry| entry[field].as_str().expect("text"))
            .collect()
    }

    /// A fresh store with the account `page1`.
    async fn store_with_page() -> (crate::TestDatabase, crate::Store) {
        let (dir, store) = crate::temp_store().await;
        store
            .ensure_account("page1", "", AccountKind::Page)
            .await
            .expect("account");
        (dir, store)
    }

    #[tokio::test]
    async fn a_batch_over_many_threads_counts_each_conversation_once() {
        let (_dir, store) = store_with_page().await;
        // 300 messages over 130 threads: more rows than one statement takes (128), threads seen up
        // to three times, in and out, each newer than the one before.
        let items: Vec<NewMessage> = (0..300)
            .map(|i| {
                let direction = if i % 3 == 0 {
                    Direction::Out
                } else {
                    Direction::In
                };
                message(
                    &format!("m{i}"),
                    &format!("t{}", i % 130),
                    direction,
                    T0 + i,
                )
            })
            .collect();
        let outcome = store
            .ingest_messages(messages("page1", items.clone()))
            .await
            .expect("ingest");
        assert_eq!(counts(&outcome), (300, 300, 0));
        let payload = event(&store, outcome.event_id).await;
        let sent = texts_of(&payload, "messages", "message_id");
        let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        assert_eq!(
            sent, expected,
            "the event lists the messages in the batch's order"
        );
        let conversations = payload["conversations"].as_array().expect("conversations");
        assert_eq!(conversations.len(), 130);
        for (k, listed) in conversations.iter().enumerate() {
            let in_thread: Vec<i64> = (0..300).filter(|i| i % 130 == k as i64).collect();
            let unread = in_thread.iter().filter(|i| *i % 3 != 0).count() as i64;
            let last = *in_thread.last().expect("a message");
            assert_eq!(listed["thread_id"], format!("t{k}"));
            assert_eq!(listed["unread_count"], unread, "t{k}");
            assert_eq!(listed["last_message_text"], format!("tin m{last}"), "t{k}");
            let id = listed["id"].as_i64().expect("id");
            let stored = store.conversation(id).await.expect("conversation");
            assert_eq!(
                (stored.unread_count, stored.last_message_text.as_str()),
                (unread, format!("tin m{last}").as_str())
            );
            assert_eq!(stored.last_message_at, Some(UnixMillis(T0 + last)));
            assert_eq!(stored.participant_name, format!("Khách t{k}"));
        }

        // Sent again with ten new, older messages in t0: only those are new, counted once, and they
        // do not replace t0's last message.
        let mut again = items;
        again.extend(
            (0..10).map(|i| message(&format!("old{i}"), "t0", Direction::In, T0 - 1000 + i)),
        );
        let outcome = store
            .ingest_messages(messages("page1", again))
            .await
            .expect("ingest again");
        assert_eq!(counts(&outcome), (310, 10, 300));
        let payload = event(&store, outcome.event_id).await;
        assert_eq!(payload["messages"].as_array().map(Vec::len), Some(10));
        let conversations = payload["conversations"].as_array().expect("conversations");
        assert_eq!(conversations.len(), 1);
        // t0 held m0 (out), m130 (in), m260 (in) and now ten more unread.
        assert_eq!(conversations[0]["unread_count"], 12);
        assert_eq!(conversations[0]["last_message_text"], "tin m260");
        assert_eq!(store.message_count("page1").await.expect("count"), 310);
    }

    #[tokio::test]
    async fn a_message_id_repeated_in_a_batch_is_stored_once_from_its_first() {
        let (_dir, store) = store_with_page().await;
        let mut renamed = message("m0", "t1", Direction::In, T0);
        renamed.participant_name = String::new();
        store
            .ingest_messages(messages("page1", vec![renamed]))
            .await
            .expect("first batch");
        let mut second = message("m1", "t1", Direction::In, T0 + 1);
        second.participant_name = "Tên mới".into();
        let mut repeated = message("m1", "t2", Direction::In, T0 + 2);
        repeated.text = "lặp lại".into();
        let outcome = store
            .ingest_messages(messages(
                "page1",
                vec![
                    second,
                    message("m2", "t1", Direction::Out, T0 + 3),
                    repeated,
                ],
            ))
            .await
            .expect("ingest");
        assert_eq!(counts(&outcome), (3, 2, 1));
        assert_eq!(store.message_count("page1").await.expect("count"), 3);
        let payload = event(&store, outcome.event_id).await;
        let texts = texts_of(&payload, "messages", "text");
        assert_eq!(texts, ["tin m1", "tin m2"]);
        let conversations = payload["conversations"].as_array().expect("conversations");
        assert_eq!(conversations.len(), 1, "t2 got no new message");
        assert_eq!(conversations[0]["thread_id"], "t1");
        assert_eq!(conversations[0]["participant_name"], "Tên mới");
        assert_eq!(conversations[0]["unread_count"], 2);
        assert_eq!(conversations[0]["last_message_text"], "tin m2");
        assert_eq!(conversations[0]["last_message_direction"], "out");
        let page = store
            .conversations("page1", crate::ConversationFilter::default(), None, 10)
            .await
            .expect("conversations");
        let t2 = page
            .items
            .iter()
            .find(|c| c.thread_id == "t2")
            .expect("t2 was created");
        assert_eq!((t2.unread_count, t2.last_message_at), (0, None));
    }

    #[tokio::test]
    async fn notifications_repeated_or_known_are_stored_once() {
        let (_dir, store) = store_with_page().await;
        let notification = |id: &str, text: &str| NewNotification {
            notification_id: id.to_owned(),
            kind: "comment".into(),
            text: text.to_owned(),
            link: (id != "n1").then(|| format!("https://facebook.com/{id}")),
            occurred_at: UnixMillis(T0),
        };
        let batch = |items| Batch {
            account: "page1".to_owned(),
            items,
        };
        let first = store
            .ingest_notifications(batch(vec![notification("n0", "a")]))
            .await
            .expect("first");
        assert_eq!(first.new, 1);
        let mut items: Vec<NewNotification> = (0..200)
            .map(|i| notification(&format!("n{i}"), "b"))
            .collect();
        items.push(notification("n1", "repeated"));
        let outcome = store
            .ingest_notifications(batch(items))
            .await
            .expect("ingest");
        assert_eq!(counts(&outcome), (201, 199, 2));
        let payload = event(&store, outcome.event_id).await;
        let listed = payload["notifications"].as_array().expect("notifications");
        let ids = texts_of(&payload, "notifications", "notification_id");
        let expected: Vec<String> = (1..200).map(|i| format!("n{i}")).collect();
        assert_eq!(ids, expected);
        assert_eq!(listed[0]["text"], "b");
        assert_eq!(listed[0]["link"], serde_json::Value::Null);
        assert_eq!(listed[1]["link"], "https://facebook.com/n2");
    }

    #[tokio::test]
    async fn units_committed_together_fail_alone() {
        let (_dir, store) = store_with_page().await;
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
