//! The team inbox: a conversation's owner, status and labels, the labels admins define, and private
//! notes. Every change is one transaction with its event, so every console sees it and a console that
//! reconnects catches up from the log.
//!
//! Checks that read and then write (an agent takes a conversation only if nobody has) are safe on
//! both engines because writes are serialised: SQLite has one writer, and PostgreSQL's writers take
//! the writers' lock at `BEGIN` (see `postgres/writer.rs`).

use crate::events::append;
use crate::inbox::{ConversationView, Page, conversation, page_of, parse_cursor};
use crate::sql::{Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use switchboard_domain::teamwork::{
    ConversationChanges, NewCanned, NewLabel, NewNote, UpdateReason,
};
use switchboard_domain::{EventKind, Principal, UnixMillis, ValidationError};

/// Who makes a change, as the rules need to know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The console user; `None` for an integrator's token.
    pub user_id: Option<i64>,
    /// Supervisors, admins and integrators assign anyone; an agent only takes and hands back.
    pub assigns_others: bool,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        Self {
            user_id: principal.user_id(),
            // A scoped token assigns within the pages it sees, as an unscoped one does anywhere.
            assigns_others: principal.supervises_agents()
                || matches!(principal, Principal::Integrator { .. }),
        }
    }
}

/// A label as admins define it and consoles paint it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LabelView {
    pub id: i64,
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
}

/// A private note, as the thread shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NoteView {
    pub id: i64,
    pub conversation_id: i64,
    /// `null` once its author's user is deleted.
    pub author_user_id: Option<i64>,
    /// The author's display name (or username), for the thread.
    pub author_name: String,
    pub text: String,
    /// The users the note mentions: each is told.
    pub mentions: Vec<i64>,
    pub created_at: UnixMillis,
}

/// A reply agents insert by typing `/shortcut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CannedResponse {
    pub id: i64,
    #[schema(example = "chao")]
    pub shortcut: String,
    #[schema(example = "Dạ em chào {{customer.name}} ạ")]
    pub text: String,
    /// The team whose members it is offered to; `null`: everyone's.
    pub team_id: Option<i64>,
}

/// The payload of `conversation_updated`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConversationUpdated<'a> {
    pub user_id_chat: &'a str,
    pub conversation: &'a ConversationView,
    /// Who changed it; `null` for the system (a snooze's end) or an integrator.
    pub by_user_id: Option<i64>,
    pub reason: UpdateReason,
}

/// The payload of `note_added`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NoteAdded<'a> {
    pub user_id_chat: &'a str,
    pub note: &'a NoteView,
}

/// The payload of `labels_changed`: every label there now is.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LabelsChanged {
    pub labels: Vec<LabelView>,
}

/// Most snoozes one sweep ends (the rest wait for the next sweep, a moment later).
const WAKE_AT_ONCE: usize = 500;

/// Appends `conversation_updated` for `view`.
pub(crate) fn announce_update(
    tx: &Tx<'_>,
    view: &ConversationView,
    by_user_id: Option<i64>,
    reason: UpdateReason,
) -> Result<()> {
    let account = crate::inbox::account_id(tx, &view.user_id_chat)?;
    append(
        tx,
        EventKind::ConversationUpdated,
        Some((account, &view.user_id_chat)),
        &ConversationUpdated {
            user_id_chat: &view.user_id_chat,
            conversation: view,
            by_user_id,
            reason,
        },
    )
}

/// Whether `actor` may move the conversation from `current` to `wanted`: anyone who assigns others,
/// or an agent taking a free conversation or handing back their own.
fn may_assign(actor: Actor, current: Option<i64>, wanted: Option<i64>) -> Result<()> {
    if actor.assigns_others || current == wanted {
        return Ok(());
    }
    let me = actor.user_id;
    let allowed = match wanted {
        Some(user) => Some(user) == me && current.is_none(),
        None => current == me,
    };
    if allowed {
        return Ok(());
    }
    Err(match current {
        Some(owner) if Some(owner) != me && wanted == me => StorageError::AlreadyAssigned(owner),
        _ => StorageError::NotAllowed(
            "an agent takes a conversation nobody owns or hands back their own; a supervisor assigns others",
        ),
    })
}

