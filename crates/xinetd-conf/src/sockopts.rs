//! Listening-socket options and source keys (extensions, docs/compat.md "Socket options and
//! addresses"): the values a service sets on its listening socket beyond xinetd's fixed
//! choices, and the prefix length that `per_source` and SENSOR bans key on.
//!
//! Every field is `None` when the attribute is absent, and the daemon then does exactly what
//! it did before the attribute existed (backlog 1024, kernel defaults otherwise).

use crate::model::Spanned;

/// `keepalive = IDLE [INTERVAL [COUNT]]`: TCP keepalive with its timers. The socket gets
/// `SO_KEEPALIVE` like `flags = KEEPALIVE` does, plus `TCP_KEEPIDLE`, `TCP_KEEPINTVL` and
/// `TCP_KEEPCNT`; the values omitted keep the kernel's defaults (net.ipv4.tcp_keepalive_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keepalive {
    /// Seconds of silence before the first probe (1..=[`Keepalive::MAX_SECS`]).
    pub idle: u32,
    /// Seconds between probes (1..=[`Keepalive::MAX_SECS`]).
    pub interval: Option<u32>,
    /// Unanswered probes before the connection is dropped (1..=[`Keepalive::MAX_COUNT`]).
    pub count: Option<u32>,
}

impl Keepalive {
    /// Linux's MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL: larger values are refused by setsockopt.
    pub const MAX_SECS: u32 = 32767;
    /// Linux's MAX_TCP_KEEPCNT.
    pub const MAX_COUNT: u32 = 127;
}

/// Options applied to a service's listening socket. Accepted TCP sockets inherit
/// keepalive, mark and buffer sizes from the listening socket on Linux, so the server's
/// connection has them too.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SocketOptions {
    /// `backlog = N`: the listen(2) queue length (1..=65535; the kernel caps it at
    /// net.core.somaxconn). Absent: 1024.
    pub backlog: Option<Spanned<u32>>,
    /// `keepalive = IDLE [INTERVAL [COUNT]]` (stream services only).
    pub keepalive: Option<Spanned<Keepalive>>,
    /// `reuseport = yes|no`: SO_REUSEPORT.
    pub reuseport: Option<Spanned<bool>>,
    /// `freebind = yes|no`: IP_FREEBIND / IPV6_FREEBIND, so `bind` may name an address that
    /// is not (yet) configured on the machine.
    pub freebind: Option<Spanned<bool>>,
    /// `defer_accept = SECONDS`: TCP_DEFER_ACCEPT (stream services only, 1..=3600).
    pub defer_accept: Option<Spanned<u32>>,
    /// `mark = N`: SO_MARK (decimal or 0x hexadecimal, 32 bits; needs CAP_NET_ADMIN).
    pub mark: Option<Spanned<u32>>,
    /// `receive_buffer = SIZE`: SO_RCVBUF in bytes (K/M suffixes; the kernel doubles it and
    /// caps it at net.core.rmem_max).
    pub receive_buffer: Option<Spanned<u32>>,
    /// `send_buffer = SIZE`: SO_SNDBUF in bytes (same rules, net.core.wmem_max).
    pub send_buffer: Option<Spanned<u32>>,
    /// `socket_path = /run/NAME.sock | @NAME`: a Unix-domain listener instead of an IP one.
    pub socket_path: Option<Spanned<UnixPath>>,
    /// `socket_mode = OCTAL`: permissions of the socket file (default: 0666 & ~umask of the
    /// daemon, as bind(2) makes it).
    pub socket_mode: Option<Spanned<u32>>,
    /// `socket_owner = USER`: owner of the socket file.
    pub socket_owner: Option<Spanned<Named>>,
    /// `socket_group = GROUP`: group of the socket file.
    pub socket_group: Option<Spanned<Named>>,
    /// `only_uid = USER...`: clients of a Unix stream service whose SO_PEERCRED uid is listed.
    pub only_uid: Option<Spanned<Vec<Named>>>,
    /// `only_gid = GROUP...`: clients whose SO_PEERCRED gid is listed.
    pub only_gid: Option<Spanned<Vec<Named>>>,
}

/// Where a Unix-domain listener lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixPath {
    /// A socket file (an absolute path).
    File(String),
    /// A Linux abstract socket (`@NAME` in the configuration; no file, no permissions).
    Abstract(String),
}

impl UnixPath {
    /// The text the configuration uses (`@NAME` for an abstract name).
    pub fn text(&self) -> String {
        match self {
            UnixPath::File(p) => p.clone(),
            UnixPath::Abstract(n) => format!("@{n}"),
        }
    }
}

/// A user or group as written and its number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Named {
    /// The word as written (name or number).
    pub text: String,
    /// The uid or gid.
    pub id: u32,
}

impl crate::AttributeGroup for SocketOptions {
    const EMPTY: &'static Self = &SocketOptions {
        backlog: None,
        keepalive: None,
        reuseport: None,
        freebind: None,
        defer_accept: None,
        mark: None,
        receive_buffer: None,
        send_buffer: None,
        socket_path: None,
        socket_mode: None,
        socket_owner: None,
        socket_group: None,
        only_uid: None,
        only_gid: None,
    };
}

impl SocketOptions {
    /// `true` when no option is set (the service's socket is made as before).
    pub fn is_empty(&self) -> bool {
        *self == SocketOptions::default()
    }

    /// `true` for a Unix-domain listener.
    pub fn is_unix(&self) -> bool {
        self.socket_path.is_some()
    }
}

/// `source_prefix = V4BITS V6BITS`: how much of a client's address identifies it for
/// `per_source` and SENSOR bans. One client commonly owns a whole IPv6 /64, so counting
/// exact addresses is easy to evade; `32 64` counts every /64 as one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourcePrefix {
    /// Prefix length for IPv4 clients (and IPv4-mapped IPv6 ones), 0..=32.
    pub v4: u8,
    /// Prefix length for IPv6 clients, 0..=128.
    pub v6: u8,
}

impl Default for SourcePrefix {
    /// Exact addresses: xinetd's behaviour.
    fn default() -> Self {
        SourcePrefix { v4: 32, v6: 128 }
    }
}
