//! Administration: users, integrators' API tokens, Facebook accounts with their credentials, bot tokens.
//! Admins only. Credentials go in, and never come out: answers say only which ones are set.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::outbound::{
    self, AccountChanges, AccountKind, NewAccountIn, NewUserIn, UserChanges,
};
use switchboard_domain::{TokenId, UserId, ValidationError, ingest};
use switchboard_storage::{Account, NewAccount, TokenInfo, TokenKind, User};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Admin, Answer, ApiError, Id, JsonBody, PathParam as Path, ok};
use utoipa::ToSchema;

/// Every console user.
#[utoipa::path(get, path = "/api/users", tag = "administration",
    responses(
        (status = 200, description = "The users", body = Answer<Vec<User>>),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn users(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    Ok(ok(state.store.users().await?))
}

/// Creates a console user (a password of 12 characters or more).
#[utoipa::path(post, path = "/api/users", tag = "administration", request_body = NewUserIn,
    responses(
        (status = 200, description = "The user", body = Answer<User>),
        (status = 409, description = "The username is taken", body = ErrorAnswer),
        (status = 422, description = "A field is invalid", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<NewUserIn>,
) -> Result<Response, ApiError> {
    let username = outbound::username(&body.username)?;
    outbound::password(&body.password)?;
    let display_name = outbound::display_name(body.display_name.as_deref().unwrap_or_default())?;
    let user = state
        .store
        .create_user(&username, &display_name, body.role, body.password)
        .await?;
    tracing::info!(user_id = user.id, role = user.role.as_str(), "user created");
    Ok(ok(user))
}

/// Changes a user: name, role, password, disabled. Taking access away closes their sockets at once.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "administration", request_body = UserChanges,
    params(("id" = i64, Path, description = "The user's id", minimum = 1)),
    responses(
        (status = 200, description = "The user as changed", body = Answer<User>),
        (status = 404, description = "No such user", body = ErrorAnswer),
        (status = 422, description = "A field is invalid", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<UserId>,
    JsonBody(body): JsonBody<UserChanges>,
) -> Result<Response, ApiError> {
    let changes = body.checked()?;
    let access_changed = changes.change_access();
    let user = state.store.update_user(id.get(), changes).await?;
    if access_changed {
        state.feed.revalidate_sockets();
    }
    Ok(ok(user))
}

/// A new token: whom it is for, and what it may do.
#[derive(Deserialize, ToSchema)]
pub struct NewTokenIn {
    #[schema(example = "crm-noi-bo")]
    name: String,
    /// `api` (the default): an integrator's token; `pbx`: a phone system's token for the CTI webhook.
    #[serde(default)]
    #[schema(value_type = Option<IssuedKind>)]
    kind: Option<String>,
    /// For an `api` token that should see some accounts only (their `user_id_chat`): it reads and
    /// sends for those, and administers nothing. Left out: every account, and administration.
    #[schema(example = json!(["100089123456789"]))]
    accounts: Option<Vec<String>>,
}

/// The kinds of token an admin issues by name.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssuedKind {
    Api,
    Pbx,
}

/// A token, shown this once: only its hash is kept.
#[derive(Serialize, ToSchema)]
pub struct IssuedToken {
    id: i64,
    name: String,
    kind: IssuedKind,
    token: String,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedToken {
    id: i64,
    /// Always `true`.
    revoked: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedAccount {
    user_id_chat: String,
    /// Always `true`.
    deleted: bool,
}

/// A bot's token for one account, shown this once.
#[derive(Serialize, ToSchema)]
pub struct IssuedBotToken {
    id: i64,
    user_id_chat: String,
    token: String,
}

/// Every token (bots', integrators', phone systems'), without its secret.
#[utoipa::path(get, path = "/api/tokens", tag = "administration",
    responses(
        (status = 200, description = "The tokens", body = Answer<Vec<TokenInfo>>),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn tokens(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    Ok(ok(state.store.tokens().await?))
}

/// Issues an integrator's or a phone system's token.
#[utoipa::path(post, path = "/api/tokens", tag = "administration", request_body = NewTokenIn,
    responses(
        (status = 200, description = "The token, shown this once", body = Answer<IssuedToken>),
        (status = 422, description = "A field is invalid", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    Admin(principal): Admin,
    JsonBody(body): JsonBody<NewTokenIn>,
) -> Result<Response, ApiError> {
    let name = switchboard_domain::validation::identifier("name", &body.name, 128)?;
    let accounts = body.accounts.map(scoped_accounts).transpose()?;
    let (kind, label) = match (body.kind.as_deref(), accounts) {
        (None | Some("api"), None) => (TokenKind::Api { name: name.clone() }, IssuedKind::Api),
        (None | Some("api"), Some(accounts)) => (
            TokenKind::ScopedApi {
                name: name.clone(),
                accounts,
            },
            IssuedKind::Api,
        ),
        (Some("pbx"), None) => (TokenKind::Pbx { name: name.clone() }, IssuedKind::Pbx),
        (Some("pbx"), Some(_)) => {
            return Err(ValidationError::new(
                "accounts",
                "a phone system's token reads no account: leave `accounts` out",
            )
            .into());
        }
        (Some(_), _) => {
            return Err(ValidationError::new("kind", "must be `api` or `pbx`").into());
        }
    };
    let (id, token) = state
        .store
        .issue_token_by(kind, principal.user_id())
        .await?;
    Ok(ok(IssuedToken {
        id,
        name,
        kind: label,
        token,
    }))
}

/// Most accounts one scoped token may be issued for.
const MAX_TOKEN_ACCOUNTS: usize = 1_000;

/// The accounts of a scoped token, checked: one or more, each a valid account id.
fn scoped_accounts(accounts: Vec<String>) -> Result<Vec<String>, ValidationError> {
    if accounts.is_empty() {
        return Err(ValidationError::new(
            "accounts",
            "name one account or more, or leave `accounts` out for every account",
        ));
    }
    if accounts.len() > MAX_TOKEN_ACCOUNTS {
        return Err(ValidationError::new(
            "accounts",
            format!("at most {MAX_TOKEN_ACCOUNTS} accounts"),
        ));
    }
    accounts
        .iter()
        .enumerate()
        .map(|(index, account)| ingest::account_id(&format!("accounts[{index}]"), account))
        .collect()
}

/// Revokes a token: its sockets close at once.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "administration",
    params(("id" = i64, Path, description = "The token's id", minimum = 1)),
    responses(
        (status = 200, description = "Revoked", body = Answer<RevokedToken>),
        (status = 404, description = "No such token", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<TokenId>,
) -> Result<Response, ApiError> {
    state.store.revoke_token(id.get()).await?;
    state.feed.revalidate_sockets();
    Ok(ok(RevokedToken {
        id: id.get(),
        revoked: true,
    }))
}

/// Adds a Facebook account (a page or a personal account) with its credentials, stored encrypted.
#[utoipa::path(post, path = "/api/fb_accounts", tag = "administration", request_body = NewAccountIn,
    responses(
        (status = 200, description = "The account; its credentials only as which are set", body = Answer<Account>),
        (status = 409, description = "The account exists", body = ErrorAnswer),
        (status = 422, description = "A field is invalid", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
#[tracing::instrument(skip_all, fields(account))]
pub async fn create_account(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<NewAccountIn>,
) -> Result<Response, ApiError> {
    let user_id_chat = ingest::account_id("user_id_chat", &body.user_id_chat)?;
    tracing::Span::current().record("account", user_id_chat.as_str());
    let new = NewAccount {
        user_id_chat,
        name: outbound::account_name(body.name.as_deref().unwrap_or_default())?,
        kind: body.kind.unwrap_or(AccountKind::Page),
        credentials: body.credentials,
    };
    let account = state.store.create_account(new, &state.cipher).await?;
    tracing::info!("account created");
    Ok(ok(account))
}

/// Changes an account: name, enabled, credentials (a credential left out is kept; `""` removes it).
/// Disabling it disconnects its bot at once.
#[utoipa::path(patch, path = "/api/fb_accounts/{user_id_chat}", tag = "administration", request_body = AccountChanges,
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789")),
    responses(
        (status = 200, description = "The account as changed", body = Answer<Account>),
        (status = 422, description = "A field is invalid, or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn update_account(
    State(state): State<AppState>,
    _: Admin,
    Path(user_id_chat): Path<String>,
    JsonBody(body): JsonBody<AccountChanges>,
) -> Result<Response, ApiError> {
    let changes = body.checked()?;
    let account = state
        .store
        .update_account(&user_id_chat, changes, &state.cipher)
        .await?;
    if !account.enabled {
        // A disabled account's bot must stop receiving commands now, not at its next reconnect.
        state.bots.disconnect(&account.user_id_chat);
        state.feed.revalidate_sockets();
    }
    Ok(ok(account))
}

/// Removes an account with everything stored for it (conversations, messages, tokens, commands).
#[utoipa::path(delete, path = "/api/fb_accounts/{user_id_chat}", tag = "administration",
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789")),
    responses(
        (status = 200, description = "Removed", body = Answer<DeletedAccount>),
        (status = 422, description = "No such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    _: Admin,
    Path(user_id_chat): Path<String>,
) -> Result<Response, ApiError> {
    state.store.delete_account(&user_id_chat).await?;
    state.bots.disconnect(&user_id_chat);
    state.feed.revalidate_sockets();
    Ok(ok(DeletedAccount {
        user_id_chat,
        deleted: true,
    }))
}

/// Issues a token for the account's bot.
#[utoipa::path(post, path = "/api/fb_accounts/{user_id_chat}/bot_token", tag = "administration",
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789")),
    responses(
        (status = 200, description = "The token, shown this once", body = Answer<IssuedBotToken>),
        (status = 422, description = "No such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn create_bot_token(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(user_id_chat): Path<String>,
) -> Result<Response, ApiError> {
    let (id, token) = state
        .store
        .issue_token_by(
            TokenKind::Bot {
                account: user_id_chat.clone(),
            },
            principal.user_id(),
        )
        .await?;
    Ok(ok(IssuedBotToken {
        id,
        user_id_chat,
        token,
    }))
}
