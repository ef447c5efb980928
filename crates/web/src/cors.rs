//! CORS by allowlist: browsers may call an API from the listed origins only (the console's, by default).

use axum::http::{Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<_> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_credentials(true)
}
