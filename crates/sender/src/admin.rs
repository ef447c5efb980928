//! Administration: users, integrators' API tokens, Facebook accounts with their credentials, bot tokens.
//! Admins only. Credentials go in, and never come out: answers say only which ones are set.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use switchboard_domain::outbound::{
    self, AccountChanges, AccountKind, NewAccountIn, NewUserIn, UserChanges,
};
use switchboard_domain::{TokenId, UserId, ValidationError, ingest};
use switchboard_storage::{NewAccount, TokenKind};
use switchboard_web::{Admin, ApiError, Id, JsonBody, PathParam as Path, ok};

pub async fn users(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    Ok(ok(state.store.users().await?))
}

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

#[derive(Deserialize)]
pub struct NewTokenIn {
    name: String,
    /// `api` (the default) or `pbx`: a phone system's token for the CTI webhook.
    #[serde(default)]
    kind: Option<String>,
}

pub async fn tokens(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    Ok(ok(state.store.tokens().await?))
}

pub async fn create_token(
    State(state): State<AppState>,
    Admin(principal): Admin,
    JsonBody(body): JsonBody<NewTokenIn>,
) -> Result<Response, ApiError> {
    let name = switchboard_domain::validation::identifier("name", &body.name, 128)?;
    let (kind, label) = match body.kind.as_deref() {
        None | Some("api") => (TokenKind::Api { name: name.clone() }, "api"),
        Some("pbx") => (TokenKind::Pbx { name: name.clone() }, "pbx"),
        Some(_) => {
            return Err(ValidationError::new("kind", "must be `api` or `pbx`").into());
        }
    };
    let (id, token) = state
        .store
        .issue_token_by(kind, principal.user_id())
        .await?;
    Ok(ok(
        json!({"id": id, "name": name, "kind": label, "token": token}),
    ))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<TokenId>,
) -> Result<Response, ApiError> {
    state.store.revoke_token(id.get()).await?;
    state.feed.revalidate_sockets();
    Ok(ok(json!({"id": id, "revoked": true})))
}

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

pub async fn delete_account(
    State(state): State<AppState>,
    _: Admin,
    Path(user_id_chat): Path<String>,
) -> Result<Response, ApiError> {
    state.store.delete_account(&user_id_chat).await?;
    state.bots.disconnect(&user_id_chat);
    state.feed.revalidate_sockets();
    Ok(ok(json!({"user_id_chat": user_id_chat, "deleted": true})))
}

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
    Ok(ok(
        json!({"id": id, "user_id_chat": user_id_chat, "token": token}),
    ))
}
