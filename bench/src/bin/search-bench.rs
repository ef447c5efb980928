//! Search benchmark: the inbox's search over a million messages, as an agent types it.
//!
//! Fills a fresh database (SQLite by default, `--database-url postgres://…`) with `--messages`
//! realistic Vietnamese chat messages over `--conversations` conversations on `--pages` pages, written
//! in batches through the same ingest as the receiver (so the index is built as in production), then
//! runs `--queries` searches of the console's first page (50 conversations, every page, the admin's
//! view, open ones as the console's default tab), one after another, and prints each kind of query's latency and how many conversations the
//! query matched. Queries are typed as agents type them: without accents, with accents, a name, words of
//! a message, a very common word, and a word that matches nothing.
//!
//! `cargo run --release -p switchboard-bench --bin search-bench -- --help`

use std::time::Instant;
use switchboard_bench::{
    Database, command_line, database_option, histogram, machine, number, quantiles,
};
use switchboard_domain::ingest::{Batch, Direction, NewMessage};
use switchboard_domain::{AccountView, UnixMillis};
use switchboard_storage::{AccountKind, ConversationFilter, Store};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    messages: u64,
    conversations: u64,
    pages: u64,
    queries: u64,
    /// Leave the filled database (a PostgreSQL run's schema) for another look.
    keep: bool,
    database: Database,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        messages: 1_000_000,
        conversations: 100_000,
        pages: 10,
        queries: 600,
        keep: false,
        database: Database::default(),
    };
    let usage = "search-bench [--messages 1000000] [--conversations 100000] [--pages 10] [--queries 600]\n\
         [--database-url postgres://…|sqlite://PATH]\n\
         With --messages 0 and a database filled by an earlier run (sqlite://PATH), only the queries run.\n\
         --keep 1 leaves a PostgreSQL run's schema in place and prints its URL.";
    for (flag, value) in command_line(usage)? {
        if let Some(database) = database_option(&flag, &value) {
            options.database = database;
            continue;
        }
        let number = number(&flag, &value)?;
        match flag.as_str() {
            "--messages" => options.messages = number,
            "--conversations" => options.conversations = number.max(1),
            "--pages" => options.pages = number.max(1),
            "--queries" => options.queries = number.max(1),
            "--keep" => options.keep = number > 0,
            _ => return Err(format!("unknown option {flag}\n{usage}")),
        }
    }
    Ok(options)
}

/// A small deterministic generator (xorshift64*), so every run writes the same corpus.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Minh", "Ngọc", "Hữu", "Thanh", "Đức", "Quốc", "Gia", "Bảo",
];
const GIVEN: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Đức", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng",
    "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Phương", "Quân", "Sơn", "Tâm",
    "Thảo", "Trang", "Trung", "Tuấn", "Vy", "Yến",
];
const ASK: &[&str] = &[
    "Chào shop, mẫu {p} này còn size {s} màu {c} không ạ?",
    "Cho mình hỏi giá {p} {c} bao nhiêu vậy shop?",
    "Shop ơi {p} size {s} giao về {t} mất mấy ngày?",
    "Mình muốn đổi {p} sang màu {c} được không ạ",
    "Đơn hàng {o} của mình đã giao chưa shop",
    "Số điện thoại của mình là 09{n}, gọi trước khi giao nhé",
    "{p} này có freeship về {t} không ạ? Mình lấy 2 cái",
    "Dạ em cảm ơn chị, {p} đẹp lắm ạ",
    "ok shop",
    "Shop tư vấn giúp mình {p} nào hợp đi làm với",
];
const PRODUCT: &[&str] = &[
    "áo sơ mi",
    "quần jean",
    "váy hoa",
    "áo khoác",
    "giày thể thao",
    "túi xách",
    "điện thoại",
    "tai nghe",
    "ốp lưng",
    "sạc dự phòng",
    "nồi chiên",
    "máy xay",
    "son môi",
    "kem chống nắng",
    "đồng hồ",
    "balo",
];
const COLOUR: &[&str] = &[
    "xanh", "đỏ", "đen", "trắng", "vàng", "hồng", "be", "nâu", "tím", "xám",
];
const SIZE: &[&str] = &["S", "M", "L", "XL", "38", "39", "40"];
const TOWN: &[&str] = &[
    "Hà Nội",
    "Đà Nẵng",
    "Huế",
    "Cần Thơ",
    "Hải Phòng",
    "Nha Trang",
    "Đà Lạt",
    "Vũng Tàu",
    "Biên Hòa",
    "Thủ Đức",
    "Quy Nhơn",
    "Buôn Ma Thuột",
];

