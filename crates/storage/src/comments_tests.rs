//! Comments under posts: stored as their authors' conversations, answered, hidden and deleted through
//! the page's bot, hidden by a page's setting when they hold a phone number. Both engines.

use crate::{AccountKind, Cipher, StorageError, Store};
use serde_json::{Value, json};
use switchboard_domain::comments::{CommentBatch, Moderation};
use switchboard_domain::outbound::{AccountChanges, Outcome};
use switchboard_domain::{EventKind, MessageStatus};

const PAGE: &str = "page1";

fn comments(items: Value, posts: Value) -> CommentBatch {
    serde_json::from_value(json!({"user_id_chat": PAGE, "comments": items, "posts": posts}))
        .expect("shape")
}

fn comment(id: &str, author: &str, text: &str, parent: Option<&str>) -> Value {
    json!({"comment_id": id, "post_id": "p1", "parent_id": parent, "author": {"id": author, "name": format!("Khách {author}")},
           "text": text, "created_at": 1_767_225_600})
}

async fn ingest(store: &Store, batch: CommentBatch) -> crate::IngestOutcome {
    let (batch, posts) = batch.validate().expect("valid");
    store.ingest_comments(batch, posts).await.expect("ingest")
}

async fn setup() -> (crate::TestDatabase, Store) {
    let (db, store) = crate::temp_store().await;
    store
        .ensure_account(PAGE, "Shop", AccountKind::Page)
        .await
        .expect("account");
    (db, store)
}

/// The conversation of `thread` and its messages, oldest first.
async fn thread(store: &Store, thread: &str) -> (i64, Vec<crate::MessageView>) {
    let list = store
        .conversations(PAGE, Default::default(), None, 100)
        .await
        .expect("list");
    let id = list
        .items
        .iter()
        .find(|c| c.thread_id == thread)
        .expect(thread)
        .id;
    let mut messages = store.messages(id, None, 100).await.expect("messages").items;
    messages.reverse();
    (id, messages)
}

