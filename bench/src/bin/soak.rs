//! Soak: the real `switchboard serve` process under sustained ingest, consoles and sends for a long
//! time, sampling what must stay flat: its resident memory, its open descriptors, and the WAL.
//!
//! Starts the release binary on a fresh data directory (ports 0), makes bot and API tokens with its own
//! command line, then for `--minutes`: `--bots` bots post batches of 100 messages at `--rate`
//! messages/s in all, `--consoles` Socket.IO clients take every event, and an integrator sends
//! `--sends` replies a second, which the bots (connected to the sender) acknowledge and report sent.
//! Every `--sample` seconds it prints one line; at the end, the first and last samples and the largest.
//!
//! `cargo build --release -p switchboard -p switchboard-bench && target/release/soak --minutes 30`

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchboard_bench::{UNLIMITED_CONFIG, command_line, machine, number};
use switchboard_sioclient::Client;

struct Options {
    binary: PathBuf,
    minutes: u64,
    rate: u64,
    bots: usize,
    consoles: usize,
    sends: u64,
    sample: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        binary: PathBuf::from("target/release/switchboard"),
        minutes: 30,
        rate: 10_000,
        bots: 8,
        consoles: 20,
        sends: 200,
        sample: 60,
    };
    let usage = "soak [--binary target/release/switchboard] [--minutes 30] [--rate 10000] [--bots 8] \
                 [--consoles 20] [--sends 200] [--sample 60]";
    for (flag, value) in command_line(usage)? {
        match flag.as_str() {
            "--binary" => options.binary = PathBuf::from(value),
            "--minutes" => options.minutes = number(&flag, &value)?,
            "--rate" => options.rate = number(&flag, &value)?,
            "--bots" => options.bots = number(&flag, &value)? as usize,
            "--consoles" => options.consoles = number(&flag, &value)? as usize,
            "--sends" => options.sends = number(&flag, &value)?,
            "--sample" => options.sample = number(&flag, &value)?.max(1),
            _ => return Err(format!("unknown option {flag} {value}")),
        }
    }
    if options.bots == 0 || options.rate < 100 {
        return Err("--bots must be at least 1 and --rate at least 100".into());
    }
    Ok(options)
}

/// `switchboard` on the soak's data directory.
fn switchboard(options: &Options, dir: &Path) -> Command {
    let mut command = Command::new(&options.binary);
    command
        .current_dir(dir)
        .env("SWITCHBOARD_DATABASE_URL", "sqlite://data/soak.db")
        .env("SWITCHBOARD_ENCRYPTION_KEY", "data/encryption.key")
        .env("SWITCHBOARD_ADMIN_PASSWORD", "soak admin password")
        .env("SWITCHBOARD_LOG", "warn");
    command
}

fn cli(options: &Options, dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = switchboard(options, dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", options.binary.display()))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// One sample of the server process.
#[derive(Clone, Copy, Default)]
struct Sample {
    seconds: u64,
    resident_mib: f64,
    descriptors: usize,
    wal_mib: f64,
    database_mib: f64,
    committed: u64,
    delivered: u64,
    sent: u64,
}

fn sample(pid: u32, dir: &Path, seconds: u64, counts: &Counts) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let resident_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let size = |name: &str| {
        std::fs::metadata(dir.join("data").join(name)).map_or(0.0, |m| m.len() as f64 / 1048576.0)
    };
    Sample {
        seconds,
        resident_mib: resident_kb / 1024.0,
        descriptors,
        wal_mib: size("soak.db-wal"),
        database_mib: size("soak.db"),
        committed: counts.committed.load(Ordering::Relaxed),
        delivered: counts.delivered.load(Ordering::Relaxed),
        sent: counts.sent.load(Ordering::Relaxed),
    }
}

fn print(sample: &Sample) {
    println!(
        "  {:>5} s  RSS {:>6.1} MiB  fds {:>4}  WAL {:>5.1} MiB  db {:>7.1} MiB  committed {:>9}  events at consoles {:>9}  replies sent {:>7}",
        sample.seconds,
        sample.resident_mib,
        sample.descriptors,
        sample.wal_mib,
        sample.database_mib,
        sample.committed,
        sample.delivered,
        sample.sent
    );
}

#[derive(Default)]
struct Counts {
    committed: AtomicU64,
    delivered: AtomicU64,
    sent: AtomicU64,
}

/// The running server, killed if the soak stops early.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let options = Options {
        binary: std::fs::canonicalize(&options.binary)
            .map_err(|e| format!("{}: {e}", options.binary.display()))?,
        ..options
    };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("switchboard.toml"), UNLIMITED_CONFIG)
        .map_err(|e| e.to_string())?;
    let mut bot_tokens = Vec::new();
    for bot in 0..options.bots {
        bot_tokens.push(cli(
            &options,
            dir.path(),
            &["bots", "add", &format!("soak-{bot}")],
        )?);
    }
    let api_token = cli(&options, dir.path(), &["tokens", "add", "soak"])?;
    let mut child = switchboard(&options, dir.path())
        .args([
            "serve",
            "--receiver-listen",
            "127.0.0.1:0",
            "--sender-listen",
            "127.0.0.1:0",
            "--callcenter-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let pid = child.id();
    let server = Server(child);
    let mut urls = std::collections::HashMap::new();
    let mut lines = BufReader::new(stdout).lines();
    while urls.len() < 3 {
        let line = lines
            .next()
            .ok_or("the server exited before it was ready")?
            .map_err(|e| e.to_string())?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, role, "listening", "on", url] = words.as_slice() {
            urls.insert((*role).to_owned(), (*url).to_owned());
        }
    }
    // Keep reading its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let receiver = urls.get("receiver").cloned().ok_or("no receiver")?;
    let sender = urls.get("sender").cloned().ok_or("no sender")?;
    println!("switchboard soak");
    println!("  machine:  {}", machine());
    println!(
        "  load:     {} bots posting {} messages/s in batches of 100; {} consoles taking every event; \
         {} replies/s sent, acknowledged and reported by the bots; {} minutes",
        options.bots, options.rate, options.consoles, options.sends, options.minutes
    );
    let runtime = switchboard_bench::runtime("soak")?;
    let result = runtime.block_on(soak(
        &options,
        dir.path(),
        pid,
        &receiver,
        &sender,
        bot_tokens,
        api_token,
    ));
    drop(server);
    result
}

