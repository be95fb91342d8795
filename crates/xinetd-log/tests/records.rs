//! Golden tests of every service record format (F-720..F-726) and its flag gating.
//!
//! The expected lines come from the spec and from a capture of the real xinetd 2.3.15.3
//! (`xinetd -dontfork -filelog ... -f conf` with FILE-logged services on loopback, see
//! docs/compat.md); pids and times are the ones that capture had.

mod util;

use std::net::IpAddr;

use xinetd_log::{
    ExitStatus, FailReason, FileLog, IdentFailure, LogOnFailure, LogOnSuccess, Peer, ReceiveError,
    RecordKind, Server, ServiceLog, ServiceRecords,
};

fn addr(s: &str) -> Peer {
    Peer::Addr(s.parse::<IpAddr>().expect("address"))
}

fn svc(id: &str, success: &[&str], failure: &[&str]) -> ServiceRecords {
    ServiceRecords::new(
        id,
        LogOnSuccess::from_words(success.iter().copied()).expect("success flags"),
        LogOnFailure::from_words(failure.iter().copied()).expect("failure flags"),
    )
}

fn text(r: Option<xinetd_log::Record>) -> Option<String> {
    r.map(|r| r.as_str().to_owned())
}

/// The service log of the capture, written through a FILE log with the capture's clock,
/// compared line by line.
#[test]
fn reproduces_a_real_xinetd_file_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("svc.log");
    let (file, _) = FileLog::open(&path, "svc", None).expect("open");
    let mut log = ServiceLog::from(file.with_clock(util::fixed_clock()));

    // echo-a: bind = 127.0.0.1 (IPv4 socket), PID HOST EXIT DURATION; forking internal.
    let echo = svc(
        "echo-a",
        &["PID", "HOST", "EXIT", "DURATION"],
        &["HOST", "ATTEMPT"],
    );
    // ext: dual-stack, PID HOST EXIT DURATION USERID, flags = IDONLY, no identd.
    let ext = svc(
        "ext",
        &["PID", "HOST", "EXIT", "DURATION", "USERID"],
        &["HOST"],
    );
    // ext2: only_from = 127.0.0.2, so the child refuses: START, FAIL, EXIT status=0 (F-722).
    let ext2 = svc("ext2", &["PID", "HOST", "EXIT", "DURATION"], &["HOST"]);
    let v4 = addr("127.0.0.1");
    let mapped = addr("::ffff:127.0.0.1");

    let noid = ext.ident_before_start(mapped, &Err(IdentFailure::NoServer), true);
    assert!(!noid.admit, "IDONLY refuses without an identity");
    let records = [
        echo.start(Server::Forked(11008), v4),
        ext.start(Server::Forked(11009), mapped),
        echo.exit(Server::Forked(11008), ExitStatus::Exited(0), 0),
        noid.record,
        ext2.start(Server::Forked(11010), mapped),
        ext.exit(Server::Forked(11009), ExitStatus::Exited(0), 0),
        ext2.fail(FailReason::Address, mapped),
        ext2.exit(Server::Forked(11010), ExitStatus::Exited(0), 0),
        echo.start(Server::Forked(11011), v4),
        echo.exit(Server::Forked(11011), ExitStatus::Exited(0), 1),
    ];
    for r in &records {
        let r = r.as_ref().expect("every record of the capture is enabled");
        assert!(log.write(r).written());
    }
    let got = std::fs::read_to_string(&path).expect("read log");
    // The capture, with every timestamp pinned to the test clock.
    let expected = "\
26/11/26@23:09:18: START: echo-a pid=11008 from=127.0.0.1
26/11/26@23:09:18: START: ext pid=11009 from=::ffff:127.0.0.1
26/11/26@23:09:18: EXIT: echo-a status=0 pid=11008 duration=0(sec)
26/11/26@23:09:18: NOID: ext ::ffff:127.0.0.1 no server
26/11/26@23:09:18: START: ext2 pid=11010 from=::ffff:127.0.0.1
26/11/26@23:09:18: EXIT: ext status=0 pid=11009 duration=0(sec)
26/11/26@23:09:18: FAIL: ext2 address from=::ffff:127.0.0.1
26/11/26@23:09:18: EXIT: ext2 status=0 pid=11010 duration=0(sec)
26/11/26@23:09:18: START: echo-a pid=11011 from=127.0.0.1
26/11/26@23:09:18: EXIT: echo-a status=0 pid=11011 duration=1(sec)
";
    assert_eq!(got, expected);
}

