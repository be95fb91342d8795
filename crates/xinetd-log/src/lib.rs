//! Logging in xinetd's formats: service records, syslog and FILE destinations with soft/hard
//! limits, the daemon's own log, and an RFC 1413 ident client.
//!
//! Administrators grep xinetd logs with scripts written years ago, so every line here is
//! byte-for-byte what xinetd 2.3.15 writes (checked against the real Debian binary and the
//! spec's F-700..F-741).
//!
//! # Pieces
//!
//! * [`ServiceRecords`] formats `START`, `EXIT`, `FAIL`, `USERID`, `NOID` and `TRAFFIC`
//!   records with xinetd's field order and gating by `log_on_success` ([`LogOnSuccess`]) and
//!   `log_on_failure` ([`LogOnFailure`]). Internal services handled in the event loop are
//!   [`Server::Inline`]: `pid=0` and never an EXIT; connections the daemon serves itself and
//!   holds open are [`Server::Held`]: `pid=0` and an EXIT when they close.
//! * [`ServiceLog`] is a service's `log_type`: [`SyslogLog`] (RFC 3164 datagrams to
//!   `/dev/log` or any socket path), [`FileLog`] (`YY/M/D@HH:MM:SS: record`, with
//!   [`FileLimits`]; or, as an extension, one JSON object per line, [`FileFormat::Json`]) or,
//!   as an extension, [`JournalLog`] (journald's native protocol).
//! * [`DaemonLog`] is the program log: syslog (`-syslog`), `-filelog`
//!   (`YY/M/D@HH:MM:SS xinetd[PID]: LEVEL: text`), the `-d` layout, standard error, and the
//!   extensions `-journal` ([`DaemonLog::journal`]) and `-stderr_json`
//!   ([`DaemonLog::stderr_json`]).
//! * [`structured`] holds the fields of the structured records (`MESSAGE` is always the text
//!   line xinetd would write; `MESSAGE_ID` is fixed per record kind) and their two
//!   encodings, journald's native protocol and JSON lines. [`Record::fields`] carries the
//!   facts, gated by the same `log_on_success` / `log_on_failure` flags as the text.
//!
//! # journald without a crate
//!
//! `systemd-journal-logger` and `tracing-journald` are backends of the `log` and `tracing`
//! frameworks, which this project does not use; `libsystemd` hard-codes the socket path and
//! brings a large dependency tree. The native protocol is a few lines (`NAME=value\n`, a
//! length-prefixed form for values with newlines, a sealed memfd passed with `SCM_RIGHTS`
//! for entries too big for a datagram), so [`JournalLog`] writes it itself: the socket path
//! can then be chosen ([`JOURNAL_SOCKET_ENV`]) and sends never block for long, with the same
//! failure accounting as syslog.
//! * [`IdentQuery`] (sans-I/O), [`IdentClient`] (non-blocking, for the event loop) and
//!   [`lookup_blocking`] (for a forked child) implement `USERID` and `IDONLY`.
//!
//! # Never blocking, never silently losing
//!
//! Every write returns a [`WriteReport`]. Its [`Diagnostic`]s go to the program log via
//! [`DaemonLog::report`]. A failing destination (full disk, vanished syslog socket) is
//! reported once ([`DiagnosticKind::WriteFailed`]); the lines lost meanwhile are counted and
//! reported when writing works again ([`DiagnosticKind::Resumed`]). A FILE log line is a
//! single `write(2)` on an `O_APPEND | O_NONBLOCK` descriptor; a syslog datagram waits at most
//! [`SEND_WAIT`] for room, and not at all while the socket is failing. The syslog socket
//! reconnects by itself when syslogd comes back.
//!
//! # Local time: jiff
//!
//! Timestamps use [`jiff`]: it converts with the system time zone's full rules on every
//! call, so it is correct in a multi-threaded process (the `time` crate refuses local
//! offsets there) and across DST changes (see [`LocalClock`]). Formatted stamps are cached
//! per second.
//!
//! # Syslog without the `syslog` crate
//!
//! The `syslog` crate stamps UTC on Unix, zero-pads the day (syslog(3) pads with a space),
//! and sends on a blocking socket; the message is one `format!`, so [`format_rfc3164`]
//! writes it as glibc does: `<PRI>Mmm dd HH:MM:SS xinetd[PID]: text`.
//!
//! # Performance
//!
//! `cargo bench -p xinetd-log --bench file_log` on the project's 2-core machine (shared with
//! other builds while measured; files and sockets in a temp directory): formatting a START
//! record takes 0.3–0.5 µs; formatting it and appending it to a FILE log (one `write(2)`)
//! 1.2–3.5 µs depending on machine load — **0.3 to 0.85 million lines per second**; a syslog
//! datagram about 2.8 µs under load. Figures per run:
//! [docs/performance.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/performance.md#logging-xinetd-log).
//!
//! # Example
//!
//! ```
//! use std::net::IpAddr;
//! use xinetd_log::{
//!     FileLimits, FileLog, LogOnFailure, LogOnSuccess, Peer, Server, ServiceLog,
//!     ServiceRecords, ExitStatus, FailReason,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! // log_type = FILE <dir>/echo.log 1K ; log_on_success = PID HOST EXIT DURATION
//! let (file, diagnostics) =
//!     FileLog::open(dir.path().join("echo.log"), "echo", Some(FileLimits::new(1024, None)?))?;
//! assert!(diagnostics.is_empty());
//! let mut log = ServiceLog::from(file);
//! let records = ServiceRecords::new(
//!     "echo",
//!     LogOnSuccess::from_words(["PID", "HOST", "EXIT", "DURATION"])?,
//!     LogOnFailure::from_words(["HOST"])?,
//! );
//! let peer = Peer::Addr("::ffff:127.0.0.1".parse::<IpAddr>()?);
//!
//! let start = records.start(Server::Forked(4242), peer).expect("flags enable START");
//! assert_eq!(start.as_str(), "START: echo pid=4242 from=::ffff:127.0.0.1");
//! assert!(log.write(&start).diagnostics.is_empty());
//!
//! let exit = records.exit(Server::Forked(4242), ExitStatus::Exited(0), 3);
//! assert_eq!(exit.as_ref().map(|r| r.as_str()), Some("EXIT: echo status=0 pid=4242 duration=3(sec)"));
//! // In-loop internal services never log EXIT.
//! assert!(records.exit(Server::Inline, ExitStatus::Exited(0), 0).is_none());
//!
//! let fail = records.fail(FailReason::PerSourceLimit, peer).expect("HOST enables FAIL");
//! assert_eq!(fail.as_str(), "FAIL: echo per_source_limit from=::ffff:127.0.0.1");
//!
//! let text = std::fs::read_to_string(dir.path().join("echo.log"))?;
//! // `YY/M/D@HH:MM:SS: START: echo pid=4242 from=::ffff:127.0.0.1`
//! assert!(text.ends_with(": START: echo pid=4242 from=::ffff:127.0.0.1\n"));
//! # Ok(())
//! # }
//! ```
//!
//! A structured record, as the journal gets it:
//!
//! ```
//! use xinetd_log::structured::{encode_journal, record_fields};
//! use xinetd_log::{Facility, Level, LogOnFailure, LogOnSuccess, Peer, ServiceRecords, FailReason};
//!
//! let records = ServiceRecords::new(
//!     "echo",
//!     LogOnSuccess::default(),
//!     LogOnFailure::from_words(["HOST"]).expect("flags"),
//! );
//! let mut fail = records
//!     .fail(FailReason::PerSourceLimit, Peer::Addr("127.0.0.2".parse().expect("ip")))
//!     .expect("HOST enables FAIL");
//! fail.set_remote_port(40000);
//! let fields = record_fields(&fail, Some(Facility::Daemon), Level::Info, "xinetd");
//! let mut datagram = Vec::new();
//! encode_journal(&fields, &mut datagram);
//! let text = String::from_utf8(datagram).expect("no binary fields here");
//! assert!(text.starts_with("MESSAGE=FAIL: echo per_source_limit from=127.0.0.2\n"));
//! assert!(text.contains("\nXINETD_REASON=per_source_limit\n"));
//! assert!(text.contains("\nREMOTE_PORT=40000\n"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod daemon;
mod diagnostic;
mod error;
mod file;
mod ident;
mod journal;
mod peer;
mod priority;
mod record;
mod service;
pub mod structured;
mod syslog;

