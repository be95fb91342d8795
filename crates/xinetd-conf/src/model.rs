//! The typed configuration model: what a service *is* after parsing, defaults merging and
//! validation (xinetd.conf(5) vocabulary throughout).
//!
//! Every value carries the [`Span`] it came from. Values xinetd fills in itself (an inferred
//! protocol, the default `cps = 50 10`, ...) carry the span of the service header.
//! [`Spanned`] compares by value only, so two models that say the same thing are equal even
//! when they were written at different places (this is what `parse(print(m)) == m` means).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::extension::Extension;
pub use crate::syslog_names::{SyslogFacility, SyslogLevel};

/// A position in a configuration file: file, 1-based line, 1-based byte column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The file as xinetd names it (the path given on the command line, in `include`, or
    /// `includedir/entry`).
    pub file: Arc<str>,
    /// Physical line number, comments and blank lines included (F-024).
    pub line: u32,
    /// 1-based byte column of the first character of the item.
    pub column: u32,
}

impl Span {
    /// A span for values that have no source text.
    pub fn synthetic() -> Span {
        Span {
            file: Arc::from("<built-in>"),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A value and where it was written. Equality and hashing ignore the span.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `value` with `span`.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// `socket_type` (F-103).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketType {
    /// `stream` (SOCK_STREAM).
    Stream,
    /// `dgram` (SOCK_DGRAM).
    Dgram,
    /// `raw` (SOCK_RAW).
    Raw,
    /// `seqpacket` (SOCK_SEQPACKET).
    Seqpacket,
}

impl SocketType {
    /// The keyword as xinetd writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Stream => "stream",
            SocketType::Dgram => "dgram",
            SocketType::Raw => "raw",
            SocketType::Seqpacket => "seqpacket",
        }
    }
    /// All socket types, in xinetd's table order.
    pub const ALL: [SocketType; 4] = [
        SocketType::Stream,
        SocketType::Dgram,
        SocketType::Raw,
        SocketType::Seqpacket,
    ];
}

/// A protocol from /etc/protocols (F-104).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// The name as written in the configuration (or `tcp`/`udp` when inferred).
    pub name: String,
    /// The protocol number from /etc/protocols.
    pub number: i32,
}

/// A word of `type` (F-101).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ServiceType {
    /// `RPC`.
    Rpc,
    /// `INTERNAL`: a builtin service.
    Internal,
    /// `UNLISTED`: not in /etc/services or /etc/rpc.
    Unlisted,
    /// `SPECIAL` (undocumented, internal use).
    Special,
    /// `TCPMUX`.
    Tcpmux,
    /// `TCPMUXPLUS`.
    TcpmuxPlus,
}

impl ServiceType {
    /// All types, in xinetd's table order.
    pub const ALL: [ServiceType; 6] = [
        ServiceType::Rpc,
        ServiceType::Internal,
        ServiceType::Unlisted,
        ServiceType::Special,
        ServiceType::Tcpmux,
        ServiceType::TcpmuxPlus,
    ];
    /// The keyword as xinetd writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Rpc => "RPC",
            ServiceType::Internal => "INTERNAL",
            ServiceType::Unlisted => "UNLISTED",
            ServiceType::Special => "SPECIAL",
            ServiceType::Tcpmux => "TCPMUX",
            ServiceType::TcpmuxPlus => "TCPMUXPLUS",
        }
    }
}

/// A word of `flags` (F-102, F-140..F-151).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ServiceFlag {
    /// `REUSE` (accepted, no effect: SO_REUSEADDR is always set).
    Reuse,
    /// `INTERCEPT`.
    Intercept,
    /// `NORETRY`.
    NoRetry,
    /// `IDONLY`.
    IdOnly,
    /// `NAMEINARGS`.
    NameInArgs,
    /// `NODELAY`.
    NoDelay,
    /// `KEEPALIVE`.
    KeepAlive,
    /// `NOLIBWRAP`.
    NoLibwrap,
    /// `SENSOR`.
    Sensor,
    /// `IPv4`.
    Ipv4,
    /// `IPv6`.
    Ipv6,
    /// `LABELED`.
    Labeled,
}

