//! Table-driven decisions: every access-control example of the seed article, of
//! xinetd.conf(5) and of the spec (F-200..F-221).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::net::IpAddr;

use xinetd_acl::{
    AccessList, AccessPolicy, AccessTimes, Allowed, Decision, Denial, LocalTime, Resolved,
    StaticResolver,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow,
    /// Denied, with the `FAIL:` reason word.
    Deny(&'static str),
    /// Denied as a tie (xinetd's "match equally" line).
    Tie,
}

struct Case {
    /// Where the example comes from.
    what: &'static str,
    only_from: Option<&'static [&'static str]>,
    no_access: Option<&'static [&'static str]>,
    access_times: Option<&'static [&'static str]>,
    peer: &'static str,
    at: (u8, u8),
    /// The client's reverse-resolved name, if the test resolver has one.
    reverse: Option<&'static str>,
    expect: Expect,
}

const fn case(
    what: &'static str,
    only_from: Option<&'static [&'static str]>,
    no_access: Option<&'static [&'static str]>,
    peer: &'static str,
    expect: Expect,
) -> Case {
    Case {
        what,
        only_from,
        no_access,
        access_times: None,
        peer,
        at: (12, 0),
        reverse: None,
        expect,
    }
}

use Expect::{Allow, Deny, Tie};

fn resolver() -> StaticResolver {
    StaticResolver::new()
        .host(
            "localhost",
            ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        )
        .host("charly.example.com", ["192.168.1.1".parse().unwrap()])
        .network("loopback", 127)
        .network("lab", 0x00C0_A805)
}

