//! The team inbox's endpoints: who owns a conversation and what state it is in, the lists by owner
//! and state, labels, private notes; and the sweep that ends snoozes.

use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use std::time::Duration;
use switchboard_domain::teamwork::{
    AssigneeFilter, AssignmentIn, CannedIn, ConversationPatch, ConversationStatus, LabelIn, NoteIn,
};
use switchboard_domain::{
    CannedResponseId, ConversationId, LabelId, Principal, UnixMillis, ValidationError,
};
use switchboard_storage::{
    Account, Actor, Assignee, CannedResponse, ConversationCounts, ConversationFilter,
    ConversationView, LabelView, NoteView, Page,
};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    Admin, Answer, ApiError, Console, Id, JsonBody, Paging, PathParam as Path,
    QueryParams as Query, Supervisor, Viewer, ok,
};

/// How often a node looks for snoozes that are due: a snooze ends within this of its time.
const SNOOZE_SWEEP: Duration = Duration::from_secs(1);

/// What narrows a list of conversations by the team's work, beside its paging.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamQuery {
    /// `me`, `none` (the queue) or a user's id.
    #[param(example = "me")]
    assignee: Option<String>,
    #[param(value_type = Option<ConversationStatus>)]
    status: Option<String>,
    /// A label's name.
    #[param(example = "VIP")]
    label: Option<String>,
}

impl TeamQuery {
    /// Adds these criteria to `filter`, `me` being `principal`.
    pub(crate) fn narrow(
        self,
        mut filter: ConversationFilter,
        principal: &Principal,
    ) -> Result<ConversationFilter, ApiError> {
        filter.assignee = match self.assignee.as_deref().map(AssigneeFilter::parse) {
            None => None,
            Some(Err(error)) => return Err(error.into()),
            Some(Ok(AssigneeFilter::Nobody)) => Some(Assignee::Nobody),
            Some(Ok(AssigneeFilter::User(user))) => Some(Assignee::User(user.get())),
            Some(Ok(AssigneeFilter::Me)) => {
                Some(Assignee::User(principal.user_id().ok_or_else(|| {
                    ValidationError::new("assignee", "`me` needs a console user, not an API token")
                })?))
            }
        };
        filter.status = self.status.as_deref().map(status).transpose()?;
        filter.label = self
            .label
            .map(|label| label.trim().to_owned())
            .filter(|label| !label.is_empty());
        Ok(filter)
    }
}

fn status(text: &str) -> Result<ConversationStatus, ValidationError> {
    text.parse().map_err(|_| {
        ValidationError::new("status", "must be one of open, pending, snoozed, resolved")
    })
}

/// Conversations of every account by the team's criteria (the console's "Của tôi", "Chưa phân
/// công", "Tất cả"), the most recently active first, a page at a time.
#[utoipa::path(get, path = "/api/inbox", tag = "team",
    params(Paging, TeamQuery),
    responses(
        (status = 200, description = "A page of conversations", body = Answer<Page<ConversationView>>),
        (status = 422, description = "A bad criterion, `limit` or `cursor`", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn inbox(
    State(state): State<AppState>,
    viewer: Viewer,
    paging: Paging,
    Query(query): Query<TeamQuery>,
) -> Result<Response, ApiError> {
    let filter = query.narrow(ConversationFilter::default(), &viewer.principal)?;
    let page = state
        .store
        .all_conversations(&viewer.view, filter, paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// Which status to count; `open` when left out.
    #[param(value_type = Option<ConversationStatus>)]
    status: Option<String>,
}

/// How many conversations of a status are mine, in the queue, and in all: the tabs' counts.
#[utoipa::path(get, path = "/api/inbox/counts", tag = "team",
    params(CountsQuery),
    responses(
        (status = 200, description = "The counts", body = Answer<ConversationCounts>),
        (status = 422, description = "An unknown status", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn counts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CountsQuery>,
) -> Result<Response, ApiError> {
    let wanted = match query.status.as_deref() {
        Some(text) => status(text)?,
        None => ConversationStatus::Open,
    };
    let counts = state
        .store
        .conversation_counts(&viewer.view, viewer.principal.user_id(), wanted)
        .await?;
    Ok(ok(counts))
}

/// Changes a conversation's assignee, status, snooze or labels; every console is told
/// (`conversation_updated`). Agents take a conversation nobody owns or hand back their own;
/// supervisors and admins assign anyone.
#[utoipa::path(patch, path = "/api/conversations/{id}", tag = "team", request_body = ConversationPatch,
    params(("id" = i64, Path, description = "The conversation's id", minimum = 1)),
    responses(
        (status = 200, description = "The conversation as changed", body = Answer<ConversationView>),
        (status = 403, description = "An agent assigning someone else's conversation, or a bot token", body = ErrorAnswer),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 409, description = "An agent taking a conversation someone owns (`already_assigned`)", body = ErrorAnswer),
        (status = 422, description = "A field is invalid: an unknown label or user, a snooze in the past", body = ErrorAnswer),
    ))]
pub async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(conversation_id): Id<ConversationId>,
    JsonBody(body): JsonBody<ConversationPatch>,
) -> Result<Response, ApiError> {
    let changes = body.validate(UnixMillis::now())?;
    viewer.conversation(conversation_id.get()).await?;
    let principal = viewer.principal;
    let (conversation, event) = state
        .store
        .update_conversation(conversation_id.get(), changes, Actor::of(&principal))
        .await?;
    if event.is_some() {
        state.feed.notify();
    }
    Ok(ok(conversation))
}

