//! `switchboard demo`: the whole system on its own database, with simulated Facebook pages whose
//! customers write in and answer agents, and simulated callers ringing the call center, so a newcomer
//! sees everything move with one command.

use crate::serve::{self, Role};
use crate::{CallCenterArgs, Settings};
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_bot::sim::{SimDriver, SimOptions};
use switchboard_bot::{Backoff, BotConfig, Driver};
use switchboard_domain::Role as UserRole;
use switchboard_storage::{AccountKind, NewAgent, StorageError, Store, TokenKind};

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
    #[command(flatten)]
    pub call_center: CallCenterArgs,
}

/// A fresh token for `kind`, revoking the ones earlier demo runs made (they were never shown).
async fn fresh_token(store: &Store, kind: TokenKind, name: &str) -> Result<String, String> {
    for old in store.tokens().await.map_err(|e| e.to_string())? {
        if !old.revoked && (old.account.as_deref() == Some(name) || old.name == name) {
            store
                .revoke_token(old.id)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(store.issue_token(kind).await.map_err(|e| e.to_string())?.1)
}

pub async fn run(args: DemoArgs, mut settings: Settings) -> Result<(), String> {
    let messages_per_minute =
        crate::bot::per_minute("messages-per-minute", args.messages_per_minute)?;
    let calls_per_minute = crate::bot::per_minute("calls-per-minute", args.calls_per_minute)?;
    if settings.database_url == switchboard_storage::DEFAULT_DATABASE_URL {
        settings.database_url = DEMO_DATABASE_URL.into();
        // The demo's database has its own key, so that it never looks like the real one lost; a demo
        // database made before the demo had one keeps the shared key.
        let demo_db_exists =
            switchboard_storage::sqlite_file(DEMO_DATABASE_URL).is_some_and(|db| db.exists());
        let demo_key = std::path::PathBuf::from(DEMO_ENCRYPTION_KEY);
        if settings.encryption_key == std::path::Path::new(crate::config::DEFAULT_ENCRYPTION_KEY)
            && (demo_key.exists() || !demo_db_exists)
        {
            settings.encryption_key = demo_key;
        }
    }
    let store = settings.open().await?;
    if store.user_count().await.map_err(|e| e.to_string())? == 0 {
        for (username, name, role, extension) in [
            ("admin", "Quản trị viên", UserRole::Admin, "100"),
            ("lan", "Nguyễn Thị Lan", UserRole::Agent, "101"),
            ("minh", "Trần Văn Minh", UserRole::Agent, "102"),
        ] {
            match store
                .create_user(username, name, role, DEMO_PASSWORD.into())
                .await
            {
                // Each demo user also answers calls: offline until they set themselves available.
                Ok(user) => {
                    store
                        .create_agent(NewAgent {
                            user_id: Some(user.id),
                            full_name: name.into(),
                            extension: extension.into(),
                            queues: Vec::new(),
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Err(StorageError::UserExists(_)) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
    }
    let pages = &PAGES[..args.pages.clamp(1, PAGES.len())];
    let mut tokens = Vec::new();
    for (id, name) in pages {
        store
            .ensure_account(id, name, AccountKind::Page)
            .await
            .map_err(|e| e.to_string())?;
        tokens.push(
            fresh_token(
                &store,
                TokenKind::Bot {
                    account: (*id).into(),
                },
                id,
            )
            .await?,
        );
    }
    let phone_token = fresh_token(
        &store,
        TokenKind::Pbx {
            name: PHONE_SYSTEM.into(),
        },
        PHONE_SYSTEM,
    )
    .await?;
    drop(store);

    let addr = |given: Option<SocketAddr>, default: &str| -> Result<SocketAddr, String> {
        serve::listen(given, None, default)
    };
    let receiver = addr(
        settings.file.receiver.listen,
        crate::config::DEFAULT_RECEIVER_LISTEN,
    )?;
    let sender = addr(
        settings.file.sender.listen,
        crate::config::DEFAULT_SENDER_LISTEN,
    )?;
    let callcenter = addr(
        settings.file.callcenter.listen,
        crate::config::DEFAULT_CALLCENTER_LISTEN,
    )?;
    eprintln!(
        "switchboard demo: {} simulated pages, ~{} calls a minute",
        pages.len(),
        calls_per_minute
    );
    eprintln!(
        "switchboard demo: log in as `admin`, `lan` or `minh` with the password `{DEMO_PASSWORD}`"
    );
    eprintln!(
        "switchboard demo: set your status to Sẵn sàng (available) at the top right to take the simulated calls"
    );

    let stop = switchboard_web::Shutdown::new();
    stop.trigger_on_signals();
    let mut simulated = tokio::task::JoinSet::new();
    for ((id, _), token) in pages.iter().zip(tokens) {
        let config = BotConfig {
            account: (*id).into(),
            receiver_url: format!("http://{receiver}"),
            sender_url: format!("http://{sender}"),
            token,
            spool_path: std::path::Path::new("data/demo-bots").join(format!("{id}.db")),
            bot_name: "demo".into(),
            backoff: Backoff {
                min: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
        };
        let driver = Driver::Sim(SimDriver::new(SimOptions {
            messages_per_minute,
            notifications_per_minute: 0.5,
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
    if calls_per_minute > 0.0 {
        let url = format!("http://{callcenter}/api/v1/cti/{phone_token}");
        let (mean, wait) = (
            Duration::from_secs_f64(60.0 / calls_per_minute),
            stop.clone(),
        );
        simulated.spawn(async move {
            tokio::select! {
                () = callers(url, mean) => {}
                () = wait.wait() => {}
            }
        });
    }
    let roles = [
        Role::Receiver {
            listen: Some(receiver),
            flag: "--receiver-listen",
        },
        Role::Sender {
            listen: Some(sender),
            flag: "--sender-listen",
        },
        Role::CallCenter {
            listen: Some(callcenter),
            flag: "--callcenter-listen",
            args: args.call_center,
        },
    ];
    let result = serve::run(&roles, settings).await;
    stop.trigger();
    while simulated.join_next().await.is_some() {}
    result
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
