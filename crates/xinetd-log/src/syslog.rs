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
use std::io::Write as _;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::{LocalClock, Stamps};
use crate::diagnostic::{FailureState, WriteReport};
use crate::priority::priority;
use crate::record::Record;
use crate::{Facility, Level, LogError};

/// The system log socket syslog(3) writes to.
pub const DEFAULT_SYSLOG_PATH: &str = "/dev/log";

/// The ident xinetd passes to openlog(3) and prints in `-filelog` lines: its program name,
/// the last component of `argv[0]`, normally `xinetd`.
pub const IDENT: &str = "xinetd";

/// How long one datagram may wait for room in the syslog daemon's receive queue while
/// logging is healthy. glibc would wait forever; once a send fails, later sends do not
/// wait at all until one succeeds again.
pub const SEND_WAIT: Duration = Duration::from_millis(50);

/// Format one RFC 3164 message as glibc's syslog(3) does with `openlog(ident, LOG_PID, ..)`:
/// `<PRI>stamp ident[pid]: text`.
pub fn format_rfc3164(
    out: &mut Vec<u8>,
    facility: Facility,
    level: Level,
    stamp: &str,
    ident: &str,
    pid: u32,
    text: &str,
) {
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "<{}>{} {}[{}]: {}",
        priority(facility, level),
        stamp,
        ident,
        pid,
        text
    );
}

/// A connection to the system log socket: connected lazily, reconnected when syslogd
/// went away (restart, socket recreated), never blocking for more than [`SEND_WAIT`].
/// Like glibc, it falls back to a stream socket when the path is one (`EPROTOTYPE`); there
/// each message is followed by a NUL byte, as syslog(3) sends it. Writing to a stream whose
/// syslogd died raises SIGPIPE, which the process must ignore (xinetd does, F-847; so does
/// the Rust runtime by default).
#[derive(Debug)]
pub(crate) struct SyslogSocket {
    path: PathBuf,
    conn: Option<Conn>,
    /// Sends are non-blocking after a failure, bounded by SEND_WAIT otherwise.
    impatient: bool,
}

#[derive(Debug)]
enum Conn {
    Datagram(UnixDatagram),
    Stream(UnixStream),
}

impl Conn {
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Conn::Datagram(s) => s.set_nonblocking(on),
            Conn::Stream(s) => s.set_nonblocking(on),
        }
    }
}

impl SyslogSocket {
    pub(crate) fn new(path: PathBuf) -> SyslogSocket {
        SyslogSocket {
            path,
            conn: None,
            impatient: false,
        }
    }

    fn connect(&mut self) -> io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        let conn = match sock.connect(&self.path) {
            Ok(()) => {
                sock.set_write_timeout(Some(SEND_WAIT))?;
                Conn::Datagram(sock)
            }
            Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                let stream = UnixStream::connect(&self.path)?;
                stream.set_write_timeout(Some(SEND_WAIT))?;
                Conn::Stream(stream)
            }
            Err(e) => return Err(e),
        };
        conn.set_nonblocking(self.impatient)?;
        self.conn = Some(conn);
        Ok(())
    }

    fn set_impatient(&mut self, impatient: bool) {
        if self.impatient != impatient {
            self.impatient = impatient;
            if let Some(c) = &self.conn {
                if c.set_nonblocking(impatient).is_err() {
                    self.conn = None;
                }
            }
        }
    }

    /// Send one message; on success `Ok`, otherwise the error of the last attempt.
    pub(crate) fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let result = self.try_send(msg);
        self.set_impatient(result.is_err());
        result
    }

    fn send_once(&mut self, msg: &[u8]) -> io::Result<()> {
        match &mut self.conn {
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
            Some(Conn::Datagram(s)) => s.send(msg).map(|_| ()),
            Some(Conn::Stream(s)) => {
                let mut framed = Vec::with_capacity(msg.len() + 1);
                framed.extend_from_slice(msg);
                framed.push(0);
                let mut done = 0;
                while done < framed.len() {
                    match s.write(&framed[done..]) {
                        Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            if done > 0 {
                                // Half a message is on the stream: start a fresh connection
                                // so the next message is framed correctly.
                                self.conn = None;
                            }
                            return Err(e);
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn try_send(&mut self, msg: &[u8]) -> io::Result<()> {
        if self.conn.is_none() {
            self.connect()?;
        }
        match self.send_once(msg) {
            Ok(()) => Ok(()),
            Err(e) if peer_gone(&e) => {
                // syslogd restarted: the old socket is dead, a new one may be there.
                self.conn = None;
                self.connect()?;
                self.send_once(msg)
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
    ident: String,
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
            ident: IDENT.to_owned(),
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

    /// The syslog ident (xinetd: the last component of `argv[0]`, normally [`IDENT`]).
    pub fn with_ident(mut self, ident: impl Into<String>) -> SyslogLog {
        self.ident = ident.into();
        self
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
            &self.ident,
            std::process::id(),
            text,
        );
        let sent = self.socket.send(&self.buf);
        self.failure.report_send(&self.log_id, sent)
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
            IDENT,
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
