//! End-of-parse defaults fill (xinetd's service_fill, F-047).

use crate::attrs::Attr;
use crate::model::*;

use super::draft::Draft;
use super::Loader;

impl Loader<'_> {
    pub(super) fn service_fill(&mut self, d: &mut Draft, def: &Draft) -> bool {
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
        if d.port.is_none() && !d.is_muxclient() && !d.is_rpc() {
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
                        let ours = format!(
                            "'{}/{}' is not in /etc/services and no port is given",
                            d.name, p.value.name
                        );
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
        if !d.specified.contains(&Attr::LogOnSuccess) && def.specified.contains(&Attr::LogOnSuccess)
        {
            d.log_on_success = def.log_on_success.clone();
        }
        if !d.specified.contains(&Attr::LogOnFailure) && def.specified.contains(&Attr::LogOnFailure)
        {
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
        true
    }
}
