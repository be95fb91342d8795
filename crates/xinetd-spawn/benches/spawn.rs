//! Spawn cost: `xinetd_spawn::spawn` of `/bin/true` on a socketpair (with a full credentials
//! spec when run as root) + `waitpid`, against `std::process::Command`, plain
//! `fork`+`dup2`+`execve` (xinetd's model, the ceiling's `fork` mode) and `posix_spawn` (the
//! ceiling's `spawn` mode), all in the same run. A second group repeats ours and fork with
//! 256 MiB of touched heap in the parent, where fork pays for copying page tables.
//!
//! Run: `CARGO_TARGET_DIR=/work/target/spawn cargo bench -p xinetd-spawn`.
#![allow(missing_docs)] // criterion_group! generates undocumented items
#![allow(unsafe_code)] // the fork/posix_spawn baselines are raw libc, like the ceiling of the project's benchmark harness

use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nix::unistd::Pid;
use xinetd_spawn::{spawn, Connection, Session, SpawnSpec};

mod common;
use common::{command, full_spec, reap, Baseline, TRUE};

fn variants(c: &mut Criterion, group: &str) {
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let conn: OwnedFd = a.into();
    let fd = conn.as_raw_fd();
    let full = full_spec(Session::NewSession);
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
    let full_pgrp = full_spec(Session::NewProcessGroup);
    g.bench_function("xinetd_spawn_full_spec_pgrp", |b| {
        b.iter(|| {
            let child =
                spawn(&full_pgrp, Connection::new(conn.as_fd()).remote_host(peer)).expect("spawn");
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
    let full = full_spec(Session::NewSession);
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
    let full = full_spec(Session::NewSession);
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
