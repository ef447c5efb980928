//! One customer across numbers and pages: fields, merges, duplicates, CSV files. Run on SQLite and,
//! with `SWITCHBOARD_TEST_POSTGRES`, on PostgreSQL (`temp_store`).

use crate::ingest::tests::batch_in_thread;
use crate::{AccountKind, DuplicateKind, ImportOptions, StorageError, Store};
use serde_json::{Value, json};
use switchboard_domain::custom_fields::{FieldIn, FieldKind};
use switchboard_domain::customer::{CustomerFields, CustomerIn};
use switchboard_domain::customer_csv;
use switchboard_domain::{EventKind, ValidationError};

fn customer(body: Value) -> CustomerFields {
    serde_json::from_value::<CustomerIn>(body)
        .expect("shape")
        .validate()
        .expect("valid")
}

async fn tier_field(store: &Store) -> i64 {
    let field = FieldIn {
        key: Some("hang".into()),
        label: Some("Hạng thành viên".into()),
        kind: Some(FieldKind::Choice),
        choices: Some(vec!["Bạc".into(), "Vàng".into()]),
        position: None,
    }
    .definition()
    .expect("valid");
    store
        .create_custom_field(field, None)
        .await
        .expect("field")
        .id
}

/// A conversation of `page` with the participant of thread `thread`.
async fn conversation(store: &Store, page: &str, thread: &str) -> i64 {
    store
        .ensure_account(page, "", AccountKind::Page)
        .await
        .expect("account");
    store
        .ingest_messages(batch_in_thread(
            page,
            thread,
            &[&format!("{page}-{thread}")],
        ))
        .await
        .expect("ingest");
    store
        .conversations(page, Default::default(), None, 100)
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|c| c.thread_id == thread)
        .expect("conversation")
        .id
}

#[tokio::test]
async fn a_merge_moves_everything_to_the_survivor_and_tells_the_consoles() {
    let (_db, store) = crate::temp_store().await;
    tier_field(&store).await;
    let an = store
        .create_customer(customer(json!({
            "fullName": "Nguyễn Văn An", "phoneNumber": "0912 345 678", "email": "an@example.vn",
            "notes": "Thích gọi buổi sáng", "customFields": {"hang": "Vàng"}
        })))
        .await
        .expect("an");
    let other = store
        .create_customer(customer(json!({
            "fullName": "An Nguyễn", "phoneNumbers": ["0987 654 321", "0912345678"],
            "emails": ["AN@example.vn", "an@congty.vn"], "cif": "CIF0001", "notes": "Khách ở Quận 1",
            "customFields": {"hang": "Bạc"}
        })))
        .await
        .expect("other");
    let chat = conversation(&store, "page1", "t1").await;
    store.link_conversation(other.id, chat).await.expect("link");
    let call = crate::calls::tests::call("C1", "0987654321");
    store.new_call(call).await.expect("call");
    assert_eq!(
        store.call("C1").await.expect("call").customer_id,
        Some(other.id)
    );
    let before = store.events_after(0, 1_000).await.expect("events").len();

    let merged = store
        .merge_customers(an.id, vec![other.id, other.id], Some(7))
        .await
        .expect("merge");
    assert_eq!(
        merged.full_name, "Nguyễn Văn An",
        "the survivor's name wins"
    );
    assert_eq!(merged.phone_numbers, ["+84912345678", "+84987654321"]);
    assert_eq!(
        merged.emails,
        ["an@example.vn", "an@congty.vn"],
        "one address whatever its case"
    );
    assert_eq!(
        merged.cif, "CIF0001",
        "what the survivor lacks is filled in"
    );
    assert_eq!(merged.notes, "Thích gọi buổi sáng\n\nKhách ở Quận 1");
    assert_eq!(merged.custom_fields.get("hang"), Some(&json!("Vàng")));
    assert_eq!(merged.conversation_ids, [chat]);
    assert_eq!(
        store.call("C1").await.expect("call").customer_id,
        Some(an.id)
    );
    assert!(matches!(
        store.customer(other.id).await,
        Err(StorageError::UnknownCustomer(id)) if id == other.id
    ));
    let found = store
        .search_customers("congty", "", 10)
        .await
        .expect("search");
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        [an.id],
        "the merged email finds the survivor"
    );

    let events = store.events_after(0, 1_000).await.expect("events");
    let event = &events[before..];
    assert_eq!(event.len(), 1);
    assert_eq!(event[0].kind, EventKind::CustomersMerged);
    let payload: Value = serde_json::from_str(event[0].payload.get()).expect("json");
    assert_eq!(
        (
            &payload["customer_id"],
            &payload["merged_ids"],
            &payload["by_user_id"]
        ),
        (&json!(an.id), &json!([other.id]), &json!(7))
    );
}

