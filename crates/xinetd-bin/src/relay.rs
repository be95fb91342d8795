//! `redirect = host port` (F-600..F-604) served inside the event loop: a non-blocking TCP
//! relay between the client and the target, instead of xinetd's forked copy loop.
//!
//! Half-close is propagated, unlike xinetd (F-601 ends the whole session at the first EOF):
//! when one side shuts down its sending half, what it sent is written out to the other side,
//! which then sees EOF, while data keeps flowing the other way until that side ends too. An
//! error (a reset, a failed write) still ends the session at once.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// Largest read per call (xinetd reads 1500 bytes; a larger buffer only saves calls).
const CHUNK: usize = 16 * 1024;

/// What the loop should do after driving a relay.
#[derive(Debug)]
pub enum Step {
    /// Wait for readiness again.
    Continue,
    /// The session is over.
    Done,
    /// The connection to the target failed (xinetd: `can't connect to remote host`).
    ConnectFailed(io::Error),
}

/// One redirected connection.
pub struct Relay {
    /// The client's connection.
    pub client: TcpStream,
    /// The connection to the redirect target.
    pub target: TcpStream,
    connected: bool,
    /// The client sent EOF: once `to_target` is flushed, the target's write half is shut.
    client_eof: bool,
    /// The target sent EOF: once `to_client` is flushed, the client's write half is shut.
    target_eof: bool,
    target_shut: bool,
    client_shut: bool,
    to_target: Vec<u8>,
    to_client: Vec<u8>,
    /// Bytes received from the client (`in=` of the TRAFFIC line, F-603).
    pub bytes_in: u64,
    /// Bytes received from the target (`out=`).
    pub bytes_out: u64,
}

impl Relay {
    /// A relay whose target connection is in progress.
    pub fn new(client: TcpStream, target: TcpStream) -> Relay {
        Relay {
            client,
            target,
            connected: false,
            client_eof: false,
            target_eof: false,
            target_shut: false,
            client_shut: false,
            to_target: Vec::new(),
            to_client: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Interests for the client socket.
    pub fn client_interest(&self) -> mio::Interest {
        if self.to_client.is_empty() {
            mio::Interest::READABLE
        } else {
            mio::Interest::READABLE | mio::Interest::WRITABLE
        }
    }

    /// Interests for the target socket.
    pub fn target_interest(&self) -> mio::Interest {
        if !self.connected || !self.to_target.is_empty() {
            mio::Interest::READABLE | mio::Interest::WRITABLE
        } else {
            mio::Interest::READABLE
        }
    }

    /// Moves bytes both ways as far as possible without blocking.
    pub fn drive(&mut self) -> Step {
        if !self.connected {
            if let Ok(Some(e)) | Err(e) = self.target.take_error() {
                return Step::ConnectFailed(e);
            }
            match self.target.peer_addr() {
                Ok(_) => {
                    self.connected = true;
                    // F-601: TCP_NODELAY on both sockets.
                    let _ = self.target.set_nodelay(true);
                    let _ = self.client.set_nodelay(true);
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Continue,
                Err(e) => return Step::ConnectFailed(e),
            }
        }
        let mut buf = [0u8; CHUNK];
        // Bounded: one busy session cannot hold the loop.
        for _ in 0..64 {
            let mut progress = false;
            match flush(&mut self.target, &mut self.to_target) {
                Ok(p) => progress |= p,
                Err(_) => return Step::Done,
            }
            match flush(&mut self.client, &mut self.to_client) {
                Ok(p) => progress |= p,
                Err(_) => return Step::Done,
            }
            // Pass each EOF on once everything before it has been written.
            if self.client_eof && self.to_target.is_empty() && !self.target_shut {
                self.target_shut = true;
                if self.target.shutdown(Shutdown::Write).is_err() {
                    return Step::Done;
                }
            }
            if self.target_eof && self.to_client.is_empty() && !self.client_shut {
                self.client_shut = true;
                if self.client.shutdown(Shutdown::Write).is_err() {
                    return Step::Done;
                }
            }
            if self.target_shut && self.client_shut {
                return Step::Done;
            }
            if !self.client_eof && self.to_target.is_empty() {
                match read_some(&mut self.client, &mut buf) {
                    Ok(Some(0)) => {
                        self.client_eof = true;
                        progress = true;
                    }
                    Ok(Some(n)) => {
                        self.bytes_in += n as u64;
                        self.to_target.extend_from_slice(&buf[..n]);
                        progress = true;
                    }
                    Ok(None) => {}
                    Err(_) => return self.finish(),
                }
            }
            if !self.target_eof && self.to_client.is_empty() {
                match read_some(&mut self.target, &mut buf) {
                    Ok(Some(0)) => {
                        self.target_eof = true;
                        progress = true;
                    }
                    Ok(Some(n)) => {
                        self.bytes_out += n as u64;
                        self.to_client.extend_from_slice(&buf[..n]);
                        progress = true;
                    }
                    Ok(None) => {}
                    Err(_) => return self.finish(),
                }
            }
            if !progress {
                return Step::Continue;
            }
        }
        Step::Continue
    }

    /// End of the session on an error: write out what was already read, if it goes without
    /// blocking.
    fn finish(&mut self) -> Step {
        let _ = flush(&mut self.target, &mut self.to_target);
        let _ = flush(&mut self.client, &mut self.to_client);
        Step::Done
    }
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
