//! Search on each engine: case and accents ignored, typed accents first, kept current by every write
//! that stores text, and answered whatever is typed.

use crate::search::Strategy;
use crate::sql::{Dialect, args};
use crate::{AccountKind, ConversationFilter, Store};
use switchboard_domain::UnixMillis;
use switchboard_domain::customer::CustomerFields;
use switchboard_domain::ingest::{Batch, Direction, NewMessage};

const T0: i64 = 1_767_225_600_000;

fn said(thread: &str, name: &str, text: &str, minute: i64) -> NewMessage {
    NewMessage {
        message_id: format!("{thread}-{minute}"),
        thread_id: thread.to_owned(),
        participant_id: format!("u-{thread}"),
        participant_name: name.to_owned(),
        direction: Direction::In,
        text: text.to_owned(),
        attachments: vec![],
        sent_at: UnixMillis(T0 + minute * 60_000),
    }
}

async fn ingest(store: &Store, items: Vec<NewMessage>) {
    store
        .ingest_messages(Batch {
            account: "page1".into(),
            items,
        })
        .await
        .expect("ingest");
}

/// The threads of the conversations a search lists, in order, and the cursor of the next page: the
/// same whichever way the list finds them.
async fn search(
    store: &Store,
    text: &str,
    cursor: Option<&str>,
    limit: usize,
) -> (Vec<String>, Option<String>) {
    let mut answers = Vec::new();
    for strategy in [None, Some(Strategy::FromMatches), Some(Strategy::FromList)] {
        let filter = ConversationFilter {
            search: Some(text.to_owned()),
            strategy,
            ..ConversationFilter::default()
        };
        let page = store
            .conversations("page1", filter, cursor, limit)
            .await
            .expect("search");
        answers.push((
            page.items
                .into_iter()
                .map(|c| c.thread_id)
                .collect::<Vec<_>>(),
            page.next_cursor,
        ));
    }
    assert_eq!(
        answers[1], answers[2],
        "`{text}` found the same from the matches and from the list"
    );
    answers.swap_remove(0)
}

async fn found(store: &Store, text: &str) -> Vec<String> {
    search(store, text, None, 50).await.0
}

async fn shop() -> (crate::TestDatabase, Store) {
    let (db, store) = crate::temp_store().await;
    store
        .ensure_account("page1", "", AccountKind::Page)
        .await
        .expect("account");
    ingest(
        &store,
        vec![
            said("an", "Nguyễn Văn An", "Cho mình hỏi giá áo sơ mi", 1),
            said("duc", "Trần Đức", "Điện thoại còn hàng không shop?", 2),
            said("le", "Le Duc", "ok", 3),
            said("hoa", "Hoa", "Dục tốc bất đạt", 4),
        ],
    )
    .await;
    (db, store)
}

#[tokio::test]
async fn case_and_accents_are_ignored_and_typed_accents_rank_first() {
    let (_db, store) = shop().await;
    assert_eq!(found(&store, "nguyen van an").await, ["an"]);
    assert_eq!(found(&store, "NGUYỄN").await, ["an"]);
    assert_eq!(found(&store, "dien thoai").await, ["duc"]);
    assert_eq!(
        found(&store, "điện th").await,
        ["duc"],
        "the last word is a prefix"
    );
    assert_eq!(
        found(&store, "ao so mi").await,
        ["an"],
        "words of a message"
    );
    // Unaccented: every spelling, most recent first.
    assert_eq!(found(&store, "duc").await, ["hoa", "le", "duc"]);
    // Typed with accents: the exact spelling first, then the rest, each most recent first.
    assert_eq!(found(&store, "Đức").await, ["duc", "hoa", "le"]);
    assert_eq!(found(&store, "dục").await, ["hoa", "le", "duc"]);
    // Each answer says which group it is in; a search without accents has no groups.
    let typed = |text: &str| ConversationFilter {
        search: Some(text.into()),
        ..ConversationFilter::default()
    };
    let page = store
        .conversations("page1", typed("Đức"), None, 10)
        .await
        .expect("search");
    let groups: Vec<Option<bool>> = page.items.iter().map(|c| c.exact_match).collect();
    assert_eq!(groups, [Some(true), Some(false), Some(false)]);
    let page = store
        .conversations("page1", typed("duc"), None, 10)
        .await
        .expect("search");
    assert!(page.items.iter().all(|c| c.exact_match.is_none()));
}

