//! Composition of the libraries for one request: the sensor ban list and cps/instances/...
//! (xinetd-limits), access_times and only_from/no_access (xinetd-acl), spawning
//! (xinetd-spawn) and the service log. The event loop only calls this module.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xinetd_acl::{Decision, LookupRequest, Resolved};
use xinetd_limits::{GlobalLimits, Limits, Permit, ProcLoadAvg, Request, ServiceKey};

use crate::cli::Options;
use crate::dlog::{Level, ProgramLog};
use crate::service::Service;
use crate::slog::Served;

/// Limit tokens held by a running request; dropping it gives the counts back.
pub type Admission = Option<Permit>;

/// Why a request was refused.
#[derive(Debug)]
pub struct Refusal {
    /// xinetd's FAIL reason word (F-721).
    pub reason: &'static str,
    /// Daemon-log lines that go with it (e.g. `refused connect from ... due to excessive
    /// load`, the sensor's `Adding ... to the global_no_access list`).
    pub messages: Vec<(Level, String)>,
    /// The cps limiter tripped: close the socket until this time (F-311).
    pub deactivate_until: Option<Instant>,
}

/// The outcome of the checks.
pub enum Verdict {
    /// Serve it.
    Admit(Admission),
    /// Refuse it.
    Refuse(Refusal),
    /// A host-name or `.domain` rule needs the peer's name: ask the resolver thread, then
    /// call [`Policy::admit_resolved`].
    Lookup(LookupRequest),
}

/// Name lookups off the event loop: one worker thread, answers come back through a channel
/// and wake the poll.
pub struct Lookups {
    tx: mpsc::Sender<(u64, LookupRequest)>,
    rx: mpsc::Receiver<(u64, Resolved)>,
}

