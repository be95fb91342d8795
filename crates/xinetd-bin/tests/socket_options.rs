//! Listening-socket options, link-local scopes and `source_prefix` (extensions) through the
//! real daemon: every option is read back with getsockopt(2) by the server on the socket it
//! is given (the listening socket for `wait = yes`, the accepted one for `wait = no`), the
//! backlog from `ss`, and every bad value is a located `-check` diagnostic.

mod util;

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::Command;

use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SRC3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A server that reads the options of the socket on fd 0 and sends them as one line:
/// `listen` accepts one connection on it first (wait = yes), `conn` writes to it.
const REPORT: &str = r#"#!/usr/bin/python3
import socket, sys
s = socket.socket(fileno=0)
def g(level, opt):
    try:
        return str(s.getsockopt(level, opt))
    except OSError as e:
        return "err%d" % e.errno
T, S = socket.IPPROTO_TCP, socket.SOL_SOCKET
v = [("keepalive", g(S, socket.SO_KEEPALIVE)), ("idle", g(T, socket.TCP_KEEPIDLE)),
     ("intvl", g(T, socket.TCP_KEEPINTVL)), ("cnt", g(T, socket.TCP_KEEPCNT)),
     ("mark", g(S, 36)), ("rcvbuf", g(S, socket.SO_RCVBUF)), ("sndbuf", g(S, socket.SO_SNDBUF)),
     ("reuseport", g(S, socket.SO_REUSEPORT)), ("freebind", g(socket.IPPROTO_IP, 15)),
     ("defer", g(T, 9))]
line = (" ".join("%s=%s" % kv for kv in v) + "\n").encode()
if sys.argv[1] == "listen":
    c, _ = s.accept()
    c.recv(100)
    c.sendall(line)
    c.close()
else:
    s.sendall(line)
"#;

fn ask(port: u16) -> String {
    let mut s = connect(port);
    s.write_all(b"x\n").expect("write");
    String::from_utf8_lossy(&read_all(&mut s)).into_owned()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
}

#[test]
fn options_reach_the_listening_and_the_accepted_socket() {
    if !require_root("socket options (SO_MARK needs CAP_NET_ADMIN, servers run as root)")
        || !has_python3("the getsockopt server")
    {
        return;
    }
    let (_scripts, script) = script_dir("report.py", REPORT);
    let (conn, listen) = (free_port(), free_port());
    let conf = external(
        "conn",
        conn,
        &script,
        "conn",
        "\tkeepalive = 61 7 4\n\tmark = 0x2a\n\treceive_buffer = 64K\n\tsend_buffer = 64K\n",
    ) + &external(
        "listen",
        listen,
        &script,
        "listen",
        "\tbacklog = 17\n\treuseport = yes\n\tfreebind = yes\n\tdefer_accept = 7\n\tkeepalive = 30\n",
    )
    .replace("wait = no", "wait = yes");
    let d = Daemon::start(&conf);

    // wait = no: the accepted socket inherits keepalive and its timers, mark and buffers.
    let line = ask(conn);
    assert_eq!(field(&line, "keepalive"), "1", "{line}");
    assert_eq!(field(&line, "idle"), "61", "{line}");
    assert_eq!(field(&line, "intvl"), "7", "{line}");
    assert_eq!(field(&line, "cnt"), "4", "{line}");
    assert_eq!(field(&line, "mark"), "42", "{line}");
    // The kernel doubles SO_RCVBUF/SO_SNDBUF for its bookkeeping.
    assert_eq!(field(&line, "rcvbuf"), "131072", "{line}");
    assert_eq!(field(&line, "sndbuf"), "131072", "{line}");
    assert_eq!(field(&line, "reuseport"), "0", "{line}");

    // reuseport: another socket may bind the same port (only when both set SO_REUSEPORT).
    let other =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    other.set_reuse_port(true).expect("SO_REUSEPORT");
    let at: std::net::SocketAddr = format!("127.0.0.1:{listen}").parse().expect("addr");
    other
        .bind(&at.into())
        .expect("reuseport lets a second socket bind");
    drop(other);
    let plain =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    plain.set_reuse_port(true).expect("SO_REUSEPORT");
    let at_conn: std::net::SocketAddr = format!("127.0.0.1:{conn}").parse().expect("addr");
    assert!(
        plain.bind(&at_conn.into()).is_err(),
        "a socket without reuseport keeps its port"
    );

    // The backlog is the Send-Q of a listening socket in `ss`.
    if let Ok(out) = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{listen}")])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let sendq = text.split_whitespace().nth(2).unwrap_or("");
        assert_eq!(sendq, "17", "ss: {text}");
    } else {
        eprintln!("backlog not read back: no ss");
    }

    // wait = yes: the server reads the listening socket itself.
    let line = ask(listen);
    assert_eq!(field(&line, "reuseport"), "1", "{line}");
    assert_eq!(field(&line, "freebind"), "1", "{line}");
    assert_eq!(field(&line, "defer"), "7", "{line}");
    assert_eq!(field(&line, "keepalive"), "1", "{line}");
    assert_eq!(field(&line, "idle"), "30", "{line}");
    assert_eq!(field(&line, "mark"), "0", "{line}");
    d.wait_file(5, "svc.log", "EXIT: listen");
}

