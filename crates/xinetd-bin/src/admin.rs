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
use std::net::SocketAddr;
use std::time::SystemTime;

/// xinetd's `MAX_CMD`: one read of a command.
pub const MAX_CMD: usize = 100;
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

/// What one xadmin command does.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Write this, then the prompt.
    Text(String),
    /// Write `bye bye\n` and close.
    Bye,
}

/// The command in one read (`cmd`, at most [`MAX_CMD`] bytes), as `xadmin_handler` matches
/// it; `run` and `avail` render `show run` / `show avail` when asked.
pub fn command(cmd: &[u8], run: impl FnOnce() -> String, avail: impl FnOnce() -> String) -> Reply {
    // strncmp(cmd, word, min(red, len(word))) == 0: what was read is a prefix of the word,
    // or the word a prefix of what was read.
    let is = |buf: &[u8], word: &str| {
        let n = buf.len().min(word.len());
        buf[..n] == word.as_bytes()[..n]
    };
    if is(cmd, "bye") || is(cmd, "exit") || is(cmd, "quit") {
        return Reply::Bye;
    }
    let mut out = String::new();
    if is(cmd, "help") {
        out.push_str(
            "xinetd admin help:\n\
             show run  :   shows information about running services\n\
             show avail:   shows what services are currently available\n\
             bye, exit :   exits the admin shell\n",
        );
    }
    if is(cmd, "show") {
        let mut rest = cmd.get(4..).unwrap_or_default();
        if rest.first() == Some(&b' ') {
            rest = &rest[1..];
        }
        if !rest.is_empty() {
            if is(rest, "run") {
                out.push_str(&run());
            } else if is(rest, "avail") {
                out.push_str(&avail());
            } else {
                out.push_str(
                    "Relevant commands:\n\
                     run   : Show currently running servers\n\
                     avail : Show currently available servers\n",
                );
            }
        }
    }
    Reply::Text(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Reply {
        command(s.as_bytes(), || "RUN\n".into(), || "AVAIL\n".into())
    }

    #[test]
    fn commands_match_like_xinetds_strncmp() {
        assert_eq!(cmd("bye\n"), Reply::Bye);
        assert_eq!(cmd("exit\r\n"), Reply::Bye);
        assert_eq!(cmd("b"), Reply::Bye);
        assert_eq!(cmd("show run\n"), Reply::Text("RUN\n".into()));
        assert_eq!(cmd("show avail\n"), Reply::Text("AVAIL\n".into()));
        assert_eq!(cmd("showrun\n"), Reply::Text("RUN\n".into()));
        let Reply::Text(t) = cmd("show x\n") else {
            panic!("text")
        };
        assert!(t.starts_with("Relevant commands:\n"));
        let Reply::Text(t) = cmd("help\n") else {
            panic!("text")
        };
        assert!(t.starts_with("xinetd admin help:\n"));
        assert_eq!(cmd("nonsense\n"), Reply::Text(String::new()));
        assert_eq!(cmd("\n"), Reply::Text(String::new()));
    }

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
