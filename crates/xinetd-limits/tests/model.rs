//! Property test: random admit/release/tick/sensor sequences against a simple reference model
//! written from the spec (F-300..F-311, F-240..F-242), checking every decision, that counts
//! never exceed the limits, and that counts and memory return to zero when nothing runs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use xinetd_limits::{
    Cps, DenyTime, Event, FixedLoad, GlobalLimits, Limits, MaxLoad, Permit, Reason, Request,
    ServiceKey, ServiceLimits,
};

const PEERS: [&str; 4] = ["127.0.0.2", "127.0.0.3", "::1", "::ffff:127.0.0.2"];

#[derive(Debug, Clone)]
struct SvcCfg {
    instances: Option<u32>,
    per_source: Option<u32>,
    rate: u32,
    wait: u32,
    max_load_tenths: Option<u32>,
    intercepted: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Admit {
        svc: usize,
        peer: Option<usize>,
        advance_ms: u64,
        within: bool,
        load_tenths: u32,
    },
    Release {
        idx: usize,
    },
    Tick {
        advance_ms: u64,
    },
    SensorHit {
        peer: usize,
        advance_ms: u64,
    },
    /// SIGHUP keeping the service with the same limits: the cps counter restarts (F-864).
    Reload {
        svc: usize,
    },
}

fn svc_cfg() -> impl Strategy<Value = SvcCfg> {
    (
        proptest::option::weighted(0.7, 0u32..4),
        proptest::option::weighted(0.7, 0u32..3),
        0u32..4,
        0u32..4,
        proptest::option::weighted(0.3, 1u32..20),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(instances, per_source, rate, wait, max_load_tenths, intercepted)| SvcCfg {
                instances,
                per_source,
                rate,
                wait,
                max_load_tenths,
                intercepted,
            },
        )
}

fn op(services: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..services, proptest::option::weighted(0.9, 0..PEERS.len()), 0u64..700,
              proptest::bool::weighted(0.9), 0u32..20)
            .prop_map(|(svc, peer, advance_ms, within, load_tenths)| Op::Admit {
                svc, peer, advance_ms, within, load_tenths
            }),
        4 => any::<usize>().prop_map(|idx| Op::Release { idx }),
        2 => (0u64..30_000).prop_map(|advance_ms| Op::Tick { advance_ms }),
        1 => (0..PEERS.len(), 0u64..5_000)
            .prop_map(|(peer, advance_ms)| Op::SensorHit { peer, advance_ms }),
        1 => (0..services).prop_map(|svc| Op::Reload { svc }),
    ]
}

