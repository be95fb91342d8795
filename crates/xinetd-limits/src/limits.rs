//! The per-daemon accounting: [`Limits`], its [`Permit`]s and [`Refusal`]s.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::config::{GlobalLimits, ServiceLimits};
use crate::cps::CpsCounter;
use crate::loadavg::LoadSource;
use crate::message::{Level, LogMessage};
use crate::sensor::SensorList;
use crate::source::Source;

/// Identifies a service inside one [`Limits`]; cheap to copy, used in events and permits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId {
    slot: u32,
    generation: u32,
}

/// The owning handle of a service registered with [`Limits::add_service`].
///
/// Not `Clone`: [`Limits::remove_service`] consumes it, so a removed service cannot be asked
/// about again. Use [`ServiceKey::id`] to match events and permits.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    id: ServiceId,
}

impl ServiceKey {
    /// The copyable identifier of this service.
    pub fn id(&self) -> ServiceId {
        self.id
    }
}

/// Why a request was refused: the reason word of xinetd's `FAIL: <id> <reason>` line (F-721).
///
/// Deliberately exhaustive: these are xinetd's own reason words for the limits, a closed
/// set, and callers map each one to their log without a catch-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `cps` tripped, or the service is deactivated by it (F-302, F-310).
    Cps,
    /// `max_load` reached (F-303).
    Load,
    /// Outside `access_times` (F-305); the daemon computes that, see [`Request`].
    Time,
    /// `instances` reached (F-300).
    ServiceLimit,
    /// `per_source` reached (F-301).
    PerSourceLimit,
    /// `-limit` reached (F-304).
    ProcessLimit,
    /// The SENSOR global deny list, or a hit on a SENSOR service (F-240, F-241, F-306).
    Address,
}

impl Reason {
    /// The exact word(s) xinetd writes in the FAIL line.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Cps => "connections per second",
            Reason::Load => "load",
            Reason::Time => "time",
            Reason::ServiceLimit => "service_limit",
            Reason::PerSourceLimit => "per_source_limit",
            Reason::ProcessLimit => "process_limit",
            Reason::Address => "address",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The daemon must close the service's listening socket until `until` (F-311, F-312).
///
/// [`Limits::tick`] reports the end of the pause with [`Event::Reactivate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deactivation {
    /// The deactivated service.
    pub service: ServiceId,
    /// When the service may be re-activated.
    pub until: Instant,
    /// The pause (`cps` wait seconds).
    pub wait: Duration,
    /// ERROR `Deactivating service %s due to %s.  Restarting in %d seconds.`
    pub message: LogMessage,
}

/// A refused request: the FAIL reason plus what the daemon must log and do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The FAIL reason.
    pub reason: Reason,
    /// A program-log line xinetd writes with this refusal (`refused connect from %s due to
    /// excessive load`, the sensor's `Adding %s to the global_no_access list ...`).
    pub log: Option<LogMessage>,
    /// For a cps trip: close the listening socket until the given time (boxed: trips are rare
    /// and this keeps `Result<Permit, Refusal>` small).
    pub deactivation: Option<Box<Deactivation>>,
}

impl Refusal {
    fn plain(reason: Reason) -> Self {
        Refusal {
            reason,
            log: None,
            deactivation: None,
        }
    }

    /// Every program-log line to write for this refusal, in xinetd's order.
    pub fn messages(&self) -> impl Iterator<Item = &LogMessage> {
        self.log
            .iter()
            .chain(self.deactivation.as_ref().map(|d| &d.message))
    }
}

/// One request to [`Limits::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// The client address; `None` for tcp `wait = yes` (`<no address>`, F-213), which skips
    /// `per_source`.
    pub peer: Option<IpAddr>,
    /// The client's uid, for a Unix-domain connection (no address): `per_source` counts by
    /// it (extension).
    pub uid: Option<u32>,
    /// The injected clock.
    pub now: Instant,
    /// The result of the service's `access_times` check (xinetd-acl), which xinetd runs
    /// between `max_load` and `instances`; `true` when the service has none.
    pub within_access_times: bool,
}