#[tokio::test]
async fn an_accented_search_pages_through_both_groups() {
    let (_db, store) = shop().await;
    let (first, cursor) = search(&store, "Đức", None, 1).await;
    assert_eq!(first, ["duc"]);
    let (second, cursor) = search(&store, "Đức", cursor.as_deref(), 1).await;
    assert_eq!(second, ["hoa"]);
    let (third, cursor) = search(&store, "Đức", cursor.as_deref(), 1).await;
    assert_eq!((third, cursor), (vec!["le".to_owned()], None));
    // A page that the first group fills exactly points at the second.
    let (first, cursor) = search(&store, "đức", None, 1).await;
    assert_eq!(first, ["duc"]);
    let (rest, cursor) = search(&store, "đức", cursor.as_deref(), 5).await;
    assert_eq!(
        (rest, cursor),
        (vec!["hoa".to_owned(), "le".to_owned()], None)
    );
}

#[tokio::test]
async fn every_write_of_text_keeps_the_index_current() {
    let (_db, store) = shop().await;
    // A reply from the CRM.
    let an = store
        .conversations("page1", ConversationFilter::default(), None, 10)
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|c| c.thread_id == "an")
        .expect("an");
    store
        .queue_message(an.id, "Dạ áo này còn size L ạ".into(), None)
        .await
        .expect("reply");
    assert_eq!(found(&store, "con size l").await, ["an"]);
    // A participant renamed: the old name is forgotten, the new one found.
    ingest(&store, vec![said("le", "Lê Minh Tâm", "cảm ơn", 5)]).await;
    assert_eq!(found(&store, "duc").await, ["hoa", "duc"]);
    assert_eq!(found(&store, "tam").await, ["le"]);
    // Renamed from one name typed without accents to another: neither has an exact spelling, and
    // the change is still written.
    ingest(&store, vec![said("le", "Le Minh Tam", "ok", 6)]).await;
    ingest(&store, vec![said("le", "Le Van Hai", "ok", 7)]).await;
    assert_eq!(found(&store, "tam").await, Vec::<String>::new());
    assert_eq!(found(&store, "hai").await, ["le"]);
    assert_eq!(
        found(&store, "Hải").await,
        ["le"],
        "in the group without accents"
    );
    // A deleted account's conversations are gone from the index with it.
    store.delete_account("page1").await.expect("delete");
    store
        .ensure_account("page1", "", AccountKind::Page)
        .await
        .expect("account again");
    assert_eq!(found(&store, "duc").await, Vec::<String>::new());
}

