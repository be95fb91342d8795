//! `access_times`: the local-time windows in which a service is available (F-115, F-220,
//! F-221).

use std::fmt;

use crate::error::AclError;

/// A local wall-clock time truncated to the minute, supplied by the caller (so decisions never
/// read the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    minutes: u16,
}

impl LocalTime {
    /// `hour` 0-23 and `minute` 0-59 (seconds are ignored by xinetd, F-221); `None` otherwise.
    pub fn new(hour: u8, minute: u8) -> Option<LocalTime> {
        (hour < 24 && minute < 60).then(|| LocalTime {
            minutes: u16::from(hour) * 60 + u16::from(minute),
        })
    }

    /// The hour, 0-23.
    pub fn hour(self) -> u8 {
        u8::try_from(self.minutes / 60).expect("hour < 24")
    }

    /// The minute, 0-59.
    pub fn minute(self) -> u8 {
        u8::try_from(self.minutes % 60).expect("minute < 60")
    }

    /// Minutes since midnight.
    pub fn minutes_since_midnight(self) -> u16 {
        self.minutes
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

/// One interval, bounds included (`8:00-17:30` admits 17:30:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeInterval {
    /// First minute of the window.
    pub start: LocalTime,
    /// Last minute of the window (strictly after `start`).
    pub end: LocalTime,
}

impl TimeInterval {
    /// Parse one `H:MM-H:MM` interval with xinetd's rules (`ti_add` in time.c): leading spaces
    /// allowed; each field digits only (an empty field counts as 0, as in xinetd); hours 0-23,
    /// minutes 0-59; start strictly before end, so `24:00` and intervals that cross midnight are
    /// rejected.
    pub fn parse(text: &str) -> Result<TimeInterval, AclError> {
        let incorrect = || AclError::IncorrectTimeInterval {
            interval: text.to_owned(),
        };
        let out_of_range = || AclError::TimeOutOfRange {
            interval: text.to_owned(),
        };
        let mut rest = text.trim_start_matches(' ');
        // xinetd's get_num: digits up to the expected stop character, which must follow; the
        // stop character is checked before the range.
        let mut field = |stop: Option<char>, max: u32| -> Result<u32, AclError> {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (digits, after) = rest.split_at(end);
            let mut chars = after.chars();
            match (stop, chars.next()) {
                (Some(s), Some(c)) if c == s => {}
                (None, None) => {}
                _ => return Err(incorrect()),
            }
            let value = if digits.is_empty() {
                0
            } else {
                digits.parse::<u32>().unwrap_or(u32::MAX)
            };
            if value > max {
                return Err(out_of_range());
            }
            rest = chars.as_str();
            Ok(value)
        };
        let h1 = field(Some(':'), 23)?;
        let m1 = field(Some('-'), 59)?;
        let h2 = field(Some(':'), 23)?;
        let m2 = field(None, 59)?;
        let to_time = |h: u32, m: u32| {
            LocalTime::new(
                u8::try_from(h).expect("hour checked <= 23"),
                u8::try_from(m).expect("minute checked <= 59"),
            )
            .expect("fields range-checked above")
        };
        let (start, end) = (to_time(h1, m1), to_time(h2, m2));
        if start >= end {
            return Err(AclError::StartNotBeforeEnd {
                interval: text.to_owned(),
            });
        }
        Ok(TimeInterval { start, end })
    }

    /// `true` when `now` lies in the interval, bounds included.
    pub fn contains(&self, now: LocalTime) -> bool {
        self.start <= now && now <= self.end
    }
}

impl fmt::Display for TimeInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The value of `access_times`: one or more intervals; the service is available when the
/// current local minute is in any of them.
///
/// ```
/// use xinetd_acl::{AccessTimes, LocalTime};
/// // The ftp example of the seed article.
/// let t = AccessTimes::parse(["7:00-12:30", "13:30-21:00"])?;
/// assert!(t.contains(LocalTime::new(12, 30).unwrap()));
/// assert!(!t.contains(LocalTime::new(13, 0).unwrap()));
/// assert_eq!(t.xinetd_dump(), " 07:00-12:30 13:30-21:00");
/// // The xinetd.conf(5) example is rejected by xinetd itself (F-977).
/// let err = AccessTimes::parse(["2:00-9:00", "12:00-24:00"]).unwrap_err();
/// assert_eq!(err.xinetd_messages()[0].text, "invalid time interval");
/// # Ok::<(), xinetd_acl::AclError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessTimes {
    intervals: Vec<TimeInterval>,
}