/// A successful and two failed USERID exchanges with the real xinetd (an identd on
/// 127.0.0.1:113 answering `UNIX : alice`, then `ERROR : NO-USER` and garbage to an
/// `IDONLY` service).
#[test]
fn reproduces_real_userid_and_noid_lines() {
    use xinetd_log::{IdentFailure, IdentQuery, IdentTimeout};
    let ext = svc(
        "ext",
        &["PID", "HOST", "EXIT", "DURATION", "USERID"],
        &["HOST"],
    );
    let ext4 = svc("ext4", &["PID", "HOST", "EXIT", "USERID"], &["HOST"]);
    let mapped = addr("::ffff:127.0.0.1");
    let now = std::time::Instant::now();

    let mut q = IdentQuery::new(38080, 17022, IdentTimeout::for_success(false), now);
    assert_eq!(q.request(), b"38080,17022\r\n");
    let reply = q
        .receive(b"38080,17022 : USERID : UNIX : alice\r\n")
        .expect("complete");
    let o = ext.ident_before_start(mapped, &reply, false);
    assert!(o.admit);
    assert_eq!(
        text(ext.start(Server::Forked(2856), mapped)).as_deref(),
        Some("START: ext pid=2856 from=::ffff:127.0.0.1")
    );
    assert_eq!(text(o.record).as_deref(), Some("USERID: ext UNIX : alice"));
    assert_eq!(
        text(ext.exit(Server::Forked(2856), ExitStatus::Exited(3), 0)).as_deref(),
        Some("EXIT: ext status=3 pid=2856 duration=0(sec)")
    );

    for (port, answer, diag) in [
        (
            59352,
            &b"59352,17023 : ERROR : NO-USER\r\n"[..],
            "Bad line received from identity server at 127.0.0.1: 59352,17023 : ERROR : NO-USER",
        ),
        (
            59366,
            b"USERID garbage\r\n",
            "Bad line received from identity server at 127.0.0.1: USERID garbage",
        ),
    ] {
        let mut q = IdentQuery::new(port, 17023, IdentTimeout::for_success(true), now);
        let result = q.receive(answer).expect("complete");
        assert!(matches!(result, Err(IdentFailure::BadResponse { .. })));
        let o = ext4.ident_before_start(mapped, &result, true);
        assert!(!o.admit);
        assert_eq!(
            text(o.record).as_deref(),
            Some("NOID: ext4 ::ffff:127.0.0.1 bad response")
        );
        assert_eq!(
            o.diagnostics
                .iter()
                .map(|d| d.text.as_str())
                .collect::<Vec<_>>(),
            [diag]
        );
        // The refused child exits 0; EXIT without DURATION.
        assert_eq!(
            text(ext4.exit(Server::Forked(2866), ExitStatus::Exited(0), 0)).as_deref(),
            Some("EXIT: ext4 status=0 pid=2866")
        );
    }
}