fn table() -> Vec<Case> {
    vec![
        // --- Seed article, section 3.2 ---
        case(
            "seed: no rule at all allows",
            None,
            None,
            "192.168.1.1",
            Allow,
        ),
        case(
            "seed: defaults no_access = 0.0.0.0/0 + only_from = 0.0.0.0/0 is a tie",
            Some(&["0.0.0.0/0"]),
            Some(&["0.0.0.0/0"]),
            "192.168.1.1",
            Tie,
        ),
        case(
            "seed: only_from = 192.0.0.0/8 then wins over no_access = 0.0.0.0/0",
            Some(&["192.0.0.0/8"]),
            Some(&["0.0.0.0/0"]),
            "192.168.1.1",
            Allow,
        ),
        case(
            "seed: ... and 0.0.0.0/0 still refuses the rest",
            Some(&["192.0.0.0/8"]),
            Some(&["0.0.0.0/0"]),
            "10.0.0.1",
            Deny("address"),
        ),
        case(
            "seed: only_from without a value refuses everybody",
            Some(&[]),
            None,
            "192.168.1.1",
            Deny("address"),
        ),
        case(
            "seed: defaults only_from list, inside",
            Some(&["192.168.1.0/24", "192.168.5.0/24", "192.168.10.17"]),
            None,
            "192.168.5.200",
            Allow,
        ),
        case(
            "seed: defaults only_from list, exact host",
            Some(&["192.168.1.0/24", "192.168.5.0/24", "192.168.10.17"]),
            None,
            "192.168.10.17",
            Allow,
        ),
        case(
            "seed: defaults only_from list, outside",
            Some(&["192.168.1.0/24", "192.168.5.0/24", "192.168.10.17"]),
            None,
            "192.168.10.18",
            Deny("address"),
        ),
        case(
            "seed: xadmin only_from = 192.168.1.1 (charly)",
            Some(&["192.168.1.1"]),
            None,
            "192.168.1.1",
            Allow,
        ),
        case(
            "seed: xadmin refuses bosley",
            Some(&["192.168.1.1"]),
            None,
            "192.168.1.2",
            Deny("address"),
        ),
        case(
            "seed: ftp-public only_from = 0.0.0.0/0",
            Some(&["0.0.0.0/0"]),
            None,
            "212.198.253.142",
            Allow,
        ),
        case(
            "seed 3.1: host names compared with the addresses they resolve to",
            Some(&["charly.example.com"]),
            None,
            "192.168.1.1",
            Allow,
        ),
        // --- xinetd.conf(5) ---
        case(
            "man: only_from 128.138.209.0 + no_access 128.138.209.10 refuses .10",
            Some(&["128.138.209.0"]),
            Some(&["128.138.209.10"]),
            "128.138.209.10",
            Deny("address"),
        ),
        case(
            "man: ... and admits the rest of the subnet",
            Some(&["128.138.209.0"]),
            Some(&["128.138.209.10"]),
            "128.138.209.11",
            Allow,
        ),
        case(
            "man: 128.138.12.0 matches all hosts on the 128.138.12 subnet",
            Some(&["128.138.12.0"]),
            None,
            "128.138.12.99",
            Allow,
        ),
        case(
            "man: factorized 128.138.{12,71}",
            Some(&["128.138.{12,71}"]),
            None,
            "128.138.71.4",
            Allow,
        ),
        case(
            "man: factorized 128.138.{12,71} excludes 128.138.13.x",
            Some(&["128.138.{12,71}"]),
            None,
            "128.138.13.4",
            Deny("address"),
        ),
        // --- F-200 numeric IPv4 ---
        case(
            "F-200: 10.0.0.0 is a /8",
            Some(&["10.0.0.0"]),
            None,
            "10.200.1.1",
            Allow,
        ),
        case(
            "F-200: 10.1.0.0 is a /16",
            Some(&["10.1.0.0"]),
            None,
            "10.2.0.1",
            Deny("address"),
        ),
        case(
            "F-200: 10.0.1.0 is a /24",
            Some(&["10.0.1.0"]),
            None,
            "10.0.1.77",
            Allow,
        ),
        case(
            "F-200: 10.0.0.5 is exact",
            Some(&["10.0.0.5"]),
            None,
            "10.0.0.6",
            Deny("address"),
        ),
        case(
            "F-200: 127.1 is 127.0.0.1",
            Some(&["127.1"]),
            None,
            "127.0.0.1",
            Allow,
        ),
        case(
            "F-200: 0.0.0.0 matches every IPv4 client",
            Some(&["0.0.0.0"]),
            None,
            "203.0.113.9",
            Allow,
        ),
        case(
            "F-200: 0.0.0.0 matches IPv4-mapped clients",
            Some(&["0.0.0.0"]),
            None,
            "::ffff:203.0.113.9",
            Allow,
        ),
        case(
            "F-200: 0.0.0.0 does not match native IPv6",
            Some(&["0.0.0.0"]),
            None,
            "2001:db8::1",
            Deny("address"),
        ),
        // --- F-201 numeric IPv6 ---
        case(
            "F-201: IPv6 is exact",
            Some(&["2001:db8::1"]),
            None,
            "2001:db8::2",
            Deny("address"),
        ),
        case(
            "F-201: :: matches nothing",
            Some(&["::"]),
            None,
            "2001:db8::2",
            Deny("address"),
        ),
        case(
            "F-201: ::/0 matches every IPv6 client",
            Some(&["::/0"]),
            None,
            "2001:db8::2",
            Allow,
        ),
        case(
            "F-201: ::/0 matches mapped clients",
            Some(&["::/0"]),
            None,
            "::ffff:10.0.0.1",
            Allow,
        ),
        case(
            "F-201: ::ffff:127.0.0.1 matches the mapped client",
            Some(&["::ffff:127.0.0.1"]),
            None,
            "::ffff:127.0.0.1",
            Allow,
        ),
        case(
            "F-202: IPv6 rules never match IPv4 sockets' clients",
            Some(&["::ffff:127.0.0.1"]),
            None,
            "127.0.0.1",
            Deny("address"),
        ),
        case(
            "F-202: IPv4 CIDR applies to mapped clients",
            Some(&["127.0.0.0/8"]),
            None,
            "::ffff:127.0.0.2",
            Allow,
        ),
        case(
            "F-202: factorized applies to mapped clients",
            Some(&["10.0.{1,2}"]),
            None,
            "::ffff:10.0.2.3",
            Allow,
        ),
        // --- F-203 explicit masks ---
        case(
            "F-203: host bits in the address are ignored",
            Some(&["10.1.2.3/8"]),
            None,
            "10.9.9.9",
            Allow,
        ),
        case(
            "F-203: /0 matches all IPv4",
            Some(&["0.0.0.0/0"]),
            None,
            "1.2.3.4",
            Allow,
        ),
        case(
            "F-203: /32 is exact",
            Some(&["10.0.0.1/32"]),
            None,
            "10.0.0.2",
            Deny("address"),
        ),
        case(
            "F-203: IPv6 prefix",
            Some(&["2001:db8::/32"]),
            None,
            "2001:db8:ffff::1",
            Allow,
        ),
        case(
            "F-203: IPv6 prefix excludes outside",
            Some(&["2001:db8::/32"]),
            None,
            "2001:db9::1",
            Deny("address"),
        ),
        case(
            "F-203/F-961 fixed: ::1/128 admits ::1",
            Some(&["::1/128"]),
            None,
            "::1",
            Allow,
        ),
        case("F-203: ::1 admits ::1", Some(&["::1"]), None, "::1", Allow),
        case(
            "F-203: /40 on IPv4 is taken as /32",
            Some(&["10.0.0.0/40"]),
            None,
            "10.0.0.1",
            Deny("address"),
        ),
        // --- F-204 factorized ---
        case(
            "F-204: 10.0.{1,2} covers 10.0.1.0/24",
            Some(&["10.0.{1,2}"]),
            None,
            "10.0.1.200",
            Allow,
        ),
        case(
            "F-204: 10.0.{1,2} excludes 10.0.3.x",
            Some(&["10.0.{1,2}"]),
            None,
            "10.0.3.1",
            Deny("address"),
        ),
        case(
            "F-204: 172.16.0.{1,5,9} are exact hosts",
            Some(&["172.16.0.{1,5,9}"]),
            None,
            "172.16.0.5",
            Allow,
        ),
        case(
            "F-204: 172.16.0.{1,5,9} excludes .6",
            Some(&["172.16.0.{1,5,9}"]),
            None,
            "172.16.0.6",
            Deny("address"),
        ),
        // --- F-207 network names ---
        case(
            "F-207: network name loopback = 127/8",
            Some(&["loopback"]),
            None,
            "127.3.2.1",
            Allow,
        ),
        case(
            "F-207: network name lab = 192.168.5/24",
            Some(&["lab"]),
            None,
            "192.168.5.1",
            Allow,
        ),
        case(
            "F-207: network name lab excludes 192.168.6.x",
            Some(&["lab"]),
            None,
            "192.168.6.1",
            Deny("address"),
        ),
        // --- F-208: a dropped value leaves the list empty ---
        case(
            "F-208: only value unparsable -> empty only_from refuses",
            Some(&["300.1.2.3"]),
            None,
            "10.0.0.1",
            Deny("address"),
        ),
        case(
            "F-208: unresolvable host dropped, rest kept",
            Some(&["nosuchhost.invalid", "10.0.0.0/8"]),
            None,
            "10.0.0.1",
            Allow,
        ),
        // --- F-210..F-212 ---
        case("F-210: no lists", None, None, "2001:db8::7", Allow),
        case(
            "F-212: no_access only, matched",
            None,
            Some(&["10.0.0.0/8"]),
            "10.1.1.1",
            Deny("address"),
        ),
        case(
            "F-212: no_access only, not matched",
            None,
            Some(&["10.0.0.0/8"]),
            "11.1.1.1",
            Allow,
        ),
        case(
            "F-212: empty no_access refuses nobody",
            None,
            Some(&[]),
            "11.1.1.1",
            Allow,
        ),
        case(
            "F-211 (documented rule): only_from 127.0.0.1 beats no_access 127.0.0.0",
            Some(&["127.0.0.1"]),
            Some(&["127.0.0.0"]),
            "127.0.0.1",
            Allow,
        ),
        case(
            "F-211: same network in both lists is a tie",
            Some(&["10.0.0.0/8"]),
            Some(&["10.0.0.0"]),
            "10.4.4.4",
            Tie,
        ),
        case(
            "F-211: IPv6 more specific no_access wins",
            Some(&["2001:db8::/32"]),
            Some(&["2001:db8:1::/48"]),
            "2001:db8:1::5",
            Deny("address"),
        ),
        case(
            "F-211: mapped client, ::ffff:10.0.0.1 ties with 10.0.0.1",
            Some(&["::ffff:10.0.0.1"]),
            Some(&["10.0.0.1"]),
            "::ffff:10.0.0.1",
            Tie,
        ),
        case(
            "F-211: mapped client, IPv4 /8 (= /104) beats ::/0",
            Some(&["10.0.0.0/8"]),
            Some(&["::/0"]),
            "::ffff:10.0.0.1",
            Allow,
        ),
        case(
            "F-211: a host name ties with its exact address",
            Some(&["localhost"]),
            Some(&["127.0.0.1"]),
            "127.0.0.1",
            Tie,
        ),
        case(
            "F-205/F-973 fixed: localhost admits a mapped 127.0.0.1",
            Some(&["localhost"]),
            None,
            "::ffff:127.0.0.1",
            Allow,
        ),
        // --- names through reverse lookups (F-205, F-206) ---
        Case {
            reverse: Some("pc1.Example.COM"),
            ..case(
                "F-206: .domain matches the reverse name, any case",
                Some(&[".example.com"]),
                None,
                "10.9.9.9",
                Allow,
            )
        },
        Case {
            reverse: Some("example.com.evil.net"),
            ..case(
                "F-206: the suffix must be at the end",
                Some(&[".example.com"]),
                None,
                "10.9.9.9",
                Deny("address"),
            )
        },
        Case {
            reverse: Some("a.example.com.example.com"),
            ..case(
                "F-206 (documented rule): a repeated suffix still matches",
                Some(&[".example.com"]),
                None,
                "10.9.9.9",
                Allow,
            )
        },
        Case {
            reverse: None,
            ..case(
                "F-205: no reverse name -> name entries skipped",
                Some(&[".example.com"]),
                None,
                "10.9.9.9",
                Deny("address"),
            )
        },
        Case {
            reverse: Some("CHARLY.example.com"),
            ..case(
                "F-205: host name compared with the reverse name, ignoring case",
                Some(&["charly.example.com"]),
                None,
                "10.7.7.7",
                Allow,
            )
        },
        Case {
            reverse: Some("charly.example.com.au"),
            ..case(
                "F-205: host name needs the exact length",
                Some(&["charly.example.com"]),
                None,
                "10.7.7.7",
                Deny("address"),
            )
        },
        Case {
            reverse: Some("pc.lab.example.com"),
            ..case(
                "documented rule: a network beats a .domain",
                Some(&[".example.com"]),
                Some(&["10.0.0.0/8"]),
                "10.9.9.9",
                Deny("address"),
            )
        },
        Case {
            reverse: Some("pc.lab.example.com"),
            ..case(
                "documented rule: the longer .domain wins",
                Some(&[".lab.example.com"]),
                Some(&[".example.com"]),
                "10.9.9.9",
                Allow,
            )
        },
        Case {
            reverse: Some("pc.example.com"),
            ..case(
                "documented rule: equal .domain entries tie",
                Some(&[".example.com"]),
                Some(&[".EXAMPLE.com"]),
                "10.9.9.9",
                Tie,
            )
        },
        // --- access_times (F-220, F-221), seed article's ftp service ---
        Case {
            access_times: Some(&["7:00-12:30", "13:30-21:00"]),
            at: (12, 30),
            ..case(
                "seed ftp: 12:30 is inside",
                Some(&["192.168.1.0/24"]),
                None,
                "192.168.1.5",
                Allow,
            )
        },
        Case {
            access_times: Some(&["7:00-12:30", "13:30-21:00"]),
            at: (12, 31),
            ..case(
                "seed ftp: 12:31 is outside",
                Some(&["192.168.1.0/24"]),
                None,
                "192.168.1.5",
                Deny("time"),
            )
        },
        Case {
            access_times: Some(&["7:00-12:30", "13:30-21:00"]),
            at: (21, 0),
            ..case(
                "seed ftp: 21:00 is inside",
                Some(&["192.168.1.0/24"]),
                None,
                "192.168.1.5",
                Allow,
            )
        },
        Case {
            access_times: Some(&["7:00-12:30", "13:30-21:00"]),
            at: (6, 59),
            ..case(
                "seed ftp: time is checked before the address",
                Some(&["192.168.1.0/24"]),
                None,
                "10.0.0.1",
                Deny("time"),
            )
        },
        Case {
            access_times: Some(&["7:00-12:30", "13:30-21:00"]),
            at: (8, 0),
            ..case(
                "seed ftp: in time, wrong network",
                Some(&["192.168.1.0/24"]),
                None,
                "10.0.0.1",
                Deny("address"),
            )
        },
        Case {
            access_times: Some(&["2:00-8:59", "12:00-23:59"]),
            at: (23, 59),
            ..case(
                "debian sample: 23:59 is the end of day",
                None,
                None,
                "10.0.0.1",
                Allow,
            )
        },
        Case {
            access_times: Some(&["00:00-23:59"]),
            at: (0, 0),
            ..case("simp fixture: all day", None, None, "10.0.0.1", Allow)
        },
    ]
}

