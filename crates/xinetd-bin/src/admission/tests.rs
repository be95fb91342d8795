//! The pipeline without sockets: every refusal reason, the check order, every wait and its
//! expiry, each path's checks, and the holds.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use xinetd_acl::{ClientName, HostsAccess, LocalTime, Resolved};
use xinetd_limits::{FixedLoad, GlobalLimits};
use xinetd_log::FailReason;

use super::*;
use crate::service::Service;

/// Services from a config text, as the daemon builds them (xinetd-conf, then adapt).
fn services(text: &str) -> Vec<Service> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("xinetd.conf");
    std::fs::write(&path, text).expect("write config");
    let env = xinetd_conf::Environment::system();
    let options = xinetd_conf::LoadOptions::new().admin_builtins(true);
    let loaded = xinetd_conf::load(&path, &env, &options).expect("config loads");
    let resolver = xinetd_acl::SystemResolver::new(Duration::from_secs(1));
    let mut cache = crate::adapt::LoadCache::default();
    let startup = xinetd_spawn::Environment::startup();
    loaded
        .config
        .services
        .into_iter()
        .map(|c| {
            crate::adapt::service(c, &startup, &resolver, &mut cache)
                .expect("service")
                .share()
        })
        .collect()
}

/// One internal echo service on 127.0.0.1 with `extra` attribute lines.
fn echo(extra: &str) -> Service {
    let text = format!(
        "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\
         \tprotocol = tcp\n\tport = 7\n\tbind = 127.0.0.1\n{extra}\n}}\n"
    );
    services(&text).remove(0)
}

struct Harness {
    p: Pipeline<u32>,
    now: Instant,
}

/// A pipeline whose clock says 12:00 and whose load is `load`, with libwrap rules.
fn harness(process_limit: u32, load: f64, allow: &str, deny: &str) -> Harness {
    let (rules, _) =
        HostsAccess::parse("hosts.allow", allow, "hosts.deny", deny).expect("hosts rules");
    let now = Instant::now();
    let p = Pipeline::new(
        GlobalLimits::new(process_limit, None),
        Box::new(FixedLoad(load)),
        Box::new(|| LocalTime::new(12, 0).expect("noon")),
        Wrappers::from_rules(rules),
        now,
    );
    Harness { p, now }
}

fn plain() -> Harness {
    harness(0, 0.0, "", "")
}

fn peer(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), 40000)
}

fn request(key: u64, svc: &Service, path: Path, from: &str, n: u32) -> Request<u32> {
    Request {
        key,
        svc: svc.clone(),
        path,
        peer: Some(peer(from)),
        local: Some("127.0.0.1:7".parse().expect("local")),
        credentials: None,
        carrier: n,
    }
}

impl Harness {
    fn add(&mut self, key: u64, svc: &Service) {
        self.p.register(key, svc.rt.limits.clone());
    }

    fn admit(&mut self, key: u64, svc: &Service, from: &str) -> Step<u32> {
        let r = request(key, svc, Path::Stream, from, 0);
        self.p.admit(r, self.now)
    }
}

/// The refusal's reason, or a description of the step.
fn refused(step: &Step<u32>) -> Result<FailReason, String> {
    match step {
        Step::Refuse(r) => match r.refusal.reason {
            Reason::Fail(f) => Ok(f),
            Reason::NoIdent => Err("refused without FAIL".into()),
        },
        Step::Serve(_) => Err("served".into()),
        Step::Wait(_, a) => Err(format!("waits for {a:?}")),
    }
}

fn served(step: Step<u32>) -> Admitted<u32> {
    match step {
        Step::Serve(a) => a,
        other => panic!("not served: {:?}", refused(&other)),
    }
}

#[test]
fn an_admitted_request_holds_a_permit_and_a_running_unit() {
    let mut h = plain();
    let svc = echo("");
    h.add(1, &svc);
    let a = served(h.admit(1, &svc, "127.0.0.2"));
    assert!(a.hold.as_ref().is_some_and(Hold::has_permit));
    assert_eq!((h.p.running(1), h.p.permits(1)), (1, 1));
    drop(a);
    assert_eq!((h.p.running(1), h.p.permits(1)), (0, 0));
}

