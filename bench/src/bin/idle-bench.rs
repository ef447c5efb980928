//! Idle connections: what each open, authenticated Socket.IO console costs a node in memory, and that
//! fan-out to all of them still works.
//!
//! Starts one real `switchboard serve` process (the release binary next to this one, or `--binary`)
//! on a fresh database, opens `--connections` consoles to its receiver (our `sioclient` over WebSocket,
//! each authenticated with an API token and streaming events), and reads the node's resident memory
//! (`VmRSS` in `/proc/PID/status`) before and after, once the connections have settled. Then one bot
//! posts one message and every console must receive its `new_messages` event: the benchmark prints
//! how long the last one took.
//!
//! `cargo build --release -p switchboard -p switchboard-bench && target/release/idle-bench --help`

use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchboard_bench::{
    Cluster, Database, LOAD_THREADS, command_line, database_option, default_binary, machine, ms,
    number, runtime,
};
use switchboard_sioclient::Client;
use switchboard_storage::{AccountKind, TokenKind};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    connections: usize,
    /// Seconds to keep the connections open after the figures, to look at the node with a profiler.
    hold_seconds: u64,
    database: Database,
    binary: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        connections: 10_000,
        hold_seconds: 0,
        database: Database::default(),
        binary: default_binary(),
    };
    let usage = "idle-bench [--connections 10000] [--database-url postgres://…|sqlite://PATH]\n\
         [--binary target/release/switchboard] [--hold-seconds 0]\n\
         Each connection is a file descriptor here and one in the node: the open-file limit must allow\n\
         a little more than --connections (ulimit -n). --hold-seconds keeps them open after the figures,\n\
         to look at the node with a heap profiler (valgrind's massif and `vgdb detailed_snapshot`).";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        match flag.as_str() {
            "--binary" => options.binary = PathBuf::from(value),
            "--hold-seconds" => options.hold_seconds = number(&flag, &value)?,
            "--connections" => options.connections = number(&flag, &value)?.max(1) as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

/// The node's resident memory, in bytes.
fn resident_bytes(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read the node's status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| "the node's status has no VmRSS".to_owned())
}

/// Waits until the node's memory has stopped growing (allocators return pages lazily), for at most
/// `limit`, and answers the last reading.
async fn settled_resident_bytes(pid: u32, limit: Duration) -> Result<u64, String> {
    let deadline = Instant::now() + limit;
    let mut last = resident_bytes(pid)?;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = resident_bytes(pid)?;
        if now.abs_diff(last) < 256 * 1024 || Instant::now() > deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// Connections opened at once while connecting: enough to be quick, few enough not to look like a
/// flood to the node's accept queue.
const CONNECTING_AT_ONCE: usize = 64;

fn main() -> Result<(), String> {
    let options = parse_options()?;
    switchboard_web::limits::raise_descriptor_limit();
    let cluster = Cluster::start(&options.binary, &options.database, 1)?;
    let pid = cluster.pid(0);
    let url = cluster.url(0, "receiver");
    runtime(LOAD_THREADS)?.block_on(async {
        let store = &cluster.store;
        store
            .ensure_account("idle-bench", "", AccountKind::Page)
            .await
            .map_err(|e| e.to_string())?;
        let (_, bot) = store
            .issue_token(TokenKind::Bot {
                account: "idle-bench".into(),
            })
            .await
            .map_err(|e| e.to_string())?;
        let (_, console) = store
            .issue_token(TokenKind::Api {
                name: "idle-bench".into(),
            })
            .await
            .map_err(|e| e.to_string())?;

        let before = settled_resident_bytes(pid, Duration::from_secs(5)).await?;
        let connecting = Instant::now();
        let auth = json!({ "token": console });
        let mut clients = Vec::with_capacity(options.connections);
        let mut pending: tokio::task::JoinSet<Result<Client, switchboard_sioclient::ClientError>> =
            tokio::task::JoinSet::new();
        for _ in 0..options.connections {
            if pending.len() >= CONNECTING_AT_ONCE
                && let Some(done) = pending.join_next().await
            {
                clients.push(done.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?);
            }
            let (url, auth) = (url.clone(), auth.clone());
            pending.spawn(async move { Client::connect(&url, &auth, "").await });
        }
        while let Some(done) = pending.join_next().await {
            clients.push(done.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?);
        }
        let connected_in = connecting.elapsed();
        let after = settled_resident_bytes(pid, Duration::from_secs(30)).await?;

        // Fan-out to every idle console still works: one message, one event at each.
        let posted = Instant::now();
        let answer = reqwest::Client::new()
            .post(format!("{url}/api/bot/new_messages"))
            .bearer_auth(&bot)
            .json(&json!({"user_id_chat": "idle-bench", "messages": switchboard_bench::messages("idle-bench", 0, 1, 1)}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !answer.status().is_success() {
            return Err(format!("the post was refused: {}", answer.status()));
        }
        let mut waiting = tokio::task::JoinSet::new();
        for mut client in clients {
            waiting.spawn(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while let Ok(Some(event)) =
                    tokio::time::timeout_at(deadline, client.next_event()).await
                {
                    if event.name == "new_messages" {
                        return Some((client, Instant::now()));
                    }
                }
                None
            });
        }
        let (mut received, mut last, mut clients) = (0usize, posted, Vec::new());
        while let Some(done) = waiting.join_next().await {
            if let Some((client, at)) = done.map_err(|e| e.to_string())? {
                received += 1;
                last = last.max(at);
                clients.push(client);
            }
        }
        let with_fan_out = resident_bytes(pid)?;

        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        println!("switchboard idle connections benchmark");
        println!("  machine:  {}", machine());
        println!("  database: {}", options.database.describe());
        println!(
            "  load:     {} Socket.IO consoles on one `switchboard serve` node's receiver (WebSocket, API token, streaming), connected in {:.1} s",
            options.connections,
            connected_in.as_secs_f64()
        );
        println!(
            "  node RSS: {:.1} MiB before, {:.1} MiB with the connections open = {:.1} KiB per connection; {:.1} MiB after one event to all",
            mib(before),
            mib(after),
            after.saturating_sub(before) as f64 / 1024.0 / options.connections as f64,
            mib(with_fan_out),
        );
        println!(
            "  fan-out:  one new_messages event reached {received} of {} consoles; the last {} after the POST's start",
            options.connections,
            ms(last.duration_since(posted).as_micros() as u64)
        );
        tokio::time::sleep(Duration::from_secs(options.hold_seconds)).await;
        drop(clients);
        if received == options.connections {
            Ok(())
        } else {
            Err("some consoles did not receive the event".into())
        }
    })
}
