//! The `page` driver: a Facebook Page through Meta's documented Graph API.
//!
//! In: Messenger webhooks (verified by `X-Hub-Signature-256` before anything is parsed) and the page's
//! feed changes, plus a backfill through the Conversations API at start and every few minutes, so what
//! happened while the bot was down, or what a webhook missed, still arrives (the receiver drops what it
//! already has). Out: the Send API within Messenger's messaging window, and posts to the page's feed.

mod graph;
mod webhook;

pub use graph::{FormPart, GraphCallError, GraphClient, GraphRequest};

use crate::{AccountInfo, Backoff, BotError, Collector, Executed};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_domain::attachments::{CommandAttachment, MAX_ATTACHMENT_BYTES};
use switchboard_domain::comments::{
    CommentIn, ModerateCommentCommand, Moderation, PrivateReplyCommand, ReplyCommentCommand,
};
use switchboard_domain::facebook::{
    self, ECHO_METADATA_PREFIX, GraphComment, GraphConversation, GraphFailure, GraphList,
    GraphMessage, GraphPost, MessagingPolicy, Update,
};
use switchboard_domain::ingest::{MessageIn, NotificationIn};
use switchboard_domain::outbound::{PostCommand, SendMessageCommand};
use tokio::task::JoinSet;

/// Reads of history overlap the last one by this much, so a message written during a backfill is
/// not missed; the receiver ignores what it already has.
const BACKFILL_OVERLAP_MS: i64 = 5 * 60_000;
/// Longest a reply's file may take to come from the CRM.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);
const WATERMARK_KEY: &str = "backfill_watermark";
/// How many of the page's latest posts a backfill reads the comments of.
const RECENT_POSTS: usize = 10;

#[derive(Debug, Clone)]
pub struct PageOptions {
    /// `https://graph.facebook.com`
    pub graph_url: String,
    /// `v23.0`
    pub api_version: String,
    /// The app's secret: webhooks are signed with it.
    pub app_secret: String,
    /// What the app's webhook subscription sends as `hub.verify_token`.
    pub verify_token: String,
    /// Where Facebook's webhook requests arrive (put HTTPS in front: Facebook calls only HTTPS URLs).
    pub webhook_listen: SocketAddr,
    /// How far back the first backfill reads.
    pub backfill_days: u32,
    /// How often to backfill while running (0: only at start).
    pub backfill_interval: Duration,
    /// A rate limit without a stated end pauses Graph calls this long, doubling while it lasts.
    pub rate_limit_pause: Duration,
    /// Retries of a transient Graph failure.
    pub retries: u32,
    pub backoff: Backoff,
    /// While the page's token is rejected, how often to look for a new one in the CRM.
    pub token_recheck: Duration,
}

impl Default for PageOptions {
    fn default() -> Self {
        Self {
            graph_url: "https://graph.facebook.com".into(),
            api_version: "v23.0".into(),
            app_secret: String::new(),
            verify_token: String::new(),
            webhook_listen: SocketAddr::from(([127, 0, 0, 1], 5005)),
            backfill_days: 7,
            backfill_interval: Duration::from_secs(600),
            rate_limit_pause: Duration::from_secs(60),
            retries: 3,
            backoff: Backoff::default(),
            token_recheck: Duration::from_secs(60),
        }
    }
}

/// Where to look for a renewed page token: the CRM's `GET /api/bot/account`.
#[derive(Clone)]
pub struct TokenSource {
    pub http: reqwest::Client,
    pub sender_url: String,
    pub bot_token: String,
}

#[derive(Clone)]
pub struct PageDriver {
    inner: Arc<Inner>,
}

