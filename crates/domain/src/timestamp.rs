//! Points in time as bots send them: RFC 3339 text, or Unix seconds (what Python's `time.time()` gives).

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a time was refused. The text reaches bot developers inside validation errors, so it says what
/// to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not an RFC 3339 time such as 2026-11-22T09:15:00+07:00")]
    NotRfc3339(String),
    #[error("must be a finite number of seconds")]
    NotFinite,
    #[error("must be between the year 2000 and 9999 (Unix seconds, not milliseconds)")]
    OutOfRange,
}

/// Milliseconds since the Unix epoch, UTC. Stored as an integer so that ordering is cheap and exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

/// 2000-01-01T00:00:00Z: nothing Facebook sends is older; earlier values are unit mistakes.
const EARLIEST: i64 = 946_684_800_000;
/// 9999-12-31: beyond it RFC 3339 cannot write the year.
const LATEST: i64 = 253_402_300_799_000;

impl UnixMillis {
    pub fn now() -> Self {
        Self((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// Parses RFC 3339 (`2026-11-22T09:15:00+07:00`) into UTC milliseconds.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimeError> {
        let parsed = OffsetDateTime::parse(text.trim(), &Rfc3339)
            .map_err(|_| TimeError::NotRfc3339(text.to_owned()))?;
        Self::checked((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// Interprets a number as Unix seconds (fractions allowed).
    pub fn from_unix_seconds(seconds: f64) -> Result<Self, TimeError> {
        if !seconds.is_finite() {
            return Err(TimeError::NotFinite);
        }
        Self::checked((seconds * 1000.0).round() as i64)
    }

    fn checked(millis: i64) -> Result<Self, TimeError> {
        if (EARLIEST..=LATEST).contains(&millis) {
            Ok(Self(millis))
        } else {
            Err(TimeError::OutOfRange)
        }
    }

    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// On the wire an RFC 3339 time (`2026-12-05T09:30:00.000Z`); a number of Unix seconds is also taken
/// where one is read.
impl utoipa::PartialSchema for UnixMillis {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .examples(["2026-12-05T09:30:00.000Z"])
            .into()
    }
}

impl utoipa::ToSchema for UnixMillis {}

impl Serialize for UnixMillis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for UnixMillis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = UnixMillis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time string or a number of Unix seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UnixMillis, E> {
                UnixMillis::parse_rfc3339(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnixMillis, E> {
                UnixMillis::from_unix_seconds(v as f64).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnixMillis, E> {
                UnixMillis::from_unix_seconds(v as f64).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<UnixMillis, E> {
                UnixMillis::from_unix_seconds(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offset_is_converted_to_utc() {
        let t = UnixMillis::parse_rfc3339("2026-11-22T09:15:00.250+07:00").expect("valid");
        assert_eq!(t.to_rfc3339(), "2026-11-22T02:15:00.25Z");
    }

    #[test]
    fn seconds_and_strings_agree() {
        let from_string: UnixMillis =
            serde_json::from_str("\"2026-01-01T00:00:00Z\"").expect("string");
        let from_number: UnixMillis = serde_json::from_str("1767225600").expect("number");
        assert_eq!(from_string, from_number);
    }

    #[test]
    fn milliseconds_passed_as_seconds_are_refused() {
        assert!(serde_json::from_str::<UnixMillis>("1767225600000").is_err());
        assert!(serde_json::from_str::<UnixMillis>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<UnixMillis>("true").is_err());
    }
}
