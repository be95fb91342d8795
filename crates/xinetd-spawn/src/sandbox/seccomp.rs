//! `seccomp`: named system-call groups compiled into a BPF program by `seccompiler` (pure
//! Rust, so static builds keep working) when the spec is built; the child installs it last,
//! right before `execve`. Native architecture only: the program's architecture check kills a
//! process that makes a system call through another ABI (e.g. i386 `int 0x80`).

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{BpfProgram, SeccompFilter, TargetArch};

use crate::SpawnError;

/// A named group of system calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SeccompGroup {
    /// Deny-list groups (all of them form `default`):
    /// `init_module`, `finit_module`, `delete_module`.
    Module,
    /// `reboot`, `kexec_load`, `kexec_file_load`.
    Reboot,
    /// `mount`, `umount2`, `pivot_root` and the new mount API (`fsopen`, `move_mount`, …).
    Mount,
    /// `swapon`, `swapoff`.
    Swap,
    /// `ptrace`, `process_vm_readv`/`writev`, `perf_event_open`.
    Debug,
    /// `bpf`.
    Bpf,
    /// `iopl`, `ioperm` (x86_64).
    RawIo,
    /// `settimeofday`, `clock_settime`, `clock_adjtime`, `adjtimex`.
    Clock,
    /// `add_key`, `request_key`, `keyctl`.
    Keyring,
    /// `unshare`, `setns`.
    Namespaces,
    /// Allow-list groups: what any dynamically linked program needs to start, read and write
    /// its descriptors, use memory, signals, time and sleep, and exit.
    Basic,
    /// Creating, renaming, removing files and changing their metadata.
    Files,
    /// Sockets: `socket`, `connect`, `bind`, `accept`, `send*`/`recv*`, options.
    Network,
    /// `fork`/`clone`, `wait4`, `kill`, process groups and sessions.
    Process,
}

impl SeccompGroup {
    /// The groups of `seccomp = default`: every deny-list group.
    pub const DEFAULT_DENY: [SeccompGroup; 10] = [
        SeccompGroup::Module,
        SeccompGroup::Reboot,
        SeccompGroup::Mount,
        SeccompGroup::Swap,
        SeccompGroup::Debug,
        SeccompGroup::Bpf,
        SeccompGroup::RawIo,
        SeccompGroup::Clock,
        SeccompGroup::Keyring,
        SeccompGroup::Namespaces,
    ];

    /// The allow-list groups.
    const ALLOW_LIST: [SeccompGroup; 4] = [
        SeccompGroup::Basic,
        SeccompGroup::Files,
        SeccompGroup::Network,
        SeccompGroup::Process,
    ];

    /// Every group, deny-list groups first: built from the two lists, so that `default` and
    /// the groups [`SeccompGroup::parse`] knows cannot drift apart.
    pub const ALL: [SeccompGroup; 14] = {
        let (deny, allow) = (Self::DEFAULT_DENY, Self::ALLOW_LIST);
        let mut all = [SeccompGroup::Module; 14];
        let mut i = 0;
        while i < all.len() {
            all[i] = if i < deny.len() {
                deny[i]
            } else {
                allow[i - deny.len()]
            };
            i += 1;
        }
        all
    };

