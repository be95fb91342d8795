//! tcp_wrappers (F-250, F-307): /etc/hosts.allow and /etc/hosts.deny, as Debian's
//! libwrap-enabled xinetd consults them, evaluated with xinetd-acl's `hosts_access`.
//!
//! Differences from xinetd, on purpose (docs/compat.md, "Issue 8 features"):
//!
//! * both files are parsed once per (re)load, not re-read by libwrap for every connection;
//!   the paths can be changed with `-hosts_allow FILE` / `-hosts_deny FILE` (tests);
//! * the check runs in the daemon after the parent-side checks (address, limits), where xinetd
//!   runs it in the forked child: the outcome and the log lines are the same;
//! * the client's host name, needed only by name patterns, is looked up on a resolver thread
//!   that wakes the event loop (the same mechanism as `only_from` host names), never on the
//!   loop itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use xinetd_acl::hosts_access::{daemon_name, NameLookup, ServerKind};
use xinetd_acl::{ClientName, HostsAccess, WrapDecision};

use crate::dlog::{Level, ProgramLog};
use crate::policy::{Admission, Refusal};
use crate::service::{Server, Service};

/// Default allow file (hosts_access(5)).
pub const HOSTS_ALLOW: &str = "/etc/hosts.allow";
/// Default deny file (hosts_access(5)).
pub const HOSTS_DENY: &str = "/etc/hosts.deny";
/// Requests waiting for a libwrap name lookup at most (a flood cannot grow the table).
const MAX_PARKED: usize = 1024;
/// Longest a request waits for its name lookup before it is refused (as `only_from` name
/// lookups in the daemon); the resolver thread skips requests older than this.
pub const LOOKUP_WAIT: Duration = Duration::from_secs(10);

/// The outcome of [`Wrappers::check`].
pub enum Check {
    /// Serve it (or the service has `NOLIBWRAP`).
    Allow,
    /// Refused by a rule: log the refusal (INFO line + `FAIL: <id> libwrap`).
    Deny(Refusal),
    /// A name pattern needs the client's verified host name: [`Wrappers::park`] the request.
    Lookup(NameLookup),
}

/// A request waiting for the client's host name.
pub struct WrapParked {
    /// The service key in the daemon.
    pub key: u64,
    /// The service.
    pub svc: Service,
    /// The connection (stream services) or `None` (datagram).
    pub stream: Option<mio::net::TcpStream>,
    /// The datagram (datagram services).
    pub data: Vec<u8>,
    /// The client.
    pub peer: SocketAddr,
    /// Limit tokens already held.
    pub admission: Admission,
}

/// The loaded hosts files and the pending name lookups.
pub struct Wrappers {
    allow: PathBuf,
    deny: PathBuf,
    access: HostsAccess,
    lookups: Option<WrapLookups>,
    parked: HashMap<u64, (WrapParked, Instant)>,
    next_id: u64,
}

impl Wrappers {
    /// Reads both files (missing files are empty, as in libwrap); problems are logged.
    pub fn load(allow: PathBuf, deny: PathBuf, log: &mut ProgramLog) -> Wrappers {
        let mut w = Wrappers {
            allow,
            deny,
            access: HostsAccess::default(),
            lookups: None,
            parked: HashMap::new(),
            next_id: 1,
        };
        w.reload(log);
        w
    }

    /// Re-reads the files (SIGHUP). A file that exists but cannot be read keeps the rules
    /// loaded before: a site that denies everything must not become open on a read error.
    pub fn reload(&mut self, log: &mut ProgramLog) {
        match HostsAccess::load(&self.allow, &self.deny) {
            Ok((access, diags)) => {
                for d in diags {
                    let level = match d.severity {
                        xinetd_acl::hosts_access::Severity::Error => Level::Err,
                        _ => Level::Warning,
                    };
                    log.msg(level, &format!("libwrap: {d}"));
                }
                self.access = access;
            }
            Err(e) => log.msg(
                Level::Err,
                &format!("libwrap: {e}; keeping the previous hosts.allow/hosts.deny rules"),
            ),
        }
    }

