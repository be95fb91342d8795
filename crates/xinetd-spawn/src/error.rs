//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

use nix::errno::Errno;

/// A step of the child set-up sequence (F-411, F-412), in the order the child runs them.
///
/// Carried by [`SpawnError::Setup`] for fatal failures and by [`SetupWarning`] for the steps
/// whose failure xinetd ignores (`nice`, the rlimits, `setsid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetupStep {
    /// Resetting signal dispositions to their defaults and unblocking every signal.
    Signals,
    /// Duplicating the connection or service socket onto fds 0, 1 and 2 (`dup2`).
    Dup,
    /// Clearing `O_NONBLOCK` on the socket handed to the server.
    ClearNonblock,
    /// Closing every descriptor above 2 (`close_range`, or the `/proc/self/fd` fallback).
    CloseFds,
    /// `chroot(dir)` (extension, `chroot = DIR`).
    Chroot,
    /// `chdir("/")` after the chroot.
    Chdir,
    /// `setgid()` (F-107).
    Setgid,
    /// `setgroups()`: the `initgroups` list when `groups = yes`, else the empty list (F-108).
    Setgroups,
    /// `setuid()` (F-106).
    Setuid,
    /// `nice()` (F-110); xinetd ignores its failure.
    Nice,
    /// `setrlimit(RLIMIT_NOFILE)` (F-012); xinetd ignores its failure.
    RlimitFiles,
    /// `setrlimit(RLIMIT_AS)` (F-133); xinetd ignores its failure.
    RlimitAs,
    /// `setrlimit(RLIMIT_CPU)` (F-134); xinetd ignores its failure.
    RlimitCpu,
    /// `setrlimit(RLIMIT_DATA)` (F-133); xinetd ignores its failure.
    RlimitData,
    /// `setrlimit(RLIMIT_RSS)` (F-133); xinetd ignores its failure.
    RlimitRss,
    /// `setrlimit(RLIMIT_STACK)` (F-133); xinetd ignores its failure.
    RlimitStack,
    /// `setsid()` (F-412); xinetd ignores its failure.
    Setsid,
    /// `setpgid(0, 0)`, instead of `setsid` with [`Session::NewProcessGroup`](crate::Session::NewProcessGroup); ignored like `setsid`.
    Setpgid,
    /// `execve()` itself (reported as [`SpawnError::ExecFailed`]).
    Exec,
    /// Socket activation ([`listen_fds`](crate::SpawnSpecBuilder::listen_fds)): opening
    /// `/dev/null` for fds 0, 1 and 2.
    DevNull,
}

impl SetupStep {
    /// The step as a short word for log lines, e.g. `setgroups` or `rlimit_files`.
    pub fn as_str(self) -> &'static str {
        match self {
            SetupStep::Signals => "signals",
            SetupStep::Dup => "dup2",
            SetupStep::ClearNonblock => "clear_nonblock",
            SetupStep::CloseFds => "close_fds",
            SetupStep::Chroot => "chroot",
            SetupStep::Chdir => "chdir",
            SetupStep::Setgid => "setgid",
            SetupStep::Setgroups => "setgroups",
            SetupStep::Setuid => "setuid",
            SetupStep::Nice => "nice",
            SetupStep::RlimitFiles => "rlimit_files",
            SetupStep::RlimitAs => "rlimit_as",
            SetupStep::RlimitCpu => "rlimit_cpu",
            SetupStep::RlimitData => "rlimit_data",
            SetupStep::RlimitRss => "rlimit_rss",
            SetupStep::RlimitStack => "rlimit_stack",
            SetupStep::Setsid => "setsid",
            SetupStep::Setpgid => "setpgid",
            SetupStep::Exec => "execve",
            SetupStep::DevNull => "open_dev_null",
        }
    }

    /// Inverse of the `u8` code the child writes into its report.
    pub(crate) fn from_code(code: u8) -> Option<SetupStep> {
        const ALL: [SetupStep; 20] = [
            SetupStep::Signals,
            SetupStep::Dup,
            SetupStep::ClearNonblock,
            SetupStep::CloseFds,
            SetupStep::Chroot,
            SetupStep::Chdir,
            SetupStep::Setgid,
            SetupStep::Setgroups,
            SetupStep::Setuid,
            SetupStep::Nice,
            SetupStep::RlimitFiles,
            SetupStep::RlimitAs,
            SetupStep::RlimitCpu,
            SetupStep::RlimitData,
            SetupStep::RlimitRss,
            SetupStep::RlimitStack,
            SetupStep::Setsid,
            SetupStep::Setpgid,
            SetupStep::Exec,
            SetupStep::DevNull,
        ];
        ALL.iter().copied().find(|s| s.code() == code)
    }

    /// A non-zero code for the child report (0 means "no step").
    pub(crate) const fn code(self) -> u8 {
        self as u8 + 1
    }
}

