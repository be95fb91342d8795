//! `SyslogLog` against a real Unix datagram socket the test binds (F-701, F-710): well-formed
//! RFC 3164 messages with the right PRI, the writer's pid, reconnection after syslogd went
//! away, and a stalled syslogd that never blocks the writer.

mod util;

use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use xinetd_log::{
    DaemonLog, DiagnosticKind, Facility, Level, LogOnFailure, LogOnSuccess, Outcome, Peer, Server,
    ServiceRecords, SyslogLog,
};

fn bind(path: &Path) -> UnixDatagram {
    let s = UnixDatagram::bind(path).expect("bind syslog socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    s
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut buf).expect("a datagram arrives");
    String::from_utf8(buf[..n].to_vec()).expect("utf-8")
}

/// Checks `<PRI>Mmm dd HH:MM:SS xinetd[PID]: text` and returns (pri, stamp, pid, text).
fn parse_rfc3164(msg: &str) -> (u8, String, u32, String) {
    let rest = msg.strip_prefix('<').expect("starts with <PRI>");
    let (pri, rest) = rest.split_once('>').expect("PRI closed");
    let pri: u8 = pri.parse().expect("numeric PRI");
    let stamp = &rest[..15];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    assert!(months.contains(&&stamp[..3]), "month in {msg:?}");
    let day = &stamp[4..6];
    assert!(
        day.trim_start().parse::<u8>().is_ok() && (day.starts_with(' ') || !day.starts_with('0')),
        "day space-padded in {msg:?}"
    );
    let b = stamp.as_bytes();
    assert!(
        b[3] == b' ' && b[6] == b' ' && b[9] == b':' && b[12] == b':',
        "{msg:?}"
    );
    let rest = rest[15..].strip_prefix(" xinetd[").expect("ident xinetd");
    let (pid, text) = rest.split_once("]: ").expect("pid and text");
    assert!(!text.ends_with('\n'), "no trailing newline, like syslog(3)");
    (
        pri,
        stamp.to_owned(),
        pid.parse().expect("pid"),
        text.to_owned(),
    )
}

#[test]
fn service_records_arrive_as_rfc3164_with_the_right_pri() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let server = bind(&path);
    let records = ServiceRecords::new(
        "echo",
        LogOnSuccess::from_words(["PID", "HOST", "EXIT", "DURATION"]).expect("flags"),
        LogOnFailure::default(),
    );
    let peer = Peer::Addr("127.0.0.1".parse::<IpAddr>().expect("address"));
    let start = records.start(Server::Forked(11165), peer).expect("START");

    // log_type = SYSLOG authpriv warning -> <84> (observed on the real binary).
    let mut log = SyslogLog::with_socket_path(Facility::Authpriv, Level::Warning, "echo", &path);
    assert!(log.write(&start).written());
    let (pri, _, pid, text) = parse_rfc3164(&recv(&server));
    assert_eq!(pri, 84);
    assert_eq!(pid, std::process::id());
    assert_eq!(text, "START: echo pid=11165 from=127.0.0.1");

    // log_type = SYSLOG local3 (default level info) -> <158>.
    let local3 = Facility::local(3).expect("local3");
    let mut log = SyslogLog::with_socket_path(local3, Level::Info, "echo", &path);
    assert!(log.write(&start).written());
    assert_eq!(parse_rfc3164(&recv(&server)).0, 158);

    // The exact bytes with a pinned clock.
    let mut log = SyslogLog::with_socket_path(local3, Level::Info, "echo", &path)
        .with_clock(util::fixed_clock());
    assert!(log.write(&start).written());
    assert_eq!(
        recv(&server),
        format!(
            "<158>Nov 26 23:09:18 xinetd[{}]: START: echo pid=11165 from=127.0.0.1",
            std::process::id()
        )
    );
}

#[test]
fn daemon_log_to_syslog_uses_facility_and_message_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let server = bind(&path);
    let mut log = DaemonLog::syslog_at(Facility::local(7).expect("local7"), &path);
    // F-701: `-syslog local7`, NOTICE -> <189>, message text only.
    assert!(log
        .log(
            Level::Notice,
            "main",
            "Started working: 1 available service"
        )
        .written());
    let (pri, _, pid, text) = parse_rfc3164(&recv(&server));
    assert_eq!((pri, pid), (189, std::process::id()));
    assert_eq!(text, "Started working: 1 available service");
    // WARNING -> <188>.
    assert!(log
        .log(Level::Warning, "quit_program", "Exiting...")
        .written());
    let (pri, _, _, text) = parse_rfc3164(&recv(&server));
    assert_eq!((pri, text.as_str()), (188, "Exiting..."));
    // CRITICAL carries `PID {func} ` in syslog too (F-702).
    assert!(log
        .log(Level::Crit, "init_services", "no services. Exiting...")
        .written());
    let (pri, _, _, text) = parse_rfc3164(&recv(&server));
    assert_eq!(pri, 186);
    assert_eq!(
        text,
        format!(
            "{} {{init_services}} no services. Exiting...",
            std::process::id()
        )
    );
    // Default facility is daemon: INFO -> <30>.
    let mut log = DaemonLog::syslog_at(Facility::Daemon, &path);
    assert!(log.log(Level::Info, "main", "x").written());
    assert_eq!(parse_rfc3164(&recv(&server)).0, 30);
}