#[test]
fn freebind_binds_an_address_that_is_not_configured() {
    if !require_root("freebind (servers run as root)") {
        return;
    }
    // 192.0.2.0/24 is TEST-NET-1, never configured here.
    let (free, strict) = (free_port(), free_port());
    let stanza = |id: &str, port: u16, extra: &str| {
        format!(
            "service daytime\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
             \tport = {port}\n\twait = no\n\tbind = 192.0.2.1\n{extra}}}\n"
        )
    };
    let conf = stanza("day-free", free, "\tfreebind = yes\n") + &stanza("day-strict", strict, "");
    let d = Daemon::start(&conf);
    d.wait_log(
        5,
        "bind failed (Cannot assign requested address (errno = 99)). service = day-strict",
    );
    let out = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{free}")])
        .output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("192.0.2.1:{free}")), "ss: {text}");
    }
    assert!(
        !d.prog_log().contains("service = day-free"),
        "{}",
        d.prog_log()
    );
}

#[test]
fn source_prefix_counts_a_network_as_one_source() {
    if !require_root("per_source through source_prefix (servers run as root)") {
        return;
    }
    let (exact, prefix) = (free_port(), free_port());
    let conf = external("exact", exact, "/bin/sleep", "30", "\tper_source = 1\n")
        + &external(
            "prefix",
            prefix,
            "/bin/sleep",
            "30",
            "\tper_source = 1\n\tsource_prefix = 8 64\n",
        );
    let d = Daemon::start(&conf);
    // Without source_prefix 127.0.0.2 and 127.0.0.3 are two sources.
    let _a = connect_from(SRC2, exact);
    d.wait_file(5, "svc.log", "START: exact pid=");
    let _b = connect_from(SRC3, exact);
    wait_until(5, "two exact STARTs", || {
        d.read("svc.log").matches("START: exact").count() == 2
    });
    // With `8 64` they are both 127.0.0.0/8: the second is over per_source.
    let _c = connect_from(SRC2, prefix);
    d.wait_file(5, "svc.log", "START: prefix pid=");
    assert_eq!(read_all(&mut connect_from(SRC3, prefix)), b"");
    d.wait_file(5, "svc.log", "FAIL: prefix per_source_limit from=127.0.0.3");
}

#[test]
fn a_sensor_with_source_prefix_bans_the_network() {
    let (trap, day) = (free_port(), free_port());
    let conf = format!(
        "service trap\n{{\n\ttype = INTERNAL UNLISTED\n\tflags = SENSOR\n\tsocket_type = stream\n\
         \tport = {trap}\n\twait = no\n\tbind = 127.0.0.1\n\tdeny_time = 10\n\tsource_prefix = 24 64\n}}\n"
    ) + &internal("daytime", "day", "stream", day, "");
    let d = Daemon::start(&conf);
    let mut hit = connect_from(SRC2, trap);
    let _ = read_all(&mut hit);
    d.wait_log(
        5,
        "Adding 127.0.0.0/24 to the global_no_access list for 10 minutes",
    );
    // Another address of the banned /24 is refused by every service.
    assert_eq!(read_all(&mut connect_from(SRC3, day)), b"");
    d.wait_file(5, "svc.log", "FAIL: day address from=127.0.0.3");
}