async fn soak(
    options: &Options,
    dir: &Path,
    pid: u32,
    receiver: &str,
    sender: &str,
    bot_tokens: Vec<String>,
    api_token: String,
) -> Result<(), String> {
    let counts = Arc::new(Counts::default());
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for _ in 0..options.consoles {
        let mut client = Client::connect(receiver, &json!({"token": api_token}), "")
            .await
            .map_err(|e| e.to_string())?;
        let (counts, running) = (Arc::clone(&counts), Arc::clone(&running));
        tasks.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                if let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(200), client.next_event()).await
                    && event.name == "new_messages"
                {
                    counts.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // The bots' command channel: acknowledge and report every send.
    for token in &bot_tokens {
        let mut client = Client::connect(sender, &json!({"token": token}), "")
            .await
            .map_err(|e| e.to_string())?;
        let (counts, running) = (Arc::clone(&counts), Arc::clone(&running));
        tasks.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(200), client.next_event()).await
                else {
                    continue;
                };
                if event.name != "send_message_command" {
                    continue;
                }
                let Ok(command) = event.data::<Value>() else {
                    continue;
                };
                let id = command["command_id"].clone();
                let _ = client.emit("command_ack", &json!({"command_id": id}));
                let _ = client.emit(
                    "message_status_update",
                    &json!({"command_id": id, "status": "sent",
                            "platform_message_id": format!("m_{}", id.as_str().unwrap_or(""))}),
                );
                counts.sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(options.minutes * 60);
    // Bots: batches of 100 on a fixed schedule, each POST on its own task (open loop).
    let period = Duration::from_secs_f64(100.0 * options.bots as f64 / options.rate as f64);
    for (bot, token) in bot_tokens.iter().enumerate() {
        let (http, url, token, counts) = (
            http.clone(),
            format!("{receiver}/api/bot/new_messages"),
            token.clone(),
            Arc::clone(&counts),
        );
        tasks.push(tokio::spawn(async move {
            let account = format!("soak-{bot}");
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut seq = 0u64;
            while Instant::now() < deadline {
                ticker.tick().await;
                let messages = switchboard_bench::messages(&account, seq, 100, 2000);
                seq += 1;
                let body = json!({"user_id_chat": account, "messages": messages});
                let (http, url, token, counts) = (
                    http.clone(),
                    url.clone(),
                    token.clone(),
                    Arc::clone(&counts),
                );
                tokio::spawn(async move {
                    let answer = http.post(url).bearer_auth(token).json(&body).send().await;
                    if let Ok(answer) = answer
                        && answer.status().is_success()
                        && let Ok(value) = answer.json::<Value>().await
                    {
                        counts.committed.fetch_add(
                            value["data"]["new"].as_u64().unwrap_or(0),
                            Ordering::Relaxed,
                        );
                    }
                });
            }
        }));
    }
    // An integrator replying in the conversations the bots created (ids 1, 2, …).
    if options.sends > 0 {
        let (http, url, api_token) = (
            http.clone(),
            format!("{sender}/api/send_message_from_crm"),
            api_token.clone(),
        );
        let every = Duration::from_secs_f64(1.0 / options.sends as f64);
        let conversations = (options.bots * 2000) as u64;
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut n = 0u64;
            while Instant::now() < deadline {
                ticker.tick().await;
                n += 1;
                let body = json!({"conversation_id": n % conversations + 1, "text": format!("Dạ còn ạ {n}")});
                let (http, url, api_token) = (http.clone(), url.clone(), api_token.clone());
                tokio::spawn(async move {
                    let _ = http.post(url).bearer_auth(api_token).json(&body).send().await;
                });
            }
        }));
    }
    let started = Instant::now();
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(options.sample)).await;
        let now = sample(pid, dir, started.elapsed().as_secs(), &counts);
        print(&now);
        samples.push(now);
    }
    running.store(false, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    summarize(&samples);
    Ok(())
}

fn summarize(samples: &[Sample]) {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return;
    };
    let largest = |f: fn(&Sample) -> f64| samples.iter().map(f).fold(0.0, f64::max);
    println!(
        "  first sample: RSS {:.1} MiB, {} fds, WAL {:.1} MiB; last: RSS {:.1} MiB, {} fds, WAL {:.1} MiB",
        first.resident_mib,
        first.descriptors,
        first.wal_mib,
        last.resident_mib,
        last.descriptors,
        last.wal_mib
    );
    println!(
        "  largest: RSS {:.1} MiB, {} fds, WAL {:.1} MiB; {} messages committed ({:.0}/s), {} replies sent",
        largest(|s| s.resident_mib),
        samples.iter().map(|s| s.descriptors).max().unwrap_or(0),
        largest(|s| s.wal_mib),
        last.committed,
        last.committed as f64 / last.seconds.max(1) as f64,
        last.sent
    );
}
