//! The client address as xinetd prints it in `from=`, `NOID:` and its program log. Shared by
//! the records ([`crate::record`]) and the ident client ([`crate::ident`]), so it lives apart
//! from both.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The peer address as xinetd prints it in `from=` and `NOID:` (F-726).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A numeric address. Pass the address of the socket as accepted: on a dual-stack
    /// (IPv6) service an IPv4 client is `::ffff:a.b.c.d` and is printed that way.
    Addr(IpAddr),
    /// tcp `wait = yes` services have no peer address: `<no address>` (F-963).
    NoAddress,
    /// Extension: the client of a Unix-domain socket, by its credentials (SO_PEERCRED),
    /// printed `unix:uid=U,gid=G`.
    Unix {
        /// The client's uid.
        uid: u32,
        /// The client's gid.
        gid: u32,
    },
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Addr(IpAddr::V4(a)) => write!(f, "{a}"),
            Peer::Addr(IpAddr::V6(a)) => write_ipv6(f, a),
            Peer::NoAddress => f.write_str("<no address>"),
            Peer::Unix { uid, gid } => write!(f, "unix:uid={uid},gid={gid}"),
        }
    }
}

impl Peer {
    /// The address, if there is one.
    pub fn addr(self) -> Option<IpAddr> {
        match self {
            Peer::Addr(a) => Some(a),
            Peer::NoAddress | Peer::Unix { .. } => None,
        }
    }
}

impl From<IpAddr> for Peer {
    fn from(a: IpAddr) -> Peer {
        Peer::Addr(a)
    }
}

impl From<SocketAddr> for Peer {
    /// The address of an accepted connection's `peer_addr()` (the port is not logged).
    fn from(a: SocketAddr) -> Peer {
        Peer::Addr(a.ip())
    }
}

impl From<Option<SocketAddr>> for Peer {
    /// `None` (tcp `wait = yes`: xinetd has no peer address) is `<no address>`.
    fn from(a: Option<SocketAddr>) -> Peer {
        a.map_or(Peer::NoAddress, Peer::from)
    }
}

/// IPv6 text as glibc's `getnameinfo(NI_NUMERICHOST)` prints it. Rust's `Display` agrees
/// (RFC 5952, `::ffff:a.b.c.d` for mapped addresses) except for the deprecated
/// IPv4-compatible form `::a.b.c.d`, which glibc still prints in dotted form.
fn write_ipv6(f: &mut fmt::Formatter<'_>, a: &Ipv6Addr) -> fmt::Result {
    let s = a.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let o = a.octets();
        return write!(f, "::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
    }
    write!(f, "{a}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn peer_text_matches_getnameinfo() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("addr");
        assert_eq!(Peer::Addr(mapped).to_string(), "::ffff:127.0.0.1");
        assert_eq!(
            Peer::Addr(Ipv4Addr::LOCALHOST.into()).to_string(),
            "127.0.0.1"
        );
        assert_eq!(Peer::Addr("::1".parse().expect("addr")).to_string(), "::1");
        assert_eq!(
            Peer::Unix {
                uid: 1000,
                gid: 100
            }
            .to_string(),
            "unix:uid=1000,gid=100"
        );
        assert_eq!(
            Peer::Addr("::7f00:1".parse().expect("addr")).to_string(),
            "::127.0.0.1"
        );
        assert_eq!(
            Peer::Addr("2001:db8::1".parse().expect("addr")).to_string(),
            "2001:db8::1"
        );
        assert_eq!(Peer::NoAddress.to_string(), "<no address>");
        let sa: SocketAddr = "[::ffff:10.0.0.1]:4000".parse().expect("socket address");
        assert_eq!(Peer::from(sa).to_string(), "::ffff:10.0.0.1");
        assert_eq!(Peer::from(None::<SocketAddr>), Peer::NoAddress);
    }
}
