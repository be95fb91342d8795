//! tcp_wrappers compatibility: /etc/hosts.allow and /etc/hosts.deny in hosts_access(5) syntax,
//! evaluated as Debian's and Red Hat's libwrap-enabled xinetd does (F-250, F-307), sans-I/O.
//!
//! xinetd calls libwrap's `hosts_access()` in the child, after the address check, with a
//! daemon name chosen by [`daemon_name`] (F-250, F-139, F-605), unless the service has
//! `flags = NOLIBWRAP` (F-146; forced for TCP RPC services, F-976). libwrap re-reads both files
//! for every connection; [`HostsAccess::load`] parses them once (per reload) and
//! [`HostsAccess::decide`] answers without any I/O:
//!
//! * the allow file is searched first, then the deny file; the **first** matching rule of a
//!   file ends the search of that file; a match in the allow file grants, a match in the deny
//!   file refuses, no match grants. A missing file is an empty file, as in libwrap.
//! * rules are `daemon_list : client_list [ : option : option ... ]`; a backslash right before
//!   the newline joins lines; lines starting with `#` and blank lines are ignored; list items
//!   are separated by commas and/or blanks; `EXCEPT` nests to the right
//!   (`a EXCEPT b EXCEPT c` is `a EXCEPT (b EXCEPT c)`); everything is case-insensitive.
//! * the third field is the hosts_options(5) language (Debian builds libwrap with
//!   `PROCESS_OPTIONS`): `allow` / `deny` (last option) override the file's verdict; a syntax
//!   error in the options (unknown keyword, `allow` not last, missing value) refuses the
//!   connection, as libwrap does. Options that would run commands or change the server process
//!   (`spawn`, `twist`, `aclexec`, `setenv`, `user`, `banners`, ...) are **never executed**; each
//!   is reported once as a [`Diagnostic`] when the files are loaded. `twist` replaces the
//!   server with a command in libwrap, and `aclexec` lets a command decide: we refuse the
//!   connection for both, so a rule meant to turn clients away never lets them in.
//!
//! Patterns that need the client's host name (`KNOWN`, `UNKNOWN`, `LOCAL`, `PARANOID`, host
//! names, `.domain`, `*`/`?` patterns) are tried only when the address alone does
//! not decide; then [`HostsAccess::decide`] answers [`WrapDecision::NeedsLookup`] and the caller
//! performs the [`NameLookup`] where blocking is acceptable. Like libwrap, the name counts only
//! if it maps back to the client's address (double-reverse lookup): otherwise the host name is
//! `paranoid`: `PARANOID` and `ALL` match it, name and domain patterns, `KNOWN` and
//! `UNKNOWN` do not.
//!
//! Unsupported, each reported with file:line:col when loaded: NIS netgroups (`@group`: never
//! match, as in a libwrap built without NETGROUP), `user@host` client patterns other than
//! `ALL@host` (they need an ident lookup: never match), host *names* in the server part of
//! `daemon@host` (only server addresses are compared), and the options listed above.
//!
//! ```
//! use std::net::IpAddr;
//! use xinetd_acl::hosts_access::{ClientName, HostsAccess, WrapDecision};
//!
//! let dir = std::env::temp_dir().join(format!("hosts-access-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("hosts.allow"), "in.ftpd: 192.168. EXCEPT 192.168.1.66\n")?;
//! std::fs::write(dir.join("hosts.deny"), "ALL: ALL\n")?;
//! let (wrap, diagnostics) = HostsAccess::load(dir.join("hosts.allow"), dir.join("hosts.deny"))?;
//! assert!(diagnostics.is_empty());
//!
//! let client: IpAddr = "192.168.1.7".parse()?;
//! assert!(wrap.decide("in.ftpd", client, &ClientName::not_looked_up()).is_allowed());
//!
//! let WrapDecision::Deny(refusal) =
//!     wrap.decide("in.ftpd", "192.168.1.66".parse()?, &ClientName::not_looked_up())
//! else { panic!("expected a refusal") };
//! assert_eq!(refusal.rule().map(|r| r.line), Some(1)); // hosts.deny line 1
//! assert_eq!(
//!     refusal.log_text("ftp", "in.ftpd", "192.168.1.66"),
//!     "libwrap refused connection to ftp (libwrap=in.ftpd) from 192.168.1.66"
//! );
//! assert_eq!(refusal.fail_reason().as_str(), "libwrap");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::policy::{FailReason, Resolved};
use crate::resolver::{ResolveError, Resolver};

/// The name libwrap uses for a client whose host name is not known.
const UNKNOWN: &str = "unknown";
/// The name libwrap uses for a client whose host name does not map back to its address.
const PARANOID: &str = "paranoid";

// ---------------------------------------------------------------------------------------------
// Errors and diagnostics
// ---------------------------------------------------------------------------------------------

