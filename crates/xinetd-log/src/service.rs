//! A service's log destination (`log_type`, F-116): syslog or a FILE.

use crate::diagnostic::{Diagnostic, WriteReport};
use crate::file::FileLog;
use crate::journal::JournalLog;
use crate::record::Record;
use crate::syslog::SyslogLog;
use crate::LogError;

/// Where a service's records go. A FILE named in `defaults` is one shared "common" log
/// (F-711): the daemon keeps a single `ServiceLog` for it (named `common`) and writes every
/// inheriting service's records there; a FILE named in a service gets its own.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServiceLog {
    /// `log_type = SYSLOG facility [level]`.
    Syslog(SyslogLog),
    /// `log_type = FILE path [soft [hard]] [JSON]`.
    File(FileLog),
    /// `log_type = JOURNAL [facility [level]]` (an extension).
    Journal(JournalLog),
}

impl ServiceLog {
    /// Write a record.
    pub fn write(&mut self, record: &Record) -> WriteReport {
        match self {
            ServiceLog::Syslog(s) => s.write(record),
            ServiceLog::File(f) => f.write(record),
            ServiceLog::Journal(j) => j.write(record),
        }
    }

    /// Write a record if the flags produced one (the formatters return `None` when the
    /// flags say "don't log"); reports [`Outcome::NotLogged`](crate::Outcome::NotLogged)
    /// otherwise.
    pub fn write_if(&mut self, record: Option<&Record>) -> WriteReport {
        match record {
            Some(r) => self.write(r),
            None => WriteReport::not_logged(),
        }
    }

    /// Close and reopen (SIGHUP, F-713). Syslog needs nothing: it reconnects by itself.
    pub fn reopen(&mut self) -> Result<Vec<Diagnostic>, LogError> {
        match self {
            ServiceLog::Syslog(_) | ServiceLog::Journal(_) => Ok(Vec::new()),
            ServiceLog::File(f) => f.reopen(),
        }
    }
}

impl From<SyslogLog> for ServiceLog {
    fn from(s: SyslogLog) -> ServiceLog {
        ServiceLog::Syslog(s)
    }
}

impl From<JournalLog> for ServiceLog {
    fn from(j: JournalLog) -> ServiceLog {
        ServiceLog::Journal(j)
    }
}

impl From<FileLog> for ServiceLog {
    fn from(f: FileLog) -> ServiceLog {
        ServiceLog::File(f)
    }
}
