//! Servers: spawns handed to the spawner threads, the running children and their `timeout`
//! kills, SIGCHLD reaping (with children reaped before their spawn result arrived), and the
//! fork retry table (F-400..F-420).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::Daemon;
use crate::admission::Hold;
use crate::dlog::Level;
use crate::retry::{after_failure, AfterFailure, Retry, RetryTable, RETRY_INTERVAL};
use crate::service::Service;
use crate::slog::Served;
use crate::spawner::{Job, Outcome, Spawner};

/// How long SIGTERM waits for the servers it stops before SIGKILL (and after).
const STOP_WAIT: Duration = Duration::from_secs(1);
/// How long an exiting daemon waits for the spawns still in flight (`settle_spawns`).
const SETTLE_WAIT: Duration = Duration::from_secs(1);
/// How long a child reaped before its spawn result arrived waits for that result.
const EARLY_EXIT_WAIT: Duration = Duration::from_secs(10);

/// A server to start.
pub struct Launch {
    key: u64,
    /// The service that logs START/EXIT (the tcpmux service for its clients, F-545).
    log_svc: Service,
    /// The service whose server runs.
    spec_svc: Service,
    /// The socket that becomes fds 0-2.
    fd: OwnedFd,
    peer: Option<SocketAddr>,
    hold: Option<Hold>,
    /// `wait = yes`: the service resumes when the server exits.
    wait: bool,
    log_start: bool,
    /// Failed forks of this request so far (F-420).
    failures: u32,
}

impl Launch {
    /// A first attempt.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: u64,
        log_svc: &Service,
        spec_svc: &Service,
        fd: OwnedFd,
        peer: Option<SocketAddr>,
        hold: Option<Hold>,
        wait: bool,
        log_start: bool,
    ) -> Launch {
        Launch {
            key,
            log_svc: log_svc.clone(),
            spec_svc: spec_svc.clone(),
            fd,
            peer,
            hold,
            wait,
            log_start,
            failures: 0,
        }
    }

    /// Another attempt of a request whose fork failed.
    pub fn retry(r: Retry) -> Launch {
        Launch {
            key: r.key,
            log_svc: r.log_svc,
            spec_svc: r.spec_svc,
            fd: r.fd,
            peer: r.peer,
            hold: r.hold,
            wait: r.wait,
            log_start: r.log_start,
            failures: r.failures,
        }
    }
}

/// A spawn in flight on a spawner thread.
pub struct Pending {
    pub key: u64,
    pub svc: Service,
    pub peer: Option<SocketAddr>,
    pub hold: Option<Hold>,
    pub wait: bool,
    log_start: bool,
    timeout: Option<Duration>,
    failures: u32,
    /// Unless `NORETRY`: a copy of the socket and the started service, to try again after a
    /// failed fork.
    retry: Option<(OwnedFd, Service)>,
}

/// A running external server.
pub struct Child {
    pub key: u64,
    pub svc: Service,
    pub started: Instant,
    deadline: Option<Instant>,
    /// Limits and running count, given back when the child is reaped.
    pub hold: Option<Hold>,
    /// The socket to resume polling when a `wait = yes` server exits.
    pub wait: bool,
    /// The client (for the state dump's server table).
    pub peer: Option<SocketAddr>,
}

/// Spawns in flight, running children, early exits and fork retries.
#[derive(Default)]
pub struct Launcher {
    /// Spawner threads, started with the first external server.
    spawner: Option<Spawner>,
    pub pending: HashMap<u64, Pending>,
    next_job: u64,
    pub children: HashMap<i32, Child>,
    /// Children reaped before their spawn result arrived: (status, signal, when).
    early_exits: HashMap<i32, (Option<i32>, Option<i32>, Instant)>,
    /// Requests whose server failed to fork, waiting for another attempt (F-420).
    pub retries: RetryTable,
}

impl Launcher {
    /// The earliest of: a child's `timeout`, an early exit's wait, a retry.
    pub fn next_deadline(&self) -> Option<Instant> {
        let kids = self.children.values().filter_map(|c| c.deadline);
        let early = self
            .early_exits
            .values()
            .map(|(_, _, t)| *t + EARLY_EXIT_WAIT + Duration::from_secs(1));
        kids.chain(early).chain(self.retries.next_deadline()).min()
    }
}

