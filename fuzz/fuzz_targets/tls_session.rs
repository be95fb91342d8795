//! The TLS session of the daemon (issue 15), compiled from its source as it is
//! (`crates/xinetd-bin/src/session/tls.rs`), over real loopback sockets:
//!
//! * mode 0: arbitrary bytes as the client's first flight, split into reads chosen by the
//!   input, then EOF — the ClientHello / record-layer path before and during the handshake;
//! * mode 1: a real handshake with a rustls client, then a mix of valid application-data
//!   records (encrypted by the client) and raw bytes (garbage, truncated records) chosen by
//!   the input, relayed to a socketpair standing for the server, then EOF on both sides.
//!
//! Invariants: nothing panics; a session whose peers have both closed ends within a bounded
//! number of turns; the server side receives exactly a prefix of the plaintext the client
//! sent, in order (nothing invented, nothing reordered); a mode-0 session never reaches the
//! plaintext side without a handshake; descriptors do not leak across runs.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mio::Token;

#[path = "../../crates/xinetd-bin/src/internal.rs"]
#[allow(dead_code)]
mod internal;

#[allow(dead_code)]
#[path = "../../crates/xinetd-bin/src/tls"]
mod tls {
    pub mod identity;
}

/// The parts of `session/mod.rs` the TLS session uses, without the daemon around them.
#[allow(dead_code)]
#[path = "../../crates/xinetd-bin/src/session"]
mod session {
    use mio::{Interest, Registry, Token};

    pub enum Next {
        Wait,
        Again,
        Done,
        Established,
    }

    pub fn interest(read: bool, write: bool) -> Option<Interest> {
        match (read, write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }

    pub struct Socket {
        pub stream: mio::net::TcpStream,
        token: Token,
    }

    impl Socket {
        pub fn new(stream: mio::net::TcpStream, token: Token) -> Socket {
            Socket { stream, token }
        }
        pub fn token(&self) -> Token {
            self.token
        }
        pub fn follow(&mut self, _r: &Registry, _w: Option<Interest>) -> std::io::Result<()> {
            Ok(())
        }
        pub fn forget(&mut self, _r: &Registry) {}
    }

    pub mod tls;
}

use session::tls::{Inner, Plain, Tls};
use session::{Next, Socket};

struct Setup {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    listener: TcpListener,
}

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        // The daemon runs with SIGPIPE ignored (Rust's runtime does it before main; libFuzzer's
        // main does not): a write to a closed socket is EPIPE, not the end of the process.
        // SAFETY: setting a signal disposition to SIG_IGN before any thread of ours runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["fuzz.test".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let der = cert.der().clone();
        let pk = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key");
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], pk)
            .expect("server config");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der).expect("root");
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Setup {
            server: Arc::new(server),
            client: Arc::new(client),
            listener: TcpListener::bind("127.0.0.1:0").expect("listen"),
        }
    })
}