/// The reference: plain data, linear scans, times in milliseconds since the start.
#[derive(Default)]
struct Model {
    now_ms: u64,
    cps: Vec<(u64, u64)>,
    suspended_until: Vec<Option<u64>>,
    held: Vec<(usize, Option<IpAddr>)>,
    bans: HashMap<IpAddr, u64>,
    next_scrub: Option<u64>,
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Model {
    fn count(&self, svc: usize) -> u32 {
        self.held.iter().filter(|(s, _)| *s == svc).count() as u32
    }

    fn count_from(&self, svc: usize, peer: IpAddr) -> u32 {
        self.held
            .iter()
            .filter(|(s, p)| *s == svc && p.map(canonical) == Some(canonical(peer)))
            .count() as u32
    }

    /// Expected outcome: Ok(()) or the reason, plus whether a deactivation is announced.
    fn admit(
        &mut self,
        svc: usize,
        cfg: &SvcCfg,
        peer: Option<IpAddr>,
        within: bool,
        load: f64,
        process_limit: Option<u32>,
    ) -> Result<(), (Reason, bool)> {
        if self.suspended_until[svc].is_some() {
            return Err((Reason::Cps, false));
        }
        if cfg.rate > 0 {
            let now = self.now_ms / 1000;
            let (n, t0) = &mut self.cps[svc];
            if *n == 0 {
                *n = 1;
                *t0 = now;
            } else if now - *t0 < u64::from(cfg.rate) {
                *n += 1;
                let d = (now - *t0).max(1);
                if *n / d > u64::from(cfg.rate) {
                    self.suspended_until[svc] = Some(self.now_ms + 1000 * u64::from(cfg.wait));
                    return Err((Reason::Cps, true));
                }
            } else {
                *n = 1;
                *t0 = now;
            }
        }
        if let Some(tenths) = cfg.max_load_tenths {
            if load >= f64::from(tenths) / 10.0 {
                return Err((Reason::Load, false));
            }
        }
        if !within {
            return Err((Reason::Time, false));
        }
        if cfg.instances.is_some_and(|max| self.count(svc) >= max) {
            return Err((Reason::ServiceLimit, false));
        }
        if let (Some(max), Some(peer)) = (cfg.per_source, peer) {
            if self.count_from(svc, peer) >= max {
                return Err((Reason::PerSourceLimit, false));
            }
        }
        if let Some(limit) = process_limit {
            let need = if cfg.intercepted { 2 } else { 1 };
            if self.held.len() as u32 + need > limit {
                return Err((Reason::ProcessLimit, false));
            }
        }
        Ok(())
    }

    fn sensor_hit(&mut self, peer: IpAddr) {
        let expiry = self.now_ms + 60_000;
        let entry = self.bans.entry(canonical(peer)).or_insert(expiry);
        *entry = (*entry).max(expiry);
        if self.next_scrub.is_none() {
            self.next_scrub = Some(self.now_ms + 60_000);
        }
    }

    /// Returns the services expected to be re-activated.
    fn tick(&mut self) -> Vec<usize> {
        let mut reactivated = Vec::new();
        for (svc, until) in self.suspended_until.iter_mut().enumerate() {
            if until.is_some_and(|u| u <= self.now_ms) {
                *until = None;
                reactivated.push(svc);
            }
        }
        if self.next_scrub.is_some_and(|s| s <= self.now_ms) {
            let now = self.now_ms;
            self.bans.retain(|_, expiry| *expiry > now);
            self.next_scrub = (!self.bans.is_empty()).then_some(now + 60_000);
        }
        reactivated
    }

    fn next_deadline(&self) -> Option<u64> {
        self.suspended_until
            .iter()
            .flatten()
            .copied()
            .chain(self.next_scrub)
            .min()
    }
}

fn service_limits(i: usize, c: &SvcCfg) -> ServiceLimits {
    ServiceLimits::new(format!("svc{i}"))
        .with_instances(c.instances)
        .with_per_source(c.per_source)
        .with_cps(Cps::new(c.rate, c.wait))
        .with_max_load(
            c.max_load_tenths
                .map(|t| MaxLoad::new(f64::from(t) / 10.0).expect("positive")),
        )
        .with_intercepted(c.intercepted)
}

struct Harness {
    start: Instant,
    limits: Limits,
    keys: Vec<ServiceKey>,
    sensor: ServiceKey,
    cfgs: Vec<SvcCfg>,
    process_limit: Option<u32>,
    permits: Vec<Permit>,
    model: Model,
}

impl Harness {
    fn new(cfgs: Vec<SvcCfg>, process_limit: u32) -> Self {
        let start = Instant::now();
        let mut limits = Limits::new(GlobalLimits::new(process_limit, None), start);
        let keys = cfgs
            .iter()
            .enumerate()
            .map(|(i, c)| limits.add_service(service_limits(i, c)))
            .collect();
        let sensor = limits.add_service(
            ServiceLimits::new("sensor")
                .with_cps(Cps::new(0, 10))
                .with_sensor(Some(DenyTime::Minutes(NonZeroU32::MIN))),
        );
        let model = Model {
            cps: vec![(0, 0); cfgs.len()],
            suspended_until: vec![None; cfgs.len()],
            ..Model::default()
        };
        Harness {
            start,
            limits,
            keys,
            sensor,
            cfgs,
            process_limit: (process_limit != 0).then_some(process_limit),
            permits: Vec::new(),
            model,
        }
    }

    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.model.now_ms)
    }

    fn tick(&mut self) -> Result<(), TestCaseError> {
        let events = self.limits.tick(self.now());
        let mut got: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Reactivate(r) => Some(r.service),
                _ => None,
            })
            .collect();
        let mut want: Vec<_> = self
            .model
            .tick()
            .into_iter()
            .map(|s| self.keys[s].id())
            .collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Admit {
                svc,
                peer,
                advance_ms,
                within,
                load_tenths,
            } => {
                self.model.now_ms += advance_ms;
                let peer = peer.map(|i| PEERS[i].parse::<IpAddr>().expect("peer"));
                let load = f64::from(load_tenths) / 10.0;
                let want =
                    self.model
                        .admit(svc, &self.cfgs[svc], peer, within, load, self.process_limit);
                let request = Request::new(peer, self.now()).access_times(within);
                let got = self
                    .limits
                    .admit(&self.keys[svc], request, &mut FixedLoad(load));
                match (got, want) {
                    (Ok(permit), Ok(())) => {
                        // The daemon's next step: the address check against the ban list.
                        let banned =
                            peer.is_some_and(|p| self.model.bans.contains_key(&canonical(p)));
                        let checked = self.limits.check_address(&self.keys[svc], peer, self.now());
                        prop_assert_eq!(checked.is_err(), banned);
                        self.model.held.push((svc, peer));
                        self.permits.push(permit);
                    }
                    (Err(refusal), Err((reason, deactivates))) => {
                        prop_assert_eq!(refusal.reason, reason);
                        prop_assert_eq!(refusal.deactivation.is_some(), deactivates);
                    }
                    (got, want) => {
                        prop_assert!(
                            false,
                            "admit: got {:?}, model says {:?}",
                            got.map(|_| ()),
                            want
                        )
                    }
                }
            }
            Op::Release { idx } => {
                if !self.permits.is_empty() {
                    let i = idx % self.permits.len();
                    self.permits.swap_remove(i).release();
                    self.model.held.swap_remove(i);
                }
            }
            Op::Tick { advance_ms } => {
                self.model.now_ms += advance_ms;
                self.tick()?;
            }
            Op::SensorHit { peer, advance_ms } => {
                self.model.now_ms += advance_ms;
                let peer: IpAddr = PEERS[peer].parse().expect("peer");
                let r = self
                    .limits
                    .check_address(&self.sensor, Some(peer), self.now());
                prop_assert_eq!(r.map_err(|r| r.reason), Err(Reason::Address));
                self.model.sensor_hit(peer);
            }
            Op::Reload { svc } => {
                let limits = service_limits(svc, &self.cfgs[svc]);
                self.limits.update_service(&self.keys[svc], limits);
                self.model.cps[svc] = (0, 0);
            }
        }
        self.check_invariants()
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let stats = self.limits.stats();
        prop_assert_eq!(stats.running_total as usize, self.model.held.len());
        if let Some(limit) = self.process_limit {
            prop_assert!(stats.running_total <= limit);
        }
        for (svc, key) in self.keys.iter().enumerate() {
            let running = self.limits.running(key);
            prop_assert_eq!(running, self.model.count(svc));
            if let Some(max) = self.cfgs[svc].instances {
                prop_assert!(running <= max);
            }
            for peer in PEERS {
                let peer: IpAddr = peer.parse().expect("peer");
                let from = self.limits.running_from(key, peer);
                prop_assert_eq!(from, self.model.count_from(svc, peer));
                if let Some(max) = self.cfgs[svc].per_source {
                    prop_assert!(from <= max);
                }
            }
            let suspended = self
                .limits
                .suspended_until(key)
                .map(|t| t.duration_since(self.start).as_millis() as u64);
            prop_assert_eq!(suspended, self.model.suspended_until[svc]);
        }
        prop_assert_eq!(stats.banned, self.model.bans.len());
        let deadline = self
            .limits
            .next_deadline()
            .map(|t| t.duration_since(self.start).as_millis() as u64);
        prop_assert_eq!(deadline, self.model.next_deadline());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn accounting_matches_the_model_and_returns_to_zero(
        cfgs in proptest::collection::vec(svc_cfg(), 1..4),
        process_limit in prop_oneof![Just(0u32), 1u32..6],
        ops in proptest::collection::vec(op(3), 1..150),
    ) {
        let services = cfgs.len();
        let mut h = Harness::new(cfgs, process_limit);
        for op in &ops {
            let op = match op {
                Op::Admit { svc, peer, advance_ms, within, load_tenths } => Op::Admit {
                    svc: svc % services,
                    peer: *peer,
                    advance_ms: *advance_ms,
                    within: *within,
                    load_tenths: *load_tenths,
                },
                Op::Reload { svc } => Op::Reload { svc: svc % services },
                other => other.clone(),
            };
            h.apply(&op)?;
        }
        // Everything exits; all timers run out.
        while let Some(p) = h.permits.pop() {
            p.release();
            h.model.held.pop();
        }
        for _ in 0..2 {
            h.model.now_ms += 61_000;
            h.tick()?;
        }
        h.check_invariants()?;
        let stats = h.limits.stats();
        prop_assert_eq!(stats.running_total, 0);
        prop_assert_eq!(stats.sources_tracked, 0);
        prop_assert!(stats.sources_capacity <= 64 * services, "capacity {}", stats.sources_capacity);
        prop_assert_eq!(stats.banned, 0);
        prop_assert_eq!(stats.suspended, 0);
        prop_assert_eq!(h.limits.next_deadline(), None);
    }
}
