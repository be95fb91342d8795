//! The daemon's own (program) log (F-700..F-704): syslog (default, facility `daemon`),
//! `-syslog facility`, `-filelog file`, the `-d` terminal format, and — beyond xinetd, for
//! containers and service managers — standard error.
//!
//! Line layouts, for `msg(level, func, text)`:
//!
//! | destination | line |
//! |---|---|
//! | syslog | `<PRI>Mmm dd HH:MM:SS xinetd[PID]: text` (CRIT: `PID {func} text`) |
//! | `-filelog` | `YY/M/D@HH:MM:SS xinetd[PID]: LEVEL: text` (CRIT: `LEVEL: PID {func} text`) |
//! | `-d` | `YY/M/D@HH:MM:SS: LEVEL: PID {func} text` |
//! | stderr | one of the two above ([`StderrStyle`]), or without the timestamp |

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::clock::{LocalClock, Stamps};
use crate::diagnostic::{Diagnostic, FailureState, Outcome, WriteReport};
use crate::file::{open_append, write_line};
use crate::journal::JournalSocket;
use crate::priority::priority;
use crate::structured::{daemon_fields, encode_journal, encode_json, json_timestamp};
use crate::syslog::{SyslogSocket, DEFAULT_SYSLOG_PATH, IDENT};
use crate::{Facility, Level, LogError};

/// xinetd prepares program-log messages in a 2048-byte buffer: at most 2047 bytes of
/// `LEVEL: PID {func} text` survive.
pub const MAX_MESSAGE_LEN: usize = 2047;

/// How lines written to standard error look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StderrStyle {
    /// Exactly the `-filelog` line: `YY/M/D@HH:MM:SS xinetd[PID]: LEVEL: text`, so scripts
    /// written for xinetd's log files work on a container's output.
    FileLog,
    /// The `-d` line: `YY/M/D@HH:MM:SS: LEVEL: PID {func} text`.
    Debug,
    /// `xinetd[PID]: LEVEL: text` without a timestamp, for journald and container
    /// runtimes that stamp each line themselves.
    Bare,
}

#[derive(Debug)]
enum Target {
    Syslog {
        facility: Facility,
        socket: SyslogSocket,
    },
    File {
        path: PathBuf,
        file: File,
        debug_format: bool,
    },
    Stderr(StderrStyle),
    /// `-journal`: journald's native protocol (MESSAGE is the syslog line's text).
    Journal {
        facility: Facility,
        socket: JournalSocket,
    },
    /// `-stderr_json`: one JSON object per message on standard error.
    StderrJson {
        facility: Facility,
    },
}

/// The daemon's program log.
#[derive(Debug)]
pub struct DaemonLog {
    target: Target,
    ident: String,
    failure: FailureState,
    clock: LocalClock,
    stamps: Stamps,
    buf: Vec<u8>,
}

impl DaemonLog {
    fn with_target(target: Target) -> DaemonLog {
        DaemonLog {
            target,
            ident: IDENT.to_owned(),
            failure: FailureState::default(),
            clock: LocalClock::system(),
            stamps: Stamps::default(),
            buf: Vec::with_capacity(256),
        }
    }

    /// Syslog at `facility` (xinetd's default is [`Facility::Daemon`]; `-syslog` picks
    /// another) through [`DEFAULT_SYSLOG_PATH`]. Connecting is lazy and retried.
    pub fn syslog(facility: Facility) -> DaemonLog {
        DaemonLog::syslog_at(facility, DEFAULT_SYSLOG_PATH)
    }

    /// Syslog through another socket path.
    pub fn syslog_at(facility: Facility, socket_path: impl AsRef<Path>) -> DaemonLog {
        DaemonLog::with_target(Target::Syslog {
            facility,
            socket: SyslogSocket::new(socket_path.as_ref().to_owned()),
        })
    }

    /// `-filelog file`: append/create 0644. An error here is xinetd's
    /// `msg_init failed: can't open log file`.
    pub fn file(path: impl AsRef<Path>) -> Result<DaemonLog, LogError> {
        let path = path.as_ref().to_owned();
        let file = open_append(&path)?;
        Ok(DaemonLog::with_target(Target::File {
            path,
            file,
            debug_format: false,
        }))
    }

    /// `-d`: the debug layout written to `path` (xinetd uses `/dev/tty`).
    pub fn debug_terminal(path: impl AsRef<Path>) -> Result<DaemonLog, LogError> {
        let path = path.as_ref().to_owned();
        let file = open_append(&path)?;
        Ok(DaemonLog::with_target(Target::File {
            path,
            file,
            debug_format: true,
        }))
    }

