//! The daemon: one thread and one `mio::Poll` for every listener, session, lookup, signal
//! and timer (spec §9, F-400..F-416, F-840..F-864).
//!
//! This module is the loop and only dispatches: a token maps to a [`Route`], and each
//! component reports its own deadline and handles its expiry. What happens to a request is in
//! [`accept`] (the listeners and the admission pipeline's outcomes) and [`serve`] (the
//! sessions); servers are started, reaped and retried in [`launch`]; [`reload`] applies a new
//! configuration; [`report`] writes the dumps, the consistency check and the admin rows.

mod accept;
mod budget;
mod launch;
mod notify;
mod proxies;
mod reload;
mod report;
mod routes;
mod serve;
mod services;
mod stderr;
mod tls;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::{
    SIGABRT, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
};
use signal_hook_mio::v1_0::Signals;

use crate::admission::ident::Idents;
use crate::admission::lookup::Resolvers;
use crate::admission::wrap::Wrappers;
use crate::admission::Pipeline;
use crate::cli::Options;
use crate::dlog::{Level, ProgramLog};
use crate::internal::ChargenRing;
use crate::service::Service;
use crate::session::Session;

pub use accept::Carrier;
pub use budget::raise_nofile;
use budget::{Budget, Throttle};
use launch::Launcher;
pub use launch::TlsLaunch;
pub use notify::{without_manager_variables, Notifier};
pub use routes::{Route, WAKER};
use routes::{Routes, SIGNALS};
use services::Active;

/// Why the loop stopped, and the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

/// The daemon state.
pub struct Daemon {
    poll: Poll,
    opts: Options,
    log: ProgramLog,
    /// The environment servers inherit (captured at start-up).
    startup_env: xinetd_spawn::Environment,
    /// Where SIGUSR1 writes (F-841).
    dump_path: PathBuf,
    routes: Routes,
    services: HashMap<u64, Active>,
    next_key: u64,
    /// The checks every request passes, and the requests waiting for an answer.
    pipeline: Pipeline<Carrier>,
    /// The resolver thread answering the pipeline's name questions.
    resolvers: Resolvers,
    /// identd queries in flight.
    idents: Idents,
    sessions: HashMap<u64, Session>,
    next_session: u64,
    /// Servers: spawns in flight, running children, fork retries.
    launcher: Launcher,
    ring: ChargenRing,
    signals: Signals,
    waker: Arc<mio::Waker>,
    /// Listeners and sessions whose turn's budget ran out: serve them again before blocking.
    again: Vec<Token>,
    next_cc: Option<Instant>,
    exit: Option<Exit>,
    /// The merged `defaults` entry of the running configuration (dumps, F-850).
    defaults: xinetd_conf::Defaults,
    /// TCPMUX client services, reached through the `tcpmux` builtin (F-540).
    tcpmux: Vec<Service>,
    /// The descriptors in-loop work may hold (issue 17).
    budget: Budget,
    /// Requests served without `USERID` because too many identd queries were in flight.
    userid_skipped: Throttle,
    /// Readiness, reload and watchdog notifications to the service manager.
    notifier: Notifier,
    /// Listening sockets inherited from a service manager (socket activation).
    inherited: crate::activation::Pool,
    /// Connections whose PROXY header is being read.
    proxies: proxies::Proxies,
    /// The counters of the `metrics` builtin.
    metrics: crate::metrics::Metrics,
    /// When the daemon started (the metrics' start time).
    started_at: std::time::SystemTime,
    /// Servers' stderr pipes (`log_stderr = yes`).
    stderr: stderr::StderrPipes,
    /// The pipes of the redirect relays (splice), which the route table does not count.
    relay_pipe_fds: usize,
    /// Sessions' `timeout` deadlines, earliest first (issue 16: with 10,000 held connections,
    /// scanning every session twice per turn for its deadline cost the loop more than the
    /// work). Entries of sessions that ended earlier are dropped when they come due.
    session_timers: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, u64)>>,
    /// The configuration load running on a worker thread, and whether another follows it.
    reloads: reload::Reloads,
}

