//! What the console reads: conversations, messages, notifications and posts, newest first, a page at a
//! time. Cursors are opaque to clients: pass back `next_cursor` to get the next (older) page.

use crate::access::view_clause;
use crate::events::append;
use crate::search::{self, Spelling, Strategy};
use crate::sql::{Dialect, Row, ToValue, Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use serde_json::Value;
use switchboard_domain::search::SearchQuery;
use switchboard_domain::{
    AccountView, ConversationStatus, EventKind, MessageStatus, PostStatus, UnixMillis,
};

/// Most items one page may hold.
pub const MAX_PAGE: usize = 200;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Give it back as `cursor` for the next, older page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub unread_only: bool,
    /// Words of the participant's name or of any message in the conversation, case and accents
    /// ignored (`domain::search`).
    pub search: Option<String>,
    pub assignee: Option<Assignee>,
    pub status: Option<ConversationStatus>,
    /// A label's name (any case).
    pub label: Option<String>,
    /// How a search finds its conversations, when a test chooses (both must answer the same).
    #[cfg(test)]
    pub(crate) strategy: Option<Strategy>,
}

/// Whose conversations: nobody's (the queue) or one user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Nobody,
    User(i64),
}

/// The console's tabs: conversations of one status that are mine, in the queue, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConversationCounts {
    pub mine: i64,
    pub unassigned: i64,
    pub all: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    pub id: i64,
    pub user_id_chat: String,
    pub thread_id: String,
    pub participant_id: String,
    pub participant_name: String,
    pub last_message_text: String,
    pub last_message_direction: Option<String>,
    pub last_message_at: Option<UnixMillis>,
    pub unread_count: i64,
    pub status: ConversationStatus,
    /// The user who owns it; `null` while it waits in the queue.
    pub assignee_user_id: Option<i64>,
    /// When a snooze ends; set exactly while `status` is `snoozed`.
    pub snoozed_until: Option<UnixMillis>,
    /// Its labels' names.
    pub labels: Vec<String>,
    /// In the answer to a search typed with accents only: whether the conversation has the words as
    /// typed (these come first), or only without accents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact_match: Option<bool>,
    /// For comments under a post: the Messenger conversation a private reply opened with their author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_conversation_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    /// The platform's id; `null` while a message sent from the CRM is not yet sent.
    pub message_id: Option<String>,
    pub direction: String,
    pub text: String,
    pub attachments: Value,
    /// `received` (in), `sent` (out), or for messages sent from the CRM `queued`, `sent`, `failed`.
    pub status: MessageStatus,
    pub error: Option<String>,
    pub sent_at: UnixMillis,
    pub author_user_id: Option<i64>,
    /// For a comment under a post, or a reply to one: what a message has not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<crate::comments::CommentView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub notification_id: String,
    pub kind: String,
    pub text: String,
    pub link: Option<String>,
    pub occurred_at: UnixMillis,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostView {
    pub id: i64,
    pub user_id_chat: String,
    pub content: String,
    pub status: PostStatus,
    pub platform_post_id: Option<String>,
    pub link: Option<String>,
    pub error: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub author_user_id: Option<i64>,
    pub image_url: Option<String>,
}

