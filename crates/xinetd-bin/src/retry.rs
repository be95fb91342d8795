//! xinetd's retry of a failed `fork()` (F-420, F-141, F-308).
//!
//! When a server cannot be forked (EAGAIN, ENOMEM), xinetd logs `<id>: fork failed: <error>`
//! and, unless the service has `flags = NORETRY`, keeps the request in a retry table: every
//! [`RETRY_INTERVAL`] it checks the request again and forks again. A request whose server
//! failed to fork [`MAX_FORK_FAILURES`] times in a row is given up with
//! `service <id>: too many consecutive fork failures` and `FAIL: <id> fork`; with `NORETRY`
//! the first failure gives `FAIL: <id> fork` at once. A reload that removes the service drops
//! its retries with the NOTICE `dropping retry attempt for service <id>`.
//!
//! The table only keeps what a new attempt needs (the client's socket, the limit tokens, the
//! services); the event loop owns the timer and the spawning.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::admission::Hold;
use crate::service::Service;

/// xinetd's `RETRY_INTERVAL`.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// xinetd's `MAX_FORK_FAILURES`: after this many failed forks for one request, give up.
pub const MAX_FORK_FAILURES: u32 = 5;

/// What to do after a fork failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Keep the request and try again in [`RETRY_INTERVAL`].
    Retry,
    /// `NORETRY`: log `FAIL: <id> fork` now.
    Fail,
    /// The retries are exhausted: `too many consecutive fork failures`, then the FAIL line.
    GiveUp,
}

/// The decision of xinetd's `svc_request`/`server_retry` after the `failures`-th failed fork
/// of one request (counting this one).
pub fn after_failure(failures: u32, noretry: bool) -> AfterFailure {
    if failures >= MAX_FORK_FAILURES {
        // `SERVER_FORKLIMIT`: from the retry timer this is the give-up message; a first
        // attempt never reaches the limit.
        AfterFailure::GiveUp
    } else if noretry {
        AfterFailure::Fail
    } else {
        AfterFailure::Retry
    }
}

/// A request waiting for its next fork attempt.
pub struct Retry {
    /// The daemon's key of the service.
    pub key: u64,
    /// The service that logs START/EXIT/FAIL.
    pub log_svc: Service,
    /// The service whose server is started (a TCPMUX client for tcpmux).
    pub spec_svc: Service,
    /// The client's socket (or the listening socket of a `wait = yes` service).
    pub fd: OwnedFd,
    /// The client.
    pub peer: Option<SocketAddr>,
    /// The request's hold, kept while it waits (xinetd keeps the server entry too).
    pub hold: Option<Hold>,
    /// `wait = yes` service.
    pub wait: bool,
    /// Log START when it works.
    pub log_start: bool,
    /// Failed forks so far.
    pub failures: u32,
    /// The server's per-connection variables.
    pub env: Vec<String>,
    /// Extension: a Unix-domain client's credentials.
    pub credentials: Option<crate::admission::credentials::Credentials>,
    /// When to try again.
    pub due: Instant,
    /// A TLS connection's server keeps its `SSL_*` environment (issue 15).
    pub tls: Option<Box<crate::daemon::TlsLaunch>>,
}

/// The retry table.
#[derive(Default)]
pub struct RetryTable {
    entries: Vec<Retry>,
}

impl RetryTable {
    /// The waiting requests (the state dump's retry table, F-850).
    pub fn entries(&self) -> &[Retry] {
        &self.entries
    }

    /// Adds a request.
    pub fn schedule(&mut self, r: Retry) {
        self.entries.push(r);
    }

    /// When the next attempt is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.iter().map(|r| r.due).min()
    }

    /// Requests whose attempt is due at `now`.
    pub fn due(&mut self, now: Instant) -> Vec<Retry> {
        let (due, keep) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|r| r.due <= now);
        self.entries = keep;
        due
    }

    /// Removes the requests of a removed service (reload).
    pub fn cancel(&mut self, key: u64) -> Vec<Retry> {
        let (gone, keep) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|r| r.key == key);
        self.entries = keep;
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_forks_then_give_up_and_noretry_fails_at_once() {
        // First attempt + 4 retries: the 5th failure gives up (xinetd's SERVER_FORKLIMIT).
        let steps: Vec<AfterFailure> = (1..=5).map(|n| after_failure(n, false)).collect();
        assert_eq!(
            steps,
            [
                AfterFailure::Retry,
                AfterFailure::Retry,
                AfterFailure::Retry,
                AfterFailure::Retry,
                AfterFailure::GiveUp
            ]
        );
        assert_eq!(after_failure(1, true), AfterFailure::Fail);
    }
}
