//! Errors (the value disables the service) and warnings (the value is logged and skipped).
//!
//! xinetd distinguishes two outcomes for a bad `only_from` / `no_access` / `access_times`
//! value: some are only logged and the entry is dropped (`addrlist_op failed to parse
//! 300.1.2.3`, F-208), others make the attribute fail, which disables the whole service
//! (`Bad address: 10.0.{1,2}.5`, `incorrect time interval`). [`AclError`] is the second kind,
//! [`AclWarning`] the first. Both carry the offending text, and both can give the exact line
//! xinetd would have logged ([`XinetdMessage`]) so the daemon's log matches the original.

use std::fmt;

/// Syslog level xinetd uses for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Level {
    /// `LOG_ERR`.
    Error,
    /// `LOG_WARNING`.
    Warning,
}

/// One line exactly as xinetd 2.3.15.3 logs it (without the `[file=..] [line=..]` suffix that
/// the configuration parser appends).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct XinetdMessage {
    /// Level the line is logged at.
    pub level: Level,
    /// Name of the C function that logs it, printed as `{function}` in `-d` mode and in CRITICAL
    /// lines (F-702, F-703).
    pub function: &'static str,
    /// The message text.
    pub text: String,
}

impl fmt::Display for XinetdMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn msg(level: Level, function: &'static str, text: String) -> XinetdMessage {
    XinetdMessage {
        level,
        function,
        text,
    }
}

/// A value that makes the attribute fail: xinetd logs it and disables the service
/// (`Error parsing attribute only_from - DISABLING SERVICE`, logged by the configuration layer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// A value contains `,` but no `{` (F-208).
    #[error(
        "address `{text}` has a comma in it - remove the comma (separate addresses with spaces)"
    )]
    CommaInAddress {
        /// The offending value.
        text: String,
    },
    /// A factorized or dotted value with `..` or a leading `.` before any digit (F-204).
    #[error("bad address `{text}`: consecutive dots")]
    ConsecutiveDots {
        /// The offending value.
        text: String,
    },
    /// A factorized value with an empty element, e.g. `10.0.{1,,2}` or `10.{}` (F-204).
    #[error("bad address `{text}`: consecutive commas (empty element in braces)")]
    ConsecutiveCommas {
        /// The offending value.
        text: String,
    },
    /// A factorized value that is malformed: text after `}`, a missing `}`, a non-digit inside
    /// the braces, an octet above 255 or more than four octets (F-204).
    #[error("bad address `{text}`: {reason}")]
    BadFactorizedAddress {
        /// The offending value.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `access_times` given without any interval.
    #[error("attribute access_times expects at least 1 value and none was given")]
    NoTimeIntervals,
    /// An interval that is not `H:MM-H:MM` (a field ended with the wrong character) (F-220).
    #[error("incorrect time interval `{interval}`: expected hour:min-hour:min, e.g. 8:00-17:30")]
    IncorrectTimeInterval {
        /// The offending interval.
        interval: String,
    },
    /// An hour outside 0-23 or a minute outside 0-59 (F-220).
    #[error("invalid time interval `{interval}`: hours range from 0 to 23 and minutes from 0 to 59{}",
        if .interval.contains("24:") { " (use 23:59 for the end of the day)" } else { "" })]
    TimeOutOfRange {
        /// The offending interval.
        interval: String,
    },
    /// An interval whose start is not strictly before its end (F-220): xinetd does not wrap
    /// past midnight.
    #[error("invalid time interval `{interval}`: the start must be before the end and intervals cannot cross midnight (split it, e.g. 22:00-23:59 0:00-6:00)")]
    StartNotBeforeEnd {
        /// The offending interval.
        interval: String,
    },
}

impl AclError {
    /// The value the error is about (empty for [`AclError::NoTimeIntervals`]).
    pub fn text(&self) -> &str {
        match self {
            AclError::CommaInAddress { text }
            | AclError::ConsecutiveDots { text }
            | AclError::ConsecutiveCommas { text }
            | AclError::BadFactorizedAddress { text, .. } => text,
            AclError::IncorrectTimeInterval { interval }
            | AclError::TimeOutOfRange { interval }
            | AclError::StartNotBeforeEnd { interval } => interval,
            AclError::NoTimeIntervals => "",
        }
    }

