//! The daemon's counters for the `metrics` builtin (issue 18, extension): per service
//! requests, refusals by reason, spawn failures, server exits, a duration histogram and the
//! bytes `redirect` relays; daemon-wide reloads. No I/O here: the event loop increments, the
//! `metrics` session renders a [`Snapshot`] with [`exposition`].
//!
//! Counters are keyed by service id, so a reload that keeps a service (even one it re-binds)
//! keeps its counters; a service the reload removes loses them. Every increment on the hot
//! path is a hash lookup by `&str` and an integer add: the per-service block is allocated
//! once, when the service is configured, and its exit-status and signal tables are fixed
//! arrays.

pub mod exposition;

use std::collections::HashMap;
use std::time::Duration;

use crate::admission::{Reason, Refusal};
use xinetd_log::FailReason;

/// Why a request was refused, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `only_from` / `no_access` (and name rules that could not be checked).
    Address,
    /// tcp_wrappers.
    Libwrap,
    /// `cps`.
    Cps,
    /// `per_source`.
    PerSource,
    /// `instances`.
    Instances,
    /// `max_load`.
    Load,
    /// `access_times`.
    Time,
    /// A SENSOR service, or the SENSOR ban list.
    Sensor,
    /// A PROXY protocol header that was missing, malformed or from a peer not in
    /// `proxy_from` (issue 13).
    Proxy,
    /// A TLS handshake that failed, timed out or was cut off (issue 15).
    Tls,
    /// The server could not be forked (after the retries).
    Fork,
    /// `-limit` (the daemon-wide process limit).
    ProcessLimit,
    /// The daemon's descriptor budget (extension, the `fds` FAIL word).
    Fds,
    /// `flags = IDONLY` and the client's identd gave no name.
    Ident,
    /// A FAIL reason this module does not know yet.
    Other,
}

impl Refused {
    /// Every reason, in label order.
    pub const ALL: [Refused; 15] = [
        Refused::Address,
        Refused::Libwrap,
        Refused::Cps,
        Refused::PerSource,
        Refused::Instances,
        Refused::Load,
        Refused::Time,
        Refused::Sensor,
        Refused::Proxy,
        Refused::Tls,
        Refused::Fork,
        Refused::ProcessLimit,
        Refused::Fds,
        Refused::Ident,
        Refused::Other,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Address => "address",
            Refused::Libwrap => "libwrap",
            Refused::Cps => "cps",
            Refused::PerSource => "per_source",
            Refused::Instances => "instances",
            Refused::Load => "load",
            Refused::Time => "time",
            Refused::Sensor => "sensor",
            Refused::Proxy => "proxy",
            Refused::Tls => "tls",
            Refused::Fork => "fork",
            Refused::ProcessLimit => "process_limit",
            Refused::Fds => "fds",
            Refused::Ident => "ident",
            Refused::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The reason of a refusal: its typed FAIL reason, except that SENSOR refusals (logged
    /// as `address`, as xinetd does) have a label of their own.
    pub fn of(r: &Refusal) -> Refused {
        if r.sensor {
            return Refused::Sensor;
        }
        match r.reason {
            Reason::NoIdent => Refused::Ident,
            Reason::Fail(f) => Refused::of_fail(f),
        }
    }

    /// The label of a FAIL reason.
    pub fn of_fail(f: FailReason) -> Refused {
        match f {
            FailReason::Address => Refused::Address,
            FailReason::Time => Refused::Time,
            FailReason::Fork => Refused::Fork,
            FailReason::ServiceLimit => Refused::Instances,
            FailReason::PerSourceLimit => Refused::PerSource,
            FailReason::ProcessLimit => Refused::ProcessLimit,
            FailReason::Libwrap => Refused::Libwrap,
            FailReason::Load => Refused::Load,
            FailReason::Cps => Refused::Cps,
            FailReason::Descriptors => Refused::Fds,
            FailReason::Proxy => Refused::Proxy,
            FailReason::Tls => Refused::Tls,
            _ => Refused::Other,
        }
    }
}

/// Upper bounds of the duration histogram's buckets, in seconds (`+Inf` is implicit):
/// from a quick inline answer to an hour-long session.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0, 3600.0,
];

/// The same bounds in microseconds, for the comparison on the hot path.
const BUCKETS_US: [u64; 14] = [
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    60_000_000,
    300_000_000,
    3_600_000_000,
];

/// Signals are 1..=64.
const SIGNALS: usize = 65;

/// Counts by a small key (an exit status, a signal number), kept sorted by key. A service
/// sees a handful of distinct statuses, so a sparse list costs a few bytes where a table of
/// all 256 statuses and 64 signals cost 2.6 kB for every configured service, busy or not.
#[derive(Debug, Clone, Default)]
struct Tally(Vec<(u8, u64)>);

impl Tally {
    fn add(&mut self, key: u8) {
        match self.0.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (key, 1)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.0.iter().map(|(k, n)| (usize::from(*k), *n))
    }
}

/// The counters of one service.
#[derive(Debug, Clone)]
pub struct ServiceMetrics {
    /// Requests that reached the admission checks: connections accepted (stream
    /// `wait = no`), datagrams read (internal dgram services), `wait = yes` activations.
    pub accepted: u64,
    refused: [u64; Refused::ALL.len()],
    /// Servers that could not be started: failed forks (each attempt) and children that
    /// failed before `exec` (credentials, chroot, a missing program, ...).
    pub spawn_failures: u64,
    exits: Tally,
    killed: Tally,
    /// Per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    duration_count: u64,
    duration_sum_us: u64,
    /// `redirect`: bytes read from clients and sent to the target.
    pub relayed_in: u64,
    /// `redirect`: bytes read from the target and sent to clients.
    pub relayed_out: u64,
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        ServiceMetrics {
            accepted: 0,
            refused: [0; Refused::ALL.len()],
            spawn_failures: 0,
            exits: Tally::default(),
            killed: Tally::default(),
            buckets: [0; DURATION_BUCKETS.len() + 1],
            duration_count: 0,
            duration_sum_us: 0,
            relayed_in: 0,
            relayed_out: 0,
        }
    }
}