    /// Standard error, in the given style.
    pub fn stderr(style: StderrStyle) -> DaemonLog {
        DaemonLog::with_target(Target::Stderr(style))
    }

    /// `-journal`: journald's native protocol on the socket at `path` (normally
    /// [`journal_socket_path`](crate::journal_socket_path)), facility `facility`. Each
    /// message's `MESSAGE` is the text a syslog line carries after `xinetd[PID]: `. The
    /// caller checks the socket is there first ([`journal_present`](crate::journal_present))
    /// and picks another destination otherwise.
    pub fn journal(facility: Facility, path: impl AsRef<Path>) -> DaemonLog {
        DaemonLog::with_target(Target::Journal {
            facility,
            socket: JournalSocket::new(path.as_ref().to_owned()),
        })
    }

    /// `-stderr_json`: one JSON object per message on standard error (containers), with
    /// `TIMESTAMP`, `MESSAGE`, `MESSAGE_ID`, `PRIORITY`, `SYSLOG_FACILITY`,
    /// `SYSLOG_IDENTIFIER`, `SYSLOG_PID`.
    pub fn stderr_json() -> DaemonLog {
        DaemonLog::with_target(Target::StderrJson {
            facility: Facility::Daemon,
        })
    }

    /// The program name in `name[PID]:` and the syslog ident. xinetd uses the last path
    /// component of its `argv[0]` (so `xinetd` normally, [`IDENT`]); a daemon started
    /// under another name passes that.
    pub fn with_ident(mut self, ident: impl Into<String>) -> DaemonLog {
        self.ident = ident.into();
        self
    }

    /// Use another clock.
    pub fn with_clock(mut self, clock: LocalClock) -> DaemonLog {
        self.clock = clock;
        self.stamps = Stamps::default();
        self
    }

    /// Reopen a `-filelog`/`-d` file (after rotation); other targets are unaffected.
    pub fn reopen(&mut self) -> Result<(), LogError> {
        if let Target::File { path, file, .. } = &mut self.target {
            *file = open_append(path)?;
        }
        Ok(())
    }

    /// xinetd's `msg(level, func, fmt...)`: log `text` at `level`. `func` is the name of the
    /// reporting function, printed for CRITICAL messages (and every `-d` message) as
    /// `PID {func} ` — e.g. `CRITICAL: 20151 {init_services} no services. Exiting...`.
    ///
    /// A failing destination is reported once in the returned report (the daemon may copy
    /// it to stderr); when writing works again the log itself gets a NOTICE saying how
    /// many lines were lost.
    pub fn log(&mut self, level: Level, func: &str, text: &str) -> WriteReport {
        self.emit(level, Some(func), text)
    }

    /// Log a diagnostic from a service log or the ident client, the way xinetd prints it.
    pub fn report(&mut self, diagnostic: &Diagnostic) -> WriteReport {
        if diagnostic.is_raw() {
            self.emit(diagnostic.level, None, &diagnostic.text)
        } else {
            self.emit(diagnostic.level, Some(diagnostic.func), &diagnostic.text)
        }
    }