    /// A hint for the user, when there is an obvious fix.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            AclError::CommaInAddress { .. } => Some("separate addresses with spaces"),
            AclError::TimeOutOfRange { interval } if interval.contains("24:") => {
                Some("24:00 is not a valid time; use 23:59 for the end of the day")
            }
            AclError::StartNotBeforeEnd { .. } => {
                Some("intervals cannot cross midnight; split it in two, e.g. 22:00-23:59 0:00-6:00")
            }
            AclError::IncorrectTimeInterval { .. } => {
                Some("write each interval as hour:min-hour:min, separated by spaces")
            }
            _ => None,
        }
    }

    /// The lines xinetd 2.3.15.3 logs for this error, in order (the configuration layer then
    /// adds `Error parsing attribute ... - DISABLING SERVICE`).
    pub fn xinetd_messages(&self) -> Vec<XinetdMessage> {
        use Level::Error;
        match self {
            AclError::CommaInAddress { text } => vec![msg(
                Error,
                "parse_inet_addresses",
                format!("Address: {text} has a comma in it - remove the comma"),
            )],
            AclError::ConsecutiveDots { text } => vec![
                msg(
                    Error,
                    "factorized_addr",
                    format!("Bad address: {text}. Consecutive dots"),
                ),
                msg(
                    Error,
                    "parse_inet_addresses",
                    format!("Failed adding: {text}"),
                ),
            ],
            AclError::ConsecutiveCommas { text } => vec![
                msg(
                    Error,
                    "factorized_addr",
                    format!("Bad address: {text}. Consecutive commas"),
                ),
                msg(
                    Error,
                    "parse_inet_addresses",
                    format!("Failed adding: {text}"),
                ),
            ],
            AclError::BadFactorizedAddress { text, .. } => vec![
                msg(Error, "factorized_addr", format!("Bad address: {text}")),
                msg(
                    Error,
                    "parse_inet_addresses",
                    format!("Failed adding: {text}"),
                ),
            ],
            AclError::NoTimeIntervals => vec![msg(
                Level::Warning,
                "access_times_parser",
                "attribute access_times expects at least 1 value and none was given.".into(),
            )],
            AclError::IncorrectTimeInterval { .. } => {
                vec![msg(Error, "get_num", "incorrect time interval".into())]
            }
            AclError::TimeOutOfRange { .. } => {
                vec![msg(Error, "get_num", "invalid time interval".into())]
            }
            AclError::StartNotBeforeEnd { interval } => vec![msg(
                Error,
                "add_interval",
                format!("invalid time interval: {interval}"),
            )],
        }
    }
}

/// A value that is logged and skipped; the service stays enabled (F-208), or a diagnostic of
/// ours about a value xinetd accepts silently but that probably does not do what was meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclWarning {
    /// The value fits no address form (bad numbers, unresolvable host name, unknown network
    /// name): xinetd logs `failed to parse X` and drops the value. If it was the only value of
    /// `only_from`, the list is now empty and nobody is allowed.
    #[error("failed to parse address `{text}`{}: value ignored", match .detail { Some(d) => format!(" ({d})"), None => String::new() })]
    FailedToParse {
        /// The offending value.
        text: String,
        /// Why a name did not resolve, when a resolver said so.
        detail: Option<String>,
    },
    /// An explicit mask longer than the address (`10.0.0.0/40`, `::1/200`): xinetd silently
    /// uses the full length; so do we, and say so.
    #[error("mask of `{text}` is longer than {max} bits; treated as /{max}")]
    MaskTooLong {
        /// The offending value.
        text: String,
        /// The longest mask of the family (32 or 128).
        max: u8,
    },
    /// Characters after the mask digits (`10.0.0.0/8x`): xinetd's `sscanf("%u")` ignores them.
    #[error("text after the mask of `{text}` ignored")]
    TrailingTextAfterMask {
        /// The offending value.
        text: String,
    },
    /// `::` is an exact address in xinetd and matches no client at all (F-201, F-984), unlike
    /// `0.0.0.0` which matches every IPv4 client.
    #[error(
        "`{text}` matches no client (it is an exact address); use ::/0 to match every IPv6 client"
    )]
    UnspecifiedIpv6MatchesNothing {
        /// The offending value.
        text: String,
    },
}

impl AclWarning {
    /// The value the warning is about.
    pub fn text(&self) -> &str {
        match self {
            AclWarning::FailedToParse { text, .. }
            | AclWarning::MaskTooLong { text, .. }
            | AclWarning::TrailingTextAfterMask { text }
            | AclWarning::UnspecifiedIpv6MatchesNothing { text } => text,
        }
    }

    /// The line xinetd 2.3.15.3 logs for this value, or `None` when xinetd accepts it silently
    /// (the warning is then a diagnostic of ours, to be logged at WARNING level).
    pub fn xinetd_message(&self) -> Option<XinetdMessage> {
        match self {
            AclWarning::FailedToParse { text, .. } => Some(msg(
                Level::Error,
                "addrlist_op",
                format!("failed to parse {text}"),
            )),
            _ => None,
        }
    }
}
