//! The event loop: one thread, one `mio::Poll`, every listener, inline connection, signal
//! and timer (spec §9, F-400..F-416, F-840..F-864).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::{
    SIGABRT, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
};
use signal_hook_mio::v1_0::Signals;

use crate::cli::Options;
use crate::dlog::{Level, ProgramLog};
use crate::internal::{self, Builtin, ChargenRing, Progress, StreamState};
use crate::listen::{self, Listener};
use crate::policy::{Admission, Policy};
use crate::service::{Server, Service};

/// Token of the signal pipe.
const SIGNALS: Token = Token(0);
/// Token of the resolver waker.
pub const WAKER: Token = Token(1);
/// First token handed to listeners and connections.
const FIRST_TOKEN: usize = 16;
/// Connections accepted (or datagrams answered) per readiness event before the loop looks at
/// the other sockets: a flood on one service cannot starve the rest.
const BUDGET: usize = 64;
/// Largest datagram the dgram builtins read (F-501).
const DGRAM_MAX: usize = 2048;

/// Why the loop stopped, and the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

/// One active service and its socket.
struct Active {
    svc: Service,
    /// `None` while deactivated by cps (F-311) or when activation failed.
    listener: Option<Listener>,
    token: Token,
    /// `wait = yes` server running: the socket is not polled (F-401).
    suspended: bool,
    /// Running servers and inline held connections of this service.
    running: u32,
}

/// Who owns a token.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Listener(u64),
    Conn,
}

/// An inline stream connection (echo, discard, chargen).
struct Conn {
    key: u64,
    stream: mio::net::TcpStream,
    state: StreamState,
    peer: SocketAddr,
    started: Instant,
    deadline: Option<Instant>,
    admission: Admission,
}

/// A running external server.
struct Child {
    key: u64,
    id: String,
    started: Instant,
    deadline: Option<Instant>,
    /// Limit tokens released when the child is reaped.
    admission: Admission,
    /// The socket to resume polling when a `wait = yes` server exits.
    wait: bool,
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
    /// cps re-activation times (F-311).
    reactivate: Vec<(Instant, u64)>,
    /// Listeners whose budget ran out: serve them again before blocking.
    again: Vec<Token>,
    next_cc: Option<Instant>,
    exit: Option<Exit>,
}