/// Refuses an assignee that is not an enabled user who may see the conversation's account.
fn ensure_assignable(tx: &Tx<'_>, user_id: i64, user_id_chat: &str) -> Result<()> {
    let disabled: Option<bool> = tx.optional(
        "SELECT disabled FROM users WHERE id = ?1",
        args![user_id],
        |r| r.get(0),
    )?;
    match disabled {
        Some(false) => {}
        Some(true) => {
            return Err(ValidationError::new("assignee_user_id", "that user is disabled").into());
        }
        None => return Err(ValidationError::new("assignee_user_id", "no such user").into()),
    }
    let account = crate::inbox::account_id(tx, user_id_chat)?;
    if !crate::access::user_sees(tx, user_id, account)? {
        return Err(ValidationError::new(
            "assignee_user_id",
            "that user has no access to this page; an admin grants it",
        )
        .into());
    }
    Ok(())
}

/// The ids of labels named `names` (compared in lowercase), in order; an unknown name is refused.
fn label_ids(tx: &Tx<'_>, names: &[String]) -> Result<Vec<i64>> {
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            tx.optional(
                "SELECT id FROM labels WHERE name_key = ?1",
                args![name.to_lowercase()],
                |r| r.get(0),
            )?
            .ok_or_else(|| {
                ValidationError::new(
                    format!("labels[{index}]"),
                    format!("there is no label `{name}`; an admin creates labels"),
                )
                .into()
            })
        })
        .collect()
}

/// Writes a conversation's labels (the join table and the names kept with the row).
fn set_labels(tx: &Tx<'_>, conversation_id: i64, label_ids: &[i64], now: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM conversation_labels WHERE conversation_id = ?1",
        args![conversation_id],
    )?;
    for label in label_ids {
        tx.execute(
            "INSERT INTO conversation_labels (conversation_id, label_id) VALUES (?1, ?2)",
            args![conversation_id, label],
        )?;
    }
    refresh_label_names(tx, conversation_id, now)
}

