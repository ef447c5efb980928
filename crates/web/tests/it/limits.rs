//! The limits every role's server applies, against a real server on port 0: connections that say
//! nothing are closed, one address cannot hold every connection, callers are rate limited with a
//! `429` that says when to come back (on PostgreSQL, counted over every node of the database), and a
//! Socket.IO client cannot send a huge WebSocket frame.

use axum::Router;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use switchboard_storage::scratch::ScratchDatabase;
use switchboard_storage::{SharedLimits, Store};
use switchboard_testkit::eventually;
use switchboard_web::{AuthOutcome, Limits, Rate, Server, SharedRates, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A server with three routes, `/ping`, `/api/echo` (its own URI) and `/authed` (which takes any token
/// as valid), a Socket.IO endpoint, and `limits`.
pub async fn serve(limits: Limits) -> (String, Shutdown) {
    serve_node(limits, None).await
}

/// [`serve`], as a node whose rate limits count with the other nodes' of `shared`'s database.
async fn serve_node(limits: Limits, shared: Option<SharedRates>) -> (String, Shutdown) {
    let (socket_layer, io) = switchboard_web::socket_io();
    io.ns("/", async |_: socketioxide::extract::SocketRef| {});
    let router = switchboard_web::with_common_layers(
        Router::new()
            .route("/ping", get(|| async { "pong" }))
            .route(
                "/api/echo",
                get(|uri: axum::http::Uri| async move { uri.to_string() }),
            )
            // Any token is valid here, as a role's authentication would find a real one.
            .route(
                "/authed",
                get(|outcome: Option<axum::Extension<AuthOutcome>>| async move {
                    if let Some(axum::Extension(outcome)) = outcome {
                        outcome.record(true);
                    }
                    "pong"
                }),
            ),
        socket_layer,
        &[],
    );
    let router = switchboard_web::with_shared_rates(router, shared);
    let server = Server::bind("127.0.0.1:0".parse().expect("addr"), "--listen", router, io)
        .await
        .expect("bind")
        .with_limits(limits);
    let addr = server.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    tokio::spawn(server.run(shutdown.clone(), Duration::from_secs(1)));
    (addr.to_string(), shutdown)
}

/// Reads until the server closes the connection; panics if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after {within:?}"),
        }
    }
}

