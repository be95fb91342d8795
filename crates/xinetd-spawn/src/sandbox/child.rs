//! The sandbox steps the child runs between `clone` and `execve`: raw system calls on the
//! prepared plan only (see the `fork_exec` module docs: the child shares the daemon's
//! memory, so it must not allocate, lock or unwind).

use std::ffi::c_int;
use std::ptr;

use super::capabilities::CapPlan;
use super::mounts::MountOp;

fn errno() -> c_int {
    nix::errno::Errno::last_raw()
}

fn check(r: libc::c_long) -> Result<(), c_int> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// The kernel's `struct mount_attr` (include/uapi/linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Whether `mount_setattr` exists (Linux >= 5.12); called in the parent at load time.
pub(crate) fn mount_setattr_available() -> bool {
    // SAFETY: an invalid descriptor with a NULL attribute: the kernel answers EBADF or
    // EINVAL without touching memory, or ENOSYS when the call does not exist.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            c"".as_ptr(),
            0,
            ptr::null_mut::<MountAttr>(),
            0usize,
        )
    };
    !(r < 0 && errno() == libc::ENOSYS)
}

fn set_read_only(path: *const libc::c_char, read_only: bool) -> Result<(), c_int> {
    let attr = MountAttr {
        attr_set: if read_only { MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: if read_only { 0 } else { MOUNT_ATTR_RDONLY },
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `path` is a NUL-terminated path owned by the plan; `attr` lives on this
    // stack and its size is passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path,
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
}

fn bind_onto_itself(path: *const libc::c_char) -> Result<(), c_int> {
    // SAFETY: `path` is a NUL-terminated path owned by the plan.
    check(
        unsafe {
            libc::mount(
                path,
                path,
                ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                ptr::null(),
            )
        }
        .into(),
    )
}

/// Carries out the mount plan in the child's new mount namespace.
pub(crate) fn apply_mounts(ops: &[MountOp]) -> Result<(), c_int> {
    for op in ops {
        match op {
            MountOp::MakePrivate => {
                // SAFETY: static NUL-terminated strings.
                check(
                    unsafe {
                        libc::mount(
                            c"none".as_ptr(),
                            c"/".as_ptr(),
                            ptr::null(),
                            libc::MS_REC | libc::MS_PRIVATE,
                            ptr::null(),
                        )
                    }
                    .into(),
                )?;
            }
            MountOp::ReadOnlyRoot => set_read_only(c"/".as_ptr(), true)?,
            MountOp::ReadOnly(path) => {
                bind_onto_itself(path.as_ptr())?;
                set_read_only(path.as_ptr(), true)?;
            }
            MountOp::Writable(path) => {
                bind_onto_itself(path.as_ptr())?;
                set_read_only(path.as_ptr(), false)?;
            }
            MountOp::Tmpfs {
                target,
                data,
                read_only,
            } => {
                let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
                if *read_only {
                    flags |= libc::MS_RDONLY | libc::MS_NOEXEC;
                }
                // SAFETY: NUL-terminated strings owned by the plan or static.
                check(
                    unsafe {
                        libc::mount(
                            c"tmpfs".as_ptr(),
                            target.as_ptr(),
                            c"tmpfs".as_ptr(),
                            flags,
                            data.as_ptr().cast(),
                        )
                    }
                    .into(),
                )?;
            }
            MountOp::Proc => {
                // SAFETY: static NUL-terminated strings.
                check(
                    unsafe {
                        libc::mount(
                            c"proc".as_ptr(),
                            c"/proc".as_ptr(),
                            c"proc".as_ptr(),
                            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                            ptr::null(),
                        )
                    }
                    .into(),
                )?;
            }
        }
    }
    Ok(())
}

/// Brings `lo` up in the child's new network namespace (it starts down).
pub(crate) fn loopback_up() -> Result<(), c_int> {
    // SAFETY: socket takes numbers.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(errno());
    }
    // SAFETY: a zeroed ifreq is a valid value (empty name, zero flags).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS / SIOCSIFFLAGS read and write the ifreq on this stack.
    let r = unsafe {
        if libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut req as *mut libc::ifreq) < 0 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &req as *const libc::ifreq)
        }
    };
    let e = errno();
    // SAFETY: closes the socket made above.
    unsafe { libc::close(sock) };
    if r < 0 {
        Err(e)
    } else {
        Ok(())
    }
}

