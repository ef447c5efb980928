//! The load balancer shipped in `deploy/haproxy.cfg`, run for real in front of nodes on this machine:
//! the file as it is, with its example node addresses pointed at the nodes under test and without what
//! needs root or a system (daemon, users, syslog, the stats socket, 40k descriptors).

use crate::process::Running;
use crate::wait::eventually;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Each role as the shipped file names it: its port (frontend and example nodes) and its cookie.
pub const ROLES: [(&str, u16, &str); 3] = [
    ("receiver", 5001, "SB_RECEIVER"),
    ("sender", 5002, "SB_SENDER"),
    ("callcenter", 8000, "SB_CALLCENTER"),
];

/// The example nodes of the shipped file, in order.
const EXAMPLE_NODES: [&str; 3] = ["10.0.0.11", "10.0.0.12", "10.0.0.13"];

/// The shipped file.
pub fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy.cfg")
}

/// `haproxy`, or `None` when it is not installed (the caller skips; with `CI=true` that fails).
pub fn command() -> Option<Command> {
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

/// A free local port (bound, read and released).
pub fn free_port() -> u16 {
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

/// The shipped file pointed at `nodes` (one to three, each running every role), its frontends on
/// `fronts` (per role, in [`ROLES`] order); the example nodes left over are removed.
pub fn local_config(shipped: &str, nodes: &[&Running], fronts: [u16; 3]) -> String {
    assert!(
        (1..=EXAMPLE_NODES.len()).contains(&nodes.len()),
        "the shipped file has three example nodes"
    );
    let mut config = shipped.to_owned();
    for ((role, port, _), front) in ROLES.iter().zip(fronts) {
        config = replaced(
            &config,
            &format!("bind :{port}\n"),
            &format!("bind 127.0.0.1:{front}\n"),
        );
        for (example, node) in EXAMPLE_NODES.iter().zip(nodes) {
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
    let unused = &EXAMPLE_NODES[nodes.len()..];
    config
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !(unused
                .iter()
                .any(|example| line.contains(&format!("{example}:")))
                || ["daemon", "user ", "group ", "stats ", "log /dev/log"]
                    .iter()
                    .any(|start| line.starts_with(start)))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// HAProxy in the foreground with the shipped file in front of some nodes, stopped when dropped.
pub struct Balancer {
    child: Child,
    fronts: [u16; 3],
}

impl Balancer {
    /// HAProxy in front of `nodes`, its configuration written into `dir`; `None` when HAProxy is not
    /// installed (skipped, see [`command`]).
    pub fn start(dir: &Path, nodes: &[&Running]) -> Option<Self> {
        let mut haproxy = command()?;
        let fronts = [free_port(), free_port(), free_port()];
        let shipped = std::fs::read_to_string(shipped()).expect("read deploy/haproxy.cfg");
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, local_config(&shipped, nodes, fronts))
            .expect("write the local configuration");
        let child = haproxy
            .arg("-db")
            .arg("-q")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .expect("start haproxy");
        Some(Self { child, fronts })
    }

    /// The balancer's URL for `role` (`receiver`, `sender`, `callcenter`).
    pub fn url(&self, role: &str) -> String {
        let index = ROLES
            .iter()
            .position(|(name, _, _)| *name == role)
            .unwrap_or_else(|| panic!("no role {role}"));
        format!("http://127.0.0.1:{}", self.fronts[index])
    }

    /// Waits until every role's frontend answers `/healthz` with 200 through a node.
    pub async fn ready(&self, http: &reqwest::Client) {
        for (role, _, _) in ROLES {
            let front = self.url(role);
            eventually(20, &format!("HAProxy to serve the {role}"), || async {
                let health = http.get(format!("{front}/healthz")).send().await.ok()?;
                (health.status() == 200).then_some(())
            })
            .await;
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
