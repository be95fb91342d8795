//! SENSOR services and the global deny list (F-240..F-243, F-137).

mod util;

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use util::{idle, ip, limits, secs, service};
use xinetd_limits::{
    DenyTime, Event, GlobalLimits, Level, Limits, Reason, Request, ServiceKey, MAX_GLOBAL_NO_ACCESS,
};

fn minutes(n: u32) -> DenyTime {
    DenyTime::Minutes(NonZeroU32::new(n).expect("non-zero"))
}

fn sensor(l: &mut Limits, deny: DenyTime) -> ServiceKey {
    l.add_service(service("sensor").with_sensor(Some(deny)))
}

fn log_texts(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| match e {
            Event::Log(m) => m.text.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn a_sensor_hit_fails_and_bans_the_source_everywhere() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(5));
    let ftp = l.add_service(service("ftp"));
    let attacker = ip("127.0.0.2");

    let r = l.check_address(&trap, Some(attacker), t).unwrap_err();
    assert_eq!(r.reason, Reason::Address);
    let log = r.log.expect("CRIT line");
    assert_eq!(log.level, Level::Crit);
    assert_eq!(log.function, "process_sensor");
    assert_eq!(
        log.text,
        "Adding 127.0.0.2 to the global_no_access list for 5 minutes"
    );
    assert!(l.is_banned(attacker));
    let r = l.check_address(&ftp, Some(attacker), t).unwrap_err();
    assert_eq!((r.reason, r.log), (Reason::Address, None));
    assert!(l.check_address(&ftp, Some(ip("127.0.0.3")), t).is_ok());
    // The sensor keeps failing for a listed address, without a second CRIT line.
    let again = l.check_address(&trap, Some(attacker), t).unwrap_err();
    assert_eq!((again.reason, again.log), (Reason::Address, None));
    assert_eq!(l.stats().banned, 1);
}

#[test]
fn the_ban_lasts_until_the_first_scrub_after_expiry() {
    // F-242: expiry = first trip + 60·N; a 60-second scrub timer removes expired entries.
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(1));
    let a = ip("10.0.0.1");
    let b = ip("10.0.0.2");
    let _ = l.check_address(&trap, Some(a), t);
    assert_eq!(l.next_deadline(), Some(t + secs(60)));
    // b trips 30 s later; its expiry (t+90) falls between two scrubs.
    let _ = l.check_address(&trap, Some(b), t + secs(30));
    assert_eq!(l.next_deadline(), Some(t + secs(60)));

    let events = l.tick(t + secs(60));
    assert_eq!(
        log_texts(&events),
        ["At least 1 DENY_TIME has expired, global_no_access list updated"]
    );
    assert!(!l.is_banned(a));
    assert!(l.is_banned(b));
    assert_eq!(l.next_deadline(), Some(t + secs(120)));
    // Past b's expiry but before the next scrub: still banned.
    assert!(l.tick(t + secs(100)).is_empty());
    assert!(l.is_banned(b));

    let events = l.tick(t + secs(120));
    assert_eq!(
        log_texts(&events),
        [
            "At least 1 DENY_TIME has expired, global_no_access list updated",
            "global_no_access list is empty."
        ]
    );
    match &events[0] {
        Event::Log(m) => {
            assert_eq!(
                (m.level, m.function),
                (Level::Info, "scrub_global_no_access_list")
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!l.is_banned(b));
    assert_eq!(l.next_deadline(), None);
}

#[test]
fn a_scrub_with_nothing_expired_is_silent() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(3));
    let _ = l.check_address(&trap, Some(ip("10.0.0.1")), t);
    assert!(l.tick(t + secs(60)).is_empty());
    assert!(l.tick(t + secs(120)).is_empty());
    assert_eq!(l.tick(t + secs(180)).len(), 2);
}

#[test]
fn deny_time_never_only_fails_the_request() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, DenyTime::Never);
    let other = l.add_service(service("other"));
    assert_eq!(DenyTime::default(), DenyTime::Never);
    let r = l.check_address(&trap, Some(ip("10.0.0.1")), t).unwrap_err();
    assert_eq!((r.reason, r.log), (Reason::Address, None));
    assert!(l.check_address(&other, Some(ip("10.0.0.1")), t).is_ok());
    assert_eq!(l.next_deadline(), None);
}

#[test]
fn deny_time_forever_never_expires() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, DenyTime::Forever);
    let r = l.check_address(&trap, Some(ip("10.9.8.7")), t).unwrap_err();
    assert_eq!(
        r.log.expect("logged").text,
        "Adding 10.9.8.7 to the global_no_access list for -1 minutes"
    );
    for minute in 1..=100 {
        assert!(l.tick(t + secs(60 * minute)).is_empty());
    }
    assert!(l.is_banned(ip("10.9.8.7")));
}

/// xinetd 2.3.15.3 never extends a ban on a repeat hit (F-242, F-972); its sensor.c sets out
/// to keep the later expiry, which is what we do.
#[test]
fn repeat_sensor_hit_extends_the_ban() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(1));
    let a = ip("10.0.0.1");
    let _ = l.check_address(&trap, Some(a), t);
    let again = l.check_address(&trap, Some(a), t + secs(50)).unwrap_err();
    assert_eq!(again.log, None);
    // Original expiry t+60 has passed at the first scrub; the extended one (t+110) has not.
    assert!(l.tick(t + secs(60)).is_empty());
    assert!(l.is_banned(a));
    assert_eq!(l.tick(t + secs(120)).len(), 2);
    assert!(!l.is_banned(a));
}

