//! Reports benchmark: what a supervisor waits for when a call center has a year of history.
//!
//! Runs the real call center (in this process, port 0, a fresh database: SQLite by default,
//! `--database-url postgres://…`) and fills it with `--calls` calls spread over the last 365 days
//! (one statement, below the store's API: 90% inbound, one in eight unanswered, 50 agents, four
//! queues, a ring-out every 20 calls), then `ANALYZE`s it (and `VACUUM`s it on PostgreSQL) as an
//! operator's autovacuum would, and
//! has the store make its daily sums from them (as after an upgrade; timed). Then it
//! asks, over HTTP as the console does, `GET /api/reports/calls` for the whole year by agent, queue
//! and day, a month by day, today, the year as CSV, a month and the year in another time zone (read
//! from the calls, not the daily sums), and `GET /api/floor`, each `--runs` times, and prints the
//! median and the slowest answer of each.
//!
//! The inbox gets `--conversations` conversations over the same year on four pages, each of
//! `MESSAGES_PER_CONVERSATION` messages (the customer and 20 agents in turn, ten minutes apart, one
//! in three resolved), and `GET /api/reports/conversations` is asked for a day, a month and a year.
//!
//! `cargo run --release -p switchboard-bench --bin reports-bench -- --help`

use std::time::Instant;
use switchboard_bench::{BenchServer, Database, command_line, database_option, machine, number};
use switchboard_callcenter::CallCenterOptions;
use switchboard_domain::UnixMillis;
use switchboard_domain::reports::{DEFAULT_TIME_ZONE, ReportPeriod};
use switchboard_storage::{NewAgent, TokenKind};
use switchboard_testkit::roles;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AGENTS: i64 = 50;

/// Console users who answer the chats, and the pages they answer on.
const CHAT_AGENTS: i64 = 20;
const PAGES: i64 = 4;
const MESSAGES_PER_CONVERSATION: u64 = 20;

struct Options {
    calls: u64,
    conversations: u64,
    runs: usize,
    database: Database,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        calls: 1_000_000,
        conversations: 50_000,
        runs: 7,
        database: Database::default(),
    };
    let usage = "reports-bench [--calls 1000000] [--conversations 50000] [--runs 7] [--database-url postgres://…|sqlite://PATH]";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        let number = number(&flag, &value)?;
        match flag.as_str() {
            "--calls" => options.calls = number.max(1),
            "--conversations" => options.conversations = number,
            "--runs" => options.runs = number.clamp(1, 1000) as usize,
            _ => return Err(format!("unknown option {flag}\n{usage}")),
        }
    }
    Ok(options)
}

/// The calls (and their ring-outs) as one statement each, the same SQL on both engines: call `i`
/// started `i` steps back from an hour ago, evenly over the year.
fn fill_statements(calls: u64, first_agent: i64, now: i64) -> [String; 3] {
    let span = 365 * 86_400_000_i64 - 3_600_000;
    let numbers = |count: u64| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {count})"
        )
    };
    let started = format!("({now} - 3600000 - i * {span} / {calls})");
    let answered = "(i % 8 <> 0)";
    let agent = format!("({first_agent} + i % {AGENTS})");
    let calls_sql = format!(
        "INSERT INTO calls (call_id, direction, caller_number, caller_normalized, called_number, queue, source,
                            status, offered_agent_id, answered_by, started_at, offered_at, answered_at, ended_at,
                            end_reason, missed)
         {numbers}
         SELECT 'bench-' || i,
                CASE WHEN i % 10 = 0 THEN 'out' ELSE 'in' END,
                '09' || (10000000 + i % 5000000), '+849' || (10000000 + i % 5000000), '1900',
                CASE i % 4 WHEN 0 THEN 'sales' WHEN 1 THEN 'support' WHEN 2 THEN 'billing' ELSE NULL END,
                'bench', 'ended',
                CASE WHEN {answered} THEN {agent} END,
                CASE WHEN {answered} THEN {agent} END,
                {started}, {started},
                CASE WHEN {answered} THEN {started} + (i * 37 % 45) * 1000 END,
                CASE WHEN {answered} THEN {started} + (i * 37 % 45) * 1000 + (30 + i * 53 % 600) * 1000
                     ELSE {started} + (i * 13 % 90) * 1000 END,
                CASE WHEN {answered} THEN 'normal_clearing' ELSE 'caller_cancel' END,
                CASE WHEN {answered} OR i % 10 = 0 THEN FALSE ELSE TRUE END
         FROM n",
        numbers = numbers(calls),
    );
    let ring_outs = format!(
        "INSERT INTO ring_outs (call_id, agent_id, queue, rang_at)
         {numbers}
         SELECT 'bench-' || (i * 20), {first_agent} + (i * 7) % {AGENTS},
                CASE (i * 20) % 4 WHEN 0 THEN 'sales' WHEN 1 THEN 'support' WHEN 2 THEN 'billing' ELSE NULL END,
                {now} - 3600000 - (i * 20) * {span} / {calls}
         FROM n",
        numbers = numbers(calls / 20),
    );
    [calls_sql, ring_outs, "ANALYZE".to_owned()]
}

