//! Spawn cost: `xinetd_spawn::spawn` of `/bin/true` on a socketpair (with a full credentials
//! spec when run as root) + `waitpid`, against `std::process::Command`, plain
//! `fork`+`dup2`+`execve` (xinetd's model, the ceiling's `fork` mode) and `posix_spawn` (the
//! ceiling's `spawn` mode), all in the same run. A second group repeats ours and fork with
//! 256 MiB of touched heap in the parent, where fork pays for copying page tables.
//!
//! Run: `CARGO_TARGET_DIR=/work/target/spawn cargo bench -p xinetd-spawn`.
#![allow(missing_docs)] // criterion_group! generates undocumented items
#![allow(unsafe_code)] // the fork/posix_spawn baselines are raw libc, like ../shared/bench/ceiling

use std::ffi::CString;
use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nix::sys::wait::waitpid;
use nix::unistd::{geteuid, Pid};
use xinetd_spawn::{spawn, Connection, Credentials, Environment, Rlimit, RlimitValue, SpawnSpec};

const TRUE: &str = "/bin/true";

fn full_spec() -> SpawnSpec {
    let mut b = SpawnSpec::builder(TRUE)
        .environment(Environment::from_vars([
            ("PATH", "/usr/bin:/bin"),
            ("LANG", "C"),
        ]))
        .umask(0o022)
        .nice(0) // exercised, but a positive value would slow the measured child itself
        .rlimit(Rlimit::As, RlimitValue::Limit(1 << 30))
        .rlimit(Rlimit::Cpu, RlimitValue::Limit(10))
        .rlimit(Rlimit::Data, RlimitValue::Limit(512 << 20))
        .rlimit(Rlimit::Rss, RlimitValue::Limit(256 << 20))
        .rlimit(Rlimit::Stack, RlimitValue::Limit(8 << 20))
        .rlimit_files(RlimitValue::Limit(1024));
    if geteuid().is_root() {
        b = b.credentials(Credentials::resolve(Some("nobody"), None, true).expect("nobody"));
    } else {
        eprintln!("note: not root, the full spec runs without user/group changes");
    }
    b.build().expect("spec")
}

struct Baseline {
    path: CString,
    argv: Vec<CString>,
}

impl Baseline {
    fn new() -> Baseline {
        Baseline {
            path: CString::new(TRUE).expect("path"),
            argv: vec![CString::new("true").expect("argv0")],
        }
    }

    fn ptrs(&self) -> Vec<*const libc::c_char> {
        let mut v: Vec<_> = self.argv.iter().map(|a| a.as_ptr()).collect();
        v.push(std::ptr::null());
        v
    }

    /// fork + dup2 x3 + execve, as the ceiling's `fork` mode and xinetd do.
    fn fork_exec(&self, fd: i32) -> Pid {
        let argv = self.ptrs();
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: the child only calls async-signal-safe functions on prepared data.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: as above.
            unsafe {
                for t in 0..3 {
                    libc::dup2(fd, t);
                }
                libc::execve(self.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        assert!(pid > 0, "fork failed");
        Pid::from_raw(pid)
    }

    /// posix_spawn with dup2 file actions, as the ceiling's `spawn` mode.
    fn posix_spawn(&self, fd: i32) -> Pid {
        let argv = self.ptrs();
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: standard posix_spawn usage with initialised attribute objects.
        unsafe {
            let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
            libc::posix_spawn_file_actions_init(&mut fa);
            for t in 0..3 {
                libc::posix_spawn_file_actions_adddup2(&mut fa, fd, t);
            }
            let mut pid = 0;
            let rc = libc::posix_spawn(
                &mut pid,
                self.path.as_ptr(),
                &fa,
                std::ptr::null(),
                argv.as_ptr() as *const *mut _,
                envp.as_ptr() as *const *mut _,
            );
            libc::posix_spawn_file_actions_destroy(&mut fa);
            assert_eq!(rc, 0, "posix_spawn failed");
            Pid::from_raw(pid)
        }
    }
}

fn command(conn: &OwnedFd) -> std::process::Child {
    Command::new(TRUE)
        .env_clear()
        .stdin(Stdio::from(conn.try_clone().expect("dup")))
        .stdout(Stdio::from(conn.try_clone().expect("dup")))
        .stderr(Stdio::from(conn.try_clone().expect("dup")))
        .spawn()
        .expect("spawn")
}

fn reap(pid: Pid) {
    waitpid(pid, None).expect("waitpid");
}

fn variants(c: &mut Criterion, group: &str) {
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let conn: OwnedFd = a.into();
    let fd = conn.as_raw_fd();
    let full = full_spec();
    let minimal = SpawnSpec::builder(TRUE).build().expect("spec");
    let base = Baseline::new();
    let peer = "127.0.0.1".parse().expect("ip");
    let mut g = c.benchmark_group(group);
    g.bench_function("xinetd_spawn_full_spec", |b| {
        b.iter(|| {
            let child =
                spawn(&full, Connection::new(conn.as_fd()).remote_host(peer)).expect("spawn");
            reap(black_box(child.pid()));
        })
    });
    g.bench_function("xinetd_spawn_minimal", |b| {
        b.iter(|| {
            let child = spawn(&minimal, Connection::new(conn.as_fd())).expect("spawn");
            reap(black_box(child.pid()));
        })
    });
    g.bench_function("posix_spawn", |b| b.iter(|| reap(base.posix_spawn(fd))));
    g.bench_function("fork_exec", |b| b.iter(|| reap(base.fork_exec(fd))));
    g.bench_function("std_command", |b| {
        b.iter(|| command(&conn).wait().expect("wait"))
    });
    g.finish();
}

fn small_parent(c: &mut Criterion) {
    variants(c, "spawn_true");
}

/// How long the calling thread is busy per spawn (until the call returns), reaping outside
/// the timed section: the latency a spawn adds to the daemon's event loop.
fn parent_blocked(c: &mut Criterion) {
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let conn: OwnedFd = a.into();
    let fd = conn.as_raw_fd();
    let full = full_spec();
    let base = Baseline::new();
    let mut g = c.benchmark_group("parent_blocked");
    let timed = |b: &mut criterion::Bencher<'_>, f: &dyn Fn() -> Pid| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t0 = std::time::Instant::now();
                let pid = f();
                total += t0.elapsed();
                reap(pid);
            }
            total
        })
    };
    g.bench_function("xinetd_spawn_full_spec", |b| {
        timed(b, &|| {
            spawn(&full, Connection::new(conn.as_fd()))
                .expect("spawn")
                .pid()
        })
    });
    g.bench_function("posix_spawn", |b| timed(b, &|| base.posix_spawn(fd)));
    g.bench_function("fork_exec", |b| timed(b, &|| base.fork_exec(fd)));
    g.finish();
}

fn big_parent(c: &mut Criterion) {
    // 256 MiB of touched heap: what a daemon with many services and buffers may hold.
    let ballast: Vec<u8> = vec![1u8; 256 << 20];
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let conn: OwnedFd = a.into();
    let full = full_spec();
    let base = Baseline::new();
    let mut g = c.benchmark_group("spawn_true_rss256m");
    g.sample_size(20);
    g.bench_function("xinetd_spawn_full_spec", |b| {
        b.iter(|| {
            let child = spawn(&full, Connection::new(conn.as_fd())).expect("spawn");
            reap(child.pid());
        })
    });
    g.bench_function("fork_exec", |b| {
        b.iter(|| reap(base.fork_exec(conn.as_raw_fd())))
    });
    g.finish();
    black_box(&ballast);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(60);
    targets = small_parent, parent_blocked, big_parent
}
criterion_main!(benches);
