//! A TCP forwarder a test puts between a node and its database, to take the database away and give it
//! back while the node runs: [`Forwarder::cut`] closes every connection through it and refuses new
//! ones (accepted and closed at once, as a server that went away), [`Forwarder::restore`] forwards
//! again.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards connections made to [`Forwarder::address`] to a target, until cut.
pub struct Forwarder {
    address: SocketAddr,
    cut: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl Forwarder {
    /// Listens on a free local port and forwards to `target` (`host:port`). Runs on the caller's
    /// runtime.
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        let (cut, watching) = watch::channel(false);
        let target = target.to_owned();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watching.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, target.clone(), watching.clone()));
            }
        });
        Self {
            address,
            cut,
            accepting,
        }
    }

    /// Where to connect instead of the target.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every connection through the forwarder and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accepting.abort();
        // Ends the connections too: their watch sees the sender gone.
        self.cut.send_replace(true);
    }
}

/// Copies both ways between `client` and a new connection to `target` until either side closes or
/// the forwarder is cut.
async fn forward(mut client: TcpStream, target: String, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
}

/// The parts of `url` (`postgres://USER@HOST:PORT/…`): before the host, the host and port, after them.
fn split_url(url: &str) -> (&str, &str, &str) {
    let scheme_end = url.find("://").map_or(0, |at| at + 3);
    let user_end = url[scheme_end..]
        .find('@')
        .map_or(scheme_end, |at| scheme_end + at + 1);
    let host_end = url[user_end..]
        .find(['/', '?'])
        .map_or(url.len(), |at| user_end + at);
    (&url[..user_end], &url[user_end..host_end], &url[host_end..])
}

/// The `HOST:PORT` a PostgreSQL URL names (port 5432 if it names none).
pub fn host_and_port(url: &str) -> String {
    let (_, host, _) = split_url(url);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// `url` with its host and port replaced by `address`: through the forwarder.
pub fn redirected(url: &str, address: SocketAddr) -> String {
    let (before, _, after) = split_url(url);
    format!("{before}{address}{after}")
}
