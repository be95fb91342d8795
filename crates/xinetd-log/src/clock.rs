//! Local time for log timestamps (F-702, F-711) and syslog headers (F-701).
//!
//! Local time comes from [`jiff`], which converts with the zone's full rules, so it is
//! correct in a multi-threaded process (the `time` crate refuses local offsets there because
//! it would call the thread-unsafe `localtime_r`/`tzset`) and across DST changes (each instant
//! is converted with the offset in force at that instant, not one cached at start-up).
//!
//! The system zone itself is read by [`system_time_zone`], the way glibc finds it (`TZ`, then
//! `/etc/localtime`), and not by `jiff::tz::TimeZone::system()`: jiff resolves
//! `/etc/localtime` through its zone database, whose first use walks all of
//! `/usr/share/zoneinfo` — about a millisecond at start-up and some 100 KB of zone names kept
//! for the daemon's lifetime, for a daemon that only needs the local offsets. The zone is
//! re-read after five minutes, so a changed `/etc/localtime` is picked up as jiff would.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Where "now" comes from. The daemon uses [`LocalClock::system`]; tests pin the time with
/// [`LocalClock::fixed`] or pick a zone with [`LocalClock::in_zone`].
#[derive(Clone, Debug)]
pub struct LocalClock {
    kind: ClockKind,
}

#[derive(Clone, Debug)]
enum ClockKind {
    System,
    Zone(TimeZone),
    Fixed(Zoned),
}

impl LocalClock {
    /// The real time in the system's local time zone.
    pub fn system() -> LocalClock {
        LocalClock {
            kind: ClockKind::System,
        }
    }

    /// The real time in an explicit time zone.
    pub fn in_zone(tz: TimeZone) -> LocalClock {
        LocalClock {
            kind: ClockKind::Zone(tz),
        }
    }

    /// Always the same instant (for golden tests).
    pub fn fixed(at: Zoned) -> LocalClock {
        LocalClock {
            kind: ClockKind::Fixed(at),
        }
    }

    /// The current local time.
    pub fn now(&self) -> Zoned {
        self.to_zoned(self.timestamp())
    }

    fn timestamp(&self) -> Timestamp {
        match &self.kind {
            ClockKind::Fixed(z) => z.timestamp(),
            ClockKind::System | ClockKind::Zone(_) => Timestamp::now(),
        }
    }

    fn to_zoned(&self, ts: Timestamp) -> Zoned {
        match &self.kind {
            ClockKind::System => ts.to_zoned(system_time_zone()),
            ClockKind::Zone(tz) => ts.to_zoned(tz.clone()),
            ClockKind::Fixed(z) => ts.to_zoned(z.time_zone().clone()),
        }
    }
}

/// How long a read system zone is used before `TZ` and `/etc/localtime` are read again.
const SYSTEM_ZONE_TTL: Duration = Duration::from_secs(300);

/// The system zone and when it was read.
static SYSTEM_ZONE: Mutex<Option<(TimeZone, Instant)>> = Mutex::new(None);

/// The system's local time zone as glibc's `localtime()` finds it: `TZ` when it is set
/// (empty means UTC; `:NAME`, `NAME` or an absolute path name a TZif file, looked up under
/// `TZDIR` or `/usr/share/zoneinfo`; anything else is read as a POSIX TZ rule), otherwise
/// `/etc/localtime`; UTC when none of these can be read. Cached for five minutes.
pub fn system_time_zone() -> TimeZone {
    let mut cached = SYSTEM_ZONE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((tz, read_at)) = cached.as_ref() {
        if read_at.elapsed() < SYSTEM_ZONE_TTL {
            return tz.clone();
        }
    }
    let tz = read_system_zone(std::env::var_os("TZ").as_deref());
    *cached = Some((tz.clone(), Instant::now()));
    tz
}

