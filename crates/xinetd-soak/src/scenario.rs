//! The scenarios of issue 17 §4. Each starts a fresh daemon, drives it with bounded loads
//! (counts times `--scale`, and a time cap), and fills one [`Row`].

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::conf::{self, AUX_LOG, SVC_LOG};
use crate::daemon::{Daemon, Kind, Launch, Target};
use crate::logs;
use crate::net::{self, Outcome, Rng, Tally};
use crate::procfs;
use crate::table::{LogCount, Row};

/// One scenario of the soak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Concurrent connections as fast as possible on the internal echo service.
    Flood,
    /// Slow clients held open on inline echo, external `/bin/cat`, `redirect` and tcpmux.
    Slow,
    /// The daemon limited to 256 descriptors, 400 echo clients held.
    FdExhaustion,
    /// Datagrams on the dgram echo service.
    UdpFlood,
    /// Random bytes on every protocol read inside the daemon, and from a fake identd.
    Garbage,
    /// SIGHUPs under load, alternating two configurations.
    Sighup,
    /// The service log on a full file system, then space again.
    LogDisk,
    /// SIGTERM with running servers.
    Sigterm,
    /// Connections one after the other.
    Connections,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 9] = [
        Scenario::Flood,
        Scenario::Slow,
        Scenario::FdExhaustion,
        Scenario::UdpFlood,
        Scenario::Garbage,
        Scenario::Sighup,
        Scenario::LogDisk,
        Scenario::Sigterm,
        Scenario::Connections,
    ];

    /// The name used by `--only` and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Flood => "flood",
            Scenario::Slow => "slow",
            Scenario::FdExhaustion => "fd-exhaustion",
            Scenario::UdpFlood => "udp-flood",
            Scenario::Garbage => "garbage",
            Scenario::Sighup => "sighup",
            Scenario::LogDisk => "log-disk",
            Scenario::Sigterm => "sigterm",
            Scenario::Connections => "connections",
        }
    }

    /// The scenario called `name`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Runs the scenario against `ctx.target`.
    pub fn run(self, ctx: &Ctx<'_>) -> Row {
        let started = Instant::now();
        let mut row = match self {
            Scenario::Flood => flood(ctx),
            Scenario::Slow => slow(ctx),
            Scenario::FdExhaustion => fd_exhaustion(ctx),
            Scenario::UdpFlood => udp_flood(ctx),
            Scenario::Garbage => garbage(ctx),
            Scenario::Sighup => sighup(ctx),
            Scenario::LogDisk => log_disk(ctx),
            Scenario::Sigterm => sigterm(ctx),
            Scenario::Connections => connections(ctx),
        }
        .unwrap_or_else(|e| Row {
            errors: 1,
            notes: vec![format!("scenario failed: {e}")],
            ..Row::default()
        });
        row.scenario = self.name().to_string();
        row.daemon = ctx.target.label().to_string();
        row.duration = started.elapsed();
        reap_orphans();
        row
    }
}

/// What every scenario needs.
pub struct Ctx<'a> {
    /// The daemon under test.
    pub target: &'a Target,
    /// `--scale`.
    pub scale: f64,
    /// A fresh directory for this scenario's daemon.
    pub dir: PathBuf,
    /// Whether we run as root (mounts, port 113).
    pub root: bool,
}

impl Ctx<'_> {
    /// `base` scaled, at least `floor`.
    fn count(&self, base: u64, floor: u64) -> u64 {
        ((base as f64 * self.scale).round() as u64).max(floor)
    }

    /// A time cap: `base` seconds scaled, at least `floor` seconds.
    fn cap(&self, base: u64, floor: u64) -> Duration {
        Duration::from_secs_f64((base as f64 * self.scale).max(floor as f64))
    }

    fn start(&self, conf: &str, extra: &[&str], launch: &Launch) -> Result<Daemon, String> {
        Daemon::start(self.target, &self.dir, conf, extra, launch)
    }
}