#[test]
fn every_refusal_reason() {
    struct Case {
        what: &'static str,
        attrs: &'static str,
        process_limit: u32,
        load: f64,
        deny: &'static str,
        /// Requests admitted (and held) before the one that is refused.
        before: usize,
        want: FailReason,
    }
    let cases = [
        Case {
            what: "access_times",
            attrs: "access_times = 01:00-02:00",
            process_limit: 0,
            load: 0.0,
            deny: "",
            before: 0,
            want: FailReason::Time,
        },
        Case {
            what: "only_from",
            attrs: "only_from = 127.0.0.9",
            process_limit: 0,
            load: 0.0,
            deny: "",
            before: 0,
            want: FailReason::Address,
        },
        Case {
            what: "no_access",
            attrs: "no_access = 127.0.0.2",
            process_limit: 0,
            load: 0.0,
            deny: "",
            before: 0,
            want: FailReason::Address,
        },
        Case {
            what: "cps",
            attrs: "cps = 1 5",
            process_limit: 0,
            load: 0.0,
            deny: "",
            before: 1,
            want: FailReason::Cps,
        },
        Case {
            what: "max_load",
            attrs: "max_load = 2",
            process_limit: 0,
            load: 9.0,
            deny: "",
            before: 0,
            want: FailReason::Load,
        },
        Case {
            what: "instances",
            attrs: "instances = 1",
            process_limit: 0,
            load: 0.0,
            deny: "",
            before: 1,
            want: FailReason::ServiceLimit,
        },
        Case {
            what: "per_source",
            attrs: "per_source = 1",
            process_limit: 0,
            load: 0.0,
            deny: "",
            before: 1,
            want: FailReason::PerSourceLimit,
        },
        Case {
            what: "process limit",
            attrs: "",
            process_limit: 1,
            load: 0.0,
            deny: "",
            before: 1,
            want: FailReason::ProcessLimit,
        },
        Case {
            what: "libwrap",
            attrs: "",
            process_limit: 0,
            load: 0.0,
            deny: "echo: 127.0.0.2\n",
            before: 0,
            want: FailReason::Libwrap,
        },
    ];
    for c in cases {
        let mut h = harness(c.process_limit, c.load, "", c.deny);
        let svc = echo(c.attrs);
        h.add(1, &svc);
        let held: Vec<_> = (0..c.before)
            .map(|_| served(h.admit(1, &svc, "127.0.0.2")))
            .collect();
        let step = h.admit(1, &svc, "127.0.0.2");
        assert_eq!(refused(&step), Ok(c.want), "{}", c.what);
        // A refusal holds nothing.
        assert_eq!(h.p.running(1) as usize, held.len(), "{}", c.what);
        if c.want == FailReason::Cps {
            let Step::Refuse(r) = step else {
                unreachable!()
            };
            assert!(
                r.refusal.deactivate_until.is_some(),
                "cps pauses the service"
            );
        }
    }
}

#[test]
fn a_sensor_bans_the_client_from_every_service() {
    let mut h = plain();
    let list = services(
        "service sensor\n{\n\ttype = INTERNAL UNLISTED\n\tflags = SENSOR\n\tsocket_type = stream\n\
         \twait = no\n\tport = 9\n\tserver = /bin/true\n\tdeny_time = 10\n}\n",
    );
    let sensor = &list[0];
    let svc = echo("");
    h.add(1, sensor);
    h.add(2, &svc);
    let step = h.admit(1, sensor, "127.0.0.3");
    assert_eq!(refused(&step), Ok(FailReason::Address));
    let Step::Refuse(r) = step else {
        unreachable!()
    };
    assert!(!r.refusal.messages.is_empty(), "the ban is logged");
    assert_eq!(
        refused(&h.admit(2, &svc, "127.0.0.3")),
        Ok(FailReason::Address)
    );
    served(h.admit(2, &svc, "127.0.0.2"));
}

