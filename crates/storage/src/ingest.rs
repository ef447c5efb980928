//! Storing what bots collect. Idempotent by (account, platform id): a retried batch stores nothing twice.

use crate::accounts::{Account, writable};
use crate::events::append;
use crate::multirow::{MultiRow, rows_of};
use crate::search::{self, Source};
use crate::sql::{ToValue, Tx, Value, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use switchboard_domain::ingest::{Attachment, Direction};
use switchboard_domain::ingest::{Batch, NewMessage, NewNotification};
use switchboard_domain::search::Document;
use switchboard_domain::{ConversationStatus, EventKind, MessageStatus, UnixMillis};

/// What became of a batch: how many items it had, how many were new, and the event that announced them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    pub received: usize,
    pub new: usize,
    pub duplicates: usize,
    /// `None` when nothing was new, so no event was written.
    pub event_id: Option<i64>,
}

impl IngestOutcome {
    /// The outcome, `announced` when an event names the new items: its id is known once the write
    /// commits ([`Store::write_ingest`]).
    pub(crate) fn new(received: usize, new: usize, announced: bool) -> Self {
        Self {
            received,
            new,
            duplicates: received - new,
            event_id: announced.then_some(crate::commands::EVENT_ID_AT_COMMIT),
        }
    }
}

impl Store {
    /// [`Store::write`] for a batch's ingest: the batch's event is the first its unit appends
    /// (assignments and moderation that follow announce themselves after it). With `account`, the
    /// unit writes only that account's rows and queues no command ([`Store::write_keyed`]);
    /// without, it takes turns with every other writer. `work` answers the outcome and what the
    /// caller does once it is committed.
    pub(crate) async fn write_ingest<T, F>(
        &self,
        account: Option<&str>,
        work: F,
    ) -> Result<(IngestOutcome, T)>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<(IngestOutcome, T)> + Send + 'static,
    {
        let ((mut outcome, then), announced) = match account {
            Some(account) => self.write_keyed(account, work).await?,
            None => self.write_announcing(work).await?,
        };
        if outcome.event_id.is_some() {
            outcome.event_id = Some(announced.first_given()?);
        }
        Ok((outcome, then))
    }
}

/// The batch's conversations that exist: id and name by thread (a repeated row joins once per
/// repeat: the map keeps one).
static STORED_CONVERSATIONS: MultiRow = MultiRow::new(
    "SELECT c.thread_id, c.id, c.participant_name FROM conversations c JOIN (VALUES ",
    "(?)",
    ") AS v ON v.column1 = c.thread_id WHERE c.account_id = ?1",
    1,
);

/// The batch's new conversations. One made meanwhile by another writer is not returned: it is read
/// again ([`STORED_CONVERSATIONS`]) once the insert has waited for that writer's commit.
static INSERT_CONVERSATIONS: MultiRow = MultiRow::new(
    "INSERT INTO conversations (account_id, thread_id, participant_id, participant_name, created_at, updated_at)
     VALUES ",
    "(?1, ?, ?, ?, ?2, ?2)",
    " ON CONFLICT (account_id, thread_id) DO NOTHING
     RETURNING thread_id, id",
    2,
);

