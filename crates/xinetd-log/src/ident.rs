//! RFC 1413 identification (`USERID` in `log_on_success`/`log_on_failure`, `flags = IDONLY`;
//! F-142, F-724, F-740, F-741).
//!
//! Two layers:
//!
//! * [`IdentQuery`] — a sans-I/O state machine: it gives the request bytes
//!   (`<remote_port>,<local_port>\r\n`), takes response bytes as they arrive, knows its
//!   deadline, and parses the reply exactly as xinetd does (one CR-LF terminated line of at
//!   most 1024 bytes, both ports must match, then `USERID :`; the logged text is what
//!   follows, e.g. `UNIX : alice`).
//! * [`IdentClient`] — a non-blocking `std::net::TcpStream` driver for an event loop
//!   (register [`IdentClient::as_raw_fd`] for readable+writable, call
//!   [`IdentClient::poll`] on readiness and at [`IdentClient::deadline`]), and
//!   [`lookup_blocking`] for a forked child, which may wait.
//!
//! The identd port is a parameter ([`IDENT_PORT`] in production) so tests can run a server
//! on an unprivileged port.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::diagnostic::{explain_errno, Diagnostic, DiagnosticKind};
use crate::peer::Peer;
use crate::Level;

/// The identification service port (RFC 1413).
pub const IDENT_PORT: u16 = 113;

/// xinetd's `LOGUSER_SUCCESS_TIMEOUT` and `LOGUSER_FAILURE_TIMEOUT`: 30 seconds.
pub const IDENT_TIMEOUT: Duration = Duration::from_secs(30);

/// xinetd reads at most this many bytes looking for the CR-LF (`IBUFSIZE`).
pub const MAX_REPLY_LEN: usize = 1024;

/// How long a query may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentTimeout {
    /// Give up after this long (`timeout`).
    After(Duration),
    /// Wait as long as it takes (xinetd's choice for `IDONLY` services, F-740).
    Never,
}

impl IdentTimeout {
    /// xinetd's timeout for a lookup before starting a server: 30 s, or none at all when the
    /// service has `flags = IDONLY` (F-740; the unbounded wait is F-975 — it only holds
    /// that one connection here, never the daemon).
    pub fn for_success(idonly: bool) -> IdentTimeout {
        if idonly {
            IdentTimeout::Never
        } else {
            IdentTimeout::After(IDENT_TIMEOUT)
        }
    }

    /// xinetd's timeout for a lookup about a refused request (F-741): 30 s.
    pub fn for_failure() -> IdentTimeout {
        IdentTimeout::After(IDENT_TIMEOUT)
    }

    fn deadline(self, now: Instant) -> Option<Instant> {
        match self {
            IdentTimeout::After(d) => now.checked_add(d),
            IdentTimeout::Never => None,
        }
    }
}

/// A successful identd answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentReply {
    line: String,
    text_start: usize,
}

impl IdentReply {
    /// What xinetd logs after `USERID: <id> `: the reply after the `USERID :` token,
    /// normally `<opsys> : <user>` (e.g. `UNIX : alice`).
    pub fn text(&self) -> &str {
        &self.line[self.text_start..]
    }

    /// The whole reply line without CR-LF.
    pub fn line(&self) -> &str {
        &self.line
    }
}

/// Why the reply could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The server closed the connection before CR-LF.
    MissingCrlf,
    /// 1024 bytes without CR-LF.
    TooLong,
    /// A read error (`read: %m` text).
    Read(String),
}

/// Why identification failed; [`IdentFailure::reason`] gives the word of the `NOID:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentFailure {
    /// Connecting to the peer's identd failed (refused, unreachable): `no server`.
    NoServer,
    /// The deadline passed: `timeout`.
    Timeout,
    /// A local error (socket, bind, send): `system error`. The text is for the program log.
    SystemError(String),
    /// The reply could not be read: `error while receiving response`.
    Receive(ReceiveError),
    /// The reply was not a matching `USERID` line (e.g. `ERROR : NO-USER`): `bad response`.
    BadResponse {
        /// The line received, without CR-LF.
        line: String,
    },
}