impl AccessTimes {
    /// Parse the values of one `access_times` line; at least one interval is required.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<AccessTimes, AclError> {
        let intervals = values
            .into_iter()
            .map(TimeInterval::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if intervals.is_empty() {
            return Err(AclError::NoTimeIntervals);
        }
        Ok(AccessTimes { intervals })
    }

    /// The intervals, as written.
    pub fn intervals(&self) -> &[TimeInterval] {
        &self.intervals
    }

    /// `true` when `now` lies in some interval (F-221).
    pub fn contains(&self, now: LocalTime) -> bool {
        self.intervals.iter().any(|i| i.contains(now))
    }

    /// The intervals as xinetd prints them after `Access times =` in its dump (`ti_dump`):
    /// each preceded by a space, zero-padded, e.g. ` 02:00-08:59 12:00-23:59`.
    pub fn xinetd_dump(&self) -> String {
        self.intervals.iter().map(|i| format!(" {i}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text(s: &str) -> String {
        TimeInterval::parse(s).unwrap_err().xinetd_messages()[0]
            .text
            .clone()
    }

    #[test]
    fn oracle_messages_of_invalid_intervals() {
        // invalid/i11-bad-access-times.conf and configs/022 (F-220, F-977).
        assert_eq!(err_text("25:00-26:00"), "invalid time interval");
        assert_eq!(err_text("8-9"), "incorrect time interval");
        assert_eq!(err_text("09:60-10:00"), "invalid time interval");
        assert_eq!(err_text("10:00"), "incorrect time interval");
        assert_eq!(
            err_text("17:00-08:00"),
            "invalid time interval: 17:00-08:00"
        );
        assert_eq!(err_text("8:00-9:00,10:00-11:00"), "incorrect time interval");
        assert_eq!(err_text("12:00-24:00"), "invalid time interval");
        assert_eq!(
            err_text("10:00-10:00"),
            "invalid time interval: 10:00-10:00"
        );
    }

    #[test]
    fn twenty_four_hundred_gets_a_hint() {
        let e = TimeInterval::parse("12:00-24:00").unwrap_err();
        assert!(e.hint().unwrap().contains("23:59"));
        assert!(e.to_string().contains("23:59"), "{e}");
        let e = TimeInterval::parse("22:00-06:00").unwrap_err();
        assert!(e.hint().unwrap().contains("midnight"));
    }

    #[test]
    fn accepted_forms() {
        let i = TimeInterval::parse("  8:00-17:30").unwrap();
        assert_eq!(i.to_string(), "08:00-17:30");
        // xinetd counts an empty field as 0.
        let i = TimeInterval::parse(":30-1:").unwrap();
        assert_eq!(i.to_string(), "00:30-01:00");
        assert!(i.contains(LocalTime::new(1, 0).unwrap()));
        assert!(TimeInterval::parse("0:00-23:59").is_ok());
    }

    #[test]
    fn bounds_are_inclusive() {
        let t = AccessTimes::parse(["8:00-17:30"]).unwrap();
        assert!(!t.contains(LocalTime::new(7, 59).unwrap()));
        assert!(t.contains(LocalTime::new(8, 0).unwrap()));
        assert!(t.contains(LocalTime::new(17, 30).unwrap()));
        assert!(!t.contains(LocalTime::new(17, 31).unwrap()));
    }

    #[test]
    fn empty_value_is_an_error() {
        assert_eq!(
            AccessTimes::parse(std::iter::empty()),
            Err(AclError::NoTimeIntervals)
        );
    }
}
