//! `Limits::admit`: each parent-side rule, its FAIL word, and xinetd's checking order (§4).

mod util;

use std::cell::Cell;

use util::{idle, ip, limits, secs, service};
use xinetd_limits::{Cps, FixedLoad, GlobalLimits, Level, MaxLoad, Reason, Request, ServiceLimits};

#[test]
fn reason_words_are_xinetds() {
    let words: Vec<&str> = [
        Reason::Cps,
        Reason::Load,
        Reason::Time,
        Reason::ServiceLimit,
        Reason::PerSourceLimit,
        Reason::ProcessLimit,
        Reason::Address,
    ]
    .iter()
    .map(|r| r.as_str())
    .collect();
    assert_eq!(
        words,
        [
            "connections per second",
            "load",
            "time",
            "service_limit",
            "per_source_limit",
            "process_limit",
            "address"
        ]
    );
    assert_eq!(Reason::ServiceLimit.to_string(), "service_limit");
}

#[test]
fn instances_counts_running_servers_of_the_service() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("ftp").with_instances(Some(2)));
    let other = l.add_service(service("telnet").with_instances(Some(2)));
    let a = l.admit(&svc, Request::new(Some(ip("10.0.0.1")), t), &mut idle());
    let b = l.admit(&svc, Request::new(Some(ip("10.0.0.2")), t), &mut idle());
    assert!(a.is_ok() && b.is_ok());
    let c = l.admit(&svc, Request::new(Some(ip("10.0.0.3")), t), &mut idle());
    assert_eq!(c.unwrap_err().reason, Reason::ServiceLimit);
    // Another service has its own count.
    let d = l.admit(&other, Request::new(Some(ip("10.0.0.3")), t), &mut idle());
    assert!(d.is_ok());
    assert_eq!(l.running(&svc), 2);
    drop(a);
    assert_eq!(l.running(&svc), 1);
    let e = l.admit(&svc, Request::new(Some(ip("10.0.0.3")), t), &mut idle());
    assert!(e.is_ok());
}

#[test]
fn instances_zero_refuses_everything() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("daytime").with_instances(Some(0)));
    let r = l.admit(&svc, Request::new(Some(ip("127.0.0.1")), t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::ServiceLimit);
}

#[test]
fn unlimited_instances_never_refuse() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("echo"));
    let permits: Vec<_> = (0..1000u32)
        .map(|i| {
            let peer = std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.admit(&svc, Request::new(Some(peer), t), &mut idle())
                .expect("unlimited")
        })
        .collect();
    assert_eq!(l.running(&svc), 1000);
    drop(permits);
    assert_eq!(l.running(&svc), 0);
}

#[test]
fn per_source_counts_per_client_address() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("ssh").with_per_source(Some(2)));
    let a = ip("127.0.0.2");
    let b = ip("127.0.0.3");
    let p1 = l
        .admit(&svc, Request::new(Some(a), t), &mut idle())
        .expect("1st");
    let _p2 = l
        .admit(&svc, Request::new(Some(a), t), &mut idle())
        .expect("2nd");
    let r = l.admit(&svc, Request::new(Some(a), t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::PerSourceLimit);
    let _p3 = l
        .admit(&svc, Request::new(Some(b), t), &mut idle())
        .expect("other source");
    assert_eq!(l.running_from(&svc, a), 2);
    assert_eq!(l.running_from(&svc, b), 1);
    p1.release();
    assert_eq!(l.running_from(&svc, a), 1);
    assert!(l.admit(&svc, Request::new(Some(a), t), &mut idle()).is_ok());
}

#[test]
fn per_source_is_per_service() {
    let (mut l, t) = limits(GlobalLimits::default());
    let one = l.add_service(service("one").with_per_source(Some(1)));
    let two = l.add_service(service("two").with_per_source(Some(1)));
    let a = ip("::1");
    let _p = l
        .admit(&one, Request::new(Some(a), t), &mut idle())
        .expect("one");
    assert!(l.admit(&two, Request::new(Some(a), t), &mut idle()).is_ok());
}

#[test]
fn per_source_zero_refuses_everything() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_per_source(Some(0)));
    let r = l.admit(&svc, Request::new(Some(ip("127.0.0.1")), t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::PerSourceLimit);
}

#[test]
fn per_source_is_skipped_without_an_address() {
    // tcp wait = yes services have no peer address (F-213): xinetd skips per_source.
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_per_source(Some(0)));
    let p = l
        .admit(&svc, Request::new(None, t), &mut idle())
        .expect("no address");
    assert_eq!(p.peer(), None);
    assert_eq!(l.stats().sources_tracked, 0);
}

#[test]
fn per_source_treats_ipv4_mapped_as_the_same_host() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_per_source(Some(1)));
    let _p = l
        .admit(
            &svc,
            Request::new(Some(ip("::ffff:127.0.0.2")), t),
            &mut idle(),
        )
        .expect("first");
    let r = l.admit(&svc, Request::new(Some(ip("127.0.0.2")), t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::PerSourceLimit);
}

