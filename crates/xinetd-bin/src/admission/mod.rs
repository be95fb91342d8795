//! The admission pipeline: every request — an accepted connection, a datagram, the first
//! request of a `wait = yes` service, a tcpmux client's service, a fork retry — passes the
//! same checks in the same order, coded once here:
//!
//! 1. the SENSOR global ban list (xinetd-limits);
//! 2. `access_times`, then `only_from`/`no_access` (xinetd-acl), which may need a name
//!    lookup ([`Ask::Names`]);
//! 3. the limits: cps → max_load → instances → per_source → process limit (xinetd-limits),
//!    which give the [`Hold`];
//! 4. tcp_wrappers (hosts.allow/hosts.deny), which may need the client's name
//!    ([`Ask::ClientName`]);
//! 5. with `USERID` in `log_on_success`, the client's identd ([`Ask::Ident`]).
//!
//! A [`Request`] goes in and a [`Step`] comes out: serve (with a hold), refuse (with a typed
//! [`Refusal`]), or wait for an answer, which [`Pipeline::resume`] takes; waits that get no
//! answer in time are refused by [`Pipeline::expire`]. The pipeline does no I/O: the daemon
//! performs the asks (resolver thread, ident sockets), the refusals and the serving. Which
//! checks run depends on the request's [`Path`]: xinetd makes no lookups for `wait = yes`
//! services, checks a tcpmux client's service by address only, and re-runs the access checks
//! (not the limits) before a fork retry.

pub mod credentials;
pub mod hold;
pub mod ident;
pub mod lookup;
pub mod refusal;
pub mod wrap;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use xinetd_acl::hosts_access::NameLookup;
use xinetd_acl::{ClientName, Decision, LocalTime, LookupRequest, Resolved};
use xinetd_limits::{GlobalLimits, Limits, LoadSource, Reactivation, ServiceKey, ServiceLimits};
use xinetd_log::{FailReason, IdentTimeout};

pub use hold::{Hold, Running};
pub use refusal::{Reason, Refusal};
use wrap::{Check, Wrappers};

use crate::dlog::Level;
use crate::service::Service;

/// Longest a request waits for a name lookup before it is refused.
pub const LOOKUP_WAIT: Duration = Duration::from_secs(10);
/// Requests waiting for name lookups at most (a flood of unresolvable peers cannot grow the
/// table).
pub const MAX_WAITING: usize = 1024;
/// identd queries for `USERID` in `log_on_success` in flight at most (each holds the client's
/// connection and a query socket). Past it a request is served without `USERID`; an `IDONLY`
/// service refuses it (docs/compat.md).
pub const MAX_IDENT_WAITS: usize = 1024;

/// Which kind of request, and so which checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// An accepted connection of a `wait = no` stream service: every check.
    Stream,
    /// A datagram answered inside the daemon: every check but ident.
    Datagram,
    /// The request that starts a `wait = yes` server: no lookups (the socket cannot wait), and
    /// libwrap sees `0.0.0.0` when the client is unknown (a tcp server accepts by itself).
    WaitServer,
    /// The service a tcpmux client asked for (F-544): `access_times` and the address lists
    /// by address, and libwrap; the limits were taken by the tcpmux service.
    TcpmuxClient,
    /// Before a fork retry (F-420): the access checks again, with the name unknown; the
    /// request keeps the hold it had.
    Retry,
}

impl Path {
    /// The SENSOR ban list and the limits apply (they give the hold).
    fn limits(self) -> bool {
        matches!(self, Path::Stream | Path::Datagram | Path::WaitServer)
    }

    /// The request can wait for a name lookup.
    fn lookups(self) -> bool {
        matches!(self, Path::Stream | Path::Datagram)
    }

    /// What libwrap knows of the client's name before any lookup.
    fn client_name(self) -> ClientName {
        match self {
            Path::Stream | Path::Datagram | Path::TcpmuxClient => ClientName::not_looked_up(),
            Path::WaitServer | Path::Retry => ClientName::unknown(),
        }
    }
}

/// One request.
pub struct Request<C> {
    /// The daemon's key of the service the request arrived on.
    pub key: u64,
    /// The service whose checks apply (a tcpmux client's service for [`Path::TcpmuxClient`]).
    pub svc: Service,
    /// Which checks run.
    pub path: Path,
    /// The client, when known.
    pub peer: Option<SocketAddr>,
    /// The local address the request arrived at, when known (libwrap's server endpoint).
    pub local: Option<SocketAddr>,
    /// Extension: the client of a Unix-domain socket (then `peer` is `None`): checked
    /// against `only_uid`/`only_gid`, counted by uid for `per_source`.
    pub credentials: Option<credentials::Credentials>,
    /// What carries the request (a connection, a datagram, ...): the daemon's business.
    pub carrier: C,
}

