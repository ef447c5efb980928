//! The web console, built into the binary: build.rs embeds the files `npm run build` left in
//! `console/dist`, so one `switchboard` file is the whole product and the console always matches the
//! server it shipped with. The call center serves it on its port (8000), with `/console/config.json`
//! telling the page where the receiver and the sender are.

#[cfg(test)]
mod content_type;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

// `BUILT`, `INDEX` (`/index.html`, or the placeholder) and `FILES` (everything else).
include!(concat!(env!("OUT_DIR"), "/console.rs"));

/// Where the page learns the receiver's and the sender's addresses.
pub const CONFIG_PATH: &str = "/console/config.json";

/// What the console may load and connect to: its own files, the sender and receiver on other ports (or
/// hosts, when their public URLs are set), and customers' pictures from Facebook's hosts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; \
    media-src 'self' data: blob:; connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// The page and its configuration are checked at every load, so a new binary shows its own console.
const NO_CACHE: &str = "no-cache";
/// Vite puts a hash of the content in every name under `/assets/`: a name never changes meaning.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Other files (`/favicon.svg`) keep their names across builds.
const SHORT: &str = "public, max-age=3600";

/// One embedded file.
struct Asset {
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
    etag: &'static str,
    /// A gzip copy, for text that shrinks.
    gzip: Option<Gzip>,
}

struct Gzip {
    body: &'static [u8],
    etag: &'static str,
}

/// Where the console reaches a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A public base URL (behind a proxy, or on another host), as [`Endpoint::url`] checked it.
    Url(String),
    /// A port on the host the page was loaded from: right whenever the roles run on one machine,
    /// whatever name or address the agents use for it.
    Port(u16),
}

#[derive(Debug, thiserror::Error)]
#[error("`{url}` is not a usable public URL: {reason} (expected e.g. https://crm.example.vn:5002)")]
pub struct InvalidUrl {
    url: String,
    reason: String,
}

impl Endpoint {
    /// A public URL: `http(s)://host[:port][/path]`, without credentials, query or fragment. A trailing
    /// `/` is dropped, so the console can append paths to it.
    pub fn url(text: &str) -> Result<Self, InvalidUrl> {
        let invalid = |reason: &str| InvalidUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("only http:// and https:// are allowed"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not carry a user name or password"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not have a query or a fragment"));
        }
        Ok(Self::Url(url.as_str().trim_end_matches('/').to_owned()))
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Self::Url(url) => serde_json::json!({"url": url, "port": null}),
            Self::Port(port) => serde_json::json!({"url": null, "port": port}),
        }
    }
}

/// Where the console finds the receiver and the sender: `GET /console/config.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleConfig {
    pub receiver: Endpoint,
    pub sender: Endpoint,
}

/// The roles' default ports on the page's own host.
impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            receiver: Endpoint::Port(5001),
            sender: Endpoint::Port(5002),
        }
    }
}

impl ConsoleConfig {
    /// `{"receiver": {"url": null, "port": 5001}, "sender": {"url": "https://…", "port": null}}`
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"receiver": self.receiver.json(), "sender": self.sender.json()})
    }
}

/// Whether this binary carries a built console (rather than the page saying how to build it).
pub fn is_built() -> bool {
    BUILT
}

/// The console's routes: `/` (and `/index.html`), every embedded file at its own path, and
/// `/console/config.json`. Nothing else: any other path falls through to the router it is merged into
/// (the console routes by `#hash`, so it needs no catch-all).
pub fn routes(config: ConsoleConfig) -> Router {
    routes_from(&INDEX, FILES, &config)
}

/// The API docs page as built (`console/docs.html`); every role serves it at `/docs`.
const DOCS_PAGE: &str = "/docs.html";

/// Served at `/docs` by a binary built without the console.
const DOCS_PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
    <title>Switchboard API</title><p>The API docs page was not built into this binary (run \
    <code>scripts/run</code>). This role's OpenAPI document is at \
    <a href=\"/openapi.json\">/openapi.json</a>.</p></html>";

