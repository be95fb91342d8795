//! The daemon's signals reach the loop's thread, not the spawner threads (issue 16): a
//! spawner thread blocks them, so a SIGCHLD never runs its handler on the way to the next
//! server's `clone`; the loop's thread blocks none of them, and neither does a server
//! (F-411: an empty signal mask).

mod util;

use std::io::{Read, Write};

use nix::sys::signal::Signal;
use util::*;

/// `SigBlk` of a /proc status file.
fn blocked(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).expect("hex"))
        .expect("SigBlk line")
}

fn bit(sig: Signal) -> u64 {
    1 << (sig as i32 - 1)
}

#[test]
fn spawner_threads_leave_signals_to_the_loop() {
    if !require_root("spawner_threads_leave_signals_to_the_loop (user = root servers)") {
        return;
    }
    let port = free_port();
    let d = Daemon::start(&external("cat", port, "/bin/cat", "", ""));
    // A running server: the spawner thread exists and has started one.
    let mut s = connect(port);
    s.write_all(b"ping\n").expect("write");
    let mut echo = [0u8; 5];
    s.read_exact(&mut echo).expect("echo");
    assert_eq!(&echo, b"ping\n");

    let handled = [
        Signal::SIGCHLD,
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGUSR1,
    ]
    .iter()
    .fold(0, |set, &sig| set | bit(sig));
    let pid = d.pid();
    let mut spawners = 0;
    let mut servers = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).expect("comm");
        let mask = blocked(&std::fs::read_to_string(dir.join("status")).expect("status"));
        if comm.starts_with("xinetd-spawn") {
            spawners += 1;
            assert_eq!(mask & handled, handled, "{comm}: SigBlk {mask:x}");
        }
        if dir.ends_with(pid.to_string()) {
            assert_eq!(mask & handled, 0, "the loop's thread: SigBlk {mask:x}");
        }
        let children = std::fs::read_to_string(dir.join("children")).unwrap_or_default();
        servers.extend(children.split_whitespace().map(str::to_owned));
    }
    assert!(spawners > 0, "no xinetd-spawn thread in /proc/{pid}/task");
    assert_eq!(servers.len(), 1, "one server: {servers:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", servers[0])).expect("server");
    assert_eq!(blocked(&status), 0, "the server's SigBlk");
    drop(s);
}
