//! Benchmarks of issue 16 that `../shared/bench` does not have: `redirect` relay throughput
//! and connection rate, ten thousand held connections, and a reload storm under load. Driven
//! by `bench/perf2.sh`, which starts the real xinetd and xinetd-rs with the same
//! configuration; each subcommand prints one `RESULT key=value ...` line.
//!
//! ```text
//! netbench sink DISCARD_PORT ECHO_PORT          # redirect targets (one epoll thread)
//! netbench splice-relay LISTEN_PORT TARGET_PORT # the relay ceiling: splice(2) via a pipe
//! netbench throughput PORT CONNS SECONDS        # 64 KiB writes on CONNS long connections
//! netbench cps PORT CLIENTS SECONDS             # connect, 1 byte there and back, close
//! netbench held PORT N PID                      # N held echo connections: memory, latency
//! netbench storm PID ECHO_PORT CAT_PORT CONF CONF_A CONF_B HUPS SECONDS
//! netbench load PORT CLIENTS SECONDS            # closed-loop echo exchanges
//! netbench hup PID CONF CONF_A CONF_B HUPS SECONDS  # the storm's signals alone
//! ```
//!
//! Only loopback addresses are used; every loop is bounded in time and count.

use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_SECONDS: u64 = 600;
const MAX_HELD: usize = 20_000;

fn lo(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn die(msg: &str) -> ! {
    eprintln!("netbench: {msg}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die(&format!("argument {i}: expected {what}")))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sink") => sink(num(&args, 1, "port"), num(&args, 2, "port")),
        Some("splice-relay") => splice_relay(num(&args, 1, "port"), num(&args, 2, "port")),
        Some("throughput") => throughput(
            num(&args, 1, "port"),
            num(&args, 2, "count"),
            num::<u64>(&args, 3, "seconds").min(MAX_SECONDS),
        ),
        Some("cps") => cps(
            num(&args, 1, "port"),
            num(&args, 2, "count"),
            num::<u64>(&args, 3, "seconds").min(MAX_SECONDS),
        ),
        Some("held") => held(
            num(&args, 1, "port"),
            num::<usize>(&args, 2, "count").min(MAX_HELD),
            num(&args, 3, "pid"),
        ),
        Some("storm") => storm(&args[1..]),
        Some("load") => load(&args[1..]),
        Some("hup") => hups(&args[1..]),
        _ => die("usage: see the comment at the top of examples/netbench.rs"),
    }
}

// ---- latency statistics ----

struct Lat(Vec<u32>);

