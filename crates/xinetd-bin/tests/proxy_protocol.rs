//! End-to-end tests of the PROXY protocol receiver (issue 13) through the real binary, with
//! raw sockets as the balancer: the header's client is the peer for the access lists, the
//! limits, SENSOR and every record; the header is consumed exactly (the server reads the
//! first payload byte first), even one byte per segment; bad headers, peers outside
//! `proxy_from` and timeouts are refused with one FAIL record and give everything back;
//! `connection_env` and the `PROXY_*` variables reach an external server; `redirect_proxy`
//! sends a header to the target.

mod util;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use proxy_header::{ProxiedAddress, ProxyHeader, Tlv};
use util::*;

const BALANCER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

fn v1(client: &str, port: u16) -> Vec<u8> {
    format!("PROXY TCP4 {client} 127.0.0.1 40000 {port}\r\n").into_bytes()
}

fn v2(client: &str, port: u16, tlvs: Vec<Tlv<'static>>) -> Vec<u8> {
    let addr = ProxiedAddress::stream(
        format!("{client}:40001").parse().expect("client"),
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let mut out = Vec::new();
    ProxyHeader::with_tlvs(Some(addr), tlvs)
        .encode_v2(&mut out)
        .expect("encode v2");
    out
}

/// Sends `header` then `payload` (one byte per segment when `dribble`), half-closes, and
/// returns what comes back before EOF.
fn through(from: Ipv4Addr, port: u16, header: &[u8], payload: &[u8], dribble: bool) -> Vec<u8> {
    let mut s = connect_from(from, port);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    if dribble {
        s.set_nodelay(true).expect("nodelay");
        for b in header {
            s.write_all(&[*b]).expect("write");
            thread::sleep(Duration::from_millis(2));
        }
    } else {
        s.write_all(header).expect("write");
    }
    s.write_all(payload).expect("write");
    let _ = s.shutdown(std::net::Shutdown::Write);
    read_all(&mut s)
}

fn echo(id: &str, port: u16, extra: &str) -> String {
    internal("echo", id, "stream", port, extra)
}

#[test]
fn the_headers_client_is_the_peer_for_access_lists_and_records() {
    let port = free_port();
    let d = Daemon::start(&echo(
        "echo-lb",
        port,
        "\tproxy_protocol = any\n\tproxy_from = 127.0.0.1\n\tonly_from = 192.0.2.0/24\n",
    ));
    // v1, whole; v2, one byte per segment: served, the payload echoed from its first byte.
    assert_eq!(
        through(BALANCER, port, &v1("192.0.2.7", port), b"hello", false),
        b"hello"
    );
    assert_eq!(
        through(
            BALANCER,
            port,
            &v2("192.0.2.8", port, vec![]),
            b"world",
            true
        ),
        b"world"
    );
    assert_eq!(
        through(BALANCER, port, &v1("192.0.2.9", port), b"dribbled", true),
        b"dribbled"
    );
    d.wait_file(5, "svc.log", "START: echo-lb pid=0 from=192.0.2.7");
    d.wait_file(5, "svc.log", "START: echo-lb pid=0 from=192.0.2.8");
    d.wait_file(5, "svc.log", "START: echo-lb pid=0 from=192.0.2.9");
    // A client outside only_from, through the trusted balancer (which is outside it too).
    assert_eq!(
        through(BALANCER, port, &v1("198.51.100.1", port), b"x", false),
        b""
    );
    d.wait_file(5, "svc.log", "FAIL: echo-lb address from=198.51.100.1");
    // v1 UNKNOWN and v2 LOCAL: the real peer, which only_from refuses here.
    through(BALANCER, port, b"PROXY UNKNOWN\r\n", b"x", false);
    let mut local = Vec::new();
    ProxyHeader::with_local()
        .encode_v2(&mut local)
        .expect("local");
    through(BALANCER, port, &local, b"x", false);
    wait_until(5, "two refusals of the balancer itself", || {
        d.read("svc.log")
            .matches("FAIL: echo-lb address from=127.0.0.1")
            .count()
            == 2
    });
    assert!(
        !d.read("svc.log").contains("proxy from"),
        "{}",
        d.read("svc.log")
    );
}

#[test]
fn bad_headers_are_refused_once_and_give_everything_back() {
    let port = free_port();
    let d = Daemon::start(&echo(
        "echo-bad",
        port,
        "\tproxy_protocol = v2\n\tproxy_from = 127.0.0.1\n\tproxy_timeout = 1\n\
         \tinstances = 1\n\tper_source = 1\n",
    ));
    let full = v2("192.0.2.1", port, vec![]);
    let mut bad_sig = full.clone();
    bad_sig[11] = b'X';
    let mut oversized = full[..14].to_vec();
    oversized.extend_from_slice(&[0xff, 0xff]);
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        (
            "garbage",
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            true,
            "no PROXY signature",
        ),
        (
            "v1 where v2 is required",
            v1("192.0.2.1", port),
            true,
            "a PROXY v1 header where only v2 is accepted",
        ),
        ("bad signature", bad_sig, true, "no PROXY signature"),
        ("oversized v2", oversized, true, "PROXY header too long"),
        (
            "truncated v2",
            full[..full.len() - 3].to_vec(),
            true,
            "connection closed before the PROXY header was complete",
        ),
        (
            "timeout",
            full[..5].to_vec(),
            false,
            "no complete PROXY header within 1 s",
        ),
    ];
    for (n, (what, bytes, close, reason)) in cases.iter().enumerate() {
        let mut s = connect_from(BALANCER, port);
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        for b in bytes {
            // One byte per segment: the verdict does not depend on the split.
            if s.write_all(&[*b]).is_err() {
                break;
            }
        }
        if *close {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        assert_eq!(
            read_all(&mut s),
            b"",
            "{what}: the connection is closed unserved"
        );
        wait_until(5, &format!("FAIL record {} ({what})", n + 1), || {
            d.read("svc.log")
                .matches("FAIL: echo-bad proxy from=127.0.0.1")
                .count()
                == n + 1
        });
        // The daemon-log line is written before the FAIL record.
        let line = format!("PROXY header from 127.0.0.1: {reason}; refusing");
        assert!(d.prog_log().contains(&line), "{what}: {}", d.prog_log());
    }
    // instances = 1 and per_source = 1: a leaked permit would refuse this one.
    assert_eq!(
        through(BALANCER, port, &full, b"still served", true),
        b"still served"
    );
    d.wait_file(5, "svc.log", "START: echo-bad pid=0 from=192.0.2.1");
    let log = d.read("svc.log");
    assert_eq!(log.matches("FAIL:").count(), cases.len(), "{log}");
}

#[test]
fn peers_outside_proxy_from_are_refused_or_served_direct() {
    let strict = free_port();
    let direct = free_port();
    let conf = [
        echo(
            "echo-strict",
            strict,
            "\tproxy_protocol = v1\n\tproxy_from = 127.0.0.2\n",
        ),
        echo(
            "echo-direct",
            direct,
            "\tproxy_protocol = v1 direct\n\tproxy_from = 127.0.0.2\n",
        ),
    ]
    .concat();
    let d = Daemon::start(&conf);
    let lb = Ipv4Addr::new(127, 0, 0, 2);
    let other = Ipv4Addr::new(127, 0, 0, 3);
    // A header from a peer outside proxy_from is never believed.
    assert_eq!(
        through(other, strict, &v1("192.0.2.1", strict), b"x", false),
        b""
    );
    d.wait_file(5, "svc.log", "FAIL: echo-strict proxy from=127.0.0.3");
    d.wait_log(
        5,
        "PROXY header from 127.0.0.3: not in proxy_from; refusing",
    );
    assert_eq!(
        through(lb, strict, &v1("192.0.2.1", strict), b"ok", false),
        b"ok"
    );
    d.wait_file(5, "svc.log", "START: echo-strict pid=0 from=192.0.2.1");
    // `direct`: served as itself, its bytes untouched.
    assert_eq!(through(other, direct, b"", b"plain", false), b"plain");
    d.wait_file(5, "svc.log", "START: echo-direct pid=0 from=127.0.0.3");
    assert_eq!(
        through(lb, direct, &v1("192.0.2.2", direct), b"via", false),
        b"via"
    );
    d.wait_file(5, "svc.log", "START: echo-direct pid=0 from=192.0.2.2");
}

#[test]
fn limits_and_sensor_key_on_the_client_not_the_balancer() {
    let echo_port = free_port();
    let sensor_port = free_port();
    let conf = [
        echo(
            "echo-lim",
            echo_port,
            "\tproxy_protocol = any\n\tproxy_from = 127.0.0.1\n\tper_source = 1\n",
        ),
        format!(
            "service discard\n{{\n\tid = sensor-lb\n\ttype = INTERNAL UNLISTED\n\
             \tflags = SENSOR\n\tsocket_type = stream\n\tport = {sensor_port}\n\twait = no\n\
             \tbind = 127.0.0.1\n\tdeny_time = 10\n\tcps = 0 0\n\tproxy_protocol = v1\n\
             \tproxy_from = 127.0.0.1\n\tlog_type = FILE @DIR@/svc.log\n\
             \tlog_on_failure = HOST\n}}\n"
        ),
    ]
    .concat();
    let d = Daemon::start(&conf);
    // per_source = 1: a second connection of the same client is refused, another client's
    // is served although both come from the same balancer.
    let mut held = connect_from(BALANCER, echo_port);
    held.write_all(&v1("192.0.2.1", echo_port)).expect("write");
    held.write_all(b"a").expect("write");
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut one = [0u8; 1];
    held.read_exact(&mut one).expect("echoed");
    assert_eq!(
        through(
            BALANCER,
            echo_port,
            &v1("192.0.2.1", echo_port),
            b"b",
            false
        ),
        b""
    );
    d.wait_file(
        5,
        "svc.log",
        "FAIL: echo-lim per_source_limit from=192.0.2.1",
    );
    assert_eq!(
        through(
            BALANCER,
            echo_port,
            &v1("192.0.2.2", echo_port),
            b"c",
            false
        ),
        b"c"
    );
    drop(held);
    // SENSOR bans the client the header names, not the balancer.
    through(
        BALANCER,
        sensor_port,
        &v1("192.0.2.66", sensor_port),
        b"",
        false,
    );
    d.wait_file(5, "svc.log", "FAIL: sensor-lb address from=192.0.2.66");
    wait_until(5, "the banned client is refused", || {
        through(
            BALANCER,
            echo_port,
            &v1("192.0.2.66", echo_port),
            b"d",
            false,
        )
        .is_empty()
            && d.read("svc.log")
                .contains("FAIL: echo-lim address from=192.0.2.66")
    });
    assert_eq!(
        through(
            BALANCER,
            echo_port,
            &v1("192.0.2.3", echo_port),
            b"e",
            false
        ),
        b"e"
    );
}

#[test]
fn external_servers_get_the_payload_first_and_the_connection_env() {
    let port = free_port();
    let mapped = free_port();
    // xinetd's server_args has no quoting: the server is a script.
    let bin = tempfile::tempdir().expect("tempdir");
    let script = bin.path().join("show-env");
    std::fs::write(
        &script,
        "#!/bin/sh\nread line\necho \"first=$line\"\nenv | sort\n",
    )
    .expect("script");
    let exec: std::fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, exec).expect("chmod");
    let conf = [
        external(
            "env-lb",
            port,
            &script.display().to_string(),
            "",
            "\tproxy_protocol = v2\n\tproxy_from = 127.0.0.1\n\tconnection_env = systemd ucspi\n",
        ),
        format!(
            "service env-v6\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {mapped}\n\twait = no\n\tuser = root\n\tserver = /usr/bin/env\n\
             \tflags = IPv6\n\tcps = 0 0\n\tconnection_env = ucspi systemd\n}}\n"
        ),
    ]
    .concat();
    let d = Daemon::start(&conf);
    let header = v2(
        "203.0.113.9",
        port,
        vec![
            Tlv::Authority("example.org".into()),
            Tlv::UniqueId(b"req-42".as_slice().into()),
            Tlv::Custom(0xEA, b"\x01vpce-0abc".as_slice().into()),
        ],
    );
    let out = through(BALANCER, port, &header, b"payload\n", true);
    let out = String::from_utf8_lossy(&out).into_owned();
    for want in [
        "first=payload",
        "REMOTE_HOST=203.0.113.9",
        "REMOTE_ADDR=203.0.113.9",
        "REMOTE_PORT=40001",
        "PROTO=TCP",
        "TCPREMOTEIP=203.0.113.9",
        "TCPREMOTEPORT=40001",
        &format!("TCPLOCALPORT={port}"),
        "TCPLOCALIP=127.0.0.1",
        "TCPCONNNUM=1",
        "PROXY_PROTOCOL=v2",
        "PROXY_PEER_ADDR=127.0.0.1",
        "PROXY_AUTHORITY=example.org",
        "PROXY_UNIQUE_ID=req-42",
        "PROXY_AWS_VPCE_ID=vpce-0abc",
        "SSL_TLS_SNI_SERVERNAME=example.org",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "{want} missing in:\n{out}\n{}",
            d.prog_log()
        );
    }
    // Without a header: a dual-stack service sees ::ffff:127.0.0.1; REMOTE_HOST keeps
    // xinetd's form, the new variables write plain IPv4.
    let mut s = TcpStream::connect(("127.0.0.1", mapped)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let out = String::from_utf8_lossy(&read_all(&mut s)).into_owned();
    for want in [
        "REMOTE_HOST=::ffff:127.0.0.1",
        "REMOTE_ADDR=127.0.0.1",
        "TCPREMOTEIP=127.0.0.1",
        "TCPLOCALIP=127.0.0.1",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} missing in:\n{out}");
    }
    assert!(!out.contains("PROXY_"), "{out}");
}

