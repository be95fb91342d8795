//! The attribute tables: names, value counts, which are cumulative, which are allowed in
//! `defaults` (parse.c's service_attributes / default_attributes, F-032..F-041, §2).

use crate::sandbox::SandboxAttr as S;

/// Every attribute xinetd-rs knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Attr {
    SocketType,
    Protocol,
    Wait,
    User,
    Group,
    Server,
    ServerArgs,
    Instances,
    LogOnSuccess,
    LogOnFailure,
    LogType,
    OnlyFrom,
    NoAccess,
    AccessTimes,
    Type,
    RpcVersion,
    RpcNumber,
    Id,
    Env,
    Port,
    Passenv,
    Flags,
    Nice,
    Redirect,
    Banner,
    Bind,
    PerSource,
    Groups,
    BannerSuccess,
    BannerFail,
    Cps,
    Disable,
    MaxLoad,
    RlimitAs,
    RlimitCpu,
    RlimitData,
    RlimitFiles,
    RlimitRss,
    RlimitStack,
    V6only,
    DenyTime,
    Umask,
    Libwrap,
    Enabled,
    Disabled,
    Chroot,
    Timeout,
    BindDevice,
    Activation,
    LogStderr,
    Backlog,
    Keepalive,
    Reuseport,
    Freebind,
    DeferAccept,
    Mark,
    ReceiveBuffer,
    SendBuffer,
    SourcePrefix,
    SocketPath,
    SocketMode,
    SocketOwner,
    SocketGroup,
    OnlyUid,
    OnlyGid,
    /// The sandbox extensions (issue 14), see `crate::sandbox`.
    Sandbox(S),
    ProxyProtocol,
    ProxyFrom,
    ProxyTimeout,
    RedirectProxy,
    ConnectionEnv,
    TlsCert,
    TlsKey,
    TlsClientCa,
    TlsClientAuth,
    TlsAlpn,
    TlsMinVersion,
    TlsHandshakeTimeout,
}

/// How many values an attribute takes (parse.c's a_nvalues).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Exactly n (a mismatch is a warning and the line is ignored, F-035).
    Exactly(usize),
    /// Zero or more, `=` only.
    Any,
    /// Zero or more, `=`, `+=`, `-=` (cumulative, F-038).
    Cumulative,
}

/// A sandbox table entry (keeps the rows of the table below on one line each).
const fn sb(name: &'static str, a: S, count: Count) -> (&'static str, Attr, Count) {
    (name, Attr::Sandbox(a), count)
}
const ONE: Count = Count::Exactly(1);
const ANY: Count = Count::Any;

