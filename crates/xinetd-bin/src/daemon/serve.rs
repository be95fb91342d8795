//! What happens to an admitted request: a server is launched, a one-shot builtin answers, or
//! a session starts inside the daemon; and the sessions' turns, ends and deadlines.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::Instant;

use super::accept::Carrier;
use super::launch::Launch;
use super::{Daemon, Route};
use crate::admission::{Admitted, Hold, Path, Request};
use crate::internal::{self, Builtin};
use crate::service::{Server, Service};
use crate::session::{self, Kind, Next, Session, Socket};
use crate::slog::Served;

impl Daemon {
    /// Serves an admitted request.
    pub(super) fn serve(&mut self, a: Admitted<Carrier>, now: Instant) {
        let Admitted {
            req,
            hold,
            without_userid,
        } = a;
        if without_userid {
            if let Some(n) = self.userid_skipped.hit(now) {
                self.log.msg(
                    crate::dlog::Level::Notice,
                    &format!(
                        "service {}: {} identd queries in flight; served {n} request(s) \
                         without USERID",
                        req.svc.id,
                        crate::admission::MAX_IDENT_WAITS
                    ),
                );
            }
        }
        let Request {
            key,
            svc,
            peer,
            credentials,
            carrier,
            ..
        } = req;
        match carrier {
            Carrier::Stream(conn) => {
                if let Some(peer) = peer {
                    self.serve_stream(key, svc, conn, peer, hold, now);
                }
            }
            Carrier::Unix(mut stream) => {
                // Extension: only external servers run on Unix sockets (xinetd-conf refuses
                // internal ones), so the connection becomes the server's fds 0-2.
                if let Some(b) = svc.rt.conf.banner_success.as_ref() {
                    if let Ok(text) = std::fs::read(&b.value) {
                        let _ = stream.write_all(&text);
                    }
                }
                let fd: OwnedFd = stream.into();
                self.launch(
                    Launch::new(key, &svc, &svc, fd, None, hold, false, true)
                        .with_credentials(credentials),
                );
            }
            Carrier::Datagram(data) => {
                if let Some(peer) = peer {
                    self.answer_datagram(key, &svc, &data, peer);
                }
                drop(hold);
            }
            Carrier::Listener => {
                self.suspend(key);
                let fd = self
                    .services
                    .get(&key)
                    .and_then(|a| a.listener.as_ref())
                    .map(|l| l.as_fd().try_clone_to_owned());
                match fd {
                    Some(Ok(fd)) => {
                        let env = if crate::conn_env::wanted(&svc.rt.conf.proxy, false) {
                            let local = socket2::SockRef::from(&fd)
                                .local_addr()
                                .ok()
                                .and_then(|a| a.as_socket());
                            let facts = crate::conn_env::Facts {
                                stream: svc.listen.stream,
                                local,
                                remote: peer,
                                ..Default::default()
                            };
                            crate::conn_env::vars(&svc.rt.conf.proxy, &facts)
                        } else {
                            Vec::new()
                        };
                        self.launch(
                            Launch::new(key, &svc, &svc, fd, peer, hold, true, true).with_env(env),
                        )
                    }
                    Some(Err(e)) => {
                        self.log.msg(
                            crate::dlog::Level::Err,
                            &format!("dup: {}", xinetd_log::explain_errno(&e)),
                        );
                        drop(hold);
                        self.resume(key);
                    }
                    None => drop(hold),
                }
            }
            Carrier::Tcpmux(h) => {
                let super::accept::Handoff {
                    mut stream,
                    tcpmux,
                    hold,
                    ..
                } = *h;
                if svc.rt.conf.has_type(xinetd_conf::ServiceType::TcpmuxPlus) {
                    let _ = stream.write_all(crate::requests::TCPMUX_PLUS_GO);
                }
                let env = if crate::conn_env::wanted(&svc.rt.conf.proxy, false) {
                    let facts = crate::conn_env::Facts {
                        stream: true,
                        local: stream.local_addr().ok(),
                        remote: peer,
                        connnum: peer.map(|p| self.pipeline.running_from(key, p.ip())),
                        ..Default::default()
                    };
                    crate::conn_env::vars(&svc.rt.conf.proxy, &facts)
                } else {
                    Vec::new()
                };
                let fd: OwnedFd = stream.into();
                // Only the tcpmux service logs: START was written at accept (F-545).
                self.launch(
                    Launch::new(key, &tcpmux, &svc, fd, peer, hold, false, false).with_env(env),
                );
            }
            Carrier::Retry(r) => self.launch(Launch::retry(*r)),
        }
    }