#[test]
fn a_link_local_bind_uses_its_scope() {
    if !require_root("link-local bind (network namespaces)") {
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        skip("link-local bind test needs iproute2's `ip`");
        return;
    }
    let (srv, cli) = match link_local_pair() {
        Ok(pair) => pair,
        Err(e) => {
            skip(format!("cannot set up namespaces ({e})"));
            return;
        }
    };
    let (scoped, missing) = (free_port(), free_port());
    let stanza = |id: &str, port: u16, bind: &str| {
        format!(
            "service daytime\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
             \tport = {port}\n\twait = no\n\tbind = {bind}\n}}\n"
        )
    };
    let conf =
        stanza("day-ll", scoped, "fe80::1%ll0") + &stanza("day-gone", missing, "fe80::1%nosuch9");
    let d = srv.start_daemon(&conf);
    d.wait_log(5, "scope 'nosuch9' is not an interface here");
    assert!(
        d.prog_log().contains("service = day-gone"),
        "{}",
        d.prog_log()
    );
    // From the other end of the link: fe80::1 through the client's ll1.
    let index = cli
        .run(|| nix::net::if_::if_nametoindex("ll1").map_err(|e| e.to_string()))
        .expect("ll1's index");
    let addr = std::net::SocketAddrV6::new("fe80::1".parse().expect("ip"), scoped, 0, index);
    let got = cli
        .fetch(addr.into())
        .expect("daytime over the link-local address");
    assert!(got.ends_with(b"\r\n"), "{got:?}");
}

/// Two namespaces joined by the veth pair `ll0` (fe80::1, in the server's) and `ll1`
/// (fe80::2, in the client's).
fn link_local_pair() -> Result<(Netns, Netns), String> {
    let tag = std::process::id();
    let srv = Netns::add(format!("xr-ll-{tag}-s"))?;
    let cli = Netns::add(format!("xr-ll-{tag}-c"))?;
    srv.ip(&[
        "link", "add", "ll0", "type", "veth", "peer", "name", "ll1", "netns", &cli.0,
    ])?;
    srv.ip(&["addr", "add", "fe80::1/64", "dev", "ll0", "nodad"])?;
    cli.ip(&["addr", "add", "fe80::2/64", "dev", "ll1", "nodad"])?;
    srv.ip(&["link", "set", "lo", "up"])?;
    srv.ip(&["link", "set", "ll0", "up"])?;
    cli.ip(&["link", "set", "ll1", "up"])?;
    Ok((srv, cli))
}

