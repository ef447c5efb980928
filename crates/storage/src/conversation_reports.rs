//! What the conversation reports read: for each conversation active in a period (of the pages the
//! caller sees), the customer's first message of the period, the first answer after it and who wrote
//! it, the messages each way, and its resolution; and which agent wrote how much where. Summed into
//! groups by `domain::reports::ChatTally`.

use crate::access::{view_clause, view_of};
use crate::sql::args;
use crate::{Result, Store};
use std::collections::HashMap;
use switchboard_domain::{Principal, UnixMillis};

/// The most conversations one report reads (the most recently active first).
pub const MAX_REPORT_CONVERSATIONS: usize = 100_000;

/// One conversation's activity in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationActivity {
    pub conversation_id: i64,
    pub account: String,
    pub account_name: String,
    pub participant_name: String,
    /// The customer's first message in the period (`None`: they did not write in it).
    pub first_in: Option<UnixMillis>,
    /// The first answer after it (perhaps after the period), and its author.
    pub first_out: Option<UnixMillis>,
    pub responder: Option<i64>,
    pub messages_in: i64,
    pub messages_out: i64,
    pub resolved_at: Option<UnixMillis>,
    pub resolved_by: Option<i64>,
}

/// How many messages an agent wrote in one conversation during the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentActivity {
    pub user_id: i64,
    pub conversation_id: i64,
    pub messages_out: i64,
}

/// The period's activity, and whether more conversations were active than one report reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationReport {
    pub conversations: Vec<ConversationActivity>,
    pub agents: Vec<AgentActivity>,
    pub truncated: bool,
}

impl Store {
    /// The conversations active in `[start, end)` that `principal` sees: those whose last message is
    /// not older than `start` (the recency index finds them), measured in one pass over the period's
    /// messages (each conversation's, newest first, as its index keeps them), then a look past the
    /// period's end for the first answers it does not hold.
    pub async fn conversation_report(
        &self,
        principal: &Principal,
        (start, end): (UnixMillis, UnixMillis),
    ) -> Result<ConversationReport> {
        let principal = principal.clone();
        self.read_long(move |tx| {
            let view = view_of(tx, &principal)?;
            let visible = view_clause(tx, &view, "c.account_id")?;
            let limit = MAX_REPORT_CONVERSATIONS + 1;
            let active = format!(
                "SELECT c.id FROM conversations c
                 WHERE COALESCE(c.last_message_at, 0) >= ?1 AND {visible}
                 ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC LIMIT {limit}"
            );
            let mut conversations = tx.rows(
                &format!(
                    "SELECT c.id, a.user_id_chat, a.name, c.participant_name, c.resolved_at, c.resolved_by_user_id
                     FROM conversations c JOIN facebook_accounts a ON a.id = c.account_id
                     WHERE c.id IN ({active})
                     ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC"
                ),
                args![start],
                |r| {
                    Ok(ConversationActivity {
                        conversation_id: r.get(0)?,
                        account: r.get(1)?,
                        account_name: r.get(2)?,
                        participant_name: r.get(3)?,
                        resolved_at: r.get::<Option<i64>>(4)?.map(UnixMillis),
                        resolved_by: r.get(5)?,
                        first_in: None,
                        first_out: None,
                        responder: None,
                        messages_in: 0,
                        messages_out: 0,
                    })
                },
            )?;
            let truncated = conversations.len() > MAX_REPORT_CONVERSATIONS;
            conversations.truncate(MAX_REPORT_CONVERSATIONS);
            let position: HashMap<i64, usize> = conversations
                .iter()
                .enumerate()
                .map(|(at, c)| (c.conversation_id, at))
                .collect();

            // Newest first within each conversation: when a customer's message is reached, the
            // answer last seen is the first one after it.
            let mut walk = Walk::default();
            let mut agents = Vec::new();
            tx.rows(
                &format!(
                    "SELECT m.conversation_id, m.direction = 'in', m.sent_at, m.author_user_id
                     FROM messages m
                     WHERE m.conversation_id IN ({active}) AND m.sent_at >= ?1 AND m.sent_at < ?2
                     ORDER BY m.conversation_id, m.sent_at DESC, m.id DESC"
                ),
                args![start, end],
                |r| {
                    let conversation: i64 = r.get(0)?;
                    if walk.conversation != conversation {
                        walk.finish(&mut agents);
                        walk.conversation = conversation;
                        walk.at = position.get(&conversation).copied();
                        walk.earliest_answer = None;
                    }
                    let Some(at) = walk.at else {
                        return Ok(());
                    };
                    let (from_customer, sent_at, author): (bool, i64, Option<i64>) =
                        (r.get(1)?, r.get(2)?, r.get(3)?);
                    let row = &mut conversations[at];
                    if from_customer {
                        row.messages_in += 1;
                        row.first_in = Some(UnixMillis(sent_at));
                        row.first_out = walk.earliest_answer.map(|(at, _)| UnixMillis(at));
                        row.responder = walk.earliest_answer.and_then(|(_, author)| author);
                    } else {
                        row.messages_out += 1;
                        walk.earliest_answer = Some((sent_at, author));
                        if let Some(author) = author {
                            walk.wrote(author);
                        }
                    }
                    Ok(())
                },
            )?;
            walk.finish(&mut agents);

            // Customers whose first message of the period was not answered within it: the first
            // answer after it, if any.
            for row in conversations
                .iter_mut()
                .filter(|c| c.first_in.is_some() && c.first_out.is_none())
            {
                if let Some((at, author)) = tx.optional(
                    "SELECT o.sent_at, o.author_user_id FROM messages o
                     WHERE o.conversation_id = ?1 AND o.direction = 'out' AND o.sent_at >= ?2
                     ORDER BY o.sent_at, o.id LIMIT 1",
                    args![row.conversation_id, end],
                    |r| Ok((r.get::<i64>(0)?, r.get::<Option<i64>>(1)?)),
                )? {
                    row.first_out = Some(UnixMillis(at));
                    row.responder = author;
                }
            }
            Ok(ConversationReport {
                conversations,
                agents,
                truncated,
            })
        })
        .await
    }
}