impl Daemon {
    /// Sets up the poll, the signal pipe and the listening sockets of `loaded`.
    pub fn new(
        opts: Options,
        log: ProgramLog,
        startup_env: xinetd_spawn::Environment,
        loaded: crate::config::Loaded,
        notifier: Notifier,
        inherited: crate::activation::Pool,
    ) -> io::Result<Daemon> {
        let poll = Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let mut signals = Signals::new([
            SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGQUIT, SIGINT, SIGABRT, SIGCHLD,
        ])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let now = Instant::now();
        let next_cc = opts
            .cc
            .filter(|&n| n > 0)
            .map(|n| now + Duration::from_secs(n.into()));
        let mut log = log;
        let wrap = Wrappers::load(opts.hosts_allow.clone(), opts.hosts_deny.clone(), &mut log);
        let global = xinetd_limits::GlobalLimits::new(opts.limit, Some(opts.logprocs));
        let pipeline = Pipeline::new(
            global,
            Box::new(xinetd_limits::ProcLoadAvg::default()),
            Box::new(local_time),
            wrap,
            now,
        );
        let mut d = Daemon {
            resolvers: Resolvers::new(waker.clone(), Duration::from_secs(5)),
            idents: Idents::new(opts.ident_port),
            dump_path: opts
                .dumpfile
                .clone()
                .unwrap_or_else(|| PathBuf::from("/var/run/xinetd.dump")),
            poll,
            opts,
            log,
            startup_env,
            routes: Routes::default(),
            services: HashMap::new(),
            next_key: 1,
            pipeline,
            sessions: HashMap::new(),
            next_session: 1,
            launcher: Launcher::default(),
            ring: ChargenRing::default(),
            signals,
            waker,
            again: Vec::new(),
            next_cc,
            exit: None,
            defaults: loaded.defaults,
            tcpmux: loaded.tcpmux_clients,
            budget: Budget::new(),
            userid_skipped: Throttle::default(),
            notifier,
            inherited,
            proxies: proxies::Proxies::default(),
            metrics: crate::metrics::Metrics::default(),
            started_at: std::time::SystemTime::now(),
            stderr: stderr::StderrPipes::default(),
            relay_pipe_fds: 0,
            session_timers: std::collections::BinaryHeap::new(),
            reloads: reload::Reloads::default(),
        };
        for why in std::mem::take(&mut d.inherited.rejected) {
            d.log.msg(
                Level::Err,
                &format!("socket activation: {why}: not adopted"),
            );
        }
        for svc in loaded.services {
            d.add_service(svc);
        }
        d.count_tcpmux_clients();
        d.log_unused_inherited();
        d.measure_descriptors();
        Ok(d)
    }

    /// The daemon log.
    pub fn log(&mut self) -> &mut ProgramLog {
        &mut self.log
    }

    /// Inherited sockets no service took are kept (a reload may want them): say so.
    fn log_unused_inherited(&mut self) {
        for s in self.inherited.unused() {
            self.log.msg(
                Level::Notice,
                &format!("inherited socket {s} matches no service; kept for reloads"),
            );
        }
    }

    /// The service-manager notifications.
    pub fn notifier(&mut self) -> &mut Notifier {
        &mut self.notifier
    }

    /// Start-up is done: every service that could start listens.
    pub fn ready(&mut self) {
        let status = self.status();
        self.notifier.ready(&status);
        self.log_notify_report();
    }

    /// `STATUS=` for the service manager.
    fn status(&self) -> String {
        let n = self.available();
        format!(
            "{n} available service{}, {} running server{}",
            if n == 1 { "" } else { "s" },
            self.launcher.children.len(),
            if self.launcher.children.len() == 1 {
                ""
            } else {
                "s"
            }
        )
    }

    /// Descriptors held by in-loop work, estimated without a system call: one per polled
    /// socket, one per connection waiting in the pipeline or for a `USERID` after a refusal,
    /// the socket copies of fork retries, two per spawn in flight, the relays' pipes.
    fn held_fds(&self) -> usize {
        self.routes.len()
            + self.pipeline.waiting_count()
            + self.idents.after_refusal()
            + self.launcher.retries.entries().len()
            + 2 * self.launcher.pending.len()
            + self.relay_pipe_fds
    }

    /// Measures what is open besides the held descriptors (start-up, reload).
    fn measure_descriptors(&mut self) {
        let held = self.held_fds();
        self.budget.measure(held);
    }