impl IdentFailure {
    /// The reason word(s) of `NOID: <id> <addr> <reason>` (xinetd's `idresult_explain`).
    pub fn reason(&self) -> &'static str {
        match self {
            IdentFailure::NoServer => "no server",
            IdentFailure::Timeout => "timeout",
            IdentFailure::SystemError(_) => "system error",
            IdentFailure::Receive(_) => "error while receiving response",
            IdentFailure::BadResponse { .. } => "bad response",
        }
    }

    /// The ERROR xinetd writes to its program log while looking up, if any. `peer` is the
    /// client whose identd was asked.
    ///
    /// xinetd prints this address from `getpeername()` of the accepted socket, which it has
    /// switched to AF_INET with `IPV6_ADDRFORM` (F-148): an IPv4 client of a dual-stack
    /// service is `127.0.0.1` here although `from=` and `NOID:` say `::ffff:127.0.0.1`
    /// (observed on the real binary).
    pub fn diagnostic(&self, peer: Peer) -> Option<Diagnostic> {
        let peer = match peer {
            Peer::Addr(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => Peer::Addr(IpAddr::V4(v4)),
                None => peer,
            },
            other => other,
        };
        let (kind, func, text) = match self {
            IdentFailure::NoServer | IdentFailure::Timeout => return None,
            IdentFailure::SystemError(text) => (
                DiagnosticKind::IdentReceive,
                "log_remote_user",
                text.clone(),
            ),
            IdentFailure::Receive(ReceiveError::MissingCrlf) => (
                DiagnosticKind::IdentReceive,
                "get_line",
                "identd server reply missing ending CR-LF".to_owned(),
            ),
            IdentFailure::Receive(ReceiveError::TooLong) => (
                DiagnosticKind::IdentReceive,
                "get_line",
                "Too much input from identity server".to_owned(),
            ),
            IdentFailure::Receive(ReceiveError::Read(e)) => (
                DiagnosticKind::IdentReceive,
                "get_line",
                format!("read: {e}"),
            ),
            IdentFailure::BadResponse { line } => (
                DiagnosticKind::IdentBadLine,
                "log_remote_user",
                format!("Bad line received from identity server at {peer}: {line}"),
            ),
        };
        Some(Diagnostic::new(kind, Level::Err, func, text))
    }
}

impl fmt::Display for IdentFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// The result of one lookup.
pub type IdentResult = Result<IdentReply, IdentFailure>;

/// The sans-I/O query: feed it bytes and time, it tells when it is done.
///
/// ```
/// use std::time::Instant;
/// use xinetd_log::{IdentQuery, IdentTimeout, LogOnFailure, LogOnSuccess, Peer, ServiceRecords};
///
/// // A client connected from port 6191 to our port 23.
/// let mut q = IdentQuery::new(6191, 23, IdentTimeout::for_success(false), Instant::now());
/// assert_eq!(q.request(), b"6191,23\r\n");
/// assert!(q.receive(b"6191, 23 : USERID : UNIX").is_none()); // more to come
/// let result = q.receive(b" : stjohns\r\n").expect("CR-LF ends the reply");
///
/// let telnet = ServiceRecords::new(
///     "telnet",
///     LogOnSuccess { userid: true, ..LogOnSuccess::default() },
///     LogOnFailure::default(),
/// );
/// let peer = Peer::Addr("192.0.2.7".parse().expect("address"));
/// let outcome = telnet.ident_before_start(peer, &result, /* IDONLY */ true);
/// assert!(outcome.admit);
/// assert_eq!(outcome.record.expect("USERID record").as_str(), "USERID: telnet UNIX : stjohns");
/// ```
#[derive(Clone, Debug)]
pub struct IdentQuery {
    remote_port: u16,
    local_port: u16,
    request: Vec<u8>,
    deadline: Option<Instant>,
    buf: Vec<u8>,
}

impl IdentQuery {
    /// A query about the connection from the peer's `remote_port` to our `local_port`.
    pub fn new(
        remote_port: u16,
        local_port: u16,
        timeout: IdentTimeout,
        now: Instant,
    ) -> IdentQuery {
        IdentQuery {
            remote_port,
            local_port,
            request: format!("{remote_port},{local_port}\r\n").into_bytes(),
            deadline: timeout.deadline(now),
            buf: Vec::with_capacity(128),
        }
    }