impl ServiceFlag {
    /// All flags, in xinetd's table order.
    pub const ALL: [ServiceFlag; 12] = [
        ServiceFlag::Reuse,
        ServiceFlag::Intercept,
        ServiceFlag::NoRetry,
        ServiceFlag::IdOnly,
        ServiceFlag::NameInArgs,
        ServiceFlag::NoDelay,
        ServiceFlag::KeepAlive,
        ServiceFlag::NoLibwrap,
        ServiceFlag::Sensor,
        ServiceFlag::Ipv4,
        ServiceFlag::Ipv6,
        ServiceFlag::Labeled,
    ];
    /// The keyword as xinetd writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceFlag::Reuse => "REUSE",
            ServiceFlag::Intercept => "INTERCEPT",
            ServiceFlag::NoRetry => "NORETRY",
            ServiceFlag::IdOnly => "IDONLY",
            ServiceFlag::NameInArgs => "NAMEINARGS",
            ServiceFlag::NoDelay => "NODELAY",
            ServiceFlag::KeepAlive => "KEEPALIVE",
            ServiceFlag::NoLibwrap => "NOLIBWRAP",
            ServiceFlag::Sensor => "SENSOR",
            ServiceFlag::Ipv4 => "IPv4",
            ServiceFlag::Ipv6 => "IPv6",
            ServiceFlag::Labeled => "LABELED",
        }
    }
}

/// A word of `log_on_success` (F-117).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuccessFlag {
    /// `HOST`.
    Host,
    /// `DURATION`.
    Duration,
    /// `EXIT`.
    Exit,
    /// `PID`.
    Pid,
    /// `USERID`.
    Userid,
    /// `TRAFFIC` (redirected services only).
    Traffic,
    /// `TLS` (extension, issue 15): protocol, cipher and client certificate subject on START
    /// of services with `tls_cert`.
    Tls,
}

impl SuccessFlag {
    /// All flags, in xinetd's table order.
    pub const ALL: [SuccessFlag; 7] = [
        SuccessFlag::Host,
        SuccessFlag::Duration,
        SuccessFlag::Exit,
        SuccessFlag::Pid,
        SuccessFlag::Userid,
        SuccessFlag::Traffic,
        SuccessFlag::Tls,
    ];
    /// The keyword as xinetd writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessFlag::Host => "HOST",
            SuccessFlag::Duration => "DURATION",
            SuccessFlag::Exit => "EXIT",
            SuccessFlag::Pid => "PID",
            SuccessFlag::Userid => "USERID",
            SuccessFlag::Traffic => "TRAFFIC",
            SuccessFlag::Tls => "TLS",
        }
    }
}

/// A word of `log_on_failure` (F-118).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureFlag {
    /// `HOST`.
    Host,
    /// `ATTEMPT`.
    Attempt,
    /// `USERID`.
    Userid,
}

impl FailureFlag {
    /// All flags, in xinetd's table order.
    pub const ALL: [FailureFlag; 3] =
        [FailureFlag::Host, FailureFlag::Attempt, FailureFlag::Userid];
    /// The keyword as xinetd writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureFlag::Host => "HOST",
            FailureFlag::Attempt => "ATTEMPT",
            FailureFlag::Userid => "USERID",
        }
    }
}

/// `instances` / `per_source` value (F-109, F-129).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `UNLIMITED` (the default).
    Unlimited,
    /// At most this many; `0` refuses everything.
    Max(u32),
}

/// `cps = rate wait` (F-130). Both words are unsigned; xinetd wraps negative input
/// (`cps = -1 10` is accepted as a huge rate), and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cps {
    /// Connections per second that trip the limiter; 0 disables it.
    pub rate: u32,
    /// Seconds the service stays disabled after tripping.
    pub wait_secs: u32,
}

impl Default for Cps {
    /// xinetd's built-in `cps = 50 10` (F-992).
    fn default() -> Self {
        Cps {
            rate: 50,
            wait_secs: 10,
        }
    }
}

