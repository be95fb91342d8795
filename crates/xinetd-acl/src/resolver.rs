//! Name lookups: the [`Resolver`] trait and a table-driven resolver. The system
//! implementation with a deadline is in `system_resolver` (cargo feature `system-resolver`).
//!
//! The decision API never calls a resolver itself: it answers
//! [`Decision::NeedsLookup`](crate::Decision::NeedsLookup) and the caller performs the lookup
//! where blocking is acceptable (a worker thread, or the forked child as xinetd does, F-205,
//! F-996). Only [`AccessList::add`](crate::AccessList::add) calls a resolver directly, while
//! the configuration is read, as xinetd does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The lookup did not finish before the deadline.
    #[error("lookup of {what} timed out after {timeout:?}")]
    TimedOut {
        /// Name or address looked up.
        what: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// Too many lookups are already waiting on the system resolver; refused at once so that a
    /// flood of connections cannot pile up threads.
    #[error("too many lookups in flight ({limit}); {what} not looked up")]
    Busy {
        /// Name or address that was not looked up.
        what: String,
        /// The limit of concurrent lookups.
        limit: usize,
    },
    /// The resolver answered that there is no such name/address, or failed.
    #[error("lookup of {what} failed: {reason}")]
    Failed {
        /// Name or address looked up.
        what: String,
        /// The resolver's reason.
        reason: String,
    },
}

/// Name service used by access control.
///
/// Implementations must be usable from several threads (the daemon may run lookups on a pool).
pub trait Resolver: Send + Sync {
    /// Addresses of a host name (forward lookup), used while reading the configuration: xinetd
    /// only accepts a host-name entry that resolves (F-205).
    fn lookup_host(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError>;

    /// The name of an address (reverse lookup, `getnameinfo(NI_NAMEREQD)`), used to match host
    /// and `.domain` entries when a client connects. `Ok(None)` means "no name".
    fn reverse_lookup(&self, addr: IpAddr) -> Result<Option<String>, ResolveError>;

    /// Network number of a name in /etc/networks (F-207), e.g. `127` for `loopback`.
    fn lookup_network(&self, name: &str) -> Result<Option<u32>, ResolveError>;
}

/// Find `name` (or an alias) in the text of an /etc/networks file: `name number [aliases]`,
/// `#` comments; the number in `inet_network` form (`127`, `192.168.1`, `0x7f`).
/// Names are case-sensitive, as in glibc's files backend.
pub fn parse_networks(text: &str, name: &str) -> Option<u32> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(official), Some(number)) = (fields.next(), fields.next()) else {
            continue;
        };
        if official == name || fields.any(|alias| alias == name) {
            return inet_network(number);
        }
    }
    None
}

/// glibc's `inet_network`: up to four dot-separated parts, each a byte, combined base 256.
fn inet_network(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut value: u32 = 0;
    for p in parts {
        let v = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse().ok()?
        };
        if v > 255 {
            return None;
        }
        value = (value << 8) | v;
    }
    Some(value)
}

/// A resolver answering from tables: for tests, and for embedders that want decisions without
/// any name service. Unknown names and addresses have no answer (`Ok` with nothing), unless
/// marked as failing.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<IpAddr>>,
    names: HashMap<IpAddr, String>,
    networks: HashMap<String, u32>,
    failing: Vec<IpAddr>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Add a host name with its addresses (forward lookups).
    pub fn host(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> StaticResolver {
        self.hosts.entry(name.to_owned()).or_default().extend(addrs);
        self
    }

    /// Add the reverse name of an address.
    pub fn reverse(mut self, addr: IpAddr, name: &str) -> StaticResolver {
        self.names.insert(addr, name.to_owned());
        self
    }

    /// Add a network name with its network number (as in /etc/networks).
    pub fn network(mut self, name: &str, number: u32) -> StaticResolver {
        self.networks.insert(name.to_owned(), number);
        self
    }

    /// Make reverse lookups of `addr` fail, as a resolver that times out would.
    pub fn failing(mut self, addr: IpAddr) -> StaticResolver {
        self.failing.push(addr);
        self
    }
}

impl Resolver for StaticResolver {
    fn lookup_host(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        Ok(self.hosts.get(name).cloned().unwrap_or_default())
    }

    fn reverse_lookup(&self, addr: IpAddr) -> Result<Option<String>, ResolveError> {
        if self.failing.contains(&addr) {
            return Err(ResolveError::TimedOut {
                what: addr.to_string(),
                timeout: Duration::ZERO,
            });
        }
        Ok(self.names.get(&addr).cloned())
    }

    fn lookup_network(&self, name: &str) -> Result<Option<u32>, ResolveError> {
        Ok(self.networks.get(name).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_file_is_parsed_like_glibc() {
        let text = "# comment\ndefault 0.0.0.0\nloopback 127.0.0.0 lo-net\nlink-local 169.254.0.0\nmynet 192.168.1 office # trailing\n";
        assert_eq!(parse_networks(text, "loopback"), Some(0x7F00_0000));
        assert_eq!(parse_networks(text, "lo-net"), Some(0x7F00_0000));
        assert_eq!(parse_networks(text, "mynet"), Some(0xC0A801));
        assert_eq!(parse_networks(text, "office"), Some(0xC0A801));
        assert_eq!(parse_networks(text, "nosuch"), None);
    }
}
