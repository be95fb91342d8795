//! `memory_max`, `pids_max`, `cpu_max`: a cgroup per connection.
//!
//! Where: under the daemon's own cgroup, in a directory `xinetd-rs` (a delegated subtree
//! under a service manager; the daemon's cgroup otherwise). Which hierarchy: cgroup v2 when
//! the unified hierarchy offers every controller needed (`cgroup.controllers` of the
//! daemon's cgroup), otherwise the v1 hierarchies of each controller (hybrid machines keep
//! `pids`, `memory` and `cpu` on v1 and an empty v2 tree), plus v1's `freezer` (if mounted)
//! so a whole tree can be frozen and killed. A configuration whose limits neither layout
//! can enforce is refused when the spec is built.
//!
//! How: [`spawn`](crate::spawn) makes the connection's directories and writes the limits
//! before the clone. On v2 the child is created inside its cgroup by
//! `clone3(CLONE_INTO_CGROUP)` (Linux >= 5.7, x86_64); otherwise (v1, older kernels, other
//! architectures) the child writes `0` (itself) into each `cgroup.procs` as its first step,
//! before anything else runs. Either way the server and everything it starts is accounted
//! from its first instruction. The returned [`Cgroup`] kills the whole tree (`cgroup.kill` on v2;
//! freeze, SIGKILL every member, thaw on v1) and removes the directories once the server
//! has been reaped.

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::c_path;
use crate::SpawnError;

/// The limits of `memory_max`, `pids_max` and `cpu_max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgroupLimits {
    /// `memory_max`: bytes of memory (the server and its children, together).
    pub memory_max: Option<u64>,
    /// `pids_max`: processes and threads, together.
    pub pids_max: Option<u64>,
    /// `cpu_max`: percent of one CPU (200 = two CPUs).
    pub cpu_max_percent: Option<u32>,
    /// `io_weight`: 1 to 10000 on cgroup v2's scale (`io.weight`, default 100). On a v1
    /// `blkio` hierarchy (scale 10 to 1000, default 500) it is mapped as `5 × weight`,
    /// saturating at 10 and 1000, so the defaults correspond (see [`v1_blkio_weight`]).
    pub io_weight: Option<u32>,
}

/// cgroup v1's `blkio.weight` for an `io_weight` (v2 scale): the defaults (100 and 500)
/// correspond and ratios are kept inside v1's narrower range; beyond it the weight saturates
/// at 10 or 1000 (v1 rejects anything else with EINVAL).
pub fn v1_blkio_weight(io_weight: u32) -> u32 {
    io_weight.saturating_mul(5).clamp(10, 1000)
}

/// The v1 hierarchy name of a (v2) controller.
fn v1_name(controller: &str) -> &str {
    if controller == "io" {
        "blkio"
    } else {
        controller
    }
}

/// The weight files, best first, of the `io` controller: the generic one, then BFQ's (the
/// only one when the BFQ scheduler provides the weights).
const V2_IO_WEIGHT: [&str; 2] = ["io.weight", "io.bfq.weight"];
const V1_IO_WEIGHT: [&str; 2] = ["blkio.weight", "blkio.bfq.weight"];

impl CgroupLimits {
    /// `true` when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == CgroupLimits::default()
    }
}

const CPU_PERIOD_US: u64 = 100_000;

/// Where the per-connection cgroups go, found when the spec is built.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// The unified hierarchy: one directory.
    V2 { base: PathBuf },
    /// v1: (controller, base directory) per hierarchy; `freezer` is optional.
    V1 {
        bases: Vec<(&'static str, PathBuf)>,
        freezer: Option<PathBuf>,
    },
}

/// The prepared cgroup part of a spec.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) limits: CgroupLimits,
    pub(crate) layout: Layout,
    pub(crate) name: String,
}

