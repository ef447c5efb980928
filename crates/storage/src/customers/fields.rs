//! The fields admins add to customers (`domain::custom_fields`), and each customer's values of them.

use crate::sql::{Tx, args};
use crate::{Result, StorageError, Store};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use switchboard_domain::UnixMillis;
use switchboard_domain::ValidationError;
use switchboard_domain::custom_fields::{FieldDefinition, FieldIn, FieldKind, MAX_FIELDS};

/// A field as `GET /api/customer-fields` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    #[schema(example = 3)]
    pub id: i64,
    #[schema(example = "hang_thanh_vien")]
    pub key: String,
    #[schema(example = "Hạng thành viên")]
    pub label: String,
    pub kind: FieldKind,
    /// For `choice` fields, in the order shown.
    #[schema(example = json!(["Bạc", "Vàng", "Kim cương"]))]
    pub choices: Vec<String>,
    /// Where it is shown (smallest first).
    pub position: i64,
}

impl CustomField {
    pub fn definition(&self) -> FieldDefinition {
        FieldDefinition {
            key: self.key.clone(),
            label: self.label.clone(),
            kind: self.kind,
            choices: self.choices.clone(),
        }
    }
}

/// Every field, in the order shown.
pub(crate) fn all(tx: &Tx<'_>) -> Result<Vec<CustomField>> {
    tx.rows(
        "SELECT id, key, label, kind, choices, position FROM customer_fields ORDER BY position, id",
        args![],
        |r| {
            let kind: String = r.get(3)?;
            let choices: String = r.get(4)?;
            Ok(CustomField {
                id: r.get(0)?,
                key: r.get(1)?,
                label: r.get(2)?,
                kind: FieldKind::parse(&kind)
                    .ok_or_else(|| StorageError::Corrupt(format!("field kind `{kind}`")))?,
                choices: serde_json::from_str(&choices)?,
                position: r.get(5)?,
            })
        },
    )
}

fn one(tx: &Tx<'_>, id: i64) -> Result<CustomField> {
    all(tx)?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(StorageError::UnknownCustomField(id))
}

/// A customer's values, by key, as the API shows them.
pub(crate) fn values_of(tx: &Tx<'_>, customer_id: i64) -> Result<BTreeMap<String, Value>> {
    let rows = tx.rows(
        "SELECT f.key, f.kind, v.value FROM customer_field_values v JOIN customer_fields f ON f.id = v.field_id
             WHERE v.customer_id = ?1",
        args![customer_id],
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?)),
    )?;
    Ok(rows
        .into_iter()
        .map(|(key, kind, value)| {
            let shown = match FieldKind::parse(&kind) {
                Some(FieldKind::Number) => value
                    .parse::<serde_json::Number>()
                    .map_or_else(|_| Value::from(value.clone()), Value::Number),
                _ => Value::from(value),
            };
            (key, shown)
        })
        .collect())
}

/// Sets the values given (checked against their fields; `null` clears), leaving the others.
pub(crate) fn set_values(
    tx: &Tx<'_>,
    customer_id: i64,
    values: &BTreeMap<String, Value>,
) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    let fields = all(tx)?;
    for (key, raw) in values {
        let name = format!(
            "customFields.{}",
            switchboard_domain::validation::clip(key, 40)
        );
        let field = fields
            .iter()
            .find(|f| &f.key == key)
            .ok_or_else(|| ValidationError::new(&name, "no such field; an admin defines fields"))?;
        match field.definition().value(&name, raw)? {
            Some(value) => tx.execute(
                "INSERT INTO customer_field_values (customer_id, field_id, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (customer_id, field_id) DO UPDATE SET value = excluded.value",
                args![customer_id, field.id, value],
            )?,
            None => tx.execute(
                "DELETE FROM customer_field_values WHERE customer_id = ?1 AND field_id = ?2",
                args![customer_id, field.id],
            )?,
        };
    }
    Ok(())
}

impl Store {
    pub async fn custom_fields(&self) -> Result<Vec<CustomField>> {
        self.read(all).await
    }

    /// Defines a field; its key must be new. Placed last unless `position` says where.
    pub async fn create_custom_field(
        &self,
        definition: FieldDefinition,
        position: Option<i64>,
    ) -> Result<CustomField> {
        self.write(move |tx| {
            let fields = all(tx)?;
            if fields.len() >= MAX_FIELDS {
                return Err(StorageError::Conflict(format!(
                    "at most {MAX_FIELDS} customer fields; delete one first"
                )));
            }
            if fields.iter().any(|f| f.key == definition.key) {
                return Err(StorageError::Conflict(format!(
                    "a field with key `{}` already exists",
                    definition.key
                )));
            }
            let position = position
                .unwrap_or_else(|| fields.iter().map(|f| f.position + 1).max().unwrap_or(0));
            let id = tx.insert(
                "INSERT INTO customer_fields (key, label, kind, choices, position, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                args![
                    definition.key,
                    definition.label,
                    definition.kind.as_str(),
                    serde_json::to_string(&definition.choices)?,
                    position,
                    UnixMillis::now().0
                ],
            )?;
            one(tx, id)
        })
        .await
    }

    /// Renames a field, changes its choices or its place. A choice some customers have cannot be
    /// taken away (their value would no longer be one of the choices).
    pub async fn update_custom_field(&self, id: i64, changes: FieldIn) -> Result<CustomField> {
        self.write(move |tx| {
            let field = one(tx, id)?;
            let position = changes.position.unwrap_or(field.position);
            let changed = changes.changes(&field.definition())?;
            for gone in field
                .choices
                .iter()
                .filter(|c| !changed.choices.contains(c))
            {
                let holders: i64 = tx.one(
                    "SELECT COUNT(*) FROM customer_field_values WHERE field_id = ?1 AND value = ?2",
                    args![id, gone],
                    |r| r.get(0),
                )?;
                if holders > 0 {
                    return Err(StorageError::Conflict(format!(
                        "{holders} customers have `{gone}`; give them another choice first"
                    )));
                }
            }
            tx.execute(
                "UPDATE customer_fields SET label = ?2, choices = ?3, position = ?4 WHERE id = ?1",
                args![
                    id,
                    changed.label,
                    serde_json::to_string(&changed.choices)?,
                    position
                ],
            )?;
            one(tx, id)
        })
        .await
    }

    /// Deletes a field and every customer's value of it; answers the field as it was.
    pub async fn delete_custom_field(&self, id: i64) -> Result<CustomField> {
        self.write(move |tx| {
            let field = one(tx, id)?;
            tx.execute("DELETE FROM customer_fields WHERE id = ?1", args![id])?;
            Ok(field)
        })
        .await
    }
}
