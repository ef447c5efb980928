//! The `sim` driver: a pretend account whose customers (Vietnamese names, realistic shop questions)
//! write at a configurable rate, answer the agent's replies, comment under the page's posts, and
//! trigger notifications. Sends and posts
//! succeed or fail as configured. It powers `switchboard demo`, the tests and the benchmarks.

use crate::{BotError, Collector, Executed};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_domain::comments::{
    CommentAuthor, CommentIn, FeedPostIn, ModerateCommentCommand, PrivateReplyCommand,
    ReplyCommentCommand,
};
use switchboard_domain::ingest::{
    Attachment, AttachmentKind, ConversationIn, Direction, MessageIn, NotificationIn,
};
use switchboard_domain::outbound::{PostCommand, SendMessageCommand};
use tokio::task::JoinSet;

#[derive(Debug, Clone)]
pub struct SimOptions {
    /// New customer messages per minute, on average (0: only replies to the agent).
    pub messages_per_minute: f64,
    /// Notifications per minute, on average.
    pub notifications_per_minute: f64,
    /// Comments under the account's posts per minute, on average.
    pub comments_per_minute: f64,
    /// How many different customers write.
    pub customers: usize,
    /// A customer answers an agent's reply after a wait in this range.
    pub reply_delay: (Duration, Duration),
    /// Share of sends that fail (0.0–1.0), as Facebook refusing them would.
    pub send_failure_rate: f64,
    /// Share of posts that fail.
    pub post_failure_rate: f64,
    /// How many messages go into one spool write (benchmarks raise it).
    pub burst: usize,
    /// Base URL of images customers attach now and then (`{base}/{n}.jpg`); none when empty.
    pub image_base_url: String,
    /// Stop inventing new messages after this many (replies to the agent still come).
    pub max_messages: Option<u64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            messages_per_minute: 6.0,
            notifications_per_minute: 1.0,
            comments_per_minute: 2.0,
            customers: 12,
            reply_delay: (Duration::from_secs(2), Duration::from_secs(8)),
            send_failure_rate: 0.0,
            post_failure_rate: 0.0,
            burst: 1,
            image_base_url: String::new(),
            max_messages: None,
        }
    }
}

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hoài", "Đức", "Quốc", "Thu", "Gia",
];
const GIVEN: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Hà", "Hạnh", "Khoa", "Lan", "Linh", "Long", "Mai", "Nam",
    "Phúc", "Quân", "Trang", "Tuấn", "Vy", "Yến",
];

const OPENERS: &[&str] = &[
    "Shop ơi áo này còn size M không ạ?",
    "Cho mình hỏi giá mẫu này bao nhiêu vậy shop?",
    "Ship về Đà Nẵng mất mấy ngày shop?",
    "Mình đặt hàng hôm qua mà chưa thấy ai gọi xác nhận ạ",
    "Có màu đen không shop?",
    "Shop có bán sỉ không ạ? Mình lấy 20 cái",
    "Đơn của mình mã DH2611 giao tới đâu rồi shop?",
    "Mình muốn đổi size được không ạ?",
    "Có freeship cho đơn trên 300k không shop?",
    "Shop ở đâu vậy, mình qua lấy trực tiếp được không?",
    "Hàng này có bảo hành không ạ?",
    "Chào shop, tư vấn giúp mình với",
];

const FOLLOW_UPS: &[&str] = &[
    "Dạ vâng, cảm ơn shop ạ",
    "Vậy cho mình đặt 1 cái nhé",
    "Ok shop, mình chuyển khoản luôn nhé",
    "Thế thôi để mình suy nghĩ thêm",
    "Shop gửi mình thêm ảnh thật được không?",
    "Giao giờ hành chính giúp mình nha",
    "Tuyệt quá, cảm ơn shop nhiều 😊",
    "Số điện thoại của mình là 0912 345 678",
];

const NOTIFICATIONS: &[(&str, &str)] = &[
    ("reaction", "đã bày tỏ cảm xúc về bài viết của bạn"),
    ("mention", "đã nhắc đến trang của bạn trong một bình luận"),
    ("share", "đã chia sẻ bài viết của bạn"),
    ("review", "đã đánh giá trang của bạn 5 sao"),
];

