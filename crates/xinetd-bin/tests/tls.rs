//! TLS termination (issue 15) end to end through the real daemon, with real clients:
//! Python's `ssl` module, `openssl s_client`, and a rustls client for a connection that must
//! stay open across a reload. Every certificate is made by the test (rcgen); no key is
//! committed.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use util::*;

/// A CA and the certificates the tests use, written as PEM files in a temp dir.
struct Pki {
    dir: tempfile::TempDir,
}

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
    params: rcgen::CertificateParams,
}

fn ca(cn: &str) -> Ca {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = p.clone().self_signed(&key).expect("ca cert");
    Ca {
        cert,
        key,
        params: p,
    }
}

impl Pki {
    fn new() -> Pki {
        Pki {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn write_ca(&self, name: &str, ca: &Ca) {
        std::fs::write(self.path(&format!("{name}.pem")), ca.cert.pem()).expect("write");
    }

    /// `name.pem` / `name.key`: a certificate for `dns` (server) or with subject `cn`
    /// (client), issued by `ca`, valid from `from` to `to` (years).
    #[allow(clippy::too_many_arguments)]
    fn issue(&self, name: &str, ca: &Ca, dns: &[&str], cn: &str, serial: u64, from: i32, to: i32) {
        let mut p =
            rcgen::CertificateParams::new(dns.iter().map(|d| (*d).to_string()).collect::<Vec<_>>())
                .expect("params");
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "xinetd-rs tests");
        p.serial_number = Some(rcgen::SerialNumber::from(serial));
        p.not_before = rcgen::date_time_ymd(from, 1, 1);
        p.not_after = rcgen::date_time_ymd(to, 1, 1);
        p.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate().expect("key");
        let issuer = ca.params.clone().self_signed(&ca.key).expect("issuer");
        let _ = &ca.cert;
        let cert = p.signed_by(&key, &issuer, &ca.key).expect("sign");
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem()).expect("write");
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).expect("write");
    }
}

/// The usual set: a server CA with `a.test` and `b.test`, a client CA with a good, an
/// expired client certificate, and a client certificate of another CA.
fn pki() -> Pki {
    let pki = Pki::new();
    let server_ca = ca("Test Server CA");
    pki.write_ca("server-ca", &server_ca);
    pki.issue("a", &server_ca, &["a.test"], "a.test", 0xa1, 2024, 2040);
    pki.issue("b", &server_ca, &["b.test"], "b.test", 0xb2, 2024, 2040);
    let client_ca = ca("Test Client CA");
    pki.write_ca("client-ca", &client_ca);
    pki.issue("client", &client_ca, &[], "client one", 0x0c1e, 2024, 2040);
    pki.issue("expired", &client_ca, &[], "old client", 0x0e, 2020, 2021);
    let other_ca = ca("Other CA");
    pki.issue("stranger", &other_ca, &[], "stranger", 0x05, 2024, 2040);
    pki
}

/// A TLS service stanza: `body` is the rest (server, TLS attributes).
fn tls_service(id: &str, port: u16, body: &str) -> String {
    format!(
        "service {id}\n{{\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = no\n\tbind = 127.0.0.1\n\tcps = 0 0\n\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST EXIT TLS\n\
         \tlog_on_failure = HOST\n{body}}}\n"
    )
}

