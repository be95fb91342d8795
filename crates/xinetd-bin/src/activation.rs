//! Socket activation, consumer side (issue 18): started with `LISTEN_FDS`/`LISTEN_PID` (and
//! `LISTEN_FDNAMES`) by systemd or `systemd-socket-activate`, the daemon adopts the inherited
//! listening sockets instead of binding its own, so a `.socket` unit can own the ports while
//! the daemon starts lazily or restarts without refusing a connection.
//!
//! A service takes the inherited socket named like its id; failing that, one bound to the
//! service's address with its socket type. Sockets are checked when inherited (a TCP socket
//! must be listening; TCP or UDP, IPv4 or IPv6). An adopted socket is never closed while the
//! daemon runs: when its service is removed, restarted or paused by cps it goes back to the
//! pool, and a reload hands it out again. The `listenfd` crate validates and takes the
//! descriptors (that step needs `unsafe`, which stays in the crate).

use std::net::SocketAddr;

use crate::listen::{ListenSpec, Listener};

/// What is known of an inherited socket.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inherited {
    /// Its position in `LISTEN_FDS` (the descriptor was 3 + index).
    index: usize,
    /// Its `LISTEN_FDNAMES` entry.
    name: Option<String>,
    addr: SocketAddr,
    stream: bool,
}

impl Inherited {
    fn describe(&self) -> String {
        let name = self
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let proto = if self.stream { "tcp" } else { "udp" };
        format!("fd {}{name} {proto} {}", 3 + self.index, self.addr)
    }
}

/// The address and type of a socket: how a returned socket is recognised.
fn key(l: &Listener) -> Option<(SocketAddr, bool)> {
    Some((l.local_addr().ok()?, matches!(l, Listener::Tcp(_))))
}

/// The inherited sockets: those free for a service, and those lent to one.
#[derive(Default)]
pub struct Pool {
    free: Vec<(Inherited, Listener)>,
    lent: Vec<Inherited>,
    /// What could not be adopted, for the log.
    pub rejected: Vec<String>,
}

impl Pool {
    /// Takes the sockets passed by a service manager, if any (`listenfd` checks
    /// `LISTEN_PID`). The variables are removed from the daemon's environment; servers never
    /// see them anyway (`daemon::without_manager_variables`).
    pub fn from_env() -> Pool {
        let mut pool = Pool::default();
        let Some(count) = std::env::var_os("LISTEN_FDS") else {
            return pool;
        };
        // sd_listen_fds(3): the variables are for the process LISTEN_PID names (listenfd
        // would also take them without LISTEN_PID, which a stray variable could trigger).
        let ours = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            == Some(std::process::id());
        let count = count.to_string_lossy().into_owned();
        if count.parse::<usize>().is_err() {
            pool.rejected
                .push(format!("LISTEN_FDS={count} is not a number of descriptors"));
            return pool;
        }
        if !ours {
            pool.rejected
                .push("LISTEN_FDS is for another process (LISTEN_PID)".to_string());
            return pool;
        }
        let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
            .map(|v| v.split(':').map(str::to_string).collect())
            .unwrap_or_default();
        let mut fds = listenfd::ListenFd::from_env();
        for index in 0..fds.len() {
            let name = names
                .get(index)
                .filter(|n| !n.is_empty() && n.as_str() != "unknown")
                .cloned();
            let fd = 3 + index;
            let listener = match take(&mut fds, index) {
                Ok(l) => l,
                Err(why) => {
                    pool.rejected.push(format!("fd {fd}: {why}"));
                    continue;
                }
            };
            match key(&listener) {
                Some((addr, stream)) => pool.free.push((
                    Inherited {
                        index,
                        name,
                        addr,
                        stream,
                    },
                    listener,
                )),
                None => pool.rejected.push(format!("fd {fd}: no local address")),
            }
        }
        pool
    }

    /// The inherited socket for service `id` listening as `spec` says: the one named `id`,
    /// else one bound to the service's address; of the service's socket type either way.
    /// Returns it with its description for the log.
    pub fn take(&mut self, id: &str, spec: &ListenSpec) -> Option<(Listener, String)> {
        let of_type = |i: &Inherited| i.stream == spec.stream;
        let pos = self
            .free
            .iter()
            .position(|(i, _)| of_type(i) && i.name.as_deref() == Some(id))
            .or_else(|| {
                self.free
                    .iter()
                    .position(|(i, _)| of_type(i) && i.addr == spec.address())
            })?;
        let (inherited, listener) = self.free.swap_remove(pos);
        let described = inherited.describe();
        self.lent.push(inherited);
        Some((listener, described))
    }

    /// Takes back an adopted socket (its service was removed, restarted or paused);
    /// `Err` gives back a socket that was not inherited, for the caller to close.
    pub fn give_back(&mut self, listener: Listener) -> Result<(), Listener> {
        let Some((addr, stream)) = key(&listener) else {
            return Err(listener);
        };
        let Some(i) = self
            .lent
            .iter()
            .position(|l| l.addr == addr && l.stream == stream)
        else {
            return Err(listener);
        };
        let inherited = self.lent.swap_remove(i);
        self.free.push((inherited, listener));
        Ok(())
    }

    /// The inherited sockets no service uses now.
    pub fn unused(&self) -> Vec<String> {
        self.free.iter().map(|(i, _)| i.describe()).collect()
    }
}

/// The socket at `index` as a TCP listener (it must be listening) or a UDP socket.
fn take(fds: &mut listenfd::ListenFd, index: usize) -> Result<Listener, String> {
    match fds.take_tcp_listener(index) {
        Ok(Some(t)) => {
            let listening = socket2::SockRef::from(&t).is_listener().unwrap_or(false);
            if !listening {
                return Err("a TCP socket that is not listening".to_string());
            }
            t.set_nonblocking(true)
                .map_err(|e| xinetd_log::explain_errno(&e))?;
            return Ok(Listener::Tcp(mio::net::TcpListener::from_std(t)));
        }
        Ok(None) => return Err("already taken".to_string()),
        Err(_) => {}
    }
    match fds.take_udp_socket(index) {
        Ok(Some(u)) => {
            u.set_nonblocking(true)
                .map_err(|e| xinetd_log::explain_errno(&e))?;
            Ok(Listener::Udp(mio::net::UdpSocket::from_std(u)))
        }
        Ok(None) => Err("already taken".to_string()),
        Err(_) => Err("neither a TCP nor a UDP socket".to_string()),
    }
}
