//! The variables a server gets about its connection, beyond xinetd's `REMOTE_HOST`
//! (issue 13): `connection_env = systemd` (systemd.socket(5)'s `REMOTE_ADDR`,
//! `REMOTE_PORT`), `connection_env = ucspi` (UCSPI-TCP's `PROTO`, `TCPLOCALIP`, ...), and
//! the values of a PROXY header (`PROXY_*`, always given when a header was received).
//! With neither a header nor `connection_env`, nothing is added: exactly xinetd's
//! environment.
//!
//! Addresses are the client's as the header names it; IPv4-mapped IPv6 addresses are
//! written as plain IPv4 (`::ffff:192.0.2.1` → `192.0.2.1`).

use std::net::{IpAddr, SocketAddr};

use xinetd_conf::proxy::{ConnectionEnv, ProxyAttrs};

use crate::proxy_header::Header;

/// What is known of a connection.
#[derive(Default)]
pub struct Facts<'a> {
    /// TCP (`true`) or UDP.
    pub stream: bool,
    /// The address the client connected to (the header's destination when there is one).
    pub local: Option<SocketAddr>,
    /// The client.
    pub remote: Option<SocketAddr>,
    /// The client's identd answer, when `USERID` asked for it.
    pub remote_info: Option<&'a str>,
    /// The client's connections to this service, this one included.
    pub connnum: Option<u32>,
    /// The PROXY header, and the peer that sent it.
    pub proxy: Option<(&'a Header, SocketAddr)>,
}

/// True when [`vars`] can give anything: `connection_env` is set or a header was received
/// (the facts cost system calls, so a plain xinetd service skips them).
pub fn wanted(attrs: &ProxyAttrs, proxied: bool) -> bool {
    proxied
        || attrs
            .connection_env
            .as_ref()
            .is_some_and(|s| !s.value.is_empty())
}

/// `NAME=VALUE` entries for the server.
pub fn vars(attrs: &ProxyAttrs, f: &Facts<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut set = |name: &str, value: String| {
        if !value.contains('\0') {
            out.push(format!("{name}={value}"));
        }
    };
    if attrs.env(ConnectionEnv::Systemd) {
        if let Some(r) = f.remote {
            set("REMOTE_ADDR", ip(r.ip()));
            set("REMOTE_PORT", r.port().to_string());
        }
    }
    if attrs.env(ConnectionEnv::Ucspi) {
        let p = if f.stream { "TCP" } else { "UDP" };
        set("PROTO", p.to_string());
        if let Some(l) = f.local {
            set(&format!("{p}LOCALIP"), ip(l.ip()));
            set(&format!("{p}LOCALPORT"), l.port().to_string());
        }
        if let Some(r) = f.remote {
            set(&format!("{p}REMOTEIP"), ip(r.ip()));
            set(&format!("{p}REMOTEPORT"), r.port().to_string());
        }
        if let Some(info) = f.remote_info {
            set(&format!("{p}REMOTEINFO"), info.to_string());
        }
        if let (true, Some(n)) = (f.stream, f.connnum) {
            set("TCPCONNNUM", n.to_string());
        }
        // UCSPI-TLS names (s6-tlsd) for what a TLS-terminating balancer reports.
        if let Some((h, _)) = f.proxy {
            if let Some(ssl) = &h.tlvs.ssl {
                if let Some(v) = &ssl.version {
                    set("SSL_PROTOCOL", v.clone());
                }
                if let Some(v) = &ssl.cipher {
                    set("SSL_CIPHER", v.clone());
                }
            }
            if let Some(a) = &h.tlvs.authority {
                set("SSL_TLS_SNI_SERVERNAME", a.clone());
            }
        }
    }
    if let Some((h, balancer)) = f.proxy {
        set("PROXY_PROTOCOL", format!("v{}", h.version));
        set("PROXY_PEER_ADDR", ip(balancer.ip()));
        set("PROXY_PEER_PORT", balancer.port().to_string());
        let t = &h.tlvs;
        if let Some(v) = &t.authority {
            set("PROXY_AUTHORITY", v.clone());
        }
        if let Some(v) = &t.alpn {
            set("PROXY_ALPN", String::from_utf8_lossy(v).into_owned());
        }
        if let Some(v) = &t.unique_id {
            set("PROXY_UNIQUE_ID", opaque(v));
        }
        if let Some(v) = &t.netns {
            set("PROXY_NETNS", v.clone());
        }
        if let Some(v) = &t.aws_vpce_id {
            set("PROXY_AWS_VPCE_ID", v.clone());
        }
        if let Some(ssl) = &t.ssl {
            set("PROXY_SSL", u8::from(ssl.client_ssl).to_string());
            set(
                "PROXY_SSL_CLIENT_CERT",
                u8::from(ssl.client_cert).to_string(),
            );
            set("PROXY_SSL_VERIFY", ssl.verify.to_string());
            for (name, v) in [
                ("PROXY_SSL_VERSION", &ssl.version),
                ("PROXY_SSL_CN", &ssl.cn),
                ("PROXY_SSL_CIPHER", &ssl.cipher),
                ("PROXY_SSL_SIG_ALG", &ssl.sig_alg),
                ("PROXY_SSL_KEY_ALG", &ssl.key_alg),
            ] {
                if let Some(v) = v {
                    set(name, v.clone());
                }
            }
        }
    }
    out
}