/// A hosts file that exists but cannot be read: the whole load fails so that a reload keeps
/// the previous rules (libwrap would log `cannot open` and treat the file as empty, which turns
/// an unreadable `ALL: ALL` deny file into "allow everybody").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostsAccessError {
    /// The file exists but reading it failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The construct is ignored or never matches, as in libwrap, but probably not what was meant.
    Warning,
    /// A syntax error: the rule or option is skipped, or (options) the matching client is
    /// refused, as in libwrap.
    Error,
}

/// What a [`Diagnostic`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A line that is not `daemon_list : client_list ...` (skipped, libwrap's `missing ":"
    /// separator`).
    MissingSeparator,
    /// A pattern that can never match (bad net/mask, net with host bits set, bad file, ...).
    NeverMatches,
    /// A construct libwrap supports and we do not (netgroups, ident user patterns, server host
    /// names): it never matches.
    UnsupportedPattern,
    /// An option that is not executed (`spawn`, `setenv`, ...); the verdict is unchanged.
    UnsupportedOption,
    /// An option that lets a command serve or judge the client (`twist`, `aclexec`): matching
    /// clients are refused.
    RefusingOption,
    /// An options syntax error (unknown keyword, `allow`/`deny` not last, missing value):
    /// matching clients are refused, as libwrap does.
    BadOption,
    /// Text that looks like something else than what libwrap makes of it (an indented `#`, an
    /// IPv6 address without brackets, ...).
    Suspicious,
}

/// A problem found while loading the hosts files, with its position (1-based line and column;
/// the line is the first physical line of a continued rule).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// How serious.
    pub severity: Severity,
    /// What it is about.
    pub kind: DiagnosticKind,
    /// The explanation.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Client host names
// ---------------------------------------------------------------------------------------------

/// What is known of the client's host name, as libwrap establishes it: the reverse lookup of
/// the address, kept only if a forward lookup of that name gives the address back.
///
/// It can only be built by the constructors below, so an unverified reverse name (such as the
/// one [`AccessPolicy`](crate::AccessPolicy) uses for `only_from`, where xinetd does not verify
/// it) cannot be mistaken for a verified one: whoever controls the reverse zone of an address
/// could otherwise claim any `.domain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientName(NameState);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum NameState {
    #[default]
    NotLookedUp,
    /// Lower-case host name, or `unknown` / `paranoid` exactly as libwrap spells them.
    Looked(String),
}

impl ClientName {
    /// Nothing looked up yet: name patterns make [`HostsAccess::decide`] ask for a lookup.
    pub fn not_looked_up() -> ClientName {
        ClientName(NameState::NotLookedUp)
    }

    /// The lookup gave no name (or failed): the host name is `unknown`.
    pub fn unknown() -> ClientName {
        ClientName(NameState::Looked(UNKNOWN.to_owned()))
    }

    /// Combine lookups done elsewhere (e.g. asynchronously): `reverse` is the reverse lookup of
    /// `client`, `forward` the addresses of that name. The name is kept if `client` is among
    /// them (IPv4-mapped addresses compare as IPv4), else it is `paranoid`, as is a name that
    /// is a numeric address; no name → `unknown`.
    pub fn from_lookups(client: IpAddr, reverse: Option<&str>, forward: &[IpAddr]) -> ClientName {
        let Some(name) = reverse
            .map(|n| n.trim_end_matches('.'))
            .filter(|n| !n.is_empty())
        else {
            return ClientName::unknown();
        };
        // A reverse name that is itself a numeric address (a PTR record saying `10.0.0.1`)
        // could impersonate address patterns: libwrap clobbers it to `paranoid`.
        if name.parse::<IpAddr>().is_ok() {
            return ClientName(NameState::Looked(PARANOID.to_owned()));
        }
        let client = canonical(client);
        if forward.iter().any(|a| canonical(*a) == client) {
            ClientName(NameState::Looked(name.to_ascii_lowercase()))
        } else {
            ClientName(NameState::Looked(PARANOID.to_owned()))
        }
    }

    /// The host name as libwrap would print it (`%n`): a name, `unknown` or `paranoid`; `None`
    /// when not looked up.
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            NameState::NotLookedUp => None,
            NameState::Looked(n) => Some(n),
        }
    }
}

/// The lookup a [`WrapDecision::NeedsLookup`] asks for: the client's verified host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameLookup {
    /// The client.
    pub client: IpAddr,
}

impl NameLookup {
    /// Reverse lookup, then forward lookup of the name (this blocks up to the resolver's
    /// deadlines: call it off the event loop). A failed lookup gives `unknown`, like libwrap;
    /// the resolver's error is returned for logging.
    pub fn perform(&self, resolver: &dyn Resolver) -> (ClientName, Option<ResolveError>) {
        match resolver.reverse_lookup(self.client) {
            Ok(name) => self.confirm(name.as_deref(), resolver),
            Err(e) => (ClientName::unknown(), Some(e)),
        }
    }

