//! Unix-domain listeners (extension `socket_path`) through the real daemon: stream, dgram
//! and abstract sockets, the socket file's permissions and life, SO_PEERCRED checks
//! (`only_uid`, `only_gid`), `per_source` by uid, and every bad value as a located `-check`
//! diagnostic. The user guide is docs/unix-sockets.md.

mod util;

use std::io::Write;
use std::process::Command;

use util::*;

/// A `wait = yes` service on a Unix socket file: the server gets the listening socket.
fn unix_service(id: &str, sock: &str, path: &str, server: &str, args: &str, extra: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = {sock}\n\twait = yes\n\tuser = root\n\
         \tserver = {server}\n\tserver_args = {args}\n\tsocket_path = {path}\n\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID EXIT\n{extra}}}\n"
    )
}

/// Accepts one connection (stream) or reads one datagram (dgram) on fd 0 and answers
/// `hello <what it read>`.
const UNIX_SERVER: &str = r#"#!/usr/bin/python3
import socket, sys
s = socket.socket(fileno=0)
assert s.family == socket.AF_UNIX
if s.type == socket.SOCK_STREAM:
    c, _ = s.accept()
    c.sendall(b"hello " + c.recv(100))
    c.close()
else:
    data, peer = s.recvfrom(100)
    s.sendto(b"hello " + data, peer)
"#;

fn unix_ask(addr: &std::os::unix::net::SocketAddr) -> String {
    let mut s = std::os::unix::net::UnixStream::connect_addr(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"there").expect("write");
    let mut out = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut out);
    out
}

#[test]
fn unix_stream_dgram_and_abstract_listeners_serve_and_clean_up() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use std::os::unix::net::SocketAddr as UnixAddr;
    if !require_root("Unix listeners (servers run as root, socket_owner)")
        || !has_python3("the test servers and clients")
    {
        return;
    }
    let (_scripts, server) = script_dir("unix.py", UNIX_SERVER);
    let dir = tempfile::tempdir().expect("sockets dir");
    let stream_path = dir.path().join("stream.sock");
    let dgram_path = dir.path().join("dgram.sock");
    let stale_path = dir.path().join("stale.sock");
    let file_path = dir.path().join("file.sock");
    // A stale socket of an earlier run is replaced; a regular file is never removed.
    drop(std::os::unix::net::UnixListener::bind(&stale_path).expect("stale"));
    std::fs::write(&file_path, "keep me").expect("regular file");
    let abstract_name = format!("xinetd-rs-test-{}", std::process::id());
    let p = |x: &std::path::Path| x.display().to_string();
    let conf = unix_service(
        "ustream",
        "stream",
        &p(&stream_path),
        &server,
        "x",
        "\tsocket_mode = 0640\n\tsocket_owner = 65534\n\tsocket_group = 4\n",
    ) + &unix_service("udgram", "dgram", &p(&dgram_path), &server, "x", "")
        + &unix_service("ustale", "stream", &p(&stale_path), &server, "x", "")
        + &unix_service("ufile", "stream", &p(&file_path), &server, "x", "")
        + &unix_service(
            "uabs",
            "stream",
            &format!("@{abstract_name}"),
            &server,
            "x",
            "",
        );
    let d = Daemon::start(&conf);
    d.wait_log(5, "is not a socket; not removed");
    assert!(d.prog_log().contains("service = ufile"), "{}", d.prog_log());
    assert_eq!(std::fs::read(&file_path).expect("kept"), b"keep me");

    // The socket file has the configured mode, owner and group.
    let m = std::fs::symlink_metadata(&stream_path).expect("socket file");
    assert!(m.file_type().is_socket());
    assert_eq!(m.permissions().mode() & 0o777, 0o640);
    assert_eq!((m.uid(), m.gid()), (65534, 4));

    let addr = UnixAddr::from_pathname(&stream_path).expect("addr");
    assert_eq!(unix_ask(&addr), "hello there");
    d.wait_file(5, "svc.log", "EXIT: ustream");
    let stale = UnixAddr::from_pathname(&stale_path).expect("addr");
    assert_eq!(unix_ask(&stale), "hello there");
    let abs = UnixAddr::from_abstract_name(abstract_name.as_bytes()).expect("abstract");
    assert_eq!(unix_ask(&abs), "hello there");

    // dgram: the server reads the datagram on fd 0 and answers the client's own socket.
    let client_path = dir.path().join("client.sock");
    let c = std::os::unix::net::UnixDatagram::bind(&client_path).expect("client");
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    c.send_to(b"dgram", &dgram_path).expect("send");
    let mut buf = [0u8; 100];
    let n = c.recv(&mut buf).expect("answer");
    assert_eq!(&buf[..n], b"hello dgram");

    // A reload that drops a service removes its socket file; the others stay.
    let kept = conf.replace(
        &unix_service("udgram", "dgram", &p(&dgram_path), &server, "x", ""),
        "",
    );
    d.rewrite(&kept);
    d.signal(nix::sys::signal::Signal::SIGHUP);
    d.wait_log(10, "Reconfigured:");
    assert!(!dgram_path.exists(), "dropped service's socket removed");
    assert!(stream_path.exists());
    assert_eq!(
        unix_ask(&addr),
        "hello there",
        "still served after the reload"
    );

    // Exit removes the rest, and still never the regular file.
    let mut d = d;
    d.signal(nix::sys::signal::Signal::SIGTERM);
    d.wait_exit(10);
    assert!(!stream_path.exists(), "removed on exit");
    assert!(!stale_path.exists(), "removed on exit");
    assert_eq!(std::fs::read(&file_path).expect("kept"), b"keep me");
}

