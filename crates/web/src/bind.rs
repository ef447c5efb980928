//! Binding a listener, with the one-line error an operator needs when the port is taken.

use std::net::SocketAddr;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("port {port} on {ip} is already in use; choose another address with {flag}")]
    InUse {
        ip: std::net::IpAddr,
        port: u16,
        flag: String,
    },
    #[error("cannot listen on {addr} (change it with {flag}): {source}")]
    Other {
        addr: SocketAddr,
        flag: String,
        source: std::io::Error,
    },
}

/// Binds `addr`; `flag` names the option that changes it (e.g. `--listen`), for the error message.
pub async fn bind(addr: SocketAddr, flag: &str) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            BindError::InUse {
                ip: addr.ip(),
                port: addr.port(),
                flag: flag.to_owned(),
            }
        } else {
            BindError::Other {
                addr,
                flag: flag.to_owned(),
                source,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_named_with_the_flag() {
        let first = bind("127.0.0.1:0".parse().expect("addr"), "--listen")
            .await
            .expect("bind");
        let taken = first.local_addr().expect("addr");
        let error = bind(taken, "--listen").await.expect_err("in use");
        let text = error.to_string();
        assert!(
            text.contains(&taken.port().to_string()) && text.contains("--listen"),
            "{text}"
        );
    }
}
