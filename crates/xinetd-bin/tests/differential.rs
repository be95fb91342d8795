//! Differential tests: the same configuration served by the real xinetd 2.3.15.3
//! (`/usr/sbin/xinetd`, Debian package `xinetd`) and by us; same bytes, same log lines.
//! Skipped with a message when the real xinetd is not installed.

mod util;

use std::net::Ipv4Addr;

use util::*;
use xinetd_test_support::RealXinetd;

/// Log records without the `YY/M/D@HH:MM:SS: ` stamp and with pids replaced.
fn records(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(": ").map(|(_, r)| r.to_string()))
        .map(|r| {
            r.split(' ')
                .map(|w| if w.starts_with("pid=") { "pid=N" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Both daemons serve internal services on their own ports; `ports` gives ours, theirs.
fn conf(ports: (u16, u16, u16, u16)) -> String {
    let (chargen, daytime, time, guarded) = ports;
    // No `bind`: 2.3.15.3's dual-stack default (F-001) shows in from=::ffff:...
    format!(
        "defaults\n{{\n\tcps = 0 0\n}}\n\
         service chargen\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\tport = {chargen}\n\twait = yes\n}}\n\
         service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\tport = {daytime}\n\twait = yes\n}}\n\
         service time\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = {time}\n\twait = no\n}}\n\
         service daytime\n{{\n\tid = guarded\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = {guarded}\n\twait = no\n\
         \tonly_from = 127.0.0.3\n\tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST\n\tlog_on_failure = HOST\n}}\n"
    )
}

#[test]
fn same_bytes_and_log_lines_as_the_real_xinetd() {
    let theirs = (free_port(), free_port(), free_port(), free_port());
    let Some(real) = RealXinetd::start(&conf(theirs)) else {
        return;
    };
    let ours = (free_port(), free_port(), free_port(), free_port());
    let d = Daemon::start(&conf(ours));
    let lo = Ipv4Addr::LOCALHOST;

    // chargen dgram: byte-identical replies, including the ring advance (F-509, F-521).
    for _ in 0..3 {
        let a = udp_from(lo, theirs.0, b"x", 3000)
            .unwrap_or_else(|| panic!("real chargen: no reply; its log:\n{}", real.prog_log()));
        let b = udp_from(lo, ours.0, b"x", 3000).expect("our chargen");
        assert_eq!(a, b);
    }
    // daytime dgram: same text (retry across a second boundary).
    let mut same = false;
    for _ in 0..3 {
        let a = udp_from(lo, theirs.1, b"", 3000).expect("real daytime");
        let b = udp_from(lo, ours.1, b"", 3000).expect("our daytime");
        if a == b {
            same = true;
            break;
        }
    }
    assert!(same, "daytime text differs");
    // time stream: 4 bytes, equal within a second.
    let a = read_all(&mut connect(theirs.2));
    let b = read_all(&mut connect(ours.2));
    assert_eq!((a.len(), b.len()), (4, 4));
    let (a, b) = (
        u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
    );
    assert!(a.abs_diff(b) <= 1);

    // A refusal and a success: the same records (F-720, F-721, F-726).
    for port in [theirs.3, ours.3] {
        assert_eq!(
            read_all(&mut connect_from(Ipv4Addr::new(127, 0, 0, 2), port)),
            b""
        );
        assert!(read_all(&mut connect_from(Ipv4Addr::new(127, 0, 0, 3), port)).ends_with(b"\r\n"));
    }
    wait_until(5, "both service logs", || {
        records(&real.read("svc.log")).len() >= 2 && records(&d.read("svc.log")).len() >= 2
    });
    assert_eq!(records(&real.read("svc.log")), records(&d.read("svc.log")));
    assert_eq!(
        records(&d.read("svc.log")),
        [
            "FAIL: guarded address from=::ffff:127.0.0.2",
            "START: guarded pid=N from=::ffff:127.0.0.3"
        ]
    );

    // The start-up notice log watchers match.
    let started = |log: &str| {
        log.lines()
            .find(|l| l.contains("Started working"))
            .and_then(|l| l.split_once("]: ").map(|(_, t)| t.to_string()))
    };
    assert_eq!(started(&real.prog_log()), started(&d.prog_log()));
}
