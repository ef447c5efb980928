//! Commands to bots: stored with what they act on before anyone is answered, handed to the account's
//! bot until it acknowledges them, and closed by the outcome the bot reports.

use crate::attachments::{attach, message_json};
use crate::events::append;
use crate::inbox::{
    ConversationView, MESSAGE_COLUMNS, MessageView, PostView, conversation, message_from_row, post,
};
use crate::sql::{Tx, args};
use crate::teamwork::announce_update;
use crate::tokens::random_secret;
use crate::{Result, StorageError, Store, accounts};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use switchboard_domain::outbound::{NewPost, Outcome, PostCommand, SendMessageCommand};
use switchboard_domain::status::CommandKind;
use switchboard_domain::teamwork::UpdateReason;
use switchboard_domain::{
    AccountView, CommandStatus, EventKind, MessageStatus, PostStatus, UnixMillis,
};

/// A command as an outcome finds it: its message or post, and kind.
type CommandRow = (Option<i64>, Option<i64>, CommandKind);

/// A command as it goes to a bot: the Socket.IO event name and its JSON payload.
#[derive(Debug)]
pub struct DeliverableCommand {
    /// Row id: the order of delivery.
    pub id: i64,
    pub command_id: String,
    pub event: &'static str,
    pub payload: Box<RawValue>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuedMessage {
    pub user_id_chat: String,
    pub message: MessageView,
    pub command_id: String,
    pub event_id: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuedPost {
    pub post: PostView,
    pub command_id: String,
    pub event_id: i64,
}

/// An answer that names the event announcing it, whose id is known once the write commits: built
/// with [`EVENT_ID_AT_COMMIT`], filled in by [`Store::write_queued`].
pub(crate) trait NamesItsEvent {
    fn name_event(&mut self, event_id: i64);
}

/// Stands for an event id until the write commits (see [`NamesItsEvent`]).
pub(crate) const EVENT_ID_AT_COMMIT: i64 = 0;

impl NamesItsEvent for QueuedMessage {
    fn name_event(&mut self, event_id: i64) {
        self.event_id = event_id;
    }
}

impl NamesItsEvent for QueuedPost {
    fn name_event(&mut self, event_id: i64) {
        self.event_id = event_id;
    }
}

impl Store {
    /// [`Store::write`] for a unit that queues a command and announces it: the answer names the
    /// unit's last event.
    pub(crate) async fn write_queued<T, F>(&self, work: F) -> Result<T>
    where
        T: NamesItsEvent + Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let (mut queued, event_id) = self.write_with_event(work).await?;
        queued.name_event(event_id);
        Ok(queued)
    }
}

pub(crate) fn new_command_id() -> Result<String> {
    Ok(random_secret()?[..32].to_owned())
}

pub(crate) fn insert_command(
    tx: &Tx<'_>,
    account_id: i64,
    kind: CommandKind,
    payload: &impl Serialize,
    command_id: &str,
    message_id: Option<i64>,
    post_id: Option<i64>,
) -> Result<()> {
    let now = UnixMillis::now().0;
    tx.execute_pipelined(
        "INSERT INTO commands (command_id, account_id, kind, payload, message_id, post_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        args![command_id, account_id, kind, serde_json::to_string(payload)?, message_id, post_id, now],
    )?;
    Ok(())
}

pub(crate) fn message_event(tx: &Tx<'_>, account: (i64, &str), view: &MessageView) -> Result<()> {
    append(
        tx,
        EventKind::MessageStatusUpdate,
        Some(account),
        &json!({"user_id_chat": account.1, "conversation_id": view.conversation_id, "message": view}),
    )
}

fn post_event(tx: &Tx<'_>, account: (i64, &str), view: &PostView) -> Result<()> {
    append(
        tx,
        EventKind::PostStatusUpdate,
        Some(account),
        &json!({"user_id_chat": account.1, "post": view}),
    )
}

/// Queues the send of an outgoing message row (new or retried, `message` as it is now) and announces it.
fn send_message(
    tx: &Tx<'_>,
    account: accounts::Account,
    conversation: &ConversationView,
    message: MessageView,
) -> Result<QueuedMessage> {
    let message_id = message.id;
    let command_id = new_command_id()?;
    let command = SendMessageCommand {
        command_id: command_id.clone(),
        user_id_chat: account.user_id_chat.clone(),
        message_id,
        conversation_id: conversation.id,
        thread_id: conversation.thread_id.clone(),
        recipient_id: conversation.participant_id.clone(),
        text: message.text.clone(),
        // A retry sends the same files again: they are read from the message.
        attachments: serde_json::from_value(message.attachments.clone()).unwrap_or_default(),
    };
    insert_command(
        tx,
        account.id,
        CommandKind::SendMessage,
        &command,
        &command_id,
        Some(message_id),
        None,
    )?;
    message_event(tx, (account.id, &account.user_id_chat), &message)?;
    Ok(QueuedMessage {
        user_id_chat: account.user_id_chat,
        message,
        command_id,
        event_id: EVENT_ID_AT_COMMIT,
    })
}

/// A reply from the CRM, stored `queued` with its files and indexed; the conversation shows it last
/// and, if nobody owned it, belongs to its author from now on. Its command is the caller's to queue.
/// A conversation whose account is outside `seen_by` is unknown, as the access rules answer it.
pub(crate) fn insert_reply(
    tx: &Tx<'_>,
    conversation_id: i64,
    text: &str,
    attachment_ids: &[i64],
    author: Option<i64>,
    seen_by: &AccountView,
) -> Result<(accounts::Account, ConversationView, MessageView)> {
    let now = UnixMillis::now().0;
    // Until the bot reports the platform's id, the row holds a placeholder unique to this send.
    let placeholder = format!("crm:{}", new_command_id()?);
    // The conversation and the new row in one round trip: the insert takes the account from the
    // conversation itself, and whatever the read then refuses rolls the unit back, row included.
    let (found, inserted) = tx.optional_pair(
        (
            &accounts::with_conversation_sql(crate::inbox::CONVERSATION_COLUMNS),
            args![conversation_id],
        ),
        |row| accounts::read_account_and(row, crate::inbox::conversation_from_row),
        (
            &format!(
                "INSERT INTO messages (account_id, conversation_id, platform_message_id, direction, text,
                                       status, sent_at, created_at, author_user_id)
                 SELECT c.account_id, c.id, CAST(?2 AS TEXT), 'out', CAST(?3 AS TEXT), CAST(?4 AS TEXT),
                        CAST(?5 AS BIGINT), CAST(?5 AS BIGINT), CAST(?6 AS BIGINT)
                 FROM conversations c WHERE c.id = ?1
                 RETURNING {MESSAGE_COLUMNS}"
            ),
            args![conversation_id, placeholder, text, MessageStatus::Queued, now, author],
        ),
        message_from_row,
    )?;
    let (account, view) = found
        .filter(|(account, _)| seen_by.sees(&account.user_id_chat))
        .ok_or(StorageError::UnknownConversation(conversation_id))?;
    accounts::ensure_enabled(&account)?;
    let mut message = inserted.ok_or_else(|| {
        StorageError::Corrupt(format!(
            "the reply to conversation {conversation_id} was not stored"
        ))
    })?;
    crate::search::index(
        tx,
        crate::search::Source::Messages,
        &[(
            message.id,
            switchboard_domain::search::Document::of(&[&message.text]),
        )],
    )?;
    if !attachment_ids.is_empty() {
        let attached = attach(tx, attachment_ids, author, message.id)?;
        message.attachments = message_json(&attached)?;
        tx.execute(
            "UPDATE messages SET attachments = ?2 WHERE id = ?1",
            args![message.id, message.attachments.to_string()],
        )?;
    }
    let preview: String = if text.is_empty() {
        attachment_ids
            .iter()
            .map(|_| "📎")
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        text.chars().take(200).collect()
    };
    tx.execute_pipelined(
        "UPDATE conversations SET last_message_text = ?2, last_message_direction = 'out',
             last_message_at = CASE WHEN ?3 > COALESCE(last_message_at, 0) THEN ?3 ELSE COALESCE(last_message_at, 0) END,
             updated_at = ?3 WHERE id = ?1",
        args![conversation_id, preview, now],
    )?;
    // Replying to a conversation nobody owns makes it yours: the queue shows only the
    // unanswered.
    if let Some(author) = author.filter(|_| view.assignee_user_id.is_none()) {
        tx.execute(
            "UPDATE conversations SET assignee_user_id = ?2 WHERE id = ?1",
            args![conversation_id, author],
        )?;
        let assigned = conversation(tx, conversation_id)?;
        announce_update(tx, &assigned, Some(author), UpdateReason::Replied)?;
    }
    Ok((account, view, message))
}

