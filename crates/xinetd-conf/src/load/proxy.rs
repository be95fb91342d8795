//! Typing and checking the load-balancer attributes ([`crate::proxy`]).

use std::collections::BTreeSet;

use crate::attrs::Attr;
use crate::diagnostic::{diag, Severity};
use crate::model::*;
use crate::proxy::{ConnectionEnv, ProxyProtocol, ProxyVersion, ProxyVersions, DIRECT_WORD};
use crate::syntax::{AttrLine, Op};
use crate::values;

use super::attribute::Failure;
use super::draft::Draft;
use super::{Checks, Loader};

fn ours(message: String, hint: &str) -> Failure {
    Failure {
        message,
        hint: Some(hint.to_string()),
        xinetd: None,
    }
}

/// Longest `proxy_timeout` accepted: a header is a few hundred bytes sent at once.
const MAX_PROXY_TIMEOUT: i32 = 3600;

impl Loader<'_> {
    /// One of the load-balancer attributes.
    pub(super) fn parse_proxy(
        &mut self,
        d: &mut Draft,
        attr: Attr,
        op: Op,
        line: &AttrLine,
    ) -> Result<(), Failure> {
        let vals: Vec<&str> = line.values.iter().map(|v| v.0.as_str()).collect();
        let span = line.span.clone();
        match attr {
            Attr::ProxyProtocol => {
                let versions = match vals.first().map(|v| v.to_ascii_lowercase()).as_deref() {
                    Some("v1") => ProxyVersions::V1,
                    Some("v2") => ProxyVersions::V2,
                    Some("any") => ProxyVersions::Any,
                    other => {
                        return Err(ours(
                            format!(
                                "proxy_protocol '{}' is not v1, v2 or any",
                                other.unwrap_or("")
                            ),
                            "proxy_protocol = v1 | v2 | any [direct]",
                        ))
                    }
                };
                let direct = match vals.get(1) {
                    None => false,
                    Some(w) if w.eq_ignore_ascii_case(DIRECT_WORD) && vals.len() == 2 => true,
                    Some(_) => {
                        return Err(ours(
                            format!("proxy_protocol '{}' has unknown words", vals.join(" ")),
                            "proxy_protocol = v1 | v2 | any [direct]; `direct` serves peers outside proxy_from with their own address",
                        ))
                    }
                };
                d.proxy.make_mut().proxy_protocol =
                    Some(Spanned::new(ProxyProtocol { versions, direct }, span));
            }
            Attr::ProxyFrom => {
                let cur = d.proxy.make_mut().proxy_from.take();
                let mut list = match (op, cur) {
                    (Op::Set, _) | (_, None) => Vec::new(),
                    (_, Some(cur)) => cur.value,
                };
                let r = self.address_words(&mut list, line, op, d);
                d.proxy.make_mut().proxy_from = Some(Spanned::new(list, span));
                r?;
            }
            Attr::ProxyTimeout => {
                let first = vals.first().copied().unwrap_or("");
                let v = values::parse_c_int(first, 10)
                    .filter(|v| (1..=MAX_PROXY_TIMEOUT).contains(v))
                    .ok_or_else(|| {
                        ours(
                            format!("proxy_timeout '{first}' is not a number of seconds from 1 to {MAX_PROXY_TIMEOUT}"),
                            "the time a peer has to send its whole PROXY header (default 3)",
                        )
                    })?;
                d.proxy.make_mut().proxy_timeout = Some(Spanned::new(v as u32, span));
            }
            Attr::RedirectProxy => {
                let first = vals.first().copied().unwrap_or("");
                let v = match first.to_ascii_lowercase().as_str() {
                    "v1" => ProxyVersion::V1,
                    "v2" => ProxyVersion::V2,
                    _ => {
                        return Err(ours(
                            format!("redirect_proxy '{first}' is not v1 or v2"),
                            "redirect_proxy = v1 | v2: the header sent to the redirect target",
                        ))
                    }
                };
                d.proxy.make_mut().redirect_proxy = Some(Spanned::new(v, span));
            }
            Attr::ConnectionEnv => {
                let cur = d.proxy.make_mut().connection_env.take();
                let mut set = match (op, cur) {
                    (Op::Set, _) | (_, None) => BTreeSet::new(),
                    (_, Some(cur)) => cur.value,
                };
                for w in &vals {
                    let Some(e) = ConnectionEnv::ALL
                        .into_iter()
                        .find(|e| e.as_str().eq_ignore_ascii_case(w))
                    else {
                        return Err(ours(
                            format!("connection_env '{w}' is not systemd or ucspi"),
                            "connection_env = [systemd] [ucspi]",
                        ));
                    };
                    if op == Op::Remove {
                        set.remove(&e);
                    } else {
                        set.insert(e);
                    }
                }
                d.proxy.make_mut().connection_env = Some(Spanned::new(set, span));
            }
            _ => {}
        }
        Ok(())
    }
}

