//! The PROXY protocol receiver against a real sender (issue 13): Debian's HAProxy, started
//! here on loopback in front of the daemon with `send-proxy` (v1) and `send-proxy-v2` (with
//! a unique-id TLV), stopped by PID. Clients connect from 127.0.0.2 and 127.0.0.3 through
//! HAProxy (which connects from 127.0.0.1): the daemon's decisions and records show the
//! clients, never HAProxy. Skips with a reason when haproxy is not installed.

mod util;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use util::*;

const HAPROXY: &str = "/usr/sbin/haproxy";

/// HAProxy in the foreground, killed by PID when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.0.wait();
    }
}

fn start_haproxy(dir: &Path, cfg: &str, fronts: &[u16]) -> Haproxy {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).expect("haproxy.cfg");
    let child = Command::new(HAPROXY)
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("haproxy.err")).expect("err file"),
        ))
        .spawn()
        .expect("start haproxy");
    let h = Haproxy(child);
    for &p in fronts {
        // Seen in /proc, not by connecting: a probe would go through to the daemon.
        wait_until(10, &format!("haproxy listening on {p}"), || {
            listen_inode(p).is_some()
        });
    }
    h
}

fn via(src: Ipv4Addr, port: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = connect_from(src, port);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(payload).expect("write");
    let _ = s.shutdown(std::net::Shutdown::Write);
    read_all(&mut s)
}

#[test]
fn clients_behind_haproxy_are_seen_as_themselves() {
    if !Path::new(HAPROXY).exists() {
        skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does)");
        return;
    }
    let (v1_port, v2_port, env_port) = (free_port(), free_port(), free_port());
    let (f1, f2, f3) = (free_port(), free_port(), free_port());
    let lb = "\tproxy_from = 127.0.0.1\n\tonly_from = 127.0.0.2\n";
    // The server reads the client's line before it answers: a server that exits with
    // unread input resets the connection, and HAProxy may then drop the answer.
    let bin = tempfile::tempdir().expect("tempdir");
    let show_env = bin.path().join("show-env");
    std::fs::write(&show_env, "#!/bin/sh\nread line\nenv\n").expect("script");
    let exec: std::fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&show_env, exec).expect("chmod");
    let conf = [
        internal(
            "echo",
            "echo-v1",
            "stream",
            v1_port,
            &format!("\tproxy_protocol = v1\n{lb}"),
        ),
        internal(
            "echo",
            "echo-v2",
            "stream",
            v2_port,
            &format!("\tproxy_protocol = v2\n{lb}"),
        ),
        external(
            "env-v2",
            env_port,
            &show_env.display().to_string(),
            "",
            "\tproxy_protocol = any\n\tproxy_from = 127.0.0.1\n\tconnection_env = ucspi\n",
        ),
    ]
    .concat();
    let d = Daemon::start(&conf);
    let cfg = format!(
        "global\n\tmaxconn 64\n\
         defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 10s\n\ttimeout server 10s\n\
         frontend f1\n\tbind 127.0.0.1:{f1}\n\tdefault_backend b1\n\
         backend b1\n\tserver s1 127.0.0.1:{v1_port} send-proxy\n\
         frontend f2\n\tbind 127.0.0.1:{f2}\n\tdefault_backend b2\n\
         backend b2\n\tserver s2 127.0.0.1:{v2_port} send-proxy-v2\n\
         frontend f3\n\tbind 127.0.0.1:{f3}\n\tunique-id-format conn-%rt\n\tdefault_backend b3\n\
         backend b3\n\tserver s3 127.0.0.1:{env_port} send-proxy-v2 proxy-v2-options unique-id\n"
    );
    let _h = start_haproxy(d.dir.path(), &cfg, &[f1, f2, f3]);
    let (two, three) = (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3));

    // send-proxy (v1) and send-proxy-v2: 127.0.0.2 is in only_from and served.
    assert_eq!(via(two, f1, b"one"), b"one");
    assert_eq!(via(two, f2, b"two"), b"two");
    d.wait_file(5, "svc.log", "START: echo-v1 pid=0 from=127.0.0.2");
    d.wait_file(5, "svc.log", "START: echo-v2 pid=0 from=127.0.0.2");
    // 127.0.0.3 is not; HAProxy (127.0.0.1) is in neither list's way.
    assert_eq!(via(three, f1, b"no"), b"");
    assert_eq!(via(three, f2, b"no"), b"");
    d.wait_file(5, "svc.log", "FAIL: echo-v1 address from=127.0.0.3");
    d.wait_file(5, "svc.log", "FAIL: echo-v2 address from=127.0.0.3");
    // The server's environment: the client, and HAProxy's unique-id TLV.
    let out = {
        // The line is read before the client's half-close goes through.
        let mut s = connect_from(three, f3);
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(b"go\n").expect("write");
        String::from_utf8_lossy(&read_all(&mut s)).into_owned()
    };
    for want in [
        "REMOTE_HOST=127.0.0.3",
        "TCPREMOTEIP=127.0.0.3",
        &format!("TCPLOCALPORT={f3}"),
        "PROXY_PROTOCOL=v2",
        "PROXY_PEER_ADDR=127.0.0.1",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} missing in:\n{out}");
    }
    assert!(
        out.lines().any(|l| l.starts_with("PROXY_UNIQUE_ID=conn-")),
        "no unique id in:\n{out}"
    );
    let log = d.read("svc.log");
    assert!(
        !log.contains("from=127.0.0.1"),
        "HAProxy's address in:\n{log}"
    );
    assert!(
        !log.contains(" proxy from="),
        "a header was refused:\n{log}"
    );
}
