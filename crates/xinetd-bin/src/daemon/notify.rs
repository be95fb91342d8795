//! Telling the service manager how the daemon is doing (issue 18): systemd's `sd_notify`
//! protocol when `NOTIFY_SOCKET` is set (`READY=1` once every service that can start is
//! listening, `RELOADING=1` with `MONOTONIC_USEC=` on SIGHUP then `READY=1` again, `STOPPING=1`
//! on exit, `STATUS=`, `ERRNO=` when start-up fails, `WATCHDOG=1` from the loop when
//! `WATCHDOG_USEC` asks for it), and s6's readiness notification (`-notify_fd N`: one newline
//! written to descriptor N, which is then closed).
//!
//! The `sd-notify` crate gives the messages (its `NotifyState`), the watchdog interval and the
//! monotonic time; the datagram is sent here because the crate (0.5) connects to
//! `NOTIFY_SOCKET` as a file path only, and sd_notify(3) also allows an abstract name
//! (`@name`), which some service managers and test harnesses use. The variables stay in the
//! daemon's own environment; servers never see them: they are taken out of the start-up
//! environment servers inherit ([`without_manager_variables`]).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The variables of the service-manager protocols, kept from servers (sd_notify(3),
/// sd_listen_fds(3)).
const MANAGER_VARIABLES: [&str; 6] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// The start-up environment (`(name, value)` pairs) without the service manager's variables.
pub fn without_manager_variables<I>(
    vars: I,
) -> impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>
where
    I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
{
    vars.into_iter()
        .filter(|(k, _)| !MANAGER_VARIABLES.iter().any(|m| k == m))
}

/// The daemon's notifications.
#[derive(Debug, Default)]
pub struct Notifier {
    /// `NOTIFY_SOCKET` at start-up.
    socket: Option<OsString>,
    /// `-notify_fd N`, reopened, until the daemon is ready.
    notify_file: Option<std::fs::File>,
    /// Half of `WATCHDOG_USEC`: how often the loop says it is alive.
    watchdog: Option<Duration>,
    next_ping: Option<Instant>,
    /// The last notification could not be sent: its error, once reported.
    failing: bool,
    /// A change of that state the daemon has not logged yet.
    report: Option<String>,
}

impl Notifier {
    /// Reads the environment and takes `-notify_fd N`. Must run before the daemon opens
    /// anything: descriptor N is reopened through /proc (adopting it would need `unsafe`) and
    /// closed at once, so no descriptor the daemon opens later can take its number and be
    /// written to or closed by mistake. An N that is not open is ignored (`Err` says so).
    pub fn new(notify_fd: Option<i32>, now: Instant) -> (Notifier, Result<(), String>) {
        let mut taken = Ok(());
        let notify_file = notify_fd.and_then(|fd| {
            match std::fs::OpenOptions::new()
                .write(true)
                // A supervisor that stopped reading its pipe must not stop the loop.
                .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
                .open(format!("/proc/self/fd/{fd}"))
            {
                Ok(f) => {
                    let _ = nix::unistd::close(fd);
                    Some(f)
                }
                Err(e) => {
                    taken = Err(format!(
                        "-notify_fd {fd}: {}; no readiness notification",
                        xinetd_log::explain_errno(&e)
                    ));
                    None
                }
            }
        });
        let socket = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        let systemd = socket.is_some();
        // sd_watchdog_enabled(3): WATCHDOG_USEC, for this process if WATCHDOG_PID says so.
        let watchdog = sd_notify::watchdog_enabled()
            .filter(|_| systemd)
            .map(|d| d / 2)
            .filter(|d| !d.is_zero());
        let n = Notifier {
            socket,
            notify_file,
            watchdog,
            next_ping: watchdog.map(|d| now + d),
            failing: false,
            report: None,
        };
        (n, taken)
    }

    /// Every service that can start is listening.
    pub fn ready(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
        if let Some(mut f) = self.notify_file.take() {
            // s6 (notification-fd): a newline, then the descriptor is closed (dropped).
            let _ = f.write_all(b"\n");
        }
    }

    /// SIGHUP: a reload starts.
    pub fn reloading(&mut self) {
        let mut states = vec![NotifyState::Reloading];
        // systemd ≥ 253 (Type=notify-reload) requires the reload's monotonic time with it.
        if let Ok(t) = NotifyState::monotonic_usec_now() {
            states.push(t);
        }
        self.send(&states);
    }

    /// The reload was applied (or failed and kept the running configuration).
    pub fn reloaded(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// The daemon is exiting.
    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping]);
    }

    /// Start-up failed: why, and an errno-style code.
    pub fn failed(&mut self, status: &str, errno: u32) {
        self.send(&[NotifyState::Status(status), NotifyState::Errno(errno)]);
    }

    /// When the loop must say it is alive next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_ping
    }

    /// `WATCHDOG=1` when it is due.
    pub fn expire(&mut self, now: Instant) {
        let (Some(due), Some(every)) = (self.next_ping, self.watchdog) else {
            return;
        };
        if due <= now {
            self.send(&[NotifyState::Watchdog]);
            self.next_ping = Some(now + every);
        }
    }

    /// What the daemon should log about the notification socket since it last asked: its
    /// first failure (a manager that went away, a full socket) and its recovery. Failures in
    /// between are not repeated, so a dead manager costs one line, not one per ping.
    pub fn take_report(&mut self) -> Option<String> {
        self.report.take()
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        let Some(socket) = &self.socket else {
            return;
        };
        let mut msg = String::new();
        for s in states {
            let _ = writeln!(msg, "{s}");
        }
        // Never blocks: a manager that stopped reading must not stop the loop; the datagram
        // is dropped and the failure reported once.
        match send_datagram(socket, msg.as_bytes()) {
            Ok(()) if self.failing => {
                self.failing = false;
                self.report = Some(format!(
                    "notifications reach the service manager at {} again",
                    socket.to_string_lossy()
                ));
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                self.report = Some(format!(
                    "cannot notify the service manager at {}: {}; notifications are dropped \
                     until it reads again",
                    socket.to_string_lossy(),
                    xinetd_log::explain_errno(&e)
                ));
            }
            Err(_) => {}
        }
    }
}

/// One datagram to `NOTIFY_SOCKET`: a path, or an abstract name after `@`.
fn send_datagram(socket: &OsString, msg: &[u8]) -> std::io::Result<()> {
    let bytes = socket.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(socket)?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    sock.connect_addr(&addr)?;
    sock.send(msg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn servers_never_see_the_managers_variables() {
        let vars = [
            ("PATH", "/bin"),
            ("NOTIFY_SOCKET", "@x"),
            ("WATCHDOG_USEC", "1"),
            ("LISTEN_FDS", "1"),
            ("LANG", "C"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let kept: Vec<String> = without_manager_variables(vars)
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["PATH", "LANG"]);
    }
}
