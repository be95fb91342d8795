//! The per-service sandbox (issue 14): what the child sets up between `clone` and `execve`
//! besides xinetd's own steps — namespaces, a private mount table, capabilities,
//! `no_new_privs` and a seccomp filter.
//!
//! [`Sandbox`] is the request (one field per xinetd.conf attribute). [`SpawnSpecBuilder::sandbox`](crate::SpawnSpecBuilder::sandbox)
//! turns it into a prepared plan when the spec is built: the clone flags, capability masks,
//! every mount as C strings, the compiled seccomp BPF program. Building is also where the
//! request is checked against the running kernel and the daemon's privileges: anything that
//! cannot be provided is a [`SpawnError::Sandbox`] naming what is
//! missing, so a service is never started with less isolation than it asked for.
//!
//! The child then only issues system calls on that plan (module `child`): no allocation, no
//! lock, nothing that is not async-signal-safe.
//!
//! `no_new_privs`, `seccomp` and Landlock need no privilege:
//!
//! ```
//! use std::io::Read;
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use xinetd_spawn::sandbox::{SeccompAction, SeccompGroup, SeccompPolicy};
//! use xinetd_spawn::{spawn, Connection, Sandbox, SpawnSpec};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut sandbox = Sandbox::default();
//! sandbox.no_new_privs = true;
//! sandbox.seccomp = Some(SeccompPolicy::Deny(
//!     SeccompGroup::DEFAULT_DENY.to_vec(),
//!     SeccompAction::Errno(libc::EACCES),
//! ));
//! let spec = SpawnSpec::builder("/bin/sh")
//!     .argv(["sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"])
//!     .sandbox(sandbox)
//!     .build()?;
//! let (server_side, mut client_side) = UnixStream::pair()?;
//! let child = spawn(&spec, Connection::new(server_side.as_fd()))?;
//! drop(server_side);
//! let mut out = String::new();
//! client_side.read_to_string(&mut out)?;
//! child.wait()?;
//! assert_eq!(out, "NoNewPrivs:\t1\nSeccomp:\t2\n");
//! # Ok(())
//! # }
//! ```

mod capabilities;
pub(crate) mod cgroup;
#[allow(unsafe_code)]
pub(crate) mod child;
mod landlock;
mod mounts;
mod seccomp;

use std::ffi::CString;
use std::path::{Path, PathBuf};

pub use capabilities::Capability;
pub use cgroup::{v1_blkio_weight, Cgroup, CgroupLimits};
pub use seccomp::{SeccompAction, SeccompGroup, SeccompPolicy};

use crate::SpawnError;

/// `protect_system`: which parts of the file system the server sees read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProtectSystem {
    /// Nothing is made read-only.
    #[default]
    No,
    /// `/usr` and `/boot` read-only.
    Yes,
    /// `/usr`, `/boot` and `/etc` read-only.
    Full,
    /// The whole tree read-only except the `read_write_paths` (and a private `/tmp`).
    Strict,
}

/// `protect_home`: what the server sees of `/home`, `/root` and `/run/user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProtectHome {
    /// Unchanged.
    #[default]
    No,
    /// Empty and inaccessible (an empty mode-000 tmpfs over each).
    Yes,
    /// Read-only.
    ReadOnly,
}

/// A sandbox request: every field defaults to "off", and an all-default `Sandbox` changes
/// nothing in the child (not even a system call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sandbox {
    /// `no_new_privs = yes`: `PR_SET_NO_NEW_PRIVS` just before exec (implied by `seccomp`).
    pub no_new_privs: bool,
    /// `capabilities = …`: the bounding set keeps exactly these (`Some(vec![])` empties it).
    pub capabilities: Option<Vec<Capability>>,
    /// `ambient_capabilities = …`: kept across the switch to `user` and raised as ambient
    /// capabilities, so the (non-root) server has them after exec.
    pub ambient_capabilities: Vec<Capability>,
    /// `private_network = yes`: a new network namespace with only loopback (brought up).
    pub private_network: bool,
    /// `private_ipc = yes`: a new IPC namespace.
    pub private_ipc: bool,
    /// `private_uts = yes`: a new UTS namespace (host name changes stay inside).
    pub private_uts: bool,
    /// `private_pid = yes`: a new PID namespace whose PID 1 is the server, with its own `/proc`.
    pub private_pid: bool,
    /// `private_tmp = yes`: a fresh tmpfs on `/tmp` and `/var/tmp`.
    pub private_tmp: bool,
    /// `protect_system`.
    pub protect_system: ProtectSystem,
    /// `read_write_paths`: stay writable under `protect_system = strict` (absolute paths).
    pub read_write_paths: Vec<PathBuf>,
    /// `protect_home`.
    pub protect_home: ProtectHome,
    /// `seccomp` (+ `seccomp_action`).
    pub seccomp: Option<SeccompPolicy>,
    /// `landlock_read`: with `landlock_write`, the only trees the server may read and
    /// execute from (Landlock; everything else is denied).
    pub landlock_read: Vec<PathBuf>,
    /// `landlock_write`: the only trees the server may read and write.
    pub landlock_write: Vec<PathBuf>,
    /// `landlock_tcp_bind`: the only TCP ports the server may bind (`Some(vec![])`: none;
    /// Landlock ABI 4, best effort).
    pub landlock_tcp_bind: Option<Vec<u16>>,
    /// `landlock_tcp_connect`: the only TCP ports the server may connect to.
    pub landlock_tcp_connect: Option<Vec<u16>>,
    /// `memory_max`, `pids_max`, `cpu_max`, `io_weight`: a cgroup per connection.
    pub cgroup: CgroupLimits,
    /// A cgroup v2 directory the caller owns (e.g. a delegated subtree): every connection
    /// then gets a cgroup under `<root>/xinetd-rs/`, even without limits (so its whole tree
    /// can be killed), and no other hierarchy is looked for. `None`: the daemon's own
    /// cgroup, and a cgroup only when a limit is set.
    pub cgroup_root: Option<PathBuf>,
}

