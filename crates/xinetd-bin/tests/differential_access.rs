//! Differential scenarios, access control: which source addresses (127.0.0.1-4, ::1) each
//! daemon serves or refuses for the same `only_from` / `no_access` / `access_times` / `bind`
//! / family settings, over TCP and UDP, with the FILE log records of both.
//! Skipped with a message when /usr/sbin/xinetd is absent or not root.

#[path = "util/diff.rs"]
mod diff;
mod util;

use diff::*;

const SOURCES: [Src; 5] = [Src::V4(1), Src::V4(2), Src::V4(3), Src::V4(4), Src::V6];

/// One TCP exchange per source address, in order.
fn each_source_tcp(side: &Side, obs: &mut Obs) {
    for src in SOURCES {
        obs.put(
            format!("tcp {}", src.label()),
            tcp(src, side.port(0), b"hi\n"),
        );
    }
}

/// One datagram per source address, in order.
fn each_source_udp(side: &Side, obs: &mut Obs) {
    for src in SOURCES {
        obs.put(
            format!("udp {}", src.label()),
            udp(src, side.port(0), b"hi", 1500),
        );
    }
}

/// The internal echo stream service, dual stack (no `bind`), with overrides.
fn echo(over: &[(&str, &str)]) -> String {
    let mut o = vec![("bind", "")];
    o.extend_from_slice(over);
    internal("echo", "stream", "@P0@", &o)
}

/// The internal echo dgram service, dual stack.
fn echo_dgram(over: &[(&str, &str)]) -> String {
    let mut o = vec![("bind", "")];
    o.extend_from_slice(over);
    internal("echo", "dgram", "@P0@", &o)
}

/// echo stream forks in xinetd: its refusals carry the child's START/EXIT (deliberate).
fn tcp_row(name: &'static str, over: &[(&str, &str)]) -> Scenario {
    Scenario::new(name, echo(over), each_source_tcp).check_in_child()
}

/// One datagram to a fresh daemon from `src` (2.3.15.3 drops every datagram that follows an
/// answered one, see the "sent one at a time" row, so each source gets its own daemon).
fn udp_row(name: &'static str, over: &[(&str, &str)], client: fn(&Side, &mut Obs)) -> Scenario {
    Scenario::new(name, echo_dgram(over), client)
}

fn udp_one(side: &Side, obs: &mut Obs, src: Src) {
    obs.put(
        format!("udp {}", src.label()),
        udp(src, side.port(0), b"hi", 2500),
    );
}

/// `hh:mm-hh:mm` windows that do / do not contain the current UTC time (never across
/// midnight, which xinetd rejects).
fn windows() -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let hour = (now / 3600) % 24;
    let inside = format!("{hour:02}:00-{hour:02}:59");
    let outside = if hour < 12 {
        "13:00-14:00"
    } else {
        "02:00-03:00"
    };
    (inside, outside.to_string())
}

