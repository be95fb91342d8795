//! TLS termination (issue 15) against Debian's stunnel4 in inetd-style exec mode, in one
//! daemon and one run: full TLS 1.3 handshakes per second (ECDSA P-256 and RSA-2048), bytes
//! per second through the relay at 64 KiB writes, and memory per open TLS connection.
//!
//! ```sh
//! cargo build --release -p xinetd-bin --bin xinetd --example tls_bench
//! target/release/examples/tls_bench target/release/xinetd [ROUNDS] [SECONDS] [MIB] [HELD]
//! ```
//! (defaults: 5 rounds, 2 s per handshake variant, 256 MiB per throughput variant, 500 held
//! connections). It needs `openssl` (the certificates are made at run time into a temporary
//! directory: no key is in the repository) and `/usr/bin/stunnel4` (its rows are skipped
//! without it).
//!
//! One daemon serves, on loopback, with `cps = 0 0` and a FILE log with START/EXIT:
//! - per key type (ECDSA P-256, RSA-2048): a TLS `echo` (internal), a TLS `/bin/cat`
//!   (external, the loop relays a socketpair), and a plain service whose server is
//!   `stunnel4` in inetd mode with `exec = /bin/cat` (stunnel does the TLS, then execs cat);
//! - for throughput: `discard` (internal) with and without TLS, a `redirect` to a sink run
//!   by this program with and without TLS (the same relay, with and without TLS), an
//!   external `dd of=/dev/null bs=64k` with TLS (relayed) and without (it gets the socket
//!   itself), and the same `dd` behind stunnel4.
//!
//! Handshakes: `CONNS` client threads (2) each connect, do a full TLS 1.3 handshake (no
//! resumption; the client pins the server's certificate and checks its signature), send one
//! byte, read it back and close, for SECONDS; the variants alternate round by round and the
//! median is printed, with the CPU time per connection of the daemon and its children (user
//! and system, `/proc/PID/stat` incl. reaped children: stunnel and cat), which a busy shared
//! machine disturbs less than the rate. The client offers an X25519 key share first and
//! AES-256-GCM first, as OpenSSL does. Throughput: one connection writes MIB MiB in 64 KiB
//! writes, shuts down, and waits for the server's EOF; the median rate, and the CPU time of
//! the daemon and its reaped children per MiB (`ONLY=NAME` runs only the throughput variants
//! whose name starts with NAME, e.g. under `perf record`). Memory: a fresh daemon per
//! variant, HELD established TLS connections held open (ECDSA), and the growth of the
//! proportional set size (PSS) of the daemon and all its descendants divided by HELD.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

const WRITE: usize = 64 * 1024;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn die(msg: &str) -> ! {
    eprintln!("tls_bench: {msg}");
    std::process::exit(1);
}

/// Accepts only the certificates this run made, and checks the handshake's signature with
/// them (the cost a verifying client pays; the chain is one self-signed certificate).
#[derive(Debug)]
struct Pinned {
    certs: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.certs.iter().any(|c| c[..] == end_entity[..]) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

// ring, like the daemon (rustls deprecates it only for lacking post-quantum key exchange).
#[allow(deprecated)]
fn client_config(certs: Vec<Vec<u8>>) -> Arc<ClientConfig> {
    // The client offers an X25519 share first, as OpenSSL, browsers and Go do (rustls'
    // ring provider would offer P-384 first).
    use rustls::crypto::ring::kx_group;
    let mut p = rustls::crypto::ring::default_provider();
    p.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    let provider = Arc::new(p);
    let verifier = Arc::new(Pinned {
        certs,
        provider: provider.clone(),
    });
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| die(&format!("client config: {e}")))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // Every connection is a full handshake.
    cfg.resumption = rustls::client::Resumption::disabled();
    Arc::new(cfg)
}

type TlsStream = rustls::StreamOwned<ClientConnection, TcpStream>;

fn tls_connect(cfg: &Arc<ClientConfig>, port: u16) -> Option<TlsStream> {
    let sock = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = sock.set_nodelay(true);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let name = ServerName::try_from("localhost").ok()?;
    let conn = ClientConnection::new(cfg.clone(), name).ok()?;
    Some(rustls::StreamOwned::new(conn, sock))
}

