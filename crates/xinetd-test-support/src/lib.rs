//! Helpers shared by the integration tests of the xinetd-rs crates (`publish = false`).
//!
//! Each of these existed as two or three copies across the repository's `tests/` folders;
//! they live here so that a fix (a port handed out twice, a wait without a deadline) is made
//! once:
//!
//! * [`is_root`], [`require_root`] and [`skip`]: tests that need root or an installed tool
//!   return early and say why, in one format (`skipped: ...`), instead of failing.
//! * [`free_port`]: a loopback port free for TCP and UDP, IPv4 and IPv6.
//! * [`wait_until`] / [`wait_for`]: poll a condition against a deadline instead of sleeping.
//! * [`connect`], [`connect_from`], [`udp_from`]: clients bound to a chosen 127.0.0.x
//!   source, so access-control tests can be several hosts on one loopback interface.
//! * [`strip_log_timestamp`]: a log line without xinetd's `YY/M/D@HH:MM:SS` stamp, for
//!   comparing lines written at different times.
//! * [`RealXinetd`]: Debian's `/usr/sbin/xinetd` on a configuration in its own temporary
//!   directory, for differential tests; `None` (with the reason printed) when it is absent.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Debian's xinetd 2.3.15.3 (package `xinetd`), the oracle of the differential tests.
pub const REAL_XINETD: &str = "/usr/sbin/xinetd";

/// True when the test runs with effective uid 0 (CI does; servers then run as root or
/// nobody, and the real xinetd may be started).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Says why a test returns without checking anything, in the format every suite uses.
/// Printed (not failed) so that `cargo test` as a normal user or without Debian's packages
/// still passes, while `--nocapture` shows what was left out.
pub fn skip(reason: impl Display) {
    println!("skipped: {reason}");
}

/// True when root; otherwise prints `skipped: WHAT needs root (euid N)` and returns false,
/// for `if !require_root("...") { return; }`.
pub fn require_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(format_args!(
        "{what} needs root (euid {})",
        nix::unistd::geteuid()
    ));
    false
}

/// Why the real xinetd cannot be started here, or `None` when [`REAL_XINETD`] exists.
pub fn real_xinetd_absent() -> Option<String> {
    (!Path::new(REAL_XINETD).exists())
        .then(|| format!("{REAL_XINETD} is not installed (apt-get install -y xinetd)"))
}

/// A port free for TCP and UDP on 127.0.0.1 and `::`, never handed out twice in this test
/// process: the kernel may give the same ephemeral port to two consecutive probes, and two
/// tests of one binary run in parallel.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..1000 {
        let t = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = t.local_addr().expect("local addr").port();
        drop(t);
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.contains(&port) {
            continue;
        }
        // Free on the IPv6 wildcard too: services without `bind` listen dual-stack.
        let free = UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("::", port)).is_ok()
            && TcpListener::bind(("::", port)).is_ok();
        if free {
            given.push(port);
            return port;
        }
    }
    panic!("no free port found");
}

/// Polls `cond` every 10 ms until it holds; panics naming `what` after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, cond: impl FnMut() -> bool) {
    if !wait_for(secs, cond) {
        panic!("timed out after {secs}s waiting for {what}");
    }
}

/// Polls `cond` every 10 ms for at most `secs` seconds; true when it held. For waits whose
/// timeout is itself an outcome the caller compares (the differential suite).
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A TCP connection from `src` (any 127.0.0.x: the whole /8 is local) to 127.0.0.1:`port`,
/// with 5 s connect and read timeouts so a silent daemon fails the test instead of hanging it.
pub fn connect_from(src: Ipv4Addr, port: u16) -> TcpStream {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::from((src, 0)).into())
        .expect("bind client source");
    sock.connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)).into(),
        Duration::from_secs(5),
    )
    .expect("connect");
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

/// [`connect_from`] 127.0.0.1.
pub fn connect(port: u16) -> TcpStream {
    connect_from(Ipv4Addr::LOCALHOST, port)
}