/// Copies a conversation's label names, by name, into its row.
fn refresh_label_names(tx: &Tx<'_>, conversation_id: i64, now: i64) -> Result<()> {
    let mut labels: Vec<(String, String)> = tx.rows(
        "SELECT name_key, name FROM labels
         WHERE id IN (SELECT label_id FROM conversation_labels WHERE conversation_id = ?1)",
        args![conversation_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // Sorted here, not by the engine: PostgreSQL's collation is the cluster's, SQLite's bytewise.
    labels.sort_unstable();
    let names: Vec<String> = labels.into_iter().map(|(_, name)| name).collect();
    tx.execute(
        "UPDATE conversations SET labels = ?2, updated_at = ?3 WHERE id = ?1",
        args![conversation_id, serde_json::to_string(&names)?, now],
    )?;
    Ok(())
}

/// Every label, by name in lowercase (sorted here, as [`refresh_label_names`] does).
fn all_labels(tx: &Tx<'_>) -> Result<Vec<LabelView>> {
    let mut labels = tx.rows("SELECT id, name, color FROM labels", args![], |r| {
        Ok(read_row!(r => LabelView { id, name, color }))
    })?;
    labels.sort_by_cached_key(|label| label.name.to_lowercase());
    Ok(labels)
}

/// After labels were renamed or deleted: the names kept with each conversation that had `label`,
/// then `labels_changed`.
fn labels_changed(tx: &Tx<'_>, conversations: &[i64], now: i64) -> Result<Vec<LabelView>> {
    for conversation in conversations {
        refresh_label_names(tx, *conversation, now)?;
    }
    let labels = all_labels(tx)?;
    append(
        tx,
        EventKind::LabelsChanged,
        None,
        &LabelsChanged {
            labels: labels.clone(),
        },
    )?;
    Ok(labels)
}

fn conversations_labelled(tx: &Tx<'_>, label_id: i64) -> Result<Vec<i64>> {
    tx.rows(
        "SELECT conversation_id FROM conversation_labels WHERE label_id = ?1",
        args![label_id],
        |r| r.get(0),
    )
}

fn name_taken(name: &str) -> StorageError {
    StorageError::Conflict(format!("a label named `{name}` already exists"))
}

const NOTE_COLUMNS: &str = "n.id, n.conversation_id, n.author_user_id,
     COALESCE((SELECT CASE WHEN display_name <> '' THEN display_name ELSE username END
               FROM users WHERE id = n.author_user_id), ''),
     n.text, n.mentions, n.created_at";

fn note_from_row(r: &crate::sql::Row<'_>) -> Result<NoteView> {
    Ok(read_row!(r => NoteView {
        id, conversation_id, author_user_id, author_name, text, mentions: json, created_at,
    }))
}

impl Store {
    /// Applies `changes` to a conversation as `actor` may, and tells every console. Nothing changes
    /// when a rule refuses any part. No event when nothing differs.
    pub async fn update_conversation(
        &self,
        conversation_id: i64,
        changes: ConversationChanges,
        actor: Actor,
    ) -> Result<(ConversationView, Option<i64>)> {
        let ((view, changed), announced) = self.write_announcing(move |tx| {
            let before = conversation(tx, conversation_id)?;
            let assignee = changes.assignee.map(|a| a.map(|id| id.get()));
            if let Some(wanted) = assignee {
                may_assign(actor, before.assignee_user_id, wanted)?;
                if let Some(user) = wanted.filter(|w| Some(*w) != before.assignee_user_id) {
                    ensure_assignable(tx, user, &before.user_id_chat)?;
                }
            }
            let labels = changes
                .labels
                .as_deref()
                .map(|names| label_ids(tx, names))
                .transpose()?;
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE conversations SET
                     assignee_user_id = CASE WHEN ?2 THEN ?3 ELSE assignee_user_id END,
                     status = COALESCE(?4, status),
                     snoozed_until = CASE WHEN CAST(?4 AS TEXT) IS NULL THEN snoozed_until ELSE ?5 END,
                     resolved_at = CASE WHEN ?4 = 'resolved' AND status <> 'resolved' THEN ?6 ELSE resolved_at END,
                     resolved_by_user_id = CASE WHEN ?4 = 'resolved' AND status <> 'resolved' THEN ?7
                                                ELSE resolved_by_user_id END,
                     updated_at = ?6
                 WHERE id = ?1",
                args![
                    conversation_id,
                    assignee.is_some(),
                    assignee.flatten(),
                    changes.status,
                    changes.snoozed_until,
                    now,
                    actor.user_id
                ],
            )?;
            if let Some(labels) = labels {
                set_labels(tx, conversation_id, &labels, now)?;
            }
            if let Some(wanted) = assignee {
                // An owner handing it back is remembered, so that automatic assignment gives it to
                // someone else; anyone given it clears that.
                let handed_back = actor
                    .user_id
                    .filter(|me| wanted.is_none() && before.assignee_user_id == Some(*me));
                tx.execute(
                    "UPDATE conversations SET handed_back_by = ?2 WHERE id = ?1",
                    args![conversation_id, handed_back],
                )?;
            }
            let after = conversation(tx, conversation_id)?;
            if same_for_the_team(&before, &after) {
                return Ok((after, false));
            }
            announce_update(tx, &after, actor.user_id, UpdateReason::Changed)?;
            // A new owner or state may make room (or work) for automatic assignment; labels do not.
            if assignee.is_some() || changes.status.is_some() {
                let given = crate::assignment::hand_out(tx, None, now)?;
                if given > 0 {
                    return Ok((conversation(tx, conversation_id)?, true));
                }
            }
            Ok((after, true))
        })
        .await?;
        // The change's own event comes first; automatic assignments it allowed follow it.
        let event = changed.then(|| announced.first_given()).transpose()?;
        Ok((view, event))
    }

    /// "Nhận": `user_id` takes a conversation nobody owns (taking one's own again changes nothing);
    /// one owned by someone else is refused with its owner, so two agents taking at once get one winner.
    pub async fn take_conversation(
        &self,
        conversation_id: i64,
        user_id: i64,
    ) -> Result<(ConversationView, Option<i64>)> {
        let (view, announced) = self.write_announcing(move |tx| {
            let before = conversation(tx, conversation_id)?;
            match before.assignee_user_id {
                Some(owner) if owner == user_id => return Ok(before),
                Some(owner) => return Err(StorageError::AlreadyAssigned(owner)),
                None => {}
            }
            ensure_assignable(tx, user_id, &before.user_id_chat)?;
            tx.execute(
                "UPDATE conversations SET assignee_user_id = ?2, handed_back_by = NULL, updated_at = ?3
                 WHERE id = ?1",
                args![conversation_id, user_id, UnixMillis::now().0],
            )?;
            let after = conversation(tx, conversation_id)?;
            announce_update(tx, &after, Some(user_id), UpdateReason::Taken)?;
            Ok(after)
        })
        .await?;
        Ok((view, announced.last()))
    }

    /// Ends the snoozes that are due (at most a few hundred at a time): each conversation is open
    /// again and `conversation_updated` tells its assignee. Safe to run on every node at once: a
    /// conversation is woken by the one that changes its row.
    pub async fn wake_snoozed(&self, now: UnixMillis) -> Result<usize> {
        self.write(move |tx| {
            let woken: Vec<i64> = tx.rows(
                &format!(
                    "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = ?1
                     WHERE id IN (SELECT id FROM conversations
                                  WHERE status = 'snoozed' AND snoozed_until <= ?1
                                  ORDER BY snoozed_until LIMIT {WAKE_AT_ONCE})
                     RETURNING id"
                ),
                args![now.0],
                |r| r.get(0),
            )?;
            for id in &woken {
                let view = conversation(tx, *id)?;
                announce_update(tx, &view, None, UpdateReason::SnoozeEnded)?;
            }
            Ok(woken.len())
        })
        .await
    }

    /// When the next snooze ends, if any conversation is snoozed.
    pub async fn next_snooze_end(&self) -> Result<Option<UnixMillis>> {
        self.read(|tx| {
            tx.one(
                "SELECT MIN(snoozed_until) FROM conversations WHERE status = 'snoozed'",
                args![],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Every label, by name.
    pub async fn labels(&self) -> Result<Vec<LabelView>> {
        self.read(all_labels).await
    }

    pub async fn create_label(&self, label: NewLabel) -> Result<LabelView> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let id = tx
                .optional(
                    "INSERT INTO labels (name, name_key, color, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (name_key) DO NOTHING RETURNING id",
                    args![label.name, label.name.to_lowercase(), label.color, now],
                    |r| r.get::<i64>(0),
                )?
                .ok_or_else(|| name_taken(&label.name))?;
            labels_changed(tx, &[], now)?;
            Ok(LabelView {
                id,
                name: label.name,
                color: label.color,
            })
        })
        .await
    }

    /// Renames or recolours a label; the conversations that carry it show the new name.
    pub async fn update_label(&self, id: i64, label: NewLabel) -> Result<LabelView> {
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            let key = label.name.to_lowercase();
            let clash: Option<i64> = tx.optional(
                "SELECT id FROM labels WHERE name_key = ?1 AND id <> ?2",
                args![key, id],
                |r| r.get(0),
            )?;
            if clash.is_some() {
                return Err(name_taken(&label.name));
            }
            let changed = tx.execute(
                "UPDATE labels SET name = ?2, name_key = ?3, color = ?4, updated_at = ?5 WHERE id = ?1",
                args![id, label.name, key, label.color, now],
            )?;
            if changed == 0 {
                return Err(StorageError::UnknownLabel(id));
            }
            labels_changed(tx, &conversations_labelled(tx, id)?, now)?;
            Ok(LabelView {
                id,
                name: label.name,
                color: label.color,
            })
        })
        .await
    }

    /// Deletes a label and takes it off every conversation.
    pub async fn delete_label(&self, id: i64) -> Result<()> {
        self.write(move |tx| {
            let carrying = conversations_labelled(tx, id)?;
            if tx.execute("DELETE FROM labels WHERE id = ?1", args![id])? == 0 {
                return Err(StorageError::UnknownLabel(id));
            }
            tx.execute(
                "DELETE FROM conversation_labels WHERE label_id = ?1",
                args![id],
            )?;
            labels_changed(tx, &carrying, UnixMillis::now().0)?;
            Ok(())
        })
        .await
    }

    /// Leaves a private note on a conversation; the users it mentions (enabled ones, by username) are
    /// named in its event so their consoles tell them.
    pub async fn add_note(
        &self,
        conversation_id: i64,
        author_user_id: Option<i64>,
        note: NewNote,
    ) -> Result<(NoteView, i64)> {
        self.write_with_event(move |tx| {
            let view = conversation(tx, conversation_id)?;
            let mut mentioned: Vec<i64> = Vec::with_capacity(note.mentions.len());
            for username in &note.mentions {
                let user: Option<i64> = tx.optional(
                    "SELECT id FROM users WHERE username = ?1 AND NOT disabled",
                    args![username],
                    |r| r.get(0),
                )?;
                mentioned.extend(user.filter(|id| !mentioned.contains(id)));
            }
            let id = tx.insert(
                "INSERT INTO conversation_notes (conversation_id, author_user_id, text, mentions, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                args![
                    conversation_id,
                    author_user_id,
                    note.text,
                    serde_json::to_string(&mentioned)?,
                    UnixMillis::now().0
                ],
            )?;
            let saved = tx.one(
                &format!("SELECT {NOTE_COLUMNS} FROM conversation_notes n WHERE n.id = ?1"),
                args![id],
                note_from_row,
            )?;
            let account = crate::inbox::account_id(tx, &view.user_id_chat)?;
            append(
                tx,
                EventKind::NoteAdded,
                Some((account, &view.user_id_chat)),
                &NoteAdded {
                    user_id_chat: &view.user_id_chat,
                    note: &saved,
                },
            )?;
            Ok(saved)
        })
        .await
    }

    /// A conversation's notes, newest first, a page at a time.
    pub async fn notes(
        &self,
        conversation_id: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<NoteView>> {
        let (before_at, before_id) = parse_cursor(cursor)?;
        let limit = limit.clamp(1, crate::inbox::MAX_PAGE);
        self.read(move |tx| {
            conversation(tx, conversation_id)?;
            page_of(
                tx,
                &format!(
                    "SELECT {NOTE_COLUMNS} FROM conversation_notes n WHERE n.conversation_id = ?1
                       AND (n.created_at < ?2 OR (n.created_at = ?2 AND n.id < ?3))
                     ORDER BY n.created_at DESC, n.id DESC"
                ),
                args![conversation_id, before_at, before_id],
                limit,
                note_from_row,
                |n| (n.created_at.0, n.id),
            )
        })
        .await
    }
}

