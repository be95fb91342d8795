//! The configured services and their listening sockets: activation (bind, register, RPC
//! registration), the cps pause (F-311, F-312), `wait = yes` suspension and resumption
//! (F-401).

use mio::Token;

use super::{Daemon, Route};
use crate::dlog::Level;
use crate::listen::{self, Listener};
use crate::service::Service;

/// Largest datagram the dgram builtins read (F-501); also the drain buffer.
pub const DGRAM_MAX: usize = 2048;

/// One service and its socket.
pub struct Active {
    /// The service.
    pub svc: Service,
    /// `None` while deactivated by cps (F-311) or when activation failed.
    pub listener: Option<Listener>,
    /// The listener's token.
    pub token: Token,
    /// A `wait = yes` server is running: the socket is not polled (F-401).
    pub suspended: bool,
    /// Closed by cps until the limits re-activate it (F-311).
    pub paused: bool,
}

impl Active {
    /// What the state dump says of it.
    pub fn state(&self) -> &'static str {
        if self.listener.is_none() {
            "Disabled"
        } else if self.suspended {
            "Suspended"
        } else {
            "Active"
        }
    }
}

impl Daemon {
    /// Number of services with a listening socket.
    pub fn available(&self) -> usize {
        self.services
            .values()
            .filter(|a| a.listener.is_some())
            .count()
    }

