//! The daemon's runtime view of one service: what the event loop needs to listen, check,
//! serve and log. Built from the xinetd-conf model by [`crate::adapt`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::internal::Builtin;
use crate::listen::ListenSpec;

/// What serves a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Server {
    /// A builtin run inside the event loop (spec §6).
    Internal(Builtin),
    /// SENSOR: every client is banned and nothing is served (F-240).
    Sensor,
    /// An external program.
    External(External),
}

/// An external server (F-412, F-413).
#[derive(Debug, Clone, PartialEq)]
pub struct External {
    /// `server` path.
    pub path: PathBuf,
    /// argv (already built with or without NAMEINARGS, F-413).
    pub argv: Vec<String>,
}

/// One configured service, ready for the event loop.
#[derive(Debug, Clone)]
pub struct Service {
    /// `id` (defaults to the name, F-100).
    pub id: String,
    /// Service name (selects the builtin, F-060).
    pub name: String,
    /// Socket to listen on.
    pub listen: ListenSpec,
    /// `wait = yes` (F-401).
    pub wait: bool,
    /// What serves requests.
    pub server: Server,
    /// `timeout = SECONDS` extension: the server's process group is killed after this long.
    pub timeout: Option<Duration>,
    /// `cps = RATE WAIT` (F-130); rate 0 disables.
    pub cps: (u32, u32),
}

impl Service {
    /// The listening address as the start-up log line shows it.
    pub fn where_(&self) -> String {
        let proto = if self.listen.stream { "tcp" } else { "udp" };
        format!("{proto} {}", self.listen.address())
    }

    /// True when the service has the same "shape" as `other` for reload matching (F-861):
    /// same id, internal-ness, wait, protocol and port. Bind address or family changes are
    /// handled as a restart of a kept service (F-863).
    pub fn same_shape(&self, other: &Service) -> bool {
        self.id.eq_ignore_ascii_case(&other.id)
            && matches!(self.server, Server::External(_))
                == matches!(other.server, Server::External(_))
            && self.wait == other.wait
            && self.listen.stream == other.listen.stream
            && self.listen.port == other.listen.port
    }

    /// True when a kept service must close and re-bind its socket (F-863).
    pub fn needs_rebind(&self, other: &Service) -> bool {
        self.listen != other.listen
    }

    /// The bind address, if any.
    #[allow(dead_code)]
    pub fn bind(&self) -> Option<IpAddr> {
        self.listen.bind
    }
}
