//! The draft: a service (or the defaults) while its entry is read, and its conversion
//! into the model once every check passed.

use std::collections::{BTreeSet, HashSet};

use crate::attrs::Attr;
use crate::model::*;

use super::validate::{admin_builtin_for, builtin_for};

/// Where a service was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An xinetd.conf entry.
    XinetdConf,
    /// An inetd.conf line read by `-inetd_compat`.
    InetdConf,
}

/// A service (or the defaults) while its entry is read: xinetd's struct service_config.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// Which file format the service came from (some wording differs).
    pub(crate) origin: Origin,
    pub(crate) name: String,
    pub(crate) header: Span,
    pub(crate) is_defaults: bool,
    pub(crate) specified: HashSet<Attr>,
    pub(crate) disabled: bool,
    pub(crate) disabled_by_entry: bool,
    /// A value failed to parse (xinetd's SC_DISABLE from identify_attribute); unlike
    /// `disabled`, `disable = no` and `enabled` do not clear it (docs/compat.md).
    pub(crate) error: Option<Span>,
    pub(crate) id: Option<Spanned<String>>,
    pub(crate) socket_type: Option<Spanned<SocketType>>,
    pub(crate) protocol: Option<Spanned<Protocol>>,
    pub(crate) wait: Option<Spanned<bool>>,
    pub(crate) user: Option<Spanned<User>>,
    pub(crate) group: Option<Spanned<Group>>,
    pub(crate) server: Option<Spanned<String>>,
    pub(crate) server_args: Option<Spanned<Vec<String>>>,
    pub(crate) instances: Option<Spanned<Limit>>,
    pub(crate) log_on_success: Option<Spanned<BTreeSet<SuccessFlag>>>,
    pub(crate) log_on_failure: Option<Spanned<BTreeSet<FailureFlag>>>,
    pub(crate) log_type: Option<Spanned<LogType>>,
    pub(crate) only_from: Option<Spanned<AddressList>>,
    pub(crate) no_access: Option<Spanned<AddressList>>,
    pub(crate) access_times: Option<Spanned<Vec<TimeInterval>>>,
    pub(crate) types: Option<Spanned<BTreeSet<ServiceType>>>,
    pub(crate) rpc_version: Option<Spanned<RpcVersion>>,
    pub(crate) rpc_number: Option<Spanned<i32>>,
    pub(crate) env: Option<Spanned<Vec<EnvVar>>>,
    pub(crate) port: Option<Spanned<u16>>,
    pub(crate) passenv: Option<Spanned<Vec<String>>>,
    pub(crate) flags: Option<Spanned<BTreeSet<ServiceFlag>>>,
    pub(crate) nice: Option<Spanned<i32>>,
    pub(crate) redirect: Option<Spanned<Redirect>>,
    pub(crate) banner: Option<Spanned<String>>,
    pub(crate) bind: Option<Spanned<BindAddress>>,
    pub(crate) per_source: Option<Spanned<Limit>>,
    pub(crate) groups: Option<Spanned<bool>>,
    pub(crate) banner_success: Option<Spanned<String>>,
    pub(crate) banner_fail: Option<Spanned<String>>,
    pub(crate) cps: Option<Spanned<Cps>>,
    pub(crate) max_load: Option<Spanned<f64>>,
    pub(crate) rlimits: Rlimits,
    pub(crate) v6only: Option<Spanned<bool>>,
    pub(crate) deny_time: Option<Spanned<DenyTime>>,
    pub(crate) umask: Option<Spanned<u32>>,
    pub(crate) libwrap: Option<Spanned<String>>,
    pub(crate) enabled: Option<Spanned<Vec<String>>>,
    pub(crate) disabled_ids: Option<Spanned<Vec<String>>>,
    pub(crate) chroot: Option<Spanned<String>>,
    pub(crate) timeout: Option<Spanned<u32>>,
    pub(crate) bind_device: Option<Spanned<String>>,
    pub(crate) proxy: Extension<crate::proxy::ProxyAttrs>,
    pub(crate) activation: Option<Spanned<Activation>>,
    pub(crate) log_stderr: Option<Spanned<bool>>,
    pub(crate) socket: Extension<crate::sockopts::SocketOptions>,
    pub(crate) source_prefix: Option<Spanned<crate::sockopts::SourcePrefix>>,
    pub(crate) sandbox: Extension<crate::sandbox::Sandbox>,
    pub(crate) tls: Extension<crate::tls::TlsAttrs>,
}