impl Request {
    /// A request from `peer` at `now`, inside the service's access times.
    pub fn new(peer: Option<IpAddr>, now: Instant) -> Self {
        Request {
            peer,
            uid: None,
            now,
            within_access_times: true,
        }
    }

    /// A Unix-domain client's uid, the key `per_source` counts by when there is no address.
    pub fn uid(mut self, uid: Option<u32>) -> Self {
        self.uid = uid;
        self
    }

    /// Set the `access_times` verdict.
    pub fn access_times(mut self, within: bool) -> Self {
        self.within_access_times = within;
        self
    }
}

/// A timer outcome of [`Limits::tick`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A cps pause is over: re-create and re-bind the listening socket, then log
    /// [`Reactivation::activated_message`] or [`Reactivation::failed_message`].
    Reactivate(Reactivation),
    /// A line for the program log (the sensor list scrub messages).
    Log(LogMessage),
}

/// The end of a cps (or descriptor-exhaustion) pause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reactivation {
    /// The service to re-activate.
    pub service: ServiceId,
    /// Its name, as used in the messages.
    pub name: String,
}

impl Reactivation {
    /// ERROR `Activating service %s` — log after the socket is bound again.
    pub fn activated_message(&self) -> LogMessage {
        LogMessage::new(
            Level::Err,
            "cps_service_restart",
            format!("Activating service {}", self.name),
        )
    }

    /// ERROR `Error activating service %s` — log when re-binding failed.
    pub fn failed_message(&self) -> LogMessage {
        LogMessage::new(
            Level::Err,
            "cps_service_restart",
            format!("Error activating service {}", self.name),
        )
    }
}

/// Why a service is deactivated (the `%s` after "due to" in F-311/F-312).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeactivationCause {
    Cps,
    Descriptors,
}

impl DeactivationCause {
    fn text(self) -> &'static str {
        match self {
            DeactivationCause::Cps => "excessive incoming connections",
            DeactivationCause::Descriptors => "no available descriptors",
        }
    }
}

/// Counts and memory of a [`Limits`], for tests, the state dump and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Live permits of all services (`running_servers` in the dump).
    pub running_total: u32,
    /// Per-source entries over all services (one per distinct live client and service).
    pub sources_tracked: usize,
    /// Allocated per-source slots over all services (bounded once sources go away).
    pub sources_capacity: usize,
    /// Addresses on the global deny list.
    pub banned: usize,
    /// Allocated slots of the deny list.
    pub banned_capacity: usize,
    /// Registered services, including removed ones that still have live permits.
    pub services: usize,
    /// Services waiting for the end of a cps pause.
    pub suspended: usize,
    /// Live ident-lookup permits.
    pub ident_running: u32,
}

#[derive(Debug)]
struct ServiceState {
    limits: ServiceLimits,
    running: u32,
    /// Keyed by the source network (`source_prefix`; exact addresses by default).
    per_source: HashMap<Source, u32>,
    cps: CpsCounter,
    suspended_until: Option<Instant>,
    /// Removed from the configuration but permits are still live (F-862).
    retired: bool,
    /// Source and whole second of the last logged dgram `address` failure (F-314).
    last_dgram_failure: Option<(IpAddr, u16, u64)>,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    service: Option<ServiceState>,
}

#[derive(Debug)]
struct State {
    epoch: Instant,
    global: GlobalLimits,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    running_total: u32,
    ident_running: u32,
    sensor: SensorList,
    /// Pending re-activations, ordered by time; each matches a `suspended_until`.
    suspensions: BTreeSet<(Instant, ServiceId)>,
}

impl State {
    fn service(&self, id: ServiceId) -> Option<&ServiceState> {
        let slot = self.slots.get(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.service.as_ref()
    }

    fn service_mut(&mut self, id: ServiceId) -> Option<&mut ServiceState> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.service.as_mut()
    }

    fn free_slot(&mut self, id: ServiceId) {
        if let Some(slot) = self.slots.get_mut(id.slot as usize) {
            if slot.generation == id.generation {
                slot.service = None;
                slot.generation = slot.generation.wrapping_add(1);
                self.free_slots.push(id.slot);
            }
        }
    }