#[test]
fn the_checks_run_in_xinetds_order() {
    // access_times before the address lists.
    let mut h = plain();
    let svc = echo("access_times = 01:00-02:00\n\tonly_from = 127.0.0.9");
    h.add(1, &svc);
    assert_eq!(
        refused(&h.admit(1, &svc, "127.0.0.2")),
        Ok(FailReason::Time)
    );
    // The address lists before the limits: a denied client takes no permit.
    let mut h = plain();
    let svc = echo("instances = 1\n\tonly_from = 127.0.0.2");
    h.add(1, &svc);
    let _held = served(h.admit(1, &svc, "127.0.0.2"));
    assert_eq!(
        refused(&h.admit(1, &svc, "127.0.0.3")),
        Ok(FailReason::Address)
    );
    // The limits before libwrap.
    let mut h = harness(0, 0.0, "", "echo: 127.0.0.2\n");
    let svc = echo("instances = 1");
    h.add(1, &svc);
    let _held = served(h.admit(1, &svc, "127.0.0.3"));
    assert_eq!(
        refused(&h.admit(1, &svc, "127.0.0.2")),
        Ok(FailReason::ServiceLimit)
    );
    // A libwrap refusal gives the permit it took back.
    assert_eq!(h.p.running(1), 1);
    let mut h = harness(0, 0.0, "", "echo: 127.0.0.2\n");
    h.add(1, &svc);
    assert_eq!(
        refused(&h.admit(1, &svc, "127.0.0.2")),
        Ok(FailReason::Libwrap)
    );
    assert_eq!((h.p.running(1), h.p.permits(1)), (0, 0));
}

#[test]
fn a_domain_rule_waits_for_the_names_then_decides() {
    let mut h = plain();
    let svc = echo("only_from = .example.org");
    h.add(1, &svc);
    let Step::Wait(id, Ask::Names(_)) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits for a name lookup")
    };
    assert_eq!(h.p.running(1), 0, "no permit before the lookup");
    let step =
        h.p.resume(
            id,
            Answer::Names(Resolved::with_reverse_name("a.example.org")),
            h.now,
        )
        .expect("waiting");
    let a = served(step);
    assert_eq!(h.p.running(1), 1);
    drop(a);
    let Step::Wait(id, _) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits")
    };
    let step =
        h.p.resume(
            id,
            Answer::Names(Resolved::with_reverse_name("a.example.com")),
            h.now,
        )
        .expect("waiting");
    assert_eq!(refused(&step), Ok(FailReason::Address));
    // The answer of a request refused at its deadline finds nothing.
    assert!(h
        .p
        .resume(id, Answer::Names(Resolved::none()), h.now)
        .is_none());
}

#[test]
fn name_lookups_that_take_too_long_are_refused() {
    let mut h = harness(0, 0.0, "", "echo: .example.org\n");
    let by_name = echo("only_from = .example.org");
    let by_wrap = echo("");
    h.add(1, &by_name);
    h.add(2, &by_wrap);
    let Step::Wait(_, Ask::Names(_)) = h.admit(1, &by_name, "127.0.0.2") else {
        panic!("waits for names")
    };
    let Step::Wait(_, Ask::ClientName(_)) = h.admit(2, &by_wrap, "127.0.0.2") else {
        panic!("waits for the client's name")
    };
    assert_eq!(
        h.p.holds_of(2).count(),
        1,
        "the libwrap wait holds its permit"
    );
    assert_eq!(h.p.next_deadline(), Some(h.now + LOOKUP_WAIT));
    assert!(h
        .p
        .expire(h.now + LOOKUP_WAIT - Duration::from_millis(1))
        .is_empty());
    let mut steps = h.p.expire(h.now + LOOKUP_WAIT);
    steps.sort_by_key(|s| match s {
        Step::Refuse(r) => r.req.key,
        _ => 0,
    });
    let reasons: Vec<_> = steps.iter().map(refused).collect();
    assert_eq!(reasons, [Ok(FailReason::Address), Ok(FailReason::Libwrap)]);
    let Step::Refuse(r) = &steps[1] else {
        unreachable!()
    };
    assert!(r.refusal.messages[0].1.contains("no host name for libwrap"));
    assert_eq!((h.p.running(2), h.p.permits(2)), (0, 0));
    assert_eq!(h.p.next_deadline(), None);
}