/// The account's posts customers comment under (each account's ids are its own: `{account}_{n}`).
const POSTS: &[&str] = &[
    "🌸 Bộ sưu tập mới về rồi cả nhà ơi! Áo dài cách tân, đủ size S–XL, giá chỉ 450k",
    "Flash sale cuối tuần: giảm 30% toàn bộ túi xách, freeship đơn từ 300k",
    "Hàng sỉ số lượng lớn, inbox shop để nhận bảng giá nhé",
];

const COMMENTS: &[&str] = &[
    "Giá bao nhiêu ạ?",
    "Còn size M không shop?",
    "Ib em giá với ạ",
    "Ship Hà Nội mất mấy ngày shop?",
    "Đẹp quá 😍",
    "Shop check inbox giúp em",
    "Số em 0912 345 678, shop gọi tư vấn giúp em nhé",
    "Có màu đen không ạ?",
    "Em lấy 2 cái, zalo 0987.654.321",
    "Hàng có sẵn không hay phải đặt?",
];

#[derive(Clone)]
pub struct SimDriver {
    inner: Arc<Inner>,
}

struct Inner {
    options: SimOptions,
    collector: Mutex<Option<Collector>>,
    sends: AtomicU64,
    posts: AtomicU64,
    /// The last command ids this driver executed, in order (tests check that none runs twice); bounded,
    /// as a demo or benchmark runs for days.
    executed: Mutex<std::collections::VecDeque<String>>,
    counter: AtomicU64,
    /// New messages invented so far (not counting replies).
    generated: AtomicU64,
    /// Distinguishes ids made by different runs of the same account.
    run: u64,
}

/// The commands a bot executes, for what they share: a count, a failure rate and a failure reason.
#[derive(Clone, Copy)]
enum CommandKind {
    Send,
    Post,
}

/// A random pick from a non-empty list.
fn pick<'a>(items: &[&'a str]) -> &'a str {
    items[fastrand::usize(..items.len())]
}

