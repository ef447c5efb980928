//! The handshake: what a client says when it connects, read from its `auth` payload or its query
//! string, and bounded before anything keeps or logs it.

use crate::RealtimeError;
use serde_json::Value;

/// What a client says when it connects, from the `auth` payload or, for clients that cannot send one
/// (like the seed's, which adds `?token=` to its URL), from the query string. `auth` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The token the socket was authenticated with: given in `auth` or the query, or, when neither
    /// has one, the browser's session cookie ([`crate::authenticate`] fills it in).
    pub token: Option<String>,
    /// The last event id the client has; it receives everything after it. `None`: live events only.
    pub last_event_id: Option<i64>,
    /// Limit the stream to these accounts (`user_id_chat`); empty means every account the client may see.
    pub accounts: Vec<String>,
    /// The language the client wants its messages in (`lang`), as given; roles that translate read it.
    pub language: Option<String>,
}

fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        Some((percent_decode(key)?, percent_decode(value)?))
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn event_id(value: &Value, name: &'static str) -> Result<Option<i64>, RealtimeError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or(RealtimeError::BadEventId(name)),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or(RealtimeError::BadEventId(name)),
        _ => Err(RealtimeError::BadEventId(name)),
    }
}

impl Handshake {
    pub fn parse(auth: Option<&Value>, query: Option<&str>) -> Result<Self, RealtimeError> {
        let mut handshake = Self::default();
        for (key, value) in query.map(query_pairs).into_iter().flatten() {
            match key.as_str() {
                "token" if !value.is_empty() => handshake.token = Some(value),
                "last_event_id" => {
                    handshake.last_event_id = event_id(&Value::String(value), "last_event_id")?
                }
                "lang" if !value.is_empty() => handshake.language = Some(value),
                "accounts" => {
                    handshake.accounts = value
                        .split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                _ => {}
            }
        }
        if let Some(Value::Object(auth)) = auth {
            if let Some(Value::String(token)) = auth
                .get("token")
                .filter(|t| t.as_str().is_some_and(|t| !t.is_empty()))
            {
                handshake.token = Some(token.clone());
            }
            if let Some(value) = auth.get("last_event_id")
                && let Some(id) = event_id(value, "last_event_id")?
            {
                handshake.last_event_id = Some(id);
            }
            if let Some(Value::String(language)) = auth.get("lang") {
                handshake.language = Some(language.clone());
            }
            if let Some(Value::Array(accounts)) = auth.get("accounts") {
                handshake.accounts = accounts
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
            }
        }
        handshake.check_bounds()?;
        Ok(handshake)
    }

    /// Refuses fields larger than any real client sends, before anything keeps or logs them.
    fn check_bounds(&self) -> Result<(), RealtimeError> {
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.len() > switchboard_storage::MAX_TOKEN_LENGTH)
        {
            return Err(RealtimeError::TooLarge("token"));
        }
        if self
            .language
            .as_ref()
            .is_some_and(|l| l.len() > MAX_LANGUAGE)
        {
            return Err(RealtimeError::TooLarge("lang"));
        }
        if self.accounts.len() > MAX_ACCOUNTS
            || self.accounts.iter().any(|a| a.len() > MAX_ACCOUNT_ID)
        {
            return Err(RealtimeError::TooLarge("accounts"));
        }
        Ok(())
    }
}

/// A language tag (`vi`, `en-US`) is short.
const MAX_LANGUAGE: usize = 16;
/// Accounts a client may ask to follow, and the length of each account id (`user_id_chat`).
const MAX_ACCOUNTS: usize = 1000;
const MAX_ACCOUNT_ID: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auth_payload_wins_over_query() {
        let auth = json!({"token": "from-auth", "last_event_id": 7});
        let handshake =
            Handshake::parse(Some(&auth), Some("token=from-query&last_event_id=3&EIO=4"))
                .expect("ok");
        assert_eq!(handshake.token.as_deref(), Some("from-auth"));
        assert_eq!(handshake.last_event_id, Some(7));
    }

    #[test]
    fn query_alone_works_for_the_seed_client() {
        let handshake = Handshake::parse(
            None,
            Some("EIO=4&transport=polling&token=sba_ab%2Bc&accounts=a1,%20a2"),
        )
        .expect("ok");
        assert_eq!(handshake.token.as_deref(), Some("sba_ab+c"));
        assert_eq!(handshake.accounts, ["a1", "a2"]);
        assert_eq!(handshake.last_event_id, None);
    }

    #[test]
    fn bad_event_ids_are_refused() {
        assert!(Handshake::parse(Some(&json!({"last_event_id": -1})), None).is_err());
        assert!(Handshake::parse(Some(&json!({"last_event_id": "x"})), None).is_err());
        assert!(Handshake::parse(None, Some("last_event_id=1.5")).is_err());
        assert_eq!(
            Handshake::parse(Some(&json!({"last_event_id": "12"})), None)
                .ok()
                .and_then(|h| h.last_event_id),
            Some(12)
        );
    }
}
