//! The sandbox extension attributes (issue 14): their table, typed model, value parsers and
//! printer, kept out of the shared attribute files. Everything here is an xinetd-rs
//! extension; xinetd 2.3.15.3 ignores these lines with `bad service attribute`.

use crate::model::Spanned;

pub use caps::Capability;

/// One sandbox attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum SandboxAttr {
    NoNewPrivs,
    Capabilities,
    AmbientCapabilities,
    PrivateNetwork,
    PrivateTmp,
    PrivateIpc,
    PrivateUts,
    PrivatePid,
    ProtectSystem,
    ReadWritePaths,
    ProtectHome,
    Seccomp,
    SeccompAction,
    LandlockRead,
    LandlockWrite,
    MemoryMax,
    PidsMax,
    CpuMax,
    LandlockTcpBind,
    LandlockTcpConnect,
    IoWeight,
    CgroupRoot,
}

/// `protect_system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectSystem {
    /// Nothing read-only.
    No,
    /// `/usr`, `/boot` read-only.
    Yes,
    /// `/usr`, `/boot`, `/etc` read-only.
    Full,
    /// Everything read-only but `read_write_paths`.
    Strict,
}

impl ProtectSystem {
    const ALL: [ProtectSystem; 4] = [
        ProtectSystem::No,
        ProtectSystem::Yes,
        ProtectSystem::Full,
        ProtectSystem::Strict,
    ];
    /// The word in xinetd.conf.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectSystem::No => "no",
            ProtectSystem::Yes => "yes",
            ProtectSystem::Full => "full",
            ProtectSystem::Strict => "strict",
        }
    }
}

/// `protect_home`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectHome {
    /// Unchanged.
    No,
    /// `/home`, `/root`, `/run/user` empty and inaccessible.
    Yes,
    /// The same, read-only.
    ReadOnly,
}

impl ProtectHome {
    const ALL: [ProtectHome; 3] = [ProtectHome::No, ProtectHome::Yes, ProtectHome::ReadOnly];
    /// The word in xinetd.conf.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectHome::No => "no",
            ProtectHome::Yes => "yes",
            ProtectHome::ReadOnly => "read-only",
        }
    }
}

/// The system-call group names `seccomp` accepts (xinetd-spawn's `SeccompGroup`).
pub const SECCOMP_GROUPS: &[&str] = &[
    "@module",
    "@reboot",
    "@mount",
    "@swap",
    "@debug",
    "@bpf",
    "@raw-io",
    "@clock",
    "@keyring",
    "@namespaces",
    "@basic",
    "@files",
    "@network",
    "@process",
];

/// `seccomp = default | @group… | allow @group…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// Deny the listed groups (`default` expands to every deny-list group), allow the rest.
    Deny(Vec<String>),
    /// Allow only the listed groups.
    Allow(Vec<String>),
}

/// `seccomp_action`: what a filtered call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeccompAction {
    /// Fails with this errno.
    Errno(i32),
    /// Kills the process (SIGSYS).
    Kill,
}

/// errno names `seccomp_action` accepts, besides a number.
const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EIO", 5),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EINVAL", 22),
    ("ENOSYS", 38),
    ("EOPNOTSUPP", 95),
    ("ENOTSUP", 95),
];

impl SeccompAction {
    /// As written in xinetd.conf.
    pub fn as_string(self) -> String {
        match self {
            SeccompAction::Kill => "kill".to_owned(),
            SeccompAction::Errno(n) => ERRNO_NAMES
                .iter()
                .find(|(_, v)| *v == n)
                .map_or_else(|| n.to_string(), |(name, _)| (*name).to_owned()),
        }
    }
}

