//! The load balancer shipped in `deploy/haproxy.cfg`, run for real: HAProxy accepts the file as it is,
//! and, pointed at two real nodes, spreads Socket.IO sessions over them and keeps each long-polling
//! session on the node that made it for a client that keeps no cookies (the `sid` stick table).
//! Without HAProxy installed these tests are skipped, except with `CI=true`, where that fails.

use crate::{SERVE, start, switchboard};
use std::collections::HashSet;
use switchboard_testkit::haproxy::{self, Balancer, ROLES};

#[test]
fn haproxy_accepts_the_shipped_configuration() {
    let Some(mut haproxy) = haproxy::command() else {
        return;
    };
    let output = haproxy
        .arg("-c")
        .arg("-f")
        .arg(haproxy::shipped())
        .output()
        .expect("run haproxy -c");
    assert!(
        output.status.success(),
        "haproxy -c -f deploy/haproxy.cfg:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The node HAProxy chose (its persistence cookie) and the session id of a polling handshake.
async fn handshake(http: &reqwest::Client, front: &str, cookie: &str) -> (String, String) {
    let response = http
        .get(format!("{front}/socket.io/?EIO=4&transport=polling"))
        .send()
        .await
        .expect("handshake");
    assert_eq!(response.status(), 200, "handshake through {front}");
    let node = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(&format!("{cookie}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("{front}: no {cookie} cookie inserted"))
        .to_owned();
    let body = response.text().await.expect("handshake body");
    // An Engine.IO open packet: `0` and its JSON.
    let open: serde_json::Value = body
        .strip_prefix('0')
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("not an open packet: {body}"));
    let sid = open["sid"].as_str().expect("sid").to_owned();
    (node, sid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_keeps_each_polling_session_on_its_node_without_cookies() {
    // Two nodes, each on its own database: an Engine.IO session lives in one process whatever the
    // database, and a session sent to the other node is refused ("Session ID unknown").
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = dirs
        .each_ref()
        .map(|dir| start(switchboard(dir.path()), &SERVE, 3));
    let Some(balancer) = Balancer::start(dirs[0].path(), &[&nodes[0], &nodes[1]]) else {
        return;
    };
    // No cookie store: every request is a client that keeps no cookies.
    let http = reqwest::Client::new();
    balancer.ready(&http).await;
    for (role, _, cookie) in ROLES {
        let front = balancer.url(role);
        let mut chosen = HashSet::new();
        for _ in 0..4 {
            let (node, sid) = handshake(&http, &front, cookie).await;
            chosen.insert(node);
            for _ in 0..6 {
                // A pong: "ok" from the node that holds the session, 400 from any other.
                let answer = http
                    .post(format!(
                        "{front}/socket.io/?EIO=4&transport=polling&sid={sid}"
                    ))
                    .body("3")
                    .send()
                    .await
                    .expect("post to the session");
                let status = answer.status();
                let text = answer.text().await.unwrap_or_default();
                assert_eq!(
                    (status.as_u16(), text.as_str()),
                    (200, "ok"),
                    "{role}: a request of session {sid} reached another node"
                );
            }
        }
        assert_eq!(
            chosen.len(),
            2,
            "{role}: new sessions all went to one node ({chosen:?})"
        );
    }
}
