//! End-to-end tests of the `xinetd` daemon: the real binary on free loopback ports with
//! generated configurations, checked from the outside (bytes, log lines, signals, /proc).

mod util;

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SRC3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

#[test]
fn internal_stream_services_send_xinetds_bytes() {
    let (echo, discard, daytime, time, chargen) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let conf = [
        internal("echo", "echo-stream", "stream", echo, ""),
        internal("discard", "discard-stream", "stream", discard, ""),
        internal("daytime", "daytime-stream", "stream", daytime, ""),
        internal("time", "time-stream", "stream", time, ""),
        internal("chargen", "chargen-stream", "stream", chargen, ""),
    ]
    .concat();
    let d = Daemon::start(&conf);
    assert!(d
        .prog_log()
        .contains("Started working: 5 available services"));

    // echo: everything back, also more than one read's worth.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(exchange(echo, &big), big);
    // discard: nothing back.
    assert_eq!(exchange(discard, b"into the void"), b"");
    // daytime: `DD MON YYYY HH:MM:SS ZONE\r\n` (F-504).
    let line = String::from_utf8(read_all(&mut connect(daytime))).expect("ascii");
    assert!(line.ends_with("\r\n"), "{line:?}");
    let f: Vec<&str> = line.trim_end().split(' ').collect();
    assert_eq!(f.len(), 5, "{line:?}");
    assert_eq!(f[0].len(), 2);
    assert!(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
            .contains(&f[1])
    );
    assert_eq!(f[3].len(), 8);
    // time: 4 bytes, seconds since 1900 (F-506).
    let t = read_all(&mut connect(time));
    assert_eq!(t.len(), 4);
    let got = u32::from_be_bytes([t[0], t[1], t[2], t[3]]) as i64;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!((got - (now + 2_208_988_800) % (1 << 32)).abs() <= 2);
    // chargen: 74-byte lines from `!` (F-508, F-520).
    let mut c = connect(chargen);
    let mut buf = vec![0u8; 74 * 3];
    c.read_exact(&mut buf).expect("chargen lines");
    assert_eq!(
        &buf[..74],
        &b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n"[..]
    );
    assert_eq!(buf[74], b'"');
    drop(c);

    // Inline services log pid=0 (docs/compat.md); echo holds the connection: EXIT too.
    d.wait_file(5, "svc.log", "EXIT: echo-stream status=0 pid=0 duration=");
    let log = d.read("svc.log");
    assert!(
        log.contains("START: echo-stream pid=0 from=127.0.0.1"),
        "{log}"
    );
    assert!(
        log.contains("START: daytime-stream pid=0 from=127.0.0.1"),
        "{log}"
    );
    assert!(!log.contains("EXIT: daytime-stream"), "{log}");
}

#[test]
fn internal_dgram_services_send_xinetds_bytes() {
    let (echo, daytime, time, chargen) = (free_port(), free_port(), free_port(), free_port());
    let conf = [
        internal("echo", "echo-dgram", "dgram", echo, ""),
        internal("daytime", "daytime-dgram", "dgram", daytime, ""),
        internal("time", "time-dgram", "dgram", time, ""),
        internal("chargen", "chargen-dgram", "dgram", chargen, ""),
    ]
    .concat();
    let d = Daemon::start(&conf);
    let lo = Ipv4Addr::LOCALHOST;
    assert_eq!(
        udp_from(lo, echo, b"ping", 2000).as_deref(),
        Some(&b"ping"[..])
    );
    // F-501: datagrams longer than 2048 bytes are cut to 2048.
    let long = vec![7u8; 3000];
    assert_eq!(udp_from(lo, echo, &long, 2000).map(|r| r.len()), Some(2048));
    let day = udp_from(lo, daytime, b"", 2000).expect("daytime reply");
    assert!(day.ends_with(b"\r\n"));
    assert_eq!(udp_from(lo, time, b"", 2000).map(|r| r.len()), Some(4));
    // F-509, F-521: 1024 bytes, and the ring advances 14 lines per request.
    let a = udp_from(lo, chargen, b"x", 2000).expect("chargen reply");
    let b = udp_from(lo, chargen, b"x", 2000).expect("chargen reply");
    assert_eq!((a.len(), b.len()), (1024, 1024));
    assert_eq!((a[0], b[0]), (b'!', b'/'));
    d.wait_file(5, "svc.log", "START: echo-dgram pid=0 from=127.0.0.1");
}

#[test]
fn only_from_refuses_other_sources_and_logs_fail() {
    let port = free_port();
    let conf = internal(
        "daytime",
        "daytime",
        "stream",
        port,
        "\tonly_from = 127.0.0.1 127.0.0.3\n",
    );
    let d = Daemon::start(&conf);
    // 127.0.0.2 is refused: EOF without data, FAIL address.
    assert_eq!(read_all(&mut connect_from(SRC2, port)), b"");
    d.wait_file(5, "svc.log", "FAIL: daytime address from=127.0.0.2");
    // 127.0.0.3 and 127.0.0.1 are served.
    assert!(read_all(&mut connect_from(SRC3, port)).ends_with(b"\r\n"));
    assert!(read_all(&mut connect(port)).ends_with(b"\r\n"));
    d.wait_file(5, "svc.log", "START: daytime pid=0 from=127.0.0.3");
}

#[test]
fn no_access_refuses_dgram_sources() {
    let port = free_port();
    let conf = internal(
        "echo",
        "echo-dgram",
        "dgram",
        port,
        "\tno_access = 127.0.0.2\n",
    );
    let d = Daemon::start(&conf);
    assert_eq!(udp_from(SRC2, port, b"x", 300), None);
    assert_eq!(udp_from(SRC3, port, b"y", 2000).as_deref(), Some(&b"y"[..]));
    d.wait_file(5, "svc.log", "FAIL: echo-dgram address from=127.0.0.2");
}