    /// The name as written in xinetd.conf, with its `@`.
    pub fn as_str(self) -> &'static str {
        match self {
            SeccompGroup::Module => "@module",
            SeccompGroup::Reboot => "@reboot",
            SeccompGroup::Mount => "@mount",
            SeccompGroup::Swap => "@swap",
            SeccompGroup::Debug => "@debug",
            SeccompGroup::Bpf => "@bpf",
            SeccompGroup::RawIo => "@raw-io",
            SeccompGroup::Clock => "@clock",
            SeccompGroup::Keyring => "@keyring",
            SeccompGroup::Namespaces => "@namespaces",
            SeccompGroup::Basic => "@basic",
            SeccompGroup::Files => "@files",
            SeccompGroup::Network => "@network",
            SeccompGroup::Process => "@process",
        }
    }

    /// Parses `@name` (case-insensitive).
    pub fn parse(word: &str) -> Option<SeccompGroup> {
        SeccompGroup::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(word))
    }

    /// The system-call numbers of this group on the native architecture.
    pub fn syscalls(self) -> Vec<i64> {
        use libc::*;
        let v: Vec<c_long> = match self {
            SeccompGroup::Module => vec![SYS_init_module, SYS_finit_module, SYS_delete_module],
            SeccompGroup::Reboot => vec![SYS_reboot, SYS_kexec_load, SYS_kexec_file_load],
            SeccompGroup::Mount => vec![
                SYS_mount,
                SYS_umount2,
                SYS_pivot_root,
                SYS_fsopen,
                SYS_fsconfig,
                SYS_fsmount,
                SYS_fspick,
                SYS_move_mount,
                SYS_open_tree,
                SYS_mount_setattr,
            ],
            SeccompGroup::Swap => vec![SYS_swapon, SYS_swapoff],
            SeccompGroup::Debug => vec![
                SYS_ptrace,
                SYS_process_vm_readv,
                SYS_process_vm_writev,
                SYS_perf_event_open,
            ],
            SeccompGroup::Bpf => vec![SYS_bpf],
            #[cfg(target_arch = "x86_64")]
            SeccompGroup::RawIo => vec![SYS_iopl, SYS_ioperm],
            #[cfg(not(target_arch = "x86_64"))]
            SeccompGroup::RawIo => vec![],
            SeccompGroup::Clock => vec![
                SYS_settimeofday,
                SYS_clock_settime,
                SYS_clock_adjtime,
                SYS_adjtimex,
            ],
            SeccompGroup::Keyring => vec![SYS_add_key, SYS_request_key, SYS_keyctl],
            SeccompGroup::Namespaces => vec![SYS_unshare, SYS_setns],
            SeccompGroup::Basic => {
                let mut v = vec![
                    SYS_execve,
                    SYS_execveat,
                    SYS_brk,
                    SYS_mmap,
                    SYS_munmap,
                    SYS_mprotect,
                    SYS_mremap,
                    SYS_madvise,
                    SYS_faccessat,
                    SYS_faccessat2,
                    SYS_openat,
                    SYS_close,
                    SYS_close_range,
                    SYS_read,
                    SYS_pread64,
                    SYS_readv,
                    SYS_preadv,
                    SYS_write,
                    SYS_writev,
                    SYS_pwrite64,
                    SYS_pwritev,
                    SYS_sendfile,
                    SYS_lseek,
                    SYS_fstat,
                    SYS_newfstatat,
                    SYS_statx,
                    SYS_readlinkat,
                    SYS_getcwd,
                    SYS_chdir,
                    SYS_fchdir,
                    SYS_getdents64,
                    SYS_fcntl,
                    SYS_ioctl,
                    SYS_dup,
                    SYS_dup3,
                    SYS_pipe2,
                    SYS_ppoll,
                    SYS_pselect6,
                    SYS_epoll_create1,
                    SYS_epoll_ctl,
                    SYS_epoll_pwait,
                    SYS_eventfd2,
                    SYS_set_tid_address,
                    SYS_set_robust_list,
                    SYS_get_robust_list,
                    SYS_rseq,
                    SYS_prlimit64,
                    SYS_getrlimit,
                    SYS_getrandom,
                    SYS_exit,
                    SYS_exit_group,
                    SYS_rt_sigaction,
                    SYS_rt_sigprocmask,
                    SYS_rt_sigreturn,
                    SYS_rt_sigsuspend,
                    SYS_rt_sigtimedwait,
                    SYS_sigaltstack,
                    SYS_futex,
                    SYS_getpid,
                    SYS_getppid,
                    SYS_gettid,
                    SYS_getuid,
                    SYS_geteuid,
                    SYS_getgid,
                    SYS_getegid,
                    SYS_getresuid,
                    SYS_getresgid,
                    SYS_getgroups,
                    SYS_uname,
                    SYS_umask,
                    SYS_sysinfo,
                    SYS_getrusage,
                    SYS_times,
                    SYS_clock_gettime,
                    SYS_clock_getres,
                    SYS_clock_nanosleep,
                    SYS_nanosleep,
                    SYS_gettimeofday,
                    SYS_sched_yield,
                    SYS_sched_getaffinity,
                    SYS_restart_syscall,
                    SYS_membarrier,
                    SYS_prctl,
                    SYS_getpgid,
                    SYS_getsid,
                    SYS_tgkill,
                    SYS_fadvise64,
                ];
                #[cfg(target_arch = "x86_64")]
                v.extend([
                    SYS_arch_prctl,
                    SYS_access,
                    SYS_open,
                    SYS_stat,
                    SYS_lstat,
                    SYS_readlink,
                    SYS_dup2,
                    SYS_pipe,
                    SYS_poll,
                    SYS_select,
                    SYS_epoll_wait,
                    SYS_getpgrp,
                    SYS_time,
                    SYS_alarm,
                ]);
                v
            }
            SeccompGroup::Files => {
                let mut v = vec![
                    SYS_mkdirat,
                    SYS_unlinkat,
                    SYS_renameat,
                    SYS_renameat2,
                    SYS_linkat,
                    SYS_symlinkat,
                    SYS_fchmod,
                    SYS_fchmodat,
                    SYS_fchown,
                    SYS_fchownat,
                    SYS_truncate,
                    SYS_ftruncate,
                    SYS_utimensat,
                    SYS_fsync,
                    SYS_fdatasync,
                    SYS_statfs,
                    SYS_fstatfs,
                    SYS_flock,
                    SYS_fallocate,
                ];
                #[cfg(target_arch = "x86_64")]
                v.extend([
                    SYS_mkdir,
                    SYS_unlink,
                    SYS_rmdir,
                    SYS_rename,
                    SYS_link,
                    SYS_symlink,
                    SYS_chmod,
                    SYS_chown,
                    SYS_lchown,
                    SYS_creat,
                    SYS_utimes,
                ]);
                v
            }
            SeccompGroup::Network => vec![
                SYS_socket,
                SYS_socketpair,
                SYS_connect,
                SYS_accept,
                SYS_accept4,
                SYS_bind,
                SYS_listen,
                SYS_getsockname,
                SYS_getpeername,
                SYS_setsockopt,
                SYS_getsockopt,
                SYS_sendto,
                SYS_recvfrom,
                SYS_sendmsg,
                SYS_recvmsg,
                SYS_sendmmsg,
                SYS_recvmmsg,
                SYS_shutdown,
            ],
            SeccompGroup::Process => {
                let mut v = vec![
                    SYS_clone,
                    SYS_clone3,
                    SYS_wait4,
                    SYS_waitid,
                    SYS_kill,
                    SYS_tkill,
                    SYS_setpgid,
                    SYS_setsid,
                    SYS_getpriority,
                    SYS_setpriority,
                ];
                #[cfg(target_arch = "x86_64")]
                v.extend([SYS_fork, SYS_vfork]);
                v
            }
        };
        // `c_long` is `i64` on every architecture seccompiler compiles for, but not on all
        // of Rust's targets.
        #[allow(clippy::useless_conversion)]
        v.into_iter().map(i64::from).collect()
    }
}

