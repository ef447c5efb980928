//! Fields a business adds to its customers (membership tier, birthday, district…): an admin defines
//! each with a kind, and every value is checked against it and stored in one canonical text form, so
//! that the console, the CSV export and a report read the same thing.

use crate::validation::{ValidationError, clip, name, text};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most fields a business defines (and a customer's body names).
pub const MAX_FIELDS: usize = 50;
/// The most choices a `choice` field offers.
pub const MAX_CHOICES: usize = 100;
/// The most characters of a text value.
pub const MAX_TEXT_VALUE: usize = 1_000;

crate::named_enum! {
    /// What a field holds. Never changes once the field is made: its values were checked against it.
    pub enum FieldKind {
        Text = "text",
        Number = "number",
        /// A calendar day, `YYYY-MM-DD` (a birthday has no time zone).
        Date = "date",
        /// One of the field's choices.
        Choice = "choice",
    }
}

/// Body of `POST /api/customer-fields` and, without `key` and `kind`, `PATCH /api/customer-fields/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldIn {
    /// How the field is named in the API and in CSV headers: lowercase letters, digits and `_`.
    #[schema(example = "hang_thanh_vien", max_length = 40)]
    pub key: Option<String>,
    /// What the console shows.
    #[schema(example = "Hạng thành viên", max_length = 100)]
    pub label: Option<String>,
    pub kind: Option<FieldKind>,
    /// For `choice`: the choices, in the order shown (at most 100, each at most 100 characters).
    #[schema(example = json!(["Bạc", "Vàng", "Kim cương"]))]
    pub choices: Option<Vec<String>>,
    /// Where the field is shown among the others (smallest first).
    pub position: Option<i64>,
}

/// A field as defined: what the store keeps and the API answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldDefinition {
    #[schema(example = "hang_thanh_vien")]
    pub key: String,
    #[schema(example = "Hạng thành viên")]
    pub label: String,
    pub kind: FieldKind,
    #[schema(example = json!(["Bạc", "Vàng", "Kim cương"]))]
    pub choices: Vec<String>,
}

impl FieldIn {
    /// A new field: key, label and kind are required; choices for (and only for) `choice`.
    pub fn definition(self) -> Result<FieldDefinition, ValidationError> {
        let key = self
            .key
            .ok_or_else(|| ValidationError::new("key", "is required"))?;
        let key = key.trim();
        if key.is_empty()
            || key.len() > 40
            || !key.starts_with(|c: char| c.is_ascii_lowercase())
            || !key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ValidationError::new(
                "key",
                "must be 1 to 40 lowercase letters, digits or `_`, starting with a letter",
            ));
        }
        let kind = self
            .kind
            .ok_or_else(|| ValidationError::new("kind", "is required"))?;
        let label = self
            .label
            .ok_or_else(|| ValidationError::new("label", "is required"))?;
        let definition = FieldDefinition {
            key: key.to_owned(),
            label: checked_label(&label)?,
            kind,
            choices: checked_choices(kind, self.choices.unwrap_or_default())?,
        };
        Ok(definition)
    }

    /// Changes to a field: its label, its choices (of a `choice` field), its place.
    pub fn changes(self, field: &FieldDefinition) -> Result<FieldDefinition, ValidationError> {
        if self.key.as_deref().is_some_and(|k| k != field.key) {
            return Err(ValidationError::new(
                "key",
                "a field's key never changes (values and CSV files name it)",
            ));
        }
        if self.kind.is_some_and(|k| k != field.kind) {
            return Err(ValidationError::new(
                "kind",
                "a field's kind never changes; make a new field",
            ));
        }
        Ok(FieldDefinition {
            key: field.key.clone(),
            label: match self.label {
                Some(label) => checked_label(&label)?,
                None => field.label.clone(),
            },
            kind: field.kind,
            choices: match self.choices {
                Some(choices) => checked_choices(field.kind, choices)?,
                None => field.choices.clone(),
            },
        })
    }
}

fn checked_label(label: &str) -> Result<String, ValidationError> {
    let label = name("label", label, 100)?;
    if label.is_empty() {
        return Err(ValidationError::new("label", "must not be empty"));
    }
    Ok(label)
}