fn shortcut_taken(shortcut: &str) -> StorageError {
    StorageError::Conflict(format!("a canned response `/{shortcut}` already exists"))
}

/// Refuses a team that does not exist, naming `team_id`.
fn ensure_team(tx: &Tx<'_>, team_id: Option<i64>) -> Result<()> {
    let Some(team) = team_id else { return Ok(()) };
    let found: Option<i64> =
        tx.optional("SELECT id FROM teams WHERE id = ?1", args![team], |r| {
            r.get(0)
        })?;
    match found {
        Some(_) => Ok(()),
        None => Err(ValidationError::new("team_id", format!("no such team {team}")).into()),
    }
}

impl Store {
    /// The canned responses offered to `member` (everyone's and their teams'), or every one when
    /// `member` is `None` (supervisors and admins keep them all), by shortcut.
    pub async fn canned_responses(&self, member: Option<i64>) -> Result<Vec<CannedResponse>> {
        self.read(move |tx| {
            let mut all = tx.rows(
                "SELECT id, shortcut, text, team_id FROM canned_responses
                 WHERE team_id IS NULL OR CAST(?1 AS BIGINT) IS NULL
                    OR team_id IN (SELECT team_id FROM team_members WHERE user_id = ?1)",
                args![member],
                |r| Ok(read_row!(r => CannedResponse { id, shortcut, text, team_id })),
            )?;
            all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
            Ok(all)
        })
        .await
    }

