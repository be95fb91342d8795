//! `redirect = host port` (F-600..F-604) served inside the event loop: a non-blocking TCP
//! relay between the client and the target, instead of xinetd's forked copy loop.
//!
//! Half-close is propagated, unlike xinetd (F-601 ends the whole session at the first EOF):
//! when one side shuts down its sending half, what it sent is written out to the other side,
//! which then sees EOF, while data keeps flowing the other way until that side ends too. An
//! error (a reset, a failed write) still ends the session at once.
//!
//! A direction that has carried 64 KiB moves its bytes from one socket to the other through a
//! pipe with splice(2), so they never enter the daemon's memory (issue 16: about 1.7 times
//! the throughput of a read/write copy on loopback). Short exchanges stay on a buffer: a
//! pipe costs three system calls to create and close, more than a small answer's copy. A
//! relay that cannot have a pipe (descriptors short) keeps copying.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};

use mio::net::TcpStream;
use mio::Registry;

use super::{interest, Next, Socket};
use crate::dlog::{Level, ProgramLog};

/// Largest splice per call (a pipe holds 64 KiB), and what a direction carries before it
/// moves to a pipe.
const CHUNK: usize = 64 * 1024;
/// Largest read per call on the copying path (xinetd reads 1500 bytes; more only saves calls).
const COPY_CHUNK: usize = 16 * 1024;

/// One redirected connection.
pub struct Relay {
    /// The client's connection.
    pub client: Socket,
    /// The connection to the redirect target.
    pub target: Socket,
    /// Where `target` connects to.
    to: SocketAddr,
    connected: bool,
    /// The connection to the target failed (xinetd: `can't connect to remote host`).
    connect_error: Option<io::Error>,
    /// The client sent EOF: once `to_target` is flushed, the target's write half is shut.
    client_eof: bool,
    /// The target sent EOF: once `to_client` is flushed, the client's write half is shut.
    target_eof: bool,
    target_shut: bool,
    client_shut: bool,
    to_target: Pending,
    to_client: Pending,
    /// A direction moves to a pipe once it has carried [`CHUNK`] bytes (one try each).
    pipe_tried: (bool, bool),
    /// Bytes received from the client (`in=` of the TRAFFIC line, F-603).
    pub bytes_in: u64,
    /// Bytes received from the target (`out=`).
    pub bytes_out: u64,
}

