//! `log_type = FILE path [soft [hard]]` (F-711, F-712) and the plain file writing shared with
//! the daemon's `-filelog`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::clock::{LocalClock, Stamps};
use crate::diagnostic::{Diagnostic, DiagnosticKind, FailureState, Outcome, WriteReport};
use crate::record::Record;
use crate::structured::{encode_json, json_timestamp, record_fields};
use crate::syslog::IDENT;
use crate::{Level, LogError};

/// xinetd's `LOG_EXTRA_MIN`: the smallest gap between a soft limit and the hard limit
/// derived from it.
pub const LOG_EXTRA_MIN: u64 = 5 * 1024;
/// xinetd's `LOG_EXTRA_MAX`: the largest such gap.
pub const LOG_EXTRA_MAX: u64 = 20 * 1024;

/// Size limits of a FILE log in bytes (F-712). Always `soft <= hard`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileLimits {
    soft: u64,
    hard: u64,
}

impl FileLimits {
    /// `FILE path soft [hard]`. Without `hard`, xinetd's rule applies:
    /// `hard = soft + clamp(soft / 100, 5 KiB, 20 KiB)` (so `1K` gives 1024/6144).
    /// `hard < soft` is an error, as in xinetd.
    pub fn new(soft: u64, hard: Option<u64>) -> Result<FileLimits, LogError> {
        let hard = match hard {
            Some(h) if h < soft => return Err(LogError::HardBelowSoft { soft, hard: h }),
            Some(h) => h,
            None => soft.saturating_add((soft / 100).clamp(LOG_EXTRA_MIN, LOG_EXTRA_MAX)),
        };
        Ok(FileLimits { soft, hard })
    }

    /// The soft limit: a notice the first time the log grows past it.
    pub fn soft(&self) -> u64 {
        self.soft
    }

    /// The hard limit: the log is closed for writing once it grows past it.
    pub fn hard(&self) -> u64 {
        self.hard
    }
}

/// Open a log file the way xinetd does: append, create with mode 0644, close-on-exec.
/// `O_NONBLOCK` is added so that a FIFO given as a log path can never stall the daemon
/// (it makes no difference for regular files).
pub(crate) fn open_append(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| LogError::OpenFile {
            path: path.to_owned(),
            source,
        })
}

/// Write a whole line with as few `write(2)` calls as possible (normally one, so lines from
/// the parent and from children sharing the descriptor never interleave). Returns the
/// number of bytes written, and the error if not all were.
pub(crate) fn write_line(file: &mut File, buf: &[u8]) -> (usize, io::Result<()>) {
    let mut done = 0;
    while done < buf.len() {
        match file.write(&buf[done..]) {
            Ok(0) => return (done, Err(io::Error::from(io::ErrorKind::WriteZero))),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Err(e)),
        }
    }
    (done, Ok(()))
}

/// How a FILE log writes its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// xinetd's lines: `YY/M/D@HH:MM:SS: <record>`.
    #[default]
    Text,
    /// One JSON object per line (`log_type = FILE path [soft [hard]] JSON`, an extension)
    /// with the fields of [`crate::structured`] and a `TIMESTAMP`. The size limits count
    /// these lines' bytes the same way.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// Past the hard limit: nothing more is written until [`FileLog::reopen`].
    ClosedBySize,
}

/// A service's FILE log: lines `YY/M/D@HH:MM:SS: <record>` appended to a file, with
/// xinetd's size accounting.
///
/// Size accounting (F-712): the size is taken from the file when it is opened and grows by
/// the bytes of every START/EXIT/FAIL line this handle writes (USERID/NOID/TRAFFIC lines are
/// written without a size check, as in xinetd). When a line makes the size exceed the soft
/// limit, a notice is returned once; when it exceeds the hard limit, that line is still
/// complete in the file, a `Size of <id> log exceeded hard limit` error is returned and
/// the log takes no more lines until it is reopened (SIGHUP, F-713).
#[derive(Debug)]
pub struct FileLog {
    path: PathBuf,
    log_id: String,
    file: File,
    limits: Option<FileLimits>,
    size: u64,
    warned_soft: bool,
    state: State,
    failure: FailureState,
    /// A previous write left a partial line; the next one starts with a newline.
    partial: bool,
    dropped_by_size: u64,
    format: FileFormat,
    clock: LocalClock,
    stamps: Stamps,
    buf: Vec<u8>,
}

