//! Call-center benchmark: calls from the phone system to every console's popup, end to end.
//!
//! Runs the real call center (in this process, on its own runtime, port 0, a fresh SQLite file) with
//! `--agents` available agents and `--consoles` consoles connected as the seed's client connects (our
//! Socket.IO client, `?token=`, `join_call_center`). Callers post Zammad-style CTI events: `newCall`,
//! then, once the popup is up, `answer` and `hangup`, as a PBX would. Prints the delay from the start of
//! the `newCall` POST to `incoming_call_to_crm` at each console, and the calls/s completed end to end.
//! With `--supervisors N`, N more consoles watch the live floor (`GET /api/floor` after events, at most
//! once a second each, as the console's Giám sát screen does) and the time of their reads is printed.
//!
//! `cargo run --release -p switchboard-bench --bin callcenter-bench -- --help`

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_bench::{
    BenchServer, Database, command_line, database_option, histogram, machine, number, quantiles,
};
use switchboard_callcenter::CallCenterOptions;
use switchboard_domain::routing::AgentStatus;
use switchboard_sioclient::Client;
use switchboard_storage::{NewAgent, TokenKind};
use switchboard_testkit::roles;
use tokio::sync::oneshot;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    consoles: usize,
    /// Supervisors watching the live floor beside the consoles (`GET /api/floor` after events, at most
    /// once a second each, as the console does).
    supervisors: usize,
    agents: usize,
    seconds: u64,
    /// Calls per second offered; 0: `concurrency` callers call back to back (the ceiling).
    rate: u64,
    concurrency: usize,
    database: Database,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        consoles: 200,
        supervisors: 0,
        agents: 64,
        seconds: 10,
        rate: 0,
        concurrency: 16,
        database: Database::default(),
    };
    let usage = "callcenter-bench [--consoles 200] [--supervisors 0] [--agents 64] [--seconds 10] [--rate CALLS_PER_S] [--concurrency 16]\n\
         [--database-url postgres://…|sqlite://PATH]\n\
         Without --rate, --concurrency callers call back to back (the ceiling); with it, calls start on a\n\
         fixed schedule and delays count from the scheduled start.";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        let number = number(&flag, &value)?;
        match flag.as_str() {
            "--consoles" => options.consoles = number.max(1) as usize,
            "--supervisors" => options.supervisors = number as usize,
            "--agents" => options.agents = number.max(1) as usize,
            "--seconds" => options.seconds = number.max(1),
            "--rate" => options.rate = number,
            "--concurrency" => options.concurrency = number.max(1) as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.concurrency > options.agents {
        return Err(
            "--concurrency must not exceed --agents: every call in flight holds an agent".into(),
        );
    }
    Ok(options)
}

/// When each call's `newCall` started, and who waits for its popup.
#[derive(Default)]
struct Calls {
    started: Mutex<HashMap<u64, Instant>>,
    popup_waiters: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let agents = options.agents;
    let server = BenchServer::start(
        "callcenter",
        &options.database,
        |store, _, feed, addr| async move {
            let error = |e: switchboard_storage::StorageError| e.to_string();
            for i in 0..agents {
                let agent = store
                    .create_agent(NewAgent {
                        full_name: format!("Agent {i}"),
                        extension: format!("{}", 100 + i),
                        ..Default::default()
                    })
                    .await
                    .map_err(error)?;
                store
                    .set_agent_status(agent.id, AgentStatus::Available)
                    .await
                    .map_err(error)?;
            }
            roles::callcenter(&store, &feed, CallCenterOptions::default(), addr)
                .await
                .map_err(|e| e.to_string())
        },
    )?;
    let (url, store) = (server.url.clone(), server.store.clone());
    server.run_load(async move {
        let (_, token) = store
            .issue_token(TokenKind::Api {
                name: "bench".into(),
            })
            .await
            .map_err(|e| e.to_string())?;
        run_load(&options, &url, &token).await
    })
}

