//! The daemon's own log (F-700..F-705): a thin facade over xinetd-log's [`DaemonLog`] so the
//! event loop calls it with a level and xinetd's message text.

use xinetd_log::{DaemonLog, WriteReport};

/// Message levels of the daemon log: xinetd-log's syslog levels, whose `Crit` and `Err`
/// the program log writes as `CRITICAL` and `ERROR` (F-702).
pub use xinetd_log::Level;

/// The daemon log.
pub struct ProgramLog {
    inner: DaemonLog,
    /// Records lost to write errors (the program log's and every service log's), and
    /// records dropped past a FILE log's hard limit: the metrics' counts.
    dropped: (u64, u64),
}

impl ProgramLog {
    /// Wraps an opened destination.
    pub fn new(inner: DaemonLog) -> ProgramLog {
        ProgramLog {
            inner,
            dropped: (0, 0),
        }
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
        self.count(&r);
        for d in r.diagnostics {
            let again = self.inner.report(&d);
            self.count(&again);
            if !again.diagnostics.is_empty() {
                eprintln!("xinetd: {}", d.text);
            }
        }
    }

    /// Counts a record that was not written.
    fn count(&mut self, r: &WriteReport) {
        match r.outcome {
            xinetd_log::Outcome::DroppedError => self.dropped.0 += 1,
            xinetd_log::Outcome::DroppedHardLimit => self.dropped.1 += 1,
            _ => {}
        }
    }

    /// Records lost to write errors, and dropped past a hard limit, so far.
    pub fn dropped(&self) -> (u64, u64) {
        self.dropped
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

/// Where the configuration loader's messages go: the program log itself at start-up, or a
/// [`Recording`] on a reload's worker thread (issue 16), which the loop writes afterwards.
pub trait Messages {
    /// One message at `level`.
    fn msg(&mut self, level: Level, text: &str);
    /// A CRITICAL message with xinetd's `PID {function} ` prefix (F-702).
    fn critical(&mut self, function: &'static str, text: &str);
}

impl Messages for ProgramLog {
    fn msg(&mut self, level: Level, text: &str) {
        ProgramLog::msg(self, level, text);
    }

    fn critical(&mut self, function: &'static str, text: &str) {
        ProgramLog::critical(self, function, text);
    }
}

/// Messages kept in order, to be written later through the program log. A reload loads on
/// a worker thread, and the program log belongs to the loop: the worker records what it
/// would have written and the loop writes it, same levels, same text, same order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recording {
    lines: Vec<Recorded>,
}

/// One recorded message.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    Msg(Level, String),
    Critical(&'static str, String),
}

impl Messages for Recording {
    fn msg(&mut self, level: Level, text: &str) {
        self.lines.push(Recorded::Msg(level, text.to_owned()));
    }

    fn critical(&mut self, function: &'static str, text: &str) {
        self.lines
            .push(Recorded::Critical(function, text.to_owned()));
    }
}

impl Recording {
    /// Writes the recorded messages, in the order they were recorded.
    pub fn write_to(self, log: &mut impl Messages) {
        for line in self.lines {
            match line {
                Recorded::Msg(level, text) => log.msg(level, &text),
                Recorded::Critical(function, text) => log.critical(function, &text),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_is_written_in_order_with_its_levels() {
        let mut r = Recording::default();
        r.msg(Level::Notice, "one");
        r.critical("init_services", "two");
        r.msg(Level::Err, "three");
        let mut again = Recording::default();
        r.write_to(&mut again);
        assert_eq!(
            again.lines,
            vec![
                Recorded::Msg(Level::Notice, "one".into()),
                Recorded::Critical("init_services", "two".into()),
                Recorded::Msg(Level::Err, "three".into()),
            ]
        );
    }
}
