//! Customers from and to CSV files (`domain::customer_csv`): an import is checked whole, reported row
//! by row, and written in one transaction or not at all.

use super::fields;
use crate::search::{self, Source};
use crate::sql::{Dialect, Tx, args};
use crate::{Result, Store};
use serde::Serialize;
use std::collections::HashMap;
use switchboard_domain::UnixMillis;
use switchboard_domain::customer::CustomerFields;
use switchboard_domain::customer_csv::{self, Table, Writer};

/// How an import treats what it finds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the good rows when some are refused (otherwise a refused row stops the whole file).
    pub skip_refused: bool,
    /// Import rows whose number another customer (or an earlier row) has (otherwise they are left out).
    pub import_duplicates: bool,
    /// Only report: nothing is written.
    pub dry_run: bool,
}

/// A row whose number is already known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedDuplicate {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    #[schema(example = "+84912345678")]
    pub number: String,
    /// The customer who already has the number…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    /// …or the earlier line of the file that has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as_line: Option<u64>,
    /// Whether the row was imported anyway (`duplicates=import`).
    pub imported: bool,
}

/// A row that cannot be a customer, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefusedRow {
    pub line: u64,
    #[schema(example = "column `phone`: `0912` is not a phone number")]
    pub reason: String,
}

/// What an import did (or, refused or dry, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Rows in the file (blank lines aside).
    pub rows: usize,
    /// Customers created (or that would be, for a dry run or a refused file).
    pub imported: usize,
    /// Whether anything was written: false for a dry run and for a file with refused rows.
    pub committed: bool,
    pub duplicates: Vec<ImportedDuplicate>,
    pub refused: Vec<RefusedRow>,
    /// Headers that fill in nothing (left out).
    pub ignored_columns: Vec<String>,
}

/// An import at least this big refreshes PostgreSQL's statistics of the customers' tables.
const ANALYZE_AFTER: usize = 1_000;

/// How many numbers one lookup of known numbers asks about (padded to it, so one statement text).
const LOOKUP_CHUNK: usize = 256;

/// Which of `numbers` customers already have, each with the first such customer, asked a chunk of
/// numbers at a time (on PostgreSQL each question is a round trip).
fn known_numbers(tx: &Tx<'_>, numbers: &[&String]) -> Result<HashMap<String, i64>> {
    let placeholders: Vec<String> = (1..=LOOKUP_CHUNK).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "SELECT number, MIN(customer_id) FROM customer_phones WHERE number IN ({}) GROUP BY number",
        placeholders.join(", ")
    );
    let mut known = HashMap::new();
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let last = chunk[chunk.len() - 1];
        let padded: Vec<&dyn crate::sql::ToValue> = (0..LOOKUP_CHUNK)
            .map(|i| chunk.get(i).copied().unwrap_or(last) as &dyn crate::sql::ToValue)
            .collect();
        for (number, id) in tx.rows(&sql, &padded, |r| {
            Ok((r.get::<String>(0)?, r.get::<i64>(1)?))
        })? {
            known.insert(number, id);
        }
    }
    Ok(known)
}