fn certs(pki: &Pki, names: &[&str]) -> String {
    let c: Vec<String> = names.iter().map(|n| pki.p(&format!("{n}.pem"))).collect();
    let k: Vec<String> = names.iter().map(|n| pki.p(&format!("{n}.key"))).collect();
    format!(
        "\ttls_cert = {}\n\ttls_key = {}\n",
        c.join(" "),
        k.join(" ")
    )
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const PY_CLIENT: &str = r#"
import json, socket, ssl, sys
a = json.loads(sys.argv[1])
out = {}
try:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(a["ca"])
    ctx.check_hostname = a.get("sni") is not None
    if a.get("cert"):
        ctx.load_cert_chain(a["cert"], a["key"])
    if a.get("alpn"):
        ctx.set_alpn_protocols(a["alpn"])
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
    if a.get("max"):
        ctx.maximum_version = v[a["max"]]
    if a.get("min"):
        ctx.minimum_version = v[a["min"]]
    s = socket.create_connection(("127.0.0.1", a["port"]), timeout=10)
    t = ctx.wrap_socket(s, server_hostname=a.get("sni"))
    out["version"] = t.version()
    out["cipher"] = t.cipher()[0]
    out["alpn"] = t.selected_alpn_protocol()
    subj = dict(x[0] for x in t.getpeercert()["subject"])
    out["server_cn"] = subj.get("commonName")
    if a.get("send"):
        t.sendall(a["send"].encode())
    data = b""
    until = a.get("until")
    while until is None or until.encode() not in data:
        chunk = t.recv(65536)
        if not chunk:
            break
        data += chunk
    out["data"] = data.decode(errors="replace")
    t.close()
except Exception as e:
    out["error"] = type(e).__name__ + ": " + str(e)
print(json.dumps(out))
"#;

/// Runs the Python client with `args` (JSON) and returns its JSON answer.
fn py(args: serde_json::Value) -> serde_json::Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY_CLIENT)
        .arg(args.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("python3");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python client: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn s(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// A script that prints the server's SSL_* environment, `END`, and then echoes.
fn env_script(pki: &Pki) -> String {
    let path = pki.path("env.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nenv | grep '^SSL_' | sort\necho END\nexec cat\n",
    )
    .expect("write script");
    let _ = Command::new("chmod").arg("755").arg(&path).status();
    path.display().to_string()
}

#[test]
fn builtins_sni_alpn_and_versions_with_python_and_openssl() {
    if !have("python3") {
        skip("python3 is not installed");
        return;
    }
    let pki = pki();
    let (echo, daytime, only13) = (free_port(), free_port(), free_port());
    let mut conf = tls_service(
        "echo",
        echo,
        &format!(
            "\ttype = INTERNAL UNLISTED\n{}\ttls_alpn = echo/1 h2\n",
            certs(&pki, &["a", "b"])
        ),
    );
    conf += &tls_service(
        "daytime",
        daytime,
        &format!(
            "\ttype = INTERNAL UNLISTED\n{}\ttls_alpn = echo/1\n\tbanner = {}\n",
            certs(&pki, &["a", "b"]),
            pki.p("banner.txt")
        ),
    );
    conf += &tls_service(
        "discard",
        only13,
        &format!(
            "\tid = only13\n\ttype = INTERNAL UNLISTED\n{}\ttls_min_version = 1.3\n",
            certs(&pki, &["a"])
        ),
    );
    // Larger than rustls' default 64 KiB buffer limit: it must not be cut.
    let banner = format!("welcome inside TLS\n{}\n", "b".repeat(100_000));
    std::fs::write(pki.path("banner.txt"), &banner).expect("banner");
    let d = Daemon::start(&conf);
    let ca = pki.p("server-ca.pem");

    // SNI chooses the certificate; the hostname check proves it; ALPN is agreed on.
    for (sni, max) in [("a.test", "1.3"), ("b.test", "1.2")] {
        let r = py(
            serde_json::json!({"port": echo, "ca": ca, "sni": sni, "max": max,
            "alpn": ["h2"], "send": "hello over tls\n", "until": "hello over tls\n"}),
        );
        assert_eq!(s(&r, "error"), "", "{r}");
        assert_eq!(s(&r, "server_cn"), sni);
        assert_eq!(s(&r, "version"), format!("TLSv{max}"));
        assert_eq!(s(&r, "alpn"), "h2");
        assert_eq!(s(&r, "data"), "hello over tls\n");
    }
    // No SNI: the first certificate.
    let r = py(serde_json::json!({"port": echo, "ca": ca, "send": "x", "until": "x"}));
    assert_eq!(s(&r, "server_cn"), "a.test", "{r}");
    // A one-shot builtin: the daytime line, then close_notify.
    let r = py(serde_json::json!({"port": daytime, "ca": ca, "sni": "a.test"}));
    assert_eq!(s(&r, "error"), "", "{r}");
    let data = s(&r, "data");
    assert_eq!(s(&r, "error"), "", "{}", s(&r, "error"));
    assert!(
        data.ends_with("\r\n"),
        "{} bytes, ends {:?}",
        data.len(),
        &data[data.len().saturating_sub(40)..]
    );
    // `banner` goes inside TLS, before the answer.
    assert!(s(&r, "data").starts_with(&banner), "the whole banner first");
    assert!(
        s(&r, "data").len() > banner.len() + 10,
        "then the daytime line"
    );
    // tls_min_version = 1.3 refuses a TLS 1.2 client in the handshake.
    let r = py(serde_json::json!({"port": only13, "ca": ca, "sni": "a.test", "max": "1.2"}));
    assert!(s(&r, "error").contains("SSL"), "{r}");
    d.wait_file(10, "svc.log", "FAIL: only13 tls alert=");

    d.wait_file(10, "svc.log", "sni=b.test alpn=h2");
    let log = d.read("svc.log");
    assert!(
        log.contains("START: echo pid=0 from=127.0.0.1 tls=TLSv1.3 cipher=TLS_"),
        "{log}"
    );
    assert!(log.contains("tls=TLSv1.2 cipher=TLS_ECDHE_"), "{log}");

    if !have("openssl") {
        skip("openssl is not installed: the s_client part is skipped");
        return;
    }
    for (flag, want) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let mut c = Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{daytime}")])
            .args([
                "-servername",
                "b.test",
                "-alpn",
                "echo/1",
                flag,
                "-CAfile",
                &ca,
            ])
            .args(["-verify_return_error", "-ign_eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl");
        let stdin = c.stdin.take().expect("stdin");
        // -ign_eof: s_client reads until the server's close_notify after the daytime line.
        drop(stdin);
        let mut out = String::new();
        c.stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        let _ = c.wait();
        assert!(
            out.contains(" 20") && out.contains("\r\n"),
            "the daytime line: {out}"
        );
        assert!(out.contains("ALPN protocol: echo/1"), "{out}");
        assert!(
            out.contains(&format!("Protocol  : {want}")) || out.contains(&format!("New, {want}")),
            "{out}"
        );
        assert!(out.contains("CN = b.test"), "{out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    }
}

#[test]
fn client_certificates_reach_the_server_environment() {
    if !have("python3") {
        skip("python3 is not installed");
        return;
    }
    let pki = pki();
    let script = env_script(&pki);
    let (optional, required) = (free_port(), free_port());
    let body = |auth: &str| {
        format!(
            "\ttype = UNLISTED\n\tuser = root\n\tserver = {script}\n{}\ttls_client_ca = {}\n\ttls_client_auth = {auth}\n",
            certs(&pki, &["a"]),
            pki.p("client-ca.pem")
        )
    };
    let mut conf = tls_service("optional", optional, &body("optional"));
    conf += &tls_service(
        "required",
        required,
        &(body("required") + "\tinstances = 1\n"),
    );
    let d = Daemon::start(&conf);
    let ca = pki.p("server-ca.pem");
    let with_cert = |port: u16, name: &str| {
        py(serde_json::json!({"port": port, "ca": ca, "sni": "a.test",
            "cert": pki.p(&format!("{name}.pem")), "key": pki.p(&format!("{name}.key")),
            "until": "END\n", "max": "1.3"}))
    };

    // A good certificate: its fields in the environment, mod_ssl's names and forms.
    let r = with_cert(required, "client");
    assert_eq!(s(&r, "error"), "", "{r}");
    let env = s(&r, "data");
    for want in [
        "SSL_CLIENT_VERIFY=SUCCESS",
        "SSL_CLIENT_S_DN=O=xinetd-rs tests,CN=client one",
        "SSL_CLIENT_I_DN=CN=Test Client CA",
        "SSL_CLIENT_M_SERIAL=0C1E",
        "SSL_CLIENT_V_START=Jan  1 00:00:00 2024 GMT",
        "SSL_CLIENT_V_END=Jan  1 00:00:00 2040 GMT",
        "SSL_PROTOCOL=TLSv1.3",
        "SSL_CIPHER=TLS_",
        "SSL_TLS_SNI=a.test",
    ] {
        assert!(env.contains(want), "{want} missing in:\n{env}");
    }
    let der = std::fs::read_to_string(pki.path("client.pem")).expect("pem");
    let der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(der.as_bytes()).expect("der")
    };
    let sha: String = ring::digest::digest(&ring::digest::SHA256, der.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        env.contains(&format!("SSL_CLIENT_CERT_SHA256={sha}")),
        "{env}"
    );
    d.wait_file(10, "svc.log", "subject=\"O=xinetd-rs tests,CN=client one\"");
    // The server has exited (instances = 1 is free again) before the next clients.
    d.wait_file(10, "svc.log", "EXIT: required");

    // Optional: no certificate is served, with SSL_CLIENT_VERIFY=NONE.
    let r = py(serde_json::json!({"port": optional, "ca": ca, "sni": "a.test", "until": "END\n"}));
    assert_eq!(s(&r, "error"), "", "{r}");
    assert!(s(&r, "data").contains("SSL_CLIENT_VERIFY=NONE"), "{r}");
    assert!(!s(&r, "data").contains("SSL_CLIENT_S_DN"), "{r}");

    // Required: no certificate, a certificate of another CA, an expired one: refused in the
    // handshake, one FAIL record each with the alert, and no server started.
    let r = py(serde_json::json!({"port": required, "ca": ca, "sni": "a.test", "until": "END\n"}));
    assert!(!s(&r, "data").contains("END"), "{r}");
    d.wait_file(
        10,
        "svc.log",
        "FAIL: required tls alert=certificate_required",
    );
    let r = with_cert(required, "stranger");
    assert!(!s(&r, "data").contains("END"), "{r}");
    d.wait_file(10, "svc.log", "FAIL: required tls alert=unknown_ca");
    let r = with_cert(optional, "expired");
    assert!(!s(&r, "data").contains("END"), "{r}");
    d.wait_file(
        10,
        "svc.log",
        "FAIL: optional tls alert=certificate_expired",
    );
    // instances = 1: the refused handshakes gave their permit back.
    let r = with_cert(required, "client");
    assert!(s(&r, "data").contains("SSL_CLIENT_VERIFY=SUCCESS"), "{r}");
    let log = d.read("svc.log");
    assert_eq!(log.matches("START: required").count(), 2, "{log}");
    assert_eq!(log.matches("START: optional").count(), 1, "{log}");
    assert_eq!(log.matches("FAIL:").count(), 3, "{log}");
}

#[test]
fn plaintext_stalled_clients_and_redirect() {
    if !have("python3") {
        skip("python3 is not installed");
        return;
    }
    let pki = pki();
    let (tls, plain, redirect, denied) = (free_port(), free_port(), free_port(), free_port());
    let mut conf = tls_service(
        "echo",
        tls,
        &format!(
            "\ttype = INTERNAL UNLISTED\n{}\ttls_handshake_timeout = 1\n\tinstances = 1\n",
            certs(&pki, &["a"])
        ),
    );
    conf += &internal("echo", "plain-echo", "stream", plain, "");
    conf += &tls_service(
        "relay",
        redirect,
        &format!(
            "\ttype = UNLISTED\n\tuser = root\n\tredirect = 127.0.0.1 {plain}\n{}\tlog_on_success += TRAFFIC\n",
            certs(&pki, &["a"])
        ),
    );
    conf += &tls_service(
        "discard",
        denied,
        &format!(
            "\tid = denied\n\ttype = INTERNAL UNLISTED\n{}\tonly_from = 127.0.0.2\n",
            certs(&pki, &["a"])
        ),
    );
    let d = Daemon::start(&conf);

    // Admission runs before the handshake: a client only_from refuses gets no TLS at all.
    let mut c = connect(denied);
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = c.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0]);
    assert!(
        read_all(&mut c).is_empty(),
        "no TLS record for a refused client"
    );
    d.wait_file(10, "svc.log", "FAIL: denied address from=127.0.0.1");

    // A plaintext client on the TLS port gets an alert and the connection closes.
    let mut c = connect(tls);
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
    let got = read_all(&mut c);
    assert_eq!(got.first(), Some(&0x15), "a TLS alert record: {got:?}");
    d.wait_file(10, "svc.log", "FAIL: echo tls alert=");

    // A client that stops in the middle of its ClientHello is cut off at the timeout.
    let mut c = connect(tls);
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(&[0x16, 0x03, 0x01, 0x00, 0x80, 0x01])
        .expect("write");
    assert!(read_all(&mut c).is_empty());
    d.wait_file(10, "svc.log", "FAIL: echo tls timeout from=127.0.0.1");
    // instances = 1: the failed handshakes gave their permit back.
    let r = py(
        serde_json::json!({"port": tls, "ca": pki.p("server-ca.pem"),
        "sni": "a.test", "send": "after\n", "until": "after\n"}),
    );
    assert_eq!(s(&r, "data"), "after\n", "{r}");

    // redirect over TLS: the plaintext reaches the target and comes back.
    let r = py(
        serde_json::json!({"port": redirect, "ca": pki.p("server-ca.pem"),
        "sni": "a.test", "send": "through the relay\n", "until": "through the relay\n"}),
    );
    assert_eq!(s(&r, "data"), "through the relay\n", "{r}");
    d.wait_file(10, "svc.log", "TRAFFIC: relay in=18(bytes) out=18(bytes)");
    let log = d.read("svc.log");
    assert_eq!(log.matches("FAIL: echo").count(), 2, "{log}");
}

/// A rustls client that trusts `ca` and names `sni`.
fn rustls_client(
    port: u16,
    ca: &Path,
    sni: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("ca cert")).expect("add");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let sock = connect(port);
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    rustls::StreamOwned::new(conn, sock)
}

