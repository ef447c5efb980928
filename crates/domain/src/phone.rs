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

/// A Vietnamese phone number found in a text: where it is (byte offsets, as written) and what it is
/// (normalised, as [`normalize`] gives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundNumber {
    pub start: usize,
    pub end: usize,
    pub number: String,
}

/// Vietnamese phone numbers in free text, as customers write them under a post or in a chat:
/// `0912 345 678`, `0912.345.678`, `0912-345-678`, `+84 912 345 678`, `84912345678`, a landline
/// `028 3822 1234`. A number is digits with single spaces, dots or dashes between groups, not joined to
/// a letter or another digit, with the length of a Vietnamese number: a mobile (0 then 3, 5, 7, 8 or 9,
/// 10 digits) or a landline (02, 11 digits), or either after 84 / +84 instead of the 0. Prices
/// (`250.000`), dates and order codes (`DH0912345678`) are not numbers.
pub fn find_numbers(text: &str) -> Vec<FoundNumber> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let plus = bytes[i] == b'+';
        let first_digit = if plus { i + 1 } else { i };
        let starts_here = bytes.get(first_digit).is_some_and(u8::is_ascii_digit)
            && !text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '+');
        if !starts_here {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        // Groups of digits, each joined to the next by one separator: (digits, end of the group).
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut at = first_digit;
        loop {
            let group_start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            groups.push((group_start, at));
            let joined = matches!(bytes.get(at), Some(b' ' | b'.' | b'-'))
                && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
            if !joined || groups.len() == 6 {
                break;
            }
            at += 1;
        }
        // The longest run of leading groups that is a number: two numbers may follow each other.
        let last_group_end = groups.last().map_or(first_digit, |g| g.1);
        let joined_after = text[last_group_end..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
        let number = (1..=groups.len()).rev().find_map(|count| {
            if count == groups.len() && joined_after {
                return None;
            }
            let digits: String = groups[..count]
                .iter()
                .map(|&(from, to)| &text[from..to])
                .collect();
            let end = groups[count - 1].1;
            is_vietnamese(&digits, plus)
                .then(|| normalize(&text[start..end]).ok())
                .flatten()
                .map(|number| FoundNumber { start, end, number })
        });
        match number {
            Some(number) => {
                i = number.end;
                found.push(number);
            }
            None => i = groups[0].1.max(i + 1),
        }
    }
    found
}

/// Whether these digits (after a `+` when `plus`) are a Vietnamese mobile or landline number.
fn is_vietnamese(digits: &str, plus: bool) -> bool {
    let national = match digits.strip_prefix(VN) {
        Some(rest) if plus || !digits.starts_with('0') => format!("0{rest}"),
        _ if plus => return false,
        _ => digits.to_owned(),
    };
    let bytes = national.as_bytes();
    // A mobile: 0 then 3, 5, 7, 8 or 9, ten digits; a landline: 02, eleven.
    matches!(
        (bytes.len(), bytes.get(1)),
        (10, Some(b'3' | b'5' | b'7' | b'8' | b'9')) | (11, Some(b'2'))
    )
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

    #[test]
    fn numbers_are_found_as_customers_write_them() {
        let numbers = |text: &str| -> Vec<String> {
            find_numbers(text).into_iter().map(|f| f.number).collect()
        };
        assert_eq!(numbers("sdt em 0912 345 678 nhé"), ["+84912345678"]);
        assert_eq!(numbers("0912.345.678"), ["+84912345678"]);
        assert_eq!(
            numbers("gọi 0912-345-678 hoặc +84 983 111 222"),
            ["+84912345678", "+84983111222"]
        );
        assert_eq!(numbers("84912345678"), ["+84912345678"]);
        assert_eq!(numbers("máy bàn 028 3822 1234"), ["+842838221234"]);
        assert_eq!(
            numbers("0912345678,0983111222"),
            ["+84912345678", "+84983111222"]
        );
        assert_eq!(
            numbers("0912345678 0983111222"),
            ["+84912345678", "+84983111222"]
        );
        assert_eq!(
            numbers("0912 345 678 0983 111 222"),
            ["+84912345678", "+84983111222"]
        );
        // Not numbers: prices, dates, codes, too few or too many digits, a number inside a word.
        for text in [
            "giá 250.000đ",
            "12.05.2024",
            "DH0912345678",
            "0912 345 67",
            "09123456789",
            "01234567890",
            "1900 1234",
            "x0912345678",
        ] {
            assert_eq!(numbers(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn a_found_number_says_where_it_is() {
        let text = "Số của chị: 0912.345.678 ạ";
        let found = find_numbers(text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].start..found[0].end], "0912.345.678");
    }
}
