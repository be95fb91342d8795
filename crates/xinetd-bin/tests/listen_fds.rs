//! `activation = listen_fds` (issue 18, extension): a `wait = yes` server receives the
//! listening socket as fd 3 with systemd's `LISTEN_FDS=1`, `LISTEN_PID=<its pid>` and
//! `LISTEN_FDNAMES=<service id>` (sd_listen_fds(3)), fds 0-2 on /dev/null. Checked with a
//! small Python server that speaks the protocol, with Debian's `systemd-socket-proxyd` (a
//! real program that accepts only socket-activated listeners), and with `-check` for the
//! services that cannot have it.

mod util;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use util::*;

const PYTHON: &str = "/usr/bin/python3";

/// The test server: checks the protocol's variables against its own pid, takes fd 3, answers
/// each of two connections with what it found, then exits.
const SERVER: &str = r#"
import os, socket
ok = os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS") == "1"
name = os.environ.get("LISTEN_FDNAMES", "")
stdio = ",".join(os.readlink("/proc/self/fd/%d" % n) for n in range(3))
extra = os.path.exists("/proc/self/fd/4")
s = socket.socket(fileno=3)
listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
for _ in range(2):
    c, _ = s.accept()
    c.sendall(("pid_ok=%s name=%s stdio=%s fd4=%s listening=%d\n"
               % (ok, name, stdio, extra, listening)).encode())
    c.close()
"#;

fn activated(id: &str, port: u16, server: &str, args: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = yes\n\tuser = root\n\tserver = {server}\n\
         \tserver_args = {args}\n\tactivation = listen_fds\n\tbind = 127.0.0.1\n\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID EXIT\n\
         \tlog_on_failure = HOST\n}}\n"
    )
}

#[test]
fn a_wait_yes_server_gets_the_socket_on_fd_3_with_listen_variables() {
    if !Path::new(PYTHON).exists() {
        skip("python3 is not installed");
        return;
    }
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("activated.py");
    std::fs::write(&script, SERVER).expect("script");
    let conf = activated("act-test", port, PYTHON, &script.display().to_string());
    // LISTEN_* in the daemon's own environment must not reach the server either (the spec's
    // own entries replace them); LISTEN_PID names another process, so the daemon adopts
    // nothing itself.
    let d = Daemon::spawn_with(
        &conf,
        &[],
        &[
            ("LISTEN_FDS", "9"),
            ("LISTEN_PID", "1"),
            ("LISTEN_FDNAMES", "x"),
        ],
        &[],
    );
    d.wait_log(10, "Started working");
    let want = "pid_ok=True name=act-test stdio=/dev/null,/dev/null,/dev/null fd4=False \
                listening=1\n";
    for _ in 0..2 {
        let text = String::from_utf8(read_all(&mut connect(port))).expect("text");
        assert_eq!(text, want);
    }
    // The server exits after two connections; the daemon polls the socket again and starts
    // another server for the next client (the socket stayed a listener throughout).
    d.wait_file(10, "svc.log", "EXIT: act-test status=0");
    let text = String::from_utf8(read_all(&mut connect(port))).expect("text");
    assert_eq!(text, want);
}

#[test]
fn systemd_socket_proxyd_runs_under_the_daemon() {
    let proxyd = [
        "/usr/lib/systemd/systemd-socket-proxyd",
        "/lib/systemd/systemd-socket-proxyd",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    let Some(proxyd) = proxyd else {
        skip("systemd-socket-proxyd is not installed (Debian package systemd)");
        return;
    };
    let (port, echo) = (free_port(), free_port());
    let conf = activated("proxy", port, proxyd, &format!("127.0.0.1:{echo}"))
        + &internal("echo", "echo", "stream", echo, "");
    let d = Daemon::start(&conf);
    // systemd-socket-proxyd refuses to run unless sd_listen_fds() finds exactly its socket
    // (LISTEN_PID must be its own pid); then it relays to the daemon's echo service.
    for payload in [&b"through the proxy"[..], b"and again"] {
        let mut s = connect(port);
        s.write_all(payload).expect("write");
        let mut back = vec![0u8; payload.len()];
        s.read_exact(&mut back)
            .expect("echoed through systemd-socket-proxyd");
        assert_eq!(back, payload);
    }
    d.wait_file(10, "svc.log", "START: echo");
    assert!(
        !d.read("svc.log").contains("EXIT: proxy"),
        "{}",
        d.read("svc.log")
    );
}

#[test]
fn check_rejects_activation_without_wait_yes_at_the_attribute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("x.conf");
    std::fs::write(
        &conf,
        "service nowait\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 17999\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\
         \tactivation = listen_fds\n}\n\
         service good\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 17998\n\twait = yes\n\tuser = root\n\tserver = /bin/cat\n\
         \tactivation = listen_fds\n}\n\
         service bad\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 17997\n\twait = yes\n\tuser = root\n\tserver = /bin/cat\n\
         \tactivation = inetd\n}\n",
    )
    .expect("write");
    let path = conf.display().to_string();
    let out = Command::new(XINETD)
        .args(["-f", &path, "-check"])
        .output()
        .expect("run");
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!("{path}:10:2: error: activation"))
            && all.contains("activation = listen_fds is not valid here")
            && all.contains("wait = yes"),
        "{all}"
    );
    assert!(all.contains("activation 'inetd' is not known"), "{all}");
    // The JSON document shows the attribute of the accepted service.
    let out = Command::new(XINETD)
        .args(["-f", &path, "-check", "-json"])
        .output()
        .expect("run");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let good = doc["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["id"] == "good")
        .expect("good accepted");
    assert_eq!(good["activation"], "listen_fds");
}
