//! The consistency check (SIGABRT, F-844) counts every hold the daemon keeps: an xadmin
//! session, a request waiting for the client's identd, a request parked for a libwrap name
//! lookup and a request waiting for a fork retry, all at once, leave it passing.

mod util;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use util::*;

#[test]
fn every_kind_of_hold_is_counted() {
    if !is_root() {
        eprintln!(
            "skipped: needs root (a mount namespace for resolv.conf, and the daemon as nobody \
             with RLIMIT_NPROC)"
        );
        return;
    }
    // A name server that never answers: the libwrap name lookup stays parked.
    let Ok(_dns) = UdpSocket::bind("127.0.0.1:53") else {
        eprintln!("skipped: 127.0.0.1:53 is in use, no silent name server possible");
        return;
    };
    // An identd that accepts and never answers: the USERID wait stays open.
    let identd = TcpListener::bind("127.0.0.1:0").expect("identd");
    let ident_port = identd.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o777)).expect("chmod");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
    )
    .expect("resolv.conf");
    let allow = dir.path().join("hosts.allow");
    let deny = dir.path().join("hosts.deny");
    std::fs::write(&allow, "").expect("hosts.allow");
    // A name pattern for one service only: its requests need the client's name.
    std::fs::write(&deny, "wrapd: .example.invalid\n").expect("hosts.deny");
    let (admin, userid, wrapped, catr) = (free_port(), free_port(), free_port(), free_port());
    let internal = |name: &str, id: &str, port: u16, extra: &str| {
        format!(
            "service {name}\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
             \tprotocol = tcp\n\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n{extra}}}\n"
        )
    };
    let conf = dir.path().join("xinetd.conf");
    let text = [
        internal("xadmin", "xadmin", admin, "\tonly_from = 127.0.0.1\n"),
        internal("echo", "echo-userid", userid, "\tlog_on_success = USERID\n"),
        internal("echo", "echo-wrapped", wrapped, "\tlibwrap = wrapd\n"),
        format!(
            "service catr\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {catr}\n\twait = no\n\tuser = nobody\n\tbind = 127.0.0.1\n\tserver = /bin/cat\n}}\n"
        ),
    ]
    .concat();
    std::fs::write(&conf, text).expect("config");
    std::fs::set_permissions(&conf, PermissionsExt::from_mode(0o644)).expect("chmod");
    let prog_log = dir.path().join("prog.log");
    // As nobody with three processes: the loop, the resolver thread and its (hanging) lookup
    // thread; after those, spawner threads and forks fail, so the server waits for a retry.
    let child = Command::new("unshare")
        .args(["-m", "--", "sh", "-c"])
        .arg("mount --bind \"$1\" /etc/resolv.conf && shift && exec \"$@\"")
        .arg("sh")
        .arg(&resolv)
        .args(["prlimit", "--nproc=3:", "--", "setpriv", "--reuid=65534"])
        .args([
            "--regid=65534",
            "--clear-groups",
            XINETD,
            "-dontfork",
            "-filelog",
        ])
        .arg(&prog_log)
        .arg("-ident_port")
        .arg(ident_port.to_string())
        .arg("-hosts_allow")
        .arg(&allow)
        .arg("-hosts_deny")
        .arg(&deny)
        .arg("-f")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("skipped: unshare/prlimit/setpriv (util-linux) not available");
        return;
    };
    let d = Daemon {
        child,
        pidfile: dir.path().join("none.pid"),
        conf,
        prog_log,
        dir,
    };
    d.wait_log(10, "Started working");
    let log = d.prog_log();
    assert!(
        log.contains("Started working: 4 available services"),
        "{log}"
    );
    // The libwrap request first: it starts the resolver threads before forks fail.
    let _wrapped = connect_from("127.0.0.2".parse().expect("ip"), wrapped);
    let mut session = connect(admin);
    let mut prompt = [0u8; 2];
    session.read_exact(&mut prompt).expect("xadmin prompt");
    assert_eq!(&prompt, b"> ");
    let _userid = connect(userid);
    let (_asked, _) = identd.accept().expect("the daemon asks the identd");
    let _catr = connect(catr);
    d.wait_log(10, "catr: fork failed: ");
    d.signal(Signal::SIGABRT);
    d.wait_log(10, "Consistency check");
    let log = d.prog_log();
    assert!(log.contains("Consistency check passed"), "{log}");
    assert!(!log.contains("Consistency check detected"), "{log}");
    // Each request was still waiting when the check ran.
    assert!(!log.contains("FAIL:"), "{log}");
    assert!(!log.contains("START: echo"), "{log}");
}
