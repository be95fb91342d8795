//! Noise-robust spawn ratios for a shared, busy machine: ROUNDS rounds; in every round each
//! variant spawns `/bin/true` on a socketpair and waits for it BATCH times, variants in a
//! rotated order; the per-round mean of each variant is divided by posix_spawn's mean of the
//! same round, and the medians over rounds are printed. Complements the criterion bench
//! (`benches/spawn.rs`), whose groups run one after another and so see different load.
//!
//! `CARGO_TARGET_DIR=/work/target/spawn cargo bench -p xinetd-spawn --bench interleaved`
//! (env ROUNDS, default 15; BATCH, default 100).
#![allow(missing_docs)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use xinetd_spawn::{spawn, Connection, Session, SpawnSpec};

mod common;
use common::{command, full_spec, reap, Baseline, TRUE};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let rounds = env_num("ROUNDS", 15);
    let batch = env_num("BATCH", 100);
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let conn: OwnedFd = a.into();
    let fd = conn.as_raw_fd();
    let full = full_spec(Session::NewSession);
    let full_pgrp = full_spec(Session::NewProcessGroup);
    let minimal = SpawnSpec::builder(TRUE).build().expect("spec");
    let minimal_pgrp = SpawnSpec::builder(TRUE)
        .session(Session::NewProcessGroup)
        .build()
        .expect("spec");
    let base = Baseline::new();
    let peer = "127.0.0.1".parse().expect("ip");
    let ours = |spec: &SpawnSpec| {
        let child = spawn(spec, Connection::new(conn.as_fd()).remote_host(peer)).expect("spawn");
        reap(child.pid());
    };
    type Variant<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let variants: Vec<Variant<'_>> = vec![
        ("posix_spawn", Box::new(|| reap(base.posix_spawn(fd)))),
        ("xinetd_spawn full spec (setsid)", Box::new(|| ours(&full))),
        (
            "xinetd_spawn full spec (setpgid)",
            Box::new(|| ours(&full_pgrp)),
        ),
        ("xinetd_spawn minimal (setsid)", Box::new(|| ours(&minimal))),
        (
            "xinetd_spawn minimal (setpgid)",
            Box::new(|| ours(&minimal_pgrp)),
        ),
        ("fork+execve", Box::new(|| reap(base.fork_exec(fd)))),
        (
            "std::process::Command",
            Box::new(|| {
                command(&conn).wait().expect("wait");
            }),
        ),
    ];
    let n = variants.len();
    let mut means = vec![Vec::new(); n];
    let mut ratios = vec![Vec::new(); n];
    for round in 0..rounds {
        let mut this = vec![0.0; n];
        for k in 0..n {
            let i = (k + round) % n;
            let t0 = Instant::now();
            for _ in 0..batch {
                (variants[i].1)();
            }
            this[i] = t0.elapsed().as_secs_f64() * 1e6 / batch as f64;
        }
        for i in 0..n {
            means[i].push(this[i]);
            ratios[i].push(this[i] / this[0]);
        }
    }
    println!(
        "{rounds} rounds x {batch} spawn+wait of /bin/true per variant (euid {})",
        nix::unistd::geteuid()
    );
    println!(
        "{:34} {:>14} {:>22}",
        "variant", "median us", "time / posix_spawn"
    );
    for i in 0..n {
        println!(
            "{:34} {:>14.0} {:>22.2}",
            variants[i].0,
            median(&mut means[i]),
            median(&mut ratios[i])
        );
    }
}