#[tokio::test]
async fn a_merge_that_cannot_be_right_changes_nothing() {
    let (_db, store) = crate::temp_store().await;
    let a = store
        .create_customer(customer(
            json!({"fullName": "A", "cif": "CIF1", "phoneNumber": "0912000001"}),
        ))
        .await
        .expect("a");
    let b = store
        .create_customer(customer(
            json!({"fullName": "B", "cif": "CIF2", "phoneNumber": "0912000002"}),
        ))
        .await
        .expect("b");
    let refused = store.merge_customers(a.id, vec![b.id], None).await;
    assert!(
        matches!(&refused, Err(StorageError::Conflict(m)) if m.contains("CIF1") && m.contains("CIF2")),
        "{refused:?}"
    );
    assert_eq!(store.customer(b.id).await.expect("b still there"), b);
    assert_eq!(store.customer(a.id).await.expect("a unchanged"), a);
    assert!(matches!(
        store.merge_customers(a.id, vec![a.id], None).await,
        Err(StorageError::Invalid(ValidationError { field, .. })) if field == "customerIds"
    ));
    assert!(matches!(
        store.merge_customers(a.id, vec![], None).await,
        Err(StorageError::Invalid(_))
    ));
    assert!(
        matches!(
            store
                .merge_customers(a.id, vec![b.id; 1_000_000], None)
                .await,
            Err(StorageError::Invalid(_))
        ),
        "a million ids are refused before any work"
    );
    assert!(matches!(
        store.merge_customers(a.id, vec![b.id, 999_999], None).await,
        Err(StorageError::UnknownCustomer(999_999))
    ));
    assert_eq!(store.customer(b.id).await.expect("b still there"), b);
    let many: Vec<String> = (0..15).map(|i| format!("0913{i:06}")).collect();
    let c = store
        .create_customer(customer(json!({"fullName": "C", "phoneNumbers": many})))
        .await
        .expect("c");
    let more: Vec<String> = (0..15).map(|i| format!("0914{i:06}")).collect();
    let d = store
        .create_customer(customer(json!({"fullName": "D", "phoneNumbers": more})))
        .await
        .expect("d");
    let too_many = store.merge_customers(c.id, vec![d.id], None).await;
    assert!(
        matches!(&too_many, Err(StorageError::Conflict(m)) if m.contains("30 numbers")),
        "{too_many:?}"
    );
}

