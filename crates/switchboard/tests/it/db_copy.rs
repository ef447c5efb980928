//! `switchboard db copy`: a SQLite database moved into the test's database (PostgreSQL when the
//! environment names a server), ids and tokens kept, and a second copy refused.

use crate::{add_bot, cli, error_line, refused, switchboard};
use switchboard_storage::Store;
use switchboard_testkit::TestDir;

#[tokio::test]
async fn a_sqlite_database_is_copied_with_its_tokens_and_a_second_copy_is_refused() {
    let dir = TestDir::create().expect("test dir");
    // The subcommands below fill the SQLite file the command line is given by default.
    let token = add_bot(dir.path(), "page1");
    cli(dir.path(), &["tokens", "add", "crm"]);
    let from = format!("sqlite://{}", dir.path().join("sb.db").display());
    let to = dir.database_url();

    let report = cli(dir.path(), &["db", "copy", "--from", &from, "--to", to]);
    let rows = |table: &str| -> u64 {
        report
            .lines()
            .find_map(|line| {
                let (name, rows) = line.rsplit_once(' ')?;
                (name.trim() == table).then(|| rows.trim().parse().expect("a count"))
            })
            .unwrap_or_else(|| panic!("no {table} in {report}"))
    };
    assert_eq!(rows("facebook_accounts"), 1, "{report}");
    assert_eq!(rows("auth_tokens"), 2, "{report}");

    let source = Store::open(&from).await.expect("source");
    let target = Store::open(to).await.expect("target");
    assert!(target.authenticate(&token).await.expect("auth").is_some());
    assert_eq!(
        target.last_event_id().await.expect("last"),
        source.last_event_id().await.expect("last")
    );
    assert_eq!(
        i64::try_from(rows("last event id")).expect("id"),
        source.last_event_id().await.expect("last")
    );
    target.close().await;
    source.close().await;

    let again = refused(switchboard(dir.path()).args(["db", "copy", "--from", &from, "--to", to]));
    let line = error_line(&again);
    assert!(
        line.contains("already holds data"),
        "one line saying why: {again}"
    );
    let missing = refused(switchboard(dir.path()).args([
        "db",
        "copy",
        "--from",
        "sqlite://no-such.db",
        "--to",
        to,
    ]));
    assert!(
        error_line(&missing).contains("no database at no-such.db"),
        "{missing}"
    );
}