/// Queues the publication of a post row (new or retried) and announces it.
fn publish_post(tx: &Tx<'_>, post_id: i64) -> Result<QueuedPost> {
    let view = post(tx, post_id)?;
    let account = accounts::writable(tx, &view.user_id_chat)?;
    let command_id = new_command_id()?;
    let command = PostCommand {
        command_id: command_id.clone(),
        user_id_chat: view.user_id_chat.clone(),
        post_id,
        content: view.content.clone(),
        image_url: view.image_url.clone(),
    };
    insert_command(
        tx,
        account.id,
        CommandKind::PostNewsFeed,
        &command,
        &command_id,
        None,
        Some(post_id),
    )?;
    post_event(tx, (account.id, &account.user_id_chat), &view)?;
    Ok(QueuedPost {
        post: view,
        command_id,
        event_id: EVENT_ID_AT_COMMIT,
    })
}

/// Only what failed is sent again: retrying a queued or sent row would publish it twice.
fn ensure_failed<S: PartialEq + std::fmt::Display>(
    what: &str,
    id: i64,
    status: &S,
    failed: &S,
) -> Result<()> {
    if status == failed {
        return Ok(());
    }
    Err(StorageError::Conflict(format!(
        "{what} {id} is {status}; only failed {what}s are retried"
    )))
}