#[test]
fn redirect_proxy_tells_the_target_who_the_client_is() {
    let target = TcpListener::bind("127.0.0.1:0").expect("target");
    let tport = target.local_addr().expect("addr").port();
    let server = thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..2 {
            let Ok((mut s, _)) = target.accept() else {
                return got;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            got.push(buf);
        }
        got
    });
    let v2_port = free_port();
    let v1_port = free_port();
    let relay = |id: &str, port: u16, extra: &str| {
        format!(
            "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {port}\n\twait = no\n\tuser = root\n\tredirect = 127.0.0.1 {tport}\n\
             \tbind = 127.0.0.1\n\tcps = 0 0\n{extra}}}\n"
        )
    };
    let conf = [
        relay(
            "relay-v2",
            v2_port,
            "\tproxy_protocol = v1\n\tproxy_from = 127.0.0.1\n\tredirect_proxy = v2\n",
        ),
        relay("relay-v1", v1_port, "\tredirect_proxy = v1\n"),
    ]
    .concat();
    let _d = Daemon::start(&conf);
    // The header received is passed on (as v2), then the payload.
    through(BALANCER, v2_port, &v1("192.0.2.5", v2_port), b"data", false);
    let mut plain = connect_from(Ipv4Addr::new(127, 0, 0, 3), v1_port);
    let cport = plain.local_addr().expect("addr").port();
    plain.write_all(b"more").expect("write");
    plain.shutdown(std::net::Shutdown::Write).expect("shut");
    let _ = read_all(&mut plain);
    let got = server.join().expect("target");
    assert_eq!(got.len(), 2);
    let (h, n) = ProxyHeader::parse(&got[0], Default::default()).expect("a v2 header");
    assert_eq!(got[0][0], b'\r', "v2");
    let a = h.proxied_address().expect("addresses");
    assert_eq!(
        a.source,
        "192.0.2.5:40000".parse::<SocketAddr>().expect("a")
    );
    assert_eq!(a.destination.port(), v2_port);
    assert_eq!(&got[0][n..], b"data");
    // No header received: the real client, in v1.
    let want = format!("PROXY TCP4 127.0.0.3 127.0.0.1 {cport} {v1_port}\r\nmore");
    assert_eq!(String::from_utf8_lossy(&got[1]), want);
}

