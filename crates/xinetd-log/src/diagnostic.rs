//! Messages the library hands back for the daemon's own log, and write outcomes.

use std::fmt;
use std::io;

use crate::Level;

/// What a [`Diagnostic`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A FILE log grew past its soft limit (reported once per open).
    SoftLimitExceeded,
    /// A FILE log grew past its hard limit and is closed for writing (F-712).
    HardLimitExceeded,
    /// A write failed (full disk, vanished syslog socket, ...); reported once until
    /// writing works again.
    WriteFailed,
    /// Writing works again after [`DiagnosticKind::WriteFailed`]; says how many lines
    /// were lost meanwhile.
    Resumed,
    /// The identd reply was malformed (`Bad line received from identity server at ...`).
    IdentBadLine,
    /// Reading the identd reply failed (no CR-LF, too long, read error).
    IdentReceive,
    /// A USERID lookup for a refused request failed (`Failed to contact identity server`).
    IdentFailed,
}

/// A message for the daemon's program log, produced by a service log or the ident client.
/// Hand it to [`DaemonLog::report`](crate::DaemonLog::report), which prints it the way
/// xinetd does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// What happened.
    pub kind: DiagnosticKind,
    /// Its level.
    pub level: Level,
    /// The xinetd function that logs this message (printed for CRITICAL and in `-d` mode).
    pub func: &'static str,
    /// The message text, e.g. `Size of ftp log exceeded hard limit`.
    pub text: String,
}

impl Diagnostic {
    pub(crate) fn new(
        kind: DiagnosticKind,
        level: Level,
        func: &'static str,
        text: String,
    ) -> Diagnostic {
        Diagnostic {
            kind,
            level,
            func,
            text,
        }
    }

    /// True when xinetd writes this message straight to its log object, without the
    /// `LEVEL: ` word of `msg()` (the xlog soft-limit notice).
    pub fn is_raw(&self) -> bool {
        self.kind == DiagnosticKind::SoftLimitExceeded
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether a line reached its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Written (for syslog: handed to the socket).
    Written,
    /// The flags said this record is not logged, or the service has no log.
    NotLogged,
    /// Dropped because the FILE log is past its hard limit (F-712).
    DroppedHardLimit,
    /// Dropped because the destination is failing; counted and reported.
    DroppedError,
}

/// The result of writing one line: the outcome plus the diagnostics the daemon should
/// log (usually none).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "diagnostics must be logged, or a failing log goes unnoticed"]
#[non_exhaustive]
pub struct WriteReport {
    /// What happened to the line.
    pub outcome: Outcome,
    /// Messages for the program log, in order.
    pub diagnostics: Vec<Diagnostic>,
}

impl WriteReport {
    pub(crate) fn new(outcome: Outcome) -> WriteReport {
        WriteReport {
            outcome,
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn not_logged() -> WriteReport {
        WriteReport::new(Outcome::NotLogged)
    }

    /// True when the line was written.
    pub fn written(&self) -> bool {
        self.outcome == Outcome::Written
    }
}

/// xinetd's `%m`: `<strerror text> (errno = <n>)` (F-704).
pub fn explain_errno(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            // std's Display is `<strerror text> (os error N)`; keep the strerror part.
            let shown = io::Error::from_raw_os_error(code).to_string();
            let text = shown
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&shown)
                .to_owned();
            format!("{text} (errno = {code})")
        }
        None => err.to_string(),
    }
}

/// Tracks a destination that may fail: the first failure is reported, later ones only
/// counted, and the first success after that reports how many lines were lost.
#[derive(Debug, Default)]
pub(crate) struct FailureState {
    failing: bool,
    lost: u64,
    lost_total: u64,
}

impl FailureState {
    /// A write failed. Returns the diagnostic to emit if this is the first failure.
    pub(crate) fn failed(&mut self, log_id: &str, err: &io::Error) -> Option<Diagnostic> {
        self.lost += 1;
        self.lost_total += 1;
        if self.failing {
            return None;
        }
        self.failing = true;
        Some(Diagnostic::new(
            DiagnosticKind::WriteFailed,
            Level::Err,
            "log_in_error",
            format!("Error in {log_id} log: {}", explain_errno(err)),
        ))
    }

    /// A write succeeded. Returns the "resumed" diagnostic if it had been failing.
    pub(crate) fn succeeded(&mut self, log_id: &str) -> Option<Diagnostic> {
        if !self.failing {
            return None;
        }
        self.failing = false;
        let lost = std::mem::take(&mut self.lost);
        Some(resumed(log_id, lost))
    }

    /// The report of one datagram sent to a socket destination (syslog, journal): written, or
    /// dropped with the failure's first-time diagnostic, and the resumption after failures.
    pub(crate) fn report_send(&mut self, log_id: &str, sent: io::Result<()>) -> WriteReport {
        let mut report = WriteReport::new(Outcome::Written);
        match sent {
            Ok(()) => report.diagnostics.extend(self.succeeded(log_id)),
            Err(e) => {
                report.outcome = Outcome::DroppedError;
                report.diagnostics.extend(self.failed(log_id, &e));
            }
        }
        report
    }

    /// The diagnostic [`FailureState::succeeded`] would return now (while failing).
    pub(crate) fn pending_resumption(&self, log_id: &str) -> Option<Diagnostic> {
        self.failing.then(|| resumed(log_id, self.lost))
    }

    pub(crate) fn is_failing(&self) -> bool {
        self.failing
    }

    pub(crate) fn lost_total(&self) -> u64 {
        self.lost_total
    }
}

fn resumed(log_id: &str, lost: u64) -> Diagnostic {
    Diagnostic::new(
        DiagnosticKind::Resumed,
        Level::Notice,
        "log_in_error",
        format!(
            "{log_id} log writable again; {lost} line{} lost",
            if lost == 1 { " was" } else { "s were" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_xinetds() {
        let e = io::Error::from_raw_os_error(28);
        assert_eq!(explain_errno(&e), "No space left on device (errno = 28)");
        let e = io::Error::from_raw_os_error(99);
        assert_eq!(
            explain_errno(&e),
            "Cannot assign requested address (errno = 99)"
        );
    }

    #[test]
    fn failures_are_reported_once_then_resumption_counts_losses() {
        let mut st = FailureState::default();
        let e = io::Error::from_raw_os_error(28);
        let first = st.failed("ftp", &e).expect("first failure reported");
        assert_eq!(
            first.text,
            "Error in ftp log: No space left on device (errno = 28)"
        );
        assert!(st.failed("ftp", &e).is_none());
        assert!(st.failed("ftp", &e).is_none());
        let resumed = st.succeeded("ftp").expect("resumption reported");
        assert_eq!(resumed.text, "ftp log writable again; 3 lines were lost");
        assert!(st.succeeded("ftp").is_none());
        assert_eq!(st.lost_total(), 3);
    }
}