    pub async fn create_canned(
        &self,
        canned: NewCanned,
        author_user_id: Option<i64>,
    ) -> Result<CannedResponse> {
        self.write(move |tx| {
            ensure_team(tx, canned.team_id)?;
            let id = tx
                .optional(
                    "INSERT INTO canned_responses (shortcut, text, created_by, created_at, updated_at, team_id)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT (shortcut) DO NOTHING RETURNING id",
                    args![canned.shortcut, canned.text, author_user_id, UnixMillis::now().0, canned.team_id],
                    |r| r.get::<i64>(0),
                )?
                .ok_or_else(|| shortcut_taken(&canned.shortcut))?;
            Ok(CannedResponse {
                id,
                shortcut: canned.shortcut,
                text: canned.text,
                team_id: canned.team_id,
            })
        })
        .await
    }

    pub async fn update_canned(&self, id: i64, canned: NewCanned) -> Result<CannedResponse> {
        self.write(move |tx| {
            ensure_team(tx, canned.team_id)?;
            let clash: Option<i64> = tx.optional(
                "SELECT id FROM canned_responses WHERE shortcut = ?1 AND id <> ?2",
                args![canned.shortcut, id],
                |r| r.get(0),
            )?;
            if clash.is_some() {
                return Err(shortcut_taken(&canned.shortcut));
            }
            let changed = tx.execute(
                "UPDATE canned_responses SET shortcut = ?2, text = ?3, updated_at = ?4, team_id = ?5
                 WHERE id = ?1",
                args![id, canned.shortcut, canned.text, UnixMillis::now().0, canned.team_id],
            )?;
            if changed == 0 {
                return Err(StorageError::UnknownCannedResponse(id));
            }
            Ok(CannedResponse {
                id,
                shortcut: canned.shortcut,
                text: canned.text,
                team_id: canned.team_id,
            })
        })
        .await
    }