    /// Deactivate a live service (`None` for an unknown id).
    fn suspend(
        &mut self,
        id: ServiceId,
        cause: DeactivationCause,
        now: Instant,
    ) -> Option<Deactivation> {
        let service = self.service_mut(id)?;
        let wait_secs = service.limits.cps.wait_secs;
        let wait = Duration::from_secs(u64::from(wait_secs));
        let until = now + wait;
        let previous = service.suspended_until.replace(until);
        let message = LogMessage::new(
            Level::Err,
            "service_stop",
            format!(
                "Deactivating service {} due to {}.  Restarting in {} seconds.",
                service.limits.name,
                cause.text(),
                wait_secs
            ),
        );
        if let Some(previous) = previous {
            self.suspensions.remove(&(previous, id));
        }
        self.suspensions.insert((until, id));
        Some(Deactivation {
            service: id,
            until,
            wait,
            message,
        })
    }

    /// Give back one permit (the child exited or the in-loop connection closed).
    fn release(&mut self, id: ServiceId, source: Option<Source>) {
        self.running_total = self.running_total.saturating_sub(1);
        let Some(service) = self.service_mut(id) else {
            debug_assert!(false, "a permit outlived its service slot");
            return;
        };
        service.running = service.running.saturating_sub(1);
        if let Some(source) = source {
            if let Entry::Occupied(mut count) = service.per_source.entry(source) {
                *count.get_mut() -= 1;
                if *count.get() == 0 {
                    count.remove();
                    crate::shrink_map(&mut service.per_source);
                }
            }
        }
        if service.retired && service.running == 0 {
            self.free_slot(id);
        }
    }
}

/// All limits of one daemon: per-service counts, cps state, the process and ident limits and
/// the SENSOR deny list. Single-threaded (the daemon's event loop owns it).
///
/// Every method takes the time as an argument; nothing here reads a clock, sleeps or spawns.
#[derive(Debug)]
pub struct Limits {
    state: Rc<RefCell<State>>,
}

/// Permission to run one server (or serve one in-loop connection) of a service.
///
/// Holding it counts against `instances`, `per_source` and `-limit`; dropping it — or calling
/// [`Permit::release`] — gives the counts back, so they cannot leak. The daemon keeps it in its
/// server table until the child is reaped (F-416), or for the duration of an in-loop
/// connection. For a request served inline (daytime, time, dgram builtins) it is dropped as
/// soon as the answer is sent, which reproduces xinetd: those never occupy a slot, but are
/// still refused when a limit is already full (e.g. `instances = 0`, F-300).
#[must_use = "dropping a Permit releases it at once; keep it while the server runs"]
#[derive(Debug)]
pub struct Permit {
    state: Weak<RefCell<State>>,
    service: ServiceId,
    peer: Option<IpAddr>,
    /// The key counted for `per_source`, fixed at admission so a reload that changes
    /// `source_prefix` gives back exactly what was taken.
    source: Option<Source>,
}

impl Permit {
    /// The service this permit counts against.
    pub fn service(&self) -> ServiceId {
        self.service
    }

    /// The client address counted for `per_source`.
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// Give the counts back (same as dropping; reads better at the call site).
    pub fn release(self) {}
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            // Limits never holds a borrow while user code runs, so this cannot fail.
            if let Ok(mut state) = state.try_borrow_mut() {
                state.release(self.service, self.source);
            } else {
                debug_assert!(false, "Permit dropped while Limits was borrowed");
            }
        }
    }
}

/// Permission to run one ident (RFC 1413) lookup for a failed request (`-logprocs`, F-315).
#[must_use = "dropping an IdentPermit releases it at once"]
#[derive(Debug)]
pub struct IdentPermit {
    state: Weak<RefCell<State>>,
}

impl IdentPermit {
    /// Give the slot back (same as dropping).
    pub fn release(self) {}
}

impl Drop for IdentPermit {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            if let Ok(mut state) = state.try_borrow_mut() {
                state.ident_running = state.ident_running.saturating_sub(1);
            } else {
                debug_assert!(false, "IdentPermit dropped while Limits was borrowed");
            }
        }
    }
}

const FOREIGN_KEY: &str = "ServiceKey used with the Limits that issued it";