/// `log_type` (F-116, F-710..F-712).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogType {
    /// `SYSLOG facility [level]`.
    Syslog {
        /// Facility.
        facility: SyslogFacility,
        /// Level (`info` when not given).
        level: SyslogLevel,
    },
    /// `FILE path [soft [hard]]`.
    File {
        /// Log file path.
        path: String,
        /// Soft limit in bytes (never enforced by xinetd 2.3.15, F-712).
        soft_limit: Option<u64>,
        /// Hard limit in bytes (soft + clamp(soft/100, 5 KiB, 20 KiB) when only soft is given).
        hard_limit: Option<u64>,
        /// `true` when the service inherited this FILE from `defaults`: xinetd then writes to
        /// one shared "common" file for all such services (F-711).
        shared: bool,
        /// Extension: `FILE path [soft [hard]] JSON` writes one JSON object per record.
        format: LogFormat,
    },
    /// Extension: `JOURNAL [facility [level]]`, journald's native protocol (default
    /// facility `daemon`, level `info`).
    Journal {
        /// `SYSLOG_FACILITY`.
        facility: SyslogFacility,
        /// `PRIORITY`.
        level: SyslogLevel,
    },
}

/// How a `log_type = FILE` writes its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// xinetd's text lines.
    #[default]
    Text,
    /// Extension: one JSON object per line (the trailing word `JSON`).
    Json,
}

/// `rlimit_*` value (F-133..F-135).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rlimit {
    /// `UNLIMITED` (RLIM_INFINITY).
    Unlimited,
    /// Bytes (or seconds for `rlimit_cpu`, a count for `rlimit_files`), suffixes applied.
    /// xinetd treats 0 as "not set".
    Value(u64),
}

/// All `rlimit_*` attributes of a service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rlimits {
    /// `rlimit_as`.
    pub address_space: Option<Spanned<Rlimit>>,
    /// `rlimit_cpu` (seconds).
    pub cpu: Option<Spanned<Rlimit>>,
    /// `rlimit_data`.
    pub data: Option<Spanned<Rlimit>>,
    /// `rlimit_files` (2.3.15.3, F-135).
    pub files: Option<Spanned<Rlimit>>,
    /// `rlimit_rss`.
    pub rss: Option<Spanned<Rlimit>>,
    /// `rlimit_stack`.
    pub stack: Option<Spanned<Rlimit>>,
}

/// `deny_time` (F-137).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyTime {
    /// `NEVER` / 0: sensors only log.
    Never,
    /// `FOREVER`: until restart.
    Forever,
    /// Minutes (xinetd accepts negative numbers; they behave like `FOREVER` for n = -1).
    Minutes(i32),
}

/// One `access_times` interval, minutes since midnight, start < end (F-115, F-220).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeInterval {
    /// First minute of the day inside the interval.
    pub start_minute: u16,
    /// Last minute of the day inside the interval (inclusive).
    pub end_minute: u16,
}

/// How xinetd reads one `only_from` / `no_access` word (F-200..F-209). The ACL library
/// parses [`AddressEntry::text`] itself; this classification mirrors xinetd's order of
/// attempts (numeric, host/domain, explicit mask, factorized, network name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressForm {
    /// Numeric IPv4 (trailing zero octets widen the mask) or IPv6 (exact).
    Numeric(IpAddr),
    /// `.domain.suffix` matched against reverse-resolved peer names.
    Domain(String),
    /// A host name that resolved at parse time (matched by reverse lookup later).
    Host(String),
    /// `addr/bits`.
    Masked(IpAddr, u32),
    /// `a.b.{x,y,z}`: one /8, /16 or /24 per listed number.
    Factorized(Vec<std::net::Ipv4Addr>),
    /// A name from /etc/networks.
    Network(String),
    /// xinetd could not parse the word (`failed to parse`): it is dropped from the list.
    Unparsed,
}

/// One word of an address list, as written, with its classification.
#[derive(Debug, Clone)]
pub struct AddressEntry {
    /// The word exactly as written.
    pub text: String,
    /// How xinetd reads it.
    pub form: AddressForm,
    /// Where it was written.
    pub span: Span,
}

impl PartialEq for AddressEntry {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.form == other.form
    }
}

/// `only_from` / `no_access`: `None` in the service means "not set"; an empty list means
/// "nobody" for `only_from` (F-113, F-212). Entries xinetd failed to parse are kept with
/// [`AddressForm::Unparsed`] so that tools can show them; matchers must skip them.
pub type AddressList = Vec<AddressEntry>;

