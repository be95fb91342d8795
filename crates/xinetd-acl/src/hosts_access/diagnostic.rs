//! What goes wrong when the hosts files are loaded: the error that fails a load, and the
//! diagnostics (with file, line and column) reported alongside a successful one.

use std::fmt;
use std::path::PathBuf;

/// A hosts file that exists but cannot be read: the whole load fails so that a reload keeps
/// the previous rules (libwrap would log `cannot open` and treat the file as empty, which turns
/// an unreadable `ALL: ALL` deny file into "allow everybody").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostsAccessError {
    /// The file exists but reading it failed.
    #[error("cannot read {}: {}", path.display(), errno_text(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// An I/O error as xinetd's `%m` shows it: `<strerror text> (errno = N)`, not std's `(os error N)`.
pub(crate) fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let shown = e.to_string();
            let text = shown
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&shown);
            format!("{text} (errno = {code})")
        }
        None => e.to_string(),
    }
}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The construct is ignored or never matches, as in libwrap, but probably not what was meant.
    Warning,
    /// A syntax error: the rule or option is skipped, or (options) the matching client is
    /// refused, as in libwrap.
    Error,
}

/// What a [`Diagnostic`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A line that is not `daemon_list : client_list ...` (skipped, libwrap's `missing ":"
    /// separator`).
    MissingSeparator,
    /// A pattern that can never match (bad net/mask, net with host bits set, bad file, ...).
    NeverMatches,
    /// A construct libwrap supports and we do not (netgroups, ident user patterns, server host
    /// names): it never matches.
    UnsupportedPattern,
    /// An option that is not executed (`spawn`, `setenv`, ...); the verdict is unchanged.
    UnsupportedOption,
    /// An option that lets a command serve or judge the client (`twist`, `aclexec`): matching
    /// clients are refused.
    RefusingOption,
    /// An options syntax error (unknown keyword, `allow`/`deny` not last, missing value):
    /// matching clients are refused, as libwrap does.
    BadOption,
    /// Text that looks like something else than what libwrap makes of it (an indented `#`, an
    /// IPv6 address without brackets, ...).
    Suspicious,
}

/// A problem found while loading the hosts files, with its position (1-based line and column;
/// the line is the first physical line of a continued rule).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// How serious.
    pub severity: Severity,
    /// What it is about.
    pub kind: DiagnosticKind,
    /// The explanation.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_error_shows_errno_as_xinetd_does() {
        let err = HostsAccessError::Read {
            path: PathBuf::from("/etc/hosts.deny"),
            source: std::io::Error::from_raw_os_error(13),
        };
        assert_eq!(
            err.to_string(),
            "cannot read /etc/hosts.deny: Permission denied (errno = 13)"
        );
    }

    #[test]
    fn errno_text_keeps_errors_without_an_errno() {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "not text");
        assert_eq!(errno_text(&e), "not text");
    }
}
