//! Connections of `proxy_protocol` services (issue 13): the policy built from the
//! configuration, the state machine that reads a PROXY header without blocking, and what an
//! accepted connection carries beyond its socket.
//!
//! The header is read before any check that needs the client's address: only the checks
//! that concern the sending peer itself run first (`proxy_from`, the descriptor budget and
//! the cap on headers in flight). Everything after it — SENSOR, `only_from`/`no_access`,
//! cps/instances/per_source, libwrap, USERID, the records, the server's environment — sees
//! the address the header names.
//!
//! Reading peeks at the socket and consumes exactly the header once it is complete, so the
//! server (which gets the socket itself on fds 0-2) reads the first payload byte first. With
//! edge-triggered polling a peek that leaves bytes in the socket is fine: each new segment
//! is a new edge.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Registry};

use crate::proxy_header::{self, Accept, Header};
use crate::service::Service;
use crate::session::Socket;

/// Headers being read at once, at most (over all services): past it a connection is
/// refused at once, so a flood of silent peers holds a bounded number of descriptors.
pub const MAX_PENDING: usize = 1024;

/// A service's `proxy_protocol`, `proxy_from`, `proxy_timeout`.
pub struct Policy {
    /// The versions accepted.
    pub accept: Accept,
    /// `proxy_from` (`None`: any peer may send a header).
    pub from: Option<xinetd_acl::AccessList>,
    /// `proxy_protocol = ... direct`: peers outside `proxy_from` are served as they are.
    pub direct: bool,
    /// `proxy_timeout`.
    pub timeout: Duration,
}

impl Policy {
    /// The policy of `c` (`None` without `proxy_protocol`); host names in `proxy_from` are
    /// resolved now, like `only_from`'s.
    pub fn of(
        c: &xinetd_conf::Service,
        resolver: &dyn xinetd_acl::Resolver,
    ) -> Result<Option<Policy>, String> {
        use xinetd_conf::proxy::ProxyVersions;
        let Some(pp) = &c.proxy.proxy_protocol else {
            return Ok(None);
        };
        let accept = match pp.value.versions {
            ProxyVersions::V1 => Accept {
                v1: true,
                v2: false,
            },
            ProxyVersions::V2 => Accept {
                v1: false,
                v2: true,
            },
            ProxyVersions::Any => Accept { v1: true, v2: true },
        };
        let from = match &c.proxy.proxy_from {
            None => None,
            Some(l) => {
                let words = l
                    .value
                    .iter()
                    .filter(|e| e.form != xinetd_conf::AddressForm::Unparsed)
                    .map(|e| e.text.as_str());
                let (list, _warnings) = xinetd_acl::AccessList::from_values(words, resolver)
                    .map_err(|e| format!("service {}: proxy_from: {}", c.id.value, e.text()))?;
                Some(list)
            }
        };
        Ok(Some(Policy {
            accept,
            from,
            direct: pp.value.direct,
            timeout: Duration::from_secs(c.proxy.timeout_secs().into()),
        }))
    }

    /// True when `peer` may send a header.
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        self.from
            .as_ref()
            .is_none_or(|l| l.address_match(peer).is_some())
    }
}

/// An accepted stream connection and what is known of its client beyond the socket.
pub struct Conn {
    /// The socket (the server's fds 0-2).
    pub stream: mio::net::TcpStream,
    /// The PROXY header it started with.
    pub proxy: Option<Box<Received>>,
    /// The client's identd answer (`USERID`), for `TCPREMOTEINFO`.
    pub remote_info: Option<String>,
}

impl Conn {
    /// A connection without a header.
    pub fn direct(stream: mio::net::TcpStream) -> Conn {
        Conn {
            stream,
            proxy: None,
            remote_info: None,
        }
    }

    /// The address the client connected to: the header's destination, else our end.
    pub fn local(&self) -> Option<SocketAddr> {
        match self.proxy.as_deref().and_then(|r| r.header.addresses) {
            Some((_, dest)) => Some(dest),
            None => self.stream.local_addr().ok(),
        }
    }
}

/// A header received, and from whom.
pub struct Received {
    /// The header.
    pub header: Header,
    /// The peer that sent it (the balancer).
    pub balancer: SocketAddr,
}

/// A connection whose header is being read.
pub struct Pending {
    /// The daemon's key of the service.
    pub key: u64,
    /// The service.
    pub svc: Service,
    /// The connection.
    pub sock: Socket,
    /// The peer that sends the header.
    pub balancer: SocketAddr,
    /// `proxy_timeout` from the accept.
    pub deadline: Instant,
    accept: Accept,
}

/// What a turn found.
pub enum Turn {
    /// The header is not complete yet.
    Wait,
    /// The header, consumed from the socket.
    Done(Box<Header>),
    /// Refuse the connection, for this reason (the daemon-log text).
    Refuse(String),
}

impl Pending {
    /// A connection from `balancer` to read a header from, within `policy.timeout`.
    pub fn new(
        key: u64,
        svc: Service,
        sock: Socket,
        balancer: SocketAddr,
        policy: &Policy,
        now: Instant,
    ) -> Pending {
        Pending {
            key,
            svc,
            sock,
            balancer,
            deadline: now + policy.timeout,
            accept: policy.accept,
        }
    }

    /// Looks at what arrived; consumes exactly the header when it is complete.
    pub fn turn(&mut self) -> Turn {
        let mut buf = [0u8; proxy_header::MAX_HEADER];
        let n = loop {
            match self.sock.stream.peek(&mut buf) {
                Ok(0) => {
                    return Turn::Refuse(
                        "connection closed before the PROXY header was complete".to_string(),
                    )
                }
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Turn::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Turn::Refuse(format!(
                        "reading the PROXY header: {}",
                        xinetd_log::explain_errno(&e)
                    ))
                }
            }
        };
        match proxy_header::read(&buf[..n], self.accept) {
            // A peek shows the bytes before an EOF, never the EOF itself: ask the socket
            // whether the peer has shut its sending half (a truncated header).
            proxy_header::Read::More if peer_closed(&self.sock.stream) => {
                Turn::Refuse("connection closed before the PROXY header was complete".to_string())
            }
            proxy_header::Read::More => Turn::Wait,
            proxy_header::Read::Bad(b) => Turn::Refuse(b.text().to_string()),
            proxy_header::Read::Done(h, len) => match consume(&mut self.sock.stream, len) {
                Ok(()) => Turn::Done(h),
                Err(e) => Turn::Refuse(format!(
                    "consuming the PROXY header: {}",
                    xinetd_log::explain_errno(&e)
                )),
            },
        }
    }

    /// Interest while the header is read: readable, always.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        self.sock.follow(registry, Some(Interest::READABLE))
    }
}

/// Reads exactly `len` bytes that a peek has shown to be there.
fn consume(stream: &mut mio::net::TcpStream, len: usize) -> io::Result<()> {
    let mut sink = [0u8; 512];
    let mut left = len;
    while left > 0 {
        let want = left.min(sink.len());
        match stream.read(&mut sink[..want]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// True when the peer shut its sending half (or the connection failed): `POLLRDHUP`.
fn peer_closed(stream: &mio::net::TcpStream) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    // nix names no POLLRDHUP; the bit is Linux's.
    let rdhup = PollFlags::from_bits_retain(nix::libc::POLLRDHUP);
    let mut fds = [PollFd::new(stream.as_fd(), rdhup)];
    // Only POLLRDHUP is asked for: any event is it, POLLHUP or POLLERR (nix's revents()
    // cannot show POLLRDHUP, a bit it does not name, so the count is what tells).
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}