    /// Runs until a signal asks to exit.
    pub fn run(&mut self) -> Exit {
        let mut events = Events::with_capacity(256);
        loop {
            if let Some(e) = self.exit {
                self.notifier.stopping();
                self.shutdown();
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
                    self.log.msg(
                        Level::Err,
                        &format!("poll: {}", xinetd_log::explain_errno(&e)),
                    );
                }
                continue;
            }
            let now = Instant::now();
            let mut ready: Vec<Token> = std::mem::take(&mut self.again);
            ready.extend(events.iter().map(|ev| ev.token()));
            for token in ready {
                match token {
                    SIGNALS => self.on_signals(now),
                    WAKER => {
                        self.on_lookups(now);
                        self.on_spawns(now);
                        self.on_reload_done(now);
                    }
                    t => match self.routes.get(t) {
                        Some(Route::Listener(key)) => self.on_listener(key, now),
                        Some(Route::Session(id)) => self.on_session(id, now),
                        Some(Route::Ident) => self.on_ident(t, now),
                        Some(Route::Proxy(id)) => self.on_proxy(id, now),
                        Some(Route::Stderr) => self.on_stderr(t, now),
                        None => {}
                    },
                }
            }
            self.expire(now);
        }
    }

    /// The earliest deadline of any component.
    fn next_deadline(&self) -> Option<Instant> {
        let sessions = self.session_timers.peek().map(|r| r.0 .0);
        sessions
            .into_iter()
            .chain(self.launcher.next_deadline())
            .chain(self.pipeline.next_deadline())
            .chain(self.pipeline.limits_deadline())
            .chain(self.idents.next_deadline())
            .chain(self.proxies.next_deadline())
            .chain(self.notifier.next_deadline())
            .chain(self.stderr.next_deadline())
            .chain(self.next_cc)
            .min()
    }

    /// Lets every component handle what is due at `now`.
    fn expire(&mut self, now: Instant) {
        self.notifier.expire(now);
        self.log_notify_report();
        self.expire_launches(now);
        self.expire_stderr(now);
        for step in self.pipeline.expire(now) {
            self.admission_step(step, now);
        }
        for t in self.idents.due(now) {
            self.on_ident(t, now);
        }
        self.expire_sessions(now);
        self.expire_proxies(now);
        if self.pipeline.limits_deadline().is_some_and(|t| t <= now) {
            let tick = self.pipeline.tick(now);
            for (lvl, m) in tick.messages {
                self.log.msg(lvl, &m);
            }
            for (key, r) in tick.reactivate {
                self.unpause(key, &r);
            }
        }
        if self.next_cc.is_some_and(|t| t <= now) {
            self.consistency_check(false);
            self.next_cc = self.opts.cc.map(|n| now + Duration::from_secs(n.into()));
        }
    }

    // ---- signals (F-840..F-849) ----

    fn on_signals(&mut self, now: Instant) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGCHLD => self.reap(now),
                SIGHUP | SIGUSR2 => self.reconfigure(now),
                SIGUSR1 => self.dump(),
                SIGABRT => self.consistency_check(true),
                SIGTERM => {
                    // F-842: kill what we run ourselves; external servers are stopped too,
                    // and reaped with their EXIT records (documented difference,
                    // docs/compat.md: xinetd leaves them running).
                    self.settle_spawns();
                    self.stop_all_servers();
                    self.quit();
                }
                SIGQUIT => {
                    self.settle_spawns();
                    self.quit();
                }
                // F-846: SIGINT ends a -d run (status 1) and is ignored otherwise.
                SIGINT if self.opts.debug => {
                    self.log.msg(Level::Warning, "Exiting...");
                    self.remove_pidfile();
                    self.exit = Some(Exit(1));
                }
                _ => {}
            }
        }
    }

    /// Logs what the notifier has to say about the service manager's socket (notify.rs).
    pub(super) fn log_notify_report(&mut self) {
        if let Some(m) = self.notifier.take_report() {
            self.log.msg(Level::Warning, &m);
        }
    }

    fn quit(&mut self) {
        self.remove_pidfile();
        self.log.msg(Level::Warning, "Exiting...");
        self.exit = Some(Exit(0));
    }

    /// Removes the pid file (F-803).
    pub fn remove_pidfile(&mut self) {
        if let Some(p) = &self.opts.pidfile {
            let _ = std::fs::remove_file(p);
        }
    }

    /// F-976: RPC services leave the portmapper with the daemon.
    fn shutdown(&mut self) {
        let rpc: Vec<Service> = self
            .services
            .values()
            .filter(|a| a.listener.is_some())
            .map(|a| a.svc.clone())
            .collect();
        for svc in &rpc {
            self.rpc_unset(svc);
        }
    }
}

/// Local wall-clock time for access_times (F-220).
fn local_time() -> xinetd_acl::LocalTime {
    let now = xinetd_log::LocalClock::system().now();
    xinetd_acl::LocalTime::new(now.hour() as u8, now.minute() as u8)
        .unwrap_or_else(|| xinetd_acl::LocalTime::new(0, 0).expect("00:00 is a valid time"))
}
