//! What the benchmark programs share: histograms and how figures are printed, the database a run uses
//! (`--database-url`), and the servers it measures (in this process, or real `switchboard` nodes).

use hdrhistogram::Histogram;
use std::path::{Path, PathBuf};
use switchboard_domain::UnixMillis;
use switchboard_domain::ingest::{Batch, Direction, NewMessage};
use switchboard_storage::scratch::ScratchDatabase;
use switchboard_storage::{AccountKind, Cipher, StorageError, Store};
use switchboard_testkit::process::{Binary, Running, SERVE};
use switchboard_testkit::{TempStore, process, roles};

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

/// The name of the threads that generate a benchmark's load, told apart from the server's.
pub const LOAD_THREADS: &str = "load";

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

/// Where a run's data lives: `--database-url`.
#[derive(Clone, Debug, Default)]
pub enum Database {
    /// The test kit's fresh database: a SQLite file in a temporary directory (or a scratch schema
    /// when `SWITCHBOARD_TEST_POSTGRES` names a server).
    #[default]
    Temporary,
    /// A PostgreSQL server: the run makes a schema of its own there and drops it at the end, so runs
    /// never see each other's data.
    Postgres(String),
    /// A database the caller names, used as it is: a SQLite file (`sqlite://PATH` or a bare path), or
    /// a PostgreSQL URL whose options name its schema (`search_path`), as `search-bench --keep` prints.
    Existing(String),
}

impl Database {
    /// A `--database-url` value: `postgres://…`, `sqlite://PATH`, or a file path.
    pub fn parse(value: &str) -> Self {
        if value.contains("search_path") {
            Self::Existing(value.to_owned())
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Self::Postgres(value.to_owned())
        } else if value.starts_with("sqlite:") {
            Self::Existing(value.to_owned())
        } else {
            Self::Existing(format!("sqlite://{value}"))
        }
    }

    /// For the printed figures, without credentials.
    pub fn describe(&self) -> String {
        match self {
            Self::Temporary
                if std::env::var(switchboard_storage::scratch::POSTGRES_ENV)
                    .is_ok_and(|v| !v.is_empty()) =>
            {
                "PostgreSQL (a scratch schema on the server SWITCHBOARD_TEST_POSTGRES names)".into()
            }
            Self::Temporary => "SQLite, a fresh file in the temporary directory".into(),
            Self::Postgres(url) => {
                let server = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                let server = server.rsplit_once('@').map_or(server, |(_, host)| host);
                let server = server.split(['/', '?']).next().unwrap_or(server);
                format!("PostgreSQL at {server}, a fresh schema made and dropped by this run")
            }
            Self::Existing(url) if url.contains("search_path") => {
                let schema = url.rsplit("search_path%3D").next().unwrap_or(url);
                format!("PostgreSQL, the existing schema {schema}")
            }
            Self::Existing(url) => format!("SQLite, {url}"),
        }
    }
}

/// A `--database-url` option, if `flag` is one.
pub fn database_option(flag: &str, value: &str) -> Option<Database> {
    (flag == "--database-url").then(|| Database::parse(value))
}

/// A run's store and its encryption key (in a temporary directory), removed with this unless the
/// caller named an existing SQLite file.
pub struct BenchStore {
    pub store: Store,
    pub cipher: Cipher,
    /// The URL the store was opened with (its scratch schema on PostgreSQL).
    pub url: String,
    dir: PathBuf,
    _keep: Keep,
}

/// What must live as long as the store: the test kit's temporary store, or the key's directory and
/// the scratch schema.
struct Keep {
    _temporary: Option<Box<TempStore>>,
    _dir: Option<tempfile::TempDir>,
    _scratch: Option<ScratchDatabase>,
}

impl BenchStore {
    pub async fn open(database: &Database) -> Result<Self, String> {
        let error = |e: &dyn std::fmt::Display| e.to_string();
        let (url, dir, scratch) = match database {
            Database::Temporary => {
                let temp = TempStore::create().await.map_err(|e| error(&e))?;
                seed_history(&temp.store).await?;
                return Ok(Self {
                    store: temp.store.clone(),
                    cipher: temp.cipher.clone(),
                    url: temp.dir.database_url().to_owned(),
                    dir: temp.dir.path().to_owned(),
                    _keep: Keep {
                        _temporary: Some(Box::new(temp)),
                        _dir: None,
                        _scratch: None,
                    },
                });
            }
            Database::Postgres(server) => {
                let scratch = ScratchDatabase::on_postgres(server).map_err(|e| error(&e))?;
                (scratch.url().to_owned(), tempdir()?, Some(scratch))
            }
            Database::Existing(url) => (url.clone(), tempdir()?, None),
        };
        let store = Store::open(&url).await.map_err(|e| error(&e))?;
        let cipher = Cipher::create(&dir.path().join("encryption.key")).map_err(|e| error(&e))?;
        store
            .check_key(Some(cipher.clone()))
            .await
            .map_err(|e| error(&e))?;
        seed_history(&store).await?;
        Ok(Self {
            store,
            cipher,
            url,
            dir: dir.path().to_owned(),
            _keep: Keep {
                _temporary: None,
                _dir: Some(dir),
                _scratch: scratch,
            },
        })
    }

