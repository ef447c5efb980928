//! Sender benchmark: agents' sends through `POST /api/send_message_from_crm` to connected bots.
//!
//! Runs the real sender (in this process, on its own runtime, port 0, a fresh SQLite file or the
//! database `--database-url` names), connects
//! `--bots` bots (our Socket.IO client), each of which acknowledges every command and reports it sent,
//! as real bots do, and posts sends spread over the bots' conversations. Prints commands/s committed and
//! delivered, and the delay from the start of the POST to the command's arrival at its bot.
//!
//! With `--nodes N` it runs N real `switchboard serve` processes on that database instead (a cluster on
//! PostgreSQL): the sends are posted to the last node and the bots are connected to the first, so each
//! command crosses from one node to another through the database and its `NOTIFY`.
//!
//! `cargo run --release -p switchboard-bench --bin sender-bench -- --help`

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_bench::{
    BenchServer, Cluster, Database, LOAD_THREADS, ServerCpu, command_line, cpu_per_item,
    database_option, default_binary, histogram, machine, number, quantiles, record_after_answer,
    runtime,
};
use switchboard_domain::UnixMillis;
use switchboard_domain::ingest::{Batch, Direction, NewMessage};
use switchboard_sender::SenderOptions;
use switchboard_sioclient::Client;
use switchboard_storage::{AccountKind, Store, TokenKind};
use switchboard_testkit::roles;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    bots: usize,
    seconds: u64,
    /// Sends per second offered; 0: `concurrency` agents send back to back.
    rate: u64,
    concurrency: usize,
    database: Database,
    /// Real `switchboard serve` processes to run on the database; 0: the sender in this process.
    nodes: usize,
    binary: std::path::PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        bots: 50,
        seconds: 10,
        rate: 0,
        concurrency: 16,
        database: Database::default(),
        nodes: 0,
        binary: default_binary(),
    };
    let usage = "sender-bench [--bots 50] [--seconds 10] [--rate SENDS_PER_S] [--concurrency 16]\n\
         [--database-url postgres://…|sqlite://PATH] [--nodes N [--binary target/release/switchboard]]\n\
         Without --rate, --concurrency agents send back to back (the ceiling); with it, sends start on a\n\
         fixed schedule and delays count from the scheduled start. With --nodes, N switchboard processes\n\
         share the database: sends go to the last, bots are connected to the first.";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        if flag == "--binary" {
            options.binary = value.into();
            continue;
        }
        let number = number(&flag, &value)?;
        match flag.as_str() {
            "--bots" => options.bots = number.max(1) as usize,
            "--seconds" => options.seconds = number.max(1),
            "--rate" => options.rate = number,
            "--concurrency" => options.concurrency = number.max(1) as usize,
            "--nodes" => options.nodes = number as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

type SendTimes = Arc<Mutex<HashMap<u64, Instant>>>;

fn main() -> Result<(), String> {
    let options = parse_options()?;
    if options.nodes > 0 {
        let cluster = Cluster::start(&options.binary, &options.database, options.nodes)?;
        let post = cluster.url(cluster.len() - 1, "sender");
        let bots = cluster.url(0, "sender");
        let cpu = cluster.server_cpu();
        return runtime(LOAD_THREADS)?.block_on(run_load(
            &options,
            &post,
            &bots,
            &cluster.store,
            &cpu,
        ));
    }
    let server = BenchServer::start(
        "sender",
        &options.database,
        |store, cipher, feed, addr| async move {
            roles::sender(&store, &feed, &cipher, SenderOptions::default(), addr, &[])
                .await
                .map_err(|e| e.to_string())
        },
    )?;
    let (url, store) = (server.url.clone(), server.store.clone());
    server.run_load(run_load(
        &options,
        &url,
        &url,
        &store,
        &ServerCpu::InProcess,
    ))
}

/// Sends are posted to `url`; the bots are connected to `bots_url` (the same server, or another node
/// of a cluster).
async fn run_load(
    options: &Options,
    url: &str,
    bots_url: &str,
    store: &Store,
    server_cpu: &ServerCpu,
) -> Result<(), String> {
    let error = |e: switchboard_storage::StorageError| e.to_string();
    let mut conversations = Vec::new();
    let mut bot_tokens = Vec::new();
    for bot in 0..options.bots {
        let account = format!("bench-{bot}");
        store
            .ensure_account(&account, "", AccountKind::Page)
            .await
            .map_err(error)?;
        let message = NewMessage {
            message_id: format!("{account}-in"),
            thread_id: "t1".into(),
            participant_id: "customer".into(),
            participant_name: "Hoàng Gia Bảo".into(),
            direction: Direction::In,
            text: "Chào shop".into(),
            attachments: vec![],
            sent_at: UnixMillis::now(),
        };
        store
            .ingest_messages(Batch {
                account: account.clone(),
                items: vec![message],
            })
            .await
            .map_err(error)?;
        let page = store
            .conversations(&account, Default::default(), None, 1)
            .await
            .map_err(error)?;
        conversations.push(page.items.first().map(|c| c.id).ok_or("no conversation")?);
        bot_tokens.push(
            store
                .issue_token(TokenKind::Bot { account })
                .await
                .map_err(error)?
                .1,
        );
    }
    let (_, api_token) = store
        .issue_token(TokenKind::Api {
            name: "bench".into(),
        })
        .await
        .map_err(error)?;

    let send_times: SendTimes = Arc::default();
    // When each send was answered (committed), to tell the delivery's own share of the delay.
    let answer_times: SendTimes = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut bots = Vec::new();
    for token in bot_tokens {
        let mut client = Client::connect(bots_url, &json!({"token": token}), "")
            .await
            .map_err(|e| e.to_string())?;
        let (send_times, running, delivered) = (
            Arc::clone(&send_times),
            Arc::clone(&running),
            Arc::clone(&delivered),
        );
        bots.push(tokio::spawn(async move {
            let mut delays = histogram();
            let mut arrivals = Vec::new();
            while running.load(Ordering::Relaxed) {
                let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(200), client.next_event()).await else {
                    continue;
                };
                let arrived = Instant::now();
                if event.name != "send_message_command" {
                    continue;
                }
                let Ok(command) = event.data::<Value>() else { continue };
                let seq = command["text"].as_str().and_then(|t| t.rsplit(' ').next()).and_then(|n| n.parse::<u64>().ok());
                if let Some(seq) = seq
                    && let Some(sent) = send_times.lock().ok().and_then(|t| t.get(&seq).copied())
                {
                    let _ = delays.record(arrived.duration_since(sent).as_micros() as u64);
                    arrivals.push((seq, arrived));
                }
                delivered.fetch_add(1, Ordering::Relaxed);
                let id = command["command_id"].clone();
                let _ = client.emit("command_ack", &json!({"command_id": id}));
                let _ = client.emit(
                    "message_status_update",
                    &json!({"command_id": id, "status": "sent", "platform_message_id": format!("m_{}", id.as_str().unwrap_or(""))}),
                );
            }
            (delays, arrivals)
        }));
    }

    let committed = Arc::new(AtomicU64::new(0));
    let next_seq = Arc::new(AtomicU64::new(0));
    let cpu_at_start = server_cpu.seconds();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let conversations = Arc::new(conversations);
    let posters = if options.rate > 0 {
        options.concurrency.max(8)
    } else {
        options.concurrency
    };
    let period =
        (options.rate > 0).then(|| Duration::from_secs_f64(posters as f64 / options.rate as f64));
    let mut tasks = Vec::new();
    for poster in 0..posters {
        let (url, token) = (url.to_owned(), api_token.clone());
        let (send_times, answer_times, committed, next_seq, conversations) = (
            Arc::clone(&send_times),
            Arc::clone(&answer_times),
            Arc::clone(&committed),
            Arc::clone(&next_seq),
            Arc::clone(&conversations),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latency = histogram();
            let mut ticker = period.map(|p| {
                let start = tokio::time::Instant::now() + p.mul_f64(poster as f64 / posters as f64);
                let mut t = tokio::time::interval_at(start, p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            let mut in_flight = Vec::new();
            while Instant::now() < deadline {
                let scheduled = match ticker.as_mut() {
                    Some(t) => t.tick().await.into_std(),
                    None => Instant::now(),
                };
                let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut times) = send_times.lock() {
                    times.insert(seq, scheduled);
                }
                let conversation = conversations[seq as usize % conversations.len()];
                let request = http
                    .post(format!("{url}/api/send_message_from_crm"))
                    .bearer_auth(&token)
                    .json(&json!({"conversation_id": conversation, "text": format!("Dạ shop xin phép báo giá đơn {seq}")}));
                let (committed, answer_times) = (Arc::clone(&committed), Arc::clone(&answer_times));
                let send = async move {
                    match request.send().await {
                        Ok(r) if r.status().is_success() => {
                            if let Ok(mut times) = answer_times.lock() {
                                times.insert(seq, Instant::now());
                            }
                            committed.fetch_add(1, Ordering::Relaxed);
                            Some(scheduled.elapsed().as_micros() as u64)
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
                };
                if ticker.is_some() {
                    in_flight.push(tokio::spawn(send));
                } else if let Some(micros) = send.await {
                    let _ = latency.record(micros);
                }
            }
            for task in in_flight {
                if let Ok(Some(micros)) = task.await {
                    let _ = latency.record(micros);
                }
            }
            latency
        }));
    }
    let mut post_latency = histogram();
    for task in tasks {
        post_latency
            .add(task.await.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The server's work for these sends ends with the bots' last reports, which the pause waited for.
    let (cpu_seconds, cpu_window) = (server_cpu.seconds() - cpu_at_start, started.elapsed());
    running.store(false, Ordering::Relaxed);
    let mut delays = histogram();
    let mut after_answer = histogram();
    let mut before_answer = 0;
    let answer_times = answer_times
        .lock()
        .map(|times| times.clone())
        .unwrap_or_default();
    for bot in bots {
        let (bot_delays, arrivals) = bot.await.map_err(|e| e.to_string())?;
        delays.add(bot_delays).map_err(|e| e.to_string())?;
        before_answer += record_after_answer(&answer_times, arrivals, &mut after_answer);
    }
    let committed = committed.load(Ordering::Relaxed);
    println!("switchboard sender benchmark");
    println!("  machine:  {}", machine());
    println!("  database: {}", options.database.describe());
    if options.nodes > 0 {
        println!(
            "  nodes:    {} switchboard serve processes; sends posted to node {}, bots connected to node 1",
            options.nodes, options.nodes
        );
    }
    let load = if options.rate > 0 {
        format!("{} sends/s offered on a fixed schedule", options.rate)
    } else {
        format!("{} agents sending back to back", posters)
    };
    println!(
        "  load:     {load}; {} bots connected, each acknowledging and reporting every command; {:.1} s",
        options.bots,
        elapsed.as_secs_f64()
    );
    println!(
        "  committed: {committed} sends = {:.0} commands/s; delivered to bots: {}",
        committed as f64 / elapsed.as_secs_f64(),
        delivered.load(Ordering::Relaxed)
    );
    println!(
        "  server CPU: {}",
        cpu_per_item(
            cpu_seconds,
            cpu_window.as_secs_f64(),
            committed,
            "command (send, delivery, acknowledgement, report)"
        )
    );
    let from = if options.rate > 0 {
        "scheduled start"
    } else {
        "start"
    };
    println!(
        "  POST send_message_from_crm ({from} -> answer): {}",
        quantiles(&post_latency)
    );
    println!(
        "  POST {from} -> command at its bot: {}",
        quantiles(&delays)
    );
    println!(
        "  POST answered -> command at its bot: {} ({before_answer} commands arrived before their answer)",
        quantiles(&after_answer)
    );
    Ok(())
}