/// The docs page's files: the page and the files under `/assets/` it names (its script, its styles).
fn docs_files(files: &'static [Asset]) -> Vec<&'static Asset> {
    let Some(page) = files.iter().find(|asset| asset.path == DOCS_PAGE) else {
        return Vec::new();
    };
    let html = std::str::from_utf8(page.body).unwrap_or_default();
    let named: Vec<&str> = html
        .split('"')
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    let mut found = vec![page];
    found.extend(files.iter().filter(|asset| named.contains(&asset.path)));
    found
}

/// `/docs`, the API docs page (Swagger UI reading the role's `/openapi.json`), and the files it loads:
/// served by every role from the binary, so nothing comes from another host.
pub fn docs_routes() -> Router {
    docs_routes_from(FILES)
}

fn docs_routes_from(files: &'static [Asset]) -> Router {
    let found = docs_files(files);
    let Some((&page, loaded)) = found.split_first() else {
        return Router::new().route(
            "/docs",
            get(|| async {
                let mut headers = protective_headers();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                (headers, DOCS_PLACEHOLDER).into_response()
            }),
        );
    };
    let mut router = Router::new().route(
        "/docs",
        get(move |request: HeaderMap| async move { respond(page, &request, NO_CACHE) }),
    );
    for &asset in loaded {
        router = router.route(
            asset.path,
            get(move |request: HeaderMap| async move { respond(asset, &request, IMMUTABLE) }),
        );
    }
    router
}

fn routes_from(index: &'static Asset, files: &'static [Asset], config: &ConsoleConfig) -> Router {
    // The docs page and its files are served by `docs_routes`, which every role has.
    let docs: Vec<&str> = docs_files(files).iter().map(|asset| asset.path).collect();
    let page = move |request: HeaderMap| async move { respond(index, &request, NO_CACHE) };
    let config = Bytes::from(config.json().to_string());
    let mut router = Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route(
            CONFIG_PATH,
            get(move || {
                let config = config.clone();
                async move { config_response(config) }
            }),
        );
    for asset in files.iter().filter(|asset| !docs.contains(&asset.path)) {
        let cache = if asset.path.starts_with("/assets/") {
            IMMUTABLE
        } else {
            SHORT
        };
        router = router.route(
            asset.path,
            get(move |request: HeaderMap| async move { respond(asset, &request, cache) }),
        );
    }
    router
}

/// Headers on every console response: no guessing of types, no leaking of the console's URLs (they
/// carry conversation ids) to the hosts of customers' pictures, and the content security policy.
fn protective_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers
}

fn respond(asset: &'static Asset, request: &HeaderMap, cache: &'static str) -> Response {
    let (body, etag, encoding) = match &asset.gzip {
        Some(gzip) if accepts_gzip(request) => (gzip.body, gzip.etag, Some("gzip")),
        _ => (asset.body, asset.etag, None),
    };
    let mut headers = protective_headers();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ETAG, HeaderValue::from_static(etag));
    if asset.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if not_modified(request, etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    (headers, Body::from(body)).into_response()
}

fn config_response(config: Bytes) -> Response {
    let mut headers = protective_headers();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (headers, Body::from(config)).into_response()
}

