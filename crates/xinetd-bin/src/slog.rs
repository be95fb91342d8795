//! Service log lines (START / EXIT / FAIL, F-720..F-726) through xinetd-log.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xinetd_log::{ExitStatus, FailReason, Peer, Record, ServiceRecords, WriteReport};

/// How a request was served, for the `pid=` field and EXIT gating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// An external server with this pid.
    Process(i32),
    /// An inline one-shot builtin (daytime, time, dgram builtins): `pid=0`, no EXIT (F-720).
    Inline,
    /// An inline stream builtin that holds the connection (echo, discard, chargen): xinetd
    /// forks for these and logs EXIT; we log `pid=0` and EXIT when the connection closes.
    Held,
}

/// Where a service's records go.
pub enum Destination {
    /// Its own syslog or FILE log (`log_type` in the service).
    Own(Box<xinetd_log::ServiceLog>),
    /// The "common" FILE log of `defaults`, one file (one descriptor, one size count) shared
    /// by every service that inherits it (F-711); its limits say `common` (F-712).
    /// `Arc<Mutex>` because a reload opens it on its worker thread (issue 16); afterwards only
    /// the loop writes through it, so the lock is never contended.
    Common(Arc<Mutex<xinetd_log::ServiceLog>>),
}

/// The shared FILE logs of one configuration load, by path: the services that inherit
/// `log_type = FILE` from `defaults` write to the same [`Destination::Common`].
#[derive(Default)]
pub struct CommonLogs {
    open: Vec<(std::path::PathBuf, Arc<Mutex<xinetd_log::ServiceLog>>)>,
}

impl CommonLogs {
    /// The common log of `path`, opened (append/create, with `limits`) on first use.
    pub fn get(
        &mut self,
        path: &std::path::Path,
        limits: Option<xinetd_log::FileLimits>,
        format: xinetd_log::FileFormat,
    ) -> Result<Arc<Mutex<xinetd_log::ServiceLog>>, xinetd_log::LogError> {
        if let Some((_, l)) = self.open.iter().find(|(p, _)| p == path) {
            return Ok(l.clone());
        }
        let (file, _diags) = xinetd_log::FileLog::open(path, "common", limits)?;
        let l = Arc::new(Mutex::new(xinetd_log::ServiceLog::File(
            file.with_format(format),
        )));
        self.open.push((path.to_owned(), l.clone()));
        Ok(l)
    }
}

/// The log of one service: xinetd-log's record formatter and destination.
pub struct ServiceLog {
    records: ServiceRecords,
    dest: Option<Destination>,
}

impl ServiceLog {
    /// A service log writing `records` to `dest` (`None`: the service does not log).
    pub fn new(records: ServiceRecords, dest: Option<Destination>) -> ServiceLog {
        ServiceLog { records, dest }
    }

    fn write(&mut self, r: Option<Record>) -> Option<WriteReport> {
        let r = r?;
        match self.dest.as_mut()? {
            Destination::Own(d) => Some(d.write(&r)),
            Destination::Common(d) => Some(
                d.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .write(&r),
            ),
        }
    }

    /// START (F-720).
    pub fn start(&mut self, served: Served, peer: Option<SocketAddr>) -> Option<WriteReport> {
        let r = self
            .records
            .start(server(served), peer_of(peer))
            .map(|r| with_port(r, peer));
        self.write(r)
    }

    /// START with the client given as a log peer (a Unix-domain client's credentials).
    pub fn start_peer(&mut self, served: Served, peer: Peer) -> Option<WriteReport> {
        let r = self.records.start(server(served), peer);
        self.write(r)
    }

    /// START with the TLS summary (issue 15).
    pub fn start_tls(
        &mut self,
        served: Served,
        peer: Option<SocketAddr>,
        tls: &str,
    ) -> Option<WriteReport> {
        let r = self.records.start_tls(server(served), peer_of(peer), tls);
        self.write(r)
    }

