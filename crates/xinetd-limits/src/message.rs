//! Daemon-log messages that the limits produce, with xinetd's exact texts.

use std::fmt;

/// Syslog severity of a [`LogMessage`], named as in xinetd's `msg(LOG_xxx, ...)` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Level {
    /// `LOG_CRIT` — xinetd prefixes these with `PID {function} ` in every destination (F-702).
    Crit,
    /// `LOG_ERR`.
    Err,
    /// `LOG_INFO`.
    Info,
}

impl Level {
    /// The word xinetd's `-filelog` output prints for this level (F-702).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Crit => "CRITICAL",
            Level::Err => "ERROR",
            Level::Info => "INFO",
        }
    }
}

/// One line the daemon must write to its program log.
///
/// `function` is the C function name xinetd passes to `msg()`; it appears as `{function}` in
/// CRITICAL lines and in `-d` output (F-702, F-703).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// Severity.
    pub level: Level,
    /// xinetd's function name for the `{function}` field.
    pub function: &'static str,
    /// The message text, exactly as xinetd formats it.
    pub text: String,
}

impl LogMessage {
    pub(crate) fn new(level: Level, function: &'static str, text: String) -> Self {
        LogMessage {
            level,
            function,
            text,
        }
    }
}

impl fmt::Display for LogMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
