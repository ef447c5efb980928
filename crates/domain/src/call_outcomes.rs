//! What came of a call: the outcome codes admins set (sale, complaint, follow-up…) and the code and
//! note an agent records after a call, which the customer's history shows.

use crate::ValidationError;
use crate::validation::{identifier, optional_text};
use serde::Deserialize;

/// The longest note on a call.
pub const MAX_NOTE: usize = 2_000;
/// The longest label of a code.
pub const MAX_LABEL: usize = 100;
/// The most codes a business keeps (active or retired).
pub const MAX_CODES: i64 = 100;

/// A new outcome code (admins).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutcomeCodeIn {
    /// 1–40 of `a-z 0-9 _`, starting with a letter; never changes (reports and exports name it).
    #[schema(example = "sale")]
    pub code: String,
    #[schema(example = "Chốt đơn", max_length = 100)]
    pub label: String,
    /// Where it is listed (smallest first); after the others if not given.
    pub position: Option<i64>,
}

impl OutcomeCodeIn {
    /// The code, label and position, checked.
    pub fn validate(self) -> Result<(String, String, Option<i64>), ValidationError> {
        let code = identifier("code", &self.code, 40)?;
        if !code.starts_with(|c: char| c.is_ascii_lowercase())
            || !code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ValidationError::new(
                "code",
                "must be a-z, 0-9 and _, starting with a letter",
            ));
        }
        Ok((
            code,
            label(Some(self.label))?.unwrap_or_default(),
            self.position,
        ))
    }
}

fn label(value: Option<String>) -> Result<Option<String>, ValidationError> {
    let label = optional_text("label", value, MAX_LABEL)?;
    if label.as_deref() == Some("") {
        return Err(ValidationError::new("label", "must not be empty"));
    }
    Ok(label)
}

/// Changes to an outcome code (admins); a field left out stays. A retired code (`active: false`) is
/// no longer offered, and calls keep it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutcomeCodeChanges {
    #[schema(example = "Chốt đơn", max_length = 100)]
    pub label: Option<String>,
    pub position: Option<i64>,
    pub active: Option<bool>,
}

impl OutcomeCodeChanges {
    pub fn validate(self) -> Result<Self, ValidationError> {
        Ok(Self {
            label: label(self.label)?,
            ..self
        })
    }
}

/// An agent's record of a call: its outcome code and a note for the customer's history.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallOutcomeIn {
    /// One of the active outcome codes (`GET /api/call-outcomes`).
    #[schema(example = "sale")]
    pub code: String,
    #[serde(default)]
    #[schema(example = "Khách đặt 2 bó hoa hồng, giao thứ Bảy", max_length = 2000)]
    pub note: String,
}

impl CallOutcomeIn {
    /// The code (as given, trimmed; the store checks it is an active one) and the note.
    pub fn validate(self) -> Result<(String, String), ValidationError> {
        let code = self.code.trim().to_owned();
        if code.is_empty() || code.len() > 40 {
            return Err(ValidationError::new(
                "code",
                "must be one of the outcome codes",
            ));
        }
        let note = optional_text("note", Some(self.note), MAX_NOTE)?.unwrap_or_default();
        Ok((code, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lowercase_identifiers_with_a_label() {
        let new = |code: &str, label: &str| OutcomeCodeIn {
            code: code.into(),
            label: label.into(),
            position: None,
        };
        assert_eq!(
            new("sale", " Chốt đơn ").validate().unwrap(),
            ("sale".into(), "Chốt đơn".into(), None)
        );
        assert_eq!(new("Sale", "x").validate().unwrap_err().field, "code");
        assert_eq!(new("1st", "x").validate().unwrap_err().field, "code");
        assert_eq!(new("chốt", "x").validate().unwrap_err().field, "code");
        assert_eq!(new("sale", "  ").validate().unwrap_err().field, "label");
        assert_eq!(
            new("sale", &"x".repeat(101)).validate().unwrap_err().field,
            "label"
        );
    }

    #[test]
    fn an_outcome_has_a_code_and_a_bounded_note() {
        let outcome = |code: &str, note: &str| CallOutcomeIn {
            code: code.into(),
            note: note.into(),
        };
        assert_eq!(
            outcome(" sale ", " giao thứ Bảy ").validate().unwrap(),
            ("sale".into(), "giao thứ Bảy".into())
        );
        assert_eq!(outcome("", "").validate().unwrap_err().field, "code");
        assert_eq!(
            outcome("sale", &"x".repeat(2001))
                .validate()
                .unwrap_err()
                .field,
            "note"
        );
    }
}