#[tokio::test]
async fn whatever_is_typed_is_answered() {
    let (_db, store) = shop().await;
    for text in [
        "%%%",
        "\"",
        "duc\" OR \"an",
        "NEAR(duc an)",
        "duc*",
        "'; DROP TABLE messages; --",
        "-duc ^an",
        "& | ! :*",
    ] {
        search(&store, text, None, 10).await;
    }
    assert_eq!(found(&store, "%%%").await, Vec::<String>::new());
    assert_eq!(found(&store, "duc*").await, ["hoa", "le", "duc"]);
    let long = "giá ".repeat(2_500);
    assert_eq!(long.chars().count(), 10_000);
    assert_eq!(found(&store, &long).await, ["an"]);
    assert!(
        store
            .conversations(
                "page1",
                ConversationFilter {
                    search: Some("duc".into()),
                    ..ConversationFilter::default()
                },
                Some("e:x"),
                5
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn customers_are_found_by_any_spelling_of_their_words() {
    let (_db, store) = crate::temp_store().await;
    let customer = |name: &str, email: &str| CustomerFields {
        full_name: Some(name.to_owned()),
        emails: Some(vec![email.to_owned()]),
        ..CustomerFields::default()
    };
    let an = store
        .create_customer(customer("Nguyễn Văn An", "an.nguyen@example.vn"))
        .await
        .expect("an");
    let duc = store
        .create_customer(customer("Đức Trần", "tran@example.vn"))
        .await
        .expect("duc");
    let dang = store
        .create_customer(customer("Dung Đặng", "duc.dang@example.vn"))
        .await
        .expect("dang");
    let names = |found: Vec<crate::Customer>| found.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        names(
            store
                .search_customers("nguyen van an", "", 10)
                .await
                .expect("search")
        ),
        [an.id]
    );
    assert_eq!(
        names(
            store
                .search_customers("an.nguyen@example", "", 10)
                .await
                .expect("search")
        ),
        [an.id]
    );
    // By name: Dung Đặng before Đức Trần; typed with accents, the exact one first.
    assert_eq!(
        names(store.search_customers("duc", "", 10).await.expect("search")),
        [dang.id, duc.id]
    );
    assert_eq!(
        names(store.search_customers("Đức", "", 10).await.expect("search")),
        [duc.id, dang.id]
    );
    assert_eq!(
        names(store.search_customers("", "", 10).await.expect("everyone")).len(),
        3
    );
    assert_eq!(
        names(store.search_customers("%%", "", 10).await.expect("nothing")),
        Vec::<i64>::new()
    );
    store
        .update_customer(
            duc.id,
            CustomerFields {
                full_name: Some("Trần Minh".into()),
                ..CustomerFields::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(
        names(store.search_customers("đức", "", 10).await.expect("search")),
        [dang.id]
    );
}

#[tokio::test]
async fn what_was_stored_before_the_index_is_indexed_when_the_store_opens() {
    let (db, store) = shop().await;
    // As a database migrated from version 18 has it: rows, an empty index, and the backlog.
    store
        .write(|tx| {
            for table in crate::search::TABLES {
                let empty = match tx.dialect() {
                    Dialect::Sqlite => {
                        format!("INSERT INTO {table} ({table}) VALUES ('delete-all')")
                    }
                    Dialect::Postgres => format!("DELETE FROM {table}"),
                };
                tx.execute(&empty, args![])?;
            }
            tx.execute(
                "INSERT INTO search_backlog (source, below)
                 SELECT 'messages', MAX(id) + 1 FROM messages
                 UNION ALL SELECT 'conversations', MAX(id) + 1 FROM conversations",
                args![],
            )?;
            Ok(())
        })
        .await
        .expect("forget the index");
    let from_index = ConversationFilter {
        search: Some("duc".into()),
        strategy: Some(Strategy::FromMatches),
        ..ConversationFilter::default()
    };
    let listed = store
        .conversations("page1", from_index, None, 10)
        .await
        .expect("search");
    assert!(listed.items.is_empty(), "the index is empty");
    store.close().await;
    let reopened = Store::open(db.url()).await.expect("reopen");
    assert_eq!(found(&reopened, "duc").await, ["hoa", "le", "duc"]);
    assert_eq!(found(&reopened, "dien thoai").await, ["duc"]);
    assert_eq!(
        reopened
            .catch_up_search_index()
            .await
            .expect("nothing left"),
        0
    );
}

#[tokio::test]
async fn an_index_rebuilt_by_version_29_finds_what_was_stored() {
    let (db, store) = shop().await;
    if store.file().is_none() {
        return; // Version 29 changes SQLite's FTS5 tables only.
    }
    // As a database at version 28 is when it is opened by this one: version 29 not yet applied.
    store
        .write(|tx| {
            tx.execute("DELETE FROM schema_migrations WHERE version = 29", args![])?;
            Ok(())
        })
        .await
        .expect("back to version 28");
    store.close().await;
    let reopened = Store::open(db.url()).await.expect("reopen");
    let tables = reopened
        .read(|tx| {
            tx.rows(
                "SELECT sql FROM sqlite_master WHERE name IN ('message_search', 'conversation_search', 'customer_search')",
                args![],
                |r| r.get::<String>(0),
            )
        })
        .await
        .expect("the tables");
    assert_eq!(tables.len(), 3);
    for sql in tables {
        assert!(sql.contains("detail = column"), "{sql}");
    }
    assert_eq!(found(&reopened, "duc").await, ["hoa", "le", "duc"]);
    assert_eq!(found(&reopened, "Đức").await, ["duc", "hoa", "le"]);
    assert_eq!(found(&reopened, "dien tho").await, ["duc"]);
    assert_eq!(
        reopened
            .catch_up_search_index()
            .await
            .expect("nothing left"),
        0
    );
}
