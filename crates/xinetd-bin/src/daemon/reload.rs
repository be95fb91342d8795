//! SIGHUP: load the configuration again and apply the difference (F-860..F-864). A
//! configuration that fails to load leaves the running one untouched.
//!
//! The load (files, parse, host names in only_from/no_access, TLS files, runtime services)
//! runs on a worker thread, so the loop keeps serving meanwhile (issue 16: one host name can
//! take seconds to resolve, and parsing 1,000 services takes ~13 ms). The worker records the
//! messages it would have logged; when it is done it wakes the loop, which writes them and
//! applies the difference. One load at a time: SIGHUPs that arrive during a load ask for one
//! more load, started once this one is applied.

use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::{Daemon, Exit};
use crate::config::{Failure, Loaded};
use crate::dlog::{Level, Recording};
use crate::service::{Built, Shape};

/// What a load gives back: the messages it would have logged, and the configuration.
type Outcome = (Recording, Result<Loaded<Built>, Failure>);

/// The loop's side of reloads.
#[derive(Default)]
pub(super) struct Reloads {
    /// The worker's answer, while a load runs.
    running: Option<mpsc::Receiver<Outcome>>,
    /// A SIGHUP arrived during the load: one more load once it is applied.
    again: bool,
}

/// The worker's end of the channel. It wakes the loop however the worker ends: a worker
/// that panics drops it without sending, and the loop then finds the channel closed.
struct Reply {
    tx: Option<mpsc::Sender<Outcome>>,
    waker: Arc<mio::Waker>,
}

impl Reply {
    fn send(mut self, outcome: Outcome) {
        if let Some(tx) = self.tx.take() {
            // No receiver when the daemon stopped during the load: nobody to tell.
            let _ = tx.send(outcome);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // The sender goes before the wake-up, so the woken loop sees the outcome or a
        // closed channel, never a load that looks still running.
        drop(self.tx.take());
        let _ = self.waker.wake();
    }
}

impl Daemon {
    /// SIGHUP (and SIGUSR2): a load starts, or, when one is running, one more follows it.
    pub(super) fn reconfigure(&mut self, now: Instant) {
        if self.reloads.running.is_some() {
            self.reloads.again = true;
            self.log.msg(
                Level::Notice,
                "Reconfiguration in progress: another one follows it",
            );
            return;
        }
        self.start_load(now);
    }

    fn start_load(&mut self, now: Instant) {
        // F-713: reopen the program log (rotation); service logs are reopened because the
        // new configuration opens them again.
        self.notifier.reloading();
        self.log_notify_report();
        self.log.reopen();
        self.log.msg(Level::Notice, "Starting reconfiguration");
        let (tx, rx) = mpsc::channel();
        let reply = Reply {
            tx: Some(tx),
            waker: self.waker.clone(),
        };
        // The worker gets its own copies of what the load reads from the daemon (the
        // options and the start-up environment: plain data, cloned once per reload). The
        // program log, the services, the listeners and the poll stay on the loop: the log
        // and the poll are the loop's alone, and a running `Service` is not `Send` (`Rc`);
        // the worker builds `Built` services, which the loop shares when it applies them.
        let opts = self.opts.clone();
        let startup_env = self.startup_env.clone();
        let worker = std::thread::Builder::new()
            .name("xinetd-reload".into())
            .spawn(move || {
                let mut messages = Recording::default();
                let loaded = crate::config::load(&opts, &mut messages, &startup_env);
                reply.send((messages, loaded));
            });
        match worker {
            // The thread is never joined: one stuck in DNS must not hold up SIGTERM, and it
            // ends with the process.
            Ok(_) => self.reloads.running = Some(rx),
            Err(e) => {
                // No thread to be had: load here, as before issue 16.
                self.log.msg(
                    Level::Warning,
                    &format!(
                        "cannot start the reload thread ({}): loading in the main loop",
                        xinetd_log::explain_errno(&e)
                    ),
                );
                let mut messages = Recording::default();
                let loaded = crate::config::load(&self.opts, &mut messages, &self.startup_env);
                self.apply((messages, loaded), now);
            }
        }
    }

    /// The waker rang: a finished load is applied, then the load a SIGHUP asked for meanwhile
    /// starts.
    pub(super) fn on_reload_done(&mut self, now: Instant) {
        let Some(rx) = &self.reloads.running else {
            return;
        };
        let outcome = match rx.try_recv() {
            Ok(o) => o,
            Err(mpsc::TryRecvError::Empty) => return,
            // The worker ended without an answer (a panic): a load that failed.
            Err(mpsc::TryRecvError::Disconnected) => (Recording::default(), Err(Failure::Unusable)),
        };
        self.reloads.running = None;
        if self.exit.is_some() {
            // Stopping (SIGTERM in the same turn): nothing to apply.
            return;
        }
        self.apply(outcome, now);
        if std::mem::take(&mut self.reloads.again) && self.exit.is_none() {
            self.start_load(now);
        }
    }

