//! Connections of `proxy_protocol` services while their PROXY header is read
//! ([`crate::proxied`]): the checks on the sending peer, the reading turns, the deadline,
//! and the refusals (one FAIL record `proxy` naming the peer, one daemon-log line saying
//! why). No limits permit is taken before the header is read, so none can leak here: the
//! connection enters the admission pipeline, with the client's address, only afterwards.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::accept::Carrier;
use super::{Daemon, Route};
use crate::admission::{Path, Refusal, Refused, Request};
use crate::dlog::Level;
use crate::proxied::{Conn, Pending, Received, Turn, MAX_PENDING};
use crate::service::Service;
use crate::session::Socket;

/// The connections whose header is being read.
#[derive(Default)]
pub struct Proxies {
    pending: HashMap<u64, Pending>,
    next: u64,
}

impl Proxies {
    /// The earliest `proxy_timeout`.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Headers being read.
    pub fn len(&self) -> usize {
        self.pending.len()
    }
}

impl Daemon {
    /// An accepted connection of a `proxy_protocol` service: checks on the peer itself,
    /// then the header is read (at once if it is already there).
    pub(super) fn read_proxy(
        &mut self,
        key: u64,
        svc: Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        now: Instant,
    ) {
        let rt = svc.rt.clone();
        let Some(policy) = rt.proxy.as_deref() else {
            self.admit_stream(key, svc, Conn::direct(stream), peer, now);
            return;
        };
        if !policy.trusts(peer.ip()) {
            if policy.direct {
                // `direct`: a client outside proxy_from, served as itself.
                self.admit_stream(key, svc, Conn::direct(stream), peer, now);
            } else {
                let why = "not in proxy_from".to_string();
                self.refuse_proxy(key, svc, stream, peer, &why, now);
            }
            return;
        }
        let held = self.held_fds();
        if self.proxies.len() >= MAX_PENDING || self.budget.room(held) < 1 {
            let why = format!(
                "{} PROXY headers are being read, or descriptors ran out",
                self.proxies.len()
            );
            self.refuse_proxy(key, svc, stream, peer, &why, now);
            return;
        }
        let id = self.proxies.next;
        self.proxies.next += 1;
        let token = self.routes.add(Route::Proxy(id));
        let p = Pending::new(key, svc, Socket::new(stream, token), peer, policy, now);
        self.proxy_turn(id, p, now);
    }

    /// Readiness of a connection whose header is being read.
    pub(super) fn on_proxy(&mut self, id: u64, now: Instant) {
        if let Some(p) = self.proxies.pending.remove(&id) {
            self.proxy_turn(id, p, now);
        }
    }

    fn proxy_turn(&mut self, id: u64, mut p: Pending, now: Instant) {
        match p.turn() {
            Turn::Wait => match p.follow(self.poll.registry()) {
                Ok(()) => {
                    self.proxies.pending.insert(id, p);
                }
                Err(e) => {
                    let why = format!("poll: {}", xinetd_log::explain_errno(&e));
                    self.end_proxy(p, Err(why), now);
                }
            },
            Turn::Done(h) => self.end_proxy(p, Ok(h), now),
            Turn::Refuse(why) => self.end_proxy(p, Err(why), now),
        }
    }

    /// The header was read (or not): the connection goes on to the admission pipeline
    /// with the client's address, or is refused.
    fn end_proxy(
        &mut self,
        mut p: Pending,
        header: Result<Box<crate::proxy_header::Header>, String>,
        now: Instant,
    ) {
        p.sock.forget(self.poll.registry());
        self.routes.remove(p.sock.token());
        let Pending {
            key,
            svc,
            sock,
            balancer,
            ..
        } = p;
        match header {
            Ok(header) => {
                // v1 UNKNOWN, v2 LOCAL (and families without addresses): the real peer.
                let client = header.addresses.map_or(balancer, |(src, _)| src);
                let conn = Conn {
                    stream: sock.stream,
                    proxy: Some(Box::new(Received {
                        header: *header,
                        balancer,
                    })),
                    remote_info: None,
                };
                self.admit_stream(key, svc, conn, client, now);
            }
            Err(why) => self.refuse_proxy(key, svc, sock.stream, balancer, &why, now),
        }
    }

    /// Connections whose `proxy_timeout` passed are refused.
    pub(super) fn expire_proxies(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .proxies
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(p) = self.proxies.pending.remove(&id) {
                let why = format!(
                    "no complete PROXY header within {} s",
                    p.svc.rt.conf.proxy.timeout_secs()
                );
                self.end_proxy(p, Err(why), now);
            }
        }
    }

    /// The one refusal of a connection without an acceptable header: the daemon-log line,
    /// then the FAIL record through the common refusal path.
    fn refuse_proxy(
        &mut self,
        key: u64,
        svc: Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        why: &str,
        now: Instant,
    ) {
        let text = format!(
            "service {}: PROXY header from {}: {why}; refusing",
            svc.id,
            crate::conn_env::ip(peer.ip())
        );
        let refusal = Refusal::with_message(xinetd_log::FailReason::Proxy, Level::Warning, text);
        let req = Request {
            key,
            local: stream.local_addr().ok(),
            svc,
            path: Path::Stream,
            peer: Some(peer),
            credentials: None,
            carrier: Carrier::Stream(Conn::direct(stream)),
        };
        self.refuse(Refused { req, refusal }, now);
    }
}
