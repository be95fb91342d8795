//! Descriptors are a budget (issue 17). xinetd holds a connection in a forked child; this
//! daemon holds inline builtins, redirect relays, admin and tcpmux sessions and ident queries
//! in its own process, so their descriptors come out of its own `RLIMIT_NOFILE`. The budget
//! keeps a reserve for the daemon's own work (accepting a connection only to refuse it,
//! logging, the dump, reloading, spawning), and refuses new in-loop work cleanly when the
//! held descriptors reach it, instead of letting `accept()` fail with EMFILE (which pauses
//! the service, and clients see resets).
//!
//! What the daemon holds is estimated without a system call: the route table has one entry
//! per polled socket (listeners, session sockets, ident queries), plus the connections waiting
//! in the admission pipeline or for a `USERID` after a refusal, plus the socket copies kept for
//! fork retries. What else is open (the poll, the signal pipe, logs) is measured from
//! /proc/self/fd at start-up and after each reload, as the difference.

use std::time::{Duration, Instant};

/// Descriptors kept free for the daemon's own work.
pub const RESERVE: usize = 64;
/// The budget line in the daemon log is written at most this often.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// A daemon-log line about something that may repeat for every connection, written at most
/// once a second with the number of times it stands for.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    count: u64,
}

impl Throttle {
    /// One more occurrence; `Some(n)` (the occurrences since the last line) when a line is
    /// due.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < WARN_EVERY)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

/// The descriptor budget.
#[derive(Debug)]
pub struct Budget {
    /// The soft `RLIMIT_NOFILE`.
    limit: usize,
    /// Descriptors open besides the held ones, at the last measurement.
    base: usize,
    warning: Throttle,
}

impl Budget {
    /// A budget for the current soft `RLIMIT_NOFILE`.
    pub fn new() -> Budget {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| usize::try_from(soft).unwrap_or(usize::MAX))
            .unwrap_or(1024);
        Budget {
            limit,
            base: 0,
            warning: Throttle::default(),
        }
    }

    /// Counts what is open now, given the estimate of what is held.
    pub fn measure(&mut self, held: usize) {
        if let Some(open) = open_descriptors() {
            self.base = open.saturating_sub(held);
        }
    }

    /// How many more descriptors in-loop work may take.
    pub fn room(&self, held: usize) -> usize {
        self.limit
            .saturating_sub(self.base)
            .saturating_sub(held)
            .saturating_sub(RESERVE)
    }

    /// The most in-loop work may hold.
    pub fn capacity(&self) -> usize {
        self.limit.saturating_sub(self.base).saturating_sub(RESERVE)
    }

    /// A refusal for lack of descriptors; returns the daemon-log line when one is due (at
    /// most one per second, with the number of refusals it stands for).
    pub fn refused(&mut self, held: usize, now: Instant) -> Option<String> {
        let n = self.warning.hit(now)?;
        Some(format!(
            "descriptor budget spent ({held} held, limit {}, {RESERVE} kept in reserve): \
             refused {n} connection(s) served inside the daemon",
            self.limit
        ))
    }
}

/// Open descriptors of this process.
fn open_descriptors() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count().saturating_sub(1))
}

/// At start-up: the soft `RLIMIT_NOFILE` raised to the hard limit (xinetd raises it too, up
/// to 1024 for its `select()`; the poll here has no such bound). Servers are unaffected: each
/// gets `rlimit_files` or the hard limit (F-012). Returns (before, after) when raised.
pub fn raise_nofile() -> Option<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return None;
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).ok()?;
    Some((soft, hard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keeps_the_reserve_and_warnings_are_rate_limited() {
        let mut b = Budget {
            limit: 256,
            base: 10,
            warning: Throttle::default(),
        };
        assert_eq!(b.capacity(), 256 - 10 - RESERVE);
        assert_eq!(b.room(100), 256 - 10 - 100 - RESERVE);
        assert_eq!(b.room(1000), 0);
        let t = Instant::now();
        assert!(b.refused(182, t).is_some_and(|m| m.contains("refused 1 ")));
        assert!(b.refused(182, t + Duration::from_millis(500)).is_none());
        assert!(b.refused(182, t + Duration::from_millis(900)).is_none());
        let m = b
            .refused(182, t + Duration::from_secs(1))
            .expect("a line a second");
        assert!(m.contains("refused 3 "), "{m}");
    }
}