fn build(values: Option<&[&str]>, r: &StaticResolver) -> Option<AccessList> {
    values.map(|v| {
        AccessList::from_values(v.iter().copied(), r)
            .expect("table values are not hard errors")
            .0
    })
}

#[test]
fn every_example_decides_as_documented() {
    let r = resolver();
    let mut failures = Vec::new();
    for c in table() {
        let policy = AccessPolicy::new(
            build(c.only_from, &r),
            build(c.no_access, &r),
            c.access_times
                .map(|t| AccessTimes::parse(t.iter().copied()).expect("valid times")),
        );
        let peer: IpAddr = c.peer.parse().expect("peer address");
        let now = LocalTime::new(c.at.0, c.at.1).expect("valid time");
        let resolved = match c.reverse {
            Some(name) => Resolved::with_reverse_name(name),
            None => Resolved::reverse_failed(),
        };
        // First without any lookup; if the library asks for one, answer it.
        let mut decision = policy.decide(peer, now, &Resolved::none());
        if let Decision::NeedsLookup(_) = decision {
            decision = policy.decide(peer, now, &resolved);
        }
        let got = match &decision {
            Decision::Allow(_) => Allow,
            Decision::Deny(Denial::Tie { .. }) => Tie,
            Decision::Deny(d) => Deny(d.fail_reason().as_str()),
            Decision::NeedsLookup(_) => {
                failures.push(format!("{}: asked twice for a lookup", c.what));
                continue;
            }
            other => {
                failures.push(format!("{}: unexpected decision {other:?}", c.what));
                continue;
            }
        };
        if got != c.expect {
            failures.push(format!(
                "{}: expected {:?}, got {decision:?}",
                c.what, c.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tie_logs_xinetd_line() {
    // Seed article: "Service=echo-stream: only_from list and no_access list match equally the
    // address 192.168.1.1".
    let r = resolver();
    let policy = AccessPolicy::new(
        build(Some(&["0.0.0.0/0"]), &r),
        build(Some(&["0.0.0.0/0"]), &r),
        None,
    );
    let peer: IpAddr = "192.168.1.1".parse().unwrap();
    let Decision::Deny(d) = policy.check_address(peer, &Resolved::none()) else {
        panic!("tie must deny")
    };
    let line = d
        .xinetd_message("echo-stream", peer)
        .expect("tie has a log line");
    assert_eq!(
        line.text,
        "Service=echo-stream: only_from list and no_access list match equally the address 192.168.1.1"
    );
    assert_eq!(line.function, "remote_addr_chk");
    // F-726: mapped clients are shown in ::ffff: form.
    let mapped: IpAddr = "::ffff:192.168.1.1".parse().unwrap();
    let line = d.xinetd_message("echo", mapped).unwrap();
    assert!(
        line.text.ends_with("the address ::ffff:192.168.1.1"),
        "{}",
        line.text
    );
}

#[test]
fn reasons_name_the_matching_entries() {
    let r = resolver();
    let policy = AccessPolicy::new(
        build(Some(&["192.0.0.0/8", "10.0.{1,2}"]), &r),
        build(Some(&["0.0.0.0/0", "10.0.2.77"]), &r),
        None,
    );
    match policy.check_address("192.168.1.1".parse().unwrap(), &Resolved::none()) {
        Decision::Allow(Allowed::OnlyFromMoreSpecific {
            only_from,
            no_access,
        }) => {
            assert_eq!(only_from.entry.source, "192.0.0.0/8");
            assert_eq!(no_access.entry.source, "0.0.0.0/0");
        }
        other => panic!("{other:?}"),
    }
    match policy.check_address("10.0.2.77".parse().unwrap(), &Resolved::none()) {
        Decision::Deny(Denial::NoAccessMoreSpecific {
            no_access,
            only_from,
        }) => {
            assert_eq!(no_access.entry.source, "10.0.2.77");
            assert_eq!(only_from.entry.source, "10.0.{1,2}");
        }
        other => panic!("{other:?}"),
    }
    match policy.check_address("172.16.0.1".parse().unwrap(), &Resolved::none()) {
        Decision::Deny(d @ Denial::NoAccess(_)) => {
            assert_eq!(d.to_string(), "matches no_access entry 0.0.0.0/0")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn lookups_are_requested_only_when_they_can_change_the_verdict() {
    let r = resolver();
    let peer_in: IpAddr = "10.1.1.1".parse().unwrap();
    let peer_out: IpAddr = "11.1.1.1".parse().unwrap();
    let none = Resolved::none();

    // only_from with a network and a domain: inside the network no lookup is needed.
    let p = AccessPolicy::new(build(Some(&["10.0.0.0/8", ".example.com"]), &r), None, None);
    assert!(p.check_address(peer_in, &none).is_allowed());
    assert_eq!(
        p.check_address(peer_out, &none),
        Decision::NeedsLookup(xinetd_acl::LookupRequest::ReverseName(peer_out))
    );

    // An exact no_access entry cannot be beaten by a domain: denied without a lookup.
    let p = AccessPolicy::new(
        build(Some(&[".example.com"]), &r),
        build(Some(&["10.1.1.1"]), &r),
        None,
    );
    assert!(p.check_address(peer_in, &none).is_denied());

    // No name entries: never a lookup.
    let p = AccessPolicy::new(build(Some(&["10.0.0.0/8"]), &r), None, None);
    assert!(p.check_address(peer_out, &none).is_denied());

    // The request is performed through any Resolver.
    let p = AccessPolicy::new(build(Some(&[".example.com"]), &r), None, None);
    let r2 = StaticResolver::new().reverse(peer_out, "ws.example.com");
    let Decision::NeedsLookup(req) = p.check_address(peer_out, &none) else {
        panic!("lookup expected")
    };
    assert!(p.check_address(peer_out, &req.perform(&r2)).is_allowed());
    // A failing resolver means "no name": name entries are skipped (F-205).
    let r3 = StaticResolver::new().failing(peer_out);
    let (resolved, err) = req.perform_reporting(&r3);
    assert!(err.is_some());
    assert!(p.check_address(peer_out, &resolved).is_denied());
}
