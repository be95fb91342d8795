//! End-to-end tests of the issue 8 daemon features: tcp_wrappers (hosts.allow/hosts.deny),
//! `-convert-inetd`, INTERCEPT/NORETRY handling, `log_on_failure = USERID`, TCPMUX client
//! set-up, the `servers`/`services`/`xadmin` builtins and `type = RPC` registration. Each test
//! starts the real binary on loopback.

mod util;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use nix::sys::signal::Signal;
use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SRC3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// hosts.allow / hosts.deny in their own directory, for `-hosts_allow` / `-hosts_deny`.
struct HostsFiles {
    dir: tempfile::TempDir,
}

impl HostsFiles {
    fn new(allow: &str, deny: &str) -> HostsFiles {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = HostsFiles { dir };
        h.write(allow, deny);
        h
    }

    fn write(&self, allow: &str, deny: &str) {
        std::fs::write(self.allow(), allow).expect("write hosts.allow");
        std::fs::write(self.deny(), deny).expect("write hosts.deny");
    }

    fn allow(&self) -> PathBuf {
        self.dir.path().join("hosts.allow")
    }

    fn deny(&self) -> PathBuf {
        self.dir.path().join("hosts.deny")
    }

    fn start(&self, conf: &str, extra: &[&str]) -> Daemon {
        let allow = self.allow().display().to_string();
        let deny = self.deny().display().to_string();
        let mut args = vec!["-hosts_allow", &allow, "-hosts_deny", &deny];
        args.extend_from_slice(extra);
        Daemon::start_with(conf, &args)
    }
}

// ---- tcp_wrappers (F-250, F-307, F-146) ----

#[test]
fn hosts_deny_all_all_refuses_every_service_and_logs_libwrap() {
    let h = HostsFiles::new("", "ALL: ALL\n");
    let (tcp, udp) = (free_port(), free_port());
    let conf = internal("daytime", "daytime", "stream", tcp, "")
        + &internal("echo", "echo-dgram", "dgram", udp, "");
    let d = h.start(&conf, &[]);
    // Refused: EOF without the daytime line.
    assert_eq!(read_all(&mut connect(tcp)), b"");
    d.wait_log(
        5,
        "libwrap refused connection to daytime (libwrap=daytime) from 127.0.0.1",
    );
    d.wait_file(5, "svc.log", "FAIL: daytime libwrap from=127.0.0.1");
    // Datagram services too: no echo.
    assert_eq!(udp_from(SRC2, udp, b"ping", 300), None);
    d.wait_log(
        5,
        "libwrap refused connection to echo-dgram (libwrap=echo) from 127.0.0.2",
    );
    d.wait_file(5, "svc.log", "FAIL: echo-dgram libwrap from=127.0.0.2");
    assert!(!d.read("svc.log").contains("START: daytime"));
}

#[test]
fn daemon_specific_rules_use_xinetds_daemon_names() {
    // hosts.allow grants daytime to 127.0.0.3 only; `libwrap = special` renames the other
    // service; an external server is looked up by the basename of `server`.
    let h = HostsFiles::new(
        "daytime: 127.0.0.3\nspecial: 127.0.0.2\necho: 127.0.0.1\n",
        "ALL: ALL\n",
    );
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let conf = internal("daytime", "daytime", "stream", p1, "")
        + &internal("daytime", "renamed", "stream", p2, "\tlibwrap = special\n")
        + &external("ext", p3, "/bin/echo", "hello", "");
    let d = h.start(&conf, &[]);
    assert_eq!(read_all(&mut connect_from(SRC2, p1)), b"");
    d.wait_log(
        5,
        "libwrap refused connection to daytime (libwrap=daytime) from 127.0.0.2",
    );
    assert!(read_all(&mut connect_from(SRC3, p1)).ends_with(b"\r\n"));
    assert!(read_all(&mut connect_from(SRC2, p2)).ends_with(b"\r\n"));
    assert_eq!(read_all(&mut connect_from(SRC3, p2)), b"");
    d.wait_log(
        5,
        "libwrap refused connection to renamed (libwrap=special) from 127.0.0.3",
    );
    // `echo: 127.0.0.1` is a rule for /bin/echo: granted to 127.0.0.1, refused to others.
    if is_root() {
        assert_eq!(read_all(&mut connect(p3)), b"hello\n");
    }
    assert_eq!(read_all(&mut connect_from(SRC2, p3)), b"");
    d.wait_log(
        5,
        "libwrap refused connection to ext (libwrap=echo) from 127.0.0.2",
    );
    d.wait_file(5, "svc.log", "FAIL: ext libwrap from=127.0.0.2");
}

