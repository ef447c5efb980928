//! Customers: found by any spelling of their phone number, linked to their Facebook conversations,
//! with the fields a business defines (`fields`), merged when they are one person (`merge`), and in
//! and out of spreadsheets (`spreadsheets`).

mod fields;
mod merge;
#[cfg(test)]
mod one_customer_tests;
mod spreadsheets;

pub use fields::CustomField;
pub use merge::{CustomersMerged, DuplicateKind, DuplicatePair, DuplicateReason};
pub use spreadsheets::{ImportOptions, ImportReport, ImportedDuplicate, RefusedRow};

use crate::search::{self, Source, Spelling};
use crate::sql::{Tx, args};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use switchboard_domain::UnixMillis;
use switchboard_domain::customer::CustomerFields;
use switchboard_domain::search::{Document, SearchQuery};

/// A customer as the call center's API shows it (camelCase, like the seed's `customerInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[schema(example = 12)]
    pub id: i64,
    #[schema(example = "Nguyễn Văn An")]
    pub full_name: String,
    /// The main number (the first), or `""` when there is none.
    #[schema(example = "+84912345678")]
    pub phone_number: String,
    /// Every number, normalised, the main one first.
    #[schema(example = json!(["+84912345678", "+842838221234"]))]
    pub phone_numbers: Vec<String>,
    /// The main email (the first), or `""` when there is none.
    #[schema(example = "an.nguyen@example.vn")]
    pub email: String,
    /// Every email, the main one first.
    #[schema(example = json!(["an.nguyen@example.vn"]))]
    pub emails: Vec<String>,
    /// `""` when unknown, as are `notes`.
    #[schema(example = "CIF001230022")]
    pub cif: String,
    #[schema(example = "Khách hàng thân thiết, thích được gọi buổi sáng")]
    pub notes: String,
    /// The Facebook conversations linked to the customer.
    #[schema(example = json!([42]))]
    pub conversation_ids: Vec<i64>,
    /// Values of the fields an admin defined (`GET /api/customer-fields`), by key; a field without a
    /// value is left out. Numbers are JSON numbers, dates `YYYY-MM-DD`.
    #[schema(value_type = Object, example = json!({"hang_thanh_vien": "Vàng", "ngay_sinh": "1990-05-17"}))]
    pub custom_fields: BTreeMap<String, Value>,
}

/// The words a customer is found by: name, CIF, emails.
pub(crate) fn words(full_name: &str, cif: &str, emails: &[String]) -> Document {
    let mut fields: Vec<&str> = vec![full_name, cif];
    fields.extend(emails.iter().map(String::as_str));
    Document::of(&fields)
}

pub(crate) fn document(customer: &Customer) -> Document {
    words(&customer.full_name, &customer.cif, &customer.emails)
}

/// Keeps the customer's name, emails and CIF findable (`search`).
fn index_customer(tx: &Tx<'_>, customer: &Customer) -> Result<()> {
    search::reindex(tx, Source::Customers, &[(customer.id, document(customer))])
}

