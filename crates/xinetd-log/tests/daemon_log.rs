//! `DaemonLog`: the program log's `-filelog` prefix `YY/M/D@HH:MM:SS xinetd[PID]: LEVEL: `,
//! the `-d` layout, CRITICAL's `PID {func}`, and a round trip of every program-log line of
//! the oracle outputs in ../shared/corpus (normalised as the oracle did: timestamp removed,
//! pid replaced by `<PID>`).

mod util;

use xinetd_log::{
    DaemonLog, DiagnosticKind, FailReason, FileLimits, FileLog, Level, LogOnFailure, LogOnSuccess,
    Peer, ServiceRecords, StderrStyle,
};

fn level_from_word(word: &str) -> Option<Level> {
    Some(match word {
        "WARNING" => Level::Warning,
        "ERROR" => Level::Err,
        "CRITICAL" => Level::Crit,
        "NOTICE" => Level::Notice,
        "DEBUG" => Level::Debug,
        "INFO" => Level::Info,
        _ => return None,
    })
}

#[test]
fn filelog_prefix_matches_real_xinetd() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("xinetd.log");
    let mut log = DaemonLog::file(&path)
        .expect("open")
        .with_clock(util::fixed_clock());
    assert!(log
        .log(
            Level::Notice,
            "main",
            "2.3.15.3 started with libwrap loadavg labeled-networking options compiled in."
        )
        .written());
    assert!(log
        .log(
            Level::Notice,
            "main",
            "Started working: 4 available services"
        )
        .written());
    assert!(log
        .log(Level::Crit, "init_services", "no services. Exiting...")
        .written());
    let pid = std::process::id();
    let got = std::fs::read_to_string(&path).expect("read");
    // Layout captured from `xinetd -dontfork -filelog`; CRITICAL per F-702.
    assert_eq!(
        got,
        format!(
            "26/11/26@23:09:18 xinetd[{pid}]: NOTICE: 2.3.15.3 started with libwrap loadavg labeled-networking options compiled in.\n\
             26/11/26@23:09:18 xinetd[{pid}]: NOTICE: Started working: 4 available services\n\
             26/11/26@23:09:18 xinetd[{pid}]: CRITICAL: {pid} {{init_services}} no services. Exiting...\n"
        )
    );
}

#[test]
fn debug_layout_and_unknown_levels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tty");
    let mut log = DaemonLog::debug_terminal(&path)
        .expect("open")
        .with_clock(util::fixed_clock());
    assert!(log
        .log(Level::Warning, "quit_program", "Exiting...")
        .written());
    // emerg/alert have no name in xinetd's table.
    assert!(log.log(Level::Alert, "f", "x").written());
    let pid = std::process::id();
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        format!(
            "26/11/26@23:09:18: WARNING: {pid} {{quit_program}} Exiting...\n\
             26/11/26@23:09:18: UNKNOWN: {pid} {{f}} x\n"
        )
    );
}

#[test]
fn service_log_diagnostics_are_printed_like_xinetd() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (svc_log, _) = FileLog::open(
        dir.path().join("lim.log"),
        "lim",
        Some(FileLimits::new(10, Some(20)).expect("limits")),
    )
    .expect("open");
    let mut svc_log = svc_log.with_clock(util::fixed_clock());
    let records = ServiceRecords::new(
        "lim",
        LogOnSuccess::default(),
        LogOnFailure::from_words(["HOST"]).expect("flags"),
    );
    let rec = records
        .fail(FailReason::ServiceLimit, Peer::NoAddress)
        .expect("FAIL");
    let report = svc_log.write(&rec);
    let kinds: Vec<_> = report.diagnostics.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DiagnosticKind::SoftLimitExceeded,
            DiagnosticKind::HardLimitExceeded
        ]
    );

    let path = dir.path().join("xinetd.log");
    let mut log = DaemonLog::file(&path)
        .expect("open")
        .with_clock(util::fixed_clock());
    for d in &report.diagnostics {
        assert!(log.report(d).written());
    }
    let pid = std::process::id();
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        format!(
            // The soft notice is xlog's own write: no level word (docs/compat.md).
            "26/11/26@23:09:18 xinetd[{pid}]: soft limit exceeded on 'lim'\n\
             26/11/26@23:09:18 xinetd[{pid}]: ERROR: Size of lim log exceeded hard limit\n"
        )
    );
}

#[test]
fn long_messages_are_cut_at_xinetds_buffer_size() {
    let mut log = DaemonLog::stderr(StderrStyle::Bare).with_clock(util::fixed_clock());
    let line = log.format_line(Level::Err, Some("f"), &"y".repeat(5000), 1);
    // `xinetd[1]: ` + 2047 bytes of `ERROR: yyy...`.
    assert_eq!(line.len(), "xinetd[1]: ".len() + 2047);
    assert!(line.starts_with("xinetd[1]: ERROR: yyy"));
}

/// Every program-log line of the production runs (`-filelog`) and the debug runs (`-d`)
/// of the corpus, re-created from its level, function and text.
#[test]
fn corpus_program_log_lines_round_trip() {
    let Some(corpus) = util::corpus_dir() else {
        return;
    };
    let mut file_style = DaemonLog::stderr(StderrStyle::FileLog).with_clock(util::fixed_clock());
    let mut debug_style = DaemonLog::stderr(StderrStyle::Debug).with_clock(util::fixed_clock());
    // A pid no message contains, so replacing it back is exact.
    let pid = 987_654_321;
    let mut checked = 0;
    for sub in ["oracle", "invalid"] {
        let Ok(entries) = std::fs::read_dir(corpus.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if !name.ends_with(".out") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read oracle output");
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("xinetd[<PID>]: ") {
                    // -filelog: `LEVEL: text` (CRITICAL adds `PID {func} `).
                    let (word, msg) = rest.split_once(": ").expect("level word");
                    let level = level_from_word(word).expect("known level word");
                    let (func, msg) = if level == Level::Crit {
                        let m = msg.strip_prefix("<PID> {").expect("CRITICAL pid");
                        let (f, m) = m.split_once("} ").expect("func");
                        (f, m)
                    } else {
                        ("unknown_function", msg)
                    };
                    let ours = file_style.format_line(level, Some(func), msg, pid);
                    let normalised =
                        util::strip_timestamp(&ours).replace(&format!("{pid}"), "<PID>");
                    assert_same(&normalised, line, &name);
                    checked += 1;
                } else if let Some((word, rest)) = line.split_once(": <PID> {") {
                    // -d: `LEVEL: PID {func} text`.
                    let Some(level) = level_from_word(word) else {
                        continue;
                    };
                    let (func, msg) = rest.split_once("} ").expect("func");
                    let ours = debug_style.format_line(level, Some(func), msg, pid);
                    let normalised =
                        util::strip_timestamp(&ours).replace(&format!("{pid}"), "<PID>");
                    assert_same(&normalised, line, &name);
                    checked += 1;
                }
            }
        }
    }
    println!("{checked} program-log lines round-tripped");
    assert!(checked > 1000, "only {checked} lines found");
}

/// Equal, except that a message cut at xinetd's 2047-byte buffer depends on how many
/// digits the pid had (the oracle's pid was shorter than ours): then ours, with its longer
/// pid, is a prefix of the oracle's.
fn assert_same(ours: &str, oracle: &str, file: &str) {
    if ours == oracle {
        return;
    }
    assert!(
        oracle.len() > 2040 && oracle.starts_with(ours),
        "{file}: ours {ours:?} vs oracle {oracle:?}"
    );
}
