//! Syslog facilities and levels, spelled and numbered as xinetd and syslog(3) do.

use std::fmt;
use std::str::FromStr;

use crate::LogError;

/// A syslog facility accepted by `log_type = SYSLOG facility [level]` and `-syslog facility`
/// (F-700, F-710). Values are syslog(3)'s `LOG_*` codes (facility number << 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Facility {
    /// `daemon` (xinetd's default for its own log, F-700).
    Daemon,
    /// `auth`.
    Auth,
    /// `authpriv`.
    Authpriv,
    /// `user`.
    User,
    /// `mail`.
    Mail,
    /// `lpr`.
    Lpr,
    /// `news`.
    News,
    /// `uucp`.
    Uucp,
    /// `ftp`.
    Ftp,
    /// `local0` .. `local7` (the number is 0..=7, enforced by [`Facility::local`]).
    Local(LocalNumber),
}

/// The `N` of `localN`, always 0..=7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalNumber(u8);

impl LocalNumber {
    /// The number, 0..=7.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Facility {
    /// `localN` for N in 0..=7; `None` otherwise.
    pub fn local(n: u8) -> Option<Facility> {
        (n <= 7).then_some(Facility::Local(LocalNumber(n)))
    }

    /// The facility code as syslog(3) defines it (already shifted: `LOG_LOCAL7` = 184).
    pub fn code(self) -> u8 {
        match self {
            Facility::User => 8,
            Facility::Mail => 16,
            Facility::Daemon => 24,
            Facility::Auth => 32,
            Facility::Lpr => 48,
            Facility::News => 56,
            Facility::Uucp => 64,
            Facility::Authpriv => 80,
            Facility::Ftp => 88,
            Facility::Local(n) => 128 + 8 * n.0,
        }
    }

    /// The lower-case name xinetd prints (state dump, F-851).
    pub fn name(self) -> &'static str {
        match self {
            Facility::Daemon => "daemon",
            Facility::Auth => "auth",
            Facility::Authpriv => "authpriv",
            Facility::User => "user",
            Facility::Mail => "mail",
            Facility::Lpr => "lpr",
            Facility::News => "news",
            Facility::Uucp => "uucp",
            Facility::Ftp => "ftp",
            Facility::Local(n) => [
                "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
            ][usize::from(n.0)],
        }
    }
}

impl FromStr for Facility {
    type Err = LogError;

    /// Case-insensitive, as every enumerated word of xinetd.conf (F-990).
    fn from_str(s: &str) -> Result<Self, LogError> {
        let lower = s.to_ascii_lowercase();
        let f = match lower.as_str() {
            "daemon" => Facility::Daemon,
            "auth" => Facility::Auth,
            "authpriv" => Facility::Authpriv,
            "user" => Facility::User,
            "mail" => Facility::Mail,
            "lpr" => Facility::Lpr,
            "news" => Facility::News,
            "uucp" => Facility::Uucp,
            "ftp" => Facility::Ftp,
            other => other
                .strip_prefix("local")
                .filter(|d| d.len() == 1)
                .and_then(|d| d.parse::<u8>().ok())
                .and_then(Facility::local)
                .ok_or_else(|| LogError::UnknownFacility(s.to_owned()))?,
        };
        Ok(f)
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A syslog level (severity), most severe first, numbered as syslog(3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// `emerg` (0).
    Emerg,
    /// `alert` (1).
    Alert,
    /// `crit` (2); xinetd's program log calls it `CRITICAL`.
    Crit,
    /// `err` (3); `ERROR` in the program log.
    Err,
    /// `warning` (4).
    Warning,
    /// `notice` (5).
    Notice,
    /// `info` (6), the default level of `log_type = SYSLOG` (F-710).
    Info,
    /// `debug` (7).
    Debug,
}

impl Level {
    /// syslog(3)'s numeric severity.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The lower-case name used in `log_type` and the state dump.
    pub fn name(self) -> &'static str {
        match self {
            Level::Emerg => "emerg",
            Level::Alert => "alert",
            Level::Crit => "crit",
            Level::Err => "err",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// The word xinetd's program log prints before a message in `-filelog` and `-d` output
    /// (F-702): `emerg` and `alert` have no entry in xinetd's table and print `UNKNOWN`.
    pub fn program_log_word(self) -> &'static str {
        match self {
            Level::Emerg | Level::Alert => "UNKNOWN",
            Level::Crit => "CRITICAL",
            Level::Err => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

impl FromStr for Level {
    type Err = LogError;

    /// Case-insensitive level names of `log_type = SYSLOG facility level`.
    fn from_str(s: &str) -> Result<Self, LogError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "emerg" => Level::Emerg,
            "alert" => Level::Alert,
            "crit" => Level::Crit,
            "err" => Level::Err,
            "warning" => Level::Warning,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return Err(LogError::UnknownLevel(s.to_owned())),
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `<PRI>` value of an RFC 3164 message: facility code plus level.
pub fn priority(facility: Facility, level: Level) -> u8 {
    facility.code() | level.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_match_observed_xinetd() {
        // F-710 examples observed on the real binary.
        assert_eq!(
            priority(Facility::local(3).expect("local3"), Level::Info),
            158
        );
        assert_eq!(priority(Facility::Authpriv, Level::Warning), 84);
        // F-701: -syslog local7, NOTICE.
        assert_eq!(
            priority(Facility::local(7).expect("local7"), Level::Notice),
            189
        );
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for name in [
            "daemon", "auth", "authpriv", "user", "mail", "lpr", "news", "uucp", "ftp", "local0",
            "local7",
        ] {
            let f: Facility = name.to_uppercase().parse().expect("known facility");
            assert_eq!(f.name(), name);
        }
        assert!("local8".parse::<Facility>().is_err());
        assert!("kern".parse::<Facility>().is_err());
        assert!("local".parse::<Facility>().is_err());
        for name in [
            "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        ] {
            let l: Level = name.parse().expect("known level");
            assert_eq!(l.name(), name);
        }
        assert!("error".parse::<Level>().is_err());
    }
}