/// The per-client timeout: long enough for a fork under load, short enough to keep the
/// scenario bounded.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Children of the daemon that are gone once clients are: waits (10 s at most) for them to
/// go, and for at least `expected` START/EXIT/FAIL records in the service log.
fn settle(d: &mut Daemon, expected: Option<u64>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let (kids, _) = procfs::children_and_zombies(d.pid());
        let logged = expected.is_none_or(|e| logs::count_records(&d.read("svc.log")).total() >= e);
        if kids == 0 && logged {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fills the columns every scenario shares once the load is over: final and peak memory and
/// descriptors, children and zombies, service-log records, and stops the daemon.
fn finish(mut d: Daemon, row: &mut Row, expected: Option<LogCount>) {
    settle(&mut d, expected.map(|e| e.expected));
    let pid = d.pid();
    let rss = procfs::rss_kib(pid).unwrap_or(0);
    let fds = procfs::fd_count(pid).unwrap_or(0);
    row.children_zombies = Some(procfs::children_and_zombies(pid));
    let peaks = d.peaks();
    row.rss_kib = Some((peaks.rss_kib.max(rss), rss));
    row.fds = Some((peaks.fds.max(fds), fds));
    let records = logs::count_records(&d.read("svc.log"));
    if let Some(mut e) = expected {
        e.written = records.total();
        row.log = Some(e);
    }
    if records.unstamped > 0 {
        row.notes.push(format!(
            "{} service-log lines without a stamp (forged)",
            records.unstamped
        ));
    }
    if let Some(status) = d.stop() {
        row.notes
            .push(format!("DAEMON EXITED DURING THE SCENARIO: {status}"));
    }
}

/// Expected START + EXIT records for `served` connections.
fn start_exit(served: u64) -> Option<LogCount> {
    Some(LogCount {
        written: 0,
        expected: 2 * served,
        at_least: false,
    })
}

fn tally_into(row: &mut Row, t: &Tally) {
    let (s, r, e, resets) = t.get();
    row.served += s;
    row.refused += r;
    row.errors += e;
    if resets > 0 {
        row.notes.push(format!("{resets} refusals were resets"));
    }
}

/// The daemon's CPU, percent of one core, over `secs` seconds.
fn idle_cpu(pid: i32, secs: u64) -> Option<f64> {
    let before = procfs::cpu_ticks(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let used = procfs::cpu_ticks(pid)?.saturating_sub(before);
    Some(used as f64 / procfs::clk_tck() as f64 / t0.elapsed().as_secs_f64() * 100.0)
}

/// Reaps processes re-parented to the soak (it is a child subreaper): servers a daemon
/// left behind, once they exit or are killed.
pub fn reap_orphans() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if st == WaitStatus::StillAlive {
            break;
        }
    }
}

fn free_port() -> u16 {
    xinetd_test_support::free_port()
}

/// Runs `threads` client threads, each calling `client(i)` for i = 0.. until `n` calls were
/// made or `cap` passed; returns whether the cap stopped it.
fn run_clients(
    threads: usize,
    n: u64,
    cap: Duration,
    tally: &Arc<Tally>,
    client: impl Fn(u64) -> Outcome + Send + Sync + 'static,
) -> (u64, bool) {
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + cap;
    let client = Arc::new(client);
    let handles: Vec<_> = (0..threads)
        .filter_map(|_| {
            let (next, tally, client) = (next.clone(), tally.clone(), client.clone());
            std::thread::Builder::new()
                .spawn(move || loop {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    tally.add(client(i));
                })
                .ok()
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let done = next.load(Ordering::Relaxed).min(n);
    (done, done < n)
}

fn capped_note(row: &mut Row, done: u64, n: u64, capped: bool) {
    if capped {
        row.notes
            .push(format!("time cap reached after {done} of {n}"));
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------

fn flood(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let d = ctx.start(
        &conf::internal("echo", "echo", "stream", port, SVC_LOG, &[]),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(100_000, 1_000);
    let tally = Arc::new(Tally::default());
    let t0 = Instant::now();
    let (done, capped) = run_clients(16, n, ctx.cap(300, 30), &tally, move |_| {
        net::echo_once(Ipv4Addr::LOCALHOST, port, b"flood\n", TIMEOUT)
    });
    let mut row = Row::default();
    tally_into(&mut row, &tally);
    capped_note(&mut row, done, n, capped);
    row.notes.push(format!(
        "{n} connections from 16 threads, {:.0}/s",
        done as f64 / t0.elapsed().as_secs_f64()
    ));
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    Ok(row)
}

fn slow(ctx: &Ctx<'_>) -> Result<Row, String> {
    let target = net::EchoTarget::start().map_err(|e| format!("echo target: {e}"))?;
    let (pe, pc, pr, pt) = (free_port(), free_port(), free_port(), free_port());
    let conf = [
        conf::internal("echo", "echo", "stream", pe, SVC_LOG, &[]),
        conf::external("cat", pc, "/bin/cat", "", SVC_LOG),
        conf::redirect("relay", pr, target.port(), SVC_LOG),
        conf::internal("tcpmux", "tcpmux", "stream", pt, SVC_LOG, &[]),
    ]
    .concat();
    let d = ctx.start(&conf, &[], &Launch::default())?;
    let n = ctx.count(3_000, 50);
    let deadline = Instant::now() + ctx.cap(600, 120);
    let mut row = Row::default();
    let tally = Tally::default();
    let mut held: Vec<TcpStream> = Vec::new();
    let mut per_kind = Vec::new();
    for (kind, port) in [("echo", pe), ("cat", pc), ("redirect", pr), ("tcpmux", pt)] {
        let mut ok = 0;
        for _ in 0..n {
            if Instant::now() >= deadline {
                break;
            }
            let mut s = match net::connect_from(Ipv4Addr::LOCALHOST, port, TIMEOUT) {
                Ok(s) => s,
                Err(e) => {
                    tally.add(net::classify(&e));
                    continue;
                }
            };
            if kind == "tcpmux" {
                // A tcpmux client that never sends its request: checked below.
                held.push(s);
                continue;
            }
            let exchange = s.write_all(b"slow\n").map_err(|e| net::classify(&e));
            match exchange.and_then(|()| net::read_exact(&mut s, 5)) {
                Ok(b) if b == b"slow\n" => {
                    ok += 1;
                    tally.add(Outcome::Served);
                    held.push(s);
                }
                Ok(_) => tally.add(Outcome::Error),
                Err(o) => tally.add(o),
            }
        }
        per_kind.push((kind, ok));
    }
    // The silent tcpmux clients are served while their connection stays open.
    let mut mux_ok = 0;
    for s in held
        .iter_mut()
        .rev()
        .take_while(|s| s.peer_addr().ok().map(|a| a.port()) == Some(pt))
    {
        let _ = s.set_nonblocking(true);
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                mux_ok += 1;
                tally.add(Outcome::Served);
            }
            Ok(_) => tally.add(Outcome::Refused(false)),
            Err(e) => tally.add(net::classify(&e)),
        }
    }
    if let Some(k) = per_kind.iter_mut().find(|k| k.0 == "tcpmux") {
        k.1 = mux_ok;
    }
    row.notes.push(format!(
        "{n} per kind held: {}",
        per_kind
            .iter()
            .map(|(k, ok)| format!("{k} {ok}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    row.idle_cpu_pct = idle_cpu(d.pid(), 5);
    drop(held);
    tally_into(&mut row, &tally);
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    drop(target);
    Ok(row)
}

fn fd_exhaustion(ctx: &Ctx<'_>) -> Result<Row, String> {
    let (pe, pd) = (free_port(), free_port());
    let conf = conf::internal("echo", "echo", "stream", pe, SVC_LOG, &[])
        + &conf::internal("daytime", "daytime", "stream", pd, AUX_LOG, &[]);
    let d = ctx.start(&conf, &[], &Launch { nofile: Some(256) })?;
    let hold = ctx.count(400, 400);
    let mut row = Row::default();
    let tally = Tally::default();
    let mut open: Vec<TcpStream> = Vec::new();
    let mut timeouts_in_a_row = 0;
    for i in 0..hold {
        match net::connect_from(Ipv4Addr::LOCALHOST, pe, Duration::from_secs(2)) {
            Ok(mut s) => {
                timeouts_in_a_row = 0;
                match s.write_all(b"x\n") {
                    Ok(()) => open.push(s),
                    Err(e) => tally.add(net::classify(&e)),
                }
            }
            Err(e) => {
                let o = net::classify(&e);
                tally.add(o);
                if o == Outcome::Error {
                    timeouts_in_a_row += 1;
                    if timeouts_in_a_row >= 5 {
                        row.notes.push(format!("connects time out after {i}"));
                        break;
                    }
                }
            }
        }
    }
    // Wait (5 s) for each held client to be echoed, closed or reset.
    let mut pending: Vec<Option<TcpStream>> = open.into_iter().map(Some).collect();
    for s in pending.iter().flatten() {
        let _ = s.set_nonblocking(true);
    }
    let mut answered: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && pending.iter().any(Option::is_some) {
        for slot in pending.iter_mut() {
            let Some(s) = slot.as_mut() else { continue };
            let mut b = [0u8; 2];
            match s.read(&mut b) {
                Ok(0) => {
                    tally.add(Outcome::Refused(false));
                    *slot = None;
                }
                Ok(_) => {
                    tally.add(Outcome::Served);
                    if let Some(s) = slot.take() {
                        answered.push(s);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => {
                    tally.add(net::classify(&e));
                    *slot = None;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiting = pending.iter().flatten().count();
    row.notes.push(format!(
        "{hold} echo clients under a 256-descriptor limit; {waiting} neither answered nor refused after 5 s"
    ));
    // Another service while the echo clients are held.
    let probe = match net::connect_from(Ipv4Addr::LOCALHOST, pd, Duration::from_secs(2)) {
        Ok(mut s) => match net::drain(&mut s, 4096, Instant::now() + TIMEOUT) {
            (n, None) if n > 0 => format!("answered ({n} bytes)"),
            (_, None) => "closed without answer".into(),
            (_, Some(Outcome::Refused(true))) => "RESET".into(),
            (n, Some(_)) => format!("no answer within 5 s ({n} bytes)"),
        },
        Err(e) => format!("connect failed: {e}"),
    };
    row.notes.push(format!("daytime while held: {probe}"));
    row.idle_cpu_pct = idle_cpu(d.pid(), 3);
    let fails = logs::count_records(&d.read("svc.log")).fail;
    row.notes.push(format!("FAIL records: {fails}"));
    drop(pending);
    drop(answered);
    std::thread::sleep(Duration::from_millis(500));
    let after = net::echo_once(Ipv4Addr::LOCALHOST, pe, b"again\n", TIMEOUT);
    row.notes.push(format!("echo after release: {after:?}"));
    tally_into(&mut row, &tally);
    let mut expected = start_exit(row.served + u64::from(after == Outcome::Served));
    if let Some(e) = expected.as_mut() {
        e.expected += fails;
    }
    finish(d, &mut row, expected);
    Ok(row)
}

fn udp_flood(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let d = ctx.start(
        &conf::internal("echo", "echo-dgram", "dgram", port, SVC_LOG, &[]),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(200_000, 2_000);
    let threads = 4;
    let deadline = Instant::now() + ctx.cap(300, 30);
    let replies = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let send_errors = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .filter_map(|t| {
            let (replies, sent, send_errors) = (replies.clone(), sent.clone(), send_errors.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    let Ok(u) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
                        return;
                    };
                    if u.connect(("127.0.0.1", port)).is_err()
                        || u.set_read_timeout(Some(Duration::from_millis(20))).is_err()
                    {
                        return;
                    }
                    let mut rng = Rng::new(t + 1);
                    let mut buf = [0u8; 2048];
                    let mut mine = 0;
                    while mine < n / threads && Instant::now() < deadline {
                        // A window of 16 datagrams: a flood, but one whose replies we can
                        // still count.
                        let burst = 16.min(n / threads - mine);
                        for _ in 0..burst {
                            let len = 1 + rng.below(512) as usize;
                            if u.send(&rng.bytes(len)).is_err() {
                                send_errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        mine += burst;
                        sent.fetch_add(burst, Ordering::Relaxed);
                        let mut got = 0;
                        while got < burst {
                            match u.recv(&mut buf) {
                                Ok(_) => got += 1,
                                Err(_) => break,
                            }
                        }
                        replies.fetch_add(got, Ordering::Relaxed);
                    }
                })
                .ok()
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut row = Row::default();
    let (sent, replies) = (
        sent.load(Ordering::Relaxed),
        replies.load(Ordering::Relaxed),
    );
    row.served = replies;
    row.errors = send_errors.load(Ordering::Relaxed);
    capped_note(&mut row, sent, n, sent < n);
    row.notes.push(format!(
        "{sent} datagrams sent, {} unanswered",
        sent - replies.min(sent)
    ));
    let probe = net::echo_udp(port);
    row.notes.push(format!(
        "echo after the flood: {}",
        if probe { "answered" } else { "NO ANSWER" }
    ));
    let expected = Some(LogCount {
        written: 0,
        expected: replies,
        at_least: true,
    });
    // Datagram services log START only: what counts is that every answered datagram has its
    // line, which [`settle`] waits for via the lower bound.
    finish(d, &mut row, expected);
    Ok(row)
}

/// The fake identd's answers for the garbage scenario, by variant.
fn ident_reply(rng: &mut Rng, query: &str) -> Vec<u8> {
    let ports = query.trim_end();
    match rng.below(9) {
        0 => rng.some_bytes(300),
        1 => [rng.some_bytes(300), b"\r\n".to_vec()].concat(),
        2 => b"1,2 : USERID : UNIX : wrongports\r\n".to_vec(),
        3 => format!("{ports} : USERID : UNIX : soak\r\n").into_bytes(),
        4 => vec![b'A'; 1500],
        // A reply whose user name carries a line of its own into the service log.
        5 => format!("{ports} : USERID : UNIX : soak\nFORGED: by identd\r\n").into_bytes(),
        6 => Vec::new(),
        7 => format!("{ports} : USERID : UNIX : so\0ak\r\n").into_bytes(),
        _ => format!("{ports} : ERROR : NO-USER\r\n").into_bytes(),
    }
}

/// The address of the garbage scenario's identd clients: the daemon asks the client's own
/// address, so the fake identd listens there (port 113 needs root). 127.0.0.1 because it is
/// in /etc/hosts: xinetd's libwrap looks the client's name up, and an address the hosts file
/// does not know would send DNS queries off the machine.
const IDENT_CLIENT: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn fake_identd(stop: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<u64>> {
    let l = TcpListener::bind((IDENT_CLIENT, 113)).ok()?;
    l.set_nonblocking(true).ok()?;
    let h = std::thread::Builder::new()
        .name("identd".into())
        .spawn(move || {
            let mut rng = Rng::new(113);
            let mut answered = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut q = [0u8; 64];
                let n = s.read(&mut q).unwrap_or(0);
                let query = String::from_utf8_lossy(&q[..n]).into_owned();
                let _ = s.write_all(&ident_reply(&mut rng, &query));
                answered += 1;
            }
            answered
        })
        .ok()?;
    Some(h)
}

fn garbage(ctx: &Ctx<'_>) -> Result<Row, String> {
    let candidate = ctx.target.kind == Kind::Candidate;
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let mut conf = [
        conf::internal("tcpmux", "tcpmux", "stream", ports[0], SVC_LOG, &[]),
        conf::internal("echo", "echo", "stream", ports[1], SVC_LOG, &[]),
        conf::internal("chargen", "chargen", "stream", ports[2], SVC_LOG, &[]),
        conf::internal("discard", "discard", "stream", ports[3], SVC_LOG, &[]),
        conf::internal(
            "echo",
            "echo-ident",
            "stream",
            ports[5],
            SVC_LOG,
            &[("log_on_success", "PID HOST EXIT DURATION USERID")],
        ),
    ]
    .concat();
    if candidate {
        // xinetd 2.3.15 has no xadmin builtin ("No such internal service").
        conf += &conf::internal(
            "xadmin",
            "xadmin",
            "stream",
            ports[4],
            SVC_LOG,
            &[("only_from", "127.0.0.1")],
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let identd = if ctx.root {
        fake_identd(stop.clone())
    } else {
        None
    };
    let d = ctx.start(&conf, &[], &Launch::default()).inspect_err(|_| {
        // The identd thread must end even when the daemon does not start.
        stop.store(true, Ordering::Relaxed);
    })?;
    let k = ctx.count(2_000, 50);
    let deadline = Instant::now() + ctx.cap(300, 60);
    let mut row = Row::default();
    let mut protocols = vec![
        ("tcpmux", ports[0], Ipv4Addr::LOCALHOST),
        ("echo", ports[1], Ipv4Addr::LOCALHOST),
        ("chargen", ports[2], Ipv4Addr::LOCALHOST),
        ("discard", ports[3], Ipv4Addr::LOCALHOST),
    ];
    if candidate {
        protocols.push(("xadmin", ports[4], Ipv4Addr::LOCALHOST));
    } else {
        row.notes
            .push("xadmin n/a (not a builtin of xinetd 2.3.15)".into());
    }
    if identd.is_some() {
        protocols.push(("ident", ports[5], IDENT_CLIENT));
    } else {
        row.notes
            .push("ident n/a (127.0.0.1:113 not bindable)".into());
    }
    let connected = Arc::new(Tally::default());
    let resets = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = protocols
        .iter()
        .enumerate()
        .filter_map(|(p, &(name, port, src))| {
            let (connected, resets) = (connected.clone(), resets.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    let mut rng = Rng::new(0x5eed + p as u64);
                    for _ in 0..k {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let mut s = match net::connect_from(src, port, Duration::from_secs(2)) {
                            Ok(s) => s,
                            Err(e) => {
                                connected.add(net::classify(&e));
                                continue;
                            }
                        };
                        connected.add(Outcome::Served);
                        let mut payload = rng.some_bytes(2048);
                        if name == "xadmin" && rng.below(8) == 0 {
                            // Now and then a real command, so the answers are rendered too.
                            payload = [&b"show run\n"[..], b"show avail\n", b"help\n", b"bye\n"]
                                [rng.below(4) as usize]
                                .to_vec();
                        }
                        let mut ended = None;
                        for chunk in payload.chunks(1 + rng.below(512) as usize) {
                            if let Err(e) = s.write_all(chunk) {
                                ended = Some(net::classify(&e));
                                break;
                            }
                        }
                        match (ended, rng.below(3)) {
                            (Some(_), _) => {}
                            (None, 0) => {
                                let _ = s.shutdown(std::net::Shutdown::Write);
                                ended = net::drain(
                                    &mut s,
                                    64 * 1024,
                                    Instant::now() + Duration::from_secs(2),
                                )
                                .1;
                            }
                            (None, 1) => {
                                net::reset(s);
                                continue;
                            }
                            (None, _) => {
                                ended = net::drain(
                                    &mut s,
                                    64 * 1024,
                                    Instant::now() + Duration::from_millis(200),
                                )
                                .1;
                            }
                        }
                        if ended == Some(Outcome::Refused(true)) {
                            resets.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
                .ok()
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let (c, r, e, _) = connected.get();
    row.served = c;
    row.refused = r;
    row.errors = e;
    row.notes.push(format!(
        "{k} connections each on {}; {} ended by a reset from the daemon",
        protocols.iter().map(|p| p.0).collect::<Vec<_>>().join(", "),
        resets.load(Ordering::Relaxed)
    ));
    let after = net::echo_once(Ipv4Addr::LOCALHOST, ports[1], b"after\n", TIMEOUT);
    row.notes.push(format!("echo afterwards: {after:?}"));
    let served = row.served + u64::from(after == Outcome::Served);
    finish(d, &mut row, start_exit(served));
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = identd {
        if let Ok(n) = h.join() {
            row.notes.push(format!("identd answered {n} queries"));
        }
    }
    Ok(row)
}

fn sighup(ctx: &Ctx<'_>) -> Result<Row, String> {
    let (pe, pc) = (free_port(), free_port());
    let a = conf::internal("echo", "echo", "stream", pe, SVC_LOG, &[]);
    let b = a.clone() + &conf::internal("chargen", "chargen", "stream", pc, AUX_LOG, &[]);
    let mut d = ctx.start(&a, &[], &Launch::default())?;
    let hups = ctx.count(200, 20);
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .filter_map(|_| {
            let (tally, done) = (tally.clone(), done.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        tally.add(net::echo_once(Ipv4Addr::LOCALHOST, pe, b"hup\n", TIMEOUT));
                    }
                })
                .ok()
        })
        .collect();
    let mut missed = 0;
    let mut row = Row::default();
    let deadline = Instant::now() + ctx.cap(300, 60);
    let mut sent = 0;
    for i in 0..hups {
        if Instant::now() >= deadline || d.check_alive().is_some() {
            break;
        }
        // On an error the load below must still stop: no `?` inside this loop.
        let hup = d
            .rewrite(if i % 2 == 0 { &b } else { &a })
            .and_then(|()| d.signal(Signal::SIGHUP));
        if let Err(e) = hup {
            row.notes.push(format!("stopped: {e}"));
            break;
        }
        sent += 1;
        let wait = Instant::now() + Duration::from_secs(3);
        while logs::count_lines(&d.prog_log(), "Reconfigured") < i + 1 {
            if Instant::now() >= wait {
                missed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    done.store(true, Ordering::Relaxed);
    for h in load {
        let _ = h.join();
    }
    let reconfigured = logs::count_lines(&d.prog_log(), "Reconfigured");
    row.notes.push(format!(
        "{sent} SIGHUPs, {reconfigured} 'Reconfigured' lines, {missed} waits over 3 s; 4 echo clients throughout"
    ));
    tally_into(&mut row, &tally);
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    Ok(row)
}

/// A tmpfs mounted for the scenario, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: PathBuf, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(&at).map_err(|e| format!("{}: {e}", at.display()))?;
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .map_err(|e| format!("mount: {e}"))?;
        if !st.success() {
            return Err(format!("mount -t tmpfs failed: {st}"));
        }
        Ok(Mount(at))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn log_disk(ctx: &Ctx<'_>) -> Result<Row, String> {
    if !ctx.root {
        return Ok(Row {
            not_applicable: Some("skipped: mounting a small tmpfs needs root".into()),
            ..Row::default()
        });
    }
    // Declared first so it is dropped (unmounted) after the daemon has stopped.
    let mount = Mount::tmpfs(ctx.dir.join("logfs"), "64k")?;
    let port = free_port();
    let log = "@DIR@/logfs/svc.log";
    let d = ctx.start(
        &conf::internal("echo", "echo", "stream", port, log, &[]),
        &[],
        &Launch::default(),
    )?;
    let tally = Tally::default();
    tally.add(net::echo_once(
        Ipv4Addr::LOCALHOST,
        port,
        b"disk\n",
        TIMEOUT,
    ));
    // Fill the file system (bounded: 64 KiB in 1 KiB writes).
    let filler = mount.0.join("filler");
    if let Ok(mut f) = std::fs::File::create(&filler) {
        for _ in 0..1024 {
            if f.write_all(&[b'x'; 1024]).is_err() {
                break;
            }
        }
    }
    let size = |name: &str| std::fs::metadata(mount.0.join(name)).map_or(0, |m| m.len());
    let filled = format!(
        "disk filled: filler {} B, service log {} B",
        size("filler"),
        size("svc.log")
    );
    let full = ctx.count(500, 50);
    for _ in 0..full {
        tally.add(net::echo_once(
            Ipv4Addr::LOCALHOST,
            port,
            b"disk\n",
            TIMEOUT,
        ));
    }
    let before_space = format!("{} B before space came back", size("svc.log"));
    let _ = std::fs::remove_file(&filler);
    let after = 20;
    for _ in 0..after {
        tally.add(net::echo_once(
            Ipv4Addr::LOCALHOST,
            port,
            b"disk\n",
            TIMEOUT,
        ));
    }
    let mut row = Row::default();
    tally_into(&mut row, &tally);
    // The records are on the tmpfs: count them there, then the common columns.
    let expected = 2 * row.served;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && procfs::children_and_zombies(d.pid()).0 > 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let records = logs::count_records(&logs::read(&mount.0.join("svc.log")));
    let prog = d.prog_log();
    let errors = logs::count_lines(&prog, "No space left on device");
    // The messages without their stamp and `xinetd[pid]: ` prefix.
    let lost: Vec<&str> = prog
        .lines()
        .filter(|l| l.contains("lost"))
        .map(|l| l.split_once("]: ").map_or(l, |(_, t)| t))
        .collect();
    row.notes.push(format!(
        "{full} connections on a full disk, then {after} with space; disk errors reported {errors} times; {}",
        if lost.is_empty() {
            "no lost-line count".to_string()
        } else {
            format!("'{}'", lost.join("', '"))
        }
    ));
    row.notes.push(format!("{filled}, {before_space}"));
    finish(d, &mut row, None);
    row.log = Some(LogCount {
        written: records.total(),
        expected,
        at_least: false,
    });
    drop(mount);
    Ok(row)
}

fn sigterm(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let mut d = ctx.start(
        &conf::external("sleep", port, "/bin/sleep", "60", SVC_LOG),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(50, 50);
    let mut row = Row::default();
    let tally = Tally::default();
    let mut clients = Vec::new();
    for _ in 0..n {
        match net::connect_from(Ipv4Addr::LOCALHOST, port, TIMEOUT) {
            Ok(s) => clients.push(s),
            Err(e) => tally.add(net::classify(&e)),
        }
    }
    let pid = d.pid();
    let sleeps = || -> Vec<i32> {
        procfs::children(pid)
            .into_iter()
            .filter(|p| p.stat.comm == "sleep")
            .map(|p| p.pid)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while sleeps().len() < clients.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let servers = sleeps();
    row.served = servers.len() as u64;
    row.idle_cpu_pct = idle_cpu(pid, 3);
    let rss = procfs::rss_kib(pid).unwrap_or(0);
    let fds = procfs::fd_count(pid).unwrap_or(0);
    let peaks = d.peaks();
    row.rss_kib = Some((peaks.rss_kib.max(rss), rss));
    row.fds = Some((peaks.fds.max(fds), fds));
    if let Some(st) = d.check_alive() {
        row.notes
            .push(format!("DAEMON EXITED DURING THE SCENARIO: {st}"));
    }
    d.signal(Signal::SIGTERM)?;
    let exited = d.wait_exit(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    // The soak is a child subreaper: servers the daemon left are now its children.
    let states: Vec<Option<char>> = servers
        .iter()
        .map(|&p| procfs::stat(p).map(|s| s.state))
        .collect();
    let zombies = states.iter().filter(|s| **s == Some('Z')).count() as u64;
    let running = states
        .iter()
        .filter(|s| matches!(s, Some(c) if *c != 'Z'))
        .count() as u64;
    row.children_zombies = Some((running, zombies));
    for &p in &servers {
        if procfs::exists(p) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    drop(clients);
    std::thread::sleep(Duration::from_millis(200));
    reap_orphans();
    let records = logs::count_records(&d.read("svc.log"));
    row.log = Some(LogCount {
        written: records.total(),
        expected: row.served,
        at_least: true,
    });
    row.notes.push(format!(
        "{} servers running at SIGTERM; daemon exited: {}; {} left running (orphans) after 1 s; EXIT records {}",
        servers.len(),
        if exited { "yes" } else { "NO (killed)" },
        running,
        records.exit
    ));
    tally_into(&mut row, &tally);
    Ok(row)
}

fn connections(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let d = ctx.start(
        &conf::internal("echo", "echo", "stream", port, SVC_LOG, &[]),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(1_000_000, 10_000);
    let deadline = Instant::now() + ctx.cap(600, 60);
    let tally = Tally::default();
    let pid = d.pid();
    let mut marks = Vec::new();
    let t0 = Instant::now();
    let mut done = 0;
    for i in 0..n {
        if Instant::now() >= deadline {
            break;
        }
        tally.add(net::echo_once(Ipv4Addr::LOCALHOST, port, b"row\n", TIMEOUT));
        done = i + 1;
        if done == n / 10 || done == n / 2 {
            marks.push(procfs::rss_kib(pid).unwrap_or(0));
        }
    }
    let mut row = Row::default();
    tally_into(&mut row, &tally);
    capped_note(&mut row, done, n, done < n);
    marks.push(procfs::rss_kib(pid).unwrap_or(0));
    row.notes.push(format!(
        "one client, one connection at a time, {:.0}/s; RSS KiB at 10 %, 50 %, end: {}",
        done as f64 / t0.elapsed().as_secs_f64(),
        marks
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
        }
        assert_eq!(Scenario::from_name("nosuch"), None);
    }

    #[test]
    fn counts_scale_with_a_floor() {
        let t = Target {
            kind: Kind::Candidate,
            path: PathBuf::from("x"),
        };
        let ctx = Ctx {
            target: &t,
            scale: 0.1,
            dir: PathBuf::from("/nonexistent"),
            root: false,
        };
        assert_eq!(ctx.count(1_000_000, 10_000), 100_000);
        assert_eq!(ctx.count(50, 50), 50);
        assert_eq!(ctx.cap(600, 60), Duration::from_secs(60));
        assert_eq!(ctx.cap(3000, 60), Duration::from_secs(300));
    }

    #[test]
    fn ident_replies_cover_every_variant() {
        let mut rng = Rng::new(1);
        let replies: Vec<Vec<u8>> = (0..200)
            .map(|_| ident_reply(&mut rng, "6191, 23\r\n"))
            .collect();
        assert!(replies
            .iter()
            .any(|r| r == b"6191, 23 : USERID : UNIX : soak\r\n"));
        assert!(replies.iter().any(|r| r.is_empty()));
        assert!(replies.iter().any(|r| r.len() == 1500));
        assert!(replies
            .iter()
            .any(|r| r.windows(7).any(|w| w == b"\nFORGED")));
    }
}