    /// The bytes to send: `<remote_port>,<local_port>\r\n`.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// When the query times out (`None`: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// `Some(Timeout)` once `now` is at or past the deadline.
    pub fn check_timeout(&self, now: Instant) -> Option<IdentFailure> {
        match self.deadline {
            Some(d) if now >= d => Some(IdentFailure::Timeout),
            _ => None,
        }
    }

    /// Feed received bytes. Returns the result once a CR-LF arrived (or 1024 bytes came
    /// without one); `None` means "need more".
    pub fn receive(&mut self, data: &[u8]) -> Option<IdentResult> {
        let room = MAX_REPLY_LEN - self.buf.len();
        let take = &data[..data.len().min(room)];
        let scan_from = self.buf.len();
        self.buf.extend_from_slice(take);
        // xinetd: a '\n' preceded by '\r', not at the very start of the buffer.
        let found = (scan_from.max(1)..self.buf.len())
            .find(|&i| self.buf[i] == b'\n' && self.buf[i - 1] == b'\r');
        if let Some(nl) = found {
            let mut line = &self.buf[..nl - 1];
            // xinetd handles the line as a C string: it ends at a NUL byte.
            if let Some(nul) = line.iter().position(|&b| b == 0) {
                line = &line[..nul];
            }
            return Some(self.verify(line));
        }
        if self.buf.len() >= MAX_REPLY_LEN {
            return Some(Err(IdentFailure::Receive(ReceiveError::TooLong)));
        }
        None
    }

    /// The server closed the connection.
    pub fn eof(&self) -> IdentResult {
        Err(IdentFailure::Receive(ReceiveError::MissingCrlf))
    }

    fn verify(&self, line: &[u8]) -> IdentResult {
        let text = String::from_utf8_lossy(line).into_owned();
        // RFC 1413 allows no CR or LF inside a reply, and the identd asked is the client's
        // own: logged as it came (xinetd does), a lone LF after `USERID : UNIX : x` would
        // end the USERID record and start a line the client wrote. Such a reply is a bad
        // one, shown in the program log with the two characters escaped.
        if text.contains(['\r', '\n']) {
            return Err(IdentFailure::BadResponse {
                line: text.replace('\r', "\\r").replace('\n', "\\n"),
            });
        }
        match verify_line(&text, self.local_port, self.remote_port) {
            Some(start) => Ok(IdentReply {
                line: text,
                text_start: start,
            }),
            None => Err(IdentFailure::BadResponse { line: text }),
        }
    }
}

fn c_isspace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// xinetd's `parse_base10`: strtol base 10 with leading and trailing white space.
fn parse_base10(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let t = s.trim_start_matches(c_isspace);
    let (neg, unsigned) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    let (value, rest) = if digits == 0 {
        // No conversion: strtol leaves the end pointer at the start of the string.
        (0, s)
    } else {
        let v: i64 = unsigned[..digits].parse().ok()?;
        (if neg { -v } else { v }, &unsigned[digits..])
    };
    rest.trim_start_matches(c_isspace)
        .is_empty()
        .then_some(value)
}

/// xinetd's `verify_line`: `<remote>,<local>:<ws>USERID<ws>:<ws><text>`; returns where the
/// text starts.
fn verify_line(line: &str, local_port: u16, remote_port: u16) -> Option<usize> {
    let comma = line.find(',')?;
    if parse_base10(&line[..comma])? != i64::from(remote_port) {
        return None;
    }
    let after_comma = comma + 1;
    let colon = after_comma + line[after_comma..].find(':')?;
    if parse_base10(&line[after_comma..colon])? != i64::from(local_port) {
        return None;
    }
    let rest = &line[colon + 1..];
    let rest = rest.trim_start_matches(c_isspace);
    let rest = rest.strip_prefix("USERID")?;
    let rest = rest.trim_start_matches(c_isspace);
    let rest = rest.strip_prefix(':')?;
    let rest = rest.trim_start_matches(c_isspace);
    if rest.is_empty() {
        return None;
    }
    Some(line.len() - rest.len())
}