    /// Like [`perform`](Self::perform), reusing a reverse lookup already made for
    /// `only_from`/`no_access` (a [`Resolved`] from [`LookupRequest`](crate::LookupRequest)):
    /// only the forward confirmation is done. A [`Resolved::none`] makes the reverse lookup too.
    pub fn perform_with(
        &self,
        resolved: &Resolved,
        resolver: &dyn Resolver,
    ) -> (ClientName, Option<ResolveError>) {
        if *resolved == Resolved::none() {
            return self.perform(resolver);
        }
        self.confirm(resolved.reverse_name(), resolver)
    }

    fn confirm(
        &self,
        name: Option<&str>,
        resolver: &dyn Resolver,
    ) -> (ClientName, Option<ResolveError>) {
        let Some(name) = name
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
        else {
            return (ClientName::unknown(), None);
        };
        let name = name.as_str();
        match resolver.lookup_host(name) {
            Ok(addrs) => (
                ClientName::from_lookups(self.client, Some(name), &addrs),
                None,
            ),
            // libwrap: a name whose forward lookup fails is treated as paranoid (the name
            // cannot be trusted); xinetd logs nothing more.
            Err(e) => (
                ClientName::from_lookups(self.client, Some(name), &[]),
                Some(e),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon-name selection (F-250)
// ---------------------------------------------------------------------------------------------

/// How a service is served, for [`daemon_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind<'a> {
    /// `type = INTERNAL` (a builtin).
    Internal,
    /// `redirect = host port` (F-605).
    Redirect,
    /// An external server.
    External {
        /// The `server` attribute (a path).
        server: &'a str,
        /// The `server_args` words (without the server itself).
        server_args: &'a [&'a str],
        /// `flags = NAMEINARGS`: the first `server_args` word is argv\[0\].
        name_in_args: bool,
    },
}

/// The daemon name xinetd gives libwrap (F-250, F-139, F-605): the `libwrap` attribute if set;
/// else the service name for internal and redirected services; else, with `NAMEINARGS`, the
/// basename of the first `server_args` word; else the basename of `server`.
///
/// ```
/// use xinetd_acl::hosts_access::{daemon_name, ServerKind};
/// let tcpd = ServerKind::External {
///     server: "/usr/sbin/tcpd",
///     server_args: &["/usr/sbin/in.ftpd", "-l"],
///     name_in_args: true,
/// };
/// assert_eq!(daemon_name(None, "ftp", tcpd), "in.ftpd");
/// assert_eq!(daemon_name(Some("ftpd"), "ftp", tcpd), "ftpd");
/// assert_eq!(daemon_name(None, "echo", ServerKind::Internal), "echo");
/// ```
pub fn daemon_name<'a>(
    libwrap: Option<&'a str>,
    service_name: &'a str,
    kind: ServerKind<'a>,
) -> &'a str {
    if let Some(name) = libwrap {
        return name;
    }
    let basename = |p: &'a str| p.rsplit('/').next().unwrap_or(p);
    match kind {
        ServerKind::Internal | ServerKind::Redirect => service_name,
        ServerKind::External {
            server,
            server_args,
            name_in_args,
        } => match server_args.first() {
            Some(first) if name_in_args => basename(first),
            _ => basename(server),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/// Three-valued match: the name may be needed to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    No,
    Yes,
    NeedName,
}

impl Tri {
    fn or(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::Yes => Tri::Yes,
            Tri::No => other(),
            Tri::NeedName => match other() {
                Tri::Yes => Tri::Yes,
                _ => Tri::NeedName,
            },
        }
    }

    fn and(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::No => Tri::No,
            Tri::Yes => other(),
            Tri::NeedName => match other() {
                Tri::No => Tri::No,
                _ => Tri::NeedName,
            },
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::No => Tri::Yes,
            Tri::Yes => Tri::No,
            Tri::NeedName => Tri::NeedName,
        }
    }
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

/// libwrap's `string_match`: a pattern matched against a daemon name, a user name, an address
/// string or a host name, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StrPattern {
    All,
    /// `KNOWN`: anything but `unknown`.
    Known,
    /// `.suffix` (the subject must be longer than the suffix).
    Suffix(String),
    /// `prefix.`
    Prefix(String),
    /// `*` / `?` wildcards.
    Glob(String),
    Exact(String),
}