/// The sandbox of a service: every attribute unset by default (nothing changes).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Sandbox {
    /// `no_new_privs`.
    pub no_new_privs: Option<Spanned<bool>>,
    /// `capabilities` (what stays in the bounding set).
    pub capabilities: Option<Spanned<Vec<Capability>>>,
    /// `ambient_capabilities`.
    pub ambient_capabilities: Option<Spanned<Vec<Capability>>>,
    /// `private_network`.
    pub private_network: Option<Spanned<bool>>,
    /// `private_tmp`.
    pub private_tmp: Option<Spanned<bool>>,
    /// `private_ipc`.
    pub private_ipc: Option<Spanned<bool>>,
    /// `private_uts`.
    pub private_uts: Option<Spanned<bool>>,
    /// `private_pid`.
    pub private_pid: Option<Spanned<bool>>,
    /// `protect_system`.
    pub protect_system: Option<Spanned<ProtectSystem>>,
    /// `read_write_paths`.
    pub read_write_paths: Option<Spanned<Vec<String>>>,
    /// `protect_home`.
    pub protect_home: Option<Spanned<ProtectHome>>,
    /// `seccomp`.
    pub seccomp: Option<Spanned<Seccomp>>,
    /// `seccomp_action` (default EPERM).
    pub seccomp_action: Option<Spanned<SeccompAction>>,
    /// `landlock_read`.
    pub landlock_read: Option<Spanned<Vec<String>>>,
    /// `landlock_write`.
    pub landlock_write: Option<Spanned<Vec<String>>>,
    /// `memory_max` in bytes.
    pub memory_max: Option<Spanned<u64>>,
    /// `pids_max`.
    pub pids_max: Option<Spanned<u64>>,
    /// `cpu_max` in percent of one CPU.
    pub cpu_max: Option<Spanned<u32>>,
    /// `landlock_tcp_bind` (an empty list allows no port).
    pub landlock_tcp_bind: Option<Spanned<Vec<u16>>>,
    /// `landlock_tcp_connect` (an empty list allows no port).
    pub landlock_tcp_connect: Option<Spanned<Vec<u16>>>,
    /// `io_weight`, 1 to 10000 (cgroup v2's `io.weight` scale; 100 is the kernel's default).
    pub io_weight: Option<Spanned<u32>>,
    /// `cgroup_root`: a cgroup v2 directory (absolute path) under which each connection gets
    /// its cgroup, limits or not.
    pub cgroup_root: Option<Spanned<String>>,
}

impl crate::AttributeGroup for Sandbox {
    const EMPTY: &'static Self = &Sandbox {
        no_new_privs: None,
        capabilities: None,
        ambient_capabilities: None,
        private_network: None,
        private_tmp: None,
        private_ipc: None,
        private_uts: None,
        private_pid: None,
        protect_system: None,
        read_write_paths: None,
        protect_home: None,
        seccomp: None,
        seccomp_action: None,
        landlock_read: None,
        landlock_write: None,
        memory_max: None,
        pids_max: None,
        cpu_max: None,
        landlock_tcp_bind: None,
        landlock_tcp_connect: None,
        io_weight: None,
        cgroup_root: None,
    };
}

fn flag(v: &Option<Spanned<bool>>) -> bool {
    v.as_ref().is_some_and(|v| v.value)
}

impl Sandbox {
    /// `true` when no sandbox attribute asks for anything.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// `no_new_privs = yes`.
    pub fn wants_no_new_privs(&self) -> bool {
        flag(&self.no_new_privs)
    }
    /// `private_network = yes`.
    pub fn wants_private_network(&self) -> bool {
        flag(&self.private_network)
    }
    /// `private_tmp = yes`.
    pub fn wants_private_tmp(&self) -> bool {
        flag(&self.private_tmp)
    }
    /// `private_ipc = yes`.
    pub fn wants_private_ipc(&self) -> bool {
        flag(&self.private_ipc)
    }
    /// `private_uts = yes`.
    pub fn wants_private_uts(&self) -> bool {
        flag(&self.private_uts)
    }
    /// `private_pid = yes`.
    pub fn wants_private_pid(&self) -> bool {
        flag(&self.private_pid)
    }

