//! The verdict: [`HostsAccess`] (both files, parsed) and libwrap's `hosts_access()` over them,
//! answering a [`WrapDecision`] that says which rule decided.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::canonical;
use super::client_name::{ClientName, NameLookup, NameState};
use super::diagnostic::{Diagnostic, HostsAccessError};
use super::pattern::{ClientPattern, DaemonPattern, Tri};
use super::table::{load_table, parse_table, Effect, Rule, RuleTable};
use crate::policy::FailReason;

/// Which file a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// hosts.allow.
    Allow,
    /// hosts.deny.
    Deny,
}

/// Where a rule is: file and (first physical) line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RuleLocation {
    /// Allow or deny file.
    pub table: Table,
    /// The file's path.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for RuleLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Why a client is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrapAllowed {
    /// A rule of hosts.allow matched.
    AllowRule(RuleLocation),
    /// A rule of hosts.deny matched but its options end with `allow`.
    AllowOption(RuleLocation),
    /// No rule matched (libwrap's default).
    NoMatch,
}

/// Why a client is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrapDenial {
    /// A rule of hosts.deny matched.
    DenyRule(RuleLocation),
    /// A rule of hosts.allow matched but its options end with `deny`.
    DenyOption(RuleLocation),
    /// The matching rule's options have a syntax error: libwrap refuses then.
    BadOptions(RuleLocation),
    /// The matching rule has `twist` or `aclexec`, which we do not run (see the module docs).
    UnsupportedCommand(RuleLocation),
}

impl WrapDenial {
    /// The rule that refused the client.
    pub fn rule(&self) -> Option<&RuleLocation> {
        match self {
            WrapDenial::DenyRule(r)
            | WrapDenial::DenyOption(r)
            | WrapDenial::BadOptions(r)
            | WrapDenial::UnsupportedCommand(r) => Some(r),
        }
    }

    /// The reason word of the `FAIL:` line: `libwrap` (F-307).
    pub fn fail_reason(&self) -> FailReason {
        FailReason::Libwrap
    }

    /// The text of the line xinetd logs (at INFO level, from the child) before
    /// `FAIL: <id> libwrap` (F-250):
    /// `libwrap refused connection to <service id> (libwrap=<daemon name>) from <address>`.
    /// `client` is the address as xinetd prints it (`conn_addrstr`, e.g. `::ffff:10.0.0.1` on a
    /// dual-stack service).
    pub fn log_text(&self, service_id: &str, daemon: &str, client: &str) -> String {
        format!("libwrap refused connection to {service_id} (libwrap={daemon}) from {client}")
    }
}

impl fmt::Display for WrapDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WrapDenial::DenyRule(r) => write!(f, "matches {r}"),
            WrapDenial::DenyOption(r) => write!(f, "matches {r} with option deny"),
            WrapDenial::BadOptions(r) => write!(f, "matches {r} whose options are invalid"),
            WrapDenial::UnsupportedCommand(r) => {
                write!(f, "matches {r} with twist/aclexec, which is not run")
            }
        }
    }
}

/// The outcome of [`HostsAccess::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum WrapDecision {
    /// Serve the client.
    Allow(WrapAllowed),
    /// Refuse it: log [`WrapDenial::log_text`] and `FAIL: <id> libwrap`.
    Deny(WrapDenial),
    /// The client's host name could change the outcome: perform the lookup (off the event
    /// loop) and decide again with its result.
    NeedsLookup(NameLookup),
}

impl WrapDecision {
    /// `true` for [`WrapDecision::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, WrapDecision::Allow(_))
    }

    /// `true` for [`WrapDecision::Deny`].
    pub fn is_denied(&self) -> bool {
        matches!(self, WrapDecision::Deny(_))
    }
}

/// The parsed hosts.allow and hosts.deny.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostsAccess {
    allow: RuleTable,
    deny: RuleTable,
}

impl HostsAccess {
    /// Read and parse both files (missing files are empty, like libwrap). Files named by
    /// `/path` patterns are read now too. Problems that libwrap only logs when a connection
    /// comes are returned as diagnostics, all at once.
    pub fn load(
        allow_path: impl AsRef<Path>,
        deny_path: impl AsRef<Path>,
    ) -> Result<(HostsAccess, Vec<Diagnostic>), HostsAccessError> {
        let mut diags = Vec::new();
        let allow = load_table(allow_path.as_ref(), &mut diags)?;
        let deny = load_table(deny_path.as_ref(), &mut diags)?;
        Ok((HostsAccess { allow, deny }, diags))
    }

