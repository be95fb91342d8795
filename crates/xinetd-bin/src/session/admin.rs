//! The admin builtins `servers`, `services` and `xadmin` of xinetd ≤ 2.3.11 (the seed
//! article's section 4.3, F-530): 2.3.12 removed them and 2.3.15.3 rejects them with `No such
//! internal service`; issue 8 asks for them as documented. They exist only when a service
//! block names them (`type = INTERNAL UNLISTED`, stream), and — unlike xinetd, where they
//! answered anybody the service admitted — they answer only clients that the service's
//! `only_from` lists: a block without `only_from` refuses every client.
//!
//! The texts are xinetd 2.3.11's (`builtins.c`: `stream_servers`, `stream_services`,
//! `xadmin_handler`; `server.c`: `server_dump`), with the values the event loop has:
//!
//! * `services`: one `name protocol port` line per service;
//! * `servers`: xinetd's `server_dump` block per running server (external servers and inline
//!   connections, pid 0), without the `descriptor`/`flags` lines (the daemon does not keep the
//!   connection's descriptor once the server runs);
//! * `xadmin`: a `> ` prompt, then one command per `read()` of at most 100 bytes, matched as
//!   xinetd does (a prefix of the command word as long as what was read: `b` is `bye`):
//!   `help`, `show run`, `show avail`, `bye` / `exit` / `quit`.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use mio::Registry;

use super::{interest, Next, Socket};
use crate::internal::Builtin;
use crate::requests::{command, Reply, MAX_CMD};
use crate::service::Service;

/// The xadmin prompt.
pub const PROMPT: &str = "> ";

/// One running server for `servers` and `show run`.
pub struct ServerRow {
    /// Service id.
    pub id: String,
    /// Process id (0 for a connection served inside the daemon).
    pub pid: i32,
    /// When it started.
    pub started: SystemTime,
    /// The client.
    pub peer: Option<SocketAddr>,
    /// `USERID` in `log_on_success` (xinetd's `log_remote_user`).
    pub log_remote_user: bool,
}

/// One service for `services` and `show avail`.
pub struct ServiceRow {
    /// Service name.
    pub name: String,
    /// `tcp` / `udp`.
    pub protocol: String,
    /// Port (the bound one).
    pub port: u16,
    /// `bind` address, numeric.
    pub bind: Option<std::net::IpAddr>,
    /// The uid servers run as.
    pub uid: u32,
    /// `redirect` target.
    pub redirect: Option<SocketAddr>,
}

/// xinetd's `ctime()` text (`Fri Nov 27 00:30:00 2026\n`) in local time.
fn ctime(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts
            .to_zoned(xinetd_log::system_time_zone())
            .strftime("%a %b %e %H:%M:%S %Y\n")
            .to_string(),
        Err(_) => "?\n".to_string(),
    }
}

/// `server_dump` of each row.
pub fn servers_text(rows: &[ServerRow]) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = write!(
            out,
            "{} server\npid = {}\nstart_time = {}",
            r.id,
            r.pid,
            ctime(r.started)
        );
        out.push_str("Connection info:\n");
        let _ = writeln!(out, "\tservice = {}", r.id);
        if let Some(p) = r.peer {
            let _ = writeln!(out, "\tremote_address = {},{}", p.ip(), p.port());
        }
        let yes = |b: bool| if b { "YES" } else { "NO" };
        let _ = writeln!(out, "log_remote_user = {}", yes(r.log_remote_user));
        // xinetd: writes_to_log = log_remote_user for servers that are not intercepted.
        let _ = writeln!(out, "writes_to_log = {}", yes(r.log_remote_user));
        out.push('\n');
    }
    out
}

/// `stream_services`: `name protocol port` per service.
pub fn services_text(rows: &[ServiceRow]) -> String {
    rows.iter()
        .map(|r| format!("{} {} {}\n", r.name, r.protocol, r.port))
        .collect()
}

/// `show avail`.
pub fn avail_text(rows: &[ServiceRow]) -> String {
    let mut out = String::from(
        "Available services:\nservice    port   bound address    uid redir addr redir port\n",
    );
    for r in rows {
        let bname = r.bind.map(|b| b.to_string()).unwrap_or_default();
        let _ = write!(out, "{:<10} {:<6} {:<16} ", r.name, r.port, bname);
        match r.redirect {
            Some(t) => {
                let _ = writeln!(
                    out,
                    "{:<6} {:<16} {:<6}",
                    r.uid,
                    t.ip().to_string(),
                    t.port()
                );
            }
            None => {
                let _ = writeln!(out, "{:<6}", r.uid);
            }
        }
    }
    out
}

