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

use std::net::IpAddr;
use std::path::PathBuf;

use xinetd_acl::hosts_access::{daemon_name, NameLookup, ServerKind};
use xinetd_acl::{ClientName, HostsAccess, WrapDecision};
use xinetd_log::FailReason;

use super::refusal::Refusal;
use crate::dlog::{Level, ProgramLog};
use crate::service::{Server, Service};

/// Default allow file (hosts_access(5)).
pub const HOSTS_ALLOW: &str = "/etc/hosts.allow";
/// Default deny file (hosts_access(5)).
pub const HOSTS_DENY: &str = "/etc/hosts.deny";

/// The outcome of [`Wrappers::check`].
pub enum Check {
    /// Serve it (or the service has `NOLIBWRAP`).
    Allow,
    /// Refused by a rule: log the refusal (INFO line + `FAIL: <id> libwrap`).
    Deny(Refusal),
    /// A name pattern needs the client's verified host name.
    Lookup(NameLookup),
}

/// The loaded hosts files.
pub struct Wrappers {
    allow: PathBuf,
    deny: PathBuf,
    access: HostsAccess,
}

impl Wrappers {
    /// Reads both files (missing files are empty, as in libwrap); problems are logged.
    pub fn load(allow: PathBuf, deny: PathBuf, log: &mut ProgramLog) -> Wrappers {
        let mut w = Wrappers {
            allow,
            deny,
            access: HostsAccess::default(),
        };
        w.reload(log);
        w
    }

    /// Rules given as they are (unit tests of the admission pipeline).
    #[cfg(test)]
    pub fn from_rules(access: HostsAccess) -> Wrappers {
        Wrappers {
            allow: PathBuf::new(),
            deny: PathBuf::new(),
            access,
        }
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
            // F-250: INFO (libwrap's deny_severity is LOG_INFO in xinetd).
            WrapDecision::Deny(d) => Check::Deny(Refusal::with_message(
                FailReason::Libwrap,
                Level::Info,
                d.log_text(&svc.id, &daemon, &peer.to_string()),
            )),
            // WrapDecision is non_exhaustive: a verdict this daemon does not know refuses.
            _ => Check::Deny(Refusal::plain(FailReason::Libwrap)),
        }
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