/// The comma-separated items of every `name` header.
fn items<'a>(request: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    request
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// Whether `Accept-Encoding` takes gzip: named with a non-zero weight, or else covered by `*`.
fn accepts_gzip(request: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in items(request, &header::ACCEPT_ENCODING) {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let weight = parts
            .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(weight);
        } else if coding == "*" {
            any = Some(weight);
        }
    }
    gzip.or(any).is_some_and(|weight| weight > 0.0)
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for it).
fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    items(request, &header::IF_NONE_MATCH)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    static SAMPLE_INDEX: Asset = Asset {
        path: "/index.html",
        body: b"<!doctype html><title>t</title>",
        content_type: "text/html; charset=utf-8",
        etag: "\"1\"",
        gzip: None,
    };
    static SAMPLE_FILES: [Asset; 3] = [
        Asset {
            path: "/assets/index-AbC123.js",
            body: b"console.log('plain')",
            content_type: "text/javascript; charset=utf-8",
            etag: "\"2\"",
            gzip: Some(Gzip {
                body: b"GZIPPED",
                etag: "\"2-gz\"",
            }),
        },
        Asset {
            path: "/assets/index-AbC123.css",
            body: b"body{}",
            content_type: "text/css; charset=utf-8",
            etag: "\"3\"",
            gzip: None,
        },
        Asset {
            path: "/favicon.svg",
            body: b"<svg/>",
            content_type: "image/svg+xml",
            etag: "\"4\"",
            gzip: None,
        },
    ];

    fn sample() -> Router {
        routes_from(&SAMPLE_INDEX, &SAMPLE_FILES, &ConsoleConfig::default())
    }

    async fn call(
        router: Router,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    async fn get(router: Router, path: &str) -> Response {
        call(router, Method::GET, path, &[]).await
    }

    fn header(response: &Response, name: HeaderName) -> &str {
        response
            .headers()
            .get(&name)
            .map_or("", |v| v.to_str().expect("ascii"))
    }

    async fn body(response: Response) -> Bytes {
        to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
    }

    fn assert_protected(response: &Response) {
        assert_eq!(header(response, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(response, header::REFERRER_POLICY), "no-referrer");
    }

    #[test]
    fn content_types_follow_the_extension() {
        for (path, expected) in [
            ("/index.html", "text/html; charset=utf-8"),
            ("/assets/a-1.js", "text/javascript; charset=utf-8"),
            ("/assets/a-1.mjs", "text/javascript; charset=utf-8"),
            ("/assets/a-1.css", "text/css; charset=utf-8"),
            ("/favicon.svg", "image/svg+xml"),
            ("/logo.PNG", "image/png"),
            ("/favicon.ico", "image/x-icon"),
            ("/data.json", "application/json"),
            ("/assets/a-1.js.map", "application/json"),
            ("/assets/inter-1.woff2", "font/woff2"),
            ("/robots.txt", "text/plain; charset=utf-8"),
            ("/site.webmanifest", "application/manifest+json"),
            ("/assets/ring-1.wav", "audio/wav"),
            ("/assets/ring-1.mp3", "audio/mpeg"),
            ("/assets/ring-1.ogg", "audio/ogg"),
            ("/LICENSE", "application/octet-stream"),
            ("/archive.bin", "application/octet-stream"),
        ] {
            assert_eq!(content_type::of(path), expected, "{path}");
        }
    }

    #[test]
    fn text_is_compressed_and_media_is_not() {
        for path in [
            "/index.html",
            "/a.js",
            "/a.css",
            "/a.svg",
            "/a.json",
            "/a.js.map",
            "/a.txt",
        ] {
            assert!(content_type::compressible(content_type::of(path)), "{path}");
        }
        for path in ["/a.png", "/a.woff2", "/a.mp3", "/a.ogg", "/a.bin"] {
            assert!(
                !content_type::compressible(content_type::of(path)),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn the_page_is_revalidated_and_carries_the_security_policy() {
        for router in [sample(), routes(ConsoleConfig::default())] {
            let response = get(router, "/").await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                header(&response, header::CONTENT_TYPE),
                "text/html; charset=utf-8"
            );
            assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
            assert_eq!(
                header(&response, header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY
            );
            assert_protected(&response);
            let page = body(response).await;
            assert!(page.starts_with(b"<!doctype html>") || page.starts_with(b"<!DOCTYPE html>"));
        }
        let policy = CONTENT_SECURITY_POLICY;
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob: http: https:",
            "media-src 'self' data: blob:",
            "connect-src 'self' http: https: ws: wss:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(policy.contains(directive), "{directive} in {policy}");
        }
        assert!(!policy.contains("  "), "{policy}");
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_good_and_other_files_briefly() {
        let response = get(sample(), "/assets/index-AbC123.css").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/css; charset=utf-8"
        );
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_protected(&response);
        assert_eq!(body(response).await.as_ref(), b"body{}");

        let response = get(sample(), "/favicon.svg").await;
        assert_eq!(header(&response, header::CONTENT_TYPE), "image/svg+xml");
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            "public, max-age=3600"
        );
        assert_protected(&response);
    }

    #[tokio::test]
    async fn head_answers_the_headers_without_the_body() {
        let response = call(sample(), Method::HEAD, "/assets/index-AbC123.css", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/css; charset=utf-8"
        );
        assert_eq!(header(&response, header::CONTENT_LENGTH), "6");
        assert!(body(response).await.is_empty());
        let response = call(sample(), Method::HEAD, "/", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_missing_file_is_left_to_the_router_it_is_merged_into() {
        for path in [
            "/assets/index-gone.js",
            "/assets/",
            "/nothing.svg",
            "/console",
            "/inbox",
        ] {
            let response = get(sample(), path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let merged = routes(ConsoleConfig::default())
            .fallback(|| async { (StatusCode::NOT_FOUND, "the call center's 404") });
        let response = get(merged, "/assets/index-gone.js").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(response).await.as_ref(), b"the call center's 404");
    }

    #[tokio::test]
    async fn gzip_is_served_to_browsers_that_take_it() {
        let path = "/assets/index-AbC123.js";
        for (accept, gzipped) in [
            (None, false),
            (Some("gzip, deflate, br, zstd"), true),
            (Some("br;q=1.0, gzip;q=0.8, *;q=0.1"), true),
            (Some("gzip;q=0"), false),
            (Some("gzip;q=0, *"), false),
            (Some("*"), true),
            (Some("identity"), false),
        ] {
            let headers: Vec<(&str, &str)> =
                accept.map(|a| ("accept-encoding", a)).into_iter().collect();
            let response = call(sample(), Method::GET, path, &headers).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(header(&response, header::VARY), "accept-encoding");
            assert_eq!(
                header(&response, header::CONTENT_TYPE),
                "text/javascript; charset=utf-8"
            );
            let encoding = header(&response, header::CONTENT_ENCODING).to_owned();
            let etag = header(&response, header::ETAG).to_owned();
            let body = body(response).await;
            if gzipped {
                assert_eq!((encoding.as_str(), etag.as_str()), ("gzip", "\"2-gz\""));
                assert_eq!(body.as_ref(), b"GZIPPED", "{accept:?}");
            } else {
                assert_eq!((encoding.as_str(), etag.as_str()), ("", "\"2\""));
                assert_eq!(body.as_ref(), b"console.log('plain')", "{accept:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_known_etag_is_answered_not_modified() {
        let response = call(sample(), Method::GET, "/", &[("if-none-match", "\"1\"")]).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
        assert!(body(response).await.is_empty());
        let response = call(
            sample(),
            Method::GET,
            "/",
            &[("if-none-match", "\"0\", W/\"1\"")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let response = call(sample(), Method::GET, "/", &[("if-none-match", "\"0\"")]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_config_names_ports_or_public_urls() {
        let response = get(routes(ConsoleConfig::default()), CONFIG_PATH).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), "application/json");
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
        assert_protected(&response);
        let config: serde_json::Value =
            serde_json::from_slice(&body(response).await).expect("json");
        assert_eq!(
            config,
            serde_json::json!({"receiver": {"url": null, "port": 5001}, "sender": {"url": null, "port": 5002}})
        );

        let config = ConsoleConfig {
            receiver: Endpoint::Port(41001),
            sender: Endpoint::url("https://CRM.example.vn:5443/sender/").expect("valid"),
        };
        let response = get(routes(config), CONFIG_PATH).await;
        let config: serde_json::Value =
            serde_json::from_slice(&body(response).await).expect("json");
        assert_eq!(
            config,
            serde_json::json!({"receiver": {"url": null, "port": 41001}, "sender": {"url": "https://crm.example.vn:5443/sender", "port": null}})
        );
    }

    #[test]
    fn public_urls_must_be_plain_http_or_https() {
        assert_eq!(
            Endpoint::url("http://10.0.0.5:5001").expect("valid"),
            Endpoint::Url("http://10.0.0.5:5001".into())
        );
        assert_eq!(
            Endpoint::url("https://crm.example.vn/").expect("valid"),
            Endpoint::Url("https://crm.example.vn".into())
        );
        for bad in [
            "",
            "crm.example.vn:5002",
            "ftp://crm.example.vn",
            "https://",
            "https://user:secret@crm.example.vn",
            "https://crm.example.vn/?a=1",
            "https://crm.example.vn/#x",
            "javascript:alert(1)",
        ] {
            let error = Endpoint::url(bad).expect_err(bad);
            assert!(
                error.to_string().contains("not a usable public URL"),
                "{error}"
            );
        }
    }

    /// Whatever build.rs embedded (the real console, or the placeholder) is served as the tests above
    /// expect of the samples.
    #[tokio::test]
    async fn every_embedded_file_is_served_with_its_type_and_cache() {
        assert_eq!(INDEX.path, "/index.html");
        assert_eq!(INDEX.content_type, "text/html; charset=utf-8");
        let page = std::str::from_utf8(INDEX.body).expect("utf-8");
        if !is_built() {
            assert!(page.contains("scripts/run") && page.contains("npm run build"));
        }
        // As the call center serves them: the console, and the docs page every role has.
        let served = || routes(ConsoleConfig::default()).merge(docs_routes());
        for asset in FILES {
            assert_eq!(
                asset.content_type,
                content_type::of(asset.path),
                "{}",
                asset.path
            );
            let (path, cache) = if asset.path == DOCS_PAGE {
                ("/docs", NO_CACHE)
            } else if asset.path.starts_with("/assets/") {
                (asset.path, IMMUTABLE)
            } else {
                (asset.path, SHORT)
            };
            let response = get(served(), path).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(header(&response, header::CONTENT_TYPE), asset.content_type);
            assert_eq!(header(&response, header::CACHE_CONTROL), cache);
            assert_protected(&response);
            assert_eq!(body(response).await.as_ref(), asset.body, "{}", asset.path);
            if let Some(gzip) = &asset.gzip {
                let headers = [("accept-encoding", "gzip")];
                let response = call(served(), Method::GET, path, &headers).await;
                assert_eq!(header(&response, header::CONTENT_ENCODING), "gzip");
                let body = body(response).await;
                assert!(body.len() < asset.body.len() && body.starts_with(&[0x1f, 0x8b]));
                assert_eq!(body.as_ref(), gzip.body);
            }
        }
    }

    static DOCS_FILES: [Asset; 3] = [
        Asset {
            path: "/assets/docs-X1.js",
            body: b"swagger()",
            content_type: "text/javascript; charset=utf-8",
            etag: "\"d1\"",
            gzip: None,
        },
        Asset {
            path: "/assets/index-AbC123.js",
            body: b"console()",
            content_type: "text/javascript; charset=utf-8",
            etag: "\"d2\"",
            gzip: None,
        },
        Asset {
            path: "/docs.html",
            body: b"<script type=\"module\" src=\"/assets/docs-X1.js\"></script>",
            content_type: "text/html; charset=utf-8",
            etag: "\"d3\"",
            gzip: None,
        },
    ];

    /// `/docs` serves the page and only the files it names; the console's routes leave them out, so
    /// the call center can merge both, and a binary without the page says where the document is.
    #[tokio::test]
    async fn the_docs_page_is_served_with_its_own_files_only() {
        let docs = || docs_routes_from(&DOCS_FILES);
        let page = get(docs(), "/docs").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_protected(&page);
        assert_eq!(body(page).await.as_ref(), DOCS_FILES[2].body);
        assert_eq!(
            get(docs(), "/assets/docs-X1.js").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            get(docs(), "/assets/index-AbC123.js").await.status(),
            StatusCode::NOT_FOUND
        );

        let console = || routes_from(&SAMPLE_INDEX, &DOCS_FILES, &ConsoleConfig::default());
        assert_eq!(
            get(console(), "/assets/docs-X1.js").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(console(), "/docs.html").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(console(), "/assets/index-AbC123.js").await.status(),
            StatusCode::OK
        );
        let both = console().merge(docs());
        assert_eq!(get(both, "/docs").await.status(), StatusCode::OK);

        let without = docs_routes_from(&SAMPLE_FILES);
        let placeholder = body(get(without, "/docs").await).await;
        assert!(std::str::from_utf8(&placeholder).is_ok_and(|t| t.contains("/openapi.json")));
    }
}
