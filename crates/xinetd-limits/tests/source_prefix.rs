//! `source_prefix` (extension): per_source counts and SENSOR bans key on a network.

use std::net::IpAddr;
use std::time::Instant;

use xinetd_limits::{
    DenyTime, FixedLoad, GlobalLimits, Limits, Reason, Request, ServiceLimits, SourcePrefix,
};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

#[test]
fn per_source_counts_a_prefix_as_one_client() {
    let t = Instant::now();
    let mut l = Limits::new(GlobalLimits::default(), t);
    let prefix = SourcePrefix::new(24, 64).expect("valid");
    let svc = l.add_service(
        ServiceLimits::new("s")
            .with_per_source(Some(2))
            .with_source_prefix(prefix),
    );
    let mut load = FixedLoad(0.0);
    let mut admit = |a: &str| l.admit(&svc, Request::new(Some(ip(a)), t), &mut load);
    let p1 = admit("2001:db8:1:2::1").expect("first of the /64");
    let p2 = admit("2001:db8:1:2:ffff::2").expect("second of the /64");
    let r = admit("2001:db8:1:2:abcd::3").expect_err("third of the /64");
    assert_eq!(r.reason, Reason::PerSourceLimit);
    let other = admit("2001:db8:1:3::1").expect("another /64 is another client");
    let v4a = admit("192.0.2.1").expect("v4");
    let v4b = admit("::ffff:192.0.2.200").expect("mapped v4 in the same /24");
    assert_eq!(
        admit("192.0.2.77").expect_err("third of the /24").reason,
        Reason::PerSourceLimit
    );
    drop((p1, p2, other, v4a, v4b));
    assert_eq!(l.stats().sources_tracked, 0, "every count given back");
}

#[test]
fn a_sensor_bans_its_prefix_and_other_prefixes_stay_exact() {
    let t = Instant::now();
    let mut l = Limits::new(GlobalLimits::default(), t);
    let trap = l.add_service(
        ServiceLimits::new("trap")
            .with_sensor(Some(DenyTime::Forever))
            .with_source_prefix(SourcePrefix::new(32, 64).expect("valid")),
    );
    let exact_trap =
        l.add_service(ServiceLimits::new("trap2").with_sensor(Some(DenyTime::Forever)));
    let plain = l.add_service(ServiceLimits::new("plain"));
    let r = l
        .check_address(&trap, Some(ip("2001:db8:5:6::1")), t)
        .expect_err("a sensor refuses");
    assert_eq!(
        r.log.expect("logged").text,
        "Adding 2001:db8:5:6::/64 to the global_no_access list for -1 minutes"
    );
    assert!(l
        .check_address(&plain, Some(ip("2001:db8:5:6:9::9")), t)
        .is_err());
    assert!(l
        .check_address(&plain, Some(ip("2001:db8:5:7::1")), t)
        .is_ok());
    let _ = l.check_address(&exact_trap, Some(ip("10.9.9.9")), t);
    assert!(l.is_banned(ip("10.9.9.9")));
    assert!(!l.is_banned(ip("10.9.9.8")), "an exact ban is one address");
    assert!(l.is_banned(ip("2001:db8:5:6::abcd")));
    assert_eq!(Reason::Address.as_str(), "address");
}

#[test]
fn unix_clients_count_by_uid() {
    let t = Instant::now();
    let mut l = Limits::new(GlobalLimits::default(), t);
    let svc = l.add_service(ServiceLimits::new("u").with_per_source(Some(1)));
    let mut load = FixedLoad(0.0);
    let mut admit = |uid: u32| l.admit(&svc, Request::new(None, t).uid(Some(uid)), &mut load);
    let a = admit(1000).expect("first of uid 1000");
    assert_eq!(
        admit(1000).expect_err("second of uid 1000").reason,
        Reason::PerSourceLimit
    );
    let b = admit(1001).expect("another uid");
    drop((a, b));
    assert_eq!(l.stats().sources_tracked, 0);
    // No address and no uid (tcp wait = yes): per_source does not apply, as in xinetd.
    let c = l
        .admit(&svc, Request::new(None, t), &mut load)
        .expect("no source");
    let d = l
        .admit(&svc, Request::new(None, t), &mut load)
        .expect("no source");
    drop((c, d));
}
