//! Typing attribute values: xinetd's parsers.c, one arm per attribute, with its operators.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::attrs::Attr;
use crate::diagnostic::{diag, Severity, XinetdLevel};
use crate::model::*;
use crate::syntax::{AttrLine, Op};
use crate::values::{self, IntervalError};

use super::draft::Draft;
use super::Loader;

/// A value parser's failure: the specific xinetd line(s) and our message.
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) hint: Option<String>,
    pub(super) xinetd: Option<(XinetdLevel, &'static str, String)>,
}

pub(super) fn fail(function: &'static str, text: impl Into<String>) -> Failure {
    let text = text.into();
    Failure {
        message: text.clone(),
        hint: None,
        xinetd: Some((XinetdLevel::Error, function, text)),
    }
}

pub(super) fn warn_fail(function: &'static str, text: impl Into<String>) -> Failure {
    let mut f = fail(function, text);
    if let Some(x) = f.xinetd.as_mut() {
        x.0 = XinetdLevel::Warning;
    }
    f
}

impl Failure {
    pub(super) fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    pub(super) fn message(mut self, m: impl Into<String>) -> Self {
        self.message = m.into();
        self
    }
}

pub(super) fn missing_values(function: &'static str, attr: &str) -> Failure {
    warn_fail(
        function,
        format!("attribute {attr} expects at least 1 value and none was given."),
    )
    .message(format!("'{attr}' needs at least one value"))
}

