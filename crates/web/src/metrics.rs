//! Every role's requests counted and timed, by route pattern (bounded), and `GET /metrics`: the
//! process's metrics as Prometheus text (see `switchboard_metrics`).

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use switchboard_metrics::{HttpLabels, RefusalLabels, metrics};

/// Put on a `429`'s response by [`crate::ApiError`]: which limit refused it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusedBy(pub(crate) &'static str);

/// Put on a refusal by the rate limiter, which knows the caller's token: what kind of caller it was.
/// A refusal without it (made elsewhere) counts as `anonymous`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusedCaller(pub(crate) &'static str);

/// The label of a route: its pattern, never the path (ids and tokens would make one series each).
fn route_label(request: &Request) -> String {
    if let Some(matched) = request.extensions().get::<MatchedPath>() {
        return matched.as_str().to_owned();
    }
    if request.uri().path().starts_with("/socket.io/") {
        "/socket.io/".to_owned()
    } else {
        "unmatched".to_owned()
    }
}

/// Methods by name; anything else a client makes up is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware, outermost of a role's: counts and times every answer, refusals included.
pub async fn count_requests(
    State(role): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = route_label(&request);
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Some(RefusedBy(limit)) = response.extensions().get::<RefusedBy>() {
        let caller = response
            .extensions()
            .get::<RefusedCaller>()
            .map_or("anonymous", |c| c.0);
        metrics()
            .rate_limited
            .get_or_create(&RefusalLabels {
                role,
                limit,
                caller,
            })
            .inc();
    }
    metrics().http_request(
        HttpLabels {
            role,
            route,
            method,
            status,
        },
        started.elapsed(),
    );
    response
}

/// Set once `/metrics` is served on a listener of its own ([`bind_metrics`]): the roles' ports
/// then answer 404 there, so what faces clients does not show the process's internals.
static APART: AtomicBool = AtomicBool::new(false);

/// The process's metrics in Prometheus's text format (docs/deploy.md lists them); `404` when they
/// are served on a listener of their own (`metrics_listen`).
#[utoipa::path(get, path = "/metrics", tag = crate::openapi::OPERATIONS_TAG, security(()),
    responses((status = 200, description = "OpenMetrics text",
        content_type = "application/openmetrics-text", body = String)))]
pub async fn serve_metrics() -> Response {
    if APART.load(Ordering::Relaxed) {
        return crate::ApiError::NotFound(
            "metrics are served on their own listener here (metrics_listen)".into(),
        )
        .into_response();
    }
    render_metrics().await
}

/// Binds `/metrics` alone at `addr` (`metrics_listen`), served like a role (timeouts and connection
/// limits included) once run; from then on the roles' ports answer it 404.
pub async fn bind_metrics(addr: SocketAddr) -> Result<crate::Server, crate::BindError> {
    let (_, io) = crate::socket_io();
    let router = Router::new().route("/metrics", get(render_metrics)).layer(
        axum::middleware::from_fn_with_state("metrics", count_requests),
    );
    let server = crate::Server::bind(addr, "--metrics-listen", router, io).await?;
    APART.store(true, Ordering::Relaxed);
    Ok(server)
}

async fn render_metrics() -> Response {
    (
        [(header::CONTENT_TYPE, switchboard_metrics::CONTENT_TYPE)],
        switchboard_metrics::render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_refusal_is_counted_by_its_limit_and_a_route_by_its_pattern() {
        let router = Router::new()
            .route(
                "/limited/{id}",
                get(|| async {
                    crate::ratelimit::refused_as(
                        crate::ApiError::RateLimited {
                            retry_after_seconds: 1,
                            limit: "requests of this test",
                        },
                        crate::ratelimit::CallerKind::Bot,
                    )
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                "metrics-test",
                count_requests,
            ));
        let refusals = || {
            metrics()
                .rate_limited
                .get_or_create(&RefusalLabels {
                    role: "metrics-test",
                    limit: "requests of this test",
                    caller: "bot",
                })
                .get()
        };
        let requests = || {
            metrics()
                .http_requests
                .get_or_create(&HttpLabels {
                    role: "metrics-test",
                    route: "/limited/{id}".into(),
                    method: "GET",
                    status: 429,
                })
                .get()
        };
        let (refused, answered) = (refusals(), requests());
        for id in [1, 2] {
            let request = axum::http::Request::get(format!("/limited/{id}"))
                .body(axum::body::Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("answer");
            assert_eq!(response.status(), 429);
        }
        assert_eq!(refusals() - refused, 2);
        assert_eq!(requests() - answered, 2);
        assert!(!switchboard_metrics::render().contains("/limited/1"));
    }
}
