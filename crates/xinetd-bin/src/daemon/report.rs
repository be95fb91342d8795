//! What the daemon tells about itself: the `-d` configuration dump and the SIGUSR1 state
//! dump (F-850..F-852), the consistency check (SIGABRT, `-cc`, F-844, F-810), and the rows
//! of the admin builtins.

use std::io::Write;
use std::time::Instant;

use super::Daemon;
use crate::admission::Hold;
use crate::dlog::Level;
use crate::service::Server;
use crate::session::admin::{self, wall_clock, ServerRow, ServiceRow};

/// The daemon as the admin sessions see it.
pub struct View<'a> {
    /// The daemon.
    pub d: &'a Daemon,
}

impl View<'_> {
    /// What the `metrics` builtin shows now.
    fn snapshot(&self) -> crate::metrics::Snapshot<'_> {
        use std::collections::HashMap;
        let d = self.d;
        let mut running: HashMap<&str, u64> = HashMap::new();
        for c in d.launcher.children.values() {
            *running.entry(c.svc.id.as_str()).or_default() += 1;
        }
        for s in d.sessions.values() {
            *running.entry(s.svc.id.as_str()).or_default() += 1;
        }
        let configured = d
            .keys()
            .into_iter()
            .filter_map(|k| d.services.get(&k))
            .map(|a| &a.svc)
            .chain(d.tcpmux.iter());
        let services = configured
            .filter_map(|svc| {
                Some(crate::metrics::ServiceSample {
                    id: &svc.id,
                    counters: d.metrics.service(&svc.id)?,
                    running: running.get(svc.id.as_str()).copied().unwrap_or(0),
                    redirect: matches!(svc.server, Server::Redirect(_)),
                })
            })
            .collect();
        let max_fds = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .ok()
            .map(|(soft, _)| soft);
        crate::metrics::Snapshot {
            services,
            available: d.available() as u64,
            banned: d.pipeline.banned() as u64,
            reloads: (d.metrics.reloads_ok, d.metrics.reloads_failed),
            log_dropped: d.log.dropped(),
            open_fds: open_fds(),
            max_fds,
            start_time: d
                .started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |t| t.as_secs_f64()),
        }
    }
}

/// Descriptors open in this process (the entries of /proc/self/fd, less the one reading it).
fn open_fds() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some(n.saturating_sub(1) as u64)
}

