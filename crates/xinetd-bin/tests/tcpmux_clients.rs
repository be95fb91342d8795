//! TCPMUX client services (issue 8; F-544, CVE-2013-4342): the server of a TCPMUX or
//! TCPMUXPLUS service gets the full child set-up of its own service — user, group,
//! environment — and no stray NUL after `+Go`.

mod util;

use util::*;

#[test]
fn tcpmux_clients_run_with_their_own_user_and_no_stray_nul() {
    if !is_root() {
        eprintln!("skipped: switching to user = nobody needs root");
        return;
    }
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
