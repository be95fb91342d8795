//! Post-parse checks (xinetd's check_entry, service_attr_check, builtin_find, cnf_get).

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::attrs::Attr;
use crate::diagnostic::{diag, Severity, XinetdLevel};
use crate::model::*;

use super::draft::Draft;
use super::draft::Origin;
use super::Checks;

/// What the duplicate rule (F-071) compares of an earlier accepted service that has a bind
/// address: from a draft of this load, or from a service of a configuration already loaded
/// (`-inetd_compat` adds its services to one).
pub(crate) struct Claim<'a> {
    name: &'a str,
    id: &'a str,
    line: u32,
    port: u16,
    protocol: i32,
    bind: IpAddr,
    rpc: Option<(Option<i32>, Option<&'a RpcVersion>)>,
}

impl<'a> Claim<'a> {
    /// `None` without a bind address: such services never clash.
    pub(crate) fn of_draft(t: &'a Draft) -> Option<Claim<'a>> {
        Some(Claim {
            name: &t.name,
            id: t.id(),
            line: t.header.line,
            port: t.port.as_ref().map(|p| p.value).unwrap_or(0),
            protocol: t.protocol.as_ref().map(|p| p.value.number).unwrap_or(0),
            bind: t.bind.as_ref()?.value.address,
            rpc: t.is_rpc().then(|| {
                (
                    t.rpc_number.as_ref().map(|n| n.value),
                    t.rpc_version.as_ref().map(|v| &v.value),
                )
            }),
        })
    }

    /// `None` without a bind address: such services never clash.
    pub(crate) fn of_service(t: &'a Service) -> Option<Claim<'a>> {
        Some(Claim {
            name: &t.name.value,
            id: &t.id.value,
            line: t.name.span.line,
            port: t.port.as_ref().map(|p| p.value).unwrap_or(0),
            protocol: t.protocol.value.number,
            bind: t.bind.as_ref()?.value.address,
            rpc: t.has_type(ServiceType::Rpc).then(|| {
                (
                    t.rpc_number.as_ref().map(|n| n.value),
                    t.rpc_version.as_ref().map(|v| &v.value),
                )
            }),
        })
    }
}

impl Checks<'_> {
    /// A post-parse error that drops the service (logged by xinetd without a location).
    pub(crate) fn post_error(
        &mut self,
        d: &Draft,
        function: &'static str,
        text: String,
        ours: String,
        hint: Option<&str>,
    ) {
        let mut dg = diag(
            &d.header,
            Severity::Error,
            format!("{ours}; service '{}' is dropped", d.id()),
        )
        .service(Some(d.id()))
        .xplain(XinetdLevel::Error, function, text);
        // The hints speak xinetd.conf (type = UNLISTED, ...), which an inetd.conf line cannot say.
        if let (Some(h), Origin::XinetdConf) = (hint, d.origin) {
            dg = dg.hint(h);
        }
        self.diagnostics.push(dg);
    }

    /// check_entry and service_attr_check (F-055..F-071) against the services accepted
    /// before this one; `false` when the service is dropped (reported).
    #[allow(clippy::too_many_lines)]
    pub(crate) fn check_entry<'c>(
        &mut self,
        d: &mut Draft,
        accepted: impl IntoIterator<Item = Claim<'c>>,
    ) -> bool {
        // Duplicates, only against earlier services with a bind address (F-071).
        let port = d.port.as_ref().map(|p| p.value).unwrap_or(0);
        let proto = d.protocol.as_ref().map(|p| p.value.number).unwrap_or(0);
        for t in accepted {
            if t.port != port || t.protocol != proto {
                continue;
            }
            if let Some(b) = &d.bind {
                if b.value.address != t.bind {
                    continue;
                }
            }
            if let (true, Some((n2, v2))) = (d.is_rpc(), t.rpc) {
                let n1 = d.rpc_number.as_ref().map(|n| n.value);
                if n1 != n2 {
                    continue;
                }
                if let (Some(v1), Some(v2)) = (&d.rpc_version, v2) {
                    if v1.value.min > v2.max || v1.value.max < v2.min {
                        continue;
                    }
                }
            }
            let diff = !t.id.eq_ignore_ascii_case(d.id());
            let (text, ours) = if diff {
                (
                    format!("service: {} id: {} is unique but its identical to service: {} id: {} - DISABLING", d.name, d.id(), t.name, t.id),
                    format!("same port, protocol and bind address as service '{}' (line {})", t.id, t.line),
                )
            } else {
                (
                    format!("service: {} id: {} not unique or is a duplicate - DISABLING", d.name, d.id()),
                    format!("duplicate of service '{}' (line {}) on the same port, protocol and bind address", t.id, t.line),
                )
            };
            self.post_error(d, "check_entry", text, ours, None);
            return false;
        }
        if d.has_flag(ServiceFlag::Intercept) {
            let mut clear = false;
            if d.is_internal() {
                self.diagnostics.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "INTERCEPT is ignored on internal services",
                    )
                    .service(Some(d.id()))
                    .xplain(
                        XinetdLevel::Error,
                        "check_entry",
                        format!("Internal services cannot be intercepted: {} ", d.id()),
                    ),
                );
                clear = true;
            }
            if !d.waits() {
                self.diagnostics.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "INTERCEPT is ignored on wait = no services",
                    )
                    .service(Some(d.id()))
                    .xplain(
                        XinetdLevel::Error,
                        "check_entry",
                        format!("Multi-threaded services cannot be intercepted: {}", d.id()),
                    ),
                );
                clear = true;
            }
            if clear {
                if let Some(f) = d.flags.as_mut() {
                    f.value.remove(&ServiceFlag::Intercept);
                }
            }
        }
        if d.has_flag(ServiceFlag::Sensor) {
            let span = d.header.clone();
            d.types
                .get_or_insert_with(|| Spanned::new(BTreeSet::new(), span))
                .value
                .insert(ServiceType::Internal);
        }
        let st_name = d
            .socket_type
            .as_ref()
            .map(|s| s.value.as_str())
            .unwrap_or("Unknown socket type");
        if d.is_internal() {
            let lookup = if d.has_flag(ServiceFlag::Sensor) {
                "sensor"
            } else {
                d.name.as_str()
            };
            let st = d.socket_type.as_ref().map(|s| s.value);
            let admin = || admin_builtin_for(lookup, st).filter(|_| self.admin_builtins);
            match builtin_for(lookup, st).or_else(admin) {
                Some(_) => {}
                None => {
                    let t = format!(
                        "No such internal service: {}/{} - DISABLING",
                        lookup, st_name
                    );
                    self.post_error(d, "builtin_find", t, format!("no builtin '{lookup}' for socket_type {st_name}"), Some("builtins: echo, discard, chargen, daytime, time (stream, dgram) and tcpmux (stream); they are chosen by service name, not id"));
                    return false;
                }
            }
        }
        if d.has_flag(ServiceFlag::Labeled) {
            let why = if d.is_internal() {
                Some(format!(
                    "Internal services cannot support labeled networking: {}",
                    d.id()
                ))
            } else if d.socket_type.as_ref().map(|s| s.value) != Some(SocketType::Stream) {
                Some(format!(
                    "Non-stream socket types cannot support labeled networking: {}",
                    d.id()
                ))
            } else if d.waits() {
                Some(format!(
                    "Tcp wait services cannot support labeled networking: {}",
                    d.id()
                ))
            } else if d.redirect.is_some() {
                Some(format!(
                    "Redirected services cannot support labeled networking: {}",
                    d.id()
                ))
            } else {
                None
            };
            if let Some(t) = why {
                let ours = t.clone();
                self.post_error(d, "check_entry", t, ours, None);
                return false;
            }
        }
        if !self.check_activation(d) {
            return false;
        }
        self.check_admin_only_from(d);
        if d.is_muxclient() {
            if !d.is_unlisted() {
                let t = format!("Service: {} (tcpmux) should have UNLISTED in type.", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "TCPMUX services need type UNLISTED too".into(),
                    None,
                );
                return false;
            }
            if !d
                .protocol
                .as_ref()
                .is_some_and(|p| p.value.name.eq_ignore_ascii_case("tcp"))
            {
                let t = format!("Service: {} (tcpmux) should have tcp in protocol.", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "TCPMUX services need protocol tcp".into(),
                    None,
                );
                return false;
            }
        }
        if d.is_rpc() && !d.is_unlisted() {
            match self.env.rpc_number(&d.name) {
                Some(n) => d.rpc_number = Some(Spanned::new(n, d.header.clone())),
                None => {
                    let t = format!("unknown RPC service: {}", d.name);
                    self.post_error(
                        d,
                        "check_entry",
                        t,
                        format!("'{}' is not in /etc/rpc", d.name),
                        Some("add type = UNLISTED and rpc_number"),
                    );
                    return false;
                }
            }
        } else if !d.is_unlisted() {
            match &d.protocol {
                Some(p) => match self.env.service_port(&d.name, &p.value.name) {
                    None => {
                        let t = format!(
                            "service/protocol combination not in /etc/services: {}/{}",
                            d.name, p.value.name
                        );
                        self.post_error(d, "check_entry", t, format!("'{}/{}' is not in /etc/services", d.name, p.value.name), Some("add type = UNLISTED (and a port) for services /etc/services does not list"));
                        return false;
                    }
                    Some(sp) => {
                        if let Some(port) = &d.port {
                            if port.value != sp {
                                let t = format!(
                                    "Service {} expects port {}, not {}",
                                    d.name, sp, port.value
                                );
                                self.post_error(
                                    d,
                                    "check_entry",
                                    t,
                                    format!(
                                        "/etc/services gives port {sp} for '{}', not {}",
                                        d.name, port.value
                                    ),
                                    Some("add type = UNLISTED to use another port"),
                                );
                                return false;
                            }
                        }
                    }
                },
                None => {
                    let t = format!(
                        "A protocol or a socket_type must be specified for service: {}.",
                        d.name
                    );
                    self.post_error(
                        d,
                        "check_entry",
                        t,
                        "neither socket_type nor protocol given".into(),
                        None,
                    );
                    return false;
                }
            }
        }
        if d.redirect.is_some() {
            if d.socket_type.as_ref().map(|s| s.value) != Some(SocketType::Stream) {
                let t = format!(
                    "Only tcp sockets are supported for redirected service {}",
                    d.name
                );
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "redirect works for stream (tcp) services only".into(),
                    None,
                );
                return false;
            }
            if d.waits() {
                let t = format!("Redirected service {} must not wait", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "redirected services must have wait = no".into(),
                    None,
                );
                return false;
            }
            if d.has_flag(ServiceFlag::NameInArgs) {
                let t = format!(
                    "Redirected service {} should not have NAMEINARGS flag set",
                    d.name
                );
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "NAMEINARGS is not allowed with redirect".into(),
                    None,
                );
                return false;
            }
        } else if d
            .log_on_success
            .as_ref()
            .is_some_and(|s| s.value.contains(&SuccessFlag::Traffic))
        {
            let t = format!(
                "Service {} should not have TRAFFIC flag set since its not redirected",
                d.name
            );
            // An inetd.conf line cannot set log_on_success: TRAFFIC came from the defaults.
            let ours = match d.origin {
                Origin::XinetdConf => "log_on_success TRAFFIC is only for redirected services",
                Origin::InetdConf => {
                    "log_on_success TRAFFIC (from defaults) is only for redirected services"
                }
            };
            self.post_error(
                d,
                "check_entry",
                t,
                ours.into(),
                Some("remove TRAFFIC (it may come from defaults)"),
            );
            return false;
        }
        if d.has_flag(ServiceFlag::NameInArgs) {
            if d.is_internal() {
                let t = format!("Service {} is INTERNAL and has NAMEINARGS flag set", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "NAMEINARGS is not allowed on INTERNAL services".into(),
                    None,
                );
                return false;
            } else if d.server_args.is_none() {
                let t = format!(
                    "Service {} has NAMEINARGS flag set and no server_args",
                    d.name
                );
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "NAMEINARGS needs server_args".into(),
                    None,
                );
                return false;
            }
        }
        // service_attr_check (F-055, F-056).
        if d.has_flag(ServiceFlag::Ipv4) && d.has_flag(ServiceFlag::Ipv6) {
            self.diagnostics.push(
                diag(
                    &d.header,
                    Severity::Info,
                    "flags IPv4 and IPv6 together: the service listens dual-stack (IPv6)",
                )
                .service(Some(d.id()))
                .xplain(
                    XinetdLevel::Info,
                    "service_attr_check",
                    format!("Service {} will use IPv6 or fallback to IPv4", d.name),
                ),
            );
            if let Some(f) = d.flags.as_mut() {
                f.value.remove(&ServiceFlag::Ipv4);
            }
        }
        let mut must: Vec<(Attr, &str)> =
            vec![(Attr::Wait, "wait"), (Attr::SocketType, "socket_type")];
        if !d.is_internal() {
            must.push((Attr::User, "user"));
            must.push((Attr::Server, "server"));
            if d.is_unlisted() {
                must.push((Attr::Protocol, "protocol"));
                if !d.is_muxclient() {
                    must.push((Attr::Port, "port"));
                }
            }
        }
        if d.is_rpc() {
            must.retain(|(a, _)| *a != Attr::Port);
            must.push((Attr::Protocol, "protocol"));
            must.push((Attr::RpcVersion, "rpc_version"));
            if d.is_unlisted() {
                must.push((Attr::RpcNumber, "rpc_number"));
            }
        }
        let order = |a: &Attr| match a {
            Attr::Wait => 1,
            Attr::SocketType => 2,
            Attr::Protocol => 3,
            Attr::User => 4,
            Attr::Server => 6,
            Attr::RpcVersion => 12,
            Attr::Port => 19,
            _ => 22,
        };
        must.sort_by_key(|(a, _)| order(a));
        must.dedup();
        let mut missing = false;
        for (a, n) in must {
            let present = match a {
                Attr::Server => d.server.is_some() || d.redirect.is_some(),
                // A Unix-domain listener (extension) has a path instead.
                Attr::Port => d.port.is_some() || d.socket.is_unix(),
                Attr::Protocol => d.protocol.is_some(),
                Attr::SocketType => d.socket_type.is_some(),
                Attr::Wait => d.wait.is_some(),
                Attr::User => d.user.is_some(),
                Attr::RpcVersion => d.rpc_version.is_some(),
                Attr::RpcNumber => d.rpc_number.is_some(),
                _ => true,
            };
            if !present {
                missing = true;
                let t = format!("Service {} missing attribute {n} - DISABLING", d.id());
                self.post_error(
                    d,
                    "service_attr_check",
                    t,
                    format!("required attribute '{n}' is missing"),
                    None,
                );
            }
        }
        !missing
    }

    /// cnf_get: the identity service never queries itself (F-067).
    pub(crate) fn clear_identity_userid(&mut self, d: &mut Draft) {
        let is_ident = d.port.as_ref().is_some_and(|p| p.value == 113)
            && d.protocol.as_ref().is_some_and(|p| p.value.number == 6);
        if !is_ident {
            return;
        }
        if let Some(s) = d.log_on_success.as_mut() {
            if s.value.remove(&SuccessFlag::Userid) {
                let id = d.id().to_string();
                self.diagnostics.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "USERID removed from log_on_success of the identity service (tcp/113)",
                    )
                    .service(Some(&id))
                    .xplain(
                        XinetdLevel::Warning,
                        "cnf_get",
                        format!("{id} service: clearing USERID option from log_on_success"),
                    ),
                );
            }
        }
        if let Some(s) = d.log_on_failure.as_mut() {
            if s.value.remove(&FailureFlag::Userid) {
                let id = d.id().to_string();
                self.diagnostics.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "USERID removed from log_on_failure of the identity service (tcp/113)",
                    )
                    .service(Some(&id))
                    .xplain(
                        XinetdLevel::Warning,
                        "cnf_get",
                        format!("{id} service: clearing USERID option from log_on_failure"),
                    ),
                );
            }
        }
    }
}