/// What the pipeline says of a request.
pub enum Step<C> {
    /// Serve it; the hold (none for tcpmux clients and retries, which keep theirs) gives the
    /// limits back when dropped.
    Serve(Admitted<C>),
    /// Refuse it.
    Refuse(Refused<C>),
    /// Ask this, then [`Pipeline::resume`] with the answer.
    Wait(WaitId, Ask),
}

/// An admitted request.
pub struct Admitted<C> {
    /// The request.
    pub req: Request<C>,
    /// Its limits permit and running count.
    pub hold: Option<Hold>,
    /// `USERID` was asked for, but [`MAX_IDENT_WAITS`] queries were in flight: served
    /// without it.
    pub without_userid: bool,
}

/// A refused request.
pub struct Refused<C> {
    /// The request.
    pub req: Request<C>,
    /// Why.
    pub refusal: Refusal,
}

/// Identifies a waiting request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaitId(u64);

/// What a waiting request needs.
#[derive(Debug)]
pub enum Ask {
    /// The names an `only_from`/`no_access` rule needs.
    Names(LookupRequest),
    /// The client's verified host name, for a libwrap name pattern.
    ClientName(NameLookup),
    /// The client's identd (`USERID` in `log_on_success`).
    Ident {
        /// Our end of the connection.
        local: SocketAddr,
        /// The client.
        peer: SocketAddr,
        /// How long to wait (`IDONLY` waits longer, F-142).
        timeout: IdentTimeout,
    },
}

/// The answer to an [`Ask`].
pub enum Answer {
    /// For [`Ask::Names`].
    Names(Resolved),
    /// For [`Ask::ClientName`].
    ClientName(ClientName),
    /// For [`Ask::Ident`], once the `USERID`/`NOID` record is written: whether the client
    /// may be served (`IDONLY` refuses a client whose identd gave no name).
    Ident {
        /// Serve the client.
        admit: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Names,
    ClientName,
    Ident,
}

struct Waiting<C> {
    req: Request<C>,
    hold: Option<Hold>,
    stage: Stage,
    since: Instant,
}

/// What the limits' timers did.
pub struct Tick {
    /// Services cps lets listen again, by key.
    pub reactivate: Vec<(u64, Reactivation)>,
    /// Daemon-log lines.
    pub messages: Vec<(Level, String)>,
}

/// A service known to the limits.
struct Registered {
    lkey: ServiceKey,
    running: Running,
}

/// The checks, the limits' state and the waiting requests.
pub struct Pipeline<C> {
    limits: Limits,
    load: Box<dyn LoadSource>,
    clock: Box<dyn Fn() -> LocalTime>,
    wrap: Wrappers,
    services: HashMap<u64, Registered>,
    waits: HashMap<WaitId, Waiting<C>>,
    /// Entries of `waits` at [`Stage::Ident`].
    ident_waits: usize,
    next_wait: u64,
}

impl<C> Pipeline<C> {
    /// A pipeline with the global limits, a load source for `max_load`, a clock for
    /// `access_times`, and the tcp_wrappers rules.
    pub fn new(
        global: GlobalLimits,
        load: Box<dyn LoadSource>,
        clock: Box<dyn Fn() -> LocalTime>,
        wrap: Wrappers,
        now: Instant,
    ) -> Pipeline<C> {
        Pipeline {
            limits: Limits::new(global, now),
            load,
            clock,
            wrap,
            services: HashMap::new(),
            waits: HashMap::new(),
            ident_waits: 0,
            next_wait: 1,
        }
    }

    /// The tcp_wrappers rules (reloaded on SIGHUP).
    pub fn wrappers_mut(&mut self) -> &mut Wrappers {
        &mut self.wrap
    }

    /// Registers service `key` with the limits.
    pub fn register(&mut self, key: u64, limits: ServiceLimits) {
        let lkey = self.limits.add_service(limits);
        self.services.insert(
            key,
            Registered {
                lkey,
                running: Running::default(),
            },
        );
    }

    /// A reload kept the service: new limits, same counts.
    pub fn update(&mut self, key: u64, limits: ServiceLimits) {
        if let Some(r) = self.services.get(&key) {
            self.limits.update_service(&r.lkey, limits);
        }
    }