/// The call's number from `"callId":"B123"` in a packet, without parsing the whole payload.
fn call_number(raw: &str) -> Option<u64> {
    let start = raw.find("\"callId\":\"B")? + "\"callId\":\"B".len();
    let digits: String = raw[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

async fn run_load(options: &Options, url: &str, token: &str) -> Result<(), String> {
    let calls: Arc<Calls> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut consoles = Vec::new();
    for _ in 0..options.consoles {
        let mut client = Client::connect(url, &serde_json::json!({}), &format!("token={token}"))
            .await
            .map_err(|e| e.to_string())?;
        client
            .emit(
                "join_call_center",
                &serde_json::json!({"userType": "crm_system"}),
            )
            .map_err(|e| e.to_string())?;
        let (calls, running) = (Arc::clone(&calls), Arc::clone(&running));
        consoles.push(tokio::spawn(async move {
            let mut delays = histogram();
            while running.load(Ordering::Relaxed) {
                let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(200), client.next_event()).await
                else {
                    continue;
                };
                let arrived = Instant::now();
                if event.name != "incoming_call_to_crm" {
                    continue;
                }
                let Some(number) = call_number(event.raw()) else {
                    continue;
                };
                let started = calls
                    .started
                    .lock()
                    .ok()
                    .and_then(|s| s.get(&number).copied());
                if let Some(started) = started {
                    let _ = delays.record(arrived.duration_since(started).as_micros() as u64);
                }
                if let Some(waiter) = calls
                    .popup_waiters
                    .lock()
                    .ok()
                    .and_then(|mut w| w.remove(&number))
                {
                    let _ = waiter.send(());
                }
            }
            delays
        }));
    }
    let mut supervisors = Vec::new();
    for _ in 0..options.supervisors {
        supervisors.push(tokio::spawn(supervise(
            url.to_owned(),
            token.to_owned(),
            Arc::clone(&running),
        )));
    }
    // Let every console join before the first call.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let completed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let next_call = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let period = (options.rate > 0)
        .then(|| Duration::from_secs_f64(options.concurrency as f64 / options.rate as f64));
    let cti = format!("{url}/api/v1/cti/{token}");
    let mut callers = Vec::new();
    for caller in 0..options.concurrency {
        let (cti, calls, completed, failed, next_call) = (
            cti.clone(),
            Arc::clone(&calls),
            Arc::clone(&completed),
            Arc::clone(&failed),
            Arc::clone(&next_call),
        );
        let concurrency = options.concurrency;
        callers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let post = |body: String| {
                http.post(&cti)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
            };
            let mut ticker = period.map(|p| {
                let start =
                    tokio::time::Instant::now() + p.mul_f64(caller as f64 / concurrency as f64);
                let mut t = tokio::time::interval_at(start, p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            while Instant::now() < deadline {
                let scheduled = match ticker.as_mut() {
                    Some(t) => t.tick().await.into_std(),
                    None => Instant::now(),
                };
                let number = next_call.fetch_add(1, Ordering::Relaxed);
                let (popup_tx, popup_rx) = oneshot::channel();
                if let (Ok(mut s), Ok(mut w)) = (calls.started.lock(), calls.popup_waiters.lock()) {
                    s.insert(number, scheduled);
                    w.insert(number, popup_tx);
                }
                let id = format!("B{number}");
                let from = format!("09{:08}", number % 100_000_000);
                let ok = async {
                    let new_call = post(format!(
                        "event=newCall&direction=in&from={from}&to=1900&callId={id}"
                    ))
                    .await
                    .ok()?;
                    new_call.status().is_success().then_some(())?;
                    tokio::time::timeout(Duration::from_secs(10), popup_rx)
                        .await
                        .ok()?
                        .ok()?;
                    let answer = post(format!("event=answer&callId={id}")).await.ok()?;
                    answer.status().is_success().then_some(())?;
                    let hangup = post(format!("event=hangup&callId={id}&cause=normalClearing"))
                        .await
                        .ok()?;
                    hangup.status().is_success().then_some(())
                }
                .await;
                match ok {
                    Some(()) => completed.fetch_add(1, Ordering::Relaxed),
                    None => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for caller in callers {
        caller.await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    let mut delays = histogram();
    for console in consoles {
        let h = console.await.map_err(|e| e.to_string())?;
        delays.add(&h).map_err(|e| e.to_string())?;
    }
    let mut floor_reads = histogram();
    for supervisor in supervisors {
        let h = supervisor.await.map_err(|e| e.to_string())??;
        floor_reads.add(&h).map_err(|e| e.to_string())?;
    }
    let done = completed.load(Ordering::Relaxed);
    println!("machine: {}", machine());
    println!("database: {}", options.database.describe());
    println!(
        "load: {} consoles, {} supervisors, {} agents, {} callers, {}",
        options.consoles,
        options.supervisors,
        options.agents,
        options.concurrency,
        if options.rate > 0 {
            format!("{} calls/s offered", options.rate)
        } else {
            "back to back".into()
        }
    );
    println!(
        "calls completed end to end (newCall → popup → answer → hangup): {done} in {:.1} s = {:.0} calls/s; failed: {}",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        failed.load(Ordering::Relaxed)
    );
    println!(
        "newCall → incoming_call_to_crm at each console ({} popups): {}",
        delays.len(),
        quantiles(&delays)
    );
    if options.supervisors > 0 {
        println!(
            "GET /api/floor by the supervisors ({} reads): {}",
            floor_reads.len(),
            quantiles(&floor_reads)
        );
    }
    Ok(())
}

/// A supervisor's console on the live floor: joined to the call center, it reads the floor again
/// after call events, at most once a second (as the console's Giám sát screen does). The time of
/// each read.
async fn supervise(
    url: String,
    token: String,
    running: Arc<AtomicBool>,
) -> Result<hdrhistogram::Histogram<u64>, String> {
    let mut client = Client::connect(&url, &serde_json::json!({}), &format!("token={token}"))
        .await
        .map_err(|e| e.to_string())?;
    client
        .emit(
            "join_call_center",
            &serde_json::json!({"userType": "crm_system"}),
        )
        .map_err(|e| e.to_string())?;
    let http = reqwest::Client::new();
    let mut reads = histogram();
    let mut changed = true;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while running.load(Ordering::Relaxed) {
        tokio::select! {
            event = client.next_event() => {
                if event.is_none() {
                    break;
                }
                changed = true;
            }
            _ = tick.tick() => {
                if !changed {
                    continue;
                }
                changed = false;
                let started = Instant::now();
                let response = http
                    .get(format!("{url}/api/floor"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let ok = response.status().is_success();
                response.bytes().await.map_err(|e| e.to_string())?;
                if !ok {
                    return Err("GET /api/floor was refused".into());
                }
                let _ = reads.record(started.elapsed().as_micros() as u64);
            }
        }
    }
    Ok(reads)
}