struct Inner {
    page_id: String,
    options: PageOptions,
    graph: GraphClient,
    token: RwLock<String>,
    /// Facebook rejected the token (code 190); sends fail at once until a new one is found.
    token_rejected: AtomicBool,
    rate_limited: AtomicBool,
    collector: Mutex<Option<Collector>>,
    /// Statuses for the console, written to the spool by one task in the order they were reported.
    statuses: Mutex<Option<tokio::sync::mpsc::UnboundedSender<(&'static str, String)>>>,
    webhook_addr: Mutex<Option<SocketAddr>>,
    source: Option<TokenSource>,
}

impl PageDriver {
    pub fn new(
        account: &AccountInfo,
        options: PageOptions,
        http: reqwest::Client,
        source: Option<TokenSource>,
    ) -> Result<Self, BotError> {
        if options.app_secret.is_empty() {
            return Err(BotError::Setup(
                "the page driver needs the app secret (--app-secret or SWITCHBOARD_FACEBOOK_APP_SECRET) to check webhook signatures".into(),
            ));
        }
        if options.verify_token.is_empty() {
            return Err(BotError::Setup(
                "the page driver needs a webhook verify token (--verify-token or SWITCHBOARD_FACEBOOK_VERIFY_TOKEN)".into(),
            ));
        }
        let graph = GraphClient::new(
            http,
            &options.graph_url,
            &options.api_version,
            options.retries,
            options.backoff,
            options.rate_limit_pause,
        );
        let token = account
            .credentials
            .page_access_token
            .clone()
            .unwrap_or_default();
        Ok(Self {
            inner: Arc::new(Inner {
                page_id: account.user_id_chat.clone(),
                graph,
                token_rejected: AtomicBool::new(token.is_empty()),
                token: RwLock::new(token),
                rate_limited: AtomicBool::new(false),
                collector: Mutex::new(None),
                statuses: Mutex::new(None),
                webhook_addr: Mutex::new(None),
                source,
                options,
            }),
        })
    }

    /// Where the webhook listens (its real port when configured with port 0).
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        *crate::lock(&self.inner.webhook_addr)
    }

    fn collector(&self) -> Option<Collector> {
        crate::lock(&self.inner.collector).clone()
    }