/// `bind` / `interface` (F-125).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindAddress {
    /// The word as written (literal or host name).
    pub text: String,
    /// The resolved address.
    pub address: IpAddr,
    /// Extension: the scope of an IPv6 link-local address (`fe80::1%eth0`), an interface
    /// name or index, resolved when the socket is bound.
    pub scope: Option<String>,
}

/// `redirect = host port` (F-124).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Redirect {
    /// Host as written.
    pub host: String,
    /// Address resolved at parse time (first address; IPv6 when the text contains `:`).
    pub address: IpAddr,
    /// Target port (a tcp service name is looked up in /etc/services).
    pub port: u16,
}

/// `rpc_version = N` or `N-M` (F-119).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RpcVersion {
    /// Lowest version.
    pub min: i32,
    /// Highest version.
    pub max: i32,
}

/// One `env` word `NAME=VALUE` (F-121).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvVar {
    /// Variable name (before the first `=`).
    pub name: String,
    /// Value (after the first `=`, may contain `=`).
    pub value: String,
}

/// The address family the service listens with (F-001, F-148, F-125).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// AF_INET.
    Ipv4,
    /// AF_INET6 (dual-stack unless `v6only` was set in the service, F-136).
    Ipv6,
}

/// A builtin implementation selected for an `INTERNAL` service (F-060).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Builtin {
    /// `echo`.
    Echo,
    /// `discard`.
    Discard,
    /// `chargen`.
    Chargen,
    /// `daytime`.
    Daytime,
    /// `time`.
    Time,
    /// `tcpmux` (stream only).
    Tcpmux,
    /// The SENSOR discard builtin (F-147).
    Sensor,
    /// `servers` (stream): the running servers. Gone since xinetd 2.3.12 (F-530); only with
    /// [`LoadOptions::admin_builtins`](crate::LoadOptions::admin_builtins) (issue 8).
    Servers,
    /// `services` (stream): the available services. Like [`Builtin::Servers`].
    Services,
    /// `xadmin` (stream): the admin shell. Like [`Builtin::Servers`].
    Xadmin,
    /// `metrics` (stream, extension): Prometheus/OpenMetrics counters over HTTP. Like
    /// [`Builtin::Servers`], only with [`LoadOptions::admin_builtins`](crate::LoadOptions::admin_builtins).
    Metrics,
}

/// Extension `activation`: how a `wait = yes` server receives its listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Activation {
    /// `listen_fds`: systemd's socket-activation protocol (sd_listen_fds(3)): the socket as
    /// fd 3 with `LISTEN_FDS=1`, `LISTEN_PID` and `LISTEN_FDNAMES=<id>`, fds 0-2 on
    /// `/dev/null`.
    ListenFds,
}

impl Activation {
    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::ListenFds => "listen_fds",
        }
    }
}

/// `user =` resolved through the password database (F-106).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// The word as written (name or digits).
    pub text: String,
    /// uid.
    pub uid: u32,
    /// The user's primary gid (for an all-digits user: the same number).
    pub gid: u32,
}

/// `group =` resolved through the group database (F-107).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    /// The word as written.
    pub text: String,
    /// gid.
    pub gid: u32,
}