/// Drops the bounding set (while still root, with CAP_SETPCAP) and, for ambient
/// capabilities, asks the kernel to keep the permitted set across `setuid`.
pub(crate) fn before_setuid(plan: &CapPlan) -> Result<(), c_int> {
    for cap in 0..=plan.last_cap.min(63) {
        if plan.bounding_drop & (1u64 << cap) != 0 {
            // SAFETY: prctl takes numbers.
            check(
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) }.into(),
            )?;
        }
    }
    if plan.ambient != 0 {
        // SAFETY: prctl takes numbers.
        check(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0, 0, 0) }.into())?;
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// After `setuid` (with `PR_SET_KEEPCAPS`): permitted, inheritable and effective become the
/// ambient set, then each is raised as ambient, so the server keeps them across `execve`.
pub(crate) fn after_setuid(plan: &CapPlan) -> Result<(), c_int> {
    if plan.ambient == 0 {
        return Ok(());
    }
    let low = plan.ambient as u32;
    let high = (plan.ambient >> 32) as u32;
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: low,
            permitted: low,
            inheritable: low,
        },
        CapData {
            effective: high,
            permitted: high,
            inheritable: high,
        },
    ];
    // SAFETY: capset reads a version-3 header and two data entries, all on this stack.
    check(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })?;
    for cap in 0..=plan.last_cap.min(63) {
        if plan.ambient & (1u64 << cap) != 0 {
            // SAFETY: prctl takes numbers.
            check(
                unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                    )
                }
                .into(),
            )?;
        }
    }
    Ok(())
}

/// `PR_SET_NO_NEW_PRIVS`.
pub(crate) fn no_new_privs() -> Result<(), c_int> {
    // SAFETY: prctl takes numbers.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) }.into())
}

/// Installs the prepared filter (no_new_privs is already set).
pub(crate) fn install_seccomp(prog: &libc::sock_fprog) -> Result<(), c_int> {
    // SAFETY: `prog` points to the BPF instructions owned by the spec, alive while the
    // parent is suspended; the kernel copies them.
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_uint,
            prog as *const libc::sock_fprog,
        )
    })
}

/// The Landlock ABI version of the running kernel (<= 0: none); called in the parent.
pub(crate) fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute and size 0 and the VERSION flag the kernel only returns
    // a number.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(r).unwrap_or(0)
}

/// The kernel's `struct landlock_ruleset_attr`, file-system part only (the kernel accepts
/// a shorter structure than its own).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
}

/// The kernel's `struct landlock_net_port_attr`.
#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

const LANDLOCK_RULE_NET_PORT: libc::c_uint = 2;

/// The kernel's `struct landlock_path_beneath_attr` (packed in the UAPI header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const LANDLOCK_RULE_PATH_BENEATH: libc::c_uint = 1;

/// Builds the Landlock ruleset from the prepared rules, as the paths resolve in the child's
/// own mount namespace, and enters it (no_new_privs is already set).
pub(crate) fn landlock_restrict(plan: &super::landlock::Prepared) -> Result<(), c_int> {
    if !plan.enforces() {
        return Ok(());
    }
    let attr = RulesetAttr {
        handled_access_fs: plan.handled,
        handled_access_net: plan.handled_net,
    };
    // Kernels before ABI 4 know only the first field: pass only it when it is all we use.
    let size = if plan.handled_net == 0 {
        std::mem::size_of::<u64>()
    } else {
        std::mem::size_of::<RulesetAttr>()
    };
    // SAFETY: the attribute lives on this stack and `size` does not exceed it.
    let ruleset = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0u32,
        )
    };
    if ruleset < 0 {
        return Err(errno());
    }
    let ruleset = ruleset as c_int;
    let result = (|| {
        for rule in &plan.rules {
            // SAFETY: `path` is a NUL-terminated path owned by the spec.
            let fd = unsafe { libc::open(rule.path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(errno());
            }
            // SAFETY: a zeroed stat is a valid buffer; fstat works on O_PATH descriptors.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: `st` is a valid stat buffer on this stack.
            let is_dir = unsafe { libc::fstat(fd, &mut st) } == 0
                && st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            let beneath = PathBeneathAttr {
                allowed_access: if is_dir {
                    rule.dir_access
                } else {
                    rule.file_access
                },
                parent_fd: fd,
            };
            // SAFETY: the attribute lives on this stack.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    ruleset,
                    LANDLOCK_RULE_PATH_BENEATH,
                    &beneath as *const PathBeneathAttr,
                    0u32,
                )
            };
            let e = errno();
            // SAFETY: closes the descriptor opened above.
            unsafe { libc::close(fd) };
            if r < 0 {
                return Err(e);
            }
        }
        for &(port, access) in &plan.ports {
            let rule = NetPortAttr {
                allowed_access: access,
                port,
            };
            // SAFETY: the attribute lives on this stack.
            check(unsafe {
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    ruleset,
                    LANDLOCK_RULE_NET_PORT,
                    &rule as *const NetPortAttr,
                    0u32,
                )
            })?;
        }
        // SAFETY: landlock_restrict_self takes a descriptor number and flags.
        check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) })
    })();
    // SAFETY: closes the ruleset descriptor of this (child) process.
    unsafe { libc::close(ruleset) };
    result
}

/// Moves the child into each prepared cgroup (`0` = the writer itself).
pub(crate) fn join_cgroups(procs: &[std::ffi::CString]) -> Result<(), c_int> {
    for path in procs {
        // SAFETY: `path` is a NUL-terminated path owned by the parent's spawn frame.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: writes one byte from a static buffer to our own descriptor.
        let r = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
        let e = errno();
        // SAFETY: closes the descriptor opened above.
        unsafe { libc::close(fd) };
        if r < 0 {
            return Err(e);
        }
    }
    Ok(())
}