#[test]
fn a_forever_hit_makes_a_timed_ban_permanent() {
    let (mut l, t) = limits(GlobalLimits::default());
    let timed = sensor(&mut l, minutes(1));
    let forever = sensor(&mut l, DenyTime::Forever);
    let a = ip("10.0.0.1");
    let _ = l.check_address(&timed, Some(a), t);
    let _ = l.check_address(&forever, Some(a), t);
    let _ = l.check_address(&timed, Some(a), t);
    assert!(l.tick(t + secs(600)).is_empty());
    assert!(l.is_banned(a));
}

/// xinetd stores the address text as it arrived, so a client banned through a dual-stack
/// sensor (`::ffff:a.b.c.d`) is still allowed on `IPv4` services (F-243, F-972). A ban here
/// covers the host in both forms.
#[test]
fn ban_covers_ipv4_and_ipv4_mapped_forms() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(10));
    let v4_service = l.add_service(service("v4"));
    let r = l
        .check_address(&trap, Some(ip("::ffff:192.0.2.7")), t)
        .unwrap_err();
    assert_eq!(
        r.log.expect("logged").text,
        "Adding ::ffff:192.0.2.7 to the global_no_access list for 10 minutes"
    );
    assert!(l
        .check_address(&v4_service, Some(ip("192.0.2.7")), t)
        .is_err());
    // And the other way round.
    let _ = l.check_address(&trap, Some(ip("192.0.2.8")), t);
    assert!(l.is_banned(ip("::ffff:192.0.2.8")));
    // Native IPv6 addresses are distinct.
    assert!(!l.is_banned(ip("::c000:207")));
}

#[test]
fn no_address_passes_even_a_sensor() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(1));
    assert!(l.check_address(&trap, None, t).is_ok());
    assert_eq!(l.stats().banned, 0);
}

#[test]
fn the_list_is_capped() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(1));
    let max = u32::try_from(MAX_GLOBAL_NO_ACCESS).expect("fits");
    for i in 0..max {
        let peer = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let r = l.check_address(&trap, Some(peer), t).unwrap_err();
        assert!(r.log.is_some());
    }
    assert_eq!(l.stats().banned, MAX_GLOBAL_NO_ACCESS);
    let extra = IpAddr::V4(Ipv4Addr::from(0x0b00_0000));
    let r = l.check_address(&trap, Some(extra), t).unwrap_err();
    assert_eq!(r.reason, Reason::Address);
    let log = r.log.expect("logged");
    assert_eq!(log.level, Level::Err);
    assert_eq!(log.text, "Maximum global_no_access count reached.");
    assert!(!l.is_banned(extra));
    assert_eq!(l.stats().banned, MAX_GLOBAL_NO_ACCESS);
    // Everything expires at the first scrub after a minute; memory is given back.
    assert_eq!(l.tick(t + secs(60)).len(), 2);
    let stats = l.stats();
    assert_eq!(stats.banned, 0);
    assert!(
        stats.banned_capacity <= 64,
        "capacity {}",
        stats.banned_capacity
    );
}

#[test]
fn the_list_survives_service_reloads() {
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, DenyTime::Forever);
    let _ = l.check_address(&trap, Some(ip("10.0.0.1")), t);
    l.remove_service(trap);
    let fresh = l.add_service(service("fresh"));
    assert!(l.check_address(&fresh, Some(ip("10.0.0.1")), t).is_err());
}

#[test]
fn sensor_services_pass_admit_like_any_inline_service() {
    // The parent-side checks run first; the sensor refusal comes from the address check.
    let (mut l, t) = limits(GlobalLimits::default());
    let trap = sensor(&mut l, minutes(1));
    let permit = l.admit(&trap, Request::new(Some(ip("10.0.0.1")), t), &mut idle());
    assert!(permit.is_ok());
}

#[test]
fn dgram_address_failures_from_one_source_are_logged_once_a_minute() {
    // F-314: same (IP, port) within 60 s of the last *logged* failure is not logged again.
    let (mut l, t) = limits(GlobalLimits::default());
    let udp = l.add_service(service("tftp"));
    let other = l.add_service(service("ntalk"));
    let a: std::net::SocketAddr = "10.0.0.1:4000".parse().expect("addr");
    let a_other_port: std::net::SocketAddr = "10.0.0.1:4001".parse().expect("addr");
    let log = |l: &mut Limits, key: &ServiceKey, peer, s| {
        l.report_dgram_address_failure(key, peer, t + secs(s))
    };
    assert!(log(&mut l, &udp, a, 0));
    assert!(!log(&mut l, &udp, a, 30));
    assert!(!log(&mut l, &udp, a, 60));
    assert!(log(&mut l, &udp, a, 61), "61 s after the logged failure");
    assert!(!log(&mut l, &udp, a, 100), "window restarted at 61");
    // Per service.
    assert!(log(&mut l, &other, a, 100));
    // Another port is another client; it replaces the remembered one.
    assert!(log(&mut l, &udp, a_other_port, 101));
    assert!(log(&mut l, &udp, a, 102));
    assert!(!log(&mut l, &udp, a, 103));
}