#[test]
fn external_server_wait_no_and_exit_lines() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    let port = free_port();
    let d = Daemon::start(&external("cat", port, "/bin/cat", "", ""));
    assert_eq!(exchange(port, b"through cat\n"), b"through cat\n");
    d.wait_file(5, "svc.log", "EXIT: cat status=0 pid=");
    let log = d.read("svc.log");
    assert!(log.contains("START: cat pid="), "{log}");
    assert!(log.contains("from=127.0.0.1"), "{log}");
}

#[test]
fn instances_and_per_source_limits() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    let (p1, p2) = (free_port(), free_port());
    let conf = [
        external("one", p1, "/bin/sleep", "30", "\tinstances = 1\n"),
        external("persrc", p2, "/bin/sleep", "30", "\tper_source = 1\n"),
    ]
    .concat();
    let d = Daemon::start(&conf);
    let _held = connect(p1);
    d.wait_file(5, "svc.log", "START: one pid=");
    let mut second = connect(p1);
    assert_eq!(read_all(&mut second), b"");
    d.wait_file(5, "svc.log", "FAIL: one service_limit from=127.0.0.1");

    let _a = connect_from(SRC2, p2);
    d.wait_file(5, "svc.log", "START: persrc pid=");
    assert_eq!(read_all(&mut connect_from(SRC2, p2)), b"");
    d.wait_file(5, "svc.log", "FAIL: persrc per_source_limit from=127.0.0.2");
    // Another source still gets a server.
    let _b = connect_from(SRC3, p2);
    d.wait_file(5, "svc.log", "START: persrc pid=");
    wait_until(5, "second persrc START", || {
        d.read("svc.log").matches("START: persrc").count() == 2
    });
    // Kill the servers we started (xinetd-rs's SIGTERM does it).
    drop(d);
}

#[test]
fn timeout_kills_the_server_process_group() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    let port = free_port();
    // server_args cannot quote (F-022): the server is a script that starts a helper.
    let d0 = tempfile::tempdir().expect("tempdir");
    let script = d0.path().join("slow.sh");
    std::fs::write(&script, "#!/bin/sh\nsleep 30 &\nsleep 30\n").expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let conf = external(
        "slow",
        port,
        script.to_str().expect("utf-8 path"),
        "",
        "\ttimeout = 1\n",
    );
    let d = Daemon::start(&conf);
    let mut c = connect(port);
    d.wait_file(5, "svc.log", "START: slow pid=");
    // The kill closes the connection: EOF.
    assert_eq!(read_all(&mut c), b"");
    d.wait_file(5, "svc.log", "EXIT: slow signal=9");
    d.wait_log(5, "timeout reached");
}

#[test]
fn udp_wait_yes_external_server_gets_the_datagram() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    let port = free_port();
    let d0 = tempfile::tempdir().expect("tempdir");
    let script = d0.path().join("udp.py");
    std::fs::write(
        &script,
        "#!/usr/bin/python3\nimport socket\ns = socket.socket(fileno=0)\n\
         data, peer = s.recvfrom(100)\ns.sendto(b'got ' + data, peer)\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let conf = format!(
        "service udpsrv\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\
         \tport = {port}\n\twait = yes\n\tuser = root\n\tserver = {}\n\tbind = 127.0.0.1\n\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST EXIT\n}}\n",
        script.display()
    );
    let d = Daemon::start(&conf);
    for i in 0..3 {
        let msg = format!("n{i}");
        let r = udp_from(Ipv4Addr::LOCALHOST, port, msg.as_bytes(), 5000);
        assert_eq!(r, Some(format!("got {msg}").into_bytes()));
        // wait = yes: the next request is served after this server exited.
        wait_until(5, "EXIT", || {
            d.read("svc.log").matches("EXIT: udpsrv").count() > i
        });
    }
}

#[test]
fn reload_keeps_listening_socket_and_applies_changes() {
    let (keep, gone, new) = (free_port(), free_port(), free_port());
    let v1 = [
        internal("echo", "echo", "stream", keep, ""),
        internal("daytime", "daytime", "stream", gone, ""),
    ]
    .concat();
    let d = Daemon::start(&v1);
    let inode = listen_inode(keep).expect("echo listens");
    assert!(socket_inodes(d.pid()).contains(&inode));

    // v2: echo kept (now with only_from), daytime removed, time added.
    let v2 = [
        internal("echo", "echo", "stream", keep, "\tonly_from = 127.0.0.1\n"),
        internal("time", "time", "stream", new, ""),
    ]
    .concat();
    d.rewrite(&v2);
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "Reconfigured: new=1 old=1 dropped=1 (services)");
    let log = d.prog_log();
    assert!(log.contains("NOTICE: Starting reconfiguration"), "{log}");
    assert!(log.contains("NOTICE: readjusting service echo"), "{log}");
    assert!(log.contains("NOTICE: service daytime deactivated"), "{log}");
    // Same socket (same inode, still ours).
    assert_eq!(listen_inode(keep), Some(inode));
    assert!(socket_inodes(d.pid()).contains(&inode));
    // The new only_from applies to future requests.
    assert_eq!(read_all(&mut connect_from(SRC2, keep)), b"");
    assert_eq!(exchange(keep, b"still here"), b"still here");
    assert_eq!(listen_inode(gone), None);
    assert_eq!(read_all(&mut connect(new)).len(), 4);

    // SIGUSR2 is the same reload.
    d.signal(Signal::SIGUSR2);
    d.wait_log(10, "Reconfigured: new=0 old=2 dropped=0 (services)");
}

#[test]
fn broken_reload_keeps_the_running_configuration() {
    let port = free_port();
    let d = Daemon::start(&internal("echo", "echo", "stream", port, ""));
    // A fatal defaults error (xinetd would exit, F-037/F-970).
    d.rewrite("defaults\n{\n\tinstances = -5x\n\tmax_load = 0\n}\n");
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "reconfiguration failed");
    assert_eq!(exchange(port, b"alive"), b"alive");
    // An unreadable file too.
    std::fs::remove_file(&d.conf).expect("rm config");
    d.signal(Signal::SIGHUP);
    d.wait_log_count(10, "reconfiguration failed", 2);
    assert_eq!(exchange(port, b"still alive"), b"still alive");
}

