//! The bots connected to this sender: who to wake when a command is queued, and how many connections
//! each account has (a bot that reconnects may briefly have two; it is offline only when both are gone).

use socketioxide::extract::SocketRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

#[derive(Clone, Default)]
pub struct BotRegistry {
    accounts: Arc<Mutex<HashMap<String, Entry>>>,
}

/// See [`BotRegistry::downgrade`].
pub(crate) struct WeakBotRegistry(std::sync::Weak<Mutex<HashMap<String, Entry>>>);

impl WeakBotRegistry {
    pub(crate) fn upgrade(&self) -> Option<BotRegistry> {
        self.0.upgrade().map(|accounts| BotRegistry { accounts })
    }
}

struct Entry {
    /// Bumped when a command for the account is queued; each delivery task watches it.
    queued: watch::Sender<u64>,
    sockets: Vec<SocketRef>,
}

impl BotRegistry {
    fn with<T>(&self, account: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut accounts = self
            .accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = accounts.entry(account.to_owned()).or_insert_with(|| Entry {
            queued: watch::channel(0).0,
            sockets: Vec::new(),
        });
        f(entry)
    }

    /// Registers a bot connection; returns its wake-up receiver and whether it is the account's first.
    pub(crate) fn connected(
        &self,
        account: &str,
        socket: SocketRef,
    ) -> (watch::Receiver<u64>, bool) {
        self.with(account, |entry| {
            entry.sockets.push(socket);
            (entry.queued.subscribe(), entry.sockets.len() == 1)
        })
    }

    /// Forgets a bot connection; true when the account has no connection left.
    pub(crate) fn disconnected(&self, account: &str, socket: &SocketRef) -> bool {
        self.with(account, |entry| {
            entry.sockets.retain(|s| s.id != socket.id);
            entry.sockets.is_empty()
        })
    }

    /// The accounts with a bot connected here, for this node's presence heartbeat.
    pub(crate) fn held(&self) -> Vec<String> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, entry)| !entry.sockets.is_empty())
            .map(|(account, _)| account.clone())
            .collect()
    }

    /// A handle that does not keep the registry alive: the heartbeat stops with the role.
    pub(crate) fn downgrade(&self) -> WeakBotRegistry {
        WeakBotRegistry(Arc::downgrade(&self.accounts))
    }

    /// Wakes the account's delivery tasks: a command was queued.
    pub fn wake_account(&self, account: &str) {
        self.with(account, |entry| {
            entry.queued.send_modify(|n| *n = n.wrapping_add(1))
        });
    }

    /// Closes the account's bot connections (its account was disabled or removed).
    pub fn disconnect(&self, account: &str) {
        let sockets = self.with(account, |entry| entry.sockets.clone());
        for socket in sockets {
            let _ = socket.disconnect();
        }
    }
}

/// `GET /api/bot/account` is for bots only: the credentials it returns are their driver's.
pub struct ReadsOwnAccount;

impl switchboard_web::BotsOnly for ReadsOwnAccount {
    const REFUSAL: &'static str = "only a bot token may read its account's credentials";
}

/// A bot's own account, with the credentials its driver needs, in clear.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BotAccount {
    #[schema(example = "100089123456789")]
    user_id_chat: String,
    #[schema(example = "Shop Hoa Tươi")]
    name: String,
    kind: switchboard_domain::outbound::AccountKind,
    enabled: bool,
    needs_login: bool,
    credentials: ClearCredentials,
}

/// Each credential stored for the account, `null` when none is.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ClearCredentials {
    password: Option<String>,
    cookies: Option<String>,
    two_factor_secret: Option<String>,
    page_access_token: Option<String>,
}

/// `GET /api/bot/account`: a bot reads its own account, with the credentials its driver needs in clear.
/// Only a bot token may, and only for its account; no other endpoint ever returns credentials.
#[utoipa::path(get, path = "/api/bot/account", tag = "bots", security(("bearer" = [])),
    responses(
        (status = 200, description = "The bot's account and its credentials", body = switchboard_web::Answer<BotAccount>),
        (status = 401, description = "No valid token", body = switchboard_web::openapi::ErrorAnswer),
        (status = 403, description = "Not a bot token", body = switchboard_web::openapi::ErrorAnswer),
    ))]
pub async fn own_account(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    bot: switchboard_web::Bot<ReadsOwnAccount>,
) -> Result<axum::response::Response, switchboard_web::ApiError> {
    let account = &bot.account;
    let found = state.store.account(account).await?.ok_or_else(|| {
        switchboard_web::ApiError::Storage(switchboard_storage::StorageError::UnknownAccount(
            account.clone(),
        ))
    })?;
    let credentials = state
        .store
        .account_credentials(account, &state.cipher)
        .await?;
    tracing::info!(%account, "a bot read its account's credentials");
    Ok(switchboard_web::ok(BotAccount {
        user_id_chat: found.user_id_chat,
        name: found.name,
        kind: found.kind,
        enabled: found.enabled,
        needs_login: found.needs_login,
        credentials: ClearCredentials {
            password: credentials.password,
            cookies: credentials.cookies,
            two_factor_secret: credentials.two_factor_secret,
            page_access_token: credentials.page_access_token,
        },
    }))
}
