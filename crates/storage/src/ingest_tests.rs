use crate::{AccountKind, StorageError};
use switchboard_domain::UnixMillis;
use switchboard_domain::ingest::{Batch, Direction, NewMessage, NewNotification};

pub(crate) fn batch(account: &str, ids: &[&str]) -> Batch<NewMessage> {
    batch_in_thread(account, "t1", ids)
}

/// Messages `ids`, received in thread `thread`.
pub(crate) fn batch_in_thread(account: &str, thread: &str, ids: &[&str]) -> Batch<NewMessage> {
    let items = ids
        .iter()
        .map(|id| NewMessage {
            message_id: (*id).to_owned(),
            thread_id: thread.into(),
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

/// [`store_with_page`] with one customer's message in one conversation, and that conversation's id.
async fn page_with_conversation() -> (crate::TestDatabase, crate::Store, i64) {
    let (dir, store) = store_with_page().await;
    store
        .ingest_messages(batch("page1", &["m1"]))
        .await
        .expect("ingest");
    let conversation = store
        .conversations("page1", Default::default(), None, 10)
        .await
        .expect("conversations")
        .items[0]
        .id;
    (dir, store, conversation)
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
    again.extend((0..10).map(|i| message(&format!("old{i}"), "t0", Direction::In, T0 - 1000 + i)));
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

/// Counts, from now on, every row version the writer's connection writes into `conversations`.
async fn count_conversation_rewrites(store: &crate::Store) {
    store
        .write(|tx| {
            match tx.dialect() {
                crate::sql::Dialect::Sqlite => {
                    tx.execute("CREATE TEMP TABLE rewrites (id INTEGER)", &[])?;
                    tx.execute(
                        "CREATE TEMP TRIGGER count_rewrites AFTER UPDATE ON main.conversations
                         BEGIN INSERT INTO rewrites VALUES (new.id); END",
                        &[],
                    )?;
                }
                crate::sql::Dialect::Postgres => {
                    tx.execute("CREATE TABLE rewrites (id BIGINT)", &[])?;
                    tx.execute(
                        "CREATE FUNCTION count_rewrite() RETURNS trigger LANGUAGE plpgsql AS
                         $$ BEGIN INSERT INTO rewrites VALUES (NEW.id); RETURN NEW; END $$",
                        &[],
                    )?;
                    tx.execute(
                        "CREATE TRIGGER count_rewrites AFTER UPDATE ON conversations
                         FOR EACH ROW EXECUTE FUNCTION count_rewrite()",
                        &[],
                    )?;
                }
            }
            Ok(())
        })
        .await
        .expect("count rewrites");
}

/// The conversation row versions counted since [`count_conversation_rewrites`].
async fn conversation_rewrites(store: &crate::Store) -> i64 {
    store
        .write(|tx| tx.one("SELECT COUNT(*) FROM rewrites", &[], |r| r.get(0)))
        .await
        .expect("rewrites")
}

/// A participant is written only when the batch names them otherwise: on PostgreSQL every row an
/// update touches is a new version of it and of its index entries, and the bots give the name with
/// every message.
#[tokio::test]
async fn a_conversation_is_rewritten_only_for_what_changed_in_it() {
    let (_dir, store) = store_with_page().await;
    let threads = ["t1", "t2", "t3"];
    let first: Vec<NewMessage> = threads
        .iter()
        .enumerate()
        .map(|(i, t)| message(&format!("m{i}"), t, Direction::In, T0 + i as i64))
        .collect();
    store
        .ingest_messages(messages("page1", first.clone()))
        .await
        .expect("first batch");
    count_conversation_rewrites(&store).await;

    // The same batch again: nothing is new, and no conversation is written.
    let outcome = store
        .ingest_messages(messages("page1", first))
        .await
        .expect("again");
    assert_eq!(counts(&outcome), (3, 0, 3));
    assert_eq!(conversation_rewrites(&store).await, 0);

    // A new message in each thread, one participant renamed: one version for each thread's new
    // message, one for the new name.
    let next: Vec<NewMessage> = threads
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m = message(&format!("n{i}"), t, Direction::In, T0 + 10 + i as i64);
            if *t == "t2" {
                m.participant_name = "Tên mới".into();
            }
            m
        })
        .collect();
    let outcome = store
        .ingest_messages(messages("page1", next))
        .await
        .expect("next");
    assert_eq!(counts(&outcome), (3, 3, 0));
    assert_eq!(conversation_rewrites(&store).await, 4);
    let payload = event(&store, outcome.event_id).await;
    let names = texts_of(&payload, "conversations", "participant_name");
    assert_eq!(names, ["Khách t1", "Tên mới", "Khách t3"]);
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

/// The metrics' view of the command channel follows a command from queued to acknowledged, per account.
#[tokio::test]
async fn the_command_gauges_follow_a_command_until_its_outcome() {
    let (_dir, store, conversation) = page_with_conversation().await;
    assert_eq!(
        store.command_gauges().await.expect("gauges"),
        Default::default()
    );
    let before = UnixMillis::now();
    let queued = store
        .queue_message(conversation, "Dạ vâng".into(), None)
        .await
        .expect("queue");
    let state = |gauges: &crate::CommandGauges| {
        gauges
            .by_state
            .iter()
            .map(|(status, count)| (status.as_str(), *count))
            .collect::<Vec<_>>()
    };
    let gauges = store.command_gauges().await.expect("gauges");
    assert_eq!(state(&gauges), [("pending", 1)]);
    let [(account, since)] = gauges.oldest_unacknowledged.as_slice() else {
        panic!("one account waiting: {gauges:?}");
    };
    assert_eq!(account, "page1");
    assert!(*since >= before && *since <= UnixMillis::now(), "{since:?}");

    let deliverable = store
        .commands_to_deliver("page1", 0, 10)
        .await
        .expect("to deliver");
    store
        .mark_delivered(deliverable.iter().map(|c| c.id).collect())
        .await
        .expect("delivered");
    let gauges = store.command_gauges().await.expect("gauges");
    assert_eq!(state(&gauges), [("delivered", 1)]);
    assert_eq!(gauges.oldest_unacknowledged.len(), 1);

    assert!(
        store
            .acknowledge_command("page1", &queued.command_id)
            .await
            .expect("ack")
    );
    // Acknowledged: in the bot's spool, no longer waiting for it.
    assert_eq!(
        store.command_gauges().await.expect("gauges"),
        Default::default()
    );

    store
        .record_outcome(
            "page1",
            &queued.command_id,
            switchboard_domain::outbound::Outcome::Sent {
                recipient_id: None,
                platform_id: Some("mid.1".into()),
                link: None,
            },
        )
        .await
        .expect("outcome");
    assert_eq!(
        store.command_gauges().await.expect("gauges"),
        Default::default()
    );
}

/// A reply is checked in its own transaction (the conversation and the new row are sent together):
/// whatever refuses it leaves no message and no command behind.
#[tokio::test]
async fn a_refused_reply_leaves_no_message_and_no_command() {
    use switchboard_domain::AccountView;
    use switchboard_domain::outbound::AccountChanges;
    let (_dir, store, conversation) = page_with_conversation().await;
    let stored = || async {
        let messages = store
            .messages(conversation, None, 50)
            .await
            .expect("messages")
            .items
            .len();
        let commands = store
            .commands_to_deliver("page1", 0, 10)
            .await
            .expect("commands")
            .len();
        (messages, commands)
    };
    let reply = |view: AccountView| {
        store.queue_reply(conversation, "Dạ vâng".into(), Vec::new(), None, view)
    };

    let elsewhere = AccountView::Only(["page2".to_owned()].into());
    assert!(
        matches!(reply(elsewhere).await, Err(StorageError::UnknownConversation(id)) if id == conversation),
        "a conversation outside the view is unknown"
    );
    let hidden = AccountView::Except(["page1".to_owned()].into());
    assert!(matches!(
        reply(hidden).await,
        Err(StorageError::UnknownConversation(_))
    ));
    assert!(matches!(
        store
            .queue_reply(
                conversation + 1_000,
                "x".into(),
                Vec::new(),
                None,
                AccountView::All
            )
            .await,
        Err(StorageError::UnknownConversation(_))
    ));
    let disable = AccountChanges {
        enabled: Some(false),
        ..Default::default()
    };
    store
        .update_account(
            "page1",
            disable.checked().expect("valid"),
            &crate::Cipher::from_key(&[7; 32]),
        )
        .await
        .expect("disable");
    assert!(matches!(
        reply(AccountView::All).await,
        Err(StorageError::AccountDisabled(_))
    ));
    assert_eq!(stored().await, (1, 0), "only the customer's message");

    let enable = AccountChanges {
        enabled: Some(true),
        ..Default::default()
    };
    store
        .update_account(
            "page1",
            enable.checked().expect("valid"),
            &crate::Cipher::from_key(&[7; 32]),
        )
        .await
        .expect("enable");
    let seen = AccountView::Only(["page1".to_owned()].into());
    let queued = reply(seen).await.expect("a reply the view sees");
    assert_eq!(
        (queued.message.conversation_id, queued.message.text.as_str()),
        (conversation, "Dạ vâng")
    );
    assert_eq!(stored().await, (2, 1));
}

/// On PostgreSQL the statements that join a batch with conversations look each up by its key, and
/// only they: the planner's settings are back as they were for the rest of the transaction.
#[tokio::test]
async fn lookups_by_key_change_the_plan_of_their_own_statements_only() {
    let (_dir, store) = store_with_page().await;
    let settings = store
        .write(|tx| {
            if tx.dialect() != crate::sql::Dialect::Postgres {
                return Ok(None);
            }
            let setting = || tx.one("SHOW enable_hashjoin", &[], |r| r.get::<String>(0));
            let inside = super::by_key(tx, setting)?;
            Ok(Some((inside, setting()?)))
        })
        .await
        .expect("settings");
    if let Some((inside, after)) = settings {
        assert_eq!((inside.as_str(), after.as_str()), ("off", "on"));
    }
}

/// A message's account is its conversation's, and only the conversation holds a foreign key to it
/// on PostgreSQL (version 30 dropped the message's own, a lookup for every message stored):
/// deleting an account still takes its messages and their index rows, through its conversations,
/// and leaves another account's.
#[tokio::test]
async fn a_deleted_account_takes_its_messages_through_its_conversations() {
    let (_dir, store) = store_with_page().await;
    store
        .ensure_account("page2", "", AccountKind::Page)
        .await
        .expect("account");
    for (account, ids) in [("page1", ["a1", "a2"]), ("page2", ["b1", "b2"])] {
        store
            .ingest_messages(batch_in_thread(account, "t1", &ids))
            .await
            .expect("ingest");
        store
            .ingest_messages(batch_in_thread(account, "t2", &[&format!("{account}-t2")]))
            .await
            .expect("ingest");
    }
    let stored = || async {
        store
            .read(|tx| {
                let count = |table: &str| {
                    tx.one(&format!("SELECT COUNT(*) FROM {table}"), &[], |r| {
                        r.get::<i64>(0)
                    })
                };
                Ok((count("messages")?, count(crate::search::TABLES[0])?))
            })
            .await
            .expect("counts")
    };
    assert_eq!(stored().await, (6, 6));
    store.delete_account("page1").await.expect("delete");
    assert_eq!(stored().await, (3, 3));
    assert_eq!(store.message_count("page2").await.expect("count"), 3);
}
