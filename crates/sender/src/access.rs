//! Who may see which account: teams and accounts' access lists (admins). A change is an
//! `access_changed` event: every live stream, on every node, reads its view again at that point.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use switchboard_domain::TeamId;
use switchboard_domain::access::{AccessIn, TeamIn};
use switchboard_storage::{AccessView, TeamView};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{Admin, Answer, ApiError, Id, JsonBody, PathParam as Path, Viewer, ok};

/// Who may see an account: `restricted: false` means every user.
#[utoipa::path(get, path = "/api/fb_accounts/{user_id_chat}/access", tag = "access",
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789")),
    responses(
        (status = 200, description = "The account's access list", body = Answer<AccessView>),
        (status = 422, description = "No such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's unscoped token)", body = ErrorAnswer),
    ))]
pub async fn access(
    State(state): State<AppState>,
    _: Admin,
    Path(user_id_chat): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(state.store.access(&user_id_chat).await?))
}

/// Sets who may see an account: these users and the members of these teams (and admins). Both lists
/// empty, or an empty body (`{}`), lift the restriction. Consoles that lose the account stop receiving its
/// events at once and are told (`access_changed`).
#[utoipa::path(put, path = "/api/fb_accounts/{user_id_chat}/access", tag = "access", request_body = AccessIn,
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789")),
    responses(
        (status = 200, description = "The account's access list as set", body = Answer<AccessView>),
        (status = 422, description = "An unknown user or team (`user_ids[0]`), or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's unscoped token)", body = ErrorAnswer),
    ))]
pub async fn set_access(
    State(state): State<AppState>,
    _: Admin,
    Path(user_id_chat): Path<String>,
    JsonBody(body): JsonBody<AccessIn>,
) -> Result<Response, ApiError> {
    let list = body.validate()?;
    let (access, _) = state.store.set_access(&user_id_chat, list).await?;
    state.feed.notify();
    tracing::info!(account = %access.user_id_chat, restricted = access.restricted, "access set");
    Ok(ok(access))
}

/// Every team with its members, by name. Any console user may read them (to know whom a page is
/// shared with); only admins change them.
#[utoipa::path(get, path = "/api/teams", tag = "access",
    responses(
        (status = 200, description = "The teams", body = Answer<Vec<TeamView>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn teams(State(state): State<AppState>, _: Viewer) -> Result<Response, ApiError> {
    Ok(ok(state.store.teams().await?))
}

/// Creates a team.
#[utoipa::path(post, path = "/api/teams", tag = "access", request_body = TeamIn,
    responses(
        (status = 200, description = "The team", body = Answer<TeamView>),
        (status = 409, description = "A team of that name exists (in any case)", body = ErrorAnswer),
        (status = 422, description = "No name, or an unknown user (`member_ids[0]`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's unscoped token)", body = ErrorAnswer),
    ))]
pub async fn create_team(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<TeamIn>,
) -> Result<Response, ApiError> {
    let (team, _) = state.store.create_team(body.validate(true)?).await?;
    state.feed.notify();
    Ok(ok(team))
}

/// Renames a team or replaces its members: what the team may see follows at once.
#[utoipa::path(patch, path = "/api/teams/{id}", tag = "access", request_body = TeamIn,
    params(("id" = i64, Path, description = "The team's id", minimum = 1)),
    responses(
        (status = 200, description = "The team as changed", body = Answer<TeamView>),
        (status = 404, description = "No such team", body = ErrorAnswer),
        (status = 409, description = "Another team has that name", body = ErrorAnswer),
        (status = 422, description = "A bad name, or an unknown user (`member_ids[0]`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's unscoped token)", body = ErrorAnswer),
    ))]
pub async fn update_team(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<TeamId>,
    JsonBody(body): JsonBody<TeamIn>,
) -> Result<Response, ApiError> {
    let (team, _) = state
        .store
        .update_team(id.get(), body.validate(false)?)
        .await?;
    state.feed.notify();
    Ok(ok(team))
}

/// Deletes a team; accounts it alone could see stay restricted (admins see them).
#[utoipa::path(delete, path = "/api/teams/{id}", tag = "access",
    params(("id" = i64, Path, description = "The team's id", minimum = 1)),
    responses(
        (status = 200, description = "The teams left", body = Answer<Vec<TeamView>>),
        (status = 404, description = "No such team", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's unscoped token)", body = ErrorAnswer),
    ))]
pub async fn delete_team(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<TeamId>,
) -> Result<Response, ApiError> {
    state.store.delete_team(id.get()).await?;
    state.feed.notify();
    Ok(ok(state.store.teams().await?))
}
