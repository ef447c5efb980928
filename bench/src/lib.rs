//! What the benchmark programs share: histograms and how figures are printed.

use hdrhistogram::Histogram;
use switchboard_testkit::{TempStore, roles};

/// `batch_size` realistic Vietnamese messages of `account`, batch number `seq`, spread over
/// `conversations` conversations: what a busy page's bot posts.
pub fn messages(
    account: &str,
    seq: u64,
    batch_size: usize,
    conversations: usize,
) -> Vec<serde_json::Value> {
    (0..batch_size)
        .map(|i| {
            let n = (seq as usize * batch_size + i) % conversations;
            serde_json::json!({
                "message_id": format!("{account}-{seq}-{i}"),
                "conversation": {"thread_id": format!("t{n}"), "participant_id": format!("u{n}"),
                                 "participant_name": "Phạm Minh Châu"},
                "direction": "in",
                "text": "Chào shop, mẫu áo này còn size M màu xanh không ạ? Giao về Đà Nẵng mất mấy ngày?",
                "sent_at": 1_767_225_600 + seq as i64,
            })
        })
        .collect()
}

/// Microseconds, from 1 µs to 60 s, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds are valid")
}

pub fn ms(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

/// "2 cores, <CPU model>", for the record next to the figures.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

pub fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {}, p99 {}, max {}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// A two-worker Tokio runtime: one for the server, one for the load, as if in two processes.
pub fn runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// `--name value` pairs from the command line; `--help` prints `usage` and exits.
pub fn command_line(usage: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{usage}");
            std::process::exit(0);
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        pairs.push((flag, value));
    }
    Ok(pairs)
}

/// An option's value as a number, or an error naming the option.
pub fn number(flag: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, not `{value}`"))
}

/// A role's real server for a benchmark: a fresh store (the test kit's), its own runtime (as if in
/// its own process), port 0. Dropping it stops the server.
pub struct BenchServer {
    pub url: String,
    pub store: switchboard_storage::Store,
    shutdown: switchboard_web::Shutdown,
    runtime: Option<tokio::runtime::Runtime>,
    _temp: TempStore,
}

impl BenchServer {
    /// Opens the store, starts the event feed, and serves what `bind` binds (with the test kit's
    /// [`roles`], on `127.0.0.1:0`).
    pub fn start<F, Fut>(name: &str, bind: F) -> Result<Self, String>
    where
        F: FnOnce(
            switchboard_storage::Store,
            switchboard_storage::Cipher,
            switchboard_realtime::EventFeed,
            std::net::SocketAddr,
        ) -> Fut,
        Fut: Future<Output = Result<switchboard_web::Server, String>>,
    {
        let server_runtime = runtime(name)?;
        let shutdown = switchboard_web::Shutdown::new();
        let (url, temp) = server_runtime.block_on(async {
            let temp = TempStore::create().await.map_err(|e| e.to_string())?;
            let feed = roles::feed(&temp.store, &shutdown)
                .await
                .map_err(|e| e.to_string())?;
            let server = bind(
                temp.store.clone(),
                temp.cipher.clone(),
                feed,
                roles::any_port(),
            )
            .await?;
            // The load comes from one address at rates no caller is allowed: measure the server, not
            // its limiter (the limits' own cost is measured apart, see docs/benchmarks.md).
            let server = server.with_limits(switchboard_web::Limits::unlimited());
            let url = roles::serve(server, &shutdown, std::time::Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((url, temp))
        })?;
        Ok(Self {
            url,
            store: temp.store.clone(),
            shutdown,
            runtime: Some(server_runtime),
            _temp: temp,
        })
    }

    /// Runs the load on a runtime of its own, then stops the server.
    pub fn run_load<T>(
        mut self,
        load: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let result = runtime("load")?.block_on(load);
        self.shutdown.trigger();
        drop(self.runtime.take());
        result
    }
}