    /// Serves an admitted stream connection.
    fn serve_stream(
        &mut self,
        key: u64,
        svc: Service,
        conn: crate::proxied::Conn,
        peer: std::net::SocketAddr,
        hold: Option<Hold>,
        now: Instant,
    ) {
        if let Some(tls) = svc.rt.tls.clone() {
            // Issue 15: the handshake first; `banner_success` goes over TLS after it.
            self.start_tls(key, svc, conn.stream, peer, hold, now, tls);
            return;
        }
        let mut conn = conn;
        // F-127: `banner_success` after the checks passed, before the server runs.
        if let Some(b) = svc.rt.conf.banner_success.as_ref() {
            if let Ok(text) = std::fs::read(&b.value) {
                let _ = conn.stream.write_all(&text);
            }
        }
        if let Server::Redirect(target) = svc.server {
            self.start_relay(key, svc, conn, peer, target, hold, now);
            return;
        }
        if svc.server == Server::External {
            self.launch_external(key, svc, conn, peer, hold);
            return;
        }
        let mut stream = conn.stream;
        match svc.server {
            Server::Internal(b) => {
                let served = if b.holds_connection() {
                    Served::Held
                } else {
                    Served::Inline
                };
                svc.log_start(served, Some(peer), &mut self.log);
                match b {
                    Builtin::Daytime => {
                        let now = xinetd_log::LocalClock::system().now();
                        let _ = stream.write_all(internal::daytime_text(&now).as_bytes());
                    }
                    Builtin::Time => {
                        let _ = stream
                            .write_all(&internal::time_bytes(jiff::Timestamp::now().as_second()));
                    }
                    b if b.is_admin() => self.start_admin(key, svc, b, stream, peer, hold, now),
                    Builtin::Tcpmux => {
                        let id = self.next_session_id();
                        let sock = Socket::new(stream, self.routes.add(Route::Session(id)));
                        let kind = Kind::Tcpmux(session::tcpmux::Tcpmux::new(sock));
                        let timeout = svc.timeout;
                        self.start_session(
                            id,
                            Session::new(key, svc, hold, now, timeout, kind).with_client(peer),
                            now,
                        );
                    }
                    b => {
                        let id = self.next_session_id();
                        let sock = Socket::new(stream, self.routes.add(Route::Session(id)));
                        let kind = Kind::Inline(session::inline::Inline::new(sock, b, self.ring));
                        let timeout = svc.timeout;
                        self.start_session(
                            id,
                            Session::new(key, svc, hold, now, timeout, kind).with_client(peer),
                            now,
                        );
                    }
                }
            }
            // The pipeline refuses every SENSOR client before this point; redirects and
            // external servers were started above.
            Server::Sensor | Server::Redirect(_) | Server::External => {}
        }
    }

    /// An external server for a stream connection, with its per-connection variables.
    fn launch_external(
        &mut self,
        key: u64,
        svc: Service,
        conn: crate::proxied::Conn,
        peer: std::net::SocketAddr,
        hold: Option<Hold>,
    ) {
        let env = if crate::conn_env::wanted(&svc.rt.conf.proxy, conn.proxy.is_some()) {
            let facts = crate::conn_env::Facts {
                stream: true,
                local: conn.local(),
                remote: Some(peer),
                remote_info: conn.remote_info.as_deref(),
                connnum: Some(self.pipeline.running_from(key, peer.ip())),
                proxy: conn.proxy.as_deref().map(|r| (&r.header, r.balancer)),
            };
            crate::conn_env::vars(&svc.rt.conf.proxy, &facts)
        } else {
            Vec::new()
        };
        let fd: OwnedFd = conn.stream.into();
        self.launch(Launch::new(key, &svc, &svc, fd, Some(peer), hold, false, true).with_env(env));
        // Our copy of the connection closes in the spawner (F-400).
    }