/// Above any id the server's start made.
const FIRST_CONVERSATION: i64 = 10_000_000;

/// The conversations and their messages, one statement each: conversation `i` last
/// written to `i` steps back from an hour ago, evenly over the year, its messages ten minutes
/// apart before that, the customer's and an agent's in turn; one in three resolved a minute after.
fn chat_statements(conversations: u64, first_page: i64, first_user: i64, now: i64) -> [String; 2] {
    let span = 365 * 86_400_000_i64 - 3_600_000;
    let last = |i: &str| format!("({now} - 3600000 - {i} * {span} / {conversations})");
    let per = MESSAGES_PER_CONVERSATION;
    let numbers = |count: u64| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {count})"
        )
    };
    let conversations_sql = format!(
        "INSERT INTO conversations (id, account_id, thread_id, participant_id, participant_name, last_message_text,
                                    last_message_direction, last_message_at, unread_count, created_at, updated_at,
                                    status, resolved_at, resolved_by_user_id)
         {numbers}
         SELECT {FIRST_CONVERSATION} + i, {first_page} + i % {PAGES}, 'bench-t' || i, 'bench-u' || i, 'Khách ' || i, 'Dạ shop cảm ơn ạ',
                'out', {last}, 0, {last} - {per} * 600000, {last},
                CASE WHEN i % 3 = 0 THEN 'resolved' ELSE 'open' END,
                CASE WHEN i % 3 = 0 THEN {last} + 60000 END,
                CASE WHEN i % 3 = 0 THEN {first_user} + i % {CHAT_AGENTS} END
         FROM n",
        numbers = numbers(conversations),
        last = last("i"),
    );
    // Message j of conversation c = (j - 1) / per + 1, its k = (j - 1) % per; the last is k = per - 1.
    let conversation = format!("((i - 1) / {per} + 1)");
    let conversation_id = format!("({FIRST_CONVERSATION} + {conversation})");
    let messages_sql = format!(
        "INSERT INTO messages (account_id, conversation_id, platform_message_id, direction, text, status, sent_at,
                               created_at, author_user_id)
         {numbers}
         SELECT {first_page} + {conversation} % {PAGES}, {conversation_id}, 'bench-m' || i,
                CASE WHEN (i - 1) % 2 = 0 THEN 'in' ELSE 'out' END,
                'Shop ơi còn váy hoa size M không ạ', 'received',
                {last} - ({per} - 1 - (i - 1) % {per}) * 600000, {last},
                CASE WHEN (i - 1) % 2 = 1 THEN {first_user} + ({conversation} + i) % {CHAT_AGENTS} END
         FROM n",
        numbers = numbers(conversations * per),
        last = last(&conversation),
    );
    [conversations_sql, messages_sql]
}

