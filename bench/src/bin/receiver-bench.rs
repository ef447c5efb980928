//! Receiver benchmark: bots posting batches while Socket.IO clients follow the event stream.
//!
//! Runs the real receiver (in this process, on its own runtime and port 0, with a fresh SQLite file
//! under the system temp dir, or the database `--database-url` names), has `--bots` bots post batches of `--batch` messages as fast as they are
//! answered, keeps `--clients` Socket.IO clients connected (our client crate), and prints messages/s
//! committed and the delay from the start of a POST to the arrival of its event at a client.
//!
//! With `--nodes N` it runs N real `switchboard serve` processes on that database instead (a cluster on
//! PostgreSQL): the bots post to the first node and the clients follow the events on the last, so
//! each event crosses from one node to another through the database and its `NOTIFY`.
//!
//! `cargo run --release -p switchboard-bench --bin receiver-bench -- --help`

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_bench::{
    BenchServer, Cluster, Database, LOAD_THREADS, ServerCpu, command_line, cpu_per_item,
    database_option, default_binary, histogram, machine, ms, number, quantiles,
    record_after_answer, runtime,
};
use switchboard_sioclient::Client;
use switchboard_storage::{AccountKind, Store, TokenKind};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    bots: usize,
    batch: usize,
    clients: usize,
    seconds: u64,
    /// Messages per second offered by all bots together; 0 posts back to back (finds the ceiling).
    rate: u64,
    /// `account`: each client follows one account (a console per team); `all`: every client gets everything.
    scope: String,
    database: Database,
    /// Real `switchboard serve` processes to run on the database; 0: the receiver in this process.
    nodes: usize,
    binary: std::path::PathBuf,
    /// With N > 0, every bench account assigns automatically (limit N) and one agent is online: what
    /// automatic assignment adds to each batch.
    auto_assign: i64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        bots: 8,
        batch: 100,
        clients: 100,
        seconds: 10,
        rate: 0,
        scope: "account".into(),
        database: Database::default(),
        nodes: 0,
        binary: default_binary(),
        auto_assign: 0,
    };
    let usage = "receiver-bench [--bots 8] [--batch 100] [--clients 100] [--seconds 10] [--rate MSGS_PER_S] [--scope account|all]\n\
         [--database-url postgres://…|sqlite://PATH] [--nodes N [--binary target/release/switchboard]] [--auto-assign LIMIT]\n\
         Without --rate, bots post back to back (throughput ceiling); with it, batches start on a fixed\n\
         schedule whether or not earlier ones were answered, and delays count from the scheduled start.\n\
         With --nodes, N switchboard processes share the database: bots post to the first, clients\n\
         listen on the last.";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        match flag.as_str() {
            "--nodes" => options.nodes = number(&flag, &value)? as usize,
            "--binary" => options.binary = value.into(),
            "--bots" => options.bots = number(&flag, &value)? as usize,
            "--batch" => options.batch = number(&flag, &value)? as usize,
            "--clients" => options.clients = number(&flag, &value)? as usize,
            "--seconds" => options.seconds = number(&flag, &value)?,
            "--rate" => options.rate = number(&flag, &value)?,
            "--scope" if value == "account" || value == "all" => options.scope = value,
            "--auto-assign" => {
                options.auto_assign = i64::try_from(number(&flag, &value)?)
                    .map_err(|_| "--auto-assign is too large".to_owned())?;
            }
            _ => return Err(format!("unknown option {flag} {value}")),
        }
    }
    if options.bots == 0 || options.batch == 0 || options.batch > 500 {
        return Err("--bots must be at least 1 and --batch between 1 and 500".into());
    }
    Ok(options)
}

/// When each batch's POST started, keyed by the id of its first message.
type SendTimes = Arc<Mutex<HashMap<String, Instant>>>;