    /// Parse texts directly (the paths are only used in locations and diagnostics; `/path`
    /// patterns are still read from the file system).
    pub fn parse(
        allow_path: impl AsRef<Path>,
        allow_text: &str,
        deny_path: impl AsRef<Path>,
        deny_text: &str,
    ) -> Result<(HostsAccess, Vec<Diagnostic>), HostsAccessError> {
        let mut diags = Vec::new();
        let allow = parse_table(allow_path.as_ref(), allow_text, &mut diags)?;
        let deny = parse_table(deny_path.as_ref(), deny_text, &mut diags)?;
        Ok((HostsAccess { allow, deny }, diags))
    }

    /// Number of rules in (hosts.allow, hosts.deny).
    pub fn rule_counts(&self) -> (usize, usize) {
        (self.allow.rules.len(), self.deny.rules.len())
    }

    /// Whether some rule could need the client's host name (so a daemon can prefetch it).
    pub fn uses_host_names(&self) -> bool {
        [&self.allow, &self.deny].iter().any(|t| {
            t.rules.iter().any(|r| {
                r.clients
                    .groups
                    .iter()
                    .flatten()
                    .any(|c| matches!(c, ClientPattern::Host(h) if h.needs_name()))
            })
        })
    }

    /// libwrap's `hosts_access()` for `daemon` (see [`daemon_name`](super::daemon_name)) and
    /// `client`, without server information (`daemon@host` items never match). IPv4-mapped
    /// IPv6 clients are matched as their IPv4 address.
    pub fn decide(&self, daemon: &str, client: IpAddr, name: &ClientName) -> WrapDecision {
        self.decide_at(daemon, None, client, name)
    }

    /// Like [`decide`](Self::decide), with the local address the client connected to, for
    /// `daemon@host` items (compared with address patterns only).
    pub fn decide_at(
        &self,
        daemon: &str,
        server: Option<IpAddr>,
        client: IpAddr,
        name: &ClientName,
    ) -> WrapDecision {
        let daemon = daemon.to_ascii_lowercase();
        let client = canonical(client);
        let client_str = client.to_string();
        let server = server.map(canonical);
        let server_str = server.map(|s| s.to_string());
        let ctx = Ctx {
            daemon: &daemon,
            server: server.zip(server_str.as_deref()),
            client,
            client_str: &client_str,
            name: name.state(),
        };
        for (table, rules) in [(Table::Allow, &self.allow), (Table::Deny, &self.deny)] {
            for rule in &rules.rules {
                match ctx.rule_matches(rule) {
                    Tri::No => continue,
                    Tri::NeedName => return WrapDecision::NeedsLookup(NameLookup { client }),
                    Tri::Yes => {}
                }
                let loc = RuleLocation {
                    table,
                    file: rules.path.clone(),
                    line: rule.line,
                };
                return match (rule.effect, table) {
                    (Effect::Table, Table::Allow) => {
                        WrapDecision::Allow(WrapAllowed::AllowRule(loc))
                    }
                    (Effect::Table, Table::Deny) => WrapDecision::Deny(WrapDenial::DenyRule(loc)),
                    (Effect::Allow, _) => WrapDecision::Allow(WrapAllowed::AllowOption(loc)),
                    (Effect::Deny, _) => WrapDecision::Deny(WrapDenial::DenyOption(loc)),
                    (Effect::BadOptions, _) => WrapDecision::Deny(WrapDenial::BadOptions(loc)),
                    (Effect::UnsupportedCommand, _) => {
                        WrapDecision::Deny(WrapDenial::UnsupportedCommand(loc))
                    }
                };
            }
        }
        WrapDecision::Allow(WrapAllowed::NoMatch)
    }
}

struct Ctx<'a> {
    daemon: &'a str,
    server: Option<(IpAddr, &'a str)>,
    client: IpAddr,
    client_str: &'a str,
    name: &'a NameState,
}

impl Ctx<'_> {
    fn rule_matches(&self, rule: &Rule) -> Tri {
        rule.daemons
            .matches(&|d: &DaemonPattern| {
                let daemon = Tri::from(d.daemon.matches(self.daemon));
                match &d.server {
                    None => daemon,
                    Some(host) => daemon.and(|| match self.server {
                        // Server host names are not looked up (reported at load time): a
                        // pattern that needs the server's name does not match.
                        Some((addr, s)) => match host.matches(addr, s, &NameState::NotLookedUp) {
                            Tri::Yes => Tri::Yes,
                            _ => Tri::No,
                        },
                        None => Tri::No,
                    }),
                }
            })
            .and(|| {
                rule.clients.matches(&|c: &ClientPattern| match c {
                    ClientPattern::Never => Tri::No,
                    ClientPattern::Host(h) => h.matches(self.client, self.client_str, self.name),
                })
            })
    }
}