fn ident_socket(
    local: SocketAddr,
    peer: SocketAddr,
    ident_port: u16,
) -> Result<(Socket, SockAddr), IdentFailure> {
    let system = |what: &str, e: io::Error| {
        IdentFailure::SystemError(format!("{what}: {}", explain_errno(&e)))
    };
    let sock = Socket::new(Domain::for_address(peer), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| system("socket creation", e))?;
    // Bound to the address the client reached us on, or ident fails on multi-homed hosts.
    let bind_ip: IpAddr = local.ip();
    sock.bind(&SockAddr::from(SocketAddr::new(bind_ip, 0)))
        .map_err(|e| system("socket bind", e))?;
    Ok((sock, SockAddr::from(SocketAddr::new(peer.ip(), ident_port))))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Sending(usize),
    Receiving,
    Done,
}

/// A non-blocking ident lookup for an event loop.
///
/// Register [`as_raw_fd`](AsRawFd::as_raw_fd) with the poller for both readable and
/// writable events; call [`poll`](IdentClient::poll) when it is ready and when
/// [`deadline`](IdentClient::deadline) passes. `poll` never blocks.
#[derive(Debug)]
pub struct IdentClient {
    stream: TcpStream,
    query: IdentQuery,
    phase: Phase,
}

impl IdentClient {
    /// Start asking the identd of `peer` (the client of a connection we accepted on
    /// `local`) at `ident_port` ([`IDENT_PORT`]). Pass the accepted stream's
    /// `local_addr()` and `peer_addr()` (not the listening wildcard): the query names both
    /// ports and the socket is bound to `local`'s address, as xinetd does.
    /// An immediate failure (no route, refused) is returned as `Err`.
    pub fn start(
        local: SocketAddr,
        peer: SocketAddr,
        ident_port: u16,
        timeout: IdentTimeout,
        now: Instant,
    ) -> Result<IdentClient, IdentFailure> {
        let (sock, target) = ident_socket(local, peer, ident_port)?;
        sock.set_nonblocking(true)
            .map_err(|e| IdentFailure::SystemError(format!("fcntl: {}", explain_errno(&e))))?;
        match sock.connect(&target) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(_) => return Err(IdentFailure::NoServer),
        }
        Ok(IdentClient {
            stream: sock.into(),
            query: IdentQuery::new(peer.port(), local.port(), timeout, now),
            phase: Phase::Connecting,
        })
    }

    /// When [`poll`](IdentClient::poll) must be called even without readiness.
    pub fn deadline(&self) -> Option<Instant> {
        self.query.deadline()
    }

    /// Make progress. `None`: still waiting; `Some(result)`: finished (call no more).
    pub fn poll(&mut self, now: Instant) -> Option<IdentResult> {
        let result = self.step(now);
        if result.is_some() {
            self.phase = Phase::Done;
        }
        result
    }

    fn step(&mut self, now: Instant) -> Option<IdentResult> {
        loop {
            match self.phase {
                Phase::Done => return None,
                Phase::Connecting => match self.stream.take_error() {
                    Ok(Some(_)) | Err(_) => return Some(Err(IdentFailure::NoServer)),
                    Ok(None) => match self.stream.peer_addr() {
                        Ok(_) => self.phase = Phase::Sending(0),
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            return self.query.check_timeout(now).map(Err)
                        }
                        Err(_) => return Some(Err(IdentFailure::NoServer)),
                    },
                },
                Phase::Sending(sent) => {
                    let request = self.query.request();
                    if sent == request.len() {
                        self.phase = Phase::Receiving;
                        continue;
                    }
                    match self.stream.write(&request[sent..]) {
                        Ok(n) => self.phase = Phase::Sending(sent + n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return self.query.check_timeout(now).map(Err)
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            return Some(Err(IdentFailure::SystemError(format!(
                                "write: {}",
                                explain_errno(&e)
                            ))))
                        }
                    }
                }
                Phase::Receiving => {
                    let mut chunk = [0u8; MAX_REPLY_LEN];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => return Some(self.query.eof()),
                        Ok(n) => {
                            if let Some(r) = self.query.receive(&chunk[..n]) {
                                return Some(r);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return self.query.check_timeout(now).map(Err)
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            return Some(Err(IdentFailure::Receive(ReceiveError::Read(
                                explain_errno(&e),
                            ))))
                        }
                    }
                }
            }
        }
    }
}

