//! The daemon's runtime view of one service: what the event loop needs to listen, check,
//! serve and log. Built from the xinetd-conf model by [`crate::adapt`].

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use xinetd_log::FailReason;

use crate::dlog::ProgramLog;

use crate::internal::Builtin;
use crate::listen::ListenSpec;
use crate::slog::{Served, ServiceLog};

/// What serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// A builtin run inside the event loop (spec §6).
    Internal(Builtin),
    /// SENSOR: every client is banned and nothing is served (F-240).
    Sensor,
    /// An external program ([`Runtime::spawn`]).
    External,
    /// `redirect = host port`: relayed inside the event loop (F-600..F-604).
    Redirect(std::net::SocketAddr),
}

/// The parts of a service built once per (re)load and shared by its requests.
pub struct Runtime {
    /// The conf model entry, taken over from the load without a copy.
    pub conf: Box<xinetd_conf::Service>,
    /// only_from / no_access / access_times.
    pub access: xinetd_acl::AccessPolicy,
    /// The external server, ready to spawn.
    pub spawn: Option<std::sync::Arc<xinetd_spawn::SpawnSpec>>,
    /// The limits of this service (given to xinetd-limits).
    pub limits: xinetd_limits::ServiceLimits,
    /// The service log (`log_type`, `log_on_success`, `log_on_failure`). A `RefCell` keeps
    /// the runtime `Send` (built on a reload's worker thread, issue 16); only the loop
    /// writes through it once the service is shared.
    pub log: RefCell<ServiceLog>,
    /// `proxy_protocol` (extension): the PROXY header read before the checks. Boxed: few
    /// services have one, and inline it would cost each runtime about 280 bytes (issue 16).
    pub proxy: Option<Box<crate::proxied::Policy>>,
    /// TLS termination (`tls_cert`, issue 15): the configuration read at this load.
    pub tls: Option<std::sync::Arc<crate::tls::TlsService>>,
}

/// One configured service: the loop's [`Service`] (runtime behind an `Rc`) or, as the
/// loader builds it, a [`Built`] (runtime in a `Box`).
#[derive(Clone)]
pub struct Configured<R> {
    /// `id` (defaults to the name, F-100).
    pub id: String,
    /// Service name (selects the builtin, F-060).
    pub name: String,
    /// Socket to listen on.
    pub listen: ListenSpec,
    /// `wait = yes` (F-401).
    pub wait: bool,
    /// What serves requests.
    pub server: Server,
    /// `timeout = SECONDS` extension: the server's process group is killed after this long.
    pub timeout: Option<Duration>,
    /// Built per load.
    pub rt: R,
}

/// One configured service, ready for the event loop. Cheap to clone.
pub type Service = Configured<Rc<Runtime>>;

/// A service as the loader builds it: its runtime is not shared yet. Unlike a [`Service`]
/// (`Rc`) it is `Send`, so a reload builds it on a worker thread and hands it to the loop
/// (issue 16), which makes it a `Service` with [`Built::share`]. The runtime is boxed so
/// that a list of loaded services moves pointers.
pub type Built = Configured<Box<Runtime>>;

impl Built {
    /// The loop's service: the runtime behind an `Rc` its requests share.
    pub fn share(self) -> Service {
        Configured {
            id: self.id,
            name: self.name,
            listen: self.listen,
            wait: self.wait,
            server: self.server,
            timeout: self.timeout,
            rt: Rc::from(self.rt),
        }
    }
}

/// What reload matching compares (F-861): id (ASCII case ignored, as xinetd's
/// `strcasecmp`), external or not, redirect or not, wait, protocol and port. Equal shapes
/// hash alike, so a reload finds a new service's old one in a map, not by a scan.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    id: &'a str,
    external: bool,
    redirect: bool,
    wait: bool,
    stream: bool,
    port: u16,
}

impl PartialEq for Shape<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.id.eq_ignore_ascii_case(other.id)
            && self.external == other.external
            && self.redirect == other.redirect
            && self.wait == other.wait
            && self.stream == other.stream
            && self.port == other.port
    }
}

impl Eq for Shape<'_> {}

