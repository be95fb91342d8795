//! Socket activation, consumer side (issue 18): started by `systemd-socket-activate` (Debian's
//! systemd package; it needs no systemd as PID 1) with `LISTEN_FDS`, the daemon adopts the
//! inherited socket — by name, else by address — and keeps it across reloads, so clients wait
//! in the backlog instead of being refused while a reload takes the service away and back.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use util::*;

const ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

fn available() -> bool {
    if std::path::Path::new(ACTIVATE).exists() {
        return true;
    }
    eprintln!("skipped: {ACTIVATE} not installed (Debian package systemd)");
    false
}

/// `systemd-socket-activate` listening on `port` (with `--fdname` when given) runs the daemon
/// at the first connection, which is returned.
fn activated(conf: &str, port: u16, fdname: Option<&str>) -> (Daemon, TcpStream) {
    let listen = format!("127.0.0.1:{port}");
    let name = fdname.map(|n| format!("--fdname={n}"));
    let mut wrapper = vec![ACTIVATE, "-l", &listen];
    wrapper.extend(name.as_deref());
    let d = Daemon::spawn_with(conf, &wrapper, &[], &[]);
    let mut first = None;
    wait_until(10, "systemd-socket-activate listening", || {
        first = TcpStream::connect(&listen).ok();
        first.is_some()
    });
    let first = first.expect("connected");
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    d.wait_log(10, "Started working");
    (d, first)
}

fn echoes(s: &mut TcpStream, what: &[u8]) {
    s.write_all(what).expect("write");
    let mut back = vec![0u8; what.len()];
    s.read_exact(&mut back).expect("echo answers");
    assert_eq!(back, what);
}

#[test]
fn the_socket_named_like_the_service_is_adopted() {
    if !available() {
        return;
    }
    // The configuration names another port: the named socket wins (the unit owns the ports).
    let (port, configured) = (free_port(), free_port());
    let conf = internal("echo", "echo", "stream", configured, "");
    let (d, mut first) = activated(&conf, port, Some("echo"));
    echoes(&mut first, b"first\n");
    let log = d.prog_log();
    assert!(
        log.contains(&format!(
            "NOTICE: service echo: adopted inherited socket fd 3 (echo) tcp 127.0.0.1:{port}"
        )),
        "{log}"
    );
    assert!(TcpStream::connect(("127.0.0.1", configured)).is_err());
}

#[test]
fn a_socket_is_adopted_by_address_and_outlives_reloads() {
    if !available() {
        return;
    }
    let port = free_port();
    let with = internal("echo", "echo", "stream", port, "");
    let (d, mut first) = activated(&with, port, None);
    echoes(&mut first, b"a\n");
    assert!(d.prog_log().contains("adopted inherited socket fd 3 tcp"));
    // A reload that keeps the service keeps the socket.
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "Reconfigured:");
    echoes(&mut connect(port), b"b\n");
    // A reload that removes the service keeps the socket open: a client waits in the
    // backlog, and is served when the service comes back.
    let other = free_port();
    d.rewrite(&internal("echo", "echo-elsewhere", "stream", other, ""));
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "matches no service; kept for reloads");
    let mut waiting = connect(port);
    waiting
        .write_all(b"c\n")
        .expect("write while no service runs");
    d.rewrite(&with);
    d.signal(Signal::SIGHUP);
    d.wait_log_count(10, "adopted inherited socket fd 3 tcp", 2);
    let mut back = [0u8; 2];
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    waiting
        .read_exact(&mut back)
        .expect("served after the reload");
    assert_eq!(&back, b"c\n");
    assert!(!d.prog_log().contains("bind failed"), "{}", d.prog_log());
}

#[test]
fn servers_do_not_see_the_activation_variables() {
    if !available() {
        return;
    }
    let port = free_port();
    let conf = external("envprobe", port, "/usr/bin/env", "", "");
    let (_d, mut first) = activated(&conf, port, Some("envprobe"));
    let mut env = String::new();
    first.read_to_string(&mut env).expect("env output");
    assert!(env.contains("REMOTE_HOST="), "{env}");
    assert!(!env.contains("LISTEN_"), "{env}");
}

#[test]
fn what_cannot_be_adopted_is_reported_and_nothing_else_changes() {
    let port = free_port();
    let conf = internal("echo", "echo", "stream", port, "");
    for (vars, expect) in [
        // A descriptor that is not a socket.
        (
            "LISTEN_FDS=1 LISTEN_PID=$$",
            "ERROR: socket activation: fd 3: neither a TCP nor a UDP socket: not adopted",
        ),
        (
            "LISTEN_FDS=abc LISTEN_PID=$$",
            "ERROR: socket activation: LISTEN_FDS=abc is not a number of descriptors: not adopted",
        ),
        (
            "LISTEN_FDS=1 LISTEN_PID=1",
            "ERROR: socket activation: LISTEN_FDS is for another process (LISTEN_PID): not adopted",
        ),
    ] {
        let script = format!("{vars} exec \"$@\" 3</dev/null");
        let d = Daemon::spawn_with(&conf, &["sh", "-c", &script, "sh"], &[], &[]);
        d.wait_log(10, "Started working");
        assert!(d.prog_log().contains(expect), "{vars}: {}", d.prog_log());
        // The service binds its own socket and serves.
        echoes(&mut connect(port), b"x\n");
        drop(d);
    }
}