#[test]
fn process_limit_counts_servers_of_all_services() {
    // -limit 3: refuse when running + 1 > 3 (F-304).
    let (mut l, t) = limits(GlobalLimits::new(3, None));
    let a = l.add_service(service("a"));
    let b = l.add_service(service("b"));
    let p1 = l
        .admit(&a, Request::new(Some(ip("10.0.0.1")), t), &mut idle())
        .expect("1");
    let _p2 = l
        .admit(&b, Request::new(Some(ip("10.0.0.1")), t), &mut idle())
        .expect("2");
    let _p3 = l
        .admit(&a, Request::new(Some(ip("10.0.0.2")), t), &mut idle())
        .expect("3");
    let r = l.admit(&b, Request::new(Some(ip("10.0.0.3")), t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::ProcessLimit);
    assert_eq!(l.stats().running_total, 3);
    drop(p1);
    assert!(l
        .admit(&b, Request::new(Some(ip("10.0.0.3")), t), &mut idle())
        .is_ok());
}

#[test]
fn process_limit_reserves_two_processes_for_intercepted_services() {
    let (mut l, t) = limits(GlobalLimits::new(2, None));
    let plain = l.add_service(service("plain"));
    let intercepted = l.add_service(service("icpt").with_intercepted(true));
    let _p = l
        .admit(&plain, Request::new(None, t), &mut idle())
        .expect("1 of 2");
    // 1 running + 2 > 2.
    let r = l.admit(&intercepted, Request::new(None, t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::ProcessLimit);
    // 1 running + 1 <= 2.
    assert!(l.admit(&plain, Request::new(None, t), &mut idle()).is_ok());
}

#[test]
fn process_limit_zero_means_no_limit() {
    let g = GlobalLimits::new(0, None);
    assert_eq!(g.process_limit, None);
    let (mut l, t) = limits(g);
    let a = l.add_service(service("a"));
    let held: Vec<_> = (0..100)
        .map(|_| {
            l.admit(&a, Request::new(None, t), &mut idle())
                .expect("no limit")
        })
        .collect();
    assert_eq!(l.stats().running_total, 100);
    drop(held);
    assert_eq!(l.global().process_limit, None);
    l.set_global(GlobalLimits::new(1, Some(g.logprocs)));
    let _one = l
        .admit(&a, Request::new(None, t), &mut idle())
        .expect("1 of 1");
    let r = l.admit(&a, Request::new(None, t), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::ProcessLimit);
}

#[test]
fn max_load_refuses_at_or_above_the_threshold_and_logs() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_max_load(Some(MaxLoad::new(2.5).expect("valid"))));
    let peer = Some(ip("127.0.0.2"));
    assert!(l
        .admit(&svc, Request::new(peer, t), &mut FixedLoad(2.49))
        .is_ok());
    let r = l
        .admit(&svc, Request::new(peer, t), &mut FixedLoad(2.5))
        .unwrap_err();
    assert_eq!(r.reason, Reason::Load);
    let log = r.log.clone().expect("load refusal logs");
    assert_eq!(log.level, Level::Err);
    assert_eq!(log.function, "xinetd");
    assert_eq!(
        log.text,
        "refused connect from 127.0.0.2 due to excessive load"
    );
    assert_eq!(r.messages().count(), 1);

    let r = l
        .admit(&svc, Request::new(None, t), &mut FixedLoad(9.0))
        .unwrap_err();
    assert_eq!(
        r.log.expect("logged").text,
        "refused connect from <no address> due to excessive load"
    );
    let mapped = Some(ip("::ffff:10.1.2.3"));
    let r = l
        .admit(&svc, Request::new(mapped, t), &mut FixedLoad(9.0))
        .unwrap_err();
    assert_eq!(
        r.log.expect("logged").text,
        "refused connect from ::ffff:10.1.2.3 due to excessive load"
    );
}

#[test]
fn unknown_load_never_refuses() {
    // xinetd's reader returns -1 on failure, which is below any max_load.
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_max_load(Some(MaxLoad::new(0.001).expect("valid"))));
    let mut unknown = || None;
    assert!(l.admit(&svc, Request::new(None, t), &mut unknown).is_ok());
}

#[test]
fn load_is_only_read_for_services_with_max_load() {
    let (mut l, t) = limits(GlobalLimits::default());
    let plain = l.add_service(service("plain"));
    let loaded =
        l.add_service(service("loaded").with_max_load(Some(MaxLoad::new(1.0).expect("valid"))));
    let reads = Cell::new(0);
    let mut source = || {
        reads.set(reads.get() + 1);
        Some(0.5)
    };
    assert!(l.admit(&plain, Request::new(None, t), &mut source).is_ok());
    assert_eq!(reads.get(), 0);
    assert!(l.admit(&loaded, Request::new(None, t), &mut source).is_ok());
    assert_eq!(reads.get(), 1);
}