    /// The first attribute that is set, with its span.
    fn first_set(&self) -> Option<(&'static str, crate::model::Span)> {
        let b =
            |n: &'static str, v: &Option<Spanned<bool>>| v.as_ref().map(|v| (n, v.span.clone()));
        b("no_new_privs", &self.no_new_privs)
            .or_else(|| {
                self.capabilities
                    .as_ref()
                    .map(|v| ("capabilities", v.span.clone()))
            })
            .or_else(|| {
                self.ambient_capabilities
                    .as_ref()
                    .map(|v| ("ambient_capabilities", v.span.clone()))
            })
            .or_else(|| b("private_network", &self.private_network))
            .or_else(|| b("private_tmp", &self.private_tmp))
            .or_else(|| b("private_ipc", &self.private_ipc))
            .or_else(|| b("private_uts", &self.private_uts))
            .or_else(|| b("private_pid", &self.private_pid))
            .or_else(|| {
                self.protect_system
                    .as_ref()
                    .map(|v| ("protect_system", v.span.clone()))
            })
            .or_else(|| {
                self.read_write_paths
                    .as_ref()
                    .map(|v| ("read_write_paths", v.span.clone()))
            })
            .or_else(|| {
                self.protect_home
                    .as_ref()
                    .map(|v| ("protect_home", v.span.clone()))
            })
            .or_else(|| self.seccomp.as_ref().map(|v| ("seccomp", v.span.clone())))
            .or_else(|| {
                self.seccomp_action
                    .as_ref()
                    .map(|v| ("seccomp_action", v.span.clone()))
            })
            .or_else(|| {
                self.landlock_read
                    .as_ref()
                    .map(|v| ("landlock_read", v.span.clone()))
            })
            .or_else(|| {
                self.landlock_write
                    .as_ref()
                    .map(|v| ("landlock_write", v.span.clone()))
            })
            .or_else(|| {
                self.memory_max
                    .as_ref()
                    .map(|v| ("memory_max", v.span.clone()))
            })
            .or_else(|| self.pids_max.as_ref().map(|v| ("pids_max", v.span.clone())))
            .or_else(|| self.cpu_max.as_ref().map(|v| ("cpu_max", v.span.clone())))
            .or_else(|| {
                self.io_weight
                    .as_ref()
                    .map(|v| ("io_weight", v.span.clone()))
            })
            .or_else(|| {
                self.cgroup_root
                    .as_ref()
                    .map(|v| ("cgroup_root", v.span.clone()))
            })
            .or_else(|| {
                self.landlock_tcp_bind
                    .as_ref()
                    .map(|v| ("landlock_tcp_bind", v.span.clone()))
            })
            .or_else(|| {
                self.landlock_tcp_connect
                    .as_ref()
                    .map(|v| ("landlock_tcp_connect", v.span.clone()))
            })
    }

    /// Every attribute that is set, as (name, value text) in table order: what the printer
    /// writes and `-check -json` shows.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let yn = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let caps = |l: &[Capability]| {
            l.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        if let Some(v) = &self.no_new_privs {
            out.push(("no_new_privs", yn(v.value)));
        }
        if let Some(v) = &self.capabilities {
            out.push(("capabilities", caps(&v.value)));
        }
        if let Some(v) = &self.ambient_capabilities {
            out.push(("ambient_capabilities", caps(&v.value)));
        }
        for (name, v) in [
            ("private_network", &self.private_network),
            ("private_tmp", &self.private_tmp),
            ("private_ipc", &self.private_ipc),
            ("private_uts", &self.private_uts),
            ("private_pid", &self.private_pid),
        ] {
            if let Some(v) = v {
                out.push((name, yn(v.value)));
            }
        }
        if let Some(v) = &self.protect_system {
            out.push(("protect_system", v.value.as_str().to_owned()));
        }
        if let Some(v) = &self.read_write_paths {
            out.push(("read_write_paths", v.value.join(" ")));
        }
        if let Some(v) = &self.protect_home {
            out.push(("protect_home", v.value.as_str().to_owned()));
        }
        if let Some(v) = &self.seccomp {
            out.push((
                "seccomp",
                match &v.value {
                    Seccomp::Deny(g) => g.join(" "),
                    Seccomp::Allow(g) => format!("allow {}", g.join(" ")),
                },
            ));
        }
        if let Some(v) = &self.seccomp_action {
            out.push(("seccomp_action", v.value.as_string()));
        }
        if let Some(v) = &self.landlock_read {
            out.push(("landlock_read", v.value.join(" ")));
        }
        if let Some(v) = &self.landlock_write {
            out.push(("landlock_write", v.value.join(" ")));
        }
        if let Some(v) = &self.memory_max {
            out.push(("memory_max", v.value.to_string()));
        }
        if let Some(v) = &self.pids_max {
            out.push(("pids_max", v.value.to_string()));
        }
        if let Some(v) = &self.cpu_max {
            out.push(("cpu_max", format!("{}%", v.value)));
        }
        let ports = |l: &[u16]| l.iter().map(u16::to_string).collect::<Vec<_>>().join(" ");
        if let Some(v) = &self.landlock_tcp_bind {
            out.push(("landlock_tcp_bind", ports(&v.value)));
        }
        if let Some(v) = &self.landlock_tcp_connect {
            out.push(("landlock_tcp_connect", ports(&v.value)));
        }
        if let Some(v) = &self.io_weight {
            out.push(("io_weight", v.value.to_string()));
        }
        if let Some(v) = &self.cgroup_root {
            out.push(("cgroup_root", v.value.clone()));
        }
        out
    }
}