/// The payloads of the commands waiting for the page's bot, by event name.
async fn commands(store: &Store) -> Vec<(String, Value)> {
    store
        .commands_to_deliver(PAGE, 0, 100)
        .await
        .expect("commands")
        .into_iter()
        .map(|c| {
            (
                c.event.to_owned(),
                serde_json::from_str(c.payload.get()).expect("json"),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_customers_comments_under_a_post_are_one_conversation() {
    let (_db, store) = setup().await;
    let batch = comments(
        json!([
            comment("c1", "u1", "Giá bao nhiêu ạ?", None),
            comment("c2", "u2", "Còn màu xanh không shop?", None),
            comment("c3", "u1", "Ship Hà Nội được không?", Some("c1")),
            {"comment_id": "c4", "post_id": "p1", "parent_id": "c1", "author": {"id": PAGE}, "from_page": true,
             "text": "Dạ 450k ạ", "created_at": 1_767_225_700},
            {"comment_id": "c5", "post_id": "p1", "parent_id": "never-arrived", "author": {"id": PAGE}, "from_page": true,
             "text": "?", "created_at": 1_767_225_700},
        ]),
        json!([{"post_id": "p1", "text": "Bình gốm men lam", "permalink": "https://www.facebook.com/p1"}]),
    );
    let outcome = ingest(&store, batch).await;
    assert_eq!(
        (outcome.received, outcome.new),
        (5, 4),
        "the page's answer to nothing known is left out"
    );

    let (_, first) = thread(&store, "comments:p1:u1").await;
    let summary: Vec<(Option<&str>, &str, Option<&str>)> = first
        .iter()
        .map(|m| {
            (
                m.message_id.as_deref(),
                m.direction.as_str(),
                m.comment.as_ref().and_then(|c| c.parent_id.as_deref()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("c1"), "in", None),
            (Some("c3"), "in", Some("c1")),
            (Some("c4"), "out", Some("c1"))
        ]
    );
    assert_eq!(
        first[0].comment.as_ref().map(|c| c.post_id.as_str()),
        Some("p1")
    );
    let (_, second) = thread(&store, "comments:p1:u2").await;
    assert_eq!(second.len(), 1);
    let list = store
        .conversations(PAGE, Default::default(), None, 100)
        .await
        .expect("list");
    let u1 = list
        .items
        .iter()
        .find(|c| c.thread_id == "comments:p1:u1")
        .expect("u1");
    assert_eq!(
        (u1.participant_name.as_str(), u1.unread_count),
        ("Khách u1", 2),
        "the page's answer keeps the customer's name"
    );

    let post = store
        .feed_post(PAGE, "p1")
        .await
        .expect("post")
        .expect("known");
    assert_eq!(
        (post.text.as_str(), post.permalink.as_deref()),
        ("Bình gốm men lam", Some("https://www.facebook.com/p1"))
    );
    assert!(store.feed_post(PAGE, "p2").await.expect("post").is_none());

    let again = ingest(
        &store,
        comments(
            json!([comment("c1", "u1", "Giá bao nhiêu ạ?", None)]),
            json!([]),
        ),
    )
    .await;
    assert_eq!(
        (again.new, again.duplicates),
        (0, 1),
        "idempotent by comment id"
    );

    let events = store.events_after(0, 100).await.expect("events");
    let new_messages = events
        .iter()
        .find(|e| e.kind == EventKind::NewMessages)
        .expect("event");
    let payload: Value = serde_json::from_str(new_messages.payload.get()).expect("json");
    assert_eq!(
        payload["messages"][2]["comment"]["parent_id"], "c1",
        "{payload}"
    );
}

#[tokio::test]
async fn an_agent_answers_under_a_comment_and_the_bot_reports_it_posted() {
    let (_db, store) = setup().await;
    ingest(
        &store,
        comments(
            json!([
                comment("c1", "u1", "Giá?", None),
                comment("c3", "u1", "Alo shop", Some("c1"))
            ]),
            json!([]),
        ),
    )
    .await;
    let (conversation, messages) = thread(&store, "comments:p1:u1").await;
    let reply_to_reply = messages[1].id;
    let queued = store
        .queue_comment_reply(reply_to_reply, "Dạ 450k ạ".into(), None)
        .await
        .expect("reply");
    assert_eq!(queued.message.status, MessageStatus::Queued);
    let sent = commands(&store).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "reply_comment_command");
    assert_eq!(
        (
            &sent[0].1["comment_id"],
            &sent[0].1["text"],
            &sent[0].1["conversation_id"]
        ),
        (&json!("c1"), &json!("Dạ 450k ạ"), &json!(conversation)),
        "an answer to a reply goes under its top comment"
    );
    let command_id = sent[0].1["command_id"].as_str().expect("id").to_owned();
    store
        .record_outcome(
            PAGE,
            &command_id,
            Outcome::Sent {
                recipient_id: None,
                platform_id: Some("c9".into()),
                link: None,
            },
        )
        .await
        .expect("outcome");
    let (_, messages) = thread(&store, "comments:p1:u1").await;
    let reply = messages
        .iter()
        .find(|m| m.id == queued.message.id)
        .expect("reply");
    assert_eq!(
        (reply.status, reply.message_id.as_deref()),
        (MessageStatus::Sent, Some("c9"))
    );
    assert_eq!(
        reply.comment.as_ref().and_then(|c| c.parent_id.as_deref()),
        Some("c1")
    );
    // The webhook brings the page's own answer back: stored once.
    let echo = json!([{"comment_id": "c9", "post_id": "p1", "parent_id": "c1", "author": {"id": PAGE}, "from_page": true,
                       "text": "Dạ 450k ạ", "created_at": 1_767_225_800}]);
    assert_eq!(ingest(&store, comments(echo, json!([]))).await.new, 0);

    // A reply that failed is sent again under the same comment.
    let second = store
        .queue_comment_reply(messages[0].id, "Bạn inbox shop nhé".into(), None)
        .await
        .expect("reply");
    let command_id = second.command_id.clone();
    store
        .record_outcome(
            PAGE,
            &command_id,
            Outcome::Failed {
                reason: "(#10) Permissions error".into(),
            },
        )
        .await
        .expect("failed");
    let retried = store.retry_message(second.message.id).await.expect("retry");
    let all = commands(&store).await;
    let last = all
        .iter()
        .find(|(_, p)| p["command_id"] == retried.command_id)
        .expect("retried");
    assert_eq!(
        (last.0.as_str(), &last.1["comment_id"]),
        ("reply_comment_command", &json!("c1"))
    );

    let not_a_comment = store
        .queue_comment_reply(queued.message.id + 1000, "x".into(), None)
        .await;
    assert!(
        matches!(not_a_comment, Err(StorageError::UnknownMessage(_))),
        "{not_a_comment:?}"
    );
}

#[tokio::test]
async fn hiding_and_deleting_go_through_the_bot_and_show_their_outcome() {
    let (_db, store) = setup().await;
    ingest(
        &store,
        comments(
            json!([comment("c1", "u1", "Rẻ hơn ở shop khác", None)]),
            json!([]),
        ),
    )
    .await;
    let (_, messages) = thread(&store, "comments:p1:u1").await;
    let id = messages[0].id;
    let queued = store
        .queue_moderation(id, Moderation::Hide)
        .await
        .expect("hide");
    assert_eq!(
        queued.message.comment.as_ref().and_then(|c| c.pending),
        Some(Moderation::Hide)
    );
    let sent = commands(&store).await;
    assert_eq!(
        (
            sent[0].0.as_str(),
            &sent[0].1["action"],
            &sent[0].1["comment_id"]
        ),
        ("moderate_comment_command", &json!("hide"), &json!("c1"))
    );
    store
        .record_outcome(
            PAGE,
            &queued.command_id,
            Outcome::Sent {
                recipient_id: None,
                platform_id: None,
                link: None,
            },
        )
        .await
        .expect("done");
    let hidden = store.comment(id).await.expect("comment");
    let state = hidden.comment.expect("comment");
    assert_eq!(
        (state.hidden, state.pending, hidden.status),
        (true, None, MessageStatus::Received),
        "a moderation never changes the comment's status"
    );

    let unhide = store
        .queue_moderation(id, Moderation::Unhide)
        .await
        .expect("unhide");
    store
        .record_outcome(
            PAGE,
            &unhide.command_id,
            Outcome::Failed {
                reason: "(#100) Unsupported post request".into(),
            },
        )
        .await
        .expect("failed");
    let failed = store
        .comment(id)
        .await
        .expect("comment")
        .comment
        .expect("comment");
    assert_eq!(
        (failed.hidden, failed.pending, failed.error.as_deref()),
        (true, None, Some("(#100) Unsupported post request"))
    );

    let delete = store
        .queue_moderation(id, Moderation::Delete)
        .await
        .expect("delete");
    store
        .record_outcome(
            PAGE,
            &delete.command_id,
            Outcome::Sent {
                recipient_id: None,
                platform_id: None,
                link: None,
            },
        )
        .await
        .expect("done");
    assert!(
        store
            .comment(id)
            .await
            .expect("comment")
            .comment
            .expect("comment")
            .deleted
    );
    assert!(matches!(
        store.queue_moderation(id, Moderation::Hide).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        store.queue_comment_reply(id, "x".into(), None).await,
        Err(StorageError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_page_that_asks_for_it_hides_comments_with_phone_numbers_as_they_arrive() {
    let (_db, store) = setup().await;
    let cipher = Cipher::from_key(&[7; 32]);
    let changes = AccountChanges {
        hide_phone_comments: Some(true),
        ..Default::default()
    };
    let account = store
        .update_account(PAGE, changes.checked().expect("valid"), &cipher)
        .await
        .expect("update");
    assert!(account.hide_phone_comments);
    ingest(
        &store,
        comments(
            json!([
                comment("c1", "u1", "Gọi em 0912.345.678 nhé", None),
                comment("c2", "u2", "Giá 450.000 hả shop?", None)
            ]),
            json!([]),
        ),
    )
    .await;
    let sent = commands(&store).await;
    assert_eq!(sent.len(), 1, "only the comment with a number: {sent:?}");
    assert_eq!(
        (&sent[0].1["comment_id"], &sent[0].1["action"]),
        (&json!("c1"), &json!("hide"))
    );
    let (_, messages) = thread(&store, "comments:p1:u1").await;
    assert_eq!(
        messages[0].comment.as_ref().and_then(|c| c.pending),
        Some(Moderation::Hide)
    );
    let events = store.events_after(0, 100).await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::MessageStatusUpdate),
        "the bot's sender is woken"
    );
}

#[tokio::test]
async fn a_private_reply_opens_the_commenters_messenger_conversation_and_links_it() {
    let (_db, store) = setup().await;
    ingest(
        &store,
        comments(json!([comment("c1", "u1", "Ib em giá", None)]), json!([])),
    )
    .await;
    let (comments_id, messages) = thread(&store, "comments:p1:u1").await;
    let queued = store
        .queue_private_reply(messages[0].id, "Chào bạn, áo giá 450k ạ".into(), None)
        .await
        .expect("private reply");
    assert_eq!(
        queued.message.comment.as_ref().map(|c| c.private),
        Some(true)
    );
    let sent = commands(&store).await;
    assert_eq!(sent[0].0, "private_reply_command");
    assert_eq!(
        (&sent[0].1["comment_id"], &sent[0].1["author_id"]),
        (&json!("c1"), &json!("u1"))
    );
    assert!(
        matches!(
            store
                .queue_private_reply(messages[0].id, "lần hai".into(), None)
                .await,
            Err(StorageError::Conflict(_))
        ),
        "one private reply per comment"
    );

    store
        .record_outcome(
            PAGE,
            &queued.command_id,
            Outcome::Sent {
                platform_id: Some("m_pr1".into()),
                link: None,
                recipient_id: Some("psid_u1".into()),
            },
        )
        .await
        .expect("outcome");
    let (messenger_id, moved) = thread(&store, "psid_u1").await;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (moved[0].id, moved[0].status, moved[0].message_id.as_deref()),
        (queued.message.id, MessageStatus::Sent, Some("m_pr1"))
    );
    let list = store
        .conversations(PAGE, Default::default(), None, 100)
        .await
        .expect("list");
    let messenger = list
        .items
        .iter()
        .find(|c| c.id == messenger_id)
        .expect("messenger");
    assert_eq!(
        (
            messenger.participant_name.as_str(),
            messenger.last_message_direction.as_deref()
        ),
        ("Khách u1", Some("out"))
    );
    let commented = store.conversation(comments_id).await.expect("comments");
    assert_eq!(commented.linked_conversation_id, Some(messenger_id));
    let (_, left) = thread(&store, "comments:p1:u1").await;
    assert_eq!(left.len(), 1, "the answer left the comments for Messenger");

    // The customer answers in Messenger: the same conversation.
    store
        .ingest_messages(crate::ingest::tests::batch_in_thread(
            PAGE,
            "psid_u1",
            &["m_answer"],
        ))
        .await
        .expect("answer");
    let (_, answered) = thread(&store, "psid_u1").await;
    assert_eq!(answered.len(), 2);
}
