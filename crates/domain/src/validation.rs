//! The one error the domain produces: which item of a batch, which field, and what is wrong with it.

use std::fmt;

/// A rule of the domain that an input broke. Carries enough to point the sender at the exact spot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// Index of the offending item inside its batch, when the input is a batch.
    pub item: Option<usize>,
    /// Dotted path of the field inside the item (or the body), e.g. `conversation.thread_id`.
    pub field: String,
    /// What is wrong, in words a bot developer can act on.
    pub problem: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            item: None,
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub fn at_item(mut self, item: usize) -> Self {
        self.item = Some(item);
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            Some(item) => write!(f, "item {item}, field `{}`: {}", self.field, self.problem),
            None => write!(f, "field `{}`: {}", self.field, self.problem),
        }
    }
}

/// Trims `value` and checks it is a non-empty identifier of at most `max` characters.
pub fn identifier(field: &str, value: &str, max: usize) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    text(field, trimmed, max)?;
    printable(field, trimmed)?;
    Ok(trimmed.to_owned())
}

/// Trims a name shown in the console (a person, a bot, a version) and checks it is at most `max`
/// characters with no control characters; empty is allowed.
pub fn name(field: &str, value: &str, max: usize) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    text(field, trimmed, max)?;
    printable(field, trimmed)?;
    Ok(trimmed.to_owned())
}

/// Checks free text is at most `max` characters; text is stored as sent (it is rendered as text, never HTML).
pub fn text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// At most `max` characters of `value`, `…` marking a cut: for quoting a caller's text in a message.
pub fn clip(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// Refuses control characters, which would break a line in the console or a log.
fn printable(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Trims optional free text and checks its length; `None` stays `None` (a field left as it is).
pub fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    value
        .map(|v| {
            let v = v.trim().to_owned();
            text(field, &v, max)?;
            Ok(v)
        })
        .transpose()
}

/// Accepts absolute `http`/`https` URLs only: anything else (`javascript:`, `data:`) is refused at the door.
pub fn web_url(field: &str, value: &str) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    let lower = trimmed.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| {
            ValidationError::new(field, "must be an absolute http:// or https:// URL")
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ValidationError::new(field, "must name a host"));
    }
    if trimmed.len() > MAX_URL_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_URL_LEN} bytes"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ValidationError::new(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional URL where an empty string means none (bots and consoles send `""` for "no link").
pub fn optional_web_url(
    field: &str,
    value: Option<String>,
) -> Result<Option<String>, ValidationError> {
    value
        .filter(|url| !url.trim().is_empty())
        .map(|url| web_url(field, &url))
        .transpose()
}

/// A value whose fields were checked by its type's `checked`: what the store takes, so that a body
/// cannot reach it unchecked. Only this crate makes one.
#[derive(Debug, Clone)]
pub struct Checked<T>(pub(crate) T);

impl<T> Checked<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Checked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Longest URL accepted for attachments and links (Facebook CDN URLs run to about 600 bytes).
pub const MAX_URL_LEN: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_trimmed_and_bounded() {
        assert_eq!(identifier("id", "  abc ", 10).as_deref(), Ok("abc"));
        assert!(identifier("id", "   ", 10).is_err());
        assert!(identifier("id", "abcdefghijk", 10).is_err());
        assert!(identifier("id", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn names_are_trimmed_bounded_and_may_be_empty() {
        assert_eq!(name("name", "  Lan ", 10).as_deref(), Ok("Lan"));
        assert_eq!(name("name", "   ", 10).as_deref(), Ok(""));
        assert!(name("name", "abcdefghijk", 10).is_err());
        assert!(name("name", "a\nb", 10).is_err());
    }

    #[test]
    fn only_web_urls_are_accepted() {
        assert!(web_url("url", "https://scontent.xx.fbcdn.net/v/t1.jpg").is_ok());
        assert!(web_url("url", "HTTP://example.com").is_ok());
        assert!(web_url("url", "javascript:alert(1)").is_err());
        assert!(web_url("url", "data:text/html,<b>").is_err());
        assert!(web_url("url", "https://").is_err());
        assert!(web_url("url", "https://a b").is_err());
        assert_eq!(optional_web_url("link", Some(" ".into())), Ok(None));
        assert_eq!(optional_web_url("link", None), Ok(None));
        assert!(optional_web_url("link", Some("ftp://x".into())).is_err());
    }

    #[test]
    fn display_names_item_and_field() {
        let error = ValidationError::new("direction", "is wrong").at_item(3);
        assert_eq!(error.to_string(), "item 3, field `direction`: is wrong");
    }
}
