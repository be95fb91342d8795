//! What runs in the child between clone and `execve`: the set-up steps in xinetd's order,
//! the descriptor layouts and the closing of inherited descriptors. Split from the parent's
//! side (`mod.rs`) because everything here obeys the rules of the module docs: no allocation,
//! no locks, raw system calls only.

use super::*;

pub(super) extern "C" fn child_main(arg: *mut c_void) -> c_int {
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
pub(super) fn parse_fd(name: &[u8]) -> Option<c_int> {
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