/// Participants the batch names otherwise than stored. Only those rows are written: on PostgreSQL
/// every row an `UPDATE` touches is a new version of it, in the heap and in each of its indexes,
/// even when nothing in it changes.
static RENAME_PARTICIPANTS: MultiRow = MultiRow::new(
    "UPDATE conversations SET participant_name = c.column2 FROM (VALUES ",
    "(CAST(? AS BIGINT), ?)",
    ") AS c WHERE id = c.column1",
    0,
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
/// only by a newer one, and one the customer wrote to again open (a snooze ends). A resolved or
/// snoozed one reopened keeps its assignee if they are online (a console on a live node), else it
/// goes back to the queue (`assignment`).
static UPDATE_CONVERSATIONS: MultiRow = MultiRow::new(
    "UPDATE conversations SET
         status = CASE WHEN c.column2 > 0 THEN 'open' ELSE status END,
         assignee_user_id = CASE WHEN c.column2 > 0 AND status IN ('resolved', 'snoozed')
                                      AND NOT EXISTS (SELECT 1 FROM console_connections cc
                                                      WHERE cc.user_id = conversations.assignee_user_id)
                                 THEN NULL ELSE assignee_user_id END,
         snoozed_until = CASE WHEN c.column2 > 0 THEN NULL ELSE snoozed_until END,
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
               last_message_at, unread_count, status, assignee_user_id, snoozed_until, labels",
    1,
);

/// Runs `work`, whose statements join a batch's rows with conversations by a key, so that on
/// PostgreSQL they look each conversation up by that key. A statement is planned once per
/// connection (a generic plan, kept) from the statistics of that moment: planned while the table
/// was small, [`UPDATE_CONVERSATIONS`] joined the batch's ids with a scan of the whole table, and
/// kept doing so as the table grew, until statistics were next gathered: 24 % of the writer
/// backend's CPU in the ingest benchmark, whose conversations are new. Looking each up is what the
/// planner chooses for a large table anyway.
fn by_key<T>(tx: &Tx<'_>, work: impl FnOnce() -> Result<T>) -> Result<T> {
    if tx.dialect() != crate::sql::Dialect::Postgres {
        return work();
    }
    for setting in LOOK_UP_EACH {
        tx.execute_pipelined(setting, args![])?;
    }
    // A failed `work` fails its unit, whose rollback to its savepoint undoes the settings too;
    // restoring them after it would only replace its error with "transaction aborted".
    let answer = work()?;
    for setting in JOIN_AS_PLANNED {
        tx.execute_pipelined(setting, args![])?;
    }
    Ok(answer)
}

const LOOK_UP_EACH: [&str; 2] = [
    "SET LOCAL enable_hashjoin = off",
    "SET LOCAL enable_mergejoin = off",
];

/// Undoes [`LOOK_UP_EACH`] for the rest of the transaction.
const JOIN_AS_PLANNED: [&str; 2] = [
    "SET LOCAL enable_hashjoin = on",
    "SET LOCAL enable_mergejoin = on",
];

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
/// the batch names its participant, as when each message was stored on its own; a name is
/// refreshed, never blanked.
fn conversation_ids(
    tx: &Tx<'_>,
    account_id: i64,
    messages: &[NewMessage],
    now: i64,
) -> Result<HashMap<String, i64>> {
    let mut firsts = first_of_each(messages, |m| &m.thread_id);
    // Every batch takes its rows' locks in one order (threads by id here, conversations by id in
    // the update): two batches of one account written at once on two nodes then wait for one
    // another rather than each for the other.
    firsts.sort_unstable_by(|a, b| a.thread_id.cmp(&b.thread_id));
    let mut stored = stored_conversations(tx, account_id, &firsts)?;
    let unseen: Vec<&NewMessage> = firsts
        .iter()
        .copied()
        .filter(|m| !stored.contains_key(&m.thread_id))
        .collect();
    let rows = rows_of(&unseen, |m| {
        [
            &m.thread_id as &dyn ToValue,
            &m.participant_id,
            &m.participant_name,
        ]
    });
    let mut ids: HashMap<String, i64> = INSERT_CONVERSATIONS
        .run(tx, args![account_id, now], &rows, |r| {
            Ok((r.get::<String>(0)?, r.get::<i64>(1)?))
        })?
        .into_iter()
        .collect();
    let created: Vec<(i64, Document)> = unseen
        .iter()
        .filter_map(|m| {
            Some((
                *ids.get(&m.thread_id)?,
                Document::of(&[&m.participant_name]),
            ))
        })
        .collect();
    search::index(tx, Source::Conversations, &created)?;
    // Made by another writer between the read and the insert: stored now, read like the others.
    let raced: Vec<&NewMessage> = unseen
        .into_iter()
        .filter(|m| !ids.contains_key(&m.thread_id))
        .collect();
    stored.extend(stored_conversations(tx, account_id, &raced)?);
    let renamed: Vec<(i64, &NewMessage)> = firsts
        .iter()
        .filter(|m| !m.participant_name.is_empty())
        .filter_map(|m| {
            let (id, name) = stored.get(&m.thread_id)?;
            (*name != m.participant_name).then_some((*id, *m))
        })
        .collect();
    let rows = rows_of(&renamed, |(id, m)| {
        [id as &dyn ToValue, &m.participant_name]
    });
    RENAME_PARTICIPANTS.execute_pipelined(tx, &[], &rows)?;
    let names: Vec<(i64, Document)> = renamed
        .iter()
        .map(|(id, m)| (*id, Document::of(&[&m.participant_name])))
        .collect();
    search::reindex(tx, Source::Conversations, &names)?;
    ids.extend(stored.into_iter().map(|(thread, (id, _))| (thread, id)));
    Ok(ids)
}

/// The id and the participant's name of each of `threads`' conversations that is stored, by thread.
fn stored_conversations(
    tx: &Tx<'_>,
    account_id: i64,
    threads: &[&NewMessage],
) -> Result<HashMap<String, (i64, String)>> {
    if threads.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = rows_of(threads, |m| [&m.thread_id as &dyn ToValue]);
    let found = by_key(tx, || {
        STORED_CONVERSATIONS.run(tx, args![account_id], &rows, |r| {
            Ok((r.get::<String>(0)?, (r.get::<i64>(1)?, r.get::<String>(2)?)))
        })
    })?;
    Ok(found.into_iter().collect())
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
#[derive(Serialize, utoipa::ToSchema)]
struct MessageOut<'a> {
    id: i64,
    conversation_id: i64,
    message_id: &'a str,
    direction: Direction,
    text: &'a str,
    attachments: &'a [Attachment],
    status: MessageStatus,
    sent_at: UnixMillis,
    /// For a comment: what a message has not (`crate::comments::CommentView`).
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<crate::comments::CommentView>,
}

/// A conversation's list entry after the change, so consoles can update their lists without a fetch.
#[derive(Serialize, utoipa::ToSchema)]
struct ConversationOut {
    id: i64,
    thread_id: String,
    participant_id: String,
    participant_name: String,
    last_message_text: String,
    last_message_direction: Option<String>,
    last_message_at: UnixMillis,
    unread_count: i64,
    status: ConversationStatus,
    assignee_user_id: Option<i64>,
    snoozed_until: Option<UnixMillis>,
    labels: Vec<String>,
}

/// The event announcing what a batch stored: the account, then the batch's own fields.
#[derive(Serialize, utoipa::ToSchema)]
struct NewItemsEvent<'a, T: Serialize> {
    user_id_chat: &'a str,
    #[serde(flatten)]
    items: T,
}

