//! tcp_wrappers in the daemon (issue 8; F-250, F-307, F-146): hosts.allow / hosts.deny
//! (through `-hosts_allow` / `-hosts_deny`), xinetd's daemon names, `flags = NOLIBWRAP`, the
//! tcpmux and `wait = yes` paths, reloads, name rules resolved off the event loop, and
//! `-version` listing libwrap like Debian's build. Each test starts the real binary on
//! loopback.

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
