//! Descriptors are a budget (issue 17 §2): the daemon raises its soft `RLIMIT_NOFILE` to the
//! hard limit, and when the connections it serves itself reach the budget, new ones are
//! refused with a FAIL record (reason `fds`) while other services keep answering — no reset,
//! and at most one daemon-log line a second about it.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use util::*;

/// Starts the daemon under `prlimit --nofile=SOFT:HARD`.
fn start_limited(conf_text: &str, soft: u32, hard: u32) -> Daemon {
    let nofile = format!("--nofile={soft}:{hard}");
    let d = Daemon::spawn_with(conf_text, &["prlimit", &nofile, "--"], &[], &[]);
    d.wait_log(10, "Started working");
    d
}

/// The "Max open files" soft and hard limits of a process.
fn nofile(pid: i32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let f: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

#[test]
fn the_soft_limit_is_raised_to_the_hard_limit() {
    let port = free_port();
    let d = start_limited(&internal("echo", "echo", "stream", port, ""), 256, 8192);
    assert_eq!(nofile(d.pid()), ("8192".to_string(), "8192".to_string()));
    assert!(d
        .prog_log()
        .contains("file descriptor limit raised from 256 to 8192"));
}

#[test]
fn a_spent_budget_refuses_with_a_record_and_other_services_answer() {
    let (echo, daytime) = (free_port(), free_port());
    let conf = [
        internal("echo", "echo", "stream", echo, ""),
        internal("daytime", "daytime", "stream", daytime, ""),
    ]
    .concat();
    let d = start_limited(&conf, 256, 256);
    let started = Instant::now();
    // 400 clients held on echo: more than 256 descriptors could ever serve.
    let mut clients: Vec<TcpStream> = (0..400).map(|_| connect(echo)).collect();
    d.wait_log(10, "descriptor budget spent");
    // Every connection is decided: served (START) or refused (FAIL).
    wait_until(10, "a record for every client", || {
        let svc = d.read("svc.log");
        svc.matches("START: echo").count() + svc.matches("FAIL: echo").count() >= 400
    });
    // Every client is either served (its echo answers) or refused with a clean close.
    let (mut served, mut refused) = (0, 0);
    for c in &mut clients {
        c.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let mut b = [0u8; 1];
        match c.read(&mut b) {
            Ok(0) => refused += 1,
            Ok(_) => panic!("echo sent something unasked"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // No close within 20 ms: served, or refused with a close still on its way
                // (a loaded machine); the echo tells which.
                c.set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let _ = c.write_all(b"x");
                match c.read(&mut b) {
                    Ok(1) => {
                        assert_eq!(&b, b"x");
                        served += 1;
                    }
                    Ok(_) => refused += 1,
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => refused += 1,
                    Err(e) => panic!("a held echo client neither answered nor closed: {e}"),
                }
            }
            Err(e) => panic!("a refused client must see a close, not {e}"),
        }
    }
    assert!(
        served > 100 && refused > 0,
        "served {served}, refused {refused}"
    );
    // Another service still answers.
    let mut t = connect(daytime);
    let mut line = String::new();
    t.read_to_string(&mut line).expect("daytime");
    assert!(line.ends_with("\r\n"), "{line:?}");
    // The refusals are FAIL records with the reason `fds`.
    let svc = d.read("svc.log");
    assert!(svc.matches("FAIL: echo fds").count() >= refused, "{svc}");
    // At most one daemon-log line a second about it.
    let lines = d.prog_log().matches("descriptor budget spent").count();
    let secs = started.elapsed().as_secs() + 1;
    assert!(lines as u64 <= secs, "{lines} lines in {secs} s");
    // Nothing was paused for EMFILE: a freed client makes room again.
    drop(clients);
    wait_until(10, "room again", || {
        let mut c = connect(echo);
        c.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        c.write_all(b"y").is_ok() && {
            let mut b = [0u8; 1];
            c.read_exact(&mut b).is_ok() && &b == b"y"
        }
    });
    assert!(
        !d.prog_log().contains("Deactivating service"),
        "{}",
        d.prog_log()
    );
}
