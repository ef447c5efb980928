//! Customers benchmark: what a business with many customers waits for. Fills a fresh database (SQLite
//! by default, `--database-url postgres://…`) with `--customers` customers through the CSV import (as
//! a business moving in would), 2% of them sharing a number or an email with an earlier one, then
//! measures: importing one more file of `--rows` rows (checked first, then written), exporting every
//! customer, the list of likely duplicates, one customer's duplicates, and merges.
//!
//! `cargo run --release -p switchboard-bench --bin customers-bench -- --help`

use std::fmt::Write as _;
use std::time::Instant;
use switchboard_bench::{
    Database, command_line, database_option, histogram, machine, number, quantiles,
};
use switchboard_domain::custom_fields::{FieldIn, FieldKind};
use switchboard_domain::customer_csv;
use switchboard_storage::{ImportOptions, StorageError, Store};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    customers: u64,
    rows: u64,
    database: Database,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        customers: 100_000,
        rows: 50_000,
        database: Database::default(),
    };
    let usage = "customers-bench [--customers 100000] [--rows 50000] [--database-url postgres://…|sqlite://PATH]";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        let number = number(&flag, &value)?;
        match flag.as_str() {
            "--customers" => options.customers = number,
            "--rows" => options.rows = number.clamp(1, customer_csv::MAX_ROWS as u64),
            _ => return Err(format!("unknown option {flag}\n{usage}")),
        }
    }
    Ok(options)
}

const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const MIDDLE: [&str; 6] = ["Văn", "Thị", "Minh", "Ngọc", "Đức", "Thu"];
const GIVEN: [&str; 8] = ["An", "Bình", "Chi", "Dũng", "Hoa", "Hùng", "Lan", "Mai"];
const TIERS: [&str; 3] = ["Bạc", "Vàng", "Kim cương"];

/// A CSV file of customers `from..from + count`; every 50th shares the number (odd) or the email
/// (even) of the customer 7 before it, as duplicates do.
fn file(from: u64, count: u64) -> Vec<u8> {
    let mut text = String::from("Họ tên,Số điện thoại,Email,Hạng thành viên,Ghi chú\r\n");
    for i in from..from + count {
        let name = format!(
            "{} {} {}",
            FAMILY[(i % 8) as usize],
            MIDDLE[(i / 8 % 6) as usize],
            GIVEN[(i / 48 % 8) as usize]
        );
        let shared = i % 50 == 49 && i >= 7;
        let number = if shared && i % 2 == 1 { i - 7 } else { i };
        let email = if shared && i % 2 == 0 { i - 7 } else { i };
        let _ = write!(
            text,
            "{name},09{number:08},khach{email}@example.vn,{},Khách từ hội chợ tháng {}\r\n",
            TIERS[(i % 3) as usize],
            i % 12 + 1
        );
    }
    text.into_bytes()
}

async fn import(
    store: &Store,
    bytes: &[u8],
    options: ImportOptions,
) -> Result<(usize, usize, f64), String> {
    let started = Instant::now();
    let table = customer_csv::read(bytes).map_err(|e| e.to_string())?;
    let report = store
        .import_customers(table, options)
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        report.imported,
        report.duplicates.len(),
        started.elapsed().as_secs_f64(),
    ))
}

async fn run(options: Options) -> Result<(), String> {
    let bench = switchboard_bench::BenchStore::open(&options.database).await?;
    let store = bench.store.clone();
    println!("customers-bench: {}", machine());
    println!("database: {}", options.database.describe());
    let tier = FieldIn {
        key: Some("hang".into()),
        label: Some("Hạng thành viên".into()),
        kind: Some(FieldKind::Choice),
        choices: Some(TIERS.map(str::to_owned).to_vec()),
        position: None,
    };
    store
        .create_custom_field(tier.definition().map_err(|e| e.to_string())?, None)
        .await
        .map_err(|e| e.to_string())?;
    let lenient = ImportOptions {
        import_duplicates: true,
        ..ImportOptions::default()
    };
    let started = Instant::now();
    let mut from = 0;
    while from < options.customers {
        let count = (options.customers - from).min(customer_csv::MAX_ROWS as u64);
        import(&store, &file(from, count), lenient).await?;
        from += count;
    }
    println!(
        "filled {} customers in {:.1} s through the import",
        options.customers,
        started.elapsed().as_secs_f64()
    );

    let bytes = file(options.customers, options.rows);
    let dry = ImportOptions {
        dry_run: true,
        ..ImportOptions::default()
    };
    let (would, duplicates, checked) = import(&store, &bytes, dry).await?;
    let (imported, _, written) = import(&store, &bytes, ImportOptions::default()).await?;
    println!(
        "import of {} rows ({:.1} MB): checked in {checked:.2} s ({would} to import, {duplicates} duplicates), imported {imported} in {written:.2} s ({:.0} rows/s)",
        options.rows,
        bytes.len() as f64 / 1e6,
        imported as f64 / written
    );

    let started = Instant::now();
    let exported = store.export_customers().await.map_err(|e| e.to_string())?;
    println!(
        "export of every customer: {:.1} MB in {:.2} s",
        exported.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let mut all = histogram();
    let mut pairs = 0;
    for _ in 0..5 {
        let started = Instant::now();
        pairs = store
            .duplicate_customers(None, 100)
            .await
            .map_err(|e| e.to_string())?
            .len();
        all.record(started.elapsed().as_micros() as u64).ok();
    }
    println!(
        "likely duplicates, first 100 pairs ({pairs} found): {}",
        quantiles(&all)
    );

    let total = options.customers + imported as u64;
    let mut one = histogram();
    for k in 0..200u64 {
        let id = (k * 7_919 % total + 1) as i64;
        let started = Instant::now();
        store
            .duplicate_customers(Some(id), 50)
            .await
            .map_err(|e| e.to_string())?;
        one.record(started.elapsed().as_micros() as u64).ok();
    }
    println!(
        "one customer's duplicates (200 customers): {}",
        quantiles(&one)
    );

    let candidates = store
        .duplicate_customers(None, 100)
        .await
        .map_err(|e| e.to_string())?;
    let mut merges = histogram();
    for pair in &candidates {
        let started = Instant::now();
        match store
            .merge_customers(pair.customer.id, vec![pair.other.id], None)
            .await
        {
            Ok(_) => merges.record(started.elapsed().as_micros() as u64).ok(),
            // In an earlier pair too, and merged away already.
            Err(StorageError::UnknownCustomer(_)) => continue,
            Err(error) => return Err(error.to_string()),
        };
    }
    println!(
        "merges of two customers ({}): {}",
        merges.len(),
        quantiles(&merges)
    );
    drop(bench);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let outcome = parse_options()
        .and_then(|options| switchboard_bench::runtime("customers-bench")?.block_on(run(options)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("customers-bench: {problem}");
            std::process::ExitCode::FAILURE
        }
    }
}
