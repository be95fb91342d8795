//! What a load runs against: the world it looks things up in ([`Environment`]: system
//! databases and file system) and the caller's choices ([`LoadOptions`]).

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
#[non_exhaustive]
pub enum HostResolver {
    /// The system resolver (`getaddrinfo` through the standard library).
    System,
    /// Only these `/etc/hosts`-style entries (what xinetd sees without DNS); see
    /// [`parse_hosts`].
    Hosts(Vec<(IpAddr, Vec<String>)>),
    /// No name resolves (only numeric addresses work).
    Nothing,
}

/// How `server =` paths are checked (xinetd calls `access(X_OK)` and `stat()` at parse time,
/// F-111).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerCheck {
    /// Check the file system (plus [`Environment::also_executable`]).
    FileSystem,
    /// Every path is executable (for parsing without touching the file system).
    AssumeExecutable,
}

/// The world a load looks things up in: the system databases (users, groups,
/// /etc/services, /etc/protocols, /etc/rpc, host names, xinetd's start-up environment) and
/// the file system (server executables, included files).
///
/// What the caller chooses about the load itself (xinetd's `-d`, the admin builtins) is in
/// [`LoadOptions`]. Start from [`Environment::system`] or [`Environment::isolated`] and
/// replace what differs:
///
/// ```
/// use xinetd_conf::{parse_services, Environment};
///
/// let env = Environment::isolated()
///     .services(parse_services("echo 7/tcp\nauth 113/tcp ident\n"))
///     .process_env(["PATH"]);
/// assert_eq!(env.service_port("ident", "tcp"), Some(113));
/// assert!(env.env_defined("PATH") && !env.env_defined("HOME"));
/// ```
#[derive(Debug, Clone)]
pub struct Environment {
    passwd: Vec<PasswdEntry>,
    groups: Vec<GroupEntry>,
    services: Vec<ServicesEntry>,
    protocols: Vec<NumberedEntry>,
    rpc: Vec<NumberedEntry>,
    resolver: HostResolver,
    server_check: ServerCheck,
    also_executable: HashSet<String>,
    path_map: Vec<(PathBuf, PathBuf)>,
    follow_includes: bool,
    /// `None` = the current process environment.
    process_env: Option<HashSet<String>>,
}

