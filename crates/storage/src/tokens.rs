//! Bearer tokens for bots and integrators. A token is 32 random bytes shown once; only its SHA-256 is
//! stored (the token is high-entropy, so a slow password hash would add nothing but latency).

use crate::sql::args;
use crate::{Result, StorageError, Store, accounts};
use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard_domain::{Principal, UnixMillis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// Bound to one account: `user_id_chat`.
    Bot { account: String },
    /// An integrator's token, named for the person or system that holds it.
    Api { name: String },
    /// An integrator's token that sees these accounts (`user_id_chat`) only and administers nothing.
    ScopedApi { name: String, accounts: Vec<String> },
    /// A phone system's token for the CTI webhook: posts call events and reads the call center only.
    Pbx { name: String },
}

/// A token as an admin sees it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub account: Option<String>,
    /// For an API token issued for some accounts only: those accounts. `null` when unscoped.
    pub accounts: Option<Vec<String>>,
    pub created_at: String,
    pub revoked: bool,
}

/// Longest token worth looking up: ours are 68 characters.
pub const MAX_TOKEN_LENGTH: usize = 128;

pub(crate) fn hash_token(token: &str) -> String {
    switchboard_domain::encoding::hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StorageError::Task(format!("no randomness: {e}")))?;
    Ok(switchboard_domain::encoding::hex(&bytes))
}

impl Store {
    /// Creates a token and returns `(id, secret)`. The secret is not stored and cannot be shown again.
    pub async fn issue_token(&self, kind: TokenKind) -> Result<(i64, String)> {
        self.issue_token_by(kind, None).await
    }

    /// Like [`Store::issue_token`], recording which console user made it.
    pub async fn issue_token_by(
        &self,
        kind: TokenKind,
        created_by: Option<i64>,
    ) -> Result<(i64, String)> {
        let prefix = match kind {
            TokenKind::Bot { .. } => "sbb_",
            TokenKind::Api { .. } | TokenKind::ScopedApi { .. } => "sba_",
            TokenKind::Pbx { .. } => "sbp_",
        };
        let secret = format!("{prefix}{}", random_secret()?);
        let token_hash = hash_token(&secret);
        let secret_is_pbx = matches!(kind, TokenKind::Pbx { .. });
        let id = self
            .write(move |tx| {
                let now = UnixMillis::now().0;
                match kind {
                    TokenKind::Bot { account } => {
                        let account = accounts::find(tx, &account)?
                            .ok_or_else(|| StorageError::UnknownAccount(account.clone()))?;
                        tx.insert(
                            "INSERT INTO auth_tokens (kind, name, account_id, token_hash, created_at, created_by) VALUES ('bot', ?1, ?2, ?3, ?4, ?5) RETURNING id",
                            args![format!("bot for {}", account.user_id_chat), account.id, token_hash, now, created_by],
                        )
                    }
                    TokenKind::ScopedApi { name, accounts } => {
                        let id = tx.insert(
                            "INSERT INTO auth_tokens (kind, name, token_hash, created_at, created_by) VALUES ('api', ?1, ?2, ?3, ?4) RETURNING id",
                            args![name, token_hash, now, created_by],
                        )?;
                        crate::access::scope_token(tx, id, &accounts)?;
                        Ok(id)
                    }
                    TokenKind::Api { name } | TokenKind::Pbx { name } => {
                        let kind = if secret_is_pbx { "pbx" } else { "api" };
                        tx.insert(
                            "INSERT INTO auth_tokens (kind, name, token_hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                            args![kind, name, token_hash, now, created_by],
                        )
                    }
                }
            })
            .await?;
        Ok((id, secret))
    }

    /// Who holds `token`, or `None` for an unknown or revoked token. A bot token of a disabled account
    /// is [`StorageError::AccountDisabled`]: the bot is told why, not that its token is unknown.
    ///
    /// Runs on a connection of its own, so that checking a token never waits behind long reads.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        let token = token.trim();
        // Tokens are short; a huge "token" is not worth hashing.
        if token.len() > MAX_TOKEN_LENGTH {
            return Ok(None);
        }
        let token_hash = hash_token(token);
        let is_session = token.starts_with("sbs_");
        self.read_auth(move |tx| {
            if is_session {
                return crate::users::session_principal(tx, &token_hash);
            }
            tx.optional(
                // Subqueries, not a JOIN: SQLite re-prepares joins on bound parameters at every use.
                "SELECT t.id, t.kind, t.name,
                            (SELECT user_id_chat FROM facebook_accounts WHERE id = t.account_id),
                            (SELECT enabled FROM facebook_accounts WHERE id = t.account_id),
                            t.scoped
                     FROM auth_tokens t WHERE t.token_hash = ?1 AND t.revoked_at IS NULL",
                args![token_hash],
                |r| {
                    let id: i64 = r.get(0)?;
                    let kind: String = r.get(1)?;
                    let account: Option<String> = r.get(3)?;
                    let enabled: Option<bool> = r.get(4)?;
                    Ok(match (kind.as_str(), account, enabled) {
                        ("bot", Some(account), Some(true)) => Some(Ok(Principal::Bot {
                            token_id: id,
                            account,
                        })),
                        ("bot", Some(account), Some(false)) => {
                            Some(Err(StorageError::AccountDisabled(account)))
                        }
                        ("api", _, _) => Some(Ok(Principal::Integrator {
                            token_id: id,
                            name: r.get(2)?,
                            scoped: r.get(5)?,
                        })),
                        ("pbx", _, _) => Some(Ok(Principal::PhoneSystem {
                            token_id: id,
                            name: r.get(2)?,
                        })),
                        _ => None,
                    })
                },
            )?
            .flatten()
            .transpose()
        })
        .await
    }

    pub async fn revoke_token(&self, id: i64) -> Result<()> {
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE auth_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                args![id, UnixMillis::now()],
            )?;
            if changed == 0 {
                return Err(StorageError::UnknownToken(id));
            }
            Ok(())
        })
        .await
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.read(|tx| {
            tx.rows(
                "SELECT t.id, t.kind, t.name, a.user_id_chat, t.created_at, t.revoked_at IS NOT NULL,
                        t.scoped
                 FROM auth_tokens t LEFT JOIN facebook_accounts a ON a.id = t.account_id ORDER BY t.id",
                args![],
                |r| {
                let scoped: bool = r.get(6)?;
                Ok((scoped, TokenInfo {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    name: r.get(2)?,
                    account: r.get(3)?,
                    accounts: None,
                    created_at: UnixMillis(r.get(4)?).to_rfc3339(),
                    revoked: r.get(5)?,
                }))
            },
            )?
            .into_iter()
            .map(|(scoped, mut token)| {
                if scoped {
                    token.accounts = Some(tx.rows(
                        "SELECT a.user_id_chat FROM token_accounts t
                         JOIN facebook_accounts a ON a.id = t.account_id
                         WHERE t.token_id = ?1 ORDER BY a.user_id_chat",
                        args![token.id],
                        |r| r.get(0),
                    )?);
                }
                Ok(token)
            })
            .collect()
        })
        .await
    }
}
