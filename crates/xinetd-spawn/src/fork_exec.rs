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
    for entry in &spec.env {
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

extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Plan` of `spawn_impl`, alive and unmoved while this thread of
    // execution runs (the parent is suspended by CLONE_VFORK).
    let plan = unsafe { &*arg.cast::<Plan>() };
    let (step, errno) = run_child(plan);
    // SAFETY: the report is only written here and in `warn`, by this child, while the parent
    // is suspended.
    unsafe {
        ptr::write_volatile(ptr::addr_of_mut!((*plan.report).fatal_errno), errno);
        ptr::write_volatile(ptr::addr_of_mut!((*plan.report).fatal_step), step.code());
        libc::_exit(SETUP_FAILED_STATUS)
    }
}

fn errno() -> c_int {
    Errno::last_raw()
}

/// Records a failure xinetd ignores.
fn warn(plan: &Plan, step: SetupStep) {
    let e = errno();
    // SAFETY: see `child_main`; the index is bounds-checked against MAX_WARNINGS by `get_mut`.
    unsafe {
        let report = &mut *plan.report;
        if let Some(slot) = report.warnings.get_mut(report.n_warnings) {
            ptr::write_volatile(slot, (step.code(), e));
            ptr::write_volatile(&mut report.n_warnings, report.n_warnings.saturating_add(1));
        }
    }
}

/// The child's set-up; returns only on failure, with the failed step and errno.
/// No allocation, no panic, no lock: only system calls on prepared data.
fn run_child(plan: &Plan) -> (SetupStep, c_int) {
    macro_rules! check {
        ($step:expr, $call:expr) => {
            if $call < 0 {
                return ($step, errno());
            }
        };
    }

    // F-411: default dispositions for every signal (ignored ones stay ignored across exec
    // otherwise), then unblock all (the parent blocked them across clone). Raw
    // rt_sigaction, because glibc's sigaction refuses its internal signals 32 and 33, which
    // would then stay ignored in the server if the daemon inherited them ignored.
    // Sandbox: into the connection's cgroup before anything else runs (and while the
    // child may still write the root-owned cgroup.procs).
    if plan.n_cgroup_procs > 0 {
        // SAFETY: `cgroup_procs` points to `n_cgroup_procs` C strings in the parent's frame,
        // alive while the parent is suspended.
        let procs = unsafe { std::slice::from_raw_parts(plan.cgroup_procs, plan.n_cgroup_procs) };
        if let Err(e) = child::join_cgroups(procs) {
            return (SetupStep::Cgroup, e);
        }
    }
    reset_signal_dispositions();
    let empty: u64 = 0;
    // SAFETY: rt_sigprocmask reads an 8-byte kernel sigset, the size passed.
    check!(SetupStep::Signals, unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            ptr::null_mut::<u64>(),
            8usize,
        )
    });

    // log_stderr: the pipe is moved above 3 first, so neither layout's dup2s onto 0..3
    // overwrite it before it is copied onto 2.
    let mut err_fd = plan.stderr_fd;
    if (0..4).contains(&err_fd) {
        // SAFETY: fcntl on a descriptor number, no memory involved.
        err_fd = unsafe { libc::fcntl(err_fd, libc::F_DUPFD_CLOEXEC, 4) };
        check!(SetupStep::Dup, err_fd);
    }
    // F-412/F-414: the socket on 0, 1 and 2 — or, with socket activation, on 3 with
    // /dev/null on 0, 1 and 2 (sd_listen_fds(3)).
    let fd = if plan.listen_pid.is_null() {
        match stdio_layout(plan.conn_fd) {
            Ok(fd) => fd,
            Err(e) => return (SetupStep::Dup, e),
        }
    } else {
        match listen_fds_layout(plan) {
            Ok(fd) => fd,
            Err(e) => return e,
        }
    };
    if err_fd >= 0 {
        // SAFETY: dup2 on descriptor numbers; it clears FD_CLOEXEC on the target.
        check!(SetupStep::Dup, unsafe { libc::dup2(err_fd, 2) });
    }
    if plan.clear_nonblocking {
        // SAFETY: fcntl on a descriptor number, no memory involved.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        check!(SetupStep::ClearNonblock, flags);
        if flags & libc::O_NONBLOCK != 0 {
            // SAFETY: as above.
            check!(SetupStep::ClearNonblock, unsafe {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK)
            });
        }
    }
    // Hygiene: the daemon creates every descriptor close-on-exec; this is the defence in
    // depth that guarantees the server gets exactly 0, 1 and 2 — in O(open fds), never a
    // close() loop up to RLIMIT_NOFILE. Done before chroot, because the fallback needs /proc.
    let first_closed = if plan.listen_pid.is_null() { 3 } else { 4 };
    if let Err(e) = close_fds_from(first_closed, plan.force_proc_fd_fallback) {
        return (SetupStep::CloseFds, e);
    }

    // SAFETY: `sandbox` is null or points to the spec's prepared sandbox, alive while the
    // parent is suspended.
    let sandbox = unsafe { plan.sandbox.as_ref() };
    if let Some(sb) = sandbox {
        // Sandbox (issue 14): the private mount table and loopback, in the namespaces the
        // clone created, before chroot (the paths are the host's).
        if let Err(e) = child::apply_mounts(&sb.mounts) {
            return (SetupStep::Mount, e);
        }
        if sb.loopback_up {
            if let Err(e) = child::loopback_up() {
                return (SetupStep::Loopback, e);
            }
        }
    }

    // Extension `chroot = DIR`: while still privileged, then chdir so no directory outside
    // the jail stays reachable through the cwd.
    if !plan.chroot.is_null() {
        // SAFETY: `chroot` points to a NUL-terminated path owned by the spec.
        check!(SetupStep::Chroot, unsafe { libc::chroot(plan.chroot) });
        // SAFETY: a static NUL-terminated path.
        check!(SetupStep::Chdir, unsafe { libc::chdir(c"/".as_ptr()) });
    }

    // Sandbox: the bounding set is dropped while the child still has CAP_SETPCAP, and
    // PR_SET_KEEPCAPS keeps the permitted set across setuid for the ambient capabilities.
    if let Some(sb) = sandbox {
        if let Err(e) = child::before_setuid(&sb.caps) {
            return (SetupStep::Capabilities, e);
        }
    }

    // F-411 credentials: raw system calls (see the module docs).
    if plan.set_group_ids {
        // SAFETY: setgid takes a number.
        check!(SetupStep::Setgid, unsafe {
            libc::syscall(libc::SYS_setgid, plan.gid)
        });
        // SAFETY: `groups` points to `n_groups` gids owned by the spec (dangling but unread
        // when the length is 0, which clears the list as setgroups(0, NULL) does).
        check!(SetupStep::Setgroups, unsafe {
            libc::syscall(libc::SYS_setgroups, plan.n_groups, plan.groups)
        });
    }
    if let Some(uid) = plan.uid {
        // SAFETY: setuid takes a number.
        check!(SetupStep::Setuid, unsafe {
            libc::syscall(libc::SYS_setuid, uid)
        });
    }
    if let Some(sb) = sandbox {
        if let Err(e) = child::after_setuid(&sb.caps) {
            return (SetupStep::AmbientCapabilities, e);
        }
    }
    if let Some(mask) = plan.umask {
        // SAFETY: umask takes a number and cannot fail.
        unsafe {
            libc::umask(mask);
        }
    }
    if let Some(increment) = plan.nice {
        // nice(): relative to the current value; failure ignored as xinetd does (F-110).
        // SAFETY: getpriority/setpriority take numbers; the raw getpriority returns 20 - nice.
        unsafe {
            let raw = libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0);
            if raw < 0 {
                warn(plan, SetupStep::Nice);
            } else {
                let current = 20 - raw as c_int;
                let wanted = current.saturating_add(increment).clamp(-20, 19);
                if libc::syscall(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, wanted) < 0 {
                    warn(plan, SetupStep::Nice);
                }
            }
        }
    }

    // F-012 then F-133/F-134: soft = hard; failures ignored as xinetd's `(void) setrlimit`.
    set_rlimit(
        plan,
        libc::RLIMIT_NOFILE,
        plan.nofile,
        SetupStep::RlimitFiles,
    );
    for which in Rlimit::ALL {
        if let Some(Some(value)) = plan.rlimits.get(which.index()) {
            let (resource, step) = match which {
                Rlimit::As => (libc::RLIMIT_AS, SetupStep::RlimitAs),
                Rlimit::Cpu => (libc::RLIMIT_CPU, SetupStep::RlimitCpu),
                Rlimit::Data => (libc::RLIMIT_DATA, SetupStep::RlimitData),
                Rlimit::Rss => (libc::RLIMIT_RSS, SetupStep::RlimitRss),
                Rlimit::Stack => (libc::RLIMIT_STACK, SetupStep::RlimitStack),
            };
            set_rlimit(plan, resource, *value, step);
        }
    }

    // F-412: a session leader without a controlling tty, and the leader of a process group
    // the daemon can kill as a whole; or only the latter (see `Session`).
    if plan.new_session {
        // SAFETY: setsid has no arguments.
        if unsafe { libc::setsid() } < 0 {
            warn(plan, SetupStep::Setsid);
        }
    } else {
        // SAFETY: setpgid takes numbers.
        if unsafe { libc::setpgid(0, 0) } < 0 {
            warn(plan, SetupStep::Setpgid);
        }
    }

    // Sandbox, last: no_new_privs, then the seccomp filter (which must let execve through).
    if let Some(sb) = sandbox {
        if sb.no_new_privs {
            if let Err(e) = child::no_new_privs() {
                return (SetupStep::NoNewPrivs, e);
            }
        }
        if let Some(landlock) = &sb.landlock {
            if let Err(e) = child::landlock_restrict(landlock) {
                return (SetupStep::Landlock, e);
            }
        }
        if plan.has_seccomp {
            if let Err(e) = child::install_seccomp(&plan.seccomp) {
                return (SetupStep::Seccomp, e);
            }
        }
    }

    // SAFETY: program, argv and envp are NUL-terminated strings / NULL-terminated arrays
    // prepared by the parent and alive until it resumes.
    unsafe {
        libc::execve(plan.program, plan.argv, plan.envp);
    }
    (SetupStep::Exec, errno())
}

/// The kernel's `struct sigaction` on x86_64 and aarch64 (both define SA_RESTORER, so the
/// restorer field is present); only SIG_DFL with no flags is ever passed.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn reset_signal_dispositions() {
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads a kernel sigaction of the size of its 8-byte mask; no
        // old action is requested. Errors (none expected) leave the disposition as it was.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                ptr::null_mut::<KernelSigaction>(),
                8usize,
            );
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn reset_signal_dispositions() {
    // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask and no flags.
    let dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `dfl` is a valid sigaction; glibc refuses its internal signals (EINVAL).
        unsafe {
            libc::sigaction(sig, &dfl, ptr::null_mut());
        }
    }
}

fn set_rlimit(plan: &Plan, resource: libc::__rlimit_resource_t, value: u64, step: SetupStep) {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit reads the rlimit on this stack.
    if unsafe { libc::setrlimit(resource, &limit) } < 0 {
        warn(plan, step);
    }
}

/// Closes every descriptor >= 3: `close_range` (Linux >= 5.9), else a scan of
/// `/proc/self/fd` with raw `getdents64` into a stack buffer (no allocation).
/// xinetd's layout: `conn` on 0, 1 and 2. Returns the descriptor the server reads (0). A
/// socket that already sits on 0..2 is first moved up, so the dup2 loop never closes it
/// before copying it.
fn stdio_layout(conn: c_int) -> Result<c_int, c_int> {
    let mut fd = conn;
    if fd < 3 {
        // SAFETY: fcntl on a descriptor number, no memory involved.
        fd = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if fd < 0 {
            return Err(errno());
        }
    }
    for target in 0..3 {
        // SAFETY: dup2 on descriptor numbers; it clears FD_CLOEXEC on the target.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(errno());
        }
    }
    Ok(0)
}

/// Socket activation: `conn` on fd 3 (`SD_LISTEN_FDS_START`), `/dev/null` on 0, 1 and 2 (what
/// systemd gives a socket-activated service with `StandardInput=null` and no journal), and
/// the child's own pid written into the prepared `LISTEN_PID=` entry — the pid is only known
/// here, after clone. No allocation: the digits go into the parent's buffer (CLONE_VM).
/// Returns the descriptor the server reads (3).
fn listen_fds_layout(plan: &Plan) -> Result<c_int, (SetupStep, c_int)> {
    let mut fd = plan.conn_fd;
    // Moved above 3 first: dup2(3, 3) would keep FD_CLOEXEC, and 0..2 are about to be replaced.
    if fd <= 3 {
        // SAFETY: fcntl on a descriptor number, no memory involved.
        fd = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 4) };
        if fd < 0 {
            return Err((SetupStep::Dup, errno()));
        }
    }
    // SAFETY: a static NUL-terminated path.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if null < 0 {
        return Err((SetupStep::DevNull, errno()));
    }
    for target in 0..3 {
        // SAFETY: dup2 on descriptor numbers; it clears FD_CLOEXEC on the target.
        if unsafe { libc::dup2(null, target) } < 0 {
            return Err((SetupStep::DevNull, errno()));
        }
    }
    // SAFETY: as above; `null` is left for the close_range that follows (it is above 3 or on
    // 0..2, and close-on-exec anyway).
    if unsafe { libc::dup2(fd, 3) } < 0 {
        return Err((SetupStep::Dup, errno()));
    }
    // SAFETY: getpid takes no arguments.
    let pid = unsafe { libc::syscall(libc::SYS_getpid) };
    // SAFETY: `listen_pid` points just past `LISTEN_PID=` in a buffer the parent sized for
    // LISTEN_PID_DIGITS digits and a NUL, alive and unmoved while the parent is suspended.
    unsafe { write_decimal(plan.listen_pid, pid.unsigned_abs()) };
    Ok(3)
}

/// Room for a pid's digits in the `LISTEN_PID=` entry (pids are below 2^22 on Linux; u64
/// has at most 20 digits) plus the NUL.
pub(crate) const LISTEN_PID_DIGITS: usize = 20;

/// Writes `v` in decimal and a NUL at `out`.
///
/// # Safety
/// `out` must be valid for `LISTEN_PID_DIGITS + 1` bytes.
unsafe fn write_decimal(out: *mut u8, mut v: u64) {
    let mut digits = [0u8; LISTEN_PID_DIGITS];
    let mut n = 0;
    loop {
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + (v % 10) as u8;
        }
        n += 1;
        v /= 10;
        if v == 0 || n >= LISTEN_PID_DIGITS {
            break;
        }
    }
    for i in 0..n {
        // SAFETY: i < n <= LISTEN_PID_DIGITS, within the caller's buffer.
        unsafe { ptr::write_volatile(out.add(i), digits[n - 1 - i]) };
    }
    // SAFETY: n <= LISTEN_PID_DIGITS, so the NUL is within the buffer too.
    unsafe { ptr::write_volatile(out.add(n), 0) };
}

fn close_fds_from(first: c_int, force_fallback: bool) -> Result<(), c_int> {
    if !force_fallback {
        // SAFETY: close_range takes numbers.
        let r = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0u32) };
        if r == 0 {
            return Ok(());
        }
        let e = errno();
        if e != libc::ENOSYS && e != libc::EINVAL {
            return Err(e);
        }
    }
    close_fds_by_proc_scan(first)
}

#[repr(C, align(8))]
struct DirentBuf([u8; 2048]);

fn close_fds_by_proc_scan(first: c_int) -> Result<(), c_int> {
    // SAFETY: a static NUL-terminated path.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return Err(errno());
    }
    let mut buf = DirentBuf([0; 2048]);
    // /proc/self/fd lists descriptors in numeric order and its offsets are descriptor
    // numbers, so closing entries already returned does not make the scan skip others;
    // a second pass confirms nothing is left.
    for _pass in 0..4 {
        let mut closed_any = false;
        loop {
            // SAFETY: getdents64 writes at most `len` bytes into `buf`.
            let n = unsafe {
                libc::syscall(libc::SYS_getdents64, dir, buf.0.as_mut_ptr(), buf.0.len())
            };
            if n < 0 {
                let e = errno();
                // SAFETY: closes our own directory descriptor.
                unsafe { libc::close(dir) };
                return Err(e);
            }
            if n == 0 {
                break;
            }
            let mut off = 0usize;
            let end = n as usize;
            while off < end {
                // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
                let reclen = match buf.0.get(off + 16..off + 18) {
                    Some(b) => u16::from_ne_bytes([b[0], b[1]]) as usize,
                    None => break,
                };
                if reclen == 0 {
                    break;
                }
                let name = buf.0.get(off + 19..(off + reclen).min(end)).unwrap_or(&[]);
                if let Some(fd) = parse_fd(name) {
                    if fd >= first && fd != dir {
                        // SAFETY: closing a descriptor number of this (child) process.
                        unsafe { libc::close(fd) };
                        closed_any = true;
                    }
                }
                off += reclen;
            }
        }
        if !closed_any {
            break;
        }
        // SAFETY: rewinds our own directory descriptor.
        unsafe { libc::lseek(dir, 0, libc::SEEK_SET) };
    }
    // SAFETY: closes our own directory descriptor.
    unsafe { libc::close(dir) };
    Ok(())
}

/// The decimal number at the start of a NUL-terminated directory entry name.
fn parse_fd(name: &[u8]) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut digits = 0;
    for &b in name {
        if b == 0 {
            break;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((b - b'0') as c_int)?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

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
