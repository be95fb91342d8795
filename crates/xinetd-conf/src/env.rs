//! The system databases and file-system policy a load runs against, injectable for tests
//! (the corpus test reproduces the oracle's sandbox with it).

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One /etc/passwd entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
}

/// One /etc/group entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// gid.
    pub gid: u32,
}

/// One /etc/services entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicesEntry {
    /// Official name.
    pub name: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Port.
    pub port: u16,
    /// Protocol name (`tcp`, `udp`, ...).
    pub protocol: String,
}

/// One /etc/protocols or /etc/rpc entry (name, number, aliases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedEntry {
    /// Official name.
    pub name: String,
    /// Protocol or RPC program number.
    pub number: i32,
    /// Aliases.
    pub aliases: Vec<String>,
}

/// How host names in `only_from`, `no_access`, `bind` and `redirect` are resolved at parse
/// time.
#[derive(Debug, Clone)]
pub enum HostResolver {
    /// The system resolver (`getaddrinfo` through the standard library).
    System,
    /// Only these `/etc/hosts`-style entries (what xinetd sees without DNS).
    Hosts(Vec<(IpAddr, Vec<String>)>),
    /// No name resolves (only numeric addresses work).
    Nothing,
}

/// How `server =` paths are checked (xinetd calls `access(X_OK)` and `stat()` at parse time,
/// F-111).
#[derive(Debug, Clone)]
pub enum ServerCheck {
    /// Check the file system; paths in the set also count as executable (the oracle
    /// sandbox created stubs for them).
    FileSystem(HashSet<String>),
    /// Every path is executable (for parsing without touching the file system).
    AssumeExecutable,
}

/// Everything a load consults outside the configuration text.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Users (getpwnam).
    pub passwd: Vec<PasswdEntry>,
    /// Groups (getgrnam).
    pub groups: Vec<GroupEntry>,
    /// /etc/services (getservbyname).
    pub services: Vec<ServicesEntry>,
    /// /etc/protocols (getprotobyname).
    pub protocols: Vec<NumberedEntry>,
    /// /etc/rpc (getrpcbyname).
    pub rpc: Vec<NumberedEntry>,
    /// Host name resolution.
    pub resolver: HostResolver,
    /// Server path checks.
    pub server_check: ServerCheck,
    /// Prefix rewrites applied to `include`/`includedir` paths before opening them
    /// (`/etc/xinetd.d` → a test directory). Messages keep the path as written.
    pub path_map: Vec<(PathBuf, PathBuf)>,
    /// Whether `include`/`includedir` are followed at all.
    pub follow_includes: bool,
    /// xinetd's `-d`: a bad value in `defaults` is then an error, not fatal (F-037).
    pub debug: bool,
    /// Names defined in xinetd's start-up environment (for `passenv` warnings, F-122).
    /// `None` = the current process environment.
    pub process_env: Option<HashSet<String>>,
    /// Accept the `servers`, `services` and `xadmin` builtins of xinetd ≤ 2.3.11 (the seed
    /// article's section 4.3), which 2.3.15.3 rejects with `No such internal service`
    /// (F-530). Off by default, so that loads agree with 2.3.15.3; xinetd-rs's daemon turns
    /// it on (issue 8).
    pub admin_builtins: bool,
}

impl Environment {
    /// The running system: /etc/passwd, /etc/group, /etc/services, /etc/protocols,
    /// /etc/rpc, the system resolver and the real file system. Missing files count as empty.
    pub fn system() -> Environment {
        Environment::from_files(
            Path::new("/etc/passwd"),
            Path::new("/etc/group"),
            Path::new("/etc/services"),
            Path::new("/etc/protocols"),
            Path::new("/etc/rpc"),
        )
    }