#[test]
fn config_errors_are_logged_with_file_and_line_and_the_rest_runs() {
    let port = free_port();
    let conf = format!(
        "{}service broken\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
         \tport = {}\n\twait = maybe\n}}\n",
        internal("echo", "echo", "stream", port, ""),
        free_port()
    );
    let d = Daemon::start(&conf);
    let log = d.prog_log();
    assert!(
        log.contains("Started working: 1 available service\n"),
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("[file=") && l.contains("[line="))
        .unwrap_or_else(|| panic!("no [file=] [line=] message in {log}"));
    assert!(line.contains(&d.conf.display().to_string()), "{line}");
    assert_eq!(exchange(port, b"ok"), b"ok");
}

#[test]
fn signals_dump_check_and_term() {
    let port = free_port();
    let dump = tempfile::NamedTempFile::new().expect("dump file");
    let dump_path = dump.path().to_str().expect("utf-8").to_string();
    let mut d = Daemon::start_with(
        &internal("echo", "echo", "stream", port, ""),
        &["-dumpfile", &dump_path],
    );
    assert_eq!(
        std::fs::read_to_string(&d.pidfile).expect("pidfile").trim(),
        d.pid().to_string()
    );
    d.signal(Signal::SIGUSR1);
    d.wait_log(
        5,
        &format!("INFO: generated state dump in file {dump_path}"),
    );
    let text = std::fs::read_to_string(&dump_path).expect("dump");
    assert!(text.starts_with("INTERNAL STATE DUMP: "), "{text}");
    assert!(text.contains("Service = echo"), "{text}");
    // F-851: the configuration block, in xinetd's words.
    for line in [
        "\tid = echo\n",
        "\tsocket_type = stream\n",
        "\tProtocol (name,number) = (tcp,6)\n",
        "\tOnly from: All sites\n",
        "\tNo access: No blocked sites\n",
        "\tLog_on_failure flags = HOST\n",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    // xinetd names the bind address (getnameinfo), `unknown` when it has no name.
    let bind = format!("\t\tBind = {}\n", host_name_of("127.0.0.1"));
    assert!(text.contains(&bind), "{bind:?} in {text}");
    assert!(text.contains("END OF DUMP"), "{text}");

    // Hold an echo connection so the check has something to count.
    let mut held = connect(port);
    held.write_all(b"x").expect("write");
    let mut one = [0u8; 1];
    held.read_exact(&mut one).expect("echo");
    d.signal(Signal::SIGABRT);
    d.wait_log(5, "INFO: Consistency check passed");
    // SIGINT is ignored without -d (F-846).
    d.signal(Signal::SIGINT);
    assert_eq!(exchange(port, b"after INT"), b"after INT");

    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(5), Some(0));
    assert!(d.prog_log().contains("WARNING: Exiting..."));
    assert!(!d.pidfile.exists(), "pidfile removed on exit (F-803)");
}

#[test]
fn cps_deactivates_and_reactivates_the_service() {
    let port = free_port();
    // The id differs from the name: xinetd's daemon-log lines name the service, the
    // FAIL record its id.
    let conf = internal("daytime", "daytime-cps", "stream", port, "")
        .replace("\tcps = 0 0\n", "\tcps = 2 2\n");
    let d = Daemon::start(&conf);
    for _ in 0..2 {
        assert!(read_all(&mut connect(port)).ends_with(b"\r\n"));
    }
    // The third within the same second trips the limiter (F-310).
    let _ = read_all(&mut connect(port));
    d.wait_log(5, "Deactivating service daytime due to excessive incoming connections.  Restarting in 2 seconds.");
    d.wait_file(
        5,
        "svc.log",
        "FAIL: daytime-cps connections per second from=127.0.0.1",
    );
    // Refused while paused: the socket is closed (F-311).
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    d.wait_log(5, "ERROR: Activating service daytime");
    // The window (compared with the rate, F-310) has passed: served again.
    assert!(read_all(&mut connect(port)).ends_with(b"\r\n"));
}

#[test]
fn command_line_version_usage_and_unknown_options() {
    let out = std::process::Command::new(XINETD)
        .arg("-version")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "2.3.15.3 libwrap loadavg\n"
    );

    let out = std::process::Command::new(XINETD)
        .args(["-limit", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: xinetd [-d]"));

    // Unknown options are reported and start-up continues (F-983's -inetd_ipv6).
    let port = free_port();
    let d = Daemon::start_with(
        &internal("echo", "echo", "stream", port, ""),
        &["-inetd_ipv6"],
    );
    assert_eq!(exchange(port, b"ok"), b"ok");
    drop(d);

    // No services and no -stayalive: exit 1 (F-805); -dontfork implies -stayalive, so run
    // in the foreground with -d instead.
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("empty.conf");
    std::fs::write(&conf, "# nothing\n").expect("write");
    let out = std::process::Command::new(XINETD)
        .arg("-d")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no services. Exiting..."));

    // -d prints the configuration of each service first (F-852), then runs in the
    // foreground; SIGINT ends it with status 1 (F-846).
    let port = free_port();
    let text = internal("echo", "echo", "stream", port, "")
        .replace("@DIR@", &dir.path().display().to_string());
    std::fs::write(&conf, text).expect("write");
    let child = std::process::Command::new(XINETD)
        .arg("-d")
        .arg("-f")
        .arg(&conf)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run -d");
    wait_until(10, "-d start-up", || listen_inode(port).is_some());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGINT,
    )
    .expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Service configuration: echo\n\tid = echo\n"),
        "{err}"
    );
    assert!(
        err.contains("Started working: 1 available service"),
        "{err}"
    );
}

#[test]
fn a_flood_of_clients_does_not_kill_the_daemon() {
    let port = free_port();
    let d = Daemon::start(&internal("echo", "echo", "stream", port, ""));
    // Connections that reset at once, half-open ones, and garbage: bounded loop.
    let mut open = Vec::new();
    for i in 0..300 {
        // A refused connect during the burst is the kernel's business; the daemon must live.
        let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        if i % 3 == 0 {
            let sock = socket2::Socket::from(s);
            let _ = sock.set_linger(Some(Duration::ZERO));
            drop(sock); // RST
        } else {
            open.push(s);
        }
    }
    drop(open);
    assert_eq!(exchange(port, b"survived"), b"survived");
    let mut d = d;
    assert!(d.child.try_wait().expect("try_wait").is_none());
}

