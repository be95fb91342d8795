//! The `tls_*` attributes (issue 15): typed values, located errors, printer round trip.

use xinetd_conf::tls::{ClientAuth, TlsVersion};
use xinetd_conf::{load_bytes, print, Environment, LoadOptions, Severity};

fn env() -> Environment {
    Environment::isolated().process_env(["PATH"])
}

fn stanza(extra: &str) -> String {
    format!(
        "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = 7443\n\
         \twait = no\n{extra}}}\n"
    )
}

fn load(text: &str) -> xinetd_conf::Loaded {
    load_bytes(text.as_bytes(), "t.conf", &env(), &LoadOptions::new()).expect("loads")
}

fn errors(l: &xinetd_conf::Loaded) -> Vec<String> {
    l.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.render())
        .collect()
}

#[test]
fn every_attribute_is_typed_and_round_trips() {
    let text = stanza(
        "\ttls_cert = /etc/a.pem /etc/b.pem\n\ttls_key = /etc/a.key /etc/b.key\n\
         \ttls_client_ca = /etc/ca.pem\n\ttls_client_auth = OPTIONAL\n\
         \ttls_alpn = h2 http/1.1\n\ttls_min_version = TLSv1.3\n\
         \ttls_handshake_timeout = 3\n\tlog_on_success = HOST TLS\n",
    );
    let l = load(&text);
    assert!(errors(&l).is_empty(), "{:?}", errors(&l));
    let s = &l.config.services[0];
    let t = &s.tls;
    assert_eq!(t.cert.as_ref().map(|c| c.value.len()), Some(2));
    assert_eq!(t.cert.as_ref().map(|c| c.span.line), Some(7));
    assert_eq!(t.client_auth(), ClientAuth::Optional);
    assert_eq!(
        t.min_version.as_ref().map(|v| v.value),
        Some(TlsVersion::Tls13)
    );
    assert_eq!(t.handshake_timeout(), 3);
    assert_eq!(
        t.alpn.as_ref().map(|a| a.value.clone()),
        Some(vec!["h2".to_string(), "http/1.1".to_string()])
    );
    let printed = print(&l.config);
    assert!(printed.contains("tls_min_version = 1.3"), "{printed}");
    let again = load(&printed);
    assert_eq!(again.config.services[0].tls, *t);
    assert_eq!(
        again.config.services[0].log_on_success,
        l.config.services[0].log_on_success
    );
}

#[test]
fn a_config_without_tls_has_none() {
    let l = load(&stanza(""));
    assert!(!l.config.services[0].tls.enabled());
    assert_eq!(l.config.services[0].tls.handshake_timeout(), 10);
}

#[test]
fn inconsistent_attributes_drop_the_service_where_they_are_written() {
    for (extra, want) in [
        (
            "\ttls_cert = /etc/a.pem\n",
            "t.conf:7:2: error: tls_cert without tls_key",
        ),
        (
            "\ttls_cert = /etc/a.pem /etc/b.pem\n\ttls_key = /etc/a.key\n",
            "t.conf:8:2: error: 1 tls_key file(s) for 2 tls_cert file(s)",
        ),
        (
            "\ttls_alpn = h2\n",
            "t.conf:7:2: error: tls_alpn without tls_cert",
        ),
        (
            "\ttls_cert = /etc/a.pem\n\ttls_key = /etc/a.key\n\ttls_client_auth = required\n",
            "t.conf:9:2: error: tls_client_auth = required without tls_client_ca",
        ),
        (
            "\ttls_cert = etc/a.pem\n\ttls_key = /etc/a.key\n",
            "tls_cert 'etc/a.pem' must be an absolute file path",
        ),
        (
            "\ttls_cert = /etc/a.pem\n\ttls_key = /etc/a.key\n\ttls_min_version = 1.1\n",
            "tls_min_version '1.1' is not 1.2 or 1.3",
        ),
        (
            "\ttls_cert = /etc/a.pem\n\ttls_key = /etc/a.key\n\ttls_handshake_timeout = 0\n",
            "tls_handshake_timeout '0' is not a positive number of seconds",
        ),
    ] {
        let l = load(&stanza(extra));
        assert!(l.config.services.is_empty(), "{extra}");
        let e = errors(&l);
        assert!(e.iter().any(|m| m.contains(want)), "{want} not in {e:?}");
    }
    let dgram = "service echo\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = dgram\n\t\
                 port = 7443\n\twait = yes\n\ttls_cert = /a.pem\n\ttls_key = /a.key\n}\n";
    let l = load(dgram);
    assert!(l.config.services.is_empty());
    assert!(errors(&l)
        .iter()
        .any(|m| m.contains("t.conf:7:2: error: TLS needs socket_type = stream")));
}