fn checked_choices(kind: FieldKind, choices: Vec<String>) -> Result<Vec<String>, ValidationError> {
    if kind != FieldKind::Choice {
        return if choices.is_empty() {
            Ok(choices)
        } else {
            Err(ValidationError::new(
                "choices",
                "only a `choice` field has choices",
            ))
        };
    }
    if choices.is_empty() || choices.len() > MAX_CHOICES {
        return Err(ValidationError::new(
            "choices",
            format!("a `choice` field has 1 to {MAX_CHOICES} choices"),
        ));
    }
    let mut checked: Vec<String> = Vec::with_capacity(choices.len());
    for (i, choice) in choices.iter().enumerate() {
        let field = format!("choices[{i}]");
        let choice = name(&field, choice, 100)?;
        if choice.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if checked.iter().any(|c| same_choice(c, &choice)) {
            return Err(ValidationError::new(
                field,
                format!("`{choice}` is listed twice"),
            ));
        }
        checked.push(choice);
    }
    Ok(checked)
}

/// Choices are the same whatever their case or accents ("vang" is "Vàng"): CSV files and hurried
/// typing find the choice.
fn same_choice(a: &str, b: &str) -> bool {
    crate::search::fold(a) == crate::search::fold(b)
}

impl FieldDefinition {
    /// The stored form of a value given in the API or a CSV cell; `None` clears it (`null`, `""`).
    /// `field` names it in the error (`customFields.ngay_sinh`).
    pub fn value(&self, field: &str, raw: &Value) -> Result<Option<String>, ValidationError> {
        let given = match raw {
            Value::Null => return Ok(None),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim(),
            Value::Number(n) if self.kind == FieldKind::Number => {
                return Ok(Some(n.to_string()));
            }
            Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                return Err(ValidationError::new(
                    field,
                    format!("takes {}", self.kind.described()),
                ));
            }
        };
        let refused = || {
            ValidationError::new(
                field,
                format!("`{}` is not {}", clip(given, 40), self.kind.described()),
            )
        };
        match self.kind {
            FieldKind::Text => {
                text(field, given, MAX_TEXT_VALUE)?;
                Ok(Some(given.to_owned()))
            }
            FieldKind::Number => number(given).map(Some).ok_or_else(refused),
            FieldKind::Date => date(given).map(Some).ok_or_else(refused),
            FieldKind::Choice => self
                .choices
                .iter()
                .find(|choice| same_choice(choice, given))
                .cloned()
                .map(Some)
                .ok_or_else(|| {
                    ValidationError::new(
                        field,
                        format!(
                            "`{}` is not one of the choices ({})",
                            clip(given, 40),
                            clip(&self.choices.join(", "), 200)
                        ),
                    )
                }),
        }
    }

    /// A stored value as the API shows it: numbers as JSON numbers, the rest as strings.
    pub fn shown(&self, stored: &str) -> Value {
        match self.kind {
            FieldKind::Number => stored
                .parse::<serde_json::Number>()
                .map_or_else(|_| Value::from(stored), Value::Number),
            _ => Value::from(stored),
        }
    }
}

impl FieldKind {
    fn described(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "a number",
            Self::Date => "a date (YYYY-MM-DD or DD/MM/YYYY)",
            Self::Choice => "one of the choices",
        }
    }
}

/// A number as people write it: `1234.5`, `1 234,5`, `1.234.567` (Vietnamese thousands), `-3`.
/// Kept as serde_json writes the f64 (or the integer).
fn number(given: &str) -> Option<String> {
    let compact: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() || compact.len() > 40 {
        return None;
    }
    let dots = compact.matches('.').count();
    let commas = compact.matches(',').count();
    let plain = match (dots, commas) {
        (0, 0) | (1, 0) => compact.clone(),
        // "1,5" is a Vietnamese decimal comma; "1.234.567" and "1.234,5" use dots for thousands.
        (0, 1) => compact.replace(',', "."),
        (_, 0) => compact.replace('.', ""),
        (_, 1) if compact.rfind(',') > compact.rfind('.') => {
            compact.replace('.', "").replace(',', ".")
        }
        // "1,234,567.5": commas for thousands.
        (_, _) if dots <= 1 => compact.replace(',', ""),
        _ => return None,
    };
    if !plain
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
    {
        return None;
    }
    if let Ok(integer) = plain.parse::<i64>() {
        return Some(integer.to_string());
    }
    let value = plain.parse::<f64>().ok().filter(|v| v.is_finite())?;
    serde_json::Number::from_f64(value).map(|n| n.to_string())
}