impl StrPattern {
    fn parse(tok: &str) -> StrPattern {
        let t = tok.to_ascii_lowercase();
        if t.starts_with('.') {
            StrPattern::Suffix(t)
        } else if t == "all" {
            StrPattern::All
        } else if t == "known" {
            StrPattern::Known
        } else if t.ends_with('.') {
            StrPattern::Prefix(t)
        } else if t.contains(['*', '?']) {
            StrPattern::Glob(t)
        } else {
            StrPattern::Exact(t)
        }
    }

    /// `subject` must already be lower-case.
    fn matches(&self, subject: &str) -> bool {
        match self {
            StrPattern::All => true,
            StrPattern::Known => subject != UNKNOWN,
            StrPattern::Suffix(s) => subject.len() > s.len() && subject.ends_with(s.as_str()),
            StrPattern::Prefix(p) => subject.starts_with(p.as_str()),
            StrPattern::Glob(g) => glob_match(g.as_bytes(), subject.as_bytes()),
            StrPattern::Exact(e) => subject == e,
        }
    }
}

/// `*` matches any run of characters (dots included), `?` any one character.
fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == subject[s]) {
            p += 1;
            s += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, s));
            p += 1;
        } else if let Some((sp, ss)) = star {
            p = sp + 1;
            s = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// libwrap's `host_match`: a pattern for a client (or the server of `daemon@host`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Reported at load time; never matches.
    Never,
    Known,
    Local,
    /// `n.n.n.n/m.m.m.m`: `(addr & mask) == net` (IPv4 and IPv4-mapped clients).
    NetMask4 {
        net: u32,
        mask: u32,
    },
    /// `n.n.n.n/len`, `[v6]/len`, `[v6]`.
    Network(ipnet::IpNet),
    /// `/path`: any pattern of the file.
    File(Vec<HostPattern>),
    /// Anything else: compared with the address string, then (if it is not made only of
    /// digits, dots and slashes — libwrap's `NOT_INADDR`) with the host name.
    Str {
        pattern: StrPattern,
        names: bool,
    },
}

impl HostPattern {
    /// Whether matching may need the host name.
    fn needs_name(&self) -> bool {
        match self {
            HostPattern::Known | HostPattern::Local => true,
            HostPattern::File(v) => v.iter().any(HostPattern::needs_name),
            HostPattern::Str { names, .. } => *names,
            _ => false,
        }
    }

    fn matches(&self, addr: IpAddr, addr_str: &str, name: &NameState) -> Tri {
        let with_name = |f: &dyn Fn(&str) -> bool| match name {
            NameState::NotLookedUp => Tri::NeedName,
            NameState::Looked(n) => f(n).into(),
        };
        match self {
            HostPattern::Never => Tri::No,
            HostPattern::Known => with_name(&|n| n != UNKNOWN && n != PARANOID),
            HostPattern::Local => with_name(&|n| !n.contains('.') && n != UNKNOWN && n != PARANOID),
            HostPattern::NetMask4 { net, mask } => match addr {
                IpAddr::V4(a) => (u32::from(a) & mask == *net).into(),
                IpAddr::V6(_) => Tri::No,
            },
            HostPattern::Network(net) => net.contains(&addr).into(),
            HostPattern::File(patterns) => patterns
                .iter()
                .fold(Tri::No, |acc, p| acc.or(|| p.matches(addr, addr_str, name))),
            HostPattern::Str { pattern, names } => {
                if pattern.matches(addr_str) {
                    Tri::Yes
                } else if *names {
                    with_name(&|n| pattern.matches(n))
                } else {
                    Tri::No
                }
            }
        }
    }
}

/// An item of a daemon list: `daemon` or `daemon@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DaemonPattern {
    daemon: StrPattern,
    server: Option<HostPattern>,
}

/// An item of a client list: a host pattern, or `user@host` (only `ALL@host` is supported).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientPattern {
    Host(HostPattern),
    Never,
}

/// `items EXCEPT items EXCEPT ...`, right-associative.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PatternList<P> {
    groups: Vec<Vec<P>>,
}

impl<P> PatternList<P> {
    fn matches(&self, f: &dyn Fn(&P) -> Tri) -> Tri {
        self.match_from(0, f)
    }

    fn match_from(&self, i: usize, f: &dyn Fn(&P) -> Tri) -> Tri {
        let Some(group) = self.groups.get(i) else {
            return Tri::No;
        };
        let any = group.iter().fold(Tri::No, |acc, p| acc.or(|| f(p)));
        any.and(|| self.match_from(i + 1, f).not())
    }
}

/// What a matching rule's options do to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// The file decides (allow file grants, deny file refuses).
    Table,
    Allow,
    Deny,
    BadOptions,
    UnsupportedCommand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    line: usize,
    daemons: PatternList<DaemonPattern>,
    clients: PatternList<ClientPattern>,
    effect: Effect,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct RuleTable {
    path: PathBuf,
    rules: Vec<Rule>,
}