#[test]
fn servers_rows_and_the_dump_show_the_client() {
    use nix::sys::signal::Signal;
    let (echo_port, sleeper, servers) = (free_port(), free_port(), free_port());
    let lb = "\tproxy_protocol = any\n\tproxy_from = 127.0.0.1\n";
    let conf = [
        echo("echo-held", echo_port, lb),
        external("sleeper", sleeper, "/bin/sleep", "30", lb),
        internal(
            "servers",
            "servers",
            "stream",
            servers,
            &format!("{lb}\tonly_from = 192.0.2.0/24\n"),
        ),
    ]
    .concat();
    let dir = tempfile::tempdir().expect("tempdir");
    let dump_path = dir.path().join("dump").display().to_string();
    let d = Daemon::start_with(&conf, &["-dumpfile", &dump_path]);
    // An echo session held open, an external server running, both through the balancer.
    let mut held = connect_from(BALANCER, echo_port);
    held.write_all(&v1("192.0.2.44", echo_port)).expect("write");
    held.write_all(b"x").expect("write");
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut one = [0u8; 1];
    held.read_exact(&mut one).expect("echoed");
    let mut sleeping = connect_from(BALANCER, sleeper);
    sleeping
        .write_all(&v2("192.0.2.45", sleeper, vec![]))
        .expect("write");
    d.wait_file(5, "svc.log", "START: sleeper pid=");
    // The servers builtin, itself reached through the balancer by an allowed client.
    let rows = String::from_utf8_lossy(&through(
        BALANCER,
        servers,
        &v1("192.0.2.46", servers),
        b"",
        false,
    ))
    .into_owned();
    let want = "\tservice = echo-held\n\tremote_address = 192.0.2.44,40000";
    assert!(rows.contains(want), "{want} in:\n{rows}");
    assert!(!rows.contains("remote_address = 127.0.0.1"), "{rows}");
    wait_until(5, "the sleeper's row", || {
        String::from_utf8_lossy(&through(
            BALANCER,
            servers,
            &v1("192.0.2.46", servers),
            b"",
            false,
        ))
        .contains("\tservice = sleeper\n\tremote_address = 192.0.2.45,40001")
    });
    d.signal(Signal::SIGUSR1);
    d.wait_log(5, "generated state dump in file");
    let dump = std::fs::read_to_string(&dump_path).expect("dump");
    assert!(dump.contains("remote_address = 192.0.2.45,40001"), "{dump}");
    assert!(!dump.contains("remote_address = 127.0.0.1"), "{dump}");
    drop(sleeping);
}

