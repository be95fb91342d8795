//! The only code of the project that runs between process creation and `execve`.
//!
//! The child is created with `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`, as glibc's
//! `posix_spawn` and Rust's `std::process::Command` do: it borrows the parent's memory and the
//! calling thread sleeps until the child has called `execve` (or exited). That avoids copying
//! the daemon's page tables (the cost of `fork` grows with the daemon's RSS) and lets the
//! child report a failure by writing into a [`Report`] in the parent's memory, like glibc's
//! `posix_spawn` does, instead of through an extra pipe: no descriptor, no extra system call on the fast path, and room for the
//! warnings of the steps xinetd ignores.
//!
//! Because the memory is shared, the child must never allocate, take a lock, unwind or touch
//! anything but the prepared [`Plan`] and its own stack. It therefore only issues raw system
//! calls (through libc's thin wrappers or `syscall(2)`): in particular `setgid`, `setgroups`
//! and `setuid` are called with `syscall(SYS_…)`, because glibc's wrappers broadcast the change
//! to every thread of the *calling process*, which here would be the daemon's threads.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::prctl::{get_dumpable, set_dumpable};
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{geteuid, Pid};

use crate::rlimits::Rlimit;
use crate::sandbox::child;
use crate::{Session, SetupStep, SetupWarning, SpawnError, SpawnSpec};

mod in_child;
use in_child::*;

/// The socket a server gets on fds 0, 1 and 2, and the peer it is for (F-414, F-410).
#[derive(Debug, Clone, Copy)]
pub struct Connection<'fd> {
    fd: BorrowedFd<'fd>,
    remote_host: Option<IpAddr>,
    vars: &'fd [String],
    stderr: Option<BorrowedFd<'fd>>,
}

