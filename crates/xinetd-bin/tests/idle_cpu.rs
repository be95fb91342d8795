//! One client must never cost a core (issue 17): a session that can make no progress — a
//! half-closed redirect whose target does not read, an echo client that sends and never
//! reads, a tcpmux or xadmin client that says nothing — leaves the daemon asleep. Each test
//! holds such a session and measures the daemon's own CPU time from /proc.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use util::*;

/// The daemon's user + system time so far (all threads), in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which may contain spaces): state is field 3.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f[11].parse().expect("utime");
    let stime: u64 = f[12].parse().expect("stime");
    utime + stime
}

/// Asserts the daemon used under 5 % of a core over `secs` seconds.
fn assert_idle(d: &Daemon, secs: u64, what: &str) {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    let before = cpu_ticks(d.pid());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let used = cpu_ticks(d.pid()) - before;
    let wall = start.elapsed().as_secs_f64();
    let share = used as f64 / hz as f64 / wall;
    assert!(
        share < 0.05,
        "{what}: the daemon used {:.0} % of a core ({used} ticks in {wall:.1} s)",
        share * 100.0
    );
}

/// A daemon with a `redirect` service to a target the test holds: (daemon, port, target).
fn redirect_to_a_local_target() -> (Daemon, u16, TcpListener) {
    let target = TcpListener::bind(("127.0.0.1", free_port())).expect("target");
    let tport = target.local_addr().expect("addr").port();
    let port = free_port();
    let d = Daemon::start(&format!(
        "service redir\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\
         \tprotocol = tcp\n\tuser = root\n\tport = {port}\n\tbind = 127.0.0.1\n\
         \tredirect = 127.0.0.1 {tport}\n}}\n"
    ));
    (d, port, target)
}

#[test]
fn half_closed_redirect_with_a_target_that_does_not_read() {
    let (d, port, target) = redirect_to_a_local_target();
    let mut c = connect(port);
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("request");
    c.shutdown(Shutdown::Write).expect("half-close");
    // The target accepts and never reads nor answers.
    let (_t, _) = target.accept().expect("the daemon connects to the target");
    assert_idle(&d, 3, "redirect, client half-closed, target silent");
}

#[test]
fn half_closed_redirect_whose_client_does_not_read() {
    let (d, port, target) = redirect_to_a_local_target();
    let _c = connect(port);
    let (mut t, _) = target.accept().expect("the daemon connects to the target");
    // The target answers more than the client's buffers hold, then closes its side.
    t.set_nonblocking(true).expect("nonblocking");
    fill(&mut t);
    t.shutdown(Shutdown::Write).expect("half-close");
    assert_idle(&d, 3, "redirect, target half-closed, client not reading");
}

/// Writes until the socket would block (bounded).
fn fill(s: &mut TcpStream) {
    let chunk = [b'x'; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut blocked = 0;
    while Instant::now() < deadline && blocked < 20 {
        match s.write(&chunk) {
            Ok(_) => blocked = 0,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Let the daemon move what it can, then try again: full means full everywhere.
                blocked += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

#[test]
fn echo_client_that_sends_everything_and_never_reads() {
    let port = free_port();
    let d = Daemon::start(&internal("echo", "echo", "stream", port, ""));
    let mut c = connect(port);
    c.set_nonblocking(true).expect("nonblocking");
    fill(&mut c);
    c.shutdown(Shutdown::Write).expect("half-close");
    assert_idle(&d, 2, "echo, client half-closed, not reading");
}

#[test]
fn tcpmux_client_that_says_nothing() {
    let port = free_port();
    let d = Daemon::start(&internal("tcpmux", "tcpmux", "stream", port, ""));
    let _c = connect(port);
    assert_idle(&d, 2, "tcpmux waiting for its request");
}

#[test]
fn xadmin_client_that_never_reads_its_answers() {
    let port = free_port();
    let d = Daemon::start(&internal(
        "xadmin",
        "xadmin",
        "stream",
        port,
        "\tonly_from = 127.0.0.1\n",
    ));
    let mut c = connect(port);
    let mut prompt = [0u8; 2];
    c.read_exact(&mut prompt).expect("prompt");
    // Commands whose answers pile up unread, then the client's EOF behind them.
    c.set_nonblocking(true).expect("nonblocking");
    for _ in 0..2000 {
        if c.write(b"help\n").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_idle(&d, 2, "xadmin, answers unread");
}