impl SimDriver {
    pub fn new(options: SimOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                options,
                collector: Mutex::new(None),
                sends: AtomicU64::new(0),
                posts: AtomicU64::new(0),
                executed: Mutex::new(std::collections::VecDeque::new()),
                counter: AtomicU64::new(0),
                generated: AtomicU64::new(0),
                run: fastrand::u64(..),
            }),
        }
    }

    /// Messages sent and posts published (successfully or not) by this driver.
    pub fn executions(&self) -> (u64, u64) {
        (
            self.inner.sends.load(Ordering::SeqCst),
            self.inner.posts.load(Ordering::SeqCst),
        )
    }

    /// New customer messages this driver invented and spooled (replies not counted).
    pub fn generated(&self) -> u64 {
        self.inner.generated.load(Ordering::SeqCst)
    }

    /// The command ids executed, in order.
    pub fn executed_commands(&self) -> Vec<String> {
        crate::lock(&self.inner.executed).iter().cloned().collect()
    }

    /// Notes a command as executed, forgetting the oldest beyond [`EXECUTED_KEPT`].
    fn note_executed(&self, command_id: &str) {
        let mut executed = crate::lock(&self.inner.executed);
        if executed.len() == EXECUTED_KEPT {
            executed.pop_front();
        }
        executed.push_back(command_id.to_owned());
    }

    fn collector(&self) -> Option<Collector> {
        crate::lock(&self.inner.collector).clone()
    }

    /// A customer of this account: a stable id (so conversations last across runs) and a name.
    fn customer(account: &str, index: usize) -> (String, String) {
        let name = format!(
            "{} {} {}",
            FAMILY[index % FAMILY.len()],
            MIDDLE[(index / FAMILY.len() + index) % MIDDLE.len()],
            GIVEN[(index * 7) % GIVEN.len()]
        );
        (format!("sim-{account}-{index}"), name)
    }

    fn next_id(&self, prefix: &str) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{:016x}_{n}", self.inner.run)
    }

    /// One message from a customer, as Facebook would show it.
    pub fn customer_message(&self, account: &str, index: usize, text: &str) -> MessageIn {
        let (id, name) = Self::customer(account, index);
        let image = &self.inner.options.image_base_url;
        let attachments = if !image.is_empty() && fastrand::u8(..10) == 0 {
            vec![Attachment {
                kind: AttachmentKind::Image,
                url: format!(
                    "{}/{}.jpg",
                    image.trim_end_matches('/'),
                    fastrand::u8(1..=6)
                ),
            }]
        } else {
            Vec::new()
        };
        MessageIn {
            user_id_chat: None,
            message_id: self.next_id("m_sim"),
            conversation: ConversationIn {
                thread_id: id.clone(),
                participant_id: id,
                participant_name: Some(name),
            },
            direction: Direction::In,
            text: Some(text.to_owned()),
            attachments,
            sent_at: UnixMillis::now(),
        }
    }

    /// A customer's comment under one of the account's posts, with the post's preview.
    pub fn customer_comment(&self, account: &str, index: usize, text: &str) -> CommentIn {
        let (id, name) = Self::customer(account, index);
        let post = fastrand::usize(..POSTS.len());
        let post_id = format!("{account}_{}", 9_000_000 + post);
        CommentIn {
            comment_id: self.next_id("c_sim"),
            post_id: post_id.clone(),
            parent_id: None,
            author: CommentAuthor {
                id,
                name: Some(name),
            },
            from_page: false,
            text: Some(text.to_owned()),
            attachments: Vec::new(),
            created_at: UnixMillis::now(),
            hidden: false,
            post: Some(FeedPostIn {
                post_id: post_id.clone(),
                text: Some(POSTS[post].to_owned()),
                picture: None,
                permalink: Some(format!("https://www.facebook.com/{post_id}")),
                created_at: None,
            }),
        }
    }

    pub(crate) fn start(
        &self,
        collector: Collector,
        tasks: &mut JoinSet<()>,
    ) -> Result<(), BotError> {
        *crate::lock(&self.inner.collector) = Some(collector.clone());
        let options = &self.inner.options;
        if options.messages_per_minute > 0.0 {
            let (driver, collector) = (self.clone(), collector.clone());
            let mean = Duration::from_secs_f64(60.0 / options.messages_per_minute);
            tasks.spawn(async move {
                loop {
                    tokio::time::sleep(exponential(mean)).await;
                    let account = collector.account().to_owned();
                    let made = driver.inner.generated.load(Ordering::SeqCst);
                    let left = driver
                        .inner
                        .options
                        .max_messages
                        .map_or(u64::MAX, |max| max.saturating_sub(made));
                    if left == 0 {
                        // Done inventing; a task that ends would stop the bot.
                        std::future::pending::<()>().await;
                    }
                    let burst = (driver.inner.options.burst.max(1) as u64).min(left) as usize;
                    let customers = driver.inner.options.customers.max(1);
                    let messages = (0..burst)
                        .map(|_| {
                            driver.customer_message(
                                &account,
                                fastrand::usize(..customers),
                                pick(OPENERS),
                            )
                        })
                        .collect();
                    match collector.messages(messages).await {
                        Ok(()) => {
                            driver
                                .inner
                                .generated
                                .fetch_add(burst as u64, Ordering::SeqCst);
                        }
                        Err(error) => tracing::error!(%error, "sim: cannot spool a message"),
                    }
                }
            });
        }
        if options.comments_per_minute > 0.0 {
            let (driver, collector) = (self.clone(), collector.clone());
            let mean = Duration::from_secs_f64(60.0 / options.comments_per_minute);
            tasks.spawn(async move {
                loop {
                    tokio::time::sleep(exponential(mean)).await;
                    let index = fastrand::usize(..driver.inner.options.customers.max(1));
                    let comment =
                        driver.customer_comment(collector.account(), index, pick(COMMENTS));
                    if let Err(error) = collector.comments(vec![comment]).await {
                        tracing::error!(%error, "sim: cannot spool a comment");
                    }
                }
            });
        }
        if options.notifications_per_minute > 0.0 {
            let (driver, collector) = (self.clone(), collector);
            let mean = Duration::from_secs_f64(60.0 / options.notifications_per_minute);
            tasks.spawn(async move {
                loop {
                    tokio::time::sleep(exponential(mean)).await;
                    let index = fastrand::usize(..driver.inner.options.customers.max(1));
                    let (_, name) = Self::customer(collector.account(), index);
                    let (kind, what) = NOTIFICATIONS[fastrand::usize(..NOTIFICATIONS.len())];
                    let notification = NotificationIn {
                        user_id_chat: None,
                        notification_id: driver.next_id("n_sim"),
                        kind: kind.to_owned(),
                        text: Some(format!("{name} {what}")),
                        link: Some(format!("https://www.facebook.com/{}", collector.account())),
                        occurred_at: UnixMillis::now(),
                    };
                    if let Err(error) = collector.notifications(vec![notification]).await {
                        tracing::error!(%error, "sim: cannot spool a notification");
                    }
                }
            });
        }
        Ok(())
    }

    /// Counts a command as executed and, at its configured rate, fails it as Facebook refusing it would.
    fn simulated_failure(&self, kind: CommandKind, command_id: &str) -> Option<Executed> {
        let (count, failure_rate, reason) = match kind {
            CommandKind::Send => (
                &self.inner.sends,
                self.inner.options.send_failure_rate,
                "simulated failure: Facebook did not accept the message (sim --send-failure-rate)",
            ),
            CommandKind::Post => (
                &self.inner.posts,
                self.inner.options.post_failure_rate,
                "simulated failure: Facebook did not publish the post (sim --post-failure-rate)",
            ),
        };
        count.fetch_add(1, Ordering::SeqCst);
        self.note_executed(command_id);
        (fastrand::f64() < failure_rate).then(|| Executed::Failed(reason.to_owned()))
    }

    pub(crate) async fn send_message(&self, command: &SendMessageCommand) -> Executed {
        if let Some(failed) = self.simulated_failure(CommandKind::Send, &command.command_id) {
            return failed;
        }
        self.answer_later(command);
        Executed::Sent {
            recipient_id: None,
            platform_id: self.next_id("m_simout"),
            link: None,
        }
    }

    /// The customer reads the agent's reply and writes back, as people do.
    fn answer_later(&self, command: &SendMessageCommand) {
        self.answer_in_messenger(&command.recipient_id);
    }

    /// The customer `recipient_id` writes back in Messenger after a while.
    fn answer_in_messenger(&self, recipient_id: &str) {
        let Some(collector) = self.collector() else {
            return;
        };
        let Some(index) = recipient_id
            .rsplit('-')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
        else {
            return; // not one of our customers (a conversation from elsewhere)
        };
        let (low, high) = self.inner.options.reply_delay;
        let wait = low + high.saturating_sub(low).mul_f64(fastrand::f64());
        let driver = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let message = driver.customer_message(collector.account(), index, pick(FOLLOW_UPS));
            if let Err(error) = collector.messages(vec![message]).await {
                tracing::error!(%error, "sim: cannot spool a reply");
            }
        });
    }

    pub(crate) async fn reply_comment(&self, command: &ReplyCommentCommand) -> Executed {
        if let Some(failed) = self.simulated_failure(CommandKind::Send, &command.command_id) {
            return failed;
        }
        Executed::Sent {
            recipient_id: None,
            platform_id: self.next_id("c_simout"),
            link: None,
        }
    }

    /// The commenter gets the message in Messenger (their sim id is their Messenger id too) and
    /// answers there, as people do.
    pub(crate) async fn private_reply(&self, command: &PrivateReplyCommand) -> Executed {
        if let Some(failed) = self.simulated_failure(CommandKind::Send, &command.command_id) {
            return failed;
        }
        self.answer_in_messenger(&command.author_id);
        Executed::Sent {
            recipient_id: Some(command.author_id.clone()),
            platform_id: self.next_id("m_simout"),
            link: None,
        }
    }

    pub(crate) async fn moderate_comment(&self, command: &ModerateCommentCommand) -> Executed {
        if let Some(failed) = self.simulated_failure(CommandKind::Send, &command.command_id) {
            return failed;
        }
        Executed::Sent {
            recipient_id: None,
            platform_id: command.comment_id.clone(),
            link: None,
        }
    }

    pub(crate) async fn post(&self, command: &PostCommand) -> Executed {
        if let Some(failed) = self.simulated_failure(CommandKind::Post, &command.command_id) {
            return failed;
        }
        let id = format!(
            "{}_{}",
            command.user_id_chat,
            1_000_000_000 + fastrand::u64(..8_999_999_999)
        );
        Executed::Sent {
            recipient_id: None,
            link: Some(format!("https://www.facebook.com/{id}")),
            platform_id: id,
        }
    }
}

/// How many executed command ids a sim driver remembers for [`SimDriver::executed_commands`].
const EXECUTED_KEPT: usize = 10_000;

/// A wait with the given mean, exponentially distributed: arrivals of a Poisson process.
pub fn exponential(mean: Duration) -> Duration {
    let u = fastrand::f64().max(1e-9);
    mean.mul_f64(-u.ln()).min(mean * 20)
}