impl<'fd> Connection<'fd> {
    /// The descriptor the server receives on fds 0, 1 and 2: the accepted socket for a stream
    /// `wait = no` service; the listening socket (stream) or the unconnected socket with the
    /// datagram still queued (dgram) for `wait = yes` (F-414). The daemon keeps ownership and
    /// closes its copy after [`spawn`] returns (F-400).
    pub fn new(fd: BorrowedFd<'fd>) -> Connection<'fd> {
        Connection {
            fd,
            remote_host: None,
            vars: &[],
            stderr: None,
        }
    }

    /// Per-connection variables, `NAME=VALUE` each (the daemon's `connection_env` and
    /// PROXY protocol values), added after the spec's environment and replacing any of the
    /// same name there. Entries without `=` or with a NUL byte are skipped.
    pub fn vars(mut self, vars: &'fd [String]) -> Connection<'fd> {
        self.vars = vars;
        self
    }

    /// Puts `fd` on the server's descriptor 2 instead of the socket (extension
    /// `log_stderr = yes`: the write end of a pipe the daemon reads). The daemon keeps
    /// ownership and closes its copy after [`spawn`] returns.
    pub fn stderr(mut self, fd: BorrowedFd<'fd>) -> Connection<'fd> {
        self.stderr = Some(fd);
        self
    }

    /// Sets `REMOTE_HOST` to the numeric peer address (F-410), replacing any `REMOTE_HOST` of
    /// the spec's environment. An IPv4-mapped IPv6 peer prints as `::ffff:a.b.c.d`, as xinetd
    /// 2.3.15.3 shows it on a dual-stack socket (F-001).
    pub fn remote_host(mut self, peer: IpAddr) -> Connection<'fd> {
        self.remote_host = Some(peer);
        self
    }
}

/// A running server process, leader of its own process group (and by default of its own
/// session, F-412).
///
/// Dropping it neither kills nor reaps the process: the daemon reaps every child with
/// `waitpid(-1, WNOHANG)` on `SIGCHLD` (F-416).
#[derive(Debug)]
#[must_use = "the daemon must remember the pid to account for the server and reap it"]
pub struct Child {
    pid: Pid,
    warnings: Vec<SetupWarning>,
    cgroup: Option<crate::sandbox::Cgroup>,
}

impl Child {
    /// The server's pid (also its session and process-group id).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Set-up steps that failed but, as in xinetd, did not stop the server (`nice`, the
    /// rlimits, `setsid`); the daemon should log them.
    pub fn warnings(&self) -> &[SetupWarning] {
        &self.warnings
    }

    /// The connection's cgroup (`memory_max`, `pids_max`, `cpu_max`), which the caller
    /// must [`remove`](crate::sandbox::Cgroup::remove) once the server has been reaped.
    pub fn take_cgroup(&mut self) -> Option<crate::sandbox::Cgroup> {
        self.cgroup.take()
    }

    /// Sends `signal` to the server's whole process group (e.g. `SIGKILL` on a per-connection
    /// timeout), reaching the helpers it started too.
    pub fn kill_process_group(&self, signal: Signal) -> Result<(), Errno> {
        killpg(self.pid, signal)
    }

    /// Blocks until this server exits and reaps it. For simple callers and tests; the daemon
    /// reaps with `waitpid(-1)` instead.
    pub fn wait(self) -> Result<WaitStatus, Errno> {
        let status = wait_for(self.pid);
        if let Some(cg) = &self.cgroup {
            cg.remove();
        }
        status
    }
}

fn wait_for(pid: Pid) -> Result<WaitStatus, Errno> {
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

const MAX_WARNINGS: usize = 8;

/// What the child writes back into the parent's memory before it execs or exits.
#[repr(C)]
struct Report {
    fatal_step: u8,
    fatal_errno: i32,
    n_warnings: usize,
    warnings: [(u8, i32); MAX_WARNINGS],
}

/// Everything the child needs, as raw pointers and numbers prepared by the parent.
struct Plan {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    conn_fd: c_int,
    /// Socket activation (`SpawnSpecBuilder::listen_fds`): the `LISTEN_PID=` entry of `envp`
    /// with room for the digits, which the child fills with its own pid; null otherwise.
    listen_pid: *mut u8,
    /// Descriptor for fd 2 instead of the socket, or -1.
    stderr_fd: c_int,
    clear_nonblocking: bool,
    force_proc_fd_fallback: bool,
    chroot: *const c_char,
    set_group_ids: bool,
    gid: libc::gid_t,
    groups: *const libc::gid_t,
    n_groups: usize,
    uid: Option<libc::uid_t>,
    umask: Option<libc::mode_t>,
    nice: Option<c_int>,
    nofile: u64,
    rlimits: [Option<u64>; 5],
    new_session: bool,
    /// The prepared sandbox, or null.
    sandbox: *const crate::sandbox::Prepared,
    /// The seccomp program (pointing into the sandbox's BPF), when `has_seccomp`.
    seccomp: libc::sock_fprog,
    has_seccomp: bool,
    /// `cgroup.procs` paths the child writes itself into, first.
    cgroup_procs: *const CString,
    n_cgroup_procs: usize,
    report: *mut Report,
}

/// Size of the child's stack; the child code needs a few KiB (a 2 KiB getdents buffer plus
/// thin libc wrappers), debug builds included.
const STACK_SIZE: usize = 64 * 1024;

thread_local! {
    /// The child stack of this thread's previous spawn (the thread is suspended while a child
    /// uses it, so one per thread is enough).
    static CACHED_STACK: Cell<Option<ChildStack>> = const { Cell::new(None) };
}

/// An mmap'ed stack with a guard page at its low end, unmapped on drop.
struct ChildStack {
    base: *mut c_void,
    len: usize,
}

impl ChildStack {
    fn new() -> Result<ChildStack, SpawnError> {
        let page = 4096;
        let len = STACK_SIZE + page;
        // SAFETY: an anonymous private mapping with no address hint has no preconditions; the
        // result is checked against MAP_FAILED.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(SpawnError::Stack(Errno::last()));
        }
        let stack = ChildStack { base, len };
        // SAFETY: `base` is the start of the page-aligned mapping of `len > page` bytes made
        // above; protecting its first page turns an overflow into a fault in the child instead
        // of a silent write into the parent's memory.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(SpawnError::Stack(Errno::last()));
        }
        Ok(stack)
    }

    fn top(&self) -> *mut c_void {
        // The stack grows down on every Linux target we build for; the top is 16-aligned
        // because the mapping is page-aligned and `len` a multiple of the page size.
        self.base.cast::<u8>().wrapping_add(self.len).cast()
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no child uses it any more because
        // CLONE_VFORK returns only after the child exec'ed or exited.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

/// Starts the server described by `spec` on `conn`, performing xinetd's child set-up sequence
/// (F-411, F-412) and `execve`.
///
/// In the child, in this order: every signal back to its default disposition and an empty
/// signal mask; `conn` onto fds 0, 1 and 2 (made blocking unless disabled); every other
/// descriptor closed with `close_range(3, ~0, 0)`; `chroot(dir)` + `chdir("/")` if set; if
/// `user` or `group` is set and the daemon is root: `setgid`, then `setgroups` (the
/// `groups = yes` list, else empty); if `user` is set: `setuid` (attempted even when not
/// root, as xinetd does); `umask`; `nice`; `RLIMIT_NOFILE` (F-012) then `rlimit_as`, `_cpu`,
/// `_data`, `_rss`, `_stack`; `setsid` (or `setpgid(0, 0)`, see [`Session`]);
/// `execve(server, argv, env + REMOTE_HOST)`. With socket activation
/// ([`listen_fds`](crate::SpawnSpecBuilder::listen_fds)) `conn` goes on fd 3 instead, fds 0..2
/// get `/dev/null`, everything above 3 is closed, and the child writes its own pid into the
/// `LISTEN_PID=` entry.
///
/// Returns once the child has exec'ed. A failure of any fatal step (everything except
/// `nice`, the rlimits and `setsid`, which xinetd ignores and which show up in
/// [`Child::warnings`]) is returned as [`SpawnError::Setup`] or [`SpawnError::ExecFailed`]
/// naming the step and errno; that child has already been reaped.
///
/// Thread-safe, and the calling thread sleeps only until the child has exec'ed (about the
/// cost of loading the server image, not its run time). One caveat for reaping: a failed child
/// is reaped here with `waitpid(pid)`; a daemon that reaps with `waitpid(-1)` *on another
/// thread at the same time* could collect it first and see an unknown pid. A single-threaded
/// event loop that reaps on `SIGCHLD` (xinetd's model) never races with this.
pub fn spawn(spec: &SpawnSpec, conn: Connection<'_>) -> Result<Child, SpawnError> {
    spawn_impl(spec, conn, false, false)
}

/// [`spawn`] with the `/proc/self/fd` fallback of the descriptor clean-up forced, so the
/// unit tests exercise the path taken on kernels older than 5.9 (no `close_range`).
#[cfg(test)]
fn spawn_with_proc_fd_fallback(
    spec: &SpawnSpec,
    conn: Connection<'_>,
) -> Result<Child, SpawnError> {
    spawn_impl(spec, conn, true, false)
}

/// [`spawn`] with the child joining its cgroup itself (the fallback where
/// `clone3(CLONE_INTO_CGROUP)` is unavailable), for the unit tests.
#[cfg(test)]
fn spawn_with_child_joining_cgroup(
    spec: &SpawnSpec,
    conn: Connection<'_>,
) -> Result<Child, SpawnError> {
    spawn_impl(spec, conn, false, true)
}

fn spawn_impl(
    spec: &SpawnSpec,
    conn: Connection<'_>,
    force_proc_fd_fallback: bool,
    force_child_joins_cgroup: bool,
) -> Result<Child, SpawnError> {
    // Everything that allocates happens here, before the child exists.
    let remote_host = conn.remote_host.map(|ip| {
        CString::new(format!("REMOTE_HOST={ip}"))
            .expect("a formatted IP address contains no NUL byte")
    });
    let vars: Vec<CString> = conn
        .vars
        .iter()
        .filter(|v| v.find('=').is_some_and(|i| i > 0))
        .filter_map(|v| CString::new(v.as_bytes()).ok())
        .collect();
    // A per-connection variable replaces the spec's entry of the same name.
    let replaced = |e: &[u8]| {
        let name = |v: &[u8]| v.iter().position(|&b| b == b'=').map(|i| v[..=i].to_vec());
        let Some(n) = name(e) else {
            return false;
        };
        vars.iter()
            .any(|v| name(v.as_bytes()).as_deref() == Some(&n[..]))
    };
    let mut envp: Vec<*const c_char> = Vec::with_capacity(spec.env.len() + vars.len() + 5);
    let activation = spec.listen_fds.as_ref();
    for entry in spec.env.iter() {
        let e = entry.as_bytes();
        if remote_host.is_some() && e.starts_with(b"REMOTE_HOST=") {
            continue;
        }
        if replaced(e) {
            continue;
        }
        // Socket activation: the spec's own LISTEN_* entries replace any inherited ones.
        if activation.is_some() && crate::spec::is_listen_variable(e) {
            continue;
        }
        envp.push(entry.as_ptr());
    }
    if let Some(entry) = &remote_host {
        envp.push(entry.as_ptr());
    }
    envp.extend(vars.iter().map(|v| v.as_ptr()));
    // `LISTEN_PID=` and room for the digits the child writes (its pid exists only after
    // clone). Filled with NULs, so it is a valid C string even before the child writes.
    let mut listen_pid_entry = [0u8; 11 + LISTEN_PID_DIGITS + 1];
    listen_pid_entry[..11].copy_from_slice(b"LISTEN_PID=");
    let listen_pid: *mut u8 = match activation {
        Some(a) => {
            // One raw pointer for both uses: the child writes through it, execve reads it.
            let entry = listen_pid_entry.as_mut_ptr();
            envp.push(a.fds.as_ptr());
            envp.push(a.names.as_ptr());
            envp.push(entry.cast_const().cast());
            entry.wrapping_add(11)
        }
        None => ptr::null_mut(),
    };
    envp.push(ptr::null());
    let mut argv: Vec<*const c_char> = Vec::with_capacity(spec.argv.len() + 1);
    argv.extend(spec.argv.iter().map(|a| a.as_ptr()));
    argv.push(ptr::null());

    let mut report = Report {
        fatal_step: 0,
        fatal_errno: 0,
        n_warnings: 0,
        warnings: [(0, 0); MAX_WARNINGS],
    };
    let wants_ids = spec.uid.is_some() || spec.gid.is_some();
    // The connection's cgroup is made (with its limits) before the child exists.
    let (cgroup, cgroup_procs) = match spec.sandbox.as_ref().and_then(|s| s.cgroup.as_ref()) {
        Some(prepared) => {
            let (cg, procs) = prepared.create()?;
            (Some(cg), procs)
        }
        None => (None, Vec::new()),
    };
    let bpf = spec.sandbox.as_ref().and_then(|s| s.seccomp.as_ref());
    // cgroup v2: the server is created inside its cgroup by clone3(CLONE_INTO_CGROUP) and
    // does not write cgroup.procs itself (unless clone3 turns out to be unavailable).
    let into_cgroup = cgroup
        .as_ref()
        .filter(|_| !force_child_joins_cgroup && !CLONE3_UNAVAILABLE.load(Ordering::Relaxed))
        .and_then(|cg| cg.v2_dir())
        .and_then(|dir| open_cgroup_dir(dir).ok());
    let joins = if into_cgroup.is_some() {
        &[][..]
    } else {
        &cgroup_procs[..]
    };
    let mut plan = Plan {
        program: spec.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        conn_fd: conn.fd.as_raw_fd(),
        listen_pid,
        stderr_fd: conn.stderr.map_or(-1, |f| f.as_raw_fd()),
        clear_nonblocking: spec.clear_nonblocking,
        force_proc_fd_fallback,
        chroot: spec.chroot.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
        // F-411: group changes only when xinetd is root.
        set_group_ids: wants_ids && geteuid().is_root(),
        gid: spec.gid.or(spec.uid).unwrap_or(0),
        groups: spec.groups.as_ptr(),
        n_groups: spec.groups.len(),
        uid: spec.uid,
        umask: spec.umask,
        nice: spec.nice,
        nofile: spec.nofile,
        rlimits: spec.rlimits,
        new_session: spec.session == Session::NewSession,
        sandbox: spec.sandbox.as_ref().map_or(ptr::null(), ptr::from_ref),
        seccomp: libc::sock_fprog {
            len: bpf.map_or(0, |b| b.0.len() as libc::c_ushort),
            filter: bpf.map_or(ptr::null_mut(), |b| b.0.as_ptr().cast_mut()),
        },
        has_seccomp: bpf.is_some(),
        cgroup_procs: joins.as_ptr(),
        n_cgroup_procs: joins.len(),
        report: &mut report,
    };
    let clone_flags = spec.sandbox.as_ref().map_or(0, |s| s.clone_flags);
    if wants_ids {
        // Captured before the first child can change it (see `restore_dumpable`).
        daemon_dumpable();
    }
    // One stack per spawning thread, reused: saves an mmap, an mprotect, a munmap (with its
    // TLB shoot-down) and the first-touch page faults on every spawn.
    let stack = match CACHED_STACK.try_with(Cell::take).ok().flatten() {
        Some(stack) => stack,
        None => ChildStack::new()?,
    };

    // Block every signal across clone so no handler of the daemon ever runs on the child's
    // stack with the shared memory; the child resets dispositions, then unblocks.
    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises `all`; pthread_sigmask only reads `all` and writes `old`,
    // both valid sigset_t storage on this stack.
    let masked = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr())
    };
    if masked != 0 {
        return Err(SpawnError::Fork(Errno::from_raw(masked)));
    }
    // The sandbox's namespaces (network, IPC, UTS, PID, mount) are created by the clone
    // itself: with CLONE_NEWPID the server is PID 1 of its namespace without an extra fork,
    // and the daemon still sees (and reaps) its real pid.
    let mut started_in_cgroup = false;
    let mut created: Option<(c_int, Errno)> = None;
    if let Some(dir) = &into_cgroup {
        match clone3_into_cgroup(&plan, &stack, clone_flags, dir.as_fd()) {
            Ok(pid) => {
                started_in_cgroup = true;
                created = Some((pid, Errno::UnknownErrno));
            }
            Err(e) => {
                // Fallback: the child writes itself into cgroup.procs (kernel < 5.7, clone3
                // filtered by a container's seccomp profile, ...).
                if matches!(e, Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL) {
                    CLONE3_UNAVAILABLE.store(true, Ordering::Relaxed);
                }
                plan.cgroup_procs = cgroup_procs.as_ptr();
                plan.n_cgroup_procs = cgroup_procs.len();
            }
        }
    }
    let (pid, clone_errno) = match created {
        Some(done) => done,
        None => {
            // SAFETY: `child_main` only reads `plan` (and what it points to: `spec`, `argv`,
            // `envp`, `remote_host`, all alive until this function returns) and writes
            // `report` and the digits of `listen_pid_entry` (a local of this frame, which
            // `envp` points into and which nothing else touches until the child is gone);
            // CLONE_VFORK suspends this thread until the child has exec'ed or exited, so
            // nothing here is freed or moved while the child uses it, and the child runs on
            // its own `stack`.
            let pid = unsafe {
                libc::clone(
                    child_main,
                    stack.top(),
                    libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | clone_flags,
                    ptr::addr_of!(plan).cast_mut().cast(),
                )
            };
            (pid, Errno::last())
        }
    };
    // SAFETY: restores the mask saved above (initialised by the successful pthread_sigmask).
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut());
    }
    // During thread teardown the cache is gone: the stack is then simply unmapped.
    let _ = CACHED_STACK.try_with(|cached| cached.set(Some(stack)));
    if wants_ids {
        restore_dumpable();
    }
    if pid < 0 {
        if let Some(cg) = &cgroup {
            cg.remove();
        }
        return Err(SpawnError::Fork(clone_errno));
    }
    let pid = Pid::from_raw(pid);
    // SAFETY: the child is done with the shared memory (CLONE_VFORK); a volatile read makes
    // sure the compiler does not reuse values it read before the clone.
    let report = unsafe { ptr::read_volatile(plan.report) };
    let warnings = report
        .warnings
        .iter()
        .take(report.n_warnings.min(MAX_WARNINGS))
        .filter_map(|&(step, errno)| {
            SetupStep::from_code(step).map(|step| SetupWarning {
                step,
                errno: Errno::from_raw(errno),
            })
        })
        .collect();
    if let Some(step) = SetupStep::from_code(report.fatal_step) {
        // The child has exited (_exit) or is about to; reap it so it never shows up as an
        // unknown child of the daemon.
        let _ = wait_for(pid);
        if let Some(cg) = &cgroup {
            cg.remove();
        }
        let errno = Errno::from_raw(report.fatal_errno);
        return Err(if step == SetupStep::Exec {
            SpawnError::ExecFailed {
                program: spec.program_path.clone(),
                errno,
                pid: pid.as_raw(),
            }
        } else {
            SpawnError::Setup {
                step,
                errno,
                pid: pid.as_raw(),
            }
        });
    }
    let mut cgroup = cgroup;
    if let Some(cg) = &mut cgroup {
        cg.set_started_inside(started_in_cgroup);
    }
    Ok(Child {
        pid,
        warnings,
        cgroup,
    })
}