#[test]
fn start_gating_and_field_order() {
    let peer = addr("::ffff:127.0.0.1");
    // F-117 test idea: `log_on_success = DURATION` gives a bare `START: id`.
    assert_eq!(
        text(svc("echo", &["DURATION"], &[]).start(Server::Forked(9), peer)).as_deref(),
        Some("START: echo")
    );
    assert_eq!(
        text(svc("echo", &["HOST"], &[]).start(Server::Forked(9), peer)).as_deref(),
        Some("START: echo from=::ffff:127.0.0.1")
    );
    assert_eq!(
        text(svc("echo", &["PID"], &[]).start(Server::Forked(9), peer)).as_deref(),
        Some("START: echo pid=9")
    );
    // Flag order in the attribute does not matter: pid= always before from=.
    assert_eq!(
        text(svc("echo", &["HOST", "PID"], &[]).start(Server::Forked(9), peer)).as_deref(),
        Some("START: echo pid=9 from=::ffff:127.0.0.1")
    );
    // TRAFFIC alone still enables START (any flag does).
    assert_eq!(
        text(svc("r", &["TRAFFIC"], &[]).start(Server::Forked(9), peer)).as_deref(),
        Some("START: r")
    );
    // No flags: no START.
    assert_eq!(
        svc("echo", &[], &["HOST"]).start(Server::Forked(9), peer),
        None
    );
    // Inline internal services log pid=0 (xinetd.conf(5): "the logged process id will be 0").
    assert_eq!(
        text(svc("daytime", &["PID", "HOST"], &[]).start(Server::Inline, addr("127.0.0.1")))
            .as_deref(),
        Some("START: daytime pid=0 from=127.0.0.1")
    );
    // tcp wait = yes services have no address (F-963).
    assert_eq!(
        text(svc("w", &["HOST"], &[]).start(Server::Forked(3), Peer::NoAddress)).as_deref(),
        Some("START: w from=<no address>")
    );
    assert_eq!(
        svc("w", &["PID"], &[])
            .start(Server::Forked(3), Peer::NoAddress)
            .map(|r| r.kind()),
        Some(RecordKind::Start)
    );
}

#[test]
fn exit_gating_and_field_order() {
    let all = svc("ftp", &["PID", "HOST", "EXIT", "DURATION"], &[]);
    assert_eq!(
        text(all.exit(Server::Forked(77), ExitStatus::Signaled(9), 12)).as_deref(),
        Some("EXIT: ftp signal=9 pid=77 duration=12(sec)")
    );
    assert_eq!(
        text(all.exit(Server::Forked(77), ExitStatus::Exited(3), 0)).as_deref(),
        Some("EXIT: ftp status=3 pid=77 duration=0(sec)")
    );
    // DURATION alone: no status, no pid.
    assert_eq!(
        text(svc("ftp", &["DURATION"], &[]).exit(Server::Forked(77), ExitStatus::Exited(3), 5))
            .as_deref(),
        Some("EXIT: ftp duration=5(sec)")
    );
    // EXIT alone.
    assert_eq!(
        text(svc("ftp", &["EXIT"], &[]).exit(Server::Forked(77), ExitStatus::Exited(1), 5))
            .as_deref(),
        Some("EXIT: ftp status=1")
    );
    // PID without EXIT/DURATION: no EXIT record at all.
    assert_eq!(
        svc("ftp", &["PID", "HOST"], &[]).exit(Server::Forked(77), ExitStatus::Exited(0), 1),
        None
    );
    // Inline internal services never log EXIT.
    assert_eq!(all.exit(Server::Inline, ExitStatus::Exited(0), 0), None);
}

#[test]
fn fail_gating_and_every_reason() {
    let peer = addr("::ffff:127.0.0.1");
    // F-118 test idea: ATTEMPT alone gives `FAIL: id reason` without from=.
    assert_eq!(
        text(svc("echo", &[], &["ATTEMPT"]).fail(FailReason::Address, peer)).as_deref(),
        Some("FAIL: echo address")
    );
    // USERID alone also enables FAIL lines.
    assert_eq!(
        text(svc("echo", &[], &["USERID"]).fail(FailReason::Time, peer)).as_deref(),
        Some("FAIL: echo time")
    );
    assert_eq!(
        svc("echo", &["HOST"], &[]).fail(FailReason::Time, peer),
        None
    );
    let s = svc("lim", &[], &["HOST"]);
    let cases = [
        (FailReason::Address, "address"),
        (FailReason::Time, "time"),
        (FailReason::Fork, "fork"),
        (FailReason::ServiceLimit, "service_limit"),
        (FailReason::PerSourceLimit, "per_source_limit"),
        (FailReason::ProcessLimit, "process_limit"),
        (FailReason::Libwrap, "libwrap"),
        (FailReason::Load, "load"),
        (FailReason::Cps, "connections per second"),
    ];
    for (reason, word) in cases {
        assert_eq!(
            text(s.fail(reason, peer)),
            Some(format!("FAIL: lim {word} from=::ffff:127.0.0.1"))
        );
    }
    // The observed hard-limit test line.
    assert_eq!(
        text(s.fail(FailReason::ServiceLimit, peer)).as_deref(),
        Some("FAIL: lim service_limit from=::ffff:127.0.0.1")
    );
}

