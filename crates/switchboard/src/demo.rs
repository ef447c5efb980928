//! `switchboard demo`: the whole system on its own database, with simulated Facebook pages whose
//! customers write in and answer agents, and simulated callers ringing the call center, so a newcomer
//! sees everything move with one command. [`run`] lists the steps.

use crate::checks::per_minute;
use crate::config::Settings;
use crate::role::Role;
use crate::{serve, startup};
use anyhow::Result;
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_bot::sim::{SimDriver, SimOptions};
use switchboard_bot::{Backoff, BotConfig, Driver};
use switchboard_domain::Role as UserRole;
use switchboard_storage::{AccountKind, NewAgent, StorageError, Store, TokenKind};
use switchboard_web::Shutdown;
use tokio::task::JoinSet;

/// The demo's own database unless one is given: it never mixes invented data into real data.
pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo.db";
/// And its own key, beside it.
const DEMO_ENCRYPTION_KEY: &str = "data/demo.key";
const DEMO_PASSWORD: &str = "switchboard-demo";
const PAGES: [(&str, &str); 4] = [
    ("demo-shop-hoa", "Shop Hoa Tươi Sài Gòn"),
    ("demo-thoi-trang-mai", "Thời Trang Mai"),
    ("demo-my-pham-lan", "Mỹ Phẩm Lan Chi"),
    ("demo-dien-thoai-24h", "Điện Thoại 24h"),
];
const PHONE_SYSTEM: &str = "demo-phone-system";

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// How many simulated Facebook pages (1–4).
    #[arg(long, default_value_t = 3)]
    pub pages: usize,
    /// New customer messages per minute on each page.
    #[arg(long, default_value_t = 4.0)]
    pub messages_per_minute: f64,
    /// Simulated incoming calls per minute (0: none).
    #[arg(long, default_value_t = 2.0)]
    pub calls_per_minute: f64,
}

/// Runs the demo until a signal.
pub async fn run(args: DemoArgs, mut settings: Settings) -> Result<()> {
    let messages_per_minute = per_minute("messages-per-minute", args.messages_per_minute)?;
    let calls_per_minute = per_minute("calls-per-minute", args.calls_per_minute)?;
    use_the_demo_store(&mut settings);
    let pages = &PAGES[..args.pages.clamp(1, PAGES.len())];
    let tokens = prepare_demo_data(&settings, pages).await?;
    greet(pages.len(), calls_per_minute);
    let stop = startup::stop_on_signals(std::time::Duration::ZERO);
    let mut simulated = JoinSet::new();
    start_simulated_pages(
        &mut simulated,
        &settings,
        pages,
        tokens.pages,
        messages_per_minute,
        &stop,
    );
    start_simulated_callers(
        &mut simulated,
        &settings,
        &tokens.phone,
        calls_per_minute,
        &stop,
    );
    let result = serve::run(&Role::ALL, settings).await;
    stop.trigger();
    while simulated.join_next().await.is_some() {}
    result
}

/// The demo's own database and key, unless a database or a key was configured.
fn use_the_demo_store(settings: &mut Settings) {
    if !settings.store_is_default {
        return;
    }
    settings.database_url = DEMO_DATABASE_URL.into();
    // The demo's database has its own key, so that it never looks like the real one lost; a demo
    // database made before the demo had one keeps the shared key.
    let demo_db_exists =
        switchboard_storage::sqlite_file(DEMO_DATABASE_URL).is_some_and(|db| db.exists());
    let demo_key = PathBuf::from(DEMO_ENCRYPTION_KEY);
    if settings.key_is_default && (demo_key.exists() || !demo_db_exists) {
        settings.encryption_key = demo_key;
    }
}

/// The tokens of the simulated pages' bots and of the simulated phone system.
struct DemoTokens {
    pages: Vec<String>,
    phone: String,
}

/// The demo's users (on the first run), its pages, and fresh tokens for their bots and the phone.
async fn prepare_demo_data(settings: &Settings, pages: &[(&str, &str)]) -> Result<DemoTokens> {
    let store = startup::open_store(settings).await?;
    let first_run = store.user_count().await? == 0;
    if first_run {
        create_demo_users(&store).await?;
        create_demo_labels(&store).await?;
        create_demo_outcome_codes(&store).await?;
        create_demo_customers(&store).await?;
    }
    let mut tokens = Vec::new();
    for (id, name) in pages {
        store.ensure_account(id, name, AccountKind::Page).await?;
        let kind = TokenKind::Bot {
            account: (*id).into(),
        };
        tokens.push(fresh_token(&store, kind, id).await?);
    }
    if first_run {
        share_demo_pages(&store, pages).await?;
    }
    let kind = TokenKind::Pbx {
        name: PHONE_SYSTEM.into(),
    };
    let phone = fresh_token(&store, kind, PHONE_SYSTEM).await?;
    Ok(DemoTokens {
        pages: tokens,
        phone,
    })
}

