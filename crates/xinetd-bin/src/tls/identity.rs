//! What a finished handshake says: protocol, cipher, SNI, ALPN and the client certificate,
//! as the server's environment (mod_ssl / s6-tlsserver names) and as the START record's
//! summary.

use rustls::pki_types::CertificateDer;
use rustls::ServerConnection;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// The identity of one TLS connection after its handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Established {
    /// `TLSv1.2` or `TLSv1.3` (`SSL_PROTOCOL`).
    pub protocol: String,
    /// The IANA name of the cipher suite (`SSL_CIPHER`).
    pub cipher: String,
    /// The server name the client asked for (`SSL_TLS_SNI`).
    pub sni: Option<String>,
    /// The ALPN protocol agreed on.
    pub alpn: Option<String>,
    /// The verified client certificate.
    pub client: Option<ClientCert>,
}

/// The fields of a verified client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCert {
    /// Subject DN, RFC 4514 (`SSL_CLIENT_S_DN`).
    pub subject: String,
    /// Issuer DN, RFC 4514 (`SSL_CLIENT_I_DN`).
    pub issuer: String,
    /// Serial number, upper-case hex (`SSL_CLIENT_M_SERIAL`).
    pub serial: String,
    /// Not-before, `Mon DD HH:MM:SS YYYY GMT` (`SSL_CLIENT_V_START`).
    pub not_before: String,
    /// Not-after (`SSL_CLIENT_V_END`).
    pub not_after: String,
    /// SHA-256 of the DER certificate, lower-case hex (`SSL_CLIENT_CERT_SHA256`).
    pub sha256: String,
}

impl Established {
    /// Reads what the handshake of `conn` agreed on.
    pub fn of(conn: &ServerConnection) -> Established {
        let protocol = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|s| iana_name(s.suite()))
            .unwrap_or_default();
        let client = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| ClientCert::parse(c).ok());
        Established {
            protocol,
            cipher,
            sni: conn.server_name().map(str::to_string),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            client,
        }
    }

    /// The server's `SSL_*` variables.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("SSL_PROTOCOL".to_string(), self.protocol.clone()),
            ("SSL_CIPHER".to_string(), self.cipher.clone()),
        ];
        if let Some(s) = &self.sni {
            v.push(("SSL_TLS_SNI".to_string(), s.clone()));
        }
        match &self.client {
            None => v.push(("SSL_CLIENT_VERIFY".to_string(), "NONE".to_string())),
            Some(c) => {
                v.push(("SSL_CLIENT_VERIFY".to_string(), "SUCCESS".to_string()));
                v.push(("SSL_CLIENT_S_DN".to_string(), c.subject.clone()));
                v.push(("SSL_CLIENT_I_DN".to_string(), c.issuer.clone()));
                v.push(("SSL_CLIENT_M_SERIAL".to_string(), c.serial.clone()));
                v.push(("SSL_CLIENT_V_START".to_string(), c.not_before.clone()));
                v.push(("SSL_CLIENT_V_END".to_string(), c.not_after.clone()));
                v.push(("SSL_CLIENT_CERT_SHA256".to_string(), c.sha256.clone()));
            }
        }
        v
    }

    /// The START record's summary (`log_on_success` `TLS`):
    /// `tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384[ sni=host][ alpn=p][ subject="CN=c"]`.
    pub fn summary(&self) -> String {
        let mut s = format!("tls={} cipher={}", self.protocol, self.cipher);
        if let Some(n) = &self.sni {
            s.push_str(&format!(" sni={n}"));
        }
        if let Some(a) = &self.alpn {
            s.push_str(&format!(" alpn={}", printable(a)));
        }
        if let Some(c) = &self.client {
            s.push_str(&format!(" subject=\"{}\"", c.subject.replace('"', "\\\"")));
        }
        s
    }
}

/// ALPN names are bytes: anything unprintable is shown as `?`, so a record stays one line.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// `TLS13_AES_128_GCM_SHA256` (rustls) -> `TLS_AES_128_GCM_SHA256` (IANA, as OpenSSL's
/// `SSL_CIPHER` shows TLS 1.3 suites); TLS 1.2 suites are already IANA names.
fn iana_name(s: rustls::CipherSuite) -> String {
    let d = format!("{s:?}");
    match d.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => d,
    }
}

impl ClientCert {
    /// Parses a DER certificate.
    pub fn parse(der: &CertificateDer<'_>) -> Result<ClientCert, String> {
        let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
        let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
        Ok(ClientCert {
            subject: rfc4514(cert.subject()),
            issuer: rfc4514(cert.issuer()),
            serial: cert
                .raw_serial()
                .iter()
                .skip_while(|b| **b == 0)
                .map(|b| format!("{b:02X}"))
                .collect::<String>(),
            not_before: gmt(cert.validity().not_before.timestamp()),
            not_after: gmt(cert.validity().not_after.timestamp()),
            sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// OpenSSL's `ASN1_TIME_print` form, which mod_ssl's `SSL_CLIENT_V_*` use.
fn gmt(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%b %e %H:%M:%S %Y GMT").to_string())
        .unwrap_or_default()
}

/// A distinguished name as RFC 4514 writes it: last RDN first, `,` between RDNs, `+` within
/// one, short attribute names where known, dotted OIDs otherwise.
fn rfc4514(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let key = x509_parser::objects::oid2abbrev(a.attr_type(), registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| a.attr_type().to_id_string());
                    let value = a.as_str().map(escape).unwrap_or_else(|_| {
                        let raw: String = a.as_slice().iter().map(|b| format!("{b:02x}")).collect();
                        format!("#{raw}")
                    });
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.join(",")
}

/// RFC 4514 §2.4 escaping.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        if c.is_control() {
            out.push_str(&format!("\\{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The DNS names of a server certificate (subjectAltName; the subject's CN when it has
/// none), for choosing a certificate by SNI.
pub fn dns_names(der: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let (_, cert) = X509Certificate::from_der(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_string());
            }
        }
    }
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_string)),
        );
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape(" x "), "\\ x\\ ");
        assert_eq!(escape("#1"), "\\#1");
    }

    #[test]
    fn client_certificate_fields() {
        let mut p = rcgen::CertificateParams::new(vec!["client.test".to_string()]).expect("params");
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "client one");
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme, Inc.");
        p.serial_number = Some(rcgen::SerialNumber::from(vec![0x01, 0xab]));
        p.not_before = rcgen::date_time_ymd(2025, 1, 2);
        p.not_after = rcgen::date_time_ymd(2035, 3, 4);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = p.self_signed(&key).expect("cert");
        let c = ClientCert::parse(cert.der()).expect("parse");
        assert_eq!(c.subject, "O=Acme\\, Inc.,CN=client one");
        assert_eq!(c.subject, c.issuer);
        assert_eq!(c.serial, "01AB");
        assert_eq!(c.not_before, "Jan  2 00:00:00 2025 GMT");
        assert_eq!(c.not_after, "Mar  4 00:00:00 2035 GMT");
        assert_eq!(c.sha256.len(), 64);
        assert_eq!(dns_names(cert.der()).expect("names"), vec!["client.test"]);
    }
}