impl Checks<'_> {
    /// Where the load-balancer attributes cannot work: errors drop the service, attributes
    /// without effect are warned about. `false` when the service is dropped (reported).
    pub(crate) fn check_proxy(&mut self, d: &mut Draft) -> bool {
        let stream = d
            .socket_type
            .as_ref()
            .is_none_or(|s| s.value == SocketType::Stream);
        let mut ok = true;
        if let Some(pp) = d.proxy.proxy_protocol.clone() {
            let why = if !stream {
                Some("the PROXY protocol is received on stream services only (a datagram service cannot read a header before each request)")
            } else if d.waits() {
                Some("a wait = yes server accepts its connections itself, so the daemon cannot read their PROXY headers")
            } else if d.socket.socket_path.is_some() {
                Some("a Unix-domain socket has no addresses to replace (its peer is known by its credentials)")
            } else if d.is_muxclient() {
                Some("a tcpmux client service gets the address its tcpmux service received; set proxy_protocol on the tcpmux service")
            } else {
                None
            };
            match why {
                // Inherited from `defaults`: it applies where it can and is dropped here.
                Some(why) if !d.specified.contains(&Attr::ProxyProtocol) => {
                    self.diagnostics.push(
                        diag(
                            &d.header,
                            Severity::Info,
                            format!(
                                "proxy_protocol from defaults does not apply to service '{}': {why}",
                                d.id()
                            ),
                        )
                        .service(Some(d.id())),
                    );
                    let mut p = d.proxy.make_mut();
                    p.proxy_protocol = None;
                    p.proxy_from = None;
                    p.proxy_timeout = None;
                }
                Some(why) => {
                    self.diagnostics.push(
                        diag(
                            &pp.span,
                            Severity::Error,
                            format!(
                                "proxy_protocol cannot be used here: {why}; service '{}' is dropped",
                                d.id()
                            ),
                        )
                        .service(Some(d.id())),
                    );
                    ok = false;
                }
                None => {}
            }
        }
        let p = &d.proxy;
        if let Some(l) = &p.proxy_from {
            for e in &l.value {
                if matches!(e.form, AddressForm::Domain(_)) {
                    self.diagnostics.push(
                        diag(&e.span, Severity::Error, format!("proxy_from '{}' is a domain suffix; service '{}' is dropped", e.text, d.id()))
                            .hint("the balancer is checked before anything is read: give addresses, networks or host names (resolved at load)")
                            .service(Some(d.id())),
                    );
                    ok = false;
                }
            }
        }
        let unused = |a: &str, needs: &str| format!("{a} has no effect without {needs}");
        // Only what the service set itself is warned about: `defaults` may set these for the
        // services that use them.
        let own = |a: Attr| d.specified.contains(&a);
        let mut warn = |span: &Span, text: String| {
            self.diagnostics
                .push(diag(span, Severity::Warning, text).service(Some(d.id())));
        };
        if p.proxy_protocol.is_none() {
            if let Some(l) = p.proxy_from.as_ref().filter(|_| own(Attr::ProxyFrom)) {
                warn(&l.span, unused("proxy_from", "proxy_protocol"));
            }
            if let Some(t) = p.proxy_timeout.as_ref().filter(|_| own(Attr::ProxyTimeout)) {
                warn(&t.span, unused("proxy_timeout", "proxy_protocol"));
            }
        } else if p.proxy_from.is_none() {
            if let Some(pp) = &p.proxy_protocol {
                warn(&pp.span, "proxy_protocol without proxy_from trusts a header from any peer, which can then claim any address (set proxy_from to the balancers)".to_string());
            }
        }
        if let (Some(r), None) = (&p.redirect_proxy, &d.redirect) {
            if own(Attr::RedirectProxy) {
                warn(&r.span, unused("redirect_proxy", "redirect"));
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use crate::proxy::{ConnectionEnv, ProxyVersion, ProxyVersions};
    use crate::{load_bytes, print, Environment, LoadOptions, Loaded, Severity};

    fn load(text: &str) -> Loaded {
        load_bytes(
            text.as_bytes(),
            "lb.conf",
            &Environment::isolated(),
            &LoadOptions::new(),
        )
        .expect("loads")
    }

    fn service(body: &str) -> String {
        format!(
            "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tport = 7007\n\tsocket_type = stream\n\twait = no\n{body}}}\n"
        )
    }

    #[test]
    fn the_attributes_are_typed_and_round_trip() {
        let text = format!(
            "defaults\n{{\n\tproxy_timeout = 5\n\tconnection_env = systemd\n}}\n{}",
            service("\tproxy_protocol = any direct\n\tproxy_from = 127.0.0.1 10.0.0.0/8\n\tconnection_env += ucspi\n")
        );
        let loaded = load(&text);
        let s = &loaded.config.services[0];
        let pp = s.proxy.proxy_protocol.as_ref().expect("set").value;
        assert_eq!(pp.versions, ProxyVersions::Any);
        assert!(pp.direct);
        assert_eq!(s.proxy.proxy_from.as_ref().expect("set").value.len(), 2);
        assert_eq!(s.proxy.timeout_secs(), 5);
        assert!(s.proxy.env(ConnectionEnv::Systemd) && s.proxy.env(ConnectionEnv::Ucspi));
        let printed = print(&loaded.config);
        assert!(printed.contains("proxy_protocol = any direct"), "{printed}");
        let again = load(&printed);
        assert_eq!(print(&again.config), printed);
        assert_eq!(again.config.services[0].proxy, s.proxy.clone());
        assert!(ProxyVersions::Any.accepts(ProxyVersion::V1));
        assert!(!ProxyVersions::V2.accepts(ProxyVersion::V1));
    }

    #[test]
    fn bad_values_are_located() {
        for (line, needle) in [
            ("\tproxy_protocol = v3\n", "proxy_protocol 'v3'"),
            ("\tproxy_protocol = v1 sometimes\n", "unknown words"),
            ("\tproxy_timeout = 0\n", "proxy_timeout '0'"),
            ("\tredirect_proxy = v9\n", "redirect_proxy 'v9'"),
            ("\tconnection_env = inetd\n", "connection_env 'inetd'"),
        ] {
            let loaded = load(&service(line));
            let d = loaded
                .diagnostics
                .iter()
                .find(|d| d.message.contains(needle))
                .unwrap_or_else(|| panic!("{needle}: {:?}", loaded.diagnostics));
            assert_eq!(d.span.line, 7, "{d:?}");
            assert_eq!(d.severity, Severity::Error);
            assert!(
                loaded.config.services.is_empty(),
                "a bad value disables the service"
            );
        }
    }

    #[test]
    fn proxy_protocol_where_it_cannot_work_drops_the_service() {
        let dgram = "service echo\n{\n\ttype = INTERNAL UNLISTED\n\tport = 7007\n\tsocket_type = dgram\n\twait = yes\n\tproxy_protocol = v2\n}\n";
        let loaded = load(dgram);
        assert!(loaded.config.services.is_empty());
        assert!(loaded
            .diagnostics
            .iter()
            .any(|d| d.message.contains("stream services only") && d.span.line == 7));
    }

    #[test]
    fn proxy_protocol_from_defaults_applies_where_it_can() {
        let text = format!(
            "defaults\n{{\n\tproxy_protocol = v2\n\tproxy_from = 10.0.0.1\n}}\n{}\
             service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tport = 7013\n\
             \tsocket_type = dgram\n\twait = yes\n}}\n",
            service("")
        );
        let loaded = load(&text);
        assert_eq!(loaded.config.services.len(), 2, "{:?}", loaded.diagnostics);
        let (tcp, udp) = (&loaded.config.services[0], &loaded.config.services[1]);
        assert!(tcp.proxy.proxy_protocol.is_some());
        assert!(udp.proxy.proxy_protocol.is_none() && udp.proxy.proxy_from.is_none());
        // The group emptied by the check holds no allocation (issue 16).
        assert!(!udp.proxy.is_set());
        assert!(!tcp.socket.is_set() && !tcp.sandbox.is_set() && !tcp.tls.is_set());
        assert!(loaded
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Info && d.message.contains("does not apply")));
        assert!(!loaded
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning));
    }

    #[test]
    fn attributes_without_effect_are_warned_about() {
        let loaded = load(&service(
            "\tproxy_from = 127.0.0.1\n\tredirect_proxy = v1\n",
        ));
        assert_eq!(loaded.config.services.len(), 1);
        let warned: Vec<&str> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .map(|d| d.message.as_str())
            .collect();
        assert!(
            warned
                .iter()
                .any(|m| m.contains("proxy_from has no effect")),
            "{warned:?}"
        );
        assert!(
            warned
                .iter()
                .any(|m| m.contains("redirect_proxy has no effect")),
            "{warned:?}"
        );
        let open = load(&service("\tproxy_protocol = v1\n"));
        assert!(open
            .diagnostics
            .iter()
            .any(|d| d.message.contains("trusts a header from any peer")));
    }
}