#[test]
fn vanished_syslog_is_reported_once_and_reconnects() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let server = bind(&path);
    let mut log = SyslogLog::with_socket_path(Facility::Daemon, Level::Info, "svc", &path);
    assert!(log.write_text("first").written());
    assert_eq!(parse_rfc3164(&recv(&server)).3, "first");

    // syslogd goes away: its socket is closed and removed.
    drop(server);
    std::fs::remove_file(&path).expect("remove socket");
    let r = log.write_text("lost 1");
    assert_eq!(r.outcome, Outcome::DroppedError);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].kind, DiagnosticKind::WriteFailed);
    assert!(
        r.diagnostics[0].text.starts_with("Error in svc log: "),
        "{}",
        r.diagnostics[0].text
    );
    let r = log.write_text("lost 2");
    assert_eq!(r.outcome, Outcome::DroppedError);
    assert!(r.diagnostics.is_empty(), "reported once");

    // syslogd is back at the same path: the next line goes through, the loss is reported.
    let server = bind(&path);
    let r = log.write_text("second");
    assert!(r.written());
    assert_eq!(
        r.diagnostics
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>(),
        ["svc log writable again; 2 lines were lost"]
    );
    assert_eq!(parse_rfc3164(&recv(&server)).3, "second");
}

#[test]
fn missing_socket_at_start_is_not_fatal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nothing-here");
    let mut log = SyslogLog::with_socket_path(Facility::Daemon, Level::Info, "svc", &path);
    assert!(log.connect().is_err());
    let r = log.write_text("x");
    assert_eq!(r.outcome, Outcome::DroppedError);
    assert_eq!(r.diagnostics.len(), 1);
    let server = bind(&path);
    assert!(log.write_text("y").written());
    assert_eq!(parse_rfc3164(&recv(&server)).3, "y");
}

/// A syslogd that stops reading: its queue fills, sends fail instead of blocking, the
/// failure is reported once; after it drains, logging resumes.
#[test]
fn stalled_syslog_never_blocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let server = bind(&path);
    let mut log = SyslogLog::with_socket_path(Facility::Daemon, Level::Info, "svc", &path);
    let mut failures = 0;
    let mut diagnostics = Vec::new();
    let mut sent = 0;
    // Bounded: the default queue holds far fewer datagrams than this.
    for i in 0..20_000 {
        let r = log.write_text(&format!("line {i}"));
        if r.written() {
            sent += 1;
        } else {
            failures += 1;
        }
        diagnostics.extend(r.diagnostics);
        if failures >= 5 {
            break;
        }
    }
    assert!(sent > 0);
    assert_eq!(failures, 5, "the queue filled up");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].kind, DiagnosticKind::WriteFailed);

    // Drain.
    server.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while server.recv(&mut buf).is_ok() {
        drained += 1;
    }
    assert_eq!(drained, sent);
    let r = log.write_text("after");
    assert!(r.written());
    assert_eq!(
        r.diagnostics
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>(),
        ["svc log writable again; 5 lines were lost"]
    );
}

/// The daemon's own log: a failure is reported once to the caller; when syslog is back the
/// log itself first gets a NOTICE counting the lost lines, then the line.
#[test]
fn daemon_log_reports_its_own_gap_in_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let mut log = DaemonLog::syslog_at(Facility::Daemon, &path);
    let r = log.log(Level::Notice, "main", "lost one");
    assert_eq!(r.outcome, Outcome::DroppedError);
    assert_eq!(
        r.diagnostics.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DiagnosticKind::WriteFailed]
    );
    assert!(log
        .log(Level::Notice, "main", "lost two")
        .diagnostics
        .is_empty());
    let server = bind(&path);
    let r = log.log(Level::Warning, "quit_program", "Exiting...");
    assert!(r.written());
    assert_eq!(
        r.diagnostics.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DiagnosticKind::Resumed]
    );
    let (pri, _, _, text) = parse_rfc3164(&recv(&server));
    assert_eq!(
        (pri, text.as_str()),
        (29, "xinetd log writable again; 2 lines were lost")
    );
    let (pri, _, _, text) = parse_rfc3164(&recv(&server));
    assert_eq!((pri, text.as_str()), (28, "Exiting..."));
    assert_eq!(log.lost_to_errors(), 2);
}

/// Like glibc, a stream-type log socket works too: each message followed by a NUL byte.
#[test]
fn stream_syslog_socket_gets_nul_terminated_messages() {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let listener = UnixListener::bind(&path).expect("bind stream socket");
    let mut log = SyslogLog::with_socket_path(Facility::Auth, Level::Notice, "svc", &path);
    assert!(log.write_text("one").written());
    assert!(log.write_text("two").written());
    let (mut conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.iter().filter(|&&b| b == 0).count() < 2 {
        let n = conn.read(&mut buf).expect("read");
        assert!(n > 0, "stream closed early");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).expect("utf-8");
    let msgs: Vec<&str> = text.split_terminator('\0').collect();
    assert_eq!(msgs.len(), 2);
    // auth (32) + notice (5).
    let (pri, _, _, first) = parse_rfc3164(msgs[0]);
    assert_eq!((pri, first.as_str()), (37, "one"));
    assert_eq!(parse_rfc3164(msgs[1]).3, "two");
}

#[test]
fn ident_follows_the_program_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log");
    let server = bind(&path);
    let mut log = SyslogLog::with_socket_path(Facility::Daemon, Level::Info, "svc", &path)
        .with_ident("in.xinetd");
    assert!(log.write_text("x").written());
    assert!(recv(&server).contains(" in.xinetd["));
    let mut daemon = DaemonLog::syslog_at(Facility::Daemon, &path).with_ident("in.xinetd");
    assert!(daemon.log(Level::Info, "main", "y").written());
    assert!(recv(&server).contains(" in.xinetd["));
}
