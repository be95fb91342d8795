//! The listening-socket options a service may set (extensions: `backlog`, `keepalive`,
//! `reuseport`, `freebind`, `defer_accept`, `mark`, `receive_buffer`, `send_buffer`) and the
//! scope of an IPv6 link-local `bind` address.
//!
//! Options are set before `bind()` (freebind and reuseport must be, the others may be), so a
//! socket is either made whole or not at all. On Linux an accepted TCP socket inherits
//! keepalive and its timers, the mark and the buffer sizes from the listening socket, which is
//! how the server's connection gets them.

use std::io;
use std::time::Duration;

use socket2::{Socket, TcpKeepalive};

/// Listen backlog when the service does not set `backlog`. xinetd uses 64 (F-820); a burst
/// of connections beyond it is refused or retried by the kernel, so we ask for more (the
/// kernel caps it at `somaxconn`).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// `keepalive = IDLE [INTERVAL [COUNT]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Seconds before the first probe.
    pub idle: u32,
    /// Seconds between probes (`None`: the kernel's default).
    pub interval: Option<u32>,
    /// Probes before the connection is dropped (`None`: the kernel's default).
    pub count: Option<u32>,
}

/// The options of one listening socket; `Tuning::default()` is a socket made as before the
/// options existed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    /// listen(2) backlog (`None`: [`DEFAULT_BACKLOG`]).
    pub backlog: Option<u32>,
    /// TCP keepalive timers (also turns SO_KEEPALIVE on).
    pub keepalive: Option<Keepalive>,
    /// SO_REUSEPORT.
    pub reuseport: bool,
    /// IP_FREEBIND / IPV6_FREEBIND.
    pub freebind: bool,
    /// TCP_DEFER_ACCEPT, seconds.
    pub defer_accept: Option<u32>,
    /// SO_MARK.
    pub mark: Option<u32>,
    /// SO_RCVBUF, bytes.
    pub receive_buffer: Option<u32>,
    /// SO_SNDBUF, bytes.
    pub send_buffer: Option<u32>,
    /// The scope of an IPv6 link-local `bind` (`fe80::1%eth0`), an interface name or index,
    /// resolved when the socket is opened (kept here, out of line, with the other rare
    /// listening-socket choices).
    pub scope: Option<String>,
    /// Extension `socket_path`: a Unix-domain listener instead of an IP one (then `bind`,
    /// `family` and `port` are unused).
    pub unix: Option<crate::unixsock::UnixSpec>,
}

/// Most services set no option, so a [`crate::listen::ListenSpec`] keeps its tuning as an
/// [`xinetd_conf::Extension`]: absent (one pointer, nothing to allocate when a request copies
/// the service) unless something differs from this.
impl xinetd_conf::AttributeGroup for Tuning {
    const EMPTY: &'static Self = &Tuning {
        backlog: None,
        keepalive: None,
        reuseport: false,
        freebind: false,
        defer_accept: None,
        mark: None,
        receive_buffer: None,
        send_buffer: None,
        scope: None,
        unix: None,
    };
}

impl Tuning {
    /// The backlog passed to listen(2).
    pub fn backlog(&self) -> i32 {
        i32::try_from(self.backlog.unwrap_or(DEFAULT_BACKLOG)).unwrap_or(i32::MAX)
    }
}

/// The options of a configured service.
pub fn tuning(o: &xinetd_conf::SocketOptions) -> Tuning {
    Tuning {
        backlog: o.backlog.as_ref().map(|v| v.value),
        keepalive: o.keepalive.as_ref().map(|k| Keepalive {
            idle: k.value.idle,
            interval: k.value.interval,
            count: k.value.count,
        }),
        reuseport: o.reuseport.as_ref().is_some_and(|v| v.value),
        freebind: o.freebind.as_ref().is_some_and(|v| v.value),
        defer_accept: o.defer_accept.as_ref().map(|v| v.value),
        mark: o.mark.as_ref().map(|v| v.value),
        receive_buffer: o.receive_buffer.as_ref().map(|v| v.value),
        send_buffer: o.send_buffer.as_ref().map(|v| v.value),
        scope: None,
        unix: crate::unixsock::UnixSpec::of(o),
    }
}