/// A batch of realistic messages, `batch_size` of them, each in its own conversation of 500.
fn batch_body(account: &str, seq: u64, batch_size: usize) -> Vec<u8> {
    let messages = switchboard_bench::messages(account, seq, batch_size, 500);
    serde_json::to_vec(&json!({"user_id_chat": account, "messages": messages})).unwrap_or_default()
}

/// Posts one batch; the number of new messages when it was committed.
async fn post_batch(
    http: reqwest::Client,
    url: String,
    token: String,
    body: Vec<u8>,
) -> Option<u64> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => {
            let answer: Value = r.json().await.unwrap_or(Value::Null);
            answer["data"]["new"].as_u64()
        }
        Ok(r) => {
            eprintln!("HTTP {}", r.status());
            None
        }
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// The first `"message_id":"…"` of an event, found without parsing the whole payload.
fn first_message_id(raw: &str) -> Option<&str> {
    let start = raw.find("\"message_id\":\"")? + "\"message_id\":\"".len();
    let end = raw[start..].find('"')?;
    Some(&raw[start..start + end])
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    if options.nodes > 0 {
        let cluster = Cluster::start(&options.binary, &options.database, options.nodes)?;
        let post = cluster.url(0, "receiver");
        let events = cluster.url(cluster.len() - 1, "receiver");
        let cpu = cluster.server_cpu();
        return runtime(LOAD_THREADS)?.block_on(run_load(
            &options,
            &post,
            &events,
            &cluster.store,
            &cpu,
        ));
    }
    let server = BenchServer::receiver(&options.database)?;
    let (url, store) = (server.url.clone(), server.store.clone());
    server.run_load(run_load(
        &options,
        &url,
        &url,
        &store,
        &ServerCpu::InProcess,
    ))
}

