//! Listening sockets as xinetd creates them (F-001, F-136, F-144, F-145, F-148, F-149, F-820),
//! plus `bind_device` (SO_BINDTODEVICE), the interface binding xinetd lacks (F-974).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Address family choice of a service (F-001, F-148).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `flags = IPv4`, or an IPv4 `bind`.
    V4,
    /// `flags = IPv6`, an IPv6 `bind`, or neither (2.3.15.3's dual-stack default, F-001).
    V6,
}

/// Everything needed to open one listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpec {
    /// Stream (TCP) or dgram (UDP).
    pub stream: bool,
    /// `bind`/`interface` address, if any (F-125).
    pub bind: Option<IpAddr>,
    /// Family when `bind` is absent.
    pub family: Family,
    /// Port (F-123).
    pub port: u16,
    /// `v6only` set in the service: `Some(true)` sets IPV6_V6ONLY, otherwise it is cleared so
    /// the socket is dual-stack whatever the kernel default (F-136; see docs/compat.md for
    /// `v6only = no`).
    pub v6only: Option<bool>,
    /// `flags = KEEPALIVE` (F-145).
    pub keepalive: bool,
    /// `flags = NODELAY` (F-144).
    pub nodelay: bool,
    /// `bind_device = IFNAME` (extension): SO_BINDTODEVICE.
    pub bind_device: Option<String>,
    /// Extensions: `backlog`, `keepalive`, `reuseport`, ... (crate::sockopt).
    /// Out of line, and absent when nothing is set (most services): a service is copied
    /// into every request, so rare options cost it a pointer and no allocation.
    pub tuning: xinetd_conf::Extension<crate::sockopt::Tuning>,
}

impl ListenSpec {
    /// The address the socket binds.
    pub fn address(&self) -> SocketAddr {
        let ip = self.bind.unwrap_or(match self.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        SocketAddr::new(ip, self.port)
    }
}

/// An open listening socket.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listening socket.
    Tcp(mio::net::TcpListener),
    /// A UDP socket.
    Udp(mio::net::UdpSocket),
    /// A Unix-domain stream listener, with its socket file (removed when dropped; held
    /// for that alone).
    UnixStream(
        mio::net::UnixListener,
        #[allow(dead_code)] Option<crate::unixsock::SocketFile>,
    ),
    /// A Unix-domain datagram socket, with its socket file (removed when dropped; held for
    /// that alone).
    UnixDgram(
        mio::net::UnixDatagram,
        #[allow(dead_code)] Option<crate::unixsock::SocketFile>,
    ),
}

impl Listener {
    /// The raw descriptor (for the state dump and for `wait = yes` servers).
    pub fn raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Udp(u) => u.as_raw_fd(),
            Listener::UnixStream(l, _) => l.as_raw_fd(),
            Listener::UnixDgram(u, _) => u.as_raw_fd(),
        }
    }

    /// The bound address (the real port when the config said 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr(),
            Listener::Udp(u) => u.local_addr(),
            Listener::UnixStream(..) | Listener::UnixDgram(..) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a Unix-domain socket has no IP address",
            )),
        }
    }

    /// Starts watching the socket for requests.
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        let i = mio::Interest::READABLE;
        match self {
            Listener::Tcp(t) => registry.register(t, token, i),
            Listener::Udp(u) => registry.register(u, token, i),
            Listener::UnixStream(l, _) => registry.register(l, token, i),
            Listener::UnixDgram(u, _) => registry.register(u, token, i),
        }
    }

    /// Stops watching the socket.
    pub fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(t) => registry.deregister(t),
            Listener::Udp(u) => registry.deregister(u),
            Listener::UnixStream(l, _) => registry.deregister(l),
            Listener::UnixDgram(u, _) => registry.deregister(u),
        }
    }

    /// The socket as a borrowed descriptor.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match self {
            Listener::Tcp(t) => t.as_fd(),
            Listener::Udp(u) => u.as_fd(),
            Listener::UnixStream(l, _) => l.as_fd(),
            Listener::UnixDgram(u, _) => u.as_fd(),
        }
    }

    /// Throws away the request waiting on the socket (a connection or one datagram), so a
    /// refused `wait = yes` service does not wake the loop again for it (F-402).
    pub fn discard_request(&self) {
        match self {
            Listener::Tcp(t) => {
                let _ = t.accept();
            }
            Listener::Udp(u) => {
                // A datagram is consumed whole, whatever the buffer's size.
                let mut byte = [0u8; 1];
                let _ = u.recv_from(&mut byte);
            }
            Listener::UnixStream(l, _) => {
                let _ = l.accept();
            }
            Listener::UnixDgram(u, _) => {
                let mut byte = [0u8; 1];
                let _ = u.recv(&mut byte);
            }
        }
    }
}

