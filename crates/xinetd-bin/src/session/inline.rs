//! echo, discard and chargen over a stream connection (F-500, F-502, F-508), served inside
//! the daemon: xinetd forks a process for each; the bytes on the wire are the same.

use std::io::{self, Read, Write};

use mio::Registry;

use super::{interest, Next, Socket};
use crate::internal::{Builtin, ChargenRing};

/// An inline stream connection.
pub struct Inline {
    /// The client's connection.
    pub sock: Socket,
    state: StreamState,
}

impl Inline {
    /// A connection of `builtin` (echo, discard or chargen); chargen starts from `ring`.
    pub fn new(sock: Socket, builtin: Builtin, ring: ChargenRing) -> Inline {
        if builtin == Builtin::Chargen {
            // F-508: chargen shuts down its read side first.
            let _ = sock.stream.shutdown(std::net::Shutdown::Read);
        }
        Inline {
            sock,
            state: StreamState::new(builtin, ring),
        }
    }

    /// One turn.
    pub fn ready(&mut self) -> Next {
        match self.state.drive(&mut self.sock.stream) {
            Progress::Blocked => Next::Wait,
            Progress::Yield => Next::Again,
            Progress::Done => Next::Done,
        }
    }

    /// Watch for reading while the client may send and there is room; for writing while
    /// something is pending.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        let want = interest(self.state.wants_read(), self.state.wants_write());
        self.sock.follow(registry, want)
    }
}

/// Largest read of stream echo (F-500 reads up to 1024 bytes at a time; a bigger buffer only
/// saves syscalls, the bytes are the same).
const STREAM_BUF: usize = 16 * 1024;

/// What the loop should do with an inline connection after driving it.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// The socket would block: wait for readiness.
    Blocked,
    /// The turn's budget ran out with more to do: drive again soon.
    Yield,
    /// The exchange is over: close the connection.
    Done,
}

/// State of one inline stream connection (echo, discard, chargen).
#[derive(Debug)]
struct StreamState {
    builtin: Builtin,
    /// Bytes waiting to be written back (echo) or the current chargen lines.
    pending: Vec<u8>,
    written: usize,
    read_closed: bool,
    ring: ChargenRing,
}

impl StreamState {
    /// A new connection of `builtin`; chargen starts from `ring` (F-521).
    fn new(builtin: Builtin, ring: ChargenRing) -> StreamState {
        StreamState {
            builtin,
            pending: Vec::new(),
            written: 0,
            read_closed: builtin == Builtin::Chargen,
            ring,
        }
    }

    /// True while reading can make progress: the client has not sent EOF and nothing read
    /// earlier waits to be written back (a client that does not read its echo is not read
    /// from either).
    pub fn wants_read(&self) -> bool {
        !self.read_closed && self.written >= self.pending.len()
    }

    /// True while the state has bytes it could not write yet.
    pub fn wants_write(&self) -> bool {
        self.builtin == Builtin::Chargen || self.written < self.pending.len()
    }

    /// Drives the connection as far as it goes without blocking.
    pub fn drive<S: Read + Write>(&mut self, sock: &mut S) -> Progress {
        match self.builtin {
            Builtin::Echo => self.drive_echo(sock),
            Builtin::Discard => self.drive_discard(sock),
            Builtin::Chargen => self.drive_chargen(sock),
            // daytime/time are written at accept time and never become StreamState; tcpmux
            // and the admin builtins are sessions of their own.
            Builtin::Daytime
            | Builtin::Time
            | Builtin::Tcpmux
            | Builtin::Servers
            | Builtin::Services
            | Builtin::Xadmin
            | Builtin::Metrics => Progress::Done,
        }
    }

    /// Writes what is pending; `Ok(true)` when everything went out.
    fn flush<S: Write>(&mut self, sock: &mut S) -> io::Result<bool> {
        while self.written < self.pending.len() {
            match sock.write(&self.pending[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.written = 0;
        Ok(true)
    }

    fn drive_echo<S: Read + Write>(&mut self, sock: &mut S) -> Progress {
        let mut buf = [0u8; STREAM_BUF];
        // Bounded: a fast client cannot keep one connection in this loop forever.
        for _ in 0..64 {
            match self.flush(sock) {
                Ok(true) => {}
                Ok(false) => return Progress::Blocked,
                Err(_) => return Progress::Done,
            }
            if self.read_closed {
                return Progress::Done;
            }
            match sock.read(&mut buf) {
                Ok(0) => self.read_closed = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Done,
            }
        }
        Progress::Yield
    }

    fn drive_discard<S: Read>(&mut self, sock: &mut S) -> Progress {
        let mut buf = [0u8; STREAM_BUF];
        for _ in 0..64 {
            match sock.read(&mut buf) {
                Ok(0) => return Progress::Done,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Done,
            }
        }
        Progress::Yield
    }

    fn drive_chargen<S: Write>(&mut self, sock: &mut S) -> Progress {
        // Writes until the socket is full; a write error (peer gone) ends it (F-508).
        for _ in 0..64 {
            match self.flush(sock) {
                Ok(true) => {}
                Ok(false) => return Progress::Blocked,
                Err(_) => return Progress::Done,
            }
            for _ in 0..64 {
                self.ring.next_line(&mut self.pending);
            }
        }
        Progress::Yield
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket double: reads from `input` (then WouldBlock or EOF), writes up to `room`.
    struct Fake {
        input: Vec<u8>,
        eof: bool,
        out: Vec<u8>,
        room: usize,
    }
    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Ok(n)
        }
    }
    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room - self.out.len());
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn echo_survives_backpressure_and_ends_at_eof() {
        let mut s = StreamState::new(Builtin::Echo, ChargenRing::default());
        let mut f = Fake {
            input: b"hello world".to_vec(),
            eof: true,
            out: Vec::new(),
            room: 5,
        };
        assert_eq!(s.drive(&mut f), Progress::Blocked);
        assert_eq!(f.out, b"hello");
        f.room = 100;
        assert_eq!(s.drive(&mut f), Progress::Done);
        assert_eq!(f.out, b"hello world");
    }

    #[test]
    fn chargen_stream_starts_at_ring_position() {
        let mut ring = ChargenRing::default();
        ring.datagram();
        let mut s = StreamState::new(Builtin::Chargen, ring);
        let mut f = Fake {
            input: Vec::new(),
            eof: false,
            out: Vec::new(),
            room: 74 * 3,
        };
        assert_eq!(s.drive(&mut f), Progress::Blocked);
        assert_eq!(f.out.len(), 74 * 3);
        assert_eq!(f.out[0], b'/');
        assert_eq!(f.out[74], b'0');
    }
}
