//! Query-string and path extractors whose rejections are the API's JSON errors, not axum's plain text.

use crate::ApiError;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::str::FromStr;
use switchboard_domain::{
    AgentId, AttachmentId, CallId, CallbackId, CannedResponseId, ConversationId, CustomFieldId,
    CustomerId, IdError, LabelId, MessageId, OutcomeCodeId, PostId, TeamId, TokenId, UserId,
    ValidationError,
};

/// Wraps an axum extractor so that its rejection is the API's `422 invalid_field`, naming `$field`,
/// not axum's plain text.
macro_rules! api_rejections {
    ($($(#[$doc:meta])* $name:ident wraps $inner:ident, field $field:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for $name<T> {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                $inner::<T>::from_request_parts(parts, state)
                    .await
                    .map(|$inner(value)| Self(value))
                    .map_err(|rejection| ValidationError::new($field, rejection.body_text()).into())
            }
        }
    )*};
}

api_rejections! {
    /// Like `axum::extract::Query`, answering a bad query string with `422 invalid_field`.
    QueryParams wraps Query, field "query";
    /// Like `axum::extract::Path`, answering a bad path segment with `422 invalid_field`.
    PathParam wraps Path, field "path";
}

/// An id of the kind the API names `FIELD` in its `422` when a path segment is not one.
pub trait PathId: FromStr<Err = IdError> + Send {
    const FIELD: &'static str;
}

macro_rules! path_ids {
    ($($id:ty => $field:literal,)*) => {$(
        impl PathId for $id {
            const FIELD: &'static str = $field;
        }
    )*};
}

// The names the API has always given these segments in its errors.
path_ids! {
    ConversationId => "conversation_id",
    MessageId => "message_id",
    PostId => "post_id",
    AgentId => "id",
    CustomerId => "id",
    UserId => "id",
    TokenId => "id",
    LabelId => "id",
    CannedResponseId => "id",
    TeamId => "id",
    AttachmentId => "id",
    CustomFieldId => "id",
    CallbackId => "id",
    OutcomeCodeId => "id",
    CallId => "call_id",
}

/// The typed id in the route's one path segment (`/api/customers/{id}`), or `422 invalid_field`
/// naming it.
pub struct Id<T>(pub T);

impl<S: Send + Sync, T: PathId> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let PathParam(text) = PathParam::<String>::from_request_parts(parts, state).await?;
        parse_id(&text, T::FIELD).map(Self)
    }
}

/// An id from request text (a path segment, an item of a list), or `422` naming `field`.
pub fn parse_id<T: FromStr<Err = IdError>>(text: &str, field: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|error: IdError| ValidationError::new(field, error.to_string()).into())
}

/// A page of a list when `?limit=` is not given.
pub const DEFAULT_PAGE: usize = 50;

/// The most items one page of a list holds (`?limit=` 1 to this).
pub const MAX_PAGE: usize = 200;

/// `?cursor=&limit=`, the paging of every list endpoint. Taken beside the endpoint's own query type
/// (a query string's other fields are left to it).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// The `next_cursor` of the previous page; none for the newest page.
    cursor: Option<String>,
    /// Items per page (50 when not given).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

impl Paging {
    /// The page's size: [`DEFAULT_PAGE`] unless asked, at most [`MAX_PAGE`].
    pub fn limit(&self) -> Result<usize, ApiError> {
        self.limit_up_to(MAX_PAGE)
    }

    /// The page's size for a list with a smaller cap (a search that answers `max` at most).
    pub fn limit_up_to(&self, max: usize) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => {
                Err(ValidationError::new("limit", format!("must be between 1 and {max}")).into())
            }
        }
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        QueryParams::<Self>::from_request_parts(parts, state)
            .await
            .map(|QueryParams(paging)| paging)
    }
}

/// Request tracing that records the path but never the query string, where Socket.IO clients may
/// carry their token (`?token=…`).
pub type HttpTrace = tower_http::trace::TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&axum::http::Request<axum::body::Body>) -> tracing::Span,
>;

/// Every request's log lines carry its id, method, route (the pattern it matched, bounded; none for
/// a path that matched nothing), path, and, once authenticated, its principal
/// ([`crate::record_principal`]). An `info` span, so a log stack sees them at the default level.
pub fn http_trace() -> HttpTrace {
    fn span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
        let id = request
            .extensions()
            .get::<crate::RequestId>()
            .map_or("-", crate::RequestId::as_str);
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or("", axum::extract::MatchedPath::as_str);
        tracing::info_span!(
            "request",
            request_id = id,
            method = %request.method(),
            route,
            path = %redact_path(crate::versions::requested_path(request)),
            principal = tracing::field::Empty,
        )
    }
    tower_http::trace::TraceLayer::new_for_http().make_span_with(span as fn(&_) -> _)
}

/// Longest path written to a log or an error message.
const MAX_LOGGED_PATH: usize = 200;

/// Where the CTI webhook's token sits in `path` (`/api/v1/cti/{token}`), as a byte range.
fn cti_token_range(path: &str) -> Option<std::ops::Range<usize>> {
    let start = path.find("/cti/")? + "/cti/".len();
    let end = path[start..].find('/').map_or(path.len(), |i| start + i);
    (end > start).then_some(start..end)
}

/// The token in a CTI webhook's path, if this is one.
pub(crate) fn cti_token(path: &str) -> Option<&str> {
    cti_token_range(path).map(|range| &path[range])
}

/// A path fit for logs: secrets in it (the CTI webhook's token) replaced, and its length bounded.
pub fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    let redacted: std::borrow::Cow<'_, str> = match cti_token_range(path) {
        Some(range) => format!("{}***{}", &path[..range.start], &path[range.end..]).into(),
        None => path.into(),
    };
    if redacted.len() <= MAX_LOGGED_PATH {
        return redacted;
    }
    let mut cut = MAX_LOGGED_PATH;
    while !redacted.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &redacted[..cut]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_limit_and_one_id_message() {
        let page = |limit| Paging {
            cursor: None,
            limit,
        };
        assert_eq!(page(None).limit().ok(), Some(DEFAULT_PAGE));
        assert_eq!(page(Some(MAX_PAGE)).limit().ok(), Some(MAX_PAGE));
        for refused in [0, MAX_PAGE + 1] {
            assert!(matches!(
                page(Some(refused)).limit(),
                Err(ApiError::Invalid(e)) if e.field == "limit"
            ));
        }
        assert!(page(Some(150)).limit_up_to(100).is_err());
        match parse_id::<ConversationId>("x1", ConversationId::FIELD) {
            Err(ApiError::Invalid(e)) => {
                assert_eq!(
                    (e.field.as_str(), e.problem.as_str()),
                    ("conversation_id", "`x1` is not an id")
                )
            }
            other => panic!("{:?}", other.map(|id| id.get())),
        }
    }

    #[test]
    fn secrets_and_length_are_kept_out_of_logged_paths() {
        assert_eq!(redact_path("/api/v1/cti/sbp_secret"), "/api/v1/cti/***");
        assert_eq!(redact_path("/api/v1/cti/sbp_secret/x"), "/api/v1/cti/***/x");
        assert_eq!(redact_path("/api/calls"), "/api/calls");
        let long = format!("/{}", "é".repeat(500));
        assert!(redact_path(&long).len() <= MAX_LOGGED_PATH + 3);
    }
}
