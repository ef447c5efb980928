//! Every limit that protects a server from its callers, in one place with its default: how long a
//! connection may take to say what it wants, how many connections one address may hold, and how many
//! requests each kind of caller may make. `docs/security.md` lists them for operators.

use std::net::IpAddr;
use std::time::Duration;

pub use switchboard_domain::limits::Rate;

/// Request rates by kind of caller. A caller with a token is counted by its token, one without by its
/// address; every request also counts for its address, so one address cannot multiply its allowance by
/// cycling tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Requests without a token (the login page, health checks, the console's files), per address.
    pub anonymous: Rate,
    /// A console user's session.
    pub user: Rate,
    /// An integrator's API token.
    pub integrator: Rate,
    /// A bot's token: its ingest posts batches, so fewer, larger requests.
    pub bot: Rate,
    /// A phone system's token (the CTI webhook).
    pub phone_system: Rate,
    /// Everything from one address together.
    pub address: Rate,
    /// Requests answered `401` (an unknown or revoked token) from one address: probing for tokens.
    pub failed_auth: Rate,
    /// Requests one token may have in progress at once; more are refused, not queued, so one caller's
    /// slow searches cannot take every database reader.
    pub in_flight_per_token: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            anonymous: Rate::new(20.0, 100.0),
            user: Rate::new(50.0, 200.0),
            integrator: Rate::new(200.0, 1000.0),
            bot: Rate::new(200.0, 1000.0),
            phone_system: Rate::new(100.0, 500.0),
            address: Rate::new(1000.0, 4000.0),
            failed_auth: Rate::new(0.5, 20.0),
            in_flight_per_token: 8,
        }
    }
}

impl RateLimits {
    pub fn unlimited() -> Self {
        Self {
            anonymous: Rate::UNLIMITED,
            user: Rate::UNLIMITED,
            integrator: Rate::UNLIMITED,
            bot: Rate::UNLIMITED,
            phone_system: Rate::UNLIMITED,
            address: Rate::UNLIMITED,
            failed_auth: Rate::UNLIMITED,
            in_flight_per_token: usize::MAX,
        }
    }
}

/// An address or a network (`10.0.0.0/8`, `::1/128`), for the list of trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.trim().parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:1.2.3.4`) is the IPv4 client.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address that limits count: an IPv4 address, or the /64 network of an IPv6 one (a single
/// customer line or server is given a whole /64, so counting single IPv6 addresses counts nothing).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// The limits of one server (a role's port).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// A request's head must arrive within this long of the connection's opening or of its previous
    /// answer; the same timer closes keep-alive connections left idle.
    pub header_timeout: Duration,
    /// A request's body must arrive within this long.
    pub body_timeout: Duration,
    /// Connections one address may hold open at once (trusted proxies are not counted).
    pub connections_per_address: usize,
    /// Connections open at once in all; `0` shares the process's descriptor limit, less a reserve,
    /// among every server of the process.
    pub max_connections: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client; nobody else's is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub rates: RateLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            connections_per_address: 256,
            max_connections: 0,
            trusted_proxies: Vec::new(),
            rates: RateLimits::default(),
        }
    }
}

impl Limits {
    /// No caps on callers, the timeouts kept: for benchmarks whose load comes from one address.
    pub fn unlimited() -> Self {
        Self {
            connections_per_address: usize::MAX,
            rates: RateLimits::unlimited(),
            ..Self::default()
        }
    }

    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(ip))
    }
}

/// Descriptors kept back from connections for the database, its WAL, logs and outgoing calls.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the process's open-file limit to its hard limit (systemd's default soft limit is 1,024,
/// which a thousand idle connections exhaust) and answers how many connections that leaves room for,
/// for all the servers of the process together. Done once per process.
pub fn raise_descriptor_limit() -> usize {
    static ROOM: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ROOM.get_or_init(raise_once)
}

fn raise_once() -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let room = limit.saturating_sub(RESERVED_DESCRIPTORS).max(16);
            usize::try_from(room).unwrap_or(usize::MAX)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit");
            1024 - RESERVED_DESCRIPTORS as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let net = IpNet::parse("10.0.0.0/8").expect("net");
        assert!(net.contains("10.200.1.2".parse().expect("ip")));
        assert!(!net.contains("11.0.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.0.0.9".parse().expect("ip")));
        let one = IpNet::parse("127.0.0.1").expect("one");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        let v6 = IpNet::parse("fd00::/8").expect("v6");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .expect("all")
                .contains("8.8.8.8".parse().expect("ip"))
        );
        assert_eq!(IpNet::parse("10.0.0.0/33"), None);
        assert_eq!(IpNet::parse("example"), None);
    }
}