#[test]
fn domain_rules_are_decided_after_an_off_loop_name_lookup() {
    // `.domain` entries need the peer's reverse name: the daemon asks its resolver thread
    // and finishes the checks when the answer arrives (127.0.0.1 is `localhost` here).
    let (echo, daytime) = (free_port(), free_port());
    let conf = [
        internal(
            "echo",
            "echo",
            "stream",
            echo,
            "\tno_access = .example.invalid\n",
        ),
        internal(
            "daytime",
            "daytime",
            "stream",
            daytime,
            "\tonly_from = .example.invalid\n",
        ),
    ]
    .concat();
    let d = Daemon::start(&conf);
    assert_eq!(
        exchange(echo, b"allowed after lookup"),
        b"allowed after lookup"
    );
    assert_eq!(read_all(&mut connect(daytime)), b"");
    d.wait_file(5, "svc.log", "FAIL: daytime address from=127.0.0.1");
    // The loop kept serving meanwhile and afterwards.
    assert_eq!(exchange(echo, b"again"), b"again");
}

#[test]
fn queued_datagrams_are_all_answered() {
    // xinetd answers only the first of several queued datagrams and drains the rest
    // (F-402, F-965); we answer each one (docs/compat.md).
    let port = free_port();
    let d = Daemon::start(&internal("echo", "echo-dgram", "dgram", port, ""));
    let u = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    u.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    d.signal(Signal::SIGSTOP);
    for i in 0..3u8 {
        u.send_to(&[i], ("127.0.0.1", port)).expect("send");
    }
    d.signal(Signal::SIGCONT);
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    for _ in 0..3 {
        let (n, _) = u.recv_from(&mut buf).expect("a reply per datagram");
        got.extend_from_slice(&buf[..n]);
    }
    got.sort();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn v6only_no_keeps_the_socket_dual_stack() {
    // xinetd 2.3.15.3 sets IPV6_V6ONLY for any explicit v6only, even `no` (F-136, F-960); we
    // follow the documentation: `v6only = no` is dual-stack.
    let port = free_port();
    let conf = format!(
        "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = {port}\n\
         \twait = no\n\tflags = IPv6\n\tv6only = no\n\tcps = 0 0\n}}\n"
    );
    let _d = Daemon::start(&conf);
    assert_eq!(exchange(port, b"v4 client"), b"v4 client");
}

#[test]
fn sigterm_stops_external_servers_too() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    // xinetd leaves external servers running on SIGTERM (F-842, F-967); we signal their
    // process groups before exiting (docs/compat.md).
    let port = free_port();
    let mut d = Daemon::start(&external("sleeper", port, "/bin/sleep", "30", ""));
    let _c = connect(port);
    d.wait_file(5, "svc.log", "START: sleeper pid=");
    let log = d.read("svc.log");
    let pid: i32 = log
        .split("START: sleeper pid=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("server pid in START line");
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(5), Some(0));
    // Reaped by the daemon before it exited (not left as a zombie for init), with its EXIT.
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_err(),
        "server {pid} still exists"
    );
    let log = d.read("svc.log");
    assert!(
        log.contains(&format!("EXIT: sleeper signal=15 pid={pid}")),
        "{log}"
    );
}

#[test]
fn banners_go_to_every_client_and_banner_fail_to_refused_ones() {
    let port = free_port();
    let conf = internal(
        "daytime",
        "daytime",
        "stream",
        port,
        "\tonly_from = 127.0.0.3\n\tbanner = @DIR@/banner\n\tbanner_fail = @DIR@/banner_fail\n\
         \tbanner_success = @DIR@/banner_success\n",
    );
    let d = Daemon::start(&conf);
    std::fs::write(d.path("banner"), "hello\n").expect("banner");
    std::fs::write(d.path("banner_fail"), "go away\n").expect("banner_fail");
    std::fs::write(d.path("banner_success"), "welcome\n").expect("banner_success");
    // F-126, F-128, F-230: banner before any check, then banner_fail on refusal.
    assert_eq!(read_all(&mut connect_from(SRC2, port)), b"hello\ngo away\n");
    let ok = read_all(&mut connect_from(SRC3, port));
    assert!(
        ok.starts_with(b"hello\n") && ok.ends_with(b"\r\n"),
        "{ok:?}"
    );
}

#[test]
fn inetd_compat_adds_inetd_conf_services() {
    // F-809, F-830: `-inetd_compat` merges inetd.conf entries after xinetd's own files.
    // inetd.conf has no port field: the name must be in /etc/services; `echo` is 7, which
    // needs root to bind, so this test runs as root only.
    if !is_root() {
        eprintln!("skipped: binding echo's port 7 needs root");
        return;
    }
    if std::net::TcpListener::bind("127.0.0.1:7").is_err() {
        eprintln!("skipped: port 7 is busy");
        return;
    }
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let inetd = dir.path().join("inetd.conf");
    std::fs::write(&inetd, "echo stream tcp nowait root internal\n").expect("inetd.conf");
    let d = Daemon::start_with(
        &internal("daytime", "daytime", "stream", port, ""),
        &[
            "-inetd_compat",
            "-inetd_conf",
            inetd.to_str().expect("utf-8"),
        ],
    );
    assert!(
        d.prog_log()
            .contains("Started working: 2 available services"),
        "{}",
        d.prog_log()
    );
    assert_eq!(exchange(7, b"from inetd.conf"), b"from inetd.conf");
}

