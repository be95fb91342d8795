//! Diagnostics, in two renderings: ours (`file:line:col: severity: message`, with a hint)
//! and xinetd's own daemon-log wording, so the daemon can write xinetd-identical lines.

use std::fmt;

use crate::model::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Something was dropped or is unusable.
    Error,
    /// Something was ignored or is surprising.
    Warning,
    /// An explanation (e.g. a file skipped by `includedir`).
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A syslog level as xinetd prints it in its own log (F-702).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XinetdLevel {
    /// `CRITICAL` (LOG_CRIT; xinetd prefixes the text with `PID {function} `).
    Critical,
    /// `ERROR` (LOG_ERR).
    Error,
    /// `WARNING`.
    Warning,
    /// `NOTICE`.
    Notice,
    /// `INFO`.
    Info,
    /// `DEBUG` (written even without `-d`).
    Debug,
}

impl XinetdLevel {
    /// The word xinetd writes in `-filelog` / `-d` output.
    pub fn as_str(self) -> &'static str {
        match self {
            XinetdLevel::Critical => "CRITICAL",
            XinetdLevel::Error => "ERROR",
            XinetdLevel::Warning => "WARNING",
            XinetdLevel::Notice => "NOTICE",
            XinetdLevel::Info => "INFO",
            XinetdLevel::Debug => "DEBUG",
        }
    }
    /// syslog(3) priority number.
    pub fn syslog_priority(self) -> u32 {
        match self {
            XinetdLevel::Critical => 2,
            XinetdLevel::Error => 3,
            XinetdLevel::Warning => 4,
            XinetdLevel::Notice => 5,
            XinetdLevel::Info => 6,
            XinetdLevel::Debug => 7,
        }
    }
}

/// One line xinetd 2.3.15.3 would log for the same problem.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XinetdMessage {
    /// Level.
    pub level: XinetdLevel,
    /// The C function xinetd names in `-d` output (`{function}`).
    pub function: &'static str,
    /// The text, without the location suffix.
    pub text: String,
    /// `Some((file, line))` when xinetd appends ` [file=F] [line=N]` (parse-time messages,
    /// F-704); `None` for post-parse checks (F-068).
    pub location: Option<(String, u32)>,
}

impl XinetdMessage {
    /// The text as xinetd writes it after `LEVEL: `, location suffix included.
    pub fn render(&self) -> String {
        match &self.location {
            Some((file, line)) => format!("{} [file={}] [line={}]", self.text, file, line),
            None => self.text.clone(),
        }
    }
}

/// A problem found while loading a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Where.
    pub span: Span,
    /// How bad.
    pub severity: Severity,
    /// Our explanation.
    pub message: String,
    /// What to do about it, or why xinetd behaves this way.
    pub hint: Option<String>,
    /// The service id (or name) the diagnostic belongs to, if any.
    pub service: Option<String>,
    /// What xinetd 2.3.15.3 logs for the same problem (zero, one or more lines).
    pub xinetd: Vec<XinetdMessage>,
}

impl Diagnostic {
    /// Renders `file:line:col: severity: message` plus an indented `hint:` line.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}: {}: {}",
            self.span,
            self.severity.as_str(),
            self.message
        );
        if let Some(h) = &self.hint {
            s.push_str("\n  hint: ");
            s.push_str(h);
        }
        s
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Collects diagnostics while loading.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) items: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
}

/// Builder helpers so call sites stay short.
pub(crate) fn diag(span: &Span, severity: Severity, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        span: span.clone(),
        severity,
        message: message.into(),
        hint: None,
        service: None,
        xinetd: Vec::new(),
    }
}

impl Diagnostic {
    pub(crate) fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    pub(crate) fn service(mut self, s: Option<&str>) -> Self {
        self.service = s.map(str::to_string);
        self
    }
    /// Adds an xinetd parse-time line (with `[file=] [line=]`).
    pub(crate) fn xparse(
        mut self,
        level: XinetdLevel,
        function: &'static str,
        text: impl Into<String>,
    ) -> Self {
        let loc = (self.span.file.to_string(), self.span.line);
        self.xinetd.push(XinetdMessage {
            level,
            function,
            text: text.into(),
            location: Some(loc),
        });
        self
    }
    /// Adds an xinetd post-parse line (no location suffix).
    pub(crate) fn xplain(
        mut self,
        level: XinetdLevel,
        function: &'static str,
        text: impl Into<String>,
    ) -> Self {
        self.xinetd.push(XinetdMessage {
            level,
            function,
            text: text.into(),
            location: None,
        });
        self
    }
}

/// The C library's `strerror` text of an I/O error, without the ` (os error N)` that the
/// standard library's `Display` appends: user-facing text never shows Rust's wording.
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let shown = e.to_string();
    match e.raw_os_error() {
        Some(code) => shown
            .strip_suffix(&format!(" (os error {code})"))
            .map_or_else(|| shown.clone(), str::to_string),
        None => shown,
    }
}

/// xinetd's `%m` (its own `msg()` expands it, F-704): `<strerror text> (errno = N)`.
pub(crate) fn errno_text(e: &std::io::Error) -> String {
    format!(
        "{} (errno = {})",
        strerror(e),
        e.raw_os_error().unwrap_or(0)
    )
}

#[cfg(test)]
mod errno_tests {
    use super::*;

    #[test]
    fn errno_text_is_xinetds_percent_m() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&e), "No such file or directory");
        assert_eq!(errno_text(&e), "No such file or directory (errno = 2)");
        let custom = std::io::Error::other("boom");
        assert_eq!(errno_text(&custom), "boom (errno = 0)");
    }
}