#[test]
fn userid_asks_the_real_clients_identd_about_its_own_connection() {
    use std::io::BufRead;
    // The client of the header is 127.0.0.3: its identd (`-ident_port`, a test-only option)
    // is asked about the connection as the client sees it: its port, the port it reached.
    let identd = TcpListener::bind("127.0.0.3:0").expect("identd");
    let ident_port = identd.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for s in identd.incoming().take(2) {
            let Ok(mut s) = s else { continue };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            let _ = tx.send(line.trim_end().to_string());
            let _ = write!(s, "{} : USERID : UNIX : alice\r\n", line.trim_end());
        }
    });
    let port = free_port();
    let conf = external(
        "env-id",
        port,
        "/usr/bin/env",
        "",
        "\tproxy_protocol = v1\n\tproxy_from = 127.0.0.1\n\tconnection_env = ucspi\n",
    )
    .replace("PID HOST EXIT DURATION", "PID HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &ident_port.to_string()]);
    let out = through(BALANCER, port, &v1("127.0.0.3", port), b"", false);
    let out = String::from_utf8_lossy(&out).into_owned();
    let query = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("identd asked");
    let ports: Vec<String> = query.split(',').map(|p| p.trim().to_string()).collect();
    assert_eq!(ports, ["40000".to_string(), port.to_string()], "{query}");
    d.wait_file(5, "svc.log", "USERID: env-id UNIX : alice");
    assert!(
        out.lines().any(|l| l == "TCPREMOTEINFO=UNIX : alice"),
        "{out}"
    );
}