#[test]
fn tcpmux_starts_the_named_service() {
    if !is_root() {
        eprintln!("skipped: TCPMUX client servers run as user = root; needs root");
        return;
    }
    let port = free_port();
    let clients = "service hello\n{\n\ttype = TCPMUXPLUS UNLISTED\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = /bin/echo\n\tserver_args = hi\n}\n\
         service quiet\n{\n\ttype = TCPMUX UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \twait = no\n\tuser = root\n\tserver = /bin/echo\n\tserver_args = +ok\n}\n";
    let conf = internal("tcpmux", "tcpmux", "stream", port, "") + clients;
    let d = Daemon::start(&conf);
    // TCPMUX clients have no socket of their own (F-064).
    assert!(d
        .prog_log()
        .contains("Started working: 1 available service\n"));
    let ask = |req: &[u8]| {
        let mut s = connect(port);
        s.write_all(req).expect("write");
        read_all(&mut s)
    };
    // F-543: TCPMUXPLUS gets "+Go\r\n" first (without xinetd's NUL, F-979);
    // case-insensitive names (F-541).
    assert_eq!(ask(b"HELLO\r\n"), b"+Go\r\nhi\n");
    // TCPMUX: the server answers for itself.
    assert_eq!(ask(b"quiet\r\n"), b"+ok\n");
    // F-542: unknown names (without xinetd's trailing NUL).
    assert_eq!(ask(b"nosuch\r\n"), b"-Service name not found\r\n");
    // F-541: no CRLF: closed silently.
    assert_eq!(ask(b"hello\n"), b"");
    // F-545: only tcpmux logs, and its EXIT comes when the client server exits.
    d.wait_file(5, "svc.log", "EXIT: tcpmux status=0 pid=");
    assert!(!d.read("svc.log").contains("hello"));
}

#[test]
fn sensor_bans_a_client_from_every_service() {
    // F-240..F-243: a SENSOR service refuses and puts the client on the global deny list,
    // which every other service consults first.
    let (sensor, echo) = (free_port(), free_port());
    let conf = format!(
        "service discard\n{{\n\tid = trap\n\ttype = INTERNAL UNLISTED\n\tflags = SENSOR\n\
         \tsocket_type = stream\n\tport = {sensor}\n\twait = no\n\tbind = 127.0.0.1\n\
         \tdeny_time = 5\n\tcps = 0 0\n\tlog_type = FILE @DIR@/svc.log\n\tlog_on_failure = HOST\n}}\n{}",
        internal("echo", "echo", "stream", echo, "")
    );
    let d = Daemon::start(&conf);
    assert_eq!(read_all(&mut connect_from(SRC2, sensor)), b"");
    d.wait_file(5, "svc.log", "FAIL: trap address from=127.0.0.2");
    d.wait_log(
        5,
        "Adding 127.0.0.2 to the global_no_access list for 5 minutes",
    );
    // Banned everywhere now; other clients are not.
    assert_eq!(read_all(&mut connect_from(SRC2, echo)), b"");
    d.wait_file(5, "svc.log", "FAIL: echo address from=127.0.0.2");
    let mut s = connect_from(SRC3, echo);
    s.write_all(b"fine").expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    assert_eq!(read_all(&mut s), b"fine");
}

#[test]
fn access_times_outside_the_window_refuse_with_time() {
    // F-220, F-305: an interval two hours from now (never across midnight).
    let hour = (jiff::Zoned::now().hour() + 2) % 24;
    let port = free_port();
    let conf = internal(
        "daytime",
        "daytime",
        "stream",
        port,
        &format!("\taccess_times = {hour}:00-{hour}:30\n"),
    );
    let d = Daemon::start(&conf);
    assert_eq!(read_all(&mut connect(port)), b"");
    d.wait_file(5, "svc.log", "FAIL: daytime time from=127.0.0.1");
}

#[test]
fn process_limit_and_max_load() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0.0);
    let (a, b, loaded) = (free_port(), free_port(), free_port());
    let mut conf = [
        external("first", a, "/bin/sleep", "30", ""),
        external("second", b, "/bin/sleep", "30", ""),
    ]
    .concat();
    if load >= 0.02 {
        conf += &internal(
            "daytime",
            "daytime",
            "stream",
            loaded,
            "\tmax_load = 0.01\n",
        );
    }
    // F-304, F-806: -limit 1 caps running servers of all services together.
    let d = Daemon::start_with(&conf, &["-limit", "1"]);
    let _held = connect(a);
    d.wait_file(5, "svc.log", "START: first pid=");
    assert_eq!(read_all(&mut connect(b)), b"");
    d.wait_file(5, "svc.log", "FAIL: second process_limit from=127.0.0.1");
    if load >= 0.02 {
        // F-303: refused with `load` and xinetd's ERROR line.
        assert_eq!(read_all(&mut connect(loaded)), b"");
        d.wait_file(5, "svc.log", "FAIL: daytime load from=127.0.0.1");
        d.wait_log(5, "refused connect from 127.0.0.1 due to excessive load");
    } else {
        eprintln!("max_load part skipped: load average {load} too low to exceed");
    }
}

#[test]
fn redirect_relays_both_ways_and_logs_traffic() {
    let (echo, redir, dead_target, redir_dead) =
        (free_port(), free_port(), free_port(), free_port());
    let redirect = |id: &str, port: u16, to: u16| {
        format!(
            "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {port}\n\twait = no\n\tuser = root\n\tredirect = 127.0.0.1 {to}\n\
             \tbind = 127.0.0.1\n\tcps = 0 0\n\tlog_type = FILE @DIR@/svc.log\n\
             \tlog_on_success = PID HOST EXIT TRAFFIC\n}}\n"
        )
    };
    let conf = [
        internal("echo", "echo", "stream", echo, ""),
        redirect("toecho", redir, echo),
        redirect("nowhere", redir_dead, dead_target),
    ]
    .concat();
    let d = Daemon::start(&conf);
    // F-601: bytes both ways; the client ends the session by closing.
    let mut s = connect(redir);
    s.write_all(b"ping").expect("write");
    let mut back = [0u8; 4];
    s.read_exact(&mut back).expect("echo through the redirect");
    assert_eq!(&back, b"ping");
    drop(s);
    // F-603: TRAFFIC in= from the client, out= from the target, then EXIT.
    d.wait_file(5, "svc.log", "TRAFFIC: toecho in=4(bytes) out=4(bytes)");
    d.wait_file(5, "svc.log", "EXIT: toecho status=0 pid=0");
    // F-602: the target refuses: the client gets EOF, the daemon logs the failure.
    assert_eq!(read_all(&mut connect(redir_dead)), b"");
    d.wait_log(
        5,
        "ERROR: can't connect to remote host 127.0.0.1: Connection refused (errno = 111)",
    );
    d.wait_file(5, "svc.log", "EXIT: nowhere status=0 pid=0");
}

