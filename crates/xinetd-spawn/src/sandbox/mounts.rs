//! The private mount table of `private_tmp`, `protect_system`, `protect_home`,
//! `read_write_paths` and the `/proc` of `private_pid`: planned (paths checked, C strings
//! made) in the parent, carried out by `child::apply_mounts` in the child's new mount
//! namespace.

use std::ffi::CString;
use std::path::Path;

use super::{c_path, ProtectHome, ProtectSystem, Sandbox};
use crate::SpawnError;

/// One step of the child's mount set-up, in order.
#[derive(Debug, Clone)]
pub(crate) enum MountOp {
    /// `/` and everything below stop propagating to the daemon's namespace (`MS_PRIVATE`).
    MakePrivate,
    /// The whole tree read-only (`protect_system = strict`).
    ReadOnlyRoot,
    /// Bind the path onto itself, then read-only, recursively.
    ReadOnly(CString),
    /// Bind the path onto itself, then writable again, recursively (`read_write_paths`).
    Writable(CString),
    /// A fresh tmpfs (`private_tmp`; with mode 000 and read-only for `protect_home = yes`).
    Tmpfs {
        target: CString,
        data: CString,
        read_only: bool,
    },
    /// A new `proc` on `/proc`, showing the server's PID namespace (`private_pid`).
    Proc,
}

impl MountOp {
    /// Whether the step uses `mount_setattr` (Linux >= 5.12).
    fn needs_mount_setattr(&self) -> bool {
        matches!(
            self,
            MountOp::ReadOnlyRoot | MountOp::ReadOnly(_) | MountOp::Writable(_)
        )
    }
}

fn is_dir(p: &str) -> bool {
    Path::new(p).is_dir()
}

pub(crate) fn plan(s: &Sandbox) -> Result<Vec<MountOp>, SpawnError> {
    let missing = |m: String| SpawnError::Sandbox(m);
    let mut ops = vec![MountOp::MakePrivate];
    let c = |p: &str| c_path(Path::new(p));
    match s.protect_system {
        ProtectSystem::No => {}
        ProtectSystem::Yes | ProtectSystem::Full => {
            let mut dirs = vec!["/usr", "/boot"];
            if s.protect_system == ProtectSystem::Full {
                dirs.push("/etc");
            }
            for d in dirs.into_iter().filter(|d| is_dir(d)) {
                ops.push(MountOp::ReadOnly(c(d)?));
            }
        }
        ProtectSystem::Strict => ops.push(MountOp::ReadOnlyRoot),
    }
    match s.protect_home {
        ProtectHome::No => {}
        ProtectHome::Yes => {
            for d in ["/home", "/root", "/run/user"]
                .into_iter()
                .filter(|d| is_dir(d))
            {
                ops.push(MountOp::Tmpfs {
                    target: c(d)?,
                    data: c("mode=000,size=4k")?,
                    read_only: true,
                });
            }
        }
        ProtectHome::ReadOnly => {
            for d in ["/home", "/root", "/run/user"]
                .into_iter()
                .filter(|d| is_dir(d))
            {
                ops.push(MountOp::ReadOnly(c(d)?));
            }
        }
    }
    if !s.read_write_paths.is_empty() && s.protect_system == ProtectSystem::No {
        return Err(missing(
            "read_write_paths only makes sense with protect_system".to_owned(),
        ));
    }
    for p in &s.read_write_paths {
        if !p.is_absolute() || !p.exists() {
            return Err(missing(format!(
                "read_write_paths: {} does not exist (or is not absolute)",
                p.display()
            )));
        }
        ops.push(MountOp::Writable(c_path(p)?));
    }
    if s.private_tmp {
        if !is_dir("/tmp") {
            return Err(missing("private_tmp: /tmp is not a directory".to_owned()));
        }
        for d in ["/tmp", "/var/tmp"].into_iter().filter(|d| is_dir(d)) {
            ops.push(MountOp::Tmpfs {
                target: c(d)?,
                data: c("mode=1777")?,
                read_only: false,
            });
        }
    }
    if s.private_pid {
        ops.push(MountOp::Proc);
    }
    if ops.iter().any(MountOp::needs_mount_setattr) && !super::child::mount_setattr_available() {
        return Err(missing(
            "protect_system/protect_home need mount_setattr (Linux >= 5.12)".to_owned(),
        ));
    }
    Ok(ops)
}
