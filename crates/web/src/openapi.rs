//! Each role's OpenAPI 3.1 document, built from the routes themselves: a role registers a route and
//! its description in one call (utoipa-axum's `routes!`), so no route is served undocumented and no
//! documented route is missing. The shell adds what every role shares: the envelope of answers, the
//! error body, the ways to authenticate, the health and metrics routes, `/openapi.json` and the docs
//! page at `/docs` (served from the binary: no script from another host).

pub use crate::error::{ErrorBody, ErrorCode};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{self, RefOr};
use utoipa::{PartialSchema, ToSchema};

pub use utoipa;
pub use utoipa_axum::router::OpenApiRouter;
pub use utoipa_axum::routes;

/// The security scheme of a bearer token: a bot's (receiver), an API token, or the phone system's.
pub const BEARER: &str = "bearer";
/// The security scheme of a console login: the session cookie `POST /api/auth/login` sets.
pub const SESSION: &str = "session";

/// Tags of the shared routes.
pub const OPERATIONS_TAG: &str = "operations";

/// The error body of every refusal: `{"success": false, "error": {…}}`.
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(example = json!({"success": false, "error": {
    "code": "invalid_field", "message": "item 2, field conversation.thread_id: không được để trống (must not be empty)",
    "item": 2, "field": "conversation.thread_id"}}))]
pub struct ErrorAnswer<'a> {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody<'a>,
}

/// What `/healthz` and `/readyz` answer.
#[derive(ToSchema)]
#[allow(dead_code)] // Described only: the health handlers write it with `json!`.
pub(crate) struct Health {
    /// `ok`, `degraded` (writes failing), `draining` or `database unavailable`.
    status: String,
    version: Option<String>,
    last_event_id: Option<i64>,
    database: Option<HealthDatabase>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct HealthDatabase {
    /// `ok` or `failing`.
    writes: String,
    reason: Option<String>,
}

/// The routes every role has beside its own, with their descriptions.
pub(crate) fn with_shared_routes<S>(router: OpenApiRouter<S>) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    switchboard_storage::Store: axum::extract::FromRef<S>,
{
    router
        .routes(routes!(crate::health::healthz))
        .routes(routes!(crate::health::readyz))
        .routes(routes!(crate::metrics::serve_metrics))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = OPERATIONS_TAG, security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this role",
        content_type = "application/json", body = Object)))]
#[allow(dead_code)] // Served by the shell from the finished document.
fn openapi_doc() {}

#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi_doc))]
struct Shared;

/// Completes a role's document: the shared routes, the answers' envelopes and errors, the ways to
/// authenticate (a console's, a login or an API token, where an operation names none), a `401` on
/// every operation that authenticates, and a `default` error answer on every operation (any status
/// not listed there).
pub fn finish(mut doc: openapi::OpenApi) -> openapi::OpenApi {
    doc.merge(<Shared as utoipa::OpenApi>::openapi());
    doc.openapi = openapi::OpenApiVersion::Version31;
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.license = Some(openapi::License::new("MIT OR Apache-2.0"));

    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        "ErrorAnswer".to_owned(),
        <ErrorAnswer<'static> as PartialSchema>::schema(),
    );
    let mut schemas = Vec::new();
    <ErrorAnswer<'static> as ToSchema>::schemas(&mut schemas);
    components.schemas.extend(schemas);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "`Authorization: Bearer …`: a bot token (the receiver, `/api/bot/…`), an API \
                     token (`POST /api/tokens`), or the phone system's token",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::SESSION_COOKIE,
            "A console login: the cookie `POST /api/auth/login` sets",
        ))),
    );

    let error = openapi::ResponseBuilder::new()
        .description("Refused or failed: the error body says why (`Retry-After` on 429 and 503)")
        .content(
            "application/json",
            openapi::ContentBuilder::new()
                .schema(Some(RefOr::Ref(openapi::Ref::from_schema_name(
                    "ErrorAnswer",
                ))))
                .build(),
        )
        .build();
    let refused = |description: &str| {
        let mut answer = error.clone();
        answer.description = description.to_owned();
        RefOr::T(answer)
    };
    // An operation that names no way to authenticate takes a console's: a login or an API token.
    let console = vec![
        SecurityRequirement::new(SESSION, Vec::<String>::new()),
        SecurityRequirement::new(BEARER, Vec::<String>::new()),
    ];
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let security = operation.security.get_or_insert_with(|| console.clone());
            // `security(())` (one empty requirement) is an open operation: nothing to refuse.
            let open = security
                .iter()
                .all(|r| *r == SecurityRequirement::default());
            let responses = &mut operation.responses.responses;
            if !open {
                responses.entry("401".to_owned()).or_insert_with(|| {
                    refused("No token or session, or one that is unknown, expired or revoked")
                });
            }
            responses
                .entry("default".to_owned())
                .or_insert_with(|| RefOr::T(error.clone()));
        }
    }
    doc
}

fn operations(item: &mut openapi::PathItem) -> impl Iterator<Item = &mut openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as served: its JSON, made once.
#[derive(Clone)]
pub struct Served(Arc<str>);

impl Served {
    pub fn new(doc: &openapi::OpenApi) -> Self {
        // Serialising a document of plain data cannot fail; an empty object would still be served.
        Self(Arc::from(doc.to_json().unwrap_or_else(|_| "{}".to_owned())))
    }

    pub fn answer(&self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0.to_string(),
        )
            .into_response()
    }
}