    /// Like [`Environment::system`] but reading the databases from the given files.
    pub fn from_files(
        passwd: &Path,
        group: &Path,
        services: &Path,
        protocols: &Path,
        rpc: &Path,
    ) -> Environment {
        let read = |p: &Path| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
        Environment {
            passwd: read(passwd).map(|t| parse_passwd(&t)).unwrap_or_default(),
            groups: read(group).map(|t| parse_group(&t)).unwrap_or_default(),
            services: read(services)
                .map(|t| parse_services(&t))
                .unwrap_or_default(),
            protocols: read(protocols)
                .map(|t| parse_numbered(&t))
                .unwrap_or_default(),
            rpc: read(rpc).map(|t| parse_numbered(&t)).unwrap_or_default(),
            resolver: HostResolver::System,
            server_check: ServerCheck::FileSystem(HashSet::new()),
            path_map: Vec::new(),
            follow_includes: true,
            debug: false,
            process_env: None,
            admin_builtins: false,
        }
    }

    /// No databases, no resolver, no file-system access: every lookup fails except
    /// numeric users/groups, and servers count as executable. Used for parse-only checks
    /// and fuzzing.
    pub fn isolated() -> Environment {
        Environment {
            passwd: Vec::new(),
            groups: Vec::new(),
            services: Vec::new(),
            protocols: vec![
                NumberedEntry {
                    name: "tcp".into(),
                    number: 6,
                    aliases: vec!["TCP".into()],
                },
                NumberedEntry {
                    name: "udp".into(),
                    number: 17,
                    aliases: vec!["UDP".into()],
                },
            ],
            rpc: Vec::new(),
            resolver: HostResolver::Nothing,
            server_check: ServerCheck::AssumeExecutable,
            path_map: Vec::new(),
            follow_includes: false,
            debug: false,
            process_env: Some(HashSet::new()),
            admin_builtins: false,
        }
    }

    /// getpwnam (case-sensitive, like libc).
    pub fn user_by_name(&self, name: &str) -> Option<&PasswdEntry> {
        self.passwd.iter().find(|e| e.name == name)
    }
    /// getgrnam.
    pub fn group_by_name(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|e| e.name == name)
    }
    /// getservbyname(name, proto): names and aliases compare case-sensitively (F-023 note:
    /// `protocol = TCP` then fails the /etc/services lookup, corpus 089).
    pub fn service_port(&self, name: &str, proto: &str) -> Option<u16> {
        self.services
            .iter()
            .find(|e| {
                e.protocol == proto && (e.name == name || e.aliases.iter().any(|a| a == name))
            })
            .map(|e| e.port)
    }
    /// getprotobyname.
    pub fn protocol_number(&self, name: &str) -> Option<i32> {
        self.protocols
            .iter()
            .find(|e| e.name == name || e.aliases.iter().any(|a| a == name))
            .map(|e| e.number)
    }
    /// getrpcbyname.
    pub fn rpc_number(&self, name: &str) -> Option<i32> {
        self.rpc
            .iter()
            .find(|e| e.name == name || e.aliases.iter().any(|a| a == name))
            .map(|e| e.number)
    }
    /// Whether `name` is set in xinetd's start-up environment.
    pub fn env_defined(&self, name: &str) -> bool {
        match &self.process_env {
            Some(set) => set.contains(name),
            None => std::env::var_os(name).is_some(),
        }
    }
    /// Applies [`Environment::path_map`].
    pub fn map_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        for (from, to) in &self.path_map {
            if let Ok(rest) = p.strip_prefix(from) {
                return if rest.as_os_str().is_empty() {
                    to.clone()
                } else {
                    to.join(rest)
                };
            }
        }
        p.to_path_buf()
    }
    /// Whether `path` passes xinetd's `access(X_OK)` + `stat()` check.
    pub fn server_is_executable(&self, path: &str) -> bool {
        match &self.server_check {
            ServerCheck::AssumeExecutable => true,
            ServerCheck::FileSystem(extra) => {
                extra.contains(path) || is_executable(Path::new(path))
            }
        }
    }
    /// Resolves a host name; the first address of the wanted family when given.
    pub fn resolve(&self, name: &str, want_v6: Option<bool>) -> Vec<IpAddr> {
        let all: Vec<IpAddr> = match &self.resolver {
            HostResolver::Nothing => Vec::new(),
            HostResolver::Hosts(list) => list
                .iter()
                .filter(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
                .map(|(a, _)| *a)
                .collect(),
            HostResolver::System => {
                use std::net::ToSocketAddrs;
                if name.is_empty() || name.contains('\0') {
                    Vec::new()
                } else {
                    (name, 0u16)
                        .to_socket_addrs()
                        .map(|it| it.map(|sa| sa.ip()).collect())
                        .unwrap_or_default()
                }
            }
        };
        match want_v6 {
            None => all,
            Some(v6) => all.into_iter().filter(|a| a.is_ipv6() == v6).collect(),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    // access(X_OK) as root succeeds when any execute bit is set; for other users the
    // owner/group distinction rarely matters for server binaries, so any x bit counts.
    match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o111 != 0 || (m.is_dir() && is_root()),
        Err(_) => false,
    }
}

fn is_root() -> bool {
    // Without libc we read our own effective uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn fields(line: &str) -> Option<&str> {
    let l = line.split('#').next().unwrap_or("").trim();
    if l.is_empty() {
        None
    } else {
        Some(l)
    }
}

/// Parses /etc/passwd text.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
            })
        })
        .collect()
}