    /// An admin builtin session: refused unless the service's `only_from` lists the client
    /// (a block without `only_from` answers nobody, issue 8).
    #[allow(clippy::too_many_arguments)]
    fn start_admin(
        &mut self,
        key: u64,
        svc: Service,
        b: Builtin,
        stream: mio::net::TcpStream,
        peer: std::net::SocketAddr,
        hold: Option<Hold>,
        now: Instant,
    ) {
        if svc.rt.conf.only_from.is_none() {
            let text = format!(
                "service {}: {} answers only the addresses of its only_from, and it has none: \
                 refusing {}",
                svc.id,
                svc.name,
                peer.ip()
            );
            let refusal = crate::admission::Refusal::with_message(
                xinetd_log::FailReason::Address,
                crate::dlog::Level::Err,
                text,
            );
            drop(hold);
            let req = Request {
                key,
                svc,
                path: Path::Stream,
                peer: Some(peer),
                local: None,
                credentials: None,
                carrier: Carrier::Stream(crate::proxied::Conn::direct(stream)),
            };
            self.refuse(crate::admission::Refused { req, refusal }, now);
            return;
        }
        let id = self.next_session_id();
        let sock = Socket::new(stream, self.routes.add(Route::Session(id)));
        if b == Builtin::Metrics {
            // One request, read within READ_TIMEOUT (or the service's shorter `timeout`).
            let limit = session::metrics::READ_TIMEOUT;
            let timeout = Some(svc.timeout.map_or(limit, |t| t.min(limit)));
            let kind = Kind::Metrics(session::metrics::Metrics::new(sock));
            let s = Session::new(key, svc, hold, now, timeout, kind).with_client(peer);
            self.start_session(id, s, now);
            return;
        }
        let view = super::report::View { d: self };
        let kind = Kind::Admin(session::admin::Admin::new(sock, b, &view));
        let s = Session::new(key, svc, hold, now, None, kind).with_client(peer);
        self.start_session(id, s, now);
    }

    /// A `redirect` session: connects to the target (non-blocking) and relays (F-600).
    #[allow(clippy::too_many_arguments)]
    fn start_relay(
        &mut self,
        key: u64,
        svc: Service,
        conn: crate::proxied::Conn,
        peer: std::net::SocketAddr,
        target: std::net::SocketAddr,
        hold: Option<Hold>,
        now: Instant,
    ) {
        let stream = conn.stream;
        // `redirect_proxy`: the client's address (the one received, if any) to the target.
        let preamble = match (
            svc.rt.conf.proxy.redirect_proxy.as_ref(),
            conn.proxy.as_deref(),
        ) {
            (None, _) => Vec::new(),
            (Some(v), received) => {
                let dest = received
                    .and_then(|r| r.header.addresses.map(|(_, d)| d))
                    .or_else(|| stream.local_addr().ok());
                let version = match v.value {
                    xinetd_conf::proxy::ProxyVersion::V1 => 1,
                    xinetd_conf::proxy::ProxyVersion::V2 => 2,
                };
                dest.map_or_else(Vec::new, |d| crate::proxy_header::encode(version, peer, d))
            }
        };
        svc.log_start(Served::Held, Some(peer), &mut self.log);
        let out = match mio::net::TcpStream::connect(target) {
            Ok(t) => t,
            Err(e) => {
                self.log.msg(
                    crate::dlog::Level::Err,
                    &format!(
                        "can't connect to remote host {}: {}",
                        target.ip(),
                        xinetd_log::explain_errno(&e)
                    ),
                );
                svc.log_exit(
                    Served::Held,
                    Some(0),
                    None,
                    std::time::Duration::ZERO,
                    &mut self.log,
                );
                drop(hold);
                return;
            }
        };
        if svc.listen.keepalive {
            // F-601: SO_KEEPALIVE on the outgoing socket with `flags = KEEPALIVE`.
            let _ = socket2::SockRef::from(&out).set_keepalive(true);
        }
        let id = self.next_session_id();
        let client = Socket::new(stream, self.routes.add(Route::Session(id)));
        let to = Socket::new(out, self.routes.add(Route::Session(id)));
        let kind = Kind::Relay(session::relay::Relay::new(client, to, target).preamble(preamble));
        let timeout = svc.timeout;
        let s = Session::new(key, svc, hold, now, timeout, kind).with_client(peer);
        // A first turn now: a connection to a nearby target (loopback, the same host's
        // services) has usually completed already, and the client's request is waiting;
        // otherwise the turn finds it still connecting and waits for it.
        self.start_session(id, s, now);
    }

    pub(super) fn next_session_id(&mut self) -> u64 {
        let id = self.next_session;
        self.next_session += 1;
        id
    }

    /// A new session's first turn: most requests are already in the socket.
    pub(super) fn start_session(&mut self, id: u64, mut s: Session, now: Instant) {
        let next = self.counted_turn(&mut s);
        self.after_turn(id, s, next, now);
    }