/// Written below the store, the calls are in no daily sum yet: forgetting what the sums were made
/// with makes the store make them again, as after an upgrade or a change of time zone.
const FORGET_SUMS: &str = "DELETE FROM settings WHERE key = 'call_stats_rules'";

fn fill(database_url: &str, statements: &[String]) -> Result<(), String> {
    let error = |e: &dyn std::fmt::Display| format!("filling the calls: {e}");
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let mut connection = rusqlite::Connection::open(path).map_err(|e| error(&e))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| error(&e))?;
        let tx = connection.transaction().map_err(|e| error(&e))?;
        for sql in statements {
            tx.execute_batch(sql).map_err(|e| error(&e))?;
        }
        tx.commit().map_err(|e| error(&e))
    } else {
        let mut client =
            postgres::Client::connect(database_url, postgres::NoTls).map_err(|e| error(&e))?;
        for sql in statements {
            // Autovacuum vacuums a table after many inserts too (PostgreSQL 13 and later), which
            // marks its pages all-visible: index-only scans then skip the table.
            let sql = if sql == "ANALYZE" {
                "VACUUM ANALYZE"
            } else {
                sql
            };
            client.batch_execute(sql).map_err(|e| error(&e))?;
        }
        Ok(())
    }
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let server = BenchServer::start(
        "callcenter",
        &options.database,
        |store, _, feed, addr| async move {
            for i in 0..AGENTS {
                store
                    .create_agent(NewAgent {
                        full_name: format!("Nhân viên {i}"),
                        extension: format!("{}", 100 + i),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            roles::callcenter(&store, &feed, CallCenterOptions::default(), addr)
                .await
                .map_err(|e| e.to_string())
        },
    )?;
    let (url, store, database_url) = (
        server.url.clone(),
        server.store.clone(),
        server.database_url.clone(),
    );
    server.run_load(async move {
        let first_agent = store
            .agents()
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|a| a.id)
            .min()
            .unwrap_or(1);
        let now = UnixMillis::now();
        let filling = Instant::now();
        let mut statements = fill_statements(options.calls, first_agent, now.0).to_vec();
        statements.push(FORGET_SUMS.to_owned());
        let calls_url = database_url.clone();
        tokio::task::spawn_blocking(move || fill(&calls_url, &statements))
            .await
            .map_err(|e| e.to_string())??;
        let filled = filling.elapsed();
        let chats = if options.conversations > 0 {
            let mut first_page = i64::MAX;
            for page in 0..PAGES {
                let (account, _) = store
                    .ensure_account(
                        &format!("page_{page}"),
                        &format!("Shop {page}"),
                        switchboard_storage::AccountKind::Page,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                first_page = first_page.min(account.id);
            }
            let mut first_user = i64::MAX;
            for agent in 0..CHAT_AGENTS {
                let user = store
                    .create_user(
                        &format!("chat{agent}"),
                        &format!("Nhân viên chat {agent}"),
                        switchboard_domain::Role::Agent,
                        "bench password 123".into(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                first_user = first_user.min(user.id);
            }
            let mut statements =
                chat_statements(options.conversations, first_page, first_user, now.0).to_vec();
            statements.push("ANALYZE".to_owned());
            let filling = Instant::now();
            let database_url = database_url.clone();
            tokio::task::spawn_blocking(move || fill(&database_url, &statements))
                .await
                .map_err(|e| e.to_string())??;
            Some(filling.elapsed())
        } else {
            None
        };
        // The server's store sums by the call center's default rules, which this handle has too.
        let summing = Instant::now();
        store.keep_call_stats().await.map_err(|e| e.to_string())?;
        let summed = summing.elapsed();
        let (_, token) = store
            .issue_token(TokenKind::Api {
                name: "bench".into(),
            })
            .await
            .map_err(|e| e.to_string())?;
        println!("reports-bench on {}", machine());
        println!("database: {}", options.database.describe());
        println!(
            "{} calls over 365 days and {} ring-outs written and analyzed in {:.1} s; daily sums made from them in {:.1} s",
            options.calls,
            options.calls / 20,
            filled.as_secs_f64(),
            summed.as_secs_f64()
        );
        if let Some(took) = chats {
            println!(
                "{} conversations of {} messages on {PAGES} pages written and analyzed in {:.1} s",
                options.conversations,
                MESSAGES_PER_CONVERSATION,
                took.as_secs_f64()
            );
        }
        let day = |days_ago: i64| {
            ReportPeriod::today(DEFAULT_TIME_ZONE, UnixMillis(now.0 - days_ago * 86_400_000))
                .map(|p| p.from())
                .map_err(|e| e.to_string())
        };
        let (year, month, today) = (day(365)?, day(29)?, day(0)?);
        let asks = [
            (
                "year by agent",
                format!("/api/reports/calls?groupBy=agent&from={year}&until={today}"),
                false,
            ),
            (
                "year by queue",
                format!("/api/reports/calls?groupBy=queue&from={year}&until={today}"),
                false,
            ),
            (
                "year by day (366 rows)",
                format!("/api/reports/calls?groupBy=day&from={year}&until={today}"),
                false,
            ),
            (
                "year by day, CSV",
                format!("/api/reports/calls?groupBy=day&from={year}&until={today}"),
                true,
            ),
            (
                "30 days by day",
                format!("/api/reports/calls?groupBy=day&from={month}&until={today}"),
                false,
            ),
            (
                "today by agent",
                "/api/reports/calls?groupBy=agent".to_owned(),
                false,
            ),
            // Another zone than the business's: summed from the calls themselves.
            (
                "30 days by day, UTC",
                format!("/api/reports/calls?groupBy=day&from={month}&until={today}&timeZone=UTC"),
                false,
            ),
            (
                "year by agent, UTC",
                format!("/api/reports/calls?groupBy=agent&from={year}&until={today}&timeZone=UTC"),
                false,
            ),
            ("the live floor", "/api/floor".to_owned(), false),
        ];
        let chat_asks = [
            (
                "chats: today by page",
                "/api/reports/conversations?groupBy=page".to_owned(),
                false,
            ),
            (
                "chats: 30 days by page",
                format!("/api/reports/conversations?groupBy=page&from={month}&until={today}"),
                false,
            ),
            (
                "chats: 30 days by agent",
                format!("/api/reports/conversations?groupBy=agent&from={month}&until={today}"),
                false,
            ),
            (
                "chats: 30 days, CSV",
                format!("/api/reports/conversations?from={month}&until={today}"),
                true,
            ),
            (
                "chats: year by page",
                format!("/api/reports/conversations?groupBy=page&from={year}&until={today}"),
                false,
            ),
        ];
        let asks = asks
            .into_iter()
            .chain(chat_asks.into_iter().filter(|_| chats.is_some()));
        let http = reqwest::Client::new();
        println!(
            "{:<24} {:>10} {:>10} {:>10}",
            "ask", "median", "slowest", "count"
        );
        for (name, path, csv) in asks {
            let mut times = Vec::new();
            let mut offered = String::new();
            for _ in 0..options.runs {
                let started = Instant::now();
                let mut request = http.get(format!("{url}{path}")).bearer_auth(&token);
                if csv {
                    request = request.header("accept", "text/csv");
                }
                let response = request.send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.bytes().await.map_err(|e| e.to_string())?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                if !status.is_success() {
                    return Err(format!(
                        "{path}: {status} {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                if !csv {
                    let json: serde_json::Value =
                        serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                    let total = &json["data"]["total"];
                    offered = total["offered"]
                        .as_i64()
                        .or(total["conversations"].as_i64())
                        .or(json["data"]["today"]["offered"].as_i64())
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                }
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{name:<24} {:>7.1} ms {:>7.1} ms {offered:>10}",
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
        Ok(())
    })
}
