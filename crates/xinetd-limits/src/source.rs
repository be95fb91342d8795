//! Which part of a client's address is "the source" for `per_source` and SENSOR bans
//! (extension `source_prefix = V4BITS V6BITS`).
//!
//! One IPv6 client usually owns a whole /64, so an exact-address key lets it open a fresh
//! source per address. A [`SourcePrefix`] masks the address to a network before it is
//! counted or banned; the default (32, 128) keeps xinetd's exact addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::LimitsError;

/// Prefix lengths for IPv4 and IPv6 clients (IPv4-mapped IPv6 clients count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourcePrefix {
    v4: u8,
    v6: u8,
}

impl SourcePrefix {
    /// Exact addresses (xinetd's behaviour).
    pub const EXACT: SourcePrefix = SourcePrefix { v4: 32, v6: 128 };

    /// Prefix lengths `v4` (0..=32) and `v6` (0..=128).
    ///
    /// # Errors
    /// [`LimitsError::InvalidSourcePrefix`] when a length is out of range.
    pub fn new(v4: u8, v6: u8) -> Result<Self, LimitsError> {
        if v4 > 32 || v6 > 128 {
            return Err(LimitsError::InvalidSourcePrefix { v4, v6 });
        }
        Ok(SourcePrefix { v4, v6 })
    }

    /// The IPv4 prefix length.
    pub fn v4(self) -> u8 {
        self.v4
    }

    /// The IPv6 prefix length.
    pub fn v6(self) -> u8 {
        self.v6
    }

    /// The source `ip` belongs to.
    pub fn source(self, ip: IpAddr) -> Source {
        match ip.to_canonical() {
            IpAddr::V4(a) => Source::new(IpAddr::V4(a), self.v4),
            IpAddr::V6(a) => Source::new(IpAddr::V6(a), self.v6),
        }
    }
}

impl Default for SourcePrefix {
    fn default() -> Self {
        SourcePrefix::EXACT
    }
}

/// A client network: an address masked to a prefix length. Shown as the bare address for a
/// full-length prefix (so xinetd's messages are unchanged), `net/len` otherwise. A client of
/// a Unix-domain socket is its uid instead ([`Source::uid`]): `len` is then 0 and `net`
/// unused, told apart by `uid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    net: IpAddr,
    len: u8,
    uid: Option<u32>,
}

impl Source {
    /// The client of a Unix-domain socket, counted by its uid (SO_PEERCRED).
    pub fn uid(uid: u32) -> Source {
        Source {
            net: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            len: 0,
            uid: Some(uid),
        }
    }

    /// The uid of a Unix-domain client ([`Source::uid`]).
    pub fn as_uid(self) -> Option<u32> {
        self.uid
    }

    fn new(ip: IpAddr, len: u8) -> Source {
        let net = match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Source {
            net,
            len,
            uid: None,
        }
    }

    /// The network address.
    pub fn network(self) -> IpAddr {
        self.net
    }

    /// The prefix length.
    pub fn prefix_len(self) -> u8 {
        self.len
    }

    /// Whether this is a whole address.
    pub fn is_exact(self) -> bool {
        self.uid.is_some() || self.len == if self.net.is_ipv4() { 32 } else { 128 }
    }

    /// Whether `ip` is inside this network.
    pub fn contains(self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.uid.is_none()
            && ip.is_ipv4() == self.net.is_ipv4()
            && Source::new(ip, self.len) == self
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uid) = self.uid {
            write!(f, "uid {uid}")
        } else if self.is_exact() {
            write!(f, "{}", self.net)
        } else {
            write!(f, "{}/{}", self.net, self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn sources_mask_and_print() {
        let p = SourcePrefix::new(24, 64).expect("valid");
        let a = p.source(ip("2001:db8:1:2:aaaa::1"));
        let b = p.source(ip("2001:db8:1:2:bbbb::9"));
        let c = p.source(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert!(a.contains(ip("2001:db8:1:2::77")));
        assert!(!a.contains(ip("10.0.0.1")));
        // IPv4-mapped clients are IPv4 clients.
        assert_eq!(
            p.source(ip("::ffff:192.0.2.7")),
            p.source(ip("192.0.2.200"))
        );
        assert_eq!(p.source(ip("192.0.2.7")).to_string(), "192.0.2.0/24");
        assert_eq!(
            SourcePrefix::EXACT.source(ip("::1")).to_string(),
            "::1",
            "exact keys print as xinetd prints addresses"
        );
        assert_eq!(
            SourcePrefix::new(0, 0)
                .expect("valid")
                .source(ip("10.1.2.3")),
            SourcePrefix::new(0, 0)
                .expect("valid")
                .source(ip("192.0.2.1"))
        );
        assert_eq!(Source::uid(1000).to_string(), "uid 1000");
        assert_ne!(
            Source::uid(0),
            SourcePrefix::new(0, 0)
                .expect("valid")
                .source(ip("0.0.0.0"))
        );
        assert!(SourcePrefix::new(33, 64).is_err());
        assert!(SourcePrefix::new(32, 129).is_err());
    }
}