impl FileLog {
    /// Open (append/create, 0644) the log of `log_id` — the service id, or `common` for the
    /// shared file of `defaults` (xinetd's name in its messages). With `limits`, the
    /// returned diagnostics report a file that is already past them.
    pub fn open(
        path: impl AsRef<Path>,
        log_id: impl Into<String>,
        limits: Option<FileLimits>,
    ) -> Result<(FileLog, Vec<Diagnostic>), LogError> {
        let path = path.as_ref().to_owned();
        let file = open_append(&path)?;
        let mut log = FileLog {
            path,
            log_id: log_id.into(),
            file,
            limits,
            size: 0,
            warned_soft: false,
            state: State::Open,
            failure: FailureState::default(),
            partial: false,
            dropped_by_size: 0,
            format: FileFormat::Text,
            clock: LocalClock::system(),
            stamps: Stamps::default(),
            buf: Vec::with_capacity(256),
        };
        let diags = log.start_size_control();
        Ok((log, diags))
    }

    /// Write records in this format (the default is xinetd's text lines).
    pub fn with_format(mut self, format: FileFormat) -> FileLog {
        self.format = format;
        self
    }

    /// The record format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Use another clock (tests pin the time with [`LocalClock::fixed`]).
    pub fn with_clock(mut self, clock: LocalClock) -> FileLog {
        self.clock = clock;
        self.stamps = Stamps::default();
        self
    }

    /// Close and reopen the file (SIGHUP, F-713: allows rotation). The size is read again
    /// and the limits start over, as after an xinetd reload.
    pub fn reopen(&mut self) -> Result<Vec<Diagnostic>, LogError> {
        self.file = open_append(&self.path)?;
        self.state = State::Open;
        self.warned_soft = false;
        self.partial = false;
        Ok(self.start_size_control())
    }

    /// xinetd's `XLOG_LIMITS`: take the size from the file and check it at once.
    fn start_size_control(&mut self) -> Vec<Diagnostic> {
        if self.limits.is_none() {
            return Vec::new();
        }
        match self.file.metadata() {
            Ok(m) => self.size = m.len(),
            Err(e) => {
                // xinetd stops size control when fstat fails; report it.
                self.limits = None;
                return self.failure.failed(&self.log_id, &e).into_iter().collect();
            }
        }
        let mut diags = Vec::new();
        self.check_limits(&mut diags);
        diags
    }

    fn check_limits(&mut self, diags: &mut Vec<Diagnostic>) {
        let Some(limits) = self.limits else { return };
        if self.size <= limits.soft {
            return;
        }
        if !self.warned_soft {
            self.warned_soft = true;
            // xinetd's xlog text, sent at alert level (documented in xinetd.conf(5), never
            // emitted by the 2.3.15 binary: docs/compat.md).
            diags.push(Diagnostic::new(
                DiagnosticKind::SoftLimitExceeded,
                Level::Alert,
                "limit_checks",
                format!("soft limit exceeded on '{}'", self.log_id),
            ));
        }
        if self.size > limits.hard {
            self.state = State::ClosedBySize;
            diags.push(Diagnostic::new(
                DiagnosticKind::HardLimitExceeded,
                Level::Err,
                "log_in_error",
                format!("Size of {} log exceeded hard limit", self.log_id),
            ));
        }
    }

