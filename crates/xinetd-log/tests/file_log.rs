//! `FileLog`: xinetd's FILE layout, soft/hard limits at exact byte counts (F-711, F-712),
//! reopening (F-713), and write failures that are reported once and then resume.

mod util;

use std::io::Read;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;

use xinetd_log::{
    DiagnosticKind, FailReason, FileLimits, FileLog, IdentFailure, Level, LogOnFailure,
    LogOnSuccess, Outcome, Peer, ServiceRecords,
};

fn lim() -> ServiceRecords {
    ServiceRecords::new(
        "lim",
        LogOnSuccess::from_words(["PID", "HOST"]).expect("flags"),
        LogOnFailure::from_words(["HOST"]).expect("flags"),
    )
}

fn peer() -> Peer {
    Peer::Addr("::ffff:127.0.0.1".parse::<IpAddr>().expect("address"))
}

fn open(path: &std::path::Path, limits: Option<FileLimits>) -> FileLog {
    let (log, diags) = FileLog::open(path, "lim", limits).expect("open");
    assert!(diags.is_empty(), "{diags:?}");
    log.with_clock(util::fixed_clock())
}

/// `26/11/26@23:09:18: FAIL: lim service_limit from=::ffff:127.0.0.1\n` is 65 bytes.
const LINE_LEN: u64 = 65;

#[test]
fn file_is_created_0644_and_lines_have_xinetds_layout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("new.log");
    let mut log = open(&path, None);
    let rec = lim()
        .fail(FailReason::ServiceLimit, peer())
        .expect("FAIL enabled");
    assert!(log.write(&rec).written());
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    // 0644 minus whatever the umask removes.
    assert_eq!(mode & !0o644, 0, "mode {mode:o}");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        text,
        "26/11/26@23:09:18: FAIL: lim service_limit from=::ffff:127.0.0.1\n"
    );
    assert_eq!(text.len() as u64, LINE_LEN);
    // Append, never truncate: a second handle adds after the first line.
    drop(log);
    let mut again = open(&path, None);
    assert!(again.write(&rec).written());
    assert_eq!(
        std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count(),
        2
    );
}

/// Reproduces the real run (soft 100, hard 150): the third 65-byte line takes the size to
/// 195 > 150, is written whole, and closes the log; xinetd then logged
/// `Size of lim log exceeded hard limit`.
#[test]
fn hard_limit_closes_after_the_line_that_crosses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lim.log");
    let limits = FileLimits::new(100, Some(150)).expect("limits");
    let mut log = open(&path, Some(limits));
    let rec = lim()
        .fail(FailReason::ServiceLimit, peer())
        .expect("FAIL enabled");

    // Line 1: 65 bytes, under the soft limit.
    let r = log.write(&rec);
    assert_eq!((r.outcome, r.diagnostics.len()), (Outcome::Written, 0));
    assert_eq!(log.size(), LINE_LEN);

    // Line 2: 130 > 100 = soft: written, soft-limit notice once.
    let r = log.write(&rec);
    assert_eq!(r.outcome, Outcome::Written);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].kind, DiagnosticKind::SoftLimitExceeded);
    assert_eq!(r.diagnostics[0].level, Level::Alert);
    assert_eq!(r.diagnostics[0].text, "soft limit exceeded on 'lim'");

    // Line 3: 195 > 150 = hard: still written whole, then closed.
    let r = log.write(&rec);
    assert_eq!(r.outcome, Outcome::Written);
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    assert_eq!(r.diagnostics[0].kind, DiagnosticKind::HardLimitExceeded);
    assert_eq!(r.diagnostics[0].level, Level::Err);
    assert_eq!(r.diagnostics[0].text, "Size of lim log exceeded hard limit");
    assert!(log.is_closed_by_size());

    // Later lines are dropped (counted, not re-reported).
    for _ in 0..3 {
        let r = log.write(&rec);
        assert_eq!(r.outcome, Outcome::DroppedHardLimit);
        assert!(r.diagnostics.is_empty());
    }
    assert_eq!(log.dropped_by_size(), 3);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.len() as u64, 3 * LINE_LEN);
    assert_eq!(text.lines().count(), 3);
}

#[test]
fn limits_compare_strictly_greater() {
    // size == soft does not warn, size == hard does not close (xinetd uses `>`).
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("exact.log");
    let rec = lim()
        .fail(FailReason::Address, peer())
        .expect("FAIL enabled");
    // Timestamp (17) + ": " + record + "\n".
    let rec_len = 17 + 2 + rec.as_str().len() as u64 + 1;
    let mut log = open(
        &path,
        Some(FileLimits::new(rec_len, Some(2 * rec_len)).expect("limits")),
    );
    assert!(log.write(&rec).diagnostics.is_empty(), "size == soft");
    let r = log.write(&rec);
    assert_eq!(log.size(), 2 * rec_len);
    assert_eq!(
        r.diagnostics.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DiagnosticKind::SoftLimitExceeded],
        "size == hard keeps the log open"
    );
    assert!(!log.is_closed_by_size());
    let r = log.write(&rec);
    assert_eq!(
        r.diagnostics.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DiagnosticKind::HardLimitExceeded]
    );
}