#[test]
fn userid_noid_traffic() {
    let s = svc("telnet", &["USERID", "TRAFFIC"], &[]);
    assert_eq!(
        s.userid("UNIX : alice").as_str(),
        "USERID: telnet UNIX : alice"
    );
    assert_eq!(s.userid("x").kind(), RecordKind::Userid);
    let peer = addr("::ffff:127.0.0.1");
    let reasons = [
        (IdentFailure::NoServer, "no server"),
        (IdentFailure::Timeout, "timeout"),
        (
            IdentFailure::SystemError("socket bind: x".into()),
            "system error",
        ),
        (
            IdentFailure::Receive(ReceiveError::MissingCrlf),
            "error while receiving response",
        ),
        (
            IdentFailure::BadResponse { line: "x".into() },
            "bad response",
        ),
    ];
    for (failure, word) in reasons {
        assert_eq!(
            s.noid(peer, &failure).as_str(),
            format!("NOID: telnet ::ffff:127.0.0.1 {word}")
        );
    }
    assert_eq!(
        text(s.traffic(1234, 56)).as_deref(),
        Some("TRAFFIC: telnet in=1234(bytes) out=56(bytes)")
    );
    assert_eq!(svc("r", &["PID"], &[]).traffic(1, 2), None);
    // Which records count toward FILE limits (svc_logprint uses XLOG_NO_SIZECHECK).
    assert!(!s.userid("x").kind().counts_toward_limits());
    assert!(!s
        .noid(peer, &IdentFailure::Timeout)
        .kind()
        .counts_toward_limits());
    assert!(svc("e", &["PID"], &[])
        .start(Server::Inline, peer)
        .expect("start")
        .kind()
        .counts_toward_limits());
}

#[test]
fn ident_outcomes_follow_idonly() {
    let s = svc("telnet", &["USERID"], &["USERID"]);
    let peer = addr("127.0.0.1");
    // Not IDONLY: failures start the server anyway and log no record.
    let o = s.ident_before_start(peer, &Err(IdentFailure::Timeout), false);
    assert!(o.admit);
    assert_eq!(o.record, None);
    // IDONLY: NOID and refuse.
    let o = s.ident_before_start(peer, &Err(IdentFailure::Timeout), true);
    assert!(!o.admit);
    assert_eq!(
        o.record.as_ref().map(|r| r.as_str()),
        Some("NOID: telnet 127.0.0.1 timeout")
    );
    // A malformed reply is also reported in the program log.
    let bad = IdentFailure::BadResponse {
        line: "1,2 : ERROR : NO-USER".into(),
    };
    let o = s.ident_before_start(peer, &Err(bad.clone()), true);
    assert_eq!(
        o.diagnostics
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>(),
        ["Bad line received from identity server at 127.0.0.1: 1,2 : ERROR : NO-USER"]
    );
    // After a refusal: no server is silent, others are reported.
    let (rec, diags) = s.ident_after_refusal(peer, &Err(IdentFailure::NoServer));
    assert!(rec.is_none() && diags.is_empty());
    let (rec, diags) = s.ident_after_refusal(peer, &Err(IdentFailure::Timeout));
    assert!(rec.is_none());
    assert_eq!(
        diags.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
        ["Failed to contact identity server at 127.0.0.1: timeout"]
    );
}
