//! Connections served inside the daemon, each a state machine driven by the event loop:
//! inline builtins ([`inline`]), the tcpmux request ([`tcpmux`]), the admin builtins
//! ([`admin`]) and `redirect` ([`relay`]).
//!
//! The loop calls [`Session::ready`] when a socket of the session is ready (or the session
//! asked for another turn); the session reads and writes until it would block and answers
//! with [`Next`]. Poll interest is derived from the session's state after every turn
//! ([`Socket::follow`]): a direction that reached EOF is never watched for reading again, one
//! with nothing to send is not watched for writing, and a socket whose interest did not change
//! is not re-registered — with edge-triggered epoll a re-registration re-arms pending events,
//! and re-arming the EOF of a half-closed socket on every wake-up is a busy loop.

pub mod admin;
pub mod inline;
pub mod metrics;
pub mod relay;
pub mod tcpmux;
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::admission::Hold;
use crate::dlog::ProgramLog;
use crate::service::Service;
use crate::slog::Served;

/// What the loop does after a turn.
pub enum Next {
    /// Wait for readiness (or the deadline).
    Wait,
    /// More work is ready but the turn's budget ran out: drive again before blocking.
    Again,
    /// The session is over.
    Done,
    /// tcpmux found the client service: start its server on this connection.
    Handoff(Service),
    /// The TLS handshake finished: the daemon starts the plaintext side (issue 15).
    Established,
}

/// Interest as a value that can be "nothing" (mio's `Interest` cannot).
pub fn interest(read: bool, write: bool) -> Option<Interest> {
    match (read, write) {
        (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, true) => Some(Interest::WRITABLE),
        (false, false) => None,
    }
}

/// A session's socket, its token and the interest it is registered with.
pub struct Socket {
    /// The connection.
    pub stream: mio::net::TcpStream,
    token: Token,
    registered: Option<Interest>,
}

impl Socket {
    /// A socket not registered yet.
    pub fn new(stream: mio::net::TcpStream, token: Token) -> Socket {
        Socket {
            stream,
            token,
            registered: None,
        }
    }

    /// The socket's token.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Registers, re-registers or deregisters so that the poll watches exactly `want`; does
    /// nothing when that is already so.
    pub fn follow(&mut self, registry: &Registry, want: Option<Interest>) -> io::Result<()> {
        if want == self.registered {
            return Ok(());
        }
        match (self.registered, want) {
            (None, Some(i)) => registry.register(&mut self.stream, self.token, i)?,
            (Some(_), Some(i)) => registry.reregister(&mut self.stream, self.token, i)?,
            (Some(_), None) => registry.deregister(&mut self.stream)?,
            (None, None) => {}
        }
        self.registered = want;
        Ok(())
    }

    /// Stops watching the socket.
    pub fn forget(&mut self, registry: &Registry) {
        let _ = self.follow(registry, None);
    }
}

/// What a session needs from the daemon while it runs.
pub struct Cx<'a> {
    /// The TCPMUX client services (F-540).
    pub tcpmux: &'a [Service],
    /// The daemon's running servers and services, for the admin builtins.
    pub view: &'a dyn admin::View,
}

/// The state machines.
pub enum Kind {
    /// echo, discard, chargen.
    Inline(inline::Inline),
    /// Reading a tcpmux request.
    Tcpmux(tcpmux::Tcpmux),
    /// servers, services, xadmin.
    Admin(admin::Admin),
    /// redirect.
    Relay(relay::Relay),
    /// metrics (extension).
    Metrics(metrics::Metrics),
    /// A TLS connection (issue 15).
    Tls(Box<tls::Tls>),
}

/// One connection served inside the daemon.
pub struct Session {
    /// The daemon's key of the service.
    pub key: u64,
    /// The service (logs START/EXIT).
    pub svc: Service,
    /// Limits permit and running count, given back when the session ends.
    pub hold: Option<Hold>,
    /// When it started.
    pub started: Instant,
    /// `timeout` (extension): the session is closed then.
    deadline: Option<Instant>,
    /// The deadline is in the daemon's timer heap.
    pub timer_armed: bool,
    /// The state machine.
    pub kind: Kind,
    /// The client a PROXY header named (the socket's peer is the balancer then).
    client: Option<SocketAddr>,
    /// Relayed bytes already counted in the metrics (to the target, to the client).
    relayed: (u64, u64),
}

