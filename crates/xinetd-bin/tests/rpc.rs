//! `type = RPC` services (issue 8; F-119, F-976): registration of every version with the
//! portmapper (a fake one answering on a test port, and Debian's rpcbind when available),
//! unregistration at exit, and xinetd's error and deactivation without a portmapper.

mod util;

use nix::sys::signal::Signal;
use util::*;

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
fn rpcbind() -> Option<Option<KillOnDrop>> {
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
    let child = KillOnDrop(child);
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
