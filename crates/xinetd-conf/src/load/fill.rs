//! Defaults at the end of the parse: the `enabled`/`disabled` lists (xinetd's
//! remove_disabled_services) and the fill-at-end values (service_fill, F-047).

use crate::attrs::Attr;
use crate::diagnostic::{diag, Severity, XinetdLevel};
use crate::model::*;

use super::draft::{Draft, Origin};
use super::Checks;

impl Checks<'_> {
    /// remove_disabled_services for one service (F-051, F-052): `Some` (reported) when
    /// `disable`, a parse error, the `enabled` list or the `disabled` list of the defaults
    /// takes it out.
    pub(crate) fn remove_disabled(&mut self, d: &mut Draft, def: &Defaults) -> Option<DropReason> {
        let in_list = |l: &Option<Spanned<Vec<String>>>, id: &str| {
            l.as_ref()
                .is_some_and(|l| l.value.iter().any(|x| x.eq_ignore_ascii_case(id)))
        };
        // The `enabled` filter disables every service, then enables the listed ones
        // (which also re-enables services disabled by an error; we drop those later).
        let mut filtered_out = false;
        if def.enabled.is_some() {
            let listed = in_list(&def.enabled, d.id());
            filtered_out = !listed;
            d.disabled = !listed;
        }
        let reason = if d.disabled {
            if d.error.is_some() {
                DropReason::Error
            } else if filtered_out {
                DropReason::NotEnabled
            } else {
                DropReason::DisabledInEntry
            }
        } else if in_list(&def.disabled, d.id()) {
            DropReason::DisabledByDefaults
        } else {
            return None;
        };
        let msg = match reason {
            DropReason::NotEnabled => format!(
                "service '{}' is not listed in 'enabled' in defaults; removed",
                d.id()
            ),
            DropReason::DisabledByDefaults => format!(
                "service '{}' is listed in 'disabled' in defaults; removed",
                d.id()
            ),
            _ => format!(
                "service '{}' is removed because of the errors above",
                d.id()
            ),
        };
        let mut dg = diag(&d.header, Severity::Info, msg).service(Some(d.id()));
        if reason != DropReason::DisabledByDefaults {
            dg = dg.xplain(
                XinetdLevel::Debug,
                "remove_disabled_services",
                format!("removing {}", d.name),
            );
        }
        self.diagnostics.push(dg);
        Some(reason)
    }

    /// service_fill (F-047): the end-of-parse defaults and the values xinetd infers
    /// (protocol from socket_type and back, the port from /etc/services). `false` when
    /// the service is dropped (reported).
    pub(crate) fn service_fill(&mut self, d: &mut Draft, def: &Defaults) -> bool {
        let hs = d.header.clone();
        let has_redirect = d.redirect.is_some();
        if !d.is_internal() && !has_redirect && d.server.is_none() {
            let t = format!("Must specify a server in {}", d.name);
            self.post_error(d, "fix_server_argv", t, "no 'server' given".into(), Some("external services need server = /path/to/program (or type = INTERNAL, or redirect)"));
            return false;
        }
        if !d.is_internal() && d.has_flag(ServiceFlag::NameInArgs) && d.server_args.is_none() {
            self.post_error(
                d,
                "fix_server_argv",
                "Must specify server args if using NAMEINARGS flag".into(),
                "NAMEINARGS needs server_args (its first word becomes argv[0])".into(),
                None,
            );
            return false;
        }
        if d.instances.is_none() {
            d.instances = Some(
                def.instances
                    .clone()
                    .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
            );
        }
        if d.umask.is_none() {
            d.umask = def.umask.clone();
        }
        if d.per_source.is_none() {
            d.per_source = Some(
                def.per_source
                    .clone()
                    .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
            );
        }
        if d.groups.is_none() {
            d.groups = Some(
                def.groups
                    .clone()
                    .unwrap_or_else(|| Spanned::new(false, hs.clone())),
            );
        }
        if d.cps.is_none() {
            d.cps = Some(
                def.cps
                    .clone()
                    .unwrap_or_else(|| Spanned::new(Cps::default(), hs.clone())),
            );
        }
        if d.max_load.is_none() {
            d.max_load = def.max_load.clone();
        }
        if d.bind.is_none() {
            d.bind = def.bind.clone();
        }
        if d.source_prefix.is_none() {
            d.source_prefix = def.source_prefix.clone();
        }
        if d.deny_time.is_none() {
            d.deny_time = Some(Spanned::new(DenyTime::Never, hs.clone()));
        }
        // Protocol <-> socket_type inference (F-055).
        if d.protocol.is_none() {
            if let Some(st) = &d.socket_type {
                let p = match st.value {
                    SocketType::Stream => Some("tcp"),
                    SocketType::Dgram => Some("udp"),
                    _ => None,
                };
                if let Some(p) = p {
                    if let Some(n) = self.env.protocol_number(p) {
                        d.protocol = Some(Spanned::new(
                            Protocol {
                                name: p.into(),
                                number: n,
                            },
                            st.span.clone(),
                        ));
                        d.specified.insert(Attr::Protocol);
                    }
                }
            }
        } else if d.socket_type.is_none() {
            if let Some(p) = &d.protocol {
                let st = if p.value.name.eq_ignore_ascii_case("tcp") {
                    Some(SocketType::Stream)
                } else if p.value.name.eq_ignore_ascii_case("udp") {
                    Some(SocketType::Dgram)
                } else {
                    None
                };
                if let Some(st) = st {
                    d.socket_type = Some(Spanned::new(st, p.span.clone()));
                    d.specified.insert(Attr::SocketType);
                }
            }
        }
        // A Unix-domain listener (extension `socket_path`) has a path, not a port.
        if d.port.is_none() && !d.is_muxclient() && !d.is_rpc() && !d.socket.is_unix() {
            if d.is_unlisted() {
                let t = format!("Unlisted service: {} must have a port entry", d.name);
                self.post_error(
                    d,
                    "service_fill",
                    t,
                    "UNLISTED service without 'port'".into(),
                    None,
                );
                return false;
            }
            match &d.protocol {
                Some(p) => match self.env.service_port(&d.name, &p.value.name) {
                    Some(port) => {
                        d.port = Some(Spanned::new(port, hs.clone()));
                        d.specified.insert(Attr::Port);
                    }
                    None => {
                        let t = format!(
                            "Port not specified and can't find service: {} with getservbyname",
                            d.name
                        );
                        // An inetd.conf line has no port field to mention.
                        let ours = match d.origin {
                            Origin::XinetdConf => format!(
                                "'{}/{}' is not in /etc/services and no port is given",
                                d.name, p.value.name
                            ),
                            Origin::InetdConf => {
                                format!("'{}/{}' is not in /etc/services", d.name, p.value.name)
                            }
                        };
                        let hint = if p.value.name != p.value.name.to_ascii_lowercase() {
                            "/etc/services lookups compare the protocol name case-sensitively: write it in lower case"
                        } else {
                            "add type = UNLISTED and a port, or use the /etc/services name"
                        };
                        self.post_error(d, "service_fill", t, ours, Some(hint));
                        return false;
                    }
                },
                None => {
                    let t = format!(
                        "Port not specified for service: {} and no protocol given",
                        d.name
                    );
                    self.post_error(
                        d,
                        "service_fill",
                        t,
                        "neither socket_type nor protocol given (and no port)".into(),
                        Some("add socket_type = stream|dgram"),
                    );
                    return false;
                }
            }
        }
        // `Defaults` holds log_on_success/failure only when the defaults entry set them.
        if !d.specified.contains(&Attr::LogOnSuccess) && def.log_on_success.is_some() {
            d.log_on_success = def.log_on_success.clone();
        }
        if !d.specified.contains(&Attr::LogOnFailure) && def.log_on_failure.is_some() {
            d.log_on_failure = def.log_on_failure.clone();
        }
        if d.log_type.is_none() {
            if let Some(lt) = &def.log_type {
                let mut v = lt.clone();
                if let LogType::File { shared, .. } = &mut v.value {
                    *shared = true;
                }
                d.log_type = Some(v);
            }
        }
        // Extension log_stderr: its lines go to the service's log, so without one they
        // are discarded (and no longer reach the client either).
        if let (Some(ls), None) = (&d.log_stderr, &d.log_type) {
            if ls.value {
                self.diagnostics.push(
                    crate::diagnostic::diag(
                        &ls.span,
                        crate::diagnostic::Severity::Warning,
                        "log_stderr = yes without a log_type: the servers' stderr is discarded",
                    )
                    .hint("give the service (or defaults) a log_type")
                    .service(Some(d.id())),
                );
            }
        }
        true
    }
}
