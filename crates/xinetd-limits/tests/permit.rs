//! `Permit` and `IdentPermit`: counts are returned on release/drop; services removed by a
//! reload; `-logprocs`; memory after a flood of sources.

mod util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use util::{idle, ip, limits, service};
use xinetd_limits::{GlobalLimits, Limits, Reason, Request};

#[test]
fn release_and_drop_both_return_the_counts() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x"));
    let peer = ip("10.0.0.1");
    let a = l
        .admit(&svc, Request::new(Some(peer), t), &mut idle())
        .expect("a");
    let b = l
        .admit(&svc, Request::new(Some(peer), t), &mut idle())
        .expect("b");
    assert_eq!(a.service(), svc.id());
    assert_eq!(a.peer(), Some(peer));
    assert_eq!(l.running(&svc), 2);
    a.release();
    assert_eq!(l.running(&svc), 1);
    drop(b);
    assert_eq!(l.running(&svc), 0);
    assert_eq!(l.running_from(&svc, peer), 0);
    assert_eq!(l.stats().running_total, 0);
}

#[test]
fn a_permit_outliving_its_limits_is_harmless() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x"));
    let p = l
        .admit(&svc, Request::new(None, t), &mut idle())
        .expect("p");
    drop(l);
    drop(p);
}

#[test]
fn a_removed_service_keeps_counting_until_its_servers_exit() {
    // F-862: servers of a removed service are killed, and counted until they are reaped.
    let (mut l, t) = limits(GlobalLimits::new(2, None));
    let old = l.add_service(service("old"));
    let new = l.add_service(service("new"));
    let p1 = l
        .admit(&old, Request::new(Some(ip("10.0.0.1")), t), &mut idle())
        .expect("1");
    let p2 = l
        .admit(&old, Request::new(Some(ip("10.0.0.2")), t), &mut idle())
        .expect("2");
    l.remove_service(old);
    assert_eq!(l.stats().services, 2);
    let r = l.admit(&new, Request::new(None, t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::ProcessLimit);
    drop(p1);
    drop(p2);
    let stats = l.stats();
    assert_eq!(
        (stats.services, stats.running_total, stats.sources_tracked),
        (1, 0, 0)
    );
    assert!(l.admit(&new, Request::new(None, t), &mut idle()).is_ok());
}

#[test]
fn slots_of_removed_services_are_reused_without_confusion() {
    let (mut l, t) = limits(GlobalLimits::default());
    let old = l.add_service(service("old"));
    let old_id = old.id();
    let p = l
        .admit(&old, Request::new(None, t), &mut idle())
        .expect("p");
    l.remove_service(old);
    drop(p);
    let new = l.add_service(service("new").with_instances(Some(1)));
    assert_ne!(new.id(), old_id);
    let q = l
        .admit(&new, Request::new(None, t), &mut idle())
        .expect("q");
    assert_eq!(q.service(), new.id());
    assert_eq!(l.running(&new), 1);
    assert_eq!(l.stats().services, 1);
}

#[test]
fn lowering_a_limit_on_reload_does_not_touch_running_servers() {
    // F-863: running servers are not re-checked against the new limits.
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x"));
    let held: Vec<_> = (0..3)
        .map(|_| {
            l.admit(&svc, Request::new(None, t), &mut idle())
                .expect("ok")
        })
        .collect();
    l.update_service(&svc, service("x").with_instances(Some(1)));
    assert_eq!(l.running(&svc), 3);
    let r = l.admit(&svc, Request::new(None, t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::ServiceLimit);
    drop(held);
    assert!(l.admit(&svc, Request::new(None, t), &mut idle()).is_ok());
}

#[test]
fn ident_lookups_are_capped_by_logprocs() {
    let mut l = Limits::new(GlobalLimits::new(0, Some(2)), std::time::Instant::now());
    let a = l.ident_lookup().expect("1 of 2");
    let b = l.ident_lookup().expect("2 of 2");
    assert!(l.ident_lookup().is_none());
    assert_eq!(l.stats().ident_running, 2);
    a.release();
    let c = l.ident_lookup().expect("a slot was freed");
    drop((b, c));
    assert_eq!(l.stats().ident_running, 0);

    let mut none = Limits::new(GlobalLimits::new(0, Some(0)), std::time::Instant::now());
    assert!(none.ident_lookup().is_none());
}

#[test]
fn logprocs_defaults_to_15() {
    let g = GlobalLimits::default();
    assert_eq!(g.logprocs, 15);
    let mut l = Limits::new(g, std::time::Instant::now());
    let held: Vec<_> = std::iter::from_fn(|| l.ident_lookup()).take(100).collect();
    assert_eq!(held.len(), 15);
}

#[test]
fn ident_permits_do_not_count_as_servers() {
    let (mut l, t) = limits(GlobalLimits::new(1, Some(5)));
    let svc = l.add_service(service("x"));
    let _ident = l.ident_lookup().expect("ident");
    assert!(l.admit(&svc, Request::new(None, t), &mut idle()).is_ok());
}

#[test]
fn memory_follows_live_sources_not_sources_seen() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_per_source(Some(3)));
    let held: Vec<_> = (0..100_000u32)
        .map(|i| {
            let peer = if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(i))
            } else {
                IpAddr::V6(Ipv6Addr::from(u128::from(i) << 64))
            };
            l.admit(&svc, Request::new(Some(peer), t), &mut idle())
                .expect("admitted")
        })
        .collect();
    let busy = l.stats();
    assert_eq!(busy.sources_tracked, 100_000);
    assert!(busy.sources_capacity >= 100_000);
    drop(held);
    let idle_stats = l.stats();
    assert_eq!(idle_stats.sources_tracked, 0);
    assert_eq!(idle_stats.running_total, 0);
    assert!(
        idle_stats.sources_capacity <= 64,
        "capacity {} after the flood",
        idle_stats.sources_capacity
    );
}
