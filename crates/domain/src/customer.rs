//! Customers as the call center's REST API takes them (camelCase, as the seed's API is).

use crate::phone;
use crate::validation::{ValidationError, optional_text};
use serde::Deserialize;

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
    #[schema(example = "an.nguyen@example.vn", max_length = 254)]
    pub email: Option<String>,
    #[schema(example = "CIF001230022", max_length = 64)]
    pub cif: Option<String>,
    #[schema(
        example = "Khách hàng thân thiết, thích được gọi buổi sáng",
        max_length = 10000
    )]
    pub notes: Option<String>,
}

/// A validated customer, or the validated changes to one (`None`: leave as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFields {
    pub full_name: Option<String>,
    /// Normalised numbers, first is the main one; `Some` replaces all of them.
    pub phones: Option<Vec<String>>,
    pub email: Option<String>,
    pub cif: Option<String>,
    pub notes: Option<String>,
}

impl CustomerIn {
    pub fn validate(self) -> Result<CustomerFields, ValidationError> {
        let mut numbers: Vec<String> = self.phone_number.into_iter().collect();
        let listed = self.phone_numbers.is_some();
        numbers.extend(self.phone_numbers.unwrap_or_default());
        let phones = if numbers.is_empty() && !listed {
            None
        } else {
            let mut normalised = Vec::new();
            for (i, raw) in numbers.iter().enumerate() {
                let number = phone::normalize(raw)
                    .map_err(|e| ValidationError::new(format!("phoneNumbers[{i}]"), e.problem))?;
                if !normalised.contains(&number) {
                    normalised.push(number);
                }
            }
            if normalised.len() > 20 {
                return Err(ValidationError::new(
                    "phoneNumbers",
                    "at most 20 numbers per customer",
                ));
            }
            Some(normalised)
        };
        let email = optional_text("email", self.email, 254)?;
        if let Some(email) = email.as_deref().filter(|e| !e.is_empty())
            && (!email.contains('@') || email.chars().any(char::is_whitespace))
        {
            return Err(ValidationError::new(
                "email",
                format!("`{email}` is not an email address"),
            ));
        }
        Ok(CustomerFields {
            full_name: optional_text("fullName", self.full_name, 256)?,
            phones,
            email,
            cif: optional_text("cif", self.cif, 64)?,
            notes: optional_text("notes", self.notes, 10_000)?,
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
        let untouched = validate(json!({})).expect("valid");
        assert_eq!(untouched.phones, None);
    }
}
