//! `log_type = JOURNAL [facility [level]]` and the daemon's `-journal` (extensions):
//! records sent to journald in its native protocol, with the fields of
//! [`crate::structured`].
//!
//! # Why not a crate
//!
//! The crates that speak this protocol are either tied to a logging framework
//! (`systemd-journal-logger` is a `log` backend, `tracing-journald` a `tracing` layer; the
//! daemon uses neither) or hard-code `/run/systemd/journal/socket` and bring a large
//! dependency tree (`libsystemd`). The protocol is a few lines: `NAME=value\n` per field
//! in one datagram, a length-prefixed form for values with newlines, and a sealed memfd
//! passed with `SCM_RIGHTS` when a record is too big for a datagram. Writing it here lets
//! the socket path be chosen ([`JOURNAL_SOCKET_ENV`], for tests and containers) and the
//! send be non-blocking with the same failure accounting as syslog.
//!
//! # Large records
//!
//! A datagram that the kernel refuses as too big (`EMSGSIZE`, or `ENOBUFS` for one that
//! does not fit the socket buffer) is sent again as journald accepts big entries: the
//! payload is written to a `memfd`, sealed (journald only accepts sealed memfds), and the
//! descriptor is passed in an empty datagram. Nothing is truncated.

use std::fs::File;
use std::io::{self, IoSlice, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};

use crate::diagnostic::{FailureState, WriteReport};
use crate::record::Record;
use crate::structured::{encode_journal, record_fields};
use crate::syslog::{IDENT, SEND_WAIT};
use crate::{Facility, Level};

/// journald's native socket.
pub const DEFAULT_JOURNAL_PATH: &str = "/run/systemd/journal/socket";

/// The environment variable naming another journal socket (tests, containers with the
/// host's journal socket mounted elsewhere). Read by [`journal_socket_path`].
pub const JOURNAL_SOCKET_ENV: &str = "XINETD_JOURNAL_SOCKET";

/// The journal socket to use: `$XINETD_JOURNAL_SOCKET` when set and not empty, else
/// [`DEFAULT_JOURNAL_PATH`].
pub fn journal_socket_path() -> PathBuf {
    match std::env::var_os(JOURNAL_SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_JOURNAL_PATH),
    }
}