#[tokio::test]
async fn connections_that_say_nothing_or_too_little_are_closed() {
    let (addr, _shutdown) = serve(Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    // Nothing at all.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    // Half a request.
    let mut half = TcpStream::connect(&addr).await.expect("connect");
    half.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // One header byte at a time, slowly: the deadline is for the whole head, not per byte.
    let mut drip = TcpStream::connect(&addr).await.expect("connect");
    let dripping = tokio::spawn(async move {
        for byte in b"GET /ping HTTP/1.1\r\nHost: example\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if drip.write_all(&[*byte]).await.is_err() {
                return true;
            }
            // Dripping slowly is the thing under test.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    closed_within(&mut silent, Duration::from_secs(10)).await;
    closed_within(&mut half, Duration::from_secs(10)).await;
    assert!(
        dripping.await.expect("drip"),
        "a connection dripping its head byte by byte was never closed"
    );
    // A keep-alive connection left idle after its answer is closed too; one that asks is served.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = [0u8; 256];
    let read = idle.read(&mut answer).await.expect("answer");
    assert!(String::from_utf8_lossy(&answer[..read]).contains("pong"));
    closed_within(&mut idle, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let (addr, _shutdown) = serve(Limits {
        connections_per_address: 3,
        ..Limits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    // The fourth is closed at once, without an answer.
    let mut fourth = TcpStream::connect(&addr).await.expect("connect");
    let _ = fourth
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    closed_within(&mut fourth, Duration::from_secs(5)).await;
    // A connection given back makes room again (the server notices the close first).
    drop(held.pop());
    let http = reqwest::Client::new();
    eventually(10, "room after a connection closed", || async {
        let response = http.get(format!("http://{addr}/ping")).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn callers_past_their_rate_get_429_with_retry_after() {
    let mut limits = Limits::default();
    // A refill so slow that no token comes back while the test runs, however loaded the machine.
    limits.rates.anonymous = Rate::new(0.01, 3.0);
    let (addr, _shutdown) = serve(limits).await;
    let http = reqwest::Client::new();
    let get = |token: Option<&'static str>| {
        let mut request = http.get(format!("http://{addr}/ping"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for _ in 0..3 {
        assert_eq!(get(None).await.expect("get").status(), 200);
    }
    let refused = get(None).await.expect("get");
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((90..=100).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_many_requests");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("without a known token")),
        "{body}"
    );
    // A made-up token is no way round it: until a token is found valid it counts as anonymous.
    assert_eq!(get(Some("sbs_made_up")).await.expect("get").status(), 429);
}

#[tokio::test]
async fn a_websocket_frame_over_the_limit_closes_the_connection_before_it_is_buffered() {
    let (addr, _shutdown) = serve(Limits::default()).await;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("websocket");
    // Engine.IO's OPEN packet first: the connection works.
    let open = socket.next().await.expect("open").expect("frame");
    assert!(open.to_text().is_ok_and(|t| t.starts_with('0')), "{open:?}");
    // A well-formed CONNECT far over the limit: before, it was read whole (a 15 MB frame per session
    // held hundreds of MB) and answered with a connect_error on a connection that stayed open.
    let huge = format!(
        "40{{\"token\":\"{}\"}}",
        "x".repeat(switchboard_web::SOCKET_MAX_MESSAGE * 10)
    );
    let _ = socket
        .send(tokio_tungstenite::tungstenite::Message::text(huge))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => panic!("the connection stayed open after a frame over the limit"),
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(message))) if message.is_close() => break,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Anonymous requests allowed a burst of `burst` and refilled so slowly that no token comes back
/// while a test runs, however loaded the machine.
fn anonymous_burst(burst: f64) -> Limits {
    let mut limits = Limits::default();
    limits.rates.anonymous = Rate::new(0.001, burst);
    limits
}

/// How many of `addrs`' answers to `/ping`, asked in turn `times` times in all, were not refused;
/// every answer is a `200` or a `429`.
async fn admitted(addrs: &[String], times: usize) -> usize {
    let http = reqwest::Client::new();
    let mut admitted = 0;
    for i in 0..times {
        let addr = &addrs[i % addrs.len()];
        let status = http
            .get(format!("http://{addr}/ping"))
            .send()
            .await
            .expect("get")
            .status();
        assert!(status == 200 || status == 429, "{status}");
        admitted += usize::from(status == 200);
    }
    admitted
}

/// Two servers with `limits` whose rate limits count together on `db` (on SQLite, apart): their
/// addresses, and what keeps them running.
async fn two_nodes(db: &ScratchDatabase, limits: &Limits) -> (Vec<String>, Vec<(Store, Shutdown)>) {
    let mut addrs = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let store = Store::open(db.url()).await.expect("store");
        let shared = SharedRates::of(&store, "test");
        if let Some(limits) = store.shared_limits() {
            // However slow the database answers on a loaded machine, it decides.
            limits.set_patience(Duration::from_secs(30), Duration::ZERO);
        }
        let (addr, shutdown) = serve_node(limits.clone(), shared).await;
        addrs.push(addr);
        nodes.push((store, shutdown));
    }
    (addrs, nodes)
}

#[tokio::test]
async fn requests_spread_over_two_nodes_are_refused_after_the_limit_of_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = ScratchDatabase::new(dir.path(), "s.db").expect("database");
    let (addrs, _nodes) = two_nodes(&db, &anonymous_burst(6.0)).await;
    let expected = if db.is_postgres() {
        6
    } else {
        // SQLite: one node per role and file, counting in memory; two here count apart.
        12
    };
    assert_eq!(admitted(&addrs, 20).await, expected);
}

#[tokio::test]
async fn a_token_spread_over_two_nodes_leases_its_tokens_and_never_exceeds_its_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = ScratchDatabase::new(dir.path(), "s.db").expect("database");
    let mut limits = Limits::default();
    // A bucket of 64 refilled at 4 a second: each node leases 4 at a time (a second's refill).
    limits.rates.integrator = Rate::new(4.0, 64.0);
    let (addrs, _nodes) = two_nodes(&db, &limits).await;
    let http = reqwest::Client::new();
    let ask = |addr: &String| {
        http.get(format!("http://{addr}/authed"))
            .bearer_auth("sba_lease_test")
            .send()
    };
    // The token's first request on a node is an anonymous one, then counted in its bucket; the
    // next ones lease (the storage's and the limiter's own tests show the blocks).
    for _ in 0..2 {
        assert_eq!(ask(&addrs[0]).await.expect("get").status(), 200);
    }
    let started = Instant::now();
    let mut admitted = 2;
    for i in 0..200 {
        let status = ask(&addrs[i % 2]).await.expect("get").status();
        assert!(status == 200 || status == 429, "{status}");
        admitted += usize::from(status == 200);
    }
    // What the bucket refilled while the test ran, and the first second's (the requests before
    // `started` ran in it too).
    let refilled = (4.0 * (started.elapsed().as_secs_f64() + 1.0)).ceil() as usize;
    if db.is_postgres() {
        // Never more than the bucket and its refill; at most one lease's tail (3) left unspent on
        // each node.
        assert!(
            admitted <= 64 + refilled,
            "{admitted} admitted, {refilled} refilled"
        );
        assert!(admitted >= 64 - 2 * 3, "{admitted}");
    } else {
        // SQLite: each node counts alone.
        assert!(
            admitted >= 128 && admitted <= 128 + 2 * refilled,
            "{admitted}"
        );
    }
}

#[tokio::test]
async fn a_node_whose_database_does_not_answer_counts_alone() {
    // Nothing listens on port 1: every shared check fails at once, then is not tried for a while.
    let unreachable =
        SharedLimits::connect_lazily("postgres://postgres@127.0.0.1:1/postgres").expect("limits");
    let (addr, _shutdown) = serve_node(
        anonymous_burst(3.0),
        Some(SharedRates::new(unreachable, "test")),
    )
    .await;
    let started = Instant::now();
    assert_eq!(admitted(&[addr], 6).await, 3);
    // Answered, not held until some connection gave up (a generous bound for a loaded machine).
    assert!(started.elapsed() < Duration::from_secs(20));
}