impl Session {
    /// A session of `svc`; `timeout` closes it after that long.
    pub fn new(
        key: u64,
        svc: Service,
        hold: Option<Hold>,
        now: Instant,
        timeout: Option<Duration>,
        kind: Kind,
    ) -> Session {
        Session {
            key,
            svc,
            hold,
            started: now,
            deadline: timeout.map(|t| now + t),
            timer_armed: false,
            kind,
            client: None,
            relayed: (0, 0),
        }
    }

    /// The session's client is `peer`, whatever the socket's peer (PROXY protocol).
    pub fn with_client(mut self, peer: SocketAddr) -> Session {
        self.client = Some(peer);
        self
    }

    /// One turn: move bytes as far as they go without blocking.
    pub fn ready(&mut self, cx: &Cx<'_>) -> Next {
        match &mut self.kind {
            Kind::Inline(s) => s.ready(),
            Kind::Tcpmux(s) => s.ready(cx.tcpmux),
            Kind::Admin(s) => s.ready(&self.svc, self.started, self.client, cx.view),
            Kind::Relay(s) => s.ready(),
            Kind::Metrics(s) => s.ready(cx.view),
            Kind::Tls(s) => s.ready(),
        }
    }

    /// Bytes a relay moved since the last call (to the target, to the client), for the
    /// metrics: counted as they flow, not only when the connection ends.
    pub fn take_relayed(&mut self) -> (u64, u64) {
        let Kind::Relay(r) = &self.kind else {
            return (0, 0);
        };
        let delta = (
            r.bytes_in.saturating_sub(self.relayed.0),
            r.bytes_out.saturating_sub(self.relayed.1),
        );
        self.relayed = (r.bytes_in, r.bytes_out);
        delta
    }