    /// The temporary directory that holds the key (and, by default, the SQLite file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Messages a run's database holds before its load, each with its event: a business that has been
/// running rather than an empty schema. PostgreSQL plans a prepared statement for the size a table
/// has when the plan is made, until autovacuum first analyzes it (up to a minute later): on an empty
/// schema a run's plans would be made for empty tables (sequential scans that grow slower with every
/// row the run adds; docs/benchmarks.md). The tables are not analyzed here: the planner sizes a table
/// never analyzed by its pages, which is what an operator's database of this size gets too.
const HISTORY_MESSAGES: u64 = 20_000;

/// Writes [`HISTORY_MESSAGES`] to an account of their own, one per write as bots' pushes arrive
/// (many in flight, so they are grouped).
async fn seed_history(store: &Store) -> Result<(), String> {
    const ACCOUNT: &str = "history";
    let error = |e: StorageError| format!("cannot seed the history: {e}");
    store
        .ensure_account(ACCOUNT, "Lịch sử", AccountKind::Page)
        .await
        .map_err(error)?;
    let mut writes = tokio::task::JoinSet::<Result<(), StorageError>>::new();
    for n in 0..HISTORY_MESSAGES {
        if writes.len() >= 64
            && let Some(written) = writes.join_next().await
        {
            written.map_err(|e| e.to_string())?.map_err(error)?;
        }
        let store = store.clone();
        let conversation = n % 1_000;
        writes.spawn(async move {
            let message = NewMessage {
                message_id: format!("history-{n}"),
                thread_id: format!("t{conversation}"),
                participant_id: format!("u{conversation}"),
                participant_name: "Phạm Minh Châu".into(),
                direction: Direction::In,
                text: "Chào shop, mẫu áo này còn size M màu xanh không ạ?".into(),
                attachments: vec![],
                sent_at: UnixMillis(1_735_689_600_000 + n as i64),
            };
            let batch = Batch {
                account: ACCOUNT.into(),
                items: vec![message],
            };
            store.ingest_messages(batch).await.map(drop)
        });
    }
    while let Some(written) = writes.join_next().await {
        written.map_err(|e| e.to_string())?.map_err(error)?;
    }
    Ok(())
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| e.to_string())
}

/// A role's real server for a benchmark: a fresh store (see [`BenchStore`]), its own runtime (as if
/// in its own process), port 0. Dropping it stops the server.
pub struct BenchServer {
    pub url: String,
    pub store: switchboard_storage::Store,
    /// What the store was opened with (its scratch schema on PostgreSQL).
    pub database_url: String,
    shutdown: switchboard_web::Shutdown,
    runtime: Option<tokio::runtime::Runtime>,
    _database: BenchStore,
}

impl BenchServer {
    /// Opens the store, starts the event feed, and serves what `bind` binds (with the test kit's
    /// [`roles`], on `127.0.0.1:0`).
    pub fn start<F, Fut>(name: &str, database: &Database, bind: F) -> Result<Self, String>
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
            let temp = BenchStore::open(database).await?;
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
            database_url: temp.url.clone(),
            shutdown,
            runtime: Some(server_runtime),
            _database: temp,
        })
    }

    /// The receiver role.
    pub fn receiver(database: &Database) -> Result<Self, String> {
        Self::start("receiver", database, |store, _, feed, addr| async move {
            roles::receiver(&store, &feed, addr)
                .await
                .map_err(|e| e.to_string())
        })
    }

    /// Runs the load on a runtime of its own, then stops the server.
    pub fn run_load<T>(
        mut self,
        load: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let result = runtime(LOAD_THREADS)?.block_on(load);
        self.shutdown.trigger();
        drop(self.runtime.take());
        result
    }
}

/// The limits a node runs with under a benchmark: its load comes from one address, far above what
/// one caller may do (`switchboard.toml` in the node's working directory).
pub const UNLIMITED_CONFIG: &str = "[limits]\naddress = { per_second = 1000000, burst = 1000000 }\n\
     anonymous = { per_second = 1000000, burst = 1000000 }\n\
     bot = { per_second = 1000000, burst = 1000000 }\n\
     integrator = { per_second = 1000000, burst = 1000000 }\n\
     in_flight_per_token = 10000\n\
     connections_per_address = 100000\n";

/// The `switchboard` binary next to this benchmark's own (`target/release/`), for `--binary`'s default.
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("switchboard"))
        .unwrap_or_else(|_| PathBuf::from("target/release/switchboard"))
}

/// Real `switchboard serve` processes, all on one database, each with every role on ports 0: the
/// truest picture of a cluster on one machine (each node its own process, its own writer, its own
/// connection listening for the others' commits). The store this program set the database up with
/// stays open beside them, idle.
pub struct Cluster {
    pub store: Store,
    nodes: Vec<Running>,
    /// Stopped after the nodes (declared after them): the runtime the set-up store was opened on.
    _runtime: tokio::runtime::Runtime,
    _database: BenchStore,
}