impl std::hash::Hash for Shape<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // The id as `eq` compares it: ASCII letters folded to lower case.
        for b in self.id.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_usize(self.id.len());
        (
            self.external,
            self.redirect,
            self.wait,
            self.stream,
            self.port,
        )
            .hash(h);
    }
}

impl Service {
    /// The service's "shape" for reload matching (F-861): a new service with the shape of
    /// an old one continues it. Bind address or family changes are handled as a restart of
    /// a kept service (F-863).
    pub fn shape(&self) -> Shape<'_> {
        Shape {
            id: &self.id,
            external: self.server == Server::External,
            redirect: matches!(self.server, Server::Redirect(_)),
            wait: self.wait,
            stream: self.listen.stream,
            port: self.listen.port,
        }
    }

    /// True when a kept service must close and re-bind its socket (F-863).
    pub fn needs_rebind(&self, other: &Service) -> bool {
        self.listen != other.listen
    }

    /// `USERID` in `log_on_success` (xinetd's `log_remote_user`).
    pub fn logs_remote_user(&self) -> bool {
        self.rt
            .conf
            .log_on_success
            .value
            .contains(&xinetd_conf::SuccessFlag::Userid)
    }

    /// START record (F-720).
    pub fn log_start(&self, served: Served, peer: Option<SocketAddr>, log: &mut ProgramLog) {
        if let Some(rep) = self.rt.log.borrow_mut().start(served, peer) {
            log.report(rep);
        }
    }

    /// START record of a client known otherwise than by an address (a Unix-domain client's
    /// credentials, extension).
    pub fn log_start_peer(&self, served: Served, peer: xinetd_log::Peer, log: &mut ProgramLog) {
        if let Some(rep) = self.rt.log.borrow_mut().start_peer(served, peer) {
            log.report(rep);
        }
    }

    /// START record with the TLS summary (`log_on_success` `TLS`, issue 15).
    pub fn log_start_tls(
        &self,
        served: Served,
        peer: Option<SocketAddr>,
        tls: &str,
        log: &mut ProgramLog,
    ) {
        if let Some(rep) = self.rt.log.borrow_mut().start_tls(served, peer, tls) {
            log.report(rep);
        }
    }

    /// FAIL record with a detail after the reason (`FAIL: s tls alert=.. from=..`).
    pub fn log_fail_detail(
        &self,
        reason: FailReason,
        detail: &str,
        peer: Option<SocketAddr>,
        log: &mut ProgramLog,
    ) {
        if let Some(rep) = self.rt.log.borrow_mut().fail_detail(reason, detail, peer) {
            log.report(rep);
        }
    }

    /// EXIT record (F-723).
    pub fn log_exit(
        &self,
        served: Served,
        status: Option<i32>,
        signal: Option<i32>,
        duration: Duration,
        log: &mut ProgramLog,
    ) {
        let rep = self
            .rt
            .log
            .borrow_mut()
            .exit(served, status, signal, duration);
        if let Some(rep) = rep {
            log.report(rep);
        }
    }

    /// FAIL record (F-721).
    pub fn log_fail(&self, reason: FailReason, peer: Option<SocketAddr>, log: &mut ProgramLog) {
        if let Some(rep) = self.rt.log.borrow_mut().fail(reason, peer) {
            log.report(rep);
        }
    }

    /// STDERR record: a line of a server's stderr (extension `log_stderr = yes`).
    pub fn log_stderr_line(&self, pid: i32, line: &str, log: &mut ProgramLog) {
        if let Some(rep) = self.rt.log.borrow_mut().stderr(pid, line) {
            log.report(rep);
        }
    }

    /// FAIL record of a client known otherwise than by an address (a Unix-domain client's
    /// credentials, extension).
    pub fn log_fail_peer(&self, reason: FailReason, peer: xinetd_log::Peer, log: &mut ProgramLog) {
        if let Some(rep) = self.rt.log.borrow_mut().fail_peer(reason, peer) {
            log.report(rep);
        }
    }

    /// TRAFFIC record of a redirected connection (F-603).
    pub fn log_traffic(&self, bytes_in: u64, bytes_out: u64, log: &mut ProgramLog) {
        if let Some(rep) = self.rt.log.borrow_mut().traffic(bytes_in, bytes_out) {
            log.report(rep);
        }
    }
}