impl Lat {
    fn pct(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.0[i]) / 1000.0
    }
    fn max(&self) -> f64 {
        self.0
            .iter()
            .copied()
            .max()
            .map_or(0.0, |m| f64::from(m) / 1000.0)
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// One echo exchange on a fresh connection: connect, `payload`, then either half-close and
/// read to EOF, or (xinetd's redirect ends a session at the client's first EOF, F-601) read
/// the echo and close.
fn exchange(addr: SocketAddr, payload: &[u8], half_close: bool) -> std::io::Result<Duration> {
    let t = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.write_all(payload)?;
    let mut got = vec![0u8; payload.len()];
    if half_close {
        s.shutdown(Shutdown::Write)?;
        got.clear();
        s.read_to_end(&mut got)?;
    } else {
        s.read_exact(&mut got)?;
    }
    if got != payload {
        return Err(std::io::Error::other("echo mismatch"));
    }
    Ok(t.elapsed())
}

/// `clients` closed loops of [`exchange`] for `dur`: (latencies, errors).
fn closed_loop(addr: SocketAddr, clients: usize, dur: Duration, half_close: bool) -> (Lat, u64) {
    let stop = Instant::now() + dur;
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < stop && lat.len() < 10_000_000 {
                    match exchange(addr, b"x", half_close) {
                        Ok(d) => lat.push(micros(d)),
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        if let Ok((l, e)) = h.join() {
            all.extend(l);
            errors += e;
        }
    }
    (Lat(all), errors)
}

// ---- redirect targets and the splice ceiling ----

const DISCARD: Token = Token(0);
const ECHO: Token = Token(1);
/// Connection `i` of the sink has token `FIRST_CONN + i`.
const FIRST_CONN: usize = 2;
/// Reads (of up to 64 KiB) per connection and wake-up before the others get their turn; a
/// connection that used them all is driven again on the next turn without waiting for epoll.
const READS_PER_TURN: usize = 16;
/// Accepts per listener and wake-up, for the same reason.
const ACCEPTS_PER_TURN: usize = 256;

/// The `redirect` target: a discard port and an echo port, served by one mio (epoll) thread.
///
/// Event-driven so that `cps` through a relay measures the relay: the thread-per-connection
/// sink this replaces paid a thread spawn (and its stack) per connection, which bounded the
/// figure (docs/performance.md, "`redirect` relay"). One thread rather than one per core: the
/// machine has 2 cores, which the clients and the relay under test need too; the sink's share
/// of a connection (accept, one read, one write, close) is small next to theirs, so a second
/// sink thread would mostly take CPU from what is measured, and one thread needs no split of
/// the listeners (SO_REUSEPORT) nor any locking.
fn sink(discard: u16, echo: u16) {
    let bind =
        |port| mio::net::TcpListener::bind(lo(port)).unwrap_or_else(|e| die(&format!("bind: {e}")));
    let mut listeners = [bind(discard), bind(echo)];
    let mut poll = Poll::new().unwrap_or_else(|e| die(&format!("epoll: {e}")));
    for (l, t) in listeners.iter_mut().zip([DISCARD, ECHO]) {
        if let Err(e) = poll.registry().register(l, t, Interest::READABLE) {
            die(&format!("epoll: {e}"));
        }
    }
    let mut events = Events::with_capacity(1024);
    let mut conns = SinkConns::default();
    // One read buffer for the thread: a connection keeps only the echo bytes its peer has not
    // taken yet.
    let mut buf = vec![0u8; 64 * 1024];
    let mut again: Vec<Token> = Vec::new();
    let mut turn: Vec<Token> = Vec::new();
    loop {
        let timeout = (!again.is_empty()).then_some(Duration::ZERO);
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            die(&format!("epoll: {e}"));
        }
        std::mem::swap(&mut turn, &mut again);
        turn.extend(events.iter().map(mio::event::Event::token));
        // A token both left over and woken is driven once (else `again` could grow each turn).
        turn.sort_unstable();
        turn.dedup();
        for &token in &turn {
            // No token here names a reused slot: a token left over is of a connection still
            // open, and a slot freed by a drive is reused only by a later turn's accepts.
            let more = match token {
                DISCARD | ECHO => {
                    let role = if token == ECHO {
                        Role::Echo
                    } else {
                        Role::Discard
                    };
                    let l = &listeners[usize::from(token == ECHO)];
                    conns.accept_batch(l, role, poll.registry())
                }
                Token(t) => conns.drive(t - FIRST_CONN, &mut buf, poll.registry()),
            };
            if more {
                again.push(token);
            }
        }
        turn.clear();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Discard,
    Echo,
}

/// What a connection needs after a turn.
enum Step {
    Close,
    /// Its read budget is used and it may have more: drive it again on the next turn.
    Again,
    /// Wait for epoll with this interest.
    Wait(Interest),
}

struct SinkConn {
    stream: mio::net::TcpStream,
    role: Role,
    /// Echoed bytes the peer has not taken yet. Reading stops while any wait, so this never
    /// holds more than one read's worth (64 KiB), and it is freed once written.
    pending: Vec<u8>,
    /// How much of `pending` is written.
    sent: usize,
    /// The peer sent EOF: an echo connection closes once `pending` is written.
    eof: bool,
    interest: Interest,
}

impl SinkConn {
    /// Reads and echoes until the socket or the budget runs dry; `Err` closes the connection.
    fn drive(&mut self, buf: &mut [u8]) -> std::io::Result<Step> {
        for _ in 0..READS_PER_TURN {
            if !self.flush()? {
                // The peer does not read: stop reading from it too (bounded memory).
                return Ok(Step::Wait(Interest::WRITABLE));
            }
            if self.eof {
                return Ok(Step::Close);
            }
            match self.stream.read(buf) {
                Ok(0) => self.eof = true,
                Ok(n) if self.role == Role::Echo => {
                    let done = write_some(&mut self.stream, &buf[..n])?;
                    self.pending.extend_from_slice(&buf[done..n]);
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return Ok(Step::Wait(Interest::READABLE))
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Step::Again)
    }

    /// Writes what is pending: true once nothing is.
    fn flush(&mut self) -> std::io::Result<bool> {
        if self.sent < self.pending.len() {
            self.sent += write_some(&mut self.stream, &self.pending[self.sent..])?;
            if self.sent < self.pending.len() {
                return Ok(false);
            }
            self.pending = Vec::new();
            self.sent = 0;
        }
        Ok(true)
    }
}

/// Writes until `bytes` are out or the socket is full: how many were written.
fn write_some(s: &mut mio::net::TcpStream, bytes: &[u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match s.write(&bytes[done..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The sink's connections by slot (token − `FIRST_CONN`), with free slots reused.
#[derive(Default)]
struct SinkConns {
    slots: Vec<Option<SinkConn>>,
    free: Vec<usize>,
    accept_failed: bool,
}

impl SinkConns {
    /// Accepts what is queued, up to the budget: true if the budget ran out.
    fn accept_batch(
        &mut self,
        l: &mio::net::TcpListener,
        role: Role,
        registry: &mio::Registry,
    ) -> bool {
        for _ in 0..ACCEPTS_PER_TURN {
            let mut stream = match l.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    // Descriptors short (EMFILE): the connection stays queued, and the next
                    // arrival wakes the listener again; retrying now would spin.
                    if !std::mem::replace(&mut self.accept_failed, true) {
                        eprintln!("netbench sink: accept: {e} (reported once)");
                    }
                    return false;
                }
            };
            if role == Role::Echo {
                let _ = stream.set_nodelay(true);
            }
            let slot = self.free.pop().unwrap_or(self.slots.len());
            if registry
                .register(&mut stream, Token(FIRST_CONN + slot), Interest::READABLE)
                .is_err()
            {
                self.free.push(slot);
                continue;
            }
            let conn = SinkConn {
                stream,
                role,
                pending: Vec::new(),
                sent: 0,
                eof: false,
                interest: Interest::READABLE,
            };
            if slot == self.slots.len() {
                self.slots.push(Some(conn));
            } else {
                self.slots[slot] = Some(conn);
            }
        }
        true
    }

    /// Drives connection `slot`: true if it should be driven again next turn.
    fn drive(&mut self, slot: usize, buf: &mut [u8], registry: &mio::Registry) -> bool {
        let Some(Some(c)) = self.slots.get_mut(slot) else {
            return false;
        };
        match c.drive(buf) {
            Ok(Step::Again) => return true,
            Ok(Step::Wait(want)) if want == c.interest => return false,
            Ok(Step::Wait(want)) => {
                // Interest follows state: reading while no echo waits, only writing while one does.
                if registry
                    .reregister(&mut c.stream, Token(FIRST_CONN + slot), want)
                    .is_ok()
                {
                    c.interest = want;
                    return false;
                }
            }
            Ok(Step::Close) | Err(_) => {}
        }
        // Closing the descriptor takes it out of the epoll set (it is never duplicated).
        self.slots[slot] = None;
        self.free.push(slot);
        false
    }
}

/// The relay ceiling: a thread per direction moving bytes with splice(2) through a pipe, so
/// they never enter user space.
fn splice_relay(listen: u16, target: u16) {
    let l = TcpListener::bind(lo(listen)).unwrap_or_else(|e| die(&format!("bind: {e}")));
    for client in l.incoming().flatten() {
        std::thread::spawn(move || {
            let Ok(server) = TcpStream::connect(lo(target)) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let up = std::thread::spawn(move || pump(&client, &server));
            pump(&s2, &c2);
            let _ = up.join();
        });
    }
}

fn pump(from: &TcpStream, to: &TcpStream) {
    use nix::fcntl::{splice, SpliceFFlags};
    let Ok((r, w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return;
    };
    // No SPLICE_F_MORE: on a socket it corks small writes (a 1-byte exchange waits ~200 ms).
    let flags = SpliceFFlags::SPLICE_F_MOVE;
    loop {
        let n = match splice(from.as_fd(), None, w.as_fd(), None, 1 << 20, flags) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut left = n;
        while left > 0 {
            match splice(r.as_fd(), None, to.as_fd(), None, left, flags) {
                Ok(0) | Err(_) => return,
                Ok(m) => left -= m,
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

// ---- relay load ----

fn throughput(port: u16, conns: usize, secs: u64) {
    let warm = Duration::from_millis(500);
    let start = Instant::now();
    let measure_from = start + warm;
    let stop = measure_from + Duration::from_secs(secs);
    let counted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut s = TcpStream::connect_timeout(&lo(port), IO_TIMEOUT)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                let buf = vec![b'z'; 64 * 1024];
                let mut n = 0u64;
                while n < (1 << 40) {
                    s.write_all(&buf)?;
                    n += 1;
                    let now = Instant::now();
                    if now >= stop {
                        break;
                    }
                    if now >= measure_from {
                        counted.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut errors = 0;
    for h in handles {
        if !matches!(h.join(), Ok(Ok(()))) {
            errors += 1;
        }
    }
    let bytes = counted.load(Ordering::Relaxed);
    println!(
        "RESULT throughput conns={conns} MiB_s={:.0} errors={errors}",
        bytes as f64 / (1 << 20) as f64 / secs as f64
    );
}

fn cps(port: u16, clients: usize, secs: u64) {
    let dur = Duration::from_secs(secs);
    let t = Instant::now();
    let (mut lat, errors) = closed_loop(lo(port), clients, dur, false);
    let el = t.elapsed().as_secs_f64();
    println!(
        "RESULT cps clients={clients} conn_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={errors}",
        lat.0.len() as f64 / el,
        lat.pct(0.5),
        lat.pct(0.99),
        lat.max()
    );
}

// ---- held connections ----

/// Kilobytes of `field` (e.g. `Pss:`) in a /proc file of `pid`.
fn proc_kb(pid: i32, file: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// `pid` and its children (xinetd forks one per connection).
fn family(pid: i32) -> Vec<i32> {
    let mut v = vec![pid];
    if let Ok(d) = std::fs::read_dir("/proc") {
        for e in d.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let ppid = std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(") ")
                        .and_then(|(_, r)| r.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
                });
            if ppid == Some(pid) {
                v.push(p);
            }
        }
    }
    v
}

/// (VmRSS of `pid`, Pss of `pid` and its children, number of processes), kB.
fn memory(pid: i32) -> (u64, u64, usize) {
    let fam = family(pid);
    let pss = fam
        .iter()
        .map(|&p| proc_kb(p, "smaps_rollup", "Pss:"))
        .sum();
    (proc_kb(pid, "status", "VmRSS:"), pss, fam.len())
}

fn held(port: u16, n: usize, pid: i32) {
    let addr = lo(port);
    let probe = Duration::from_secs(3);
    let (mut idle, idle_err) = closed_loop(addr, 4, probe, true);
    std::thread::sleep(Duration::from_millis(300));
    let (rss0, pss0, procs0) = memory(pid);
    // Open all connections, then wait for each echo: the daemon has accepted and served it.
    let t = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0usize;
    for _ in 0..n {
        match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
            Ok(mut s) => {
                if s.write_all(b"h").is_ok() {
                    conns.push(s);
                } else {
                    failed += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }
    let mut b = [0u8; 1];
    conns.retain_mut(|s| {
        let ok = s.set_read_timeout(Some(IO_TIMEOUT)).is_ok() && s.read_exact(&mut b).is_ok();
        if !ok {
            failed += 1;
        }
        ok
    });
    let accept_all = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let (rss1, pss1, procs1) = memory(pid);
    let (mut busy, busy_err) = closed_loop(addr, 4, probe, true);
    let held_n = conns.len().max(1) as f64;
    drop(conns);
    println!(
        "RESULT held n={n} held_ok={} failed={failed} accept_all_s={:.2} \
         rss_kb={rss0}->{rss1} rss_per_conn_b={:.0} pss_kb={pss0}->{pss1} pss_per_conn_b={:.0} \
         procs={procs0}->{procs1} idle_p50_ms={:.2} idle_p99_ms={:.2} held_p50_ms={:.2} \
         held_p99_ms={:.2} probe_errors={}",
        held_n as usize,
        accept_all.as_secs_f64(),
        (rss1 as f64 - rss0 as f64) * 1024.0 / held_n,
        (pss1 as f64 - pss0 as f64) * 1024.0 / held_n,
        idle.pct(0.5),
        idle.pct(0.99),
        busy.pct(0.5),
        busy.pct(0.99),
        idle_err + busy_err
    );
}

// ---- reload storm ----

/// Sends `hups` SIGHUPs to `pid` evenly over `dur`, each after putting `ca` or `cb` (in turn)
/// in place of `conf`; returns how many were sent.
fn hup(pid: i32, conf: &str, ca: &str, cb: &str, hups: u32, dur: Duration) -> u32 {
    let every = dur / hups.max(1);
    let t0 = Instant::now();
    let mut sent = 0u32;
    let mut attempts = 0u32;
    while sent < hups && attempts < hups.saturating_mul(2) {
        attempts += 1;
        let next = t0 + every * sent;
        if let Some(w) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        let src = if sent % 2 == 0 { cb } else { ca };
        let tmp = format!("{conf}.tmp");
        if std::fs::copy(src, &tmp).is_ok() && std::fs::rename(&tmp, conf).is_ok() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGHUP,
            );
            sent += 1;
        }
    }
    sent
}

fn report(what: &str, lat: &mut Lat, errors: u64) -> String {
    format!(
        "{what}_n={} {what}_p99_ms={:.2} {what}_max_ms={:.2} {what}_errors={errors}",
        lat.0.len(),
        lat.pct(0.99),
        lat.max()
    )
}

/// `load PORT CLIENTS SECONDS`: closed-loop echo exchanges (half-close, read to EOF).
fn load(a: &[String]) {
    let port: u16 = num(a, 0, "port");
    let clients: usize = num::<usize>(a, 1, "count").min(1024);
    let secs: u64 = num::<u64>(a, 2, "seconds").min(MAX_SECONDS);
    let (mut l, e) = closed_loop(lo(port), clients, Duration::from_secs(secs), true);
    println!("RESULT load port={port} {}", report("x", &mut l, e));
}

/// `hup PID CONF CONF_A CONF_B HUPS SECONDS`.
fn hups(a: &[String]) {
    if a.len() < 6 {
        die("hup PID CONF CONF_A CONF_B HUPS SECONDS");
    }
    let n = num::<u32>(a, 4, "count").min(10_000);
    let secs = num::<u64>(a, 5, "seconds").min(MAX_SECONDS);
    let sent = hup(
        num(a, 0, "pid"),
        &a[1],
        &a[2],
        &a[3],
        n,
        Duration::from_secs(secs),
    );
    println!("RESULT hup sent={sent}");
}

/// The issue's method: 8 echo and 8 `/bin/cat` clients in this one process (one scheduler
/// group) while SIGHUPs arrive.
fn storm(a: &[String]) {
    if a.len() < 8 {
        die("storm PID ECHO_PORT CAT_PORT CONF CONF_A CONF_B HUPS SECONDS");
    }
    let pid: i32 = num(a, 0, "pid");
    let echo = lo(num(a, 1, "port"));
    let cat = lo(num(a, 2, "port"));
    let (conf, ca, cb) = (a[3].clone(), a[4].clone(), a[5].clone());
    let n: u32 = num::<u32>(a, 6, "count").min(10_000);
    let secs: u64 = num::<u64>(a, 7, "seconds").min(MAX_SECONDS);
    let dur = Duration::from_secs(secs);
    let signaller = std::thread::spawn(move || hup(pid, &conf, &ca, &cb, n, dur));
    let e = std::thread::spawn(move || closed_loop(echo, 8, dur, true));
    let (mut c, cerr) = closed_loop(cat, 8, dur, true);
    let (mut e, eerr) = e.join().unwrap_or_else(|_| die("echo clients died"));
    let sent = signaller.join().unwrap_or(0);
    println!(
        "RESULT storm hups={sent} {} {}",
        report("echo", &mut e, eerr),
        report("cat", &mut c, cerr)
    );
}