impl ServiceMetrics {
    /// Refusals for `r`.
    pub fn refused(&self, r: Refused) -> u64 {
        self.refused[r.index()]
    }

    /// (exit status, count) of the statuses seen, in order.
    pub fn exits(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.exits.iter()
    }

    /// (signal number, count) of the signals that killed servers, in order.
    pub fn killed(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.killed.iter()
    }

    /// Cumulative bucket counts (as the exposition format wants them), `+Inf` last.
    pub fn cumulative_buckets(&self) -> [u64; DURATION_BUCKETS.len() + 1] {
        let mut out = self.buckets;
        let mut sum = 0u64;
        for b in &mut out {
            sum += *b;
            *b = sum;
        }
        out
    }

    /// Number of durations observed.
    pub fn duration_count(&self) -> u64 {
        self.duration_count
    }

    /// Their sum, in seconds.
    pub fn duration_sum(&self) -> f64 {
        self.duration_sum_us as f64 / 1e6
    }

    fn observe(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let slot = BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[slot] += 1;
        self.duration_count += 1;
        self.duration_sum_us = self.duration_sum_us.saturating_add(us);
    }
}

/// All counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per service id.
    services: HashMap<String, Box<ServiceMetrics>>,
    /// Reloads applied.
    pub reloads_ok: u64,
    /// Reloads whose configuration failed to load (the running one was kept).
    pub reloads_failed: u64,
}

impl Metrics {
    /// A service is configured: its counters exist from now on (zeros, or those it had
    /// before a reload).
    pub fn configured(&mut self, id: &str) {
        if !self.services.contains_key(id) {
            self.services.insert(id.to_string(), Box::default());
        }
    }

    /// After a reload: the counters of services no longer configured go. A set, not a list:
    /// one look-up per counter (issue 16, a reload of 1,000 services is linear).
    pub fn retain(&mut self, ids: &std::collections::HashSet<&str>) {
        self.services.retain(|k, _| ids.contains(k.as_str()));
    }

    fn of(&mut self, id: &str) -> Option<&mut ServiceMetrics> {
        self.services.get_mut(id).map(|b| &mut **b)
    }

    /// A request reached the admission checks.
    pub fn accepted(&mut self, id: &str) {
        if let Some(s) = self.of(id) {
            s.accepted += 1;
        }
    }

    /// A request was refused.
    pub fn refused(&mut self, id: &str, why: Refused) {
        if let Some(s) = self.of(id) {
            s.refused[why.index()] += 1;
        }
    }

    /// A server could not be started.
    pub fn spawn_failed(&mut self, id: &str) {
        if let Some(s) = self.of(id) {
            s.spawn_failures += 1;
        }
    }