/// True when `path` exists and is a socket: journald is there to receive.
pub fn journal_present(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

/// An unconnected datagram socket sending to the journal path (unconnected so a
/// restarted journald, which recreates its socket, is reached without reconnecting).
#[derive(Debug)]
pub(crate) struct JournalSocket {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    impatient: bool,
}

impl JournalSocket {
    pub(crate) fn new(path: PathBuf) -> JournalSocket {
        JournalSocket {
            path,
            sock: None,
            impatient: false,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn socket(&mut self) -> io::Result<&UnixDatagram> {
        if self.sock.is_none() {
            let s = UnixDatagram::unbound()?;
            s.set_write_timeout(Some(SEND_WAIT))?;
            s.set_nonblocking(self.impatient)?;
            self.sock = Some(s);
        }
        self.sock
            .as_ref()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Send one entry; a failure makes later sends non-blocking until one succeeds (as
    /// for syslog: a stalled journald costs at most [`SEND_WAIT`] once).
    pub(crate) fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        let r = self.try_send(payload);
        let impatient = r.is_err();
        if impatient != self.impatient {
            self.impatient = impatient;
            if let Some(s) = &self.sock {
                if s.set_nonblocking(impatient).is_err() {
                    self.sock = None;
                }
            }
        }
        r
    }

    fn try_send(&mut self, payload: &[u8]) -> io::Result<()> {
        let path = self.path.clone();
        let sock = self.socket()?;
        match sock.send_to(payload, &path) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMSGSIZE) | Some(libc::ENOBUFS)) => {
                send_memfd(sock, &path, payload)
            }
            Err(e) => Err(e),
        }
    }
}

fn send_memfd(sock: &UnixDatagram, path: &Path, payload: &[u8]) -> io::Result<()> {
    let fd = memfd_create(
        c"xinetd-journal",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(io::Error::from)?;
    let mut file = File::from(fd);
    file.write_all(payload)?;
    fcntl(
        &file,
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SEAL,
        ),
    )
    .map_err(io::Error::from)?;
    let addr = UnixAddr::new(path).map_err(io::Error::from)?;
    let fds = [file.as_raw_fd()];
    let iov: [IoSlice<'_>; 0] = [];
    sendmsg(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        Some(&addr),
    )
    .map_err(io::Error::from)?;
    Ok(())
}

/// A service's journal destination: `log_type = JOURNAL [facility [level]]`.
#[derive(Debug)]
pub struct JournalLog {
    ident: String,
    facility: Facility,
    level: Level,
    log_id: String,
    socket: JournalSocket,
    failure: FailureState,
    buf: Vec<u8>,
}

impl JournalLog {
    /// Log `log_id`'s records at `facility`/`level` to the journal at `path` (normally
    /// [`journal_socket_path`]).
    pub fn new(
        facility: Facility,
        level: Level,
        log_id: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> JournalLog {
        JournalLog {
            ident: IDENT.to_owned(),
            facility,
            level,
            log_id: log_id.into(),
            socket: JournalSocket::new(path.as_ref().to_owned()),
            failure: FailureState::default(),
            buf: Vec::with_capacity(512),
        }
    }

    /// The `SYSLOG_IDENTIFIER` (normally [`IDENT`]).
    pub fn with_ident(mut self, ident: impl Into<String>) -> JournalLog {
        self.ident = ident.into();
        self
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        self.socket.path()
    }

    /// The facility.
    pub fn facility(&self) -> Facility {
        self.facility
    }

    /// The level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Send a record. A failing journal (socket gone, journald stalled) is reported once
    /// (`Error in <id> log: ...`), the lost records counted and reported when it works
    /// again, exactly as for syslog.
    pub fn write(&mut self, record: &Record) -> WriteReport {
        let fields = record_fields(record, Some(self.facility), self.level, &self.ident);
        encode_journal(&fields, &mut self.buf);
        let sent = self.socket.send(&self.buf);
        self.failure.report_send(&self.log_id, sent)
    }

    /// Lines lost to write errors.
    pub fn lost_to_errors(&self) -> u64 {
        self.failure.lost_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Outcome;
    use crate::{LogOnFailure, LogOnSuccess, Peer, Server, ServiceRecords};

    #[test]
    fn big_records_go_through_a_sealed_memfd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let rx = UnixDatagram::bind(&path).expect("bind");
        let mut sock = JournalSocket::new(path);
        // Bigger than any datagram the kernel takes (net.core.wmem_max is ~200 KiB).
        let mut big = b"MESSAGE\n".to_vec();
        let value = vec![b'x'; 4 * 1024 * 1024];
        big.extend_from_slice(&(value.len() as u64).to_le_bytes());
        big.extend_from_slice(&value);
        big.push(b'\n');
        sock.send(&big).expect("sent");
        let mut buf = [0u8; 16];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            rx.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .expect("recvmsg");
        assert_eq!(msg.bytes, 0);
        let mut got = None;
        for c in msg.cmsgs().expect("cmsgs") {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                got = fds.first().copied();
            }
        }
        let fd = got.expect("an fd was passed");
        let owned = own_fd(fd);
        let len = owned.metadata().expect("stat").len();
        assert_eq!(len, big.len() as u64);
        let seals = fcntl(&owned, FcntlArg::F_GET_SEALS).expect("seals");
        assert!(seals & libc::F_SEAL_WRITE != 0);
    }

    // Receiving a descriptor hands us a raw number; the crate forbids `unsafe`, so the
    // memfd is reopened through /proc/self/fd and the received number closed.
    fn own_fd(fd: std::os::fd::RawFd) -> File {
        let f = File::open(format!("/proc/self/fd/{fd}")).expect("reopen");
        let _ = nix::unistd::close(fd);
        f
    }

    #[test]
    fn journal_log_reports_a_vanished_socket_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let rx = UnixDatagram::bind(&path).expect("bind");
        let records = ServiceRecords::new(
            "echo",
            LogOnSuccess::from_words(["HOST"]).expect("flags"),
            LogOnFailure::default(),
        );
        let start = records
            .start(Server::Inline, Peer::Addr("127.0.0.1".parse().expect("ip")))
            .expect("START");
        let mut log = JournalLog::new(Facility::Daemon, Level::Info, "echo", &path);
        assert!(log.write(&start).written());
        let mut buf = vec![0u8; 4096];
        let n = rx.recv(&mut buf).expect("recv");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            text.contains("MESSAGE=START: echo from=127.0.0.1\n"),
            "{text}"
        );
        assert!(text.contains("REMOTE_ADDR=127.0.0.1\n"), "{text}");
        drop(rx);
        std::fs::remove_file(&path).expect("rm");
        let r1 = log.write(&start);
        assert_eq!(r1.outcome, Outcome::DroppedError);
        assert_eq!(r1.diagnostics.len(), 1);
        assert!(r1.diagnostics[0].text.starts_with("Error in echo log: "));
        assert!(log.write(&start).diagnostics.is_empty());
        let rx = UnixDatagram::bind(&path).expect("rebind");
        let r3 = log.write(&start);
        assert!(r3.written());
        assert_eq!(
            r3.diagnostics[0].text,
            "echo log writable again; 2 lines were lost"
        );
        drop(rx);
    }
}
