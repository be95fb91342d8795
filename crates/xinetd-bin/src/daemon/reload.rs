//! SIGHUP: load the configuration again and apply the difference (F-860..F-864). A
//! configuration that fails to load leaves the running one untouched.

use std::time::Instant;

use super::{Daemon, Exit};
use crate::dlog::Level;

impl Daemon {
    pub(super) fn reconfigure(&mut self, now: Instant) {
        // F-713: reopen the program log (rotation); service logs are reopened because the
        // new configuration opens them again.
        self.notifier.reloading();
        self.log_notify_report();
        self.log.reopen();
        self.log.msg(Level::Notice, "Starting reconfiguration");
        let new = match crate::config::load(&self.opts, &mut self.log, &self.startup_env) {
            Ok(s) => s,
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
        let mut matched: Vec<u64> = Vec::new();
        for svc in new.services {
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
        let removed: Vec<u64> = self
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
