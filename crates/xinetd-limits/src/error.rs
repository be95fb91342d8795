//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong in `xinetd-limits`.
///
/// Limit decisions themselves never fail: a refused request is a [`Refusal`](crate::Refusal),
/// not an error. Errors are about bad input values and the load-average reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// `max_load` must be a finite number greater than zero (xinetd rejects `max_load = 0`
    /// with `error parsing max_load argument`, F-131).
    #[error("max_load must be a finite number greater than 0, got {0}")]
    InvalidMaxLoad(f64),
    /// `source_prefix` lengths must be 0..=32 (IPv4) and 0..=128 (IPv6).
    #[error("source_prefix must be 0..=32 and 0..=128 bits, got {v4} {v6}")]
    InvalidSourcePrefix {
        /// The IPv4 prefix length given.
        v4: u8,
        /// The IPv6 prefix length given.
        v6: u8,
    },
    /// The load-average file could not be read.
    // The cause is the error's source, not part of this text (callers render it, e.g. as
    // xinetd's `%m`).
    #[error("cannot read load average from {path}")]
    LoadAverageIo {
        /// The file that was read (normally `/proc/loadavg`).
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The load-average file did not start with a number.
    #[error("cannot parse load average from {path}: {content:?}")]
    LoadAverageParse {
        /// The file that was read.
        path: PathBuf,
        /// What the file contained (first line, truncated to 64 bytes).
        content: String,
    },
}
