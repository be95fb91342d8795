//! The TLS attributes of a service (extension, issue 15): what a service says about TLS
//! termination. The files are only named here; the daemon reads them (at load and on every
//! reload) and reports what is wrong with them at the attribute's span.

use crate::model::Spanned;

/// `tls_client_auth`: whether the client must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientAuth {
    /// No certificate is asked for (the default).
    #[default]
    None,
    /// Asked for; a client without one is served, one with a bad one is refused.
    Optional,
    /// Asked for; a client without a valid one is refused in the handshake.
    Required,
}

impl ClientAuth {
    /// Every value, in the order the documentation lists them.
    pub const ALL: [ClientAuth; 3] = [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required];

    /// The word in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Optional => "optional",
            ClientAuth::Required => "required",
        }
    }
}

/// `tls_min_version`: the oldest protocol version offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum TlsVersion {
    /// TLS 1.2 (the default: 1.2 and 1.3 are offered).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// Every value.
    pub const ALL: [TlsVersion; 2] = [TlsVersion::Tls12, TlsVersion::Tls13];

    /// The word in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

/// The default `tls_handshake_timeout`, in seconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: u32 = 10;

/// The TLS attributes of a service; all `None` for a service without TLS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsAttrs {
    /// `tls_cert = FILE...`: PEM certificate chains, the n-th paired with the n-th key. With
    /// several, the client's SNI chooses the one whose certificate names it; the first is
    /// the default.
    pub cert: Option<Spanned<Vec<String>>>,
    /// `tls_key = FILE...`: PEM private keys.
    pub key: Option<Spanned<Vec<String>>>,
    /// `tls_client_ca = FILE`: PEM CA certificates client certificates are verified against.
    pub client_ca: Option<Spanned<String>>,
    /// `tls_client_auth = none | optional | required`.
    pub client_auth: Option<Spanned<ClientAuth>>,
    /// `tls_alpn = PROTOCOL...`: ALPN protocol names offered, in preference order.
    pub alpn: Option<Spanned<Vec<String>>>,
    /// `tls_min_version = 1.2 | 1.3`.
    pub min_version: Option<Spanned<TlsVersion>>,
    /// `tls_handshake_timeout = SECONDS` (default [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Option<Spanned<u32>>,
}

impl crate::AttributeGroup for TlsAttrs {
    const EMPTY: &'static Self = &TlsAttrs {
        cert: None,
        key: None,
        client_ca: None,
        client_auth: None,
        alpn: None,
        min_version: None,
        handshake_timeout: None,
    };
}

impl TlsAttrs {
    /// `true` when the service terminates TLS (it has certificates).
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }

    /// Whether a client certificate is asked for.
    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
            .as_ref()
            .map(|a| a.value)
            .unwrap_or_default()
    }

    /// The handshake time limit in seconds.
    pub fn handshake_timeout(&self) -> u32 {
        self.handshake_timeout
            .as_ref()
            .map_or(DEFAULT_HANDSHAKE_TIMEOUT, |t| t.value)
    }

    /// `(name, value)` of each attribute set, as the printer writes them.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(v) = &self.cert {
            out.push(("tls_cert", v.value.join(" ")));
        }
        if let Some(v) = &self.key {
            out.push(("tls_key", v.value.join(" ")));
        }
        if let Some(v) = &self.client_ca {
            out.push(("tls_client_ca", v.value.clone()));
        }
        if let Some(v) = &self.client_auth {
            out.push(("tls_client_auth", v.value.as_str().to_string()));
        }
        if let Some(v) = &self.alpn {
            out.push(("tls_alpn", v.value.join(" ")));
        }
        if let Some(v) = &self.min_version {
            out.push(("tls_min_version", v.value.as_str().to_string()));
        }
        if let Some(v) = &self.handshake_timeout {
            out.push(("tls_handshake_timeout", v.value.to_string()));
        }
        out
    }
}