fn echo_line(c: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>, line: &str) {
    c.write_all(line.as_bytes()).expect("write");
    let mut got = vec![0u8; line.len()];
    c.read_exact(&mut got).expect("read");
    assert_eq!(String::from_utf8_lossy(&got), line);
}

fn serial_of(c: &rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> Vec<u8> {
    c.conn
        .peer_certificates()
        .and_then(|p| p.first())
        .map(|d| d.as_ref().to_vec())
        .expect("server certificate")
}

#[test]
fn reload_swaps_the_certificate_while_connections_stay_up() {
    let pki = pki();
    let port = free_port();
    let conf = tls_service(
        "echo",
        port,
        &format!(
            "\ttype = INTERNAL UNLISTED\n\ttls_cert = {}\n\ttls_key = {}\n",
            pki.p("live.pem"),
            pki.p("live.key")
        ),
    );
    for ext in ["pem", "key"] {
        std::fs::copy(
            pki.path(&format!("a.{ext}")),
            pki.path(&format!("live.{ext}")),
        )
        .expect("copy");
    }
    let d = Daemon::start(&conf);
    let ca = pki.path("server-ca.pem");
    let mut old = rustls_client(port, &ca, "a.test");
    echo_line(&mut old, "before the reload\n");
    let first = serial_of(&old);

    // Another certificate of the same CA in the same files, then SIGHUP.
    std::fs::copy(pki.path("b.pem"), pki.path("live.pem")).expect("copy");
    std::fs::copy(pki.path("b.key"), pki.path("live.key")).expect("copy");
    d.signal(nix::sys::signal::Signal::SIGHUP);
    d.wait_log(10, "Reconfigured");
    // The open connection goes on with its session.
    echo_line(&mut old, "after the reload\n");
    let mut new = rustls_client(port, &ca, "b.test");
    echo_line(&mut new, "new connection\n");
    let second = serial_of(&new);
    assert_ne!(first, second);

    // A broken file: the reload is reported where the file is named and the service keeps
    // the certificate it has.
    std::fs::write(pki.path("live.key"), "not a key\n").expect("write");
    d.signal(nix::sys::signal::Signal::SIGHUP);
    d.wait_log_count(10, "Reconfigured", 2);
    let log = d.prog_log();
    assert!(
        log.contains(&format!("service echo: {}:", d.conf.display())),
        "{log}"
    );
    assert!(log.contains("tls_key"), "{log}");
    assert!(
        log.contains("service echo: keeping the TLS certificate loaded before"),
        "{log}"
    );
    let mut third = rustls_client(port, &ca, "b.test");
    echo_line(&mut third, "still served\n");
    assert_eq!(serial_of(&third), second);
    echo_line(&mut old, "old connection still up\n");
}

#[test]
fn check_reports_tls_errors_where_they_are_written() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("xinetd.conf");
    let port = free_port();
    let mut text = tls_service(
        "echo",
        port,
        &format!(
            "\ttype = INTERNAL UNLISTED\n\ttls_cert = {}\n\ttls_key = /nonexistent/key.pem\n",
            pki.p("a.pem")
        ),
    );
    text += &tls_service(
        "daytime",
        port + 1,
        "\ttype = INTERNAL UNLISTED\n\ttls_alpn = h2\n",
    );
    text += &tls_service(
        "discard",
        port + 2,
        &format!(
            "\ttype = INTERNAL UNLISTED\n{}\ttls_client_auth = sometimes\n",
            certs(&pki, &["a"])
        ),
    );
    std::fs::write(
        &conf,
        text.replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("write");
    let out = Command::new(XINETD)
        .arg("-check")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = conf.display();
    assert!(
        stdout.contains(&format!(
            "{c}:14:2: error: tls_key /nonexistent/key.pem: No such file or directory"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{c}:28:2: error: tls_alpn without tls_cert; service 'daytime' is dropped"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("tls_client_auth 'sometimes' is not one of none, optional, required"),
        "{stdout}"
    );
    assert!(!stdout.contains("echo socket_type"), "{stdout}");
    // The printer round-trips the attributes.
    let json = Command::new(XINETD)
        .arg("-check")
        .arg("-json")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    // A service without TLS files to read shows its TLS attributes.
    let ok = tempfile::tempdir().expect("tempdir");
    let ok_conf = ok.path().join("ok.conf");
    std::fs::write(
        &ok_conf,
        tls_service(
            "echo",
            port,
            &format!(
                "\ttype = INTERNAL UNLISTED\n{}\ttls_alpn = h2\n\ttls_client_ca = {}\n",
                certs(&pki, &["a"]),
                pki.p("client-ca.pem")
            ),
        )
        .replace("@DIR@", &ok.path().display().to_string()),
    )
    .expect("write");
    let out = Command::new(XINETD)
        .args(["-check", "-json", "-f"])
        .arg(&ok_conf)
        .output()
        .expect("run");
    let ok_json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let tls = &ok_json["services"][0]["tls"];
    assert_eq!(tls["cert"][0], pki.p("a.pem"), "{ok_json}");
    assert_eq!(tls["alpn"][0], "h2");
    assert_eq!(tls["client_auth"], "required");
    assert_eq!(tls["min_version"], "1.2");
    assert_eq!(tls["handshake_timeout"], 10);
    assert!(v["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .any(|d| d["line"] == 14 && d["severity"] == "error"));
}

#[test]
fn an_external_server_sees_eof_and_answers_after_it() {
    let pki = pki();
    let port = free_port();
    // The server reads to EOF (the client's close_notify), then answers and exits.
    let script = pki.path("count.sh");
    std::fs::write(&script, "#!/bin/sh\nn=$(wc -c)\necho \"got $n bytes\"\n").expect("write");
    let _ = Command::new("chmod").arg("755").arg(&script).status();
    let conf = tls_service(
        "count",
        port,
        &format!(
            "\ttype = UNLISTED\n\tuser = root\n\tserver = {}\n{}",
            script.display(),
            certs(&pki, &["a"])
        ),
    );
    let d = Daemon::start(&conf);
    let mut c = rustls_client(port, &pki.path("server-ca.pem"), "a.test");
    let payload = vec![b'x'; 200_000];
    c.write_all(&payload).expect("write");
    c.conn.send_close_notify();
    c.flush().expect("flush");
    while c.conn.wants_write() {
        c.conn.write_tls(&mut c.sock).expect("write_tls");
    }
    let mut answer = String::new();
    // The server's EOF arrives as close_notify: read_to_string ends cleanly.
    c.read_to_string(&mut answer).expect("read to close_notify");
    assert_eq!(answer.trim(), "got 200000 bytes");
    d.wait_file(10, "svc.log", "EXIT: count status=0");
    let log = d.read("svc.log");
    assert!(log.contains("START: count pid="), "{log}");
    assert!(!log.contains("FAIL"), "{log}");
}