/// Set once `clone3(CLONE_INTO_CGROUP)` failed in a way that says this kernel (or a seccomp
/// profile around the daemon) does not offer it: later spawns go straight to the fallback.
static CLONE3_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// `CLONE_INTO_CGROUP` (Linux 5.7, include/uapi/linux/sched.h); not in the libc crate.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The connection's v2 cgroup directory, for `clone_args.cgroup`.
fn open_cgroup_dir(dir: &std::path::Path) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(
        dir,
        OFlag::O_DIRECTORY | OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

/// `clone3` with the same semantics as the `clone(CLONE_VM | CLONE_VFORK)` of
/// [`spawn_impl`], plus `CLONE_INTO_CGROUP`: the child exists inside `cgroup` from its
/// creation (it is charged there before it runs a single instruction, and needs no write to
/// `cgroup.procs`). Returns the child's pid once it has exec'ed or exited.
///
/// glibc exports no `clone3` wrapper, and a raw `syscall(SYS_clone3)` cannot start a child on
/// a new stack (it would return into the wrapper's frame on a stack with no frames), so the
/// child's entry is a few instructions of assembly: on the new stack, call
/// `child_main(plan)`, which never returns (it execs or `_exit`s); the `exit` after the call
/// is a guard only.
#[cfg(target_arch = "x86_64")]
fn clone3_into_cgroup(
    plan: &Plan,
    stack: &ChildStack,
    namespaces: c_int,
    cgroup: BorrowedFd<'_>,
) -> Result<c_int, Errno> {
    let mut args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK | namespaces) as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.base as u64,
        stack_size: stack.len as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let entry: extern "C" fn(*mut c_void) -> c_int = child_main;
    let ret: i64;
    // SAFETY: clone3 reads `args` (alive on this frame). In the parent it returns the pid or
    // -errno in rax and clobbers only rcx and r11 (declared). The child starts on `stack`
    // (the kernel sets rsp to stack + stack_size, 16-aligned: the mapping is page-aligned and
    // its length a multiple of the page size), with every other register as the parent had
    // it, so r12/r13 still hold `child_main` and `plan`; it calls `child_main`, which only
    // reads `plan` and writes `report` (see `spawn_impl`) and ends in execve or _exit, while
    // CLONE_VFORK keeps this thread suspended: nothing the child uses is freed or moved.
    // `nostack`: the parent's path pushes nothing.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, 60",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") ptr::addr_of_mut!(args),
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") entry,
            in("r13") ptr::from_ref(plan),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        Err(Errno::from_raw(-ret as i32))
    } else {
        Ok(ret as c_int)
    }
}