/// Where the walk over one conversation's messages (newest first) is.
#[derive(Default)]
struct Walk {
    conversation: i64,
    /// Where the conversation is in the report (none: beyond the report's limit).
    at: Option<usize>,
    /// The earliest answer seen so far (the walk goes back in time), and its author.
    earliest_answer: Option<(i64, Option<i64>)>,
    /// Who wrote how many answers in this conversation (a few people at most).
    authors: Vec<(i64, i64)>,
}

impl Walk {
    fn wrote(&mut self, author: i64) {
        match self.authors.iter_mut().find(|(user, _)| *user == author) {
            Some((_, count)) => *count += 1,
            None => self.authors.push((author, 1)),
        }
    }

    /// Counts the conversation's authors in, when it is in the report.
    fn finish(&mut self, agents: &mut Vec<AgentActivity>) {
        if self.at.is_some() {
            self.authors.sort_unstable();
            agents.extend(
                self.authors
                    .iter()
                    .map(|&(user_id, messages_out)| AgentActivity {
                        user_id,
                        conversation_id: self.conversation,
                        messages_out,
                    }),
            );
        }
        self.authors.clear();
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::args;
    use crate::{AccountKind, Actor};
    use switchboard_domain::ingest::{Batch, Direction, NewMessage};
    use switchboard_domain::teamwork::{ConversationChanges, ConversationStatus};
    use switchboard_domain::{Principal, Role, UnixMillis};

    fn from_customer(id: &str, thread: &str, sent_at: i64) -> Batch<NewMessage> {
        Batch {
            account: "page1".into(),
            items: vec![NewMessage {
                message_id: id.into(),
                thread_id: thread.into(),
                participant_id: format!("u-{thread}"),
                participant_name: "Vũ Thị Hoa".into(),
                direction: Direction::In,
                text: "còn hàng không ạ?".into(),
                attachments: vec![],
                sent_at: UnixMillis(sent_at),
            }],
        }
    }

    #[tokio::test]
    async fn a_conversations_first_answer_its_author_and_its_resolution_are_measured_from_the_period()
     {
        let (_dir, store) = crate::temp_store().await;
        store
            .ensure_account("page1", "Shop Hoa", AccountKind::Page)
            .await
            .expect("account");
        let lan = store
            .create_user("lan", "Lan", Role::Agent, "lan password 123".into())
            .await
            .expect("user");
        let now = UnixMillis::now().0;
        // Answered and resolved; and another, written to long ago only.
        store
            .ingest_messages(from_customer("m1", "t1", now - 120_000))
            .await
            .expect("ingest");
        store
            .ingest_messages(from_customer("m2", "t1", now - 60_000))
            .await
            .expect("ingest");
        store
            .ingest_messages(from_customer("old", "t2", now - 40 * 86_400_000))
            .await
            .expect("ingest");
        let conversation: i64 = store
            .read(|tx| {
                tx.one(
                    "SELECT id FROM conversations WHERE thread_id = 't1'",
                    args![],
                    |r| r.get(0),
                )
            })
            .await
            .expect("conversation");
        store
            .queue_message(conversation, "Dạ còn ạ".into(), Some(lan.id))
            .await
            .expect("reply");
        let resolved = ConversationChanges {
            assignee: None,
            status: Some(ConversationStatus::Resolved),
            snoozed_until: None,
            labels: None,
        };
        let actor = Actor {
            user_id: Some(lan.id),
            assigns_others: false,
        };
        store
            .update_conversation(conversation, resolved, actor)
            .await
            .expect("resolve");

        let admin = Principal::User {
            user_id: 1,
            username: "admin".into(),
            role: Role::Admin,
        };
        let period = (UnixMillis(now - 86_400_000), UnixMillis(now + 60_000));
        let report = store
            .conversation_report(&admin, period)
            .await
            .expect("report");
        assert!(!report.truncated);
        assert_eq!(report.conversations.len(), 1, "{report:?}");
        let row = &report.conversations[0];
        assert_eq!(
            (row.account.as_str(), row.account_name.as_str()),
            ("page1", "Shop Hoa")
        );
        assert_eq!((row.messages_in, row.messages_out), (2, 1));
        assert_eq!(row.first_in, Some(UnixMillis(now - 120_000)));
        let answered = row.first_out.expect("answered").0 - (now - 120_000);
        assert!((120_000..130_000).contains(&answered), "{answered}");
        assert_eq!(
            (row.responder, row.resolved_by),
            (Some(lan.id), Some(lan.id))
        );
        assert!(row.resolved_at.is_some());
        assert_eq!(report.agents.len(), 1);
        assert_eq!(
            (report.agents[0].user_id, report.agents[0].messages_out),
            (lan.id, 1)
        );

        // A period that ends before the answer: the answer after it still measures the response.
        let unanswered_within = (UnixMillis(now - 86_400_000), UnixMillis(now - 30_000));
        let report = store
            .conversation_report(&admin, unanswered_within)
            .await
            .expect("report");
        let row = &report.conversations[0];
        assert_eq!((row.messages_in, row.messages_out), (2, 0));
        assert_eq!(row.first_in, Some(UnixMillis(now - 120_000)));
        assert!(row.first_out.is_some_and(|at| at.0 >= now), "{row:?}");
        assert_eq!(row.responder, Some(lan.id));
        assert!(report.agents.is_empty(), "{report:?}");

        // A period before the messages sees none of them.
        let before = (
            UnixMillis(now - 10 * 86_400_000),
            UnixMillis(now - 9 * 86_400_000),
        );
        let report = store
            .conversation_report(&admin, before)
            .await
            .expect("report");
        assert!(
            report
                .conversations
                .iter()
                .all(|c| c.first_in.is_none() && c.messages_out == 0)
        );
    }
}
