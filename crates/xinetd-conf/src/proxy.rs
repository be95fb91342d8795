//! The load-balancer extensions (issue 13): receiving the PROXY protocol
//! (`proxy_protocol`, `proxy_from`, `proxy_timeout`), sending it to a `redirect` target
//! (`redirect_proxy`), and the connection variables servers get (`connection_env`).
//! None of them is in xinetd 2.3.15.3: a configuration without them behaves as before.
//!
//! ```
//! use xinetd_conf::proxy::{ConnectionEnv, ProxyVersion, ProxyVersions};
//! use xinetd_conf::{load_bytes, Environment, LoadOptions};
//!
//! let text = b"service echo\n{\n\ttype = INTERNAL UNLISTED\n\tport = 7007\n\
//!     \tsocket_type = stream\n\twait = no\n\tproxy_protocol = v2\n\
//!     \tproxy_from = 10.0.0.0/8\n\tconnection_env = ucspi\n}\n";
//! let loaded = load_bytes(text, "lb.conf", &Environment::isolated(), &LoadOptions::new())?;
//! let p = &loaded.config.services[0].proxy;
//! let pp = p.proxy_protocol.as_ref().expect("set").value;
//! assert_eq!(pp.versions, ProxyVersions::V2);
//! assert!(pp.versions.accepts(ProxyVersion::V2) && !pp.versions.accepts(ProxyVersion::V1));
//! assert_eq!(p.timeout_secs(), 3); // the default
//! assert!(p.env(ConnectionEnv::Ucspi) && !p.env(ConnectionEnv::Systemd));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;

use crate::model::{AddressList, Spanned};

/// One PROXY protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProxyVersion {
    /// The text header (`PROXY TCP4 ...\r\n`).
    V1,
    /// The binary header (12-byte signature, TLVs).
    V2,
}

impl ProxyVersion {
    /// The word in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyVersion::V1 => "v1",
            ProxyVersion::V2 => "v2",
        }
    }
}

/// Which PROXY headers a service accepts (`proxy_protocol = v1 | v2 | any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyVersions {
    /// Only v1.
    V1,
    /// Only v2.
    V2,
    /// Either (told apart by their first byte, never guessed from anything else).
    Any,
}

impl ProxyVersions {
    /// The word in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyVersions::V1 => "v1",
            ProxyVersions::V2 => "v2",
            ProxyVersions::Any => "any",
        }
    }

    /// True when `v` is accepted.
    pub fn accepts(self, v: ProxyVersion) -> bool {
        matches!(
            (self, v),
            (ProxyVersions::Any, _)
                | (ProxyVersions::V1, ProxyVersion::V1)
                | (ProxyVersions::V2, ProxyVersion::V2)
        )
    }
}

/// `proxy_protocol = VERSIONS [direct]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyProtocol {
    /// The versions accepted.
    pub versions: ProxyVersions,
    /// The word `direct`: a peer outside `proxy_from` is served as a direct client, with
    /// its own address and no header read, instead of being refused.
    pub direct: bool,
}

/// The word after the versions in `proxy_protocol` that lets peers outside `proxy_from`
/// connect directly.
pub const DIRECT_WORD: &str = "direct";

/// A set of variables `connection_env` gives servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionEnv {
    /// systemd.socket(5)'s `REMOTE_ADDR`, `REMOTE_PORT`.
    Systemd,
    /// UCSPI's `PROTO`, `TCPLOCALIP`, `TCPLOCALPORT`, `TCPREMOTEIP`, `TCPREMOTEPORT`,
    /// `TCPREMOTEINFO`, `TCPCONNNUM` (UDP: the `UDP` prefix).
    Ucspi,
}

impl ConnectionEnv {
    /// Every set.
    pub const ALL: [ConnectionEnv; 2] = [ConnectionEnv::Systemd, ConnectionEnv::Ucspi];

    /// The word in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionEnv::Systemd => "systemd",
            ConnectionEnv::Ucspi => "ucspi",
        }
    }
}

/// Default `proxy_timeout`, in seconds.
pub const DEFAULT_PROXY_TIMEOUT: u32 = 3;

/// The load-balancer attributes of a service or of `defaults` (`None` = not set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyAttrs {
    /// `proxy_protocol`.
    pub proxy_protocol: Option<Spanned<ProxyProtocol>>,
    /// `proxy_from` (same words as `only_from`).
    pub proxy_from: Option<Spanned<AddressList>>,
    /// `proxy_timeout` in seconds.
    pub proxy_timeout: Option<Spanned<u32>>,
    /// `redirect_proxy`.
    pub redirect_proxy: Option<Spanned<ProxyVersion>>,
    /// `connection_env`.
    pub connection_env: Option<Spanned<BTreeSet<ConnectionEnv>>>,
}

impl crate::AttributeGroup for ProxyAttrs {
    const EMPTY: &'static Self = &ProxyAttrs {
        proxy_protocol: None,
        proxy_from: None,
        proxy_timeout: None,
        redirect_proxy: None,
        connection_env: None,
    };
}

impl ProxyAttrs {
    /// The `proxy_timeout` in force (the default when not set).
    pub fn timeout_secs(&self) -> u32 {
        self.proxy_timeout
            .as_ref()
            .map_or(DEFAULT_PROXY_TIMEOUT, |t| t.value)
    }

    /// True when `connection_env` lists `e`.
    pub fn env(&self, e: ConnectionEnv) -> bool {
        self.connection_env
            .as_ref()
            .is_some_and(|s| s.value.contains(&e))
    }

    /// `(name, value)` lines for the printer, in a fixed order.
    pub fn printed(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(p) = &self.proxy_protocol {
            let mut v = p.value.versions.as_str().to_string();
            if p.value.direct {
                v.push(' ');
                v.push_str(DIRECT_WORD);
            }
            out.push(("proxy_protocol", v));
        }
        if let Some(l) = &self.proxy_from {
            let words: Vec<&str> = l.value.iter().map(|e| e.text.as_str()).collect();
            out.push(("proxy_from", words.join(" ")));
        }
        if let Some(t) = &self.proxy_timeout {
            out.push(("proxy_timeout", t.value.to_string()));
        }
        if let Some(v) = &self.redirect_proxy {
            out.push(("redirect_proxy", v.value.as_str().to_string()));
        }
        if let Some(s) = &self.connection_env {
            let words: Vec<&str> = s.value.iter().map(|e| e.as_str()).collect();
            out.push(("connection_env", words.join(" ")));
        }
        out
    }
}