#[test]
fn userid_asks_the_clients_identd_without_blocking() {
    use std::io::BufRead;
    // A fake identd on a free port (`-ident_port`, test-only option; xinetd uses 113).
    let identd = std::net::TcpListener::bind("127.0.0.1:0").expect("identd");
    let ident_port = identd.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in identd.incoming().take(5) {
            let Ok(mut s) = s else { continue };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            let ports = line.trim_end().replace(',', ", ");
            let _ = write!(s, "{ports} : USERID : UNIX : alice\r\n");
        }
    });
    let (echo, strict) = (free_port(), free_port());
    let conf = [
        internal("echo", "echo", "stream", echo, "")
            .replace("PID HOST EXIT DURATION", "PID HOST USERID"),
        internal("daytime", "strict", "stream", strict, "\tflags = IDONLY\n")
            .replace("PID HOST EXIT DURATION", "HOST USERID"),
    ]
    .concat();
    let d = Daemon::start_with(&conf, &["-ident_port", &ident_port.to_string()]);
    // F-740: USERID line with the text after `USERID :`, then the service runs.
    assert_eq!(exchange(echo, b"who am i"), b"who am i");
    d.wait_file(5, "svc.log", "USERID: echo UNIX : alice");
    // F-142: IDONLY also serves when identd answers.
    assert!(read_all(&mut connect(strict)).ends_with(b"\r\n"));
    d.wait_file(5, "svc.log", "USERID: strict UNIX : alice");
    drop(d);

    // IDONLY without an identd: NOID and the client is dropped.
    let nobody = free_port();
    let strict = free_port();
    let conf = internal("daytime", "strict", "stream", strict, "\tflags = IDONLY\n")
        .replace("PID HOST EXIT DURATION", "HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &nobody.to_string()]);
    assert_eq!(read_all(&mut connect(strict)), b"");
    d.wait_file(5, "svc.log", "NOID: strict 127.0.0.1 no server");
}

#[test]
fn exec_failure_is_logged_like_xinetd() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    // F-415: START, ERROR `execv( %s ) failed: %m`, EXIT status=0; the client sees EOF.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = dir.path().join("gone");
    std::fs::write(&server, "#!/bin/sh\n").expect("script");
    std::fs::set_permissions(&server, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let port = free_port();
    let d = Daemon::start(&external(
        "gone",
        port,
        server.to_str().expect("utf-8"),
        "",
        "",
    ));
    // Removed after the configuration check (which only looks at load time).
    std::fs::remove_file(&server).expect("rm");
    assert_eq!(read_all(&mut connect(port)), b"");
    d.wait_log(
        5,
        &format!(
            "ERROR: execv( {} ) failed: No such file or directory (errno = 2)",
            server.display()
        ),
    );
    d.wait_file(5, "svc.log", "EXIT: gone status=0 pid=");
    assert!(d.read("svc.log").contains("START: gone pid="));
}

#[test]
fn tcp_wait_yes_server_accepts_on_the_listening_socket() {
    if !is_root() {
        eprintln!("skipped: external servers run as user = root; needs root");
        return;
    }
    // F-401, F-414: the server gets the listening socket and accepts itself; the service is
    // suspended until it exits, then the next connection starts a new server.
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("acceptor.py");
    std::fs::write(
        &script,
        "#!/usr/bin/python3\nimport socket, os\nl = socket.socket(fileno=0)\n\
         c, _ = l.accept()\nc.sendall(b'served by %d\\n' % os.getpid())\nc.close()\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let conf = external("acceptor", port, script.to_str().expect("utf-8"), "", "")
        .replace("\twait = no\n", "\twait = yes\n");
    let d = Daemon::start(&conf);
    let mut pids = Vec::new();
    for i in 0..2 {
        let out = String::from_utf8(read_all(&mut connect(port))).expect("utf-8");
        assert!(out.starts_with("served by "), "{out:?}");
        pids.push(out.trim().rsplit(' ').next().map(str::to_string));
        wait_until(5, "EXIT", || {
            d.read("svc.log").matches("EXIT: acceptor").count() > i
        });
    }
    assert_ne!(pids[0], pids[1], "one server per request");
    // xinetd logs tcp wait = yes requests without a peer address (F-726).
    assert!(d.read("svc.log").contains("from=<no address>"));
}

#[test]
fn defaults_file_log_is_one_common_file_with_shared_limits() {
    // F-711, F-712: `log_type = FILE` in defaults is ONE "common" log for every service that
    // inherits it: one size count, and its hard-limit message names `common`. Each START line
    // here is ~55 bytes: 3 per service stay under the 300-byte hard limit, 6 together do not.
    let (a, b) = (free_port(), free_port());
    let stanza = |id: &str, port: u16| {
        format!(
            "service daytime\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
             \tport = {port}\n\twait = no\n\tbind = 127.0.0.1\n}}\n"
        )
    };
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE @DIR@/common.log 200 300\n\tlog_on_success = PID HOST\n\
         \tcps = 0 0\n}}\n{}{}",
        stanza("day-a", a),
        stanza("day-b", b)
    );
    let d = Daemon::start(&conf);
    for i in 0..4 {
        for port in [a, b] {
            assert!(read_all(&mut connect(port)).ends_with(b"\r\n"));
        }
        if i == 0 {
            d.wait_file(5, "common.log", "START: day-b pid=0 from=127.0.0.1");
        }
    }
    d.wait_log(5, "ERROR: Size of common log exceeded hard limit");
    let log = d.read("common.log");
    let lines = log.lines().count();
    assert!(log.contains("START: day-a pid=0 from=127.0.0.1"), "{log}");
    assert!(log.contains("START: day-b pid=0 from=127.0.0.1"), "{log}");
    // Both services' lines count toward the one limit: the log closed after the line that
    // crossed 300 bytes (6 lines of ~55 bytes), not after 3 lines per service.
    assert!((5..=7).contains(&lines), "{lines} lines:\n{log}");
    let prog = d.prog_log();
    assert!(!prog.contains("Size of day-a log"), "{prog}");
    assert!(!prog.contains("Size of day-b log"), "{prog}");
}

