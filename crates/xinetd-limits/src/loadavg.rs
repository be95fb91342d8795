//! Where the 1-minute load average for `max_load` (F-131, F-303) comes from.
//!
//! The decision code only sees the [`LoadSource`] trait, so tests inject a number; the daemon
//! uses [`ProcLoadAvg`], which reads `/proc/loadavg` like xinetd's `xgetloadavg()`.

use std::path::{Path, PathBuf};

use crate::LimitsError;

/// A provider of the 1-minute load average.
///
/// It is only asked when the service being checked has `max_load` set, so services without it
/// cost no system call. `None` means "unknown": like xinetd (whose reader returns -1 on
/// failure), an unknown load never refuses a request.
pub trait LoadSource {
    /// The current 1-minute load average, or `None` if it cannot be determined.
    fn one_minute(&mut self) -> Option<f64>;
}

/// A load average fixed by the caller (tests, or a daemon that samples the load itself).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct FixedLoad(pub f64);

impl LoadSource for FixedLoad {
    fn one_minute(&mut self) -> Option<f64> {
        Some(self.0)
    }
}

impl<F: FnMut() -> Option<f64>> LoadSource for F {
    fn one_minute(&mut self) -> Option<f64> {
        self()
    }
}

/// Reads the first field of `/proc/loadavg` on every call, as xinetd does per request.
#[derive(Debug)]
pub struct ProcLoadAvg {
    path: PathBuf,
    last_error: Option<LimitsError>,
}

impl ProcLoadAvg {
    /// The system file, `/proc/loadavg`.
    pub const SYSTEM_PATH: &'static str = "/proc/loadavg";

    /// A reader of `/proc/loadavg`.
    pub fn new() -> Self {
        Self::with_path(Self::SYSTEM_PATH)
    }

    /// A reader of another file with the same format (tests, containers with lxcfs).
    pub fn with_path(path: impl Into<PathBuf>) -> Self {
        ProcLoadAvg {
            path: path.into(),
            last_error: None,
        }
    }

    /// The file this reader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the 1-minute load average now.
    pub fn read(&self) -> Result<f64, LimitsError> {
        let content =
            std::fs::read_to_string(&self.path).map_err(|source| LimitsError::LoadAverageIo {
                path: self.path.clone(),
                source,
            })?;
        parse_loadavg(&content).ok_or_else(|| LimitsError::LoadAverageParse {
            path: self.path.clone(),
            content: content
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(64)
                .collect(),
        })
    }

    /// The error of the last failed [`LoadSource::one_minute`] call, taken out so the daemon
    /// can log it once.
    pub fn take_error(&mut self) -> Option<LimitsError> {
        self.last_error.take()
    }
}

impl Default for ProcLoadAvg {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadSource for ProcLoadAvg {
    fn one_minute(&mut self) -> Option<f64> {
        match self.read() {
            Ok(load) => Some(load),
            Err(e) => {
                self.last_error = Some(e);
                None
            }
        }
    }
}

/// The first whitespace-separated field as a float (`fscanf("%lf")` on `/proc/loadavg`).
fn parse_loadavg(content: &str) -> Option<f64> {
    let load: f64 = content.split_whitespace().next()?.parse().ok()?;
    load.is_finite().then_some(load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_first_field_of_proc_loadavg() {
        assert_eq!(parse_loadavg("0.52 0.58 0.59 1/467 12345\n"), Some(0.52));
        assert_eq!(parse_loadavg("12.00 1 1 1/1 1"), Some(12.0));
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("abc 1 2"), None);
    }

    #[test]
    fn reads_a_file_and_reports_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("loadavg");
        std::fs::write(&good, "3.25 2.00 1.00 2/300 999\n").expect("write");
        let mut reader = ProcLoadAvg::with_path(&good);
        assert_eq!(reader.one_minute(), Some(3.25));
        assert!(reader.take_error().is_none());

        let bad = dir.path().join("garbage");
        std::fs::write(&bad, "not a number\n").expect("write");
        let mut reader = ProcLoadAvg::with_path(&bad);
        assert_eq!(reader.one_minute(), None);
        assert!(matches!(
            reader.take_error(),
            Some(LimitsError::LoadAverageParse { content, .. }) if content == "not a number"
        ));

        let mut missing = ProcLoadAvg::with_path(dir.path().join("absent"));
        assert_eq!(missing.one_minute(), None);
        assert!(matches!(
            missing.take_error(),
            Some(LimitsError::LoadAverageIo { .. })
        ));
    }

    #[test]
    fn system_loadavg_is_readable_on_linux() {
        if !Path::new(ProcLoadAvg::SYSTEM_PATH).exists() {
            println!("skipping: {} does not exist here", ProcLoadAvg::SYSTEM_PATH);
            return;
        }
        let load = ProcLoadAvg::new().read().expect("read /proc/loadavg");
        assert!(load >= 0.0);
    }

    #[test]
    fn closures_and_fixed_values_are_sources() {
        let mut calls = 0;
        let mut f = || {
            calls += 1;
            Some(1.5)
        };
        assert_eq!(LoadSource::one_minute(&mut f), Some(1.5));
        assert_eq!(calls, 1);
        assert_eq!(FixedLoad(0.25).one_minute(), Some(0.25));
    }
}