/// A day as `YYYY-MM-DD`, from that or the `DD/MM/YYYY` Vietnamese spreadsheets write.
fn date(given: &str) -> Option<String> {
    let parts: Vec<&str> = given.split(['-', '/', '.']).collect();
    let [a, b, c] = parts[..] else { return None };
    let (year, month, day) = if a.len() == 4 { (a, b, c) } else { (c, b, a) };
    let (year, month, day) = (
        year.parse::<i32>().ok()?,
        month.parse::<u8>().ok()?,
        day.parse::<u8>().ok()?,
    );
    if !(1000..=9999).contains(&year) {
        return None;
    }
    let month = time::Month::try_from(month).ok()?;
    let day = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(kind: FieldKind, choices: &[&str]) -> FieldDefinition {
        FieldIn {
            key: Some("f".into()),
            label: Some("F".into()),
            kind: Some(kind),
            choices: Some(choices.iter().map(|c| (*c).to_owned()).collect()),
            position: None,
        }
        .definition()
        .expect("valid")
    }

    #[test]
    fn values_are_kept_in_one_form() {
        let number = field(FieldKind::Number, &[]);
        for (given, kept) in [
            (json!(12), "12"),
            (json!("1.234.567"), "1234567"),
            (json!("1,5"), "1.5"),
            (json!("1.234,5"), "1234.5"),
            (json!("1,234,567.5"), "1234567.5"),
            (json!(" -3 "), "-3"),
        ] {
            assert_eq!(
                number.value("f", &given),
                Ok(Some(kept.to_owned())),
                "{given}"
            );
        }
        assert_eq!(number.shown("1234.5"), json!(1234.5));
        let date = field(FieldKind::Date, &[]);
        assert_eq!(
            date.value("f", &json!("17/05/1990")),
            Ok(Some("1990-05-17".into()))
        );
        assert_eq!(
            date.value("f", &json!("1990-5-7")),
            Ok(Some("1990-05-07".into()))
        );
        let tier = field(FieldKind::Choice, &["Bạc", "Vàng"]);
        assert_eq!(tier.value("f", &json!("vang")), Ok(Some("Vàng".into())));
        assert_eq!(tier.value("f", &json!(null)), Ok(None));
        assert_eq!(tier.value("f", &json!("")), Ok(None));
    }

    #[test]
    fn wrong_values_are_named() {
        let number = field(FieldKind::Number, &[]);
        for bad in [
            json!("mười"),
            json!("1.2.3,4,5"),
            json!(true),
            json!("1e400"),
        ] {
            let error = number.value("customFields.f", &bad).expect_err("refused");
            assert_eq!(error.field, "customFields.f", "{bad}");
        }
        let date = field(FieldKind::Date, &[]);
        for bad in ["31/02/2020", "2020-13-01", "hôm qua", "20-01-01"] {
            assert!(date.value("f", &json!(bad)).is_err(), "{bad}");
        }
        let tier = field(FieldKind::Choice, &["Bạc", "Vàng"]);
        let error = tier.value("f", &json!("Đồng")).expect_err("refused");
        assert!(error.problem.contains("Bạc, Vàng"), "{error}");
        let long = "x".repeat(MAX_TEXT_VALUE + 1);
        assert!(
            field(FieldKind::Text, &[])
                .value("f", &json!(long))
                .is_err()
        );
    }

    #[test]
    fn definitions_are_checked() {
        let bad_key = FieldIn {
            key: Some("Hạng".into()),
            label: Some("Hạng".into()),
            kind: Some(FieldKind::Text),
            ..Default::default()
        };
        assert_eq!(bad_key.definition().map_err(|e| e.field), Err("key".into()));
        let no_choices = FieldIn {
            key: Some("tier".into()),
            label: Some("Hạng".into()),
            kind: Some(FieldKind::Choice),
            ..Default::default()
        };
        assert_eq!(
            no_choices.definition().map_err(|e| e.field),
            Err("choices".into())
        );
        let twice = FieldIn {
            key: Some("tier".into()),
            label: Some("Hạng".into()),
            kind: Some(FieldKind::Choice),
            choices: Some(vec!["Vàng".into(), "vang".into()]),
            position: None,
        };
        assert_eq!(
            twice.definition().map_err(|e| e.field),
            Err("choices[1]".into())
        );
        let tier = field(FieldKind::Choice, &["Bạc"]);
        let kind_change = FieldIn {
            kind: Some(FieldKind::Text),
            ..Default::default()
        };
        assert_eq!(
            kind_change.changes(&tier).map_err(|e| e.field),
            Err("kind".into())
        );
    }
}
