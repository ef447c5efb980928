//! What came of each call: the outcome codes admins keep, the code and note an agent records on a
//! call, and the recording the phone system reports.

use super::Call;
use crate::sql::{Row, Tx, args, read_row};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use switchboard_domain::call_outcomes::{MAX_CODES, OutcomeCodeChanges};
use switchboard_domain::{UnixMillis, ValidationError};

/// An outcome code, as admins set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCode {
    pub id: i64,
    #[schema(example = "sale")]
    pub code: String,
    #[schema(example = "Chốt đơn")]
    pub label: String,
    pub position: i64,
    /// Offered to agents; a retired code stays on the calls that have it.
    pub active: bool,
}

const CODE_COLUMNS: &str = "id, code, label, position, active";

fn code_from_row(r: &Row<'_>) -> Result<OutcomeCode> {
    Ok(read_row!(r => OutcomeCode { id, code, label, position, active }))
}

fn code(tx: &Tx<'_>, id: i64) -> Result<OutcomeCode> {
    tx.optional(
        &format!("SELECT {CODE_COLUMNS} FROM call_outcome_codes WHERE id = ?1"),
        args![id],
        code_from_row,
    )?
    .ok_or(StorageError::UnknownOutcomeCode(id))
}

impl Store {
    /// Every outcome code, in order (retired ones too, marked).
    pub async fn outcome_codes(&self) -> Result<Vec<OutcomeCode>> {
        self.read(|tx| {
            tx.rows(
                &format!("SELECT {CODE_COLUMNS} FROM call_outcome_codes ORDER BY position, id"),
                args![],
                code_from_row,
            )
        })
        .await
    }

    /// A new outcome code; `409` for a code that exists (retired or not) or one too many.
    pub async fn create_outcome_code(
        &self,
        code_name: String,
        label: String,
        position: Option<i64>,
    ) -> Result<OutcomeCode> {
        self.write(move |tx| {
            let (count, last): (i64, i64) = tx.one(
                "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM call_outcome_codes",
                args![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if count >= MAX_CODES {
                return Err(StorageError::Conflict(format!(
                    "a business keeps at most {MAX_CODES} outcome codes; retire one and rename it"
                )));
            }
            let id = tx
                .insert(
                    "INSERT INTO call_outcome_codes (code, label, position, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                    args![code_name, label, position.unwrap_or(last + 1), UnixMillis::now().0],
                )
                .map_err(|e| {
                    if e.is_constraint_violation() {
                        StorageError::Conflict(format!("the outcome code `{code_name}` exists already"))
                    } else {
                        e
                    }
                })?;
            code(tx, id)
        })
        .await
    }

    /// Renames, moves, retires or brings back an outcome code.
    pub async fn update_outcome_code(
        &self,
        id: i64,
        changes: OutcomeCodeChanges,
    ) -> Result<OutcomeCode> {
        self.write(move |tx| {
            let current = code(tx, id)?;
            tx.execute(
                "UPDATE call_outcome_codes SET label = ?2, position = ?3, active = ?4 WHERE id = ?1",
                args![
                    id,
                    changes.label.unwrap_or(current.label),
                    changes.position.unwrap_or(current.position),
                    changes.active.unwrap_or(current.active)
                ],
            )?;
            code(tx, id)
        })
        .await
    }

    /// Records what came of a call (an active code) and a note, by `user_id`; the call as it is now.
    pub async fn set_call_outcome(
        &self,
        call_id: &str,
        code_name: String,
        note: String,
        user_id: Option<i64>,
    ) -> Result<Call> {
        let call_id = call_id.to_owned();
        self.write(move |tx| {
            let active: Option<bool> = tx.optional(
                "SELECT active FROM call_outcome_codes WHERE code = ?1",
                args![code_name],
                |r| r.get(0),
            )?;
            if active != Some(true) {
                return Err(ValidationError::new(
                    "code",
                    format!(
                        "`{}` is not one of the outcome codes in use",
                        switchboard_domain::validation::clip(&code_name, 40)
                    ),
                )
                .into());
            }
            let changed = tx.execute(
                "UPDATE calls SET outcome_code = ?2, outcome_note = ?3, outcome_by_user_id = ?4, outcome_at = ?5
                 WHERE call_id = ?1",
                args![call_id, code_name, note, user_id, UnixMillis::now().0],
            )?;
            if changed == 0 {
                return Err(StorageError::UnknownCall(call_id));
            }
            super::routing::call_by_id(tx, &call_id)
        })
        .await
    }

    /// The recording of a call, as the phone system reported it (again: the latest wins).
    pub async fn set_recording_url(&self, call_id: &str, url: String) -> Result<Call> {
        let call_id = call_id.to_owned();
        self.write(move |tx| {
            if tx.execute(
                "UPDATE calls SET recording_url = ?2 WHERE call_id = ?1",
                args![call_id, url],
            )? == 0
            {
                return Err(StorageError::UnknownCall(call_id));
            }
            super::routing::call_by_id(tx, &call_id)
        })
        .await
    }
}
