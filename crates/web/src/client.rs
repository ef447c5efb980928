//! Who is on the other end of a request: the peer's address, or behind a trusted reverse proxy the
//! client it forwards for.

use crate::limits::{Limits, canonical};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address, as limits and logs should see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Hops of `X-Forwarded-For` looked at; a longer chain is someone padding it.
const MAX_FORWARDED_HOPS: usize = 16;

impl ClientAddr {
    /// The peer, unless the peer is a trusted proxy: then the right-most forwarded address that is not
    /// itself a trusted proxy (what a client writes into the header itself is further left, and ignored).
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, limits: &Limits) -> Self {
        let peer = canonical(peer);
        if !limits.is_trusted_proxy(peer) {
            return Self(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
            match hop.parse::<IpAddr>().map(canonical) {
                Ok(ip) if limits.is_trusted_proxy(ip) => continue,
                Ok(ip) => return Self(ip),
                Err(_) => break,
            }
        }
        Self(peer)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        if let Some(client) = parts.extensions.get::<ClientAddr>() {
            return Ok(*client);
        }
        // Served without our accept loop (a router driven directly): the peer, if known.
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), |info| {
                Self(canonical(info.0.ip()))
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::IpNet;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().expect("header"));
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().expect("ip");
        let limits = Limits {
            trusted_proxies: vec![IpNet::parse("10.0.0.0/24").expect("net")],
            ..Limits::default()
        };
        let spoofed = headers("1.1.1.1, 203.0.113.7");
        assert_eq!(
            ClientAddr::resolve(proxy, &spoofed, &limits).0,
            "203.0.113.7".parse::<IpAddr>().expect("ip")
        );
        // A client talking to us directly cannot choose its address.
        let direct: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(ClientAddr::resolve(direct, &spoofed, &limits).0, direct);
        // Proxies in a chain are skipped; garbage stops the walk at the proxy.
        assert_eq!(
            ClientAddr::resolve(proxy, &headers("203.0.113.9, 10.0.0.3"), &limits).0,
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            ClientAddr::resolve(proxy, &headers("nonsense"), &limits).0,
            proxy
        );
        assert_eq!(
            ClientAddr::resolve(proxy, &HeaderMap::new(), &limits).0,
            proxy
        );
    }
}