    fn token(&self) -> String {
        self.inner
            .token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Tells the console, in order with the data and with earlier statuses (one queue, one writer).
    fn report(&self, status: &'static str, message: String) {
        let statuses = crate::lock(&self.inner.statuses);
        if let Some(statuses) = statuses.as_ref() {
            let _ = statuses.send((status, message));
        }
    }

    pub(crate) async fn start(
        &self,
        collector: Collector,
        tasks: &mut JoinSet<()>,
    ) -> Result<(), BotError> {
        *crate::lock(&self.inner.collector) = Some(collector.clone());
        let (statuses, mut queued) =
            tokio::sync::mpsc::unbounded_channel::<(&'static str, String)>();
        *crate::lock(&self.inner.statuses) = Some(statuses);
        tasks.spawn(async move {
            while let Some((status, message)) = queued.recv().await {
                if let Err(error) = collector.status(status, &message).await {
                    tracing::error!(%error, "cannot spool a status update");
                }
            }
        });
        let listen = self.inner.options.webhook_listen;
        let listener = switchboard_web::bind(listen, "--webhook-listen")
            .await
            .map_err(|e| BotError::Setup(format!("Facebook's webhooks: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| BotError::Setup(e.to_string()))?;
        *crate::lock(&self.inner.webhook_addr) = Some(addr);
        tracing::info!(%addr, page = %self.inner.page_id, "listening for Facebook's webhooks at /webhook");
        let app = webhook::router(self.clone());
        tasks.spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the webhook server stopped");
            }
        });
        if self.inner.token_rejected.load(Ordering::SeqCst) {
            self.report(
                "needs_login",
                "no page access token is stored for this page; add one in the console".into(),
            );
        } else {
            self.report("online", String::new());
        }
        let backfiller = self.clone();
        tasks.spawn(async move {
            loop {
                if !backfiller.inner.token_rejected.load(Ordering::SeqCst) {
                    match backfiller.backfill().await {
                        Ok(count) => tracing::info!(messages = count, "backfill done"),
                        Err(error) => tracing::warn!(error = %error.reason(), "backfill stopped early; it resumes next time"),
                    }
                }
                let interval = backfiller.inner.options.backfill_interval;
                if interval.is_zero() {
                    // Done for this run; a task that ends would stop the bot.
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(interval).await;
            }
        });
        if self.inner.source.is_some() {
            let checker = self.clone();
            tasks.spawn(async move {
                loop {
                    tokio::time::sleep(checker.inner.options.token_recheck).await;
                    if checker.inner.token_rejected.load(Ordering::SeqCst) {
                        checker.recheck_token().await;
                    }
                }
            });
        }
        Ok(())
    }

    /// While the token is rejected, takes a renewed one from the CRM as soon as an admin stores it.
    async fn recheck_token(&self) {
        let Some(source) = &self.inner.source else {
            return;
        };
        let once = Backoff {
            min: Duration::from_millis(1),
            max: Duration::from_millis(1),
        };
        let Ok(Ok(account)) = tokio::time::timeout(
            Duration::from_secs(15),
            crate::fetch_account(&source.http, &source.sender_url, &source.bot_token, &once),
        )
        .await
        else {
            return;
        };
        let fresh = account.credentials.page_access_token.unwrap_or_default();
        if !fresh.is_empty() && fresh != self.token() {
            *self
                .inner
                .token
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
            self.inner.token_rejected.store(false, Ordering::SeqCst);
            tracing::info!(page = %self.inner.page_id, "a new page access token was stored; resuming");
            self.report("online", String::new());
            let backfiller = self.clone();
            tokio::spawn(async move { backfiller.backfill().await });
        }
    }

    async fn graph(&self, request: GraphRequest<'_>) -> Result<Value, GraphCallError> {
        let token = self.token();
        let driver = self.clone();
        let on_throttle = move |wait: Duration| {
            if !driver.inner.rate_limited.swap(true, Ordering::SeqCst) {
                driver.report(
                    "rate_limited",
                    format!(
                        "Facebook is limiting this page's calls; waiting {}s",
                        wait.as_secs()
                    ),
                );
            }
        };
        let result = self.inner.graph.call(&request, &token, &on_throttle).await;
        match &result {
            Ok(_)
                if !self.inner.graph.is_paused()
                    && self.inner.rate_limited.swap(false, Ordering::SeqCst) =>
            {
                self.report("online", String::new());
            }
            Err(GraphCallError::Graph {
                failure: GraphFailure::ExpiredToken,
                error,
            }) if self.token() == token
                && !self.inner.token_rejected.swap(true, Ordering::SeqCst) =>
            {
                tracing::error!(page = %self.inner.page_id, reason = %error.reason(), "Facebook rejected the page access token");
                self.report(
                    "needs_login",
                    format!(
                        "Facebook rejected the page access token; store a new one ({})",
                        error.reason()
                    ),
                );
            }
            _ => {}
        }
        result
    }

    /// Webhook updates into the spool. Returns once they are durable (then Facebook may be told 200).
    pub(crate) async fn absorb(&self, updates: Vec<Update>) -> Result<(), BotError> {
        let Some(collector) = self.collector() else {
            return Err(BotError::Setup("the driver is not started".into()));
        };
        let mut messages: Vec<MessageIn> = Vec::new();
        let mut notifications: Vec<NotificationIn> = Vec::new();
        let mut comments: Vec<CommentIn> = Vec::new();
        for update in updates {
            match update {
                Update::Message(message) => messages.push(message),
                Update::Notification(notification) => notifications.push(notification),
                Update::Comment(comment) => comments.push(*comment),
                Update::Receipt {
                    customer_id,
                    kind,
                    watermark,
                } => {
                    tracing::debug!(%customer_id, ?kind, %watermark, "receipt");
                }
                Update::OwnEcho { message_id } => {
                    tracing::debug!(%message_id, "echo of our own send")
                }
            }
        }
        // Names, once per customer and within one short deadline: Facebook wants its answer quickly,
        // and a name missing now comes with a later message or the backfill.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut names: std::collections::HashMap<String, Option<String>> =
            std::collections::HashMap::new();
        for message in &mut messages {
            if message.conversation.participant_name.is_some() {
                continue;
            }
            let customer = message.conversation.participant_id.clone();
            if !names.contains_key(&customer) {
                let name =
                    tokio::time::timeout_at(deadline, self.customer_name(&collector, &customer))
                        .await
                        .ok()
                        .flatten();
                names.insert(customer.clone(), name);
            }
            message.conversation.participant_name = names.get(&customer).cloned().flatten();
        }
        collector.messages(messages).await?;
        collector.notifications(notifications).await?;
        collector.comments(comments).await?;
        Ok(())
    }

    /// Comments since `since` under the page's most recent posts (`RECENT_POSTS`), newest first per
    /// post, each post's preview with them; the receiver drops those it has.
    async fn backfill_comments(
        &self,
        collector: &Collector,
        since: UnixMillis,
    ) -> Result<usize, GraphCallError> {
        let page_id = &self.inner.page_id;
        let path = format!("/{page_id}/posts");
        let limit = RECENT_POSTS.to_string();
        let query = [
            (
                "fields",
                "id,message,full_picture,permalink_url,created_time",
            ),
            ("limit", limit.as_str()),
        ];
        let posts: GraphList<GraphPost> =
            serde_json::from_value(self.graph(GraphRequest::get(&path, &query)).await?)
                .map_err(|e| unreadable(&e))?;
        let mut total = 0;
        for post in &posts.data {
            let mut next = Some(format!("/{}/comments", post.id));
            let mut query: Vec<(&str, &str)> = vec![
                (
                    "fields",
                    "id,message,from,created_time,parent{id},is_hidden,attachment",
                ),
                ("filter", "stream"),
                ("order", "reverse_chronological"),
                ("limit", "100"),
            ];
            let mut comments = Vec::new();
            'pages: while let Some(path) = next.take() {
                let answer = self.graph(GraphRequest::get(&path, &query)).await?;
                query.clear(); // `paging.next` carries its own query
                let list: GraphList<GraphComment> =
                    serde_json::from_value(answer).map_err(|e| unreadable(&e))?;
                for comment in &list.data {
                    if comment.created_at().is_some_and(|t| t < since) {
                        break 'pages; // newest first: the rest is older still
                    }
                    comments.extend(comment.to_comment(page_id, post));
                }
                next = list.paging.and_then(|p| p.next);
            }
            // Oldest first, so an answer of the page follows the comment it answers.
            comments.reverse();
            total += comments.len();
            collector
                .comments(comments)
                .await
                .map_err(|e| GraphCallError::Network(e.to_string()))?;
        }
        Ok(total)
    }

    /// The customer's name (webhooks carry only ids): remembered in the spool once known, else asked
    /// of Graph (the caller bounds the wait); a throttled Graph leaves it for a later message.
    async fn customer_name(&self, collector: &Collector, customer_id: &str) -> Option<String> {
        let key = format!("name:{customer_id}");
        if let Ok(Some(name)) = collector.spool().get(&key).await {
            return Some(name);
        }
        if self.inner.graph.is_paused() || self.inner.token_rejected.load(Ordering::SeqCst) {
            return None;
        }
        let path = format!("/{customer_id}");
        let lookup = self.graph(GraphRequest::get(&path, &[("fields", "name")]));
        let name = lookup.await.ok()?["name"]
            .as_str()
            .filter(|n| !n.is_empty())?
            .to_owned();
        let _ = collector.spool().set(&key, name.clone()).await;
        Some(name)
    }

    /// Reads conversations updated since the last backfill (or `backfill_days`), newest first, and
    /// spools their messages oldest first. Returns how many messages it read.
    pub async fn backfill(&self) -> Result<usize, GraphCallError> {
        let Some(collector) = self.collector() else {
            return Ok(0);
        };
        let spool = collector.spool();
        let started = UnixMillis::now();
        let watermark = spool
            .get(WATERMARK_KEY)
            .await
            .ok()
            .flatten()
            .and_then(|w| w.parse::<i64>().ok())
            .unwrap_or(started.0 - i64::from(self.inner.options.backfill_days) * 86_400_000);
        let since = UnixMillis(watermark - BACKFILL_OVERLAP_MS);
        let page_id = self.inner.page_id.clone();
        let mut next = Some(format!("/{page_id}/conversations"));
        let mut query: Vec<(&str, &str)> = vec![
            ("platform", "messenger"),
            ("fields", "id,updated_time,participants"),
            ("limit", "25"),
        ];
        let mut total = 0;
        'pages: while let Some(path) = next.take() {
            let page = self.graph(GraphRequest::get(&path, &query)).await?;
            query.clear(); // `paging.next` carries its own query
            let list: GraphList<GraphConversation> =
                serde_json::from_value(page).map_err(|e| unreadable(&e))?;
            for conversation in &list.data {
                if conversation.updated_at().is_some_and(|t| t < since) {
                    break 'pages; // newest first: the rest is older still
                }
                let Some(customer) = conversation.customer(&page_id) else {
                    continue;
                };
                let messages = self
                    .conversation_messages(&conversation.id, customer, since)
                    .await?;
                total += messages.len();
                collector
                    .messages(messages)
                    .await
                    .map_err(|e| GraphCallError::Network(e.to_string()))?;
            }
            next = list.paging.and_then(|p| p.next);
        }
        total += match self.backfill_comments(&collector, since).await {
            Ok(count) => count,
            // Messages came in; comments need `pages_read_user_content`, which a page may not grant.
            Err(error) => {
                tracing::warn!(reason = %error.reason(), "cannot read the page's recent comments; messages are backfilled");
                0
            }
        };
        spool
            .set(WATERMARK_KEY, started.0.to_string())
            .await
            .map_err(|e| GraphCallError::Network(e.to_string()))?;
        Ok(total)
    }

    async fn conversation_messages(
        &self,
        conversation_id: &str,
        customer: &facebook::GraphParty,
        since: UnixMillis,
    ) -> Result<Vec<MessageIn>, GraphCallError> {
        let mut collected = Vec::new();
        let mut next = Some(format!("/{conversation_id}/messages"));
        let mut query: Vec<(&str, &str)> = vec![
            ("fields", "id,created_time,from,to,message,attachments"),
            ("limit", "50"),
        ];
        'pages: while let Some(path) = next.take() {
            let page = self.graph(GraphRequest::get(&path, &query)).await?;
            query.clear();
            let list: GraphList<GraphMessage> =
                serde_json::from_value(page).map_err(|e| unreadable(&e))?;
            for message in &list.data {
                let Some(message) = message.to_message(&self.inner.page_id, customer) else {
                    continue;
                };
                if message.sent_at < since {
                    break 'pages;
                }
                collected.push(message);
            }
            next = list.paging.and_then(|p| p.next);
        }
        collected.reverse(); // Graph lists newest first; the CRM takes them in the order they were written
        Ok(collected)
    }