/// Two network namespaces joined by two veth pairs, deleted on drop.
struct NetnsPair {
    srv: Netns,
    cli: Netns,
}

impl NetnsPair {
    /// `srv` has `xa0` 10.91.1.1/24 and `xb0` 10.91.2.1/24; `cli` has their peers
    /// `xa1` 10.91.1.2 and `xb1` 10.91.2.2. Traffic between them crosses a real device, so
    /// SO_BINDTODEVICE sees it (local traffic would come in on `lo`).
    fn create() -> Result<NetnsPair, String> {
        let tag = std::process::id();
        let srv = Netns::add(format!("xr-test-{tag}-s"))?;
        let cli = Netns::add(format!("xr-test-{tag}-c"))?;
        let (s, c) = (&srv, cli.0.as_str());
        s.ip(&[
            "link", "add", "xa0", "type", "veth", "peer", "name", "xa1", "netns", c,
        ])?;
        s.ip(&[
            "link", "add", "xb0", "type", "veth", "peer", "name", "xb1", "netns", c,
        ])?;
        s.ip(&["addr", "add", "10.91.1.1/24", "dev", "xa0"])?;
        s.ip(&["addr", "add", "10.91.2.1/24", "dev", "xb0"])?;
        cli.ip(&["addr", "add", "10.91.1.2/24", "dev", "xa1"])?;
        cli.ip(&["addr", "add", "10.91.2.2/24", "dev", "xb1"])?;
        for (ns, dev) in [
            (s, "lo"),
            (s, "xa0"),
            (s, "xb0"),
            (&cli, "xa1"),
            (&cli, "xb1"),
        ] {
            ns.ip(&["link", "set", dev, "up"])?;
        }
        Ok(NetnsPair { srv, cli })
    }

    /// Connects from the client namespace and returns the bytes read until EOF, or the
    /// connect error.
    fn fetch(&self, addr: &str, port: u16) -> Result<Vec<u8>, String> {
        self.cli
            .fetch(format!("{addr}:{port}").parse().expect("address"))
    }
}

#[test]
fn bind_device_serves_only_through_its_interface() {
    // Extension (seed article §4.1): `bind_device = IFNAME` binds the listening socket to an
    // interface (SO_BINDTODEVICE) rather than to an address.
    if !is_root() {
        eprintln!("skipped: bind_device test needs root (network namespaces)");
        return;
    }
    let has = |tool: &str| std::process::Command::new(tool).arg("-V").output().is_ok();
    if !has("ip") {
        eprintln!("skipped: bind_device test needs iproute2's `ip`");
        return;
    }
    let ns = match NetnsPair::create() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("skipped: cannot create network namespaces: {e}");
            return;
        }
    };
    let (bound, plain) = (free_port(), free_port());
    let daytime = |id: &str, port: u16, extra: &str| {
        format!(
            "service daytime\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
             \tport = {port}\n\twait = no\n\tflags = IPv4\n\tcps = 0 0\n{extra}}}\n"
        )
    };
    let conf = daytime("day-xa0", bound, "\tbind_device = xa0\n") + &daytime("day-any", plain, "");
    let d = ns.srv.start_daemon(&conf);
    d.wait_log(10, "Started working: 2 available services");
    // Through xa0: served by both services.
    let day = ns.fetch("10.91.1.1", bound).expect("bound service via xa0");
    assert!(day.ends_with(b"\r\n"), "{day:?}");
    assert!(ns
        .fetch("10.91.1.1", plain)
        .expect("plain via xa0")
        .ends_with(b"\r\n"));
    // Through xb0: the unbound service answers; for the one bound to xa0 no socket exists
    // on that interface (connection refused).
    assert!(ns
        .fetch("10.91.2.1", plain)
        .expect("plain via xb0")
        .ends_with(b"\r\n"));
    let refused = ns.fetch("10.91.2.1", bound);
    assert!(
        refused.is_err(),
        "bound service answered via xb0: {refused:?}"
    );
    drop(d);
}