/// One connection: handshake, one byte there and back; the stream stays open.
fn one_echo(cfg: &Arc<ClientConfig>, port: u16) -> Option<TlsStream> {
    let mut s = tls_connect(cfg, port)?;
    let mut b = [0u8; 1];
    s.write_all(b"x").ok()?;
    s.read_exact(&mut b).ok()?;
    Some(s)
}

fn close(mut s: TlsStream) {
    s.conn.send_close_notify();
    let _ = s.flush();
    let _ = s.sock.shutdown(Shutdown::Both);
}

/// Connections per second with `threads` clients for `secs`, and how many were made.
fn handshake_rate(cfg: &Arc<ClientConfig>, port: u16, threads: usize, secs: f64) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let (cfg, done) = (cfg.clone(), done.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    if let Some(s) = one_echo(&cfg, port) {
                        close(s);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        let _ = h.join();
    }
    let n = done.load(Ordering::Relaxed);
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

/// Bytes per second for `mib` MiB in 64 KiB writes, until the server's EOF.
fn throughput(cfg: Option<&Arc<ClientConfig>>, port: u16, mib: usize) -> Option<f64> {
    let buf = vec![b'z'; WRITE];
    let total = mib * 1024 * 1024;
    let start = Instant::now();
    let mut sink = vec![0u8; WRITE];
    match cfg {
        Some(cfg) => {
            let mut s = tls_connect(cfg, port)?;
            let mut sent = 0;
            while sent < total {
                s.write_all(&buf).ok()?;
                sent += WRITE;
            }
            s.conn.send_close_notify();
            s.flush().ok()?;
            let _ = s.sock.shutdown(Shutdown::Write);
            // Until EOF (close_notify or TCP EOF; dd's or stunnel's output is ignored).
            loop {
                match s.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        None => {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            let mut sent = 0;
            while sent < total {
                s.write_all(&buf).ok()?;
                sent += WRITE;
            }
            let _ = s.shutdown(Shutdown::Write);
            loop {
                match s.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }
    Some(total as f64 / start.elapsed().as_secs_f64())
}

/// The `redirect` target: reads and drops everything, then closes.
fn sink() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| die(&format!("sink: {e}")));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut b = vec![0u8; WRITE];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// CPU time of `pid` and its reaped children, in clock ticks (10 ms).
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime, stime, cutime, cstime.
    n(11) + n(12) + n(13) + n(14)
}

fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|p| Some((p, ppid_of(p)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// A field of `/proc/PID/smaps_rollup` or `status` in kB.
fn kb(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// (PSS of the tree, RSS of the daemon alone, processes in the tree), in kB.
fn memory(pid: u32) -> (u64, u64, usize) {
    let t = tree(pid);
    let pss = t
        .iter()
        .map(|p| kb(&format!("/proc/{p}/smaps_rollup"), "Pss:"))
        .sum();
    (pss, kb(&format!("/proc/{pid}/status"), "VmRSS:"), t.len())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn openssl(args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        die(&format!("openssl {} failed", args.join(" ")));
    }
}

/// A self-signed certificate for `localhost`: (cert PEM, key PEM, cert DER bytes).
fn certificate(dir: &Path, name: &str, newkey: &[&str]) -> (PathBuf, PathBuf, Vec<u8>) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let der = dir.join(format!("{name}.der"));
    let (c, k, d) = (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
        der.to_string_lossy().into_owned(),
    );
    let mut args = vec![
        "req",
        "-x509",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
    ];
    args.extend_from_slice(&["-addext", "subjectAltName=DNS:localhost"]);
    args.extend_from_slice(newkey);
    args.extend_from_slice(&["-keyout", &k, "-out", &c]);
    openssl(&args);
    openssl(&["x509", "-in", &c, "-outform", "DER", "-out", &d]);
    let bytes = std::fs::read(&der).unwrap_or_else(|e| die(&format!("{d}: {e}")));
    (cert, key, bytes)
}

struct Conf {
    text: String,
}

impl Conf {
    fn service(&mut self, name: &str, id: &str, port: u16, body: &str, log: &Path) {
        self.text.push_str(&format!(
            "service {name}\n{{\n\tid = {id}\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {port}\n\twait = no\n\tbind = 127.0.0.1\n\tuser = root\n\tcps = 0 0\n\
             \tlog_type = FILE {}\n\tlog_on_success = PID HOST EXIT\n{body}}}\n",
            log.display()
        ));
    }
}

fn tls(cert: &Path, key: &Path) -> String {
    format!(
        "\ttls_cert = {}\n\ttls_key = {}\n\ttls_min_version = 1.3\n",
        cert.display(),
        key.display()
    )
}

fn stunnel_conf(
    dir: &Path,
    name: &str,
    cert: &Path,
    key: &Path,
    exec: &str,
    args: &str,
) -> PathBuf {
    let p = dir.join(format!("stunnel-{name}.conf"));
    let text = format!(
        // inetd mode: no service section, no `accept`; the socket is stdin/stdout.
        "syslog = no\ndebug = 0\noutput = /dev/null\ncert = {}\nkey = {}\n\
         sslVersionMin = TLSv1.3\nexec = {exec}\nexecArgs = {args}\n",
        cert.display(),
        key.display()
    );
    std::fs::write(&p, text).unwrap_or_else(|e| die(&format!("{}: {e}", p.display())));
    p
}

/// Starts the daemon and waits until the service on `last` listens.
fn start(bin: &str, conf: &Path, dir: &Path, last: u16) -> std::process::Child {
    let mut child = Command::new(bin)
        .arg("-dontfork")
        .arg("-f")
        .arg(conf)
        .arg("-filelog")
        .arg(dir.join("prog.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("cannot start {bin}: {e}")));
    let up = Instant::now();
    while TcpStream::connect(("127.0.0.1", last)).is_err() {
        if up.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            die(&format!(
                "the daemon did not start; see {}",
                dir.join("prog.log").display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(bin) = args.first() else {
        eprintln!("usage: tls_bench XINETD [ROUNDS] [SECONDS] [MIB] [HELD]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(5);
    let secs: f64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2.0);
    let mib: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(256);
    let held: usize = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(500);
    let threads: usize = std::env::var("CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let stunnel = Path::new("/usr/bin/stunnel4").exists();
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load().trim());

    let dir = std::env::temp_dir().join(format!("tls_bench.{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let log = dir.join("svc.log");
    let ec = certificate(
        &dir,
        "ec",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let rsa = certificate(&dir, "rsa", &["-newkey", "rsa:2048"]);
    let cfg = client_config(vec![ec.2.clone(), rsa.2.clone()]);
    let sink_port = sink();

    // Handshake variants: (name, port, via stunnel).
    let mut conf = Conf {
        text: String::new(),
    };
    let mut hs: Vec<(String, u16)> = Vec::new();
    for (kname, (cert, key, _)) in [("ECDSA", &ec), ("RSA", &rsa)] {
        let k = kname.to_lowercase();
        let p = free_port();
        conf.service(
            "echo",
            &format!("echo-tls-{k}"),
            p,
            &format!("\ttype = INTERNAL UNLISTED\n{}", tls(cert, key)),
            &log,
        );
        hs.push((format!("{kname} echo (in-loop) TLS"), p));
        let p = free_port();
        conf.service(
            "cat",
            &format!("cat-tls-{k}"),
            p,
            &format!("\ttype = UNLISTED\n\tserver = /bin/cat\n{}", tls(cert, key)),
            &log,
        );
        hs.push((format!("{kname} /bin/cat TLS"), p));
        if stunnel {
            let p = free_port();
            let sc = stunnel_conf(&dir, &format!("cat-{k}"), cert, key, "/bin/cat", "cat");
            conf.service(
                "stunnel",
                &format!("stunnel-cat-{k}"),
                p,
                &format!(
                    "\ttype = UNLISTED\n\tserver = /usr/bin/stunnel4\n\tserver_args = {}\n",
                    sc.display()
                ),
                &log,
            );
            hs.push((format!("{kname} /bin/cat stunnel4"), p));
        }
    }
    // Throughput variants: (name, port, TLS).
    let (cert, key, _) = &ec;
    let mut tp: Vec<(String, u16, bool)> = Vec::new();
    let dd = "\ttype = UNLISTED\n\tserver = /bin/dd\n\tserver_args = of=/dev/null bs=65536 status=none\n";
    let redirect = format!("\ttype = UNLISTED\n\tredirect = 127.0.0.1 {sink_port}\n");
    for (name, body, with_tls) in [
        ("redirect TLS", redirect.clone() + &tls(cert, key), true),
        ("redirect plain", redirect.clone(), false),
        ("dd TLS", dd.to_string() + &tls(cert, key), true),
        ("dd plain (no relay)", dd.to_string(), false),
        (
            "discard TLS",
            "\ttype = INTERNAL UNLISTED\n".to_string() + &tls(cert, key),
            true,
        ),
        (
            "discard plain",
            "\ttype = INTERNAL UNLISTED\n".to_string(),
            false,
        ),
    ] {
        let p = free_port();
        let id = name
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join("-");
        let svc = if name.starts_with("discard") {
            "discard"
        } else {
            "x"
        };
        conf.service(svc, &id, p, &body, &log);
        tp.push((name.to_string(), p, with_tls));
    }
    if stunnel {
        let p = free_port();
        let sc = stunnel_conf(
            &dir,
            "dd",
            cert,
            key,
            "/bin/dd",
            "dd of=/dev/null bs=65536 status=none",
        );
        conf.service(
            "stunnel",
            "stunnel-dd",
            p,
            &format!(
                "\ttype = UNLISTED\n\tserver = /usr/bin/stunnel4\n\tserver_args = {}\n",
                sc.display()
            ),
            &log,
        );
        tp.push(("dd stunnel4".to_string(), p, true));
    }
    let conf_path = dir.join("xinetd.conf");
    std::fs::write(&conf_path, &conf.text).unwrap_or_else(|e| die(&format!("config: {e}")));
    let last = tp.last().map_or(0, |t| t.1);
    let mut child = start(bin, &conf_path, &dir, last);
    let mut pid = child.id();

    // 1. Handshakes.
    for (name, port) in &hs {
        let Some(s) = one_echo(&cfg, *port) else {
            let _ = child.kill();
            die(&format!("{name}: no echo (see {})", dir.display()));
        };
        println!(
            "{name:<26} {:?} {:?} {:?}",
            s.conn.protocol_version(),
            s.conn.negotiated_cipher_suite().map(|c| c.suite()),
            s.conn.negotiated_key_exchange_group().map(|g| g.name())
        );
        close(s);
        handshake_rate(&cfg, *port, threads, 0.3);
    }
    let mut rate = vec![Vec::new(); hs.len()];
    let mut cpu = vec![Vec::new(); hs.len()];
    for r in 0..rounds {
        for (v, (name, port)) in hs.iter().enumerate() {
            let before = cpu_ticks(pid);
            let (x, n) = handshake_rate(&cfg, *port, threads, secs);
            let us = (cpu_ticks(pid) - before) as f64 * 10_000.0 / n.max(1) as f64;
            rate[v].push(x);
            cpu[v].push(us);
            println!(
                "round {} {name:<26} {x:>7.0} conn/s {us:>7.0} us CPU/conn",
                r + 1
            );
        }
    }
    // 2. Throughput.
    let mut bps = vec![Vec::new(); tp.len()];
    let mut tcpu = vec![Vec::new(); tp.len()];
    for r in 0..rounds {
        for (v, (name, port, with_tls)) in tp.iter().enumerate() {
            // ONLY=NAME: one throughput variant (for a profiler).
            if std::env::var("ONLY").is_ok_and(|o| !name.starts_with(&o)) {
                continue;
            }
            let c = with_tls.then_some(&cfg);
            let before = cpu_ticks(pid);
            let Some(x) = throughput(c, *port, mib) else {
                let _ = child.kill();
                die(&format!("{name}: the transfer failed"));
            };
            // Servers are reaped within moments of their EOF.
            std::thread::sleep(Duration::from_millis(50));
            let us = (cpu_ticks(pid) - before) as f64 * 10_000.0 / mib as f64;
            bps[v].push(x);
            tcpu[v].push(us);
            println!(
                "round {} {name:<26} {:>7.0} MB/s {us:>6.0} us CPU/MiB",
                r + 1,
                x / 1e6
            );
        }
    }
    // 3. Memory per held connection.
    let mut mem = Vec::new();
    for (name, port) in &hs {
        if !name.starts_with("ECDSA") {
            continue;
        }
        // A fresh daemon for each: the heap freed by the one before would hide growth.
        let _ = child.kill();
        let _ = child.wait();
        child = start(bin, &conf_path, &dir, last);
        pid = child.id();
        // Its first connection, so one-time allocations are not counted.
        if let Some(s) = one_echo(&cfg, *port) {
            close(s);
        }
        std::thread::sleep(Duration::from_millis(300));
        let (pss0, rss0, _) = memory(pid);
        let mut open = Vec::new();
        for _ in 0..held {
            match one_echo(&cfg, *port) {
                Some(s) => open.push(s),
                None => break,
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        let (pss1, rss1, procs) = memory(pid);
        let n = open.len().max(1) as f64;
        println!(
            "{name:<26} {} held: tree PSS {pss0} -> {pss1} kB ({procs} processes), daemon RSS \
             {rss0} -> {rss1} kB",
            open.len()
        );
        mem.push((
            name.clone(),
            open.len(),
            (pss1 as f64 - pss0 as f64) / n,
            (rss1 as f64 - rss0 as f64) / n,
        ));
        for s in open {
            close(s);
        }
        // Until the servers are gone.
        let t = Instant::now();
        while tree(pid).len() > 1 && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let end_load = load();
    let _ = child.kill();
    let _ = child.wait();

    println!("\nload average at end: {}", end_load.trim());
    println!(
        "handshakes: median of {rounds} rounds of {secs} s, {threads} client threads, \
         full TLS 1.3 handshake + 1 byte echoed per connection"
    );
    let stunnel_rate = |k: &str| {
        hs.iter()
            .position(|(n, _)| n.starts_with(k) && n.ends_with("stunnel4"))
            .map(|i| median(&rate[i]))
    };
    for (v, (name, _)) in hs.iter().enumerate() {
        let m = median(&rate[v]);
        let vs = stunnel_rate(name.split(' ').next().unwrap_or(""))
            .map_or(String::new(), |s| format!(" = {:.1}x stunnel4", m / s));
        println!(
            "  {name:<26} {m:>7.0} conn/s (min {:.0}, max {:.0}){vs}; {:.0} us CPU/conn",
            rate[v].iter().copied().fold(f64::INFINITY, f64::min),
            rate[v].iter().copied().fold(0.0, f64::max),
            median(&cpu[v])
        );
    }
    println!("throughput: median of {rounds} transfers of {mib} MiB in 64 KiB writes");
    let tmed: Vec<f64> = bps.iter().map(|b| median(b)).collect();
    for (v, (name, _, _)) in tp.iter().enumerate() {
        let ratio = if name.ends_with("TLS") && v + 1 < tp.len() {
            format!(" = {:.2}x of {}", tmed[v] / tmed[v + 1], tp[v + 1].0)
        } else {
            String::new()
        };
        println!(
            "  {name:<26} {:>7.0} MB/s (min {:.0}, max {:.0}){ratio}; {:.0} us CPU/MiB",
            tmed[v] / 1e6,
            bps[v].iter().copied().fold(f64::INFINITY, f64::min) / 1e6,
            bps[v].iter().copied().fold(0.0, f64::max) / 1e6,
            median(&tcpu[v])
        );
    }
    println!("memory per open connection (ECDSA, handshake done, idle):");
    for (name, n, pss, rss) in mem {
        println!(
            "  {name:<26} {n} held: {pss:.1} kB PSS of the daemon and its servers, {rss:.1} kB \
             of the daemon's RSS"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