impl admin::View for View<'_> {
    fn metrics(&self, format: crate::metrics::exposition::Format) -> String {
        crate::metrics::exposition::render(&self.snapshot(), format)
    }

    fn servers(&self) -> Vec<(Instant, ServerRow)> {
        let d = self.d;
        let children = d.launcher.children.iter().map(|(pid, c)| {
            (
                c.started,
                ServerRow {
                    id: c.svc.id.clone(),
                    pid: *pid,
                    started: wall_clock(c.started),
                    peer: c.peer,
                    log_remote_user: c.svc.logs_remote_user(),
                },
            )
        });
        let sessions = d.sessions.values().filter(|s| s.listed()).map(|s| {
            (
                s.started,
                ServerRow {
                    id: s.svc.id.clone(),
                    pid: 0,
                    started: wall_clock(s.started),
                    peer: s.peer(),
                    log_remote_user: s.svc.logs_remote_user(),
                },
            )
        });
        children.chain(sessions).collect()
    }

    fn services(&self) -> Vec<ServiceRow> {
        let d = self.d;
        d.keys()
            .into_iter()
            .filter_map(|k| d.services.get(&k))
            .map(|a| {
                let c = &a.svc.rt.conf;
                let port = a
                    .listener
                    .as_ref()
                    .and_then(|l| l.local_addr().ok())
                    .map(|x| x.port())
                    .unwrap_or(a.svc.listen.port);
                ServiceRow {
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
}

impl Daemon {
    /// `-d`: the configuration of every service, as xinetd prints it at start-up (F-852).
    pub fn config_dump(&self) -> String {
        let cx = crate::dump::Context {
            defaults: &self.defaults,
            startup_env: &self.startup_env,
        };
        let keys = self.keys();
        crate::dump::config_dump(
            &cx,
            keys.iter()
                .filter_map(|k| self.services.get(k))
                .map(|a| &a.svc),
        )
    }

    /// SIGUSR1: the state dump, appended to the dump file (F-841, F-850).
    pub(super) fn dump(&mut self) {
        let keys = self.keys();
        let retries = self.launcher.retries.entries();
        let services: Vec<crate::dump::ServiceEntry<'_>> = keys
            .iter()
            .filter_map(|k| self.services.get(k).map(|a| (k, a)))
            .map(|(k, a)| {
                let retrying = retries.iter().filter(|r| r.key == *k).count();
                crate::dump::ServiceEntry {
                    svc: &a.svc,
                    state: a.state(),
                    // A request waiting for a fork retry keeps its hold, but xinetd counts it
                    // as a retry server, not a running one.
                    running: self
                        .pipeline
                        .running(*k)
                        .saturating_sub(u32::try_from(retrying).unwrap_or(u32::MAX)),
                    retries: retrying,
                    fd: a.listener.as_ref().map_or(-1, |l| l.raw_fd()),
                }
            })
            .collect();
        let mut pids: Vec<&i32> = self.launcher.children.keys().collect();
        pids.sort();
        let servers: Vec<crate::dump::ServerEntry<'_>> = pids
            .iter()
            .filter_map(|p| self.launcher.children.get(*p).map(|c| (**p, c)))
            .map(|(pid, c)| {
                let descriptor = match (c.wait, self.services.get(&c.key)) {
                    (true, Some(a)) => a.listener.as_ref().map_or(-1, |l| l.raw_fd()),
                    _ => -1,
                };
                crate::dump::ServerEntry {
                    svc: &c.svc,
                    pid,
                    started: wall_clock(c.started),
                    fork_failures: 0,
                    descriptor,
                    peer: c.peer,
                }
            })
            .collect();
        // Requests waiting for another fork attempt: xinetd keeps them as servers whose
        // fork failed (pid -1, no start time).
        let retry_rows: Vec<crate::dump::ServerEntry<'_>> = retries
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
            .filter_map(|k| self.services.get(k))
            .filter(|a| !a.suspended)
            .filter_map(|a| a.listener.as_ref().map(|l| l.raw_fd()))
            .collect();
        let totals = crate::dump::Totals {
            active: sockets.len(),
            available: self.available(),
            running: self.launcher.children.len(),
            process_limit: self.opts.limit,
            config_file: &self.opts.config,
            descriptors: (self.held_fds(), self.budget.capacity()),
        };
        let cx = crate::dump::Context {
            defaults: &self.defaults,
            startup_env: &self.startup_env,
        };
        let out = crate::dump::state_dump(&cx, &services, &servers, &retry_rows, &totals, &sockets);
        let path = self.dump_path.clone();
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
                &format!(
                    "open( {} ) failed: {}",
                    path.display(),
                    xinetd_log::explain_errno(&e)
                ),
            ),
        }
    }

    /// SIGABRT / `-cc` (F-844, F-810): every hold the daemon keeps — running servers, spawns
    /// in flight, sessions, requests waiting for a lookup or an identd, fork retries — is
    /// counted where it lives and checked against the service's running count and the
    /// limits' permits.
    pub(super) fn consistency_check(&mut self, always_report: bool) {
        let mut errors = Vec::new();
        let lr = &self.launcher;
        for key in self.keys() {
            let Some(a) = self.services.get(&key) else {
                continue;
            };
            let holds: Vec<&Hold> = lr
                .children
                .values()
                .filter(|c| c.key == key)
                .filter_map(|c| c.hold.as_ref())
                .chain(
                    lr.pending
                        .values()
                        .filter(|p| p.key == key)
                        .filter_map(|p| p.hold.as_ref()),
                )
                .chain(
                    self.sessions
                        .values()
                        .filter(|s| s.key == key)
                        .filter_map(|s| s.hold.as_ref()),
                )
                .chain(
                    lr.retries
                        .entries()
                        .iter()
                        .filter(|r| r.key == key)
                        .filter_map(|r| r.hold.as_ref()),
                )
                .chain(self.pipeline.holds_of(key))
                .collect();
            let held = holds.len();
            let running = self.pipeline.running(key) as usize;
            if held != running {
                errors.push(format!(
                    "service {}: running count {running} but {held} servers found",
                    a.svc.id
                ));
            }
            let permits = self.pipeline.permits(key) as usize;
            let with_permit = holds.iter().filter(|h| h.has_permit()).count();
            if permits != with_permit {
                errors.push(format!(
                    "service {}: {permits} limit permits but {with_permit} servers",
                    a.svc.id
                ));
            }
            let waits = lr.children.values().any(|c| c.wait && c.key == key)
                || lr.pending.values().any(|p| p.wait && p.key == key)
                || lr.retries.entries().iter().any(|r| r.wait && r.key == key);
            if a.suspended && !waits {
                errors.push(format!("service {} suspended without a server", a.svc.id));
            }
        }
        // Every admission wait for an identd has its query in flight, and no query is
        // orphaned.
        let mut asked: Vec<_> = self.idents.waits().collect();
        let mut waiting: Vec<_> = self.pipeline.ident_waits().collect();
        asked.sort_unstable();
        waiting.sort_unstable();
        if asked != waiting {
            errors.push(format!(
                "{} requests wait for an identd but {} queries are in flight",
                waiting.len(),
                asked.len()
            ));
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
