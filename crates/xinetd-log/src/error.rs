//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong when setting up a log destination.
///
/// Failures while *writing* a line are not errors: they are reported as
/// [`Diagnostic`](crate::Diagnostic)s so that the daemon keeps running and logs them once
/// (see [`WriteReport`](crate::WriteReport)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A syslog facility name xinetd does not know (`Bad syslog facility: %s`, F-700).
    #[error("Bad syslog facility: {0}")]
    UnknownFacility(String),
    /// A syslog level name xinetd does not know.
    #[error("Bad syslog level: {0}")]
    UnknownLevel(String),
    /// A `log_on_success` / `log_on_failure` word xinetd does not know
    /// (`Bad log_on_success flag: %s`).
    #[error("Bad log flag: {0}")]
    UnknownFlag(String),
    /// A FAIL reason that is not one of xinetd's words.
    #[error("unknown failure reason: {0}")]
    UnknownFailReason(String),
    /// `log_type = FILE path soft hard` with `hard < soft` (F-712).
    #[error("hard limit ({hard}) is lower than soft limit ({soft})")]
    HardBelowSoft {
        /// The soft limit in bytes.
        soft: u64,
        /// The hard limit in bytes.
        hard: u64,
    },
    /// A log file could not be opened (xinetd: `creation of %s log failed`).
    #[error("can't open log file {}: {}", path.display(), crate::explain_errno(source))]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A socket could not be created or configured.
    #[error("can't create log socket: {}", crate::explain_errno(.0))]
    Socket(#[source] io::Error),
}