impl Limits {
    /// Empty accounting. `now` is the origin of the whole seconds the cps algorithm counts in
    /// (xinetd uses `time(NULL)`; a monotonic clock keeps clock steps out of the counter).
    pub fn new(global: GlobalLimits, now: Instant) -> Self {
        Limits {
            state: Rc::new(RefCell::new(State {
                epoch: now,
                global,
                slots: Vec::new(),
                free_slots: Vec::new(),
                running_total: 0,
                ident_running: 0,
                sensor: SensorList::default(),
                suspensions: BTreeSet::new(),
            })),
        }
    }

    /// The daemon-wide limits.
    pub fn global(&self) -> GlobalLimits {
        self.state.borrow().global
    }

    /// Replace the daemon-wide limits; live permits keep counting.
    pub fn set_global(&mut self, global: GlobalLimits) {
        self.state.borrow_mut().global = global;
    }

    /// Register a service (start-up, or a new service on reload).
    pub fn add_service(&mut self, limits: ServiceLimits) -> ServiceKey {
        let mut state = self.state.borrow_mut();
        let service = ServiceState {
            limits,
            running: 0,
            per_source: HashMap::new(),
            cps: CpsCounter::default(),
            suspended_until: None,
            retired: false,
            last_dgram_failure: None,
        };
        let id = if let Some(slot) = state.free_slots.pop() {
            let entry = &mut state.slots[slot as usize];
            entry.service = Some(service);
            ServiceId {
                slot,
                generation: entry.generation,
            }
        } else {
            let slot = u32::try_from(state.slots.len()).expect("fewer than 2^32 services");
            state.slots.push(Slot {
                generation: 0,
                service: Some(service),
            });
            ServiceId {
                slot,
                generation: 0,
            }
        };
        ServiceKey { id }
    }

    /// A service kept across a reload gets new limits for future requests (F-863): running
    /// servers stay counted (they are not re-checked) and a cps pause in progress continues,
    /// but the cps counter restarts from zero, as in xinetd where it lives in the swapped
    /// configuration (F-864).
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn update_service(&mut self, key: &ServiceKey, limits: ServiceLimits) {
        let mut state = self.state.borrow_mut();
        let service = state.service_mut(key.id).expect(FOREIGN_KEY);
        service.limits = limits;
        service.cps = CpsCounter::default();
    }

    /// A service dropped by a reload. Its live permits keep counting against `-limit` until
    /// they are released (the daemon kills those servers, F-862); its pending cps
    /// re-activation is cancelled.
    pub fn remove_service(&mut self, key: ServiceKey) {
        let mut state = self.state.borrow_mut();
        let id = key.id;
        let Some(service) = state.service_mut(id) else {
            return;
        };
        let pending = service.suspended_until.take();
        let idle = service.running == 0;
        service.retired = true;
        if let Some(until) = pending {
            state.suspensions.remove(&(until, id));
        }
        if idle {
            state.free_slot(id);
        }
    }

