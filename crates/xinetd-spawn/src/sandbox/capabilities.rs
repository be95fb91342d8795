//! `capabilities` and `ambient_capabilities`: checked and turned into bit masks in the
//! parent; applied by the child around `setuid` (see `child::drop_bounding_set` and
//! `child::raise_ambient`).

use super::Sandbox;
use crate::SpawnError;

/// A Linux capability (`CAP_NET_BIND_SERVICE`, …), from the `caps` crate.
pub use caps::Capability;

/// What the child does with capabilities.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapPlan {
    /// Bounding-set capabilities to drop (bit n = capability n), before `setuid`.
    pub(crate) bounding_drop: u64,
    /// The highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`).
    pub(crate) last_cap: u32,
    /// Capabilities made permitted + inheritable + effective + ambient after `setuid`;
    /// non-zero implies `PR_SET_KEEPCAPS` before `setuid`.
    pub(crate) ambient: u64,
}

fn mask(list: &[Capability]) -> u64 {
    list.iter().fold(0, |m, c| m | c.bitmask())
}

/// The highest capability number of the running kernel.
fn last_cap() -> Result<u32, SpawnError> {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            SpawnError::Sandbox(
                "capabilities: cannot read /proc/sys/kernel/cap_last_cap (is /proc mounted?)"
                    .to_owned(),
            )
        })
}

pub(crate) fn prepare(
    s: &Sandbox,
    uid: Option<libc::uid_t>,
    root: bool,
) -> Result<CapPlan, SpawnError> {
    if s.capabilities.is_none() && s.ambient_capabilities.is_empty() {
        return Ok(CapPlan::default());
    }
    let attr = if s.capabilities.is_some() {
        "capabilities"
    } else {
        "ambient_capabilities"
    };
    let setpcap =
        caps::has_cap(None, caps::CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false);
    if !root || !setpcap {
        return Err(SpawnError::Sandbox(format!(
            "{attr} needs a daemon running as root with CAP_SETPCAP"
        )));
    }
    let last = last_cap()?;
    let all: u64 = if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    for c in s
        .capabilities
        .iter()
        .flatten()
        .chain(&s.ambient_capabilities)
    {
        if u32::from(c.index()) > last {
            return Err(SpawnError::Sandbox(format!(
                "{attr}: {c} is not known to this kernel (cap_last_cap = {last})"
            )));
        }
    }
    let bounding_drop = s.capabilities.as_ref().map_or(0, |keep| all & !mask(keep));
    let ambient = mask(&s.ambient_capabilities);
    if ambient != 0 {
        if uid.is_none_or(|u| u == 0) {
            return Err(SpawnError::Sandbox(
                "ambient_capabilities needs `user` set to a non-root user (root keeps its bounding set anyway; use `capabilities`)"
                    .to_owned(),
            ));
        }
        if ambient & bounding_drop != 0 {
            return Err(SpawnError::Sandbox(
                "ambient_capabilities must be a subset of capabilities".to_owned(),
            ));
        }
        if caps::has_cap(None, caps::CapSet::Ambient, Capability::CAP_CHOWN).is_err() {
            return Err(SpawnError::Sandbox(
                "ambient_capabilities: this kernel has no ambient capabilities (Linux >= 4.3)"
                    .to_owned(),
            ));
        }
    }
    Ok(CapPlan {
        bounding_drop,
        last_cap: last,
        ambient,
    })
}
