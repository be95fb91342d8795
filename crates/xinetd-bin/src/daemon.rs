//! The event loop: one thread, one `mio::Poll`, every listener, inline connection, signal
//! and timer (spec §9, F-400..F-416, F-840..F-864).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::{
    SIGABRT, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
};
use signal_hook_mio::v1_0::Signals;
use xinetd_limits::ServiceKey;

use crate::cli::Options;
use crate::dlog::{Level, ProgramLog};
use crate::internal::{self, Builtin, ChargenRing, Progress, StreamState};
use crate::listen::{self, Listener};
use crate::policy::{Admission, Lookups, Policy, Refusal, Verdict};
use crate::relay::{Relay, Step};
use crate::service::{Server, Service};
use crate::slog::Served;

/// Token of the signal pipe.
const SIGNALS: Token = Token(0);
/// Token of the resolver waker.
pub const WAKER: Token = Token(1);
/// First token handed to listeners and connections.
const FIRST_TOKEN: usize = 16;
/// Connections accepted (or datagrams answered) per readiness event before the loop looks at
/// the other sockets: a flood on one service cannot starve the rest.
const BUDGET: usize = 64;
/// Longest a request waits for a name lookup before it is refused.
const LOOKUP_WAIT: Duration = Duration::from_secs(10);
/// Requests parked for name lookups at most (a flood of unresolvable peers cannot grow it).
const MAX_PARKED: usize = 1024;
/// Largest datagram the dgram builtins read (F-501).
const DGRAM_MAX: usize = 2048;

/// Why the loop stopped, and the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

/// One active service and its socket.
struct Active {
    svc: Service,
    /// The service in xinetd-limits.
    lkey: ServiceKey,
    /// `None` while deactivated by cps (F-311) or when activation failed.
    listener: Option<Listener>,
    token: Token,
    /// `wait = yes` server running: the socket is not polled (F-401).
    suspended: bool,
    /// Running servers and inline held connections of this service.
    running: u32,
    /// Closed by cps until this time (F-311).
    paused: bool,
}

/// A request waiting for a name lookup (only_from/no_access with host names or domains).
enum Parked {
    Stream(mio::net::TcpStream, SocketAddr),
    Datagram(Vec<u8>, SocketAddr),
}

/// Who owns a token.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Listener(u64),
    Conn,
    Relay(u64),
    Ident,
    Admin,
}

/// An admitted connection waiting for the client's identd (`USERID`, F-740).
struct IdentWait {
    key: u64,
    svc: Service,
    stream: mio::net::TcpStream,
    peer: SocketAddr,
    admission: Admission,
    client: xinetd_log::IdentClient,
    /// `USERID` in `log_on_failure`: the request was refused, only log (F-741).
    after_refusal: bool,
}

/// A redirected connection (F-600) and its bookkeeping.
struct RelayConn {
    key: u64,
    svc: Service,
    relay: Relay,
    client_token: Token,
    target_token: Token,
    target: SocketAddr,
    started: Instant,
    deadline: Option<Instant>,
    admission: Admission,
}

/// An inline stream connection (echo, discard, chargen).
struct Conn {
    key: u64,
    svc: Service,
    stream: mio::net::TcpStream,
    state: StreamState,
    started: Instant,
    deadline: Option<Instant>,
    admission: Admission,
}

/// A running external server.
struct Child {
    key: u64,
    svc: Service,
    started: Instant,
    deadline: Option<Instant>,
    /// Limit tokens released when the child is reaped.
    admission: Admission,
    /// The socket to resume polling when a `wait = yes` server exits.
    wait: bool,
    /// The client (for the state dump's server table).
    peer: Option<SocketAddr>,
}

/// The daemon state.
pub struct Daemon {
    poll: Poll,
    opts: Options,
    log: ProgramLog,
    policy: Policy,
    services: HashMap<u64, Active>,
    next_key: u64,
    owners: HashMap<Token, Owner>,
    next_token: usize,
    conns: HashMap<Token, Conn>,
    children: HashMap<i32, Child>,
    ring: ChargenRing,
    signals: Signals,
    /// Requests waiting for the resolver thread.
    parked: HashMap<u64, (u64, Parked, Instant)>,
    next_lookup: u64,
    /// The resolver thread, started with the first lookup (most configurations never need
    /// one, and an idle thread costs memory).
    lookups: Option<Lookups>,
    waker: std::sync::Arc<mio::Waker>,
    /// Listeners whose budget ran out: serve them again before blocking.
    again: Vec<Token>,
    next_cc: Option<Instant>,
    exit: Option<Exit>,
    /// The merged `defaults` entry of the running configuration (dumps, F-850).
    defaults: xinetd_conf::Defaults,
    /// TCPMUX client services, reached through the `tcpmux` builtin (F-540).
    tcpmux: Vec<Service>,
    /// Redirected connections.
    relays: HashMap<u64, RelayConn>,
    next_relay: u64,
    /// Connections waiting for an ident answer.
    idents: HashMap<Token, IdentWait>,
    /// Spawner threads, started with the first external server.
    spawner: Option<crate::spawner::Spawner>,
    /// Spawns handed to the spawner threads.
    pending: HashMap<u64, Pending>,
    next_job: u64,
    /// Children reaped before their spawn result arrived: (status, signal, when).
    early_exits: HashMap<i32, (Option<i32>, Option<i32>, Instant)>,
    /// tcp_wrappers: hosts.allow/hosts.deny and their pending name lookups (F-250).
    wrap: crate::wrap::Wrappers,
    /// Requests whose server failed to fork, waiting for another attempt (F-420).
    retries: crate::retry::RetryTable,
    /// Connections of the servers/services/xadmin builtins ([`crate::admin`]).
    admins: HashMap<Token, AdminConn>,
}

/// A connection of an admin builtin: what is left to write, and whether it ends after.
struct AdminConn {
    key: u64,
    svc: Service,
    stream: mio::net::TcpStream,
    started: Instant,
    admission: Admission,
    out: Vec<u8>,
    closing: bool,
}

/// A spawn in flight on a spawner thread.
struct Pending {
    key: u64,
    /// The service that logs START/EXIT.
    svc: Service,
    peer: Option<SocketAddr>,
    admission: Admission,
    wait: bool,
    log_start: bool,
    timeout: Option<Duration>,
    /// Failed forks of this request so far (F-420).
    failures: u32,
    /// Unless `NORETRY`: a copy of the socket and the started service, to try again after
    /// a failed fork ([`crate::retry`]).
    retry: Option<(OwnedFd, Service)>,
}

impl Daemon {
    /// Sets up the poll, the signal pipe and the listening sockets of `services`.
    pub fn new(
        opts: Options,
        log: ProgramLog,
        policy: Policy,
        loaded: crate::config::Loaded,
    ) -> io::Result<Daemon> {
        let poll = Poll::new()?;
        let waker = std::sync::Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let mut signals = Signals::new([
            SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGQUIT, SIGINT, SIGABRT, SIGCHLD,
        ])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let next_cc = opts
            .cc
            .filter(|&n| n > 0)
            .map(|n| Instant::now() + Duration::from_secs(n.into()));
        let mut log = log;
        let wrap = crate::wrap::Wrappers::load(
            opts.hosts_allow.clone(),
            opts.hosts_deny.clone(),
            &mut log,
        );
        let mut d = Daemon {
            poll,
            opts,
            log,
            policy,
            services: HashMap::new(),
            next_key: 1,
            owners: HashMap::new(),
            next_token: FIRST_TOKEN,
            conns: HashMap::new(),
            children: HashMap::new(),
            ring: ChargenRing::default(),
            signals,
            parked: HashMap::new(),
            next_lookup: 1,
            lookups: None,
            waker,
            again: Vec::new(),
            next_cc,
            exit: None,
            defaults: loaded.defaults,
            tcpmux: Vec::new(),
            relays: HashMap::new(),
            next_relay: 1,
            idents: HashMap::new(),
            spawner: None,
            pending: HashMap::new(),
            next_job: 1,
            early_exits: HashMap::new(),
            wrap,
            retries: crate::retry::RetryTable::default(),
            admins: HashMap::new(),
        };
        d.tcpmux = loaded.tcpmux_clients;
        for svc in loaded.services {
            d.add_service(svc);
        }
        Ok(d)
    }

    /// Number of services with a listening socket.
    pub fn available(&self) -> usize {
        self.services
            .values()
            .filter(|a| a.listener.is_some())
            .count()
    }

    /// `-d`: the configuration of every service, as xinetd prints it at start-up (F-852).
    pub fn config_dump(&self) -> String {
        let mut keys: Vec<&u64> = self.services.keys().collect();
        keys.sort();
        let cx = crate::dump::Context {
            defaults: &self.defaults,
            startup_env: self.policy.startup_env(),
        };
        crate::dump::config_dump(&cx, keys.into_iter().map(|k| &self.services[k].svc))
    }

    /// The daemon log.
    pub fn log(&mut self) -> &mut ProgramLog {
        &mut self.log
    }

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    /// Opens the socket of a new service and registers it; logs where it listens.
    fn add_service(&mut self, svc: Service) -> bool {
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
        let token = self.token();
        let lkey = self.policy.register(&svc);
        let mut a = Active {
            svc,
            lkey,
            listener: None,
            token,
            suspended: false,
            running: 0,
            paused: false,
        };
        let ok = self.activate(&mut a);
        self.owners.insert(token, Owner::Listener(key));
        self.services.insert(key, a);
        ok
    }