    /// The parent-side checks of xinetd, in its order (F-215, §4): **cps → max_load →
    /// access_times → instances → per_source → process limit**. The first failure wins.
    ///
    /// `load` is only consulted when the service has `max_load`. A cps trip deactivates the
    /// service: the refusal carries a [`Deactivation`] and later calls are refused with
    /// [`Reason::Cps`] (without a new message) until [`Limits::tick`] re-activates it.
    ///
    /// The address/SENSOR check runs later, after `START` is logged for forking services
    /// (F-722): see [`Limits::check_address`].
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn admit<L: LoadSource + ?Sized>(
        &mut self,
        key: &ServiceKey,
        request: Request,
        load: &mut L,
    ) -> Result<Permit, Refusal> {
        let id = key.id;
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let now_secs = request.now.saturating_duration_since(state.epoch).as_secs();
        let running_total = state.running_total;
        let process_limit = state.global.process_limit;
        let service = state.service_mut(id).expect(FOREIGN_KEY);

        if service.suspended_until.is_some() {
            return Err(Refusal::plain(Reason::Cps));
        }
        if service.cps.record(service.limits.cps.rate, now_secs) {
            let deactivation = state.suspend(id, DeactivationCause::Cps, request.now);
            return Err(Refusal {
                reason: Reason::Cps,
                log: None,
                deactivation: deactivation.map(Box::new),
            });
        }
        if let Some(max_load) = service.limits.max_load {
            if load.one_minute().is_some_and(|l| l >= max_load.get()) {
                let from = match request.peer {
                    Some(peer) => peer.to_string(),
                    None => "<no address>".to_owned(),
                };
                return Err(Refusal {
                    reason: Reason::Load,
                    log: Some(LogMessage::new(
                        Level::Err,
                        "xinetd",
                        format!("refused connect from {from} due to excessive load"),
                    )),
                    deactivation: None,
                });
            }
        }
        if !request.within_access_times {
            return Err(Refusal::plain(Reason::Time));
        }
        if service
            .limits
            .instances
            .is_some_and(|max| service.running >= max)
        {
            return Err(Refusal::plain(Reason::ServiceLimit));
        }
        // One hash of the source for both the check and the count.
        let key = match (request.peer, request.uid) {
            (Some(p), _) => Some(service.limits.source_prefix.source(p)),
            (None, uid) => uid.map(Source::uid),
        };
        let source = key.map(|k| service.per_source.entry(k));
        if let (Some(max), Some(source)) = (service.limits.per_source, &source) {
            let count = match source {
                Entry::Occupied(count) => *count.get(),
                Entry::Vacant(_) => 0,
            };
            if count >= max {
                return Err(Refusal::plain(Reason::PerSourceLimit));
            }
        }
        if let Some(limit) = process_limit {
            let to_create = if service.limits.intercepted { 2 } else { 1 };
            if u64::from(running_total) + to_create > u64::from(limit.get()) {
                return Err(Refusal::plain(Reason::ProcessLimit));
            }
        }

        service.running += 1;
        if let Some(source) = source {
            *source.or_insert(0) += 1;
        }
        state.running_total += 1;
        Ok(Permit {
            state: Rc::downgrade(&self.state),
            service: id,
            peer: request.peer,
            source: key,
        })
    }