#[test]
fn a_tcpmux_client_service_gets_the_client_its_tcpmux_service_received() {
    let port = free_port();
    let clients = "service plain\n{\n\ttype = TCPMUX UNLISTED\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = /usr/bin/env\n\
         \tonly_from = 192.0.2.0/24\n\tconnection_env = ucspi\n}\n";
    let conf = echo(
        "tcpmux",
        port,
        "\tproxy_protocol = v1\n\tproxy_from = 127.0.0.1\n",
    )
    .replace("service echo\n", "service tcpmux\n")
        + clients;
    let d = Daemon::start(&conf);
    // The client service's only_from sees the header's client, as does its server.
    let env = through(BALANCER, port, &v1("192.0.2.20", port), b"plain\r\n", false);
    let env = String::from_utf8_lossy(&env).into_owned();
    assert!(env.lines().any(|l| l == "REMOTE_HOST=192.0.2.20"), "{env}");
    assert!(env.lines().any(|l| l == "TCPREMOTEIP=192.0.2.20"), "{env}");
    assert_eq!(
        through(
            BALANCER,
            port,
            &v1("198.51.100.7", port),
            b"plain\r\n",
            false
        ),
        b""
    );
    // (The client service has no log of its own; its tcpmux service logs START.)
    d.wait_file(5, "svc.log", "START: tcpmux pid=0 from=192.0.2.20");
    d.wait_file(5, "svc.log", "START: tcpmux pid=0 from=198.51.100.7");
}
