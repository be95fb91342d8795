//! libwrap's matching (`string_match`, `host_match`, `list_match`): the patterns of the daemon
//! and client fields, matched in three-valued logic because the client's host name may not be
//! known yet.

use std::net::IpAddr;

use super::client_name::{NameState, PARANOID, UNKNOWN};

/// Three-valued match: the name may be needed to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tri {
    No,
    Yes,
    NeedName,
}

impl Tri {
    pub(super) fn or(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::Yes => Tri::Yes,
            Tri::No => other(),
            Tri::NeedName => match other() {
                Tri::Yes => Tri::Yes,
                _ => Tri::NeedName,
            },
        }
    }

    pub(super) fn and(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::No => Tri::No,
            Tri::Yes => other(),
            Tri::NeedName => match other() {
                Tri::No => Tri::No,
                _ => Tri::NeedName,
            },
        }
    }

    pub(super) fn not(self) -> Tri {
        match self {
            Tri::No => Tri::Yes,
            Tri::Yes => Tri::No,
            Tri::NeedName => Tri::NeedName,
        }
    }
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

/// libwrap's `string_match`: a pattern matched against a daemon name, a user name, an address
/// string or a host name, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StrPattern {
    All,
    /// `KNOWN`: anything but `unknown`.
    Known,
    /// `.suffix` (the subject must be longer than the suffix).
    Suffix(String),
    /// `prefix.`
    Prefix(String),
    /// `*` / `?` wildcards.
    Glob(String),
    Exact(String),
}

impl StrPattern {
    pub(super) fn parse(tok: &str) -> StrPattern {
        let t = tok.to_ascii_lowercase();
        if t.starts_with('.') {
            StrPattern::Suffix(t)
        } else if t == "all" {
            StrPattern::All
        } else if t == "known" {
            StrPattern::Known
        } else if t.ends_with('.') {
            StrPattern::Prefix(t)
        } else if t.contains(['*', '?']) {
            StrPattern::Glob(t)
        } else {
            StrPattern::Exact(t)
        }
    }

    /// `subject` must already be lower-case.
    pub(super) fn matches(&self, subject: &str) -> bool {
        match self {
            StrPattern::All => true,
            StrPattern::Known => subject != UNKNOWN,
            StrPattern::Suffix(s) => subject.len() > s.len() && subject.ends_with(s.as_str()),
            StrPattern::Prefix(p) => subject.starts_with(p.as_str()),
            StrPattern::Glob(g) => glob_match(g.as_bytes(), subject.as_bytes()),
            StrPattern::Exact(e) => subject == e,
        }
    }
}

/// `*` matches any run of characters (dots included), `?` any one character.
fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == subject[s]) {
            p += 1;
            s += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, s));
            p += 1;
        } else if let Some((sp, ss)) = star {
            p = sp + 1;
            s = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// libwrap's `host_match`: a pattern for a client (or the server of `daemon@host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HostPattern {
    /// Reported at load time; never matches.
    Never,
    Known,
    Local,
    /// `n.n.n.n/m.m.m.m`: `(addr & mask) == net` (IPv4 and IPv4-mapped clients).
    NetMask4 {
        net: u32,
        mask: u32,
    },
    /// `n.n.n.n/len`, `[v6]/len`, `[v6]`.
    Network(ipnet::IpNet),
    /// `/path`: any pattern of the file.
    File(Vec<HostPattern>),
    /// Anything else: compared with the address string, then (if it is not made only of
    /// digits, dots and slashes — libwrap's `NOT_INADDR`) with the host name.
    Str {
        pattern: StrPattern,
        names: bool,
    },
}

impl HostPattern {
    /// Whether matching may need the host name.
    pub(super) fn needs_name(&self) -> bool {
        match self {
            HostPattern::Known | HostPattern::Local => true,
            HostPattern::File(v) => v.iter().any(HostPattern::needs_name),
            HostPattern::Str { names, .. } => *names,
            _ => false,
        }
    }

    pub(super) fn matches(&self, addr: IpAddr, addr_str: &str, name: &NameState) -> Tri {
        let with_name = |f: &dyn Fn(&str) -> bool| match name {
            NameState::NotLookedUp => Tri::NeedName,
            NameState::Looked(n) => f(n).into(),
        };
        match self {
            HostPattern::Never => Tri::No,
            HostPattern::Known => with_name(&|n| n != UNKNOWN && n != PARANOID),
            HostPattern::Local => with_name(&|n| !n.contains('.') && n != UNKNOWN && n != PARANOID),
            HostPattern::NetMask4 { net, mask } => match addr {
                IpAddr::V4(a) => (u32::from(a) & mask == *net).into(),
                IpAddr::V6(_) => Tri::No,
            },
            HostPattern::Network(net) => net.contains(&addr).into(),
            HostPattern::File(patterns) => patterns
                .iter()
                .fold(Tri::No, |acc, p| acc.or(|| p.matches(addr, addr_str, name))),
            HostPattern::Str { pattern, names } => {
                if pattern.matches(addr_str) {
                    Tri::Yes
                } else if *names {
                    with_name(&|n| pattern.matches(n))
                } else {
                    Tri::No
                }
            }
        }
    }
}

/// An item of a daemon list: `daemon` or `daemon@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DaemonPattern {
    pub(super) daemon: StrPattern,
    pub(super) server: Option<HostPattern>,
}

/// An item of a client list: a host pattern, or `user@host` (only `ALL@host` is supported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ClientPattern {
    Host(HostPattern),
    Never,
}

/// `items EXCEPT items EXCEPT ...`, right-associative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PatternList<P> {
    pub(super) groups: Vec<Vec<P>>,
}

impl<P> PatternList<P> {
    pub(super) fn matches(&self, f: &dyn Fn(&P) -> Tri) -> Tri {
        self.match_from(0, f)
    }

    fn match_from(&self, i: usize, f: &dyn Fn(&P) -> Tri) -> Tri {
        let Some(group) = self.groups.get(i) else {
            return Tri::No;
        };
        let any = group.iter().fold(Tri::No, |acc, p| acc.or(|| f(p)));
        any.and(|| self.match_from(i + 1, f).not())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_shell_wildcards() {
        assert!(glob_match(b"192.168.1.*", b"192.168.1.19"));
        assert!(glob_match(b"192.168.1.?", b"192.168.1.9"));
        assert!(!glob_match(b"192.168.1.?", b"192.168.1.19"));
        assert!(glob_match(b"*.example.*", b"a.example.com"));
        assert!(glob_match(b"a*b*c", b"aXbYbZc"));
        assert!(!glob_match(b"a*b", b"ac"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn kleene_logic() {
        use Tri::*;
        assert_eq!(NeedName.or(|| Yes), Yes);
        assert_eq!(NeedName.and(|| No), No);
        assert_eq!(NeedName.not(), NeedName);
        assert_eq!(No.or(|| NeedName), NeedName);
    }
}
