//! A reload loads the configuration on a worker thread (issue 16): the loop serves while a
//! load is stuck, SIGHUPs during a load give exactly one more load, and SIGTERM does not
//! wait for the load. The load is held deterministically by an `include` of a named pipe:
//! reading it blocks until the test writes it.

mod util;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::sys::signal::Signal;
use util::*;

/// A named pipe the configuration includes.
fn fifo(d: &Daemon) -> std::path::PathBuf {
    let path = d.path("held.conf");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    path
}

/// The pipe's writing end, opened once the daemon has opened it for reading: a
/// non-blocking open for writing fails (ENXIO) while nobody reads, so success proves that a
/// load is inside the include, waiting for the text.
fn writer_once_read(path: &Path) -> File {
    let mut file = None;
    wait_until(10, "the reload to open the included pipe", || {
        file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok();
        file.is_some()
    });
    file.expect("opened")
}

/// A daemon serving echo on `echo` whose SIGHUP load is held inside an `include` of a named
/// pipe, and the pipe's writing end (writing it lets the load go on).
fn stuck_reload(echo: u16) -> (Daemon, File) {
    let echo_svc = internal("echo", "echo", "stream", echo, "");
    let d = Daemon::start(&echo_svc);
    let pipe = fifo(&d);
    d.rewrite(&format!("{echo_svc}include {}\n", pipe.display()));
    d.signal(Signal::SIGHUP);
    let w = writer_once_read(&pipe);
    (d, w)
}

/// Writes the included text (with `@DIR@` expanded) and closes the pipe: the load goes on.
fn release(d: &Daemon, mut w: File, text: &str) {
    let text = text.replace("@DIR@", &d.dir.path().display().to_string());
    w.write_all(text.as_bytes())
        .expect("write the included text");
}

/// The `Reconfigured:` lines of the program log, in order, without their time stamps.
fn reconfigured(d: &Daemon) -> Vec<String> {
    d.prog_log()
        .lines()
        .filter_map(|l| l.find("Reconfigured: ").map(|i| l[i..].to_string()))
        .collect()
}

#[test]
fn the_loop_serves_while_a_reload_is_stuck_and_the_reload_then_applies() {
    let (echo, daytime) = (free_port(), free_port());
    let (d, w) = stuck_reload(echo);
    // The load waits for the pipe's text; the loop answers meanwhile.
    assert_eq!(exchange(echo, b"during the reload"), b"during the reload");
    assert!(!d.prog_log().contains("Swapping defaults"));
    release(
        &d,
        w,
        &internal("daytime", "daytime", "stream", daytime, ""),
    );
    d.wait_log(10, "Reconfigured: new=1 old=1 dropped=0 (services)");
    // xinetd's lines, in xinetd's order.
    let log = d.prog_log();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("no '{needle}' in {log}"))
    };
    let order = [
        at("NOTICE: Starting reconfiguration"),
        at("NOTICE: Swapping defaults"),
        at("NOTICE: readjusting service echo"),
        at("NOTICE: Reconfigured: new=1 old=1 dropped=0 (services)"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{log}");
    assert_eq!(read_all(&mut connect(daytime)).last(), Some(&b'\n'));
    assert_eq!(exchange(echo, b"after"), b"after");
}

#[test]
fn sighups_during_a_load_give_one_more_load_of_the_last_configuration() {
    let (echo, b, c, dd, e1, e2) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let svc = |id: &str, port: u16| internal("daytime", id, "stream", port, "");
    let echo_svc = internal("echo", "echo", "stream", echo, "");
    // Load 1 reads the configuration, then waits in the include.
    let (d, w) = stuck_reload(echo);
    // Two SIGHUPs while it waits, each after a rewrite; the loop says it will load again.
    d.rewrite(&[echo_svc.as_str(), &svc("c", c)].concat());
    d.signal(Signal::SIGHUP);
    d.wait_log_count(10, "Reconfiguration in progress: another one follows it", 1);
    d.rewrite(&[echo_svc.as_str(), &svc("d", dd)].concat());
    d.signal(Signal::SIGHUP);
    d.wait_log_count(10, "Reconfiguration in progress: another one follows it", 2);
    assert_eq!(exchange(echo, b"still serving"), b"still serving");
    release(&d, w, &svc("b", b));
    // Load 1 applied (echo kept, b added), then load 2 reads the last file written (echo
    // kept, d added, b dropped): c never runs.
    d.wait_log(10, "Reconfigured: new=1 old=1 dropped=1 (services)");
    assert_eq!(read_all(&mut connect(dd)).last(), Some(&b'\n'));
    assert_eq!(listen_inode(b), None);
    assert_eq!(listen_inode(c), None);
    // One more reload of our own: had the two SIGHUPs given two loads, the second would be
    // logged before this one.
    d.rewrite(&[echo_svc.as_str(), &svc("e1", e1), &svc("e2", e2)].concat());
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "Reconfigured: new=2 old=1 dropped=1 (services)");
    assert_eq!(
        reconfigured(&d),
        [
            "Reconfigured: new=1 old=1 dropped=0 (services)",
            "Reconfigured: new=1 old=1 dropped=1 (services)",
            "Reconfigured: new=2 old=1 dropped=1 (services)",
        ]
    );
    assert_eq!(
        d.prog_log().matches("Starting reconfiguration").count(),
        3,
        "{}",
        d.prog_log()
    );
}

#[test]
fn sigterm_during_a_stuck_load_stops_the_daemon() {
    // The pipe is held open (never written) until the daemon is gone: the load stays stuck.
    let (mut d, w) = stuck_reload(free_port());
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(10), Some(0));
    assert!(d.prog_log().contains("Exiting..."));
    assert!(!d.prog_log().contains("Swapping defaults"));
    drop(w);
}
