//! The daemon's own log (F-700..F-705): one small facade the event loop calls with a level and
//! xinetd's message text; the destination and line layout come from xinetd-log.

/// Message levels the daemon uses (xinetd's LOG_* words, F-702).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// CRITICAL.
    Critical,
    /// ERROR.
    Error,
    /// WARNING.
    Warning,
    /// NOTICE.
    Notice,
    /// INFO.
    Info,
    /// DEBUG.
    Debug,
}

/// The daemon log sink.
pub struct ProgramLog {
    sink: crate::logsink::Sink,
}

impl ProgramLog {
    /// Wraps an opened sink.
    pub fn new(sink: crate::logsink::Sink) -> ProgramLog {
        ProgramLog { sink }
    }

    /// Writes one message. CRITICAL messages carry `PID {function} ` before the text (F-702);
    /// `function` is xinetd's C function name where log watchers could see it.
    pub fn msg(&mut self, level: Level, text: &str) {
        self.sink.write(level, text);
    }

    /// A CRITICAL message with xinetd's `PID {function} ` prefix (F-702).
    pub fn critical(&mut self, function: &str, text: &str) {
        let pid = std::process::id();
        self.sink
            .write(Level::Critical, &format!("{pid} {{{function}}} {text}"));
    }
}
