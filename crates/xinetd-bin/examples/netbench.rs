//! Benchmarks of issue 16 that `../shared/bench` does not have: `redirect` relay throughput
//! and connection rate, ten thousand held connections, and a reload storm under load. Driven
//! by `bench/perf2.sh`, which starts the real xinetd and xinetd-rs with the same
//! configuration; each subcommand prints one `RESULT key=value ...` line.
//!
//! ```text
//! netbench sink DISCARD_PORT ECHO_PORT          # redirect targets (thread per connection)
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

use std::io::{Read, Write};
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

fn sink(discard: u16, echo: u16) {
    let d = TcpListener::bind(lo(discard)).unwrap_or_else(|e| die(&format!("bind: {e}")));
    let e = TcpListener::bind(lo(echo)).unwrap_or_else(|e| die(&format!("bind: {e}")));
    let t = std::thread::spawn(move || {
        for s in e.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_nodelay(true);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    for s in d.incoming().flatten() {
        std::thread::spawn(move || {
            let mut s = s;
            let mut buf = vec![0u8; 256 * 1024];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    let _ = t.join();
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