    /// libwrap's verdict for `peer` on `svc` (F-250), with what is known of the name.
    pub fn check(
        &self,
        svc: &Service,
        local: Option<IpAddr>,
        peer: IpAddr,
        name: &ClientName,
    ) -> Check {
        let c = &svc.rt.conf;
        // F-146, F-976: NOLIBWRAP, and TCP RPC services, skip libwrap.
        if c.has_flag(xinetd_conf::ServiceFlag::NoLibwrap)
            || (c.has_type(xinetd_conf::ServiceType::Rpc) && svc.listen.stream)
        {
            return Check::Allow;
        }
        let daemon = service_daemon_name(svc);
        match self.access.decide_at(&daemon, local, peer, name) {
            WrapDecision::Allow(_) => Check::Allow,
            WrapDecision::NeedsLookup(l) => Check::Lookup(l),
            WrapDecision::Deny(d) => Check::Deny(Refusal {
                reason: "libwrap",
                // F-250: INFO (libwrap's deny_severity is LOG_INFO in xinetd).
                messages: vec![(Level::Info, d.log_text(&svc.id, &daemon, &peer.to_string()))],
                deactivate_until: None,
            }),
            // WrapDecision is non_exhaustive: a verdict this daemon does not know refuses.
            _ => Check::Deny(Refusal {
                reason: "libwrap",
                messages: Vec::new(),
                deactivate_until: None,
            }),
        }
    }

    /// Queues a name lookup for `p`; `false` (and `p` back) when too many are pending or no
    /// resolver thread can be started: the caller refuses the request.
    pub fn park(
        &mut self,
        lookup: NameLookup,
        p: WrapParked,
        waker: &Arc<mio::Waker>,
    ) -> Result<(), Box<WrapParked>> {
        if self.parked.len() >= MAX_PARKED {
            return Err(Box::new(p));
        }
        if self.lookups.is_none() {
            match WrapLookups::start(waker.clone(), Duration::from_secs(5)) {
                Ok(l) => self.lookups = Some(l),
                Err(_) => return Err(Box::new(p)),
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let now = Instant::now();
        let sent = self
            .lookups
            .as_ref()
            .is_some_and(|l| l.tx.send((id, lookup, now)).is_ok());
        if !sent {
            return Err(Box::new(p));
        }
        self.parked.insert(id, (p, now));
        Ok(())
    }

    /// When the oldest waiting request times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.parked.values().map(|(_, t)| *t + LOOKUP_WAIT).min()
    }

    /// Requests that waited [`LOOKUP_WAIT`] for their lookup: the caller refuses them.
    pub fn expired(&mut self, now: Instant) -> Vec<WrapParked> {
        let old: Vec<u64> = self
            .parked
            .iter()
            .filter(|(_, (_, t))| *t + LOOKUP_WAIT <= now)
            .map(|(id, _)| *id)
            .collect();
        old.into_iter()
            .filter_map(|id| self.parked.remove(&id).map(|(p, _)| p))
            .collect()
    }

    /// Parked requests whose lookup finished, with the verified client name.
    pub fn answers(&mut self) -> Vec<(WrapParked, ClientName)> {
        let Some(l) = self.lookups.as_ref() else {
            return Vec::new();
        };
        let done: Vec<(u64, ClientName)> = l.rx.try_iter().collect();
        done.into_iter()
            .filter_map(|(id, name)| self.parked.remove(&id).map(|(p, _)| (p, name)))
            .collect()
    }
}

/// The daemon name libwrap is asked about (F-250, F-139, F-605).
pub fn service_daemon_name(svc: &Service) -> String {
    let c = &svc.rt.conf;
    let args: Vec<&str> = c
        .server_args
        .as_ref()
        .map(|a| a.value.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let server = c.server.as_ref().map(|s| s.value.as_str()).unwrap_or("");
    let kind = match svc.server {
        Server::Redirect(_) => ServerKind::Redirect,
        Server::External => ServerKind::External {
            server,
            server_args: &args,
            name_in_args: c.has_flag(xinetd_conf::ServiceFlag::NameInArgs),
        },
        Server::Internal(_) | Server::Sensor => ServerKind::Internal,
    };
    daemon_name(
        c.libwrap.as_ref().map(|l| l.value.as_str()),
        &svc.name,
        kind,
    )
    .to_string()
}

/// The libwrap name lookups: one worker thread (started with the first lookup) that does the
/// reverse and confirming forward lookup and wakes the event loop.
struct WrapLookups {
    tx: mpsc::Sender<(u64, NameLookup, Instant)>,
    rx: mpsc::Receiver<(u64, ClientName)>,
}

impl WrapLookups {
    fn start(waker: Arc<mio::Waker>, timeout: Duration) -> std::io::Result<WrapLookups> {
        let (tx, req_rx) = mpsc::channel::<(u64, NameLookup, Instant)>();
        let (ans_tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("xinetd-libwrap".into())
            .spawn(move || {
                let resolver = xinetd_acl::SystemResolver::new(timeout);
                while let Ok((id, lookup, asked)) = req_rx.recv() {
                    if asked.elapsed() >= LOOKUP_WAIT {
                        // Already refused by the loop: do not spend time on it.
                        continue;
                    }
                    // A failed lookup gives `unknown`, as in libwrap.
                    let (name, _) = lookup.perform(&resolver);
                    if ans_tx.send((id, name)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(WrapLookups { tx, rx })
    }
}