impl AsRawFd for IdentClient {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// A blocking lookup, for a forked child that may wait before exec (as xinetd's child
/// does). Same parameters as [`IdentClient::start`].
pub fn lookup_blocking(
    local: SocketAddr,
    peer: SocketAddr,
    ident_port: u16,
    timeout: IdentTimeout,
) -> IdentResult {
    let start = Instant::now();
    let mut query = IdentQuery::new(peer.port(), local.port(), timeout, start);
    let deadline = query.deadline();
    let remaining = || -> Result<Option<Duration>, IdentFailure> {
        match deadline {
            None => Ok(None),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(IdentFailure::Timeout)
                } else {
                    Ok(Some(left))
                }
            }
        }
    };
    let is_timeout = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    let (sock, target) = ident_socket(local, peer, ident_port)?;
    let connected = match remaining()? {
        Some(left) => sock.connect_timeout(&target, left),
        None => sock.connect(&target),
    };
    if let Err(e) = connected {
        return Err(if is_timeout(&e) {
            IdentFailure::Timeout
        } else {
            IdentFailure::NoServer
        });
    }
    let mut stream: TcpStream = sock.into();
    let io_failure = |e: io::Error, what: &str| -> IdentFailure {
        if is_timeout(&e) {
            IdentFailure::Timeout
        } else if what == "write" {
            IdentFailure::SystemError(format!("write: {}", explain_errno(&e)))
        } else {
            IdentFailure::Receive(ReceiveError::Read(explain_errno(&e)))
        }
    };
    stream
        .set_write_timeout(remaining()?)
        .map_err(|e| io_failure(e, "write"))?;
    stream
        .write_all(query.request())
        .map_err(|e| io_failure(e, "write"))?;
    let mut chunk = [0u8; MAX_REPLY_LEN];
    loop {
        stream
            .set_read_timeout(remaining()?)
            .map_err(|e| io_failure(e, "read"))?;
        match stream.read(&mut chunk) {
            Ok(0) => return query.eof(),
            Ok(n) => {
                if let Some(r) = query.receive(&chunk[..n]) {
                    return r;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(e, "read")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> IdentQuery {
        IdentQuery::new(
            6191,
            23,
            IdentTimeout::After(Duration::from_secs(30)),
            Instant::now(),
        )
    }

    #[test]
    fn request_is_remote_then_local_port() {
        assert_eq!(q().request(), b"6191,23\r\n");
    }

    #[test]
    fn parses_rfc1413_examples() {
        let mut query = q();
        let r = query
            .receive(b"6191, 23 : USERID : UNIX : stjohns\r\n")
            .expect("complete")
            .expect("userid");
        assert_eq!(r.text(), "UNIX : stjohns");
        assert_eq!(r.line(), "6191, 23 : USERID : UNIX : stjohns");
    }

    #[test]
    fn a_reply_cannot_write_lines_of_its_own() {
        // The `ident_reply` fuzz target's minimised crash (fuzz/, docs/reliability.md): a CR
        // before the CR-LF, which ended up inside the USERID record.
        let r = IdentQuery::new(6, 23, IdentTimeout::Never, Instant::now())
            .receive(b"6,23:USERID:\x1a\r\r\n")
            .expect("complete");
        assert_eq!(
            r,
            Err(IdentFailure::BadResponse {
                line: "6,23:USERID:\x1a\\r".into()
            })
        );
        for reply in [
            &b"6191, 23 : USERID : UNIX : soak\nFORGED: by identd\r\n"[..],
            b"6191, 23 : USERID : UNIX : a\rb\r\n",
            b"6191, 23 : USERID : UNIX :\n\r\n",
        ] {
            let r = q().receive(reply).expect("complete");
            let Err(IdentFailure::BadResponse { line }) = &r else {
                panic!("{r:?}")
            };
            assert!(!line.contains(['\r', '\n']), "{line:?}");
            let peer = Peer::Addr("192.0.2.1".parse().expect("address"));
            let d = r
                .as_ref()
                .expect_err("bad response")
                .diagnostic(peer)
                .expect("Bad line diagnostic");
            assert!(!d.text.contains(['\r', '\n']), "{:?}", d.text);
        }
        let r = q()
            .receive(b"6191, 23 : USERID : UNIX : soak\nFORGED\r\n")
            .expect("complete");
        assert_eq!(
            r,
            Err(IdentFailure::BadResponse {
                line: "6191, 23 : USERID : UNIX : soak\\nFORGED".into()
            })
        );
    }

    #[test]
    fn reply_may_arrive_in_pieces_with_crlf_split() {
        let mut query = q();
        assert!(query.receive(b"6191,23:USERID:UNIX:bob\r").is_none());
        let r = query.receive(b"\n").expect("complete").expect("userid");
        assert_eq!(r.text(), "UNIX:bob");
    }

    #[test]
    fn error_replies_and_mismatched_ports_are_bad_responses() {
        for line in [
            &b"6191, 23 : ERROR : NO-USER\r\n"[..],
            b"6192, 23 : USERID : UNIX : x\r\n",
            b"6191, 24 : USERID : UNIX : x\r\n",
            b"6191 23 : USERID : UNIX : x\r\n",
            b"6191, 23 : USERID :   \r\n",
            b"6191, 23 : userid : UNIX : x\r\n",
            b"x6191, 23 : USERID : UNIX : x\r\n",
        ] {
            let mut query = q();
            let r = query.receive(line).expect("complete");
            assert!(
                matches!(r, Err(IdentFailure::BadResponse { .. })),
                "{:?} gave {r:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn too_long_and_eof_are_receive_errors() {
        let mut query = q();
        assert!(query.receive(&[b'a'; 1000]).is_none());
        let r = query.receive(&[b'a'; 100]).expect("complete");
        assert_eq!(r, Err(IdentFailure::Receive(ReceiveError::TooLong)));
        assert_eq!(
            q().eof(),
            Err(IdentFailure::Receive(ReceiveError::MissingCrlf))
        );
        // A lone LF at the very start does not end the line (xinetd checks s != buf).
        let mut query = q();
        assert!(query.receive(b"\n").is_none());
    }

    #[test]
    fn timeout_and_reasons() {
        let now = Instant::now();
        let query = IdentQuery::new(1, 2, IdentTimeout::After(Duration::from_secs(30)), now);
        assert!(query.check_timeout(now).is_none());
        assert_eq!(
            query.check_timeout(now + Duration::from_secs(30)),
            Some(IdentFailure::Timeout)
        );
        let never = IdentQuery::new(1, 2, IdentTimeout::for_success(true), now);
        assert!(never
            .check_timeout(now + Duration::from_secs(3600))
            .is_none());
        assert_eq!(
            IdentTimeout::for_success(false),
            IdentTimeout::After(IDENT_TIMEOUT)
        );
        assert_eq!(IdentFailure::NoServer.reason(), "no server");
        assert_eq!(IdentFailure::Timeout.reason(), "timeout");
        assert_eq!(
            IdentFailure::SystemError(String::new()).reason(),
            "system error"
        );
        assert_eq!(
            IdentFailure::Receive(ReceiveError::TooLong).reason(),
            "error while receiving response"
        );
        assert_eq!(
            IdentFailure::BadResponse {
                line: String::new()
            }
            .reason(),
            "bad response"
        );
    }

    #[test]
    fn base10_follows_strtol() {
        assert_eq!(parse_base10(" 23 "), Some(23));
        assert_eq!(parse_base10("+7"), Some(7));
        assert_eq!(parse_base10("   "), Some(0));
        assert_eq!(parse_base10(""), None);
        assert_eq!(parse_base10("2 3"), None);
        assert_eq!(parse_base10("abc"), None);
    }
}