impl Lookups {
    /// Starts the worker; `waker` wakes the event loop when an answer is ready.
    pub fn start(waker: Arc<mio::Waker>, timeout: Duration) -> std::io::Result<Lookups> {
        let (tx, req_rx) = mpsc::channel::<(u64, LookupRequest)>();
        let (ans_tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("xinetd-resolver".into())
            .spawn(move || {
                let resolver = xinetd_acl::SystemResolver::new(timeout);
                while let Ok((id, req)) = req_rx.recv() {
                    let resolved = req.perform(&resolver);
                    if ans_tx.send((id, resolved)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(Lookups { tx, rx })
    }

    /// Queues a lookup.
    pub fn ask(&self, id: u64, req: LookupRequest) -> bool {
        self.tx.send((id, req)).is_ok()
    }

    /// Answers that arrived.
    pub fn answers(&self) -> Vec<(u64, Resolved)> {
        self.rx.try_iter().collect()
    }
}

/// Access, limits, spawning and service logging for all services.
pub struct Policy {
    limits: Limits,
    load: ProcLoadAvg,
    startup_env: xinetd_spawn::Environment,
    dump_path: PathBuf,
}

impl Policy {
    /// A policy for the given options.
    pub fn new(opts: &Options) -> Policy {
        let global = GlobalLimits::new(opts.limit, Some(opts.logprocs));
        Policy {
            limits: Limits::new(global, Instant::now()),
            load: ProcLoadAvg::default(),
            startup_env: xinetd_spawn::Environment::startup(),
            dump_path: opts
                .dumpfile
                .clone()
                .unwrap_or_else(|| PathBuf::from("/var/run/xinetd.dump")),
        }
    }

    /// Registers a service with the limits; the key lives as long as the service.
    pub fn register(&mut self, svc: &Service) -> ServiceKey {
        self.limits.add_service(svc.rt.limits.clone())
    }

    /// A reload kept the service: new limits, same counts.
    pub fn update(&mut self, key: &ServiceKey, svc: &Service) {
        self.limits.update_service(key, svc.rt.limits.clone());
    }

    /// The service is gone (its permits may still be alive until its servers exit).
    pub fn unregister(&mut self, key: ServiceKey) {
        self.limits.remove_service(key);
    }

    /// The checks of one request, in the order of issue 7: the sensor ban list,
    /// `access_times`, `only_from`/`no_access`, then xinetd-limits' cps → max_load →
    /// instances → per_source → process limit.
    pub fn admit(
        &mut self,
        svc: &Service,
        key: &ServiceKey,
        peer: Option<SocketAddr>,
        now: Instant,
    ) -> Verdict {
        let ip = peer.map(|p| p.ip());
        if let Err(r) = self.limits.check_address(key, ip, now) {
            return Verdict::Refuse(limits_refusal(r));
        }
        let access = &svc.rt.access;
        if let Some(d) = access.check_time(local_time()) {
            return Verdict::Refuse(acl_refusal(&svc.id, ip, &d));
        }
        if let Some(ip) = ip {
            match access.check_address(ip, &Resolved::none()) {
                Decision::NeedsLookup(req) => return Verdict::Lookup(req),
                Decision::Deny(d) => return Verdict::Refuse(acl_refusal(&svc.id, Some(ip), &d)),
                _ => {}
            }
        }
        self.admit_limits(key, ip, now)
    }

    /// Continues [`Policy::admit`] once the name lookup answered.
    pub fn admit_resolved(
        &mut self,
        svc: &Service,
        key: &ServiceKey,
        peer: SocketAddr,
        resolved: &Resolved,
        now: Instant,
    ) -> Verdict {
        let ip = peer.ip();
        match svc.rt.access.check_address(ip, resolved) {
            Decision::Deny(d) => Verdict::Refuse(acl_refusal(&svc.id, Some(ip), &d)),
            // Still undecided after the lookup: no name matched, treat like no match.
            Decision::NeedsLookup(_) => Verdict::Refuse(Refusal {
                reason: "address",
                messages: Vec::new(),
                deactivate_until: None,
            }),
            _ => self.admit_limits(key, Some(ip), now),
        }
    }

    fn admit_limits(&mut self, key: &ServiceKey, ip: Option<IpAddr>, now: Instant) -> Verdict {
        match self.limits.admit(
            key,
            Request::new(ip, now).access_times(true),
            &mut self.load,
        ) {
            Ok(p) => Verdict::Admit(Some(p)),
            Err(r) => Verdict::Refuse(limits_refusal(r)),
        }
    }

    /// The access check of a TCPMUX client service (F-544): `access_times`, then
    /// `only_from`/`no_access` by address (a rule that needs a name lookup refuses).
    pub fn tcpmux_client_allowed(&self, svc: &Service, ip: IpAddr) -> Result<(), Refusal> {
        let access = &svc.rt.access;
        if let Some(d) = access.check_time(local_time()) {
            return Err(acl_refusal(&svc.id, Some(ip), &d));
        }
        match access.check_address(ip, &Resolved::none()) {
            Decision::Deny(d) => Err(acl_refusal(&svc.id, Some(ip), &d)),
            Decision::NeedsLookup(_) => Err(Refusal {
                reason: "address",
                messages: Vec::new(),
                deactivate_until: None,
            }),
            _ => Ok(()),
        }
    }

    /// `accept()` ran out of descriptors (F-312): deactivate like cps.
    pub fn descriptors_exhausted(&mut self, key: &ServiceKey) -> (Instant, String) {
        let d = self.limits.descriptors_exhausted(key, Instant::now());
        (d.until, d.message.text)
    }

    /// When [`Policy::tick`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.limits.next_deadline()
    }

    /// Timers of the limits: returns the services to re-activate and log lines.
    pub fn tick(
        &mut self,
        now: Instant,
    ) -> (Vec<xinetd_limits::Reactivation>, Vec<(Level, String)>) {
        let mut ids = Vec::new();
        let mut msgs = Vec::new();
        for ev in self.limits.tick(now) {
            match ev {
                xinetd_limits::Event::Reactivate(r) => ids.push(r),
                xinetd_limits::Event::Log(m) => msgs.push((level(m.level), m.text)),
                _ => {}
            }
        }
        (ids, msgs)
    }

    /// Running servers (permits) of a service.
    pub fn running(&self, key: &ServiceKey) -> u32 {
        self.limits.running(key)
    }

    /// Logs a refusal (its daemon-log lines and the FAIL record) and writes `banner_fail`
    /// (best effort on the non-blocking socket, F-128).
    pub fn refused(
        &mut self,
        svc: &Service,
        peer: Option<SocketAddr>,
        r: &Refusal,
        stream: Option<&mut mio::net::TcpStream>,
        log: &mut ProgramLog,
    ) {
        for (lvl, m) in &r.messages {
            log.msg(*lvl, m);
        }
        if let (Some(s), Some(b)) = (stream, svc.rt.conf.banner_fail.as_ref()) {
            if let Ok(text) = std::fs::read(&b.value) {
                use std::io::Write;
                let _ = s.write_all(&text);
            }
        }
        let rep = svc.rt.log.borrow_mut().fail(r.reason, peer);
        if let Some(rep) = rep {
            log.report(rep);
        }
    }

    /// START line.
    pub fn log_start(
        &mut self,
        svc: &Service,
        served: Served,
        peer: Option<SocketAddr>,
        log: &mut ProgramLog,
    ) {
        let rep = svc.rt.log.borrow_mut().start(served, peer);
        if let Some(rep) = rep {
            log.report(rep);
        }
    }

    /// TRAFFIC line of a redirected connection.
    pub fn log_traffic(
        &mut self,
        svc: &Service,
        bytes_in: u64,
        bytes_out: u64,
        log: &mut ProgramLog,
    ) {
        let rep = svc.rt.log.borrow_mut().traffic(bytes_in, bytes_out);
        if let Some(rep) = rep {
            log.report(rep);
        }
    }

    /// FAIL line.
    pub fn log_fail(
        &mut self,
        svc: &Service,
        reason: &str,
        peer: Option<SocketAddr>,
        log: &mut ProgramLog,
    ) {
        let rep = svc.rt.log.borrow_mut().fail(reason, peer);
        if let Some(rep) = rep {
            log.report(rep);
        }
    }

    /// EXIT line.
    pub fn log_exit(
        &mut self,
        svc: &Service,
        served: Served,
        status: Option<i32>,
        signal: Option<i32>,
        duration: Duration,
        log: &mut ProgramLog,
    ) {
        let rep = svc
            .rt
            .log
            .borrow_mut()
            .exit(served, status, signal, duration);
        if let Some(rep) = rep {
            log.report(rep);
        }
    }

    /// Removes the pid file (F-803).
    pub fn remove_pidfile(&mut self, opts: &Options) {
        if let Some(p) = &opts.pidfile {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Where SIGUSR1 writes (F-841).
    pub fn dump_path(&self) -> PathBuf {
        self.dump_path.clone()
    }

    /// The start-up environment servers inherit.
    pub fn startup_env(&self) -> &xinetd_spawn::Environment {
        &self.startup_env
    }
}

/// A limits refusal as the loop's [`Refusal`].
fn limits_refusal(r: xinetd_limits::Refusal) -> Refusal {
    let messages = r
        .messages()
        .map(|m| (level(m.level), m.text.clone()))
        .collect();
    Refusal {
        reason: r.reason.as_str(),
        messages,
        deactivate_until: r.deactivation.map(|d| d.until),
    }
}

/// An acl denial as the loop's [`Refusal`].
fn acl_refusal(id: &str, ip: Option<IpAddr>, d: &xinetd_acl::Denial) -> Refusal {
    let messages = ip
        .and_then(|ip| d.xinetd_message(id, ip))
        .map(|m| (Level::Err, m.text))
        .into_iter()
        .collect();
    Refusal {
        reason: d.fail_reason().as_str(),
        messages,
        deactivate_until: None,
    }
}

fn level(l: xinetd_limits::Level) -> Level {
    match l {
        xinetd_limits::Level::Crit => Level::Crit,
        xinetd_limits::Level::Err => Level::Err,
        _ => Level::Info,
    }
}

/// Local wall-clock time for access_times (F-220).
fn local_time() -> xinetd_acl::LocalTime {
    let now = xinetd_log::LocalClock::system().now();
    xinetd_acl::LocalTime::new(now.hour() as u8, now.minute() as u8)
        .unwrap_or_else(|| xinetd_acl::LocalTime::new(0, 0).expect("00:00 is a valid time"))
}