    /// Writes the load's messages, then applies the new configuration (or keeps the running
    /// one when the load failed).
    fn apply(&mut self, (messages, loaded): Outcome, now: Instant) {
        messages.write_to(&mut self.log);
        let new = match loaded {
            Ok(l) => l.share(),
            Err(_) => {
                // Unlike xinetd (F-037/F-970, which exits on a bad defaults block), a config
                // that fails to load leaves the running configuration untouched.
                self.log.msg(Level::Warning, "reconfiguration failed");
                self.metrics.reloads_failed += 1;
                let status = format!("reconfiguration failed; {}", self.status());
                self.notifier.reloaded(&status);
                self.log_notify_report();
                return;
            }
        };
        self.log.msg(Level::Notice, "Swapping defaults");
        self.defaults = new.defaults;
        self.pipeline.wrappers_mut().reload(&mut self.log);
        self.tcpmux = new.tcpmux_clients;
        let mut kept = 0usize;
        let mut added = 0usize;
        let continues = continued(
            self.services.iter().map(|(k, a)| (*k, a.svc.shape())),
            new.services.iter().map(|s| s.shape()),
        );
        let mut matched: HashSet<u64> = HashSet::with_capacity(continues.len());
        for (svc, old) in new.services.into_iter().zip(continues) {
            let Some(key) = old else {
                added += 1;
                matched.insert(self.next_key);
                self.add_service(svc);
                continue;
            };
            matched.insert(key);
            kept += 1;
            self.log
                .msg(Level::Notice, &format!("readjusting service {}", svc.id));
            self.pipeline.update(key, svc.rt.limits.clone());
            let rebind = self
                .services
                .get(&key)
                .is_some_and(|a| a.svc.needs_rebind(&svc));
            if rebind {
                // F-863: bind address or family changed: kill its servers, re-bind.
                if let Some(old) = self.services.get(&key).map(|a| a.svc.clone()) {
                    self.kill_servers_of(key, &old, now);
                }
                let Some(mut a) = self.services.remove(&key) else {
                    continue;
                };
                self.close_listener(&mut a);
                a.svc = svc;
                a.suspended = false;
                a.paused = false;
                self.activate(&mut a);
                self.services.insert(key, a);
            } else if let Some(a) = self.services.get_mut(&key) {
                a.svc = svc;
            }
        }
        let mut removed: Vec<u64> = self
            .services
            .iter()
            .filter(|(k, a)| {
                if matched.contains(k) {
                    return false;
                }
                // Issue 15: a service whose new TLS files cannot be used keeps running with
                // the certificate it had (the error was logged with its location).
                let keep = a.svc.rt.tls.is_some()
                    && new
                        .tls_failed
                        .iter()
                        .any(|id| a.svc.id.eq_ignore_ascii_case(id));
                if keep {
                    self.log.msg(
                        Level::Warning,
                        &format!(
                            "service {}: keeping the TLS certificate loaded before",
                            a.svc.id
                        ),
                    );
                }
                !keep
            })
            .map(|(k, _)| *k)
            .collect();
        // Configuration order (the map's own order is arbitrary).
        removed.sort_unstable();
        let dropped = removed.len();
        for key in removed {
            let Some(svc) = self.services.get(&key).map(|a| a.svc.clone()) else {
                continue;
            };
            self.kill_servers_of(key, &svc, now);
            for r in self.launcher.retries.cancel(key) {
                // F-420: a removed service's pending fork retries are dropped.
                self.log.msg(
                    Level::Notice,
                    &format!("dropping retry attempt for service {}", r.log_svc.id),
                );
            }
            if let Some(mut a) = self.services.remove(&key) {
                self.close_listener(&mut a);
                self.routes.remove(a.token);
                self.pipeline.unregister(key);
                self.log
                    .msg(Level::Notice, &format!("service {} deactivated", svc.id));
            }
        }
        self.log.msg(
            Level::Notice,
            &format!("Reconfigured: new={added} old={kept} dropped={dropped} (services)"),
        );
        self.count_tcpmux_clients();
        self.forget_removed_counters();
        self.metrics.reloads_ok += 1;
        self.log_unused_inherited();
        self.measure_descriptors();
        let status = self.status();
        self.notifier.reloaded(&status);
        self.log_notify_report();
        if self.available() == 0 && !self.opts.stayalive {
            self.log
                .critical("init_services", "No available services. Exiting");
            self.remove_pidfile();
            self.exit = Some(Exit(1));
        }
    }
}

/// For each new service, in order, the key of the running service it continues (F-861): an
/// old service of the same [`Shape`] not taken by an earlier new one, the lowest key (the
/// longest configured) first. The old services are indexed by shape once, so matching is
/// linear (issue 16: a scan of the old services per new one made a million comparisons for
/// 1,000 services).
fn continued<'a>(
    old: impl Iterator<Item = (u64, Shape<'a>)>,
    new: impl Iterator<Item = Shape<'a>>,
) -> Vec<Option<u64>> {
    let mut old: Vec<(u64, Shape<'a>)> = old.collect();
    // Highest key first, so that popping a shape's list gives its lowest key.
    old.sort_unstable_by_key(|(key, _)| std::cmp::Reverse(*key));
    let mut by_shape: HashMap<Shape<'a>, Vec<u64>> = HashMap::with_capacity(old.len());
    for (key, shape) in old {
        by_shape.entry(shape).or_default().push(key);
    }
    new.map(|shape| by_shape.get_mut(&shape).and_then(Vec::pop))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Service;

    /// The matching before issue 16, as a reference: for each new service, a scan of the old
    /// ones (in key order) for the first unmatched one of the same shape, compared field by
    /// field as `Service::same_shape` did.
    fn scanned(old: &[(u64, Shape<'_>)], new: &[Shape<'_>]) -> Vec<Option<u64>> {
        let mut old = old.to_vec();
        old.sort_unstable_by_key(|(k, _)| *k);
        let mut matched: Vec<u64> = Vec::new();
        new.iter()
            .map(|n| {
                let k = old
                    .iter()
                    .find(|(k, o)| !matched.contains(k) && o == n)
                    .map(|(k, _)| *k)?;
                matched.push(k);
                Some(k)
            })
            .collect()
    }

    /// A small deterministic generator (xorshift), so the cases are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// An internal echo service, as the daemon builds it (xinetd-conf, then adapt).
    fn echo() -> Service {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("xinetd.conf");
        let text = "service echo\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
                    \twait = no\n\tport = 7\n\tbind = 127.0.0.1\n}\n";
        std::fs::write(&path, text).expect("write config");
        let env = xinetd_conf::Environment::system();
        let options = xinetd_conf::LoadOptions::new();
        let mut loaded = xinetd_conf::load(&path, &env, &options).expect("config loads");
        let resolver = xinetd_acl::SystemResolver::new(std::time::Duration::from_secs(1));
        let mut cache = crate::adapt::LoadCache::default();
        let startup = xinetd_spawn::Environment::startup();
        let c = loaded.config.services.remove(0);
        crate::adapt::service(c, &startup, &resolver, &mut cache)
            .expect("service")
            .share()
    }

    fn service(base: &Service, rng: &mut Rng) -> Service {
        use crate::service::Server;
        // Few ids, ports and kinds: many services share a shape, ids differ in case only.
        let id = ["echo", "ECHO", "Echo", "ftp", "time"][rng.below(5) as usize];
        let server = match rng.below(3) {
            0 => Server::External,
            1 => Server::Redirect(std::net::SocketAddr::from(([127, 0, 0, 1], 9))),
            _ => Server::Internal(crate::internal::Builtin::Echo),
        };
        let mut svc = base.clone();
        svc.id = id.to_string();
        svc.server = server;
        svc.wait = rng.below(2) == 0;
        svc.listen.stream = rng.below(2) == 0;
        svc.listen.port = 7 + rng.below(2) as u16;
        svc
    }

    #[test]
    fn indexed_matching_gives_what_the_scan_gave() {
        let base = echo();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let old: Vec<(u64, Service)> = (0..rng.below(12))
                .map(|_| (1 + rng.below(40), service(&base, &mut rng)))
                .collect::<HashMap<_, _>>()
                .into_iter()
                .collect();
            let new: Vec<Service> = (0..rng.below(12))
                .map(|_| service(&base, &mut rng))
                .collect();
            let old_shapes: Vec<(u64, Shape<'_>)> =
                old.iter().map(|(k, s)| (*k, s.shape())).collect();
            let new_shapes: Vec<Shape<'_>> = new.iter().map(Service::shape).collect();
            assert_eq!(
                continued(old_shapes.iter().copied(), new_shapes.iter().copied()),
                scanned(&old_shapes, &new_shapes)
            );
        }
    }

    #[test]
    fn several_of_one_shape_are_taken_oldest_first() {
        let a = echo();
        let mut b = a.clone();
        b.id = "ECHO".to_string();
        let got = continued(
            [(9, a.shape()), (3, b.shape()), (5, a.shape())].into_iter(),
            [a.shape(), b.shape(), a.shape(), a.shape()].into_iter(),
        );
        assert_eq!(got, vec![Some(3), Some(5), Some(9), None]);
    }
}
