//! The syslog facility and level names of `log_type = SYSLOG` and `JOURNAL` (F-710), apart
//! from the service model because they are a fixed table of xinetd's (and syslog(3)'s) words.

/// A syslog facility accepted by `log_type = SYSLOG` (F-710).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogFacility {
    /// `daemon`.
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
    /// `local0`..`local7` (the number).
    Local(u8),
}

impl SyslogFacility {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogFacility::Daemon => "daemon",
            SyslogFacility::Auth => "auth",
            SyslogFacility::Authpriv => "authpriv",
            SyslogFacility::User => "user",
            SyslogFacility::Mail => "mail",
            SyslogFacility::Lpr => "lpr",
            SyslogFacility::News => "news",
            SyslogFacility::Uucp => "uucp",
            SyslogFacility::Ftp => "ftp",
            SyslogFacility::Local(0) => "local0",
            SyslogFacility::Local(1) => "local1",
            SyslogFacility::Local(2) => "local2",
            SyslogFacility::Local(3) => "local3",
            SyslogFacility::Local(4) => "local4",
            SyslogFacility::Local(5) => "local5",
            SyslogFacility::Local(6) => "local6",
            SyslogFacility::Local(_) => "local7",
        }
    }
    /// The syslog(3) facility code (`LOG_DAEMON` = 3 << 3, ...).
    pub fn code(self) -> u32 {
        let n = match self {
            SyslogFacility::User => 1,
            SyslogFacility::Mail => 2,
            SyslogFacility::Daemon => 3,
            SyslogFacility::Auth => 4,
            SyslogFacility::Lpr => 6,
            SyslogFacility::News => 7,
            SyslogFacility::Uucp => 8,
            SyslogFacility::Authpriv => 10,
            SyslogFacility::Ftp => 11,
            SyslogFacility::Local(n) => 16 + u32::from(n.min(7)),
        };
        n << 3
    }
    /// All facilities.
    pub const ALL: [SyslogFacility; 17] = [
        SyslogFacility::Daemon,
        SyslogFacility::Auth,
        SyslogFacility::Authpriv,
        SyslogFacility::User,
        SyslogFacility::Mail,
        SyslogFacility::Lpr,
        SyslogFacility::News,
        SyslogFacility::Uucp,
        SyslogFacility::Ftp,
        SyslogFacility::Local(0),
        SyslogFacility::Local(1),
        SyslogFacility::Local(2),
        SyslogFacility::Local(3),
        SyslogFacility::Local(4),
        SyslogFacility::Local(5),
        SyslogFacility::Local(6),
        SyslogFacility::Local(7),
    ];
}

/// A syslog level (F-710).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyslogLevel {
    /// `emerg`.
    Emerg,
    /// `alert`.
    Alert,
    /// `crit`.
    Crit,
    /// `err`.
    Err,
    /// `warning`.
    Warning,
    /// `notice`.
    Notice,
    /// `info` (the default level).
    Info,
    /// `debug`.
    Debug,
}

impl SyslogLevel {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogLevel::Emerg => "emerg",
            SyslogLevel::Alert => "alert",
            SyslogLevel::Crit => "crit",
            SyslogLevel::Err => "err",
            SyslogLevel::Warning => "warning",
            SyslogLevel::Notice => "notice",
            SyslogLevel::Info => "info",
            SyslogLevel::Debug => "debug",
        }
    }
    /// The syslog(3) priority number (0 = emerg .. 7 = debug).
    pub fn code(self) -> u32 {
        self as u32
    }
    /// All levels.
    pub const ALL: [SyslogLevel; 8] = [
        SyslogLevel::Emerg,
        SyslogLevel::Alert,
        SyslogLevel::Crit,
        SyslogLevel::Err,
        SyslogLevel::Warning,
        SyslogLevel::Notice,
        SyslogLevel::Info,
        SyslogLevel::Debug,
    ];
}
