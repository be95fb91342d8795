//! Decisions per second with 100,000 distinct client addresses (issue 4, "How well").
//!
//! Run with `cargo bench -p xinetd-limits`; the figures are recorded in the crate docs and in
//! docs/performance.md.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xinetd_limits::{
    Cps, DenyTime, FixedLoad, GlobalLimits, Limits, MaxLoad, Permit, Request, ServiceKey,
    ServiceLimits, MAX_GLOBAL_NO_ACCESS,
};

const SOURCES: usize = 100_000;

/// Half IPv4, half IPv6, all distinct.
fn sources(n: usize) -> Vec<IpAddr> {
    (0..n as u32)
        .map(|i| {
            if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
            } else {
                IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i)))
            }
        })
        .collect()
}

/// A service with every parent-side limit switched on, none of them reached.
fn all_limits(per_source: u32) -> ServiceLimits {
    ServiceLimits::new("bench")
        .with_instances(Some(u32::MAX))
        .with_per_source(Some(per_source))
        .with_cps(Cps::new(u32::MAX, 10))
        .with_max_load(Some(MaxLoad::new(1000.0).expect("positive")))
}

fn global() -> GlobalLimits {
    GlobalLimits::new(u32::MAX, None)
}

/// A `Limits` with one service whose every source holds one live permit.
fn one_permit_per_source(
    addrs: &[IpAddr],
    per_source: u32,
    now: Instant,
) -> (Limits, ServiceKey, Vec<Permit>) {
    let mut limits = Limits::new(global(), now);
    let svc = limits.add_service(all_limits(per_source));
    let live = addrs
        .iter()
        .map(|&a| {
            limits
                .admit(&svc, Request::new(Some(a), now), &mut FixedLoad(0.1))
                .expect("admitted")
        })
        .collect();
    (limits, svc, live)
}

fn bench(c: &mut Criterion) {
    let addrs = sources(SOURCES);
    let now = Instant::now();
    let mut load = FixedLoad(0.1);
    let mut group = c.benchmark_group("limits");
    group.throughput(Throughput::Elements(1));

    // Steady state with 100,000 live sources: each iteration releases the oldest permit and
    // admits its source again (one admit + one release, all checks on).
    {
        let (mut limits, svc, live) = one_permit_per_source(&addrs, 10, now);
        let mut live = VecDeque::from(live);
        group.bench_function("admit_release_100k_live_sources", |b| {
            b.iter(|| {
                let oldest = live.pop_front().expect("non-empty");
                let peer = oldest.peer();
                drop(oldest);
                let permit = limits
                    .admit(&svc, Request::new(peer, now), &mut load)
                    .expect("admitted");
                live.push_back(black_box(permit));
            })
        });
    }

    // Refusals: every source already holds its one allowed server.
    {
        let (mut limits, svc, _live) = one_permit_per_source(&addrs, 1, now);
        let mut i = 0;
        group.bench_function("refuse_per_source_100k_live_sources", |b| {
            b.iter(|| {
                i = (i + 1) % SOURCES;
                let r = limits.admit(&svc, Request::new(Some(addrs[i]), now), &mut load);
                black_box(r.is_err())
            })
        });
    }

    // A flood of 100,000 distinct sources served inline: admit and release at once, so each
    // decision inserts and removes its per-source entry.
    {
        let mut limits = Limits::new(global(), now);
        let svc = limits.add_service(all_limits(10));
        let mut i = 0;
        group.bench_function("admit_inline_100k_distinct_sources", |b| {
            b.iter(|| {
                i = (i + 1) % SOURCES;
                let permit = limits.admit(&svc, Request::new(Some(addrs[i]), now), &mut load);
                black_box(permit.is_ok())
            })
        });
    }

    // The SENSOR deny list full (10,240 addresses); half of the checked sources are listed.
    {
        let mut limits = Limits::new(global(), now);
        let trap =
            limits.add_service(ServiceLimits::new("trap").with_sensor(Some(DenyTime::Forever)));
        let svc = limits.add_service(all_limits(10));
        for &a in addrs.iter().step_by(2).take(MAX_GLOBAL_NO_ACCESS) {
            let _ = limits.check_address(&trap, Some(a), now);
        }
        let mut i = 0;
        group.bench_function("check_address_10240_banned", |b| {
            b.iter(|| {
                i = (i + 1) % (2 * MAX_GLOBAL_NO_ACCESS);
                black_box(limits.check_address(&svc, Some(addrs[i]), now).is_err())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
