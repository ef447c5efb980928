//! One person, one record: customers who are the same person are suggested (same number, same email,
//! same Facebook participant) and merged into one, with everything that pointed at them.

use super::{Customer, customer, fields, index_customer, set_emails, set_phones};
use crate::events::append;
use crate::sql::{Tx, args};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use switchboard_domain::customer::{MAX_EMAILS, MAX_NOTES, MAX_PHONES, push_distinct, same_email};
use switchboard_domain::{EventKind, UnixMillis, ValidationError};

/// The most customers merged into one at a time.
pub const MAX_MERGED: usize = 10;

/// The payload of `customers_merged`: consoles showing a merged customer open the survivor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomersMerged {
    /// The customer that stays.
    pub customer_id: i64,
    /// The customers merged into it, now gone.
    pub merged_ids: Vec<i64>,
    /// Who merged them.
    pub by_user_id: Option<i64>,
}

switchboard_domain::named_enum! {
    /// Why two customers look like one person.
    pub enum DuplicateKind {
        /// They have a number in common.
        Phone = "phone",
        /// They have an email in common (case ignored).
        Email = "email",
        /// They are linked to the same Facebook person on one page.
        Facebook = "facebook",
    }
}

/// One reason, with what they share (the number, the email, the person's name on Facebook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DuplicateReason {
    pub kind: DuplicateKind,
    #[schema(example = "+84912345678")]
    pub value: String,
}

/// Two customers that are likely one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DuplicatePair {
    pub customer: Customer,
    pub other: Customer,
    pub reasons: Vec<DuplicateReason>,
}

/// The pairs (`a`, `b`, kind, shared value) that share something, under `pair` (a condition on
/// `a.customer_id` and `b.customer_id`), not said to be different people.
fn shared_rows(
    tx: &Tx<'_>,
    pair: &str,
    of: Option<i64>,
    limit: usize,
) -> Result<Vec<(i64, i64, String, String)>> {
    let distinct = "NOT EXISTS (SELECT 1 FROM customer_distinct_pairs d
        WHERE d.customer_id = CASE WHEN a.customer_id < b.customer_id THEN a.customer_id ELSE b.customer_id END
          AND d.other_id = CASE WHEN a.customer_id < b.customer_id THEN b.customer_id ELSE a.customer_id END)";
    let id = of.unwrap_or_default();
    // `?1` is in the statement only when there is a customer to ask about.
    let params: &[&dyn crate::sql::ToValue] = if of.is_some() { args![id] } else { args![] };
    tx.rows(
        &format!(
            "SELECT a_id, b_id, kind, value FROM (
                 SELECT a.customer_id AS a_id, b.customer_id AS b_id, 'phone' AS kind, a.number AS value
                   FROM customer_phones a JOIN customer_phones b ON b.number = a.number
                  WHERE {pair} AND {distinct}
                 UNION ALL
                 SELECT a.customer_id, b.customer_id, 'email', lower(a.email)
                   FROM customer_emails a JOIN customer_emails b ON lower(b.email) = lower(a.email)
                  WHERE {pair} AND {distinct}
                 UNION ALL
                 SELECT a.customer_id, b.customer_id, 'facebook', ca.participant_name
                   FROM customer_conversations a
                   JOIN conversations ca ON ca.id = a.conversation_id
                   JOIN conversations cb ON cb.account_id = ca.account_id AND cb.participant_id = ca.participant_id
                   JOIN customer_conversations b ON b.conversation_id = cb.id
                  WHERE {pair} AND {distinct}
             ) shared
             ORDER BY b_id DESC, a_id DESC LIMIT {limit}"
        ),
        params,
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

/// Rows of [`shared_rows`] grouped into pairs, in the order first seen, at most `limit` pairs.
fn pairs(
    tx: &Tx<'_>,
    rows: Vec<(i64, i64, String, String)>,
    limit: usize,
) -> Result<Vec<DuplicatePair>> {
    let mut grouped: Vec<((i64, i64), Vec<DuplicateReason>)> = Vec::new();
    for (a, b, kind, value) in rows {
        let reason = DuplicateReason {
            kind: DuplicateKind::parse(&kind).unwrap_or(DuplicateKind::Phone),
            value,
        };
        let full = grouped.len() >= limit;
        match grouped.iter_mut().find(|(ids, _)| *ids == (a, b)) {
            Some((_, reasons)) if !reasons.contains(&reason) => reasons.push(reason),
            Some(_) => {}
            None if !full => grouped.push(((a, b), vec![reason])),
            None => {}
        }
    }
    grouped
        .into_iter()
        .map(|((a, b), reasons)| {
            Ok(DuplicatePair {
                customer: customer(tx, a)?,
                other: customer(tx, b)?,
                reasons,
            })
        })
        .collect()
}

/// Fills `kept` from `other` where `kept` is empty.
fn fill(kept: &mut String, other: &str) {
    if kept.is_empty() {
        *kept = other.to_owned();
    }
}