/// Bots post to `url`; the clients follow the events at `events_url` (the same server, or another
/// node of a cluster).
async fn run_load(
    options: &Options,
    url: &str,
    events_url: &str,
    store: &Store,
    server_cpu: &ServerCpu,
) -> Result<(), String> {
    let mut bot_tokens = Vec::new();
    for bot in 0..options.bots {
        let account = format!("bench-{bot}");
        store
            .ensure_account(&account, "", AccountKind::Page)
            .await
            .map_err(|e| e.to_string())?;
        if options.auto_assign > 0 {
            let assignment = switchboard_domain::teamwork::AssignmentIn {
                auto: Some(true),
                limit: Some(options.auto_assign),
                return_when_offline: None,
            };
            store
                .set_assignment(&account, assignment.validate().map_err(|e| e.to_string())?)
                .await
                .map_err(|e| e.to_string())?;
        }
        bot_tokens.push(
            store
                .issue_token(TokenKind::Bot { account })
                .await
                .map_err(|e| e.to_string())?
                .1,
        );
    }
    if options.auto_assign > 0 {
        // One agent online (a console recorded for a node of its own), who sees every account.
        let agent = store
            .create_user(
                "bench-agent",
                "",
                switchboard_domain::Role::Agent,
                "bench agent password".into(),
            )
            .await
            .map_err(|e| e.to_string())?;
        store
            .console_connection(&switchboard_storage::NodeId::random(), agent.id, true)
            .await
            .map_err(|e| e.to_string())?;
    }
    let (_, console) = store
        .issue_token(TokenKind::Api {
            name: "bench".into(),
        })
        .await
        .map_err(|e| e.to_string())?;

    let send_times: SendTimes = Arc::default();
    // When each batch was answered (committed), to tell the delivery's own share of the delay.
    let answer_times: SendTimes = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let deliveries = Arc::new(AtomicU64::new(0));

    let mut client_tasks = Vec::new();
    for i in 0..options.clients {
        let auth = if options.scope == "all" {
            json!({"token": console})
        } else {
            json!({"token": console, "accounts": [format!("bench-{}", i % options.bots)]})
        };
        let mut client = Client::connect(events_url, &auth, "")
            .await
            .map_err(|e| e.to_string())?;
        let (send_times, running, deliveries) = (
            Arc::clone(&send_times),
            Arc::clone(&running),
            Arc::clone(&deliveries),
        );
        client_tasks.push(tokio::spawn(async move {
            let mut delays = histogram();
            let mut arrivals = Vec::new();
            while running.load(Ordering::Relaxed) {
                let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(200), client.next_event()).await
                else {
                    continue;
                };
                let arrived = Instant::now();
                if event.name != "new_messages" {
                    continue;
                }
                let Some(id) = first_message_id(event.raw()) else {
                    continue;
                };
                let sent = send_times
                    .lock()
                    .ok()
                    .and_then(|times| times.get(id).copied());
                if let Some(sent) = sent {
                    let _ = delays.record(arrived.duration_since(sent).as_micros() as u64);
                    deliveries.fetch_add(1, Ordering::Relaxed);
                    arrivals.push((id.to_owned(), arrived));
                }
            }
            (delays, arrivals)
        }));
    }

    // The write-ahead log's size on disk, sampled through the run: it must stay bounded.
    let wal_path = {
        let mut name = store
            .file()
            .unwrap_or(std::path::Path::new(""))
            .as_os_str()
            .to_owned();
        name.push("-wal");
        std::path::PathBuf::from(name)
    };
    let largest_wal = Arc::new(AtomicU64::new(0));
    let wal_sampler = {
        let (running, largest_wal, wal_path) = (
            Arc::clone(&running),
            Arc::clone(&largest_wal),
            wal_path.clone(),
        );
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let size = std::fs::metadata(&wal_path).map_or(0, |m| m.len());
                largest_wal.fetch_max(size, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let committed = Arc::new(AtomicU64::new(0));
    let cpu_at_start = server_cpu.seconds();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut bot_tasks = Vec::new();
    for (bot, token) in bot_tokens.into_iter().enumerate() {
        let (url, send_times, answer_times, committed) = (
            url.to_owned(),
            Arc::clone(&send_times),
            Arc::clone(&answer_times),
            Arc::clone(&committed),
        );
        let (batch_size, bots) = (options.batch, options.bots);
        let period = (options.rate > 0).then(|| {
            Duration::from_secs_f64(batch_size as f64 * options.bots as f64 / options.rate as f64)
        });
        bot_tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let account = format!("bench-{bot}");
            let post_latency = Arc::new(Mutex::new(histogram()));
            // Bots are independent: spread their schedules over the period instead of firing together.
            let mut ticker = period.map(|p| {
                let offset = p.mul_f64(bot as f64 / bots as f64);
                let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            let mut in_flight = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let scheduled = match ticker.as_mut() {
                    Some(t) => t.tick().await.into_std(),
                    None => Instant::now(),
                };
                let body = batch_body(&account, seq, batch_size);
                if let Ok(mut times) = send_times.lock() {
                    times.insert(format!("{account}-{seq}-0"), scheduled);
                }
                let post = post_batch(
                    http.clone(),
                    format!("{url}/api/bot/new_messages"),
                    token.clone(),
                    body,
                );
                let (committed, post_latency, answer_times) = (
                    Arc::clone(&committed),
                    Arc::clone(&post_latency),
                    Arc::clone(&answer_times),
                );
                let first_id = format!("{account}-{seq}-0");
                let task = async move {
                    if let Some(new) = post.await {
                        if let Ok(mut times) = answer_times.lock() {
                            times.insert(first_id, Instant::now());
                        }
                        committed.fetch_add(new, Ordering::Relaxed);
                        if let Ok(mut h) = post_latency.lock() {
                            let _ = h.record(scheduled.elapsed().as_micros() as u64);
                        }
                    }
                };
                if ticker.is_some() {
                    in_flight.push(tokio::spawn(task));
                } else {
                    task.await;
                }
                seq += 1;
            }
            for task in in_flight {
                let _ = task.await;
            }
            let latency = post_latency
                .lock()
                .map(|h| h.clone())
                .unwrap_or_else(|_| histogram());
            (latency, seq)
        }));
    }
    let mut post_latency = histogram();
    let mut batches = 0;
    for task in bot_tasks {
        let (h, n) = task.await.map_err(|e| e.to_string())?;
        post_latency.add(h).map_err(|e| e.to_string())?;
        batches += n;
    }
    let elapsed = started.elapsed();
    // Give the last events time to reach the clients before stopping them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The server's work for this load ends with the last delivery, which the pause above waited for.
    let (cpu_seconds, cpu_window) = (server_cpu.seconds() - cpu_at_start, started.elapsed());
    running.store(false, Ordering::Relaxed);
    let _ = wal_sampler.await;
    let mut delays = histogram();
    let mut after_answer = histogram();
    let mut before_answer = 0u64;
    let answer_times = answer_times
        .lock()
        .map(|times| times.clone())
        .unwrap_or_default();
    for task in client_tasks {
        let (client_delays, arrivals) = task.await.map_err(|e| e.to_string())?;
        delays.add(client_delays).map_err(|e| e.to_string())?;
        before_answer += record_after_answer(&answer_times, arrivals, &mut after_answer);
    }

    let committed = committed.load(Ordering::Relaxed);
    let expected_deliveries = if options.scope == "all" {
        batches * options.clients as u64
    } else {
        (0..options.clients)
            .map(|i| {
                batches / options.bots as u64
                    + u64::from((i % options.bots) < (batches % options.bots as u64) as usize)
            })
            .sum::<u64>()
    };
    println!("switchboard receiver benchmark");
    println!("  machine:  {}", machine());
    println!("  database: {}", options.database.describe());
    if options.nodes > 0 {
        println!(
            "  nodes:    {} switchboard serve processes; bots post to node 1, clients listen on node {}",
            options.nodes, options.nodes
        );
    }
    println!(
        "  load:     {} bots posting batches of {} messages {}; {} Socket.IO clients ({}); {:.1} s",
        options.bots,
        options.batch,
        if options.rate > 0 {
            format!("at {} messages/s in all", options.rate)
        } else {
            "back to back".into()
        },
        options.clients,
        if options.scope == "all" {
            "each gets every event"
        } else {
            "each follows one account"
        },
        elapsed.as_secs_f64()
    );
    println!(
        "  committed: {committed} messages in {batches} batches = {:.0} messages/s",
        committed as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  server CPU: {}",
        cpu_per_item(
            cpu_seconds,
            cpu_window.as_secs_f64(),
            committed,
            "committed message"
        )
    );
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if let Some(database) = store.file() {
        println!(
            "  WAL: largest {:.1} MiB during the run, {:.1} MiB at the end; database {:.1} MiB",
            mb(largest_wal.load(Ordering::Relaxed)),
            mb(std::fs::metadata(&wal_path).map_or(0, |m| m.len())),
            mb(std::fs::metadata(database).map_or(0, |m| m.len())),
        );
    }
    let from = if options.rate > 0 {
        "scheduled start"
    } else {
        "start"
    };
    println!(
        "  POST /api/bot/new_messages ({from} -> answer): p50 {}, p99 {}, max {}",
        ms(post_latency.value_at_quantile(0.5)),
        ms(post_latency.value_at_quantile(0.99)),
        ms(post_latency.max())
    );
    println!(
        "  POST {from} -> event at client: p50 {}, p99 {}, max {} ({} deliveries, about {} expected)",
        ms(delays.value_at_quantile(0.5)),
        ms(delays.value_at_quantile(0.99)),
        ms(delays.max()),
        deliveries.load(Ordering::Relaxed),
        expected_deliveries
    );
    println!(
        "  POST answered -> event at client: {} ({before_answer} events arrived before their answer)",
        quantiles(&after_answer)
    );
    Ok(())
}
