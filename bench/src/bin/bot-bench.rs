//! Bot benchmark: simulated accounts pushing through their spools and the uplink into the receiver.
//!
//! Runs the real receiver (in this process, on its own runtime, port 0, a fresh SQLite file) and
//! `--bots` bot runtimes with the `sim` driver (each with its own spool file, fsync'd per write, as in
//! production). Each bot invents messages at `--rate` per second (0: as fast as its spool takes them, in
//! bursts of `--burst`). A console connected to the receiver measures the delay from a message's creation
//! in the bot to the receiver's event announcing it committed. Prints messages/s committed and the delays.
//!
//! `cargo run --release -p switchboard-bench --bin bot-bench -- --help`

use std::time::{Duration, Instant};
use switchboard_bench::{
    BenchServer, Database, command_line, database_option, histogram, machine, number, quantiles,
};
use switchboard_bot::sim::{SimDriver, SimOptions};
use switchboard_bot::{Backoff, BotConfig, Driver};
use switchboard_domain::UnixMillis;
use switchboard_sioclient::Client;
use switchboard_storage::{AccountKind, TokenKind};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    bots: usize,
    seconds: u64,
    rate: u64,
    burst: usize,
    database: Database,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        bots: 20,
        seconds: 10,
        rate: 0,
        burst: 50,
        database: Database::default(),
    };
    let usage = "bot-bench [--bots 20] [--seconds 10] [--rate MESSAGES_PER_S_PER_BOT] [--burst 50]\n\
         [--database-url postgres://…|sqlite://PATH]\n\
         Without --rate each bot collects as fast as its spool takes it (the ceiling).";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        let number = number(&flag, &value)?;
        match flag.as_str() {
            "--bots" => options.bots = number.max(1) as usize,
            "--seconds" => options.seconds = number.max(1),
            "--rate" => options.rate = number,
            "--burst" => options.burst = number.max(1) as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let server = BenchServer::receiver(&options.database)?;
    let (url, store) = (server.url.clone(), server.store.clone());
    let spools = tempfile::tempdir().map_err(|e| e.to_string())?;
    let spool_dir = spools.path().to_owned();
    let result = server.run_load(async move {
        let mut tokens = Vec::new();
        for i in 0..options.bots {
            let account = format!("bench-page-{i}");
            store.ensure_account(&account, &account, AccountKind::Page).await.map_err(|e| e.to_string())?;
            let (_, token) = store.issue_token(TokenKind::Bot { account: account.clone() }).await.map_err(|e| e.to_string())?;
            tokens.push((account, token));
        }
        let (_, console_token) = store.issue_token(TokenKind::Api { name: "bench".into() }).await.map_err(|e| e.to_string())?;
        let mut console = Client::connect(&url, &serde_json::json!({"token": console_token}), "").await.map_err(|e| e.to_string())?;

        let stop = switchboard_web::Shutdown::new();
        let mut drivers = Vec::new();
        let mut bots = tokio::task::JoinSet::new();
        for (account, token) in tokens {
            let per_minute = if options.rate == 0 { 600_000.0 } else { options.rate as f64 * 60.0 / options.burst as f64 };
            let driver = SimDriver::new(SimOptions {
                messages_per_minute: per_minute,
                notifications_per_minute: 0.0,
                comments_per_minute: 0.0,
                customers: 50,
                burst: options.burst,
                ..SimOptions::default()
            });
            drivers.push(driver.clone());
            let config = BotConfig {
                spool_path: spool_dir.join(format!("{account}.db")),
                account,
                receiver_url: url.clone(),
                // No sender: this measures collection. The command side retries quietly.
                sender_url: "http://127.0.0.1:9".into(),
                token,
                bot_name: "bench".into(),
                backoff: Backoff { min: Duration::from_millis(50), max: Duration::from_millis(500) },
            };
            let wait = stop.clone();
            bots.spawn(async move { switchboard_bot::run(config, Driver::Sim(driver), async move { wait.wait().await }).await });
        }

        let mut delays = histogram();
        let mut committed: u64 = 0;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(options.seconds);
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline.into(), console.next_event()).await {
            if event.name != "new_messages" {
                continue;
            }
            let body: serde_json::Value = event.data().map_err(|e| e.to_string())?;
            let at = body["at"].as_str().and_then(|t| UnixMillis::parse_rfc3339(t).ok()).unwrap_or_else(UnixMillis::now);
            for message in body["messages"].as_array().into_iter().flatten() {
                if let Some(sent) = message["sent_at"].as_str().and_then(|t| UnixMillis::parse_rfc3339(t).ok()) {
                    let _ = delays.record(((at.0 - sent.0).max(0) as u64) * 1000);
                }
                committed += 1;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        stop.trigger();
        while bots.join_next().await.is_some() {}
        let generated: u64 = drivers.iter().map(SimDriver::generated).sum();
        println!("bot-bench on {}", machine());
        println!("database: {}", options.database.describe());
        println!(
            "{} bots, {} s, {}: {} messages collected, {} committed by the receiver ({:.0} messages/s)",
            options.bots,
            options.seconds,
            if options.rate == 0 { format!("as fast as possible, bursts of {}", options.burst) } else { format!("{} messages/s per bot", options.rate) },
            generated,
            committed,
            committed as f64 / elapsed
        );
        println!("collected → committed: {}", quantiles(&delays));
        Ok::<_, String>(())
    });
    drop(spools);
    result
}
