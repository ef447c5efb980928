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
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Storage(StorageError::UnknownAccount(_) | StorageError::BadCursor(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Storage(StorageError::AccountDisabled(_)) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Storage(
                StorageError::UnknownToken(_)
                | StorageError::UnknownUser
                | StorageError::UnknownConversation(_)
                | StorageError::UnknownMessage(_)
                | StorageError::UnknownPost(_)
                | StorageError::UnknownCustomer(_)
                | StorageError::UnknownAgent(_)
                | StorageError::UnknownCall(_),
            ) => StatusCode::NOT_FOUND,
            Self::Storage(StorageError::CallTaken(_) | StorageError::CallEnded(_)) => {
                StatusCode::CONFLICT
            }
            Self::Storage(
                StorageError::UserExists(_)
                | StorageError::AccountExists(_)
                | StorageError::Conflict(_),
            ) => StatusCode::CONFLICT,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_field",
            Self::BadRequest { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Storage(StorageError::UnknownAccount(_)) => "unknown_account",
            Self::Storage(StorageError::BadCursor(_)) => "invalid_field",
            Self::Storage(StorageError::AccountDisabled(_)) => "account_disabled",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Storage(
                StorageError::UnknownToken(_)
                | StorageError::UnknownUser
                | StorageError::UnknownConversation(_)
                | StorageError::UnknownMessage(_)
                | StorageError::UnknownPost(_)
                | StorageError::UnknownCustomer(_)
                | StorageError::UnknownAgent(_)
                | StorageError::UnknownCall(_),
            ) => "not_found",
            Self::Storage(StorageError::CallTaken(_)) => "call_taken",
            Self::Storage(StorageError::CallEnded(_)) => "call_ended",
            Self::Storage(StorageError::UserExists(_) | StorageError::AccountExists(_)) => {
                "already_exists"
            }
            Self::Storage(StorageError::Conflict(_)) => "conflict",
            Self::Storage(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
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
        if let Self::TooManyRequests {
            retry_after_seconds,
        } = &self
            && let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_seconds.to_string())
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
        response
    }
}