pub(crate) fn customer(tx: &Tx<'_>, id: i64) -> Result<Customer> {
    let (full_name, cif, notes): (String, String, String) = tx
        .optional(
            "SELECT full_name, cif, notes FROM customers WHERE id = ?1",
            args![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
        .ok_or(StorageError::UnknownCustomer(id))?;
    let phone_numbers = tx.rows(
        "SELECT number FROM customer_phones WHERE customer_id = ?1 ORDER BY rowid",
        args![id],
        |r| r.get::<String>(0),
    )?;
    let emails = tx.rows(
        "SELECT email FROM customer_emails WHERE customer_id = ?1 ORDER BY rowid",
        args![id],
        |r| r.get::<String>(0),
    )?;
    let conversation_ids = tx.rows("SELECT conversation_id FROM customer_conversations WHERE customer_id = ?1 ORDER BY conversation_id", args![id], |r| r.get::<i64>(0))?;
    Ok(Customer {
        id,
        full_name,
        phone_number: phone_numbers.first().cloned().unwrap_or_default(),
        phone_numbers,
        email: emails.first().cloned().unwrap_or_default(),
        emails,
        cif,
        notes,
        conversation_ids,
        custom_fields: fields::values_of(tx, id)?,
    })
}

fn set_phones(tx: &Tx<'_>, id: i64, phones: &[String]) -> Result<()> {
    tx.execute(
        "DELETE FROM customer_phones WHERE customer_id = ?1",
        args![id],
    )?;
    for number in phones {
        tx.execute(
            "INSERT INTO customer_phones (customer_id, number) VALUES (?1, ?2)",
            args![id, number],
        )?;
    }
    Ok(())
}

fn set_emails(tx: &Tx<'_>, id: i64, emails: &[String]) -> Result<()> {
    tx.execute(
        "DELETE FROM customer_emails WHERE customer_id = ?1",
        args![id],
    )?;
    for email in emails {
        tx.execute(
            "INSERT INTO customer_emails (customer_id, email) VALUES (?1, ?2)",
            args![id, email],
        )?;
    }
    Ok(())
}

/// A new customer from checked fields, written as an import writes its rows, and read back.
pub(crate) fn insert_customer(tx: &Tx<'_>, fields: &CustomerFields, now: i64) -> Result<Customer> {
    let ids = spreadsheets::write_customers(tx, std::slice::from_ref(fields), now)?;
    let id = ids
        .first()
        .copied()
        .ok_or_else(|| StorageError::Corrupt("no id reserved for a new customer".into()))?;
    customer(tx, id)
}

impl Store {
    /// The customers as a caller who sees `view` may read them: the conversations of accounts
    /// outside it are left out of `conversation_ids` (their ids would say the customer wrote there).
    pub async fn customers_seen_by(
        &self,
        mut customers: Vec<Customer>,
        view: &switchboard_domain::AccountView,
    ) -> Result<Vec<Customer>> {
        let ids = customers
            .iter()
            .flat_map(|c| c.conversation_ids.iter().copied())
            .collect();
        let visible = self.visible_conversations(ids, view).await?;
        for customer in &mut customers {
            customer.conversation_ids.retain(|id| visible.contains(id));
        }
        Ok(customers)
    }

    /// One customer as [`Store::customers_seen_by`] answers them.
    pub async fn customer_seen_by(
        &self,
        mut customer: Customer,
        view: &switchboard_domain::AccountView,
    ) -> Result<Customer> {
        let visible = self
            .visible_conversations(customer.conversation_ids.clone(), view)
            .await?;
        customer.conversation_ids.retain(|id| visible.contains(id));
        Ok(customer)
    }

    /// Which of the conversations `ids` belong to accounts inside `view`.
    async fn visible_conversations(
        &self,
        ids: Vec<i64>,
        view: &switchboard_domain::AccountView,
    ) -> Result<std::collections::HashSet<i64>> {
        if ids.is_empty() || matches!(view, switchboard_domain::AccountView::All) {
            return Ok(ids.into_iter().collect());
        }
        let view = view.clone();
        let visible = self
            .read(move |tx| {
                let clause = crate::access::view_clause(tx, &view, "account_id")?;
                // Ids read from the database, never a caller's text.
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                tx.rows(
                    &format!(
                        "SELECT id FROM conversations WHERE id IN ({}) AND {clause}",
                        list.join(", ")
                    ),
                    args![],
                    |r| r.get::<i64>(0),
                )
            })
            .await?;
        Ok(visible.into_iter().collect())
    }

    pub async fn create_customer(&self, fields: CustomerFields) -> Result<Customer> {
        self.write(move |tx| insert_customer(tx, &fields, UnixMillis::now().0))
            .await
    }

    /// Changes the given fields; a given list of phone numbers replaces the old one.
    pub async fn update_customer(&self, id: i64, fields: CustomerFields) -> Result<Customer> {
        self.write(move |tx| {
            customer(tx, id)?;
            tx.execute(
                "UPDATE customers SET full_name = COALESCE(?2, full_name),
                     cif = COALESCE(?3, cif), notes = COALESCE(?4, notes), updated_at = ?5 WHERE id = ?1",
                args![id, fields.full_name, fields.cif, fields.notes, UnixMillis::now().0],
            )?;
            if let Some(phones) = &fields.phones {
                set_phones(tx, id, phones)?;
            }
            if let Some(emails) = &fields.emails {
                set_emails(tx, id, emails)?;
            }
            fields::set_values(tx, id, &fields.custom)?;
            let updated = customer(tx, id)?;
            index_customer(tx, &updated)?;
            Ok(updated)
        })
        .await
    }

    pub async fn customer(&self, id: i64) -> Result<Customer> {
        self.read(move |tx| customer(tx, id)).await
    }

    /// Customers with this number. `exact`: the normalised number itself; otherwise any number whose
    /// digits contain `digits` (a partial number, national zero dropped: `domain::phone::search_digits`).
    pub async fn customers_by_phone(
        &self,
        number: &str,
        exact: bool,
        limit: usize,
    ) -> Result<Vec<Customer>> {
        let (number, limit) = (number.to_owned(), limit.clamp(1, 100));
        self.read(move |tx| {
            let ids = if exact {
                tx.rows(&format!(
                    "SELECT DISTINCT customer_id FROM customer_phones WHERE number = ?1 ORDER BY customer_id LIMIT {limit}"
                ), args![&number], |r| r.get::<i64>(0))?
            } else {

                tx.rows(&format!(
                    "SELECT DISTINCT customer_id FROM customer_phones WHERE number LIKE ?1 ESCAPE '\\' ORDER BY customer_id LIMIT {limit}"
                ), args![crate::inbox::like_pattern(&number)], |r| r.get::<i64>(0))?
            };
            ids.into_iter().map(|id| customer(tx, id)).collect()
        })
        .await
    }

    /// Customers whose name, email or CIF has the words of `text` (case and accents ignored, the
    /// last word as a prefix: `domain::search`), or one of whose numbers contains `digits`
    /// (`domain::phone::search_digits` of the same text; empty to skip). Typed with accents, those
    /// that have them as typed come first; then by name. No text at all: everyone, by name.
    pub async fn search_customers(
        &self,
        text: &str,
        digits: &str,
        limit: usize,
    ) -> Result<Vec<Customer>> {
        let limit = limit.clamp(1, 100);
        let query = SearchQuery::parse(text);
        let digits = (!digits.is_empty()).then(|| crate::inbox::like_pattern(digits));
        let everyone = text.trim().is_empty() && digits.is_none();
        if query.is_none() && digits.is_none() && !everyone {
            // Only punctuation: nothing can match it.
            return Ok(Vec::new());
        }
        self.read_long(move |tx| {
            let dialect = tx.dialect();
            let (folded, exact) = match &query {
                Some(query) => (
                    Some(search::match_text(dialect, query, Spelling::Folded)),
                    Some(search::match_text(dialect, query, Spelling::Exact)),
                ),
                None => (None, None),
            };
            let by_words = |spelling, param| match &query {
                Some(_) => search::id_among(dialect, "id", &search::matching_ids(dialect, Source::Customers, spelling, param)),
                None => format!("CAST(?{param} AS TEXT) IS NOT NULL"),
            };
            let ids = search::with_custom_plans(tx, || tx.rows(
                &format!(
                    "SELECT id FROM customers c
                     WHERE ?4 OR {}
                        OR (CAST(?2 AS TEXT) IS NOT NULL AND EXISTS (
                            SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id AND p.number LIKE ?2 ESCAPE '\\'))
                     ORDER BY CASE WHEN {} THEN 0 ELSE 1 END, full_name, id LIMIT {limit}",
                    by_words(Spelling::Folded, 1),
                    by_words(Spelling::Exact, 3),
                ),
                args![folded, digits, exact, everyone],
                |r| r.get::<i64>(0),
            ))?;
            ids.into_iter().map(|id| customer(tx, id)).collect()
        })
        .await
    }

    /// The customers a Facebook conversation is linked to (usually one), by name.
    pub async fn customers_of_conversation(&self, conversation_id: i64) -> Result<Vec<Customer>> {
        self.read(move |tx| {
            let ids = tx.rows(
                "SELECT c.id FROM customer_conversations l JOIN customers c ON c.id = l.customer_id
                     WHERE l.conversation_id = ?1 ORDER BY c.full_name, c.id LIMIT 100",
                args![conversation_id],
                |r| r.get::<i64>(0),
            )?;
            ids.into_iter().map(|id| customer(tx, id)).collect()
        })
        .await
    }

    /// Links a Facebook conversation to the customer (idempotent).
    pub async fn link_conversation(
        &self,
        customer_id: i64,
        conversation_id: i64,
    ) -> Result<Customer> {
        self.write(move |tx| {
            customer(tx, customer_id)?;
            crate::inbox::conversation(tx, conversation_id)?;
            tx.execute(
                "INSERT INTO customer_conversations (customer_id, conversation_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                args![customer_id, conversation_id],
            )?;
            customer(tx, customer_id)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::customer::CustomerIn;
    use switchboard_domain::phone;

    fn fields(name: &str, phones: &[&str]) -> CustomerFields {
        CustomerIn {
            full_name: Some(name.into()),
            phone_numbers: Some(phones.iter().map(|p| (*p).to_owned()).collect()),
            ..Default::default()
        }
        .validate()
        .expect("valid")
    }

    #[tokio::test]
    async fn every_spelling_of_a_number_finds_the_customer() {
        let (_dir, store) = crate::temp_store().await;
        let an = store
            .create_customer(fields("Nguyễn Văn An", &["0912 345 678"]))
            .await
            .expect("create");
        store
            .create_customer(fields("Trần Bình", &["0987 654 321"]))
            .await
            .expect("create");
        for spelling in ["+84912345678", "84912345678", "0912.345.678"] {
            let number = phone::normalize(spelling).expect("number");
            let found = store
                .customers_by_phone(&number, true, 10)
                .await
                .expect("search");
            assert_eq!(
                found.iter().map(|c| c.id).collect::<Vec<_>>(),
                [an.id],
                "{spelling}"
            );
        }
        let partial = store
            .customers_by_phone(&phone::search_digits("345 678"), false, 10)
            .await
            .expect("search");
        assert_eq!(partial.len(), 1);
        assert_eq!(partial[0].phone_number, "+84912345678");
        assert!(
            store
                .customers_by_phone("+84900000000", true, 10)
                .await
                .expect("search")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn edits_replace_numbers_and_keep_the_rest() {
        let (_dir, store) = crate::temp_store().await;
        let c = store
            .create_customer(fields("Lê Thị Hoa", &["0912345678", "0283 822 1234"]))
            .await
            .expect("create");
        assert_eq!(c.phone_numbers.len(), 2);
        let changes = CustomerIn {
            phone_number: Some("0909 000 111".into()),
            cif: Some("CIF001230022".into()),
            ..Default::default()
        }
        .validate()
        .expect("valid");
        let edited = store.update_customer(c.id, changes).await.expect("update");
        assert_eq!(
            (edited.full_name.as_str(), edited.cif.as_str()),
            ("Lê Thị Hoa", "CIF001230022")
        );
        assert_eq!(edited.phone_numbers, ["+84909000111"]);
        assert!(matches!(
            store.update_customer(999, CustomerFields::default()).await,
            Err(StorageError::UnknownCustomer(999))
        ));
    }

    #[tokio::test]
    async fn conversations_are_linked_once() {
        use switchboard_domain::ingest::{Batch, Direction, NewMessage};
        let (_dir, store) = crate::temp_store().await;
        store
            .ensure_account("page1", "", crate::AccountKind::Page)
            .await
            .expect("account");
        let message = NewMessage {
            message_id: "m1".into(),
            thread_id: "t1".into(),
            participant_id: "p1".into(),
            participant_name: "An".into(),
            direction: Direction::In,
            text: "alo".into(),
            attachments: vec![],
            sent_at: UnixMillis::now(),
        };
        store
            .ingest_messages(Batch {
                account: "page1".into(),
                items: vec![message],
            })
            .await
            .expect("ingest");
        let conversation = store
            .conversations("page1", Default::default(), None, 1)
            .await
            .expect("list")
            .items[0]
            .id;
        let c = store
            .create_customer(fields("An", &["0912345678"]))
            .await
            .expect("create");
        store
            .link_conversation(c.id, conversation)
            .await
            .expect("link");
        let linked = store
            .link_conversation(c.id, conversation)
            .await
            .expect("link again");
        assert_eq!(linked.conversation_ids, [conversation]);
        assert!(matches!(
            store.link_conversation(c.id, 999).await,
            Err(StorageError::UnknownConversation(999))
        ));
    }

    #[tokio::test]
    async fn a_customer_shows_only_the_conversations_of_pages_the_caller_sees() {
        use crate::ingest::tests::batch_in_thread;
        use switchboard_domain::AccountView;
        let (_dir, store) = crate::temp_store().await;
        let c = store
            .create_customer(fields("An", &["0912345678"]))
            .await
            .expect("create");
        let mut linked = Vec::new();
        for page in ["page1", "page2"] {
            store
                .ensure_account(page, "", crate::AccountKind::Page)
                .await
                .expect("account");
            store
                .ingest_messages(batch_in_thread(page, "t1", &[&format!("{page}-m1")]))
                .await
                .expect("ingest");
            let conversation = store
                .conversations(page, Default::default(), None, 1)
                .await
                .expect("list")
                .items[0]
                .id;
            store
                .link_conversation(c.id, conversation)
                .await
                .expect("link");
            linked.push(conversation);
        }
        let customer = store.customer(c.id).await.expect("customer");
        assert_eq!(customer.conversation_ids, linked);
        let all = store
            .customer_seen_by(customer.clone(), &AccountView::All)
            .await
            .expect("all");
        assert_eq!(all.conversation_ids, linked);
        let hidden = AccountView::Except(["page2".to_owned()].into());
        let seen = store
            .customer_seen_by(customer.clone(), &hidden)
            .await
            .expect("seen");
        assert_eq!(seen.conversation_ids, [linked[0]]);
        let only = AccountView::Only(["page2".to_owned()].into());
        let listed = store
            .customers_seen_by(vec![customer], &only)
            .await
            .expect("listed");
        assert_eq!(listed[0].conversation_ids, [linked[1]]);
    }
}