/// A fully merged, validated service: everything the daemon needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Service {
    /// `service NAME` (span = the header line).
    pub name: Spanned<String>,
    /// `id` (defaults to the name, F-100).
    pub id: Spanned<String>,
    /// `socket_type` (explicit or inferred from the protocol).
    pub socket_type: Spanned<SocketType>,
    /// `protocol` (explicit or inferred from the socket type).
    pub protocol: Spanned<Protocol>,
    /// Port: explicit, from /etc/services, or `None` for RPC services and TCPMUX clients.
    pub port: Option<Spanned<u16>>,
    /// `bind` / `interface` (or inherited from defaults).
    pub bind: Option<Spanned<BindAddress>>,
    /// Listening address family (derived from flags and bind).
    pub family: AddressFamily,
    /// `wait`.
    pub wait: Spanned<bool>,
    /// `type` words.
    pub types: Spanned<BTreeSet<ServiceType>>,
    /// `flags` words.
    pub flags: Spanned<BTreeSet<ServiceFlag>>,
    /// `user` (required for non-internal services).
    pub user: Option<Spanned<User>>,
    /// `group`.
    pub group: Option<Spanned<Group>>,
    /// `groups = yes|no` (F-108).
    pub groups: Spanned<bool>,
    /// `server` (absent for internal services; `/bin/true` is not substituted for redirects).
    pub server: Option<Spanned<String>>,
    /// `server_args` words.
    pub server_args: Option<Spanned<Vec<String>>>,
    /// `env` words.
    pub env: Option<Spanned<Vec<EnvVar>>>,
    /// `passenv` names (`Some(empty)` = pass nothing).
    pub passenv: Option<Spanned<Vec<String>>>,
    /// `only_from` (`None` = not set).
    pub only_from: Option<Spanned<AddressList>>,
    /// `no_access` (`None` = not set).
    pub no_access: Option<Spanned<AddressList>>,
    /// `access_times`.
    pub access_times: Option<Spanned<Vec<TimeInterval>>>,
    /// `log_type` (`None` = the service does not log at all, F-048).
    pub log_type: Option<Spanned<LogType>>,
    /// `log_on_success`.
    pub log_on_success: Spanned<BTreeSet<SuccessFlag>>,
    /// `log_on_failure`.
    pub log_on_failure: Spanned<BTreeSet<FailureFlag>>,
    /// `instances`.
    pub instances: Spanned<Limit>,
    /// `per_source`.
    pub per_source: Spanned<Limit>,
    /// `cps`.
    pub cps: Spanned<Cps>,
    /// `max_load` (`None` = off).
    pub max_load: Option<Spanned<f64>>,
    /// `rlimit_*`.
    pub rlimits: Rlimits,
    /// `umask` (octal, 0..=0o777).
    pub umask: Option<Spanned<u32>>,
    /// `nice`.
    pub nice: Option<Spanned<i32>>,
    /// `banner`.
    pub banner: Option<Spanned<String>>,
    /// `banner_success`.
    pub banner_success: Option<Spanned<String>>,
    /// `banner_fail`.
    pub banner_fail: Option<Spanned<String>>,
    /// `redirect`.
    pub redirect: Option<Spanned<Redirect>>,
    /// `rpc_version`.
    pub rpc_version: Option<Spanned<RpcVersion>>,
    /// RPC program number (`rpc_number`, or from /etc/rpc for listed RPC services).
    pub rpc_number: Option<Spanned<i32>>,
    /// `deny_time`.
    pub deny_time: Spanned<DenyTime>,
    /// `v6only` as set *in the service* (any explicit value turns IPV6_V6ONLY on, F-136).
    pub v6only: Option<Spanned<bool>>,
    /// `libwrap` daemon name.
    pub libwrap: Option<Spanned<String>>,
    /// The builtin for INTERNAL services.
    pub builtin: Option<Builtin>,
    /// Extension (not in xinetd): `chroot = DIR`, applied in the child before exec.
    pub chroot: Option<Spanned<String>>,
    /// Extension (not in xinetd): `timeout = SECONDS`, a per-connection run time limit.
    pub timeout: Option<Spanned<u32>>,
    /// Extension (not in xinetd): `bind_device = IFNAME` (SO_BINDTODEVICE).
    pub bind_device: Option<Spanned<String>>,
    /// Extensions (not in xinetd): the load-balancer attributes (`proxy_protocol`, ...).
    /// This and the other extension groups are [`Extension`]s: most services set none of
    /// them, and an unset group costs a pointer instead of its full size (issue 16).
    pub proxy: Extension<crate::proxy::ProxyAttrs>,
    /// Extension (not in xinetd): `activation = listen_fds` (`wait = yes` only).
    pub activation: Option<Spanned<Activation>>,
    /// Extension (not in xinetd): `log_stderr = yes`, the server's stderr goes to the
    /// service's log, one record per line (docs/structured-logs.md).
    pub log_stderr: Option<Spanned<bool>>,
    /// Extensions (not in xinetd): listening-socket options (`backlog`, `keepalive`, ...).
    pub socket: Extension<crate::sockopts::SocketOptions>,
    /// Extension (not in xinetd): `source_prefix = V4BITS V6BITS` (`None` = exact addresses).
    pub source_prefix: Option<Spanned<crate::sockopts::SourcePrefix>>,
    /// Extensions (not in xinetd): the sandbox attributes (issue 14).
    pub sandbox: Extension<crate::sandbox::Sandbox>,
    /// Extension (not in xinetd): the `tls_*` attributes (TLS termination, issue 15).
    pub tls: Extension<crate::tls::TlsAttrs>,
}