#[tokio::test]
async fn duplicates_are_suggested_by_number_email_and_facebook_person_until_told_apart() {
    let (_db, store) = crate::temp_store().await;
    let create = |body: Value| store.create_customer(customer(body));
    let a = create(json!({"fullName": "Trần Đức", "phoneNumber": "0912 345 678"}))
        .await
        .expect("a");
    let b =
        create(json!({"fullName": "Duc Tran", "phoneNumber": "+84912345678", "email": "duc@x.vn"}))
            .await
            .expect("b");
    let c = create(json!({"fullName": "Đức", "email": "DUC@x.vn"}))
        .await
        .expect("c");
    let d = create(json!({"fullName": "Anh Đức (Facebook)"}))
        .await
        .expect("d");
    let lone = create(json!({"fullName": "Người khác", "phoneNumber": "0909 999 999"}))
        .await
        .expect("lone");
    let chat = conversation(&store, "page1", "t1").await;
    store.link_conversation(c.id, chat).await.expect("link c");
    store.link_conversation(d.id, chat).await.expect("link d");

    let all = store.duplicate_customers(None, 50).await.expect("all");
    let summary: Vec<(i64, i64, Vec<DuplicateKind>)> = all
        .iter()
        .map(|p| {
            (
                p.customer.id,
                p.other.id,
                p.reasons.iter().map(|r| r.kind).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (c.id, d.id, vec![DuplicateKind::Facebook]),
            (b.id, c.id, vec![DuplicateKind::Email]),
            (a.id, b.id, vec![DuplicateKind::Phone]),
        ],
        "newest first"
    );
    assert_eq!(all[2].reasons[0].value, "+84912345678");
    assert_eq!(all[1].reasons[0].value, "duc@x.vn");

    let of_b = store
        .duplicate_customers(Some(b.id), 50)
        .await
        .expect("of b");
    let others: Vec<i64> = of_b.iter().map(|p| p.other.id).collect();
    assert_eq!(others, [c.id, a.id]);
    assert!(of_b.iter().all(|p| p.customer.id == b.id));
    assert!(
        store
            .duplicate_customers(Some(lone.id), 50)
            .await
            .expect("lone")
            .is_empty()
    );

    store
        .mark_distinct_customers(c.id, b.id)
        .await
        .expect("distinct");
    store
        .mark_distinct_customers(b.id, c.id)
        .await
        .expect("again: nothing changes");
    let of_b = store
        .duplicate_customers(Some(b.id), 50)
        .await
        .expect("of b");
    assert_eq!(of_b.iter().map(|p| p.other.id).collect::<Vec<_>>(), [a.id]);
    // Told apart from b, c stays apart from whoever b is merged into.
    store
        .merge_customers(a.id, vec![b.id], None)
        .await
        .expect("merge");
    let of_a = store
        .duplicate_customers(Some(a.id), 50)
        .await
        .expect("of a");
    assert!(of_a.is_empty(), "{of_a:?}");
    assert!(matches!(
        store.mark_distinct_customers(a.id, a.id).await,
        Err(StorageError::Invalid(_))
    ));
}

#[tokio::test]
async fn fields_are_defined_checked_and_kept_in_step_with_their_values() {
    let (_db, store) = crate::temp_store().await;
    let tier = tier_field(&store).await;
    let birthday = FieldIn {
        key: Some("ngay_sinh".into()),
        label: Some("Ngày sinh".into()),
        kind: Some(FieldKind::Date),
        ..Default::default()
    };
    store
        .create_custom_field(birthday.definition().expect("valid"), None)
        .await
        .expect("birthday");
    let again = FieldIn {
        key: Some("hang".into()),
        label: Some("Hạng".into()),
        kind: Some(FieldKind::Text),
        ..Default::default()
    };
    assert!(matches!(
        store
            .create_custom_field(again.definition().expect("valid"), None)
            .await,
        Err(StorageError::Conflict(_))
    ));
    let fields = store.custom_fields().await.expect("fields");
    assert_eq!(
        fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["hang", "ngay_sinh"]
    );

    let an = store
        .create_customer(customer(
            json!({"fullName": "An", "customFields": {"hang": "vang", "ngay_sinh": "17/05/1990"}}),
        ))
        .await
        .expect("an");
    assert_eq!(
        an.custom_fields,
        [
            ("hang".to_owned(), json!("Vàng")),
            ("ngay_sinh".to_owned(), json!("1990-05-17"))
        ]
        .into()
    );
    let bad = store
        .update_customer(
            an.id,
            customer(json!({"customFields": {"ngay_sinh": "30/02/1990"}})),
        )
        .await;
    assert!(
        matches!(&bad, Err(StorageError::Invalid(e)) if e.field == "customFields.ngay_sinh"),
        "{bad:?}"
    );
    let created_unknown = store
        .create_customer(customer(
            json!({"fullName": "Bình", "customFields": {"khong_co": "x"}}),
        ))
        .await;
    assert!(
        matches!(&created_unknown, Err(StorageError::Invalid(e)) if e.field == "customFields.khong_co"),
        "{created_unknown:?}"
    );
    let unknown = store
        .update_customer(an.id, customer(json!({"customFields": {"khong_co": "x"}})))
        .await;
    assert!(
        matches!(&unknown, Err(StorageError::Invalid(e)) if e.field == "customFields.khong_co"),
        "{unknown:?}"
    );
    let cleared = store
        .update_customer(
            an.id,
            customer(json!({"customFields": {"ngay_sinh": null}})),
        )
        .await
        .expect("clear");
    assert_eq!(
        cleared.custom_fields,
        [("hang".to_owned(), json!("Vàng"))].into(),
        "only the named field changes"
    );

    let drop_used = FieldIn {
        choices: Some(vec!["Bạc".into(), "Kim cương".into()]),
        ..Default::default()
    };
    let refused = store.update_custom_field(tier, drop_used).await;
    assert!(
        matches!(&refused, Err(StorageError::Conflict(m)) if m.contains("Vàng")),
        "{refused:?}"
    );
    let renamed = FieldIn {
        label: Some("Hạng".into()),
        choices: Some(vec!["Bạc".into(), "Vàng".into(), "Kim cương".into()]),
        position: Some(5),
        ..Default::default()
    };
    let tier_field = store
        .update_custom_field(tier, renamed)
        .await
        .expect("update");
    assert_eq!(
        (tier_field.label.as_str(), tier_field.choices.len()),
        ("Hạng", 3)
    );
    store.delete_custom_field(tier).await.expect("delete");
    assert!(
        store
            .customer(an.id)
            .await
            .expect("an")
            .custom_fields
            .is_empty()
    );
    assert!(matches!(
        store.delete_custom_field(tier).await,
        Err(StorageError::UnknownCustomField(_))
    ));
}

fn csv(text: &str) -> customer_csv::Table {
    customer_csv::read(text.as_bytes()).expect("readable")
}

#[tokio::test]
async fn an_import_writes_all_good_rows_or_nothing_and_reports_every_row() {
    let (_db, store) = crate::temp_store().await;
    tier_field(&store).await;
    let known = store
        .create_customer(customer(
            json!({"fullName": "Đã có", "phoneNumber": "0912 000 001"}),
        ))
        .await
        .expect("known");
    let file = csv("Họ tên,Số điện thoại,Email,Hạng thành viên,Mã nội bộ\n\
         Nguyễn Văn An,0912 345 678,an@x.vn,Vàng,A1\n\
         Trần Bình,0912.000.001,,,A2\n\
         Lê Chi,gọi sau,,,A3\n\
         Phạm Dũng,+84 912 345 678,,,A4\n\
         Hoàng Em,,,Đồng,A5\n\
         ,0909000000,,,A6\n");
    let strict = store
        .import_customers(file.clone(), ImportOptions::default())
        .await
        .expect("report");
    assert!(!strict.committed);
    assert_eq!((strict.rows, strict.imported), (6, 1));
    assert_eq!(strict.ignored_columns, ["Mã nội bộ"]);
    let refused: Vec<(u64, &str)> = strict
        .refused
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    assert_eq!(refused.iter().map(|r| r.0).collect::<Vec<_>>(), [4, 6, 7]);
    assert!(refused[0].1.contains("phone"), "{refused:?}");
    assert!(refused[1].1.contains("Hạng thành viên"), "{refused:?}");
    assert_eq!(refused[2].1, "the name is empty");
    let duplicates: Vec<(u64, Option<i64>, Option<u64>)> = strict
        .duplicates
        .iter()
        .map(|d| (d.line, d.customer_id, d.same_as_line))
        .collect();
    assert_eq!(duplicates, [(3, Some(known.id), None), (5, None, Some(2))]);
    assert_eq!(
        store
            .search_customers("", "", 100)
            .await
            .expect("all")
            .len(),
        1,
        "nothing written"
    );

    let dry = ImportOptions {
        skip_refused: true,
        dry_run: true,
        ..Default::default()
    };
    let preview = store
        .import_customers(file.clone(), dry)
        .await
        .expect("dry run");
    assert!(!preview.committed && preview.imported == 1);
    assert_eq!(
        store
            .search_customers("", "", 100)
            .await
            .expect("all")
            .len(),
        1,
        "a dry run writes nothing"
    );

    let lenient = ImportOptions {
        skip_refused: true,
        ..Default::default()
    };
    let done = store
        .import_customers(file.clone(), lenient)
        .await
        .expect("import");
    assert!(done.committed);
    assert_eq!(done.imported, 1);
    let an = store
        .search_customers("nguyen van an", "", 10)
        .await
        .expect("search");
    assert_eq!(an.len(), 1);
    assert_eq!(an[0].custom_fields.get("hang"), Some(&json!("Vàng")));
    assert_eq!(an[0].emails, ["an@x.vn"]);

    let with_duplicates = ImportOptions {
        skip_refused: true,
        import_duplicates: true,
        ..Default::default()
    };
    let file = csv("name,phone\nTrần Bình,0912.000.001\n");
    let again = store
        .import_customers(file, with_duplicates)
        .await
        .expect("import");
    assert_eq!(
        (
            again.imported,
            again.duplicates.len(),
            again.duplicates[0].imported
        ),
        (1, 1, true)
    );
    assert_eq!(
        store
            .duplicate_customers(Some(known.id), 10)
            .await
            .expect("dups")
            .len(),
        1
    );

    let bad_file = customer_csv::columns(&["Số điện thoại".to_owned()], &[]);
    assert!(bad_file.is_err());
}

#[tokio::test]
async fn an_export_reads_back_as_the_same_customers() {
    let (_db, store) = crate::temp_store().await;
    tier_field(&store).await;
    let mut file = String::from("fullName,phone\n");
    for i in 0..2_100 {
        file.push_str(&format!("Khách {i},0913{i:06}\n"));
    }
    let report = store
        .import_customers(csv(&file), ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(report.imported, 2_100);
    store
        .create_customer(customer(json!({
            "fullName": "=cmd|' /C calc'!A0", "phoneNumbers": ["0912345678", "028 3822 1234"],
            "emails": ["a@x.vn", "b@x.vn"], "cif": "CIF7", "notes": "dòng 1\ndòng 2, \"trích\"",
            "customFields": {"hang": "Vàng"}
        })))
        .await
        .expect("create");
    let bytes = store.export_customers().await.expect("export");
    let table = customer_csv::read(&bytes).expect("readable");
    assert_eq!(
        table.headers,
        [
            "id",
            "fullName",
            "phoneNumbers",
            "emails",
            "cif",
            "notes",
            "hang"
        ]
    );
    assert_eq!(table.rows.len(), 2_101, "every page of the export");
    let row = &table.rows[2_100].1;
    assert_eq!(
        row[1..],
        [
            "=cmd|' /C calc'!A0",
            "+84912345678; +842838221234",
            "a@x.vn; b@x.vn",
            "CIF7",
            "dòng 1\ndòng 2, \"trích\"",
            "Vàng"
        ]
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("'=cmd"), "a formula is exported as text");

    let (_db2, target) = crate::temp_store().await;
    tier_field(&target).await;
    let report = target
        .import_customers(table, ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(
        (
            report.imported,
            report.refused.len(),
            report.ignored_columns.clone()
        ),
        (2_101, 0, vec!["id".to_owned()])
    );
    let copied = target
        .search_customers("cmd", "", 10)
        .await
        .expect("search");
    let original = store.search_customers("cmd", "", 10).await.expect("search");
    assert_eq!(copied.len(), 1);
    let strip = |c: &crate::Customer| {
        (
            c.full_name.clone(),
            c.phone_numbers.clone(),
            c.emails.clone(),
            c.cif.clone(),
            c.notes.clone(),
            c.custom_fields.clone(),
        )
    };
    assert_eq!(strip(&copied[0]), strip(&original[0]));
}
