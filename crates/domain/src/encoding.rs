//! Hex and HMAC-SHA256 signatures, written once: tokens, the credentials key, the call center's
//! webhook and Facebook's webhooks all use them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// Hex (either case) to bytes; `None` for an odd length or a non-hex character.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `sha256=` + hex HMAC-SHA256 of `body` under `secret`: Meta's `X-Hub-Signature-256` and our
/// `X-Switchboard-Signature` alike.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// Checks a `sha256=<hex>` signature of `body` under `secret`, in constant time.
pub fn signature_matches(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(expected) = header.trim().strip_prefix("sha256=").and_then(unhex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0x7f, 0xff]), "007fff");
        assert_eq!(unhex("007FfF"), Some(vec![0, 0x7f, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231, test case 2.
        let expected = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(signature("Jefe", b"what do ya want for nothing?"), expected);
        assert!(signature_matches(
            "Jefe",
            b"what do ya want for nothing?",
            expected
        ));
        assert!(!signature_matches(
            "Jefe",
            b"what do ya want for nothing!",
            expected
        ));
        assert!(!signature_matches(
            "Jefe",
            b"what do ya want for nothing?",
            &expected[7..]
        ));
        // Another secret, or a header that is not hex, never matches (Facebook's webhooks).
        let body = br#"{"object":"page","entry":[]}"#;
        let header = signature("app-secret", body);
        assert!(header.starts_with("sha256="));
        assert!(signature_matches("app-secret", body, &header));
        assert!(!signature_matches("other-secret", body, &header));
        assert!(!signature_matches("app-secret", body, "sha256=zz"));
    }
}