#[test]
fn one_line_can_cross_both_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("both.log");
    let mut log = open(&path, Some(FileLimits::new(10, Some(20)).expect("limits")));
    let rec = lim().fail(FailReason::Load, peer()).expect("FAIL");
    let r = log.write(&rec);
    assert!(r.written());
    assert_eq!(
        r.diagnostics.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [
            DiagnosticKind::SoftLimitExceeded,
            DiagnosticKind::HardLimitExceeded
        ]
    );
}

#[test]
fn userid_noid_traffic_do_not_count_toward_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nosize.log");
    let mut log = open(&path, Some(FileLimits::new(10, Some(20)).expect("limits")));
    let s = lim();
    for _ in 0..5 {
        assert!(log.write(&s.userid("UNIX : alice")).diagnostics.is_empty());
        assert!(log
            .write(&s.noid(peer(), &IdentFailure::Timeout))
            .diagnostics
            .is_empty());
    }
    assert_eq!(log.size(), 0);
    assert!(!log.is_closed_by_size());
    assert_eq!(
        std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count(),
        10
    );
}

#[test]
fn existing_size_counts_and_reopen_starts_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.log");
    std::fs::write(&path, vec![b'x'; 1000]).expect("prefill");
    // 1000 bytes already: past soft (500) and hard (900) at open.
    let (log, diags) = FileLog::open(
        &path,
        "old",
        Some(FileLimits::new(500, Some(900)).expect("limits")),
    )
    .expect("open");
    let mut log = log.with_clock(util::fixed_clock());
    assert_eq!(
        diags.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
        [
            "soft limit exceeded on 'old'",
            "Size of old log exceeded hard limit"
        ]
    );
    let rec = lim().fail(FailReason::Address, peer()).expect("FAIL");
    assert_eq!(log.write(&rec).outcome, Outcome::DroppedHardLimit);

    // Rotation: move the file away, reopen (SIGHUP) -> new empty file, limits start over.
    std::fs::rename(&path, dir.path().join("old.log.1")).expect("rotate");
    assert!(log.reopen().expect("reopen").is_empty());
    assert_eq!(log.size(), 0);
    assert!(log.write(&rec).written());
    assert_eq!(
        std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count(),
        1
    );
}

/// A full disk: every write fails with ENOSPC. Reported once, counted, never blocking.
#[test]
fn full_disk_is_reported_once() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        println!("skipping: /dev/full not available");
        return;
    }
    let (log, _) = FileLog::open(full, "ftp", None).expect("open /dev/full");
    let mut log = log.with_clock(util::fixed_clock());
    let rec = lim().fail(FailReason::Address, peer()).expect("FAIL");
    let first = log.write(&rec);
    assert_eq!(first.outcome, Outcome::DroppedError);
    assert_eq!(
        first
            .diagnostics
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>(),
        ["Error in ftp log: No space left on device (errno = 28)"]
    );
    for _ in 0..10 {
        let r = log.write(&rec);
        assert_eq!(r.outcome, Outcome::DroppedError);
        assert!(r.diagnostics.is_empty(), "reported only once");
    }
    assert_eq!(log.lost_to_errors(), 11);
    assert!(log.is_failing());
}

/// A FIFO whose reader stops reading: writes fail with EAGAIN instead of blocking, the
/// failure is reported once, and once the reader drains the pipe logging resumes with a
/// count of the lost lines.
#[test]
fn stalled_fifo_never_blocks_and_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    // A reader that holds the pipe open without reading.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .expect("open reader");
    let (log, _) = FileLog::open(&fifo, "pipe", None).expect("open writer");
    let mut log = log.with_clock(util::fixed_clock());
    let rec = lim().fail(FailReason::Address, peer()).expect("FAIL");

    // Fill the pipe (64 KiB by default); bounded loop.
    let mut failures = Vec::new();
    let mut written = 0u64;
    for _ in 0..100_000 {
        let r = log.write(&rec);
        if r.written() {
            written += 1;
            continue;
        }
        failures.extend(r.diagnostics);
        if log.lost_to_errors() >= 3 {
            break;
        }
    }
    assert!(written > 0);
    assert_eq!(log.lost_to_errors(), 3);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].kind, DiagnosticKind::WriteFailed);
    assert!(
        failures[0]
            .text
            .starts_with("Error in pipe log: Resource temporarily unavailable"),
        "{}",
        failures[0].text
    );

    // Drain everything, then the next write goes through and reports the loss.
    let mut sink = vec![0u8; 1 << 20];
    let mut drained = 0usize;
    loop {
        match reader.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read fifo: {e}"),
        }
    }
    assert!(drained > 0);
    let r = log.write(&rec);
    assert!(r.written());
    assert_eq!(
        r.diagnostics
            .iter()
            .map(|d| (d.kind, d.text.as_str()))
            .collect::<Vec<_>>(),
        [(
            DiagnosticKind::Resumed,
            "pipe log writable again; 3 lines were lost"
        )]
    );
    // Lines in the pipe are whole: every one ends with a newline.
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(text.is_empty() || text.ends_with('\n'));
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}