/// (name, attr, count) of service attributes; `interface` is `bind`.
pub const SERVICE_ATTRS: &[(&str, Attr, Count)] = &[
    ("socket_type", Attr::SocketType, Count::Exactly(1)),
    ("protocol", Attr::Protocol, Count::Exactly(1)),
    ("wait", Attr::Wait, Count::Exactly(1)),
    ("user", Attr::User, Count::Exactly(1)),
    ("group", Attr::Group, Count::Exactly(1)),
    ("server", Attr::Server, Count::Exactly(1)),
    ("server_args", Attr::ServerArgs, Count::Any),
    ("instances", Attr::Instances, Count::Exactly(1)),
    ("log_on_success", Attr::LogOnSuccess, Count::Cumulative),
    ("log_on_failure", Attr::LogOnFailure, Count::Cumulative),
    ("log_type", Attr::LogType, Count::Any),
    ("only_from", Attr::OnlyFrom, Count::Cumulative),
    ("no_access", Attr::NoAccess, Count::Cumulative),
    ("access_times", Attr::AccessTimes, Count::Any),
    ("type", Attr::Type, Count::Any),
    ("rpc_version", Attr::RpcVersion, Count::Exactly(1)),
    ("rpc_number", Attr::RpcNumber, Count::Exactly(1)),
    ("id", Attr::Id, Count::Exactly(1)),
    ("env", Attr::Env, Count::Cumulative),
    ("port", Attr::Port, Count::Exactly(1)),
    ("passenv", Attr::Passenv, Count::Cumulative),
    ("flags", Attr::Flags, Count::Any),
    ("nice", Attr::Nice, Count::Exactly(1)),
    ("redirect", Attr::Redirect, Count::Exactly(2)),
    ("banner", Attr::Banner, Count::Exactly(1)),
    ("bind", Attr::Bind, Count::Exactly(1)),
    ("interface", Attr::Bind, Count::Exactly(1)),
    ("per_source", Attr::PerSource, Count::Exactly(1)),
    ("groups", Attr::Groups, Count::Exactly(1)),
    ("banner_success", Attr::BannerSuccess, Count::Exactly(1)),
    ("banner_fail", Attr::BannerFail, Count::Exactly(1)),
    ("cps", Attr::Cps, Count::Exactly(2)),
    ("disable", Attr::Disable, Count::Exactly(1)),
    ("max_load", Attr::MaxLoad, Count::Exactly(1)),
    ("rlimit_as", Attr::RlimitAs, Count::Exactly(1)),
    ("rlimit_cpu", Attr::RlimitCpu, Count::Exactly(1)),
    ("rlimit_data", Attr::RlimitData, Count::Exactly(1)),
    ("rlimit_files", Attr::RlimitFiles, Count::Exactly(1)),
    ("rlimit_rss", Attr::RlimitRss, Count::Exactly(1)),
    ("rlimit_stack", Attr::RlimitStack, Count::Exactly(1)),
    ("v6only", Attr::V6only, Count::Exactly(1)),
    ("deny_time", Attr::DenyTime, Count::Exactly(1)),
    ("umask", Attr::Umask, Count::Exactly(1)),
    ("libwrap", Attr::Libwrap, Count::Exactly(1)),
    // Extensions (docs/compat.md): real xinetd warns `bad service attribute` for these.
    ("chroot", Attr::Chroot, Count::Exactly(1)),
    ("timeout", Attr::Timeout, Count::Exactly(1)),
    ("bind_device", Attr::BindDevice, Count::Exactly(1)),
    ("activation", Attr::Activation, Count::Exactly(1)),
    ("log_stderr", Attr::LogStderr, Count::Exactly(1)),
    // Listening-socket options and source keys (crate::sockopts).
    ("backlog", Attr::Backlog, Count::Exactly(1)),
    ("keepalive", Attr::Keepalive, Count::Any),
    ("reuseport", Attr::Reuseport, Count::Exactly(1)),
    ("freebind", Attr::Freebind, Count::Exactly(1)),
    ("defer_accept", Attr::DeferAccept, Count::Exactly(1)),
    ("mark", Attr::Mark, Count::Exactly(1)),
    ("receive_buffer", Attr::ReceiveBuffer, Count::Exactly(1)),
    ("send_buffer", Attr::SendBuffer, Count::Exactly(1)),
    ("source_prefix", Attr::SourcePrefix, Count::Any),
    ("socket_path", Attr::SocketPath, Count::Exactly(1)),
    ("socket_mode", Attr::SocketMode, Count::Exactly(1)),
    ("socket_owner", Attr::SocketOwner, Count::Exactly(1)),
    ("socket_group", Attr::SocketGroup, Count::Exactly(1)),
    ("only_uid", Attr::OnlyUid, Count::Any),
    ("only_gid", Attr::OnlyGid, Count::Any),
    // Sandbox extensions (issue 14): parsed, printed and checked in crate::sandbox.
    sb("no_new_privs", S::NoNewPrivs, ONE),
    sb("capabilities", S::Capabilities, ANY),
    sb("ambient_capabilities", S::AmbientCapabilities, ANY),
    sb("private_network", S::PrivateNetwork, ONE),
    sb("private_tmp", S::PrivateTmp, ONE),
    sb("private_ipc", S::PrivateIpc, ONE),
    sb("private_uts", S::PrivateUts, ONE),
    sb("private_pid", S::PrivatePid, ONE),
    sb("protect_system", S::ProtectSystem, ONE),
    sb("read_write_paths", S::ReadWritePaths, ANY),
    sb("protect_home", S::ProtectHome, ONE),
    sb("seccomp", S::Seccomp, ANY),
    sb("seccomp_action", S::SeccompAction, ONE),
    sb("landlock_read", S::LandlockRead, ANY),
    sb("landlock_write", S::LandlockWrite, ANY),
    sb("memory_max", S::MemoryMax, ONE),
    sb("pids_max", S::PidsMax, ONE),
    sb("cpu_max", S::CpuMax, ONE),
    sb("landlock_tcp_bind", S::LandlockTcpBind, ANY),
    sb("landlock_tcp_connect", S::LandlockTcpConnect, ANY),
    sb("io_weight", S::IoWeight, ONE),
    sb("cgroup_root", S::CgroupRoot, ONE),
    // Load-balancer extensions (issue 13, crate::proxy).
    ("proxy_protocol", Attr::ProxyProtocol, Count::Any),
    ("proxy_from", Attr::ProxyFrom, Count::Cumulative),
    ("proxy_timeout", Attr::ProxyTimeout, Count::Exactly(1)),
    ("redirect_proxy", Attr::RedirectProxy, Count::Exactly(1)),
    ("connection_env", Attr::ConnectionEnv, Count::Cumulative),
    // TLS termination (issue 15, load/tls.rs).
    ("tls_cert", Attr::TlsCert, Count::Any),
    ("tls_key", Attr::TlsKey, Count::Any),
    ("tls_client_ca", Attr::TlsClientCa, Count::Exactly(1)),
    ("tls_client_auth", Attr::TlsClientAuth, Count::Exactly(1)),
    ("tls_alpn", Attr::TlsAlpn, Count::Any),
    ("tls_min_version", Attr::TlsMinVersion, Count::Exactly(1)),
    (
        "tls_handshake_timeout",
        Attr::TlsHandshakeTimeout,
        Count::Exactly(1),
    ),
];