/// Parses /etc/group text.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
            })
        })
        .collect()
}

/// Parses /etc/services text.
pub fn parse_services(text: &str) -> Vec<ServicesEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = fields(l)?.split_whitespace();
            let name = it.next()?.to_string();
            let (port, proto) = it.next()?.split_once('/')?;
            Some(ServicesEntry {
                name,
                port: port.parse().ok()?,
                protocol: proto.to_string(),
                aliases: it.map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Parses /etc/protocols or /etc/rpc text (`name number aliases...`).
pub fn parse_numbered(text: &str) -> Vec<NumberedEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = fields(l)?.split_whitespace();
            let name = it.next()?.to_string();
            let number = it.next()?.parse().ok()?;
            Some(NumberedEntry {
                name,
                number,
                aliases: it.map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Parses /etc/hosts text into resolver entries.
pub fn parse_hosts(text: &str) -> Vec<(IpAddr, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let mut it = fields(l)?.split_whitespace();
            let addr: IpAddr = it.next()?.parse().ok()?;
            Some((addr, it.map(str::to_string).collect()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_parse() {
        let s = parse_services("echo 7/tcp\necho 7/udp\n# c\nwww 80/tcp http # web\n");
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].aliases, vec!["http"]);
        let p = parse_numbered("tcp 6 TCP\nudp\t17\tUDP\n");
        assert_eq!(p[1].number, 17);
        let pw = parse_passwd("root:x:0:0:root:/root:/bin/sh\nbad\n");
        assert_eq!(pw.len(), 1);
        let env = Environment {
            services: s,
            protocols: p,
            ..Environment::isolated()
        };
        assert_eq!(env.service_port("http", "tcp"), Some(80));
        assert_eq!(env.service_port("echo", "TCP"), None);
        assert_eq!(env.protocol_number("TCP"), Some(6));
    }

    #[test]
    fn path_map_rewrites_prefix() {
        let env = Environment {
            path_map: vec![(PathBuf::from("/etc/xinetd.d"), PathBuf::from("/tmp/x"))],
            ..Environment::isolated()
        };
        assert_eq!(env.map_path("/etc/xinetd.d"), PathBuf::from("/tmp/x"));
        assert_eq!(env.map_path("/etc/xinetd.d/a"), PathBuf::from("/tmp/x/a"));
        assert_eq!(env.map_path("/etc/other"), PathBuf::from("/etc/other"));
    }
}
