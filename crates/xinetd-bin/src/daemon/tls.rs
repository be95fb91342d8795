//! TLS connections (issue 15): an admitted connection of a service with `tls_cert` starts
//! its handshake in the loop; once it is over, the plaintext side starts — a builtin, a
//! `redirect` connection, or an external server on a socketpair the loop relays.
//!
//! Admission (address checks, limits, cps, libwrap) ran before: a refused client costs no
//! handshake. No check runs after the handshake: the client certificate is checked by
//! rustls against `tls_client_ca`, and what it says goes to the server's environment.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use super::launch::{Launch, TlsLaunch};
use super::{Daemon, Route};
use crate::admission::Hold;
use crate::dlog::Level;
use crate::service::{Server, Service};
use crate::session::tls::{Inner, Plain, Tls};
use crate::session::{Kind, Session, Socket};
use crate::slog::Served;

impl Daemon {
    /// Starts the handshake of an admitted connection.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_tls(
        &mut self,
        key: u64,
        svc: Service,
        stream: mio::net::TcpStream,
        peer: std::net::SocketAddr,
        hold: Option<Hold>,
        now: Instant,
        tls: Arc<crate::tls::TlsService>,
    ) {
        let id = self.next_session_id();
        let token = self.routes.add(Route::Session(id));
        let sock = Socket::new(stream, token);
        match Tls::new(sock, tls.config.clone(), now + tls.handshake_timeout) {
            Ok(t) => {
                let timeout = svc.timeout;
                // The client a PROXY header named, when there was one (issue 13).
                let s = Session::new(key, svc, hold, now, timeout, Kind::Tls(Box::new(t)))
                    .with_client(peer);
                self.start_session(id, s, now);
            }
            Err(e) => {
                self.routes.remove(token);
                self.log.msg(
                    Level::Err,
                    &format!("service {}: TLS connection: {e}", svc.id),
                );
            }
        }
    }

    /// The handshake of session `id` is over: START, then the plaintext side.
    pub(super) fn tls_established(&mut self, id: u64, mut s: Session, now: Instant) {
        let peer = s.peer();
        // `banner` (every client) then `banner_success`, both inside TLS.
        let conf = &s.svc.rt.conf;
        let banner: Vec<u8> = [conf.banner.as_ref(), conf.banner_success.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|b| std::fs::read(&b.value).ok())
            .flatten()
            .collect();
        let banner = (!banner.is_empty()).then_some(banner);
        let Kind::Tls(t) = &mut s.kind else {
            return;
        };
        let est = t.established();
        let summary = est.summary();
        match s.svc.server {
            Server::Internal(b) => {
                s.svc
                    .log_start_tls(Served::Held, peer, &summary, &mut self.log);
                t.serve(Tls::builtin(b, self.ring), banner.as_deref());
            }
            Server::Redirect(target) => {
                s.svc
                    .log_start_tls(Served::Held, peer, &summary, &mut self.log);
                let out = match mio::net::TcpStream::connect(target) {
                    Ok(o) => o,
                    Err(e) => {
                        self.log.msg(
                            Level::Err,
                            &format!(
                                "can't connect to remote host {}: {}",
                                target.ip(),
                                xinetd_log::explain_errno(&e)
                            ),
                        );
                        self.drop_quietly(s);
                        return;
                    }
                };
                if s.svc.listen.keepalive {
                    let _ = socket2::SockRef::from(&out).set_keepalive(true);
                }
                let token = self.routes.add(Route::Session(id));
                t.serve(
                    Inner::Stream(Plain::tcp(out, token, target)),
                    banner.as_deref(),
                );
            }
            Server::External => {
                let Some(spec) = s.svc.rt.spawn.clone() else {
                    self.drop_quietly(s);
                    return;
                };
                let (ours, theirs) = match std::os::unix::net::UnixStream::pair() {
                    Ok(p) => p,
                    Err(e) => {
                        self.log.msg(
                            Level::Err,
                            &format!(
                                "service {}: socketpair: {}",
                                s.svc.id,
                                xinetd_log::explain_errno(&e)
                            ),
                        );
                        self.drop_quietly(s);
                        return;
                    }
                };
                if ours.set_nonblocking(true).is_err() {
                    self.drop_quietly(s);
                    return;
                }
                let env = est.env();
                let spec =
                    spec.with_connection_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let fd: OwnedFd = theirs.into();
                // The server holds the permit and the running count, as for a plain
                // connection; the relay session holds none.
                let hold = s.hold.take();
                self.launch(
                    Launch::new(s.key, &s.svc, &s.svc, fd, peer, hold, false, true).with_tls(
                        TlsLaunch {
                            spec: Arc::new(spec),
                            summary,
                        },
                    ),
                );
                let token = self.routes.add(Route::Session(id));
                let ours = mio::net::UnixStream::from_std(ours);
                t.serve(Inner::Stream(Plain::unix(ours, token)), banner.as_deref());
            }
            Server::Sensor => {
                self.drop_quietly(s);
                return;
            }
        }
        let next = self.turn(&mut s);
        self.after_turn(id, s, next, now);
    }

    /// Ends a session without its records (they were written already).
    fn drop_quietly(&mut self, mut s: Session) {
        s.forget(self.poll.registry());
        for t in s.tokens() {
            self.routes.remove(t);
        }
        s.svc.log_exit(
            Served::Held,
            Some(0),
            None,
            std::time::Duration::ZERO,
            &mut self.log,
        );
    }
}
