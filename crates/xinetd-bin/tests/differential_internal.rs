//! Differential scenarios, internal services: the bytes echo, discard, daytime, time and
//! chargen send over TCP and UDP under the real xinetd 2.3.15.3 and ours, with the records
//! logged for them. Times are compared in shape (digits masked), not value.
//! Skipped with a message when /usr/sbin/xinetd is absent or not root.

#[path = "util/diff.rs"]
mod diff;
mod util;

use std::io::{Read, Write};

use diff::*;

/// Digits masked: two daemons asked a second apart give different times.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { 'D' } else { c })
        .collect()
}

fn send(payload: &'static [u8]) -> impl Fn(&Side, &mut Obs) {
    move |side, obs| obs.put("bytes", tcp(Src::V4(1), side.port(0), payload))
}

fn echo_small(side: &Side, obs: &mut Obs) {
    send(b"hello, echo\r\n")(side, obs)
}

fn echo_big(side: &Side, obs: &mut Obs) {
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    obs.put("bytes", tcp(Src::V4(1), side.port(0), &big));
}

fn echo_v6(side: &Side, obs: &mut Obs) {
    obs.put("bytes", tcp(Src::V6, side.port(0), b"over ipv6\n"));
}

fn discard(side: &Side, obs: &mut Obs) {
    send(b"into the void\n")(side, obs)
}

fn daytime(side: &Side, obs: &mut Obs) {
    obs.put("bytes", shape(&tcp(Src::V4(2), side.port(0), b"")));
}

fn time_stream(side: &Side, obs: &mut Obs) {
    let t = tcp(Src::V4(1), side.port(0), b"");
    // Four binary bytes: compare the length only.
    obs.put("length", format!("{}", t.len()));
}

/// The first 2,000 bytes of the chargen ring, then close.
fn chargen_stream(side: &Side, obs: &mut Obs) {
    let out = match connect(Src::V4(1), side.port(0)) {
        Ok(mut s) => {
            let mut buf = vec![0u8; 2000];
            match s.read_exact(&mut buf) {
                Ok(()) => show(&buf),
                Err(e) => format!("read: {e}"),
            }
        }
        Err(e) => e,
    };
    obs.put("bytes", out);
}

/// Two echo connections open at once, answered in the opposite order.
fn echo_interleaved(side: &Side, obs: &mut Obs) {
    let (Ok(mut a), Ok(mut b)) = (
        connect(Src::V4(2), side.port(0)),
        connect(Src::V4(3), side.port(0)),
    ) else {
        obs.put("bytes", "connect failed");
        return;
    };
    let _ = b.write_all(b"second\n");
    let _ = a.write_all(b"first\n");
    let _ = b.shutdown(std::net::Shutdown::Write);
    obs.put("b", read_outcome(&mut b));
    let _ = a.shutdown(std::net::Shutdown::Write);
    obs.put("a", read_outcome(&mut a));
}

/// The raw pids of an echo connection's records (not normalised).
fn echo_pids(side: &Side, obs: &mut Obs) {
    echo_small(side, obs);
    wait_for(5, || side.read("svc.log").contains("EXIT"));
    let pids: Vec<String> = side
        .read("svc.log")
        .split(' ')
        .filter(|w| w.starts_with("pid="))
        .map(|w| if w == "pid=0" { "pid=0" } else { "pid=child" }.to_string())
        .collect();
    obs.put("pids", pids.join(" "));
}

fn udp_send(side: &Side, obs: &mut Obs, payload: &[u8]) {
    obs.put("reply", udp(Src::V4(1), side.port(0), payload, 2500));
}

fn udp_shape(side: &Side, obs: &mut Obs) {
    obs.put("reply", shape(&udp(Src::V4(1), side.port(0), b"x", 2500)));
}

fn udp_len(side: &Side, obs: &mut Obs) {
    let r = udp(Src::V4(1), side.port(0), b"x", 2500);
    obs.put("reply", format!("{} chars", r.len()));
}

fn stream(name: &str, over: &[(&str, &str)]) -> String {
    internal(name, "stream", "@P0@", over)
}

fn dgram(name: &str, over: &[(&str, &str)]) -> String {
    internal(name, "dgram", "@P0@", over)
}

fn table() -> Vec<Scenario> {
    let dual = [("bind", "")];
    vec![
        Scenario::new("internal: echo stream", stream("echo", &[]), echo_small),
        Scenario::new(
            "internal: echo stream, 100 kB",
            stream("echo", &[]),
            echo_big,
        ),
        Scenario::new(
            "internal: echo stream over ::1",
            stream("echo", &dual),
            echo_v6,
        ),
        Scenario::new(
            "internal: echo stream, two at once",
            stream("echo", &[]),
            echo_interleaved,
        )
        .unordered(),
        Scenario::new("internal: discard stream", stream("discard", &[]), discard),
        Scenario::new("internal: daytime stream", stream("daytime", &[]), daytime),
        Scenario::new(
            "internal: daytime stream, dual stack",
            stream("daytime", &dual),
            daytime,
        ),
        Scenario::new("internal: time stream", stream("time", &[]), time_stream),
        Scenario::new(
            "internal: chargen stream",
            stream("chargen", &[]),
            chargen_stream,
        ),
        Scenario::new(
            "internal: echo stream records pid=0",
            stream("echo", &[]),
            echo_pids,
        )
        .deliberate("Internal services never fork", &[("pids", "pid=0 pid=0")]),
        Scenario::new(
            "internal: echo stream with id",
            stream("echo", &[("id", "echo-tcp")]),
            echo_small,
        ),
        Scenario::new(
            "internal: echo stream, log_on_success HOST only",
            stream("echo", &[("log_on_success", "HOST")]),
            echo_small,
        ),
        Scenario::new(
            "internal: echo stream, log_on_success empty",
            stream("echo", &[("log_on_success", "")]),
            echo_small,
        ),
        Scenario::new("internal: echo dgram", dgram("echo", &[]), |s, o| {
            udp_send(s, o, b"ping")
        }),
        Scenario::new(
            "internal: echo dgram, 2000 bytes",
            dgram("echo", &[]),
            |s, o| udp_send(s, o, &[b'e'; 2000]),
        ),
        Scenario::new(
            "internal: echo dgram, 3000 bytes",
            dgram("echo", &[]),
            |s, o| udp_send(s, o, &[b'f'; 3000]),
        ),
        Scenario::new("internal: echo dgram, empty", dgram("echo", &[]), |s, o| {
            udp_send(s, o, b"")
        }),
        Scenario::new("internal: discard dgram", dgram("discard", &[]), |s, o| {
            udp_send(s, o, b"gone")
        }),
        Scenario::new("internal: daytime dgram", dgram("daytime", &[]), udp_shape),
        Scenario::new("internal: time dgram", dgram("time", &[]), udp_len),
        Scenario::new("internal: chargen dgram", dgram("chargen", &[]), |s, o| {
            udp_send(s, o, b"x")
        }),
        Scenario::new(
            "internal: echo dgram over ::1",
            dgram("echo", &dual),
            |s, o| o.put("reply", udp(Src::V6, s.port(0), b"v6", 2500)),
        ),
        Scenario::new(
            "internal: two services, two ports",
            format!(
                "{}{}",
                stream("echo", &[]),
                internal("daytime", "dgram", "@P1@", &[])
            ),
            |s, o| {
                o.put("echo", tcp(Src::V4(1), s.port(0), b"one\n"));
                o.put("daytime", shape(&udp(Src::V4(1), s.port(1), b"", 2500)));
            },
        )
        .unordered(),
    ]
}

#[test]
fn differential_internal_services() {
    run_table(table());
}