    /// A server ended with `status`, or was killed by `signal`, after running `d`.
    pub fn server_exited(
        &mut self,
        id: &str,
        status: Option<i32>,
        signal: Option<i32>,
        d: Duration,
    ) {
        if let Some(s) = self.of(id) {
            if let Some(v) = status {
                // A wait status carries 8 bits of exit status.
                s.exits.add((v & 0xff) as u8);
            }
            if let Some(sig) = signal.and_then(|v| u8::try_from(v).ok()) {
                if usize::from(sig) < SIGNALS {
                    s.killed.add(sig);
                }
            }
            s.observe(d);
        }
    }

    /// A connection served inside the daemon (builtin, admin, redirect) ended after `d`.
    pub fn session_ended(&mut self, id: &str, d: Duration) {
        if let Some(s) = self.of(id) {
            s.observe(d);
        }
    }

    /// `redirect` moved bytes: `to_target` from the client, `to_client` from the target.
    pub fn relayed(&mut self, id: &str, to_target: u64, to_client: u64) {
        if let Some(s) = self.of(id) {
            s.relayed_in += to_target;
            s.relayed_out += to_client;
        }
    }

    /// The counters of service `id`.
    pub fn service(&self, id: &str) -> Option<&ServiceMetrics> {
        self.services.get(id).map(|b| &**b)
    }
}

/// One service as the exposition shows it.
pub struct ServiceSample<'a> {
    /// Service id (the `service` label).
    pub id: &'a str,
    /// Its counters.
    pub counters: &'a ServiceMetrics,
    /// Servers and in-daemon sessions running now.
    pub running: u64,
    /// Whether the service redirects (only those have the relayed-bytes series).
    pub redirect: bool,
}

/// What a scrape shows: the services and the daemon-wide values.
pub struct Snapshot<'a> {
    /// Services in configuration order.
    pub services: Vec<ServiceSample<'a>>,
    /// Services with a listening socket.
    pub available: u64,
    /// Addresses on the SENSOR ban list.
    pub banned: u64,
    /// Reloads applied / failed.
    pub reloads: (u64, u64),
    /// Log records lost to write errors / dropped past a FILE log's hard limit.
    pub log_dropped: (u64, u64),
    /// Descriptors open in the daemon, and its `RLIMIT_NOFILE` soft limit.
    pub open_fds: Option<u64>,
    /// `RLIMIT_NOFILE` soft limit.
    pub max_fds: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_slot_and_label() {
        for (i, r) in Refused::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let labels: std::collections::BTreeSet<_> =
            Refused::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Refused::ALL.len());
    }

    #[test]
    fn counters_follow_the_service_id_across_a_reload() {
        let mut m = Metrics::default();
        m.configured("echo");
        m.configured("gone");
        m.accepted("echo");
        m.refused("echo", Refused::Cps);
        m.accepted("unknown");
        m.retain(&["echo"].into_iter().collect());
        m.configured("echo");
        let s = m.service("echo").expect("kept");
        assert_eq!((s.accepted, s.refused(Refused::Cps)), (1, 1));
        assert!(m.service("gone").is_none());
        assert!(m.service("unknown").is_none());
    }

    #[test]
    fn the_histogram_is_cumulative_and_exits_are_counted_by_status_and_signal() {
        let mut m = Metrics::default();
        m.configured("s");
        m.server_exited("s", Some(0), None, Duration::from_millis(3));
        m.server_exited("s", Some(3), None, Duration::from_millis(30));
        m.server_exited("s", None, Some(9), Duration::from_secs(7200));
        m.session_ended("s", Duration::from_millis(10));
        let s = m.service("s").expect("s");
        let b = s.cumulative_buckets();
        assert_eq!(b[0], 1); // <= 5 ms
        assert_eq!(b[1], 2); // <= 10 ms (bounds are inclusive)
        assert_eq!(b[3], 3); // <= 50 ms
        assert_eq!(b[DURATION_BUCKETS.len() - 1], 3); // <= 1 h
        assert_eq!(b[DURATION_BUCKETS.len()], 4); // +Inf
        assert_eq!(s.duration_count(), 4);
        assert!((s.duration_sum() - 7200.043).abs() < 1e-6);
        assert_eq!(s.exits().collect::<Vec<_>>(), [(0, 1), (3, 1)]);
        assert_eq!(s.killed().collect::<Vec<_>>(), [(9, 1)]);
    }
}
