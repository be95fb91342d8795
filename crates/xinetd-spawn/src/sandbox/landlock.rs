//! `landlock_read` / `landlock_write`: access masks chosen in the parent by the kernel's
//! Landlock ABI (with the `landlock` crate's per-ABI rights), the ruleset built and entered
//! by the child right before exec (`child::landlock_restrict`).
//!
//! The ruleset is built in the child, not in the daemon, because a rule names the file
//! hierarchy the opened path resolves to: opened in the daemon, `/tmp` or `/proc` would be the
//! daemon's, not the server's private tmpfs or its new `/proc`. Opening a path with `O_PATH`
//! and the three Landlock calls are plain system calls, safe in the child.

use std::ffi::CString;
use std::path::PathBuf;

use landlock::{Access, AccessFs, AccessNet, ABI};

use super::c_path;
use crate::SpawnError;

/// One rule: the path and the rights it grants beneath it (the second mask when the path
/// turns out to be a file, which only takes file rights).
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) path: CString,
    pub(crate) dir_access: u64,
    pub(crate) file_access: u64,
}

/// The prepared Landlock part of a spec.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Every file-system right this kernel knows when file-system rules are asked for (all
    /// denied unless a rule grants them), else 0.
    pub(crate) handled: u64,
    pub(crate) rules: Vec<Rule>,
    /// TCP bind / connect when asked for and the kernel has them (ABI >= 4), else 0.
    pub(crate) handled_net: u64,
    /// (port, rights) rules.
    pub(crate) ports: Vec<(u64, u64)>,
    /// What this kernel could not enforce.
    pub(crate) notes: Vec<String>,
}

pub(crate) fn prepare(
    read: &[PathBuf],
    write: &[PathBuf],
    tcp_bind: Option<&[u16]>,
    tcp_connect: Option<&[u16]>,
) -> Result<Prepared, SpawnError> {
    let fail = |m: String| SpawnError::Sandbox(m);
    let version = super::child::landlock_abi();
    let abi = ABI::from(version);
    if abi == ABI::Unsupported {
        return Err(fail(
            "landlock_read/landlock_write: this kernel has no Landlock (not built in, or not enabled at boot: lsm=…,landlock)"
                .to_owned(),
        ));
    }
    let mut notes = Vec::new();
    let newest = ABI::from(i32::MAX);
    let missing = AccessFs::from_all(newest) & !AccessFs::from_all(abi);
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|a| format!("{a:?}")).collect();
        if !read.is_empty() || !write.is_empty() {
            notes.push(format!(
                "landlock: this kernel's ABI {version} cannot restrict {} (allowed everywhere)",
                names.join(", ")
            ));
        }
    }
    let net_all = AccessNet::from_all(abi);
    let mut handled_net = 0;
    let mut ports = Vec::new();
    for (attr, list, right) in [
        ("landlock_tcp_bind", tcp_bind, AccessNet::BindTcp),
        ("landlock_tcp_connect", tcp_connect, AccessNet::ConnectTcp),
    ] {
        let Some(list) = list else { continue };
        if !net_all.contains(right) {
            notes.push(format!(
                "landlock: this kernel's ABI {version} has no TCP rules (ABI 4): {attr} is not enforced"
            ));
            continue;
        }
        handled_net |= right as u64;
        for port in list {
            ports.push((u64::from(*port), right as u64));
        }
    }
    let file = AccessFs::from_file(abi);
    let mut rules = Vec::new();
    for (attr, paths, access) in [
        ("landlock_read", read, AccessFs::from_read(abi)),
        ("landlock_write", write, AccessFs::from_all(abi)),
    ] {
        for p in paths {
            // Checked here so a typo disables the service at load; the child opens the path
            // again in its own mount namespace.
            std::fs::metadata(p).map_err(|e| fail(format!("{attr}: {}: {e}", p.display())))?;
            rules.push(Rule {
                path: c_path(p)?,
                dir_access: access.bits(),
                file_access: (access & file).bits(),
            });
        }
    }
    let handled = if read.is_empty() && write.is_empty() {
        0
    } else {
        AccessFs::from_all(abi).bits()
    };
    // Only TCP rules asked for on a kernel without them: nothing is entered (the notes say
    // so), see `enforces`.
    Ok(Prepared {
        handled,
        rules,
        handled_net,
        ports,
        notes,
    })
}

impl Prepared {
    /// Whether the child has a domain to enter.
    pub(crate) fn enforces(&self) -> bool {
        self.handled != 0 || self.handled_net != 0
    }
}
