//! Customers as the call center's REST API takes them (camelCase, as the seed's API is).

use crate::phone;
use crate::validation::{ValidationError, optional_text};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Body of `POST /api/customers` and, with every field optional, `PATCH /api/customers/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerIn {
    /// Required for a new customer.
    #[schema(example = "Nguyễn Văn An", min_length = 1, max_length = 256)]
    pub full_name: Option<String>,
    /// One number, as the seed's `customerInfo` has it…
    #[schema(example = "0912 345 678")]
    pub phone_number: Option<String>,
    /// …or several (at most 20, any spelling; stored normalised).
    #[schema(example = json!(["028 3822 1234"]))]
    pub phone_numbers: Option<Vec<String>>,
    /// One email (the main one)…
    #[schema(example = "an.nguyen@example.vn", max_length = 254)]
    pub email: Option<String>,
    /// …or several (at most 10); like numbers, a given list replaces the old one.
    #[schema(example = json!(["an.nguyen@example.vn", "an@congty.vn"]))]
    pub emails: Option<Vec<String>>,
    #[schema(example = "CIF001230022", max_length = 64)]
    pub cif: Option<String>,
    #[schema(
        example = "Khách hàng thân thiết, thích được gọi buổi sáng",
        max_length = 10000
    )]
    pub notes: Option<String>,
    /// Values of the fields an admin defined (`GET /api/customer-fields`), by key: the keys given are
    /// set (`null` or `""` clears one), the others are left as they are.
    #[schema(value_type = Option<Object>, example = json!({"hang_thanh_vien": "Vàng", "ngay_sinh": "1990-05-17"}))]
    pub custom_fields: Option<BTreeMap<String, Value>>,
}

/// A validated customer, or the validated changes to one (`None`: leave as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFields {
    pub full_name: Option<String>,
    /// Normalised numbers, first is the main one; `Some` replaces all of them.
    pub phones: Option<Vec<String>>,
    /// Emails, first is the main one; `Some` replaces all of them.
    pub emails: Option<Vec<String>>,
    pub cif: Option<String>,
    pub notes: Option<String>,
    /// Values by field key, checked against the fields' definitions where they are read (storage).
    pub custom: BTreeMap<String, Value>,
}

/// The most numbers a customer has (a merge that would pass it is refused).
pub const MAX_PHONES: usize = 20;
/// The most emails a customer has.
pub const MAX_EMAILS: usize = 10;
/// The most characters of a customer's notes.
pub const MAX_NOTES: usize = 10_000;

/// Checks an email address as people type it (trimmed; `@`, no spaces, at most 254 characters).
pub fn email(field: &str, raw: &str) -> Result<String, ValidationError> {
    let email = raw.trim();
    crate::validation::text(field, email, 254)?;
    if !email.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            field,
            format!(
                "`{}` is not an email address",
                crate::validation::clip(email, 64)
            ),
        ));
    }
    Ok(email.to_owned())
}

/// Adds `items` to `list` unless already there (`same` compares), keeping the order given.
pub fn push_distinct(
    list: &mut Vec<String>,
    items: impl IntoIterator<Item = String>,
    same: fn(&str, &str) -> bool,
) {
    for item in items {
        if !list.iter().any(|known| same(known, &item)) {
            list.push(item);
        }
    }
}

/// Emails are the same address whatever their case.
pub fn same_email(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl CustomerIn {
    pub fn validate(self) -> Result<CustomerFields, ValidationError> {
        let mut numbers: Vec<String> = self.phone_number.into_iter().collect();
        let listed = self.phone_numbers.is_some();
        numbers.extend(self.phone_numbers.unwrap_or_default());
        let phones = if numbers.is_empty() && !listed {
            None
        } else {
            // Bounded before the work: a body may list a million numbers.
            if numbers.len() > MAX_PHONES * 2 {
                return Err(ValidationError::new(
                    "phoneNumbers",
                    format!("at most {MAX_PHONES} numbers per customer"),
                ));
            }
            let mut normalised = Vec::new();
            for (i, raw) in numbers.iter().enumerate() {
                let number = phone::normalize(raw)
                    .map_err(|e| ValidationError::new(format!("phoneNumbers[{i}]"), e.problem))?;
                if !normalised.contains(&number) {
                    normalised.push(number);
                }
            }
            if normalised.len() > MAX_PHONES {
                return Err(ValidationError::new(
                    "phoneNumbers",
                    format!("at most {MAX_PHONES} numbers per customer"),
                ));
            }
            Some(normalised)
        };
        let emails = match (self.email, self.emails) {
            (None, None) => None,
            (one, many) => {
                if many.as_ref().is_some_and(|m| m.len() > MAX_EMAILS * 2) {
                    return Err(ValidationError::new(
                        "emails",
                        format!("at most {MAX_EMAILS} emails per customer"),
                    ));
                }
                let mut checked = Vec::new();
                if let Some(one) = one.filter(|e| !e.trim().is_empty()) {
                    checked.push(email("email", &one)?);
                }
                for (i, raw) in many.unwrap_or_default().iter().enumerate() {
                    let address = email(&format!("emails[{i}]"), raw)?;
                    push_distinct(&mut checked, [address], same_email);
                }
                if checked.len() > MAX_EMAILS {
                    return Err(ValidationError::new(
                        "emails",
                        format!("at most {MAX_EMAILS} emails per customer"),
                    ));
                }
                Some(checked)
            }
        };
        let custom = self.custom_fields.unwrap_or_default();
        if custom.len() > crate::custom_fields::MAX_FIELDS {
            return Err(ValidationError::new(
                "customFields",
                format!("at most {} fields", crate::custom_fields::MAX_FIELDS),
            ));
        }
        Ok(CustomerFields {
            full_name: optional_text("fullName", self.full_name, 256)?,
            phones,
            emails,
            cif: optional_text("cif", self.cif, 64)?,
            notes: optional_text("notes", self.notes, MAX_NOTES)?,
            custom,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Validates a body as the REST API receives it, so the camelCase names are tested too.
    fn validate(body: serde_json::Value) -> Result<CustomerFields, ValidationError> {
        serde_json::from_value::<CustomerIn>(body)
            .expect("shape")
            .validate()
    }

    #[test]
    fn numbers_are_normalised_and_deduplicated() {
        let fields = validate(json!({
            "fullName": " Nguyễn Văn A ",
            "phoneNumber": "0912 345 678",
            "phoneNumbers": ["+84912345678", "028 3822 1234"]
        }))
        .expect("valid");
        assert_eq!(fields.full_name.as_deref(), Some("Nguyễn Văn A"));
        assert_eq!(
            fields.phones,
            Some(vec!["+84912345678".into(), "+842838221234".into()])
        );
    }

    #[test]
    fn bad_numbers_and_emails_are_named() {
        let bad_phone = validate(json!({"phoneNumbers": ["0912", "gọi tôi"]}));
        assert_eq!(
            bad_phone.map_err(|e| e.field),
            Err("phoneNumbers[1]".to_owned())
        );
        let bad_email = validate(json!({"email": "a b@x"}));
        assert_eq!(bad_email.map_err(|e| e.field), Err("email".to_owned()));
        let bad_listed = validate(json!({"emails": ["a@x", "khong-phai-email"]}));
        assert_eq!(bad_listed.map_err(|e| e.field), Err("emails[1]".to_owned()));
        let untouched = validate(json!({})).expect("valid");
        assert_eq!((untouched.phones, untouched.emails), (None, None));
    }

    #[test]
    fn emails_keep_the_main_one_first_and_each_address_once() {
        let fields = validate(
            json!({"email": "An@Example.vn", "emails": ["an@example.vn", "an@congty.vn"]}),
        )
        .expect("valid");
        assert_eq!(
            fields.emails,
            Some(vec!["An@Example.vn".into(), "an@congty.vn".into()])
        );
        let cleared = validate(json!({"email": ""})).expect("valid");
        assert_eq!(cleared.emails, Some(vec![]));
        let many: Vec<String> = (0..11).map(|i| format!("a{i}@x.vn")).collect();
        assert_eq!(
            validate(json!({"emails": many})).map_err(|e| e.field),
            Err("emails".to_owned())
        );
    }
}
