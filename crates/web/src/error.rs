//! The one place errors become HTTP responses: `{"success": false, "error": {code, message, item?, field?}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::ValidationError;
use switchboard_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not what the endpoint takes; names the item and field when it can.
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body's media type; the message says which ones the endpoint takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; wait {retry_after_seconds} s and try again")]
    TooManyRequests { retry_after_seconds: u64 },
    /// A rate limit: `limit` says whose requests were too many.
    #[error("too many {limit}; wait {retry_after_seconds} s and try again")]
    RateLimited {
        retry_after_seconds: u64,
        limit: &'static str,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Declares [`ErrorCode`] with each code's text, written once for serde, the schema and [`ErrorCode::as_str`].
macro_rules! error_codes {
    ($($variant:ident = $text:literal,)*) => {
        /// The machine-readable `code` of an error; its `message` says it in words.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub enum ErrorCode {
            $(#[serde(rename = $text)] $variant,)*
        }

        /// A string, one of the codes (the derive cannot read a name given by a macro).
        impl utoipa::PartialSchema for ErrorCode {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),*]))
                    .into()
            }
        }

        impl utoipa::ToSchema for ErrorCode {}

        impl ErrorCode {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidField = "invalid_field",
    UnknownAccount = "unknown_account",
    MalformedJson = "malformed_json",
    UnreadableBody = "unreadable_body",
    NotASession = "not_a_session",
    InvalidHandshake = "invalid_handshake",
    InvalidWebhook = "invalid_webhook",
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    Unauthorized = "unauthorized",
    Forbidden = "forbidden",
    AccountDisabled = "account_disabled",
    NotFound = "not_found",
    Conflict = "conflict",
    AlreadyExists = "already_exists",
    CallTaken = "call_taken",
    AlreadyAssigned = "already_assigned",
    CallEnded = "call_ended",
    TooManyRequests = "too_many_requests",
    Unavailable = "unavailable",
    Internal = "internal",
}

/// What went wrong: the `error` of an [`crate::openapi::ErrorAnswer`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    pub code: ErrorCode,
    pub message: String,
    /// Which item of a batch (from 0), when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// Which field, as a path inside the item (`conversation.thread_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::Invalid(error)
    }
}

