//! Console users, their passwords (argon2id) and their login sessions.

use crate::sql::{Row, Tx, args, read_row};
use crate::tokens::{hash_token, random_secret};
use crate::{Result, StorageError, Store};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;
use std::time::Duration;
use switchboard_domain::outbound::UserChanges;
use switchboard_domain::validation::Checked;
use switchboard_domain::{Principal, Role, UnixMillis};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    #[schema(example = "lan.nguyen")]
    pub username: String,
    #[schema(example = "Nguyễn Thị Lan")]
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: UnixMillis,
}

const USER_COLUMNS: &str = "id, username, display_name, role, disabled, created_at";

fn user_from_row(row: &Row<'_>) -> Result<User> {
    Ok(read_row!(row => User { id, username, display_name, role, disabled, created_at }))
}

fn find_user(tx: &Tx<'_>, id: i64) -> Result<User> {
    tx.optional(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        args![id],
        user_from_row,
    )?
    .ok_or(StorageError::UnknownUser)
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds by design.
async fn hash_password(password: String) -> Result<String> {
    crate::store::off_runtime(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| StorageError::Task(format!("no randomness: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| StorageError::Task(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| StorageError::Task(e.to_string()))
    })
    .await
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// An argon2 hash of nothing anyone knows, checked when the username is unknown so that a wrong
/// username takes as long as a wrong password.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmRkZWNveQ$0pYc5Ud2zS2oT6Sx3b0yvQ3Hqf5m7wG8eWl1JcRz5eE";

fn enabled_admins_besides(tx: &Tx<'_>, id: i64) -> Result<i64> {
    tx.one(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> ?1",
        args![id],
        |r| r.get(0),
    )
}

impl Store {
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password: String,
    ) -> Result<User> {
        let hash = hash_password(password).await?;
        let (username, display_name) = (username.to_owned(), display_name.to_owned());
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let inserted = tx.optional(
                "INSERT INTO users (username, display_name, role, password_hash, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (username) DO NOTHING RETURNING id",
                args![username, display_name, role, hash, now],
                |r| r.get::<i64>(0),
            )?;
            let Some(id) = inserted else {
                return Err(StorageError::UserExists(username));
            };
            find_user(tx, id)
        })
        .await
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        self.read(|tx| {
            tx.rows(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                args![],
                user_from_row,
            )
        })
        .await
    }

    pub async fn user_count(&self) -> Result<i64> {
        self.read(|tx| tx.one("SELECT COUNT(*) FROM users", args![], |r| r.get(0)))
            .await
    }

    /// Applies `changes`. Disabling a user or changing their password ends their sessions. The last
    /// enabled admin can be neither disabled nor demoted, so the console never locks everyone out.
    pub async fn update_user(&self, id: i64, changes: Checked<UserChanges>) -> Result<User> {
        let changes = changes.into_inner();
        let hash = match changes.password.clone() {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        self.write(move |tx| {
            let user = find_user(tx, id)?;
            let stays_admin = changes.role.unwrap_or(user.role) == Role::Admin && !changes.disabled.unwrap_or(user.disabled);
            if user.role == Role::Admin && !user.disabled && !stays_admin && enabled_admins_besides(tx, id)? == 0 {
                return Err(StorageError::Conflict("this is the last enabled admin; make another admin first".into()));
            }
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE users SET display_name = COALESCE(?2, display_name), role = COALESCE(?3, role),
                     password_hash = COALESCE(?4, password_hash), disabled = COALESCE(?5, disabled), updated_at = ?6
                 WHERE id = ?1",
                args![id, changes.display_name, changes.role.map(Role::as_str), hash, changes.disabled, now],
            )?;
            if changes.disabled == Some(true) || hash.is_some() {
                tx.execute("UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL", args![id, now])?;
            }
            find_user(tx, id)
        })
        .await
    }

    /// Checks a username and password; on success opens a session and returns it with the user.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        lifetime: Duration,
    ) -> Result<Option<(User, String)>> {
        let name = username.trim().to_lowercase();
        let found = self
            .read(move |tx| {
                tx.optional(
                    &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"),
                    args![name],
                    |r| Ok((user_from_row(r)?, r.get::<String>(6)?)),
                )
            })
            .await?;
        let password = password.to_owned();
        let (user, matches) = crate::store::off_runtime(move || {
            Ok(match found {
                Some((user, hash)) => {
                    let ok = verify_password(&password, &hash);
                    (Some(user), ok)
                }
                None => {
                    verify_password(&password, DECOY_HASH);
                    (None, false)
                }
            })
        })
        .await?;
        let Some(user) = user.filter(|u| matches && !u.disabled) else {
            return Ok(None);
        };
        let token = format!("sbs_{}", random_secret()?);
        let (token_hash, user_id) = (hash_token(&token), user.id);
        let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2);
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            tx.execute(
                "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                args![user_id, token_hash, now, now.saturating_add(lifetime_ms)],
            )?;
            Ok(())
        })
        .await?;
        Ok(Some((user, token)))
    }

    /// Ends the session; true when there was one to end.
    pub async fn logout(&self, token: &str) -> Result<bool> {
        let token_hash = hash_token(token.trim());
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                args![token_hash, UnixMillis::now().0],
            )? > 0)
        })
        .await
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        self.read(move |tx| find_user(tx, id)).await
    }
}

