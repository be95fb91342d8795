//! The `metrics` builtin's connection (issue 18, extension): one HTTP/1.x request, answered
//! with the daemon's counters ([`crate::metrics`]) and closed.
//!
//! Any path is answered (`/metrics` is what scrapers ask for); `GET` gets the document,
//! `HEAD` its headers, another method `405`. The request head is bounded
//! ([`MAX_REQUEST`]) and its first bytes are checked as they come, so a client speaking
//! another protocol (a TLS hello, an SMTP banner wait, a line of text) gets a `400` at once
//! rather than at the deadline. Every rejected request is logged once, when the connection
//! ends; a client that connects and sends nothing is not a bad request and is not logged.

use std::io::{self, Read, Write};
use std::time::Duration;

use mio::Registry;

use super::{admin::View, interest, Next, Socket};
use crate::metrics::exposition::Format;

/// The largest request head read (request line and headers).
pub const MAX_REQUEST: usize = 8192;

/// How long a client has to send its request (unless the service's `timeout` is shorter).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the request head says so far.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A complete, well-formed request.
    Request { head: bool, format: Format },
    /// Refused with this status and reason.
    Bad { status: Status, why: String },
}

/// The statuses a refused request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    BadRequest,
    MethodNotAllowed,
    TooLarge,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::BadRequest => "400 Bad Request",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::TooLarge => "431 Request Header Fields Too Large",
        }
    }
}

/// Where the connection is.
#[derive(Debug, PartialEq, Eq)]
enum State {
    Reading,
    Writing,
    /// The answer is out and our side shut: what the client still sends is read and
    /// dropped until it closes (or the deadline), because closing with unread bytes would
    /// reset the connection and could destroy the answer in the client's buffers (a refused
    /// request's rest, a body after a `POST`).
    Draining,
}

/// Bytes read and dropped after the answer at most, before closing anyway.
const MAX_DRAIN: usize = 1 << 20;

/// A `metrics` connection.
pub struct Metrics {
    /// The client's connection.
    pub sock: Socket,
    state: State,
    head: Vec<u8>,
    out: Vec<u8>,
    written: usize,
    drained: usize,
    /// Why the request was refused, for the log record written when the connection ends.
    rejected: Option<String>,
}

impl Metrics {
    /// A connection whose request is still to be read.
    pub fn new(sock: Socket) -> Metrics {
        Metrics {
            sock,
            state: State::Reading,
            head: Vec::new(),
            out: Vec::new(),
            written: 0,
            drained: 0,
            rejected: None,
        }
    }