// ---------------------------------------------------------------------------------------------
// The evaluator
// ---------------------------------------------------------------------------------------------

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

    /// libwrap's `hosts_access()` for `daemon` (see [`daemon_name`]) and `client`, without
    /// server information (`daemon@host` items never match). IPv4-mapped IPv6 clients are
    /// matched as their IPv4 address.
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
            name: &name.0,
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

/// IPv4-mapped IPv6 addresses are their IPv4 address (libwrap on Debian matches them so).
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

fn read_text(path: &Path) -> Result<Option<String>, HostsAccessError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(HostsAccessError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn load_table(path: &Path, diags: &mut Vec<Diagnostic>) -> Result<RuleTable, HostsAccessError> {
    match read_text(path)? {
        Some(text) => parse_table(path, &text, diags),
        None => Ok(RuleTable {
            path: path.to_owned(),
            rules: Vec::new(),
        }),
    }
}

/// A logical line: text with, for each character, its (line, column) in the file.
struct LogicalLine {
    chars: Vec<(char, usize, usize)>,
}

impl LogicalLine {
    fn first_line(&self) -> usize {
        self.chars.first().map_or(0, |c| c.1)
    }
}

/// Join backslash-newline continuations (libwrap's `xgets`): the backslash and the newline
/// vanish; a backslash followed by anything else (a blank, `\r`) stays.
fn logical_lines(text: &str) -> Vec<(usize, LogicalLine)> {
    let mut out = Vec::new();
    let mut cur = LogicalLine { chars: Vec::new() };
    let mut start = 1;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        if cur.chars.is_empty() {
            start = line_no;
        }
        let chars: Vec<char> = raw.chars().collect();
        let continued = chars.last() == Some(&'\\');
        let keep = if continued {
            chars.len() - 1
        } else {
            chars.len()
        };
        cur.chars.extend(
            chars[..keep]
                .iter()
                .enumerate()
                .map(|(c, ch)| (*ch, line_no, c + 1)),
        );
        if !continued {
            out.push((
                start,
                std::mem::replace(&mut cur, LogicalLine { chars: Vec::new() }),
            ));
        }
    }
    if !cur.chars.is_empty() {
        out.push((start, cur));
    }
    out
}

struct Parser<'a> {
    path: &'a Path,
    diags: &'a mut Vec<Diagnostic>,
}

/// A token with its position.
struct Tok {
    text: String,
    line: usize,
    col: usize,
}