pub use clock::{file_timestamp, syslog_timestamp, system_time_zone, LocalClock};
pub use daemon::{DaemonLog, StderrStyle, MAX_MESSAGE_LEN};
pub use diagnostic::{explain_errno, Diagnostic, DiagnosticKind, Outcome, WriteReport};
pub use error::LogError;
pub use file::{FileFormat, FileLimits, FileLog, LOG_EXTRA_MAX, LOG_EXTRA_MIN};
pub use ident::{
    lookup_blocking, IdentClient, IdentFailure, IdentQuery, IdentReply, IdentResult, IdentTimeout,
    ReceiveError, IDENT_PORT, IDENT_TIMEOUT, MAX_REPLY_LEN,
};
pub use journal::{
    journal_present, journal_socket_path, JournalLog, DEFAULT_JOURNAL_PATH, JOURNAL_SOCKET_ENV,
};
pub use peer::Peer;
pub use priority::{priority, Facility, Level, LocalNumber};
pub use record::{
    elapsed_secs, ExitStatus, FailReason, IdentOutcome, LogOnFailure, LogOnSuccess, Record,
    RecordFields, RecordKind, Server, ServiceRecords, MAX_RECORD_LEN,
};
pub use service::ServiceLog;
pub use syslog::{format_rfc3164, SyslogLog, DEFAULT_SYSLOG_PATH, IDENT, SEND_WAIT};

// The README's example is compiled and run as a doc-test, so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