/// The report, and the customers to create, for a file as the database stands.
fn plan(
    tx: &Tx<'_>,
    table: &Table,
    options: ImportOptions,
) -> Result<(ImportReport, Vec<CustomerFields>)> {
    let definitions: Vec<_> = fields::all(tx)?
        .iter()
        .map(fields::CustomField::definition)
        .collect();
    let (columns, ignored_columns) = customer_csv::columns(&table.headers, &definitions)?;
    let mut report = ImportReport {
        rows: table.rows.len(),
        imported: 0,
        committed: false,
        duplicates: Vec::new(),
        refused: Vec::new(),
        ignored_columns,
    };
    let mut checked = Vec::with_capacity(table.rows.len());
    for (line, cells) in &table.rows {
        match customer_csv::customer(cells, &columns, &table.headers, &definitions) {
            Ok(fields) => checked.push((*line, fields)),
            Err(reason) => report.refused.push(RefusedRow {
                line: *line,
                reason,
            }),
        }
    }
    let numbers: Vec<&String> = checked
        .iter()
        .flat_map(|(_, fields)| fields.phones.iter().flatten())
        .collect();
    let known = known_numbers(tx, &numbers)?;
    let mut to_create = Vec::with_capacity(checked.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, fields) in checked {
        let mut duplicate = false;
        for number in fields.phones.as_deref().unwrap_or_default() {
            let known = known.get(number).copied();
            let earlier = seen.get(number).copied();
            if known.is_some() || earlier.is_some() {
                duplicate = true;
                report.duplicates.push(ImportedDuplicate {
                    line,
                    number: number.clone(),
                    customer_id: known,
                    same_as_line: earlier.filter(|_| known.is_none()),
                    imported: options.import_duplicates,
                });
            }
        }
        if duplicate && !options.import_duplicates {
            continue;
        }
        for number in fields.phones.as_deref().unwrap_or_default() {
            seen.entry(number.clone()).or_insert(line);
        }
        to_create.push(fields);
    }
    report.imported = to_create.len();
    Ok((report, to_create))
}

/// Ids for `count` new customers, taken before they are written so that every row of an import can
/// be sent without waiting for its id: past the largest on SQLite (one writer at a time), from the
/// identity's sequence on PostgreSQL.
fn reserve_ids(tx: &Tx<'_>, count: usize) -> Result<Vec<i64>> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    match tx.dialect() {
        Dialect::Sqlite => {
            let largest: i64 = tx.one("SELECT COALESCE(MAX(id), 0) FROM customers", args![], |r| r.get(0))?;
            Ok((largest + 1..=largest + count).collect())
        }
        Dialect::Postgres => tx.rows(
            "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, CAST(?1 AS BIGINT))",
            args![count],
            |r| r.get(0),
        ),
    }
}

/// Writes checked customers (an import's, or the one `POST /api/customers` makes) and indexes them;
/// answers their ids. Every statement is sent without waiting for its answer (PostgreSQL's pipeline):
/// what makes an import of 50,000 rows seconds rather than minutes.
pub(super) fn write_customers(
    tx: &Tx<'_>,
    customers: &[CustomerFields],
    now: i64,
) -> Result<Vec<i64>> {
    let definitions = fields::all(tx)?;
    let ids = reserve_ids(tx, customers.len())?;
    let mut documents = Vec::with_capacity(customers.len());
    for (&id, fields) in ids.iter().zip(customers) {
        let (name, cif) = (
            fields.full_name.as_deref().unwrap_or_default(),
            fields.cif.as_deref().unwrap_or_default(),
        );
        tx.execute_pipelined(
            "INSERT INTO customers (id, full_name, cif, notes, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            args![id, name, cif, fields.notes.as_deref().unwrap_or_default(), now],
        )?;
        for number in fields.phones.iter().flatten() {
            tx.execute_pipelined(
                "INSERT INTO customer_phones (customer_id, number) VALUES (?1, ?2)",
                args![id, number],
            )?;
        }
        let emails = fields.emails.clone().unwrap_or_default();
        for email in &emails {
            tx.execute_pipelined(
                "INSERT INTO customer_emails (customer_id, email) VALUES (?1, ?2)",
                args![id, email],
            )?;
        }
        for (key, raw) in &fields.custom {
            let name = format!(
                "customFields.{}",
                switchboard_domain::validation::clip(key, 40)
            );
            let field = definitions.iter().find(|f| &f.key == key).ok_or_else(|| {
                switchboard_domain::ValidationError::new(
                    &name,
                    "no such field; an admin defines fields",
                )
            })?;
            if let Some(value) = field.definition().value(&name, raw)? {
                tx.execute_pipelined(
                    "INSERT INTO customer_field_values (customer_id, field_id, value) VALUES (?1, ?2, ?3)",
                    args![id, field.id, value],
                )?;
            }
        }
        documents.push((id, super::words(name, cif, &emails)));
    }
    search::index(tx, Source::Customers, &documents)?;
    Ok(ids)
}