/// The name the system gives `addr` (`getent hosts`), or `unknown`, as xinetd's dumps print
/// `bind` and `redirect` addresses.
fn host_name_of(addr: &str) -> String {
    std::process::Command::new("getent")
        .args(["hosts", addr])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(1)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

#[test]
fn state_dump_has_xinetds_layout() {
    // F-850, F-851: the defaults block, per-service blocks with CPS and environment lines
    // only when the service set them, the server table with pid, start time and client.
    if !is_root() {
        eprintln!("skipped: the external service runs as user = root");
        return;
    }
    let (echo, sleeper) = (free_port(), free_port());
    let dump = tempfile::NamedTempFile::new().expect("dump file");
    let dump_path = dump.path().to_str().expect("utf-8").to_string();
    let conf = format!(
        "defaults\n{{\n\tlog_type = FILE @DIR@/common.log\n\tlog_on_success = PID HOST EXIT\n\
         \tlog_on_failure = HOST\n\tcps = 25 30\n\tinstances = 50\n\tper_source = 10\n\
         \tonly_from = 127.0.0.0/8\n}}\n\
         service echo\n{{\n\tid = echo-x\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
         \tport = {echo}\n\twait = no\n\tbind = 127.0.0.1\n}}\n\
         service sleeper\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {sleeper}\n\twait = no\n\tuser = root\n\tbind = 127.0.0.1\n\
         \tserver = /bin/sleep\n\tserver_args = 30\n\tenv = FOO=bar BAZ=qux\n\tpassenv = PATH\n\
         \tcps = 100 5\n\tlog_type = SYSLOG daemon info\n}}\n"
    );
    let d = Daemon::start_with(&conf, &["-dumpfile", &dump_path]);
    let client = connect(sleeper);
    let local = client.local_addr().expect("local addr");
    // Servers are children of the spawner threads: look at every task of the daemon.
    wait_until(5, "the sleeper server", || {
        std::fs::read_dir(format!("/proc/{}/task", d.pid()))
            .into_iter()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
            .any(|c| !c.trim().is_empty())
    });
    // The spawn result reaches the loop through the spawner's channel: dump again until the
    // server table has it.
    let mut text = String::new();
    for n in 1..=5 {
        d.signal(Signal::SIGUSR1);
        d.wait_log_count(5, "generated state dump in file", n);
        let all = std::fs::read_to_string(&dump_path).expect("dump");
        text = all[all.rfind("INTERNAL STATE DUMP").expect("a dump")..].to_string();
        if text.contains("sleeper server\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let bind = host_name_of("127.0.0.1");
    let expect_in_order = [
        "Services + defaults:\nService defaults\n\tInstances = 50\n\tCPS = max conn:25 wait:30\n\
         \tPER_SOURCE = 10\n\tBind = All addresses.\n\
         \tOnly from:  127.0.0.0/255.0.0.0(NET)\n\tNo access: No blocked sites\n"
            .to_string(),
        "Service = echo\n\tState = Active\n\tService configuration: echo\n\t\tid = echo-x\n"
            .to_string(),
        // Inherited instances/cps are not repeated in the service block.
        "\t\twait = no\n\t\tGroups = no\n\t\tPER_SOURCE = 10\n".to_string(),
        format!("\t\tBind = {bind}\n"),
        "\t\tLogging to common log file\n".to_string(),
        "\trunning servers = 0\n\tretry servers = 0\n\tattempts = 0\n".to_string(),
        "Service = sleeper\n".to_string(),
        "\t\tuser = 0\n\t\tGroups = no\n\t\tCPS = max conn:100 wait:5\n\t\tPER_SOURCE = 10\n"
            .to_string(),
        "\t\tServer = /bin/sleep\n\t\tServer argv = sleep 30\n".to_string(),
        "\t\tLogging to syslog. Facility = daemon, level = info\n".to_string(),
        "\t\tPassenv = PATH\n\t\tEnvironment additions:\n\t\t\tFOO=bar\n\t\t\tBAZ=qux\n\
         \t\tEnvironment strings:\n\t\t\tPATH="
            .to_string(),
        "\trunning servers = 1\n".to_string(),
        "Server table dump:\nsleeper server\npid = ".to_string(),
        "start_time = ".to_string(),
        format!(
            "Connection info:\n\tservice = sleeper\n\tdescriptor = -1\n\tflags = 3\n\
             \tremote_address = 127.0.0.1,{}\nlog_remote_user = NO\nwrites_to_log = NO\n",
            local.port()
        ),
        "Retry table dump:\n".to_string(),
        "active_services = 2\navailable_services = 2\n".to_string(),
        "running_servers = 1\n".to_string(),
        "END OF DUMP\n".to_string(),
    ];
    let mut at = 0;
    for want in &expect_in_order {
        match text[at..].find(want.as_str()) {
            Some(i) => at += i + want.len(),
            None => panic!("{want:?} not found (in order) in:\n{text}"),
        }
    }
    let echo_block = &text[text.find("Service = echo").expect("echo")..];
    let echo_block = &echo_block[..echo_block.find("Service = sleeper").expect("sleeper")];
    assert!(!echo_block.contains("CPS ="), "{echo_block}");
    assert!(!echo_block.contains("Instances ="), "{echo_block}");
    drop(client);
}

#[test]
fn state_dump_lists_requests_waiting_for_a_fork_retry() {
    // F-850, F-420: a request whose fork failed waits in the retry table; the dump shows it
    // as xinetd's server_dump does (pid -1, fork_failures) and counts it in the service.
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon as nobody with RLIMIT_NPROC = 1");
        return;
    }
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let conf = dir.path().join("r.conf");
    std::fs::write(
        &conf,
        format!(
            "service catr\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {port}\n\twait = no\n\tuser = nobody\n\tbind = 127.0.0.1\n\
             \tserver = /bin/cat\n\tcps = 0 0\n}}\n"
        ),
    )
    .expect("config");
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let prog_log = dir.path().join("prog.log");
    let dump = dir.path().join("state.dump");
    // nobody may have one process: the daemon itself; every fork (and thread) fails.
    let child = std::process::Command::new("prlimit")
        .args([
            "--nproc=1:",
            "--",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", XINETD, "-dontfork", "-filelog"])
        .arg(&prog_log)
        .arg("-dumpfile")
        .arg(&dump)
        .arg("-f")
        .arg(&conf)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("skipped: prlimit/setpriv (util-linux) not available");
        return;
    };
    let d = Daemon {
        child,
        pidfile: dir.path().join("none.pid"),
        conf,
        prog_log,
        dir,
    };
    d.wait_log(10, "Started working: 1 available service");
    let client = connect(port);
    let local = client.local_addr().expect("local addr");
    d.wait_log(5, "ERROR: catr: fork failed: ");
    d.signal(Signal::SIGUSR1);
    d.wait_log(5, "generated state dump in file");
    let text = std::fs::read_to_string(&dump).expect("dump");
    assert!(
        text.contains("\trunning servers = 0\n\tretry servers = 1\n"),
        "{text}"
    );
    let retry = &text[text.find("Server table dump:").expect("server table")..];
    // start_time is the epoch in local time (ctime(0)): not compared.
    assert!(
        retry.starts_with(
            "Server table dump:\n\nRetry table dump:\ncatr server\npid = -1\nstart_time = "
        ),
        "{retry}"
    );
    assert!(
        retry.contains("\nConnection info:\n\tservice = catr\n\tdescriptor = "),
        "{retry}"
    );
    assert!(
        retry.contains(&format!(
            "\tflags = 3\n\tremote_address = 127.0.0.1,{}\nfork_failures = 1\n\
             log_remote_user = NO\nwrites_to_log = NO\n",
            local.port()
        )),
        "{retry}"
    );
    drop(client);
}