    fn refused_token(&self) -> Option<Executed> {
        self.inner.token_rejected.load(Ordering::SeqCst).then(|| {
            Executed::Failed(
                "Facebook does not accept this page's access token (code 190); an admin must store a new one".into(),
            )
        })
    }

    pub(crate) async fn send_message(&self, command: &SendMessageCommand) -> Executed {
        if let Some(refused) = self.refused_token() {
            return refused;
        }
        let last = match self.collector() {
            Some(collector) => match collector
                .spool()
                .customer_last_wrote(&command.recipient_id)
                .await
            {
                Ok(last) => last,
                Err(error) => {
                    return Executed::Failed(format!("the bot cannot read its spool: {error}"));
                }
            },
            None => None,
        };
        let policy = match facebook::messaging_policy(UnixMillis::now(), last) {
            Ok(policy) => policy,
            Err(reason) => return Executed::Failed(reason.to_string()),
        };
        let (messaging_type, tag) = match policy {
            MessagingPolicy::Response => ("RESPONSE", None),
            MessagingPolicy::HumanAgent => ("MESSAGE_TAG", Some("HUMAN_AGENT")),
        };
        let metadata = format!("{ECHO_METADATA_PREFIX}{}", command.command_id);
        let path = format!("/{}/messages", self.inner.page_id);
        // Files first, one message each (Messenger takes one attachment per message), then the text.
        let mut last_sent = None;
        for attachment in &command.attachments {
            let bytes = match self.download(attachment).await {
                Ok(bytes) => bytes,
                Err(reason) => return Executed::Failed(reason),
            };
            let message = json!({
                "attachment": {"type": attachment.kind.as_str(), "payload": {"is_reusable": false}},
                "metadata": metadata,
            });
            let mut parts = vec![
                FormPart::Text("recipient", json!({"id": command.recipient_id}).to_string()),
                FormPart::Text("message", message.to_string()),
                FormPart::Text("messaging_type", messaging_type.to_owned()),
            ];
            if let Some(tag) = tag {
                parts.push(FormPart::Text("tag", tag.to_owned()));
            }
            parts.push(FormPart::File {
                field: "filedata",
                file_name: &attachment.name,
                content_type: &attachment.content_type,
                bytes: &bytes,
            });
            match self
                .graph(GraphRequest::post_multipart(&path, &parts))
                .await
            {
                Ok(answer) => last_sent = answer["message_id"].as_str().map(str::to_owned),
                Err(error) => return Executed::Failed(outcome_reason(&error)),
            }
        }
        if !command.text.is_empty() {
            let mut body = json!({
                "recipient": {"id": command.recipient_id},
                "message": {"text": command.text, "metadata": metadata},
                "messaging_type": messaging_type,
            });
            if let Some(tag) = tag {
                body["tag"] = json!(tag);
            }
            match self.graph(GraphRequest::post_json(&path, &body)).await {
                Ok(answer) => last_sent = answer["message_id"].as_str().map(str::to_owned),
                Err(error) => return Executed::Failed(outcome_reason(&error)),
            }
        }
        match last_sent {
            Some(id) => Executed::Sent {
                recipient_id: None,
                platform_id: id,
                link: None,
            },
            None => Executed::Failed("Facebook accepted the message but gave no message id".into()),
        }
    }

