//! The sandbox attributes of the model (xinetd-conf) as xinetd-spawn's request: a plain
//! conversion; xinetd-spawn checks it against the kernel when the spec is built.

use std::path::PathBuf;

use xinetd_conf::sandbox as conf;
use xinetd_spawn::sandbox::{
    ProtectHome, ProtectSystem, SeccompAction, SeccompGroup, SeccompPolicy,
};
use xinetd_spawn::Sandbox;

/// The spawn-side sandbox of a service (all off when no sandbox attribute is set).
pub fn request(c: &conf::Sandbox) -> Result<Sandbox, String> {
    let mut s = Sandbox::default();
    s.no_new_privs = c.wants_no_new_privs();
    s.capabilities = c.capabilities.as_ref().map(|v| v.value.clone());
    s.ambient_capabilities = c
        .ambient_capabilities
        .as_ref()
        .map(|v| v.value.clone())
        .unwrap_or_default();
    s.private_network = c.wants_private_network();
    s.private_tmp = c.wants_private_tmp();
    s.private_ipc = c.wants_private_ipc();
    s.private_uts = c.wants_private_uts();
    s.private_pid = c.wants_private_pid();
    s.protect_system = match c.protect_system.as_ref().map(|v| v.value) {
        None | Some(conf::ProtectSystem::No) => ProtectSystem::No,
        Some(conf::ProtectSystem::Yes) => ProtectSystem::Yes,
        Some(conf::ProtectSystem::Full) => ProtectSystem::Full,
        Some(conf::ProtectSystem::Strict) => ProtectSystem::Strict,
    };
    s.read_write_paths = c
        .read_write_paths
        .as_ref()
        .map(|v| v.value.iter().map(PathBuf::from).collect())
        .unwrap_or_default();
    s.protect_home = match c.protect_home.as_ref().map(|v| v.value) {
        None | Some(conf::ProtectHome::No) => ProtectHome::No,
        Some(conf::ProtectHome::Yes) => ProtectHome::Yes,
        Some(conf::ProtectHome::ReadOnly) => ProtectHome::ReadOnly,
    };
    let paths = |v: &Option<xinetd_conf::Spanned<Vec<String>>>| -> Vec<PathBuf> {
        v.as_ref()
            .map(|v| v.value.iter().map(PathBuf::from).collect())
            .unwrap_or_default()
    };
    s.landlock_read = paths(&c.landlock_read);
    s.landlock_write = paths(&c.landlock_write);
    s.landlock_tcp_bind = c.landlock_tcp_bind.as_ref().map(|v| v.value.clone());
    s.landlock_tcp_connect = c.landlock_tcp_connect.as_ref().map(|v| v.value.clone());
    s.cgroup.memory_max = c.memory_max.as_ref().map(|v| v.value);
    s.cgroup.pids_max = c.pids_max.as_ref().map(|v| v.value);
    s.cgroup.cpu_max_percent = c.cpu_max.as_ref().map(|v| v.value);
    s.cgroup.io_weight = c.io_weight.as_ref().map(|v| v.value);
    s.cgroup_root = c.cgroup_root.as_ref().map(|v| PathBuf::from(&v.value));
    if let Some(policy) = &c.seccomp {
        let action = match c.seccomp_action.as_ref().map(|a| a.value) {
            None => SeccompAction::default(),
            Some(conf::SeccompAction::Kill) => SeccompAction::Kill,
            Some(conf::SeccompAction::Errno(n)) => SeccompAction::Errno(n),
        };
        let groups =
            |names: &[String]| -> Result<Vec<SeccompGroup>, String> {
                let mut out = Vec::new();
                for n in names {
                    if n == "default" {
                        out.extend(SeccompGroup::DEFAULT_DENY);
                    } else {
                        out.push(SeccompGroup::parse(n).ok_or_else(|| {
                            format!("seccomp group {n} is unknown to xinetd-spawn")
                        })?);
                    }
                }
                Ok(out)
            };
        s.seccomp = Some(match &policy.value {
            conf::Seccomp::Deny(g) => SeccompPolicy::Deny(groups(g)?, action),
            conf::Seccomp::Allow(g) => SeccompPolicy::Allow(groups(g)?, action),
        });
    }
    Ok(s)
}

/// Logs (WARNING) what the kernel could not enforce of a best-effort sandbox feature.
pub fn log_notes(log: &mut dyn crate::dlog::Messages, s: &crate::service::Built) {
    if let Some(spec) = &s.rt.spawn {
        for note in spec.sandbox_notes() {
            log.msg(
                crate::dlog::Level::Warning,
                &format!("service {}: sandbox: {note}", s.id),
            );
        }
    }
}

/// A reaped server's cgroup: says so when `memory_max` had the kernel kill a process (the
/// kill of what the server left running and the removal follow on the cgroup thread, see
/// [`crate::cgroup_release`]).
pub fn log_oom_kill(
    cg: &xinetd_spawn::sandbox::Cgroup,
    id: &str,
    pid: i32,
    log: &mut crate::dlog::ProgramLog,
) {
    if cg.oom_killed() {
        log.msg(
            crate::dlog::Level::Warning,
            &format!("service {id}: server {pid} hit memory_max: the kernel's OOM killer killed a process of its cgroup"),
        );
    }
}

#[cfg(test)]
mod tests {
    /// xinetd-conf's list of group names and xinetd-spawn's groups are the same set.
    #[test]
    fn seccomp_group_names_agree() {
        let spawn: Vec<&str> = xinetd_spawn::sandbox::SeccompGroup::ALL
            .iter()
            .map(|g| g.as_str())
            .collect();
        assert_eq!(spawn, xinetd_conf::sandbox::SECCOMP_GROUPS);
    }
}
