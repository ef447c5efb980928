//! Request ids: every HTTP answer carries `X-Request-Id` (the caller's when it sent a usable one, else
//! one made here), and every log line of the request carries it in its span, with the route and, once
//! authenticated, the principal, so one request's lines can be found across a log stack and matched to
//! what a client or a proxy saw.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use switchboard_domain::Principal;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id taken from a caller; longer ones, or ones with other characters than letters, digits
/// and `-_.:`, are replaced (they go into every log line of the request).
pub const MAX_REQUEST_ID: usize = 64;

/// The request's id, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever kept or made.
        self.0.to_str().unwrap_or("-")
    }
}

fn usable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_REQUEST_ID).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A new id: 16 hex digits, unique within the process (a counter) and unlikely to meet another
/// node's (the counter is hashed with keys drawn at start).
fn made() -> HeaderValue {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = KEYS.get_or_init(RandomState::new).hash_one(n);
    HeaderValue::from_str(&format!("{id:016x}")).unwrap_or(HeaderValue::from_static("-"))
}

/// The middleware, outside the request's span (which reads the id): takes or makes the id, and puts
/// it on the answer.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|value| usable(value))
        .cloned()
        .unwrap_or_else(made);
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Names the caller on the current request's log lines: ids and the bot's account, never a secret.
pub fn record_principal(principal: &Principal) {
    let label = match principal {
        Principal::User { user_id, .. } => format!("user:{user_id}"),
        Principal::Bot { token_id, account } => format!("bot:{token_id}:{account}"),
        Principal::Integrator { token_id, .. } => format!("integrator:{token_id}"),
        Principal::PhoneSystem { token_id, .. } => format!("phone_system:{token_id}"),
    };
    tracing::Span::current().record("principal", label.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken_from_callers() {
        for good in ["a", "req-1_2.3:4", &"x".repeat(MAX_REQUEST_ID)] {
            assert!(
                usable(&HeaderValue::from_str(good).expect("header")),
                "{good}"
            );
        }
        for bad in [
            "",
            "has space",
            "quote\"",
            "ü",
            &"x".repeat(MAX_REQUEST_ID + 1),
        ] {
            let value = HeaderValue::from_bytes(bad.as_bytes()).expect("header");
            assert!(!usable(&value), "{bad}");
        }
    }

    #[test]
    fn made_ids_are_sixteen_hex_digits_and_differ() {
        let (a, b) = (made(), made());
        assert_ne!(a, b);
        for id in [a, b] {
            let text = id.to_str().expect("ascii");
            assert_eq!(text.len(), 16);
            assert!(text.bytes().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