    /// A reply's file, from the sender, with the bot's token: at most the size the CRM accepts.
    async fn download(&self, attachment: &CommandAttachment) -> Result<Vec<u8>, String> {
        let Some(source) = &self.inner.source else {
            return Err("this bot has no sender to download the reply's files from".into());
        };
        // The command is the CRM's, but its path is still bounded to the CRM's own files.
        if !attachment.url.starts_with("/api/attachments/") {
            return Err(format!(
                "the file `{}` is not one of the CRM's",
                attachment.name
            ));
        }
        let url = format!(
            "{}{}",
            source.sender_url.trim_end_matches('/'),
            attachment.url
        );
        let failed =
            |reason: String| format!("cannot download the file `{}`: {reason}", attachment.name);
        let response = source
            .http
            .get(&url)
            .bearer_auth(&source.bot_token)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("the CRM answered {}", response.status())));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(failed("larger than the CRM accepts".into()));
        }
        Ok(bytes.to_vec())
    }

    pub(crate) async fn post(&self, command: &PostCommand) -> Executed {
        if let Some(refused) = self.refused_token() {
            return refused;
        }
        let page_id = &self.inner.page_id;
        let result = match &command.image_url {
            Some(url) => {
                let form = [("url", url.as_str()), ("caption", command.content.as_str())];
                let path = format!("/{page_id}/photos");
                self.graph(GraphRequest::post_form(&path, &form)).await
            }
            None => {
                let form = [("message", command.content.as_str())];
                let path = format!("/{page_id}/feed");
                self.graph(GraphRequest::post_form(&path, &form)).await
            }
        };
        match result {
            Ok(answer) => {
                // A photo answers {id (the photo), post_id}; a feed post answers {id}.
                match answer["post_id"].as_str().or_else(|| answer["id"].as_str()) {
                    Some(id) => Executed::Sent {
                        recipient_id: None,
                        platform_id: id.to_owned(),
                        link: Some(format!("https://www.facebook.com/{id}")),
                    },
                    None => {
                        Executed::Failed("Facebook accepted the post but gave no post id".into())
                    }
                }
            }
            Err(error) => Executed::Failed(outcome_reason(&error)),
        }
    }
}