impl Draft {
    pub(crate) fn new(name: String, header: Span, is_defaults: bool) -> Draft {
        Draft {
            origin: Origin::XinetdConf,
            name,
            header,
            is_defaults,
            specified: HashSet::new(),
            disabled: false,
            disabled_by_entry: false,
            error: None,
            id: None,
            socket_type: None,
            protocol: None,
            wait: None,
            user: None,
            group: None,
            server: None,
            server_args: None,
            instances: None,
            log_on_success: None,
            log_on_failure: None,
            log_type: None,
            only_from: None,
            no_access: None,
            access_times: None,
            types: None,
            rpc_version: None,
            rpc_number: None,
            env: None,
            port: None,
            passenv: None,
            flags: None,
            nice: None,
            redirect: None,
            banner: None,
            bind: None,
            per_source: None,
            groups: None,
            banner_success: None,
            banner_fail: None,
            cps: None,
            max_load: None,
            rlimits: Rlimits::default(),
            v6only: None,
            deny_time: None,
            umask: None,
            libwrap: None,
            enabled: None,
            disabled_ids: None,
            chroot: None,
            timeout: None,
            bind_device: None,
            proxy: Default::default(),
            activation: None,
            log_stderr: None,
            socket: Extension::default(),
            source_prefix: None,
            sandbox: Extension::default(),
            tls: Extension::default(),
        }
    }
    pub(crate) fn id(&self) -> &str {
        self.id
            .as_ref()
            .map(|s| s.value.as_str())
            .unwrap_or(&self.name)
    }
    pub(super) fn has_type(&self, t: ServiceType) -> bool {
        self.types.as_ref().is_some_and(|s| s.value.contains(&t))
    }
    pub(super) fn has_flag(&self, f: ServiceFlag) -> bool {
        self.flags.as_ref().is_some_and(|s| s.value.contains(&f))
    }
    pub(super) fn is_internal(&self) -> bool {
        self.has_type(ServiceType::Internal)
    }
    pub(super) fn is_unlisted(&self) -> bool {
        self.has_type(ServiceType::Unlisted)
    }
    pub(super) fn is_rpc(&self) -> bool {
        self.has_type(ServiceType::Rpc)
    }
    pub(super) fn is_muxclient(&self) -> bool {
        self.has_type(ServiceType::Tcpmux) || self.has_type(ServiceType::TcpmuxPlus)
    }
    pub(super) fn waits(&self) -> bool {
        self.wait.as_ref().is_some_and(|w| w.value)
    }
}

pub(super) fn family(d: &Draft) -> AddressFamily {
    if d.has_flag(ServiceFlag::Ipv6) {
        AddressFamily::Ipv6
    } else if d.has_flag(ServiceFlag::Ipv4) {
        AddressFamily::Ipv4
    } else {
        match &d.bind {
            Some(b) if b.value.address.is_ipv4() => AddressFamily::Ipv4,
            _ => AddressFamily::Ipv6,
        }
    }
}