// TCP_DEFER_ACCEPT is in neither socket2 nor nix's list; nix's own macro defines the option
// type (the setsockopt call and its unsafe block live in nix), so this crate stays free of
// `unsafe`.
use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};
sockopt_impl!(
    TcpDeferAccept,
    Both,
    libc::IPPROTO_TCP,
    libc::TCP_DEFER_ACCEPT,
    i32
);

/// Names the option in the error, so the daemon's log says which attribute failed.
fn named(what: &'static str) -> impl Fn(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Sets the options on a socket that is not bound yet.
pub fn apply(sock: &Socket, t: &Tuning, v6: bool, stream: bool) -> io::Result<()> {
    if t.reuseport {
        sock.set_reuse_port(true).map_err(named("reuseport"))?;
    }
    if t.freebind {
        if v6 {
            sock.set_freebind_ipv6(true).map_err(named("freebind"))?;
        } else {
            sock.set_freebind(true).map_err(named("freebind"))?;
        }
    }
    if let Some(mark) = t.mark {
        sock.set_mark(mark)
            .map_err(named("mark (needs CAP_NET_ADMIN)"))?;
    }
    if let Some(n) = t.receive_buffer {
        sock.set_recv_buffer_size(n as usize)
            .map_err(named("receive_buffer"))?;
    }
    if let Some(n) = t.send_buffer {
        sock.set_send_buffer_size(n as usize)
            .map_err(named("send_buffer"))?;
    }
    if !stream {
        return Ok(());
    }
    if let Some(k) = t.keepalive {
        let mut params = TcpKeepalive::new().with_time(Duration::from_secs(u64::from(k.idle)));
        if let Some(i) = k.interval {
            params = params.with_interval(Duration::from_secs(u64::from(i)));
        }
        if let Some(c) = k.count {
            params = params.with_retries(c);
        }
        sock.set_tcp_keepalive(&params)
            .map_err(named("keepalive"))?;
    }
    if let Some(secs) = t.defer_accept {
        let secs = i32::try_from(secs).unwrap_or(i32::MAX);
        nix::sys::socket::setsockopt(sock, TcpDeferAccept, &secs)
            .map_err(|e| named("defer_accept")(e.into()))?;
    }
    Ok(())
}

/// The interface index of a link-local scope: a number, or an interface name.
pub fn scope_id(scope: &str) -> io::Result<u32> {
    if let Ok(n) = scope.parse::<u32>() {
        return Ok(n);
    }
    nix::net::if_::if_nametoindex(scope).map_err(|e| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("scope '{scope}' is not an interface here: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Type};

    #[test]
    fn the_empty_tuning_is_the_default() {
        use xinetd_conf::AttributeGroup;
        assert_eq!(*Tuning::EMPTY, Tuning::default());
    }

    #[test]
    fn options_are_set_on_the_socket() {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let t = Tuning {
            backlog: Some(7),
            keepalive: Some(Keepalive {
                idle: 61,
                interval: Some(7),
                count: Some(4),
            }),
            reuseport: true,
            freebind: true,
            defer_accept: Some(3),
            mark: None,
            receive_buffer: Some(65536),
            send_buffer: Some(65536),
            scope: None,
            unix: None,
        };
        apply(&s, &t, false, true).expect("apply");
        assert!(s.reuse_port().expect("SO_REUSEPORT"));
        assert!(s.freebind().expect("IP_FREEBIND"));
        assert!(s.keepalive().expect("SO_KEEPALIVE"));
        assert_eq!(s.keepalive_time().expect("idle"), Duration::from_secs(61));
        assert_eq!(
            s.keepalive_interval().expect("intvl"),
            Duration::from_secs(7)
        );
        assert_eq!(s.keepalive_retries().expect("cnt"), 4);
        assert_eq!(
            nix::sys::socket::getsockopt(&s, TcpDeferAccept).expect("defer"),
            3
        );
        // The kernel doubles the size for its bookkeeping.
        assert_eq!(s.recv_buffer_size().expect("rcvbuf"), 131072);
        assert_eq!(t.backlog(), 7);
        assert_eq!(Tuning::default().backlog(), 1024);
        assert_eq!(scope_id("17").expect("numeric scope"), 17);
        assert_eq!(scope_id("lo").expect("lo exists"), 1);
        assert!(scope_id("no-such-if0").is_err());
    }
}