/// A mounted cgroup hierarchy: (mount point, v2?, v1 controllers).
struct Mount {
    point: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fstype = r.next()?;
            let _source = r.next()?;
            let options = r.next().unwrap_or("");
            match fstype {
                "cgroup2" => Some(Mount {
                    point: PathBuf::from(point),
                    v2: true,
                    controllers: Vec::new(),
                }),
                "cgroup" => Some(Mount {
                    point: PathBuf::from(point),
                    v2: false,
                    controllers: options.split(',').map(str::to_owned).collect(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The daemon's own cgroup paths: ("" for v2 | controller list, path).
fn own_cgroups(proc_cgroup: &str) -> Vec<(String, String)> {
    proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            let ctrls = f.next()?;
            let path = f.next()?;
            Some((ctrls.to_owned(), path.to_owned()))
        })
        .collect()
}

fn join(mount: &Path, own: &str) -> PathBuf {
    mount.join(own.trim_start_matches('/')).join("xinetd-rs")
}

/// The controllers the limits need: (v2 name, v1 hierarchy name).
fn needed(l: &CgroupLimits) -> Vec<&'static str> {
    let mut v = Vec::new();
    if l.memory_max.is_some() {
        v.push("memory");
    }
    if l.pids_max.is_some() {
        v.push("pids");
    }
    if l.cpu_max_percent.is_some() {
        v.push("cpu");
    }
    if l.io_weight.is_some() {
        v.push("io");
    }
    v
}

pub(crate) fn prepare(
    limits: CgroupLimits,
    name: &str,
    root: Option<&Path>,
) -> Result<Prepared, SpawnError> {
    let want = needed(&limits);
    let layout = match root {
        Some(root) => configured_layout(root, &want)?,
        None => {
            if !nix::unistd::geteuid().is_root() {
                return Err(SpawnError::Sandbox(
                    "memory_max/pids_max/cpu_max need a daemon running as root (or owning a delegated cgroup)"
                        .to_owned(),
                ));
            }
            let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let proc_cgroup = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            let controllers = |dir: &Path| fs::read_to_string(dir.join("cgroup.controllers")).ok();
            choose_layout(&mountinfo, &proc_cgroup, &want, controllers)?
        }
    };
    if let Layout::V2 { base } = &layout {
        if let Some(own) = base.parent() {
            enable_v2(own, &want)?;
        }
    }
    if limits.io_weight.is_some() {
        check_io_weight(&layout)?;
    }
    sweep_stale(&layout);
    Ok(Prepared {
        limits,
        layout,
        name: name.to_owned(),
    })
}

/// A configured v2 cgroup (a delegated subtree, `Sandbox::cgroup_root`): the connections'
/// cgroups go under `<root>/xinetd-rs/`; it must offer every controller the limits need.
fn configured_layout(root: &Path, want: &[&'static str]) -> Result<Layout, SpawnError> {
    let available = fs::read_to_string(root.join("cgroup.controllers")).map_err(|e| {
        SpawnError::Sandbox(format!(
            "cgroup root {} is not a cgroup v2 directory: {e}",
            root.display()
        ))
    })?;
    if let Some(c) = want
        .iter()
        .find(|c| !available.split_whitespace().any(|a| a == **c))
    {
        return Err(SpawnError::Sandbox(format!(
            "the {c} controller is not available in the cgroup root {} (its cgroup.controllers)",
            root.display()
        )));
    }
    Ok(Layout::V2 {
        base: root.join("xinetd-rs"),
    })
}

/// `io_weight` needs a weight file, which only exists where an I/O scheduler with
/// proportional weights (BFQ, CFQ) or the io.cost controller is available: refused at load
/// otherwise, rather than a server started without the weight it asked for. v1: the files of
/// the daemon's own blkio cgroup; v2: a probe cgroup (weight files exist in children only).
fn check_io_weight(layout: &Layout) -> Result<(), SpawnError> {
    let missing = |dir: &Path, files: &[&str]| {
        SpawnError::Sandbox(format!(
            "io_weight: the kernel offers no I/O weight here (neither {} in {}: no BFQ/CFQ I/O scheduler or io.cost controller)",
            files.join(" nor "),
            dir.display()
        ))
    };
    match layout {
        Layout::V1 { bases, .. } => {
            for (c, base) in bases {
                if *c != "io" {
                    continue;
                }
                let own = base.parent().unwrap_or(base);
                if !V1_IO_WEIGHT.iter().any(|f| own.join(f).exists()) {
                    return Err(missing(own, &V1_IO_WEIGHT));
                }
            }
            Ok(())
        }
        Layout::V2 { base } => {
            let probe = base.join(format!(".probe-{}", std::process::id()));
            fs::create_dir_all(base)
                .and_then(|()| write_subtree(base, "+io"))
                .and_then(|()| fs::create_dir(&probe))
                .map_err(|e| {
                    SpawnError::Sandbox(format!("io_weight: cannot probe {}: {e}", probe.display()))
                })?;
            let found = V2_IO_WEIGHT.iter().any(|f| probe.join(f).exists());
            let _ = fs::remove_dir(&probe);
            if found {
                Ok(())
            } else {
                Err(missing(base, &V2_IO_WEIGHT))
            }
        }
    }
}

fn write_subtree(dir: &Path, value: &str) -> io::Result<()> {
    fs::write(dir.join("cgroup.subtree_control"), value)
}

/// Writes the weight into the first weight file that exists in `dir`.
fn write_weight(dir: &Path, files: &[&str], weight: u32) -> Result<(), SpawnError> {
    let file = files
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| dir.join(files[0]));
    write(&file, &weight.to_string())
}

/// Removes the connection cgroups a previous daemon left behind when it was killed without
/// a chance to clean up (`<server>-<daemon pid>-<n>` whose daemon pid no longer exists):
/// what still runs in them is killed first.
fn sweep_stale(layout: &Layout) {
    let bases: Vec<&PathBuf> = match layout {
        Layout::V2 { base } => vec![base],
        Layout::V1 { bases, freezer } => bases.iter().map(|(_, b)| b).chain(freezer).collect(),
    };
    // One connection has a directory of the same name in each hierarchy.
    let mut stale: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for base in bases {
        let Ok(entries) = fs::read_dir(base) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let mut parts = name.rsplitn(3, '-');
            let (Some(_seq), Some(pid), Some(_server)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(pid) = pid.parse::<i32>() else {
                continue;
            };
            let dead = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                == Err(nix::errno::Errno::ESRCH);
            if dead && e.path().is_dir() {
                stale.entry(name).or_default().push(e.path());
            }
        }
    }
    for (_, dirs) in stale {
        let freezer = dirs
            .iter()
            .find(|d| d.join("freezer.state").exists())
            .cloned();
        let cg = Cgroup {
            dirs,
            freezer,
            memory: None,
            v2: matches!(layout, Layout::V2 { .. }),
            started_inside: false,
        };
        cg.kill_all();
        cg.remove();
    }
}

/// Where the per-connection cgroups go, from `/proc/self/mountinfo`, `/proc/self/cgroup`
/// and the `cgroup.controllers` of the daemon's v2 cgroup: v2 when it offers every
/// controller in `want`, else the v1 hierarchy of each (and v1's freezer, if mounted).
fn choose_layout(
    mountinfo: &str,
    proc_cgroup: &str,
    want: &[&'static str],
    controllers: impl Fn(&Path) -> Option<String>,
) -> Result<Layout, SpawnError> {
    let fail = |m: String| SpawnError::Sandbox(m);
    let mounts = mounts(mountinfo);
    let own = own_cgroups(proc_cgroup);
    // The controllers the unified hierarchy lacks, for the error below.
    let mut not_on_v2: Vec<&str> = want.to_vec();
    if let (Some(m), Some((_, path))) = (
        mounts.iter().find(|m| m.v2),
        own.iter().find(|(c, _)| c.is_empty()),
    ) {
        let dir = m.point.join(path.trim_start_matches('/'));
        let available = controllers(&dir).unwrap_or_default();
        let available: Vec<&str> = available.split_whitespace().collect();
        not_on_v2.retain(|c| !available.contains(c));
        if not_on_v2.is_empty() {
            return Ok(Layout::V2 {
                base: join(&m.point, path),
            });
        }
    }
    let mut bases = Vec::new();
    for c in want {
        let v1 = v1_name(c);
        let Some(m) = mounts
            .iter()
            .find(|m| !m.v2 && m.controllers.iter().any(|x| x == v1))
        else {
            let c = not_on_v2.first().unwrap_or(c);
            return Err(fail(format!(
                "the {c} controller is neither on the unified cgroup hierarchy of this daemon nor on a v1 hierarchy (mount | grep cgroup)"
            )));
        };
        let Some((_, path)) = own
            .iter()
            .find(|(ctrls, _)| ctrls.split(',').any(|x| x == v1))
        else {
            return Err(fail(format!(
                "the daemon's {v1} cgroup is not in /proc/self/cgroup"
            )));
        };
        bases.push((*c, join(&m.point, path)));
    }
    let freezer = mounts
        .iter()
        .find(|m| !m.v2 && m.controllers.iter().any(|x| x == "freezer"))
        .and_then(|m| {
            own.iter()
                .find(|(ctrls, _)| ctrls.split(',').any(|x| x == "freezer"))
                .map(|(_, p)| join(&m.point, p))
        });
    Ok(Layout::V1 { bases, freezer })
}

/// Enables `want` in the subtree of the daemon's own v2 cgroup `dir`. v2 lets a non-root
/// cgroup with processes have no controllers in its subtree ("no internal processes"), so
/// the daemon first moves itself into a leaf `xinetd-rs.daemon` beside the servers' parent,
/// as a delegated service (systemd `Delegate=yes`) is expected to.
fn enable_v2(dir: &Path, want: &[&str]) -> Result<(), SpawnError> {
    let ctrls: Vec<String> = want.iter().map(|c| format!("+{c}")).collect();
    let control = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control).unwrap_or_default();
    if want
        .iter()
        .all(|c| enabled.split_whitespace().any(|e| e == *c))
    {
        return Ok(());
    }
    if fs::write(&control, ctrls.join(" ")).is_ok() {
        return Ok(());
    }
    let leaf = dir.join("xinetd-rs.daemon");
    if let Err(e) = fs::create_dir(&leaf) {
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(SpawnError::Sandbox(format!(
                "cgroup: cannot create {}: {e}",
                leaf.display()
            )));
        }
    }
    write(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
    write(&control, &ctrls.join(" "))
}

/// The per-connection cgroup of a running server (returned by [`spawn`](crate::spawn) in
/// the [`Child`](crate::Child)): kill its whole tree, see whether memory_max killed it,
/// remove it once the server is reaped.
#[derive(Debug)]
pub struct Cgroup {
    /// Every directory of this connection (one on v2; one per hierarchy on v1).
    dirs: Vec<PathBuf>,
    /// v1 only: the freezer directory (also in `dirs`).
    freezer: Option<PathBuf>,
    /// The memory directory, for the OOM-kill counter.
    memory: Option<PathBuf>,
    v2: bool,
    /// Created inside its cgroup by `clone3(CLONE_INTO_CGROUP)` (rather than joined by the
    /// child writing `cgroup.procs`).
    started_inside: bool,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn write(path: &Path, value: &str) -> Result<(), SpawnError> {
    fs::write(path, value).map_err(|e| {
        SpawnError::Sandbox(format!(
            "cgroup: writing {value} to {}: {e}",
            path.display()
        ))
    })
}

fn make_dir(dir: &Path) -> Result<(), SpawnError> {
    // The parent `xinetd-rs` may be removed by another thread releasing the last cgroup:
    // create_dir_all again in that case.
    for _ in 0..3 {
        match fs::create_dir_all(dir.parent().unwrap_or(dir)).and_then(|()| fs::create_dir(dir)) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(SpawnError::Sandbox(format!(
                    "cgroup: cannot create {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Err(SpawnError::Sandbox(format!(
        "cgroup: cannot create {}",
        dir.display()
    )))
}

impl Prepared {
    /// Makes this connection's cgroup directories with their limits; returns the cgroup and
    /// the `cgroup.procs` paths the child joins.
    pub(crate) fn create(&self) -> Result<(Cgroup, Vec<CString>), SpawnError> {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let leaf = format!("{}-{}-{n}", self.name, std::process::id());
        let l = &self.limits;
        let mut cg = Cgroup {
            dirs: Vec::new(),
            freezer: None,
            memory: None,
            v2: matches!(self.layout, Layout::V2 { .. }),
            started_inside: false,
        };
        let result = (|| {
            match &self.layout {
                Layout::V2 { base } => {
                    let ctrls: Vec<String> = needed(l).iter().map(|c| format!("+{c}")).collect();
                    fs::create_dir_all(base).map_err(|e| {
                        SpawnError::Sandbox(format!(
                            "cgroup: cannot create {}: {e}",
                            base.display()
                        ))
                    })?;
                    if !ctrls.is_empty() {
                        write(&base.join("cgroup.subtree_control"), &ctrls.join(" "))?;
                    }
                    let dir = base.join(&leaf);
                    make_dir(&dir)?;
                    cg.dirs.push(dir.clone());
                    if let Some(m) = l.memory_max {
                        write(&dir.join("memory.max"), &m.to_string())?;
                        let _ = fs::write(dir.join("memory.swap.max"), "0");
                        cg.memory = Some(dir.clone());
                    }
                    if let Some(p) = l.pids_max {
                        write(&dir.join("pids.max"), &p.to_string())?;
                    }
                    if let Some(c) = l.cpu_max_percent {
                        let quota = u64::from(c) * CPU_PERIOD_US / 100;
                        write(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
                    }
                    if let Some(w) = l.io_weight {
                        // io.bfq.weight's range is 1..1000.
                        let bfq = !dir.join(V2_IO_WEIGHT[0]).exists();
                        write_weight(&dir, &V2_IO_WEIGHT, if bfq { w.min(1000) } else { w })?;
                    }
                }
                Layout::V1 { bases, freezer } => {
                    for (ctrl, base) in bases {
                        let dir = base.join(&leaf);
                        make_dir(&dir)?;
                        cg.dirs.push(dir.clone());
                        match *ctrl {
                            "memory" => {
                                let m = l.memory_max.unwrap_or(u64::MAX).to_string();
                                write(&dir.join("memory.limit_in_bytes"), &m)?;
                                // Without swap accounting the limit is on memory alone.
                                let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), &m);
                                cg.memory = Some(dir.clone());
                            }
                            "pids" => {
                                let p = l.pids_max.map_or("max".to_owned(), |p| p.to_string());
                                write(&dir.join("pids.max"), &p)?;
                            }
                            "cpu" => {
                                if let Some(c) = l.cpu_max_percent {
                                    let quota = u64::from(c) * CPU_PERIOD_US / 100;
                                    write(
                                        &dir.join("cpu.cfs_period_us"),
                                        &CPU_PERIOD_US.to_string(),
                                    )?;
                                    write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                                }
                            }
                            "io" => {
                                if let Some(w) = l.io_weight {
                                    write_weight(&dir, &V1_IO_WEIGHT, v1_blkio_weight(w))?;
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(base) = freezer {
                        let dir = base.join(&leaf);
                        make_dir(&dir)?;
                        cg.dirs.push(dir.clone());
                        cg.freezer = Some(dir);
                    }
                }
            }
            let procs = cg
                .dirs
                .iter()
                .map(|d| c_path(&d.join("cgroup.procs")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(procs)
        })();
        match result {
            Ok(procs) => Ok((cg, procs)),
            Err(e) => {
                cg.remove();
                Err(e)
            }
        }
    }
}

fn members(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

impl Cgroup {
    /// The directories of this connection's cgroup (one per hierarchy on cgroup v1).
    pub fn paths(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Whether the server was created directly inside this cgroup by
    /// `clone3(CLONE_INTO_CGROUP)` (cgroup v2, Linux >= 5.7); `false` when the child joined
    /// it by writing `cgroup.procs` before `execve` (v1 hierarchies, older kernels, a
    /// seccomp profile that hides `clone3`). Either way no code of the server ran outside it.
    pub fn started_inside(&self) -> bool {
        self.started_inside
    }

    pub(crate) fn set_started_inside(&mut self, yes: bool) {
        self.started_inside = yes;
    }

    /// The v2 directory, for `CLONE_INTO_CGROUP`.
    pub(crate) fn v2_dir(&self) -> Option<&Path> {
        self.dirs.first().filter(|_| self.v2).map(PathBuf::as_path)
    }

    /// SIGKILL to every process of the cgroup, however deep: `cgroup.kill` on v2; on v1
    /// the tree is frozen first (if the freezer hierarchy is mounted) so no member can fork
    /// while the members are listed and killed, then thawed so the kills are delivered.
    pub fn kill_all(&self) {
        // The common case at reap time: nothing left, nothing to freeze.
        if self.dirs.iter().all(|d| members(d).is_empty()) {
            return;
        }
        if self.v2 {
            if let Some(dir) = self.dirs.first() {
                if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                    return;
                }
                // Kernels before 5.14: no cgroup.kill; fall through to the member loop.
            }
        }
        if let Some(f) = &self.freezer {
            let _ = fs::write(f.join("freezer.state"), "FROZEN");
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                match fs::read_to_string(f.join("freezer.state")) {
                    Ok(s) if s.trim() == "FROZEN" => break,
                    Ok(_) => std::thread::sleep(Duration::from_millis(1)),
                    Err(_) => break,
                }
            }
        }
        // Bounded: a frozen tree cannot grow; an unfrozen one (no freezer) is killed in
        // rounds until it is empty.
        for _ in 0..100 {
            let pids: Vec<i32> = self.dirs.iter().flat_map(|d| members(d)).collect();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if self.freezer.is_some() {
                break;
            }
        }
        if let Some(f) = &self.freezer {
            let _ = fs::write(f.join("freezer.state"), "THAWED");
        }
    }

    /// Whether the kernel's OOM killer acted in this cgroup (`memory_max` reached).
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = &self.memory else {
            return false;
        };
        let (file, key) = if self.v2 {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        fs::read_to_string(dir.join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .any(|(k, v)| k == key && v.trim().parse::<u64>().is_ok_and(|n| n > 0))
    }

    /// Removes the cgroup (after the server was reaped): members left behind are killed
    /// first; the shared `xinetd-rs` parent goes too when this was its last cgroup.
    pub fn remove(&self) {
        for attempt in 0..50 {
            let mut busy = false;
            for d in &self.dirs {
                match fs::remove_dir(d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => busy = true,
                }
            }
            if !busy {
                break;
            }
            if attempt == 0 {
                self.kill_all();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        for d in &self.dirs {
            if let Some(parent) = d.parent() {
                // Fails (EBUSY / ENOTEMPTY) while other connections use it: fine.
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This project's CI machine: controllers on v1, an empty v2 tree at .../unified.
    const HYBRID_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUP: &str = "8:pids:/\n6:freezer:/\n4:memory:/jobs/42\n1:cpu:/\n0::/\n";

    const V2_MOUNTS: &str =
        "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    const V2_CGROUP: &str = "0::/system.slice/xinetd.service\n";

    #[test]
    fn hybrid_machines_use_the_v1_hierarchies_under_the_daemons_cgroups() {
        let layout = choose_layout(HYBRID_MOUNTS, HYBRID_CGROUP, &["memory", "pids"], |_| {
            Some(String::new())
        })
        .expect("layout");
        let Layout::V1 { bases, freezer } = layout else {
            panic!("v1 expected");
        };
        assert_eq!(
            bases,
            [
                (
                    "memory",
                    PathBuf::from("/sys/fs/cgroup/memory/jobs/42/xinetd-rs")
                ),
                ("pids", PathBuf::from("/sys/fs/cgroup/pids/xinetd-rs")),
            ]
        );
        assert_eq!(
            freezer,
            Some(PathBuf::from("/sys/fs/cgroup/freezer/xinetd-rs"))
        );
    }

    #[test]
    fn unified_hierarchies_with_the_controllers_use_v2() {
        let layout = choose_layout(V2_MOUNTS, V2_CGROUP, &["memory", "pids", "cpu"], |dir| {
            assert_eq!(dir, Path::new("/sys/fs/cgroup/system.slice/xinetd.service"));
            Some("cpuset cpu io memory pids\n".to_owned())
        })
        .expect("layout");
        let Layout::V2 { base } = layout else {
            panic!("v2 expected");
        };
        assert_eq!(
            base,
            Path::new("/sys/fs/cgroup/system.slice/xinetd.service/xinetd-rs")
        );
    }

    #[test]
    fn io_weight_uses_the_v1_blkio_hierarchy_on_hybrid_machines() {
        let mounts = format!(
            "{HYBRID_MOUNTS}43 31 0:40 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
        );
        let cgroup = format!("9:blkio:/io/7\n{HYBRID_CGROUP}");
        let layout =
            choose_layout(&mounts, &cgroup, &["io"], |_| Some(String::new())).expect("layout");
        let Layout::V1 { bases, .. } = layout else {
            panic!("v1 expected");
        };
        assert_eq!(
            bases,
            [("io", PathBuf::from("/sys/fs/cgroup/blkio/io/7/xinetd-rs"))]
        );
        let err = choose_layout(HYBRID_MOUNTS, HYBRID_CGROUP, &["io"], |_| None).unwrap_err();
        assert!(
            err.to_string().contains("the io controller is neither"),
            "{err}"
        );
    }

    #[test]
    fn io_weight_maps_onto_blkio_weight() {
        assert_eq!(v1_blkio_weight(100), 500); // the defaults correspond
        assert_eq!(v1_blkio_weight(50), 250);
        assert_eq!(v1_blkio_weight(1), 10);
        assert_eq!(v1_blkio_weight(200), 1000);
        assert_eq!(v1_blkio_weight(10_000), 1000);
    }

    #[test]
    fn a_controller_nowhere_is_an_error_naming_it() {
        let err = choose_layout(V2_MOUNTS, V2_CGROUP, &["memory", "cpu"], |_| {
            Some("memory pids".to_owned())
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("the cpu controller is neither"),
            "{err}"
        );
    }
}