fn name_of(conversation: u64) -> String {
    let mut dice = Dice(conversation.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    format!(
        "{} {} {}",
        dice.pick(FAMILY),
        dice.pick(MIDDLE),
        dice.pick(GIVEN)
    )
}

/// A message's text, and the order code it names if it names one. One in three is typed without
/// accents, as many customers type on their phones.
fn text(dice: &mut Dice) -> (String, Option<String>) {
    let (text, order) = accented_text(dice);
    if dice.next().is_multiple_of(3) {
        (switchboard_domain::search::fold(&text), order)
    } else {
        (text, order)
    }
}

fn accented_text(dice: &mut Dice) -> (String, Option<String>) {
    let template = dice.pick(ASK);
    let order = format!("DH{:07}", dice.next() % 10_000_000);
    let text = template
        .replace("{p}", dice.pick(PRODUCT))
        .replace("{c}", dice.pick(COLOUR))
        .replace("{s}", dice.pick(SIZE))
        .replace("{t}", dice.pick(TOWN))
        .replace("{o}", &order)
        .replace("{n}", &format!("{:08}", dice.next() % 100_000_000));
    (text, template.contains("{o}").then_some(order))
}

const BATCH: u64 = 500;

/// Writes the corpus; answers some of the order codes it holds.
async fn fill(store: &Store, options: &Options) -> Result<Vec<String>, String> {
    let mut orders = Vec::new();
    for page in 0..options.pages {
        store
            .ensure_account(&format!("page{page}"), "", AccountKind::Page)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut dice = Dice(0x5eed);
    let mut writes = tokio::task::JoinSet::new();
    let batches = options.messages.div_ceil(BATCH);
    for batch in 0..batches {
        let page = batch % options.pages;
        let items = (0..BATCH.min(options.messages - batch * BATCH))
            .map(|i| {
                let n = batch * BATCH + i;
                // Conversations belong to one page each; messages spread over them.
                let conversation = (dice.next() % (options.conversations / options.pages).max(1))
                    * options.pages
                    + page;
                let (text, order) = text(&mut dice);
                if let Some(order) = order.filter(|_| orders.len() < 100) {
                    orders.push(order);
                }
                NewMessage {
                    message_id: format!("m{n}"),
                    thread_id: format!("t{conversation}"),
                    participant_id: format!("u{conversation}"),
                    participant_name: name_of(conversation),
                    direction: if n % 3 == 2 {
                        Direction::Out
                    } else {
                        Direction::In
                    },
                    text,
                    attachments: vec![],
                    sent_at: UnixMillis(1_735_689_600_000 + n as i64 * 1_000),
                }
            })
            .collect();
        if writes.len() >= 4
            && let Some(written) = writes.join_next().await
        {
            written.map_err(|e| e.to_string())??;
        }
        let store = store.clone();
        let account = format!("page{page}");
        writes.spawn(async move {
            store
                .ingest_messages(Batch { account, items })
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        });
    }
    while let Some(written) = writes.join_next().await {
        written.map_err(|e| e.to_string())??;
    }
    Ok(orders)
}

/// The kinds of query measured, each with the texts it draws from.
fn query_kinds(orders: Vec<String>) -> Vec<(&'static str, Vec<String>)> {
    let names: Vec<String> = (0..200).map(name_of).collect();
    let folded_names = names
        .iter()
        .map(|n| switchboard_domain::search::fold(n))
        .collect();
    vec![
        ("no search (the list as it opens)", vec![String::new()]),
        ("full name, no accents (\"nguyen van an\")", folded_names),
        ("full name with accents", names),
        (
            "given name with accents (\"Đức\")",
            GIVEN.iter().map(|g| (*g).to_owned()).collect(),
        ),
        (
            "message words, no accents (\"dien thoai\")",
            PRODUCT
                .iter()
                .map(|p| switchboard_domain::search::fold(p))
                .collect(),
        ),
        (
            "two words being typed (\"ao kh\")",
            vec![
                "ao kh".into(),
                "giay th".into(),
                "kem ch".into(),
                "tai ng".into(),
            ],
        ),
        (
            "very common word (\"shop\")",
            vec!["shop".into(), "ạ".into(), "size".into(), "mình".into()],
        ),
        ("order code (one conversation)", orders),
        // (none when the run reused a database it did not fill: `--messages 0`)
        ("no match", vec!["xyzzy".into(), "qwerty khong co".into()]),
    ]
}

async fn run(options: Options) -> Result<(), String> {
    // A database filled by an earlier run is only searched: opened as it is, without a key.
    let (bench, store) = match (&options.database, options.messages) {
        (Database::Existing(url), 0) => (None, Store::open(url).await.map_err(|e| e.to_string())?),
        (database, _) => {
            let bench = switchboard_bench::BenchStore::open(database).await?;
            let store = bench.store.clone();
            (Some(bench), store)
        }
    };
    println!("search-bench: {}", machine());
    println!("database: {}", options.database.describe());
    let started = Instant::now();
    let orders = fill(&store, &options).await?;
    let loading = started.elapsed().as_secs_f64();
    println!(
        "loaded {} messages over {} conversations on {} pages in {loading:.1} s ({:.0} messages/s, indexed as they were stored)",
        options.messages,
        options.conversations,
        options.pages,
        options.messages as f64 / loading
    );
    store.analyze().await.map_err(|e| e.to_string())?;
    if let Some(size) = store.file().and_then(|path| std::fs::metadata(path).ok()) {
        println!("database file: {:.0} MB", size.len() as f64 / 1e6);
    }
    let kinds = query_kinds(orders);
    let mut overall = histogram();
    let per_kind = (options.queries / kinds.len() as u64).max(1);
    for (kind, texts) in kinds.iter().filter(|(_, texts)| !texts.is_empty()) {
        let mut latency = histogram();
        let mut found = 0usize;
        for i in 0..per_kind {
            let text = &texts[(i as usize) % texts.len()];
            // As the console asks by default: open conversations of every page.
            let filter = ConversationFilter {
                search: (!text.is_empty()).then(|| text.clone()),
                status: Some(switchboard_domain::ConversationStatus::Open),
                ..ConversationFilter::default()
            };
            let start = Instant::now();
            let page = store
                .all_conversations(&AccountView::All, filter, None, 50)
                .await
                .map_err(|e| format!("search `{text}`: {e}"))?;
            let micros = start.elapsed().as_micros() as u64;
            if micros > 200_000 {
                eprintln!("slow: `{text}` took {:.0} ms", micros as f64 / 1000.0);
            }
            latency.record(micros.max(1)).map_err(|e| e.to_string())?;
            overall.record(micros.max(1)).map_err(|e| e.to_string())?;
            found += page.items.len();
        }
        println!(
            "{kind:<45} {per_kind:>4} queries, {:>5.1} conversations on the first page: {}",
            found as f64 / per_kind as f64,
            quantiles(&latency)
        );
    }
    println!("all queries: {}", quantiles(&overall));
    if let Some(bench) = bench.filter(|_| options.keep) {
        println!("kept: {}", bench.url);
        std::mem::forget(bench);
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let outcome = parse_options()
        .and_then(|options| switchboard_bench::runtime("search-bench")?.block_on(run(options)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("search-bench: {problem}");
            std::process::ExitCode::FAILURE
        }
    }
}