impl Checks<'_> {
    /// The admin builtins (and `metrics`) answer only the addresses of their `only_from`
    /// (issue 8): without one they refuse everybody, which is legal but never what is meant.
    fn check_admin_only_from(&mut self, d: &Draft) {
        if !d.is_internal() || d.only_from.is_some() {
            return;
        }
        let st = d.socket_type.as_ref().map(|s| s.value);
        if builtin_for(&d.name, st).is_some() {
            return;
        }
        if let Some(b) = admin_builtin_for(&d.name, st).filter(|_| self.admin_builtins) {
            let name = format!("{b:?}").to_ascii_lowercase();
            self.diagnostics.push(
                diag(
                    &d.header,
                    Severity::Warning,
                    format!(
                        "the {name} builtin answers only the addresses of its only_from, and \
                         service '{}' has none: every client is refused",
                        d.id()
                    ),
                )
                .service(Some(d.id()))
                .hint("add only_from = 127.0.0.1 (or the addresses that may ask)"),
            );
        }
    }

    /// Extension `activation = listen_fds`: the server gets the listening socket, so only a
    /// `wait = yes` service with an external server can have it; anything else is dropped
    /// with a diagnostic at the attribute (the server would otherwise look for fd 3 and find
    /// nothing, or be handed a connection it takes for a listener).
    fn check_activation(&mut self, d: &Draft) -> bool {
        let Some(a) = &d.activation else {
            return true;
        };
        let why = if d.is_internal() {
            "an internal service has no server to hand the socket to"
        } else if d.redirect.is_some() {
            "a redirect service has no server to hand the socket to"
        } else if !d.waits() {
            "it needs wait = yes (with wait = no each server gets one accepted connection)"
        } else if !fd_name_is_valid(d.id()) {
            // LISTEN_FDNAMES is `:`-separated; sd_listen_fds_with_names() rejects a count
            // mismatch, so an id with `:` would make the server refuse its socket.
            "the service id is its LISTEN_FDNAMES name, which must be printable ASCII without ':' (at most 255 bytes)"
        } else {
            return true;
        };
        let ours = format!(
            "activation = {} is not valid here: {why}; service '{}' is dropped",
            a.value.as_str(),
            d.id()
        );
        let text = format!(
            "activation = {} needs wait = yes and a server: {} - DISABLING",
            a.value.as_str(),
            d.id()
        );
        self.diagnostics.push(
            diag(&a.span, Severity::Error, ours)
                .service(Some(d.id()))
                .hint("set wait = yes, or remove activation")
                .xplain(XinetdLevel::Error, "check_entry", text),
        );
        false
    }
}

