//! Reading the TLS attributes (extension, issue 15) and the checks that need the whole
//! service: a key for every certificate, a CA for client certificates, a stream service.

use crate::attrs::Attr;
use crate::diagnostic::{diag, Severity};
use crate::model::{SocketType, Span, Spanned};
use crate::tls::{ClientAuth, TlsAttrs, TlsVersion};
use crate::values;

use super::attribute::Failure;
use super::draft::Draft;
use super::Checks;

fn plain(message: String) -> Failure {
    Failure {
        message,
        hint: None,
        xinetd: None,
    }
}

/// Types the value of a `tls_*` attribute into `t`.
pub(super) fn parse(
    t: &mut TlsAttrs,
    attr: Attr,
    name: &str,
    vals: &[&str],
    span: &Span,
) -> Result<(), Failure> {
    let sp = |v| Spanned::new(v, span.clone());
    let first = vals.first().copied().unwrap_or("");
    if vals.is_empty() {
        return Err(plain(format!("'{name}' needs at least one value")));
    }
    let paths = || -> Result<Vec<String>, Failure> {
        vals.iter()
            .map(|p| {
                if p.starts_with('/') {
                    Ok((*p).to_string())
                } else {
                    Err(plain(format!("{name} '{p}' must be an absolute file path")))
                }
            })
            .collect()
    };
    match attr {
        Attr::TlsCert => t.cert = Some(sp(paths()?)),
        Attr::TlsKey => t.key = Some(sp(paths()?)),
        Attr::TlsClientCa => {
            t.client_ca = Some(Spanned::new(
                paths()?.into_iter().next().unwrap_or_default(),
                span.clone(),
            ))
        }
        Attr::TlsClientAuth => {
            let a = ClientAuth::ALL
                .into_iter()
                .find(|a| a.as_str().eq_ignore_ascii_case(first))
                .ok_or_else(|| {
                    plain(format!(
                        "tls_client_auth '{first}' is not one of none, optional, required"
                    ))
                })?;
            t.client_auth = Some(Spanned::new(a, span.clone()));
        }
        Attr::TlsAlpn => {
            for p in vals {
                if p.len() > 255 {
                    return Err(plain(format!(
                        "tls_alpn protocol '{p}' is longer than 255 bytes"
                    )));
                }
            }
            t.alpn = Some(sp(vals.iter().map(|s| (*s).to_string()).collect()));
        }
        Attr::TlsMinVersion => {
            let word = first
                .strip_prefix("TLSv")
                .or_else(|| first.strip_prefix("tlsv"))
                .unwrap_or(first);
            let v = TlsVersion::ALL
                .into_iter()
                .find(|v| v.as_str() == word)
                .ok_or_else(|| {
                    plain(format!("tls_min_version '{first}' is not 1.2 or 1.3"))
                        .hint("rustls offers TLS 1.2 and 1.3 only")
                })?;
            t.min_version = Some(Spanned::new(v, span.clone()));
        }
        Attr::TlsHandshakeTimeout => {
            let v = values::parse_c_int(first, 10)
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    plain(format!(
                        "tls_handshake_timeout '{first}' is not a positive number of seconds"
                    ))
                })?;
            t.handshake_timeout = Some(Spanned::new(v as u32, span.clone()));
        }
        _ => {}
    }
    Ok(())
}

impl Checks<'_> {
    /// The TLS attributes fit together and fit the service; `false` when the service is
    /// dropped (reported at the attribute that is wrong).
    pub(crate) fn check_tls(&mut self, d: &Draft) -> bool {
        let t = &d.tls;
        let mut errors: Vec<(Span, String, Option<&str>)> = Vec::new();
        let any = [
            t.key.as_ref().map(|v| (&v.span, "tls_key")),
            t.client_ca.as_ref().map(|v| (&v.span, "tls_client_ca")),
            t.client_auth.as_ref().map(|v| (&v.span, "tls_client_auth")),
            t.alpn.as_ref().map(|v| (&v.span, "tls_alpn")),
            t.min_version.as_ref().map(|v| (&v.span, "tls_min_version")),
            t.handshake_timeout
                .as_ref()
                .map(|v| (&v.span, "tls_handshake_timeout")),
        ];
        let Some(cert) = &t.cert else {
            if let Some((span, n)) = any.into_iter().flatten().next() {
                errors.push((
                    span.clone(),
                    format!("{n} without tls_cert"),
                    Some("tls_cert and tls_key turn TLS on; the other tls_ attributes refine it"),
                ));
            }
            return self.tls_errors(d, errors);
        };
        match &t.key {
            None => errors.push((
                cert.span.clone(),
                "tls_cert without tls_key".to_string(),
                Some("give one tls_key file per tls_cert file, in the same order"),
            )),
            Some(k) if k.value.len() != cert.value.len() => errors.push((
                k.span.clone(),
                format!(
                    "{} tls_key file(s) for {} tls_cert file(s)",
                    k.value.len(),
                    cert.value.len()
                ),
                Some("the n-th tls_key is the key of the n-th tls_cert"),
            )),
            Some(_) => {}
        }
        if let Some(a) = &t.client_auth {
            if a.value != ClientAuth::None && t.client_ca.is_none() {
                errors.push((
                    a.span.clone(),
                    format!("tls_client_auth = {} without tls_client_ca", a.value.as_str()),
                    Some("tls_client_ca names the CA certificates client certificates are checked against"),
                ));
            }
        }
        let stream = d
            .socket_type
            .as_ref()
            .is_none_or(|s| s.value == SocketType::Stream);
        if !stream {
            errors.push((
                cert.span.clone(),
                "TLS needs socket_type = stream".to_string(),
                None,
            ));
        } else if d.waits() {
            errors.push((
                cert.span.clone(),
                "TLS needs wait = no (a wait = yes server accepts its own connections)".to_string(),
                None,
            ));
        } else if d.is_rpc() || d.is_muxclient() {
            errors.push((
                cert.span.clone(),
                "TLS is not offered for RPC or TCPMUX services".to_string(),
                None,
            ));
        } else if d.is_internal()
            && ["tcpmux", "servers", "services", "xadmin"]
                .iter()
                .any(|n| d.name.eq_ignore_ascii_case(n))
        {
            errors.push((
                cert.span.clone(),
                format!("the {} builtin is not offered over TLS", d.name),
                Some("TLS works with echo, discard, chargen, daytime, time, redirect and external servers"),
            ));
        }
        self.tls_errors(d, errors)
    }

    fn tls_errors(&mut self, d: &Draft, errors: Vec<(Span, String, Option<&str>)>) -> bool {
        let ok = errors.is_empty();
        for (span, msg, hint) in errors {
            let mut dg = diag(
                &span,
                Severity::Error,
                format!("{msg}; service '{}' is dropped", d.id()),
            )
            .service(Some(d.id()));
            if let Some(h) = hint {
                dg = dg.hint(h);
            }
            self.diagnostics.push(dg);
        }
        ok
    }
}
