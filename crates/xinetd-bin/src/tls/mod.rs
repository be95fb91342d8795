//! TLS termination (issue 15): the rustls server configuration of a service, built from its
//! `tls_*` attributes at load and on every reload, and what a finished handshake tells the
//! server and the log ([`identity`]).
//!
//! Only the ring provider is used, so the static build needs no C toolchain for aws-lc. The
//! certificate files are read here, not in xinetd-conf: the model names the files, the
//! daemon (and `-check`) reads them and reports a bad one at the attribute's span.

pub mod identity;

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use xinetd_conf::tls::{ClientAuth, TlsAttrs, TlsVersion};
use xinetd_conf::{Span, Spanned};

/// A service's TLS settings, ready for connections. Shared by the connections of one load:
/// a reload builds a new one, and connections that are open keep theirs.
#[derive(Debug)]
pub struct TlsService {
    /// The rustls configuration (certificates, client verifier, ALPN, versions).
    pub config: Arc<ServerConfig>,
    /// `tls_handshake_timeout`.
    pub handshake_timeout: Duration,
}

/// A file that cannot be used, located at the attribute that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The attribute's position.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.span, self.message)
    }
}

fn err<T>(span: &Span, message: String) -> Result<T, LoadError> {
    Err(LoadError {
        span: span.clone(),
        message,
    })
}

fn read(attr: &str, path: &str, span: &Span) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).or_else(|e| {
        err(
            span,
            format!("{attr} {path}: {}", xinetd_log::explain_errno(&e)),
        )
    })
}

/// The provider every TLS service uses. rustls 0.23.48 deprecates ring's provider because
/// it has no post-quantum key exchange (aws-lc-rs has); ring is the chosen provider all the
/// same (a pure Rust + assembly build, no cmake/C toolchain for the static binary), and the
/// key exchanges it offers (X25519, P-256, P-384) are what OpenSSL clients use by default.
///
/// rustls 0.23.48 lists ring's groups P-384 first; the server prefers X25519, then P-256
/// (the shares OpenSSL, browsers and Go send first), and keeps P-384 for clients that only
/// offer it: a P-384 exchange costs the loop several times an X25519 one per handshake.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group;
    let mut p = rustls::crypto::ring::default_provider();
    p.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    Arc::new(p)
}

/// Reads every certificate in a PEM file.
fn certs(attr: &str, path: &str, span: &Span) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let pem = read(attr, path, span)?;
    let list: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match list {
        Ok(l) if !l.is_empty() => Ok(l),
        Ok(_) => err(
            span,
            format!("{attr} {path}: no PEM certificate in the file"),
        ),
        Err(e) => err(span, format!("{attr} {path}: bad PEM: {e}")),
    }
}

/// Builds the configuration of a service with `tls_cert`; `Ok(None)` without it.
pub fn load(t: &TlsAttrs) -> Result<Option<TlsService>, LoadError> {
    let (Some(cert), Some(key)) = (&t.cert, &t.key) else {
        return Ok(None);
    };
    let provider = provider();
    let mut pairs = Vec::new();
    for (cpath, kpath) in cert.value.iter().zip(&key.value) {
        let chain = certs("tls_cert", cpath, &cert.span)?;
        let kpem = read("tls_key", kpath, &key.span)?;
        let der = match PrivateKeyDer::from_pem_slice(&kpem) {
            Ok(k) => k,
            Err(e) => {
                return err(
                    &key.span,
                    format!("tls_key {kpath}: no usable PEM private key ({e})"),
                )
            }
        };
        let names = identity::dns_names(&chain[0]).map_err(|m| LoadError {
            span: cert.span.clone(),
            message: format!("tls_cert {cpath}: {m}"),
        })?;
        let ck = CertifiedKey::from_der(chain, der, &provider).map_err(|e| LoadError {
            span: key.span.clone(),
            message: format!("tls_key {kpath}: does not fit tls_cert {cpath}: {e}"),
        })?;
        pairs.push((names, Arc::new(ck)));
    }
    let versions: &[&'static rustls::SupportedProtocolVersion] =
        match t.min_version.as_ref().map(|v| v.value) {
            Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
            _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
        };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .or_else(|e| err(&cert.span, format!("TLS versions: {e}")))?;
    let auth = client_auth(t);
    let builder = match (&t.client_ca, auth) {
        (Some(ca), ClientAuth::Optional | ClientAuth::Required) => {
            let verifier = verifier(ca, auth, provider)?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(BySni { pairs }));
    if let Some(alpn) = &t.alpn {
        config.alpn_protocols = alpn.value.iter().map(|p| p.as_bytes().to_vec()).collect();
    }
    Ok(Some(TlsService {
        config: Arc::new(config),
        handshake_timeout: Duration::from_secs(t.handshake_timeout().into()),
    }))
}

/// `tls_client_auth`; with a `tls_client_ca` and no `tls_client_auth`, `required` (a CA
/// given is a CA meant to be enforced).
pub fn client_auth(t: &TlsAttrs) -> ClientAuth {
    match (&t.client_auth, &t.client_ca) {
        (Some(a), _) => a.value,
        (None, Some(_)) => ClientAuth::Required,
        (None, None) => ClientAuth::None,
    }
}

fn verifier(
    ca: &Spanned<String>,
    auth: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, LoadError> {
    let mut roots = RootCertStore::empty();
    for c in certs("tls_client_ca", &ca.value, &ca.span)? {
        if let Err(e) = roots.add(c) {
            return err(
                &ca.span,
                format!("tls_client_ca {}: not a CA certificate: {e}", ca.value),
            );
        }
    }
    let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let b = if auth == ClientAuth::Optional {
        b.allow_unauthenticated()
    } else {
        b
    };
    b.build()
        .or_else(|e| err(&ca.span, format!("tls_client_ca {}: {e}", ca.value)))
}

/// Chooses the certificate whose names cover the client's SNI; the first pair otherwise
/// (no SNI, or a name no certificate has).
#[derive(Debug)]
struct BySni {
    pairs: Vec<(Vec<String>, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_name = hello.server_name().and_then(|sni| {
            self.pairs
                .iter()
                .find(|(names, _)| names.iter().any(|n| name_matches(n, sni)))
        });
        by_name.or(self.pairs.first()).map(|(_, k)| k.clone())
    }
}

/// A certificate name (`host.example`, `*.example`) against an SNI host name.
fn name_matches(pattern: &str, sni: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("*.") {
        // One label only: `*.example` covers `a.example`, not `example` or `a.b.example`.
        return sni
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail.eq_ignore_ascii_case(rest));
    }
    pattern.eq_ignore_ascii_case(sni)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("a.example", "A.Example"));
        assert!(name_matches("*.example", "a.example"));
        assert!(!name_matches("*.example", "example"));
        assert!(!name_matches("*.example", "a.b.example"));
        assert!(!name_matches("*.example", ".example"));
    }
}