#[derive(Serialize, utoipa::ToSchema)]
struct NewMessages<'a> {
    messages: Vec<MessageOut<'a>>,
    conversations: Vec<ConversationOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct NotificationOut<'a> {
    id: i64,
    notification_id: &'a str,
    kind: &'a str,
    text: &'a str,
    link: Option<&'a str>,
    occurred_at: UnixMillis,
}

#[derive(Serialize, utoipa::ToSchema)]
struct NewNotifications<'a> {
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
    // In the conversations' order, the same for every batch (see `conversation_ids`).
    let mut in_order: Vec<&ConversationChange<'_>> = changes.iter().collect();
    in_order.sort_unstable_by_key(|change| change.id);
    let previews: Vec<String> = in_order.iter().map(|c| c.newest.preview()).collect();
    let rows = rows_of(in_order.iter().zip(&previews), |(change, preview)| {
        [
            &change.id as &dyn ToValue,
            &change.unread,
            &change.newest.sent_at,
            preview,
            &change.newest.direction,
        ]
    });
    let updated = by_key(tx, || {
        UPDATE_CONVERSATIONS.run(tx, args![now], &rows, |r| {
            Ok(read_row!(r => ConversationOut {
                id, thread_id, participant_id, participant_name, last_message_text,
                last_message_direction, last_message_at, unread_count, status, assignee_user_id,
                snoozed_until, labels: json,
            }))
        })
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

/// What a batch of `given` items came to when `new` of them were stored: the event announcing the
/// stored `items`, appended for `account`, and the outcome that names it.
fn announce(
    tx: &Tx<'_>,
    account: &Account,
    (given, new): (usize, usize),
    kind: EventKind,
    items: impl Serialize,
) -> Result<IngestOutcome> {
    let event = NewItemsEvent {
        user_id_chat: &account.user_id_chat,
        items,
    };
    append(tx, kind, account.event_target(), &event)?;
    Ok(IngestOutcome::new(given, new, true))
}

/// Stores messages of `account` (`ingest_messages`, and the comments of `crate::comments`, whose
/// `comment_of` says what each comment is), with their `new_messages` event when any were new; answers
/// the ids of the new ones by platform id. Handing out the new conversations of an account that
/// assigns them automatically is the caller's.
pub(crate) fn store_messages(
    tx: &Tx<'_>,
    account: &Account,
    items: &[NewMessage],
    comment_of: &dyn Fn(&str) -> Option<crate::comments::CommentView>,
    now: i64,
) -> Result<(IngestOutcome, HashMap<String, i64>)> {
    let conversations = conversation_ids(tx, account.id, items, now)?;
    let firsts: Vec<(&NewMessage, i64)> = first_of_each(items, |m| &m.message_id)
        .into_iter()
        .map(|m| {
            let conversation = conversations.get(&m.thread_id).copied().ok_or_else(|| {
                StorageError::Corrupt(format!("no conversation for thread {}", m.thread_id))
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
        return Ok((IngestOutcome::new(items.len(), 0, false), inserted));
    }
    let mut changes: Vec<ConversationChange<'_>> = Vec::new();
    let mut change_of: HashMap<i64, usize> = HashMap::new();
    let mut stored = Vec::with_capacity(inserted.len());
    let mut documents = Vec::with_capacity(inserted.len());
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
        documents.push((id, Document::of(&[&message.text])));
        stored.push(MessageOut {
            id,
            conversation_id: conversation,
            message_id: &message.message_id,
            direction: message.direction,
            text: &message.text,
            attachments: &message.attachments,
            status: *status(message.direction),
            sent_at: message.sent_at,
            comment: comment_of(&message.message_id),
        });
    }
    search::index(tx, Source::Messages, &documents)?;
    let conversations = apply_conversation_changes(tx, &changes, now)?;
    let counts = (items.len(), stored.len());
    let messages = NewMessages {
        messages: stored,
        conversations,
    };
    let outcome = announce(tx, account, counts, EventKind::NewMessages, messages)?;
    Ok((outcome, inserted))
}

impl Store {
    /// Stores a batch of messages in one transaction, with its `new_messages` event when any were new.
    /// A message id repeated within the batch is stored once, from its first occurrence.
    ///
    /// The batch runs beside other accounts' batches ([`Store::write_keyed`]); handing out what it
    /// brought, where the account assigns automatically, weighs every agent's load, so on
    /// PostgreSQL it follows in a write that takes turns, before the batch is answered (on SQLite,
    /// whose one writer takes turns anyway, in the batch's transaction). Should that write fail, the
    /// messages are stored all the same, and the next hand-out (a console's heartbeat) gives them.
    pub async fn ingest_messages(&self, batch: Batch<NewMessage>) -> Result<IngestOutcome> {
        let account = batch.account.clone();
        let (outcome, hand_out) = self
            .write_ingest(Some(&account), move |tx| {
                let account = writable(tx, &batch.account)?;
                let now = UnixMillis::now().0;
                let (outcome, _) = store_messages(tx, &account, &batch.items, &|_| None, now)?;
                if !account.assignment.auto || outcome.new == 0 {
                    return Ok((outcome, None));
                }
                // SQLite's one writer takes turns anyway: there the hand-out goes with the batch.
                if tx.dialect() == crate::sql::Dialect::Sqlite {
                    crate::assignment::hand_out(tx, Some(account.id), now)?;
                    return Ok((outcome, None));
                }
                Ok((outcome, Some(account.id)))
            })
            .await?;
        if let Some(account_id) = hand_out {
            let given = self
                .write(move |tx| {
                    crate::assignment::hand_out(tx, Some(account_id), UnixMillis::now().0)
                })
                .await;
            if let Err(error) = given {
                tracing::warn!(%error, account_id, "new conversations wait for the next hand-out");
            }
        }
        Ok(outcome)
    }

    /// Stores a batch of notifications in one transaction, with its `new_notifications` event.
    /// A notification id repeated within the batch is stored once, from its first occurrence.
    pub async fn ingest_notifications(
        &self,
        batch: Batch<NewNotification>,
    ) -> Result<IngestOutcome> {
        let account = batch.account.clone();
        let (outcome, ()) = self
            .write_ingest(Some(&account), move |tx| {
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
                    return Ok((IngestOutcome::new(batch.items.len(), 0, false), ()));
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
                let counts = (batch.items.len(), stored.len());
                let notifications = NewNotifications {
                    notifications: stored,
                };
                let outcome = announce(
                    tx,
                    &account,
                    counts,
                    EventKind::NewNotifications,
                    notifications,
                )?;
                Ok((outcome, ()))
            })
            .await?;
        Ok(outcome)
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
#[path = "ingest_tests.rs"]
pub(crate) mod tests;
