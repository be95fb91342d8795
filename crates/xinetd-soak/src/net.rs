//! Loopback clients and helper servers. Clients connect from 127.0.0.1 only: Debian's
//! xinetd (libwrap) looks every client's name up, and an address /etc/hosts does not list
//! would send DNS queries off the machine. Client-side TIME_WAIT states do not exhaust the
//! ephemeral ports because Linux reuses them on loopback (`net.ipv4.tcp_tw_reuse = 2`, the
//! default).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*): the garbage is reproducible from the seed
/// and the workspace needs no `rand`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced: xorshift must not start at 0).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Fewer than `max` random bytes (a random length).
    pub fn some_bytes(&mut self, max: u64) -> Vec<u8> {
        let len = self.below(max) as usize;
        self.bytes(len)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next_u64() >> 32) as u8).collect()
    }
}

/// Client outcome counters shared by client threads.
#[derive(Debug, Default)]
pub struct Tally {
    /// Answered as the service should.
    pub served: AtomicU64,
    /// Refused: connection refused or reset, or closed before any answer.
    pub refused: AtomicU64,
    /// Anything else (timeouts, wrong answers, local errors).
    pub errors: AtomicU64,
    /// Of the refusals, those that were a reset (RST).
    pub resets: AtomicU64,
}

/// How one client exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered.
    Served,
    /// Refused (the flag: by a reset).
    Refused(bool),
    /// Something else.
    Error,
}

impl Tally {
    /// Counts one outcome.
    pub fn add(&self, o: Outcome) {
        let c = match o {
            Outcome::Served => &self.served,
            Outcome::Refused(reset) => {
                if reset {
                    self.resets.fetch_add(1, Ordering::Relaxed);
                }
                &self.refused
            }
            Outcome::Error => &self.errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (served, refused, errors, resets).
    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.resets.load(Ordering::Relaxed),
        )
    }
}

/// Classifies an I/O error of a client.
pub fn classify(e: &io::Error) -> Outcome {
    match e.kind() {
        ErrorKind::ConnectionRefused => Outcome::Refused(false),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            Outcome::Refused(true)
        }
        _ => Outcome::Error,
    }
}

/// A TCP connection from `src` to 127.0.0.1:`port` with `timeout` for connecting, reading
/// and writing.
pub fn connect_from(src: Ipv4Addr, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::from((src, 0)).into())?;
    sock.connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)).into(), timeout)?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// Closes with a reset (SO_LINGER 0) instead of a FIN: an impatient client.
pub fn reset(s: TcpStream) {
    let sock = socket2::Socket::from(s);
    let _ = sock.set_linger(Some(Duration::ZERO));
}

/// Reads exactly `want` bytes (within the stream's read timeout).
pub fn read_exact(s: &mut TcpStream, want: usize) -> Result<Vec<u8>, Outcome> {
    let mut buf = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match s.read(&mut buf[got..]) {
            Ok(0) => return Err(Outcome::Refused(false)),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(&e)),
        }
    }
    Ok(buf)
}

/// One echo exchange on a new connection: connect, send `line`, read it back, close.
pub fn echo_once(src: Ipv4Addr, port: u16, line: &[u8], timeout: Duration) -> Outcome {
    let mut s = match connect_from(src, port, timeout) {
        Ok(s) => s,
        Err(e) => return classify(&e),
    };
    if let Err(e) = s.write_all(line) {
        return classify(&e);
    }
    match read_exact(&mut s, line.len()) {
        Ok(back) if back == line => Outcome::Served,
        Ok(_) => Outcome::Error,
        Err(o) => o,
    }
}

/// One datagram to the dgram echo service on `port`: true when it comes back within 2 s.
pub fn echo_udp(port: u16) -> bool {
    let Ok(u) = std::net::UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let mut buf = [0u8; 64];
    u.set_read_timeout(Some(Duration::from_secs(2))).is_ok()
        && u.send_to(b"probe", ("127.0.0.1", port)).is_ok()
        && matches!(u.recv(&mut buf), Ok(5))
        && &buf[..5] == b"probe"
}

/// Reads until EOF, at most `limit` bytes or until `deadline`; returns the byte count and
/// how the stream ended (`None`: EOF; `Some(Served)`: still open at the limit or the
/// deadline; otherwise the error).
pub fn drain(s: &mut TcpStream, limit: usize, deadline: Instant) -> (usize, Option<Outcome>) {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let now = Instant::now();
        if total >= limit || now >= deadline {
            return (total, Some(Outcome::Served));
        }
        // A read may not outlast the deadline (the stream's own timeout may be longer).
        let _ = s.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))));
        match s.read(&mut buf) {
            Ok(0) => return (total, None),
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (total, Some(Outcome::Served));
            }
            Err(e) => return (total, Some(classify(&e))),
        }
    }
}

/// A loopback echo server (the `redirect` target): one small thread per connection, each
/// ending at its client's EOF; the acceptor stops when the returned guard is dropped.
pub struct EchoTarget {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EchoTarget {
    /// Starts it on 127.0.0.1 (a free port).
    pub fn start() -> io::Result<EchoTarget> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let port = l.local_addr()?.port();
        l.set_nonblocking(true)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("echo-target".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((mut s, _)) => {
                            let _ = s.set_nonblocking(false);
                            let _ = std::thread::Builder::new().stack_size(64 * 1024).spawn(
                                move || {
                                    let mut buf = [0u8; 4096];
                                    while let Ok(n) = s.read(&mut buf) {
                                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                                            break;
                                        }
                                    }
                                },
                            );
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })?;
        Ok(EchoTarget {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for EchoTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.bytes(32), b.bytes(32));
        assert!((0..1000).all(|_| a.below(10) < 10));
        assert_ne!(Rng::new(0).next_u64(), 0);
    }

    #[test]
    fn echo_target_echoes() {
        let t = EchoTarget::start().expect("target");
        assert_eq!(
            echo_once(
                Ipv4Addr::LOCALHOST,
                t.port(),
                b"hi\n",
                Duration::from_secs(5)
            ),
            Outcome::Served
        );
    }

    #[test]
    fn tally_counts() {
        let t = Tally::default();
        t.add(Outcome::Served);
        t.add(Outcome::Refused(true));
        t.add(Outcome::Refused(false));
        t.add(Outcome::Error);
        assert_eq!(t.get(), (1, 2, 1, 1));
    }
}
