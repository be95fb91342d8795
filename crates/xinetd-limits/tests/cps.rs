//! cps deactivation and re-activation (F-310, F-311, F-312) and the xinetd-org issue 21 fix.

mod util;

use std::time::Duration;

use util::{idle, ip, limits, secs, service};
use xinetd_limits::{Cps, Event, GlobalLimits, Level, Reason, Request, ServiceLimits};

#[test]
fn trip_deactivates_with_xinetds_message() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("echo").with_cps(Cps::new(2, 3)));
    let peer = Some(ip("127.0.0.1"));
    let _a = l
        .admit(&svc, Request::new(peer, t), &mut idle())
        .expect("1st");
    let _b = l
        .admit(&svc, Request::new(peer, t), &mut idle())
        .expect("2nd");
    let r = l
        .admit(&svc, Request::new(peer, t), &mut idle())
        .unwrap_err();
    assert_eq!(r.reason, Reason::Cps);
    assert_eq!(r.reason.as_str(), "connections per second");
    let d = r.deactivation.clone().expect("deactivation");
    assert_eq!(d.service, svc.id());
    assert_eq!(d.until, t + secs(3));
    assert_eq!(d.wait, secs(3));
    assert_eq!(d.message.level, Level::Err);
    assert_eq!(d.message.function, "service_stop");
    assert_eq!(
        d.message.text,
        "Deactivating service echo due to excessive incoming connections.  Restarting in 3 seconds."
    );
    assert_eq!(r.messages().collect::<Vec<_>>(), [&d.message]);
    assert_eq!(l.suspended_until(&svc), Some(t + secs(3)));
    assert_eq!(l.next_deadline(), Some(t + secs(3)));
    assert_eq!(l.stats().suspended, 1);
}

#[test]
fn default_cps_trips_on_the_51st_connection_in_one_second() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("x"));
    assert_eq!(Cps::default(), Cps::new(50, 10));
    for i in 0..50 {
        let p = l.admit(
            &svc,
            Request::new(None, t + Duration::from_millis(i * 10)),
            &mut idle(),
        );
        assert!(p.is_ok(), "request {} refused", i + 1);
    }
    let r = l
        .admit(
            &svc,
            Request::new(None, t + Duration::from_millis(900)),
            &mut idle(),
        )
        .unwrap_err();
    let d = r.deactivation.expect("51st trips");
    assert!(d.message.text.ends_with("Restarting in 10 seconds."));
}

#[test]
fn requests_during_the_pause_are_refused_without_a_new_message() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("x").with_cps(Cps::new(1, 5)));
    let _ = l.admit(&svc, Request::new(None, t), &mut idle());
    let first = l
        .admit(&svc, Request::new(None, t), &mut idle())
        .unwrap_err();
    assert!(first.deactivation.is_some());
    for s in 0..5 {
        let r = l
            .admit(&svc, Request::new(None, t + secs(s)), &mut idle())
            .unwrap_err();
        assert_eq!(r.reason, Reason::Cps);
        assert!(r.deactivation.is_none() && r.log.is_none());
    }
}

#[test]
fn tick_reactivates_at_the_deadline_with_xinetds_messages() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("daytime").with_cps(Cps::new(1, 4)));
    let _ = l.admit(&svc, Request::new(None, t), &mut idle());
    assert!(l.admit(&svc, Request::new(None, t), &mut idle()).is_err());
    assert!(l.tick(t + Duration::from_millis(3999)).is_empty());
    assert_eq!(l.suspended_until(&svc), Some(t + secs(4)));
    let events = l.tick(t + secs(4));
    let [Event::Reactivate(re)] = events.as_slice() else {
        panic!("expected one reactivation, got {events:?}")
    };
    assert_eq!(re.service, svc.id());
    assert_eq!(re.name, "daytime");
    let ok = re.activated_message();
    assert_eq!((ok.level, ok.function), (Level::Err, "cps_service_restart"));
    assert_eq!(ok.text, "Activating service daytime");
    assert_eq!(re.failed_message().text, "Error activating service daytime");
    assert_eq!(l.suspended_until(&svc), None);
    assert_eq!(l.next_deadline(), None);
    assert!(l.tick(t + secs(100)).is_empty());
    // Active again: a request a full window later is admitted.
    assert!(l
        .admit(&svc, Request::new(None, t + secs(10)), &mut idle())
        .is_ok());
}

#[test]
fn the_counter_survives_the_pause() {
    // F-311: the restart does not reset n/t0. cps = 2 1: trip at t=0 with n=3; at t=1 the
    // window (1 < rate 2) is still open, n=4, 4/1 > 2 trips again at once.
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("x").with_cps(Cps::new(2, 1)));
    for _ in 0..2 {
        let _ = l
            .admit(&svc, Request::new(None, t), &mut idle())
            .expect("ok");
    }
    assert!(l.admit(&svc, Request::new(None, t), &mut idle()).is_err());
    assert_eq!(l.tick(t + secs(1)).len(), 1);
    let r = l
        .admit(&svc, Request::new(None, t + secs(1)), &mut idle())
        .unwrap_err();
    assert!(
        r.deactivation.is_some(),
        "tripped again right after the restart"
    );
    // Two seconds later the window (2 >= rate) resets.
    assert_eq!(l.tick(t + secs(2)).len(), 1);
    assert!(l
        .admit(&svc, Request::new(None, t + secs(3)), &mut idle())
        .is_ok());
}