impl Daemon {
    /// Queues the start of a server (on a spawner thread, see [`crate::spawner`]); the result
    /// arrives through [`Daemon::on_spawns`].
    pub(super) fn launch(&mut self, l: Launch) {
        let Some(spec) = l.spec_svc.rt.spawn.clone() else {
            self.log.msg(
                Level::Err,
                &format!("service {} has no server", l.spec_svc.id),
            );
            return;
        };
        let id = self.launcher.next_job;
        self.launcher.next_job += 1;
        // Extension log_stderr = yes: the server's fd 2 is a pipe the loop reads.
        let stderr = if l
            .spec_svc
            .rt
            .conf
            .log_stderr
            .as_ref()
            .is_some_and(|v| v.value)
        {
            self.stderr_pipe(id, &l.log_svc)
        } else {
            None
        };
        let lr = &mut self.launcher;
        let noretry = l
            .spec_svc
            .rt
            .conf
            .has_flag(xinetd_conf::ServiceFlag::NoRetry);
        let retry = if noretry {
            None
        } else {
            l.fd.try_clone().ok().map(|f| (f, l.spec_svc.clone()))
        };
        lr.pending.insert(
            id,
            Pending {
                key: l.key,
                svc: l.log_svc,
                peer: l.peer,
                hold: l.hold,
                wait: l.wait,
                log_start: l.log_start,
                timeout: l.spec_svc.timeout,
                failures: l.failures,
                retry,
            },
        );
        let job = Job {
            id,
            spec,
            fd: l.fd,
            peer: l.peer.map(|p| p.ip()),
            name: l.spec_svc.name.clone(),
            svc_id: l.spec_svc.id.clone(),
            stderr,
        };
        let lr = &mut self.launcher;
        if lr.spawner.is_none() {
            match Spawner::start(self.waker.clone()) {
                Ok(sp) => lr.spawner = Some(sp),
                Err(e) => self.log.msg(
                    Level::Err,
                    &format!(
                        "cannot start the spawner threads: {}",
                        xinetd_log::explain_errno(&e)
                    ),
                ),
            }
        }
        let job = match self.launcher.spawner.as_ref() {
            Some(sp) => match sp.submit(job) {
                Ok(()) => return,
                Err(job) => job,
            },
            None => job,
        };
        // No spawner thread: spawn from the loop itself.
        let outcome = crate::spawner::run(&job);
        drop(job);
        self.spawn_done(id, outcome, Instant::now());
    }

    /// Results of the spawner threads.
    pub(super) fn on_spawns(&mut self, now: Instant) {
        let done = self
            .launcher
            .spawner
            .as_ref()
            .map(Spawner::results)
            .unwrap_or_default();
        for (id, outcome) in done {
            self.spawn_done(id, outcome, now);
        }
    }