/// "Nhận": the caller takes a conversation nobody owns. Two agents taking it at once: one gets it,
/// the other `409 already_assigned`.
#[utoipa::path(post, path = "/api/conversations/{id}/take", tag = "team",
    params(("id" = i64, Path, description = "The conversation's id", minimum = 1)),
    responses(
        (status = 200, description = "The conversation, now the caller's", body = Answer<ConversationView>),
        (status = 403, description = "An API token (only a console user takes conversations), or a bot token", body = ErrorAnswer),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 409, description = "Someone owns it (`already_assigned`)", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
    ))]
pub async fn take(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(conversation_id): Id<ConversationId>,
) -> Result<Response, ApiError> {
    let user_id = viewer.principal.user_id().ok_or_else(|| {
        ApiError::Forbidden("only a console user takes conversations; assign with PATCH".into())
    })?;
    viewer.conversation(conversation_id.get()).await?;
    let (conversation, event) = state
        .store
        .take_conversation(conversation_id.get(), user_id)
        .await?;
    if event.is_some() {
        state.feed.notify();
    }
    Ok(ok(conversation))
}

/// Leaves a private note: the team sees it in the thread, the customer and the page's bot never do;
/// each `@username` it mentions is told (`note_added` names them).
#[utoipa::path(post, path = "/api/conversations/{id}/notes", tag = "team", request_body = NoteIn,
    params(("id" = i64, Path, description = "The conversation's id", minimum = 1)),
    responses(
        (status = 200, description = "The note", body = Answer<NoteView>),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 413, description = "The body is too large", body = ErrorAnswer),
        (status = 422, description = "An empty or too long text", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn add_note(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(conversation_id): Id<ConversationId>,
    JsonBody(body): JsonBody<NoteIn>,
) -> Result<Response, ApiError> {
    let note = body.validate()?;
    viewer.conversation(conversation_id.get()).await?;
    let principal = viewer.principal;
    let (note, _) = state
        .store
        .add_note(conversation_id.get(), principal.user_id(), note)
        .await?;
    state.feed.notify();
    Ok(ok(note))
}

/// A conversation's private notes, newest first, a page at a time.
#[utoipa::path(get, path = "/api/conversations/{id}/notes", tag = "team",
    params(("id" = i64, Path, description = "The conversation's id", minimum = 1), Paging),
    responses(
        (status = 200, description = "A page of notes", body = Answer<Page<NoteView>>),
        (status = 404, description = "No such conversation", body = ErrorAnswer),
        (status = 422, description = "A bad id, `limit` or `cursor`", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn notes(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(conversation_id): Id<ConversationId>,
    paging: Paging,
) -> Result<Response, ApiError> {
    viewer.conversation(conversation_id.get()).await?;
    let page = state
        .store
        .notes(conversation_id.get(), paging.cursor(), paging.limit()?)
        .await?;
    Ok(ok(page))
}

/// Who is on the team, for assigning and mentioning.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Member {
    pub id: i64,
    #[schema(example = "lan.nguyen")]
    pub username: String,
    #[schema(example = "Nguyễn Thị Lan")]
    pub display_name: String,
    pub role: switchboard_domain::Role,
    /// A console of theirs is connected to some sender node: automatic assignment gives them work.
    pub online: bool,
}

/// The enabled users, by username: whom a conversation can be assigned to and a note can mention.
#[utoipa::path(get, path = "/api/team", tag = "team",
    responses(
        (status = 200, description = "The team", body = Answer<Vec<Member>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn members(State(state): State<AppState>, _: Console) -> Result<Response, ApiError> {
    let online = state.store.online_users().await?;
    let members: Vec<Member> = state
        .store
        .users()
        .await?
        .into_iter()
        .filter(|user| !user.disabled)
        .map(|user| Member {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            role: user.role,
            online: online.binary_search(&user.id).is_ok(),
        })
        .collect();
    Ok(ok(members))
}

/// How an account's conversations are shared out (admins): automatic assignment on or off, the
/// most open conversations it gives one agent, and whether an agent offline for a minute hands
/// their open ones back. Turning it on hands out what waits at once. Answers the account.
#[utoipa::path(put, path = "/api/fb_accounts/{user_id_chat}/assignment", tag = "team",
    request_body = AssignmentIn,
    params(("user_id_chat" = String, Path, description = "The account's Facebook id", example = "100089123456789")),
    responses(
        (status = 200, description = "The account, with its `assignment` as set", body = Answer<Account>),
        (status = 422, description = "A limit out of 1–1000 (`limit`), or no such account (`unknown_account`)", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's unscoped token)", body = ErrorAnswer),
    ))]
pub async fn set_assignment(
    State(state): State<AppState>,
    _: Admin,
    Path(user_id_chat): Path<String>,
    JsonBody(body): JsonBody<AssignmentIn>,
) -> Result<Response, ApiError> {
    let (account, given) = state
        .store
        .set_assignment(&user_id_chat, body.validate()?)
        .await?;
    if given > 0 {
        state.feed.notify();
    }
    tracing::info!(account = %account.user_id_chat, auto = account.assignment.auto,
        limit = account.assignment.limit, given, "assignment set");
    Ok(ok(account))
}

/// Every label, by name.
#[utoipa::path(get, path = "/api/labels", tag = "team",
    responses(
        (status = 200, description = "The labels", body = Answer<Vec<LabelView>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn labels(State(state): State<AppState>, _: Console) -> Result<Response, ApiError> {
    Ok(ok(state.store.labels().await?))
}

/// Defines a label (admins); consoles are told (`labels_changed`).
#[utoipa::path(post, path = "/api/labels", tag = "team", request_body = LabelIn,
    responses(
        (status = 200, description = "The label", body = Answer<LabelView>),
        (status = 409, description = "A label of that name exists (in any case)", body = ErrorAnswer),
        (status = 422, description = "A bad name or colour", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn create_label(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<LabelIn>,
) -> Result<Response, ApiError> {
    let label = state.store.create_label(body.validate()?).await?;
    state.feed.notify();
    Ok(ok(label))
}

/// Renames or recolours a label; the conversations carrying it show the new name.
#[utoipa::path(patch, path = "/api/labels/{id}", tag = "team", request_body = LabelIn,
    params(("id" = i64, Path, description = "The label's id", minimum = 1)),
    responses(
        (status = 200, description = "The label as changed", body = Answer<LabelView>),
        (status = 404, description = "No such label", body = ErrorAnswer),
        (status = 409, description = "Another label has that name", body = ErrorAnswer),
        (status = 422, description = "A bad name or colour", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn update_label(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<LabelId>,
    JsonBody(body): JsonBody<LabelIn>,
) -> Result<Response, ApiError> {
    let label = state.store.update_label(id.get(), body.validate()?).await?;
    state.feed.notify();
    Ok(ok(label))
}

/// Deletes a label and takes it off every conversation.
#[utoipa::path(delete, path = "/api/labels/{id}", tag = "team",
    params(("id" = i64, Path, description = "The label's id", minimum = 1)),
    responses(
        (status = 200, description = "The labels left", body = Answer<Vec<LabelView>>),
        (status = 404, description = "No such label", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
        (status = 403, description = "Not an admin (nor an integrator's token)", body = ErrorAnswer),
    ))]
pub async fn delete_label(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id<LabelId>,
) -> Result<Response, ApiError> {
    state.store.delete_label(id.get()).await?;
    state.feed.notify();
    Ok(ok(state.store.labels().await?))
}

/// The canned responses the caller may use, by shortcut: everyone's and their teams' (supervisors,
/// admins and API tokens get every one, to keep them). What `/` offers in the composer.
#[utoipa::path(get, path = "/api/canned_responses", tag = "team",
    responses(
        (status = 200, description = "The canned responses", body = Answer<Vec<CannedResponse>>),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn canned_responses(
    State(state): State<AppState>,
    Console(principal): Console,
) -> Result<Response, ApiError> {
    Ok(ok(state
        .store
        .canned_responses(member_of(&principal))
        .await?))
}

/// Whose teams narrow the canned responses: an agent's; `None` (every one) for those who keep them.
fn member_of(principal: &Principal) -> Option<i64> {
    if principal.supervises_agents() {
        None
    } else {
        principal.user_id()
    }
}

/// Adds a canned response (supervisors and admins).
#[utoipa::path(post, path = "/api/canned_responses", tag = "team", request_body = CannedIn,
    responses(
        (status = 200, description = "The canned response", body = Answer<CannedResponse>),
        (status = 409, description = "Another one has that shortcut", body = ErrorAnswer),
        (status = 422, description = "A bad shortcut, or a text empty, too long or with an unknown variable", body = ErrorAnswer),
        (status = 403, description = "An agent, or a bot token", body = ErrorAnswer),
    ))]
pub async fn create_canned(
    State(state): State<AppState>,
    Supervisor(principal): Supervisor,
    JsonBody(body): JsonBody<CannedIn>,
) -> Result<Response, ApiError> {
    let canned = state
        .store
        .create_canned(body.validate()?, principal.user_id())
        .await?;
    Ok(ok(canned))
}

/// Changes a canned response's shortcut or text (supervisors and admins).
#[utoipa::path(patch, path = "/api/canned_responses/{id}", tag = "team", request_body = CannedIn,
    params(("id" = i64, Path, description = "The canned response's id", minimum = 1)),
    responses(
        (status = 200, description = "The canned response as changed", body = Answer<CannedResponse>),
        (status = 404, description = "No such canned response", body = ErrorAnswer),
        (status = 409, description = "Another one has that shortcut", body = ErrorAnswer),
        (status = 422, description = "A bad shortcut or text", body = ErrorAnswer),
        (status = 403, description = "An agent, or a bot token", body = ErrorAnswer),
    ))]
pub async fn update_canned(
    State(state): State<AppState>,
    _: Supervisor,
    Id(id): Id<CannedResponseId>,
    JsonBody(body): JsonBody<CannedIn>,
) -> Result<Response, ApiError> {
    let canned = state
        .store
        .update_canned(id.get(), body.validate()?)
        .await?;
    Ok(ok(canned))
}

/// Deletes a canned response (supervisors and admins); answers the ones left.
#[utoipa::path(delete, path = "/api/canned_responses/{id}", tag = "team",
    params(("id" = i64, Path, description = "The canned response's id", minimum = 1)),
    responses(
        (status = 200, description = "The canned responses left", body = Answer<Vec<CannedResponse>>),
        (status = 404, description = "No such canned response", body = ErrorAnswer),
        (status = 422, description = "The id is not an id", body = ErrorAnswer),
        (status = 403, description = "An agent, or a bot token", body = ErrorAnswer),
    ))]
pub async fn delete_canned(
    State(state): State<AppState>,
    _: Supervisor,
    Id(id): Id<CannedResponseId>,
) -> Result<Response, ApiError> {
    state.store.delete_canned(id.get()).await?;
    Ok(ok(state.store.canned_responses(None).await?))
}

/// Ends snoozes at their time, on every node (each conversation is woken once, by whichever node
/// changes its row first), until the role's state is dropped. A snooze stored before a restart ends
/// at the next sweep after it.
pub(crate) fn wake_snoozes(state: &AppState) -> impl Future<Output = ()> + Send + 'static {
    let alive = state.bots.downgrade();
    let (store, feed) = (state.store.clone(), state.feed.clone());
    async move {
        let mut ticks = tokio::time::interval(SNOOZE_SWEEP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            let now = UnixMillis::now();
            match store.next_snooze_end().await {
                Ok(Some(end)) if end <= now => match store.wake_snoozed(now).await {
                    Ok(0) => {}
                    Ok(woken) => {
                        tracing::info!(woken, "snoozes ended");
                        feed.notify();
                    }
                    Err(error) => tracing::warn!(%error, "cannot end the snoozes that are due"),
                },
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "cannot read when the next snooze ends"),
            }
        }
    }
}