#[test]
fn nolibwrap_bypasses_the_hosts_files() {
    let h = HostsFiles::new("", "ALL: ALL\n");
    let (p1, p2) = (free_port(), free_port());
    let conf = internal("daytime", "wrapped", "stream", p1, "")
        + &internal("daytime", "free", "stream", p2, "\tflags = NOLIBWRAP\n");
    let d = h.start(&conf, &[]);
    assert!(read_all(&mut connect(p2)).ends_with(b"\r\n"));
    assert_eq!(read_all(&mut connect(p1)), b"");
    d.wait_file(5, "svc.log", "FAIL: wrapped libwrap");
    assert!(!d.read("svc.log").contains("FAIL: free"));
}

#[test]
fn tcpmux_clients_are_checked_with_their_own_daemon_name() {
    use std::io::Write;
    let h = HostsFiles::new("", "muxhello: 127.0.0.1\n");
    let port = free_port();
    let clients = "service hello\n{\n\ttype = TCPMUXPLUS UNLISTED\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = /bin/echo\n\
         \tlibwrap = muxhello\n}\n";
    let conf = internal("tcpmux", "tcpmux", "stream", port, "") + clients;
    let d = h.start(&conf, &[]);
    let mut s = connect(port);
    s.write_all(b"hello\r\n").expect("write");
    // Refused before `+Go`: nothing comes back.
    assert_eq!(read_all(&mut s), b"");
    d.wait_log(
        5,
        "libwrap refused connection to hello (libwrap=muxhello) from 127.0.0.1",
    );
}

#[test]
fn dual_stack_clients_match_ipv4_rules_and_log_mapped_addresses() {
    // 2.3.15.3's default socket is dual-stack: IPv4 clients arrive as ::ffff:a.b.c.d, which
    // libwrap matches as the IPv4 address; xinetd logs the mapped form.
    let h = HostsFiles::new("", "daytime: 127.0.0.2\n");
    let port = free_port();
    let conf =
        internal("daytime", "daytime", "stream", port, "").replace("\tbind = 127.0.0.1\n", "");
    let d = h.start(&conf, &[]);
    assert_eq!(read_all(&mut connect_from(SRC2, port)), b"");
    d.wait_log(
        5,
        "libwrap refused connection to daytime (libwrap=daytime) from ::ffff:127.0.0.2",
    );
    d.wait_file(5, "svc.log", "FAIL: daytime libwrap from=::ffff:127.0.0.2");
    assert!(read_all(&mut connect_from(SRC3, port)).ends_with(b"\r\n"));
}

#[test]
fn hosts_file_problems_are_logged_with_their_position() {
    let h = HostsFiles::new(
        "daytime: 127.0.0.3 : spawn /bin/echo hi\nthis line has no separator\n",
        "",
    );
    let port = free_port();
    let d = h.start(&internal("daytime", "daytime", "stream", port, ""), &[]);
    let allow = h.allow().display().to_string();
    let log = d.prog_log();
    assert!(
        log.contains(&format!("WARNING: libwrap: {allow}:1:")),
        "{log}"
    );
    assert!(
        log.contains(&format!("ERROR: libwrap: {allow}:2:")),
        "{log}"
    );
    // `spawn` is never run, and the rule still grants.
    assert!(read_all(&mut connect_from(SRC3, port)).ends_with(b"\r\n"));
}

#[test]
fn wait_yes_services_are_wrapped_too() {
    let h = HostsFiles::new("", "ALL: ALL\n");
    let (udp, tcp) = (free_port(), free_port());
    let stanza = |id: &str, sock: &str, proto: &str, port: u16| {
        format!(
            "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = {sock}\n\tprotocol = {proto}\n\
             \tport = {port}\n\twait = yes\n\tuser = root\n\tserver = /bin/cat\n\
             \tbind = 127.0.0.1\n\tcps = 0 0\n\tlog_type = FILE @DIR@/svc.log\n\
             \tlog_on_success = PID HOST\n\tlog_on_failure = HOST\n}}\n"
        )
    };
    let conf = stanza("uwait", "dgram", "udp", udp) + &stanza("twait", "stream", "tcp", tcp);
    let d = h.start(&conf, &[]);
    // udp: the queued datagram's sender is checked.
    assert_eq!(udp_from(SRC2, udp, b"hi", 300), None);
    d.wait_file(5, "svc.log", "FAIL: uwait libwrap from=127.0.0.2");
    // tcp: the server would accept by itself; the client is unknown to libwrap, and
    // `ALL: ALL` refuses it as in xinetd.
    assert_eq!(read_all(&mut connect(tcp)), b"");
    d.wait_file(5, "svc.log", "FAIL: twait libwrap");
    assert!(!d.read("svc.log").contains("START"));
}

#[test]
fn hosts_files_are_read_again_on_reload() {
    let h = HostsFiles::new("", "");
    let port = free_port();
    let conf = internal("daytime", "daytime", "stream", port, "");
    let d = h.start(&conf, &[]);
    assert!(read_all(&mut connect_from(SRC2, port)).ends_with(b"\r\n"));
    h.write("", "daytime: 127.0.0.2\n");
    // Parsed once per load: still served until the reload.
    assert!(read_all(&mut connect_from(SRC2, port)).ends_with(b"\r\n"));
    d.signal(Signal::SIGHUP);
    d.wait_log(5, "Reconfigured");
    assert_eq!(read_all(&mut connect_from(SRC2, port)), b"");
    d.wait_file(5, "svc.log", "FAIL: daytime libwrap from=127.0.0.2");
    assert!(read_all(&mut connect_from(SRC3, port)).ends_with(b"\r\n"));
}

