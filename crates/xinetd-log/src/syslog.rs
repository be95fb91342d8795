//! `log_type = SYSLOG facility [level]` (F-710) and the daemon's `-syslog` (F-700, F-701):
//! RFC 3164 datagrams to the system log socket, laid out as glibc's syslog(3) writes them
//! with `openlog("xinetd", LOG_PID, ...)`:
//!
//! ```text
//! <PRI>Mmm dd HH:MM:SS xinetd[PID]: text
//! ```
//!
//! (no host name and no trailing newline — exactly what the real xinetd sent to a socket
//! bound at `/dev/log`). PID is the writing process's pid, read at each write, so a child
//! forked by the daemon logs its own pid as xinetd's children do.
//!
//! Why not the `syslog` crate: its RFC 3164 formatter stamps UTC on Unix instead of local
//! time (syslogd expects local time), zero-pads the day where syslog(3) pads with a space,
//! formats with `unwrap()`, and sends on a blocking socket with no bound on how long a
//! stalled syslogd can hold the daemon. The format is one line; writing it here keeps the
//! timestamps correct (jiff) and the socket non-blocking.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::{LocalClock, Stamps};
use crate::diagnostic::{FailureState, Outcome, WriteReport};
use crate::priority::priority;
use crate::record::Record;
use crate::{Facility, Level, LogError};

/// The system log socket syslog(3) writes to.
pub const DEFAULT_SYSLOG_PATH: &str = "/dev/log";

/// The ident xinetd passes to openlog(3).
pub const IDENT: &str = "xinetd";

/// How long one datagram may wait for room in the syslog daemon's receive queue while
/// logging is healthy. glibc would wait forever; once a send fails, later sends do not
/// wait at all until one succeeds again.
pub const SEND_WAIT: Duration = Duration::from_millis(50);

/// Format one RFC 3164 message as glibc's syslog(3) does.
pub fn format_rfc3164(
    out: &mut Vec<u8>,
    facility: Facility,
    level: Level,
    stamp: &str,
    pid: u32,
    text: &str,
) {
    use std::io::Write as _;
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "<{}>{} {}[{}]: {}",
        priority(facility, level),
        stamp,
        IDENT,
        pid,
        text
    );
}

/// A connection to the system log socket: connected lazily, reconnected when syslogd
/// went away (restart, socket recreated), never blocking for more than [`SEND_WAIT`].
#[derive(Debug)]
pub(crate) struct SyslogSocket {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    /// Sends are non-blocking after a failure, bounded by SEND_WAIT otherwise.
    impatient: bool,
}

impl SyslogSocket {
    pub(crate) fn new(path: PathBuf) -> SyslogSocket {
        SyslogSocket {
            path,
            sock: None,
            impatient: false,
        }
    }

    fn connect(&mut self) -> io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(&self.path)?;
        sock.set_write_timeout(Some(SEND_WAIT))?;
        sock.set_nonblocking(self.impatient)?;
        self.sock = Some(sock);
        Ok(())
    }

    fn set_impatient(&mut self, impatient: bool) {
        if self.impatient != impatient {
            self.impatient = impatient;
            if let Some(s) = &self.sock {
                if s.set_nonblocking(impatient).is_err() {
                    self.sock = None;
                }
            }
        }
    }

    /// Send one datagram; on success `Ok`, otherwise the error of the last attempt.
    pub(crate) fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let result = self.try_send(msg);
        self.set_impatient(result.is_err());
        result
    }

    fn try_send(&mut self, msg: &[u8]) -> io::Result<()> {
        if self.sock.is_none() {
            self.connect()?;
        }
        let first = match &self.sock {
            Some(s) => s.send(msg).map(|_| ()),
            None => return Err(io::Error::from(io::ErrorKind::NotConnected)),
        };
        match first {
            Ok(()) => Ok(()),
            Err(e) if peer_gone(&e) => {
                // syslogd restarted: the old socket is dead, a new one may be there.
                self.sock = None;
                self.connect()?;
                match &self.sock {
                    Some(s) => s.send(msg).map(|_| ()),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::NotConnected
            | io::ErrorKind::NotFound
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
    )
}

/// A service's syslog destination: `log_type = SYSLOG facility [level]`.
#[derive(Debug)]
pub struct SyslogLog {
    facility: Facility,
    level: Level,
    log_id: String,
    socket: SyslogSocket,
    failure: FailureState,
    clock: LocalClock,
    stamps: Stamps,
    buf: Vec<u8>,
}

impl SyslogLog {
    /// Log `log_id`'s records at `facility`/`level` (xinetd's default level is
    /// [`Level::Info`]) to the socket at [`DEFAULT_SYSLOG_PATH`].
    pub fn new(facility: Facility, level: Level, log_id: impl Into<String>) -> SyslogLog {
        SyslogLog::with_socket_path(facility, level, log_id, DEFAULT_SYSLOG_PATH)
    }

    /// The same, to another socket path (tests, chroots, containers).
    pub fn with_socket_path(
        facility: Facility,
        level: Level,
        log_id: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> SyslogLog {
        SyslogLog {
            facility,
            level,
            log_id: log_id.into(),
            socket: SyslogSocket::new(path.as_ref().to_owned()),
            failure: FailureState::default(),
            clock: LocalClock::system(),
            stamps: Stamps::default(),
            buf: Vec::with_capacity(256),
        }
    }

    /// Use another clock for the header timestamp.
    pub fn with_clock(mut self, clock: LocalClock) -> SyslogLog {
        self.clock = clock;
        self.stamps = Stamps::default();
        self
    }

    /// Connect now instead of at the first write (an error here is not fatal: writes
    /// retry). Useful to report a missing syslog socket at start-up.
    pub fn connect(&mut self) -> Result<(), LogError> {
        self.socket.connect().map_err(LogError::Socket)
    }

    /// Send a service record.
    pub fn write(&mut self, record: &Record) -> WriteReport {
        self.write_text(record.as_str())
    }

    /// Send a line of text at the configured level.
    pub fn write_text(&mut self, text: &str) -> WriteReport {
        self.stamps.refresh(&self.clock);
        format_rfc3164(
            &mut self.buf,
            self.facility,
            self.level,
            self.stamps.syslog(),
            std::process::id(),
            text,
        );
        let mut report = WriteReport::new(Outcome::Written);
        match self.socket.send(&self.buf) {
            Ok(()) => report
                .diagnostics
                .extend(self.failure.succeeded(&self.log_id)),
            Err(e) => {
                report.outcome = Outcome::DroppedError;
                report
                    .diagnostics
                    .extend(self.failure.failed(&self.log_id, &e));
            }
        }
        report
    }

    /// The facility.
    pub fn facility(&self) -> Facility {
        self.facility
    }

    /// The level every record is sent at.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The socket path.
    pub fn socket_path(&self) -> &Path {
        self.socket.path()
    }

    /// Lines lost to send errors so far.
    pub fn lost_to_errors(&self) -> u64 {
        self.failure.lost_total()
    }

    /// True while sends are failing.
    pub fn is_failing(&self) -> bool {
        self.failure.is_failing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_matches_glibc() {
        let mut buf = Vec::new();
        format_rfc3164(
            &mut buf,
            Facility::Authpriv,
            Level::Warning,
            "Nov 26 23:09:29",
            11122,
            "START: echo pid=11165 from=127.0.0.1",
        );
        // Captured from the real xinetd (-syslog local7, service SYSLOG authpriv warning).
        assert_eq!(
            String::from_utf8(buf).expect("ascii"),
            "<84>Nov 26 23:09:29 xinetd[11122]: START: echo pid=11165 from=127.0.0.1"
        );
    }
}