/// (name, attr, count) of attributes allowed in `defaults` (F-041).
pub const DEFAULTS_ATTRS: &[(&str, Attr, Count)] = &[
    ("log_type", Attr::LogType, Count::Cumulative),
    ("log_on_success", Attr::LogOnSuccess, Count::Cumulative),
    ("log_on_failure", Attr::LogOnFailure, Count::Cumulative),
    ("disabled", Attr::Disabled, Count::Cumulative),
    ("no_access", Attr::NoAccess, Count::Cumulative),
    ("only_from", Attr::OnlyFrom, Count::Cumulative),
    ("instances", Attr::Instances, Count::Exactly(1)),
    ("passenv", Attr::Passenv, Count::Cumulative),
    ("banner", Attr::Banner, Count::Exactly(1)),
    ("bind", Attr::Bind, Count::Exactly(1)),
    ("interface", Attr::Bind, Count::Exactly(1)),
    ("per_source", Attr::PerSource, Count::Exactly(1)),
    ("groups", Attr::Groups, Count::Exactly(1)),
    ("banner_success", Attr::BannerSuccess, Count::Exactly(1)),
    ("banner_fail", Attr::BannerFail, Count::Exactly(1)),
    ("cps", Attr::Cps, Count::Exactly(2)),
    ("enabled", Attr::Enabled, Count::Cumulative),
    ("max_load", Attr::MaxLoad, Count::Exactly(1)),
    ("v6only", Attr::V6only, Count::Exactly(1)),
    ("umask", Attr::Umask, Count::Exactly(1)),
    ("source_prefix", Attr::SourcePrefix, Count::Any),
    ("proxy_protocol", Attr::ProxyProtocol, Count::Any),
    ("proxy_from", Attr::ProxyFrom, Count::Cumulative),
    ("proxy_timeout", Attr::ProxyTimeout, Count::Exactly(1)),
    ("redirect_proxy", Attr::RedirectProxy, Count::Exactly(1)),
    ("connection_env", Attr::ConnectionEnv, Count::Cumulative),
];

/// Extension attributes (not in xinetd 2.3.15.3).
pub fn is_extension(a: Attr) -> bool {
    matches!(
        a,
        Attr::Chroot
            | Attr::Activation
            | Attr::LogStderr
            | Attr::Timeout
            | Attr::BindDevice
            | Attr::Backlog
            | Attr::Keepalive
            | Attr::Reuseport
            | Attr::Freebind
            | Attr::DeferAccept
            | Attr::Mark
            | Attr::ReceiveBuffer
            | Attr::SendBuffer
            | Attr::SourcePrefix
            | Attr::SocketPath
            | Attr::SocketMode
            | Attr::SocketOwner
            | Attr::SocketGroup
            | Attr::OnlyUid
            | Attr::OnlyGid
            | Attr::Sandbox(_)
            | Attr::ProxyProtocol
            | Attr::ProxyFrom
            | Attr::ProxyTimeout
            | Attr::RedirectProxy
            | Attr::ConnectionEnv
            | Attr::TlsCert
            | Attr::TlsKey
            | Attr::TlsClientCa
            | Attr::TlsClientAuth
            | Attr::TlsAlpn
            | Attr::TlsMinVersion
            | Attr::TlsHandshakeTimeout
    )
}

/// Looks `name` up case-insensitively (F-023).
pub fn lookup(
    table: &'static [(&'static str, Attr, Count)],
    name: &str,
) -> Option<(&'static str, Attr, Count)> {
    table
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .copied()
}

/// The closest known attribute name, for "did you mean" hints.
pub fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    for (n, _, _) in SERVICE_ATTRS.iter().chain(DEFAULTS_ATTRS) {
        let d = edit_distance(&lower, n);
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(
            lookup(SERVICE_ATTRS, "Socket_Type").map(|x| x.1),
            Some(Attr::SocketType)
        );
        assert_eq!(
            lookup(SERVICE_ATTRS, "interface").map(|x| x.1),
            Some(Attr::Bind)
        );
        assert!(lookup(DEFAULTS_ATTRS, "user").is_none());
        assert_eq!(suggest("onlyfrom"), Some("only_from"));
        assert_eq!(suggest("zzzzzzzz"), None);
    }
}