impl PageDriver {
    /// `POST /{comment-id}/comments`: the answer shows under the comment, as the page's.
    pub(crate) async fn reply_comment(&self, command: &ReplyCommentCommand) -> Executed {
        if let Some(refused) = self.refused_token() {
            return refused;
        }
        let path = format!("/{}/comments", command.comment_id);
        let form = [("message", command.text.as_str())];
        match self.graph(GraphRequest::post_form(&path, &form)).await {
            Ok(answer) => match answer["id"].as_str() {
                Some(id) => Executed::Sent {
                    recipient_id: None,
                    platform_id: id.to_owned(),
                    link: None,
                },
                None => {
                    Executed::Failed("Facebook accepted the answer but gave no comment id".into())
                }
            },
            Err(error) => Executed::Failed(outcome_reason(&error)),
        }
    }

    /// `POST /{page-id}/messages` to `{"comment_id"}`: Facebook's private reply, which opens a
    /// Messenger conversation with the commenter and answers with their id.
    pub(crate) async fn private_reply(&self, command: &PrivateReplyCommand) -> Executed {
        if let Some(refused) = self.refused_token() {
            return refused;
        }
        let body = json!({
            "recipient": {"comment_id": command.comment_id},
            "message": {"text": command.text, "metadata": format!("{ECHO_METADATA_PREFIX}{}", command.command_id)},
        });
        let path = format!("/{}/messages", self.inner.page_id);
        match self.graph(GraphRequest::post_json(&path, &body)).await {
            Ok(answer) => match answer["message_id"].as_str() {
                Some(id) => Executed::Sent {
                    recipient_id: answer["recipient_id"].as_str().map(str::to_owned),
                    platform_id: id.to_owned(),
                    link: None,
                },
                None => Executed::Failed(
                    "Facebook accepted the private reply but gave no message id".into(),
                ),
            },
            Err(error) => Executed::Failed(outcome_reason(&error)),
        }
    }