impl Store {
    /// Imports customers from a file read by `domain::customer_csv::read`. A file with refused rows
    /// writes nothing unless `skip_refused`; either way the report names every refused row and every
    /// known number.
    pub async fn import_customers(
        &self,
        table: Table,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        if options.dry_run {
            return self
                .read_long(move |tx| plan(tx, &table, options).map(|(report, _)| report))
                .await;
        }
        self.write(move |tx| {
            let (mut report, to_create) = plan(tx, &table, options)?;
            if !report.refused.is_empty() && !options.skip_refused {
                return Ok(report);
            }
            write_customers(tx, &to_create, UnixMillis::now().0)?;
            if tx.dialect() == Dialect::Postgres && to_create.len() >= ANALYZE_AFTER {
                // The planner's picture of tables a big import just grew, before autovacuum gets to
                // them (up to a minute): without it the duplicates' joins scan whole tables.
                tx.execute(
                    "ANALYZE customers, customer_phones, customer_emails, customer_field_values",
                    args![],
                )?;
            }
            report.committed = true;
            Ok(report)
        })
        .await
    }

    /// Every customer as a CSV file (`domain::customer_csv::Writer`), by id: the columns an import
    /// reads back, then one per field an admin defined, by key.
    pub async fn export_customers(&self) -> Result<Vec<u8>> {
        self.read_long(|tx| {
            let fields = fields::all(tx)?;
            let mut headers = vec!["id", "fullName", "phoneNumbers", "emails", "cif", "notes"];
            headers.extend(fields.iter().map(|f| f.key.as_str()));
            let mut writer = Writer::new(&headers);
            let mut after = 0i64;
            loop {
                let page = page_of_customers(tx, after, &fields)?;
                let Some(last) = page.last() else { break };
                after = last[0].parse().unwrap_or(i64::MAX);
                for row in &page {
                    writer.row(row.iter().map(String::as_str));
                }
            }
            Ok(writer.finish())
        })
        .await
    }
}

/// How many customers an export reads at a time.
const EXPORT_PAGE: i64 = 2_000;

/// The next customers after id `after`, as rows of an export, read with one query per table.
fn page_of_customers(
    tx: &Tx<'_>,
    after: i64,
    fields: &[fields::CustomField],
) -> Result<Vec<Vec<String>>> {
    let customers = tx.rows(
        &format!("SELECT id, full_name, cif, notes FROM customers WHERE id > ?1 ORDER BY id LIMIT {EXPORT_PAGE}"),
        args![after],
        |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?, r.get::<String>(3)?)),
    )?;
    let Some(&(last, ..)) = customers.last() else {
        return Ok(Vec::new());
    };
    let mut lists: HashMap<(i64, &str), Vec<String>> = HashMap::new();
    for (table, column) in [("customer_phones", "number"), ("customer_emails", "email")] {
        let rows = tx.rows(
            &format!("SELECT customer_id, {column} FROM {table} WHERE customer_id > ?1 AND customer_id <= ?2 ORDER BY customer_id, rowid"),
            args![after, last],
            |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
        )?;
        for (id, value) in rows {
            lists.entry((id, table)).or_default().push(value);
        }
    }
    let values = tx.rows(
        "SELECT customer_id, field_id, value FROM customer_field_values WHERE customer_id > ?1 AND customer_id <= ?2",
        args![after, last],
        |r| Ok(((r.get::<i64>(0)?, r.get::<i64>(1)?), r.get::<String>(2)?)),
    )?;
    let values: HashMap<(i64, i64), String> = values.into_iter().collect();
    Ok(customers
        .into_iter()
        .map(|(id, name, cif, notes)| {
            let list = |table| {
                lists
                    .get(&(id, table))
                    .map(|l| l.join("; "))
                    .unwrap_or_default()
            };
            let mut row = vec![
                id.to_string(),
                name,
                list("customer_phones"),
                list("customer_emails"),
                cif,
                notes,
            ];
            row.extend(
                fields
                    .iter()
                    .map(|f| values.get(&(id, f.id)).cloned().unwrap_or_default()),
            );
            row
        })
        .collect())
}