    /// Makes the poll watch what the state can use now.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        match &mut self.kind {
            Kind::Inline(s) => s.follow(registry),
            Kind::Tcpmux(s) => s.follow(registry),
            Kind::Admin(s) => s.follow(registry),
            Kind::Relay(s) => s.follow(registry),
            Kind::Metrics(s) => s.follow(registry),
            Kind::Tls(s) => s.follow(registry),
        }
    }

    /// Descriptors held besides the sockets (a relay's pipes).
    pub fn pipe_fds(&self) -> usize {
        match &self.kind {
            Kind::Relay(r) => r.pipe_fds(),
            _ => 0,
        }
    }

    /// When the session must end.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.kind {
            Kind::Tls(t) => self.deadline.into_iter().chain(t.deadline()).min(),
            _ => self.deadline,
        }
    }

    /// The tokens of its sockets.
    pub fn tokens(&self) -> Vec<Token> {
        match &self.kind {
            Kind::Inline(s) => vec![s.sock.token()],
            Kind::Tcpmux(s) => vec![s.sock.token()],
            Kind::Admin(s) => vec![s.sock.token()],
            Kind::Relay(s) => vec![s.client.token(), s.target.token()],
            Kind::Metrics(s) => vec![s.sock.token()],
            Kind::Tls(s) => s.tokens(),
        }
    }

    /// The client (for the admin rows).
    pub fn peer(&self) -> Option<SocketAddr> {
        if self.client.is_some() {
            return self.client;
        }
        match &self.kind {
            Kind::Inline(s) => s.sock.stream.peer_addr().ok(),
            Kind::Tcpmux(s) => s.sock.stream.peer_addr().ok(),
            Kind::Admin(s) => s.sock.stream.peer_addr().ok(),
            Kind::Relay(s) => s.client.stream.peer_addr().ok(),
            Kind::Metrics(s) => s.sock.stream.peer_addr().ok(),
            Kind::Tls(s) => s.client.stream.peer_addr().ok(),
        }
    }

    /// True for the sessions the `servers` rows list (inline connections and admin
    /// sessions; xinetd forks for those, while it relays in a child it does not list).
    pub fn listed(&self) -> bool {
        !matches!(self.kind, Kind::Relay(_) | Kind::Tls(_))
    }

    /// The end: stops watching the sockets, logs TRAFFIC (redirect) and EXIT once, and gives
    /// the hold back. The connection closes when the session is dropped.
    pub fn finish(mut self, registry: &Registry, log: &mut ProgramLog, now: Instant) {
        self.forget(registry);
        let elapsed = now.saturating_duration_since(self.started);
        let client = self.peer();
        if let Kind::Metrics(m) = &self.kind {
            if let Some(why) = m.complaint() {
                let peer = client;
                log.msg(
                    crate::dlog::Level::Warning,
                    &format!(
                        "service {}: {} from {}",
                        self.svc.id,
                        why,
                        peer.map_or_else(|| "?".to_string(), |p| p.ip().to_string())
                    ),
                );
            }
        }
        if let Kind::Tls(t) = &self.kind {
            if !tls_finish(t, &self.svc, self.peer(), log) {
                return;
            }
        }
        if let Kind::Relay(r) = &self.kind {
            if let Some(e) = r.connect_error() {
                // F-602: `can't connect to remote host %s: %m`, then EXIT status=0 at once.
                r.log_connect_failure(e, log);
                self.svc
                    .log_exit(Served::Held, Some(0), None, Duration::ZERO, log);
                return;
            }
            self.svc.log_traffic(r.bytes_in, r.bytes_out, log);
        }
        self.svc.log_exit(Served::Held, Some(0), None, elapsed, log);
    }

    /// Stops watching every socket of the session.
    pub fn forget(&mut self, registry: &Registry) {
        match &mut self.kind {
            Kind::Inline(s) => s.sock.forget(registry),
            Kind::Tcpmux(s) => s.sock.forget(registry),
            Kind::Admin(s) => s.sock.forget(registry),
            Kind::Metrics(s) => s.sock.forget(registry),
            Kind::Relay(s) => {
                s.client.forget(registry);
                s.target.forget(registry);
            }
            Kind::Tls(s) => s.forget(registry),
        }
    }
}

impl Session {
    /// A TLS session whose handshake failed (its FAIL record is `tls`): counted as a refusal
    /// by the metrics.
    pub fn tls_refused(&self) -> bool {
        matches!(&self.kind, Kind::Tls(t) if matches!(
            t.failure(),
            Some(tls::Failure::Handshake(_) | tls::Failure::Eof | tls::Failure::Timeout)
        ))
    }
}

/// The records of a TLS session's end; `true` when the caller writes the EXIT of a session
/// served inside the daemon (builtins and `redirect`, whose TRAFFIC is written here).
fn tls_finish(
    t: &tls::Tls,
    svc: &crate::service::Service,
    peer: Option<std::net::SocketAddr>,
    log: &mut crate::dlog::ProgramLog,
) -> bool {
    use xinetd_log::FailReason;
    let fail = |detail: &str, log: &mut crate::dlog::ProgramLog| {
        svc.log_fail_detail(FailReason::Tls, detail, peer, log);
        false
    };
    match t.failure() {
        Some(tls::Failure::Handshake(d)) => fail(&d, log),
        Some(tls::Failure::Eof) => fail("eof", log),
        Some(tls::Failure::Timeout) => fail("timeout", log),
        Some(tls::Failure::Connect(msg)) => {
            log.msg(crate::dlog::Level::Err, &msg);
            svc.log_exit(
                crate::slog::Served::Held,
                Some(0),
                None,
                std::time::Duration::ZERO,
                log,
            );
            false
        }
        None => match &t.inner {
            tls::Inner::Stream(p) if p.is_server() => false,
            tls::Inner::Stream(_) => {
                svc.log_traffic(t.bytes_in, t.bytes_out, log);
                true
            }
            _ => true,
        },
    }
}