    /// Format the line xinetd would write for this message (no trailing newline), without
    /// writing it. `pid` is the writing process.
    pub fn format_line(
        &mut self,
        level: Level,
        func: Option<&str>,
        text: &str,
        pid: u32,
    ) -> String {
        self.stamps.refresh(&self.clock);
        self.format_into(level, func, text, pid);
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    fn emit(&mut self, level: Level, func: Option<&str>, text: &str) -> WriteReport {
        self.stamps.refresh(&self.clock);
        let pid = std::process::id();
        let mut report = WriteReport::new(Outcome::Written);
        if let Some(notice) = self.failure.pending_resumption(&self.ident) {
            // First say, in the log itself, how many lines were lost; if that goes through
            // the destination works again.
            self.format_into(notice.level, Some("msg"), &notice.text, pid);
            match self.send() {
                Ok(()) => {
                    report
                        .diagnostics
                        .extend(self.failure.succeeded(&self.ident));
                }
                Err(e) => {
                    report.outcome = Outcome::DroppedError;
                    report
                        .diagnostics
                        .extend(self.failure.failed(&self.ident, &e));
                    return report;
                }
            }
        }
        self.format_into(level, func, text, pid);
        if let Err(e) = self.send() {
            report.outcome = Outcome::DroppedError;
            report
                .diagnostics
                .extend(self.failure.failed(&self.ident, &e));
        }
        report
    }

    fn send(&mut self) -> io::Result<()> {
        match &mut self.target {
            Target::Journal { socket, .. } => socket.send(&self.buf),
            Target::StderrJson { .. } => io::stderr().lock().write_all(&self.buf),
            Target::Syslog { socket, .. } => socket.send(&self.buf),
            Target::File { file, .. } => {
                self.buf.push(b'\n');
                let (_, r) = write_line(file, &self.buf);
                self.buf.pop();
                r
            }
            Target::Stderr(_) => {
                self.buf.push(b'\n');
                let r = io::stderr().lock().write_all(&self.buf);
                self.buf.pop();
                r
            }
        }
    }

    /// Build the line in `self.buf` (stamps must be fresh).
    fn format_into(&mut self, level: Level, func: Option<&str>, text: &str, pid: u32) {
        let (header, level_word, debug) = match &self.target {
            Target::Journal { facility, .. } => (Header::Journal(*facility), false, false),
            Target::StderrJson { facility } => (Header::Json(*facility), false, false),
            Target::Syslog { facility, .. } => {
                (Header::Syslog(priority(*facility, level)), false, false)
            }
            Target::File { debug_format, .. } => {
                if *debug_format {
                    (Header::Debug, true, true)
                } else {
                    (Header::FileLog, true, false)
                }
            }
            Target::Stderr(StderrStyle::FileLog) => (Header::FileLog, true, false),
            Target::Stderr(StderrStyle::Debug) => (Header::Debug, true, true),
            Target::Stderr(StderrStyle::Bare) => (Header::Bare, true, false),
        };
        // xinetd's prepare_buffer(): level word, then `PID {func} ` for -d and CRIT.
        let mut body = String::with_capacity(text.len() + 32);
        if let Some(func) = func {
            if level_word {
                body.push_str(level.program_log_word());
                body.push_str(": ");
            }
            if debug || level == Level::Crit {
                body.push_str(&format!("{pid} {{{func}}} "));
            }
        }
        body.push_str(text);
        if body.len() > MAX_MESSAGE_LEN {
            let mut cut = MAX_MESSAGE_LEN;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        self.buf.clear();
        match header {
            Header::Journal(facility) => {
                let fields = daemon_fields(&body, facility, level, &self.ident);
                encode_journal(&fields, &mut self.buf);
                return;
            }
            Header::Json(facility) => {
                let fields = daemon_fields(&body, facility, level, &self.ident);
                let stamp = json_timestamp(&self.clock.now());
                encode_json(&fields, Some(&stamp), &mut self.buf);
                return;
            }
            Header::Syslog(pri) => {
                let _ = write!(
                    self.buf,
                    "<{pri}>{} {}[{pid}]: ",
                    self.stamps.syslog(),
                    self.ident
                );
            }
            Header::FileLog => {
                let _ = write!(self.buf, "{} {}[{pid}]: ", self.stamps.file(), self.ident);
            }
            Header::Debug => {
                let _ = write!(self.buf, "{}: ", self.stamps.file());
            }
            Header::Bare => {
                let _ = write!(self.buf, "{}[{pid}]: ", self.ident);
            }
        }
        self.buf.extend_from_slice(body.as_bytes());
    }

    /// Lines lost to write errors so far.
    pub fn lost_to_errors(&self) -> u64 {
        self.failure.lost_total()
    }
}

enum Header {
    Journal(Facility),
    Json(Facility),
    Syslog(u8),
    FileLog,
    Debug,
    Bare,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    fn clock() -> LocalClock {
        LocalClock::fixed(
            date(2026, 11, 26)
                .at(23, 9, 18, 0)
                .to_zoned(TimeZone::UTC)
                .expect("valid"),
        )
    }

    #[test]
    fn stderr_styles() {
        let mut bare = DaemonLog::stderr(StderrStyle::Bare).with_clock(clock());
        assert_eq!(
            bare.format_line(
                Level::Notice,
                Some("main"),
                "Started working: 1 available service",
                7
            ),
            "xinetd[7]: NOTICE: Started working: 1 available service"
        );
        let mut fl = DaemonLog::stderr(StderrStyle::FileLog).with_clock(clock());
        assert_eq!(
            fl.format_line(Level::Warning, Some("quit_program"), "Exiting...", 7),
            "26/11/26@23:09:18 xinetd[7]: WARNING: Exiting..."
        );
        let mut dbg = DaemonLog::stderr(StderrStyle::Debug).with_clock(clock());
        assert_eq!(
            dbg.format_line(Level::Warning, Some("quit_program"), "Exiting...", 7),
            "26/11/26@23:09:18: WARNING: 7 {quit_program} Exiting..."
        );
    }
}