    /// The service is gone (its holds stay valid until their servers end).
    pub fn unregister(&mut self, key: u64) {
        if let Some(r) = self.services.remove(&key) {
            self.limits.remove_service(r.lkey);
        }
    }

    /// The running count of service `key` (its live holds).
    pub fn running(&self, key: u64) -> u32 {
        self.services.get(&key).map_or(0, |r| r.running.count())
    }

    /// Addresses on the SENSOR ban list.
    pub fn banned(&self) -> usize {
        self.limits.stats().banned
    }

    /// The limits permits alive for service `key`.
    pub fn permits(&self, key: u64) -> u32 {
        self.services
            .get(&key)
            .map_or(0, |r| self.limits.running(&r.lkey))
    }

    /// `accept()` ran out of descriptors (F-312): deactivate like cps; the log line.
    pub fn descriptors_exhausted(&mut self, key: u64, now: Instant) -> Option<String> {
        let r = self.services.get(&key)?;
        Some(self.limits.descriptors_exhausted(&r.lkey, now).message.text)
    }

    /// Runs the checks of a new request.
    pub fn admit(&mut self, req: Request<C>, now: Instant) -> Step<C> {
        if let Some(c) = req.credentials {
            if let Err(r) = credentials::check(&req.svc, c) {
                return refuse(req, r);
            }
        }
        let ip = req.peer.map(|p| p.ip());
        if req.path.limits() {
            let Some(r) = self.services.get(&req.key) else {
                return refuse(req, Refusal::plain(FailReason::Address));
            };
            if let Err(r) = self.limits.check_address(&r.lkey, ip, now) {
                // check_address refuses only for SENSOR reasons.
                let mut r = refusal::from_limits(r);
                r.sensor = true;
                return refuse(req, r);
            }
        }
        let access = &req.svc.rt.access;
        if let Some(d) = access.check_time((self.clock)()) {
            let r = refusal::from_acl(&req.svc.id, ip, &d);
            return refuse(req, r);
        }
        if let Some(ip) = ip {
            match access.check_address(ip, &Resolved::none()) {
                Decision::NeedsLookup(l) if req.path.lookups() => {
                    return self.wait(req, None, Stage::Names, Ask::Names(l), now);
                }
                // Name rules where the request cannot wait: refuse rather than block.
                Decision::NeedsLookup(_) => {
                    return refuse(req, Refusal::plain(FailReason::Address));
                }
                Decision::Deny(d) => {
                    let r = refusal::from_acl(&req.svc.id, Some(ip), &d);
                    return refuse(req, r);
                }
                _ => {}
            }
        }
        self.limits_step(req, now)
    }

    /// The answer to a waiting request's ask; `None` when nothing waits under `id` (it was
    /// refused at its deadline, or its service is gone).
    pub fn resume(&mut self, id: WaitId, answer: Answer, now: Instant) -> Option<Step<C>> {
        let w = self.take(id)?;
        Some(match (w.stage, answer) {
            (Stage::Names, Answer::Names(resolved)) => {
                // The service went away while the lookup ran: nothing to admit it to.
                self.services.get(&w.req.key)?;
                let Some(ip) = w.req.peer.map(|p| p.ip()) else {
                    return Some(self.limits_step(w.req, now));
                };
                match w.req.svc.rt.access.check_address(ip, &resolved) {
                    Decision::Deny(d) => {
                        let r = refusal::from_acl(&w.req.svc.id, Some(ip), &d);
                        refuse(w.req, r)
                    }
                    // Still undecided after the lookup: no name matched, like no match.
                    Decision::NeedsLookup(_) => refuse(w.req, Refusal::plain(FailReason::Address)),
                    _ => self.limits_step(w.req, now),
                }
            }
            (Stage::ClientName, Answer::ClientName(name)) => {
                self.wrap_step(w.req, w.hold, &name, now)
            }
            (Stage::Ident, Answer::Ident { admit }) => {
                if admit {
                    Step::Serve(Admitted {
                        req: w.req,
                        hold: w.hold,
                        without_userid: false,
                    })
                } else {
                    let r = Refusal {
                        reason: Reason::NoIdent,
                        messages: Vec::new(),
                        deactivate_until: None,
                        sensor: false,
                    };
                    refuse(w.req, r)
                }
            }
            // An answer of the wrong kind: refuse rather than guess.
            (stage, _) => unanswered(w.req, stage),
        })
    }