/// xinetd-org issue 21: xinetd 2.3.15.3's `svc_activate` zeroes the running-server count when
/// a cps pause ends, so `instances` stops being enforced for the servers still running.
#[test]
fn cps_reactivation_keeps_the_running_instance_count() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(
        ServiceLimits::new("ftp")
            .with_instances(Some(2))
            .with_cps(Cps::new(2, 2)),
    );
    let a = l
        .admit(&svc, Request::new(Some(ip("10.0.0.1")), t), &mut idle())
        .expect("1");
    let _b = l
        .admit(&svc, Request::new(Some(ip("10.0.0.2")), t), &mut idle())
        .expect("2");
    let r = l
        .admit(&svc, Request::new(Some(ip("10.0.0.3")), t), &mut idle())
        .unwrap_err();
    assert!(r.deactivation.is_some());
    assert_eq!(l.tick(t + secs(2)).len(), 1);
    assert_eq!(l.running(&svc), 2);
    // t+4: the cps window has reset; instances is still full.
    let r = l.admit(
        &svc,
        Request::new(Some(ip("10.0.0.3")), t + secs(4)),
        &mut idle(),
    );
    assert_eq!(r.unwrap_err().reason, Reason::ServiceLimit);
    drop(a);
    assert_eq!(l.running(&svc), 1);
    assert!(l
        .admit(
            &svc,
            Request::new(Some(ip("10.0.0.3")), t + secs(4)),
            &mut idle()
        )
        .is_ok());
}

#[test]
fn descriptor_exhaustion_uses_the_same_pause() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("imap").with_cps(Cps::new(0, 7)));
    let d = l.descriptors_exhausted(&svc, t);
    assert_eq!(
        d.message.text,
        "Deactivating service imap due to no available descriptors.  Restarting in 7 seconds."
    );
    assert_eq!(d.until, t + secs(7));
    assert_eq!(
        l.admit(&svc, Request::new(None, t), &mut idle())
            .unwrap_err()
            .reason,
        Reason::Cps
    );
    // A second exhaustion moves the deadline instead of adding a second timer.
    let d2 = l.descriptors_exhausted(&svc, t + secs(1));
    assert_eq!(d2.until, t + secs(8));
    assert_eq!(l.stats().suspended, 1);
    assert!(l.tick(t + secs(7)).is_empty());
    assert_eq!(l.tick(t + secs(8)).len(), 1);
}

#[test]
fn reload_restarts_the_counter_but_keeps_the_pause() {
    let (mut l, t) = limits(GlobalLimits::default());
    let limits_x = ServiceLimits::new("x").with_cps(Cps::new(2, 5));
    let svc = l.add_service(limits_x.clone());
    for _ in 0..2 {
        let _ = l
            .admit(&svc, Request::new(None, t), &mut idle())
            .expect("ok");
    }
    // F-864: the counter lives in the swapped configuration, so it restarts from zero.
    l.update_service(&svc, limits_x.clone());
    for _ in 0..2 {
        let _ = l
            .admit(&svc, Request::new(None, t), &mut idle())
            .expect("counter was reset");
    }
    assert!(l.admit(&svc, Request::new(None, t), &mut idle()).is_err());
    l.update_service(&svc, limits_x);
    assert_eq!(l.suspended_until(&svc), Some(t + secs(5)));
    assert_eq!(l.tick(t + secs(5)).len(), 1);
}

#[test]
fn removing_a_service_cancels_its_reactivation() {
    let (mut l, t) = limits(GlobalLimits::default());
    let svc = l.add_service(ServiceLimits::new("x").with_cps(Cps::new(1, 5)));
    let other = l.add_service(service("other"));
    let _ = l.admit(&svc, Request::new(None, t), &mut idle());
    assert!(l.admit(&svc, Request::new(None, t), &mut idle()).is_err());
    assert!(l.next_deadline().is_some());
    l.remove_service(svc);
    assert_eq!(l.next_deadline(), None);
    assert!(l.tick(t + secs(10)).is_empty());
    assert!(l.admit(&other, Request::new(None, t), &mut idle()).is_ok());
}

#[test]
fn pauses_of_several_services_are_reported_in_time_order() {
    let (mut l, t) = limits(GlobalLimits::default());
    let slow = l.add_service(ServiceLimits::new("slow").with_cps(Cps::new(1, 9)));
    let fast = l.add_service(ServiceLimits::new("fast").with_cps(Cps::new(1, 2)));
    for key in [&slow, &fast] {
        let _ = l.admit(key, Request::new(None, t), &mut idle());
        assert!(l.admit(key, Request::new(None, t), &mut idle()).is_err());
    }
    assert_eq!(l.next_deadline(), Some(t + secs(2)));
    let names: Vec<String> = l
        .tick(t + secs(60))
        .into_iter()
        .map(|e| match e {
            Event::Reactivate(r) => r.name,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(names, ["fast", "slow"]);
}
