//! The daemon's own log (F-700..F-705): a thin facade over xinetd-log's [`DaemonLog`] so the
//! event loop calls it with a level and xinetd's message text.

use xinetd_log::{DaemonLog, WriteReport};

/// Message levels of the daemon log: xinetd-log's syslog levels, whose `Crit` and `Err`
/// the program log writes as `CRITICAL` and `ERROR` (F-702).
pub use xinetd_log::Level;

/// The daemon log.
pub struct ProgramLog {
    inner: DaemonLog,
}

impl ProgramLog {
    /// Wraps an opened destination.
    pub fn new(inner: DaemonLog) -> ProgramLog {
        ProgramLog { inner }
    }

    /// Writes one message. CRITICAL messages should go through [`ProgramLog::critical`],
    /// which names xinetd's C function for the `PID {function} ` prefix (F-702).
    pub fn msg(&mut self, level: Level, text: &str) {
        let r = self.inner.log(level, "main", text);
        self.report(r);
    }

    /// A CRITICAL message with xinetd's `PID {function} ` prefix (F-702).
    pub fn critical(&mut self, function: &str, text: &str) {
        let r = self.inner.log(xinetd_log::Level::Crit, function, text);
        self.report(r);
    }

    /// Writes what a service log or the program log itself reported (e.g. a FILE log that
    /// exceeded its hard limit). A failing program log is reported on stderr once.
    pub fn report(&mut self, r: WriteReport) {
        for d in r.diagnostics {
            let again = self.inner.report(&d);
            if !again.diagnostics.is_empty() {
                eprintln!("xinetd: {}", d.text);
            }
        }
    }

    /// Logs a message produced by xinetd-log (ident errors), as xinetd prints it.
    pub fn diagnostic(&mut self, d: &xinetd_log::Diagnostic) {
        let r = self.inner.report(d);
        if !r.diagnostics.is_empty() {
            eprintln!("xinetd: {}", d.text);
        }
    }

    /// Reopens a `-filelog` file (SIGHUP, for log rotation, F-713).
    pub fn reopen(&mut self) {
        if let Err(e) = self.inner.reopen() {
            eprintln!("xinetd: cannot reopen the log: {e}");
        }
    }
}