/// `show run`.
pub fn run_text(rows: &[ServerRow]) -> String {
    format!(
        "Running services:\nservice  run retry attempts descriptor\n{}",
        servers_text(rows)
    )
}

/// What an admin session reads of the daemon.
pub trait View {
    /// The running servers with their start times: external servers and the sessions
    /// served inside the daemon, except the one asking.
    fn servers(&self) -> Vec<(Instant, ServerRow)>;
    /// The services, in configuration order.
    fn services(&self) -> Vec<ServiceRow>;
    /// The `metrics` document.
    fn metrics(&self, format: crate::metrics::exposition::Format) -> String;
}

/// A `servers`, `services` or `xadmin` connection: what is left to write, and whether it
/// ends after that.
pub struct Admin {
    /// The client's connection.
    pub sock: Socket,
    out: Vec<u8>,
    closing: bool,
}

impl Admin {
    /// A session of `b`: `servers` and `services` write their table and close; `xadmin`
    /// writes its prompt and reads commands.
    pub fn new(sock: Socket, b: Builtin, view: &dyn View) -> Admin {
        let out = match b {
            Builtin::Servers => servers_text(&sorted(view.servers())),
            Builtin::Services => services_text(&view.services()),
            _ => PROMPT.to_string(),
        };
        Admin {
            sock,
            out: out.into_bytes(),
            closing: b != Builtin::Xadmin,
        }
    }

    /// One turn: write what is pending, then read one command (a command is read only after
    /// the previous answer went out).
    pub fn ready(
        &mut self,
        svc: &Service,
        started: Instant,
        client: Option<std::net::SocketAddr>,
        view: &dyn View,
    ) -> Next {
        loop {
            while !self.out.is_empty() {
                match self.sock.stream.write(&self.out) {
                    Ok(0) => return Next::Done,
                    Ok(n) => {
                        self.out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Done,
                }
            }
            if self.closing {
                return Next::Done;
            }
            let mut cmd = [0u8; MAX_CMD];
            match self.sock.stream.read(&mut cmd) {
                Ok(0) => return Next::Done,
                Ok(n) => {
                    let reply = command(
                        &cmd[..n],
                        || {
                            // xinetd lists the asking xadmin session in `show run`.
                            let mut rows = view.servers();
                            rows.push((started, self.row(svc, started, client)));
                            run_text(&sorted(rows))
                        },
                        || avail_text(&view.services()),
                    );
                    match reply {
                        Reply::Bye => {
                            self.out.extend_from_slice(b"bye bye\n");
                            self.closing = true;
                        }
                        Reply::Text(t) => {
                            self.out.extend_from_slice(t.as_bytes());
                            self.out.extend_from_slice(PROMPT.as_bytes());
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Done,
            }
        }
    }

    /// Write while an answer is pending, else read while commands may come.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        let pending = !self.out.is_empty();
        let want = interest(!pending && !self.closing, pending);
        self.sock.follow(registry, want)
    }

    /// This session as a `show run` row.
    /// `client`: the one a PROXY header named, when there was one.
    fn row(
        &self,
        svc: &Service,
        started: Instant,
        client: Option<std::net::SocketAddr>,
    ) -> ServerRow {
        ServerRow {
            id: svc.id.clone(),
            pid: 0,
            started: wall_clock(started),
            peer: client.or_else(|| self.sock.stream.peer_addr().ok()),
            log_remote_user: svc.logs_remote_user(),
        }
    }
}

/// The rows in order of start.
fn sorted(mut rows: Vec<(Instant, ServerRow)>) -> Vec<ServerRow> {
    rows.sort_by_key(|(t, _)| *t);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The wall-clock time of a monotonic instant in the past.
pub fn wall_clock(t: Instant) -> SystemTime {
    SystemTime::now() - t.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_xinetds_layout() {
        let rows = [ServiceRow {
            name: "echo".into(),
            protocol: "tcp".into(),
            port: 7,
            bind: Some("127.0.0.1".parse().expect("ip")),
            uid: 0,
            redirect: None,
        }];
        assert_eq!(services_text(&rows), "echo tcp 7\n");
        assert!(avail_text(&rows).ends_with("echo       7      127.0.0.1        0     \n"));
    }
}