impl Loader<'_> {
    #[allow(clippy::too_many_lines)]
    pub(super) fn parse_value(
        &mut self,
        d: &mut Draft,
        attr: Attr,
        name: &str,
        op: Op,
        line: &AttrLine,
    ) -> Result<(), Failure> {
        let vals: Vec<&str> = line.values.iter().map(|v| v.0.as_str()).collect();
        let first = vals.first().copied().unwrap_or("");
        let span = line.span.clone();
        macro_rules! sp {
            ($v:expr) => {
                Spanned::new($v, span.clone())
            };
        }
        match attr {
            Attr::SocketType => {
                let t = SocketType::ALL
                    .into_iter()
                    .find(|t| t.as_str().eq_ignore_ascii_case(first))
                    .ok_or_else(|| {
                        fail("socket_type_parser", format!("Bad socket type: {first}"))
                    })?;
                d.socket_type = Some(sp!(t));
            }
            Attr::Protocol => {
                let n = self.env.protocol_number(first).ok_or_else(|| {
                    fail(
                        "protocol_parser",
                        format!("Protocol {first} not in /etc/protocols"),
                    )
                })?;
                d.protocol = Some(sp!(Protocol {
                    name: first.to_string(),
                    number: n,
                }));
            }
            Attr::Wait => d.wait = Some(sp!(yes_no(first, "wait_parser", "Bad value for wait")?)),
            Attr::Groups => {
                d.groups = Some(sp!(yes_no(first, "groups_parser", "Bad value for groups")?))
            }
            Attr::V6only => {
                d.v6only = Some(sp!(yes_no(first, "v6only_parser", "Bad value for v6only")?))
            }
            Attr::Disable => {
                let v = yes_no(first, "svcdisable_parser", "Bad value")?;
                // `no` is SC_ENABLE: it also clears a disable caused by an earlier error.
                d.disabled = v;
                d.disabled_by_entry = v;
            }
            Attr::User => {
                if first.bytes().all(|c| c.is_ascii_digit()) {
                    let uid = values::parse_c_uint(first).ok_or_else(|| {
                        fail(
                            "user_parser",
                            format!("Error parsing user as a number: {first}"),
                        )
                    })?;
                    d.user = Some(sp!(User {
                        text: first.to_string(),
                        uid,
                        gid: uid,
                    }));
                } else {
                    let pw = self
                        .env
                        .user_by_name(first)
                        .ok_or_else(|| fail("user_parser", format!("Unknown user: {first}")))?;
                    d.user = Some(sp!(User {
                        text: first.to_string(),
                        uid: pw.uid,
                        gid: pw.gid,
                    }));
                }
            }
            Attr::Group => {
                let gid = if first.bytes().all(|c| c.is_ascii_digit()) {
                    values::parse_c_uint(first).ok_or_else(|| {
                        fail(
                            "group_parser",
                            format!("Error parsing group as a number: {first}"),
                        )
                    })?
                } else {
                    self.env
                        .group_by_name(first)
                        .ok_or_else(|| fail("group_parser", format!("Unknown group: {first}")))?
                        .gid
                };
                d.group = Some(sp!(Group {
                    text: first.to_string(),
                    gid,
                }));
            }
            Attr::Server => {
                if !self.env.server_is_executable(first) {
                    return Err(
                        fail("server_parser", format!("Server {first} is not executable"))
                            .hint("xinetd checks access(X_OK) when it reads the file (F-111)"),
                    );
                }
                d.server = Some(sp!(first.to_string()));
            }
            Attr::ServerArgs => {
                if vals.is_empty() {
                    return Err(missing_values("server_args_parser", "server_args"));
                }
                d.server_args = Some(sp!(vals.iter().map(|s| s.to_string()).collect()));
            }
            Attr::Instances => {
                d.instances = Some(sp!(parse_limit_word(first).ok_or_else(|| {
                    fail(
                        "instances_parser",
                        format!("Number of instances is invalid: {first}"),
                    )
                })?))
            }
            Attr::PerSource => {
                d.per_source = Some(sp!(parse_limit_word(first).ok_or_else(|| {
                    fail(
                        "per_source_parser",
                        format!("Number of per source instances is invalid: {first}"),
                    )
                })?))
            }
            Attr::LogOnSuccess => {
                let mut set = if op == Op::Set {
                    BTreeSet::new()
                } else {
                    d.log_on_success.take().map(|s| s.value).unwrap_or_default()
                };
                let r = apply_words(
                    &mut set,
                    &vals,
                    op,
                    &SuccessFlag::ALL,
                    SuccessFlag::as_str,
                    "log_on_success flag",
                );
                d.log_on_success = Some(sp!(set));
                r?;
            }
            Attr::LogOnFailure => {
                let mut set = if op == Op::Set {
                    BTreeSet::new()
                } else {
                    d.log_on_failure.take().map(|s| s.value).unwrap_or_default()
                };
                let r = apply_words(
                    &mut set,
                    &vals,
                    op,
                    &FailureFlag::ALL,
                    FailureFlag::as_str,
                    "log_on_failure flag",
                );
                d.log_on_failure = Some(sp!(set));
                r?;
            }
            Attr::Type => {
                if vals.is_empty() {
                    return Err(missing_values("type_parser", "type"));
                }
                let mut set = d.types.take().map(|s| s.value).unwrap_or_default();
                let r = apply_words(
                    &mut set,
                    &vals,
                    Op::Add,
                    &ServiceType::ALL,
                    ServiceType::as_str,
                    "service type",
                );
                d.types = Some(sp!(set));
                r?;
            }
            Attr::Flags => {
                if vals.is_empty() {
                    return Err(missing_values("flags_parser", "flags"));
                }
                let mut set = d.flags.take().map(|s| s.value).unwrap_or_default();
                let r = apply_words(
                    &mut set,
                    &vals,
                    Op::Add,
                    &ServiceFlag::ALL,
                    ServiceFlag::as_str,
                    "service flag",
                );
                d.flags = Some(sp!(set));
                r?;
            }
            Attr::LogType => {
                if vals.is_empty() {
                    return Err(missing_values("parse_log_type", "log_type"));
                }
                if d.log_type.is_some() {
                    return Err(fail(
                        "parse_log_type",
                        "Cannot set more than one log_type attribute",
                    )
                    .hint("xinetd 2.3.15.3 accepts only one log_type per entry (F-006)"));
                }
                d.log_type = Some(sp!(parse_log_type(&vals)?));
            }
            Attr::OnlyFrom | Attr::NoAccess => {
                let current = if attr == Attr::OnlyFrom {
                    d.only_from.take()
                } else {
                    d.no_access.take()
                };
                let mut list = if op == Op::Set {
                    Vec::new()
                } else {
                    current.map(|s| s.value).unwrap_or_default()
                };
                let r = self.address_words(&mut list, line, op, d);
                let v = Some(sp!(list));
                if attr == Attr::OnlyFrom {
                    d.only_from = v;
                } else {
                    d.no_access = v;
                }
                r?;
            }
            Attr::AccessTimes => {
                if vals.is_empty() {
                    return Err(missing_values("access_times_parser", "access_times"));
                }
                let mut out = Vec::new();
                for v in &vals {
                    match values::parse_interval(v) {
                        Ok(t) => out.push(t),
                        Err(IntervalError::Incorrect) => {
                            return Err(fail("get_num", "incorrect time interval")
                                .message(format!("bad access_times interval '{v}'"))
                                .hint("intervals are H:MM-H:MM separated by blanks (no commas)"))
                        }
                        Err(IntervalError::OutOfRange) => {
                            return Err(fail("get_num", "invalid time interval")
                                .message(format!("access_times interval '{v}' is out of range"))
                                .hint("hours are 0-23 and minutes 0-59; use 23:59 for the end of the day (F-220)"))
                        }
                        Err(IntervalError::NotIncreasing) => {
                            return Err(fail("add_interval", format!("invalid time interval: {v}"))
                                .hint("the start must be before the end; intervals cannot wrap past midnight, split them in two"))
                        }
                    }
                }
                d.access_times = Some(sp!(out));
            }
            Attr::RpcVersion => {
                let (a, b) = match first.split_once('-') {
                    None => {
                        let v = values::parse_c_int(first, 10);
                        (v.unwrap_or(0), v.unwrap_or(-1))
                    }
                    Some((lo, hi)) => {
                        match (values::parse_c_int(lo, 10), values::parse_c_int(hi, 10)) {
                            (Some(l), Some(h)) => (l, h),
                            (l, _) => {
                                let l = l.unwrap_or(0);
                                (l, l.wrapping_sub(1))
                            }
                        }
                    }
                };
                if a > b {
                    let shown = first.split('-').next().unwrap_or(first);
                    return Err(fail(
                        "rpc_version_parser",
                        format!("bad version range: {shown}"),
                    ));
                }
                d.rpc_version = Some(sp!(RpcVersion { min: a, max: b }));
            }
            Attr::RpcNumber => {
                let n = values::parse_c_int(first, 10)
                    .ok_or_else(|| fail("rpc_number_parser", format!("Error parsing: {first}")))?;
                d.rpc_number = Some(sp!(n));
            }
            Attr::Id => d.id = Some(sp!(first.to_string())),
            Attr::Env => {
                if op == Op::Remove {
                    return Err(warn_fail(
                        "env_parser",
                        "operator '-=' not supported for env attribute",
                    ));
                }
                let mut list = if op == Op::Set {
                    Vec::new()
                } else {
                    d.env.take().map(|s| s.value).unwrap_or_default()
                };
                let mut err = None;
                for v in &vals {
                    match v.split_once('=') {
                        Some((n, val)) => list.push(EnvVar {
                            name: n.to_string(),
                            value: val.to_string(),
                        }),
                        None => {
                            err = Some(fail("env_parser", format!("{v} has no '='")));
                            break;
                        }
                    }
                }
                d.env = Some(sp!(list));
                if let Some(e) = err {
                    return Err(e);
                }
            }
            Attr::Port => {
                let p = values::parse_c_int(first, 10)
                    .filter(|p| (0..65536).contains(p))
                    .ok_or_else(|| {
                        fail("port_parser", "port number is invalid")
                            .message(format!("port '{first}' is not a number from 0 to 65535"))
                    })?;
                d.port = Some(sp!(p as u16));
            }
            Attr::Passenv => {
                let mut list = if op == Op::Set {
                    Vec::new()
                } else {
                    d.passenv.take().map(|s| s.value).unwrap_or_default()
                };
                for (v, vspan) in &line.values {
                    let pos = list.iter().position(|x: &String| x.eq_ignore_ascii_case(v));
                    match (op, pos) {
                        (Op::Remove, Some(i)) => {
                            list.remove(i);
                        }
                        (Op::Remove, None) | (_, Some(_)) => {}
                        (_, None) => {
                            if !self.env.env_defined(v) {
                                self.sink.push(
                                    diag(vspan, Severity::Warning, format!("passenv: '{v}' is not set in xinetd's environment; skipped"))
                                        .service((!d.is_defaults).then_some(d.id()))
                                        .xparse(
                                            XinetdLevel::Warning,
                                            "passenv_parser",
                                            format!("undefined environment variable: {v}"),
                                        ),
                                );
                                continue;
                            }
                            list.push(v.clone());
                        }
                    }
                }
                d.passenv = Some(sp!(list));
            }
            Attr::Nice => {
                let n = values::parse_c_int(first, 10).ok_or_else(|| {
                    fail("nice_parser", format!("Error parsing: {first}"))
                        .message(format!("nice '{first}' is not an integer"))
                })?;
                d.nice = Some(sp!(n));
            }
            Attr::Redirect => {
                let port_word = vals.get(1).copied().unwrap_or("");
                let port = match values::parse_c_int(port_word, 10).filter(|p| *p > 0) {
                    Some(p) => p as i64,
                    None => i64::from(
                        self.env
                            .service_port(port_word, "tcp")
                            .ok_or_else(|| fail("redir_parser", "port number invalid"))?,
                    ),
                };
                if port >= 65536 {
                    return Err(fail("redir_parser", "port number too large"));
                }
                let v6 = first.contains(':');
                let addr = values::parse_numeric_host(first)
                    .filter(|a| a.is_ipv6() == v6)
                    .or_else(|| self.env.resolve(first, Some(v6)).first().copied())
                    .ok_or_else(|| {
                        fail("redir_parser", "bad address")
                            .message(format!("redirect host '{first}' does not resolve"))
                    })?;
                d.redirect = Some(sp!(Redirect {
                    host: first.to_string(),
                    address: addr,
                    port: port as u16,
                }));
            }
            Attr::Bind => {
                // Extension: `fe80::1%eth0` (checked against the address in sockopts).
                let (first, scope) = super::sockopts::split_scope(first)?;
                let numeric_v4 = first.bytes().all(|c| c.is_ascii_digit() || c == b'.');
                let addr = if numeric_v4 {
                    values::parse_inet_aton(first).map(IpAddr::V4)
                } else if first.contains(':') {
                    first.parse().ok()
                } else {
                    self.env.resolve(first, None).first().copied()
                };
                let addr = addr.ok_or_else(|| {
                    fail("bind_parser", "bad address")
                        .message(format!("bind address '{first}' is not an address or a resolvable host name"))
                        .hint("interface names are not supported by xinetd's bind (F-125); use bind_device = IFNAME (xinetd-rs extension)")
                })?;
                d.bind = Some(sp!(BindAddress {
                    text: vals.first().copied().unwrap_or("").to_string(),
                    address: addr,
                    scope,
                }));
            }
            Attr::Banner => d.banner = Some(sp!(first.to_string())),
            Attr::BannerSuccess => d.banner_success = Some(sp!(first.to_string())),
            Attr::BannerFail => d.banner_fail = Some(sp!(first.to_string())),
            Attr::Cps => {
                let rate = values::parse_c_uint(first)
                    .ok_or_else(|| fail("cps_parser", "cps argument not a number"))?;
                let wait = values::parse_c_uint(vals.get(1).copied().unwrap_or(""))
                    .ok_or_else(|| fail("cps_parser", "cps time argument not a number"))?;
                d.cps = Some(sp!(Cps {
                    rate,
                    wait_secs: wait,
                }));
            }
            Attr::MaxLoad => {
                let v = values::parse_c_double(first)
                    .ok_or_else(|| fail("max_load_parser", "error reading max_load argument"))?;
                if v == 0.0 {
                    return Err(fail("max_load_parser", "error parsing max_load argument")
                        .hint("max_load = 0 is an error in xinetd (F-131); remove the line to disable the check"));
                }
                d.max_load = Some(sp!(v));
            }
            Attr::RlimitAs
            | Attr::RlimitData
            | Attr::RlimitFiles
            | Attr::RlimitRss
            | Attr::RlimitStack => {
                let (func, what) = match attr {
                    Attr::RlimitAs => ("rlim_as_parser", "Address space limit"),
                    Attr::RlimitData => ("rlim_data_parser", "Data limit"),
                    Attr::RlimitFiles => ("rlim_files_parser", "Max files limit"),
                    Attr::RlimitRss => ("rlim_rss_parser", "RSS limit"),
                    _ => ("rlim_stack_parser", "Stack limit"),
                };
                let v = if first.eq_ignore_ascii_case("UNLIMITED") {
                    Rlimit::Unlimited
                } else {
                    Rlimit::Value(values::parse_limit(first).ok_or_else(|| {
                        fail(func, format!("{what} is invalid: {first}"))
                            .hint("a number with an optional K or M suffix, or UNLIMITED")
                    })?)
                };
                let slot = match attr {
                    Attr::RlimitAs => &mut d.rlimits.address_space,
                    Attr::RlimitData => &mut d.rlimits.data,
                    Attr::RlimitFiles => &mut d.rlimits.files,
                    Attr::RlimitRss => &mut d.rlimits.rss,
                    _ => &mut d.rlimits.stack,
                };
                *slot = Some(sp!(v));
            }
            Attr::RlimitCpu => {
                let v = if first.eq_ignore_ascii_case("UNLIMITED") {
                    Rlimit::Unlimited
                } else {
                    Rlimit::Value(values::parse_c_ull(first).ok_or_else(|| {
                        fail("rlim_cpu_parser", format!("CPU limit is invalid: {first}"))
                    })?)
                };
                d.rlimits.cpu = Some(sp!(v));
            }
            Attr::DenyTime => {
                let v = if first.eq_ignore_ascii_case("FOREVER") {
                    DenyTime::Forever
                } else if first.eq_ignore_ascii_case("NEVER") {
                    DenyTime::Never
                } else {
                    match values::parse_c_int(first, 10) {
                        Some(0) => DenyTime::Never,
                        Some(-1) => DenyTime::Forever,
                        Some(n) => DenyTime::Minutes(n),
                        None => {
                            return Err(fail("deny_time_parser", format!("Error parsing: {first}")))
                        }
                    }
                };
                d.deny_time = Some(sp!(v));
            }
            Attr::Umask => {
                let v = values::parse_c_int(first, 8)
                    .filter(|v| (0..=0o777).contains(v))
                    .ok_or_else(|| {
                        fail("umask_parser", "umask argument is invalid.\n").message(format!(
                            "umask '{first}' is not an octal number from 0 to 777"
                        ))
                    })?;
                d.umask = Some(sp!(v as u32));
            }
            Attr::Libwrap => d.libwrap = Some(sp!(first.to_string())),
            Attr::Enabled | Attr::Disabled => {
                let slot = if attr == Attr::Enabled {
                    &mut d.enabled
                } else {
                    &mut d.disabled_ids
                };
                let mut list = slot.take().map(|s| s.value).unwrap_or_default();
                list.extend(vals.iter().map(|s| s.to_string()));
                *slot = Some(sp!(list));
            }
            Attr::Chroot => {
                if !first.starts_with('/') {
                    return Err(Failure {
                        message: format!("chroot '{first}' must be an absolute directory path"),
                        hint: None,
                        xinetd: None,
                    });
                }
                d.chroot = Some(sp!(first.to_string()));
            }
            Attr::Timeout => {
                let v = values::parse_c_int(first, 10)
                    .filter(|v| *v > 0)
                    .ok_or_else(|| Failure {
                        message: format!("timeout '{first}' is not a positive number of seconds"),
                        hint: None,
                        xinetd: None,
                    })?;
                d.timeout = Some(sp!(v as u32));
            }
            Attr::Backlog
            | Attr::Keepalive
            | Attr::Reuseport
            | Attr::Freebind
            | Attr::DeferAccept
            | Attr::Mark
            | Attr::ReceiveBuffer
            | Attr::SendBuffer
            | Attr::SourcePrefix => super::sockopts::parse(d, attr, line)?,
            Attr::SocketPath | Attr::SocketMode => super::sockopts::parse(d, attr, line)?,
            Attr::OnlyUid | Attr::OnlyGid => {
                let uid = attr == Attr::OnlyUid;
                let what = if uid { "only_uid" } else { "only_gid" };
                if vals.is_empty() {
                    return Err(Failure {
                        message: format!("'{what}' needs at least one value"),
                        hint: None,
                        xinetd: None,
                    });
                }
                let mut list = Vec::new();
                for v in &vals {
                    let id = if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
                        v.parse().ok()
                    } else if uid {
                        self.env.user_by_name(v).map(|pw| pw.uid)
                    } else {
                        self.env.group_by_name(v).map(|g| g.gid)
                    };
                    let id = id.ok_or_else(|| Failure {
                        message: format!(
                            "{what}: unknown {} '{v}'",
                            if uid { "user" } else { "group" }
                        ),
                        hint: None,
                        xinetd: None,
                    })?;
                    list.push(crate::sockopts::Named {
                        text: v.to_string(),
                        id,
                    });
                }
                if uid {
                    d.socket.make_mut().only_uid = Some(sp!(list));
                } else {
                    d.socket.make_mut().only_gid = Some(sp!(list));
                }
            }
            Attr::SocketOwner => {
                let named = if first.bytes().all(|c| c.is_ascii_digit()) && !first.is_empty() {
                    first.parse().ok()
                } else {
                    self.env.user_by_name(first).map(|pw| pw.uid)
                };
                let id = named.ok_or_else(|| Failure {
                    message: format!("socket_owner: unknown user '{first}'"),
                    hint: None,
                    xinetd: None,
                })?;
                d.socket.make_mut().socket_owner = Some(sp!(crate::sockopts::Named {
                    text: first.to_string(),
                    id,
                }));
            }
            Attr::SocketGroup => {
                let named = if first.bytes().all(|c| c.is_ascii_digit()) && !first.is_empty() {
                    first.parse().ok()
                } else {
                    self.env.group_by_name(first).map(|g| g.gid)
                };
                let id = named.ok_or_else(|| Failure {
                    message: format!("socket_group: unknown group '{first}'"),
                    hint: None,
                    xinetd: None,
                })?;
                d.socket.make_mut().socket_group = Some(sp!(crate::sockopts::Named {
                    text: first.to_string(),
                    id,
                }));
            }
            Attr::ProxyProtocol
            | Attr::ProxyFrom
            | Attr::ProxyTimeout
            | Attr::RedirectProxy
            | Attr::ConnectionEnv => self.parse_proxy(d, attr, op, line)?,
            Attr::BindDevice => {
                if first.is_empty() || first.len() > 15 || first.contains('/') {
                    return Err(Failure {
                        message: format!("bind_device '{first}' is not an interface name (at most 15 bytes, no '/')"),
                        hint: None,
                        xinetd: None,
                    });
                }
                d.bind_device = Some(sp!(first.to_string()));
            }
            Attr::Activation => {
                if !first.eq_ignore_ascii_case("listen_fds") {
                    return Err(Failure {
                        message: format!("activation '{first}' is not known"),
                        hint: Some("the only activation is listen_fds (systemd's LISTEN_FDS protocol, wait = yes services)".into()),
                        xinetd: None,
                    });
                }
                d.activation = Some(sp!(Activation::ListenFds));
            }
            Attr::LogStderr => {
                d.log_stderr = Some(sp!(yes_no(
                    first,
                    "log_stderr",
                    "Bad value for log_stderr"
                )?));
            }
            Attr::Sandbox(a) => {
                crate::sandbox::parse(&mut d.sandbox.make_mut(), a, name, &vals, &span).map_err(
                    |m| Failure {
                        message: m,
                        hint: None,
                        xinetd: None,
                    },
                )?;
            }
            Attr::TlsCert
            | Attr::TlsKey
            | Attr::TlsClientCa
            | Attr::TlsClientAuth
            | Attr::TlsAlpn
            | Attr::TlsMinVersion
            | Attr::TlsHandshakeTimeout => {
                super::tls::parse(&mut d.tls.make_mut(), attr, name, &vals, &span)?
            }
        }
        let _ = name;
        Ok(())
    }
}