/// systemd's rule for a file descriptor name (`fdname_is_valid`): 1..=255 printable ASCII
/// characters, no `:` (the separator of `LISTEN_FDNAMES`).
fn fd_name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !name.contains(':')
}

/// The builtin for `name`/`socket_type` (builtins.c's table, F-060).
pub fn builtin_for(name: &str, st: Option<SocketType>) -> Option<Builtin> {
    let st = st?;
    let n = name.to_ascii_lowercase();
    let b = match n.as_str() {
        "echo" => Builtin::Echo,
        "discard" => Builtin::Discard,
        "chargen" => Builtin::Chargen,
        "daytime" => Builtin::Daytime,
        "time" => Builtin::Time,
        "sensor" => Builtin::Sensor,
        "tcpmux" if st == SocketType::Stream => return Some(Builtin::Tcpmux),
        _ => return None,
    };
    matches!(st, SocketType::Stream | SocketType::Dgram).then_some(b)
}

/// The admin builtins of xinetd ≤ 2.3.11 (`servers`, `services`, `xadmin`; stream only),
/// accepted only with [`LoadOptions::admin_builtins`](crate::LoadOptions::admin_builtins)
/// (F-530, issue 8).
pub fn admin_builtin_for(name: &str, st: Option<SocketType>) -> Option<Builtin> {
    if st? != SocketType::Stream {
        return None;
    }
    match name.to_ascii_lowercase().as_str() {
        "servers" => Some(Builtin::Servers),
        "services" => Some(Builtin::Services),
        "xadmin" => Some(Builtin::Xadmin),
        "metrics" => Some(Builtin::Metrics),
        _ => None,
    }
}