impl Parser<'_> {
    fn diag(
        &mut self,
        line: usize,
        column: usize,
        severity: Severity,
        kind: DiagnosticKind,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            file: self.path.to_owned(),
            line,
            column,
            severity,
            kind,
            message,
        });
    }

    /// Split a field into list items at commas and blanks (libwrap's `sep`).
    fn tokens(field: &[(char, usize, usize)]) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut cur: Option<Tok> = None;
        for &(ch, line, col) in field {
            if matches!(ch, ',' | ' ' | '\t' | '\r' | '\n') {
                if let Some(t) = cur.take() {
                    out.push(t);
                }
            } else {
                cur.get_or_insert(Tok {
                    text: String::new(),
                    line,
                    col,
                })
                .text
                .push(ch);
            }
        }
        out.extend(cur);
        out
    }

    fn list<P>(
        &mut self,
        field: &[(char, usize, usize)],
        mut item: impl FnMut(&mut Self, &Tok) -> P,
    ) -> PatternList<P> {
        let mut groups = vec![Vec::new()];
        for tok in Self::tokens(field) {
            if tok.text.eq_ignore_ascii_case("EXCEPT") {
                groups.push(Vec::new());
            } else {
                let p = item(self, &tok);
                groups.last_mut().expect("groups is never empty").push(p);
            }
        }
        PatternList { groups }
    }

    fn daemon(&mut self, tok: &Tok) -> DaemonPattern {
        // libwrap splits at the first `@` after the first character.
        match tok.text.char_indices().skip(1).find(|(_, c)| *c == '@') {
            None => DaemonPattern {
                daemon: StrPattern::parse(&tok.text),
                server: None,
            },
            Some((at, _)) => {
                let host = &tok.text[at + 1..];
                let server = self.host(host, tok.line, tok.col + at + 1, true);
                if server.needs_name() {
                    self.diag(tok.line, tok.col + at + 1, Severity::Warning, DiagnosticKind::UnsupportedPattern,
                        format!("`{host}` in `{}`: server host names are not looked up; only the server's address is compared", tok.text));
                }
                DaemonPattern {
                    daemon: StrPattern::parse(&tok.text[..at]),
                    server: Some(server),
                }
            }
        }
    }

    fn client(&mut self, tok: &Tok) -> ClientPattern {
        match tok.text.char_indices().skip(1).find(|(_, c)| *c == '@') {
            None => ClientPattern::Host(self.host(&tok.text, tok.line, tok.col, true)),
            Some((at, _)) => {
                let user = &tok.text[..at];
                let host = self.host(&tok.text[at + 1..], tok.line, tok.col + at + 1, true);
                if user.eq_ignore_ascii_case("ALL") {
                    // ALL@host matches whatever the user name: no ident lookup is needed.
                    ClientPattern::Host(host)
                } else {
                    self.diag(tok.line, tok.col, Severity::Warning, DiagnosticKind::UnsupportedPattern,
                        format!("`{}`: user@host patterns need an ident (RFC 931) lookup, which is not supported; this pattern never matches", tok.text));
                    ClientPattern::Never
                }
            }
        }
    }

    fn host(&mut self, tok: &str, line: usize, col: usize, allow_file: bool) -> HostPattern {
        let never = |p: &mut Self, kind, msg: String| {
            p.diag(line, col, Severity::Warning, kind, msg);
            HostPattern::Never
        };
        if tok.starts_with('@') {
            return never(
                self,
                DiagnosticKind::UnsupportedPattern,
                format!("`{tok}`: NIS netgroups are not supported; this pattern never matches"),
            );
        }
        if tok.eq_ignore_ascii_case("KNOWN") {
            return HostPattern::Known;
        }
        if tok.eq_ignore_ascii_case("LOCAL") {
            return HostPattern::Local;
        }
        if tok.starts_with('/') {
            if !allow_file {
                return never(
                    self,
                    DiagnosticKind::NeverMatches,
                    format!("`{tok}`: file patterns inside a pattern file are not followed"),
                );
            }
            return self.file(tok, line, col);
        }
        if let Some((net, mask)) = split_outside_brackets(tok, '/') {
            return match parse_net_mask(net, mask) {
                Ok(p) => p,
                Err(why) => never(
                    self,
                    DiagnosticKind::NeverMatches,
                    format!("`{tok}`: {why}; this pattern never matches"),
                ),
            };
        }
        if let Some(inner) = tok.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return match inner.parse::<IpAddr>() {
                Ok(a) => HostPattern::Network(ipnet::IpNet::from(canonical(a))),
                Err(_) => never(
                    self,
                    DiagnosticKind::NeverMatches,
                    format!("`{tok}`: not an IPv6 address; this pattern never matches"),
                ),
            };
        }
        let names = !tok
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '/');
        HostPattern::Str {
            pattern: StrPattern::parse(tok),
            names,
        }
    }

    fn file(&mut self, path: &str, line: usize, col: usize) -> HostPattern {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                // libwrap silently finds no match in a missing file; say so.
                self.diag(
                    line,
                    col,
                    Severity::Warning,
                    DiagnosticKind::NeverMatches,
                    format!("cannot read pattern file `{path}`: {e}; it matches nothing"),
                );
                return HostPattern::Never;
            }
        };
        let file_path = PathBuf::from(path);
        let mut inner = Parser {
            path: &file_path,
            diags: &mut *self.diags,
        };
        let mut patterns = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if l.starts_with('#') {
                continue;
            }
            let field: Vec<(char, usize, usize)> = l
                .chars()
                .enumerate()
                .map(|(c, ch)| (ch, i + 1, c + 1))
                .collect();
            for tok in Parser::tokens(&field) {
                patterns.push(inner.host(&tok.text, tok.line, tok.col, false));
            }
        }
        HostPattern::File(patterns)
    }

    /// The options field(s), hosts_options(5): `option : option ...`, `\:` protects a colon.
    fn options(&mut self, field: &[(char, usize, usize)]) -> Effect {
        // Split at unescaped colons.
        let mut opts: Vec<Vec<(char, usize, usize)>> = vec![Vec::new()];
        let mut i = 0;
        while i < field.len() {
            let c = field[i];
            if c.0 == '\\' && field.get(i + 1).is_some_and(|n| n.0 == ':') {
                opts.last_mut().expect("never empty").push(field[i + 1]);
                i += 2;
                continue;
            }
            if c.0 == ':' {
                opts.push(Vec::new());
            } else {
                opts.last_mut().expect("never empty").push(c);
            }
            i += 1;
        }
        let opts: Vec<_> = opts
            .into_iter()
            .map(|o| {
                let start = o
                    .iter()
                    .position(|c| !c.0.is_whitespace())
                    .unwrap_or(o.len());
                let end = o
                    .iter()
                    .rposition(|c| !c.0.is_whitespace())
                    .map_or(start, |e| e + 1);
                o[start..end.max(start)].to_vec()
            })
            .filter(|o| !o.is_empty())
            .collect();
        let mut effect = Effect::Table;
        let count = opts.len();
        for (n, opt) in opts.iter().enumerate() {
            let text: String = opt.iter().map(|c| c.0).collect();
            let (line, col) = (opt[0].1, opt[0].2);
            let key_end = text
                .find(|c: char| c.is_whitespace() || c == '=')
                .unwrap_or(text.len());
            let keyword = text[..key_end].to_ascii_lowercase();
            let value = text[key_end..].trim_start().trim_start_matches('=').trim();
            let last = n + 1 == count;
            let bad = |p: &mut Self, msg: String| {
                p.diag(
                    line,
                    col,
                    Severity::Error,
                    DiagnosticKind::BadOption,
                    format!("{msg}; libwrap refuses clients matching this rule"),
                );
                Effect::BadOptions
            };
            let needs_value = |p: &mut Self, kw: &str| -> Option<Effect> {
                if value.is_empty() {
                    Some(bad(p, format!("option `{kw}` needs a value")))
                } else {
                    None
                }
            };
            let outcome: Option<Effect> = match keyword.as_str() {
                "allow" | "deny" => {
                    if !value.is_empty() {
                        Some(bad(self, format!("option `{keyword}` takes no value")))
                    } else if !last {
                        Some(bad(self, format!("option `{keyword}` must be the last option")))
                    } else if keyword == "allow" {
                        Some(Effect::Allow)
                    } else {
                        Some(Effect::Deny)
                    }
                }
                "twist" | "aclexec" => needs_value(self, &keyword).or_else(|| {
                    if keyword == "twist" && !last {
                        return Some(bad(self, "option `twist` must be the last option".into()));
                    }
                    self.diag(line, col, Severity::Warning, DiagnosticKind::RefusingOption,
                        format!("option `{keyword}` runs a command that decides or serves the client; commands are never run, so clients matching this rule are refused"));
                    Some(Effect::UnsupportedCommand)
                }),
                "spawn" | "setenv" | "umask" | "user" | "group" | "banners" | "linger"
                | "severity" => needs_value(self, &keyword).or_else(|| {
                    self.unsupported(line, col, &keyword);
                    None
                }),
                "keepalive" => {
                    if value.is_empty() {
                        self.unsupported(line, col, &keyword);
                        None
                    } else {
                        Some(bad(self, "option `keepalive` takes no value".into()))
                    }
                }
                "rfc931" | "nice" => {
                    self.unsupported(line, col, &keyword);
                    None
                }
                _ => Some(bad(self, format!("unknown option `{keyword}`"))),
            };
            if let Some(e) = outcome {
                effect = e;
                if matches!(
                    e,
                    Effect::BadOptions | Effect::UnsupportedCommand | Effect::Deny
                ) {
                    // libwrap stops processing options here (it jumps out with a verdict).
                    break;
                }
            }
        }
        effect
    }

    fn unsupported(&mut self, line: usize, col: usize, keyword: &str) {
        self.diag(
            line,
            col,
            Severity::Warning,
            DiagnosticKind::UnsupportedOption,
            format!(
                "option `{keyword}` is not supported and is ignored (the verdict is unchanged)"
            ),
        );
    }
}

