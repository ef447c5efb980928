//! API versions. The seed's paths (`/api/…`) are a contract existing clients rely on; every one of
//! them is also `/api/v1/…`, the same endpoint. The version is taken off before routing, so a route
//! is written once; the path the client asked for is kept for logs and errors. See "Versions" in
//! docs/protocol.md for what may change within v1 and how a v2 would come.

use axum::http::{Request, Uri};

const VERSIONED: &str = "/api/v1/";

/// The path a client asked for, when routing saw another (`/api/v1/x` is routed as `/api/x`).
#[derive(Debug, Clone)]
pub struct RequestedPath(pub String);

/// Routes `/api/v1/…` as `/api/…`, keeping the asked path in the request's extensions.
pub(crate) fn route_unversioned<B>(mut request: Request<B>) -> Request<B> {
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix(VERSIONED) else {
        return request;
    };
    let mut unversioned = String::with_capacity(path.len());
    unversioned.push_str("/api/");
    unversioned.push_str(rest);
    if let Some(query) = request.uri().query() {
        unversioned.push('?');
        unversioned.push_str(query);
    }
    let mut parts = request.uri().clone().into_parts();
    let Ok(path_and_query) = unversioned.parse() else {
        return request;
    };
    parts.path_and_query = Some(path_and_query);
    let Ok(uri) = Uri::from_parts(parts) else {
        return request;
    };
    let asked = path.to_owned();
    *request.uri_mut() = uri;
    request.extensions_mut().insert(RequestedPath(asked));
    request
}

/// The path a client asked for: the one routing saw unless it was versioned.
pub(crate) fn requested_path<B>(request: &Request<B>) -> &str {
    request
        .extensions()
        .get::<RequestedPath>()
        .map_or(request.uri().path(), |asked| asked.0.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(uri: &str) -> (String, Option<String>) {
        let request = route_unversioned(Request::get(uri).body(()).expect("request"));
        (
            request.uri().to_string(),
            request
                .extensions()
                .get::<RequestedPath>()
                .map(|p| p.0.clone()),
        )
    }

    #[test]
    fn the_version_is_taken_off_before_routing_and_the_asked_path_kept() {
        assert_eq!(
            routed("/api/v1/conversations/7/messages?limit=5"),
            (
                "/api/conversations/7/messages?limit=5".into(),
                Some("/api/v1/conversations/7/messages".into())
            )
        );
        assert_eq!(
            routed("/api/conversations"),
            ("/api/conversations".into(), None)
        );
        // Only the whole segment `v1`, only under `/api/`.
        assert_eq!(routed("/api/v10/x"), ("/api/v10/x".into(), None));
        assert_eq!(routed("/v1/api/x"), ("/v1/api/x".into(), None));
        assert_eq!(routed("/api/v1"), ("/api/v1".into(), None));
    }
}