#[test]
fn max_load_must_be_positive_and_finite() {
    assert!(MaxLoad::new(0.0).is_err());
    assert!(MaxLoad::new(-1.0).is_err());
    assert!(MaxLoad::new(f64::NAN).is_err());
    assert!(MaxLoad::new(f64::INFINITY).is_err());
    let e = MaxLoad::new(0.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "max_load must be a finite number greater than 0, got 0"
    );
    assert_eq!(MaxLoad::new(0.5).expect("valid").get(), 0.5);
}

#[test]
fn access_times_verdict_is_reported_as_time() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x"));
    let r = l.admit(&svc, Request::new(None, t).access_times(false), &mut idle());
    assert_eq!(r.unwrap_err().reason, Reason::Time);
    assert!(l
        .admit(&svc, Request::new(None, t).access_times(true), &mut idle())
        .is_ok());
}

/// A service where every limit is already full, so that the first check in xinetd's order
/// decides the reason.
#[test]
fn checking_order_is_cps_load_time_instances_per_source_process() {
    let (mut l, t) = limits(GlobalLimits::new(1, None));
    let peer = Some(ip("127.0.0.2"));
    let svc = l.add_service(
        ServiceLimits::new("x")
            .with_instances(Some(1))
            .with_per_source(Some(1))
            .with_cps(Cps::new(1, 60))
            .with_max_load(Some(MaxLoad::new(1.0).expect("valid"))),
    );
    // Fill instances, per_source and the process table with one permit.
    let _held = l
        .admit(&svc, Request::new(peer, t), &mut idle())
        .expect("first");

    // Each step removes the earliest failing condition; the reason moves down the list.
    // cps: second request in the same second with rate 1 trips (2/1 > 1).
    let r = l.admit(
        &svc,
        Request::new(peer, t).access_times(false),
        &mut FixedLoad(5.0),
    );
    assert_eq!(r.unwrap_err().reason, Reason::Cps);

    // A fresh service without cps but the same full state: load comes next.
    let mut next = ServiceLimits::new("y")
        .with_instances(Some(0))
        .with_per_source(Some(0))
        .with_cps(Cps::new(0, 10))
        .with_max_load(Some(MaxLoad::new(1.0).expect("valid")));
    let y = l.add_service(next.clone());
    let order = |l: &mut xinetd_limits::Limits, y: &xinetd_limits::ServiceKey| {
        l.admit(
            y,
            Request::new(peer, t + secs(1)).access_times(false),
            &mut FixedLoad(5.0),
        )
        .unwrap_err()
        .reason
    };
    assert_eq!(order(&mut l, &y), Reason::Load);
    next.max_load = None;
    l.update_service(&y, next.clone());
    assert_eq!(order(&mut l, &y), Reason::Time);
    // Drop the access_times failure: instances comes next.
    let admit = |l: &mut xinetd_limits::Limits, y: &xinetd_limits::ServiceKey| {
        l.admit(y, Request::new(peer, t + secs(1)), &mut FixedLoad(5.0))
            .unwrap_err()
            .reason
    };
    assert_eq!(admit(&mut l, &y), Reason::ServiceLimit);
    next.instances = None;
    l.update_service(&y, next.clone());
    assert_eq!(admit(&mut l, &y), Reason::PerSourceLimit);
    next.per_source = None;
    l.update_service(&y, next.clone());
    // The process table (-limit 1) is full with the first service's permit.
    assert_eq!(admit(&mut l, &y), Reason::ProcessLimit);
}

#[test]
fn a_refusal_does_not_count() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(service("x").with_per_source(Some(1)));
    let a = Some(ip("127.0.0.2"));
    let _p = l
        .admit(&svc, Request::new(a, t), &mut idle())
        .expect("first");
    for _ in 0..10 {
        assert!(l.admit(&svc, Request::new(a, t), &mut idle()).is_err());
    }
    assert_eq!(l.running(&svc), 1);
    assert_eq!(l.stats().running_total, 1);
}

#[test]
fn max_load_with_the_real_proc_loadavg() {
    let mut reader = xinetd_limits::ProcLoadAvg::new();
    let Ok(current) = reader.read() else {
        println!("skipping: {} is not readable here", reader.path().display());
        return;
    };
    let (mut l, t) = limits(GlobalLimits::default());
    let generous =
        l.add_service(service("generous").with_max_load(Some(MaxLoad::new(1e9).expect("valid"))));
    assert!(l
        .admit(&generous, Request::new(None, t), &mut reader)
        .is_ok());
    // The file changes every 5 s and decays by at most ~8 % per update, so a load of 0.05 now
    // is still above zero when `admit` reads it again.
    if current >= 0.05 {
        let strict = l
            .add_service(service("strict").with_max_load(Some(MaxLoad::new(1e-6).expect("valid"))));
        let source: &mut dyn xinetd_limits::LoadSource = &mut reader;
        let r = l.admit(&strict, Request::new(None, t), source);
        assert_eq!(r.unwrap_err().reason, Reason::Load);
    } else {
        println!("load average {current} is too close to 0; the refusal half is skipped");
    }
    assert!(reader.take_error().is_none());
}
