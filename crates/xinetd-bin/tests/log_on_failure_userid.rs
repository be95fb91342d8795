//! `log_on_failure = USERID` (issue 8; F-741): an ident lookup (against a fake identd on a
//! test port) for parent-side refusals only, its USERID line after the FAIL line, and the
//! program log message when the identd answers garbage.

mod util;

use std::net::Ipv4Addr;

use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SRC3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A fake identd: answers `<ports> : USERID : UNIX : <user>` (or `reply` verbatim when set)
/// and counts the queries.
fn fake_identd(
    reply: Option<&'static str>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, Write};
    let identd = std::net::TcpListener::bind("127.0.0.1:0").expect("identd");
    let port = identd.local_addr().expect("addr").port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for s in identd.incoming().take(20) {
            let Ok(mut s) = s else { continue };
            let mut line = String::new();
            let _ = std::io::BufReader::new(&s).read_line(&mut line);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let ports = line.trim_end().replace(',', ", ");
            let _ = match reply {
                Some(r) => s.write_all(r.as_bytes()),
                None => write!(s, "{ports} : USERID : UNIX : mallory\r\n"),
            };
        }
    });
    (port, count)
}

#[test]
fn userid_on_failure_asks_identd_for_parent_side_refusals_only() {
    let (ident, queries) = fake_identd(None);
    let (echo, guarded) = (free_port(), free_port());
    let conf = internal("echo", "echo", "stream", echo, "\tinstances = 1\n")
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID")
        + &internal(
            "daytime",
            "guarded",
            "stream",
            guarded,
            "\tonly_from = 127.0.0.3\n",
        )
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &ident.to_string()]);
    // The first echo client holds the only instance; the second is refused (a parent-side
    // check in xinetd): FAIL, then the USERID line from the lookup (the identd asked is on
    // the client's address: 127.0.0.1 here).
    let _holder = connect_from(SRC2, echo);
    d.wait_file(5, "svc.log", "START: echo");
    let mut refused = connect(echo);
    d.wait_file(5, "svc.log", "FAIL: echo service_limit from=127.0.0.1");
    d.wait_file(5, "svc.log", "USERID: echo UNIX : mallory");
    assert_eq!(read_all(&mut refused), b"");
    let log = d.read("svc.log");
    assert!(log.find("FAIL: echo").expect("FAIL") < log.find("USERID: echo").expect("USERID"));
    // An address refusal is xinetd's child-side check: no lookup.
    let before = queries.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(read_all(&mut connect(guarded)), b"");
    d.wait_file(5, "svc.log", "FAIL: guarded address from=127.0.0.1");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(queries.load(std::sync::atomic::Ordering::SeqCst), before);
    assert!(!d.read("svc.log").contains("USERID: guarded"));
}

#[test]
fn userid_on_failure_reports_a_bad_identd() {
    let (ident, _) = fake_identd(Some("garbage\r\n"));
    let echo = free_port();
    let conf = internal("echo", "echo", "stream", echo, "\tinstances = 1\n")
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &ident.to_string()]);
    let _holder = connect_from(SRC3, echo);
    d.wait_file(5, "svc.log", "START: echo");
    let _refused = connect(echo);
    d.wait_log(5, "Failed to contact identity server at 127.0.0.1: ");
    assert!(!d.read("svc.log").contains("USERID:"));
}

#[test]
fn userid_on_failure_asks_identd_after_a_cps_refusal() {
    // cps is a parent-side check in xinetd too: its refusal asks the identd. (The reason
    // word is `connections per second`; an earlier daemon compared it with `cps` and never
    // asked.)
    let (ident, _) = fake_identd(None);
    let echo = free_port();
    let conf = internal("echo", "echo", "stream", echo, "")
        .replace("cps = 0 0", "cps = 1 5")
        .replace("log_on_failure = HOST", "log_on_failure = HOST USERID");
    let d = Daemon::start_with(&conf, &["-ident_port", &ident.to_string()]);
    let _first = connect_from(SRC2, echo);
    // The identd asked is on the client's address: 127.0.0.1 here.
    let _second = connect(echo);
    d.wait_file(
        5,
        "svc.log",
        "FAIL: echo connections per second from=127.0.0.1",
    );
    d.wait_file(5, "svc.log", "USERID: echo UNIX : mallory");
}
