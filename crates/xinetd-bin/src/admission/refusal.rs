//! Why a request was refused, typed from the library that decided to the log record: one
//! reason enum ([`xinetd_log::FailReason`]) crosses from xinetd-limits and xinetd-acl to the
//! `FAIL:` line, with no words parsed back.

use std::net::IpAddr;
use std::time::Instant;

use xinetd_log::FailReason;

use crate::dlog::Level;

/// What the refusal writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A `FAIL: <id> <reason>` record (F-721), with `banner_fail` to a stream client.
    Fail(FailReason),
    /// `flags = IDONLY` and the client's identd gave no name: the `NOID` record was the log
    /// (F-142); the connection is closed without a FAIL record or `banner_fail`.
    NoIdent,
}

impl Reason {
    /// Refusals xinetd makes in the parent, before it forks (cps, load, access_times,
    /// instances, per_source, process limit): only these start a `USERID` lookup when
    /// `log_on_failure` asks for it (F-741). The address and libwrap checks run in xinetd's
    /// child, which logs no USERID for them.
    pub fn is_parent_side(self) -> bool {
        matches!(
            self,
            Reason::Fail(
                FailReason::Cps
                    | FailReason::Load
                    | FailReason::Time
                    | FailReason::ServiceLimit
                    | FailReason::PerSourceLimit
                    | FailReason::ProcessLimit
            )
        )
    }
}

/// A refusal and what goes with it.
#[derive(Debug)]
pub struct Refusal {
    /// What the refusal writes.
    pub reason: Reason,
    /// Daemon-log lines that go with it (e.g. `refused connect from ... due to excessive
    /// load`, the sensor's `Adding ... to the global_no_access list`).
    pub messages: Vec<(Level, String)>,
    /// The cps limiter tripped: close the socket until this time (F-311).
    pub deactivate_until: Option<Instant>,
    /// The SENSOR ban list (or a SENSOR service) refused it; the record says `address`, as
    /// xinetd's does, the metrics say `sensor`.
    pub sensor: bool,
}

impl Refusal {
    /// A refusal with no daemon-log line of its own.
    pub fn plain(reason: FailReason) -> Refusal {
        Refusal {
            reason: Reason::Fail(reason),
            messages: Vec::new(),
            deactivate_until: None,
            sensor: false,
        }
    }

    /// A refusal with one daemon-log line.
    pub fn with_message(reason: FailReason, level: Level, text: String) -> Refusal {
        Refusal {
            reason: Reason::Fail(reason),
            messages: vec![(level, text)],
            deactivate_until: None,
            sensor: false,
        }
    }
}

/// The FAIL reason of an xinetd-limits refusal.
pub fn limits_reason(r: xinetd_limits::Reason) -> FailReason {
    use xinetd_limits::Reason as L;
    match r {
        L::Cps => FailReason::Cps,
        L::Load => FailReason::Load,
        L::Time => FailReason::Time,
        L::ServiceLimit => FailReason::ServiceLimit,
        L::PerSourceLimit => FailReason::PerSourceLimit,
        L::ProcessLimit => FailReason::ProcessLimit,
        L::Address => FailReason::Address,
    }
}

/// An xinetd-limits refusal with its log lines and cps deactivation.
pub fn from_limits(r: xinetd_limits::Refusal) -> Refusal {
    let messages = r
        .messages()
        .map(|m| (level(m.level), m.text.clone()))
        .collect();
    Refusal {
        reason: Reason::Fail(limits_reason(r.reason)),
        messages,
        deactivate_until: r.deactivation.map(|d| d.until),
        sensor: false,
    }
}

/// An xinetd-acl denial (`only_from`/`no_access`/`access_times`) with xinetd's extra line for
/// a tie (F-211).
pub fn from_acl(id: &str, ip: Option<IpAddr>, d: &xinetd_acl::Denial) -> Refusal {
    // xinetd-acl decides only these two reasons (its docs); anything it may add later is an
    // address decision too.
    let reason = if d.fail_reason() == xinetd_acl::FailReason::Time {
        FailReason::Time
    } else {
        FailReason::Address
    };
    let messages = ip
        .and_then(|ip| d.xinetd_message(id, ip))
        .map(|m| (Level::Err, m.text))
        .into_iter()
        .collect();
    Refusal {
        reason: Reason::Fail(reason),
        messages,
        deactivate_until: None,
        sensor: false,
    }
}

/// A daemon-log level for an xinetd-limits message.
pub fn level(l: xinetd_limits::Level) -> Level {
    match l {
        xinetd_limits::Level::Crit => Level::Crit,
        xinetd_limits::Level::Err => Level::Err,
        _ => Level::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limits_reason_keeps_its_word() {
        use xinetd_limits::Reason as L;
        for r in [
            L::Cps,
            L::Load,
            L::Time,
            L::ServiceLimit,
            L::PerSourceLimit,
            L::ProcessLimit,
            L::Address,
        ] {
            assert_eq!(limits_reason(r).as_str(), r.as_str(), "{r:?}");
        }
    }

    #[test]
    fn only_parent_side_refusals_ask_for_userid() {
        let parent = [
            FailReason::Cps,
            FailReason::Load,
            FailReason::Time,
            FailReason::ServiceLimit,
            FailReason::PerSourceLimit,
            FailReason::ProcessLimit,
        ];
        for r in parent {
            assert!(Reason::Fail(r).is_parent_side(), "{r:?}");
        }
        for r in [FailReason::Address, FailReason::Libwrap, FailReason::Fork] {
            assert!(!Reason::Fail(r).is_parent_side(), "{r:?}");
        }
        assert!(!Reason::NoIdent.is_parent_side());
    }
}