pub(crate) fn into_service(d: Draft) -> Service {
    let hs = d.header.clone();
    let family = family(&d);
    let builtin = if d.is_internal() {
        let lookup = if d.has_flag(ServiceFlag::Sensor) {
            "sensor"
        } else {
            d.name.as_str()
        };
        // Admin builtins reach this point only when the environment allowed them.
        let st = d.socket_type.as_ref().map(|s| s.value);
        builtin_for(lookup, st).or_else(|| admin_builtin_for(lookup, st))
    } else {
        None
    };
    let port = if d.is_rpc() { None } else { d.port };
    Service {
        id: d
            .id
            .clone()
            .unwrap_or_else(|| Spanned::new(d.name.clone(), hs.clone())),
        name: Spanned::new(d.name, hs.clone()),
        socket_type: d
            .socket_type
            .unwrap_or_else(|| Spanned::new(SocketType::Stream, hs.clone())),
        protocol: d.protocol.unwrap_or_else(|| {
            Spanned::new(
                Protocol {
                    name: "tcp".into(),
                    number: 6,
                },
                hs.clone(),
            )
        }),
        port,
        bind: d.bind,
        family,
        wait: d.wait.unwrap_or_else(|| Spanned::new(false, hs.clone())),
        types: d
            .types
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        flags: d
            .flags
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        user: d.user,
        group: d.group,
        groups: d.groups.unwrap_or_else(|| Spanned::new(false, hs.clone())),
        server: if d.redirect.is_some() { None } else { d.server },
        server_args: d.server_args,
        env: d.env,
        passenv: d.passenv,
        only_from: d.only_from,
        no_access: d.no_access,
        access_times: d.access_times,
        log_type: d.log_type,
        log_on_success: d
            .log_on_success
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        log_on_failure: d
            .log_on_failure
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        instances: d
            .instances
            .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
        per_source: d
            .per_source
            .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
        cps: d
            .cps
            .unwrap_or_else(|| Spanned::new(Cps::default(), hs.clone())),
        max_load: d.max_load,
        rlimits: d.rlimits,
        umask: d.umask,
        nice: d.nice,
        banner: d.banner,
        banner_success: d.banner_success,
        banner_fail: d.banner_fail,
        redirect: d.redirect,
        rpc_version: d.rpc_version,
        rpc_number: d.rpc_number,
        deny_time: d
            .deny_time
            .unwrap_or_else(|| Spanned::new(DenyTime::Never, hs.clone())),
        v6only: d.v6only,
        libwrap: d.libwrap,
        builtin,
        chroot: d.chroot,
        timeout: d.timeout,
        bind_device: d.bind_device,
        proxy: d.proxy,
        activation: d.activation,
        log_stderr: d.log_stderr,
        socket: d.socket,
        source_prefix: d.source_prefix,
        sandbox: d.sandbox,
        tls: d.tls,
    }
}

pub(super) fn into_defaults(d: Draft) -> Defaults {
    let keep = |a: Attr| d.specified.contains(&a);
    Defaults {
        log_type: d.log_type.clone().filter(|_| keep(Attr::LogType)),
        log_on_success: d
            .log_on_success
            .clone()
            .filter(|_| keep(Attr::LogOnSuccess)),
        log_on_failure: d
            .log_on_failure
            .clone()
            .filter(|_| keep(Attr::LogOnFailure)),
        only_from: d.only_from.clone().filter(|_| keep(Attr::OnlyFrom)),
        no_access: d.no_access.clone().filter(|_| keep(Attr::NoAccess)),
        passenv: d.passenv.clone().filter(|_| keep(Attr::Passenv)),
        instances: d.instances.clone(),
        per_source: d.per_source.clone(),
        cps: d.cps.clone(),
        max_load: d.max_load.clone(),
        groups: d.groups.clone(),
        umask: d.umask.clone(),
        bind: d.bind.clone(),
        v6only: d.v6only.clone(),
        banner: d.banner.clone(),
        banner_success: d.banner_success.clone(),
        banner_fail: d.banner_fail.clone(),
        enabled: d.enabled.clone().filter(|_| keep(Attr::Enabled)),
        disabled: d.disabled_ids.clone().filter(|_| keep(Attr::Disabled)),
        source_prefix: d.source_prefix.clone(),
        proxy: d.proxy.clone(),
    }
}
