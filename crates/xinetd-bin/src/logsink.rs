//! Where daemon messages go. Interim sink until xinetd-log's program log lands: it only
//! routes lines; the layout follows F-702.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::dlog::Level;

/// A program-log destination.
pub enum Sink {
    /// `-filelog FILE` (append, created 0644).
    File(File),
    /// Standard error (foreground without a destination, or `-d`).
    Stderr,
}

impl Sink {
    /// Opens `-filelog FILE`.
    pub fn file(path: &Path) -> std::io::Result<Sink> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(path)?;
        Ok(Sink::File(f))
    }

    /// Writes one line; errors are dropped (the log cannot log its own failure).
    pub fn write(&mut self, level: Level, text: &str) {
        let word = match level {
            Level::Critical => "CRITICAL",
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        };
        let now = jiff::Zoned::now();
        let line = format!(
            "{:02}/{}/{}@{:02}:{:02}:{:02} xinetd[{}]: {word}: {text}\n",
            now.year() % 100,
            now.month(),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            std::process::id()
        );
        let _ = match self {
            Sink::File(f) => f.write_all(line.as_bytes()),
            Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
        };
    }
}
