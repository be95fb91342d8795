//! Parsing the daemon and client lists of a rule into patterns (libwrap's `list_match` items,
//! `host_match` forms, `/path` pattern files), reporting what never matches.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::canonical;
use super::diagnostic::{errno_text, Diagnostic, DiagnosticKind, Severity};
use super::pattern::{ClientPattern, DaemonPattern, HostPattern, PatternList, StrPattern};

pub(super) struct Parser<'a> {
    pub(super) path: &'a Path,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

/// A token with its position.
pub(super) struct Tok {
    text: String,
    line: usize,
    col: usize,
}

impl Parser<'_> {
    pub(super) fn diag(
        &mut self,
        line: usize,
        column: usize,
        severity: Severity,
        kind: DiagnosticKind,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            file: self.path.to_owned(),
            line,
            column,
            severity,
            kind,
            message,
        });
    }

    /// Split a field into list items at commas and blanks (libwrap's `sep`).
    fn tokens(field: &[(char, usize, usize)]) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut cur: Option<Tok> = None;
        for &(ch, line, col) in field {
            if matches!(ch, ',' | ' ' | '\t' | '\r' | '\n') {
                if let Some(t) = cur.take() {
                    out.push(t);
                }
            } else {
                cur.get_or_insert(Tok {
                    text: String::new(),
                    line,
                    col,
                })
                .text
                .push(ch);
            }
        }
        out.extend(cur);
        out
    }

    pub(super) fn list<P>(
        &mut self,
        field: &[(char, usize, usize)],
        mut item: impl FnMut(&mut Self, &Tok) -> P,
    ) -> PatternList<P> {
        let mut groups = vec![Vec::new()];
        for tok in Self::tokens(field) {
            if tok.text.eq_ignore_ascii_case("EXCEPT") {
                groups.push(Vec::new());
            } else {
                let p = item(self, &tok);
                groups.last_mut().expect("groups is never empty").push(p);
            }
        }
        PatternList { groups }
    }

    pub(super) fn daemon(&mut self, tok: &Tok) -> DaemonPattern {
        // libwrap splits at the first `@` after the first character.
        match tok.text.char_indices().skip(1).find(|(_, c)| *c == '@') {
            None => DaemonPattern {
                daemon: StrPattern::parse(&tok.text),
                server: None,
            },
            Some((at, _)) => {
                let host = &tok.text[at + 1..];
                let server = self.host(host, tok.line, tok.col + at + 1, true);
                if server.needs_name() {
                    self.diag(tok.line, tok.col + at + 1, Severity::Warning, DiagnosticKind::UnsupportedPattern,
                        format!("`{host}` in `{}`: server host names are not looked up; only the server's address is compared", tok.text));
                }
                DaemonPattern {
                    daemon: StrPattern::parse(&tok.text[..at]),
                    server: Some(server),
                }
            }
        }
    }

    pub(super) fn client(&mut self, tok: &Tok) -> ClientPattern {
        match tok.text.char_indices().skip(1).find(|(_, c)| *c == '@') {
            None => ClientPattern::Host(self.host(&tok.text, tok.line, tok.col, true)),
            Some((at, _)) => {
                let user = &tok.text[..at];
                let host = self.host(&tok.text[at + 1..], tok.line, tok.col + at + 1, true);
                if user.eq_ignore_ascii_case("ALL") {
                    // ALL@host matches whatever the user name: no ident lookup is needed.
                    ClientPattern::Host(host)
                } else {
                    self.diag(tok.line, tok.col, Severity::Warning, DiagnosticKind::UnsupportedPattern,
                        format!("`{}`: user@host patterns need an ident (RFC 931) lookup, which is not supported; this pattern never matches", tok.text));
                    ClientPattern::Never
                }
            }
        }
    }

    fn host(&mut self, tok: &str, line: usize, col: usize, allow_file: bool) -> HostPattern {
        let never = |p: &mut Self, kind, msg: String| {
            p.diag(line, col, Severity::Warning, kind, msg);
            HostPattern::Never
        };
        if tok.starts_with('@') {
            return never(
                self,
                DiagnosticKind::UnsupportedPattern,
                format!("`{tok}`: NIS netgroups are not supported; this pattern never matches"),
            );
        }
        if tok.eq_ignore_ascii_case("KNOWN") {
            return HostPattern::Known;
        }
        if tok.eq_ignore_ascii_case("LOCAL") {
            return HostPattern::Local;
        }
        if tok.starts_with('/') {
            if !allow_file {
                return never(
                    self,
                    DiagnosticKind::NeverMatches,
                    format!("`{tok}`: file patterns inside a pattern file are not followed"),
                );
            }
            return self.file(tok, line, col);
        }
        if let Some((net, mask)) = split_outside_brackets(tok, '/') {
            return match parse_net_mask(net, mask) {
                Ok(p) => p,
                Err(why) => never(
                    self,
                    DiagnosticKind::NeverMatches,
                    format!("`{tok}`: {why}; this pattern never matches"),
                ),
            };
        }
        if let Some(inner) = tok.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return match inner.parse::<IpAddr>() {
                Ok(a) => HostPattern::Network(ipnet::IpNet::from(canonical(a))),
                Err(_) => never(
                    self,
                    DiagnosticKind::NeverMatches,
                    format!("`{tok}`: not an IPv6 address; this pattern never matches"),
                ),
            };
        }
        let names = !tok
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '/');
        HostPattern::Str {
            pattern: StrPattern::parse(tok),
            names,
        }
    }

    fn file(&mut self, path: &str, line: usize, col: usize) -> HostPattern {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                // libwrap silently finds no match in a missing file; say so.
                self.diag(
                    line,
                    col,
                    Severity::Warning,
                    DiagnosticKind::NeverMatches,
                    format!(
                        "cannot read pattern file `{path}`: {}; it matches nothing",
                        errno_text(&e)
                    ),
                );
                return HostPattern::Never;
            }
        };
        let file_path = PathBuf::from(path);
        let mut inner = Parser {
            path: &file_path,
            diags: &mut *self.diags,
        };
        let mut patterns = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if l.starts_with('#') {
                continue;
            }
            let field: Vec<(char, usize, usize)> = l
                .chars()
                .enumerate()
                .map(|(c, ch)| (ch, i + 1, c + 1))
                .collect();
            for tok in Parser::tokens(&field) {
                patterns.push(inner.host(&tok.text, tok.line, tok.col, false));
            }
        }
        HostPattern::File(patterns)
    }
}