/// Every bad value: one located error each, the service dropped, `-check` exit status 1.
#[test]
fn bad_values_are_located_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "backlog = 0",
            "stream",
            "backlog: length '0' is not a number from 1 to 65535",
        ),
        (
            "backlog = lots",
            "stream",
            "backlog: length 'lots' is not a number from 1 to 65535",
        ),
        (
            "backlog = 70000",
            "stream",
            "backlog: length '70000' is not a number from 1 to 65535",
        ),
        (
            "keepalive =",
            "stream",
            "keepalive takes 1 to 3 values, 0 given",
        ),
        (
            "keepalive = 1 2 3 4",
            "stream",
            "keepalive takes 1 to 3 values, 4 given",
        ),
        (
            "keepalive = 0",
            "stream",
            "keepalive: idle time '0' is not a number from 1 to 32767",
        ),
        (
            "keepalive = 60 x",
            "stream",
            "keepalive: interval 'x' is not a number from 1 to 32767",
        ),
        (
            "keepalive = 60 5 128",
            "stream",
            "keepalive: probe count '128' is not a number from 1 to 127",
        ),
        (
            "reuseport = maybe",
            "stream",
            "reuseport: 'maybe' is not yes or no",
        ),
        ("freebind = 1", "stream", "freebind: '1' is not yes or no"),
        (
            "defer_accept = 0",
            "stream",
            "defer_accept: time '0' is not a number from 1 to 3600",
        ),
        (
            "defer_accept = 1h",
            "stream",
            "defer_accept: time '1h' is not a number from 1 to 3600",
        ),
        ("mark = -1", "stream", "mark: '-1' is not a 32-bit number"),
        (
            "mark = 0x1ffffffff",
            "stream",
            "mark: '0x1ffffffff' is not a 32-bit number",
        ),
        ("mark = 0xg", "stream", "mark: '0xg' is not a 32-bit number"),
        (
            "receive_buffer = 10",
            "stream",
            "receive_buffer: '10' is not a size from 1K to 1024M",
        ),
        (
            "receive_buffer = 2G",
            "stream",
            "receive_buffer: '2G' is not a size from 1K to 1024M",
        ),
        (
            "send_buffer = 2048M",
            "stream",
            "send_buffer: '2048M' is not a size from 1K to 1024M",
        ),
        (
            "source_prefix = 64",
            "stream",
            "source_prefix takes 2 values, 1 given",
        ),
        (
            "source_prefix = 33 64",
            "stream",
            "source_prefix: IPv4 prefix length '33' is not a number from 0 to 32",
        ),
        (
            "source_prefix = 24 129",
            "stream",
            "source_prefix: IPv6 prefix length '129' is not a number from 0 to 128",
        ),
        (
            "bind = fe80::1",
            "stream",
            "bind 'fe80::1': an IPv6 link-local bind address needs a scope",
        ),
        (
            "bind = 127.0.0.1%lo",
            "stream",
            "bind '127.0.0.1%lo': a scope ('%IFNAME') is only meaningful on an IPv6 address",
        ),
        (
            "bind = fe80::1%",
            "stream",
            "bind: scope '' of 'fe80::1%' is not an interface name or index",
        ),
        (
            "bind = fe80::1%a/b",
            "stream",
            "bind: scope 'a/b' of 'fe80::1%a/b' is not an interface name or index",
        ),
        (
            "keepalive = 60",
            "dgram",
            "'keepalive' applies to stream services only",
        ),
        (
            "defer_accept = 5",
            "dgram",
            "'defer_accept' applies to stream services only",
        ),
        (
            "backlog = 5",
            "dgram",
            "'backlog' applies to stream services only",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (line, sock, want) in cases {
        let conf = format!(
            "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = {sock}\n\tport = 7\n\
             \twait = {}\n\t{line}\n}}\n",
            if *sock == "dgram" { "yes" } else { "no" }
        );
        // Line 7 column 2 is the attribute; the stream-only rule points at the same line.
        let (status, text) = check_diagnostic(dir.path(), &conf, 7, want);
        assert_eq!(status, Some(1), "{line}: {text}");
        assert!(text.contains("service 'echo' is dropped"), "{line}: {text}");
    }
}

#[test]
fn check_json_shows_the_options_and_the_printer_round_trips_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = "defaults\n{\n\tsource_prefix = 24 56\n}\n\
        service echo\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = 7\n\
        \twait = no\n\tbacklog = 128\n\tkeepalive = 60 10\n\treuseport = yes\n\tfreebind = no\n\
        \tdefer_accept = 5\n\tmark = 42\n\treceive_buffer = 1M\n\tsend_buffer = 256K\n\
        \tbind = fe80::1%eth0\n}\n";
    let (path, doc) = check_json(dir.path(), "x.conf", conf);
    let s = &doc["services"][0];
    let o = &s["socket_options"];
    assert_eq!(o["backlog"], 128);
    assert_eq!(o["keepalive"]["idle"], 60);
    assert_eq!(o["keepalive"]["interval"], 10);
    assert!(o["keepalive"]["count"].is_null());
    assert_eq!(o["reuseport"], true);
    assert_eq!(o["freebind"], false);
    assert_eq!(o["defer_accept"], 5);
    assert_eq!(o["mark"], 42);
    assert_eq!(o["receive_buffer"], 1 << 20);
    assert_eq!(o["send_buffer"], 256 << 10);
    assert_eq!(s["bind"], "fe80::1");
    assert_eq!(s["bind_scope"], "eth0");
    assert_eq!(s["source_prefix"]["v4"], 24, "inherited from defaults");
    assert_eq!(s["source_prefix"]["v6"], 56);

    // The printer writes them back; reading the print gives the same print.
    let (printed, again) = print_round_trip(
        &path,
        &xinetd_conf::Environment::isolated(),
        &[
            "backlog = 128",
            "keepalive = 60 10",
            "reuseport = yes",
            "freebind = no",
            "defer_accept = 5",
            "mark = 0x2a",
            "receive_buffer = 1048576",
            "send_buffer = 262144",
            "bind = fe80::1%eth0",
            "source_prefix = 24 56",
        ],
    );
    assert_eq!(xinetd_conf::print(&again.config), printed);
}

