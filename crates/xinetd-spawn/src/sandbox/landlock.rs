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

use landlock::{Access, AccessFs, ABI};

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
    /// Every file-system right this kernel knows: all denied unless a rule grants them.
    pub(crate) handled: u64,
    pub(crate) rules: Vec<Rule>,
    /// What this kernel could not enforce.
    pub(crate) notes: Vec<String>,
}

pub(crate) fn prepare(read: &[PathBuf], write: &[PathBuf]) -> Result<Prepared, SpawnError> {
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
        notes.push(format!(
            "landlock: this kernel's ABI {version} cannot restrict {} (allowed everywhere)",
            names.join(", ")
        ));
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
    Ok(Prepared {
        handled: AccessFs::from_all(abi).bits(),
        rules,
        notes,
    })
}
