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
    BadRequest { code: &'static str, message: String },
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

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::Invalid(error)
    }
}

impl ApiError {
    /// The status and the code of this error, decided here once for HTTP and Socket.IO alike.
    pub fn classify(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::Invalid(_) => (S::UNPROCESSABLE_ENTITY, "invalid_field"),
            Self::BadRequest { code, .. } => (S::BAD_REQUEST, code),
            Self::PayloadTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (S::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (S::CONFLICT, "conflict"),
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => {
                (S::TOO_MANY_REQUESTS, "too_many_requests")
            }
            Self::Storage(error) => match error {
                StorageError::UnknownAccount(_) => (S::UNPROCESSABLE_ENTITY, "unknown_account"),
                StorageError::BadCursor(_) => (S::UNPROCESSABLE_ENTITY, "invalid_field"),
                StorageError::AccountDisabled(_) => (S::FORBIDDEN, "account_disabled"),
                StorageError::UnknownToken(_)
                | StorageError::UnknownUser
                | StorageError::UnknownConversation(_)
                | StorageError::UnknownMessage(_)
                | StorageError::UnknownPost(_)
                | StorageError::UnknownCustomer(_)
                | StorageError::UnknownAgent(_)
                | StorageError::UnknownCall(_) => (S::NOT_FOUND, "not_found"),
                StorageError::CallTaken(_) => (S::CONFLICT, "call_taken"),
                StorageError::CallEnded(_) => (S::CONFLICT, "call_ended"),
                StorageError::UserExists(_) | StorageError::AccountExists(_) => {
                    (S::CONFLICT, "already_exists")
                }
                StorageError::Conflict(_) => (S::CONFLICT, "conflict"),
                StorageError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "unavailable"),
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
                | StorageError::CopyUnknownTable(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        self.classify().0
    }

    pub fn code(&self) -> &'static str {
        self.classify().1
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if let Self::Storage(StorageError::Unavailable(reason)) = &self {
            // Logged once by the store when writes start failing; the caller should retry.
            tracing::debug!(%reason, "request refused: database unavailable");
            "the database cannot take writes right now; retry later".to_owned()
        } else if status.is_server_error() {
            // Ours to fix: log the detail, show an opaque message.
            tracing::error!(error = %self, "request failed");
            "internal error; the server log has the details".to_owned()
        } else {
            self.to_string()
        };
        let (item, field) = match &self {
            Self::Invalid(e) => (e.item, Some(e.field.as_str())),
            Self::Storage(StorageError::BadCursor(_)) => (None, Some("cursor")),
            _ => (None, None),
        };
        let body = serde_json::json!({
            "success": false,
            "error": ErrorBody { code: self.code(), message, item, field },
        });
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
