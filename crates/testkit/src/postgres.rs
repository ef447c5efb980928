//! Looking into a test's PostgreSQL database directly, as the SQLite tests look into the file.

/// Every value of every table of the database `url` names (its scratch schema), as bytes.
pub(crate) fn every_value(url: &str) -> Vec<u8> {
    let url = url.to_owned();
    // The synchronous client cannot run on an async runtime's thread.
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let tables: Vec<String> = client
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
                &[],
            )
            .expect("tables")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut bytes = Vec::new();
        for table in tables {
            for row in client.query(&format!("SELECT * FROM {table}"), &[]).expect("rows") {
                for (index, column) in row.columns().iter().enumerate() {
                    match *column.type_() {
                        postgres::types::Type::BYTEA => {
                            let value: Option<&[u8]> = row.get(index);
                            bytes.extend(value.unwrap_or_default());
                        }
                        postgres::types::Type::TEXT => {
                            let value: Option<&str> = row.get(index);
                            bytes.extend(value.unwrap_or_default().as_bytes());
                        }
                        _ => {}
                    }
                    bytes.push(b'\n');
                }
            }
        }
        bytes
    })
    .join()
    .expect("the reading thread")
}

/// One number from the database `url` names.
pub(crate) async fn count(url: String, sql: &'static str) -> i64 {
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        client.query_one(sql, &[]).expect("count").get(0)
    })
    .await
    .expect("join")
}
