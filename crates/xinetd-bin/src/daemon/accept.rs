//! Requests arriving on the listeners — accepted connections, datagrams, the first request
//! of a `wait = yes` service — go through the admission pipeline; this module performs what
//! the pipeline decides: the asks it waits on, and every refusal (the one place that writes
//! the FAIL record and `banner_fail`, pauses a service on cps, and starts the `USERID` lookup
//! after a refusal).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::Token;

use super::services::DGRAM_MAX;
use super::{Daemon, Route};
use crate::admission::ident::Purpose;
use crate::admission::lookup::{Answer as Resolved, Question};
use crate::admission::{Answer, Ask, Hold, Path, Reason, Refusal, Refused, Request, Step, WaitId};
use crate::dlog::Level;
use crate::internal::{self, Builtin};
use crate::listen::Listener;
use crate::retry::Retry;
use crate::service::{Server, Service};
use crate::slog::Served;

/// Connections accepted (or datagrams answered) per readiness event before the loop looks at
/// the other sockets: a flood on one service cannot starve the rest.
const BUDGET: usize = 64;

/// What carries a request through the admission pipeline.
pub enum Carrier {
    /// An accepted connection (with its PROXY header, when the service reads one).
    Stream(crate::proxied::Conn),
    /// An accepted Unix-domain connection (extension; the request's `credentials` say who).
    Unix(mio::net::UnixStream),
    /// A datagram answered inside the daemon.
    Datagram(Vec<u8>),
    /// The first request of a `wait = yes` service, still queued on its listening socket.
    Listener,
    /// A tcpmux connection whose client service's server is to start (F-540).
    Tcpmux(Box<Handoff>),
    /// A request whose server failed to fork, before another attempt (F-420).
    Retry(Box<Retry>),
}

/// A tcpmux connection handed to its client service.
pub struct Handoff {
    /// The connection.
    pub stream: mio::net::TcpStream,
    /// The tcpmux service, which logs START/EXIT for its clients (F-545).
    pub tcpmux: Service,
    /// The tcpmux connection's hold, which the server keeps.
    pub hold: Option<Hold>,
    /// When the tcpmux connection started.
    pub started: Instant,
}

impl Daemon {
    /// Readiness of service `key`'s listening socket.
    pub(super) fn on_listener(&mut self, key: u64, now: Instant) {
        let Some(a) = self.services.get(&key) else {
            return;
        };
        if a.suspended || a.listener.is_none() {
            return;
        }
        let token = a.token;
        let more = if a.svc.server == Server::External && (a.svc.wait || !a.svc.listen.stream) {
            // wait = yes, and dgram external services (xinetd's dgram wait = no is a busy
            // loop, F-964; we run them like wait = yes, docs/compat.md).
            self.wait_request(key, now);
            false
        } else if a.svc.listen.stream {
            self.accept_some(key, now)
        } else {
            self.datagrams(key, now)
        };
        if more {
            self.again.push(token);
        }
    }

