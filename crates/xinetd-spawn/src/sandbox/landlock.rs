//! `landlock_read` / `landlock_write`: a Landlock ruleset built in the parent (the `landlock`
//! crate opens the paths and creates the ruleset descriptor), best effort by the kernel's
//! ABI; the child only calls `landlock_restrict_self` on the descriptor right before exec.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use landlock::{
    Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, ABI,
};

use crate::SpawnError;

/// The prepared ruleset: its descriptor (shared by the clones of the spec; the child
/// inherits it across `clone` and applies it) and what this kernel could not enforce.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) fd: Arc<OwnedFd>,
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
    let newest = ABI::from(i32::MAX);
    let mut notes = Vec::new();
    let missing = AccessFs::from_all(newest) & !AccessFs::from_all(abi);
    if !missing.is_empty() {
        notes.push(format!(
            "landlock: this kernel's ABI {version} cannot restrict {missing:?} (they stay allowed)"
        ));
    }
    let err = |e: landlock::RulesetError| fail(format!("landlock: {e}"));
    let rule = |p: &PathBuf, access| -> Result<PathBeneath<PathFd>, SpawnError> {
        let attr = if write.contains(p) {
            "landlock_write"
        } else {
            "landlock_read"
        };
        let meta =
            std::fs::metadata(p).map_err(|e| fail(format!("{attr}: {}: {e}", p.display())))?;
        let fd = PathFd::new(p).map_err(|e| fail(format!("{attr}: {}: {e}", p.display())))?;
        let access = if meta.is_dir() {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        Ok(PathBeneath::new(fd, access))
    };
    let mut created = Ruleset::default()
        // Everything this kernel knows is handled (denied unless a rule allows it).
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?;
    for p in read {
        created = created
            .add_rule(rule(p, AccessFs::from_read(abi))?)
            .map_err(err)?;
    }
    for p in write {
        created = created
            .add_rule(rule(p, AccessFs::from_all(abi))?)
            .map_err(err)?;
    }
    let fd: Option<OwnedFd> = created.into();
    let fd = fd.ok_or_else(|| fail("landlock: no ruleset descriptor".to_owned()))?;
    Ok(Prepared {
        fd: Arc::new(fd),
        notes,
    })
}