    pub async fn delete_canned(&self, id: i64) -> Result<()> {
        self.write(move |tx| {
            if tx.execute("DELETE FROM canned_responses WHERE id = ?1", args![id])? == 0 {
                return Err(StorageError::UnknownCannedResponse(id));
            }
            Ok(())
        })
        .await
    }
}

/// Whether two readings of a conversation differ in what the team sees of its ownership and state.
fn same_for_the_team(before: &ConversationView, after: &ConversationView) -> bool {
    (
        before.assignee_user_id,
        before.status,
        before.snoozed_until,
        &before.labels,
    ) == (
        after.assignee_user_id,
        after.status,
        after.snoozed_until,
        &after.labels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: Actor = Actor {
        user_id: Some(5),
        assigns_others: false,
    };
    const SUPERVISOR: Actor = Actor {
        user_id: Some(1),
        assigns_others: true,
    };

    #[test]
    fn an_agent_takes_free_conversations_and_hands_back_their_own() {
        assert!(may_assign(AGENT, None, Some(5)).is_ok());
        assert!(may_assign(AGENT, Some(5), None).is_ok());
        assert!(may_assign(AGENT, Some(5), Some(5)).is_ok());
        assert!(matches!(
            may_assign(AGENT, Some(6), Some(5)),
            Err(StorageError::AlreadyAssigned(6))
        ));
        for (current, wanted) in [(None, Some(6)), (Some(6), None), (Some(5), Some(6))] {
            assert!(
                matches!(
                    may_assign(AGENT, current, wanted),
                    Err(StorageError::NotAllowed(_))
                ),
                "{current:?} → {wanted:?}"
            );
        }
        assert!(may_assign(SUPERVISOR, Some(6), Some(5)).is_ok());
        assert!(may_assign(SUPERVISOR, Some(6), None).is_ok());
    }
}
