use crate::calls::tests::{ring, set_status};
use crate::ingest::tests::batch;
use crate::sql::{Dialect, args};
use crate::{AccountKind, NewAgent, StorageError, Store};
use crate::{CopyReport, TokenKind};
use switchboard_domain::Role;
use switchboard_domain::customer::CustomerIn;
use switchboard_domain::ingest::{BotStatus, StatusUpdate};
use switchboard_domain::routing::AgentStatus;

/// What a business has after a while; answers the bot token and the customer's id.
async fn fill(store: &Store) -> (String, i64) {
    for account in ["page1", "gone"] {
        store
            .ensure_account(account, "", AccountKind::Page)
            .await
            .expect("account");
    }
    store
        .ingest_messages(batch("page1", &["m1", "m2"]))
        .await
        .expect("ingest");
    // A comment answered privately: its conversation links the newer Messenger one.
    let comments: switchboard_domain::comments::CommentBatch = serde_json::from_value(serde_json::json!({
        "user_id_chat": "page1",
        "comments": [{"comment_id": "c1", "post_id": "p1", "author": {"id": "u9", "name": "Hà"}, "text": "Ib em",
                      "created_at": 1_767_225_600, "post": {"post_id": "p1", "text": "Áo dài"}}]
    }))
    .expect("shape");
    let (comments, posts) = comments.validate().expect("valid");
    store
        .ingest_comments(comments, posts)
        .await
        .expect("comments");
    let comment = store
        .conversations("page1", Default::default(), None, 10)
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|c| c.thread_id.starts_with("comments:"))
        .expect("comments");
    let comment_id = store
        .messages(comment.id, None, 1)
        .await
        .expect("messages")
        .items[0]
        .id;
    let private = store
        .queue_private_reply(comment_id, "Chào bạn".into(), None)
        .await
        .expect("private reply");
    store
        .record_outcome(
            "page1",
            &private.command_id,
            switchboard_domain::outbound::Outcome::Sent {
                platform_id: Some("m_pr".into()),
                link: None,
                recipient_id: Some("psid_u9".into()),
            },
        )
        .await
        .expect("sent");
    let user = store
        .create_user("boss", "Boss", Role::Admin, "a long password 1".into())
        .await
        .expect("user");
    let (_, token) = store
        .issue_token(TokenKind::Bot {
            account: "page1".into(),
        })
        .await
        .expect("token");
    let agent = store
        .create_agent(NewAgent {
            user_id: Some(user.id),
            full_name: "Agent Một".into(),
            ..Default::default()
        })
        .await
        .expect("agent");
    set_status(store, agent.id, AgentStatus::Available).await;
    let tier = switchboard_domain::custom_fields::FieldIn {
        key: Some("hang".into()),
        label: Some("Hạng".into()),
        kind: Some(switchboard_domain::custom_fields::FieldKind::Choice),
        choices: Some(vec!["Vàng".into()]),
        position: None,
    };
    store
        .create_custom_field(tier.definition().expect("valid"), None)
        .await
        .expect("field");
    let customer = store
        .create_customer(
            CustomerIn {
                full_name: Some("Nguyễn Văn A".into()),
                // Out of alphabetical order: the first given is the main number.
                phone_numbers: Some(vec!["0987654321".into(), "0912345678".into()]),
                emails: Some(vec!["z@x.vn".into(), "a@x.vn".into()]),
                custom_fields: Some([("hang".to_owned(), "Vàng".into())].into()),
                ..Default::default()
            }
            .validate()
            .expect("valid"),
        )
        .await
        .expect("customer");
    ring(store, "CALL_1", "0987654321").await;
    store.answer_call("CALL_1", agent.id).await.expect("answer");
    store
        .block_number("+84900000000", "spam")
        .await
        .expect("block");
    store
        .ingest_messages(batch("gone", &["g1"]))
        .await
        .expect("ingest");
    store
        .update_bot_status(StatusUpdate {
            account: "gone".into(),
            status: BotStatus::Online,
            message: String::new(),
        })
        .await
        .expect("status");
    // The newest events go with their account: the log's highest id is below the highest given.
    store.delete_account("gone").await.expect("delete");
    (token, customer.id)
}

fn count(report: &CopyReport, table: &str) -> u64 {
    report
        .tables
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, rows)| *rows)
        .unwrap_or_else(|| panic!("no count for {table}"))
}

