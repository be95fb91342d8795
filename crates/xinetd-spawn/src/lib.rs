//! Spawning servers the way xinetd does: credentials, chroot, nice, umask, rlimits,
//! environment and descriptor layout, then `execve` — with no leaked descriptor and every
//! failure reported to the daemon as a typed error.
//!
//! The daemon builds one [`SpawnSpec`] per service when it loads the configuration
//! ([`server_argv`] for `server`/`server_args`/`NAMEINARGS`, [`Environment::for_service`]
//! for `env`/`passenv`, [`Credentials::resolve`] for `user`/`group`/`groups`, the builder for
//! `umask`, `nice`, `rlimit_*` and the `chroot` extension), then calls [`spawn`] for every
//! request with a [`Connection`] (the socket that becomes fds 0, 1 and 2, and the peer for
//! `REMOTE_HOST`). The returned [`Child`] is the server: leader of its own process group (and,
//! by default, session), so a per-connection timeout can kill everything it started.
//!
//! With [`SpawnSpecBuilder::listen_fds`] the socket goes to the server the way systemd hands
//! a socket-activated service its listener (sd_listen_fds(3)): on fd 3, with `LISTEN_FDS=1`,
//! `LISTEN_FDNAMES` and `LISTEN_PID` set to the server's own pid — which only the child knows,
//! so the child writes it into an environment entry the parent prepared, without allocating
//! — and `/dev/null` on fds 0, 1 and 2.
//!
//! ```
//! use std::io::Read;
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use xinetd_spawn::{server_argv, spawn, Connection, Environment, SpawnSpec};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let startup = Environment::from_vars([("PATH", "/usr/bin:/bin"), ("SECRET", "x")]);
//! let env = Environment::for_service(&startup, Some(&["PATH"]), &["GREETING=hello"])?;
//! let spec = SpawnSpec::builder("/bin/sh")
//!     .argv(server_argv(
//!         "/bin/sh".as_ref(),
//!         &["-c", "echo \"$GREETING from $REMOTE_HOST, secret=$SECRET\""],
//!         false,
//!     )?)
//!     .environment(env.environment)
//!     .umask(0o022)
//!     .build()?;
//!
//! // The daemon side of a connection, and the "client" side we read from.
//! let (server_side, mut client_side) = UnixStream::pair()?;
//! let conn = Connection::new(server_side.as_fd()).remote_host("192.0.2.7".parse()?);
//! let child = spawn(&spec, conn)?;
//! drop(server_side); // the daemon closes its copy after the spawn (F-400)
//!
//! let mut out = String::new();
//! client_side.read_to_string(&mut out)?;
//! assert_eq!(out, "hello from 192.0.2.7, secret=\n");
//! assert!(child.wait()?.pid().is_some());
//!
//! // A set-up or exec failure comes back as a typed error naming the step and errno.
//! let missing = SpawnSpec::builder("/nonexistent/server").build()?;
//! let (a, _b) = UnixStream::pair()?;
//! let err = spawn(&missing, Connection::new(a.as_fd())).unwrap_err();
//! assert_eq!(err.errno(), Some(nix::errno::Errno::ENOENT));
//! # Ok(())
//! # }
//! ```
//!
//! # Sandbox
//!
//! [`SpawnSpecBuilder::sandbox`] adds a per-service [`Sandbox`] (module [`sandbox`]):
//! namespaces created by the `clone` itself, a private mount table (`private_tmp`,
//! `protect_system`, `protect_home`), the bounding and ambient capability sets around
//! `setuid`, `no_new_privs`, a seccomp filter compiled by `seccompiler`, a Landlock ruleset and
//! a cgroup per connection. [`SpawnSpecBuilder::build`] checks the request against the running
//! kernel and privileges and fails with [`SpawnError::Sandbox`] naming what is missing.
//!
//! # How the child is made
//!
//! `clone(CLONE_VM | CLONE_VFORK)` (what glibc's `posix_spawn` and `std::process::Command`
//! use) with raw system calls only between clone and `execve`; everything that allocates or
//! looks up a name (argv and environment C strings, the `groups = yes` list from
//! `getgrouplist`, the RLIMIT_NOFILE rule) is prepared in the parent. The child reports a
//! failure by writing into the suspended parent's memory, exactly as glibc's `posix_spawn`
//! does, so no pipe is needed. Descriptors above 2 are closed with one `close_range(3, ~0, 0)`
//! (a `/proc/self/fd` scan on kernels before 5.9), never with a loop up to RLIMIT_NOFILE.
//! See [`spawn`] for the exact sequence and
//! [docs/compat.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md#spawning-xinetd-spawn) for the (few, documented) differences from
//! xinetd.
//!
//! # Cost
//!
//! Measured on the project's 2-vCPU VM (shared and noisy, so only same-run ratios are
//! reported). `cargo bench -p xinetd-spawn --bench interleaved`: 30 interleaved rounds of 100
//! serial spawn + `waitpid` of `/bin/true` on a socketpair per variant, as root, median per-round
//! ratio to `posix_spawn` (the ceiling's best serial variant):
//!
//! | variant | median µs | ÷ posix_spawn |
//! |---|---|---|
//! | `posix_spawn` (ceiling `spawn` mode) | 549 | 1.00 |
//! | `spawn`, full spec: nobody, `groups = yes`, umask, nice, 6 rlimits, env, `setsid` | 566 | 1.03 |
//! | same with [`Session::NewProcessGroup`] | 547 | 0.99 |
//! | `spawn`, minimal spec | 541 | 0.99 |
//! | `fork` + `dup2` + `execve` (ceiling `fork` mode, xinetd's model) | 623 | 1.13 |
//! | `std::process::Command` | 567 | 1.02 |
//!
//! With 256 MiB of touched heap in the parent, `fork` + `execve` cost 13–16× more per spawn
//! than `spawn`, which does not depend on the daemon's size (criterion group
//! `spawn_true_rss256m`). Under concurrent load the
//! `setsid` of xinetd (F-412) has a cost of its own on kernels with scheduler autogroups:
//! see [`Session`] and [docs/performance.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/performance.md#spawning-xinetd-spawn), which also has
//! an accept-loop comparison with a minimal accept+spawn baseline.
//!
//! # Why not a crate
//!
//! `nix::unistd::fork` is fork (page-table copy, the cost that scales with the daemon's RSS)
//! and `std::process::Command` cannot set supplementary groups (unstable), nice, rlimits or
//! chroot without a `pre_exec` closure, which forces its fork path. So this crate owns the
//! `unsafe` around `clone`/`execve` (module `fork_exec`, every block with a `SAFETY` comment);
//! everything else uses `nix`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod argv;
mod credentials;
mod environment;
mod error;
#[allow(unsafe_code)]
mod fork_exec;
mod rlimits;
pub mod sandbox;
mod spec;

pub use argv::server_argv;
pub use credentials::Credentials;
pub use environment::{Environment, ServiceEnvironment};
pub use error::{SetupStep, SetupWarning, SpawnError};
pub use fork_exec::{spawn, Child, Connection};
pub use rlimits::{default_nofile, Rlimit, RlimitValue};
pub use sandbox::Sandbox;
pub use spec::{Session, SharedEnvironments, SpawnSpec, SpawnSpecBuilder};

/// Re-exported for [`Child::kill_process_group`], [`Child::pid`] and [`SpawnError::errno`].
pub use nix::{errno::Errno, sys::signal::Signal, unistd::Pid};

// The README's example is compiled and run as a doc-test, so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
