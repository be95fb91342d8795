//! The identd queries (`USERID`, F-740, F-741) in flight, each a non-blocking
//! [`xinetd_log::IdentClient`] on its own token. Two kinds: the last step of the admission
//! pipeline (`USERID` in `log_on_success`), whose answer resumes the waiting request, and the
//! lookup xinetd makes after a parent-side refusal (`USERID` in `log_on_failure`), which only
//! logs and holds the refused connection open meanwhile, as xinetd's logging child does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::{Interest, Registry, Token};
use xinetd_log::{IdentClient, IdentResult, IdentTimeout};

use super::WaitId;
use crate::service::Service;

/// Why a query was made.
pub enum Purpose {
    /// The admission pipeline waits for it.
    Admission(WaitId),
    /// A refused request's `USERID` line; the connection stays open until the answer.
    AfterRefusal {
        /// The service that logs it (boxed: services grew with the listening-socket options,
        /// and the pipeline's variant is a mere id).
        svc: Box<Service>,
        /// The client.
        peer: SocketAddr,
        /// The refused connection.
        stream: mio::net::TcpStream,
    },
}

struct Query {
    client: IdentClient,
    purpose: Purpose,
}

/// The queries in flight.
pub struct Idents {
    port: u16,
    queries: HashMap<Token, Query>,
}

impl Idents {
    /// Queries go to `port` of the client (113; `-ident_port` moves it for tests).
    pub fn new(port: u16) -> Idents {
        Idents {
            port,
            queries: HashMap::new(),
        }
    }

    /// Starts a query on `token`. When it cannot even start, the answer is returned at once
    /// (boxed: it is rare, and the purpose holds a connection).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        registry: &Registry,
        token: Token,
        local: SocketAddr,
        peer: SocketAddr,
        timeout: IdentTimeout,
        now: Instant,
        purpose: Purpose,
    ) -> Result<(), Box<(Purpose, IdentResult)>> {
        let mut client = match IdentClient::start(local, peer, self.port, timeout, now) {
            Ok(c) => c,
            Err(failure) => return Err(Box::new((purpose, Err(failure)))),
        };
        let fd = client.as_raw_fd();
        if registry
            .register(
                &mut mio::unix::SourceFd(&fd),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            let r = client
                .poll(now)
                .unwrap_or(Err(xinetd_log::IdentFailure::Timeout));
            return Err(Box::new((purpose, r)));
        }
        self.queries.insert(token, Query { client, purpose });
        Ok(())
    }

    /// Readiness of `token`'s query: its answer, once there is one.
    pub fn ready(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> Option<(Purpose, IdentResult)> {
        let result = self.queries.get_mut(&token)?.client.poll(now)?;
        let q = self.queries.remove(&token)?;
        let fd = q.client.as_raw_fd();
        let _ = registry.deregister(&mut mio::unix::SourceFd(&fd));
        Some((q.purpose, result))
    }

    /// When the next query times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queries
            .values()
            .filter_map(|q| q.client.deadline())
            .min()
    }

    /// Tokens whose query is due: [`Idents::ready`] gives their (timeout) answers.
    pub fn due(&self, now: Instant) -> Vec<Token> {
        self.queries
            .iter()
            .filter(|(_, q)| q.client.deadline().is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect()
    }

    /// Queries made after refusals (at most `-logprocs` at a time, F-741).
    pub fn after_refusal(&self) -> usize {
        self.queries
            .values()
            .filter(|q| matches!(q.purpose, Purpose::AfterRefusal { .. }))
            .count()
    }

    /// The admission waits with a query in flight (the consistency check).
    pub fn waits(&self) -> impl Iterator<Item = WaitId> + '_ {
        self.queries.values().filter_map(|q| match q.purpose {
            Purpose::Admission(id) => Some(id),
            Purpose::AfterRefusal { .. } => None,
        })
    }
}