    /// One turn of a session (which is out of the table meanwhile, so it can see the rest).
    /// A turn, counting the pipes a relay takes in it (descriptor budget).
    fn counted_turn(&mut self, s: &mut Session) -> Next {
        let before = s.pipe_fds();
        let next = self.turn(s);
        self.relay_pipe_fds += s.pipe_fds().saturating_sub(before);
        next
    }

    pub(super) fn turn(&self, s: &mut Session) -> Next {
        let view = super::report::View { d: self };
        let cx = session::Cx {
            tcpmux: &self.tcpmux,
            view: &view,
        };
        s.ready(&cx)
    }

    /// Readiness of a session's socket (or its turn after [`Next::Again`]).
    pub(super) fn on_session(&mut self, id: u64, now: Instant) {
        let Some(mut s) = self.sessions.remove(&id) else {
            return;
        };
        let next = self.counted_turn(&mut s);
        self.after_turn(id, s, next, now);
    }

    /// Keeps the session with the interest its state needs, or ends it.
    pub(super) fn after_turn(&mut self, id: u64, mut s: Session, next: Next, now: Instant) {
        match next {
            Next::Wait | Next::Again => {
                if let Err(e) = s.follow(self.poll.registry()) {
                    self.log.msg(
                        crate::dlog::Level::Err,
                        &format!(
                            "service {}: poll: {} (peer {})",
                            s.svc.id,
                            xinetd_log::explain_errno(&e),
                            s.peer().map_or_else(|| "?".to_string(), |p| p.to_string())
                        ),
                    );
                    self.end_session(s, now);
                    return;
                }
                if matches!(next, Next::Again) {
                    self.again.extend(s.tokens().first().copied());
                }
                if let Some(d) = s.deadline().filter(|_| !s.timer_armed) {
                    s.timer_armed = true;
                    self.session_timers.push(std::cmp::Reverse((d, id)));
                }
                self.sessions.insert(id, s);
            }
            Next::Done => self.end_session(s, now),
            Next::Handoff(client) => self.handoff(s, client, now),
            Next::Established => self.tls_established(id, s, now),
        }
    }

    /// The end of a session: EXIT (and TRAFFIC) once, tokens freed, hold given back.
    pub(super) fn end_session(&mut self, mut s: Session, now: Instant) {
        self.relay_pipe_fds = self.relay_pipe_fds.saturating_sub(s.pipe_fds());
        for t in s.tokens() {
            self.routes.remove(t);
        }
        let (to_target, to_client) = s.take_relayed();
        self.metrics.relayed(&s.svc.id, to_target, to_client);
        if s.tls_refused() {
            self.metrics
                .refused(&s.svc.id, crate::metrics::Refused::Tls);
        }
        self.metrics
            .session_ended(&s.svc.id, now.saturating_duration_since(s.started));
        s.finish(self.poll.registry(), &mut self.log, now);
    }

    /// tcpmux found the client service: its access checks, then its server on the
    /// connection (F-544).
    fn handoff(&mut self, mut s: Session, client: Service, now: Instant) {
        // The client a PROXY header named, else the socket's peer.
        let peer = s.peer();
        s.forget(self.poll.registry());
        for t in s.tokens() {
            self.routes.remove(t);
        }
        let Session {
            key,
            svc,
            hold,
            started,
            kind,
            ..
        } = s;
        let Kind::Tcpmux(t) = kind else {
            return;
        };
        let stream = t.sock.stream;
        let req = Request {
            key,
            svc: client,
            path: Path::TcpmuxClient,
            peer,
            local: stream.local_addr().ok(),
            credentials: None,
            carrier: Carrier::Tcpmux(Box::new(super::accept::Handoff {
                stream,
                tcpmux: svc,
                hold,
                started,
            })),
        };
        let step = self.pipeline.admit(req, now);
        self.admission_step(step, now);
    }

    /// Sessions whose `timeout` is reached end.
    pub(super) fn expire_sessions(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((due, id))) = self.session_timers.peek().copied() {
            if due > now {
                break;
            }
            self.session_timers.pop();
            if let Some(s) = self.sessions.remove(&id) {
                self.end_session(s, now);
            }
        }
    }

    /// Ends the sessions of service `key` (removed or restarted by a reload, F-862).
    pub(super) fn end_sessions_of(&mut self, key: u64, now: Instant) {
        let ids: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.key == key)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(s) = self.sessions.remove(&id) {
                self.end_session(s, now);
            }
        }
    }
}
