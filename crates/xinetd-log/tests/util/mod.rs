//! Shared helpers for the integration tests.
// Each test binary uses its own part of the helpers.
#![allow(dead_code, unused_imports)]

use jiff::civil::date;
use jiff::tz::TimeZone;
use xinetd_log::LocalClock;

/// 2026-11-26 23:09:18 UTC, the time of the reference capture from the real xinetd.
pub fn fixed_clock() -> LocalClock {
    LocalClock::fixed(
        date(2026, 11, 26)
            .at(23, 9, 18, 0)
            .to_zoned(TimeZone::UTC)
            .expect("valid time"),
    )
}

/// Where the shared corpus lives, if present.
pub fn corpus_dir() -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    if p.is_dir() {
        Some(p.to_owned())
    } else {
        println!("skipping: corpus not found at {}", p.display());
        None
    }
}

/// xinetd's `YY/M/D@HH:MM:SS` stamp stripped, as the oracle's normalisation did.
pub use xinetd_test_support::strip_log_timestamp as strip_timestamp;