pub(super) fn yes_no(v: &str, function: &'static str, what: &str) -> Result<bool, Failure> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(fail(function, format!("{what}: {v}")).hint("expected yes or no"))
    }
}

pub(super) fn parse_limit_word(v: &str) -> Option<Limit> {
    if v.eq_ignore_ascii_case("UNLIMITED") {
        return Some(Limit::Unlimited);
    }
    values::parse_c_int(v, 10)
        .filter(|n| *n >= 0)
        .map(|n| Limit::Max(n as u32))
}

pub(super) fn apply_words<T: Copy + Ord>(
    set: &mut BTreeSet<T>,
    words: &[&str],
    op: Op,
    all: &[T],
    name: fn(T) -> &'static str,
    description: &str,
) -> Result<(), Failure> {
    for w in words {
        match all.iter().find(|t| name(**t).eq_ignore_ascii_case(w)) {
            Some(t) => {
                if op == Op::Remove {
                    set.remove(t);
                } else {
                    set.insert(*t);
                }
            }
            None => {
                let known: Vec<&str> = all.iter().map(|t| name(*t)).collect();
                return Err(
                    warn_fail("parse_value_list", format!("Bad {description}: {w}"))
                        .message(format!("unknown {description} '{w}'"))
                        .hint(format!("known: {}", known.join(" "))),
                );
            }
        }
    }
    Ok(())
}