impl Relay {
    /// A relay whose target connection (to `to`) is in progress.
    pub fn new(client: Socket, target: Socket, to: SocketAddr) -> Relay {
        Relay {
            client,
            target,
            to,
            connected: false,
            connect_error: None,
            client_eof: false,
            target_eof: false,
            target_shut: false,
            client_shut: false,
            to_target: Pending::Buf(Vec::new()),
            to_client: Pending::Buf(Vec::new()),
            pipe_tried: (false, false),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The same relay moving its bytes through pipes from the first byte.
    #[cfg(test)]
    fn with_pipes(mut self) -> Relay {
        self.to_target.use_pipe();
        self.to_client.use_pipe();
        self.pipe_tried = (true, true);
        self
    }

    /// Descriptors the relay holds besides its two sockets (its pipes).
    pub fn pipe_fds(&self) -> usize {
        self.to_target.fds() + self.to_client.fds()
    }

    /// One turn.
    pub fn ready(&mut self) -> Next {
        match self.drive() {
            Ok(Progress::Blocked) => Next::Wait,
            Ok(Progress::Yield) => Next::Again,
            Ok(Progress::Done) => Next::Done,
            Err(e) => {
                self.connect_error = Some(e);
                Next::Done
            }
        }
    }

    /// Interest follows what each direction can still do: a side is read while it has not
    /// sent EOF and what it sent before went out; written while something waits for it. A
    /// side that sent EOF is never watched for reading again (its EOF stays readable: watching
    /// it would wake the loop for nothing, forever, while the other side stays open).
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        let (client, target) = self.interests();
        self.client.follow(registry, client)?;
        self.target.follow(registry, target)
    }

    /// What the client's and the target's sockets should be watched for now.
    fn interests(&self) -> (Option<mio::Interest>, Option<mio::Interest>) {
        let read_client = self.connected && !self.client_eof && self.to_target.is_empty();
        let read_target = self.connected && !self.target_eof && self.to_client.is_empty();
        let write_target = !self.connected || !self.to_target.is_empty();
        let write_client = !self.to_client.is_empty();
        (
            interest(read_client, write_client),
            interest(read_target, write_target),
        )
    }

    /// Sends `bytes` to the target before anything the client sends (`redirect_proxy`).
    pub fn preamble(mut self, bytes: Vec<u8>) -> Relay {
        self.to_target = Pending::Buf(bytes);
        self
    }

    /// The connection to the target failed.
    pub fn connect_error(&self) -> Option<&io::Error> {
        self.connect_error.as_ref()
    }

    /// F-602: `can't connect to remote host %s: %m`.
    pub fn log_connect_failure(&self, e: &io::Error, log: &mut ProgramLog) {
        log.msg(
            Level::Err,
            &format!(
                "can't connect to remote host {}: {}",
                self.to.ip(),
                xinetd_log::explain_errno(e)
            ),
        );
    }

    /// Moves bytes both ways as far as possible without blocking; `Err` when the
    /// connection to the target failed.
    fn drive(&mut self) -> io::Result<Progress> {
        if !self.connected {
            if let Ok(Some(e)) | Err(e) = self.target.stream.take_error() {
                return Err(e);
            }
            match self.target.stream.peer_addr() {
                Ok(_) => {
                    self.connected = true;
                    // F-601: TCP_NODELAY on both sockets.
                    let _ = self.target.stream.set_nodelay(true);
                    let _ = self.client.stream.set_nodelay(true);
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(Progress::Blocked),
                Err(e) => return Err(e),
            }
        }
        let mut buf = [0u8; COPY_CHUNK];
        // A side whose read would block in this turn is not read again in it: data that comes
        // later makes the poll report the side again (edge-triggered). A short read is not
        // taken as empty: an EOF queued behind the data would not be reported again.
        let mut drained = (false, false);
        // Bounded: one busy session cannot hold the loop.
        for _ in 0..64 {
            let mut progress = false;
            match self.to_target.flush(&mut self.target.stream) {
                Ok(p) => progress |= p,
                Err(_) => return Ok(Progress::Done),
            }
            match self.to_client.flush(&mut self.client.stream) {
                Ok(p) => progress |= p,
                Err(_) => return Ok(Progress::Done),
            }
            // Pass each EOF on once everything before it has been written.
            if self.client_eof && self.to_target.is_empty() && !self.target_shut {
                self.target_shut = true;
                if self.target.stream.shutdown(Shutdown::Write).is_err() {
                    return Ok(Progress::Done);
                }
            }
            if self.target_eof && self.to_client.is_empty() && !self.client_shut {
                self.client_shut = true;
                if self.client.stream.shutdown(Shutdown::Write).is_err() {
                    return Ok(Progress::Done);
                }
            }
            if self.target_shut && self.client_shut {
                return Ok(Progress::Done);
            }
            if !self.client_eof && self.to_target.is_empty() && !drained.0 {
                if !self.pipe_tried.0 && self.bytes_in >= CHUNK as u64 {
                    self.pipe_tried.0 = true;
                    self.to_target.use_pipe();
                }
                match self.to_target.fill(&mut self.client.stream, &mut buf) {
                    Ok(Some(0)) => {
                        self.client_eof = true;
                        progress = true;
                    }
                    Ok(Some(n)) => {
                        self.bytes_in += n as u64;
                        progress = true;
                    }
                    Ok(None) => drained.0 = true,
                    Err(_) => return Ok(self.finish()),
                }
            }
            if !self.target_eof && self.to_client.is_empty() && !drained.1 {
                if !self.pipe_tried.1 && self.bytes_out >= CHUNK as u64 {
                    self.pipe_tried.1 = true;
                    self.to_client.use_pipe();
                }
                match self.to_client.fill(&mut self.target.stream, &mut buf) {
                    Ok(Some(0)) => {
                        self.target_eof = true;
                        progress = true;
                    }
                    Ok(Some(n)) => {
                        self.bytes_out += n as u64;
                        progress = true;
                    }
                    Ok(None) => drained.1 = true,
                    Err(_) => return Ok(self.finish()),
                }
            }
            if !progress {
                return Ok(Progress::Blocked);
            }
        }
        // Bounded: one busy session cannot hold the loop; it gets another turn.
        Ok(Progress::Yield)
    }

    /// End of the session on an error: write out what was already read, if it goes without
    /// blocking.
    fn finish(&mut self) -> Progress {
        let _ = self.to_target.flush(&mut self.target.stream);
        let _ = self.to_client.flush(&mut self.client.stream);
        Progress::Done
    }
}

/// Bytes read from one side and not yet written to the other.
enum Pending {
    /// In a pipe (`len` bytes): moved socket -> pipe -> socket by splice(2).
    Pipe { r: OwnedFd, w: OwnedFd, len: usize },
    /// In a buffer (the relay could not have a pipe).
    Buf(Vec<u8>),
}

impl Pending {
    /// An empty buffer becomes a non-blocking pipe (it stays a buffer when descriptors are
    /// short).
    fn use_pipe(&mut self) {
        use nix::fcntl::OFlag;
        if !matches!(self, Pending::Buf(b) if b.is_empty()) {
            return;
        }
        if let Ok((r, w)) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC) {
            *self = Pending::Pipe { r, w, len: 0 };
        }
    }

    fn fds(&self) -> usize {
        match self {
            Pending::Pipe { .. } => 2,
            Pending::Buf(_) => 0,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Pending::Pipe { len, .. } => *len == 0,
            Pending::Buf(b) => b.is_empty(),
        }
    }

    /// Reads what `from` has (only called when empty): `Ok(Some(0))` at EOF, `Ok(None)`
    /// when nothing is available now.
    fn fill(&mut self, from: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            Pending::Pipe { w, len, .. } => loop {
                match nix::fcntl::splice(from.as_fd(), None, w.as_fd(), None, CHUNK, splice_flags())
                {
                    Ok(n) => {
                        *len += n;
                        return Ok(Some(n));
                    }
                    Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            },
            Pending::Buf(pending) => {
                let got = read_some(from, buf)?;
                if let Some(n) = got {
                    pending.extend_from_slice(&buf[..n]);
                }
                Ok(got)
            }
        }
    }

    /// Writes what is pending to `to`; `Ok(true)` when something was written.
    fn flush(&mut self, to: &mut TcpStream) -> io::Result<bool> {
        match self {
            Pending::Pipe { r, len, .. } => {
                let mut wrote = false;
                while *len > 0 {
                    match nix::fcntl::splice(
                        r.as_fd(),
                        None,
                        to.as_fd(),
                        None,
                        *len,
                        splice_flags(),
                    ) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => {
                            *len -= n;
                            wrote = true;
                        }
                        Err(nix::errno::Errno::EAGAIN) => break,
                        Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(wrote)
            }
            Pending::Buf(pending) => flush(to, pending),
        }
    }
}

/// Non-blocking on the pipe too; no `SPLICE_F_MORE` (it would cork small answers).
fn splice_flags() -> nix::fcntl::SpliceFFlags {
    nix::fcntl::SpliceFFlags::SPLICE_F_NONBLOCK | nix::fcntl::SpliceFFlags::SPLICE_F_MOVE
}

/// How far a turn got.
enum Progress {
    /// Both sides would block.
    Blocked,
    /// The budget ran out with more to do.
    Yield,
    /// The session is over.
    Done,
}

/// Writes from the front of `pending`; `Ok(true)` when something was written.
fn flush(sock: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<bool> {
    let mut wrote = 0;
    while wrote < pending.len() {
        match sock.write(&pending[wrote..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => wrote += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    pending.drain(..wrote);
    Ok(wrote > 0)
}

/// One read: `Ok(None)` when nothing is available now.
fn read_some(sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match sock.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};

    use mio::{Interest, Token};

    use super::*;

    /// A connected loopback pair: (the relay's end, the test's end).
    fn pair() -> (mio::net::TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("listen");
        let far = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (near, _) = l.accept().expect("accept");
        near.set_nonblocking(true).expect("nonblocking");
        far.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        (mio::net::TcpStream::from_std(near), far)
    }

    /// A relay through pipes (splice) or through buffers.
    fn relay(pipes: bool) -> (Relay, TcpStream, TcpStream) {
        let (client, client_far) = pair();
        let (target, target_far) = pair();
        let to = target.peer_addr().expect("peer");
        let mut r = Relay::new(
            Socket::new(client, Token(1)),
            Socket::new(target, Token(2)),
            to,
        );
        if pipes {
            r = r.with_pipes();
            assert_eq!(r.pipe_fds(), 4, "two pipes");
        } else {
            assert_eq!(r.pipe_fds(), 0);
        }
        (r, client_far, target_far)
    }

    /// Turns until `cond` holds (the kernel moves loopback bytes asynchronously).
    fn turn_until(r: &mut Relay, mut cond: impl FnMut(&Relay) -> bool) -> Next {
        for _ in 0..500 {
            let n = r.ready();
            if cond(r) || matches!(n, Next::Done) {
                return n;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the relay did not get there");
    }

    #[test]
    fn a_direction_moves_to_a_pipe_after_64_kib() {
        let (mut r, mut c, mut t) = relay(false);
        turn_until(&mut r, |r| r.connected);
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; 3 * CHUNK];
            t.read_exact(&mut got).map(|_| got)
        });
        let sent: Vec<u8> = (0..3 * CHUNK).map(|i| (i % 251) as u8).collect();
        c.write_all(&sent).expect("client writes");
        turn_until(&mut r, |r| {
            r.bytes_in == sent.len() as u64 && r.to_target.is_empty()
        });
        let got = reader.join().expect("reader").expect("target reads");
        assert!(got == sent, "the bytes arrive in order across the switch");
        assert_eq!(
            r.pipe_fds(),
            2,
            "client -> target moved to a pipe, the other way did not"
        );
    }

    #[test]
    fn bytes_flow_both_ways_and_are_counted() {
        bytes_flow_both_ways_and_are_counted_via(true);
        bytes_flow_both_ways_and_are_counted_via(false);
    }

    fn bytes_flow_both_ways_and_are_counted_via(pipes: bool) {
        let (mut r, mut c, mut t) = relay(pipes);
        c.write_all(b"hello").expect("client writes");
        turn_until(&mut r, |r| r.bytes_in == 5);
        let mut b = [0u8; 5];
        t.read_exact(&mut b).expect("target reads");
        assert_eq!(&b, b"hello");
        t.write_all(b"hi").expect("target writes");
        turn_until(&mut r, |r| r.bytes_out == 2);
        let mut b = [0u8; 2];
        c.read_exact(&mut b).expect("client reads");
        assert_eq!(&b, b"hi");
    }

    #[test]
    fn a_half_closed_side_is_never_watched_for_reading_again() {
        a_half_closed_side_is_never_watched_for_reading_again_via(true);
        a_half_closed_side_is_never_watched_for_reading_again_via(false);
    }

    fn a_half_closed_side_is_never_watched_for_reading_again_via(pipes: bool) {
        let (mut r, mut c, mut t) = relay(pipes);
        // Connected: both sides are read, nothing is pending.
        turn_until(&mut r, |r| r.connected);
        assert_eq!(
            r.interests(),
            (Some(Interest::READABLE), Some(Interest::READABLE))
        );
        c.write_all(b"request").expect("write");
        c.shutdown(Shutdown::Write).expect("half-close");
        turn_until(&mut r, |r| r.target_shut);
        // The client's EOF went on to the target, which still may answer.
        let mut got = Vec::new();
        t.read_to_end(&mut got).expect("target reads to EOF");
        assert_eq!(got, b"request");
        assert_eq!(r.interests(), (None, Some(Interest::READABLE)));
        // A turn with nothing to do stays put.
        assert!(matches!(r.ready(), Next::Wait));
        t.write_all(b"answer").expect("answer");
        t.shutdown(Shutdown::Write).expect("target done");
        assert!(matches!(turn_until(&mut r, |_| false), Next::Done));
        let mut got = Vec::new();
        c.read_to_end(&mut got).expect("client reads to EOF");
        assert_eq!(got, b"answer");
    }

    #[test]
    fn a_side_that_does_not_read_is_watched_for_writing_only() {
        a_side_that_does_not_read_is_watched_for_writing_only_via(true);
        a_side_that_does_not_read_is_watched_for_writing_only_via(false);
    }

    fn a_side_that_does_not_read_is_watched_for_writing_only_via(pipes: bool) {
        let (mut r, _c, mut t) = relay(pipes);
        turn_until(&mut r, |r| r.connected);
        // The target sends more than the client's socket buffers hold.
        t.set_nonblocking(true).expect("nonblocking");
        let chunk = [b'x'; 64 * 1024];
        for _ in 0..200 {
            if t.write(&chunk).is_err() {
                break;
            }
            let _ = r.ready();
        }
        assert!(!r.to_client.is_empty(), "the client's buffers are full");
        // Waiting for the client to read: its socket is watched for writing (and for reading,
        // as the other direction is free), the target is not read meanwhile.
        assert_eq!(
            r.interests(),
            (Some(Interest::READABLE | Interest::WRITABLE), None)
        );
    }
}
