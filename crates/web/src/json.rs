//! A JSON body extractor whose errors say which item and field are wrong, as a JSON 4xx.

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_domain::ValidationError;

/// Whether the request says its body is JSON (`Content-Type: application/json`, parameters allowed).
pub(crate) fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// A request body parsed as `T`. Rejects non-JSON, oversized, malformed and mistyped bodies with a 4xx
/// that names the offending spot (`item 3, field conversation.thread_id`).
pub struct JsonBody<T>(pub T);

/// Splits serde's path (`messages[3].conversation.thread_id`) into the item index and the field inside it.
fn locate(path: &str) -> (Option<usize>, String) {
    if let Some(open) = path.find('[')
        && let Some(close) = path[open..].find(']')
        && let Ok(index) = path[open + 1..open + close].parse::<usize>()
    {
        let rest = path[open + close + 1..].trim_start_matches('.');
        let field = if rest.is_empty() {
            path[..open].to_owned()
        } else {
            rest.to_owned()
        };
        return (Some(index), field);
    }
    (
        None,
        if path == "." {
            String::new()
        } else {
            path.to_owned()
        },
    )
}

/// Turns serde's "unknown variant `x`, expected one of …" into plain words without internals.
fn problem(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// A request's body as it came (a file's bytes), read within the route's limit ([`small_body`]): too
/// large is `413` naming the limit, a body that cannot be read is `400 unreadable_body`.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(BODY_LIMIT, |l| l.0);
        Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit }
                } else {
                    ApiError::BadRequest {
                        code: crate::ErrorCode::UnreadableBody,
                        message: rejection.body_text(),
                    }
                }
            })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.inner();
            if inner.is_syntax() || inner.is_eof() {
                return ApiError::BadRequest {
                    code: crate::ErrorCode::MalformedJson,
                    message: format!("the body is not valid JSON: {inner}"),
                };
            }
            let (item, field) = locate(&path);
            let mut validation = ValidationError::new(field, problem(inner));
            validation.item = item;
            ApiError::Invalid(validation)
        })?;
        Ok(Self(value))
    }
}

/// Largest request body any role accepts: 500 items of a few KiB each, with room to spare.
/// A route's own, smaller body limit, for the error message; set with [`small_body`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Limits a route's body to `limit` bytes (refused before it is read whole).
pub fn small_body<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    limit: usize,
) -> axum::routing::MethodRouter<S> {
    route
        .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(limit))
        .layer::<_, std::convert::Infallible>(axum::Extension(BodyLimit(limit)))
}

pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A successful answer: `{"success": true, "data": …}`, the shape every Switchboard API uses.
pub fn ok<T: Serialize>(data: T) -> Response {
    (
        StatusCode::OK,
        axum::Json(Answer {
            success: true,
            data,
        }),
    )
        .into_response()
}

/// The envelope of every successful answer, as documented: roles name `Answer<T>` in their OpenAPI.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Answer<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn paths_are_split_into_item_and_field() {
        assert_eq!(
            locate("messages[3].conversation.thread_id"),
            (Some(3), "conversation.thread_id".into())
        );
        assert_eq!(locate("messages[0]"), (Some(0), "messages".into()));
        assert_eq!(locate("user_id_chat"), (None, "user_id_chat".into()));
        assert_eq!(locate("."), (None, String::new()));
    }
}