pub(super) fn parse_log_type(vals: &[&str]) -> Result<LogType, Failure> {
    let kind = vals[0];
    if kind.eq_ignore_ascii_case("FILE") {
        // Extension: a trailing `JSON` word (never a valid limit or, after the path, any
        // word xinetd accepts: the real xinetd rejects such a line and disables the
        // service, `soft limit is invalid` / `wrong number of arguments`).
        let (vals, format) = match vals.split_last() {
            Some((last, rest)) if rest.len() >= 2 && last.eq_ignore_ascii_case("JSON") => {
                (rest, LogFormat::Json)
            }
            _ => (vals, LogFormat::Text),
        };
        if !(2..=4).contains(&vals.len()) {
            return Err(fail("parse_filelog", "wrong number of arguments").message(
                "log_type FILE takes a path, optional soft and hard limits and an optional JSON",
            ));
        }
        let mut soft = None;
        let mut hard = None;
        if vals.len() > 2 {
            let s = values::parse_limit(vals[2])
                .ok_or_else(|| fail("parse_filelog", "soft limit is invalid"))?;
            let h = if vals.len() == 4 {
                let h = values::parse_limit(vals[3])
                    .ok_or_else(|| fail("parse_filelog", "hard limit is invalid"))?;
                if h < s {
                    return Err(fail(
                        "parse_filelog",
                        format!("hard limit ({h}) is less than soft limit ({s})"),
                    ));
                }
                h
            } else {
                // LOG_EXTRA_MIN / LOG_EXTRA_MAX (F-712).
                s + (s / 100).clamp(5 * 1024, 20 * 1024)
            };
            soft = Some(s);
            hard = Some(h);
        }
        Ok(LogType::File {
            path: vals[1].to_string(),
            soft_limit: soft,
            hard_limit: hard,
            shared: false,
            format,
        })
    } else if kind.eq_ignore_ascii_case("SYSLOG") {
        if !(2..=3).contains(&vals.len()) {
            return Err(fail("parse_syslog", "wrong number of arguments")
                .message("log_type SYSLOG takes a facility and an optional level"));
        }
        let facility = SyslogFacility::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(vals[1]))
            .ok_or_else(|| {
                fail(
                    "parse_syslog",
                    format!("Unknown syslog facility: {}", vals[1]),
                )
            })?;
        let level = match vals.get(2) {
            None => SyslogLevel::Info,
            Some(l) => SyslogLevel::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(l))
                .ok_or_else(|| fail("parse_syslog", format!("Unknown syslog level: {l}")))?,
        };
        Ok(LogType::Syslog { facility, level })
    } else if kind.eq_ignore_ascii_case("JOURNAL") {
        // Extension: journald's native protocol.
        if vals.len() > 3 {
            return Err(fail("parse_journal", "wrong number of arguments")
                .message("log_type JOURNAL takes an optional facility and level"));
        }
        let facility = match vals.get(1) {
            None => SyslogFacility::Daemon,
            Some(f) => SyslogFacility::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(f))
                .ok_or_else(|| fail("parse_journal", format!("Unknown syslog facility: {f}")))?,
        };
        let level = match vals.get(2) {
            None => SyslogLevel::Info,
            Some(l) => SyslogLevel::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(l))
                .ok_or_else(|| fail("parse_journal", format!("Unknown syslog level: {l}")))?,
        };
        Ok(LogType::Journal { facility, level })
    } else {
        Err(fail("parse_log_type", format!("Unknown log type: {kind}")).hint(
            "log_type is SYSLOG facility [level], FILE path [soft [hard]] [JSON] or JOURNAL [facility [level]]",
        ))
    }
}
