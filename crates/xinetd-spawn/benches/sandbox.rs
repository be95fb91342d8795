//! What each sandbox feature costs per spawn (issue 14), measured like `interleaved`: ROUNDS
//! rounds; in every round each variant spawns `/bin/true` on a socketpair and waits for it
//! BATCH times, variants in a rotated order; the per-round mean of each variant is divided by
//! the plain spawn's mean of the same round, and the medians over rounds are printed. Root
//! only (namespaces, capabilities and cgroups need it).
//!
//! `cargo bench -p xinetd-spawn --bench sandbox` (env ROUNDS, default 10; BATCH, default 50).
#![allow(missing_docs)]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use xinetd_spawn::sandbox::{
    Capability, ProtectHome, ProtectSystem, SeccompAction, SeccompGroup, SeccompPolicy,
};
use xinetd_spawn::{spawn, Connection, Sandbox, SpawnSpec};

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
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: the sandbox benchmark needs root");
        return;
    }
    let rounds = env_num("ROUNDS", 10);
    let batch = env_num("BATCH", 50);
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let conn: OwnedFd = a.into();
    let sb = |f: &dyn Fn(&mut Sandbox)| {
        let mut s = Sandbox::default();
        f(&mut s);
        s
    };
    let landlock_read: Vec<std::path::PathBuf> = ["/usr", "/bin", "/lib", "/lib64", "/etc"]
        .iter()
        .map(Into::into)
        .filter(|p: &std::path::PathBuf| p.exists())
        .collect();
    // A child of the machine's cgroup v2 tree (no controllers needed): the per-connection
    // cgroup created inside it by clone3(CLONE_INTO_CGROUP).
    let v2_root = v2_mount().map(|m| m.join(format!("xinetd-spawn-bench-{}", std::process::id())));
    if let Some(r) = &v2_root {
        let _ = std::fs::create_dir(r);
    }
    let mut variants: Vec<(&str, Sandbox)> = vec![
        ("plain spawn", Sandbox::default()),
        ("no_new_privs", sb(&|s| s.no_new_privs = true)),
        (
            "capabilities (bounding set of 1)",
            sb(&|s| s.capabilities = Some(vec![Capability::CAP_NET_BIND_SERVICE])),
        ),
        (
            "seccomp = default",
            sb(&|s| {
                s.seccomp = Some(SeccompPolicy::Deny(
                    SeccompGroup::DEFAULT_DENY.to_vec(),
                    SeccompAction::default(),
                ))
            }),
        ),
        (
            "landlock_read (5 trees)",
            sb(&|s| s.landlock_read = landlock_read.clone()),
        ),
        ("private_ipc", sb(&|s| s.private_ipc = true)),
        ("private_uts", sb(&|s| s.private_uts = true)),
        (
            "private_tmp (mount ns + 2 tmpfs)",
            sb(&|s| s.private_tmp = true),
        ),
        (
            "protect_system = strict",
            sb(&|s| s.protect_system = ProtectSystem::Strict),
        ),
        (
            "protect_home = yes",
            sb(&|s| s.protect_home = ProtectHome::Yes),
        ),
        ("private_pid (+ /proc)", sb(&|s| s.private_pid = true)),
        ("private_network", sb(&|s| s.private_network = true)),
        (
            "pids_max + memory_max (cgroup)",
            sb(&|s| {
                s.cgroup.pids_max = Some(64);
                s.cgroup.memory_max = Some(64 << 20);
            }),
        ),
    ];
    if let Some(r) = &v2_root {
        variants.push((
            "cgroup v2 (clone3 CLONE_INTO_CGROUP, no controllers)",
            sb(&|s| s.cgroup_root = Some(r.clone())),
        ));
    }
    let specs: Vec<(&str, SpawnSpec)> = variants
        .into_iter()
        .filter_map(
            |(name, s)| match SpawnSpec::builder("/bin/true").sandbox(s).build() {
                Ok(spec) => Some((name, spec)),
                Err(e) => {
                    println!("{name}: not available here ({e})");
                    None
                }
            },
        )
        .collect();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); specs.len()];
    let mut micros: Vec<Vec<f64>> = vec![Vec::new(); specs.len()];
    for round in 0..rounds {
        let mut means = vec![0.0; specs.len()];
        for k in 0..specs.len() {
            let i = (k + round) % specs.len();
            let spec = &specs[i].1;
            let start = Instant::now();
            for _ in 0..batch {
                let child = spawn(spec, Connection::new(conn.as_fd())).expect("spawn");
                child.wait().expect("wait");
            }
            means[i] = start.elapsed().as_secs_f64() * 1e6 / batch as f64;
        }
        for i in 0..specs.len() {
            ratios[i].push(means[i] / means[0]);
            micros[i].push(means[i]);
        }
    }
    println!("| variant | median µs per spawn + wait | ÷ plain |");
    println!("|---|---|---|");
    for (i, (name, _)) in specs.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.2} |",
            median(&mut micros[i]),
            median(&mut ratios[i])
        );
    }
    if let Some(r) = &v2_root {
        let _ = std::fs::remove_dir(r.join("xinetd-rs"));
        let _ = std::fs::remove_dir(r);
    }
}

/// Where the cgroup v2 hierarchy is mounted, if it is.
fn v2_mount() -> Option<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))?
    })
}