/// libwrap's `split_at`: the first `delim` outside `[...]`.
fn split_outside_brackets(s: &str, delim: char) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if c == delim && depth == 0 => return Some((&s[..i], &s[i + c.len_utf8()..])),
            _ => {}
        }
    }
    None
}

fn parse_net_mask(net: &str, mask: &str) -> Result<HostPattern, String> {
    if let Some(inner) = net.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let addr: Ipv6Addr = inner
            .parse()
            .map_err(|_| format!("`{inner}` is not an IPv6 address"))?;
        let len: u8 = mask
            .parse()
            .map_err(|_| format!("`{mask}` is not a prefix length"))?;
        let n = ipnet::Ipv6Net::new(addr, len)
            .map_err(|_| format!("prefix length {len} is longer than 128"))?;
        return Ok(network(ipnet::IpNet::V6(n)));
    }
    let addr: Ipv4Addr = net
        .parse()
        .map_err(|_| format!("`{net}` is not an IPv4 address"))?;
    if mask.contains('.') {
        let m: Ipv4Addr = mask
            .parse()
            .map_err(|_| format!("`{mask}` is not a netmask"))?;
        let (n, m) = (u32::from(addr), u32::from(m));
        if n & m != n {
            return Err(format!("the net {addr} has bits outside the mask {mask}"));
        }
        return Ok(HostPattern::NetMask4 { net: n, mask: m });
    }
    let len: u8 = mask
        .parse()
        .map_err(|_| format!("`{mask}` is not a prefix length"))?;
    let n = ipnet::Ipv4Net::new(addr, len)
        .map_err(|_| format!("prefix length {len} is longer than 32"))?;
    if n.network() != addr {
        return Err(format!("the net {addr} has bits outside /{len}"));
    }
    Ok(HostPattern::Network(ipnet::IpNet::V4(n)))
}