/// Reads the zone `TZ` (or its absence) names.
fn read_system_zone(tz_var: Option<&std::ffi::OsStr>) -> TimeZone {
    let Some(var) = tz_var else {
        return tzif_file("/etc/localtime".as_ref()).unwrap_or(TimeZone::UTC);
    };
    let Some(var) = var.to_str() else {
        return TimeZone::UTC;
    };
    let name = var.strip_prefix(':').unwrap_or(var);
    if name.is_empty() {
        return TimeZone::UTC;
    }
    let path = if name.starts_with('/') {
        std::path::PathBuf::from(name)
    } else {
        let dir = std::env::var_os("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
        std::path::Path::new(&dir).join(name)
    };
    // A name that climbs out of the zone directory is not a zone name (glibc refuses it too).
    let climbs = !name.starts_with('/') && name.split('/').any(|part| part == "..");
    if !climbs {
        if let Some(tz) = tzif_file(&path) {
            return tz;
        }
    }
    TimeZone::posix(name).unwrap_or(TimeZone::UTC)
}

/// A TZif file as a zone, or `None` when it cannot be read or parsed.
fn tzif_file(path: &std::path::Path) -> Option<TimeZone> {
    let bytes = std::fs::read(path).ok()?;
    TimeZone::tzif("Local", &bytes).ok()
}

/// xinetd's log timestamp `YY/M/D@HH:MM:SS` — printf `%02d/%d/%d@%02d:%02d:%02d` of the
/// local time, two-digit year, month and day not padded (F-702, F-711).
pub fn file_timestamp(at: &Zoned) -> String {
    let mut s = String::with_capacity(17);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "{:02}/{}/{}@{:02}:{:02}:{:02}",
        i32::from(at.year()).rem_euclid(100),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    s
}

/// The RFC 3164 header time `Mmm dd HH:MM:SS` exactly as glibc's syslog(3) writes it
/// (`%h %e %T`: English month abbreviation, day padded with a space).
pub fn syslog_timestamp(at: &Zoned) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[usize::try_from(at.month() - 1).unwrap_or(0) % 12];
    let mut s = String::with_capacity(15);
    let _ = write!(
        s,
        "{} {:>2} {:02}:{:02}:{:02}",
        month,
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    s
}

/// Per-second cache of the formatted timestamps: converting to local time and formatting
/// costs more than writing a log line, and both only change once a second.
#[derive(Debug, Default)]
pub(crate) struct Stamps {
    second: Option<i64>,
    file: String,
    syslog: String,
}

impl Stamps {
    pub(crate) fn refresh(&mut self, clock: &LocalClock) {
        let ts = clock.timestamp();
        let second = ts.as_second();
        if self.second != Some(second) {
            let z = clock.to_zoned(ts);
            self.file = file_timestamp(&z);
            self.syslog = syslog_timestamp(&z);
            self.second = Some(second);
        }
    }

    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    pub(crate) fn syslog(&self) -> &str {
        &self.syslog
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> Zoned {
        date(y, mo, d)
            .at(h, mi, s, 0)
            .to_zoned(tz.clone())
            .expect("valid civil time")
    }

    #[test]
    fn file_timestamp_matches_xinetd_layout() {
        // Observed on the real binary: `26/11/26@23:09:18`.
        let utc = TimeZone::UTC;
        assert_eq!(
            file_timestamp(&at(&utc, 2026, 11, 26, 23, 9, 18)),
            "26/11/26@23:09:18"
        );
        // Month and day unpadded, year padded to two digits, time padded.
        assert_eq!(
            file_timestamp(&at(&utc, 2005, 3, 7, 4, 5, 6)),
            "05/3/7@04:05:06"
        );
        assert_eq!(
            file_timestamp(&at(&utc, 2100, 1, 1, 0, 0, 0)),
            "00/1/1@00:00:00"
        );
    }

    #[test]
    fn syslog_timestamp_pads_day_with_space() {
        let utc = TimeZone::UTC;
        assert_eq!(
            syslog_timestamp(&at(&utc, 2026, 11, 26, 23, 9, 28)),
            "Nov 26 23:09:28"
        );
        assert_eq!(
            syslog_timestamp(&at(&utc, 2026, 3, 1, 1, 2, 3)),
            "Mar  1 01:02:03"
        );
    }

    #[test]
    fn local_time_follows_dst_rules() {
        // US Eastern with its DST rule, given as a POSIX TZ string so the test does not need
        // the system tz database.
        let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("valid POSIX TZ");
        // 2026-03-08 06:59:59 UTC is 01:59:59 EST; one second later DST starts: 03:00:00 EDT.
        let before: Timestamp = "2026-03-08T06:59:59Z".parse().expect("timestamp");
        let after: Timestamp = "2026-03-08T07:00:00Z".parse().expect("timestamp");
        assert_eq!(
            file_timestamp(&before.to_zoned(tz.clone())),
            "26/3/8@01:59:59"
        );
        assert_eq!(
            file_timestamp(&after.to_zoned(tz.clone())),
            "26/3/8@03:00:00"
        );
        // And back: 2026-11-01 05:59:59 UTC is 01:59:59 EDT, then 01:00:00 EST.
        let before: Timestamp = "2026-11-01T05:59:59Z".parse().expect("timestamp");
        let after: Timestamp = "2026-11-01T06:00:00Z".parse().expect("timestamp");
        assert_eq!(
            file_timestamp(&before.to_zoned(tz.clone())),
            "26/11/1@01:59:59"
        );
        assert_eq!(file_timestamp(&after.to_zoned(tz)), "26/11/1@01:00:00");
    }

    #[test]
    fn local_time_is_available_from_other_threads() {
        // The reason for jiff: a multi-threaded process still gets local time.
        let handle = std::thread::spawn(|| LocalClock::system().now());
        let z = handle.join().expect("thread ran");
        assert!(z.year() >= 2024);
    }

    #[test]
    fn stamps_cache_by_second() {
        let utc = TimeZone::UTC;
        let mut stamps = Stamps::default();
        stamps.refresh(&LocalClock::fixed(at(&utc, 2026, 1, 2, 3, 4, 5)));
        assert_eq!(stamps.file(), "26/1/2@03:04:05");
        assert_eq!(stamps.syslog(), "Jan  2 03:04:05");
        stamps.refresh(&LocalClock::fixed(at(&utc, 2026, 1, 2, 3, 4, 6)));
        assert_eq!(stamps.file(), "26/1/2@03:04:06");
    }

    /// The UTC offset of `tz` at `when`, in seconds.
    fn offset(tz: &TimeZone, when: &str) -> i32 {
        let ts: Timestamp = when.parse().expect("timestamp");
        tz.to_offset(ts).seconds()
    }

    #[test]
    fn system_zone_follows_tz_like_glibc() {
        let winter = "2026-01-15T12:00:00Z";
        let summer = "2026-07-15T12:00:00Z";
        for var in [
            ":America/New_York",
            "America/New_York",
            "/usr/share/zoneinfo/America/New_York",
            "EST5EDT,M3.2.0,M11.1.0",
        ] {
            let tz = read_system_zone(Some(var.as_ref()));
            assert_eq!(offset(&tz, winter), -5 * 3600, "{var}");
            assert_eq!(offset(&tz, summer), -4 * 3600, "{var}");
        }
        for var in ["", ":", "../../../../etc/passwd", "No/Such_Zone"] {
            let tz = read_system_zone(Some(var.as_ref()));
            assert_eq!(offset(&tz, winter), 0, "{var:?} is UTC");
            assert_eq!(offset(&tz, summer), 0, "{var:?} is UTC");
        }
    }

    #[test]
    fn system_zone_without_tz_is_etc_localtime() {
        // Same offsets as jiff's own reading of the system zone, which goes through its
        // zone database (the walk this module avoids).
        let ours = read_system_zone(None);
        let jiffs = TimeZone::try_system().unwrap_or(TimeZone::UTC);
        if std::env::var_os("TZ").is_some() {
            return; // jiff would follow TZ; this test is about /etc/localtime.
        }
        for when in [
            "2026-01-15T12:00:00Z",
            "2026-07-15T12:00:00Z",
            "2000-03-26T01:30:00Z",
        ] {
            assert_eq!(offset(&ours, when), offset(&jiffs, when), "{when}");
        }
    }
}
