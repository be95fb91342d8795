//! `rlimit_as`, `rlimit_cpu`, `rlimit_data`, `rlimit_rss`, `rlimit_stack` (F-133, F-134) and
//! `rlimit_files` with xinetd 2.3.15.3's RLIMIT_NOFILE rule (F-012, F-135).

use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};

/// The per-service resource limits a server gets (soft = hard for every one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rlimit {
    /// `rlimit_as`: address space, bytes.
    As,
    /// `rlimit_cpu`: CPU time, seconds.
    Cpu,
    /// `rlimit_data`: data segment, bytes.
    Data,
    /// `rlimit_rss`: resident set, bytes.
    Rss,
    /// `rlimit_stack`: stack, bytes.
    Stack,
}

impl Rlimit {
    pub(crate) const ALL: [Rlimit; 5] = [
        Rlimit::As,
        Rlimit::Cpu,
        Rlimit::Data,
        Rlimit::Rss,
        Rlimit::Stack,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A limit value: a number (bytes, seconds or descriptors) or `UNLIMITED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitValue {
    /// A finite limit.
    Limit(u64),
    /// `UNLIMITED` (`RLIM_INFINITY`).
    Unlimited,
}

impl RlimitValue {
    pub(crate) fn raw(self) -> u64 {
        match self {
            RlimitValue::Limit(n) => n,
            RlimitValue::Unlimited => RLIM_INFINITY,
        }
    }
}

/// The RLIMIT_NOFILE every server gets when `rlimit_files` is not set (F-012, 2.3.15.3):
/// soft = hard = the daemon's hard limit, or 4096 when that hard limit is infinite.
pub fn default_nofile() -> u64 {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) if hard != RLIM_INFINITY => hard,
        _ => 4096,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_nofile_is_the_hard_limit() {
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let expect = if hard == RLIM_INFINITY { 4096 } else { hard };
        assert_eq!(default_nofile(), expect);
    }

    #[test]
    fn unlimited_is_rlim_infinity() {
        assert_eq!(RlimitValue::Unlimited.raw(), RLIM_INFINITY);
        assert_eq!(RlimitValue::Limit(64).raw(), 64);
    }
}