/// IPv6 networks inside ::ffff:0:0/96 match IPv4 clients (they are compared as IPv4).
fn network(net: ipnet::IpNet) -> HostPattern {
    if let ipnet::IpNet::V6(n) = net {
        if let (Some(v4), true) = (n.network().to_ipv4_mapped(), n.prefix_len() >= 96) {
            if let Ok(v4net) = ipnet::Ipv4Net::new(v4, n.prefix_len() - 96) {
                return HostPattern::Network(ipnet::IpNet::V4(v4net));
            }
        }
    }
    HostPattern::Network(net)
}

fn parse_table(
    path: &Path,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<RuleTable, HostsAccessError> {
    let mut p = Parser { path, diags };
    let mut rules = Vec::new();
    for (start, logical) in logical_lines(text) {
        let chars = &logical.chars;
        let line = if chars.is_empty() {
            start
        } else {
            logical.first_line()
        };
        // libwrap: only a `#` in the very first column starts a comment.
        if chars.first().is_some_and(|c| c.0 == '#') || chars.iter().all(|c| c.0.is_whitespace()) {
            continue;
        }
        let texts: String = chars.iter().map(|c| c.0).collect();
        if let Some(pos) = chars
            .iter()
            .position(|c| !c.0.is_whitespace())
            .filter(|&i| chars[i].0 == '#')
        {
            p.diag(chars[pos].1, chars[pos].2, Severity::Warning, DiagnosticKind::Suspicious,
                "an indented `#` does not start a comment in hosts_access(5): only `#` in the first column does; this line is read as a rule".into());
        }
        let Some(colon1) = split_index(chars, 0) else {
            p.diag(
                line,
                1,
                Severity::Error,
                DiagnosticKind::MissingSeparator,
                format!(
                    "missing \":\" separator in `{}`; line ignored",
                    texts.trim()
                ),
            );
            continue;
        };
        let colon2 = split_index(chars, colon1 + 1);
        let daemon_field = &chars[..colon1];
        let client_field = &chars[colon1 + 1..colon2.unwrap_or(chars.len())];
        let daemons = p.list(daemon_field, |p, t| p.daemon(t));
        let clients = p.list(client_field, |p, t| p.client(t));
        if daemons.groups.iter().all(Vec::is_empty) && daemons.groups.len() == 1 {
            p.diag(
                line,
                1,
                Severity::Warning,
                DiagnosticKind::Suspicious,
                "empty daemon list: this rule never matches".into(),
            );
        }
        if clients.groups.iter().all(Vec::is_empty) && clients.groups.len() == 1 {
            let (l, c) = chars.get(colon1).map_or((line, 1), |c| (c.1, c.2));
            let hint = if colon2.is_some() {
                " (an IPv6 address must be written in brackets, e.g. [::1])"
            } else {
                ""
            };
            p.diag(
                l,
                c,
                Severity::Warning,
                DiagnosticKind::Suspicious,
                format!("empty client list: this rule never matches{hint}"),
            );
        }
        let effect = match colon2 {
            Some(c2) => p.options(&chars[c2 + 1..]),
            None => Effect::Table,
        };
        rules.push(Rule {
            line,
            daemons,
            clients,
            effect,
        });
    }
    Ok(RuleTable {
        path: path.to_owned(),
        rules,
    })
}

/// Index of the first `:` at or after `from`, outside `[...]`.
fn split_index(chars: &[(char, usize, usize)], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in chars.iter().enumerate().skip(from) {
        match c.0 {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_shell_wildcards() {
        assert!(glob_match(b"192.168.1.*", b"192.168.1.19"));
        assert!(glob_match(b"192.168.1.?", b"192.168.1.9"));
        assert!(!glob_match(b"192.168.1.?", b"192.168.1.19"));
        assert!(glob_match(b"*.example.*", b"a.example.com"));
        assert!(glob_match(b"a*b*c", b"aXbYbZc"));
        assert!(!glob_match(b"a*b", b"ac"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn kleene_logic() {
        use Tri::*;
        assert_eq!(NeedName.or(|| Yes), Yes);
        assert_eq!(NeedName.and(|| No), No);
        assert_eq!(NeedName.not(), NeedName);
        assert_eq!(No.or(|| NeedName), NeedName);
    }

    #[test]
    fn continuation_keeps_positions() {
        let lines = logical_lines("a: b \\\n c\n#x\n");
        assert_eq!(lines[0].0, 1);
        let s: String = lines[0].1.chars.iter().map(|c| c.0).collect();
        assert_eq!(s, "a: b  c");
        assert_eq!(lines[0].1.chars.last().map(|c| (c.1, c.2)), Some((2, 2)));
    }
}