    /// Before the daemon exits: waits (at most `SETTLE_WAIT`) for the spawns still in flight
    /// on the spawner threads, so that a server already forked is logged (START) and known to
    /// `stop_all_servers`, as in xinetd, which forks in its loop and so never exits between
    /// a fork and its START record.
    pub(super) fn settle_spawns(&mut self) {
        let deadline = Instant::now() + SETTLE_WAIT;
        while !self.launcher.pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let next = match self.launcher.spawner.as_ref() {
                Some(s) => s.next_result(left),
                None => return,
            };
            match next {
                Some((id, outcome)) => self.spawn_done(id, outcome, Instant::now()),
                None => return,
            }
        }
    }

    /// Logs START or the failure of one spawn and records the child.
    fn spawn_done(&mut self, id: u64, outcome: Outcome, now: Instant) {
        let Some(p) = self.launcher.pending.remove(&id) else {
            return;
        };
        self.stderr_started(id, outcome.as_ref().ok().copied());
        let pid = match outcome {
            Ok(pid) => pid,
            Err((None, msgs)) => {
                for m in &msgs {
                    self.log.msg(Level::Err, m);
                }
                self.metrics.spawn_failed(&p.svc.id);
                self.fork_failed(p, now);
                return;
            }
            Err((Some(pid), msgs)) => {
                // F-415: the child ran (START), failed before exec, and exited (EXIT
                // status=0 in xinetd, whose child _exit(0)s).
                self.launcher.early_exits.remove(&pid);
                self.metrics.spawn_failed(&p.svc.id);
                if p.log_start {
                    p.svc.log_start(Served::Process(pid), p.peer, &mut self.log);
                }
                for m in &msgs {
                    self.log.msg(Level::Err, m);
                }
                p.svc.log_exit(
                    Served::Process(pid),
                    Some(0),
                    None,
                    Duration::ZERO,
                    &mut self.log,
                );
                drop(p.hold);
                if p.wait {
                    self.resume(p.key);
                }
                return;
            }
        };
        if p.log_start {
            p.svc.log_start(Served::Process(pid), p.peer, &mut self.log);
        }
        self.launcher.children.insert(
            pid,
            Child {
                key: p.key,
                svc: p.svc,
                started: now,
                deadline: p.timeout.map(|t| now + t),
                hold: p.hold,
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
        if let Some((status, signal, _)) = self.launcher.early_exits.remove(&pid) {
            self.child_exited(pid, status, signal, now);
        }
    }

    /// A server could not be forked (F-420): retry in 5 s unless `NORETRY`, give up after
    /// five failures.
    fn fork_failed(&mut self, p: Pending, now: Instant) {
        let failures = p.failures + 1;
        let action = after_failure(failures, p.retry.is_none());
        match (action, p.retry) {
            (AfterFailure::Retry, Some((fd, spec_svc))) => {
                self.launcher.retries.schedule(Retry {
                    key: p.key,
                    log_svc: p.svc,
                    spec_svc,
                    fd,
                    peer: p.peer,
                    hold: p.hold,
                    wait: p.wait,
                    log_start: p.log_start,
                    failures,
                    due: now + RETRY_INTERVAL,
                });
            }
            (action, _) => {
                if action == AfterFailure::GiveUp {
                    self.log.msg(
                        Level::Err,
                        &format!("service {}: too many consecutive fork failures", p.svc.id),
                    );
                }
                p.svc
                    .log_fail(xinetd_log::FailReason::Fork, p.peer, &mut self.log);
                self.metrics
                    .refused(&p.svc.id, crate::metrics::Refused::Fork);
                drop(p.hold);
                if p.wait {
                    self.resume(p.key);
                }
            }
        }
    }

    /// SIGCHLD: reap every child, log EXIT, release limits, resume `wait = yes` services.
    pub(super) fn reap(&mut self, now: Instant) {
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
            if self.launcher.children.contains_key(&pid) {
                self.child_exited(pid, status, signal, now);
            } else if !self.launcher.pending.is_empty() {
                // Its spawn result may not have reached the loop yet (spawner threads).
                self.launcher.early_exits.insert(pid, (status, signal, now));
            } else {
                self.log
                    .msg(Level::Notice, &format!("unknown child process {pid} died"));
            }
        }
    }

    /// A reaped server: EXIT, hold given back, `wait = yes` service resumed (F-416).
    fn child_exited(&mut self, pid: i32, status: Option<i32>, signal: Option<i32>, now: Instant) {
        let Some(child) = self.launcher.children.remove(&pid) else {
            return;
        };
        // A wait = yes service is drained and polled again before EXIT is written: a client
        // that waits for the EXIT record and sends its next datagram then is never caught by
        // the drain (F-401). The next request is read in a later turn, after this EXIT.
        if child.wait {
            self.resume(child.key);
        }
        let ran = now.saturating_duration_since(child.started);
        self.metrics
            .server_exited(&child.svc.id, status, signal, ran);
        // log_stderr: what the server left in its pipe is logged before its EXIT.
        self.stderr_server_exited(pid, now);
        child.svc.log_exit(
            Served::Process(pid),
            status,
            signal,
            now.saturating_duration_since(child.started),
            &mut self.log,
        );
        drop(child.hold);
    }

    /// Due fork retries (after the access checks again, as xinetd does), `timeout` kills,
    /// early exits whose spawn result never came.
    pub(super) fn expire_launches(&mut self, now: Instant) {
        for r in self.launcher.retries.due(now) {
            if !self.services.contains_key(&r.key) {
                continue;
            }
            let req = crate::admission::Request {
                key: r.key,
                svc: r.spec_svc.clone(),
                path: crate::admission::Path::Retry,
                peer: r.peer,
                local: None,
                carrier: super::Carrier::Retry(Box::new(r)),
            };
            let step = self.pipeline.admit(req, now);
            self.admission_step(step, now);
        }
        // Per-connection `timeout` (extension): kill the server's process group.
        let expired: Vec<i32> = self
            .launcher
            .children
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(p, _)| *p)
            .collect();
        for pid in expired {
            if let Some(c) = self.launcher.children.get_mut(&pid) {
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
        // Early exits whose spawn result never came: unknown children after all (F-416).
        let old: Vec<i32> = self
            .launcher
            .early_exits
            .iter()
            .filter(|(_, (_, _, t))| now.saturating_duration_since(*t) > EARLY_EXIT_WAIT)
            .map(|(p, _)| *p)
            .collect();
        for pid in old {
            self.launcher.early_exits.remove(&pid);
            self.log
                .msg(Level::Notice, &format!("unknown child process {pid} died"));
        }
    }

    /// Signals every running server's process group (each server is a session leader).
    pub(super) fn kill_all_servers(&mut self, sig: nix::sys::signal::Signal) {
        for pid in self.launcher.children.keys() {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pid), sig);
        }
    }

    /// SIGTERM: stops every server and waits for them, so they are reaped and their EXIT is
    /// logged instead of being left as zombies for init (which may never reap them). A
    /// server still running after [`STOP_WAIT`] gets SIGKILL and as long again; the daemon
    /// exits then whatever is left.
    pub(super) fn stop_all_servers(&mut self) {
        use nix::sys::signal::Signal;
        self.kill_all_servers(Signal::SIGTERM);
        let mut deadline = Instant::now() + STOP_WAIT;
        let mut killed = false;
        for _ in 0..10_000 {
            self.reap(Instant::now());
            if self.launcher.children.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                if killed {
                    return;
                }
                self.kill_all_servers(Signal::SIGKILL);
                killed = true;
                deadline = Instant::now() + STOP_WAIT;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the running servers of a service being removed or restarted (F-862): SIGKILL
    /// to external servers; sessions are closed.
    pub(super) fn kill_servers_of(&mut self, key: u64, svc: &Service, now: Instant) {
        let pids: Vec<i32> = self
            .launcher
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
            if let Some(c) = self.launcher.children.get_mut(&pid) {
                c.wait = false;
            }
        }
        self.end_sessions_of(key, now);
    }
}