    /// The request waiting under `id`.
    pub fn waiting(&self, id: WaitId) -> Option<&Request<C>> {
        self.waits.get(&id).map(|w| &w.req)
    }

    /// The request waiting under `id`, to note what its wait learnt (the identd answer).
    pub fn waiting_mut(&mut self, id: WaitId) -> Option<&mut Request<C>> {
        self.waits.get_mut(&id).map(|w| &mut w.req)
    }

    /// Live permits of service `key` held by `peer` (UCSPI's `TCPCONNNUM`).
    pub fn running_from(&self, key: u64, peer: IpAddr) -> u32 {
        self.services
            .get(&key)
            .map_or(0, |r| self.limits.running_from(&r.lkey, peer))
    }

    /// The ask of `id` cannot be made (no resolver thread): the request is refused now.
    pub fn abandon(&mut self, id: WaitId) -> Option<Step<C>> {
        let w = self.take(id)?;
        Some(unanswered(w.req, w.stage))
    }

    /// Removes a waiting request.
    fn take(&mut self, id: WaitId) -> Option<Waiting<C>> {
        let w = self.waits.remove(&id)?;
        if w.stage == Stage::Ident {
            self.ident_waits -= 1;
        }
        Some(w)
    }

    /// Requests waiting (each holds its connection or datagram).
    pub fn waiting_count(&self) -> usize {
        self.waits.len()
    }

    /// When the oldest name lookup times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waits
            .values()
            .filter(|w| w.stage != Stage::Ident)
            .map(|w| w.since + LOOKUP_WAIT)
            .min()
    }

    /// Refuses the requests whose name lookup took [`LOOKUP_WAIT`]. An ident query has its
    /// own deadline and always answers.
    pub fn expire(&mut self, now: Instant) -> Vec<Step<C>> {
        let late: Vec<WaitId> = self
            .waits
            .iter()
            .filter(|(_, w)| w.stage != Stage::Ident && w.since + LOOKUP_WAIT <= now)
            .map(|(id, _)| *id)
            .collect();
        late.into_iter().filter_map(|id| self.abandon(id)).collect()
    }

