//! Phone numbers as callers and customers write them, made comparable. Vietnam first:
//! `0912 345 678`, `+84 912 345 678`, `84912345678` and `0084912345678` are one number, `+84912345678`.

use crate::validation::ValidationError;

/// Vietnam's country calling code.
const VN: &str = "84";

/// Separators people type inside numbers.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '(' | ')' | '/' | '\u{a0}')
}

/// The canonical form of a phone number: `+` and digits (E.164) for full numbers, digits alone for
/// service and short numbers (`1900`, `18001090`, an extension). Vietnamese national numbers (a leading
/// `0`) and numbers written with `84` but no `+` are read as Vietnamese.
pub fn normalize(raw: &str) -> Result<String, ValidationError> {
    let field = "phoneNumber";
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if rest
        .chars()
        .any(|c| !c.is_ascii_digit() && !is_separator(c))
    {
        return Err(ValidationError::new(
            field,
            format!("`{raw}` is not a phone number"),
        ));
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Err(ValidationError::new(field, "must contain digits"));
    }
    if digits.len() > 15 {
        return Err(ValidationError::new(
            field,
            "has more digits than any phone number (15)",
        ));
    }
    let international = if plus {
        Some(digits.as_str())
    } else if let Some(after) = digits.strip_prefix("00") {
        Some(after)
    } else if let Some(national) = digits.strip_prefix('0') {
        // 0 + 9 or 10 digits: a Vietnamese national number.
        return if (9..=10).contains(&national.len()) {
            Ok(format!("+{VN}{national}"))
        } else {
            Ok(digits)
        };
    } else if digits.starts_with(VN) && (11..=12).contains(&digits.len()) {
        Some(digits.as_str())
    } else {
        None
    };
    match international {
        Some(number) if number.len() >= 7 => Ok(format!("+{number}")),
        Some(_) => Err(ValidationError::new(
            field,
            "is too short for an international number",
        )),
        // Short and service numbers (1900 xxxx, 1800 xxxx, extensions) stay as dialled.
        None => Ok(digits),
    }
}

/// The digits of a partial number, for "contains" searches (`exactMatch: false`): `345 678` → `345678`.
/// A leading `0` is dropped, so `0912` also finds `+84912…`.
pub fn search_digits(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('0') {
        Some(rest) if !rest.is_empty() && !digits.starts_with("00") => rest.to_owned(),
        _ => digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_spellings_are_one_number() {
        for spelling in [
            "0912 345 678",
            "+84912345678",
            "84912345678",
            "0084 912 345 678",
            "+84 (912) 345-678",
            "091.234.5678",
        ] {
            assert_eq!(
                normalize(spelling).as_deref(),
                Ok("+84912345678"),
                "{spelling}"
            );
        }
        assert_eq!(
            normalize("028 3822 1234").as_deref(),
            Ok("+842838221234"),
            "landline, 10 digits after 0"
        );
    }

    #[test]
    fn service_numbers_and_foreign_numbers_are_kept() {
        assert_eq!(normalize("1900 1234").as_deref(), Ok("19001234"));
        assert_eq!(normalize("1800-1090").as_deref(), Ok("18001090"));
        assert_eq!(normalize("101").as_deref(), Ok("101"));
        assert_eq!(
            normalize("+1 (415) 555-0100").as_deref(),
            Ok("+14155550100")
        );
        assert_eq!(normalize("0065 6123 4567").as_deref(), Ok("+6561234567"));
    }

    #[test]
    fn garbage_is_refused_with_the_field() {
        for bad in [
            "",
            "   ",
            "abc",
            "0912-345-67x",
            "+",
            "+12",
            "1234567890123456",
        ] {
            let error = normalize(bad).expect_err(bad);
            assert_eq!(error.field, "phoneNumber");
        }
    }

    #[test]
    fn partial_searches_ignore_the_national_zero() {
        assert_eq!(search_digits("0912 345"), "912345");
        assert_eq!(search_digits("345-678"), "345678");
        assert_eq!(search_digits("0084"), "0084");
        assert_eq!(search_digits("0"), "0");
    }
}
