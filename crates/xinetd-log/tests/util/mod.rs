//! Shared helpers for the integration tests.
#![allow(dead_code)]

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

/// Strip xinetd's `YY/M/D@HH:MM:SS` prefix and the separator after it (`: ` in FILE and
/// `-d` lines, a space in `-filelog` lines), as the oracle's normalisation did. Panics if
/// the line does not start with such a timestamp.
pub fn strip_timestamp(line: &str) -> &str {
    let at = line.find('@').expect("timestamp has '@'");
    let date = &line[..at];
    let parts: Vec<&str> = date.split('/').collect();
    assert_eq!(parts.len(), 3, "date part {date:?}");
    assert_eq!(parts[0].len(), 2, "two-digit year in {line:?}");
    let time = &line[at + 1..at + 9];
    assert!(
        time.as_bytes()[2] == b':' && time.as_bytes()[5] == b':',
        "time part {time:?}"
    );
    let rest = &line[at + 9..];
    rest.strip_prefix(": ")
        .or_else(|| rest.strip_prefix(' '))
        .expect("separator after timestamp")
}