/// A connected loopback pair: (the session's end, the client's end).
fn pair(s: &Setup) -> (mio::net::TcpStream, TcpStream) {
    let client = TcpStream::connect(s.listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = s.listener.accept().expect("accept");
    server.set_nonblocking(true).expect("nonblocking");
    client.set_nonblocking(true).expect("nonblocking");
    (mio::net::TcpStream::from_std(server), client)
}

/// Turns until the session waits or ends; `true` when it ended.
fn drive(t: &mut Tls, established: &mut bool) -> bool {
    for _ in 0..256 {
        match t.ready() {
            Next::Done => return true,
            Next::Established => {
                *established = true;
                return false;
            }
            Next::Wait => return false,
            Next::Again => {}
        }
    }
    false
}

fn drain(s: &mut impl Read, out: &mut Vec<u8>) {
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return,
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn raw_first_flight(s: &Setup, data: &[u8]) {
    let (server, mut client) = pair(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut t = Tls::new(Socket::new(server, Token(1)), s.server.clone(), deadline).expect("conn");
    let mut established = false;
    let mut rest = data;
    while !rest.is_empty() {
        let n = usize::from(rest[0] % 64) + 1;
        let chunk = &rest[1..rest.len().min(1 + n)];
        rest = &rest[rest.len().min(1 + n)..];
        let _ = client.write_all(chunk);
        if drive(&mut t, &mut established) {
            break;
        }
        // Random bytes never make a handshake (they would need the server's key share).
        assert!(!established, "a handshake from unauthenticated bytes");
    }
    let _ = client.shutdown(Shutdown::Write);
    let mut ended = false;
    for _ in 0..64 {
        if drive(&mut t, &mut established) {
            ended = true;
            break;
        }
    }
    assert!(!established);
    assert!(ended, "a session whose client closed mid-handshake did not end");
    assert!(t.failure().is_some());
}

fn after_handshake(s: &Setup, data: &[u8]) {
    let (server, client_sock) = pair(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut t = Tls::new(Socket::new(server, Token(1)), s.server.clone(), deadline).expect("conn");
    let name = rustls::pki_types::ServerName::try_from("fuzz.test").expect("name");
    let conn = rustls::ClientConnection::new(s.client.clone(), name).expect("client");
    let mut client = rustls::StreamOwned::new(conn, client_sock);
    let mut established = false;
    for _ in 0..200 {
        let _ = client.conn.complete_io(&mut client.sock);
        drive(&mut t, &mut established);
        if established && !client.conn.is_handshaking() {
            break;
        }
    }
    assert!(established, "a real client's handshake did not finish");
    let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    ours.set_nonblocking(true).expect("nonblocking");
    theirs.set_nonblocking(true).expect("nonblocking");
    t.serve(
        Inner::Stream(Plain::unix(mio::net::UnixStream::from_std(ours), Token(2))),
        None,
    );
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut garbage = false;
    let mut ended = false;
    let mut rest = data;
    while rest.len() >= 2 && !ended {
        let op = rest[0];
        let n = usize::from(rest[1]) % 200 + 1;
        let body = &rest[2..rest.len().min(2 + n)];
        rest = &rest[rest.len().min(2 + n)..];
        match op % 4 {
            // Application data in valid records.
            0 | 1 => {
                let _ = client.conn.writer().write_all(body);
                if !garbage {
                    sent.extend_from_slice(body);
                }
                while client.conn.wants_write() {
                    if client.conn.write_tls(&mut client.sock).is_err() {
                        break;
                    }
                }
            }
            // Raw bytes: garbage, or a record header with a truncated body.
            2 => {
                let _ = client.sock.write_all(body);
                garbage = true;
            }
            // The server side answers: what it sends must reach the client side.
            _ => {
                let _ = theirs.write_all(body);
            }
        }
        ended = drive(&mut t, &mut established);
        drain(&mut theirs, &mut got);
        let _ = client.conn.complete_io(&mut client.sock);
    }
    // Both peers end; the session must end too.
    let _ = client.sock.shutdown(Shutdown::Both);
    let _ = theirs.shutdown(Shutdown::Both);
    for _ in 0..64 {
        if ended {
            break;
        }
        ended = drive(&mut t, &mut established);
        drain(&mut theirs, &mut got);
    }
    assert!(ended, "a session whose peers both closed did not end");
    assert!(
        sent.starts_with(&got) || (garbage && got.len() <= sent.len() + 0),
        "the server got bytes the client never sent"
    );
    assert!(sent.starts_with(&got), "plaintext reordered or invented");
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static BASE: OnceLock<usize> = OnceLock::new();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        raw_first_flight(s, rest);
    } else {
        after_handshake(s, rest);
    }
    let runs = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if runs == 16 {
        let _ = BASE.set(open_fds());
    } else if runs % 1024 == 0 {
        if let Some(base) = BASE.get() {
            assert!(open_fds() <= base + 8, "descriptors leak: {} > {base}", open_fds());
        }
    }
});