    /// `POST /{comment-id}` with `is_hidden`, or `DELETE /{comment-id}`.
    pub(crate) async fn moderate_comment(&self, command: &ModerateCommentCommand) -> Executed {
        if let Some(refused) = self.refused_token() {
            return refused;
        }
        let path = format!("/{}", command.comment_id);
        let result = match command.action {
            Moderation::Hide => {
                self.graph(GraphRequest::post_form(&path, &[("is_hidden", "true")]))
                    .await
            }
            Moderation::Unhide => {
                self.graph(GraphRequest::post_form(&path, &[("is_hidden", "false")]))
                    .await
            }
            Moderation::Delete => self.graph(GraphRequest::delete(&path)).await,
        };
        match result {
            Ok(answer) if answer["success"].as_bool() != Some(false) => Executed::Sent {
                recipient_id: None,
                platform_id: command.comment_id.clone(),
                link: None,
            },
            Ok(_) => Executed::Failed("Facebook answered that it did not do it".into()),
            Err(error) => Executed::Failed(outcome_reason(&error)),
        }
    }
}

fn unreadable(error: &serde_json::Error) -> GraphCallError {
    GraphCallError::Network(format!("an answer from Graph was not understood: {error}"))
}

fn outcome_reason(error: &GraphCallError) -> String {
    match error {
        GraphCallError::Network(message) => format!(
            "no answer from Facebook ({message}); it may or may not have gone out, so check before retrying"
        ),
        GraphCallError::Graph {
            failure: GraphFailure::RateLimited,
            error,
        } => {
            format!(
                "Facebook is limiting this page's calls; try again later. {}",
                error.reason()
            )
        }
        other => other.reason(),
    }
}