impl Sandbox {
    /// `true` when nothing is requested.
    pub fn is_empty(&self) -> bool {
        *self == Sandbox::default()
    }

    fn needs_mount_namespace(&self) -> bool {
        self.private_tmp
            || self.private_pid
            || self.protect_system != ProtectSystem::No
            || self.protect_home != ProtectHome::No
    }

    /// Checks the request against this kernel and the daemon's privileges and prepares
    /// everything the child needs. `uid` is the server's `user` (for `ambient_capabilities`).
    pub(crate) fn prepare(
        &self,
        uid: Option<libc::uid_t>,
        program: &Path,
    ) -> Result<Prepared, SpawnError> {
        let missing = |what: String| SpawnError::Sandbox(what);
        let root = nix::unistd::geteuid().is_root();
        let mut clone_flags = 0;
        let mut namespaces: Vec<(&str, &str, libc::c_int)> = Vec::new();
        if self.private_network {
            namespaces.push(("private_network", "net", libc::CLONE_NEWNET));
        }
        if self.private_ipc {
            namespaces.push(("private_ipc", "ipc", libc::CLONE_NEWIPC));
        }
        if self.private_uts {
            namespaces.push(("private_uts", "uts", libc::CLONE_NEWUTS));
        }
        if self.private_pid {
            namespaces.push(("private_pid", "pid", libc::CLONE_NEWPID));
        }
        if self.needs_mount_namespace() {
            namespaces.push(("private_tmp/protect_*", "mnt", libc::CLONE_NEWNS));
        }
        for (attr, ns, flag) in &namespaces {
            if !root {
                return Err(missing(format!(
                    "{attr} needs a daemon running as root (a new {ns} namespace needs CAP_SYS_ADMIN)"
                )));
            }
            if !Path::new("/proc/self/ns").join(ns).exists() {
                return Err(missing(format!(
                    "{attr}: this kernel has no {ns} namespaces (/proc/self/ns/{ns} is missing)"
                )));
            }
            clone_flags |= flag;
        }
        let caps = capabilities::prepare(self, uid, root)?;
        let mounts = if self.needs_mount_namespace() {
            mounts::plan(self)?
        } else {
            Vec::new()
        };
        let seccomp = match &self.seccomp {
            Some(policy) => Some(seccomp::compile(policy)?),
            None => None,
        };
        let landlock = if self.landlock_read.is_empty()
            && self.landlock_write.is_empty()
            && self.landlock_tcp_bind.is_none()
            && self.landlock_tcp_connect.is_none()
        {
            None
        } else {
            Some(landlock::prepare(
                &self.landlock_read,
                &self.landlock_write,
                self.landlock_tcp_bind.as_deref(),
                self.landlock_tcp_connect.as_deref(),
            )?)
        };
        let cgroup = if self.cgroup.is_empty() && self.cgroup_root.is_none() {
            None
        } else {
            let name: String = program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            Some(cgroup::prepare(
                self.cgroup,
                &name,
                self.cgroup_root.as_deref(),
            )?)
        };
        Ok(Prepared {
            clone_flags,
            caps,
            mounts,
            loopback_up: self.private_network,
            // A filter (or a Landlock domain) can only be installed by an unprivileged
            // process with no_new_privs set, and the server is unprivileged once `user`
            // applies: always set it.
            no_new_privs: self.no_new_privs
                || self.seccomp.is_some()
                || landlock.as_ref().is_some_and(|l| l.enforces()),
            seccomp,
            landlock,
            cgroup,
        })
    }
}

/// The child's part of the sandbox, prepared in the parent.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) clone_flags: libc::c_int,
    pub(crate) caps: capabilities::CapPlan,
    pub(crate) mounts: Vec<mounts::MountOp>,
    pub(crate) loopback_up: bool,
    pub(crate) no_new_privs: bool,
    pub(crate) seccomp: Option<seccomp::Bpf>,
    pub(crate) landlock: Option<landlock::Prepared>,
    pub(crate) cgroup: Option<cgroup::Prepared>,
}

impl Prepared {
    /// What the kernel could not enforce (best-effort parts), for the daemon to log.
    pub(crate) fn notes(&self) -> &[String] {
        self.landlock.as_ref().map_or(&[], |l| &l.notes)
    }
}

pub(crate) fn c_path(p: &Path) -> Result<CString, SpawnError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| SpawnError::NulByte {
        what: "sandbox path",
        value: p.display().to_string(),
    })
}