/// Each demo user also answers calls: offline until they set themselves available.
async fn create_demo_users(store: &Store) -> Result<()> {
    for (username, name, role, extension) in [
        ("admin", "Quản trị viên", UserRole::Admin, "100"),
        ("lan", "Nguyễn Thị Lan", UserRole::Agent, "101"),
        ("minh", "Trần Văn Minh", UserRole::Agent, "102"),
        ("thu", "Phạm Thu", UserRole::Supervisor, "103"),
        ("an", "Lê Văn An", UserRole::Agent, "104"),
    ] {
        match store
            .create_user(username, name, role, DEMO_PASSWORD.into())
            .await
        {
            Ok(user) => {
                store
                    .create_agent(NewAgent {
                        user_id: Some(user.id),
                        full_name: name.into(),
                        extension: extension.into(),
                        queues: Vec::new(),
                    })
                    .await?;
            }
            Err(StorageError::UserExists(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Two shifts, each with its own page, as a shop shares its pages out: the morning shift (Lan) sees
/// the flower shop, the afternoon shift (Minh, An) the fashion page; the supervisor is in both, and
/// the other pages stay open to everyone. The shifts' pages assign automatically (at most 8 open
/// conversations each; an agent who leaves hands theirs back), the open pages by hand.
async fn share_demo_pages(store: &Store, pages: &[(&str, &str)]) -> Result<()> {
    let users = store.users().await?;
    let id_of = |username: &str| users.iter().find(|u| u.username == username).map(|u| u.id);
    let shifts = [
        ("Ca sáng", &["lan", "thu"][..]),
        ("Ca chiều", &["minh", "an", "thu"][..]),
    ];
    for ((team, members), (page, _)) in shifts.iter().zip(pages) {
        let changes = switchboard_domain::access::TeamChanges {
            name: Some((*team).into()),
            member_ids: Some(members.iter().filter_map(|m| id_of(m)).collect()),
        };
        let (team, _) = store.create_team(changes).await?;
        let list = switchboard_domain::access::AccessList {
            user_ids: Vec::new(),
            team_ids: vec![team.id],
        };
        store.set_access(page, Some(list)).await?;
        // Each shift's page shares its conversations out among the shift's agents who are online.
        let assignment = switchboard_domain::teamwork::AssignmentIn {
            auto: Some(true),
            limit: Some(8),
            return_when_offline: Some(true),
        };
        store.set_assignment(page, assignment).await?;
    }
    Ok(())
}

/// Labels a shop would use, so the team inbox's filters have something to show.
async fn create_demo_labels(store: &Store) -> Result<()> {
    for (name, color) in [
        ("Khách sỉ", "#1f8a4c"),
        ("Đơn hàng", "#2f6fb3"),
        ("Khiếu nại", "#c0392b"),
        ("VIP", "#d4a017"),
    ] {
        let label = switchboard_domain::teamwork::NewLabel {
            name: name.into(),
            color: color.into(),
        };
        match store.create_label(label).await {
            Ok(_) | Err(StorageError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// What a shop records after a call: agents pick one in the call log.
async fn create_demo_outcome_codes(store: &Store) -> Result<()> {
    for (code, label) in [
        ("resolved", "Đã giải quyết"),
        ("sale", "Chốt đơn"),
        ("follow_up", "Cần theo dõi thêm"),
        ("complaint", "Khiếu nại"),
        ("wrong_number", "Nhầm số"),
    ] {
        match store
            .create_outcome_code(code.into(), label.into(), None)
            .await
        {
            Ok(_) | Err(StorageError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Two fields a shop keeps on its customers, and a few customers, two of them one person written down
/// twice (the same number, spelled differently): the customers screen suggests merging them.
async fn create_demo_customers(store: &Store) -> Result<()> {
    use switchboard_domain::custom_fields::{FieldIn, FieldKind};
    use switchboard_domain::customer::CustomerIn;
    let fields = [
        (
            "hang_thanh_vien",
            "Hạng thành viên",
            FieldKind::Choice,
            vec!["Bạc", "Vàng", "Kim cương"],
        ),
        ("ngay_sinh", "Ngày sinh", FieldKind::Date, vec![]),
    ];
    for (key, label, kind, choices) in fields {
        let field = FieldIn {
            key: Some(key.into()),
            label: Some(label.into()),
            kind: Some(kind),
            choices: Some(choices.into_iter().map(str::to_owned).collect()),
            position: None,
        };
        match store.create_custom_field(field.definition()?, None).await {
            Ok(_) | Err(StorageError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let customers = [
        serde_json::json!({"fullName": "Trần Minh Đức", "phoneNumber": "0912 345 678", "cif": "CIF001230022",
            "customFields": {"hang_thanh_vien": "Vàng", "ngay_sinh": "1990-05-17"}}),
        serde_json::json!({"fullName": "Duc Tran", "phoneNumbers": ["+84 912 345 678", "0987 654 321"],
            "email": "duc.tran@example.vn", "notes": "Hay hỏi về hoa sinh nhật"}),
        serde_json::json!({"fullName": "Nguyễn Thị Mai", "phoneNumber": "0903 111 222", "email": "mai.nguyen@example.vn",
            "customFields": {"hang_thanh_vien": "Kim cương"}}),
        serde_json::json!({"fullName": "Lê Văn Hùng", "phoneNumber": "028 3822 1234"}),
    ];
    for body in customers {
        let fields = serde_json::from_value::<CustomerIn>(body)?.validate()?;
        store.create_customer(fields).await?;
    }
    Ok(())
}

/// A fresh token for `kind`, revoking the ones earlier demo runs made (they were never shown).
async fn fresh_token(store: &Store, kind: TokenKind, name: &str) -> Result<String> {
    for old in store.tokens().await? {
        if !old.revoked && (old.account.as_deref() == Some(name) || old.name == name) {
            store.revoke_token(old.id).await?;
        }
    }
    Ok(store.issue_token(kind).await?.1)
}

fn greet(pages: usize, calls_per_minute: f64) {
    eprintln!("switchboard demo: {pages} simulated pages, ~{calls_per_minute} calls a minute");
    eprintln!(
        "switchboard demo: log in as `admin`, `lan`, `minh`, `an` (agents) or `thu` (supervisor) with the password `{DEMO_PASSWORD}`"
    );
    eprintln!(
        "switchboard demo: set your status to Sẵn sàng (available) at the top right to take the simulated calls"
    );
    eprintln!(
        "switchboard demo: as `thu`, watch the calls on Giám sát (the live floor) and read today's figures on Báo cáo (reports)"
    );
}

/// One simulated bot per page, pushing to the receiver and taking the sender's commands.
fn start_simulated_pages(
    simulated: &mut JoinSet<()>,
    settings: &Settings,
    pages: &[(&str, &str)],
    tokens: Vec<String>,
    messages_per_minute: f64,
    stop: &Shutdown,
) {
    let receiver = settings.role(Role::Receiver).listen;
    let sender = settings.role(Role::Sender).listen;
    for ((id, _), token) in pages.iter().zip(tokens) {
        let config = BotConfig {
            account: (*id).into(),
            receiver_url: format!("http://{receiver}"),
            sender_url: format!("http://{sender}"),
            token,
            spool_path: Path::new("data/demo-bots").join(format!("{id}.db")),
            bot_name: "demo".into(),
            backoff: Backoff {
                min: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
        };
        let driver = Driver::Sim(SimDriver::new(SimOptions {
            messages_per_minute,
            notifications_per_minute: 0.5,
            comments_per_minute: 1.0,
            send_failure_rate: 0.05,
            ..SimOptions::default()
        }));
        let wait = stop.clone();
        simulated.spawn(async move {
            if let Err(error) =
                switchboard_bot::run(config, driver, async move { wait.wait().await }).await
            {
                tracing::error!(%error, "a demo bot stopped");
            }
        });
    }
}

/// Simulated callers through the CTI webhook, with the phone system's token.
fn start_simulated_callers(
    simulated: &mut JoinSet<()>,
    settings: &Settings,
    phone_token: &str,
    calls_per_minute: f64,
    stop: &Shutdown,
) {
    if calls_per_minute <= 0.0 {
        return;
    }
    let callcenter: SocketAddr = settings.role(Role::CallCenter).listen;
    let url = format!("http://{callcenter}/api/v1/cti/{phone_token}");
    let mean = Duration::from_secs_f64(60.0 / calls_per_minute);
    let wait = stop.clone();
    simulated.spawn(async move {
        tokio::select! {
            () = callers(url, mean) => {}
            () = wait.wait() => {}
        }
    });
}

/// Callers as a phone system reports them through the CTI webhook: each rings, and hangs up after a
/// while (a missed call if nobody answered, the end of the conversation if someone did).
async fn callers(url: String, mean: Duration) {
    let http = match switchboard_bot::http_client(Duration::from_secs(10)) {
        Ok(http) => http,
        Err(error) => return tracing::error!(%error, "demo callers cannot start"),
    };
    // Let the servers come up first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut n: u64 = 0;
    loop {
        n += 1;
        let call_id = format!("demo-{}-{n}", fastrand::u32(..));
        let from = format!("09{:08}", fastrand::u32(..100_000_000));
        let new_call = [
            ("event", "newCall"),
            ("callId", call_id.as_str()),
            ("from", from.as_str()),
            ("to", "19001234"),
            ("direction", "in"),
        ];
        match http.post(&url).form(&new_call).send().await {
            Ok(response) if !response.status().is_success() => {
                tracing::warn!(status = %response.status(), "the demo call was refused");
            }
            Err(error) => tracing::debug!(%error, "the call center is not up yet"),
            Ok(_) => {
                let (http, url) = (http.clone(), url.clone());
                let talk = Duration::from_secs(25 + u64::from(fastrand::u8(..60)));
                tokio::spawn(async move {
                    tokio::time::sleep(talk).await;
                    let hangup = [
                        ("event", "hangup"),
                        ("callId", call_id.as_str()),
                        ("cause", "normalClearing"),
                    ];
                    let _ = http.post(&url).form(&hangup).send().await;
                });
            }
        }
        tokio::time::sleep(switchboard_bot::sim::exponential(mean)).await;
    }
}