/// Opens, configures and binds one listening socket: close-on-exec (socket2 creates sockets
/// with SOCK_CLOEXEC), non-blocking, `SO_REUSEADDR` always (F-149).
pub fn open(spec: &ListenSpec) -> io::Result<Listener> {
    if let Some(unix) = &spec.tuning.unix {
        let (sock, file) = crate::unixsock::open(unix, spec.stream, spec.tuning.backlog())?;
        return Ok(if spec.stream {
            Listener::UnixStream(mio::net::UnixListener::from_std(sock.into()), file)
        } else {
            Listener::UnixDgram(mio::net::UnixDatagram::from_std(sock.into()), file)
        });
    }
    let mut addr = spec.address();
    if let (Some(scope), SocketAddr::V6(v6)) = (&spec.tuning.scope, &mut addr) {
        v6.set_scope_id(crate::sockopt::scope_id(scope)?);
    }
    let domain = Domain::for_address(addr);
    let (ty, proto) = if spec.stream {
        (Type::STREAM, Protocol::TCP)
    } else {
        (Type::DGRAM, Protocol::UDP)
    };
    let sock = Socket::new(domain, ty, Some(proto))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(spec.v6only == Some(true))?;
    }
    if let Some(dev) = &spec.bind_device {
        sock.bind_device(Some(dev.as_bytes()))?;
    }
    if spec.stream {
        if spec.keepalive {
            sock.set_keepalive(true)?;
        }
        if spec.nodelay {
            sock.set_nodelay(true)?;
        }
    }
    crate::sockopt::apply(&sock, &spec.tuning, addr.is_ipv6(), spec.stream)?;
    sock.set_nonblocking(true)?;
    sock.bind(&SockAddr::from(addr))?;
    if spec.stream {
        sock.listen(spec.tuning.backlog())?;
        Ok(Listener::Tcp(mio::net::TcpListener::from_std(sock.into())))
    } else {
        Ok(Listener::Udp(mio::net::UdpSocket::from_std(sock.into())))
    }
}

/// Sets or clears O_NONBLOCK on a descriptor we hand to a server: servers expect blocking
/// sockets (xinetd's listening and accepted sockets are blocking, F-414).
pub fn set_blocking(fd: &impl std::os::fd::AsFd, blocking: bool) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let mut flags = OFlag::from_bits_truncate(flags);
    flags.set(OFlag::O_NONBLOCK, !blocking);
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(stream: bool, bind: Option<IpAddr>) -> ListenSpec {
        ListenSpec {
            stream,
            bind,
            family: Family::V6,
            port: 0,
            v6only: None,
            keepalive: true,
            nodelay: true,
            bind_device: None,
            tuning: Default::default(),
        }
    }

    #[test]
    fn sockets_are_made_as_xinetd_makes_them() {
        let l = open(&spec(true, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)))).expect("tcp");
        let Listener::Tcp(t) = &l else {
            panic!("a TCP listener")
        };
        let s = socket2::SockRef::from(t);
        assert!(s.reuse_address().expect("SO_REUSEADDR"), "F-149");
        assert!(s.keepalive().expect("SO_KEEPALIVE"), "F-145");
        assert!(s.nodelay().expect("TCP_NODELAY"), "F-144");
        assert!(
            s.nonblocking().expect("O_NONBLOCK"),
            "the loop never blocks"
        );
        assert!(l.local_addr().expect("bound").port() != 0);
        let u = open(&spec(false, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)))).expect("udp");
        assert!(matches!(u, Listener::Udp(_)));
    }

    #[test]
    fn the_default_is_dual_stack_and_blocking_can_be_restored() {
        // 2.3.15.3's default (F-001): IPv6 wildcard without IPV6_V6ONLY.
        let Ok(l) = open(&spec(true, None)) else {
            eprintln!("skipped: no IPv6 on this machine");
            return;
        };
        let Listener::Tcp(t) = &l else {
            panic!("a TCP listener")
        };
        let s = socket2::SockRef::from(t);
        assert!(!s.only_v6().expect("IPV6_V6ONLY"));
        // Servers get blocking sockets (F-414).
        set_blocking(&l.as_fd(), true).expect("blocking");
        assert!(!s.nonblocking().expect("O_NONBLOCK"));
    }
}