impl fmt::Display for SeccompGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a filtered system call does (`seccomp_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeccompAction {
    /// Fails with this errno (the default is `EPERM`).
    Errno(i32),
    /// The whole process is killed with `SIGSYS`.
    Kill,
}

impl Default for SeccompAction {
    fn default() -> SeccompAction {
        SeccompAction::Errno(libc::EPERM)
    }
}

/// `seccomp = …`: deny the listed groups, or allow only them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeccompPolicy {
    /// Every system call is allowed except those of these groups.
    Deny(Vec<SeccompGroup>, SeccompAction),
    /// Only the system calls of these groups are allowed.
    Allow(Vec<SeccompGroup>, SeccompAction),
}

/// The compiled program, in the kernel's layout.
#[derive(Clone)]
pub(crate) struct Bpf(pub(crate) Vec<libc::sock_filter>);

impl fmt::Debug for Bpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bpf({} instructions)", self.0.len())
    }
}

fn native_arch() -> Result<TargetArch, SpawnError> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        SpawnError::Sandbox(format!(
            "seccomp: no filter compiler for the {} architecture",
            std::env::consts::ARCH
        ))
    })
}

pub(crate) fn compile(policy: &SeccompPolicy) -> Result<Bpf, SpawnError> {
    if !std::path::Path::new("/proc/sys/kernel/seccomp/actions_avail").exists()
        && std::fs::read_to_string("/proc/self/status")
            .map(|s| !s.contains("Seccomp:"))
            .unwrap_or(true)
    {
        return Err(SpawnError::Sandbox(
            "seccomp: this kernel has no seccomp filters (CONFIG_SECCOMP_FILTER)".to_owned(),
        ));
    }
    let (groups, action, deny) = match policy {
        SeccompPolicy::Deny(g, a) => (g, *a, true),
        SeccompPolicy::Allow(g, a) => (g, *a, false),
    };
    let refuse = match action {
        SeccompAction::Errno(e) => seccompiler::SeccompAction::Errno(e as u32),
        SeccompAction::Kill => seccompiler::SeccompAction::KillProcess,
    };
    let mut rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = BTreeMap::new();
    for nr in groups.iter().flat_map(|g| g.syscalls()) {
        rules.insert(nr, Vec::new());
        // x32 system calls share x86_64's audit architecture with bit 30 set in the
        // number: a deny list must name them too, or it could be walked around.
        #[cfg(target_arch = "x86_64")]
        if deny {
            rules.insert(nr | 0x4000_0000, Vec::new());
        }
    }
    let (mismatch, matched) = if deny {
        (seccompiler::SeccompAction::Allow, refuse)
    } else {
        (refuse, seccompiler::SeccompAction::Allow)
    };
    let filter = SeccompFilter::new(rules, mismatch, matched, native_arch()?)
        .map_err(|e| SpawnError::Sandbox(format!("seccomp: {e}")))?;
    let prog: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SpawnError::Sandbox(format!("seccomp: {e}")))?;
    if prog.len() > usize::from(u16::MAX) {
        return Err(SpawnError::Sandbox(
            "seccomp: the filter is too long".to_owned(),
        ));
    }
    Ok(Bpf(prog
        .into_iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_is_listed_once_and_parses_back_from_its_name() {
        for (i, g) in SeccompGroup::ALL.iter().enumerate() {
            assert_eq!(SeccompGroup::parse(g.as_str()), Some(*g));
            assert!(!SeccompGroup::ALL[..i].contains(g), "{g} listed twice");
        }
        assert_eq!(SeccompGroup::ALL[..10], SeccompGroup::DEFAULT_DENY);
        assert_eq!(SeccompGroup::parse("@RAW-IO"), Some(SeccompGroup::RawIo));
        assert_eq!(SeccompGroup::parse("@nosuch"), None);
    }
}