    /// Append a service record.
    pub fn write(&mut self, record: &Record) -> WriteReport {
        match self.format {
            FileFormat::Text => {
                self.write_text(record.as_str(), record.kind().counts_toward_limits())
            }
            FileFormat::Json => {
                if self.state == State::ClosedBySize {
                    self.dropped_by_size += 1;
                    return WriteReport::new(Outcome::DroppedHardLimit);
                }
                let fields = record_fields(record, None, Level::Info, IDENT);
                let stamp = json_timestamp(&self.clock.now());
                let mut line = Vec::with_capacity(256);
                encode_json(&fields, Some(&stamp), &mut line);
                self.buf.clear();
                if self.partial {
                    self.buf.push(b'\n');
                }
                self.buf.extend_from_slice(&line);
                self.append(record.kind().counts_toward_limits())
            }
        }
    }

    /// Append `YY/M/D@HH:MM:SS: <text>`; `size_checked` says whether the line counts
    /// toward the limits.
    pub fn write_text(&mut self, text: &str, size_checked: bool) -> WriteReport {
        if self.state == State::ClosedBySize {
            self.dropped_by_size += 1;
            return WriteReport::new(Outcome::DroppedHardLimit);
        }
        self.stamps.refresh(&self.clock);
        self.buf.clear();
        if self.partial {
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(self.stamps.file().as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.push(b'\n');
        self.append(size_checked)
    }

    /// Write the line in `self.buf` (which starts with a newline when `self.partial`).
    fn append(&mut self, size_checked: bool) -> WriteReport {
        let prefix = usize::from(self.partial);
        let (n, result) = write_line(&mut self.file, &self.buf);
        let mut report = WriteReport::new(Outcome::Written);
        if self.limits.is_some() && size_checked {
            self.size += n as u64;
        }
        match result {
            Ok(()) => {
                self.partial = false;
                report
                    .diagnostics
                    .extend(self.failure.succeeded(&self.log_id));
            }
            Err(e) => {
                // Some of this line reached the file: the next line must start on a
                // fresh one. If only the separating newline got through, the file is clean.
                if n > prefix {
                    self.partial = true;
                } else if n == prefix && prefix == 1 {
                    self.partial = false;
                }
                report.outcome = Outcome::DroppedError;
                report
                    .diagnostics
                    .extend(self.failure.failed(&self.log_id, &e));
            }
        }
        if size_checked {
            self.check_limits(&mut report.diagnostics);
        }
        report
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name used in messages (service id or `common`).
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The limits, if any.
    pub fn limits(&self) -> Option<FileLimits> {
        self.limits
    }

    /// The accounted size (only maintained with limits).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True once the hard limit closed the log.
    pub fn is_closed_by_size(&self) -> bool {
        self.state == State::ClosedBySize
    }

    /// Lines not written because the hard limit closed the log.
    pub fn dropped_by_size(&self) -> u64 {
        self.dropped_by_size
    }

    /// Lines lost to write errors since opening.
    pub fn lost_to_errors(&self) -> u64 {
        self.failure.lost_total()
    }

    /// True while writes are failing.
    pub fn is_failing(&self) -> bool {
        self.failure.is_failing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hard_limit_follows_xinetd_formula() {
        // F-116/F-712: `1K` -> soft 1024, hard 6144.
        let l = FileLimits::new(1024, None).expect("valid");
        assert_eq!((l.soft(), l.hard()), (1024, 6144));
        // 1% between 5K and 20K.
        let l = FileLimits::new(1_000_000, None).expect("valid");
        assert_eq!(l.hard(), 1_010_000);
        // Capped at 20K.
        let l = FileLimits::new(10 * 1024 * 1024, None).expect("valid");
        assert_eq!(l.hard(), 10 * 1024 * 1024 + 20 * 1024);
        assert!(matches!(
            FileLimits::new(10, Some(9)),
            Err(LogError::HardBelowSoft { soft: 10, hard: 9 })
        ));
        assert_eq!(FileLimits::new(10, Some(10)).expect("equal ok").hard(), 10);
    }
}