/// The principal of a live session, if `token_hash` is one.
pub(crate) fn session_principal(tx: &Tx<'_>, token_hash: &str) -> Result<Option<Principal>> {
    tx.optional(
        "SELECT u.id, u.username, u.role FROM users u WHERE NOT u.disabled AND u.id =
             (SELECT user_id FROM sessions WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2)",
        args![token_hash, UnixMillis::now()],
        |r| Ok(Principal::User { user_id: r.get(0)?, username: r.get(1)?, role: r.get(2)? }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn create(
        store: &Store,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
    ) -> User {
        store
            .create_user(username, display_name, role, password.into())
            .await
            .expect("create")
    }

    async fn login(
        store: &Store,
        username: &str,
        password: &str,
        lifetime: Duration,
    ) -> Option<(User, String)> {
        store
            .login(username, password, lifetime)
            .await
            .expect("login")
    }

    #[tokio::test]
    async fn login_checks_the_password_and_sessions_end() {
        let (_dir, store) = crate::temp_store().await;
        let password = "correct horse battery";
        create(&store, "lan", "Lan", Role::Agent, password).await;
        assert!(
            login(&store, "lan", "wrong password!", Duration::from_secs(60))
                .await
                .is_none()
        );
        assert!(
            login(&store, "nobody", password, Duration::from_secs(60))
                .await
                .is_none()
        );
        let (user, token) = login(&store, "LAN", password, Duration::from_secs(60))
            .await
            .expect("ok");
        assert_eq!(user.username, "lan");
        assert!(matches!(
            store.authenticate(&token).await.expect("auth"),
            Some(Principal::User { .. })
        ));
        assert!(store.logout(&token).await.expect("logout"));
        assert!(store.authenticate(&token).await.expect("auth").is_none());
        let (_, expired) = login(&store, "lan", password, Duration::ZERO)
            .await
            .expect("ok");
        assert!(
            store.authenticate(&expired).await.expect("auth").is_none(),
            "an expired session is refused"
        );
    }

    #[tokio::test]
    async fn the_last_admin_stays() {
        let (_dir, store) = crate::temp_store().await;
        let admin = create(&store, "admin", "", Role::Admin, "admin password 1").await;
        let demote = UserChanges {
            role: Some(Role::Agent),
            ..Default::default()
        }
        .checked()
        .expect("valid");
        assert!(matches!(
            store.update_user(admin.id, demote.clone()).await,
            Err(StorageError::Conflict(_))
        ));
        create(&store, "boss", "", Role::Admin, "admin password 2").await;
        assert_eq!(
            store
                .update_user(admin.id, demote)
                .await
                .expect("update")
                .role,
            Role::Agent
        );
        assert!(matches!(
            store
                .create_user("Boss", "", Role::Agent, "whatever12345".into())
                .await,
            Err(StorageError::UserExists(_))
        ));
    }
}