impl Service {
    /// `true` when `type` contains `t`.
    pub fn has_type(&self, t: ServiceType) -> bool {
        self.types.value.contains(&t)
    }
    /// `true` when `flags` contains `f`.
    pub fn has_flag(&self, f: ServiceFlag) -> bool {
        self.flags.value.contains(&f)
    }
    /// TCPMUX/TCPMUXPLUS clients have no socket of their own (F-064).
    pub fn is_tcpmux_client(&self) -> bool {
        self.has_type(ServiceType::Tcpmux) || self.has_type(ServiceType::TcpmuxPlus)
    }
}

/// The `defaults` entry after every file was read (all `defaults` blocks merged, F-040).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Defaults {
    /// `log_type`.
    pub log_type: Option<Spanned<LogType>>,
    /// `log_on_success`.
    pub log_on_success: Option<Spanned<BTreeSet<SuccessFlag>>>,
    /// `log_on_failure`.
    pub log_on_failure: Option<Spanned<BTreeSet<FailureFlag>>>,
    /// `only_from`.
    pub only_from: Option<Spanned<AddressList>>,
    /// `no_access`.
    pub no_access: Option<Spanned<AddressList>>,
    /// `passenv`.
    pub passenv: Option<Spanned<Vec<String>>>,
    /// `instances`.
    pub instances: Option<Spanned<Limit>>,
    /// `per_source`.
    pub per_source: Option<Spanned<Limit>>,
    /// `cps`.
    pub cps: Option<Spanned<Cps>>,
    /// `max_load`.
    pub max_load: Option<Spanned<f64>>,
    /// `groups`.
    pub groups: Option<Spanned<bool>>,
    /// `umask`.
    pub umask: Option<Spanned<u32>>,
    /// `bind` / `interface`.
    pub bind: Option<Spanned<BindAddress>>,
    /// `v6only` (no effect on listening sockets, F-136).
    pub v6only: Option<Spanned<bool>>,
    /// `banner`.
    pub banner: Option<Spanned<String>>,
    /// `banner_success`.
    pub banner_success: Option<Spanned<String>>,
    /// `banner_fail`.
    pub banner_fail: Option<Spanned<String>>,
    /// `enabled` ids (`Some(empty)` still enables the filter, F-052).
    pub enabled: Option<Spanned<Vec<String>>>,
    /// `disabled` ids.
    pub disabled: Option<Spanned<Vec<String>>>,
    /// Extension: `source_prefix`.
    pub source_prefix: Option<Spanned<crate::sockopts::SourcePrefix>>,
    /// The load-balancer attributes, copied into each later service (like `only_from`).
    pub proxy: Extension<crate::proxy::ProxyAttrs>,
}

/// A whole configuration: the merged defaults and the accepted services, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The defaults entry.
    pub defaults: Defaults,
    /// Accepted services. Boxed: a service is about 2 KB, and a daemon keeps each one for
    /// as long as it runs; boxes let it take them over without copying, so loading never
    /// holds two copies of every service at once.
    pub services: Vec<Box<Service>>,
}

impl Config {
    /// The services that get a listening socket (TCPMUX clients are served through the
    /// `tcpmux` builtin and have none, F-064).
    pub fn listening_services(&self) -> impl Iterator<Item = &Service> {
        self.services
            .iter()
            .map(|s| &**s)
            .filter(|s| !s.is_tcpmux_client())
    }
}

/// Why a declared service is not in [`Config::services`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// `disable = yes` in the entry (F-050).
    DisabledInEntry,
    /// Listed in `disabled =` in defaults (F-051).
    DisabledByDefaults,
    /// Not listed in `enabled =` in defaults (F-052).
    NotEnabled,
    /// An error (see the diagnostics for the service).
    Error,
}

/// A service that was declared but dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedService {
    /// `service NAME`.
    pub name: String,
    /// The id (or the name when no id was read).
    pub id: String,
    /// Where the entry starts.
    pub span: Span,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// A path on the local file system, as used by [`crate::Environment`].
pub type FsPath = PathBuf;
