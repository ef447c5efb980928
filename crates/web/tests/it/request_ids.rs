//! Every answer carries `X-Request-Id`: the caller's when it is usable, else one made by the server,
//! on routes, on paths that match nothing, and on refusals. Every `/api/…` path is also `/api/v1/…`.

use crate::limits::serve;
use switchboard_web::{Limits, MAX_REQUEST_ID, Rate};

async fn id_of(http: &reqwest::Client, url: &str, sent: Option<&str>) -> (u16, String) {
    let mut request = http.get(url);
    if let Some(sent) = sent {
        request = request.header("x-request-id", sent);
    }
    let answer = request.send().await.expect("get");
    let id = answer
        .headers()
        .get("x-request-id")
        .expect("every answer carries an id")
        .to_str()
        .expect("ascii")
        .to_owned();
    (answer.status().as_u16(), id)
}

fn is_made(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn every_answer_carries_the_callers_id_or_one_made_for_it() {
    let mut limits = Limits::default();
    // Five requests, then refusals.
    limits.rates.anonymous = Rate::new(0.001, 5.0);
    let (addr, _shutdown) = serve(limits).await;
    let http = reqwest::Client::new();
    let ping = format!("http://{addr}/ping");

    let (status, id) = id_of(&http, &ping, Some("lb-7f3a.42:1_x")).await;
    assert_eq!((status, id.as_str()), (200, "lb-7f3a.42:1_x"));
    let (_, first) = id_of(&http, &ping, None).await;
    assert!(is_made(&first), "{first}");
    // Too long, or with characters a log line should not carry: replaced, not echoed.
    let long = "x".repeat(MAX_REQUEST_ID + 1);
    let (_, replaced) = id_of(&http, &ping, Some(&long)).await;
    assert!(is_made(&replaced) && replaced != first, "{replaced}");
    let (_, replaced) = id_of(&http, &ping, Some("a b")).await;
    assert!(is_made(&replaced), "{replaced}");
    // A path that matches nothing, and a refusal by the rate limits, carry one too.
    let (status, id) = id_of(&http, &format!("http://{addr}/nowhere"), Some("r-404")).await;
    assert_eq!((status, id.as_str()), (404, "r-404"));
    let (status, id) = id_of(&http, &ping, Some("r-429")).await;
    assert_eq!((status, id.as_str()), (429, "r-429"));
}

#[tokio::test]
async fn every_api_path_is_also_under_v1() {
    let (addr, _shutdown) = serve(Limits::default()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://{addr}{path}")).send();
    let versioned = get("/api/v1/echo?q=tr%E1%BA%A7n").await.expect("get");
    assert_eq!(versioned.status(), 200);
    assert_eq!(
        versioned.text().await.expect("body"),
        "/api/echo?q=tr%E1%BA%A7n"
    );
    assert_eq!(get("/api/echo").await.expect("get").status(), 200);
    // A path that matches nothing is named as the client asked for it.
    let missing = get("/api/v1/nothing").await.expect("get");
    assert_eq!(missing.status(), 404);
    let body = missing.text().await.expect("body");
    assert!(body.contains("no endpoint at /api/v1/nothing"), "{body}");
    // Only `v1`, and only under `/api/`.
    assert_eq!(get("/api/v2/echo").await.expect("get").status(), 404);
    assert_eq!(get("/v1/api/echo").await.expect("get").status(), 404);
}