#[test]
fn host_name_rules_are_resolved_off_the_loop() {
    // `localhost` needs the client's (double-reverse verified) name: the resolver thread
    // answers and the connection is refused; 127.0.0.2 (no name here) is served.
    let resolves = std::process::Command::new("getent")
        .args(["hosts", "127.0.0.1"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("localhost"))
        .unwrap_or(false);
    if !resolves {
        eprintln!("skipped: 127.0.0.1 does not resolve to localhost here");
        return;
    }
    let h = HostsFiles::new("", "daytime: localhost\n");
    let port = free_port();
    let d = h.start(&internal("daytime", "daytime", "stream", port, ""), &[]);
    assert_eq!(read_all(&mut connect(port)), b"");
    d.wait_log(
        10,
        "libwrap refused connection to daytime (libwrap=daytime) from 127.0.0.1",
    );
    assert!(read_all(&mut connect_from(SRC2, port)).ends_with(b"\r\n"));
}

// ---- -version, -convert-inetd ----

#[test]
fn version_lists_libwrap_like_debian() {
    let out = std::process::Command::new(XINETD)
        .arg("-version")
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "2.3.15.3 libwrap loadavg\n"
    );
}

#[test]
fn convert_inetd_prints_entries_and_fails_on_bad_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("inetd.conf");
    std::fs::write(
        &good,
        "# comment\n\
         echo stream tcp nowait root internal\n\
         finger stream tcp nowait nobody /usr/sbin/tcpd true -w\n",
    )
    .expect("write");
    let out = std::process::Command::new(XINETD)
        .arg("-convert-inetd")
        .arg(&good)
        .args(["-daemon_dir", "/bin/"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("service echo\n{\n"), "{text}");
    assert!(text.contains("service finger\n"), "{text}");
    // itox with -daemon_dir replaces tcpd by the daemon itself.
    assert!(text.contains("/bin/true"), "{text}");
    // The output is a configuration we load.
    let conv = dir.path().join("converted.conf");
    std::fs::write(&conv, text.as_bytes()).expect("write");
    let check = std::process::Command::new(XINETD)
        .arg("-check")
        .arg("-f")
        .arg(&conv)
        .output()
        .expect("run");
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("2 services accepted"),
        "{check:?}"
    );

    // xconv.pl style: a defaults block and NAMEINARGS.
    let out = std::process::Command::new(XINETD)
        .arg("-convert-inetd")
        .arg(&good)
        .arg("-xconv")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("defaults"), "{text}");
    assert!(text.contains("NAMEINARGS"), "{text}");

    // A line with missing fields: diagnostics on stderr, exit 1.
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "echo stream tcp\n").expect("write");
    let out = std::process::Command::new(XINETD)
        .arg("-convert-inetd")
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.conf:1"),
        "{out:?}"
    );
    // Unreadable file.
    let out = std::process::Command::new(XINETD)
        .args(["-convert-inetd", "/nonexistent/inetd.conf"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

// ---- fork retry (F-420), NORETRY (F-141) ----

/// Tests that run processes as `nobody` take this lock: RLIMIT_NPROC counts every process of
/// the user, so they must not overlap.
static NOBODY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn nobody_lock() -> std::sync::MutexGuard<'static, ()> {
    NOBODY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the daemon as `nobody` with RLIMIT_NPROC 1, so that it cannot fork (or start a
/// thread) until the test lifts the limit with `prlimit --pid`. Needs root, `prlimit`
/// and `setpriv`; `None` (with the reason printed) otherwise.
fn start_without_forks(conf: &str) -> Option<(std::process::Child, tempfile::TempDir)> {
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon as nobody with RLIMIT_NPROC");
        return None;
    }
    for tool in ["prlimit", "setpriv"] {
        if std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: {tool} is not installed");
            return None;
        }
    }
    // Other processes of `nobody` would count against the limit (those of the previous
    // test may still be exiting).
    let busy = || {
        std::process::Command::new("pgrep")
            .args(["-u", "nobody"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while busy() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if busy() {
        eprintln!("skipped: processes of nobody are running (they count for RLIMIT_NPROC)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let conf_path = dir.path().join("xinetd.conf");
    std::fs::write(
        &conf_path,
        conf.replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("write config");
    let empty = dir.path().join("hosts.empty");
    std::fs::write(&empty, "").expect("write");
    let child = std::process::Command::new("prlimit")
        .args([
            "--nproc=1:",
            "--",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", XINETD, "-dontfork", "-filelog"])
        .arg(dir.path().join("prog.log"))
        .arg("-f")
        .arg(&conf_path)
        .arg("-hosts_allow")
        .arg(&empty)
        .arg("-hosts_deny")
        .arg(&empty)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start xinetd");
    let log = dir.path().join("prog.log");
    wait_until(10, "Started working", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Started working")
    });
    Some((child, dir))
}

fn nobody_echo(id: &str, port: u16, flags: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = no\n\tuser = nobody\n\tserver = /bin/echo\n\
         \tserver_args = hello\n\tbind = 127.0.0.1\n\tcps = 0 0\n{flags}\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST EXIT\n\
         \tlog_on_failure = HOST\n}}\n"
    )
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_failed_fork_is_retried_five_seconds_later() {
    let _nobody = nobody_lock();
    let port = free_port();
    let Some((child, dir)) = start_without_forks(&nobody_echo("retry", port, "")) else {
        return;
    };
    let child = Kill(child);
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let mut client = connect(port);
    wait_until(5, "the fork failure", || {
        log("prog.log").contains("retry: fork failed: ")
    });
    // Let it fork again: the retry 5 s later serves the waiting client. (Raising the soft
    // limit of another user's process needs its uid, not root without CAP_SYS_RESOURCE.)
    let st = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "prlimit",
        ])
        .args(["--pid", &child.0.id().to_string(), "--nproc=1000:"])
        .status()
        .expect("prlimit");
    assert!(st.success());
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(read_all(&mut client), b"hello\n");
    assert!(
        log("svc.log").contains("START: retry pid="),
        "{}",
        log("svc.log")
    );
    assert!(!log("svc.log").contains("FAIL"), "{}", log("svc.log"));
}

#[test]
fn noretry_fails_the_request_at_once() {
    let _nobody = nobody_lock();
    let port = free_port();
    let conf = nobody_echo("noretry", port, "\tflags = NORETRY\n");
    let Some((child, dir)) = start_without_forks(&conf) else {
        return;
    };
    let _child = Kill(child);
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let started = std::time::Instant::now();
    assert_eq!(read_all(&mut connect(port)), b"");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    wait_until(5, "FAIL fork", || {
        log("svc.log").contains("FAIL: noretry fork from=127.0.0.1")
    });
    assert!(log("prog.log").contains("noretry: fork failed: "));
}

// ---- INTERCEPT (F-140, F-065) ----

#[test]
fn intercept_is_accepted_with_a_warning_and_cleared_where_xinetd_clears_it() {
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let udp_wait = format!(
        "service icept\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\
         \tport = {p1}\n\twait = yes\n\tuser = root\n\tserver = /bin/true\n\
         \tbind = 127.0.0.1\n\tflags = INTERCEPT\n}}\n"
    );
    let conf = udp_wait
        + &internal("daytime", "inner", "stream", p2, "\tflags = INTERCEPT\n")
        + &external("multi", p3, "/bin/echo", "hi", "\tflags = INTERCEPT\n");
    let d = Daemon::start(&conf);
    d.wait_log(
        5,
        "service icept: flags = INTERCEPT is not implemented by xinetd-rs; the server runs \
         without an interceptor",
    );
    let log = d.prog_log();
    // xinetd's own clearing messages (F-065); the services stay.
    assert!(
        log.contains("Internal services cannot be intercepted: inner"),
        "{log}"
    );
    assert!(
        log.contains("Multi-threaded services cannot be intercepted: multi"),
        "{log}"
    );
    assert!(!log.contains("service inner: flags = INTERCEPT"), "{log}");
    assert!(!log.contains("service multi: flags = INTERCEPT"), "{log}");
    assert!(read_all(&mut connect(p2)).ends_with(b"\r\n"));
}

// ---- type = RPC (F-119, F-976) ----

fn rpc_service(id: &str, sock: &str, extra: &str) -> String {
    let (proto, wait) = if sock == "stream" {
        ("tcp", "no")
    } else {
        ("udp", "yes")
    };
    format!(
        "service {id}\n{{\n\ttype = RPC UNLISTED\n\trpc_number = 100099\n\trpc_version = 1-2\n\
         \tsocket_type = {sock}\n\tprotocol = {proto}\n\twait = {wait}\n\tuser = root\n\
         \tserver = /bin/echo\n\tserver_args = rpc-hello\n\tbind = 127.0.0.1\n\tcps = 0 0\n{extra}}}\n"
    )
}

/// A fake portmapper: answers TRUE to every call and reports (proc, prog, vers, prot, port).
fn fake_portmapper() -> (u16, std::sync::mpsc::Receiver<[u32; 5]>) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = sock.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let w: Vec<u32> = buf[..n]
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            // xid, CALL, rpcvers 2, PMAP_PROG, PMAP_VERS 2, proc, cred, verf, args.
            if w.len() != 14 || w[1] != 0 || w[2] != 2 || w[3] != 100_000 || w[4] != 2 {
                continue;
            }
            let reply: Vec<u8> = [w[0], 1, 0, 0, 0, 0, 1]
                .iter()
                .flat_map(|x| x.to_be_bytes())
                .collect();
            let _ = sock.send_to(&reply, from);
            if tx.send([w[5], w[10], w[11], w[12], w[13]]).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn rpc_services_register_every_version_and_unregister_at_exit() {
    let (pmap, calls) = fake_portmapper();
    let conf = rpc_service("rpcsvc", "stream", "");
    let mut d = Daemon::start_with(&conf, &["-pmap_port", &pmap.to_string()]);
    let next = || {
        calls
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("a portmapper call")
    };
    let (set1, set2) = (next(), next());
    // PMAPPROC_SET, program 100099, versions 1 and 2, IPPROTO_TCP, the kernel-chosen port.
    assert_eq!(set1[..4], [1, 100_099, 1, 6]);
    assert_eq!(set2[..4], [1, 100_099, 2, 6]);
    assert_eq!(set1[4], set2[4]);
    let port = u16::try_from(set1[4]).expect("a port");
    assert_ne!(port, 0);
    if is_root() {
        assert_eq!(read_all(&mut connect(port)), b"rpc-hello\n");
    }
    d.signal(Signal::SIGTERM);
    d.wait_exit(10);
    let (un1, un2) = (next(), next());
    assert_eq!(un1[..3], [2, 100_099, 1]);
    assert_eq!(un2[..3], [2, 100_099, 2]);
}

#[test]
fn rpc_without_portmapper_logs_xinetds_error_and_deactivates() {
    // A port where nothing listens: every pmap_set is refused at once.
    let nobody = free_port();
    let conf = rpc_service("rpcsvc", "dgram", "")
        + &internal("daytime", "daytime", "stream", free_port(), "");
    let d = Daemon::start_with(&conf, &["-pmap_port", &nobody.to_string()]);
    let log = d.prog_log();
    assert!(
        log.contains("pmap_set failed. service=rpcsvc program=100099 version=1"),
        "{log}"
    );
    assert!(
        log.contains("pmap_set failed. service=rpcsvc program=100099 version=2"),
        "{log}"
    );
    assert!(
        log.contains("Service rpcsvc failed to start and is deactivated."),
        "{log}"
    );
    assert!(
        log.contains("Started working: 1 available service"),
        "{log}"
    );
}

/// rpcbind for the test: the running one, or one started here (killed at the end).
fn rpcbind() -> Option<Option<Kill>> {
    let running = || {
        std::process::Command::new("rpcinfo")
            .args(["-p", "127.0.0.1"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if running() {
        return Some(None);
    }
    if !is_root() {
        eprintln!("skipped: rpcbind is not running and starting it needs root");
        return None;
    }
    let Ok(child) = std::process::Command::new("rpcbind")
        .args(["-f", "-w"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("skipped: rpcbind is not installed (apt-get install -y rpcbind)");
        return None;
    };
    let child = Kill(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !running() {
        if std::time::Instant::now() > deadline {
            eprintln!("skipped: rpcbind did not start");
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(Some(child))
}

fn rpcinfo_lines() -> Vec<String> {
    let out = std::process::Command::new("rpcinfo")
        .args(["-p", "127.0.0.1"])
        .output()
        .expect("rpcinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("100099"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn rpc_services_appear_in_rpcbind_until_the_daemon_exits() {
    let Some(_rpcbind) = rpcbind() else {
        return;
    };
    if !rpcinfo_lines().is_empty() {
        eprintln!("skipped: program 100099 is already registered with rpcbind");
        return;
    }
    let conf = rpc_service("rpctcp", "stream", "") + &rpc_service("rpcudp", "dgram", "");
    let mut d = Daemon::start(&conf);
    let lines = rpcinfo_lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let tcp: Vec<&String> = lines.iter().filter(|l| l.contains(" tcp ")).collect();
    assert_eq!(tcp.len(), 2, "{lines:?}");
    assert!(tcp[0].starts_with("100099 1 tcp ") || tcp[1].starts_with("100099 1 tcp "));
    let port: u16 = tcp[0]
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    if is_root() {
        assert_eq!(read_all(&mut connect(port)), b"rpc-hello\n");
    }
    d.signal(Signal::SIGTERM);
    d.wait_exit(10);
    assert_eq!(rpcinfo_lines(), Vec::<String>::new());
}

// ---- TCPMUX client services: the full child set-up (F-544, CVE-2013-4342) ----

#[test]
fn tcpmux_clients_run_with_their_own_user_and_no_stray_nul() {
    if !is_root() {
        eprintln!("skipped: switching to user = nobody needs root");
        return;
    }
    let _nobody = nobody_lock();
    let port = free_port();
    let clients = "service whoami\n{\n\ttype = TCPMUXPLUS UNLISTED\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tuser = nobody\n\tgroup = nogroup\n\
         \tserver = /usr/bin/id\n}\n\
         service plain\n{\n\ttype = TCPMUX UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \twait = no\n\tuser = nobody\n\tserver = /usr/bin/env\n\tenv = ISSUE8=yes\n}\n";
    let conf = internal("tcpmux", "tcpmux", "stream", port, "") + clients;
    let d = Daemon::start(&conf);
    let ask = |req: &[u8]| {
        let mut s = connect(port);
        std::io::Write::write_all(&mut s, req).expect("write");
        read_all(&mut s)
    };
    let out = String::from_utf8(ask(b"whoami\r\n")).expect("text");
    // "+Go\r\n" and nothing else before the server's output (xinetd sends a NUL too).
    let id = out.strip_prefix("+Go\r\n").expect("+Go first");
    assert!(!out.contains('\0'), "{out:?}");
    // The server runs as the client service's user and group, not as root (the 2.3.15 bug).
    assert!(
        id.starts_with("uid=65534(nobody) gid=65534(nogroup)"),
        "{id}"
    );
    assert!(!id.contains("(root)"), "{id}");
    // TCPMUX: nothing from us; the server's environment is the service's (REMOTE_HOST, env).
    let env = String::from_utf8(ask(b"plain\r\n")).expect("text");
    assert!(!env.starts_with('+'), "{env}");
    assert!(env.lines().any(|l| l == "REMOTE_HOST=127.0.0.1"), "{env}");
    assert!(env.lines().any(|l| l == "ISSUE8=yes"), "{env}");
    assert_eq!(ask(b"nosuch\r\n"), b"-Service name not found\r\n");
    d.wait_file(5, "svc.log", "EXIT: tcpmux status=0 pid=");
}

// ---- log_on_failure = USERID (F-741) ----

/// A fake identd: answers `<ports> : USERID : UNIX : <user>` (or `reply` verbatim when set)
/// and counts the queries.
fn fake_identd(
    reply: Option<&'static str>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, Write};
    let identd = std::net::TcpListener::bind("127.0.0.1:0").expect("identd");
    let port = identd.local_addr().expect("addr").port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for s in identd.incoming().take(20) {
            let Ok(mut s) = s else { continue };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let ports = line.trim_end().replace(',', ", ");
            let _ = match reply {
                Some(r) => s.write_all(r.as_bytes()),
                None => write!(s, "{ports} : USERID : UNIX : mallory\r\n"),
            };
        }
    });
    (port, count)
}

#[test]
fn userid_on_failure_asks_identd_for_parent_side_refusals_only() {
    let (ident, queries) = fake_identd(None);
    let (echo, guarded) = (free_port(), free_port());
    let conf = internal("echo", "echo", "stream", echo, "\tinstances = 1\n")
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID")
        + &internal(
            "daytime",
            "guarded",
            "stream",
            guarded,
            "\tonly_from = 127.0.0.3\n",
        )
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &ident.to_string()]);
    // The first echo client holds the only instance; the second is refused (a parent-side
    // check in xinetd): FAIL, then the USERID line from the lookup (the identd asked is on
    // the client's address: 127.0.0.1 here).
    let _holder = connect_from(SRC2, echo);
    d.wait_file(5, "svc.log", "START: echo");
    let mut refused = connect(echo);
    d.wait_file(5, "svc.log", "FAIL: echo service_limit from=127.0.0.1");
    d.wait_file(5, "svc.log", "USERID: echo UNIX : mallory");
    assert_eq!(read_all(&mut refused), b"");
    let log = d.read("svc.log");
    assert!(log.find("FAIL: echo").expect("FAIL") < log.find("USERID: echo").expect("USERID"));
    // An address refusal is xinetd's child-side check: no lookup.
    let before = queries.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(read_all(&mut connect(guarded)), b"");
    d.wait_file(5, "svc.log", "FAIL: guarded address from=127.0.0.1");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(queries.load(std::sync::atomic::Ordering::SeqCst), before);
    assert!(!d.read("svc.log").contains("USERID: guarded"));
}

#[test]
fn userid_on_failure_reports_a_bad_identd() {
    let (ident, _) = fake_identd(Some("garbage\r\n"));
    let echo = free_port();
    let conf = internal("echo", "echo", "stream", echo, "\tinstances = 1\n")
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &ident.to_string()]);
    let _holder = connect_from(SRC3, echo);
    d.wait_file(5, "svc.log", "START: echo");
    let _refused = connect(echo);
    d.wait_log(5, "Failed to contact identity server at 127.0.0.1: ");
    assert!(!d.read("svc.log").contains("USERID:"));
}

// ---- servers, services, xadmin (seed article 4.3, F-530) ----

fn admin_service(name: &str, id: &str, port: u16, only_from: &str) -> String {
    internal(name, id, "stream", port, "")
        .replace("\tcps = 0 0\n", &format!("\tcps = 0 0\n{only_from}"))
}

#[test]
fn servers_services_and_xadmin_report_and_answer_only_their_only_from() {
    use std::io::{Read, Write};
    let (xadmin, servers, services, open, echo) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let conf = admin_service("xadmin", "xadmin", xadmin, "\tonly_from = 127.0.0.1\n")
        + &admin_service("servers", "servers", servers, "\tonly_from = 127.0.0.1\n")
        + &admin_service(
            "services",
            "services",
            services,
            "\tonly_from = 127.0.0.1\n",
        )
        + &admin_service("services", "open-services", open, "")
        + &internal("echo", "echo", "stream", echo, "");
    let d = Daemon::start(&conf);
    // services: `name protocol port` per service, in configuration order.
    let text = String::from_utf8(read_all(&mut connect(services))).expect("text");
    assert_eq!(
        text,
        format!(
            "xadmin tcp {xadmin}\nservers tcp {servers}\nservices tcp {services}\n\
             services tcp {open}\necho tcp {echo}\n"
        )
    );
    // Refused from an address its only_from does not list, and without only_from at all.
    assert_eq!(read_all(&mut connect_from(SRC2, services)), b"");
    d.wait_file(5, "svc.log", "FAIL: services address from=127.0.0.2");
    assert_eq!(read_all(&mut connect(open)), b"");
    d.wait_file(5, "svc.log", "FAIL: open-services address from=127.0.0.1");
    d.wait_log(
        5,
        "service open-services: services answers only the addresses of its only_from",
    );

    // servers: one block per running server (the echo connection held open).
    let mut held = connect_from(SRC3, echo);
    held.write_all(b"x").expect("write");
    let mut b = [0u8; 1];
    held.read_exact(&mut b).expect("echo");
    let text = String::from_utf8(read_all(&mut connect(servers))).expect("text");
    assert!(
        text.starts_with("echo server\npid = 0\nstart_time = "),
        "{text}"
    );
    assert!(
        text.contains("Connection info:\n\tservice = echo\n\tremote_address = 127.0.0.3,"),
        "{text}"
    );
    assert!(
        text.ends_with("log_remote_user = NO\nwrites_to_log = NO\n\n"),
        "{text}"
    );
    assert!(!text.contains("servers server"), "{text}");

    // xadmin: prompt, commands, bye.
    let mut s = connect(xadmin);
    let expect = |s: &mut std::net::TcpStream, send: &str, until: &str| -> String {
        if !send.is_empty() {
            s.write_all(send.as_bytes()).expect("write");
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).ends_with(until) {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "EOF after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).expect("text")
    };
    assert_eq!(expect(&mut s, "", "> "), "> ");
    let help = expect(&mut s, "help\n", "> ");
    assert_eq!(
        help,
        "xinetd admin help:\nshow run  :   shows information about running services\n\
         show avail:   shows what services are currently available\n\
         bye, exit :   exits the admin shell\n> "
    );
    let avail = expect(&mut s, "show avail\n", "> ");
    assert!(
        avail.starts_with(
            "Available services:\nservice    port   bound address    uid redir addr redir port\n"
        ),
        "{avail}"
    );
    let uid = nix::unistd::getuid().as_raw();
    let echo_line = format!(
        "{:<10} {:<6} {:<16} {:<6}\n",
        "echo", echo, "127.0.0.1", uid
    );
    assert!(avail.contains(&echo_line), "{avail}");
    let run = expect(&mut s, "show run\n", "> ");
    assert!(
        run.starts_with("Running services:\nservice  run retry attempts descriptor\n"),
        "{run}"
    );
    assert!(
        run.contains("echo server\n") && run.contains("xadmin server\n"),
        "{run}"
    );
    let other = expect(&mut s, "show me\n", "> ");
    assert!(other.starts_with("Relevant commands:\n"), "{other}");
    assert_eq!(expect(&mut s, "bye\n", "bye bye\n"), "bye bye\n");
    assert_eq!(read_all(&mut s), b"");
    d.wait_file(5, "svc.log", "EXIT: xadmin status=0 pid=0");
}

#[test]
fn admin_builtins_exist_only_when_configured() {
    // Without a service block nothing listens; with one, the daemon starts it (2.3.15.3 says
    // `No such internal service` instead, F-530).
    let port = free_port();
    let d = Daemon::start(&admin_service(
        "xadmin",
        "xadmin",
        port,
        "\tonly_from = 127.0.0.1\n",
    ));
    assert!(!d.prog_log().contains("No such internal service"));
    assert!(d
        .prog_log()
        .contains("Started working: 1 available service"));
    // -check agrees with the daemon.
    let out = std::process::Command::new(XINETD)
        .args(["-check", "-f"])
        .arg(&d.conf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 service accepted"),
        "{out:?}"
    );
}

#[test]
fn a_reload_that_removes_the_service_drops_its_retries() {
    let _nobody = nobody_lock();
    let (port, other) = (free_port(), free_port());
    let conf = nobody_echo("gone", port, "") + &nobody_echo("kept", other, "");
    let Some((child, dir)) = start_without_forks(&conf) else {
        return;
    };
    let child = Kill(child);
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let mut client = connect(port);
    wait_until(5, "the fork failure", || {
        log("prog.log").contains("gone: fork failed: ")
    });
    std::fs::write(
        dir.path().join("xinetd.conf"),
        nobody_echo("kept", other, "").replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("rewrite");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        Signal::SIGHUP,
    )
    .expect("SIGHUP");
    wait_until(5, "the dropped retry", || {
        log("prog.log").contains("NOTICE: dropping retry attempt for service gone")
    });
    // The waiting client is closed, not served.
    assert_eq!(read_all(&mut client), b"");
}

#[test]
fn an_xadmin_session_ends_when_a_reload_removes_the_service() {
    use std::io::Read;
    let (xadmin, echo) = (free_port(), free_port());
    let keep = internal("echo", "echo", "stream", echo, "");
    let d = Daemon::start(
        &(admin_service("xadmin", "xadmin", xadmin, "\tonly_from = 127.0.0.1\n") + &keep),
    );
    let mut s = connect(xadmin);
    let mut prompt = [0u8; 2];
    s.read_exact(&mut prompt).expect("prompt");
    assert_eq!(&prompt, b"> ");
    d.rewrite(&keep);
    d.signal(Signal::SIGHUP);
    d.wait_log(5, "Reconfigured");
    assert_eq!(read_all(&mut s), b"");
    d.wait_file(5, "svc.log", "EXIT: xadmin status=0 pid=0");
}

#[test]
fn convert_inetd_output_equals_debians_itox_and_xconv() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (itox, xconv) = ("/usr/bin/itox", "/usr/bin/xconv.pl");
    if !std::path::Path::new(itox).exists() || !std::path::Path::new(xconv).exists() {
        eprintln!("skipped: Debian's itox/xconv.pl are not installed (apt-get install xinetd)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = dir.path().join("inetd.conf");
    let text = "# sample of our own\n\
        echo    stream  tcp     nowait  root    internal\n\
        daytime dgram   udp     wait    root    internal\n\
        finger  stream  tcp     nowait  nobody  /usr/sbin/tcpd  in.fingerd -w\n\
        ftp     stream  tcp     nowait  root    /usr/sbin/in.ftpd in.ftpd -l -a\n\
        talk    dgram   udp     wait    nobody.tty /usr/sbin/in.talkd in.talkd\n\
        \n\
        telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/usr/sbin/in.telnetd\n";
    std::fs::write(&sample, text).expect("write");
    let reference = |tool: &str, args: &[&str]| -> Vec<u8> {
        let mut child = Command::new(tool)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run the reference converter");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("feed");
        child.wait_with_output().expect("output").stdout
    };
    let ours = |args: &[&str]| -> Vec<u8> {
        Command::new(XINETD)
            .arg("-convert-inetd")
            .arg(&sample)
            .args(args)
            .output()
            .expect("run")
            .stdout
    };
    let args = ["-daemon_dir", "/usr/sbin"];
    assert_eq!(
        String::from_utf8_lossy(&ours(&args)),
        String::from_utf8_lossy(&reference(itox, &args)),
        "itox {args:?}"
    );
    // Without -daemon_dir the tcpd lines cannot be converted: itox prints nothing and exits
    // 1; we print the other entries, report the lines and exit 1 too (docs/compat.md).
    assert!(reference(itox, &[]).is_empty());
    let out = Command::new(XINETD)
        .arg("-convert-inetd")
        .arg(&sample)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-daemon_dir"),
        "{out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&ours(&["-xconv"])),
        String::from_utf8_lossy(&reference(xconv, &[])),
        "xconv.pl"
    );
}

#[test]
fn servers_lists_external_servers_with_their_client() {
    use std::io::Read;
    if !is_root() {
        eprintln!("skipped: the external server runs as user = root; needs root");
        return;
    }
    let (servers, sleeper) = (free_port(), free_port());
    let conf = admin_service("servers", "servers", servers, "\tonly_from = 127.0.0.1\n")
        + &external("sleeper", sleeper, "/bin/cat", "", "");
    let d = Daemon::start(&conf);
    let mut held = connect_from(SRC2, sleeper);
    d.wait_file(5, "svc.log", "START: sleeper pid=");
    let text = String::from_utf8(read_all(&mut connect(servers))).expect("text");
    let pid_line = d
        .read("svc.log")
        .lines()
        .find_map(|l| l.split("START: sleeper pid=").nth(1).map(str::to_string))
        .and_then(|r| r.split_whitespace().next().map(str::to_string))
        .expect("pid");
    assert!(
        text.starts_with(&format!("sleeper server\npid = {pid_line}\nstart_time = ")),
        "{text}"
    );
    assert!(
        text.contains("\tservice = sleeper\n\tremote_address = 127.0.0.2,"),
        "{text}"
    );
    held.set_read_timeout(Some(std::time::Duration::from_millis(10)))
        .expect("timeout");
    let _ = held.read(&mut [0u8; 1]);
}