    /// Binds and registers the socket of `a` (F-821 on failure).
    fn activate(&mut self, a: &mut Active) -> bool {
        match listen::open(&a.svc.listen) {
            Ok(mut l) => {
                let r = match &mut l {
                    Listener::Tcp(t) => {
                        self.poll
                            .registry()
                            .register(t, a.token, Interest::READABLE)
                    }
                    Listener::Udp(u) => {
                        self.poll
                            .registry()
                            .register(u, a.token, Interest::READABLE)
                    }
                };
                if let Err(e) = r {
                    self.log.msg(
                        Level::Err,
                        &format!(
                            "poll registration failed for service {}: {}",
                            a.svc.id,
                            errno_text(&e)
                        ),
                    );
                    return false;
                }
                if crate::rpc::is_rpc(&a.svc) {
                    // F-976: register the kernel-chosen port with the portmapper.
                    let port = l.local_addr().map(|x| x.port()).unwrap_or(0);
                    if !crate::rpc::register(&a.svc, port, self.pmap(), &mut self.log) {
                        let _ = match &mut l {
                            Listener::Tcp(t) => self.poll.registry().deregister(t),
                            Listener::Udp(u) => self.poll.registry().deregister(u),
                        };
                        self.log.msg(
                            Level::Err,
                            &format!("Service {} failed to start and is deactivated.", a.svc.id),
                        );
                        return false;
                    }
                }
                let at = l
                    .local_addr()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|_| a.svc.listen.address().to_string());
                let proto = if a.svc.listen.stream { "tcp" } else { "udp" };
                // Not an xinetd message: issue 7 asks the daemon to say where each service
                // listens (DEBUG level, as xinetd's own `Started service: %s`).
                self.log.msg(
                    Level::Debug,
                    &format!("Started service: {} ({proto} {at})", a.svc.id),
                );
                a.listener = Some(l);
                true
            }
            Err(e) => {
                self.log.msg(
                    Level::Err,
                    &format!("bind failed ({}). service = {}", errno_text(&e), a.svc.id),
                );
                self.log.msg(
                    Level::Err,
                    &format!("Service {} failed to start and is deactivated.", a.svc.id),
                );
                false
            }
        }
    }

    /// Runs until a signal asks to exit.
    pub fn run(&mut self) -> Exit {
        let mut events = Events::with_capacity(256);
        loop {
            if let Some(e) = self.exit {
                // F-976: RPC services leave the portmapper with the daemon.
                let rpc: Vec<Service> = self
                    .services
                    .values()
                    .filter(|a| a.listener.is_some())
                    .map(|a| a.svc.clone())
                    .collect();
                for svc in &rpc {
                    self.rpc_unset(svc);
                }
                return e;
            }
            let timeout = if self.again.is_empty() {
                self.next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.log
                        .msg(Level::Err, &format!("poll: {}", errno_text(&e)));
                }
                continue;
            }
            let mut ready: Vec<Token> = std::mem::take(&mut self.again);
            for ev in events.iter() {
                ready.push(ev.token());
            }
            for token in ready {
                match token {
                    SIGNALS => self.on_signals(),
                    WAKER => {
                        self.on_lookups();
                        self.on_spawns();
                        self.on_wrap_lookups();
                    }
                    t => match self.owners.get(&t).copied() {
                        Some(Owner::Listener(key)) => self.on_listener(key),
                        Some(Owner::Conn) => self.on_conn(t),
                        Some(Owner::Relay(id)) => self.on_relay(id),
                        Some(Owner::Ident) => self.on_ident(t, Instant::now()),
                        Some(Owner::Admin) => self.on_admin(t),
                        None => {}
                    },
                }
            }
            self.on_timers();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let conns = self.conns.values().filter_map(|c| c.deadline);
        let kids = self.children.values().filter_map(|c| c.deadline);
        let parked = self.parked.values().map(|(_, _, t)| *t + LOOKUP_WAIT);
        let relays = self.relays.values().filter_map(|r| r.deadline);
        let idents = self.idents.values().filter_map(|w| w.client.deadline());
        let early = self
            .early_exits
            .values()
            .map(|(_, _, t)| *t + Duration::from_secs(11));
        conns
            .chain(kids)
            .chain(relays)
            .chain(idents)
            .chain(early)
            .chain(parked)
            .chain(self.policy.next_deadline())
            .chain(self.retries.next_deadline())
            .chain(self.wrap.next_deadline())
            .chain(self.next_cc)
            .min()
    }

    // ---- signals (F-840..F-849) ----

    fn on_signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGCHLD => self.reap(),
                SIGHUP | SIGUSR2 => self.reconfigure(),
                SIGUSR1 => self.dump(),
                SIGABRT => self.consistency_check(true),
                SIGTERM => {
                    // F-842: kill what we run ourselves; external servers are killed too
                    // (documented difference, docs/compat.md: xinetd leaves them running).
                    self.kill_all_servers(libc_signal::SIGTERM);
                    self.quit();
                }
                SIGQUIT => self.quit(),
                // F-846: SIGINT ends a -d run (status 1) and is ignored otherwise.
                SIGINT if self.opts.debug => {
                    self.log.msg(Level::Warning, "Exiting...");
                    self.policy.remove_pidfile(&self.opts);
                    self.exit = Some(Exit(1));
                }
                _ => {}
            }
        }
    }

    fn quit(&mut self) {
        self.policy.remove_pidfile(&self.opts);
        self.log.msg(Level::Warning, "Exiting...");
        self.exit = Some(Exit(0));
    }

    /// Signals every running server's process group (each server is a session leader).
    fn kill_all_servers(&mut self, sig: nix::sys::signal::Signal) {
        for pid in self.children.keys() {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pid), sig);
        }
    }

    /// SIGCHLD: reap every child, log EXIT, release limits, resume `wait = yes` services.
    fn reap(&mut self) {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        for _ in 0..100_000 {
            let st = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(st) => st,
            };
            let (pid, status, signal) = match st {
                WaitStatus::Exited(p, code) => (p.as_raw(), Some(code), None),
                WaitStatus::Signaled(p, s, _) => (p.as_raw(), None, Some(s as i32)),
                _ => continue,
            };
            if self.children.contains_key(&pid) {
                self.child_exited(pid, status, signal);
            } else if !self.pending.is_empty() {
                // Its spawn result may not have reached the loop yet (spawner threads).
                self.early_exits
                    .insert(pid, (status, signal, Instant::now()));
            } else {
                self.log
                    .msg(Level::Notice, &format!("unknown child process {pid} died"));
            }
        }
    }

    /// A reaped server: EXIT, limits released, `wait = yes` service resumed (F-416).
    fn child_exited(&mut self, pid: i32, status: Option<i32>, signal: Option<i32>) {
        let Some(child) = self.children.remove(&pid) else {
            return;
        };
        if let Some(a) = self.services.get_mut(&child.key) {
            a.running = a.running.saturating_sub(1);
        }
        self.policy.log_exit(
            &child.svc,
            Served::Process(pid),
            status,
            signal,
            child.started.elapsed(),
            &mut self.log,
        );
        // Dropping the permit gives instances/per_source/-limit back.
        drop(child.admission);
        if child.wait {
            self.resume(child.key);
        }
    }

    /// Starts polling a `wait = yes` service again; a dgram socket is drained first (F-401).
    fn resume(&mut self, key: u64) {
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
        let _ = listen::set_blocking(&l_fd(l), false);
        let r = match l {
            Listener::Tcp(t) => self.poll.registry().register(t, token, Interest::READABLE),
            Listener::Udp(u) => {
                let mut buf = [0u8; DGRAM_MAX];
                for _ in 0..10_000 {
                    if u.recv_from(&mut buf).is_err() {
                        break;
                    }
                }
                self.poll.registry().register(u, token, Interest::READABLE)
            }
        };
        if let Err(e) = r {
            self.log
                .msg(Level::Err, &format!("resume {id}: {}", errno_text(&e)));
        }
    }

    // ---- listeners ----

    fn on_listener(&mut self, key: u64) {
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
            self.start_wait_server(key);
            false
        } else if a.svc.listen.stream {
            self.accept_some(key)
        } else {
            self.datagrams(key)
        };
        if more {
            self.again.push(token);
        }
    }

    /// Accepts up to [`BUDGET`] connections; true when more may be pending.
    fn accept_some(&mut self, key: u64) -> bool {
        for _ in 0..BUDGET {
            let Some(a) = self.services.get_mut(&key) else {
                return false;
            };
            let Some(Listener::Tcp(l)) = a.listener.as_mut() else {
                return false;
            };
            match l.accept() {
                Ok((stream, peer)) => self.serve_stream(key, stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let id = a.svc.id.clone();
                    if let Some(libc_errno::EMFILE) | Some(libc_errno::ENFILE) = e.raw_os_error() {
                        // F-312: same path as cps, with its own message.
                        let (_, msg) = self.policy.descriptors_exhausted(&a.lkey);
                        self.log.msg(Level::Err, &msg);
                        self.pause(key);
                        return false;
                    }
                    // A connection that died in the queue (ECONNABORTED, EPROTO, ...): log it
                    // and keep accepting, or the queued ones would wait for the next edge.
                    self.log.msg(
                        Level::Err,
                        &format!("service {id}, accept: {}", errno_text(&e)),
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

    /// One accepted stream connection of a `wait = no` service: the checks, then serve.
    fn serve_stream(&mut self, key: u64, mut stream: mio::net::TcpStream, peer: SocketAddr) {
        let Some(a) = self.services.get(&key) else {
            return;
        };
        let svc = a.svc.clone();
        // F-126, F-230: `banner` goes to every accepted client, before any check.
        self.send_banner(&svc, &mut stream);
        let Some(a) = self.services.get(&key) else {
            return;
        };
        match self.policy.admit(&svc, &a.lkey, Some(peer), Instant::now()) {
            Verdict::Admit(adm) => self.admitted_stream(key, &svc, stream, peer, adm),
            Verdict::Refuse(r) => {
                self.refuse(key, &svc, Some(peer), &r, Some(&mut stream));
                self.userid_after_refusal(key, &svc, stream, peer, &r);
            }
            Verdict::Lookup(req) => self.park(key, Parked::Stream(stream, peer), req),
        }
    }

    /// An admitted stream connection: tcp_wrappers first (F-250, [`crate::wrap`]), then
    /// [`Daemon::identify_stream`].
    fn admitted_stream(
        &mut self,
        key: u64,
        svc: &Service,
        mut stream: mio::net::TcpStream,
        peer: SocketAddr,
        admission: Admission,
    ) {
        let local = stream.local_addr().ok().map(|a| a.ip());
        let name = xinetd_acl::ClientName::not_looked_up();
        match self.wrap.check(svc, local, peer.ip(), &name) {
            crate::wrap::Check::Allow => self.identify_stream(key, svc, stream, peer, admission),
            crate::wrap::Check::Deny(r) => {
                drop(admission);
                self.refuse(key, svc, Some(peer), &r, Some(&mut stream));
            }
            crate::wrap::Check::Lookup(l) => {
                let p = crate::wrap::WrapParked {
                    key,
                    svc: svc.clone(),
                    stream: Some(stream),
                    data: Vec::new(),
                    peer,
                    admission,
                };
                if let Err(p) = self.wrap.park(l, p, &self.waker) {
                    self.wrap_lookup_failed(*p);
                }
            }
        }
    }

    /// An answered datagram: tcp_wrappers first (F-250), then [`Daemon::answer_datagram`].
    fn run_datagram(
        &mut self,
        key: u64,
        svc: &Service,
        data: &[u8],
        peer: SocketAddr,
        admission: Admission,
    ) {
        let name = xinetd_acl::ClientName::not_looked_up();
        match self.wrap.check(svc, None, peer.ip(), &name) {
            crate::wrap::Check::Allow => self.answer_datagram(key, svc, data, peer, admission),
            crate::wrap::Check::Deny(r) => {
                drop(admission);
                self.refuse(key, svc, Some(peer), &r, None);
            }
            crate::wrap::Check::Lookup(l) => {
                let p = crate::wrap::WrapParked {
                    key,
                    svc: svc.clone(),
                    stream: None,
                    data: data.to_vec(),
                    peer,
                    admission,
                };
                if let Err(p) = self.wrap.park(l, p, &self.waker) {
                    self.wrap_lookup_failed(*p);
                }
            }
        }
    }

    /// No name for libwrap (too many pending, no thread, no answer within
    /// [`crate::wrap::LOOKUP_WAIT`]): refuse, as a rule could deny the client.
    fn wrap_lookup_failed(&mut self, mut p: crate::wrap::WrapParked) {
        self.log.msg(
            Level::Err,
            &format!(
                "service {}: no host name for libwrap (lookup queue full, \
                 failed or timed out); refusing {}",
                p.svc.id,
                p.peer.ip()
            ),
        );
        let r = Refusal {
            reason: "libwrap",
            messages: Vec::new(),
            deactivate_until: None,
        };
        drop(p.admission.take());
        self.refuse(p.key, &p.svc, Some(p.peer), &r, p.stream.as_mut());
    }

    /// libwrap name lookups answered: decide again with the verified name.
    fn on_wrap_lookups(&mut self) {
        for (mut p, name) in self.wrap.answers() {
            let local = p
                .stream
                .as_ref()
                .and_then(|s| s.local_addr().ok())
                .map(|a| a.ip());
            match self.wrap.check(&p.svc, local, p.peer.ip(), &name) {
                crate::wrap::Check::Allow => match p.stream {
                    Some(s) => self.identify_stream(p.key, &p.svc, s, p.peer, p.admission),
                    None => self.answer_datagram(p.key, &p.svc, &p.data, p.peer, p.admission),
                },
                crate::wrap::Check::Deny(r) => {
                    drop(p.admission.take());
                    self.refuse(p.key, &p.svc, Some(p.peer), &r, p.stream.as_mut());
                }
                // Cannot happen with a looked-up name; refuse rather than loop.
                crate::wrap::Check::Lookup(_) => self.wrap_lookup_failed(p),
            }
        }
    }

    /// With `USERID` in `log_on_success`, ask the client's identd first (F-740), without
    /// blocking the loop; then serve.
    fn identify_stream(
        &mut self,
        key: u64,
        svc: &Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        admission: Admission,
    ) {
        let c = &svc.rt.conf;
        if !c
            .log_on_success
            .value
            .contains(&xinetd_conf::SuccessFlag::Userid)
        {
            self.run_stream(key, svc, stream, peer, admission);
            return;
        }
        let idonly = c.has_flag(xinetd_conf::ServiceFlag::IdOnly);
        let now = Instant::now();
        let local = match stream.local_addr() {
            Ok(l) => l,
            Err(_) => {
                self.run_stream(key, svc, stream, peer, admission);
                return;
            }
        };
        let timeout = xinetd_log::IdentTimeout::for_success(idonly);
        let mut client =
            match xinetd_log::IdentClient::start(local, peer, self.opts.ident_port, timeout, now) {
                Ok(c) => c,
                Err(failure) => {
                    self.ident_done(key, svc, stream, peer, admission, Err(failure));
                    return;
                }
            };
        let token = self.token();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&client);
        if let Err(e) = self.poll.registry().register(
            &mut mio::unix::SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.log
                .msg(Level::Err, &format!("ident: poll: {}", errno_text(&e)));
            let r = client
                .poll(now)
                .unwrap_or(Err(xinetd_log::IdentFailure::Timeout));
            self.ident_done(key, svc, stream, peer, admission, r);
            return;
        }
        self.owners.insert(token, Owner::Ident);
        self.idents.insert(
            token,
            IdentWait {
                key,
                svc: svc.clone(),
                stream,
                peer,
                admission,
                client,
                after_refusal: false,
            },
        );
    }

    /// A refused stream connection of a service with `USERID` in `log_on_failure` (F-741):
    /// for refusals xinetd makes in the parent (cps, load, access_times, instances,
    /// per_source, process limit — not the address or libwrap checks, which it makes in the
    /// child), ask the client's identd (30 s), at most `-logprocs` lookups at a time, like
    /// xinetd's `logging` helper processes; the connection stays open meanwhile.
    fn userid_after_refusal(
        &mut self,
        key: u64,
        svc: &Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        r: &Refusal,
    ) {
        const PARENT_SIDE: [&str; 6] = [
            "cps",
            "load",
            "time",
            "service_limit",
            "per_source_limit",
            "process_limit",
        ];
        if !svc
            .rt
            .conf
            .log_on_failure
            .value
            .contains(&xinetd_conf::FailureFlag::Userid)
            || !PARENT_SIDE.contains(&r.reason)
        {
            return;
        }
        let running = self.idents.values().filter(|w| w.after_refusal).count();
        if running >= self.opts.logprocs as usize {
            return;
        }
        let Ok(local) = stream.local_addr() else {
            return;
        };
        let now = Instant::now();
        let timeout = xinetd_log::IdentTimeout::for_failure();
        let client =
            match xinetd_log::IdentClient::start(local, peer, self.opts.ident_port, timeout, now) {
                Ok(c) => c,
                Err(failure) => {
                    self.refusal_ident_done(svc, peer, Err(failure));
                    return;
                }
            };
        let token = self.token();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&client);
        if self
            .poll
            .registry()
            .register(
                &mut mio::unix::SourceFd(&fd),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            return;
        }
        self.owners.insert(token, Owner::Ident);
        self.idents.insert(
            token,
            IdentWait {
                key,
                svc: svc.clone(),
                stream,
                peer,
                admission: None,
                client,
                after_refusal: true,
            },
        );
    }

    /// The USERID line (or `Failed to contact identity server`) of a refused request.
    fn refusal_ident_done(
        &mut self,
        svc: &Service,
        peer: SocketAddr,
        result: xinetd_log::IdentResult,
    ) {
        let (rep, diags) = svc.rt.log.borrow_mut().ident_after_refusal(peer, &result);
        for d in &diags {
            self.log.diagnostic(d);
        }
        if let Some(rep) = rep {
            self.log.report(rep);
        }
    }

    /// Readiness or deadline of an ident lookup.
    fn on_ident(&mut self, token: Token, now: Instant) {
        let Some(w) = self.idents.get_mut(&token) else {
            return;
        };
        let Some(result) = w.client.poll(now) else {
            return;
        };
        let Some(w) = self.idents.remove(&token) else {
            return;
        };
        self.owners.remove(&token);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&w.client);
        let _ = self
            .poll
            .registry()
            .deregister(&mut mio::unix::SourceFd(&fd));
        let IdentWait {
            key,
            svc,
            stream,
            peer,
            admission,
            client,
            after_refusal,
        } = w;
        drop(client);
        if after_refusal {
            drop(stream);
            self.refusal_ident_done(&svc, peer, result);
            return;
        }
        self.ident_done(key, &svc, stream, peer, admission, result);
    }

    /// Logs USERID/NOID and serves or drops the connection (IDONLY, F-142).
    fn ident_done(
        &mut self,
        key: u64,
        svc: &Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        admission: Admission,
        result: xinetd_log::IdentResult,
    ) {
        let idonly = svc.rt.conf.has_flag(xinetd_conf::ServiceFlag::IdOnly);
        let (admit, rep, diags) = svc.rt.log.borrow_mut().ident(peer, &result, idonly);
        for d in &diags {
            self.log.diagnostic(d);
        }
        if let Some(rep) = rep {
            self.log.report(rep);
        }
        if admit {
            self.run_stream(key, svc, stream, peer, admission);
        }
    }

    /// Serves an admitted stream connection.
    fn run_stream(
        &mut self,
        key: u64,
        svc: &Service,
        mut stream: mio::net::TcpStream,
        peer: SocketAddr,
        admission: Admission,
    ) {
        // F-127: `banner_success` after the checks passed, before the server runs.
        if let Some(b) = svc.rt.conf.banner_success.as_ref() {
            if let Ok(text) = std::fs::read(&b.value) {
                let _ = stream.write_all(&text);
            }
        }
        match svc.server {
            Server::Internal(b) => {
                self.policy
                    .log_start(svc, served_inline(b), Some(peer), &mut self.log);
                match b {
                    Builtin::Daytime => {
                        let now = xinetd_log::LocalClock::system().now();
                        let _ = stream.write_all(internal::daytime_text(&now).as_bytes());
                    }
                    Builtin::Time => {
                        let _ = stream
                            .write_all(&internal::time_bytes(jiff::Timestamp::now().as_second()));
                    }
                    b if b.is_admin() => self.start_admin(key, svc, b, stream, peer, admission),
                    b => self.start_conn(key, svc, b, stream, peer, admission),
                }
            }
            // The policy refuses every SENSOR client before this point.
            Server::Sensor => {}
            Server::Redirect(target) => self.start_relay(key, svc, stream, peer, target, admission),
            Server::External => {
                let fd: OwnedFd = stream.into();
                self.spawn(key, svc, svc, fd, Some(peer), admission, false, true);
                // Our copy of the connection closes here (F-400).
            }
        }
    }

    /// `banner` is written on every accepted connection (F-126).
    fn send_banner(&mut self, svc: &Service, stream: &mut mio::net::TcpStream) {
        if let Some(b) = svc.rt.conf.banner.as_ref() {
            if let Ok(text) = std::fs::read(&b.value) {
                let _ = stream.write_all(&text);
            }
        }
    }

    // ---- servers, services, xadmin (crate::admin) ----

    /// Starts an admin builtin connection: refused unless the service's `only_from` lists
    /// the client (a block without `only_from` answers nobody, issue 8).
    fn start_admin(
        &mut self,
        key: u64,
        svc: &Service,
        b: Builtin,
        mut stream: mio::net::TcpStream,
        peer: SocketAddr,
        admission: Admission,
    ) {
        if svc.rt.conf.only_from.is_none() {
            drop(admission);
            let r = Refusal {
                reason: "address",
                messages: vec![(
                    Level::Err,
                    format!(
                        "service {}: {} answers only the addresses of its only_from, and it \
                         has none: refusing {}",
                        svc.id,
                        svc.name,
                        peer.ip()
                    ),
                )],
                deactivate_until: None,
            };
            self.refuse(key, svc, Some(peer), &r, Some(&mut stream));
            return;
        }
        let out = match b {
            Builtin::Servers => crate::admin::servers_text(&self.admin_servers(None)),
            Builtin::Services => crate::admin::services_text(&self.admin_services()),
            _ => crate::admin::PROMPT.to_string(),
        };
        let token = self.token();
        let mut conn = AdminConn {
            key,
            svc: svc.clone(),
            stream,
            started: Instant::now(),
            admission,
            out: out.into_bytes(),
            closing: b != Builtin::Xadmin,
        };
        if let Some(a) = self.services.get_mut(&key) {
            a.running += 1;
        }
        if self
            .poll
            .registry()
            .register(
                &mut conn.stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            self.finish_admin(conn);
            return;
        }
        self.owners.insert(token, Owner::Admin);
        self.admins.insert(token, conn);
    }

    /// Readiness of an admin connection: write what is pending, read xadmin commands.
    fn on_admin(&mut self, token: Token) {
        let Some(mut conn) = self.admins.remove(&token) else {
            return;
        };
        let mut done = false;
        loop {
            // Flush first: a command is read only after the previous answer went out.
            while !conn.out.is_empty() {
                match conn.stream.write(&conn.out) {
                    Ok(0) => {
                        done = true;
                        break;
                    }
                    Ok(n) => {
                        conn.out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        done = true;
                        break;
                    }
                }
            }
            if done || !conn.out.is_empty() {
                break;
            }
            if conn.closing {
                done = true;
                break;
            }
            let mut cmd = [0u8; crate::admin::MAX_CMD];
            match conn.stream.read(&mut cmd) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => {
                    let me = token;
                    let reply = crate::admin::command(
                        &cmd[..n],
                        || crate::admin::run_text(&self.admin_servers(Some((me, &conn)))),
                        || crate::admin::avail_text(&self.admin_services()),
                    );
                    match reply {
                        crate::admin::Reply::Bye => {
                            conn.out.extend_from_slice(b"bye bye\n");
                            conn.closing = true;
                        }
                        crate::admin::Reply::Text(t) => {
                            conn.out.extend_from_slice(t.as_bytes());
                            conn.out.extend_from_slice(crate::admin::PROMPT.as_bytes());
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    done = true;
                    break;
                }
            }
        }
        if done {
            self.owners.remove(&token);
            self.finish_admin(conn);
        } else {
            self.admins.insert(token, conn);
        }
    }

    /// Closes an admin connection: EXIT (pid=0), limits released.
    fn finish_admin(&mut self, mut conn: AdminConn) {
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.held_exit(conn.key, &conn.svc, conn.started);
        drop(conn.admission);
    }

    /// The running servers for `servers` / `show run`: external servers and the
    /// connections served inside the daemon; `this` is the asking xadmin connection (xinetd
    /// lists it in `show run`), `None` leaves the asking `servers` connection out.
    fn admin_servers(&self, this: Option<(Token, &AdminConn)>) -> Vec<crate::admin::ServerRow> {
        use crate::admin::ServerRow;
        let wall = |t: Instant| std::time::SystemTime::now() - t.elapsed();
        let userid = |svc: &Service| {
            svc.rt
                .conf
                .log_on_success
                .value
                .contains(&xinetd_conf::SuccessFlag::Userid)
        };
        let mut rows: Vec<(Instant, ServerRow)> = Vec::new();
        for (pid, c) in &self.children {
            rows.push((
                c.started,
                ServerRow {
                    id: c.svc.id.clone(),
                    pid: *pid,
                    started: wall(c.started),
                    peer: c.peer,
                    log_remote_user: userid(&c.svc),
                },
            ));
        }
        for c in self.conns.values() {
            rows.push((
                c.started,
                ServerRow {
                    id: c.svc.id.clone(),
                    pid: 0,
                    started: wall(c.started),
                    peer: c.stream.peer_addr().ok(),
                    log_remote_user: userid(&c.svc),
                },
            ));
        }
        let admins = self
            .admins
            .values()
            .map(|c| (c.started, c))
            .chain(this.map(|(_, c)| (c.started, c)));
        for (started, c) in admins {
            rows.push((
                started,
                ServerRow {
                    id: c.svc.id.clone(),
                    pid: 0,
                    started: wall(started),
                    peer: c.stream.peer_addr().ok(),
                    log_remote_user: userid(&c.svc),
                },
            ));
        }
        rows.sort_by_key(|(t, _)| *t);
        rows.into_iter().map(|(_, r)| r).collect()
    }

    /// The services for `services` / `show avail`, in configuration order.
    fn admin_services(&self) -> Vec<crate::admin::ServiceRow> {
        let mut keys: Vec<&u64> = self.services.keys().collect();
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let a = &self.services[k];
                let c = &a.svc.rt.conf;
                let port = a
                    .listener
                    .as_ref()
                    .and_then(|l| l.local_addr().ok())
                    .map(|x| x.port())
                    .unwrap_or(a.svc.listen.port);
                crate::admin::ServiceRow {
                    name: a.svc.name.clone(),
                    protocol: if a.svc.listen.stream { "tcp" } else { "udp" }.to_string(),
                    port,
                    bind: a.svc.listen.bind,
                    uid: c
                        .user
                        .as_ref()
                        .map(|u| u.value.uid)
                        .unwrap_or_else(|| nix::unistd::getuid().as_raw()),
                    redirect: match a.svc.server {
                        Server::Redirect(t) => Some(t),
                        _ => None,
                    },
                }
            })
            .collect()
    }

    /// Registers an inline echo/discard/chargen connection.
    fn start_conn(
        &mut self,
        key: u64,
        svc: &Service,
        b: Builtin,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        admission: Admission,
    ) {
        if b == Builtin::Chargen {
            // F-508: chargen shuts down its read side first.
            let _ = stream.shutdown(std::net::Shutdown::Read);
        }
        let token = self.token();
        let mut conn = Conn {
            key,
            svc: svc.clone(),
            stream,
            state: StreamState::new(b, self.ring),
            started: Instant::now(),
            deadline: svc.timeout.map(|t| Instant::now() + t),
            admission,
        };
        if let Some(a) = self.services.get_mut(&key) {
            a.running += 1;
        }
        // Try at once: most echo requests are already in the socket.
        if b != Builtin::Tcpmux && conn.state.drive(&mut conn.stream) == Progress::Done {
            self.finish_conn(conn);
            return;
        }
        let interest = if conn.state.wants_write() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut conn.stream, token, interest)
        {
            self.log.msg(
                Level::Err,
                &format!("service {}: poll: {} (peer {peer})", svc.id, errno_text(&e)),
            );
            self.finish_conn(conn);
            return;
        }
        self.owners.insert(token, Owner::Conn);
        self.conns.insert(token, conn);
        if b == Builtin::Tcpmux {
            self.tcpmux_request(token);
        }
    }

    /// The tcpmux builtin (F-540..F-545): one read of the service name, then the matching
    /// TCPMUX/TCPMUXPLUS client service is started on the connection. Only the tcpmux service
    /// logs (START at accept, EXIT when the client server exits).
    fn tcpmux_request(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let mut buf = [0u8; 1024];
        // F-541: a single read; whatever it returns is the request.
        let n = match conn.stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => 0,
        };
        let Some(mut conn) = self.conns.remove(&token) else {
            return;
        };
        self.owners.remove(&token);
        let Some(name) = internal::tcpmux_name(&buf[..n]).map(str::to_string) else {
            self.finish_conn(conn);
            return;
        };
        let client = self
            .tcpmux
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(&name))
            .cloned();
        let Some(client) = client else {
            let _ = conn.stream.write_all(internal::TCPMUX_NOT_FOUND);
            self.finish_conn(conn);
            return;
        };
        let peer = conn.stream.peer_addr().ok();
        if let Some(ip) = peer.map(|p| p.ip()) {
            // F-544, F-250: the client service's own libwrap check, as in xinetd's child (a
            // rule that needs the client's name refuses, like name rules in only_from here).
            let local = conn.stream.local_addr().ok().map(|a| a.ip());
            let name = xinetd_acl::ClientName::not_looked_up();
            let wrapped = match self.wrap.check(&client, local, ip, &name) {
                crate::wrap::Check::Allow => Ok(()),
                crate::wrap::Check::Deny(r) => Err(r),
                crate::wrap::Check::Lookup(_) => Err(Refusal {
                    reason: "libwrap",
                    messages: Vec::new(),
                    deactivate_until: None,
                }),
            };
            let allowed = self.policy.tcpmux_client_allowed(&client, ip).and(wrapped);
            if let Err(r) = allowed {
                self.policy
                    .refused(&client, peer, &r, Some(&mut conn.stream), &mut self.log);
                self.finish_conn(conn);
                return;
            }
        }
        if client
            .rt
            .conf
            .has_type(xinetd_conf::ServiceType::TcpmuxPlus)
        {
            let _ = conn.stream.write_all(internal::TCPMUX_PLUS_GO);
        }
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let Conn {
            key,
            svc,
            stream,
            started,
            admission,
            ..
        } = conn;
        let fd: OwnedFd = stream.into();
        // The conn's count moves to the pending spawn (which counts it again).
        if let Some(a) = self.services.get_mut(&key) {
            a.running = a.running.saturating_sub(1);
        }
        let _ = started;
        self.spawn(key, &svc, &client, fd, peer, admission, false, false);
    }

    /// Logs a refusal, writes `banner_fail`, and pauses the service on a cps trip.
    fn refuse(
        &mut self,
        key: u64,
        svc: &Service,
        peer: Option<SocketAddr>,
        r: &Refusal,
        stream: Option<&mut mio::net::TcpStream>,
    ) {
        self.policy.refused(svc, peer, r, stream, &mut self.log);
        if r.deactivate_until.is_some() {
            self.pause(key);
        }
    }

    /// Parks a request until the resolver thread answers.
    fn park(&mut self, key: u64, p: Parked, req: xinetd_acl::LookupRequest) {
        if self.parked.len() >= MAX_PARKED {
            let (peer, stream) = match p {
                Parked::Stream(s, peer) => (peer, Some(s)),
                Parked::Datagram(_, peer) => (peer, None),
            };
            if let Some(svc) = self.services.get(&key).map(|a| a.svc.clone()) {
                self.log.msg(
                    Level::Err,
                    &format!(
                        "service {}: too many pending name lookups; refusing {}",
                        svc.id,
                        peer.ip()
                    ),
                );
                let mut stream = stream;
                self.refuse(key, &svc, Some(peer), &address_refusal(), stream.as_mut());
            }
            return;
        }
        if self.lookups.is_none() {
            match Lookups::start(self.waker.clone(), Duration::from_secs(5)) {
                Ok(l) => self.lookups = Some(l),
                Err(e) => self.log.msg(
                    Level::Err,
                    &format!("cannot start the resolver thread: {}", errno_text(&e)),
                ),
            }
        }
        let id = self.next_lookup;
        self.next_lookup += 1;
        // Without a resolver the request stays parked and is refused at its deadline.
        if self.lookups.as_ref().is_none_or(|l| l.ask(id, req)) {
            self.parked.insert(id, (key, p, Instant::now()));
        }
    }

    /// Name lookups answered: finish the checks of the parked requests.
    fn on_lookups(&mut self) {
        let answers = self
            .lookups
            .as_ref()
            .map(Lookups::answers)
            .unwrap_or_default();
        for (id, resolved) in answers {
            let Some((key, p, _)) = self.parked.remove(&id) else {
                continue;
            };
            let Some(a) = self.services.get(&key) else {
                continue;
            };
            let svc = a.svc.clone();
            let peer = match &p {
                Parked::Stream(_, peer) | Parked::Datagram(_, peer) => *peer,
            };
            let verdict =
                self.policy
                    .admit_resolved(&svc, &a.lkey, peer, &resolved, Instant::now());
            match (verdict, p) {
                (Verdict::Admit(adm), Parked::Stream(s, peer)) => {
                    self.admitted_stream(key, &svc, s, peer, adm)
                }
                (Verdict::Admit(adm), Parked::Datagram(data, peer)) => {
                    self.run_datagram(key, &svc, &data, peer, adm)
                }
                (Verdict::Refuse(r), Parked::Stream(mut s, peer)) => {
                    self.refuse(key, &svc, Some(peer), &r, Some(&mut s))
                }
                (Verdict::Refuse(r), Parked::Datagram(_, peer)) => {
                    self.refuse(key, &svc, Some(peer), &r, None)
                }
                (Verdict::Lookup(_), _) => {}
            }
        }
    }

    /// Starts the server of a `wait = yes` service on its own socket and suspends the
    /// service until it exits (F-401, F-414).
    fn start_wait_server(&mut self, key: u64) {
        let Some(a) = self.services.get_mut(&key) else {
            return;
        };
        let svc = a.svc.clone();
        let Some(l) = a.listener.as_mut() else {
            return;
        };
        // xinetd checks tcp wait = yes services against an empty address (F-213/F-963: with
        // only_from nothing is ever served). We check the real peer of the first queued
        // datagram for udp, and no address for tcp (the server accepts, not us).
        let peer = match l {
            Listener::Udp(u) => {
                let mut b = [0u8; 1];
                u.peek_from(&mut b).ok().map(|(_, p)| p)
            }
            Listener::Tcp(_) => None,
        };
        let verdict = self.policy.admit(&svc, &a.lkey, peer, Instant::now());
        let admission = match verdict {
            Verdict::Admit(adm) => adm,
            other => {
                let r = match other {
                    Verdict::Refuse(r) => r,
                    // Name rules on wait = yes services would need the loop to hold the
                    // socket; refuse instead of blocking (docs/compat.md).
                    _ => address_refusal(),
                };
                // Drop what triggered the request so the loop does not spin (xinetd drains a
                // dgram socket after a refusal, F-402).
                l.discard_request();
                self.refuse(key, &svc, peer, &r, None);
                return;
            }
        };
        // F-250: libwrap for wait = yes. A tcp server accepts by itself, so (as libwrap on
        // xinetd's listening socket) the client is unknown: checked as 0.0.0.0. A rule that
        // needs the client's name refuses (the socket cannot wait for a lookup).
        let wrap_peer = peer
            .map(|p| p.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let unknown = xinetd_acl::ClientName::unknown();
        let wrap_refusal = match self.wrap.check(&svc, None, wrap_peer, &unknown) {
            crate::wrap::Check::Allow => None,
            crate::wrap::Check::Deny(r) => Some(r),
            crate::wrap::Check::Lookup(_) => Some(Refusal {
                reason: "libwrap",
                messages: Vec::new(),
                deactivate_until: None,
            }),
        };
        if let Some(r) = wrap_refusal {
            drop(admission);
            l.discard_request();
            self.refuse(key, &svc, peer, &r, None);
            return;
        }
        let r = match l {
            Listener::Tcp(t) => self.poll.registry().deregister(t),
            Listener::Udp(u) => self.poll.registry().deregister(u),
        };
        if let Err(e) = r {
            self.log
                .msg(Level::Err, &format!("deregister: {}", errno_text(&e)));
        }
        a.suspended = true;
        let fd = match l_fd(l).try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                self.log
                    .msg(Level::Err, &format!("dup: {}", errno_text(&e)));
                self.resume(key);
                return;
            }
        };
        self.spawn(key, &svc, &svc, fd, peer, admission, true, true);
    }

    /// Queues the start of `spec_svc`'s server on `fd` (on a spawner thread, see
    /// [`crate::spawner`]); `log_svc` logs START/EXIT (the tcpmux service for TCPMUX
    /// clients, F-545). The result arrives through [`Daemon::on_spawns`].
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &mut self,
        key: u64,
        log_svc: &Service,
        spec_svc: &Service,
        fd: OwnedFd,
        peer: Option<SocketAddr>,
        admission: Admission,
        wait: bool,
        log_start: bool,
    ) {
        self.spawn_attempt(
            key, log_svc, spec_svc, fd, peer, admission, wait, log_start, 0,
        );
    }

    /// [`Daemon::spawn`] after `failures` failed forks of the same request (F-420).
    #[allow(clippy::too_many_arguments)]
    fn spawn_attempt(
        &mut self,
        key: u64,
        log_svc: &Service,
        spec_svc: &Service,
        fd: OwnedFd,
        peer: Option<SocketAddr>,
        admission: Admission,
        wait: bool,
        log_start: bool,
        failures: u32,
    ) {
        let Some(spec) = spec_svc.rt.spawn.clone() else {
            self.log.msg(
                Level::Err,
                &format!("service {} has no server", spec_svc.id),
            );
            return;
        };
        if let Some(a) = self.services.get_mut(&key) {
            a.running += 1;
        }
        let id = self.next_job;
        self.next_job += 1;
        self.pending.insert(
            id,
            Pending {
                key,
                svc: log_svc.clone(),
                peer,
                admission,
                wait,
                log_start,
                timeout: spec_svc.timeout,
                failures,
                retry: if spec_svc.rt.conf.has_flag(xinetd_conf::ServiceFlag::NoRetry) {
                    None
                } else {
                    fd.try_clone().ok().map(|f| (f, spec_svc.clone()))
                },
            },
        );
        let job = crate::spawner::Job {
            id,
            spec,
            fd,
            peer: peer.map(|p| p.ip()),
            name: spec_svc.name.clone(),
            svc_id: spec_svc.id.clone(),
        };
        if self.spawner.is_none() {
            match crate::spawner::Spawner::start(self.waker.clone()) {
                Ok(sp) => self.spawner = Some(sp),
                Err(e) => self.log.msg(
                    Level::Err,
                    &format!("cannot start the spawner threads: {}", errno_text(&e)),
                ),
            }
        }
        let job = match self.spawner.as_ref() {
            Some(sp) => match sp.submit(job) {
                Ok(()) => return,
                Err(job) => job,
            },
            None => job,
        };
        // No spawner thread: spawn from the loop itself.
        let outcome = crate::spawner::run(&job);
        drop(job);
        self.spawn_done(id, outcome);
    }

    /// Results of the spawner threads.
    fn on_spawns(&mut self) {
        let done = self
            .spawner
            .as_ref()
            .map(crate::spawner::Spawner::results)
            .unwrap_or_default();
        for (id, outcome) in done {
            self.spawn_done(id, outcome);
        }
    }

    /// Logs START or the failure of one spawn and records the child.
    fn spawn_done(&mut self, id: u64, outcome: crate::spawner::Outcome) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        match outcome {
            Ok(pid) => {
                if p.log_start {
                    self.policy
                        .log_start(&p.svc, Served::Process(pid), p.peer, &mut self.log);
                }
                let now = Instant::now();
                self.children.insert(
                    pid,
                    Child {
                        key: p.key,
                        svc: p.svc,
                        started: now,
                        deadline: p.timeout.map(|t| now + t),
                        admission: p.admission,
                        wait: p.wait,
                        peer: p.peer,
                    },
                );
                if !self.services.contains_key(&p.key) {
                    // The service was removed while the spawn was in flight (F-862).
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                if let Some((status, signal, _)) = self.early_exits.remove(&pid) {
                    self.child_exited(pid, status, signal);
                }
            }
            Err((pid, msgs)) => {
                if let Some(pid) = pid {
                    // F-415: the child ran (START), failed before exec, and exited (EXIT
                    // status=0 in xinetd, whose child _exit(0)s).
                    self.early_exits.remove(&pid);
                    if p.log_start {
                        self.policy
                            .log_start(&p.svc, Served::Process(pid), p.peer, &mut self.log);
                    }
                }
                for m in &msgs {
                    self.log.msg(Level::Err, m);
                }
                match pid {
                    Some(pid) => self.policy.log_exit(
                        &p.svc,
                        Served::Process(pid),
                        Some(0),
                        None,
                        Duration::ZERO,
                        &mut self.log,
                    ),
                    None => {
                        if let Some(a) = self.services.get_mut(&p.key) {
                            a.running = a.running.saturating_sub(1);
                        }
                        self.fork_failed(p);
                        return;
                    }
                }
                if let Some(a) = self.services.get_mut(&p.key) {
                    a.running = a.running.saturating_sub(1);
                }
                drop(p.admission);
                if p.wait {
                    self.resume(p.key);
                }
            }
        }
    }

    /// A server could not be forked (F-420): retry in 5 s unless `NORETRY`, give up after
    /// five failures.
    fn fork_failed(&mut self, p: Pending) {
        use crate::retry::{after_failure, AfterFailure};
        let failures = p.failures + 1;
        let action = after_failure(failures, p.retry.is_none());
        match (action, p.retry) {
            (AfterFailure::Retry, Some((fd, spec_svc))) => {
                self.retries.schedule(crate::retry::Retry {
                    key: p.key,
                    log_svc: p.svc,
                    spec_svc,
                    fd,
                    peer: p.peer,
                    admission: p.admission,
                    wait: p.wait,
                    log_start: p.log_start,
                    failures,
                    due: Instant::now() + crate::retry::RETRY_INTERVAL,
                });
            }
            (action, _) => {
                if action == AfterFailure::GiveUp {
                    self.log.msg(
                        Level::Err,
                        &format!("service {}: too many consecutive fork failures", p.svc.id),
                    );
                }
                self.policy.log_fail(&p.svc, "fork", p.peer, &mut self.log);
                drop(p.admission);
                if p.wait {
                    self.resume(p.key);
                }
            }
        }
    }

    /// Due fork retries (F-420): the access checks again (xinetd re-runs them), then fork.
    fn run_retries(&mut self, now: Instant) {
        for r in self.retries.due(now) {
            if !self.services.contains_key(&r.key) {
                continue;
            }
            let refusal = match r.peer {
                Some(peer) => match self.policy.tcpmux_client_allowed(&r.spec_svc, peer.ip()) {
                    Err(refusal) => Some(refusal),
                    Ok(()) => {
                        let name = xinetd_acl::ClientName::unknown();
                        match self.wrap.check(&r.spec_svc, None, peer.ip(), &name) {
                            crate::wrap::Check::Deny(refusal) => Some(refusal),
                            _ => None,
                        }
                    }
                },
                None => None,
            };
            if let Some(refusal) = refusal {
                let wait = r.wait;
                let key = r.key;
                drop(r.admission);
                self.policy
                    .refused(&r.log_svc, r.peer, &refusal, None, &mut self.log);
                if wait {
                    self.resume(key);
                }
                continue;
            }
            self.spawn_attempt(
                r.key,
                &r.log_svc,
                &r.spec_svc,
                r.fd,
                r.peer,
                r.admission,
                r.wait,
                r.log_start,
                r.failures,
            );
        }
    }

    /// Serves up to [`BUDGET`] datagrams of an inline dgram service.
    fn datagrams(&mut self, key: u64) -> bool {
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
            let svc = a.svc.clone();
            match self.policy.admit(&svc, &a.lkey, Some(peer), Instant::now()) {
                Verdict::Admit(adm) => self.run_datagram(key, &svc, &buf[..n], peer, adm),
                Verdict::Refuse(r) => self.refuse(key, &svc, Some(peer), &r, None),
                Verdict::Lookup(req) => {
                    self.park(key, Parked::Datagram(buf[..n].to_vec(), peer), req)
                }
            }
            if self.services.get(&key).is_none_or(|a| a.listener.is_none()) {
                return false;
            }
        }
        true
    }

    /// Answers one admitted datagram (F-501..F-509).
    fn answer_datagram(
        &mut self,
        key: u64,
        svc: &Service,
        data: &[u8],
        peer: SocketAddr,
        admission: Admission,
    ) {
        self.policy
            .log_start(svc, Served::Inline, Some(peer), &mut self.log);
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
        drop(admission);
    }

    // ---- redirect (F-600..F-604) ----

    /// Connects to the redirect target (non-blocking) and starts relaying.
    fn start_relay(
        &mut self,
        key: u64,
        svc: &Service,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        target: SocketAddr,
        admission: Admission,
    ) {
        self.policy
            .log_start(svc, Served::Held, Some(peer), &mut self.log);
        if let Some(a) = self.services.get_mut(&key) {
            a.running += 1;
        }
        let out = match mio::net::TcpStream::connect(target) {
            Ok(t) => t,
            Err(e) => {
                self.relay_failed(key, svc, target, &e, admission);
                return;
            }
        };
        if svc.listen.keepalive {
            // F-601: SO_KEEPALIVE on the outgoing socket with `flags = KEEPALIVE`.
            let _ = socket2::SockRef::from(&out).set_keepalive(true);
        }
        let id = self.next_relay;
        self.next_relay += 1;
        let (ct, tt) = (self.token(), self.token());
        let mut rc = RelayConn {
            key,
            svc: svc.clone(),
            relay: Relay::new(stream, out),
            client_token: ct,
            target_token: tt,
            target,
            started: Instant::now(),
            deadline: svc.timeout.map(|t| Instant::now() + t),
            admission,
        };
        let reg = self.poll.registry();
        let (ci, ti) = (rc.relay.client_interest(), rc.relay.target_interest());
        let ok = reg
            .register(&mut rc.relay.client, ct, ci)
            .and_then(|()| reg.register(&mut rc.relay.target, tt, ti));
        if let Err(e) = ok {
            self.log.msg(
                Level::Err,
                &format!("service {}: poll: {}", svc.id, errno_text(&e)),
            );
            self.finish_relay(rc);
            return;
        }
        self.owners.insert(ct, Owner::Relay(id));
        self.owners.insert(tt, Owner::Relay(id));
        self.relays.insert(id, rc);
    }

    /// F-602: `can't connect to remote host %s: %m`, then the session ends (EXIT status=0).
    fn relay_failed(
        &mut self,
        key: u64,
        svc: &Service,
        target: SocketAddr,
        e: &io::Error,
        admission: Admission,
    ) {
        self.log.msg(
            Level::Err,
            &format!(
                "can't connect to remote host {}: {}",
                target.ip(),
                errno_text(e)
            ),
        );
        if let Some(a) = self.services.get_mut(&key) {
            a.running = a.running.saturating_sub(1);
        }
        self.policy.log_exit(
            svc,
            Served::Held,
            Some(0),
            None,
            Duration::ZERO,
            &mut self.log,
        );
        drop(admission);
    }

    fn on_relay(&mut self, id: u64) {
        let Some(rc) = self.relays.get_mut(&id) else {
            return;
        };
        match rc.relay.drive() {
            Step::Continue => {
                let reg = self.poll.registry();
                let (ci, ti) = (rc.relay.client_interest(), rc.relay.target_interest());
                let ok = reg
                    .reregister(&mut rc.relay.client, rc.client_token, ci)
                    .and_then(|()| reg.reregister(&mut rc.relay.target, rc.target_token, ti));
                if ok.is_err() {
                    if let Some(rc) = self.relays.remove(&id) {
                        self.finish_relay(rc);
                    }
                }
            }
            Step::Done => {
                if let Some(rc) = self.relays.remove(&id) {
                    self.finish_relay(rc);
                }
            }
            Step::ConnectFailed(e) => {
                if let Some(mut rc) = self.relays.remove(&id) {
                    self.unregister_relay(&mut rc);
                    let RelayConn {
                        key,
                        svc,
                        target,
                        admission,
                        ..
                    } = rc;
                    self.relay_failed(key, &svc, target, &e, admission);
                }
            }
        }
    }

    fn unregister_relay(&mut self, rc: &mut RelayConn) {
        let _ = self.poll.registry().deregister(&mut rc.relay.client);
        let _ = self.poll.registry().deregister(&mut rc.relay.target);
        self.owners.remove(&rc.client_token);
        self.owners.remove(&rc.target_token);
    }

    /// Closes both sides, logs TRAFFIC and EXIT (F-603) and releases the limits.
    fn finish_relay(&mut self, mut rc: RelayConn) {
        self.unregister_relay(&mut rc);
        if let Some(a) = self.services.get_mut(&rc.key) {
            a.running = a.running.saturating_sub(1);
        }
        self.policy.log_traffic(
            &rc.svc,
            rc.relay.bytes_in,
            rc.relay.bytes_out,
            &mut self.log,
        );
        self.policy.log_exit(
            &rc.svc,
            Served::Held,
            Some(0),
            None,
            rc.started.elapsed(),
            &mut self.log,
        );
        drop(rc.admission);
    }

    // ---- inline connections ----

    fn on_conn(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if conn.state.builtin() == Builtin::Tcpmux {
            self.tcpmux_request(token);
            return;
        }
        match conn.state.drive(&mut conn.stream) {
            Progress::Done => {
                if let Some(conn) = self.conns.remove(&token) {
                    self.owners.remove(&token);
                    self.finish_conn(conn);
                }
            }
            Progress::Continue => {
                let interest = if conn.state.wants_write() {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if self
                    .poll
                    .registry()
                    .reregister(&mut conn.stream, token, interest)
                    .is_err()
                {
                    if let Some(conn) = self.conns.remove(&token) {
                        self.owners.remove(&token);
                        self.finish_conn(conn);
                    }
                }
            }
        }
    }

    /// The end of a connection served inside the daemon (inline builtin or admin session):
    /// one server fewer, and EXIT with pid=0.
    fn held_exit(&mut self, key: u64, svc: &Service, started: Instant) {
        if let Some(a) = self.services.get_mut(&key) {
            a.running = a.running.saturating_sub(1);
        }
        self.policy.log_exit(
            svc,
            Served::Held,
            Some(0),
            None,
            started.elapsed(),
            &mut self.log,
        );
    }

    /// Closes an inline connection, logs EXIT (pid=0) and releases its limits.
    fn finish_conn(&mut self, mut conn: Conn) {
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.held_exit(conn.key, &conn.svc, conn.started);
        drop(conn.admission);
    }

    // ---- timers ----

    fn on_timers(&mut self) {
        let now = Instant::now();
        self.run_retries(now);
        for p in self.wrap.expired(now) {
            self.wrap_lookup_failed(p);
        }
        // Per-connection `timeout` (extension): kill the server's process group.
        let expired: Vec<i32> = self
            .children
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(p, _)| *p)
            .collect();
        for pid in expired {
            if let Some(c) = self.children.get_mut(&pid) {
                c.deadline = None;
                let id = c.svc.id.clone();
                self.log.msg(
                    Level::Notice,
                    &format!("service {id}: timeout reached, killing server {pid}"),
                );
            }
            // The server called setsid(), so its pid is its process group (F-412); if setsid
            // failed (xinetd ignores that failure too), kill at least the server itself.
            let p = nix::unistd::Pid::from_raw(pid);
            if nix::sys::signal::killpg(p, nix::sys::signal::Signal::SIGKILL).is_err() {
                let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            }
        }
        let late: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            if let Some(c) = self.conns.remove(&t) {
                self.owners.remove(&t);
                self.finish_conn(c);
            }
        }
        // Early exits whose spawn result never came: unknown children after all (F-416).
        let old: Vec<i32> = self
            .early_exits
            .iter()
            .filter(|(_, (_, _, t))| now.duration_since(*t) > Duration::from_secs(10))
            .map(|(p, _)| *p)
            .collect();
        for pid in old {
            self.early_exits.remove(&pid);
            self.log
                .msg(Level::Notice, &format!("unknown child process {pid} died"));
        }
        let due: Vec<Token> = self
            .idents
            .iter()
            .filter(|(_, w)| w.client.deadline().is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for t in due {
            self.on_ident(t, now);
        }
        let late: Vec<u64> = self
            .relays
            .iter()
            .filter(|(_, r)| r.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(rc) = self.relays.remove(&id) {
                self.finish_relay(rc);
            }
        }
        let stale: Vec<u64> = self
            .parked
            .iter()
            .filter(|(_, (_, _, t))| *t + LOOKUP_WAIT <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some((key, p, _)) = self.parked.remove(&id) {
                if let Some(svc) = self.services.get(&key).map(|a| a.svc.clone()) {
                    match p {
                        Parked::Stream(mut s, peer) => {
                            self.refuse(key, &svc, Some(peer), &address_refusal(), Some(&mut s))
                        }
                        Parked::Datagram(_, peer) => {
                            self.refuse(key, &svc, Some(peer), &address_refusal(), None)
                        }
                    }
                }
            }
        }
        if self.policy.next_deadline().is_some_and(|t| t <= now) {
            let (ids, msgs) = self.policy.tick(now);
            for (lvl, m) in msgs {
                self.log.msg(lvl, &m);
            }
            for r in ids {
                // Matched by the limits' own key: services may share a name or an id.
                let key = self
                    .services
                    .iter()
                    .find(|(_, a)| a.paused && a.lkey.id() == r.service)
                    .map(|(k, _)| *k);
                let Some(key) = key else {
                    continue;
                };
                if let Some(mut a) = self.services.remove(&key) {
                    a.paused = false;
                    // F-311: re-create and re-bind the socket.
                    let m = if self.activate(&mut a) {
                        r.activated_message()
                    } else {
                        r.failed_message()
                    };
                    self.log.msg(Level::Err, &m.text);
                    self.services.insert(key, a);
                }
            }
        }
        if self.next_cc.is_some_and(|t| t <= now) {
            self.consistency_check(false);
            self.next_cc = self.opts.cc.map(|n| now + Duration::from_secs(n.into()));
        }
    }

    /// Closes the socket of a service until xinetd-limits re-activates it (F-311, F-312);
    /// clients get connection refused meanwhile, as with xinetd.
    fn pause(&mut self, key: u64) {
        let Some(a) = self.services.get_mut(&key) else {
            return;
        };
        let had = if let Some(mut l) = a.listener.take() {
            let _ = match &mut l {
                Listener::Tcp(t) => self.poll.registry().deregister(t),
                Listener::Udp(u) => self.poll.registry().deregister(u),
            };
            true
        } else {
            false
        };
        a.paused = true;
        if had {
            // xinetd's svc_deactivate: re-activation registers again.
            let svc = a.svc.clone();
            self.rpc_unset(&svc);
        }
    }

    /// `pmap_unset` of every version of an RPC service (F-976); nothing for other services.
    fn rpc_unset(&self, svc: &Service) {
        if crate::rpc::is_rpc(svc) {
            crate::rpc::unregister(svc, self.pmap());
        }
    }

    /// The portmapper: 127.0.0.1:111 (`-pmap_port` moves it for tests).
    fn pmap(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.opts.pmap_port))
    }

    // ---- reload (F-860..F-864) ----

    fn reconfigure(&mut self) {
        // F-713: reopen the program log (rotation); service logs are reopened because the
        // new configuration opens them again.
        self.log.reopen();
        self.log.msg(Level::Notice, "Starting reconfiguration");
        let new = match crate::config::load(&self.opts, &mut self.log, self.policy.startup_env()) {
            Ok(s) => s,
            Err(()) => {
                // Unlike xinetd (F-037/F-970, which exits on a bad defaults block), a config
                // that fails to load leaves the running configuration untouched.
                self.log.msg(Level::Warning, "reconfiguration failed");
                return;
            }
        };
        self.log.msg(Level::Notice, "Swapping defaults");
        self.defaults = new.defaults;
        self.wrap.reload(&mut self.log);
        self.tcpmux = new.tcpmux_clients;
        let new = new.services;
        let mut kept = 0usize;
        let mut added = 0usize;
        let mut matched: Vec<u64> = Vec::new();
        for svc in new {
            let old = self
                .services
                .iter()
                .find(|(k, a)| !matched.contains(k) && a.svc.same_shape(&svc))
                .map(|(k, _)| *k);
            let Some(key) = old else {
                added += 1;
                matched.push(self.next_key);
                self.add_service(svc);
                continue;
            };
            matched.push(key);
            kept += 1;
            self.log
                .msg(Level::Notice, &format!("readjusting service {}", svc.id));
            let Some(mut a) = self.services.remove(&key) else {
                continue;
            };
            self.policy.update(&a.lkey, &svc);
            if a.svc.needs_rebind(&svc) {
                // F-863: bind address or family changed: kill its servers, re-bind.
                let old = a.svc.clone();
                self.services.insert(key, a);
                self.kill_servers_of(key, &old);
                let Some(mut a) = self.services.remove(&key) else {
                    continue;
                };
                if let Some(mut l) = a.listener.take() {
                    let _ = match &mut l {
                        Listener::Tcp(t) => self.poll.registry().deregister(t),
                        Listener::Udp(u) => self.poll.registry().deregister(u),
                    };
                    self.rpc_unset(&a.svc);
                }
                a.svc = svc;
                a.suspended = false;
                a.paused = false;
                self.activate(&mut a);
                self.services.insert(key, a);
            } else {
                a.svc = svc;
                self.services.insert(key, a);
            }
        }
        let removed: Vec<u64> = self
            .services
            .keys()
            .copied()
            .filter(|k| !matched.contains(k))
            .collect();
        let dropped = removed.len();
        for key in removed {
            let Some(svc) = self.services.get(&key).map(|a| a.svc.clone()) else {
                continue;
            };
            self.kill_servers_of(key, &svc);
            for r in self.retries.cancel(key) {
                // F-420: a removed service's pending fork retries are dropped.
                self.log.msg(
                    Level::Notice,
                    &format!("dropping retry attempt for service {}", r.log_svc.id),
                );
            }
            if let Some(mut a) = self.services.remove(&key) {
                if let Some(mut l) = a.listener.take() {
                    let _ = match &mut l {
                        Listener::Tcp(t) => self.poll.registry().deregister(t),
                        Listener::Udp(u) => self.poll.registry().deregister(u),
                    };
                    self.rpc_unset(&a.svc);
                }
                self.owners.remove(&a.token);
                self.policy.unregister(a.lkey);
                self.log
                    .msg(Level::Notice, &format!("service {} deactivated", svc.id));
            }
        }
        self.log.msg(
            Level::Notice,
            &format!("Reconfigured: new={added} old={kept} dropped={dropped} (services)"),
        );
        if self.available() == 0 && !self.opts.stayalive {
            self.log
                .critical("init_services", "No available services. Exiting");
            self.policy.remove_pidfile(&self.opts);
            self.exit = Some(Exit(1));
        }
    }

    /// Kills the running servers of a service being removed or restarted (F-862): SIGKILL to
    /// external servers; inline connections are closed.
    fn kill_servers_of(&mut self, key: u64, svc: &Service) {
        let pids: Vec<i32> = self
            .children
            .iter()
            .filter(|(_, c)| c.key == key)
            .map(|(p, _)| *p)
            .collect();
        for pid in pids {
            self.log.msg(
                Level::Warning,
                &format!("Sending signal 9 to {} server {pid}", svc.id),
            );
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            // A killed wait = yes server must not resume a socket that is being replaced.
            if let Some(c) = self.children.get_mut(&pid) {
                c.wait = false;
            }
        }
        for (t, c) in take_where(&mut self.conns, |c| c.key == key) {
            self.owners.remove(&t);
            self.finish_conn(c);
        }
        // servers/services/xadmin sessions end with their service (crate::admin).
        for (t, c) in take_where(&mut self.admins, |c| c.key == key) {
            self.owners.remove(&t);
            self.finish_admin(c);
        }
        for (_, rc) in take_where(&mut self.relays, |r| r.key == key) {
            self.finish_relay(rc);
        }
    }

    // ---- dump and consistency (F-844, F-850) ----

    fn dump(&mut self) {
        let path = self.policy.dump_path();
        let mut keys: Vec<&u64> = self.services.keys().collect();
        keys.sort();
        let services: Vec<crate::dump::ServiceEntry<'_>> = keys
            .iter()
            .map(|k| {
                let a = &self.services[*k];
                crate::dump::ServiceEntry {
                    svc: &a.svc,
                    state: if a.listener.is_none() {
                        "Disabled"
                    } else if a.suspended {
                        "Suspended"
                    } else {
                        "Active"
                    },
                    running: a.running,
                    retries: self
                        .retries
                        .entries()
                        .iter()
                        .filter(|r| r.key == **k)
                        .count(),
                    fd: a.listener.as_ref().map_or(-1, |l| l.raw_fd()),
                }
            })
            .collect();
        let mut pids: Vec<&i32> = self.children.keys().collect();
        pids.sort();
        let servers: Vec<crate::dump::ServerEntry<'_>> = pids
            .iter()
            .map(|p| {
                let c = &self.children[*p];
                let descriptor = match (c.wait, self.services.get(&c.key)) {
                    (true, Some(a)) => a.listener.as_ref().map_or(-1, |l| l.raw_fd()),
                    _ => -1,
                };
                crate::dump::ServerEntry {
                    svc: &c.svc,
                    pid: **p,
                    started: std::time::SystemTime::now() - c.started.elapsed(),
                    fork_failures: 0,
                    descriptor,
                    peer: c.peer,
                }
            })
            .collect();
        // Requests waiting for another fork attempt: xinetd keeps them as servers whose
        // fork failed (pid -1, no start time).
        let retries: Vec<crate::dump::ServerEntry<'_>> = self
            .retries
            .entries()
            .iter()
            .map(|r| crate::dump::ServerEntry {
                svc: &r.log_svc,
                pid: -1,
                started: std::time::UNIX_EPOCH,
                fork_failures: r.failures,
                descriptor: std::os::fd::AsRawFd::as_raw_fd(&r.fd),
                peer: r.peer,
            })
            .collect();
        let sockets: Vec<i32> = keys
            .iter()
            .filter_map(|k| {
                let a = &self.services[*k];
                a.listener
                    .as_ref()
                    .filter(|_| !a.suspended)
                    .map(|l| l.raw_fd())
            })
            .collect();
        let totals = crate::dump::Totals {
            active: sockets.len(),
            available: self.available(),
            running: self.children.len(),
            process_limit: self.opts.limit,
            config_file: &self.opts.config,
        };
        let cx = crate::dump::Context {
            defaults: &self.defaults,
            startup_env: self.policy.startup_env(),
        };
        let out = crate::dump::state_dump(&cx, &services, &servers, &retries, &totals, &sockets);
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(out.as_bytes()));
        match r {
            Ok(()) => self.log.msg(
                Level::Info,
                &format!("generated state dump in file {}", path.display()),
            ),
            Err(e) => self.log.msg(
                Level::Err,
                &format!("open( {} ) failed: {}", path.display(), errno_text(&e)),
            ),
        }
    }

    /// SIGABRT / `-cc` (F-844, F-810): checks the loop's bookkeeping against the limits.
    fn consistency_check(&mut self, always_report: bool) {
        let mut errors = Vec::new();
        for (key, a) in &self.services {
            let held = self.children.values().filter(|c| c.key == *key).count()
                + self.conns.values().filter(|c| c.key == *key).count()
                + self.relays.values().filter(|r| r.key == *key).count()
                + self.pending.values().filter(|p| p.key == *key).count();
            if held != a.running as usize {
                errors.push(format!(
                    "service {}: running count {} but {held} servers found",
                    a.svc.id, a.running
                ));
            }
            let permits = self.policy.running(&a.lkey) as usize;
            if permits != held {
                errors.push(format!(
                    "service {}: {permits} limit permits but {held} servers",
                    a.svc.id
                ));
            }
            if a.suspended
                && !self.children.values().any(|c| c.wait && c.key == *key)
                && !self.pending.values().any(|p| p.wait && p.key == *key)
            {
                errors.push(format!("service {} suspended without a server", a.svc.id));
            }
        }
        if errors.is_empty() {
            if always_report {
                self.log.msg(Level::Info, "Consistency check passed");
            }
        } else {
            for e in &errors {
                self.log.msg(Level::Err, e);
            }
            self.log.msg(
                Level::Warning,
                &format!("Consistency check detected {} errors", errors.len()),
            );
        }
    }
}

