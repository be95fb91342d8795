//! The scenarios of issue 17 §4. Each starts a fresh daemon, drives it with bounded loads
//! (counts times `--scale`, and a time cap), and fills one [`Row`].

mod hostile;
mod life;
mod load;

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
            Scenario::Flood => load::flood(ctx),
            Scenario::Slow => load::slow(ctx),
            Scenario::FdExhaustion => hostile::fd_exhaustion(ctx),
            Scenario::UdpFlood => load::udp_flood(ctx),
            Scenario::Garbage => hostile::garbage(ctx),
            Scenario::Sighup => life::sighup(ctx),
            Scenario::LogDisk => life::log_disk(ctx),
            Scenario::Sigterm => life::sigterm(ctx),
            Scenario::Connections => load::connections(ctx),
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
            .map(|_| hostile::ident_reply(&mut rng, "6191, 23\r\n"))
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