#[test]
fn bad_unix_values_are_located_errors() {
    let long = format!("/tmp/{}", "x".repeat(110));
    let cases: Vec<(String, &str, &str, String)> = vec![
        (
            "socket_path = run/x.sock".into(),
            "stream",
            "yes",
            "socket_path: 'run/x.sock' is not an absolute file path of at most 107 bytes".into(),
        ),
        (
            format!("socket_path = {long}"),
            "stream",
            "yes",
            format!("socket_path: '{long}' is not an absolute file path of at most 107 bytes"),
        ),
        (
            "socket_path = @".into(),
            "stream",
            "yes",
            "socket_path: abstract name '@' must have 1 to 107 bytes after '@'".into(),
        ),
        (
            "socket_mode = 0800".into(),
            "stream",
            "yes",
            "socket_mode: '0800' is not an octal mode from 0 to 777".into(),
        ),
        (
            "socket_mode = 1777".into(),
            "stream",
            "yes",
            "socket_mode: '1777' is not an octal mode from 0 to 777".into(),
        ),
        (
            "socket_owner = no-such-user-xr".into(),
            "stream",
            "yes",
            "socket_owner: unknown user 'no-such-user-xr'".into(),
        ),
        (
            "socket_group = no-such-group-xr".into(),
            "stream",
            "yes",
            "socket_group: unknown group 'no-such-group-xr'".into(),
        ),
        (
            "only_uid = 0 no-such-user-xr".into(),
            "stream",
            "no",
            "only_uid: unknown user 'no-such-user-xr'".into(),
        ),
        (
            "only_gid = no-such-group-xr".into(),
            "stream",
            "no",
            "only_gid: unknown group 'no-such-group-xr'".into(),
        ),
        (
            "only_uid =".into(),
            "stream",
            "no",
            "'only_uid' needs at least one value".into(),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (line, sock, wait, want) in &cases {
        let conf = format!(
            "service u\n{{\n\ttype = UNLISTED\n\tsocket_type = {sock}\n\twait = {wait}\n\
             \tuser = root\n\t{line}\n\tserver = /bin/cat\n\tsocket_path = /run/u.sock\n}}\n"
        );
        let (status, text) = check_diagnostic(dir.path(), &conf, 7, want);
        assert_eq!(status, Some(1), "{line}: {text}");
    }
    // Rules between attributes: reported at the attribute that breaks them.
    let rules: &[(&str, &str, usize, &str)] = &[
        (
            "\tport = 7000\n",
            "\tsocket_mode = 0600\n",
            8,
            "'socket_mode' needs socket_path",
        ),
        (
            "\tsocket_path = @abs\n",
            "\tsocket_group = 0\n",
            8,
            "'socket_group' applies to socket files; '@abs' is an abstract socket",
        ),
        (
            "\tsocket_path = /run/u.sock\n",
            "\tport = 7000\n",
            7,
            "socket_path cannot be combined with 'port' (an IP socket attribute)",
        ),
        (
            "\tport = 7000\n",
            "\tonly_gid = 0\n",
            8,
            "'only_gid' needs socket_path",
        ),
        (
            "\tsocket_path = /run/u.sock\n",
            "\tonly_from = 127.0.0.1\n",
            7,
            "socket_path cannot be combined with 'only_from' (an IP socket attribute)",
        ),
    ];
    for (first, second, at, want) in rules {
        let conf = format!(
            "service u\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = yes\n\
             \tuser = root\n{first}{second}\tserver = /bin/cat\n}}\n"
        );
        let (status, text) = check_diagnostic(dir.path(), &conf, *at, want);
        assert_eq!(status, Some(1), "{want}: {text}");
    }
    let dgram_wait_no = "service u\n{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\twait = no\n\
        \tuser = root\n\tsocket_path = /run/u.sock\n\tserver = /bin/cat\n}\n";
    check_diagnostic(
        dir.path(),
        dgram_wait_no,
        7,
        "a dgram socket_path service needs wait = yes: the server reads the Unix socket itself",
    );
    let creds_wait_yes = "service u\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = yes\n\
        \tuser = root\n\tsocket_path = /run/u.sock\n\tonly_uid = 0\n\tserver = /bin/cat\n}\n";
    check_diagnostic(
        dir.path(),
        creds_wait_yes,
        8,
        "'only_uid' needs wait = no: with wait = yes the server accepts the clients, the daemon never sees them",
    );
    let internal =
        "service echo\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = yes\n\
        \tsocket_path = /run/u.sock\n}\n";
    check_diagnostic(
        dir.path(),
        internal,
        6,
        "socket_path: internal services are not served over Unix sockets",
    );
    // And a good one is accepted, shown by -check -json, and printed back.
    let good = "service u\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = yes\n\
        \tuser = root\n\tsocket_path = /run/u.sock\n\tsocket_mode = 660\n\tsocket_owner = 0\n\
        \tsocket_group = root\n\tserver = /bin/cat\n}\n\
        service v\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\
        \tuser = root\n\tsocket_path = @v\n\tonly_uid = 0 7\n\tonly_gid = root\n\tserver = /bin/cat\n}\n";
    let (path, doc) = check_json(dir.path(), "good.conf", good);
    let o = &doc["services"][0]["socket_options"];
    assert_eq!(o["socket_path"], "/run/u.sock");
    assert_eq!(o["socket_mode"], "0660");
    assert_eq!(o["socket_owner"], 0);
    assert_eq!(o["socket_group"], 0);
    let v = &doc["services"][1]["socket_options"];
    assert_eq!(v["socket_path"], "@v");
    assert_eq!(v["only_uid"], serde_json::json!([0, 7]));
    assert_eq!(v["only_gid"], serde_json::json!([0]));
    print_round_trip(
        &path,
        &xinetd_conf::Environment::system(),
        &[
            "socket_path = /run/u.sock",
            "socket_mode = 0660",
            "socket_owner = 0",
            "socket_group = root",
            "socket_path = @v",
            "only_uid = 0 7",
            "only_gid = root",
        ],
    );
}

/// A client process with other credentials: connects to `path`, sends a line and prints
/// what it reads.
fn unix_client(path: &std::path::Path, uid: u32, gid: u32) -> String {
    use std::os::unix::process::CommandExt;
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(5)\n\
             s.connect(sys.argv[1])\nout=b''\nwhile True:\n d=s.recv(100)\n if not d: break\n out+=d\n\
             sys.stdout.write(out.decode())",
            path.to_str().expect("utf-8"),
        ])
        .uid(uid)
        .gid(gid)
        .output()
        .expect("client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn unix_wait_no_checks_credentials_and_counts_per_uid() {
    use std::os::unix::net::UnixStream;
    if !require_root("Unix clients with other uids") || !has_python3("the test servers and clients")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("sockets dir");
    // The test user (nobody) must reach the sockets inside the temp dir.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let echo_path = dir.path().join("echo.sock");
    let sleep_path = dir.path().join("sleep.sock");
    let stanza = |id: &str, path: &std::path::Path, server: &str, args: &str, extra: &str| {
        format!(
            "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\
             \tserver = {server}\n\tserver_args = {args}\n\tsocket_path = {}\n\tsocket_mode = 0666\n\
             \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST EXIT\n\tlog_on_failure = HOST\n{extra}}}\n",
            path.display()
        )
    };
    let conf = stanza(
        "uecho",
        &echo_path,
        "/bin/echo",
        "served",
        "\tonly_uid = 0\n\tonly_gid = 4\n",
    ) + &stanza(
        "usleep",
        &sleep_path,
        "/bin/sleep",
        "30",
        "\tper_source = 1\n",
    );
    let d = Daemon::start(&conf);
    // only_uid / only_gid: root by uid, (65534, 4) by gid; (65534, 65534) refused.
    assert_eq!(unix_client(&echo_path, 0, 0), "served\n");
    assert_eq!(unix_client(&echo_path, 65534, 4), "served\n");
    assert_eq!(unix_client(&echo_path, 65534, 65534), "");
    d.wait_file(
        5,
        "svc.log",
        "FAIL: uecho address from=unix:uid=65534,gid=65534",
    );
    assert_eq!(d.read("svc.log").matches("FAIL: uecho").count(), 1);
    // START names the client too.
    let log = d.read("svc.log");
    assert!(log.contains(" from=unix:uid=0,gid=0"), "{log}");
    assert!(log.contains(" from=unix:uid=65534,gid=4"), "{log}");

    // per_source counts by uid.
    let _held = UnixStream::connect(&sleep_path).expect("first root client");
    d.wait_file(5, "svc.log", "START: usleep pid=");
    assert_eq!(unix_client(&sleep_path, 0, 0), "");
    d.wait_file(
        5,
        "svc.log",
        "FAIL: usleep per_source_limit from=unix:uid=0,gid=0",
    );
    let _other = std::thread::spawn({
        let p = sleep_path.clone();
        move || unix_client(&p, 65534, 65534)
    });
    wait_until(5, "a second usleep START for another uid", || {
        d.read("svc.log").matches("START: usleep").count() == 2
    });
}