/// One UDP datagram from `src` to 127.0.0.1:`port` and the first reply; `None` when none
/// comes within `timeout_ms`.
pub fn udp_from(src: Ipv4Addr, port: u16, payload: &[u8], timeout_ms: u64) -> Option<Vec<u8>> {
    let u = UdpSocket::bind((src, 0)).expect("udp bind");
    u.set_read_timeout(Some(Duration::from_millis(timeout_ms)))
        .expect("timeout");
    u.send_to(payload, ("127.0.0.1", port)).expect("send");
    let mut buf = vec![0u8; 65536];
    match u.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// `line` without xinetd's `YY/M/D@HH:MM:SS` prefix and the separator after it (`: ` in FILE
/// and `-d` lines, a space in `-filelog` lines), as the oracle's normalisation did. Panics if
/// the line does not start with such a timestamp: a line in another layout is a failure.
pub fn strip_log_timestamp(line: &str) -> &str {
    let at = line.find('@').expect("timestamp has '@'");
    let date = &line[..at];
    let parts: Vec<&str> = date.split('/').collect();
    assert_eq!(parts.len(), 3, "date part {date:?}");
    assert_eq!(parts[0].len(), 2, "two-digit year in {line:?}");
    let time = &line[at + 1..at + 9];
    assert!(
        time.as_bytes()[2] == b':' && time.as_bytes()[5] == b':',
        "time part {time:?}"
    );
    let rest = &line[at + 9..];
    rest.strip_prefix(": ")
        .or_else(|| rest.strip_prefix(' '))
        .expect("separator after timestamp")
}

/// Debian's xinetd running on a configuration in its own temporary directory, stopped by
/// its pid (SIGTERM, then SIGKILL) when dropped.
///
/// Started as `xinetd -dontfork -filelog DIR/prog.log -pidfile DIR/pid -f DIR/xinetd.conf`
/// with `@DIR@` in the configuration replaced by the directory, so service logs can be
/// `log_type = FILE @DIR@/svc.log`.
pub struct RealXinetd {
    child: Child,
    dir: tempfile::TempDir,
}

impl RealXinetd {
    /// Starts the real xinetd and waits (at most 10 s) for its `Started working` notice;
    /// `None`, with the reason printed, when [`REAL_XINETD`] is not installed. Panics with
    /// the program log when it exits or stays silent instead.
    pub fn start(conf: &str) -> Option<RealXinetd> {
        if let Some(why) = real_xinetd_absent() {
            skip(why);
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let conf_path = d.join("xinetd.conf");
        std::fs::write(&conf_path, conf.replace("@DIR@", &d.display().to_string()))
            .expect("write config");
        // As root, in a mount namespace of its own whose resolv.conf points at loopback:
        // xinetd's libwrap looks clients' names up, and those queries must not leave the
        // machine.
        let private = is_root() && std::path::Path::new("/usr/bin/unshare").exists();
        let mut cmd = if private {
            std::fs::write(
                d.join("resolv.conf"),
                "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
            )
            .expect("resolv.conf");
            let mut c = Command::new("/usr/bin/unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c"])
                .arg("mount --bind \"$0\" /etc/resolv.conf || exit 1; exec \"$@\"")
                .arg(d.join("resolv.conf"))
                .arg(REAL_XINETD);
            c
        } else {
            Command::new(REAL_XINETD)
        };
        // A process group of its own: xinetd signals its group on some exits, which must
        // not reach the test runner.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .arg("-dontfork")
            .arg("-filelog")
            .arg(d.join("prog.log"))
            .arg("-pidfile")
            .arg(d.join("pid"))
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the real xinetd");
        let mut real = RealXinetd { child, dir };
        let up = wait_for(10, || {
            real.prog_log().contains("Started working")
                || matches!(real.child.try_wait(), Ok(Some(_)))
        });
        assert!(
            up && real.prog_log().contains("Started working"),
            "the real xinetd did not start; its log:\n{}",
            real.prog_log()
        );
        Some(real)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits in pid_t")
    }

    /// The temporary directory (`@DIR@`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `name` inside [`RealXinetd::dir`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Text of a file in the directory ("" while it does not exist).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// The program log (`-filelog DIR/prog.log`).
    pub fn prog_log(&self) -> String {
        self.read("prog.log")
    }

    /// Stops the daemon and waits for it (SIGTERM, SIGKILL after 5 s) but keeps the
    /// directory, so its logs can be read once nothing writes to them any more.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
            let gone = wait_for(5, || matches!(self.child.try_wait(), Ok(Some(_))));
            if !gone {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for RealXinetd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_never_handed_out_twice() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }

    #[test]
    fn wait_for_reports_a_condition_that_never_holds() {
        let started = Instant::now();
        assert!(!wait_for(0, || false));
        assert!(wait_for(5, || true));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn strip_log_timestamp_takes_both_separators() {
        assert_eq!(
            strip_log_timestamp("26/12/6@00:44:35: START: echo pid=1"),
            "START: echo pid=1"
        );
        assert_eq!(
            strip_log_timestamp("26/12/6@00:44:35 xinetd[7]: NOTICE: x"),
            "xinetd[7]: NOTICE: x"
        );
    }

    #[test]
    fn connect_from_and_udp_from_use_the_chosen_source() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let _c = connect_from(Ipv4Addr::new(127, 0, 0, 2), port);
        let (_, peer) = l.accept().expect("accept");
        assert_eq!(peer.ip(), Ipv4Addr::new(127, 0, 0, 2));

        let u = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = u.local_addr().expect("addr").port();
        let echo = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            let (n, from) = u.recv_from(&mut buf).expect("recv");
            u.send_to(&buf[..n], from).expect("send");
            from
        });
        assert_eq!(
            udp_from(Ipv4Addr::new(127, 0, 0, 3), port, b"hi", 5000),
            Some(b"hi".to_vec())
        );
        let from = echo.join().expect("echo thread");
        assert_eq!(from.ip(), Ipv4Addr::new(127, 0, 0, 3));
    }
}