/// A network namespace with its loopback up and `addrs` on it.
fn loopback_netns(tag: &str, addrs: &[&str]) -> Result<Netns, String> {
    let ns = Netns::add(format!("xr-{tag}-{}", std::process::id()))?;
    ns.ip(&["link", "set", "lo", "up"])?;
    for a in addrs {
        ns.ip(&["addr", "add", a, "dev", "lo", "nodad"])?;
    }
    Ok(ns)
}

/// Connects from `src` to `[dst]:port` inside the namespace (3 s connect and read timeouts).
fn connect_in(ns: &Netns, src: &str, dst: &str, port: u16) -> std::net::TcpStream {
    let (src, dst) = (src.to_string(), dst.to_string());
    ns.run(move || {
        let s = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)
            .expect("socket");
        let from: std::net::SocketAddr = format!("[{src}]:0").parse().expect("src");
        s.bind(&from.into()).expect("bind source");
        let to: std::net::SocketAddr = format!("[{dst}]:{port}").parse().expect("dst");
        s.connect_timeout(&to.into(), std::time::Duration::from_secs(3))
            .expect("connect");
        let s: std::net::TcpStream = s.into();
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .expect("timeout");
        Ok(s)
    })
    .expect("join the namespace")
}

#[test]
fn source_prefix_64_counts_and_bans_ipv6_networks() {
    if !require_root("IPv6 prefixes (network namespaces)") {
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        skip("IPv6 prefix test needs iproute2's `ip`");
        return;
    }
    // Two addresses of one /64 and one of another, all on the namespace's loopback.
    let (a1, a2, b) = ("2001:db8:1:2::10", "2001:db8:1:2::11", "2001:db8:1:3::10");
    let ns = match loopback_netns(
        "p64",
        &[
            &format!("{a1}/128"),
            &format!("{a2}/128"),
            &format!("{b}/128"),
        ],
    ) {
        Ok(ns) => ns,
        Err(e) => {
            skip(format!("cannot set up a namespace: {e}"));
            return;
        }
    };
    let (held, trap, day) = (free_port(), free_port(), free_port());
    let conf = format!(
        "defaults\n{{\n\tsource_prefix = 32 64\n}}\n\
         service held\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {held}\n\twait = no\n\tuser = root\n\tserver = /bin/sleep\n\tserver_args = 30\n\
         \tper_source = 1\n\tflags = IPv6\n\tlog_type = FILE @DIR@/svc.log\n\
         \tlog_on_success = PID HOST\n\tlog_on_failure = HOST\n}}\n\
         service trap\n{{\n\ttype = INTERNAL UNLISTED\n\tflags = SENSOR IPv6\n\tsocket_type = stream\n\
         \tport = {trap}\n\twait = no\n\tdeny_time = 10\n}}\n\
         service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = {day}\n\
         \twait = no\n\tflags = IPv6\n\tlog_type = FILE @DIR@/svc.log\n\tlog_on_failure = HOST\n}}\n"
    );
    let d = ns.start_daemon(&conf);
    // per_source = 1 per /64 (source_prefix from defaults).
    let _first = connect_in(&ns, a1, a1, held);
    d.wait_file(5, "svc.log", "START: held pid=");
    let mut second = connect_in(&ns, a2, a1, held);
    assert_eq!(read_all(&mut second), b"");
    d.wait_file(
        5,
        "svc.log",
        &format!("FAIL: held per_source_limit from={a2}"),
    );
    let _other = connect_in(&ns, b, a1, held);
    wait_until(5, "a START for the other /64", || {
        d.read("svc.log").matches("START: held").count() == 2
    });
    // A SENSOR hit bans the whole /64 from every service; the other /64 is still served.
    let _ = read_all(&mut connect_in(&ns, a1, a1, trap));
    d.wait_log(
        5,
        "Adding 2001:db8:1:2::/64 to the global_no_access list for 10 minutes",
    );
    assert_eq!(read_all(&mut connect_in(&ns, a2, a1, day)), b"");
    d.wait_file(5, "svc.log", &format!("FAIL: daytime address from={a2}"));
    let served = read_all(&mut connect_in(&ns, b, a1, day));
    assert!(served.ends_with(b"\r\n"), "{served:?}");
}