fn table() -> Vec<Scenario> {
    let (inside, outside) = windows();
    let inside: &'static str = Box::leak(inside.into_boxed_str());
    let outside: &'static str = Box::leak(outside.into_boxed_str());
    vec![
        tcp_row("access: no rules", &[]),
        tcp_row(
            "access: only_from one address",
            &[("only_from", "127.0.0.2")],
        ),
        tcp_row(
            "access: only_from two addresses",
            &[("only_from", "127.0.0.2 127.0.0.3")],
        ),
        tcp_row("access: only_from /30", &[("only_from", "127.0.0.0/30")]),
        tcp_row("access: only_from /8", &[("only_from", "127.0.0.0/8")]),
        tcp_row(
            "access: only_from trailing-zero wildcard",
            &[("only_from", "127.0.0.0")],
        ),
        tcp_row(
            "access: only_from factorized",
            &[("only_from", "127.0.0.{2,4}")],
        ),
        tcp_row("access: only_from 0.0.0.0", &[("only_from", "0.0.0.0")]),
        tcp_row("access: only_from ::1", &[("only_from", "::1")]),
        tcp_row("access: only_from empty", &[("only_from", "")]),
        tcp_row(
            "access: no_access one address",
            &[("no_access", "127.0.0.3")],
        ),
        tcp_row("access: no_access /24", &[("no_access", "127.0.0.0/24")]),
        tcp_row("access: no_access ::1", &[("no_access", "::1")]),
        tcp_row(
            "access: only_from /8 + no_access one address",
            &[("only_from", "127.0.0.0/8"), ("no_access", "127.0.0.3")],
        ),
        tcp_row(
            "access: only_from one address + no_access /8",
            &[("only_from", "127.0.0.3"), ("no_access", "127.0.0.0/8")],
        )
        .deliberate(
            "Both lists match → the more specific entry wins",
            &[
                ("tcp 127.0.0.3", "hi\n+eof"),
                ("svc.log", "START: echo pid=N from=::ffff:127.0.0.3"),
            ],
        ),
        tcp_row("access: only_from ::1/128", &[("only_from", "::1/128")]).deliberate(
            "IPv6 `/128` works",
            &[
                ("tcp ::1", "hi\n+eof"),
                ("svc.log", "START: echo pid=N from=::1"),
            ],
        ),
        tcp_row(
            "access: only_from += adds to the list",
            &[("only_from", "127.0.0.2"), ("only_from +=", "127.0.0.4")],
        ),
        tcp_row(
            "access: only_from -= removes from the list",
            &[
                ("only_from", "127.0.0.2 127.0.0.3"),
                ("only_from -=", "127.0.0.3"),
            ],
        ),
        Scenario::new(
            "access: defaults only_from, service adds",
            format!(
                "defaults\n{{\n\tonly_from = 127.0.0.2\n}}\n{}",
                echo(&[("only_from +=", "127.0.0.3")])
            ),
            each_source_tcp,
        )
        .check_in_child(),
        Scenario::new(
            "access: defaults no_access",
            format!("defaults\n{{\n\tno_access = 127.0.0.4\n}}\n{}", echo(&[])),
            each_source_tcp,
        )
        .check_in_child(),
        Scenario::new(
            "access: defaults only_from, service replaces",
            format!(
                "defaults\n{{\n\tonly_from = 127.0.0.2\n}}\n{}",
                echo(&[("only_from", "127.0.0.4")])
            ),
            each_source_tcp,
        )
        .check_in_child(),
        tcp_row("access: flags = IPv4", &[("flags", "IPv4")]),
        tcp_row("access: flags = IPv6", &[("flags", "IPv6")]),
        tcp_row("access: bind = 127.0.0.1", &[("bind", "127.0.0.1")]),
        tcp_row("access: bind = ::1", &[("bind", "::1")]),
        tcp_row(
            "access: bind = 127.0.0.1 + only_from",
            &[("bind", "127.0.0.1"), ("only_from", "127.0.0.1 127.0.0.2")],
        ),
        tcp_row(
            "access: access_times inside the window",
            &[("access_times", inside)],
        ),
        tcp_row(
            "access: access_times outside the window",
            &[("access_times", outside)],
        ),
        tcp_row(
            "access: log_on_failure HOST ATTEMPT",
            &[
                ("only_from", "127.0.0.2"),
                ("log_on_failure", "HOST ATTEMPT"),
            ],
        ),
        // Without a FAIL record the real side's child START/EXIT of a refusal cannot be told
        // from a served client's: only the client outcomes are compared.
        tcp_row(
            "access: log_on_failure empty",
            &[("only_from", "127.0.0.2"), ("log_on_failure", "")],
        )
        .logs(Logs::None),
        udp_row("access udp: no rules, from 127.0.0.3", &[], |s, o| {
            udp_one(s, o, Src::V4(3))
        }),
        udp_row("access udp: no rules, from ::1", &[], |s, o| {
            udp_one(s, o, Src::V6)
        }),
        udp_row(
            "access udp: only_from, allowed source",
            &[("only_from", "127.0.0.3")],
            |s, o| udp_one(s, o, Src::V4(3)),
        ),
        udp_row(
            "access udp: only_from, other source",
            &[("only_from", "127.0.0.3")],
            |s, o| udp_one(s, o, Src::V4(2)),
        ),
        udp_row(
            "access udp: no_access /30",
            &[("no_access", "127.0.0.0/30")],
            |s, o| udp_one(s, o, Src::V4(2)),
        ),
        udp_row(
            "access udp: no_access /30, outside",
            &[("no_access", "127.0.0.0/30")],
            |s, o| udp_one(s, o, Src::V4(4)),
        ),
        udp_row(
            "access udp: only_from ::1",
            &[("only_from", "::1")],
            |s, o| udp_one(s, o, Src::V6),
        ),
        udp_row(
            "access udp: only_from ::1, IPv4 source",
            &[("only_from", "::1")],
            |s, o| udp_one(s, o, Src::V4(1)),
        ),
        udp_row(
            "access udp: flags = IPv4, ::1",
            &[("flags", "IPv4")],
            |s, o| udp_one(s, o, Src::V6),
        ),
        udp_row("access udp: flags = IPv4", &[("flags", "IPv4")], |s, o| {
            udp_one(s, o, Src::V4(4))
        }),
        udp_row(
            "access udp: bind = 127.0.0.1",
            &[("bind", "127.0.0.1")],
            |s, o| udp_one(s, o, Src::V4(2)),
        ),
        udp_row(
            "access udp: access_times outside the window",
            &[("access_times", outside)],
            |s, o| udp_one(s, o, Src::V4(2)),
        ),
        udp_row(
            "access udp: access_times inside the window",
            &[("access_times", inside)],
            |s, o| udp_one(s, o, Src::V4(2)),
        ),
        udp_row(
            "access udp: datagrams sent one at a time",
            &[("only_from", "127.0.0.0/30 ::1")],
            each_source_udp,
        )
        .deliberate(
            "Datagrams sent one at a time are all answered",
            &[
                ("udp 127.0.0.1", "\"hi\""),
                ("udp 127.0.0.2", "\"hi\""),
                ("udp 127.0.0.3", "\"hi\""),
                ("udp 127.0.0.4", "no reply"),
                ("udp ::1", "\"hi\""),
                // Sorted records: each datagram has its record.
                (
                    "svc.log",
                    "FAIL: echo address from=::ffff:127.0.0.4\n\
                         START: echo pid=N from=::1\n\
                         START: echo pid=N from=::ffff:127.0.0.1\n\
                         START: echo pid=N from=::ffff:127.0.0.2\n\
                         START: echo pid=N from=::ffff:127.0.0.3",
                ),
            ],
        ),
    ]
}

#[test]
fn differential_access_control_tcp() {
    run_table(
        table()
            .into_iter()
            .filter(|s| !s.name.contains("udp"))
            .collect(),
    );
}

#[test]
fn differential_access_control_udp() {
    run_table(
        table()
            .into_iter()
            .filter(|s| s.name.contains("udp"))
            .collect(),
    );
}