/// libwrap's `split_at`: the first `delim` outside `[...]`.
fn split_outside_brackets(s: &str, delim: char) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if c == delim && depth == 0 => return Some((&s[..i], &s[i + c.len_utf8()..])),
            _ => {}
        }
    }
    None
}

fn parse_net_mask(net: &str, mask: &str) -> Result<HostPattern, String> {
    if let Some(inner) = net.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let addr: Ipv6Addr = inner
            .parse()
            .map_err(|_| format!("`{inner}` is not an IPv6 address"))?;
        let len: u8 = mask
            .parse()
            .map_err(|_| format!("`{mask}` is not a prefix length"))?;
        let n = ipnet::Ipv6Net::new(addr, len)
            .map_err(|_| format!("prefix length {len} is longer than 128"))?;
        return Ok(network(ipnet::IpNet::V6(n)));
    }
    let addr: Ipv4Addr = net
        .parse()
        .map_err(|_| format!("`{net}` is not an IPv4 address"))?;
    if mask.contains('.') {
        let m: Ipv4Addr = mask
            .parse()
            .map_err(|_| format!("`{mask}` is not a netmask"))?;
        let (n, m) = (u32::from(addr), u32::from(m));
        if n & m != n {
            return Err(format!("the net {addr} has bits outside the mask {mask}"));
        }
        return Ok(HostPattern::NetMask4 { net: n, mask: m });
    }
    let len: u8 = mask
        .parse()
        .map_err(|_| format!("`{mask}` is not a prefix length"))?;
    let n = ipnet::Ipv4Net::new(addr, len)
        .map_err(|_| format!("prefix length {len} is longer than 32"))?;
    if n.network() != addr {
        return Err(format!("the net {addr} has bits outside /{len}"));
    }
    Ok(HostPattern::Network(ipnet::IpNet::V4(n)))
}

/// IPv6 networks inside ::ffff:0:0/96 match IPv4 clients (they are compared as IPv4).
fn network(net: ipnet::IpNet) -> HostPattern {
    if let ipnet::IpNet::V6(n) = net {
        if let (Some(v4), true) = (n.network().to_ipv4_mapped(), n.prefix_len() >= 96) {
            if let Ok(v4net) = ipnet::Ipv4Net::new(v4, n.prefix_len() - 96) {
                return HostPattern::Network(ipnet::IpNet::V4(v4net));
            }
        }
    }
    HostPattern::Network(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_pattern_file_shows_errno_as_xinetd_does() {
        let mut diags = Vec::new();
        let mut parser = Parser {
            path: Path::new("hosts.allow"),
            diags: &mut diags,
        };
        assert_eq!(parser.file("/nonexistent/file", 1, 6), HostPattern::Never);
        assert_eq!(
            diags[0].message,
            "cannot read pattern file `/nonexistent/file`: No such file or directory (errno = 2); \
             it matches nothing"
        );
    }
}