    /// Keys of the services in configuration order.
    pub(super) fn keys(&self) -> Vec<u64> {
        let mut keys: Vec<u64> = self.services.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    /// TCPMUX clients have counters too (their refusals are theirs).
    pub(super) fn count_tcpmux_clients(&mut self) {
        for svc in &self.tcpmux {
            self.metrics.configured(&svc.id);
        }
    }

    /// After a reload: only configured services keep counters.
    pub(super) fn forget_removed_counters(&mut self) {
        let ids: std::collections::HashSet<&str> = self
            .services
            .values()
            .map(|a| a.svc.id.as_str())
            .chain(self.tcpmux.iter().map(|s| s.id.as_str()))
            .collect();
        self.metrics.retain(&ids);
    }

    /// Opens the socket of a new service and registers it; logs where it listens.
    pub(super) fn add_service(&mut self, svc: Service) -> bool {
        if svc.rt.conf.has_flag(xinetd_conf::ServiceFlag::Intercept) {
            // F-140: accepted (xinetd-conf already cleared it where xinetd does, F-065), but
            // there is no interceptor process: say so instead of silently ignoring it.
            self.log.msg(
                Level::Warning,
                &format!(
                    "service {}: flags = INTERCEPT is not implemented by xinetd-rs; \
                     the server runs without an interceptor",
                    svc.id
                ),
            );
        }
        let key = self.next_key;
        self.next_key += 1;
        self.metrics.configured(&svc.id);
        let token = self.routes.add(Route::Listener(key));
        self.pipeline.register(key, svc.rt.limits.clone());
        let mut a = Active {
            svc,
            listener: None,
            token,
            suspended: false,
            paused: false,
        };
        let ok = self.activate(&mut a);
        self.services.insert(key, a);
        ok
    }

    /// Binds and registers the socket of `a` (F-821 on failure).
    pub(super) fn activate(&mut self, a: &mut Active) -> bool {
        let inherited = self.inherited.take(&a.svc.id, &a.svc.listen);
        let opened = match inherited {
            Some((l, described)) => {
                self.log.msg(
                    Level::Notice,
                    &format!("service {}: adopted inherited socket {described}", a.svc.id),
                );
                Ok(l)
            }
            None => listen::open(&a.svc.listen),
        };
        let mut l = match opened {
            Ok(l) => l,
            Err(e) => {
                self.log.msg(
                    Level::Err,
                    &format!(
                        "bind failed ({}). service = {}",
                        xinetd_log::explain_errno(&e),
                        a.svc.id
                    ),
                );
                self.log.msg(
                    Level::Err,
                    &format!("Service {} failed to start and is deactivated.", a.svc.id),
                );
                return false;
            }
        };
        if let Err(e) = l.register(self.poll.registry(), a.token) {
            self.log.msg(
                Level::Err,
                &format!(
                    "poll registration failed for service {}: {}",
                    a.svc.id,
                    xinetd_log::explain_errno(&e)
                ),
            );
            self.release(l);
            return false;
        }
        if crate::rpc::is_rpc(&a.svc) {
            // F-976: register the kernel-chosen port with the portmapper.
            let port = l.local_addr().map(|x| x.port()).unwrap_or(0);
            if !crate::rpc::register(&a.svc, port, self.pmap(), &mut self.log) {
                let _ = l.deregister(self.poll.registry());
                self.log.msg(
                    Level::Err,
                    &format!("Service {} failed to start and is deactivated.", a.svc.id),
                );
                self.release(l);
                return false;
            }
        }
        let at = match &a.svc.listen.tuning.unix {
            Some(u) => u.describe(),
            None => l
                .local_addr()
                .map(|x| x.to_string())
                .unwrap_or_else(|_| a.svc.listen.address().to_string()),
        };
        let proto = match (a.svc.listen.tuning.unix.is_some(), a.svc.listen.stream) {
            (true, true) => "unix stream",
            (true, false) => "unix dgram",
            (false, true) => "tcp",
            (false, false) => "udp",
        };
        // Not an xinetd message: issue 7 asks the daemon to say where each service listens
        // (DEBUG level, as xinetd's own `Started service: %s`).
        self.log.msg(
            Level::Debug,
            &format!("Started service: {} ({proto} {at})", a.svc.id),
        );
        a.listener = Some(l);
        true
    }

    /// Closes the socket of `a` (and leaves the portmapper); returns whether it had one.
    pub(super) fn close_listener(&mut self, a: &mut Active) -> bool {
        let Some(mut l) = a.listener.take() else {
            return false;
        };
        let _ = l.deregister(self.poll.registry());
        self.rpc_unset(&a.svc);
        self.release(l);
        true
    }

    /// Closes a listening socket of ours; an inherited one is never closed but goes back for
    /// a later activation (its clients wait in the backlog meanwhile, where a closed socket
    /// would refuse them).
    fn release(&mut self, l: Listener) {
        if let Err(own) = self.inherited.give_back(l) {
            drop(own);
        }
    }

    /// Closes the socket of a service until xinetd-limits re-activates it (F-311, F-312);
    /// clients get connection refused meanwhile, as with xinetd.
    pub(super) fn pause(&mut self, key: u64) {
        let Some(mut a) = self.services.remove(&key) else {
            return;
        };
        // xinetd's svc_deactivate: re-activation registers with the portmapper again.
        self.close_listener(&mut a);
        a.paused = true;
        self.services.insert(key, a);
    }

    /// cps lets the service listen again: re-create and re-bind the socket (F-311).
    pub(super) fn unpause(&mut self, key: u64, r: &xinetd_limits::Reactivation) {
        let Some(mut a) = self.services.remove(&key) else {
            return;
        };
        if a.paused {
            a.paused = false;
            let m = if self.activate(&mut a) {
                r.activated_message()
            } else {
                r.failed_message()
            };
            self.log.msg(Level::Err, &m.text);
        }
        self.services.insert(key, a);
    }

    /// Stops polling a `wait = yes` service while its server runs (F-401).
    pub(super) fn suspend(&mut self, key: u64) {
        let Some(a) = self.services.get_mut(&key) else {
            return;
        };
        let Some(l) = a.listener.as_mut() else {
            return;
        };
        if let Err(e) = l.deregister(self.poll.registry()) {
            self.log.msg(
                Level::Err,
                &format!("deregister: {}", xinetd_log::explain_errno(&e)),
            );
        }
        a.suspended = true;
    }

    /// Starts polling a `wait = yes` service again; a dgram socket is drained first (F-401).
    pub(super) fn resume(&mut self, key: u64) {
        let Some(a) = self.services.get_mut(&key) else {
            return;
        };
        if !a.suspended {
            return;
        }
        a.suspended = false;
        let token = a.token;
        let id = a.svc.id.clone();
        let Some(l) = a.listener.as_mut() else {
            return;
        };
        // The server was given a blocking socket (same open file description).
        let _ = listen::set_blocking(&l.as_fd(), false);
        if let Listener::Udp(u) = l {
            let mut buf = [0u8; DGRAM_MAX];
            for _ in 0..10_000 {
                if u.recv_from(&mut buf).is_err() {
                    break;
                }
            }
        }
        if let Err(e) = l.register(self.poll.registry(), token) {
            self.log.msg(
                Level::Err,
                &format!("resume {id}: {}", xinetd_log::explain_errno(&e)),
            );
        }
    }

    /// `pmap_unset` of every version of an RPC service (F-976); nothing for other services.
    pub(super) fn rpc_unset(&self, svc: &Service) {
        if crate::rpc::is_rpc(svc) {
            crate::rpc::unregister(svc, self.pmap());
        }
    }

    /// The portmapper: 127.0.0.1:111 (`-pmap_port` moves it for tests).
    fn pmap(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.opts.pmap_port))
    }
}