impl Store {
    /// Likely duplicates, newest first: every pair (`of` none) or the customers likely the same as
    /// `of` (then `customer` is always `of`).
    pub async fn duplicate_customers(
        &self,
        of: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DuplicatePair>> {
        let limit = limit.clamp(1, 100);
        self.read_long(move |tx| {
            if let Some(id) = of {
                customer(tx, id)?;
            }
            let pair = match of {
                Some(_) => "a.customer_id = ?1 AND b.customer_id <> a.customer_id",
                None => "b.customer_id > a.customer_id",
            };
            // Each pair shares a few things at most: enough rows for `limit` pairs.
            let rows = shared_rows(tx, pair, of, limit * 8)?;
            pairs(tx, rows, limit)
        })
        .await
    }

    /// Records that two customers are different people: never suggested as duplicates again.
    pub async fn mark_distinct_customers(&self, a: i64, b: i64) -> Result<()> {
        if a == b {
            return Err(ValidationError::new("customerId", "is the same customer").into());
        }
        self.write(move |tx| {
            customer(tx, a)?;
            customer(tx, b)?;
            tx.execute(
                "INSERT INTO customer_distinct_pairs (customer_id, other_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                args![a.min(b), a.max(b)],
            )?;
            Ok(())
        })
        .await
    }

    /// Merges `merged` into `survivor`: their numbers, emails, linked conversations, calls and field
    /// values move to it; its own name, CIF and values win, theirs fill what it lacks; notes are
    /// joined. The merged customers are deleted, and `customers_merged` tells the consoles, all in
    /// one transaction. Refused (nothing changed) when they hold different CIFs, or together more
    /// numbers, emails or notes than a customer has.
    pub async fn merge_customers(
        &self,
        survivor: i64,
        merged: Vec<i64>,
        by_user_id: Option<i64>,
    ) -> Result<Customer> {
        if merged.len() > MAX_MERGED * 4 {
            // Bounded before the work: a body may list a million ids.
            return Err(ValidationError::new(
                "customerIds",
                format!("names 1 to {MAX_MERGED} customers to merge"),
            )
            .into());
        }
        let mut merged_ids: Vec<i64> = Vec::with_capacity(merged.len());
        for id in merged {
            if !merged_ids.contains(&id) {
                merged_ids.push(id);
            }
        }
        if merged_ids.is_empty() || merged_ids.len() > MAX_MERGED {
            return Err(ValidationError::new(
                "customerIds",
                format!("names 1 to {MAX_MERGED} customers to merge"),
            )
            .into());
        }
        if merged_ids.contains(&survivor) {
            return Err(
                ValidationError::new("customerIds", "cannot merge a customer into itself").into(),
            );
        }
        self.write(move |tx| {
            let mut kept = customer(tx, survivor)?;
            let others = merged_ids
                .iter()
                .map(|&id| customer(tx, id))
                .collect::<Result<Vec<_>>>()?;
            for other in &others {
                if !kept.cif.is_empty() && !other.cif.is_empty() && kept.cif != other.cif {
                    return Err(StorageError::Conflict(format!(
                        "customer {} has CIF `{}` and customer {} has `{}`: different people to the bank; clear one first",
                        kept.id, kept.cif, other.id, other.cif
                    )));
                }
                fill(&mut kept.full_name, &other.full_name);
                fill(&mut kept.cif, &other.cif);
                let notes = other.notes.trim();
                if !notes.is_empty() && !kept.notes.contains(notes) {
                    kept.notes = if kept.notes.is_empty() {
                        notes.to_owned()
                    } else {
                        format!("{}\n\n{notes}", kept.notes)
                    };
                }
                push_distinct(&mut kept.phone_numbers, other.phone_numbers.clone(), |a, b| a == b);
                push_distinct(&mut kept.emails, other.emails.clone(), same_email);
                for (key, value) in &other.custom_fields {
                    kept.custom_fields.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
            let too_many = |what: &str, count: usize, max: usize| {
                StorageError::Conflict(format!(
                    "together they have {count} {what}, more than the {max} a customer keeps; remove some first"
                ))
            };
            if kept.phone_numbers.len() > MAX_PHONES {
                return Err(too_many("numbers", kept.phone_numbers.len(), MAX_PHONES));
            }
            if kept.emails.len() > MAX_EMAILS {
                return Err(too_many("emails", kept.emails.len(), MAX_EMAILS));
            }
            let notes_length = kept.notes.chars().count();
            if notes_length > MAX_NOTES {
                return Err(too_many("characters of notes", notes_length, MAX_NOTES));
            }
            for other in &others {
                tx.execute(
                    "INSERT INTO customer_conversations (customer_id, conversation_id)
                         SELECT ?1, conversation_id FROM customer_conversations WHERE customer_id = ?2
                         ON CONFLICT DO NOTHING",
                    args![survivor, other.id],
                )?;
                tx.execute(
                    "UPDATE calls SET customer_id = ?1 WHERE customer_id = ?2",
                    args![survivor, other.id],
                )?;
                // "Not the same person as X" stays true of the survivor.
                tx.execute(
                    "INSERT INTO customer_distinct_pairs (customer_id, other_id)
                         SELECT CASE WHEN ?1 < o THEN ?1 ELSE o END, CASE WHEN ?1 < o THEN o ELSE ?1 END FROM (
                             SELECT other_id AS o FROM customer_distinct_pairs WHERE customer_id = ?2
                             UNION SELECT customer_id FROM customer_distinct_pairs WHERE other_id = ?2
                         ) known WHERE o <> ?1
                         ON CONFLICT DO NOTHING",
                    args![survivor, other.id],
                )?;
                tx.execute("DELETE FROM customers WHERE id = ?1", args![other.id])?;
            }
            tx.execute(
                "UPDATE customers SET full_name = ?2, cif = ?3, notes = ?4, updated_at = ?5 WHERE id = ?1",
                args![survivor, kept.full_name, kept.cif, kept.notes, UnixMillis::now().0],
            )?;
            set_phones(tx, survivor, &kept.phone_numbers)?;
            set_emails(tx, survivor, &kept.emails)?;
            fields::set_values(tx, survivor, &kept.custom_fields)?;
            let merged = customer(tx, survivor)?;
            index_customer(tx, &merged)?;
            append(
                tx,
                EventKind::CustomersMerged,
                None,
                &CustomersMerged {
                    customer_id: survivor,
                    merged_ids,
                    by_user_id,
                },
            )?;
            Ok(merged)
        })
        .await
    }
}