    /// The SENSOR part of xinetd's address check (F-240, F-241), which runs before
    /// `only_from`/`no_access` (those live in xinetd-acl):
    ///
    /// * a SENSOR service always refuses with [`Reason::Address`] and, unless its `deny_time`
    ///   is `NEVER`, puts `peer` on the global deny list (CRIT `Adding %s to the
    ///   global_no_access list for %d minutes` in [`Refusal::log`]);
    /// * any other service refuses a listed peer with [`Reason::Address`].
    ///
    /// `peer = None` (no address) passes, as in xinetd.
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn check_address(
        &mut self,
        key: &ServiceKey,
        peer: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Refusal> {
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let service = state.service(key.id).expect(FOREIGN_KEY);
        let Some(peer) = peer else {
            return Ok(());
        };
        if let Some(deny_time) = service.limits.sensor {
            let source = service.limits.source_prefix.source(peer);
            let log = state.sensor.trip(peer, source, deny_time, now);
            return Err(Refusal {
                reason: Reason::Address,
                log,
                deactivation: None,
            });
        }
        if state.sensor.is_banned(peer) {
            return Err(Refusal::plain(Reason::Address));
        }
        Ok(())
    }

    /// Whether to write the `FAIL: <id> address` line for a refused request on a **dgram**
    /// service (F-314). Clients of datagram services retry before timing out, so xinetd logs
    /// an address failure from the same (IP, port) as the previous logged one only once per
    /// 60 seconds; the window starts at the logged failure and is not moved by suppressed
    /// ones. Other reasons and stream services are always logged; `banner_fail` is unaffected.
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn report_dgram_address_failure(
        &mut self,
        key: &ServiceKey,
        peer: SocketAddr,
        now: Instant,
    ) -> bool {
        /// xinetd's `DGRAM_IGNORE_TIME`, seconds.
        const DGRAM_IGNORE_TIME: u64 = 60;
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let now_secs = now.saturating_duration_since(state.epoch).as_secs();
        let service = state.service_mut(key.id).expect(FOREIGN_KEY);
        match &mut service.last_dgram_failure {
            Some((ip, port, at)) if *ip == peer.ip() && *port == peer.port() => {
                if now_secs.saturating_sub(*at) <= DGRAM_IGNORE_TIME {
                    false
                } else {
                    *at = now_secs;
                    true
                }
            }
            last => {
                *last = Some((peer.ip(), peer.port(), now_secs));
                true
            }
        }
    }

    /// Whether `peer` is on the global deny list.
    pub fn is_banned(&self, peer: IpAddr) -> bool {
        self.state.borrow().sensor.is_banned(peer)
    }

    /// `accept()` failed with EMFILE/ENFILE: deactivate the service for its `cps` wait time
    /// with reason `no available descriptors` (F-312).
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn descriptors_exhausted(&mut self, key: &ServiceKey, now: Instant) -> Deactivation {
        self.state
            .borrow_mut()
            .suspend(key.id, DeactivationCause::Descriptors, now)
            .expect(FOREIGN_KEY)
    }

    /// When the daemon must call [`Limits::tick`] next: the earliest cps re-activation or
    /// sensor scrub. `None` when nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let state = self.state.borrow();
        let reactivation = state.suspensions.first().map(|(at, _)| *at);
        match (reactivation, state.sensor.next_scrub()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the timers that are due at `now`: re-activate services whose cps pause is over
    /// (their running counts are untouched — the fix of xinetd-org issue 21) and scrub the
    /// deny list (every 60 s while it is non-empty, F-242).
    pub fn tick(&mut self, now: Instant) -> Vec<Event> {
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let mut events = Vec::new();
        while let Some(&(until, id)) = state.suspensions.first() {
            if until > now {
                break;
            }
            state.suspensions.pop_first();
            if let Some(service) = state.service_mut(id) {
                if service.suspended_until == Some(until) {
                    service.suspended_until = None;
                    events.push(Event::Reactivate(Reactivation {
                        service: id,
                        name: service.limits.name.clone(),
                    }));
                }
            }
        }
        let mut messages = Vec::new();
        state.sensor.tick(now, &mut messages);
        events.extend(messages.into_iter().map(Event::Log));
        events
    }

    /// Take one of the `-logprocs` slots for an ident lookup, or `None` when all are busy (the
    /// lookup is then skipped; the FAIL line is still logged).
    pub fn ident_lookup(&mut self) -> Option<IdentPermit> {
        let mut state = self.state.borrow_mut();
        if state.ident_running >= state.global.logprocs {
            return None;
        }
        state.ident_running += 1;
        Some(IdentPermit {
            state: Rc::downgrade(&self.state),
        })
    }

    /// Live permits of one service (`running servers` in the state dump, F-850).
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn running(&self, key: &ServiceKey) -> u32 {
        self.state
            .borrow()
            .service(key.id)
            .expect(FOREIGN_KEY)
            .running
    }

    /// Live permits of one service held by `peer`.
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn running_from(&self, key: &ServiceKey, peer: IpAddr) -> u32 {
        let state = self.state.borrow();
        let service = state.service(key.id).expect(FOREIGN_KEY);
        service
            .per_source
            .get(&service.limits.source_prefix.source(peer))
            .copied()
            .unwrap_or(0)
    }

    /// When the service's cps pause ends, if it is deactivated.
    ///
    /// # Panics
    /// If `key` was issued by another `Limits`.
    pub fn suspended_until(&self, key: &ServiceKey) -> Option<Instant> {
        self.state
            .borrow()
            .service(key.id)
            .expect(FOREIGN_KEY)
            .suspended_until
    }

    /// Counts and memory use.
    pub fn stats(&self) -> Stats {
        let state = self.state.borrow();
        let mut stats = Stats {
            running_total: state.running_total,
            banned: state.sensor.len(),
            banned_capacity: state.sensor.capacity(),
            suspended: state.suspensions.len(),
            ident_running: state.ident_running,
            ..Stats::default()
        };
        for service in state.slots.iter().filter_map(|s| s.service.as_ref()) {
            stats.services += 1;
            stats.sources_tracked += service.per_source.len();
            stats.sources_capacity += service.per_source.capacity();
        }
        stats
    }
}
