//! A TLS connection served by the event loop (issue 15): the handshake, then a relay between
//! the TLS client and the plaintext side — a socketpair whose other end is the external
//! server's fds 0-2, the connection to a `redirect` target, or an internal builtin run on
//! the plaintext directly.
//!
//! Half-close follows the redirect relay ([`super::relay`]): the client's close_notify (or
//! its EOF) becomes a `shutdown(SHUT_WR)` of the plaintext side once what it sent went out,
//! and the plaintext side's EOF becomes a close_notify and a `shutdown(SHUT_WR)` of the TCP
//! connection, while the other direction keeps flowing. Errors end the session at once.
//!
//! Nothing here blocks: rustls only sees bytes the socket already had, and writes go out as
//! far as the socket takes them. Poll interest follows the state ([`Tls::follow`]).

use std::cell::RefCell;
use std::io::{self, BufRead, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use mio::{Interest, Registry, Token};
use rustls::ServerConnection;

use super::{interest, Next, Socket};
use crate::internal::{Builtin, ChargenRing};
use crate::tls::identity::Established;

/// Largest read per call from either side: four full TLS records, written out to the client
/// with one `writev(2)`, or as many records from it.
const READ: usize = 64 * 1024;

thread_local! {
    /// The read buffer every TLS session of the loop shares (a session only needs it during
    /// its turn): not zeroed again for every turn, and no 64 KiB per open connection.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0u8; READ]);
}
/// How much plaintext chargen queues for the client before waiting for it to drain.
const BUILTIN_BACKLOG: usize = 16 * 1024;

/// The plaintext side's stream.
pub enum PlainStream {
    /// The daemon's end of the socketpair of an external server.
    Unix(mio::net::UnixStream),
    /// The connection to a `redirect` target (connecting at first).
    Tcp(mio::net::TcpStream),
}

impl PlainStream {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            PlainStream::Unix(s) => s,
            PlainStream::Tcp(s) => s,
        }
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            PlainStream::Unix(s) => s.read(buf),
            PlainStream::Tcp(s) => s.read(buf),
        }
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            PlainStream::Unix(s) => s.write(buf),
            PlainStream::Tcp(s) => s.write(buf),
        }
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            PlainStream::Unix(s) => s.shutdown(Shutdown::Write),
            PlainStream::Tcp(s) => s.shutdown(Shutdown::Write),
        }
    }
}

/// The plaintext side: a stream, registered with its own token.
pub struct Plain {
    stream: PlainStream,
    token: Token,
    registered: Option<Interest>,
    /// A `redirect` connection completed (a socketpair is connected from the start).
    connected: bool,
    /// The `redirect` target.
    target: Option<std::net::SocketAddr>,
}

impl Plain {
    /// An external server's socketpair end.
    pub fn unix(stream: mio::net::UnixStream, token: Token) -> Plain {
        Plain {
            stream: PlainStream::Unix(stream),
            token,
            registered: None,
            connected: true,
            target: None,
        }
    }

    /// A `redirect` connection to `target` in progress.
    pub fn tcp(stream: mio::net::TcpStream, token: Token, target: std::net::SocketAddr) -> Plain {
        Plain {
            stream: PlainStream::Tcp(stream),
            token,
            registered: None,
            connected: false,
            target: Some(target),
        }
    }

    /// `true` for an external server's socketpair (the server logs its own EXIT).
    pub fn is_server(&self) -> bool {
        matches!(self.stream, PlainStream::Unix(_))
    }

    /// Its token.
    pub fn token(&self) -> Token {
        self.token
    }

    fn follow(&mut self, registry: &Registry, want: Option<Interest>) -> io::Result<()> {
        if want == self.registered {
            return Ok(());
        }
        let token = self.token;
        match (self.registered, want) {
            (None, Some(i)) => registry.register(self.stream.source(), token, i)?,
            (Some(_), Some(i)) => registry.reregister(self.stream.source(), token, i)?,
            (Some(_), None) => registry.deregister(self.stream.source())?,
            (None, None) => {}
        }
        self.registered = want;
        Ok(())
    }