/// The commands waiting for their bot, for the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandGauges {
    /// How many commands are pending and delivered (a state with none is absent).
    pub by_state: Vec<(CommandStatus, i64)>,
    /// For each account with commands its bot has not acknowledged (pending or delivered), when
    /// the oldest of them was queued.
    pub oldest_unacknowledged: Vec<(String, UnixMillis)>,
}

impl Store {
    /// The command channel's gauges (`switchboard_commands`,
    /// `switchboard_command_oldest_unacknowledged_seconds`): one short read of the partial index
    /// `commands_to_deliver`, which holds only the commands not acknowledged yet. Acknowledged
    /// commands are in their bot's spool and not counted: an index for them too, kept on every
    /// change of a command's state, cost the sender 14 % of its commands a second (benchmarks.md).
    pub async fn command_gauges(&self) -> Result<CommandGauges> {
        self.read(|tx| {
            // A command's row id is its place in the queue: the account's smallest is its oldest.
            let rows = tx.rows(
                "SELECT a.user_id_chat, waiting.status, waiting.n, c.created_at
                 FROM (SELECT account_id, status, COUNT(*) AS n, MIN(id) AS first
                       FROM commands WHERE status IN ('pending', 'delivered')
                       GROUP BY account_id, status) waiting
                 JOIN commands c ON c.id = waiting.first
                 JOIN facebook_accounts a ON a.id = waiting.account_id",
                args![],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<CommandStatus>(1)?,
                        r.get::<i64>(2)?,
                        r.get::<UnixMillis>(3)?,
                    ))
                },
            )?;
            let mut gauges = CommandGauges::default();
            for (account, status, count, oldest) in rows {
                match gauges.by_state.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, total)) => *total += count,
                    None => gauges.by_state.push((status, count)),
                }
                match gauges
                    .oldest_unacknowledged
                    .iter_mut()
                    .find(|(a, _)| *a == account)
                {
                    Some((_, since)) => *since = (*since).min(oldest),
                    None => gauges.oldest_unacknowledged.push((account, oldest)),
                }
            }
            Ok(gauges)
        })
        .await
    }

    /// Stores an agent's message as `queued` with its command, in one transaction.
    pub async fn queue_message(
        &self,
        conversation_id: i64,
        text: String,
        author: Option<i64>,
    ) -> Result<QueuedMessage> {
        self.queue_reply(conversation_id, text, Vec::new(), author, AccountView::All)
            .await
    }

    /// [`Store::queue_message`] with files uploaded by `author` (`attachment_ids`, in order), sent
    /// before the text; they are tied to the message in the same transaction. The conversation must
    /// be one of `seen_by`'s accounts (checked in the same transaction, not by a read before it).
    pub async fn queue_reply(
        &self,
        conversation_id: i64,
        text: String,
        attachment_ids: Vec<i64>,
        author: Option<i64>,
        seen_by: AccountView,
    ) -> Result<QueuedMessage> {
        self.write_queued(move |tx| {
            let (account, view, message) = insert_reply(
                tx,
                conversation_id,
                &text,
                &attachment_ids,
                author,
                &seen_by,
            )?;
            send_message(tx, account, &view, message)
        })
        .await
    }

    /// Sends a failed message again, with a new command.
    pub async fn retry_message(&self, message_id: i64) -> Result<QueuedMessage> {
        self.write_queued(move |tx| {
            let before = crate::comments::message_with_comment(tx, message_id)?;
            ensure_failed("message", message_id, &before.status, &MessageStatus::Failed)?;
            let mut view = tx.one(
                &format!("UPDATE messages SET status = 'queued', error = NULL WHERE id = ?1 RETURNING {MESSAGE_COLUMNS}"),
                args![message_id],
                message_from_row,
            )?;
            view.comment = before.comment;
            let conversation = conversation(tx, view.conversation_id)?;
            let account = accounts::writable(tx, &conversation.user_id_chat)?;
            match view.comment.as_ref().map(|c| (c.parent_id.clone(), c.private)) {
                // An answer to a comment is sent the way it was first: privately, or under it.
                Some((Some(parent), true)) => crate::comments::private_reply(tx, account, &conversation, view, parent),
                Some((Some(parent), false)) => crate::comments::reply_under(tx, account, conversation.id, view, parent),
                _ => send_message(tx, account, &conversation, view),
            }
        })
        .await
    }

    /// Stores a post as `queued` with its command, in one transaction.
    pub async fn queue_post(&self, new: NewPost, author: Option<i64>) -> Result<QueuedPost> {
        self.write_queued(move |tx| {
            let account = accounts::writable(tx, &new.user_id_chat)?;
            let now = UnixMillis::now().0;
            let post_id = tx.insert(
                "INSERT INTO posts (account_id, content, status, created_at, updated_at, author_user_id, image_url)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6) RETURNING id",
                args![account.id, new.content, PostStatus::Queued, now, author, new.image_url],
            )?;
            publish_post(tx, post_id)
        })
        .await
    }

    pub async fn retry_post(&self, post_id: i64) -> Result<QueuedPost> {
        self.write_queued(move |tx| {
            let view = post(tx, post_id)?;
            ensure_failed("post", post_id, &view.status, &PostStatus::Failed)?;
            tx.execute(
                "UPDATE posts SET status = 'queued', error = NULL, updated_at = ?2 WHERE id = ?1",
                args![post_id, UnixMillis::now()],
            )?;
            publish_post(tx, post_id)
        })
        .await
    }

    /// Commands for the account's bot that it has not acknowledged, after row `after`, oldest first.
    pub async fn commands_to_deliver(
        &self,
        user_id_chat: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DeliverableCommand>> {
        let user_id_chat = user_id_chat.to_owned();
        self.read(move |tx| {
            // The limit is part of the SQL text, not a parameter: SQLite specialises a statement to its
            // bound LIMIT and prepares it again whenever the value changes (a quarter of the CPU, per perf).
            tx.rows(
                &format!(
                    "SELECT c.id, c.command_id, c.kind, c.payload FROM commands c
                     WHERE c.account_id = (SELECT id FROM facebook_accounts WHERE user_id_chat = ?1) AND c.status IN ('pending', 'delivered') AND c.id > ?2
                     ORDER BY c.id LIMIT {limit}"
                ),
                args![user_id_chat, after],
                |r| {
                    Ok(DeliverableCommand {
                        id: r.get(0)?,
                        command_id: r.get(1)?,
                        event: r.get::<CommandKind>(2)?.event(),
                        payload: RawValue::from_string(r.get(3)?)?,
                    })
                },
            )
        })
        .await
    }

    /// Notes that commands were handed to the bot (once more).
    pub async fn mark_delivered(&self, ids: Vec<i64>) -> Result<()> {
        // Each row's own update: nothing to check, so other nodes' writes need not wait.
        self.write_beside(move |tx| {
            let now = UnixMillis::now();
            for id in ids {
                tx.execute_pipelined(
                    "UPDATE commands SET attempts = attempts + 1, updated_at = ?2,
                         status = CASE WHEN status = 'pending' THEN 'delivered' ELSE status END
                     WHERE id = ?1",
                    args![id, now],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// A command's state, and how many times it was handed to a bot: `None` for an unknown id.
    pub async fn command_delivery(&self, command_id: &str) -> Result<Option<(CommandStatus, u32)>> {
        let command_id = command_id.to_owned();
        self.read(move |tx| {
            tx.optional(
                "SELECT status, attempts FROM commands WHERE command_id = ?1",
                args![command_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await
    }

    /// The bot has the command and will not need it again. True the first time.
    pub async fn acknowledge_command(&self, user_id_chat: &str, command_id: &str) -> Result<bool> {
        let (user_id_chat, command_id) = (user_id_chat.to_owned(), command_id.to_owned());
        // The update checks the state it moves from, under its row's lock: a second
        // acknowledgement, from any node, finds it moved and changes nothing.
        self.write_beside(move |tx| {
            Ok(tx.execute(
                "UPDATE commands SET status = 'acknowledged', updated_at = ?3
                 WHERE command_id = ?1 AND status IN ('pending', 'delivered')
                   AND account_id = (SELECT id FROM facebook_accounts WHERE user_id_chat = ?2)",
                args![command_id, user_id_chat, UnixMillis::now()],
            )? > 0)
        })
        .await
    }

    /// Records what the bot reports about a command and announces the message's or post's new status.
    /// A report for a command already closed changes nothing (`Ok(None)`): bots may repeat themselves.
    pub async fn record_outcome(
        &self,
        user_id_chat: &str,
        command_id: &str,
        outcome: Outcome,
    ) -> Result<Option<i64>> {
        let (user_id_chat, command_id) = (user_id_chat.to_owned(), command_id.to_owned());
        // Beside other nodes' writes: the command's row is closed by the one report that moves it
        // out of an open state (below), so two reports of one command cannot both apply.
        let (changed, announced) = self.submit(move |tx| {
            let (command_status, error) = match &outcome {
                Outcome::Sent { .. } => (CommandStatus::Done, None),
                Outcome::Failed { reason } => (CommandStatus::Failed, Some(reason.as_str())),
            };
            // The command as it was, and its close, sent together (one round trip): the close
            // changes only a command still open, so whatever the read then finds, nothing else
            // was written.
            let (found, closed) = tx.optional_pair(
                (
                    &accounts::find_with_sql(
                        "c.id, c.message_id, c.post_id, c.kind
                         FROM {account} LEFT JOIN commands c ON c.account_id = acc.id AND c.command_id = ?2",
                    ),
                    args![user_id_chat, command_id],
                ),
                |r| {
                    accounts::read_account_and(r, |r| {
                        let id: Option<i64> = r.get(0)?;
                        id.map(|_| -> Result<CommandRow> { Ok((r.get(1)?, r.get(2)?, r.get(3)?)) })
                            .transpose()
                    })
                },
                (
                    "UPDATE commands SET status = ?3, error = ?4, updated_at = ?5
                     WHERE command_id = ?2 AND status NOT IN (?6, ?7)
                       AND account_id = (SELECT id FROM facebook_accounts WHERE user_id_chat = ?1)
                     RETURNING id",
                    args![
                        user_id_chat, command_id, command_status, error, UnixMillis::now(),
                        CommandStatus::Done, CommandStatus::Failed
                    ],
                ),
                |r| r.get::<i64>(0),
            )?;
            let (account, row) = found.ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            let Some((message_id, post_id, kind)) = row else {
                return Err(StorageError::Conflict(format!("no command `{command_id}` for account `{user_id_chat}`")));
            };
            if closed.is_none() {
                // Closed already, by an earlier report or by another node's since.
                return Ok(false);
            }
            let now = UnixMillis::now().0;
            let scope = (account.id, account.user_id_chat.as_str());
            if let (CommandKind::ModerateComment, Some(message_id)) = (kind, message_id) {
                let done = match &outcome {
                    Outcome::Sent { .. } => Ok(()),
                    Outcome::Failed { reason } => Err(reason.as_str()),
                };
                crate::comments::moderation_done(tx, message_id, done)?;
                let view = crate::comments::message_with_comment(tx, message_id)?;
                return message_event(tx, scope, &view).map(|()| true);
            }
            if let Some(message_id) = message_id {
                // The message's new state in one statement (one row version), which answers its view,
                // read with its comment in the same round trip.
                let (platform_id, reason) = match &outcome {
                    Outcome::Sent { platform_id, .. } => (platform_id.as_deref(), None),
                    Outcome::Failed { reason } => (None, Some(reason.as_str())),
                };
                let (change, change_args): (&str, Vec<&dyn crate::sql::ToValue>) = match reason {
                    // The platform's id replaces the placeholder, unless the bot's scraper already
                    // brought the same message in: then both rows are kept, the placeholder staying on
                    // ours (checked in the statement rather than with SQLite's `UPDATE OR IGNORE`, so
                    // that PostgreSQL runs it). The check names its unique key with values, not a
                    // correlation: PostgreSQL then looks it up in the key's index even while it
                    // believes the table tiny, as it does for a prepared plan made when the table was
                    // new.
                    None => (
                        "UPDATE messages SET status = 'sent', error = NULL,
                             platform_message_id = CASE
                                 WHEN CAST(?2 AS TEXT) IS NULL OR EXISTS (
                                     SELECT 1 FROM messages taken
                                     WHERE taken.account_id = ?3 AND taken.platform_message_id = ?2)
                                 THEN platform_message_id ELSE ?2 END
                         WHERE id = ?1",
                        vec![&message_id, &platform_id, &account.id],
                    ),
                    Some(_) => (
                        "UPDATE messages SET status = 'failed', error = ?2 WHERE id = ?1",
                        vec![&message_id, &reason],
                    ),
                };
                let recipient = match &outcome {
                    Outcome::Sent { recipient_id: Some(recipient_id), .. } if kind == CommandKind::PrivateReply => Some(recipient_id),
                    _ => None,
                };
                let view = match recipient {
                    None => crate::comments::message_with_comment_after(
                        tx,
                        &format!("{change} RETURNING {MESSAGE_COLUMNS}"),
                        &change_args,
                        message_id,
                    )?,
                    // Sent privately, the message moves to the customer's own conversation: read after.
                    Some(recipient_id) => {
                        tx.execute_pipelined(change, &change_args)?;
                        crate::comments::private_reply_sent(tx, &account, message_id, recipient_id)?;
                        crate::comments::message_with_comment(tx, message_id)?
                    }
                };
                return message_event(tx, scope, &view).map(|()| true);
            }
            if let Some(post_id) = post_id {
                match &outcome {
                    Outcome::Sent { platform_id, link, .. } => tx.execute(
                        "UPDATE posts SET status = 'posted', platform_post_id = ?2, link = ?3, error = NULL, updated_at = ?4 WHERE id = ?1",
                        args![post_id, platform_id, link, now],
                    )?,
                    Outcome::Failed { reason } => tx.execute(
                        "UPDATE posts SET status = 'failed', error = ?2, updated_at = ?3 WHERE id = ?1",
                        args![post_id, reason, now],
                    )?,
                };
                let view = post(tx, post_id)?;
                return post_event(tx, scope, &view).map(|()| true);
            }
            Ok(false)
        }, crate::group::Turns::Beside, 0)
        .await?;
        // The message's or post's event is the unit's last (a private reply's conversations are
        // announced before it).
        Ok(changed.then(|| announced.last()).flatten())
    }
}