    /// Accepts up to [`BUDGET`] connections; true when more may be pending.
    fn accept_some(&mut self, key: u64, now: Instant) -> bool {
        for _ in 0..BUDGET {
            let Some(a) = self.services.get_mut(&key) else {
                return false;
            };
            let accepted = match a.listener.as_mut() {
                Some(Listener::Tcp(l)) => l.accept().map(|(s, peer)| (Ok(s), Some(peer))),
                Some(Listener::UnixStream(l, _)) => l.accept().map(|(s, _)| (Err(s), None)),
                _ => return false,
            };
            match accepted {
                Ok((Ok(stream), Some(peer))) => {
                    let svc = a.svc.clone();
                    self.metrics.accepted(&svc.id);
                    self.accepted(key, svc, stream, peer, now);
                }
                Ok((Err(stream), _)) => {
                    let svc = a.svc.clone();
                    self.accepted_unix(key, svc, stream, now);
                }
                Ok((Ok(_), None)) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let id = a.svc.id.clone();
                    let exhausted = matches!(
                        nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                        nix::errno::Errno::EMFILE | nix::errno::Errno::ENFILE
                    );
                    if exhausted {
                        // F-312: same path as cps, with its own message.
                        if let Some(msg) = self.pipeline.descriptors_exhausted(key, now) {
                            self.log.msg(Level::Err, &msg);
                        }
                        self.pause(key);
                        return false;
                    }
                    // A connection that died in the queue (ECONNABORTED, EPROTO, ...): log it
                    // and keep accepting, or the queued ones would wait for the next edge.
                    self.log.msg(
                        Level::Err,
                        &format!("service {id}, accept: {}", xinetd_log::explain_errno(&e)),
                    );
                }
            }
            if self
                .services
                .get(&key)
                .is_none_or(|a| a.suspended || a.listener.is_none())
            {
                return false;
            }
        }
        true
    }

    /// One accepted connection of a `wait = no` stream service.
    fn accepted(
        &mut self,
        key: u64,
        svc: Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        now: Instant,
    ) {
        if svc.rt.proxy.is_some() {
            // `proxy_protocol`: the header first, then the checks with the client it names.
            self.read_proxy(key, svc, stream, peer, now);
            return;
        }
        self.admit_stream(key, svc, crate::proxied::Conn::direct(stream), peer, now);
    }

    /// A connection of a `wait = no` stream service from `peer` (the client a PROXY header
    /// named, or the socket's peer) enters the admission pipeline.
    pub(super) fn admit_stream(
        &mut self,
        key: u64,
        svc: Service,
        mut conn: crate::proxied::Conn,
        peer: SocketAddr,
        now: Instant,
    ) {
        // F-126, F-230: `banner` goes to every accepted client, before any check (a TLS
        // service sends it inside TLS after the handshake, daemon/tls.rs).
        if let Some(b) = svc.rt.conf.banner.as_ref().filter(|_| svc.rt.tls.is_none()) {
            if let Ok(text) = std::fs::read(&b.value) {
                let _ = conn.stream.write_all(&text);
            }
        }
        let needed = descriptors_needed(&svc);
        let ours = conn.stream.local_addr().ok();
        // Through a balancer, our address with the port the client connected to: libwrap
        // sees our address, an identd query names the client's view of the connection.
        let local = match conn.proxy.as_deref().and_then(|r| r.header.addresses) {
            Some((_, dest)) => ours.map(|o| SocketAddr::new(o.ip(), dest.port())),
            None => ours,
        };
        let req = Request {
            key,
            local,
            svc,
            path: Path::Stream,
            peer: Some(peer),
            credentials: None,
            carrier: Carrier::Stream(conn),
        };
        if needed > 0 {
            let held = self.held_fds();
            if self.budget.room(held) < needed {
                if let Some(line) = self.budget.refused(held, now) {
                    self.log.msg(Level::Warning, &line);
                }
                let refusal = Refusal::plain(xinetd_log::FailReason::Descriptors);
                self.refuse(Refused { req, refusal }, now);
                return;
            }
        }
        let step = self.pipeline.admit(req, now);
        self.admission_step(step, now);
    }

    /// One accepted connection of a `wait = no` Unix-domain stream service (extension): the
    /// client is its SO_PEERCRED credentials.
    fn accepted_unix(
        &mut self,
        key: u64,
        svc: Service,
        mut stream: mio::net::UnixStream,
        now: Instant,
    ) {
        let creds =
            match nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
            {
                Ok(c) => crate::admission::credentials::Credentials {
                    pid: c.pid(),
                    uid: c.uid(),
                    gid: c.gid(),
                },
                Err(e) => {
                    // Linux always has them; without them no check could run: close.
                    self.log
                        .msg(Level::Err, &format!("service {}, SO_PEERCRED: {e}", svc.id));
                    return;
                }
            };
        if let Some(b) = svc.rt.conf.banner.as_ref() {
            if let Ok(text) = std::fs::read(&b.value) {
                let _ = stream.write_all(&text);
            }
        }
        let req = Request {
            key,
            local: None,
            svc,
            path: Path::Stream,
            peer: None,
            credentials: Some(creds),
            carrier: Carrier::Unix(stream),
        };
        let step = self.pipeline.admit(req, now);
        self.admission_step(step, now);
    }

    /// Reads up to [`BUDGET`] datagrams of an inline dgram service.
    fn datagrams(&mut self, key: u64, now: Instant) -> bool {
        let mut buf = [0u8; DGRAM_MAX];
        for _ in 0..BUDGET {
            let Some(a) = self.services.get_mut(&key) else {
                return false;
            };
            let Some(Listener::Udp(u)) = a.listener.as_mut() else {
                return false;
            };
            let (n, peer) = match u.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                // EINTR, and ICMP errors of earlier replies: not fatal, keep reading.
                Err(_) => continue,
            };
            self.metrics.accepted(&a.svc.id);
            let req = Request {
                key,
                svc: a.svc.clone(),
                path: Path::Datagram,
                peer: Some(peer),
                local: None,
                credentials: None,
                carrier: Carrier::Datagram(buf[..n].to_vec()),
            };
            let step = self.pipeline.admit(req, now);
            self.admission_step(step, now);
            if self.services.get(&key).is_none_or(|a| a.listener.is_none()) {
                return false;
            }
        }
        true
    }

    /// The request that starts a `wait = yes` server (F-401, F-414).
    fn wait_request(&mut self, key: u64, now: Instant) {
        let Some(a) = self.services.get(&key) else {
            return;
        };
        // xinetd checks tcp wait = yes services against an empty address (F-213/F-963: with
        // only_from nothing is ever served). We check the real peer of the first queued
        // datagram for udp, and no address for tcp (the server accepts, not us).
        let peer = match &a.listener {
            Some(Listener::Udp(u)) => {
                let mut b = [0u8; 1];
                u.peek_from(&mut b).ok().map(|(_, p)| p)
            }
            _ => None,
        };
        self.metrics.accepted(&a.svc.id);
        let req = Request {
            key,
            svc: a.svc.clone(),
            path: Path::WaitServer,
            peer,
            local: None,
            credentials: None,
            carrier: Carrier::Listener,
        };
        let step = self.pipeline.admit(req, now);
        self.admission_step(step, now);
    }

    /// Carries out what the pipeline said.
    pub(super) fn admission_step(&mut self, step: Step<Carrier>, now: Instant) {
        match step {
            Step::Serve(a) => self.serve(a, now),
            Step::Refuse(r) => self.refuse(r, now),
            Step::Wait(id, ask) => self.ask(id, ask, now),
        }
    }

    /// Makes the pipeline's ask: a question for the resolver thread, or an identd query.
    fn ask(&mut self, id: WaitId, ask: Ask, now: Instant) {
        let q = match ask {
            Ask::Names(l) => Question::Names(l),
            Ask::ClientName(l) => Question::ClientName(l),
            Ask::Ident {
                local,
                peer,
                timeout,
            } => {
                let query = (local, peer, timeout);
                self.start_ident(query, Purpose::Admission(id), now);
                return;
            }
        };
        if let Err(e) = self.resolvers.ask(id, q) {
            self.log.msg(
                Level::Err,
                &format!(
                    "cannot start the resolver thread: {}",
                    xinetd_log::explain_errno(&e)
                ),
            );
            if let Some(step) = self.pipeline.abandon(id) {
                self.admission_step(step, now);
            }
        }
    }

    /// Answers of the resolver thread.
    pub(super) fn on_lookups(&mut self, now: Instant) {
        for (id, a) in self.resolvers.answers() {
            let answer = match a {
                Resolved::Names(r) => Answer::Names(r),
                Resolved::ClientName(n) => Answer::ClientName(n),
            };
            if let Some(step) = self.pipeline.resume(id, answer, now) {
                self.admission_step(step, now);
            }
        }
    }

    /// Readiness (or the deadline) of an identd query.
    pub(super) fn on_ident(&mut self, token: Token, now: Instant) {
        if let Some((purpose, result)) = self.idents.ready(self.poll.registry(), token, now) {
            self.routes.remove(token);
            self.ident_answered(purpose, result, now);
        }
    }

    /// An identd answer: the `USERID`/`NOID` record, then the request goes on (F-740,
    /// F-142), or the refused request's `USERID` line (F-741).
    fn ident_answered(&mut self, purpose: Purpose, result: xinetd_log::IdentResult, now: Instant) {
        match purpose {
            Purpose::Admission(id) => {
                if let (Ok(reply), Some(req)) = (&result, self.pipeline.waiting_mut(id)) {
                    // UCSPI's TCPREMOTEINFO.
                    if let Carrier::Stream(c) = &mut req.carrier {
                        c.remote_info = Some(reply.text().to_string());
                    }
                }
                let Some(req) = self.pipeline.waiting(id) else {
                    return;
                };
                let Some(peer) = req.peer else {
                    return;
                };
                let svc = req.svc.clone();
                let idonly = svc.rt.conf.has_flag(xinetd_conf::ServiceFlag::IdOnly);
                let (admit, rep, diags) = svc.rt.log.borrow_mut().ident(peer, &result, idonly);
                for d in &diags {
                    self.log.diagnostic(d);
                }
                if let Some(rep) = rep {
                    self.log.report(rep);
                }
                if let Some(step) = self.pipeline.resume(id, Answer::Ident { admit }, now) {
                    self.admission_step(step, now);
                }
            }
            Purpose::AfterRefusal { svc, peer, stream } => {
                drop(stream);
                let (rep, diags) = svc.rt.log.borrow_mut().ident_after_refusal(peer, &result);
                for d in &diags {
                    self.log.diagnostic(d);
                }
                if let Some(rep) = rep {
                    self.log.report(rep);
                }
            }
        }
    }

    /// Performs a refusal: the daemon-log lines, `banner_fail` (best effort on the
    /// non-blocking socket, F-128) and the FAIL record (F-721), the cps pause (F-311), and
    /// whatever the request held given back.
    pub(super) fn refuse(&mut self, r: Refused<Carrier>, now: Instant) {
        let Refused { req, refusal } = r;
        let Request {
            key,
            svc,
            peer,
            credentials,
            carrier,
            ..
        } = req;
        // A fork retry logs as the service that started it (the tcpmux service for its
        // clients).
        let logged = match &carrier {
            Carrier::Retry(r) => r.log_svc.clone(),
            _ => svc,
        };
        for (lvl, m) in &refusal.messages {
            self.log.msg(*lvl, m);
        }
        self.metrics
            .refused(&logged.id, crate::metrics::Refused::of(&refusal));
        if let Reason::Fail(reason) = refusal.reason {
            let stream = match &carrier {
                Carrier::Stream(c) => Some(&c.stream),
                Carrier::Tcpmux(h) => Some(&h.stream),
                _ => None,
            };
            if let (Some(mut s), Some(b)) = (stream, logged.rt.conf.banner_fail.as_ref()) {
                if let Ok(text) = std::fs::read(&b.value) {
                    let _ = s.write_all(&text);
                }
            }
            if let (Carrier::Unix(s), Some(b)) = (&carrier, logged.rt.conf.banner_fail.as_ref()) {
                if let Ok(text) = std::fs::read(&b.value) {
                    let mut s = s;
                    let _ = s.write_all(&text);
                }
            }
            match credentials {
                Some(c) => logged.log_fail_peer(reason, c.peer(), &mut self.log),
                None => logged.log_fail(reason, peer, &mut self.log),
            }
        }
        if refusal.deactivate_until.is_some() {
            self.pause(key);
        }
        match carrier {
            Carrier::Stream(mut conn) => {
                if refusal.reason == Reason::Fail(xinetd_log::FailReason::Descriptors) {
                    // What the client already sent is read before the close: closing with
                    // unread bytes would reset the connection, and a refusal for want of
                    // descriptors is meant to be a clean close (issue 17).
                    drain(&mut conn.stream);
                }
                if let Some(peer) = peer {
                    self.userid_after_refusal(&logged, conn.stream, peer, refusal.reason, now);
                }
            }
            Carrier::Datagram(_) | Carrier::Unix(_) => {}
            Carrier::Listener => {
                // Drop what triggered the request so the loop does not spin (xinetd drains a
                // dgram socket after a refusal, F-402).
                if let Some(l) = self.services.get(&key).and_then(|a| a.listener.as_ref()) {
                    l.discard_request();
                }
            }
            Carrier::Tcpmux(h) => {
                // The tcpmux connection ends here: its EXIT, then its hold goes.
                let elapsed = now.saturating_duration_since(h.started);
                h.tcpmux
                    .log_exit(Served::Held, Some(0), None, elapsed, &mut self.log);
            }
            Carrier::Retry(r) => {
                let wait = r.wait;
                drop(r);
                if wait {
                    self.resume(key);
                }
            }
        }
    }

    /// A refused connection of a service with `USERID` in `log_on_failure` (F-741): for
    /// refusals xinetd makes in the parent, ask the client's identd (30 s), at most
    /// `-logprocs` lookups at a time, like xinetd's `logging` helper processes; the
    /// connection stays open meanwhile.
    fn userid_after_refusal(
        &mut self,
        svc: &Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        reason: Reason,
        now: Instant,
    ) {
        let wanted = svc
            .rt
            .conf
            .log_on_failure
            .value
            .contains(&xinetd_conf::FailureFlag::Userid);
        if !wanted
            || !reason.is_parent_side()
            || self.idents.after_refusal() >= self.opts.logprocs as usize
            || self.budget.room(self.held_fds()) < 2
        {
            return;
        }
        let Ok(local) = stream.local_addr() else {
            return;
        };
        let purpose = Purpose::AfterRefusal {
            svc: Box::new(svc.clone()),
            peer,
            stream,
        };
        let query = (local, peer, xinetd_log::IdentTimeout::for_failure());
        self.start_ident(query, purpose, now);
    }

    /// Starts an identd query (our end, the client, how long) on a token of its own; a query
    /// that cannot even start is answered at once.
    fn start_ident(
        &mut self,
        (local, peer, timeout): (SocketAddr, SocketAddr, xinetd_log::IdentTimeout),
        purpose: Purpose,
        now: Instant,
    ) {
        let token = self.routes.add(Route::Ident);
        let r = self.idents.start(
            self.poll.registry(),
            token,
            local,
            peer,
            timeout,
            now,
            purpose,
        );
        if let Err(e) = r {
            let (purpose, result) = *e;
            self.routes.remove(token);
            self.ident_answered(purpose, result, now);
        }
    }

    /// Answers one admitted datagram (F-501..F-509); the hold ends with it.
    pub(super) fn answer_datagram(
        &mut self,
        key: u64,
        svc: &Service,
        data: &[u8],
        peer: SocketAddr,
    ) {
        svc.log_start(Served::Inline, Some(peer), &mut self.log);
        let reply: Option<Vec<u8>> = match svc.server {
            Server::Internal(Builtin::Echo) => Some(data.to_vec()),
            Server::Internal(Builtin::Daytime) => {
                Some(internal::daytime_text(&xinetd_log::LocalClock::system().now()).into_bytes())
            }
            Server::Internal(Builtin::Time) => {
                Some(internal::time_bytes(jiff::Timestamp::now().as_second()).to_vec())
            }
            Server::Internal(Builtin::Chargen) => Some(self.ring.datagram()),
            _ => None,
        };
        if let Some(reply) = reply {
            if let Some(Some(Listener::Udp(u))) =
                self.services.get_mut(&key).map(|a| a.listener.as_mut())
            {
                // A full send buffer drops the reply, as UDP does anyway.
                let _ = u.send_to(&reply, peer);
            }
        }
    }
}

/// Descriptors a connection of `svc` holds in the daemon beyond its own socket's accept:
/// its socket for a session served inside the loop (two for a relay), and an identd query
/// with the connection while `USERID` is asked for. External servers take theirs away.
fn descriptors_needed(svc: &Service) -> usize {
    let session = match svc.server {
        Server::Internal(b) if b.holds_connection() => 1,
        // Client, target, and the relay's two pipes.
        Server::Redirect(_) => 6,
        _ => 0,
    };
    let ident = if svc.logs_remote_user() { 2 } else { 0 };
    session + ident
}

/// Reads what a client has sent so far (at most 64 KiB, without blocking).
fn drain(stream: &mut mio::net::TcpStream) {
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match std::io::Read::read(stream, &mut buf) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}