    /// Checks a connection in progress: `Ok(true)` once connected.
    fn check_connected(&mut self) -> io::Result<bool> {
        if self.connected {
            return Ok(true);
        }
        let PlainStream::Tcp(s) = &self.stream else {
            self.connected = true;
            return Ok(true);
        };
        if let Ok(Some(e)) | Err(e) = s.take_error() {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => {
                let _ = s.set_nodelay(true);
                self.connected = true;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A builtin answering over TLS (it has no stream: it reads and writes the plaintext).
pub struct BuiltinSide {
    builtin: Builtin,
    ring: ChargenRing,
}

/// What the decrypted bytes go to.
pub enum Inner {
    /// The handshake is not finished.
    Pending,
    /// A server or a `redirect` target.
    Stream(Plain),
    /// echo, discard, chargen, daytime, time.
    Builtin(BuiltinSide),
}

/// Why a TLS session ended without serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The handshake failed: the FAIL record's detail (`alert=.. error=".."`).
    Handshake(String),
    /// The client closed the connection during the handshake.
    Eof,
    /// `tls_handshake_timeout` passed.
    Timeout,
    /// The connection to the `redirect` target failed (F-602's message).
    Connect(String),
}

/// One TLS connection.
pub struct Tls {
    /// The client's TCP connection.
    pub client: Socket,
    conn: ServerConnection,
    /// The plaintext side.
    pub inner: Inner,
    /// When the handshake must be over.
    handshake_deadline: Option<Instant>,
    /// The handshake finished ([`Next::Established`] was returned).
    established: bool,
    /// What failed, when the session ended without serving.
    failure: Option<Failure>,
    /// The client's TCP EOF (rustls may still hold plaintext read before it).
    tcp_eof: bool,
    /// The client sent close_notify or EOF and all its plaintext was taken.
    client_eof: bool,
    /// The plaintext side's EOF.
    plain_eof: bool,
    /// The plaintext side's write half is shut.
    plain_shut: bool,
    /// close_notify was queued.
    notify_sent: bool,
    /// The TCP write half is shut.
    tcp_shut: bool,
    /// Decrypted bytes waiting for the plaintext side.
    to_plain: Vec<u8>,
    /// Plaintext bytes received from the client (TRAFFIC `in=`).
    pub bytes_in: u64,
    /// Plaintext bytes sent to the client (TRAFFIC `out=`).
    pub bytes_out: u64,
}

impl Tls {
    /// A connection whose handshake starts now.
    pub fn new(
        client: Socket,
        config: Arc<rustls::ServerConfig>,
        deadline: Instant,
    ) -> Result<Tls, rustls::Error> {
        // rustls hands the socket whole records and flights; Nagle would hold the records
        // that follow an unacknowledged one (the session tickets after the handshake, then
        // the first answer) for the client's delayed ACK, 40 ms per connection. stunnel
        // sets TCP_NODELAY too, and the redirect relay does (F-601).
        let _ = client.stream.set_nodelay(true);
        Ok(Tls {
            client,
            conn: ServerConnection::new(config)?,
            inner: Inner::Pending,
            handshake_deadline: Some(deadline),
            established: false,
            failure: None,
            tcp_eof: false,
            client_eof: false,
            plain_eof: false,
            plain_shut: false,
            notify_sent: false,
            tcp_shut: false,
            to_plain: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    /// What the handshake agreed on (once it is over).
    pub fn established(&self) -> Established {
        Established::of(&self.conn)
    }

    /// Why the session ended without serving; a session that ends while the handshake is
    /// still going ended for its deadline.
    pub fn failure(&self) -> Option<Failure> {
        match &self.failure {
            Some(f) => Some(f.clone()),
            None if !self.established => Some(Failure::Timeout),
            None => None,
        }
    }

    /// The handshake deadline while it runs.
    pub fn deadline(&self) -> Option<Instant> {
        self.handshake_deadline
    }

    /// Starts serving `inner` after [`Next::Established`]; `banner` is written first
    /// (`banner_success`).
    pub fn serve(&mut self, inner: Inner, banner: Option<&[u8]>) {
        self.handshake_deadline = None;
        // rustls refuses writes past 64 KiB of unsent data by default, which would silently
        // cut a large banner. The relay bounds the buffer itself instead: it only adds
        // plaintext (at most one read, 64 KiB) while no record waits for the client.
        self.conn.set_buffer_limit(None);
        if let Some(b) = banner {
            self.send(b);
        }
        self.inner = inner;
        if let Inner::Builtin(b) = &mut self.inner {
            let now_text: Option<Vec<u8>> = match b.builtin {
                Builtin::Daytime => Some(
                    crate::internal::daytime_text(&xinetd_log::LocalClock::system().now())
                        .into_bytes(),
                ),
                Builtin::Time => {
                    Some(crate::internal::time_bytes(jiff::Timestamp::now().as_second()).to_vec())
                }
                _ => None,
            };
            if let Some(t) = now_text {
                // A one-shot answer, then the end of the plaintext side.
                self.plain_eof = true;
                self.send(&t);
            }
        }
    }

    /// A builtin side for `b` (chargen starts at `ring`, F-521).
    pub fn builtin(b: Builtin, ring: ChargenRing) -> Inner {
        Inner::Builtin(BuiltinSide { builtin: b, ring })
    }

    fn send(&mut self, data: &[u8]) {
        // No buffer limit after the handshake (see `serve`): the callers only send while
        // the outgoing buffer is empty (backpressure), so it cannot grow unbounded.
        let _ = self.conn.writer().write_all(data);
        self.bytes_out += data.len() as u64;
    }

    /// One turn.
    pub fn ready(&mut self) -> Next {
        if !self.established {
            return match self.handshake() {
                Ok(Some(true)) => {
                    self.established = true;
                    Next::Established
                }
                Ok(Some(false)) => Next::Wait,
                // The turn's budget ran out with bytes still coming: another turn before
                // blocking (edge-triggered readiness would not report them again).
                Ok(None) => Next::Again,
                Err(f) => {
                    self.failure = Some(f);
                    Next::Done
                }
            };
        }
        if matches!(self.inner, Inner::Pending) {
            return Next::Wait;
        }
        match self.relay() {
            Ok(Some(true)) => Next::Again,
            Ok(Some(false)) => Next::Wait,
            Ok(None) => Next::Done,
            Err(f) => {
                self.failure = Some(f);
                Next::Done
            }
        }
    }

    /// Reads and answers handshake records until it would block; `Ok(Some(true))` when the
    /// handshake is over, `Ok(Some(false))` when it waits for the socket, `Ok(None)` when the
    /// turn's budget ran out.
    fn handshake(&mut self) -> Result<Option<bool>, Failure> {
        // Bounded: a client feeding records one byte at a time still yields the loop.
        for _ in 0..64 {
            let mut progress = false;
            while self.conn.wants_write() {
                match self.conn.write_tls(&mut self.client.stream) {
                    Ok(_) => progress = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(Failure::Eof),
                }
            }
            if !self.conn.is_handshaking() {
                return Ok(Some(true));
            }
            if self.conn.wants_write() {
                // Blocked on writing: wait for the socket.
                return Ok(Some(false));
            }
            match self.conn.read_tls(&mut self.client.stream) {
                Ok(0) => return Err(Failure::Eof),
                Ok(_) => progress = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => progress = true,
                Err(_) => return Err(Failure::Eof),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Send the alert rustls queued, as far as it goes without blocking.
                let _ = self.conn.write_tls(&mut self.client.stream);
                return Err(Failure::Handshake(describe(&e)));
            }
            if !progress {
                return Ok(Some(false));
            }
        }
        Ok(None)
    }

    /// Moves bytes both ways; `Ok(None)` when the session is over, `Ok(Some(more))` when it
    /// waits (`more`: the turn's budget ran out with work left).
    fn relay(&mut self) -> Result<Option<bool>, Failure> {
        if let Inner::Stream(p) = &mut self.inner {
            match p.check_connected() {
                Ok(true) => {}
                Ok(false) => return Ok(Some(false)),
                Err(e) => {
                    return Err(Failure::Connect(format!(
                        "can't connect to remote host {}: {}",
                        p.target
                            .map_or_else(|| "?".to_string(), |t| t.ip().to_string()),
                        xinetd_log::explain_errno(&e)
                    )))
                }
            }
        }
        SCRATCH.with_borrow_mut(|buf| self.relay_turns(buf))
    }

    /// [`Tls::relay`]'s turns, with `buf` to read into.
    fn relay_turns(&mut self, buf: &mut [u8]) -> Result<Option<bool>, Failure> {
        for _ in 0..64 {
            let mut progress = false;
            // 1. TLS records out to the client.
            while self.conn.wants_write() {
                match self.conn.write_tls(&mut self.client.stream) {
                    Ok(_) => progress = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Ok(None),
                }
            }
            // 2. Decrypted bytes to the plaintext side.
            if !self.to_plain.is_empty() {
                match self.take_plain() {
                    Ok(p) => progress |= p,
                    Err(()) => return Ok(None),
                }
            }
            // 3. EOFs, once everything before them went out.
            if self.client_eof && self.to_plain.is_empty() && !self.plain_shut {
                self.plain_shut = true;
                progress = true;
                match &mut self.inner {
                    Inner::Stream(p) => {
                        if p.stream.shutdown_write().is_err() {
                            return Ok(None);
                        }
                    }
                    // A builtin is done when its client is: echo and discard answer
                    // nothing more, chargen stops.
                    _ => self.plain_eof = true,
                }
            }
            if self.plain_eof && !self.notify_sent {
                self.notify_sent = true;
                self.conn.send_close_notify();
                // Another round writes it out.
                continue;
            }
            if self.notify_sent && !self.conn.wants_write() && !self.tcp_shut {
                self.tcp_shut = true;
                let _ = self.client.stream.shutdown(Shutdown::Write);
            }
            if self.tcp_shut && self.plain_shut {
                return Ok(None);
            }
            // 4. The client: records in, plaintext out of rustls.
            if !self.client_eof && self.to_plain.is_empty() {
                match self.read_client(buf) {
                    Ok(p) => progress |= p,
                    Err(f) => return f.map_or(Ok(None), Err),
                }
            }
            // 5. The plaintext side, while the client keeps up.
            if !self.plain_eof && !self.conn.wants_write() {
                progress |= self.produce(buf)?;
            }
            if !progress {
                return Ok(Some(false));
            }
        }
        Ok(Some(true))
    }

    /// Gives the decrypted bytes to the plaintext side; `Err` when it failed.
    fn take_plain(&mut self) -> Result<bool, ()> {
        match &mut self.inner {
            Inner::Stream(p) => {
                let mut wrote = 0;
                while wrote < self.to_plain.len() {
                    match p.stream.write(&self.to_plain[wrote..]) {
                        Ok(0) => return Err(()),
                        Ok(n) => wrote += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Err(()),
                    }
                }
                self.to_plain.drain(..wrote);
                Ok(wrote > 0)
            }
            Inner::Builtin(b) => {
                if b.builtin == Builtin::Echo {
                    if self.conn.wants_write() {
                        // The client is not reading: echo waits for it.
                        return Ok(false);
                    }
                    let data = std::mem::take(&mut self.to_plain);
                    self.send(&data);
                } else {
                    self.to_plain.clear();
                }
                Ok(true)
            }
            Inner::Pending => Ok(false),
        }
    }

    /// Reads TLS records from the client and takes the plaintext out of rustls. `Err(None)`
    /// ends the session quietly (a reset), `Err(Some(_))` with a failure.
    ///
    /// One `read(2)` takes up to `buf.len()` bytes of records, which are then handed to
    /// rustls from memory: its own `read_tls` reads at most 4 KiB a call, four or five
    /// system calls per full record.
    fn read_client(&mut self, buf: &mut [u8]) -> Result<bool, Option<Failure>> {
        let mut progress = false;
        if !self.tcp_eof && self.conn.wants_read() {
            let got = match self.client.stream.read(buf) {
                Ok(n) => Some(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
                Err(_) => return Err(None),
            };
            match got {
                Some(0) => {
                    self.tcp_eof = true;
                    progress = true;
                    // Tells rustls the transport ended (a missing close_notify is then
                    // visible to the reader).
                    let _ = self.conn.read_tls(&mut io::empty());
                }
                Some(n) => {
                    progress = true;
                    let mut records = &buf[..n];
                    while !records.is_empty() && !self.client_eof {
                        if self.conn.read_tls(&mut records).is_err() {
                            return Err(None);
                        }
                        if let Err(e) = self.conn.process_new_packets() {
                            let _ = self.conn.write_tls(&mut self.client.stream);
                            return Err(Some(Failure::Handshake(describe(&e))));
                        }
                        self.take_decrypted();
                    }
                }
                None => {}
            }
        }
        if !self.client_eof && self.take_decrypted() {
            progress = true;
        }
        if !self.client_eof && self.tcp_eof {
            // EOF without close_notify: many clients end so; take it as EOF.
            self.client_eof = true;
            progress = true;
        }
        Ok(progress)
    }

    /// Moves the plaintext rustls decrypted to the stream side, or to `to_plain` what it
    /// does not take now (or for a builtin); `true` when something moved or the client's close_notify came (then
    /// `client_eof`).
    fn take_decrypted(&mut self) -> bool {
        let mut moved = false;
        loop {
            let mut reader = self.conn.reader();
            match reader.fill_buf() {
                Ok([]) => {
                    // close_notify: the client's clean EOF.
                    self.client_eof = true;
                    return true;
                }
                Ok(chunk) => {
                    let n = chunk.len();
                    // Straight from rustls' buffer to a stream side with nothing queued
                    // before it, as far as it takes it: one copy less per record. A failed
                    // write leaves the rest queued for `take_plain`, which reports it.
                    let mut direct = 0;
                    if let (true, Inner::Stream(p)) = (self.to_plain.is_empty(), &mut self.inner) {
                        while p.connected && direct < n {
                            match p.stream.write(&chunk[direct..]) {
                                Ok(0) => break,
                                Ok(w) => direct += w,
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                Err(_) => break,
                            }
                        }
                    }
                    self.to_plain.extend_from_slice(&chunk[direct..]);
                    reader.consume(n);
                    self.bytes_in += n as u64;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return moved,
                Err(_) => {
                    // UnexpectedEof: the TCP connection ended without close_notify.
                    self.client_eof = true;
                    return true;
                }
            }
        }
    }

    /// The plaintext side's output into TLS records; `Ok(true)` when something moved.
    fn produce(&mut self, buf: &mut [u8]) -> Result<bool, Failure> {
        match &mut self.inner {
            Inner::Stream(p) => loop {
                match p.stream.read(buf) {
                    Ok(0) => {
                        self.plain_eof = true;
                        return Ok(true);
                    }
                    Ok(n) => {
                        self.send(&buf[..n]);
                        return Ok(true);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        self.plain_eof = true;
                        return Ok(true);
                    }
                }
            },
            Inner::Builtin(b) if b.builtin == Builtin::Chargen => {
                let mut out = Vec::with_capacity(BUILTIN_BACKLOG);
                while out.len() < BUILTIN_BACKLOG {
                    b.ring.next_line(&mut out);
                }
                self.send(&out);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Interest: the client is read while the handshake runs or while its plaintext has
    /// somewhere to go, written while rustls has records for it; the plaintext side is read
    /// while the client keeps up, written while decrypted bytes wait (or it connects).
    fn interests(&self) -> (Option<Interest>, Option<Interest>) {
        let wants_write = self.conn.wants_write();
        if !self.established {
            return (interest(!wants_write, wants_write), None);
        }
        let read_client = !self.client_eof && self.to_plain.is_empty() && !self.tcp_eof;
        let client = interest(read_client, wants_write);
        let plain = match &self.inner {
            Inner::Stream(p) if !p.connected => interest(false, true),
            Inner::Stream(_) => {
                interest(!self.plain_eof && !wants_write, !self.to_plain.is_empty())
            }
            _ => None,
        };
        (client, plain)
    }

    /// Makes the poll watch what the state can use now.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        let (client, plain) = self.interests();
        self.client.follow(registry, client)?;
        if let Inner::Stream(p) = &mut self.inner {
            p.follow(registry, plain)?;
        }
        Ok(())
    }

    /// Stops watching both sides.
    pub fn forget(&mut self, registry: &Registry) {
        self.client.forget(registry);
        if let Inner::Stream(p) = &mut self.inner {
            let _ = p.follow(registry, None);
        }
    }

    /// The tokens of its sockets.
    pub fn tokens(&self) -> Vec<Token> {
        let mut t = vec![self.client.token()];
        if let Inner::Stream(p) = &self.inner {
            t.push(p.token());
        }
        t
    }
}

/// The FAIL record's detail for a rustls error: the alert sent (or received) and the error.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let (dir, alert) = match e {
        E::AlertReceived(a) => ("received", *a),
        E::InvalidCertificate(c) => (
            "sent",
            match c {
                C::UnknownIssuer => A::UnknownCA,
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => A::CertificateExpired,
                C::Revoked => A::CertificateRevoked,
                C::BadEncoding => A::DecodeError,
                C::BadSignature => A::DecryptError,
                _ => A::BadCertificate,
            },
        ),
        E::NoCertificatesPresented => ("sent", A::CertificateRequired),
        E::NoApplicationProtocol => ("sent", A::NoApplicationProtocol),
        E::PeerIncompatible(_) => ("sent", A::HandshakeFailure),
        E::InvalidMessage(_) => ("sent", A::DecodeError),
        E::DecryptError => ("sent", A::BadRecordMac),
        _ => ("sent", A::HandshakeFailure),
    };
    let text = e.to_string().replace('"', "'");
    format!("alert={} ({dir}) error=\"{text}\"", alert_name(alert))
}

/// `UnknownCA` -> `unknown_ca`: the alert's name as RFC 8446 writes it.
fn alert_name(a: rustls::AlertDescription) -> String {
    let d = format!("{a:?}");
    let chars: Vec<char> = d.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev_lower = chars[i - 1].is_ascii_lowercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase()) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_are_rfc_words() {
        assert_eq!(
            alert_name(rustls::AlertDescription::UnknownCA),
            "unknown_ca"
        );
        assert_eq!(
            alert_name(rustls::AlertDescription::BadCertificate),
            "bad_certificate"
        );
        assert_eq!(
            alert_name(rustls::AlertDescription::NoApplicationProtocol),
            "no_application_protocol"
        );
    }
}