/// A cursor is `<sort key>:<id>` of the last item of the previous page.
pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<(i64, i64)> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok((i64::MAX, i64::MAX));
    };
    let bad = || StorageError::BadCursor(cursor.to_owned());
    let (key, id) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((
        key.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

fn page<T>(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> (i64, i64)) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| {
            let (k, id) = key(last);
            format!("{k}:{id}")
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

/// One page of a list, newest first: `sql` selects the rows past the cursor in order, without a
/// LIMIT; one row more than `limit` is read to know whether another page follows.
pub(crate) fn page_of<T>(
    tx: &Tx<'_>,
    sql: &str,
    args: &[&dyn ToValue],
    limit: usize,
    map: impl FnMut(&Row<'_>) -> Result<T>,
    key: impl Fn(&T) -> (i64, i64),
) -> Result<Page<T>> {
    // The LIMIT goes in the text, not bound: SQLite prepares a statement with a bound LIMIT again at
    // every use.
    let items = tx.rows(&format!("{sql} LIMIT {}", limit + 1), args, map)?;
    Ok(page(items, limit, key))
}

pub(crate) fn like_pattern(text: &str) -> String {
    let escaped = text
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Starts a cursor into a search's first group (matches as typed, accents and all).
const EXACT_CURSOR: &str = "e:";

/// Which conversations a list shows, as far as a search goes.
#[derive(Clone, Copy)]
enum Matching<'q> {
    Everything,
    /// Those with the query's words in this spelling.
    Words(&'q SearchQuery, Spelling, Strategy),
    /// Those with the query's words folded but not as typed (the second group of an accented search).
    FoldedOnly(&'q SearchQuery, Strategy),
}

/// The condition that a conversation `c` matches the query at `?{param}` in `spelling`.
fn matches(dialect: Dialect, spelling: Spelling, strategy: Strategy, param: usize) -> String {
    match strategy {
        Strategy::FromMatches => search::id_among(
            dialect,
            "c.id",
            &search::matching_conversations(dialect, spelling, param),
        ),
        Strategy::FromList => search::conversation_matches(dialect, spelling, param),
    }
}

/// A conversation list's statement but for the search: where, and the filters.
struct ListShape<'f> {
    scope: String,
    account: i64,
    filter: &'f ConversationFilter,
}

/// A cursor's key: `(sort key, id)`.
type Key = (i64, i64);

impl ListShape<'_> {
    /// A page of the list: a walk ([`Strategy::FromList`]) through at most
    /// [`search::walk_length`] conversations, then from the index for the rest of the page.
    fn page(
        &self,
        tx: &Tx<'_>,
        matching: Matching<'_>,
        after: Key,
        limit: usize,
    ) -> Result<Page<ConversationView>> {
        let from_index = match matching {
            Matching::Words(query, spelling, Strategy::FromList) => {
                Matching::Words(query, spelling, Strategy::FromMatches)
            }
            Matching::FoldedOnly(query, Strategy::FromList) => {
                Matching::FoldedOnly(query, Strategy::FromMatches)
            }
            _ => return self.query(tx, matching, after, limit, None),
        };
        // The walk's last conversation, if the list goes on past it.
        let end = self.key_at(tx, after, search::walk_length(tx.dialect()) - 1)?;
        let walked = self.query(tx, matching, after, limit, end)?;
        match end {
            Some(end) if walked.next_cursor.is_none() => fill(walked, limit, end, |from, room| {
                self.query(tx, from_index, from, room, None)
            }),
            _ => Ok(walked),
        }
    }

    /// The key of the list's conversation `offset` places after `after`, if there is one.
    fn key_at(&self, tx: &Tx<'_>, after: Key, offset: usize) -> Result<Option<Key>> {
        let key = "COALESCE(c.last_message_at, 0), c.id";
        let (sql, args) = self.statement(tx.dialect(), key, Matching::Everything, after, None);
        let values: Vec<&dyn ToValue> = args.iter().map(|a| a.as_ref() as &dyn ToValue).collect();
        tx.optional(&format!("{sql} LIMIT 1 OFFSET {offset}"), &values, |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// One statement's page; `until`: only down to this conversation of the list (included).
    fn query(
        &self,
        tx: &Tx<'_>,
        matching: Matching<'_>,
        after: Key,
        limit: usize,
        until: Option<Key>,
    ) -> Result<Page<ConversationView>> {
        let (sql, args) =
            self.statement(tx.dialect(), CONVERSATION_COLUMNS, matching, after, until);
        let values: Vec<&dyn ToValue> = args.iter().map(|a| a.as_ref() as &dyn ToValue).collect();
        page_of(tx, &sql, &values, limit, conversation_from_row, |c| {
            (c.last_message_at.map_or(0, |t| t.0), c.id)
        })
    }

    /// The list's statement selecting `columns` of `c`, without its LIMIT, and its arguments.
    fn statement(
        &self,
        dialect: Dialect,
        columns: &str,
        matching: Matching<'_>,
        (before_at, before_id): Key,
        until: Option<Key>,
    ) -> (String, Vec<Box<dyn ToValue + '_>>) {
        let texts = |query: &SearchQuery, spelling, strategy| {
            Some(search::bound_text(dialect, strategy, query, spelling))
        };
        let (search, words, exclude) = match matching {
            Matching::Everything => (
                "CAST(?5 AS TEXT) IS NULL AND CAST(?10 AS TEXT) IS NULL".to_owned(),
                None,
                None,
            ),
            Matching::Words(query, spelling, strategy) => (
                format!(
                    "{} AND CAST(?10 AS TEXT) IS NULL",
                    matches(dialect, spelling, strategy, 5)
                ),
                texts(query, spelling, strategy),
                None,
            ),
            Matching::FoldedOnly(query, strategy) => (
                format!(
                    "{} AND NOT ({})",
                    matches(dialect, Spelling::Folded, strategy, 5),
                    matches(dialect, Spelling::Exact, strategy, 10)
                ),
                texts(query, Spelling::Folded, strategy),
                texts(query, Spelling::Exact, strategy),
            ),
        };
        let (assignee_rule, assignee) = match self.filter.assignee {
            None => (0, None),
            Some(Assignee::Nobody) => (1, None),
            Some(Assignee::User(user)) => (2, Some(user)),
        };
        let label = self.filter.label.as_deref().map(str::to_lowercase);
        let listed = format!(
            "{}
               AND (COALESCE(c.last_message_at, 0) < ?2 OR (COALESCE(c.last_message_at, 0) = ?2 AND c.id < ?3))
               AND (COALESCE(c.last_message_at, 0) > ?11 OR (COALESCE(c.last_message_at, 0) = ?11 AND c.id >= ?12))
               AND (NOT ?4 OR c.unread_count > 0)
               AND (?6 = 0 OR (?6 = 1 AND c.assignee_user_id IS NULL) OR (?6 = 2 AND c.assignee_user_id = ?7))
               AND (CAST(?8 AS TEXT) IS NULL OR c.status = ?8)
               AND (CAST(?9 AS TEXT) IS NULL OR EXISTS (
                    SELECT 1 FROM conversation_labels cl WHERE cl.conversation_id = c.id
                      AND cl.label_id = (SELECT id FROM labels WHERE name_key = ?9)))",
            self.scope
        );
        let sql = format!(
            "SELECT {columns} FROM conversations c WHERE {listed} AND {search}
             ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC"
        );
        let (until_at, until_id) = until.unwrap_or((i64::MIN, i64::MIN));
        let args: Vec<Box<dyn ToValue + '_>> = vec![
            Box::new(self.account),
            Box::new(before_at),
            Box::new(before_id),
            Box::new(self.filter.unread_only),
            Box::new(words),
            Box::new(assignee_rule),
            Box::new(assignee),
            Box::new(self.filter.status),
            Box::new(label),
            Box::new(exclude),
            Box::new(until_at),
            Box::new(until_id),
        ];
        (sql, args)
    }
}

/// `first`, followed by what `rest` lists from `start` (exclusive) to fill the page. When `first` is
/// the whole page, the next starts at `start`.
fn fill(
    mut first: Page<ConversationView>,
    limit: usize,
    start: Key,
    rest: impl Fn(Key, usize) -> Result<Page<ConversationView>>,
) -> Result<Page<ConversationView>> {
    let room = limit.saturating_sub(first.items.len());
    if room == 0 {
        let any = !rest(start, 1)?.items.is_empty();
        first.next_cursor = any.then(|| format!("{}:{}", start.0, start.1));
        return Ok(first);
    }
    let second = rest(start, room)?;
    first.items.extend(second.items);
    first.next_cursor = second.next_cursor;
    Ok(first)
}

// These columns and the queries below avoid JOINs on purpose: SQLite prepares a statement that joins
// on a bound parameter again at every use (measured), while a correlated subquery keeps its plan.
pub(crate) const CONVERSATION_COLUMNS: &str =
    "c.id, (SELECT user_id_chat FROM facebook_accounts WHERE id = c.account_id), c.thread_id, c.participant_id, c.participant_name,
     c.last_message_text, c.last_message_direction, c.last_message_at, c.unread_count,
     c.status, c.assignee_user_id, c.snoozed_until, c.labels, c.linked_conversation_id";

pub(crate) fn conversation_from_row(r: &Row<'_>) -> Result<ConversationView> {
    Ok(read_row!(r => ConversationView {
        id, user_id_chat, thread_id, participant_id, participant_name, last_message_text,
        last_message_direction, last_message_at, unread_count, status, assignee_user_id,
        snoozed_until, labels: json, linked_conversation_id,
    } with { exact_match: None }))
}

pub(crate) fn conversation(tx: &Tx<'_>, id: i64) -> Result<ConversationView> {
    tx.optional(
        &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?1"),
        args![id],
        conversation_from_row,
    )?
    .ok_or(StorageError::UnknownConversation(id))
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id,
     CASE WHEN platform_message_id LIKE 'crm:%' THEN NULL ELSE platform_message_id END,
     direction, text, attachments, status, error, sent_at, author_user_id";

pub(crate) fn message_from_row(r: &Row<'_>) -> Result<MessageView> {
    Ok(read_row!(r => MessageView {
        id, conversation_id, message_id, direction, text, attachments: json, status, error,
        sent_at, author_user_id,
    } with { comment: None }))
}

pub(crate) fn message(tx: &Tx<'_>, id: i64) -> Result<MessageView> {
    tx.optional(
        &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"),
        args![id],
        message_from_row,
    )?
    .ok_or(StorageError::UnknownMessage(id))
}

pub(crate) const POST_COLUMNS: &str =
    "p.id, (SELECT user_id_chat FROM facebook_accounts WHERE id = p.account_id), p.content, p.status, p.platform_post_id, p.link, p.error,
     p.created_at, p.updated_at, p.author_user_id, p.image_url";

pub(crate) fn post_from_row(r: &Row<'_>) -> Result<PostView> {
    Ok(read_row!(r => PostView {
        id, user_id_chat, content, status, platform_post_id, link, error, created_at,
        updated_at, author_user_id, image_url,
    }))
}

pub(crate) fn post(tx: &Tx<'_>, id: i64) -> Result<PostView> {
    tx.optional(
        &format!("SELECT {POST_COLUMNS} FROM posts p WHERE p.id = ?1"),
        args![id],
        post_from_row,
    )?
    .ok_or(StorageError::UnknownPost(id))
}

pub(crate) fn account_id(tx: &Tx<'_>, user_id_chat: &str) -> Result<i64> {
    crate::accounts::find(tx, user_id_chat)?
        .map(|a| a.id)
        .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.to_owned()))
}

impl Store {
    /// A page of one of an account's lists, read by `query` from the account's id, the cursor's
    /// (sort key, id) and the page size.
    async fn account_page<T: Send + 'static>(
        &self,
        user_id_chat: &str,
        cursor: Option<&str>,
        limit: usize,
        query: impl FnOnce(&Tx<'_>, i64, (i64, i64), usize) -> Result<Page<T>> + Send + 'static,
    ) -> Result<Page<T>> {
        let before = parse_cursor(cursor)?;
        let (user_id_chat, limit) = (user_id_chat.to_owned(), limit.clamp(1, MAX_PAGE));
        self.read(move |tx| query(tx, account_id(tx, &user_id_chat)?, before, limit))
            .await
    }

    /// An account's conversations, the most recently active first.
    pub async fn conversations(
        &self,
        user_id_chat: &str,
        filter: ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ConversationView>> {
        let user_id_chat = user_id_chat.to_owned();
        self.list_conversations(Ok(user_id_chat), filter, cursor, limit)
            .await
    }

    /// Conversations of every account (the team's views: mine, the queue), most recently active first.
    pub async fn all_conversations(
        &self,
        view: &AccountView,
        filter: ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ConversationView>> {
        self.list_conversations(Err(view.clone()), filter, cursor, limit)
            .await
    }

    /// `accounts`: one account, or every account of a view.
    ///
    /// With a search, the conversations whose participant name or any message has its words (case and
    /// accents ignored: `domain::search`); typed with accents, those that have them as typed come
    /// first, each group most recently active first. A cursor into the first group starts with
    /// [`EXACT_CURSOR`].
    async fn list_conversations(
        &self,
        accounts: std::result::Result<String, AccountView>,
        filter: ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ConversationView>> {
        let searched = filter.search.as_deref().filter(|s| !s.trim().is_empty());
        let query = searched.map(SearchQuery::parse);
        if let Some(None) = query {
            // Only punctuation: nothing can match it.
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let query = query.flatten();
        let accented = query.as_ref().is_some_and(SearchQuery::is_accented);
        let in_exact_group =
            accented && cursor.is_none_or(|c| c.is_empty() || c.starts_with(EXACT_CURSOR));
        let (before_at, before_id) =
            parse_cursor(cursor.map(|c| c.trim_start_matches(EXACT_CURSOR)))?;
        let limit = limit.clamp(1, MAX_PAGE);
        self.read_long(move |tx| {
            // One statement per shape, so each keeps a plan that uses the account's index.
            let (account, scope) = match &accounts {
                Ok(user_id_chat) => (
                    account_id(tx, user_id_chat)?,
                    "c.account_id = ?1".to_owned(),
                ),
                Err(view) => (
                    0,
                    format!("?1 = 0 AND {}", view_clause(tx, view, "c.account_id")?),
                ),
            };
            let list = ListShape {
                scope,
                account,
                filter: &filter,
            };
            let Some(query) = &query else {
                return list.page(tx, Matching::Everything, (before_at, before_id), limit);
            };
            search::with_custom_plans(tx, || {
                let strategy = |spelling| {
                    #[cfg(test)]
                    if let Some(strategy) = filter.strategy {
                        return Ok(strategy);
                    }
                    search::strategy(tx, query, spelling)
                };
                let folded = strategy(Spelling::Folded)?;
                if !query.is_accented() {
                    return list.page(
                        tx,
                        Matching::Words(query, Spelling::Folded, folded),
                        (before_at, before_id),
                        limit,
                    );
                }
                let rest = Matching::FoldedOnly(query, folded);
                if !in_exact_group {
                    return list.page(tx, rest, (before_at, before_id), limit);
                }
                let exact = Matching::Words(query, Spelling::Exact, strategy(Spelling::Exact)?);
                let mut first = list.page(tx, exact, (before_at, before_id), limit)?;
                for item in &mut first.items {
                    item.exact_match = Some(true);
                }
                if let Some(next) = first.next_cursor.take() {
                    first.next_cursor = Some(format!("{EXACT_CURSOR}{next}"));
                    return Ok(first);
                }
                // The second group from its start; a first group that filled the page points there.
                fill(first, limit, (i64::MAX, i64::MAX), |from, room| {
                    list.page(tx, rest, from, room)
                })
            })
        })
        .await
        .map(|mut page: Page<ConversationView>| {
            if accented {
                for item in &mut page.items {
                    item.exact_match.get_or_insert(false);
                }
            }
            page
        })
    }

    /// How many conversations in `status` are the user's, in the queue, and in all (the console's
    /// tabs).
    pub async fn conversation_counts(
        &self,
        view: &AccountView,
        user_id: Option<i64>,
        status: ConversationStatus,
    ) -> Result<ConversationCounts> {
        let view = view.clone();
        self.read(move |tx| {
            tx.one(
                &format!(
                    "SELECT COUNT(*),
                        COALESCE(SUM(CASE WHEN assignee_user_id IS NULL THEN 1 ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN assignee_user_id = ?2 THEN 1 ELSE 0 END), 0)
                 FROM conversations WHERE status = ?1 AND {}",
                    view_clause(tx, &view, "account_id")?
                ),
                args![status, user_id],
                |r| Ok(read_row!(r => ConversationCounts { all, unassigned, mine })),
            )
        })
        .await
    }

    pub async fn conversation(&self, id: i64) -> Result<ConversationView> {
        self.read(move |tx| conversation(tx, id)).await
    }

    /// The account (`user_id_chat`) a message belongs to, to check who may act on it.
    pub async fn account_of_message(&self, id: i64) -> Result<String> {
        self.read(move |tx| {
            tx.optional(
                "SELECT a.user_id_chat FROM messages m
                 JOIN facebook_accounts a ON a.id = m.account_id WHERE m.id = ?1",
                args![id],
                |r| r.get(0),
            )?
            .ok_or(StorageError::UnknownMessage(id))
        })
        .await
    }

    /// The account (`user_id_chat`) a post belongs to.
    pub async fn account_of_post(&self, id: i64) -> Result<String> {
        self.read(move |tx| Ok(post(tx, id)?.user_id_chat)).await
    }

    /// The conversations with these (distinct) ids that exist, most recently active first (a customer's
    /// linked conversations: some may have been removed with their account since).
    /// Those of accounts `view` does not see are left out too.
    pub async fn conversations_by_id(
        &self,
        view: &AccountView,
        ids: Vec<i64>,
    ) -> Result<Vec<ConversationView>> {
        let accounts = view.clone();
        self.read(move |tx| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                match conversation(tx, id) {
                    Ok(view) if accounts.sees(&view.user_id_chat) => found.push(view),
                    Ok(_) => {}
                    Err(StorageError::UnknownConversation(_)) => {}
                    Err(error) => return Err(error),
                }
            }
            found.sort_by_key(|c| std::cmp::Reverse((c.last_message_at.map_or(0, |t| t.0), c.id)));
            Ok(found)
        })
        .await
    }

    /// A conversation's messages, newest first.
    pub async fn messages(
        &self,
        conversation_id: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<MessageView>> {
        let (before_at, before_id) = parse_cursor(cursor)?;
        let limit = limit.clamp(1, MAX_PAGE);
        self.read(move |tx| {
            let thread = conversation(tx, conversation_id)?;
            let mut page = page_of(
                tx,
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1
                       AND (sent_at < ?2 OR (sent_at = ?2 AND id < ?3))
                     ORDER BY sent_at DESC, id DESC"
                ),
                args![conversation_id, before_at, before_id],
                limit,
                message_from_row,
                |m| (m.sent_at.0, m.id),
            )?;
            if switchboard_domain::comments::is_comment_thread(&thread.thread_id) {
                crate::comments::attach_comments(tx, &mut page.items)?;
            }
            Ok(page)
        })
        .await
    }

    pub async fn notifications(
        &self,
        user_id_chat: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<NotificationView>> {
        self.account_page(user_id_chat, cursor, limit, |tx, account, (before_at, before_id), limit| {
            page_of(
                tx,
                "SELECT id, platform_notification_id, kind, text, link, occurred_at FROM notifications
                 WHERE account_id = ?1 AND (occurred_at < ?2 OR (occurred_at = ?2 AND id < ?3))
                 ORDER BY occurred_at DESC, id DESC",
                args![account, before_at, before_id],
                limit,
                |r| {
                    Ok(read_row!(r => NotificationView {
                        id, notification_id, kind, text, link, occurred_at,
                    }))
                },
                |n| (n.occurred_at.0, n.id),
            )
        })
        .await
    }

    pub async fn posts(
        &self,
        user_id_chat: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<PostView>> {
        self.account_page(user_id_chat, cursor, limit, |tx, account, (_, before_id), limit| {
            page_of(
                tx,
                &format!(
                    "SELECT {POST_COLUMNS} FROM posts p WHERE p.account_id = ?1 AND p.id < ?2 ORDER BY p.id DESC"
                ),
                args![account, before_id],
                limit,
                post_from_row,
                |p| (p.id, p.id),
            )
        })
        .await
    }

    /// Marks a conversation read (unread count 0) and tells every console, so all of them clear the badge.
    pub async fn mark_read(&self, conversation_id: i64) -> Result<(ConversationView, Option<i64>)> {
        let (view, announced) = self
            .write_announcing(move |tx| {
                let view = conversation(tx, conversation_id)?;
                if view.unread_count == 0 {
                    return Ok(view);
                }
                tx.execute(
                    "UPDATE conversations SET unread_count = 0 WHERE id = ?1",
                    args![conversation_id],
                )?;
                let view = conversation(tx, conversation_id)?;
                let account = account_id(tx, &view.user_id_chat)?;
                append(
                    tx,
                    EventKind::ConversationRead,
                    Some((account, &view.user_id_chat)),
                    &serde_json::json!({"user_id_chat": view.user_id_chat, "conversation": view}),
                )?;
                Ok(view)
            })
            .await?;
        Ok((view, announced.last()))
    }
}