    /// One turn: read the request until its head is complete (or known to be bad), then
    /// write the answer and close.
    pub fn ready(&mut self, view: &dyn View) -> Next {
        loop {
            match self.state {
                State::Reading => {
                    let mut buf = [0u8; 2048];
                    let room = MAX_REQUEST.saturating_sub(self.head.len()).min(buf.len());
                    match self.sock.stream.read(&mut buf[..room]) {
                        Ok(0) => {
                            if !self.head.is_empty() {
                                self.reject(Status::BadRequest, "the request ended early".into());
                                continue;
                            }
                            return Next::Done;
                        }
                        Ok(n) => {
                            self.head.extend_from_slice(&buf[..n]);
                            match parse(&self.head) {
                                Parsed::Incomplete if self.head.len() >= MAX_REQUEST => self
                                    .reject(
                                        Status::TooLarge,
                                        format!("request head over {MAX_REQUEST} bytes"),
                                    ),
                                Parsed::Incomplete => {}
                                Parsed::Bad { status, why } => self.reject(status, why),
                                Parsed::Request { head, format } => self.answer(head, format, view),
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Next::Done,
                    }
                }
                State::Writing => {
                    while self.written < self.out.len() {
                        match self.sock.stream.write(&self.out[self.written..]) {
                            Ok(0) => return Next::Done,
                            Ok(n) => self.written += n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return Next::Done,
                        }
                    }
                    if self
                        .sock
                        .stream
                        .shutdown(std::net::Shutdown::Write)
                        .is_err()
                    {
                        return Next::Done;
                    }
                    self.state = State::Draining;
                }
                State::Draining => {
                    let mut buf = [0u8; 4096];
                    match self.sock.stream.read(&mut buf) {
                        Ok(0) => return Next::Done,
                        Ok(n) => {
                            self.drained += n;
                            if self.drained >= MAX_DRAIN {
                                return Next::Done;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Next::Done,
                    }
                }
            }
        }
    }

    /// The document (or only its headers for `HEAD`).
    fn answer(&mut self, head: bool, format: Format, view: &dyn View) {
        let body = view.metrics(format);
        self.respond("200 OK", format.content_type(), &[], body.as_bytes(), head);
    }

    /// A refusal: the status, a one-line reason, and the log record for later.
    fn reject(&mut self, status: Status, why: String) {
        let extra: &[&str] = if status == Status::MethodNotAllowed {
            &["Allow: GET, HEAD"]
        } else {
            &[]
        };
        let body = format!("{why}\n");
        self.respond(
            status.line(),
            "text/plain; charset=utf-8",
            extra,
            body.as_bytes(),
            false,
        );
        self.rejected = Some(format!("{} ({why})", status.line()));
    }

    fn respond(&mut self, status: &str, ctype: &str, extra: &[&str], body: &[u8], head: bool) {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
             Connection: close\r\n",
            body.len()
        );
        for h in extra {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        self.out = out.into_bytes();
        if !head {
            self.out.extend_from_slice(body);
        }
        self.written = 0;
        self.state = State::Writing;
    }

    /// What to log when the connection ends: the refusal, or a request left incomplete
    /// (the deadline, or the daemon closing it).
    pub fn complaint(&self) -> Option<String> {
        if let Some(r) = &self.rejected {
            return Some(format!("bad request answered {r}"));
        }
        (self.state == State::Reading && !self.head.is_empty()).then(|| {
            format!(
                "incomplete request after {} bytes (no end of headers before the deadline)",
                self.head.len()
            )
        })
    }

    /// Read while the request is incomplete, write while the answer is pending.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        let reading = matches!(self.state, State::Reading | State::Draining);
        let writing = self.state == State::Writing && self.written < self.out.len();
        let want = interest(reading, writing);
        self.sock.follow(registry, want)
    }
}

/// Checks a request head as far as it goes.
fn parse(buf: &[u8]) -> Parsed {
    let bad = |why: String| Parsed::Bad {
        status: Status::BadRequest,
        why,
    };
    // The method, checked byte by byte so another protocol is refused at once.
    let method_len = buf.iter().take_while(|b| b.is_ascii_uppercase()).count();
    match buf.get(method_len) {
        None => return Parsed::Incomplete,
        Some(b' ') if method_len > 0 && method_len <= 16 => {}
        Some(_) => return bad(format!("not an HTTP request: starts with {}", excerpt(buf))),
    }
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.iter().any(|&b| b.is_ascii_control() && b != b'\r') {
            bad(format!("not an HTTP request line: {}", excerpt(buf)))
        } else {
            Parsed::Incomplete
        };
    };
    let line = trim_cr(&buf[..line_end]);
    let Ok(line) = std::str::from_utf8(line) else {
        return bad(format!("request line is not text: {}", excerpt(buf)));
    };
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return bad(format!("malformed request line {line:?}"));
    };
    if target.is_empty() || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return bad(format!("malformed request line {line:?}"));
    }
    // The headers, up to the empty line.
    let mut accept = None;
    let mut rest = &buf[line_end + 1..];
    loop {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Parsed::Incomplete;
        };
        let header = trim_cr(&rest[..end]);
        rest = &rest[end + 1..];
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = std::str::from_utf8(header)
            .ok()
            .and_then(|h| h.split_once(':'))
            .filter(|(n, _)| !n.is_empty() && !n.contains(' '))
        else {
            return bad(format!("malformed header line {}", excerpt(header)));
        };
        if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.trim().to_string());
        }
    }
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        other => {
            return Parsed::Bad {
                status: Status::MethodNotAllowed,
                why: format!("method {other} (only GET and HEAD)"),
            }
        }
    };
    Parsed::Request {
        head,
        format: Format::from_accept(accept.as_deref()),
    }
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// The first bytes, printable, for a log record.
fn excerpt(b: &[u8]) -> String {
    let cut = &b[..b.len().min(40)];
    format!("{:?}", String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_recognised_as_they_arrive() {
        assert_eq!(parse(b"GE"), Parsed::Incomplete);
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"),
            Parsed::Incomplete
        );
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Parsed::Request {
                head: false,
                format: Format::Prometheus
            }
        );
        assert_eq!(
            parse(b"HEAD / HTTP/1.0\nAccept: application/openmetrics-text\n\n"),
            Parsed::Request {
                head: true,
                format: Format::OpenMetrics
            }
        );
    }

    #[test]
    fn other_protocols_and_malformed_heads_are_refused() {
        let status = |b: &[u8]| match parse(b) {
            Parsed::Bad { status, .. } => Some(status),
            _ => None,
        };
        assert_eq!(status(b"\x16\x03\x01\x02"), Some(Status::BadRequest));
        assert_eq!(status(b"hello\n"), Some(Status::BadRequest));
        assert_eq!(status(b"GET\n"), Some(Status::BadRequest));
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), Some(Status::BadRequest));
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
            Some(Status::BadRequest)
        );
        assert_eq!(status(b"GET /x\0y"), Some(Status::BadRequest));
        assert_eq!(
            status(b"POST / HTTP/1.1\r\n\r\n"),
            Some(Status::MethodNotAllowed)
        );
    }
}