/// Other architectures: no assembly entry written (yet); the child joins its cgroup itself.
#[cfg(not(target_arch = "x86_64"))]
fn clone3_into_cgroup(
    _plan: &Plan,
    _stack: &ChildStack,
    _namespaces: c_int,
    _cgroup: BorrowedFd<'_>,
) -> Result<c_int, Errno> {
    Err(Errno::ENOSYS)
}

/// The daemon's "dumpable" attribute as it was before any child changed identity.
fn daemon_dumpable() -> bool {
    static DUMPABLE: OnceLock<bool> = OnceLock::new();
    *DUMPABLE.get_or_init(|| get_dumpable().unwrap_or(true))
}

/// A child that changes its euid/egid makes the kernel mark its *address space* non-dumpable
/// (`commit_creds` → `set_dumpable(mm, suid_dumpable)`); with CLONE_VM that is the daemon's
/// address space, which would lose core dumps and `/proc/<pid>` ownership. Put it back.
fn restore_dumpable() {
    if daemon_dumpable() && get_dumpable() == Ok(false) {
        let _ = set_dumpable(true);
    }
}

/// Exit status of a child whose set-up failed; never observed by the daemon because
/// [`spawn`] reaps such a child itself.
const SETUP_FAILED_STATUS: c_int = 127;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_fd_reads_decimal_names() {
        assert_eq!(parse_fd(b"17\0\0\0"), Some(17));
        assert_eq!(parse_fd(b".\0"), None);
        assert_eq!(parse_fd(b"..\0"), None);
        assert_eq!(parse_fd(b"\0"), None);
        assert_eq!(parse_fd(b"99999999999\0"), None);
    }

    /// The /proc/self/fd fallback (kernels < 5.9) also leaves exactly 0-2.
    #[test]
    fn proc_fd_fallback_closes_everything() {
        use std::collections::BTreeSet;
        use std::os::fd::{AsFd, OwnedFd};
        use std::os::unix::net::UnixStream;
        use std::time::{Duration, Instant};

        let _leaks: Vec<(OwnedFd, OwnedFd)> = (0..20)
            .map(|_| nix::unistd::pipe().expect("pipe"))
            .collect();
        // cat blocks reading the connection until we close our end.
        let spec = SpawnSpec::builder("/bin/cat")
            .argv(["cat"])
            .build()
            .expect("spec");
        let (server, client) = UnixStream::pair().expect("socketpair");
        let child =
            spawn_with_proc_fd_fallback(&spec, Connection::new(server.as_fd())).expect("spawn");
        drop(server);
        let fds = || -> BTreeSet<i32> {
            std::fs::read_dir(format!("/proc/{}/fd", child.pid()))
                .map(|dir| {
                    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        // The dynamic loader may hold a library open for a moment after exec: wait for the
        // set to settle, with a deadline; a leaked descriptor never goes away.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = fds();
        while seen != BTreeSet::from([0, 1, 2]) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            seen = fds();
        }
        assert_eq!(seen, BTreeSet::from([0, 1, 2]));
        drop(client);
        assert!(child.wait().expect("wait").pid().is_some());
    }

    /// The fallback of clone3(CLONE_INTO_CGROUP): the child writes itself into
    /// `cgroup.procs` before anything else, and ends up in the same place.
    #[test]
    fn without_clone3_the_child_joins_its_v2_cgroup_itself() {
        use std::io::Read;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;

        if !geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let Some(mount) = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))?
        }) else {
            eprintln!("skipped: no cgroup v2 hierarchy");
            return;
        };
        let root = mount.join(format!("xinetd-spawn-unit-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir(&root) {
            eprintln!("skipped: {}: {e}", root.display());
            return;
        }
        let s = crate::Sandbox {
            cgroup_root: Some(root.clone()),
            ..Default::default()
        };
        let spec = SpawnSpec::builder("/bin/cat")
            .argv(["cat", "/proc/self/cgroup"])
            .sandbox(s)
            .build()
            .expect("spec");
        let (server, mut client) = UnixStream::pair().expect("socketpair");
        let mut child =
            spawn_with_child_joining_cgroup(&spec, Connection::new(server.as_fd())).expect("spawn");
        drop(server);
        let cg = child.take_cgroup().expect("a cgroup");
        let mut out = String::new();
        client.read_to_string(&mut out).expect("read");
        child.wait().expect("wait");
        let dir = cg.paths()[0].clone();
        cg.remove();
        let _ = std::fs::remove_dir(root.join("xinetd-rs"));
        let _ = std::fs::remove_dir(&root);
        assert!(!cg.started_inside());
        let shown = format!("0::/{}", dir.strip_prefix(&mount).expect("under").display());
        assert!(out.lines().any(|l| l == shown), "{shown} not in {out}");
    }

    #[test]
    fn step_codes_round_trip() {
        for code in 1..=27u8 {
            let step = SetupStep::from_code(code).unwrap();
            assert_eq!(step.code(), code);
        }
        assert_eq!(SetupStep::from_code(0), None);
    }
}