/// An address as the variables show it: IPv4-mapped IPv6 as plain IPv4.
pub fn ip(a: IpAddr) -> String {
    a.to_canonical().to_string()
}

/// An opaque TLV value: as it is when it is printable ASCII, else in lowercase hex.
fn opaque(v: &[u8]) -> String {
    if !v.is_empty() && v.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(v).into_owned()
    } else {
        v.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::proxy_header::{Ssl, Tlvs};
    use xinetd_conf::Spanned;

    fn attrs(sets: &[ConnectionEnv]) -> ProxyAttrs {
        let span = xinetd_conf::Span::synthetic();
        ProxyAttrs {
            connection_env: Some(Spanned::new(
                sets.iter().copied().collect::<BTreeSet<_>>(),
                span,
            )),
            ..ProxyAttrs::default()
        }
    }

    #[test]
    fn nothing_is_added_by_default() {
        let f = Facts {
            stream: true,
            remote: Some("192.0.2.1:5".parse().expect("addr")),
            ..Facts::default()
        };
        assert!(vars(&ProxyAttrs::default(), &f).is_empty());
    }

    #[test]
    fn systemd_and_ucspi_with_mapped_addresses_as_ipv4() {
        let f = Facts {
            stream: true,
            local: Some("[::ffff:127.0.0.1]:7".parse().expect("addr")),
            remote: Some("[::ffff:192.0.2.1]:40000".parse().expect("addr")),
            remote_info: Some("UNIX : alice"),
            connnum: Some(2),
            proxy: None,
        };
        let v = vars(&attrs(&[ConnectionEnv::Systemd, ConnectionEnv::Ucspi]), &f);
        for want in [
            "REMOTE_ADDR=192.0.2.1",
            "REMOTE_PORT=40000",
            "PROTO=TCP",
            "TCPLOCALIP=127.0.0.1",
            "TCPLOCALPORT=7",
            "TCPREMOTEIP=192.0.2.1",
            "TCPREMOTEPORT=40000",
            "TCPREMOTEINFO=UNIX : alice",
            "TCPCONNNUM=2",
        ] {
            assert!(v.iter().any(|x| x == want), "{want} in {v:?}");
        }
        let udp = Facts {
            stream: false,
            remote: Some("[2001:db8::1]:53".parse().expect("addr")),
            ..Facts::default()
        };
        let v = vars(&attrs(&[ConnectionEnv::Ucspi]), &udp);
        assert_eq!(
            v,
            ["PROTO=UDP", "UDPREMOTEIP=2001:db8::1", "UDPREMOTEPORT=53"]
        );
    }

    #[test]
    fn proxy_values_are_given_with_or_without_connection_env() {
        let h = Header {
            version: 2,
            addresses: None,
            tlvs: Tlvs {
                authority: Some("example.org".into()),
                unique_id: Some(vec![0, 1, 0xff]),
                ssl: Some(Ssl {
                    client_ssl: true,
                    version: Some("TLSv1.3".into()),
                    cn: Some("client".into()),
                    ..Ssl::default()
                }),
                aws_vpce_id: Some("vpce-1".into()),
                ..Tlvs::default()
            },
        };
        let balancer: SocketAddr = "10.0.0.1:999".parse().expect("addr");
        let f = Facts {
            stream: true,
            proxy: Some((&h, balancer)),
            ..Facts::default()
        };
        let v = vars(&ProxyAttrs::default(), &f);
        for want in [
            "PROXY_PROTOCOL=v2",
            "PROXY_PEER_ADDR=10.0.0.1",
            "PROXY_AUTHORITY=example.org",
            "PROXY_UNIQUE_ID=0001ff",
            "PROXY_SSL=1",
            "PROXY_SSL_VERSION=TLSv1.3",
            "PROXY_SSL_CN=client",
            "PROXY_AWS_VPCE_ID=vpce-1",
        ] {
            assert!(v.iter().any(|x| x == want), "{want} in {v:?}");
        }
        let v = vars(&attrs(&[ConnectionEnv::Ucspi]), &f);
        assert!(v.iter().any(|x| x == "SSL_PROTOCOL=TLSv1.3"));
        assert!(v.iter().any(|x| x == "SSL_TLS_SNI_SERVERNAME=example.org"));
    }
}