/// Every event, as clients receive them.
async fn log(store: &Store) -> Vec<(i64, String)> {
    let events = store.events_after(0, 10_000).await.expect("events");
    events
        .into_iter()
        .map(|e| (e.id, e.payload.get().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_copy_from_sqlite_keeps_every_id_the_counters_and_refuses_a_second_time() {
    let (_source_dir, source) = crate::temp_sqlite().await;
    let (token, customer_id) = fill(&source).await;
    let events = log(&source).await;
    let last_event_id = source.last_event_id().await.expect("last");
    assert!(
        events.last().expect("events").0 < last_event_id,
        "the deleted account's events leave a gap at the end"
    );

    let (_target_db, target) = crate::temp_store().await;
    let report = source.copy_into(&target).await.expect("copy");
    assert_eq!(report.last_event_id, last_event_id);
    assert_eq!(count(&report, "facebook_accounts"), 1);
    assert_eq!(count(&report, "conversations"), 3);
    assert_eq!(count(&report, "messages"), 4);
    assert_eq!(count(&report, "comments"), 2);
    assert_eq!(count(&report, "feed_posts"), 1);
    assert_eq!(
        count(&report, "events"),
        u64::try_from(events.len()).expect("count")
    );
    assert_eq!(count(&report, "users"), 1);
    assert_eq!(count(&report, "auth_tokens"), 1);
    assert_eq!(count(&report, "agents"), 1);
    assert_eq!(count(&report, "calls"), 1);
    assert_eq!(count(&report, "customers"), 1);
    assert_eq!(count(&report, "customer_phones"), 2);
    assert_eq!(count(&report, "blocked_numbers"), 1);

    assert_eq!(log(&target).await, events, "same ids, same payloads");
    // Analyzed on PostgreSQL: its planner knows the copied rows (-1 would mean never analyzed).
    let planned_rows = target
        .read(|tx| match tx.dialect() {
            Dialect::Sqlite => Ok(None),
            Dialect::Postgres => tx
                .one(
                    "SELECT CAST(reltuples AS BIGINT) FROM pg_class
                     WHERE relname = 'events' AND relnamespace = CAST(current_schema() AS regnamespace)",
                    args![],
                    |r| r.get::<i64>(0),
                )
                .map(Some),
        })
        .await
        .expect("statistics");
    if let Some(planned_rows) = planned_rows {
        assert_eq!(planned_rows, i64::try_from(events.len()).expect("count"));
    }
    assert_eq!(target.last_event_id().await.expect("last"), last_event_id);
    assert_eq!(
        found_in_index(&target, "vu thi hoa").await,
        1,
        "the name, indexed on the target"
    );
    assert_eq!(
        found_in_index(&target, "xin chao").await,
        1,
        "the messages too"
    );
    assert!(target.authenticate(&token).await.expect("auth").is_some());
    let customer = target.customer(customer_id).await.expect("customer");
    assert_eq!(customer.phone_numbers, ["+84987654321", "+84912345678"]);
    assert_eq!(customer.emails, ["z@x.vn", "a@x.vn"], "in the order given");
    assert_eq!(customer.custom_fields.get("hang"), Some(&"Vàng".into()));
    assert_eq!(
        target.call("CALL_1").await.expect("call"),
        source.call("CALL_1").await.expect("call")
    );
    assert_eq!(
        target.accounts().await.expect("accounts")[0].id,
        source.accounts().await.expect("accounts")[0].id
    );

    // New rows follow the copied ones: the next event id, and fresh ids everywhere else.
    let next = target
        .update_bot_status(StatusUpdate {
            account: "page1".into(),
            status: BotStatus::Online,
            message: String::new(),
        })
        .await
        .expect("event");
    assert_eq!(next, last_event_id + 1);
    let another = target
        .create_customer(
            CustomerIn {
                full_name: Some("Trần B".into()),
                phone_numbers: Some(vec!["0911111111".into()]),
                ..Default::default()
            }
            .validate()
            .expect("valid"),
        )
        .await
        .expect("a new customer after the copy");
    assert!(another.id > customer_id);

    let again = source.copy_into(&target).await;
    assert!(
        matches!(&again, Err(StorageError::TargetNotEmpty(_))),
        "{again:?}"
    );
    assert_eq!(log(&target).await.len(), events.len() + 1, "left as it was");

    // And back to SQLite from whichever engine the target is.
    let (_back_dir, back) = crate::temp_sqlite().await;
    let report = target.copy_into(&back).await.expect("copy back");
    assert_eq!(report.last_event_id, last_event_id + 1);
    assert_eq!(back.last_event_id().await.expect("last"), last_event_id + 1);
    assert_eq!(log(&back).await, log(&target).await);
    assert_eq!(found_in_index(&back, "xin chào").await, 1);
}

/// How many conversations of `page1` a search finds through the index alone.
async fn found_in_index(store: &Store, text: &str) -> usize {
    let filter = crate::ConversationFilter {
        search: Some(text.into()),
        strategy: Some(crate::search::Strategy::FromMatches),
        ..crate::ConversationFilter::default()
    };
    let page = store
        .conversations("page1", filter, None, 10)
        .await
        .expect("search");
    page.items.len()
}

#[tokio::test]
async fn an_empty_database_copies_into_an_empty_one() {
    let (_source_dir, source) = crate::temp_sqlite().await;
    let (_target_db, target) = crate::temp_store().await;
    let report = source.copy_into(&target).await.expect("copy");
    assert!(report.tables.iter().all(|(_, rows)| *rows == 0));
    assert_eq!(report.last_event_id, 0);
    assert_eq!(target.last_event_id().await.expect("last"), 0);
}