    /// The holds of service `key`'s waiting requests (the consistency check).
    pub fn holds_of(&self, key: u64) -> impl Iterator<Item = &Hold> + '_ {
        self.waits
            .values()
            .filter(move |w| w.req.key == key)
            .filter_map(|w| w.hold.as_ref())
    }

    /// The ids of the requests waiting for an identd (the consistency check).
    pub fn ident_waits(&self) -> impl Iterator<Item = WaitId> + '_ {
        self.waits
            .iter()
            .filter(|(_, w)| w.stage == Stage::Ident)
            .map(|(id, _)| *id)
    }

    /// The limits' timers: log lines, and the services cps lets listen again (by key).
    pub fn tick(&mut self, now: Instant) -> Tick {
        let mut back = Vec::new();
        let mut msgs = Vec::new();
        for ev in self.limits.tick(now) {
            match ev {
                xinetd_limits::Event::Reactivate(r) => {
                    // Matched by the limits' own key: services may share a name or an id.
                    let key = self
                        .services
                        .iter()
                        .find(|(_, s)| s.lkey.id() == r.service)
                        .map(|(k, _)| *k);
                    if let Some(key) = key {
                        back.push((key, r));
                    }
                }
                xinetd_limits::Event::Log(m) => msgs.push((refusal::level(m.level), m.text)),
                _ => {}
            }
        }
        Tick {
            reactivate: back,
            messages: msgs,
        }
    }

    /// When [`Pipeline::tick`] must run next.
    pub fn limits_deadline(&self) -> Option<Instant> {
        self.limits.next_deadline()
    }

    /// Step 3: the limits, which give the hold.
    fn limits_step(&mut self, req: Request<C>, now: Instant) -> Step<C> {
        let hold = if req.path.limits() {
            let Some(r) = self.services.get(&req.key) else {
                return refuse(req, Refusal::plain(FailReason::Address));
            };
            let ip = req.peer.map(|p| p.ip());
            match self.limits.admit(
                &r.lkey,
                xinetd_limits::Request::new(ip, now)
                    .uid(req.credentials.map(|c| c.uid))
                    .access_times(true),
                self.load.as_mut(),
            ) {
                Ok(p) => Some(Hold::new(Some(p), &r.running)),
                Err(r) => return refuse(req, refusal::from_limits(r)),
            }
        } else {
            None
        };
        let name = req.path.client_name();
        self.wrap_step(req, hold, &name, now)
    }

    /// Step 4: tcp_wrappers.
    fn wrap_step(
        &mut self,
        req: Request<C>,
        hold: Option<Hold>,
        name: &ClientName,
        now: Instant,
    ) -> Step<C> {
        let peer = match (req.peer, req.path) {
            (Some(p), _) => p.ip(),
            // As libwrap on xinetd's listening socket: the client of a tcp wait = yes server
            // is unknown.
            (None, Path::WaitServer) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (None, _) => return self.ident_step(req, hold, now),
        };
        let local = req.local.map(|l| l.ip());
        match self.wrap.check(&req.svc, local, peer, name) {
            Check::Allow => self.ident_step(req, hold, now),
            Check::Deny(r) => refuse(req, r),
            Check::Lookup(l) if req.path.lookups() => {
                self.wait(req, hold, Stage::ClientName, Ask::ClientName(l), now)
            }
            // The request cannot wait for the name: a rule could deny the client.
            Check::Lookup(_) => refuse(req, Refusal::plain(FailReason::Libwrap)),
        }
    }

    /// Step 5: `USERID` in `log_on_success` asks the client's identd first (F-740).
    fn ident_step(&mut self, req: Request<C>, hold: Option<Hold>, now: Instant) -> Step<C> {
        let c = &req.svc.rt.conf;
        let wants = req.path == Path::Stream
            && c.log_on_success
                .value
                .contains(&xinetd_conf::SuccessFlag::Userid);
        match (wants, req.local, req.peer) {
            (true, Some(_), Some(_)) if self.ident_waits >= MAX_IDENT_WAITS => {
                if c.has_flag(xinetd_conf::ServiceFlag::IdOnly) {
                    // IDONLY serves identified clients only: none can be identified now.
                    return refuse(req, Refusal::plain(FailReason::Descriptors));
                }
                Step::Serve(Admitted {
                    req,
                    hold,
                    without_userid: true,
                })
            }
            (true, Some(local), Some(peer)) => {
                let idonly = c.has_flag(xinetd_conf::ServiceFlag::IdOnly);
                let ask = Ask::Ident {
                    local,
                    peer,
                    timeout: IdentTimeout::for_success(idonly),
                };
                self.wait(req, hold, Stage::Ident, ask, now)
            }
            _ => Step::Serve(Admitted {
                req,
                hold,
                without_userid: false,
            }),
        }
    }

    fn wait(
        &mut self,
        req: Request<C>,
        hold: Option<Hold>,
        stage: Stage,
        ask: Ask,
        now: Instant,
    ) -> Step<C> {
        if stage != Stage::Ident {
            let lookups = self.waits.values().filter(|w| w.stage != Stage::Ident);
            if lookups.count() >= MAX_WAITING {
                return match stage {
                    Stage::Names => {
                        let text = format!(
                            "service {}: too many pending name lookups; refusing {}",
                            req.svc.id,
                            shown(req.peer)
                        );
                        refuse(
                            req,
                            Refusal::with_message(FailReason::Address, Level::Err, text),
                        )
                    }
                    _ => unanswered(req, stage),
                };
            }
        }
        let id = WaitId(self.next_wait);
        self.next_wait += 1;
        if stage == Stage::Ident {
            self.ident_waits += 1;
        }
        self.waits.insert(
            id,
            Waiting {
                req,
                hold,
                stage,
                since: now,
            },
        );
        Step::Wait(id, ask)
    }
}

fn refuse<C>(req: Request<C>, refusal: Refusal) -> Step<C> {
    Step::Refuse(Refused { req, refusal })
}

/// The refusal of a request whose question got no answer.
fn unanswered<C>(req: Request<C>, stage: Stage) -> Step<C> {
    match stage {
        Stage::Names => refuse(req, Refusal::plain(FailReason::Address)),
        // No name for libwrap: refuse, as a rule could deny the client.
        Stage::ClientName => {
            let text = format!(
                "service {}: no host name for libwrap (lookup queue full, failed or timed \
                 out); refusing {}",
                req.svc.id,
                shown(req.peer)
            );
            refuse(
                req,
                Refusal::with_message(FailReason::Libwrap, Level::Err, text),
            )
        }
        Stage::Ident => refuse(
            req,
            Refusal {
                reason: Reason::NoIdent,
                messages: Vec::new(),
                deactivate_until: None,
                sensor: false,
            },
        ),
    }
}

fn shown(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "an unknown client".to_string(), |p| p.ip().to_string())
}

#[cfg(test)]
mod tests;