impl ApiError {
    /// The status and the code of this error, decided here once for HTTP and Socket.IO alike.
    pub fn classify(&self) -> (StatusCode, ErrorCode) {
        use ErrorCode as E;
        use StatusCode as S;
        match self {
            Self::Invalid(_) => (S::UNPROCESSABLE_ENTITY, E::InvalidField),
            Self::BadRequest { code, .. } => (S::BAD_REQUEST, *code),
            Self::PayloadTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, E::PayloadTooLarge),
            Self::UnsupportedMediaType(_) => (S::UNSUPPORTED_MEDIA_TYPE, E::UnsupportedMediaType),
            Self::Unauthorized(_) => (S::UNAUTHORIZED, E::Unauthorized),
            Self::Forbidden(_) => (S::FORBIDDEN, E::Forbidden),
            Self::NotFound(_) => (S::NOT_FOUND, E::NotFound),
            Self::Conflict(_) => (S::CONFLICT, E::Conflict),
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => {
                (S::TOO_MANY_REQUESTS, E::TooManyRequests)
            }
            Self::Storage(error) => match error {
                StorageError::UnknownAccount(_) => (S::UNPROCESSABLE_ENTITY, E::UnknownAccount),
                StorageError::BadCursor(_) => (S::UNPROCESSABLE_ENTITY, E::InvalidField),
                StorageError::AccountDisabled(_) => (S::FORBIDDEN, E::AccountDisabled),
                StorageError::UnknownToken(_)
                | StorageError::UnknownUser
                | StorageError::UnknownConversation(_)
                | StorageError::UnknownMessage(_)
                | StorageError::UnknownPost(_)
                | StorageError::UnknownCustomer(_)
                | StorageError::UnknownAgent(_)
                | StorageError::UnknownCall(_)
                | StorageError::UnknownLabel(_)
                | StorageError::UnknownCannedResponse(_)
                | StorageError::UnknownTeam(_)
                | StorageError::UnknownCustomField(_)
                | StorageError::UnknownCallback(_)
                | StorageError::UnknownOutcomeCode(_) => (S::NOT_FOUND, E::NotFound),
                StorageError::CallTaken(_) => (S::CONFLICT, E::CallTaken),
                StorageError::CallEnded(_) => (S::CONFLICT, E::CallEnded),
                StorageError::UserExists(_) | StorageError::AccountExists(_) => {
                    (S::CONFLICT, E::AlreadyExists)
                }
                StorageError::Conflict(_) => (S::CONFLICT, E::Conflict),
                StorageError::Invalid(_) => (S::UNPROCESSABLE_ENTITY, E::InvalidField),
                StorageError::AlreadyAssigned(_) => (S::CONFLICT, E::AlreadyAssigned),
                StorageError::NotAllowed(_) => (S::FORBIDDEN, E::Forbidden),
                StorageError::Unavailable(_) | StorageError::Contended(_) => {
                    (S::SERVICE_UNAVAILABLE, E::Unavailable)
                }
                // Ours to fix, never the caller's. Listed one by one: a new variant must be placed
                // here by choice, not fall into a 500 unseen.
                StorageError::UnsupportedUrl(_)
                | StorageError::Open { .. }
                | StorageError::Connect { .. }
                | StorageError::NewerSchema { .. }
                | StorageError::Sqlite(_)
                | StorageError::Postgres(_)
                | StorageError::KeyMissing
                | StorageError::WrongKey
                | StorageError::Corrupt(_)
                | StorageError::Task(_)
                | StorageError::RoleTaken { .. }
                | StorageError::TargetNotEmpty(_)
                | StorageError::Backup { .. }
                | StorageError::CopyUnknownTable(_) => (S::INTERNAL_SERVER_ERROR, E::Internal),
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        self.classify().0
    }

    pub fn code(&self) -> &'static str {
        self.classify().1.as_str()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if let Self::Storage(StorageError::Unavailable(reason)) = &self {
            // Logged once by the store when writes start failing; the caller should retry.
            tracing::debug!(%reason, "request refused: database unavailable");
            "the database cannot take writes right now; retry later".to_owned()
        } else if let Self::Storage(StorageError::Contended(reason)) = &self {
            tracing::info!(%reason, "request refused: it met another node's write");
            "the change met another made at the same time and was not made; retry it".to_owned()
        } else if status.is_server_error() {
            // Ours to fix: log the detail, show an opaque message.
            tracing::error!(error = %self, "request failed");
            "internal error; the server log has the details".to_owned()
        } else {
            self.to_string()
        };
        let (item, field) = match &self {
            Self::Invalid(e) | Self::Storage(StorageError::Invalid(e)) => {
                (e.item, Some(e.field.as_str()))
            }
            Self::Storage(StorageError::BadCursor(_)) => (None, Some("cursor")),
            _ => (None, None),
        };
        let body = crate::openapi::ErrorAnswer {
            success: false,
            error: ErrorBody {
                code: self.classify().1,
                message,
                item,
                field,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            Self::TooManyRequests {
                retry_after_seconds,
            }
            | Self::RateLimited {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            Self::Storage(StorageError::Unavailable(_)) => Some(5),
            Self::Storage(StorageError::Contended(_)) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Self::RateLimited { limit, .. } = &self {
            response
                .extensions_mut()
                .insert(crate::metrics::RefusedBy(limit));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that met another node's is worth trying again at once: 503, `unavailable`, a short
    /// `Retry-After`, and a message that says so rather than "internal error".
    #[tokio::test]
    async fn a_contended_write_is_a_503_to_retry_soon() {
        let error = ApiError::Storage(StorageError::Contended("deadlock detected".into()));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), "unavailable");
        let response = error.into_response();
        assert_eq!(
            response
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("retry"), "{body}");
    }
}
