//! The load balancer shipped in `deploy/haproxy.cfg`, run for real: HAProxy accepts the file as it is,
//! and, pointed at two real nodes, spreads Socket.IO sessions over them and keeps each long-polling
//! session on the node that made it for a client that keeps no cookies (the `sid` stick table).
//! Without HAProxy installed these tests are skipped, except with `CI=true`, where that fails.

use crate::{Running, SERVE, start, switchboard};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use switchboard_testkit::wait::eventually;

/// The shipped file; its node addresses are examples, rewritten here to the nodes under test.
fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy.cfg")
}

/// Each role as the shipped file names it: its port (frontend and example nodes) and its cookie.
const ROLES: [(&str, u16, &str); 3] = [
    ("receiver", 5001, "SB_RECEIVER"),
    ("sender", 5002, "SB_SENDER"),
    ("callcenter", 8000, "SB_CALLCENTER"),
];

/// `haproxy`, or `None` when it is not installed (skipped; a failure with `CI=true`).
fn haproxy() -> Option<Command> {
    let installed = Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok_and(|output| output.status.success());
    if installed {
        return Some(Command::new("haproxy"));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "haproxy is not installed (apt-get install haproxy): with CI=true that is a failure"
    );
    eprintln!("haproxy is not installed (apt-get install haproxy): skipped");
    None
}

#[test]
fn haproxy_accepts_the_shipped_configuration() {
    let Some(mut haproxy) = haproxy() else {
        return;
    };
    let output = haproxy
        .arg("-c")
        .arg("-f")
        .arg(shipped())
        .output()
        .expect("run haproxy -c");
    assert!(
        output.status.success(),
        "haproxy -c -f deploy/haproxy.cfg:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// HAProxy in the foreground, stopped with the test.
struct Balancer(Child);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// `text` with `from` replaced by `to`; `from` must be there (the shipped file changed shape if not).
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "deploy/haproxy.cfg has no `{from}`");
    text.replace(from, to)
}

/// The shipped file pointed at `nodes`, its frontends on `fronts` (per role, in [`ROLES`] order), and
/// without what needs root or a system (daemon, users, syslog, the stats socket, 40k descriptors).
fn local_config(shipped: &str, nodes: [&Running; 2], fronts: [u16; 3]) -> String {
    let mut config = shipped.to_owned();
    for ((role, port, _), front) in ROLES.iter().zip(fronts) {
        config = replaced(
            &config,
            &format!("bind :{port}\n"),
            &format!("bind 127.0.0.1:{front}\n"),
        );
        for (example, node) in ["10.0.0.11", "10.0.0.12"].iter().zip(nodes) {
            let address = node.url(role).trim_start_matches("http://");
            config = replaced(&config, &format!("{example}:{port}"), address);
        }
    }
    config = replaced(&config, "maxconn 20000", "maxconn 2000");
    config = replaced(
        &config,
        "127.0.0.1:10000",
        &format!("127.0.0.1:{}", free_port()),
    );
    config
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !(line.contains("10.0.0.13:")
                || ["daemon", "user ", "group ", "stats ", "log /dev/log"]
                    .iter()
                    .any(|start| line.starts_with(start)))
        })
        .map(|line| format!("{line}\n"))
        .collect()
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
    let Some(mut haproxy) = haproxy() else {
        return;
    };
    // Two nodes, each on its own database: an Engine.IO session lives in one process whatever the
    // database, and a session sent to the other node is refused ("Session ID unknown").
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let nodes = dirs
        .each_ref()
        .map(|dir| start(switchboard(dir.path()), &SERVE, 3));
    let fronts = [free_port(), free_port(), free_port()];
    let shipped = std::fs::read_to_string(shipped()).expect("read deploy/haproxy.cfg");
    let config = dirs[0].path().join("haproxy.cfg");
    std::fs::write(
        &config,
        local_config(&shipped, [&nodes[0], &nodes[1]], fronts),
    )
    .expect("write the local configuration");
    let _balancer = Balancer(
        haproxy
            .arg("-db")
            .arg("-q")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    // No cookie store: every request is a client that keeps no cookies.
    let http = reqwest::Client::new();
    for ((role, _, cookie), front) in ROLES.iter().zip(fronts) {
        let front = format!("http://127.0.0.1:{front}");
        eventually(20, &format!("HAProxy to serve the {role}"), || async {
            let health = http.get(format!("{front}/healthz")).send().await.ok()?;
            (health.status() == 200).then_some(())
        })
        .await;
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