impl Environment {
    /// The running system: /etc/passwd, /etc/group, /etc/services, /etc/protocols,
    /// /etc/rpc, the system resolver, the process environment and the real file system
    /// (includes are followed). Missing files count as empty.
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
            server_check: ServerCheck::FileSystem,
            also_executable: HashSet::new(),
            path_map: Vec::new(),
            follow_includes: true,
            process_env: None,
        }
    }

    /// No databases (except `tcp` and `udp` in /etc/protocols), no resolver, an empty
    /// start-up environment and no file-system access: every lookup fails except numeric
    /// users/groups, servers count as executable and includes are not followed. Used for
    /// parse-only checks and fuzzing.
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
            also_executable: HashSet::new(),
            path_map: Vec::new(),
            follow_includes: false,
            process_env: Some(HashSet::new()),
        }
    }

    /// Replaces the users (getpwnam); see [`parse_passwd`].
    pub fn passwd(mut self, entries: Vec<PasswdEntry>) -> Self {
        self.passwd = entries;
        self
    }
    /// Replaces the groups (getgrnam); see [`parse_group`].
    pub fn groups(mut self, entries: Vec<GroupEntry>) -> Self {
        self.groups = entries;
        self
    }
    /// Replaces /etc/services (getservbyname); see [`parse_services`].
    pub fn services(mut self, entries: Vec<ServicesEntry>) -> Self {
        self.services = entries;
        self
    }
    /// Replaces /etc/protocols (getprotobyname); see [`parse_numbered`].
    pub fn protocols(mut self, entries: Vec<NumberedEntry>) -> Self {
        self.protocols = entries;
        self
    }
    /// Replaces /etc/rpc (getrpcbyname); see [`parse_numbered`].
    pub fn rpc(mut self, entries: Vec<NumberedEntry>) -> Self {
        self.rpc = entries;
        self
    }
    /// Sets how host names resolve.
    pub fn resolver(mut self, resolver: HostResolver) -> Self {
        self.resolver = resolver;
        self
    }
    /// Sets how `server =` paths are checked.
    pub fn server_check(mut self, check: ServerCheck) -> Self {
        self.server_check = check;
        self
    }
    /// Server paths that count as executable under [`ServerCheck::FileSystem`] even when
    /// this machine lacks them: for checking a configuration written for another machine.
    pub fn also_executable<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.also_executable = paths.into_iter().map(Into::into).collect();
        self
    }
    /// The names set in xinetd's start-up environment (`passenv` warns about the others,
    /// F-122), instead of the current process environment.
    pub fn process_env<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.process_env = Some(names.into_iter().map(Into::into).collect());
        self
    }
    /// Whether `include` and `includedir` are followed at all.
    pub fn follow_includes(mut self, follow: bool) -> Self {
        self.follow_includes = follow;
        self
    }
    /// Reads included paths under `from` from `to` instead (`/etc/xinetd.d` → a copy
    /// elsewhere, e.g. a configuration for another root). Messages keep the path as
    /// written. The first matching prefix wins.
    pub fn map_prefix(mut self, from: impl Into<PathBuf>, to: impl Into<PathBuf>) -> Self {
        self.path_map.push((from.into(), to.into()));
        self
    }

    /// Whether `include` and `includedir` are followed.
    pub fn follows_includes(&self) -> bool {
        self.follow_includes
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
    /// Where an included `path` is read from (see [`Environment::map_prefix`]).
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
            ServerCheck::FileSystem => {
                self.also_executable.contains(path) || is_executable(Path::new(path))
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

/// The caller's choices for a load (as opposed to the [`Environment`] it looks things up
/// in).
///
/// ```
/// use xinetd_conf::LoadOptions;
///
/// // What xinetd-rs's daemon runs with under `-d`.
/// let options = LoadOptions::new().debug(true).admin_builtins(true);
/// assert!(options.is_debug() && options.admin_builtins_enabled());
/// assert!(!LoadOptions::default().is_debug());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    debug: bool,
    admin_builtins: bool,
    keep_going: bool,
}

impl LoadOptions {
    /// xinetd 2.3.15.3's behaviour: not debugging, no admin builtins.
    pub fn new() -> LoadOptions {
        LoadOptions::default()
    }
    /// xinetd's `-d`: a bad value in `defaults` is then an error, not fatal (F-037).
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }
    /// Accept the `servers`, `services` and `xadmin` builtins of xinetd ≤ 2.3.11 (the seed
    /// article's section 4.3), which 2.3.15.3 rejects with `No such internal service`
    /// (F-530). Off by default, so that loads agree with 2.3.15.3; xinetd-rs's daemon turns
    /// it on (issue 8).
    pub fn admin_builtins(mut self, on: bool) -> Self {
        self.admin_builtins = on;
        self
    }
    /// A linter's load (`xinetd -check`): a fatal error in `defaults` is still reported as
    /// fatal and still makes the load fail ([`crate::LoadError::FatalDefaults`]), but the
    /// rest of the configuration is read and checked too, as xinetd's `-d` run would, so
    /// every later problem is reported in the same pass.
    pub fn keep_going(mut self, on: bool) -> Self {
        self.keep_going = on;
        self
    }
    /// Whether [`LoadOptions::keep_going`] is on.
    pub fn keeps_going(&self) -> bool {
        self.keep_going
    }
    /// Whether [`LoadOptions::debug`] is on.
    pub fn is_debug(&self) -> bool {
        self.debug
    }
    /// Whether [`LoadOptions::admin_builtins`] is on.
    pub fn admin_builtins_enabled(&self) -> bool {
        self.admin_builtins
    }
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
        let env = Environment::isolated().services(s).protocols(p);
        assert_eq!(env.service_port("http", "tcp"), Some(80));
        assert_eq!(env.service_port("echo", "TCP"), None);
        assert_eq!(env.protocol_number("TCP"), Some(6));
    }

    #[test]
    fn path_map_rewrites_prefix() {
        let env = Environment::isolated().map_prefix("/etc/xinetd.d", "/tmp/x");
        assert_eq!(env.map_path("/etc/xinetd.d"), PathBuf::from("/tmp/x"));
        assert_eq!(env.map_path("/etc/xinetd.d/a"), PathBuf::from("/tmp/x/a"));
        assert_eq!(env.map_path("/etc/other"), PathBuf::from("/etc/other"));
    }
}