    /// FAIL with a detail after the reason word.
    pub fn fail_detail(
        &mut self,
        reason: FailReason,
        detail: &str,
        peer: Option<SocketAddr>,
    ) -> Option<WriteReport> {
        let r = self.records.fail_detail(reason, detail, peer_of(peer));
        self.write(r)
    }

    /// EXIT (F-723).
    pub fn exit(
        &mut self,
        served: Served,
        status: Option<i32>,
        signal: Option<i32>,
        d: Duration,
    ) -> Option<WriteReport> {
        let st = match (status, signal) {
            (_, Some(s)) => ExitStatus::Signaled(s),
            (Some(s), None) => ExitStatus::Exited(s),
            (None, None) => ExitStatus::Exited(0),
        };
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let r = self.records.exit(server(served), st, secs).map(|mut r| {
            r.set_duration(d);
            r
        });
        self.write(r)
    }

    /// Applies an ident lookup made because `USERID` is in `log_on_success` (F-740, F-142):
    /// writes `USERID:` (or `NOID:` for an `IDONLY` refusal) and returns whether the client
    /// may be served, the write report and the program-log messages.
    pub fn ident(
        &mut self,
        peer: SocketAddr,
        result: &xinetd_log::IdentResult,
        idonly: bool,
    ) -> (bool, Option<WriteReport>, Vec<xinetd_log::Diagnostic>) {
        let o = self
            .records
            .ident_before_start(Peer::Addr(peer.ip()), result, idonly);
        let rep = self.write(o.record);
        (o.admit, rep, o.diagnostics)
    }

    /// The lookup made for a refused request (`USERID` in `log_on_failure`, F-741):
    /// `USERID:` on success, else the diagnostics for the program log.
    pub fn ident_after_refusal(
        &mut self,
        peer: SocketAddr,
        result: &xinetd_log::IdentResult,
    ) -> (Option<WriteReport>, Vec<xinetd_log::Diagnostic>) {
        let (record, diags) = self
            .records
            .ident_after_refusal(Peer::Addr(peer.ip()), result);
        (self.write(record), diags)
    }

    /// TRAFFIC (F-603, F-725).
    pub fn traffic(&mut self, bytes_in: u64, bytes_out: u64) -> Option<WriteReport> {
        let r = self.records.traffic(bytes_in, bytes_out);
        self.write(r)
    }

    /// STDERR (extension `log_stderr = yes`): one line of a server's stderr.
    pub fn stderr(&mut self, pid: i32, line: &str) -> Option<WriteReport> {
        let r = self.records.stderr(pid.unsigned_abs(), line);
        self.write(Some(r))
    }

    /// FAIL (F-721).
    pub fn fail(&mut self, reason: FailReason, peer: Option<SocketAddr>) -> Option<WriteReport> {
        let r = self
            .records
            .fail(reason, peer_of(peer))
            .map(|r| with_port(r, peer));
        self.write(r)
    }

    /// FAIL with the client given as a log peer (a Unix-domain client's credentials).
    pub fn fail_peer(&mut self, reason: FailReason, peer: Peer) -> Option<WriteReport> {
        let r = self.records.fail(reason, peer);
        self.write(r)
    }
}

fn server(s: Served) -> xinetd_log::Server {
    match s {
        Served::Process(pid) => xinetd_log::Server::Forked(pid.unsigned_abs()),
        Served::Held => xinetd_log::Server::Held,
        Served::Inline => xinetd_log::Server::Inline,
    }
}

/// Structured logs carry the client's port too (xinetd's text never prints it).
fn with_port(mut r: Record, peer: Option<SocketAddr>) -> Record {
    if let Some(p) = peer {
        r.set_remote_port(p.port());
    }
    r
}

fn peer_of(p: Option<SocketAddr>) -> Peer {
    match p {
        Some(p) => Peer::Addr(p.ip()),
        None => Peer::NoAddress,
    }
}