impl Cluster {
    /// Opens `database` here (migrating it and checking in a key), then starts `nodes` processes of
    /// `binary` on it and waits for each one's ready lines.
    pub fn start(binary: &Path, database: &Database, nodes: usize) -> Result<Self, String> {
        let runtime = runtime("setup")?;
        let database = runtime.block_on(BenchStore::open(database))?;
        std::fs::write(database.dir().join("switchboard.toml"), UNLIMITED_CONFIG)
            .map_err(|e| e.to_string())?;
        let binary = std::fs::canonicalize(binary).map_err(|e| {
            format!(
                "{}: {e} (build it: cargo build --release -p switchboard)",
                binary.display()
            )
        })?;
        // The test kit's launcher wants a path for the life of the program, which this is.
        let binary = Binary(Box::leak(binary.display().to_string().into_boxed_str()));
        let mut running = Vec::new();
        for _ in 0..nodes {
            let mut command = binary.command(database.dir());
            command.env("SWITCHBOARD_DATABASE_URL", &database.url);
            running.push(process::start(command, &SERVE, 3));
        }
        Ok(Self {
            store: database.store.clone(),
            nodes: running,
            _runtime: runtime,
            _database: database,
        })
    }

    /// The base URL of `role` (`receiver`, `sender`, `callcenter`) on node `index` (0-based).
    pub fn url(&self, index: usize, role: &str) -> String {
        self.nodes[index.min(self.nodes.len() - 1)]
            .url(role)
            .to_owned()
    }

    /// The process id of node `index` (0-based).
    pub fn pid(&self, index: usize) -> u32 {
        self.nodes[index.min(self.nodes.len() - 1)].child.id()
    }

    /// The CPU the nodes use, from their processes.
    pub fn server_cpu(&self) -> ServerCpu {
        ServerCpu::Processes(self.nodes.iter().map(|node| node.child.id()).collect())
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Records, for each arrival, how long after its request's answer it came (the delivery's own share
/// of the delay, once the write is committed); returns how many came before their answer.
pub fn record_after_answer<K: Eq + std::hash::Hash>(
    answers: &std::collections::HashMap<K, std::time::Instant>,
    arrivals: impl IntoIterator<Item = (K, std::time::Instant)>,
    into: &mut Histogram<u64>,
) -> u64 {
    let mut before_answer = 0;
    for (key, arrived) in arrivals {
        if let Some(answered) = answers.get(&key) {
            match arrived.checked_duration_since(*answered) {
                Some(delay) => {
                    let _ = into.record(delay.as_micros() as u64);
                }
                None => before_answer += 1,
            }
        }
    }
    before_answer
}

/// Linux reports CPU time in `/proc` in clock ticks of `USER_HZ`, which is 100 on every architecture
/// this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time in `/proc/…/stat` (fields 14 and 15, counted after the command name,
/// which may hold spaces and is closed by the last `)`).
fn stat_cpu_seconds(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split(' ').collect();
    // After the name, field 3 (state) is index 0: utime (14) is index 11, stime (15) index 12.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

/// The CPU time the server spent, measured from the kernel's accounting of its threads or processes,
/// not from wall time: what a message costs on a machine that has other work.
pub enum ServerCpu {
    /// The server runs in this process beside the load: the whole process (threads that exited
    /// included) minus the main thread and the [`LOAD_THREADS`], which generate the load.
    InProcess,
    /// The server is these processes.
    Processes(Vec<u32>),
}

impl ServerCpu {
    /// The server's CPU seconds so far.
    pub fn seconds(&self) -> f64 {
        match self {
            Self::InProcess => {
                let me = std::process::id();
                let total = stat_cpu_seconds(Path::new("/proc/self/stat")).unwrap_or(0.0);
                let load: f64 = std::fs::read_dir("/proc/self/task")
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|task| {
                        let path = task.path();
                        let is_main = task.file_name().to_str() == Some(&me.to_string());
                        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                        is_main || name.trim_end() == LOAD_THREADS
                    })
                    .filter_map(|task| stat_cpu_seconds(&task.path().join("stat")))
                    .sum();
                total - load
            }
            Self::Processes(pids) => pids
                .iter()
                .filter_map(|pid| stat_cpu_seconds(&PathBuf::from(format!("/proc/{pid}/stat"))))
                .sum(),
        }
    }
}

/// "server CPU 6.1 s over 8.0 s (0.76 of a core) = 38.2 µs per committed message".
pub fn cpu_per_item(cpu_seconds: f64, elapsed_seconds: f64, items: u64, what: &str) -> String {
    let per_item = if items == 0 {
        "nothing committed".to_owned()
    } else {
        format!(
            "{:.1} µs per {what}",
            cpu_seconds * 1_000_000.0 / items as f64
        )
    };
    format!(
        "{cpu_seconds:.2} s over {elapsed_seconds:.1} s ({:.2} of a core) = {per_item}",
        cpu_seconds / elapsed_seconds.max(f64::EPSILON)
    )
}