impl fmt::Display for SetupStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set-up step that failed in the child but that xinetd ignores (`(void) setrlimit(...)`,
/// `(void) nice(...)`, `setsid()`): the server was still executed, and the daemon may log this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetupWarning {
    /// Which step failed.
    pub step: SetupStep,
    /// The error it failed with.
    pub errno: Errno,
}

impl fmt::Display for SetupWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed (ignored, as xinetd does): {}",
            self.step, self.errno
        )
    }
}

/// Everything that can go wrong while preparing or spawning a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A fatal set-up step failed in the child; the child was reaped and never ran the server.
    #[error("server set-up step {step} failed in child {pid}: {errno}")]
    Setup {
        /// The step that failed.
        step: SetupStep,
        /// Its errno.
        errno: Errno,
        /// The pid the child had (already reaped), for xinetd-style START/EXIT log lines.
        pid: i32,
    },
    /// `execve` failed (xinetd logs `execv( %s ) failed: %m`, F-415); the child was reaped.
    #[error("execv( {} ) failed: {errno}", program.display())]
    ExecFailed {
        /// The server path given to `execve` (inside the chroot, if any).
        program: PathBuf,
        /// Its errno, e.g. `ENOENT`.
        errno: Errno,
        /// The pid the child had (already reaped).
        pid: i32,
    },
    /// Creating the child failed (`clone`; xinetd's `fork failed: %m`, F-420: retry later).
    #[error("fork failed: {0}")]
    Fork(Errno),
    /// Allocating the child's stack failed.
    #[error("cannot allocate the child stack: {0}")]
    Stack(Errno),
    /// A string of the spec (path, argument, environment entry) contains a NUL byte.
    #[error("{what} contains a NUL byte: {value:?}")]
    NulByte {
        /// Which part of the spec.
        what: &'static str,
        /// The offending value, lossily converted.
        value: String,
    },
    /// An `env` entry without `=` (xinetd: `%s has no '='`, F-121).
    #[error("{0} has no '='")]
    EnvWithoutEquals(String),
    /// `server_args` is empty while `NAMEINARGS` needs argv\[0\] from it (F-143).
    #[error("NAMEINARGS is set but server_args is empty: no argv[0]")]
    EmptyArgv,
    /// A named user is not in the password database (xinetd: `Unknown user: %s`, F-106).
    #[error("Unknown user: {0}")]
    UnknownUser(String),
    /// A named group is not in the group database (xinetd: `Unknown group: %s`, F-107).
    #[error("Unknown group: {0}")]
    UnknownGroup(String),
    /// A user or group database lookup failed (not "absent": an I/O or NSS error).
    #[error("{what} lookup failed: {errno}")]
    Lookup {
        /// What was being looked up.
        what: String,
        /// The error.
        errno: Errno,
    },
}

impl SpawnError {
    /// The errno behind this error, when there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            SpawnError::Setup { errno, .. }
            | SpawnError::ExecFailed { errno, .. }
            | SpawnError::Lookup { errno, .. } => Some(*errno),
            SpawnError::Fork(e) | SpawnError::Stack(e) => Some(*e),
            _ => None,
        }
    }
}