impl Daemon {
    /// Sets up the poll, the signal pipe and the listening sockets of `services`.
    pub fn new(
        opts: Options,
        log: ProgramLog,
        policy: Policy,
        services: Vec<Service>,
    ) -> io::Result<Daemon> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([
            SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGQUIT, SIGINT, SIGABRT, SIGCHLD,
        ])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let next_cc = opts
            .cc
            .filter(|&n| n > 0)
            .map(|n| Instant::now() + Duration::from_secs(n.into()));
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
            reactivate: Vec::new(),
            again: Vec::new(),
            next_cc,
            exit: None,
        };
        for svc in services {
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
        let key = self.next_key;
        self.next_key += 1;
        let token = self.token();
        let mut a = Active {
            svc,
            listener: None,
            token,
            suspended: false,
            running: 0,
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
                        Level::Error,
                        &format!(
                            "poll registration failed for service {}: {}",
                            a.svc.id,
                            errno_text(&e)
                        ),
                    );
                    return false;
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
                    Level::Error,
                    &format!("bind failed ({}). service = {}", errno_text(&e), a.svc.id),
                );
                self.log.msg(
                    Level::Error,
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
                        .msg(Level::Error, &format!("poll: {}", errno_text(&e)));
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
                    WAKER => self.policy_wakeup(),
                    t => match self.owners.get(&t).copied() {
                        Some(Owner::Listener(key)) => self.on_listener(key),
                        Some(Owner::Conn) => self.on_conn(t),
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
        let re = self.reactivate.iter().map(|(t, _)| *t);
        conns.chain(kids).chain(re).chain(self.next_cc).min()
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
                SIGINT => {
                    // F-846: ignored unless -d.
                    if self.opts.debug {
                        self.log.msg(Level::Warning, "Exiting...");
                        self.policy.remove_pidfile(&self.opts);
                        self.exit = Some(Exit(1));
                    }
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

    fn kill_all_servers(&mut self, sig: nix::sys::signal::Signal) {
        let pids: Vec<i32> = self.children.keys().copied().collect();
        for pid in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
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
            let Some(child) = self.children.remove(&pid) else {
                self.log
                    .msg(Level::Notice, &format!("unknown child process {pid} died"));
                continue;
            };
            let duration = child.started.elapsed();
            if let Some(a) = self.services.get_mut(&child.key) {
                a.running = a.running.saturating_sub(1);
                self.policy.log_exit(&a.svc, pid, status, signal, duration);
            } else {
                self.policy
                    .log_exit_removed(&child.id, pid, status, signal, duration);
            }
            self.policy.release(child.admission);
            if child.wait {
                self.resume(child.key);
            }
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
        if let Some(l) = a.listener.as_mut() {
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
                self.log.msg(
                    Level::Error,
                    &format!("resume {}: {}", a.svc.id, errno_text(&e)),
                );
            }
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
        let stream = a.svc.listen.stream;
        let wait = a.svc.wait;
        let token = a.token;
        let more = match (stream, wait) {
            (_, true) if matches!(a.svc.server, Server::External(_)) => {
                self.start_wait_server(key);
                false
            }
            (true, _) => self.accept_some(key),
            (false, _) => self.datagrams(key),
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
                    match e.raw_os_error() {
                        Some(libc_errno::EMFILE) | Some(libc_errno::ENFILE) => {
                            // F-312: same path as cps, with its own reason.
                            self.deactivate(key, "no available descriptors");
                        }
                        _ => self.log.msg(
                            Level::Error,
                            &format!("service {id}, accept: {}", errno_text(&e)),
                        ),
                    }
                    return false;
                }
            }
            if self.services.get(&key).is_some_and(|a| a.suspended) {
                return false;
            }
        }
        true
    }

    /// One accepted stream connection of a `wait = no` service.
    fn serve_stream(&mut self, key: u64, mut stream: mio::net::TcpStream, peer: SocketAddr) {
        let Some(a) = self.services.get(&key) else {
            return;
        };
        let svc = a.svc.clone();
        let admission = match self.policy.admit(&svc, Some(peer), Instant::now()) {
            Ok(adm) => adm,
            Err(refusal) => {
                self.policy.refused(&svc, peer, &refusal, Some(&mut stream));
                if refusal.deactivate_cps {
                    self.deactivate(key, "cps");
                }
                return;
            }
        };
        match &svc.server {
            Server::Internal(b) => {
                self.policy.log_start(&svc, 0, Some(peer));
                match b {
                    Builtin::Daytime => {
                        let now = jiff::Zoned::now();
                        let _ = stream.write_all(internal::daytime_text(&now).as_bytes());
                        self.policy.release(admission);
                    }
                    Builtin::Time => {
                        let _ = stream
                            .write_all(&internal::time_bytes(jiff::Timestamp::now().as_second()));
                        self.policy.release(admission);
                    }
                    b => {
                        if *b == Builtin::Chargen {
                            let _ = stream.shutdown(std::net::Shutdown::Read);
                        }
                        let token = self.token();
                        let mut conn = Conn {
                            key,
                            stream,
                            state: StreamState::new(*b, self.ring),
                            peer,
                            started: Instant::now(),
                            deadline: svc.timeout.map(|t| Instant::now() + t),
                            admission,
                        };
                        // Try at once: most echo requests are already in the socket.
                        if conn.state.drive(&mut conn.stream) == Progress::Done {
                            self.finish_conn(conn);
                            return;
                        }
                        let interest = if conn.state.wants_write() {
                            Interest::READABLE | Interest::WRITABLE
                        } else {
                            Interest::READABLE
                        };
                        if self
                            .poll
                            .registry()
                            .register(&mut conn.stream, token, interest)
                            .is_err()
                        {
                            self.finish_conn(conn);
                            return;
                        }
                        if let Some(a) = self.services.get_mut(&key) {
                            a.running += 1;
                        }
                        self.owners.insert(token, Owner::Conn);
                        self.conns.insert(token, conn);
                    }
                }
            }
            Server::Sensor => {
                // Never reached: the policy refuses every SENSOR client.
                self.policy.release(admission);
            }
            Server::External(_) => {
                let fd: OwnedFd = stream.into();
                if let Err(e) = listen::set_blocking(&fd, true) {
                    self.log
                        .msg(Level::Error, &format!("fcntl: {}", errno_text(&e)));
                }
                self.spawn(key, &svc, fd, Some(peer), admission, false);
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
        // xinetd has no peer address for tcp wait = yes (F-726 `<no address>`); for udp we
        // could peek, but xinetd does not either.
        let admission = match self.policy.admit(&svc, None, Instant::now()) {
            Ok(adm) => adm,
            Err(refusal) => {
                self.policy.refused_nopeer(&svc, &refusal);
                // Drop what triggered the request so the loop does not spin (xinetd drains
                // a dgram socket after a refusal, F-402).
                match l {
                    Listener::Udp(u) => {
                        let mut buf = [0u8; DGRAM_MAX];
                        let _ = u.recv_from(&mut buf);
                    }
                    Listener::Tcp(t) => {
                        let _ = t.accept();
                    }
                }
                if refusal.deactivate_cps {
                    self.deactivate(key, "cps");
                }
                return;
            }
        };
        let dup = match l_fd(l).try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                self.log
                    .msg(Level::Error, &format!("dup: {}", errno_text(&e)));
                self.policy.release(admission);
                return;
            }
        };
        let r = match l {
            Listener::Tcp(t) => self.poll.registry().deregister(t),
            Listener::Udp(u) => self.poll.registry().deregister(u),
        };
        let _ = r;
        a.suspended = true;
        // The server gets a blocking socket; the flag lives in the shared file description.
        let _ = listen::set_blocking(&dup, true);
        if !self.spawn(key, &svc, dup, None, admission, true) {
            self.resume(key);
        }
    }

    /// Forks the external server; logs START or the failure. True when it runs.
    fn spawn(
        &mut self,
        key: u64,
        svc: &Service,
        fd: OwnedFd,
        peer: Option<SocketAddr>,
        admission: Admission,
        wait: bool,
    ) -> bool {
        match self.policy.spawn(svc, fd, peer) {
            Ok(pid) => {
                self.policy.log_start(svc, pid, peer);
                if let Some(a) = self.services.get_mut(&key) {
                    a.running += 1;
                }
                self.children.insert(
                    pid,
                    Child {
                        key,
                        id: svc.id.clone(),
                        started: Instant::now(),
                        deadline: svc.timeout.map(|t| Instant::now() + t),
                        admission,
                        wait,
                    },
                );
                true
            }
            Err(msg) => {
                self.log.msg(Level::Error, &msg);
                self.policy.log_fail(svc, "fork", peer);
                self.policy.release(admission);
                false
            }
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
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors from earlier replies surface here; they are not fatal.
                Err(_) => continue,
            };
            let svc = a.svc.clone();
            let admission = match self.policy.admit(&svc, Some(peer), Instant::now()) {
                Ok(adm) => adm,
                Err(refusal) => {
                    self.policy.refused(&svc, peer, &refusal, None);
                    if refusal.deactivate_cps {
                        self.deactivate(key, "cps");
                        return false;
                    }
                    continue;
                }
            };
            self.policy.log_start(&svc, 0, Some(peer));
            let reply: Option<Vec<u8>> = match svc.server {
                Server::Internal(Builtin::Echo) => Some(buf[..n].to_vec()),
                Server::Internal(Builtin::Daytime) => {
                    Some(internal::daytime_text(&jiff::Zoned::now()).into_bytes())
                }
                Server::Internal(Builtin::Time) => {
                    Some(internal::time_bytes(jiff::Timestamp::now().as_second()).to_vec())
                }
                Server::Internal(Builtin::Chargen) => Some(self.ring.datagram()),
                _ => None,
            };
            if let (Some(reply), Some(a)) = (reply, self.services.get_mut(&key)) {
                if let Some(Listener::Udp(u)) = a.listener.as_mut() {
                    // A full send buffer drops the reply, as UDP does anyway.
                    let _ = u.send_to(&reply, peer);
                }
            }
            self.policy.release(admission);
        }
        true
    }

    // ---- inline connections ----

    fn on_conn(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
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
                let _ = self
                    .poll
                    .registry()
                    .reregister(&mut conn.stream, token, interest);
            }
        }
    }

    /// Closes an inline connection, logs EXIT (pid=0) and releases its limits.
    fn finish_conn(&mut self, mut conn: Conn) {
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if let Some(a) = self.services.get_mut(&conn.key) {
            a.running = a.running.saturating_sub(1);
            self.policy
                .log_exit(&a.svc, 0, Some(0), None, conn.started.elapsed());
        }
        let _ = conn.peer;
        self.policy.release(conn.admission);
    }

    // ---- timers ----

    fn on_timers(&mut self) {
        let now = Instant::now();
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
                self.log.msg(
                    Level::Notice,
                    &format!("service {}: timeout, killing server {pid}", c.id),
                );
            }
            // The server called setsid(), so its pid is its process group (F-412).
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
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
        let due: Vec<u64> = self
            .reactivate
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, k)| *k)
            .collect();
        self.reactivate.retain(|(t, _)| *t > now);
        for key in due {
            if let Some(mut a) = self.services.remove(&key) {
                let id = a.svc.id.clone();
                if self.activate(&mut a) {
                    self.log
                        .msg(Level::Error, &format!("Activating service {id}"));
                } else {
                    self.log
                        .msg(Level::Error, &format!("Error activating service {id}"));
                }
                self.services.insert(key, a);
            }
        }
        if self.next_cc.is_some_and(|t| t <= now) {
            self.consistency_check(false);
            self.next_cc = self.opts.cc.map(|n| now + Duration::from_secs(n.into()));
        }
    }

    /// Closes the socket of a service for its cps wait time (F-311, F-312).
    fn deactivate(&mut self, key: u64, why: &str) {
        let Some(a) = self.services.get_mut(&key) else {
            return;
        };
        if let Some(mut l) = a.listener.take() {
            let _ = match &mut l {
                Listener::Tcp(t) => self.poll.registry().deregister(t),
                Listener::Udp(u) => self.poll.registry().deregister(u),
            };
        }
        let wait = u64::from(a.svc.cps.1);
        let id = a.svc.id.clone();
        let _ = why;
        self.log.msg(
            Level::Error,
            &format!(
                "Deactivating service {id} due to excessive incoming connections.  Restarting in {wait} seconds."
            ),
        );
        self.reactivate
            .push((Instant::now() + Duration::from_secs(wait), key));
    }

    fn policy_wakeup(&mut self) {}

    // ---- reload (F-860..F-864) ----

    fn reconfigure(&mut self) {
        self.log.msg(Level::Notice, "Starting reconfiguration");
        let new = match self.policy.reload(&self.opts, &mut self.log) {
            Ok(s) => s,
            Err(()) => {
                // Unlike xinetd (F-037/F-970), a config that fails to load leaves the running
                // configuration untouched (docs/compat.md).
                self.log.msg(Level::Warning, "reconfiguration failed");
                return;
            }
        };
        self.log.msg(Level::Notice, "Swapping defaults");
        let mut kept = 0usize;
        let mut added = 0usize;
        let mut dropped = 0usize;
        let mut matched: Vec<u64> = Vec::new();
        for svc in new {
            let old = self
                .services
                .iter()
                .find(|(k, a)| !matched.contains(k) && a.svc.same_shape(&svc))
                .map(|(k, _)| *k);
            match old {
                Some(key) => {
                    matched.push(key);
                    kept += 1;
                    self.log
                        .msg(Level::Notice, &format!("readjusting service {}", svc.id));
                    let Some(mut a) = self.services.remove(&key) else {
                        continue;
                    };
                    if a.svc.needs_rebind(&svc) {
                        // F-863: bind address or family changed: kill servers, re-bind.
                        self.kill_servers_of(key, &a.svc);
                        if let Some(mut l) = a.listener.take() {
                            let _ = match &mut l {
                                Listener::Tcp(t) => self.poll.registry().deregister(t),
                                Listener::Udp(u) => self.poll.registry().deregister(u),
                            };
                        }
                        a.svc = svc;
                        a.suspended = false;
                        self.activate(&mut a);
                    } else {
                        a.svc = svc;
                    }
                    self.services.insert(key, a);
                }
                None => {
                    added += 1;
                    let key = self.next_key;
                    self.add_service(svc);
                    matched.push(key);
                }
            }
        }
        let removed: Vec<u64> = self
            .services
            .keys()
            .copied()
            .filter(|k| !matched.contains(k))
            .collect();
        for key in removed {
            dropped += 1;
            if let Some(mut a) = self.services.remove(&key) {
                self.kill_servers_of(key, &a.svc);
                if let Some(mut l) = a.listener.take() {
                    let _ = match &mut l {
                        Listener::Tcp(t) => self.poll.registry().deregister(t),
                        Listener::Udp(u) => self.poll.registry().deregister(u),
                    };
                }
                self.owners.remove(&a.token);
                self.log
                    .msg(Level::Notice, &format!("service {} deactivated", a.svc.id));
            }
        }
        self.log.msg(
            Level::Notice,
            &format!("Reconfigured: new={added} old={kept} dropped={dropped} (services)"),
        );
        if self.available() == 0 && !self.opts.stayalive {
            self.log
                .msg(Level::Critical, "No available services. Exiting");
            self.policy.remove_pidfile(&self.opts);
            self.exit = Some(Exit(1));
        }
    }

    /// Kills the running servers of a service being removed or restarted (F-862): SIGKILL to
    /// external servers, and inline connections are closed.
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
        }
        let toks: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.key == key)
            .map(|(t, _)| *t)
            .collect();
        for t in toks {
            if let Some(c) = self.conns.remove(&t) {
                self.owners.remove(&t);
                self.finish_conn(c);
            }
        }
    }

    // ---- dump and consistency (F-844, F-850) ----

    fn dump(&mut self) {
        let path = self.policy.dump_path(&self.opts);
        let mut out = String::new();
        out.push_str(&format!("INTERNAL STATE DUMP: {}\n", crate::cli::VERSION));
        out.push_str(&format!("Current time: {}\n\n", ctime_now()));
        out.push_str("Services + defaults:\n");
        let mut keys: Vec<&u64> = self.services.keys().collect();
        keys.sort();
        for k in keys {
            let a = &self.services[k];
            let state = if a.listener.is_none() {
                "Disabled"
            } else if a.suspended {
                "Suspended"
            } else {
                "Active"
            };
            out.push_str(&format!("Service = {}\n", a.svc.name));
            out.push_str(&format!("\tState = {state}\n"));
            out.push_str(&self.policy.describe(&a.svc));
            out.push_str(&format!("running servers = {}\n", a.running));
            out.push_str("retry servers = 0\n");
            out.push_str(&format!(
                "service fd = {}\n",
                a.listener.as_ref().map_or(-1, |l| l.raw_fd())
            ));
            out.push('\n');
        }
        out.push_str("Server table dump:\n");
        let mut pids: Vec<&i32> = self.children.keys().collect();
        pids.sort();
        for p in pids {
            let c = &self.children[p];
            out.push_str(&format!("{} server\n", c.id));
            out.push_str(&format!("pid = {p}\n"));
            out.push_str(&format!(
                "running for {} seconds\n",
                c.started.elapsed().as_secs()
            ));
        }
        out.push_str("Retry table dump:\n");
        out.push_str(&format!("active_services = {}\n", self.available()));
        out.push_str(&format!("available_services = {}\n", self.services.len()));
        out.push_str(&format!("running_servers = {}\n", self.children.len()));
        out.push_str(&format!("inline_connections = {}\n", self.conns.len()));
        out.push_str(&format!("process_limit = {}\n", self.opts.limit));
        out.push_str(&format!("config_file = {}\n", self.opts.config.display()));
        out.push_str("END OF DUMP\n\n");
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
                Level::Error,
                &format!("open( {} ) failed: {}", path.display(), errno_text(&e)),
            ),
        }
    }

    /// SIGABRT / `-cc` (F-844, F-810): checks the loop's bookkeeping.
    fn consistency_check(&mut self, always_report: bool) {
        let mut errors = Vec::new();
        for a in self.services.values() {
            let held = self
                .children
                .values()
                .filter(|c| {
                    self.services
                        .get(&c.key)
                        .is_some_and(|x| x.token == a.token)
                })
                .count()
                + self
                    .conns
                    .values()
                    .filter(|c| {
                        self.services
                            .get(&c.key)
                            .is_some_and(|x| x.token == a.token)
                    })
                    .count();
            if held != a.running as usize {
                errors.push(format!(
                    "service {}: running count {} but {held} servers found",
                    a.svc.id, a.running
                ));
            }
            if a.suspended
                && !self.children.values().any(|c| {
                    c.wait
                        && self
                            .services
                            .get(&c.key)
                            .is_some_and(|x| x.token == a.token)
                })
            {
                errors.push(format!("service {} suspended without a server", a.svc.id));
            }
        }
        for c in self.children.values() {
            if !self.services.contains_key(&c.key)
                && self.services.values().all(|a| a.svc.id != c.id)
            {
                // A server of a removed service, killed at reload: waiting for SIGCHLD.
            }
        }
        if errors.is_empty() {
            if always_report {
                self.log.msg(Level::Info, "Consistency check passed");
            }
        } else {
            for e in &errors {
                self.log.msg(Level::Error, e);
            }
            self.log.msg(
                Level::Warning,
                &format!("Consistency check detected {} errors", errors.len()),
            );
        }
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

/// `ctime()`-style local time without the newline, for the dump header.
fn ctime_now() -> String {
    jiff::Zoned::now()
        .strftime("%a %b %e %H:%M:%S %Y")
        .to_string()
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

#[allow(dead_code)]
fn _fd_is_used(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