/// How an inline builtin shows in the log: held stream connections get EXIT lines.
/// Removes and returns the entries of `map` whose value matches `pred`.
fn take_where<K: Copy + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    pred: impl Fn(&V) -> bool,
) -> Vec<(K, V)> {
    let keys: Vec<K> = map
        .iter()
        .filter(|(_, v)| pred(v))
        .map(|(k, _)| *k)
        .collect();
    keys.into_iter()
        .filter_map(|k| map.remove(&k).map(|v| (k, v)))
        .collect()
}

fn served_inline(b: Builtin) -> Served {
    if b.holds_connection() {
        Served::Held
    } else {
        Served::Inline
    }
}

/// A refusal for the address check without a log line of its own.
fn address_refusal() -> Refusal {
    Refusal {
        reason: "address",
        messages: Vec::new(),
        deactivate_until: None,
    }
}

/// The raw descriptor of a listener as a borrowed fd.
fn l_fd(l: &Listener) -> std::os::fd::BorrowedFd<'_> {
    match l {
        Listener::Tcp(t) => t.as_fd(),
        Listener::Udp(u) => u.as_fd(),
    }
}

/// `%m` as xinetd prints it: `<strerror> (errno = N)` (F-704).
pub fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let s = nix::errno::Errno::from_raw(n).desc();
            format!("{s} (errno = {n})")
        }
        None => e.to_string(),
    }
}

/// errno numbers we test for.
mod libc_errno {
    pub const EMFILE: i32 = nix::errno::Errno::EMFILE as i32;
    pub const ENFILE: i32 = nix::errno::Errno::ENFILE as i32;
}

/// Signals we send.
mod libc_signal {
    pub use nix::sys::signal::Signal::SIGTERM;
}