/// Parses one sandbox attribute's values into `sb`; `Err` is the located message.
pub(crate) fn parse(
    sb: &mut Sandbox,
    attr: SandboxAttr,
    name: &str,
    vals: &[&str],
    span: &crate::model::Span,
) -> Result<(), String> {
    let first = vals.first().copied().unwrap_or("");
    fn sp<T>(v: T, span: &crate::model::Span) -> Spanned<T> {
        Spanned::new(v, span.clone())
    }
    let yes_no = |v: &str| -> Result<bool, String> {
        if v.eq_ignore_ascii_case("yes") {
            Ok(true)
        } else if v.eq_ignore_ascii_case("no") {
            Ok(false)
        } else {
            Err(format!("{name} '{v}' is not yes or no"))
        }
    };
    let caps = |vals: &[&str]| -> Result<Vec<Capability>, String> {
        let mut out: Vec<Capability> = Vec::new();
        for w in vals {
            let upper = w.to_ascii_uppercase();
            let canonical = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            let c: Capability = canonical.parse().map_err(|_| {
                format!("{name}: '{w}' is not a capability name (e.g. CAP_NET_BIND_SERVICE)")
            })?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(out)
    };
    match attr {
        SandboxAttr::NoNewPrivs => sb.no_new_privs = Some(sp(yes_no(first)?, span)),
        SandboxAttr::PrivateNetwork => sb.private_network = Some(sp(yes_no(first)?, span)),
        SandboxAttr::PrivateTmp => sb.private_tmp = Some(sp(yes_no(first)?, span)),
        SandboxAttr::PrivateIpc => sb.private_ipc = Some(sp(yes_no(first)?, span)),
        SandboxAttr::PrivateUts => sb.private_uts = Some(sp(yes_no(first)?, span)),
        SandboxAttr::PrivatePid => sb.private_pid = Some(sp(yes_no(first)?, span)),
        SandboxAttr::Capabilities => sb.capabilities = Some(sp(caps(vals)?, span)),
        SandboxAttr::AmbientCapabilities => sb.ambient_capabilities = Some(sp(caps(vals)?, span)),
        SandboxAttr::ProtectSystem => {
            let v = ProtectSystem::ALL
                .into_iter()
                .find(|p| p.as_str().eq_ignore_ascii_case(first))
                .ok_or_else(|| {
                    format!("protect_system '{first}' is not no, yes, full or strict")
                })?;
            sb.protect_system = Some(sp(v, span));
        }
        SandboxAttr::ProtectHome => {
            let v = ProtectHome::ALL
                .into_iter()
                .find(|p| p.as_str().eq_ignore_ascii_case(first))
                .ok_or_else(|| format!("protect_home '{first}' is not no, yes or read-only"))?;
            sb.protect_home = Some(sp(v, span));
        }
        SandboxAttr::ReadWritePaths | SandboxAttr::LandlockRead | SandboxAttr::LandlockWrite => {
            if let Some(bad) = vals.iter().find(|p| !p.starts_with('/')) {
                return Err(format!("{name}: '{bad}' is not an absolute path"));
            }
            let v = Some(sp(vals.iter().map(|s| s.to_string()).collect(), span));
            match attr {
                SandboxAttr::LandlockRead => sb.landlock_read = v,
                SandboxAttr::LandlockWrite => sb.landlock_write = v,
                _ => sb.read_write_paths = v,
            }
        }
        SandboxAttr::Seccomp => {
            let (allow, words) = match vals.split_first() {
                Some((w, rest)) if w.eq_ignore_ascii_case("allow") => (true, rest),
                _ => (false, vals),
            };
            if words.is_empty() {
                return Err(
                    "seccomp needs `default`, deny-list groups, or `allow` and groups".to_owned(),
                );
            }
            let mut groups: Vec<String> = Vec::new();
            for w in words {
                if !allow && w.eq_ignore_ascii_case("default") {
                    groups.push("default".to_owned());
                    continue;
                }
                let g = SECCOMP_GROUPS
                    .iter()
                    .find(|g| g.eq_ignore_ascii_case(w))
                    .ok_or_else(|| {
                        format!(
                            "seccomp: unknown group '{w}' (known: default {})",
                            SECCOMP_GROUPS.join(" ")
                        )
                    })?;
                groups.push((*g).to_owned());
            }
            sb.seccomp = Some(sp(
                if allow {
                    Seccomp::Allow(groups)
                } else {
                    Seccomp::Deny(groups)
                },
                span,
            ));
        }
        SandboxAttr::LandlockTcpBind | SandboxAttr::LandlockTcpConnect => {
            let mut ports = Vec::new();
            for w in vals {
                let p = w
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{name}: '{w}' is not a TCP port (1-65535)"))?;
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            let v = Some(sp(ports, span));
            if attr == SandboxAttr::LandlockTcpBind {
                sb.landlock_tcp_bind = v;
            } else {
                sb.landlock_tcp_connect = v;
            }
        }
        SandboxAttr::MemoryMax => {
            let (digits, unit) = match first.char_indices().last() {
                Some((i, c)) if c.is_ascii_alphabetic() => {
                    (&first[..i], Some(c.to_ascii_uppercase()))
                }
                _ => (first, None),
            };
            let shift = match unit {
                None => 0,
                Some('K') => 10,
                Some('M') => 20,
                Some('G') => 30,
                Some('T') => 40,
                Some(_) => u32::MAX,
            };
            let v = digits
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0 && shift != u32::MAX)
                .and_then(|n| n.checked_mul(1u64.checked_shl(shift)?))
                .filter(|n| *n >= 1 << 20)
                .ok_or_else(|| {
                    format!("memory_max '{first}' is not a size of at least 1M (bytes, or with K, M, G, T)")
                })?;
            sb.memory_max = Some(sp(v, span));
        }
        SandboxAttr::PidsMax => {
            let v = first
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("pids_max '{first}' is not a positive number"))?;
            sb.pids_max = Some(sp(v, span));
        }
        SandboxAttr::CpuMax => {
            let v = first
                .strip_suffix('%')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| {
                    format!("cpu_max '{first}' is not a percentage of one CPU from 1% to 100000% (200% = two CPUs)")
                })?;
            sb.cpu_max = Some(sp(v, span));
        }
        SandboxAttr::IoWeight => {
            let v = first
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    format!(
                        "io_weight '{first}' is not a weight from 1 to 10000 (100 is the default)"
                    )
                })?;
            sb.io_weight = Some(sp(v, span));
        }
        SandboxAttr::CgroupRoot => {
            if !first.starts_with('/') || vals.len() != 1 {
                return Err(format!(
                    "cgroup_root '{}' is not one absolute path (a cgroup v2 directory)",
                    vals.join(" ")
                ));
            }
            sb.cgroup_root = Some(sp(first.to_owned(), span));
        }
        SandboxAttr::SeccompAction => {
            let v = if first.eq_ignore_ascii_case("kill") {
                SeccompAction::Kill
            } else if let Some((_, n)) = ERRNO_NAMES
                .iter()
                .find(|(e, _)| e.eq_ignore_ascii_case(first))
            {
                SeccompAction::Errno(*n)
            } else {
                match first.parse::<i32>() {
                    Ok(n) if (1..4096).contains(&n) => SeccompAction::Errno(n),
                    _ => {
                        return Err(format!(
                            "seccomp_action '{first}' is not kill, an errno name (EPERM, EACCES, ENOSYS, ...) or a number from 1 to 4095"
                        ))
                    }
                }
            };
            sb.seccomp_action = Some(sp(v, span));
        }
    }
    Ok(())
}

