//! The daemon tells its service manager how it is doing (issue 18, readiness part): systemd's
//! `sd_notify` datagrams when `NOTIFY_SOCKET` is set, and s6's newline on `-notify_fd N`.
//! Servers never inherit the manager's variables.

mod util;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use nix::sys::signal::Signal;
use util::*;

/// A notification socket with an abstract name (sd_notify(3) accepts `@name`).
fn notify_socket() -> (UnixDatagram, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("xinetd-rs-test-{}-{n}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    (sock, format!("@{name}"))
}

/// A notification socket at a path (systemd's usual `/run/systemd/notify` kind).
fn notify_socket_at_a_path() -> (UnixDatagram, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    (sock, path.display().to_string(), dir)
}

/// The next datagram as text.
fn next(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The next datagram that is not a watchdog ping.
fn next_state(sock: &UnixDatagram) -> String {
    loop {
        let m = next(sock);
        if m != "WATCHDOG=1\n" {
            return m;
        }
    }
}

#[test]
fn systemd_hears_ready_reloading_and_stopping() {
    let (sock, name) = notify_socket();
    let (echo, env_port) = (free_port(), free_port());
    let conf = internal("echo", "echo", "stream", echo, "")
        + &external("envprobe", env_port, "/usr/bin/env", "", "");
    let mut d = Daemon::spawn_with(&conf, &[], &[("NOTIFY_SOCKET", &name)], &[]);
    assert_eq!(
        next_state(&sock),
        "READY=1\nSTATUS=2 available services, 0 running servers\n"
    );
    assert!(
        d.prog_log().contains("Started working"),
        "ready after start-up"
    );
    // A server does not inherit NOTIFY_SOCKET.
    let env = String::from_utf8(exchange(env_port, b"")).expect("env output");
    assert!(env.contains("REMOTE_HOST="), "{env}");
    assert!(!env.contains("NOTIFY_SOCKET"), "{env}");
    // A reload: RELOADING=1 with the monotonic time, then READY=1 once applied.
    d.signal(Signal::SIGHUP);
    let m = next_state(&sock);
    assert!(
        m.starts_with("RELOADING=1\nMONOTONIC_USEC=") && m.ends_with('\n'),
        "{m:?}"
    );
    let usec: u64 = m
        .trim_end()
        .rsplit('=')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("MONOTONIC_USEC value");
    assert!(usec > 0);
    assert!(next_state(&sock).starts_with("READY=1\nSTATUS="));
    d.wait_log(5, "Reconfigured:");
    d.signal(Signal::SIGTERM);
    assert_eq!(next_state(&sock), "STOPPING=1\n");
    assert_eq!(d.wait_exit(10), Some(0));
}

#[test]
fn the_watchdog_is_fed_from_the_loop() {
    let (sock, name, _dir) = notify_socket_at_a_path();
    let port = free_port();
    let d = Daemon::spawn_with(
        &internal("echo", "echo", "stream", port, ""),
        &[],
        &[("NOTIFY_SOCKET", &name), ("WATCHDOG_USEC", "200000")],
        &[],
    );
    // Every 100 ms (half of WATCHDOG_USEC): several pings within a second.
    let mut pings = 0;
    for _ in 0..20 {
        if next(&sock) == "WATCHDOG=1\n" {
            pings += 1;
            if pings == 3 {
                break;
            }
        }
    }
    assert_eq!(pings, 3);
    drop(d);
}

#[test]
fn a_failed_start_up_says_why() {
    let (sock, name) = notify_socket();
    // An unreadable configuration file: the daemon cannot start.
    let mut d = Daemon::spawn_with(
        "",
        &[],
        &[("NOTIFY_SOCKET", &name)],
        &["-f", "/nonexistent/xinetd.conf"],
    );
    assert_eq!(
        next_state(&sock),
        "STATUS=couldn't get configuration\nERRNO=22\n"
    );
    assert_eq!(d.wait_exit(10), Some(1));
}

#[test]
fn s6_gets_a_newline_on_its_notification_fd() {
    let port = free_port();
    // fd 3 of the daemon is a file in its temp dir (s6 gives it a pipe).
    let d = Daemon::spawn_with(
        &internal("echo", "echo", "stream", port, ""),
        &["sh", "-c", "f=$0; exec \"$@\" 3>\"$f\"", "@DIR@/ready"],
        &[],
        &["-notify_fd", "3"],
    );
    d.wait_log(10, "Started working");
    wait_until(5, "the readiness newline", || d.read("ready") == "\n");
    // The daemon keeps serving, with descriptor 3 closed.
    assert_eq!(exchange(port, b"x\n"), b"x\n");
    let fd3 = std::fs::read_link(format!("/proc/{}/fd/3", d.pid()));
    assert!(
        fd3.map_or(true, |p| !p.ends_with("ready")),
        "the notification fd is closed"
    );
}

#[test]
fn a_notification_fd_that_is_not_open_is_reported_and_ignored() {
    let port = free_port();
    let d = Daemon::spawn_with(
        &internal("echo", "echo", "stream", port, ""),
        &[],
        &[],
        &["-notify_fd", "57"],
    );
    d.wait_log(10, "Started working");
    assert!(
        d.prog_log()
            .contains("ERROR: -notify_fd 57: Bad file descriptor (errno = 9)")
            || d.prog_log()
                .contains("ERROR: -notify_fd 57: No such file or directory (errno = 2)"),
        "{}",
        d.prog_log()
    );
    assert_eq!(exchange(port, b"x\n"), b"x\n");
}

#[test]
fn a_full_notify_socket_never_stops_the_loop() {
    // A manager that stopped reading: its receive queue is full before the daemon starts.
    let (sock, name) = notify_socket();
    let filler = UnixDatagram::unbound().expect("socket");
    filler.set_nonblocking(true).expect("nonblocking");
    let addr = SocketAddr::from_abstract_name(&name.as_bytes()[1..]).expect("name");
    filler.connect_addr(&addr).expect("connect");
    let mut queued = 0;
    while filler.send(b"filler\n").is_ok() {
        queued += 1;
        assert!(queued < 100_000, "the queue never filled");
    }
    let port = free_port();
    let mut d = Daemon::spawn_with(
        &internal("echo", "echo", "stream", port, ""),
        &[],
        &[("NOTIFY_SOCKET", &name)],
        &[],
    );
    // The daemon serves, and says once that its notifications are dropped.
    d.wait_log(5, "Started working");
    assert_eq!(exchange(port, b"still here\n"), b"still here\n");
    d.wait_log(5, "cannot notify the service manager at @");
    // Reloads while the queue stays full: no second line, and no hang.
    d.signal(Signal::SIGHUP);
    d.wait_log(5, "Reconfigured:");
    assert_eq!(exchange(port, b"after\n"), b"after\n");
    assert_eq!(d.prog_log().matches("cannot notify").count(), 1);
    // The manager reads again: the next notification gets through and that is logged.
    for _ in 0..queued {
        let _ = next(&sock);
    }
    d.signal(Signal::SIGHUP);
    assert!(next_state(&sock).starts_with("RELOADING=1\n"));
    d.wait_log(5, "notifications reach the service manager at @");
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(10), Some(0));
}