#[test]
fn libwrap_name_rules_wait_for_the_verified_name() {
    let mut h = harness(0, 0.0, "", "echo: .example.org\n");
    let svc = echo("");
    h.add(1, &svc);
    let Step::Wait(id, Ask::ClientName(_)) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits")
    };
    let client: IpAddr = "127.0.0.2".parse().expect("ip");
    let name = ClientName::from_lookups(client, Some("b.example.org"), &[client]);
    let step =
        h.p.resume(id, Answer::ClientName(name), h.now)
            .expect("waiting");
    assert_eq!(refused(&step), Ok(FailReason::Libwrap));
    let Step::Wait(id, _) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits")
    };
    let step =
        h.p.resume(id, Answer::ClientName(ClientName::unknown()), h.now)
            .expect("waiting");
    served(step);
}

#[test]
fn userid_waits_for_the_identd_and_idonly_refuses_without_a_name() {
    let mut h = plain();
    let svc = echo("log_on_success = USERID\n\tflags = IDONLY");
    h.add(1, &svc);
    let Step::Wait(id, Ask::Ident { peer: p, .. }) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits for the identd")
    };
    assert_eq!(p, peer("127.0.0.2"));
    assert_eq!(h.p.ident_waits().collect::<Vec<_>>(), [id]);
    assert_eq!(h.p.running(1), 1, "the wait holds its permit");
    // Ident waits have their own deadline (the query's), not the lookup one.
    assert_eq!(h.p.next_deadline(), None);
    let step =
        h.p.resume(id, Answer::Ident { admit: false }, h.now)
            .expect("waiting");
    let Step::Refuse(r) = step else {
        panic!("refused")
    };
    assert_eq!(r.refusal.reason, Reason::NoIdent);
    drop(r);
    assert_eq!(h.p.running(1), 0);
    let Step::Wait(id, _) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits")
    };
    served(
        h.p.resume(id, Answer::Ident { admit: true }, h.now)
            .expect("waiting"),
    );
    // Datagrams never ask.
    let r = request(1, &svc, Path::Datagram, "127.0.0.2", 0);
    served(h.p.admit(r, h.now));
}

#[test]
fn requests_that_cannot_wait_are_refused_instead() {
    let mut h = harness(0, 0.0, "", "echo: .example.org\n");
    let by_name = echo("only_from = .example.org");
    let by_wrap = echo("");
    h.add(1, &by_name);
    h.add(2, &by_wrap);
    for path in [Path::WaitServer, Path::TcpmuxClient] {
        let r = request(1, &by_name, path, "127.0.0.2", 0);
        assert_eq!(
            refused(&h.p.admit(r, h.now)),
            Ok(FailReason::Address),
            "{path:?}"
        );
    }
    let r = request(2, &by_wrap, Path::TcpmuxClient, "127.0.0.2", 0);
    assert_eq!(refused(&h.p.admit(r, h.now)), Ok(FailReason::Libwrap));
    // With the name unknown (wait = yes, retries) the name rule simply does not match.
    let r = request(2, &by_wrap, Path::Retry, "127.0.0.2", 0);
    served(h.p.admit(r, h.now));
}