/// Cross-attribute checks once the service is read: (message, span) of each problem.
pub(crate) fn validate(sb: &Sandbox, external: bool) -> Vec<(String, crate::model::Span)> {
    let mut out = Vec::new();
    if !external {
        if let Some((name, span)) = sb.first_set() {
            out.push((
                format!("{name} applies to external servers only (not to internal or redirect services)"),
                span,
            ));
        }
    }
    if let (Some(amb), Some(bnd)) = (&sb.ambient_capabilities, &sb.capabilities) {
        if let Some(c) = amb.value.iter().find(|c| !bnd.value.contains(c)) {
            out.push((
                format!("ambient_capabilities: {c} is not in capabilities (the bounding set)"),
                amb.span.clone(),
            ));
        }
    }
    if let Some(rw) = &sb.read_write_paths {
        if sb
            .protect_system
            .as_ref()
            .is_none_or(|p| p.value == ProtectSystem::No)
        {
            out.push((
                "read_write_paths needs protect_system".to_owned(),
                rw.span.clone(),
            ));
        }
    }
    if let Some(a) = &sb.seccomp_action {
        if sb.seccomp.is_none() {
            out.push(("seccomp_action needs seccomp".to_owned(), a.span.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{load_bytes, print, Environment, LoadOptions, Severity};

    fn service(extra: &str) -> String {
        format!(
            "service ctf\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = 31337\n\twait = no\n\tuser = root\n\tserver = /bin/sh\n{extra}}}\n"
        )
    }

    fn env() -> Environment {
        Environment::isolated().passwd(vec![crate::PasswdEntry {
            name: "root".to_owned(),
            uid: 0,
            gid: 0,
        }])
    }

    const FULL: &str = "\tno_new_privs = yes\n\tcapabilities = net_bind_service CAP_KILL\n\
        \tambient_capabilities = CAP_NET_BIND_SERVICE\n\tprivate_network = yes\n\
        \tprivate_tmp = yes\n\tprivate_ipc = yes\n\tprivate_uts = yes\n\tprivate_pid = yes\n\
        \tprotect_system = strict\n\tread_write_paths = /srv/ctf /var/lib/ctf\n\
        \tprotect_home = read-only\n\tseccomp = default @bpf\n\tseccomp_action = eacces\n\
        \tlandlock_read = /usr /lib\n\tlandlock_write = /srv/ctf\n\
        \tmemory_max = 64M\n\tpids_max = 32\n\tcpu_max = 50%\n\
        \tlandlock_tcp_bind = 8080 8443\n\tlandlock_tcp_connect =\n\tio_weight = 50\n\tcgroup_root = /sys/fs/cgroup/xinetd\n";

    #[test]
    fn every_attribute_is_typed_and_round_trips() {
        let text = service(FULL);
        let loaded =
            load_bytes(text.as_bytes(), "s.conf", &env(), &LoadOptions::new()).expect("loads");
        let errors: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.render())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        let s = &loaded.config.services[0].sandbox;
        assert!(s.wants_no_new_privs() && s.wants_private_pid());
        assert_eq!(
            s.capabilities.as_ref().unwrap().value,
            [
                super::Capability::CAP_NET_BIND_SERVICE,
                super::Capability::CAP_KILL
            ]
        );
        assert_eq!(
            s.seccomp_action.as_ref().unwrap().value,
            super::SeccompAction::Errno(13)
        );
        let printed = print(&loaded.config);
        assert!(
            printed.contains("\tcapabilities = CAP_NET_BIND_SERVICE CAP_KILL\n"),
            "{printed}"
        );
        assert!(printed.contains("\tseccomp = default @bpf\n"), "{printed}");
        assert!(printed.contains("\tseccomp_action = EACCES\n"), "{printed}");
        assert!(
            printed.contains("\tlandlock_read = /usr /lib\n"),
            "{printed}"
        );
        assert!(printed.contains("\tmemory_max = 67108864\n"), "{printed}");
        assert!(printed.contains("\tcpu_max = 50%\n"), "{printed}");
        assert!(printed.contains("\tio_weight = 50\n"), "{printed}");
        assert!(
            printed.contains("\tcgroup_root = /sys/fs/cgroup/xinetd\n"),
            "{printed}"
        );
        assert!(
            printed.contains("\tlandlock_tcp_bind = 8080 8443\n"),
            "{printed}"
        );
        assert!(printed.contains("\tlandlock_tcp_connect =\n"), "{printed}");
        let again =
            load_bytes(printed.as_bytes(), "p.conf", &env(), &LoadOptions::new()).expect("reloads");
        assert_eq!(print(&again.config), printed);
        assert_eq!(
            again.config.services[0].sandbox.entries(),
            loaded.config.services[0].sandbox.entries()
        );
    }

    fn first_error(extra: &str) -> String {
        let text = service(extra);
        let loaded =
            load_bytes(text.as_bytes(), "s.conf", &env(), &LoadOptions::new()).expect("loads");
        assert!(
            loaded.config.services.is_empty(),
            "service should be dropped"
        );
        loaded
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| d.render())
            .expect("an error")
    }

    #[test]
    fn bad_values_are_located_errors() {
        // The service block starts on line 1; the extra attribute is line 10, column 2.
        let e = first_error("\tcapabilities = CAP_FLY\n");
        assert!(
            e.starts_with("s.conf:10:2: error: capabilities: 'CAP_FLY' is not a capability name"),
            "{e}"
        );
        let e = first_error("\tprotect_system = maybe\n");
        assert!(
            e.contains("protect_system 'maybe' is not no, yes, full or strict"),
            "{e}"
        );
        let e = first_error("\tseccomp = @nonsense\n");
        assert!(e.contains("seccomp: unknown group '@nonsense'"), "{e}");
        let e = first_error("\tread_write_paths = relative/dir\n\tprotect_system = strict\n");
        assert!(e.contains("'relative/dir' is not an absolute path"), "{e}");
        let e = first_error("\tmemory_max = 12Q\n");
        assert!(e.contains("memory_max '12Q'"), "{e}");
        let e = first_error("\tlandlock_tcp_bind = 80 http\n");
        assert!(
            e.contains("landlock_tcp_bind: 'http' is not a TCP port"),
            "{e}"
        );
        let e = first_error("\tcpu_max = 50\n");
        assert!(e.contains("cpu_max '50'"), "{e}");
        let e = first_error("\tio_weight = 10001\n");
        assert!(e.starts_with("s.conf:10:2: error: "), "{e}");
        assert!(
            e.contains("io_weight '10001' is not a weight from 1 to 10000"),
            "{e}"
        );
        let e = first_error("\tcgroup_root = sys/fs/cgroup\n");
        assert!(e.starts_with("s.conf:10:2: error: "), "{e}");
        assert!(
            e.contains("cgroup_root 'sys/fs/cgroup' is not one absolute path"),
            "{e}"
        );
        let e = first_error("\tio_weight = 0\n");
        assert!(e.contains("io_weight '0'"), "{e}");
        let e = first_error("\tseccomp_action = 0\n\tseccomp = default\n");
        assert!(e.contains("seccomp_action '0'"), "{e}");
    }

    #[test]
    fn contradictions_are_located_errors() {
        let e = first_error(
            "\tcapabilities = CAP_KILL\n\tambient_capabilities = CAP_NET_BIND_SERVICE\n",
        );
        assert!(e.starts_with("s.conf:11:2: error: ambient_capabilities: CAP_NET_BIND_SERVICE is not in capabilities"), "{e}");
        let e = first_error("\tread_write_paths = /srv\n");
        assert!(e.contains("read_write_paths needs protect_system"), "{e}");
        let e = first_error("\tseccomp_action = kill\n");
        assert!(e.contains("seccomp_action needs seccomp"), "{e}");
    }

    #[test]
    fn internal_services_refuse_sandbox_attributes() {
        let text = "service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n\tport = 7\n\tprivate_network = yes\n}\n";
        let loaded =
            load_bytes(text.as_bytes(), "s.conf", &env(), &LoadOptions::new()).expect("loads");
        assert!(loaded.config.services.is_empty());
        let e = loaded
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| d.render())
            .expect("error");
        assert!(
            e.starts_with("s.conf:7:2: error: private_network applies to external servers only"),
            "{e}"
        );
    }
}