#[test]
fn each_path_runs_its_checks() {
    let mut h = harness(0, 0.0, "", "echo: 0.0.0.0\n");
    let svc = echo("instances = 1");
    h.add(1, &svc);
    // tcpmux clients and retries keep the hold they have: no limits, no new permit.
    let _held = served(h.admit(1, &svc, "127.0.0.2"));
    for path in [Path::TcpmuxClient, Path::Retry] {
        let r = request(1, &svc, path, "127.0.0.3", 0);
        let a = served(h.p.admit(r, h.now));
        assert!(a.hold.is_none(), "{path:?}");
    }
    // A tcp wait = yes server's client is unknown: libwrap sees 0.0.0.0 (denied here).
    let mut h = harness(0, 0.0, "", "echo: 0.0.0.0\n");
    h.add(1, &svc);
    let mut r = request(1, &svc, Path::WaitServer, "127.0.0.2", 0);
    r.peer = None;
    assert_eq!(refused(&h.p.admit(r, h.now)), Ok(FailReason::Libwrap));
    // A retry without a client skips the address checks.
    let mut h = plain();
    let svc = echo("only_from = 127.0.0.9");
    let mut r = request(1, &svc, Path::Retry, "127.0.0.2", 0);
    r.peer = None;
    served(h.p.admit(r, h.now));
}

#[test]
fn the_waiting_table_is_bounded() {
    let mut h = plain();
    let svc = echo("only_from = .example.org");
    h.add(1, &svc);
    for n in 0..MAX_WAITING as u32 {
        let r = request(1, &svc, Path::Stream, "127.0.0.2", n);
        assert!(matches!(h.p.admit(r, h.now), Step::Wait(..)));
    }
    let step = h.admit(1, &svc, "127.0.0.2");
    assert_eq!(refused(&step), Ok(FailReason::Address));
    let Step::Refuse(r) = step else {
        unreachable!()
    };
    assert!(r.refusal.messages[0]
        .1
        .contains("too many pending name lookups"));
}

#[test]
fn a_removed_service_admits_nothing_more() {
    let mut h = plain();
    let svc = echo("only_from = .example.org");
    h.add(1, &svc);
    let Step::Wait(id, _) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits")
    };
    h.p.unregister(1);
    assert!(h
        .p
        .resume(
            id,
            Answer::Names(Resolved::with_reverse_name("a.example.org")),
            h.now
        )
        .is_none());
    assert_eq!(
        refused(&h.admit(1, &svc, "127.0.0.2")),
        Ok(FailReason::Address)
    );
}

#[test]
fn abandoned_asks_are_refused() {
    let mut h = harness(0, 0.0, "", "echo: .example.org\n");
    let svc = echo("");
    h.add(1, &svc);
    let Step::Wait(id, _) = h.admit(1, &svc, "127.0.0.2") else {
        panic!("waits")
    };
    let step = h.p.abandon(id).expect("waiting");
    assert_eq!(refused(&step), Ok(FailReason::Libwrap));
    assert!(h.p.abandon(id).is_none());
}

#[test]
fn identd_queries_in_flight_are_bounded() {
    let mut h = plain();
    // cps off: the default (50 a second) would refuse long before the ident limit.
    let svc = echo("log_on_success = USERID\n\tcps = 0 0");
    let strict = echo("log_on_success = USERID\n\tflags = IDONLY\n\tcps = 0 0");
    h.add(1, &svc);
    h.add(2, &strict);
    for n in 0..MAX_IDENT_WAITS as u32 {
        let r = request(1, &svc, Path::Stream, "127.0.0.2", n);
        assert!(matches!(
            h.p.admit(r, h.now),
            Step::Wait(_, Ask::Ident { .. })
        ));
    }
    let a = served(h.admit(1, &svc, "127.0.0.2"));
    assert!(a.without_userid, "served without USERID past the limit");
    assert!(a.hold.is_some());
    assert_eq!(
        refused(&h.admit(2, &strict, "127.0.0.2")),
        Ok(FailReason::Descriptors),
        "IDONLY cannot serve an unidentified client"
    );
    // An answer frees a place.
    let id = h.p.ident_waits().next().expect("a wait");
    served(
        h.p.resume(id, Answer::Ident { admit: true }, h.now)
            .expect("waiting"),
    );
    assert!(matches!(
        h.admit(1, &svc, "127.0.0.2"),
        Step::Wait(_, Ask::Ident { .. })
    ));
}
