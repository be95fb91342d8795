//! The hosts.allow/hosts.deny files as rule tables: reading them, joining continued lines
//! (libwrap's `xgets`) and splitting each rule into its daemon, client and option fields.

use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostic, DiagnosticKind, HostsAccessError, Severity};
use super::parse::Parser;
use super::pattern::{ClientPattern, DaemonPattern, PatternList};

/// What a matching rule's options do to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// The file decides (allow file grants, deny file refuses).
    Table,
    Allow,
    Deny,
    BadOptions,
    UnsupportedCommand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub(super) line: usize,
    pub(super) daemons: PatternList<DaemonPattern>,
    pub(super) clients: PatternList<ClientPattern>,
    pub(super) effect: Effect,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct RuleTable {
    pub(super) path: PathBuf,
    pub(super) rules: Vec<Rule>,
}

fn read_text(path: &Path) -> Result<Option<String>, HostsAccessError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(HostsAccessError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

pub(super) fn load_table(
    path: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Result<RuleTable, HostsAccessError> {
    match read_text(path)? {
        Some(text) => parse_table(path, &text, diags),
        None => Ok(RuleTable {
            path: path.to_owned(),
            rules: Vec::new(),
        }),
    }
}

/// A logical line: text with, for each character, its (line, column) in the file.
struct LogicalLine {
    chars: Vec<(char, usize, usize)>,
}

impl LogicalLine {
    fn first_line(&self) -> usize {
        self.chars.first().map_or(0, |c| c.1)
    }
}

/// Join backslash-newline continuations (libwrap's `xgets`): the backslash and the newline
/// vanish; a backslash followed by anything else (a blank, `\r`) stays.
fn logical_lines(text: &str) -> Vec<(usize, LogicalLine)> {
    let mut out = Vec::new();
    let mut cur = LogicalLine { chars: Vec::new() };
    let mut start = 1;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        if cur.chars.is_empty() {
            start = line_no;
        }
        let chars: Vec<char> = raw.chars().collect();
        let continued = chars.last() == Some(&'\\');
        let keep = if continued {
            chars.len() - 1
        } else {
            chars.len()
        };
        cur.chars.extend(
            chars[..keep]
                .iter()
                .enumerate()
                .map(|(c, ch)| (*ch, line_no, c + 1)),
        );
        if !continued {
            out.push((
                start,
                std::mem::replace(&mut cur, LogicalLine { chars: Vec::new() }),
            ));
        }
    }
    if !cur.chars.is_empty() {
        out.push((start, cur));
    }
    out
}

pub(super) fn parse_table(
    path: &Path,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<RuleTable, HostsAccessError> {
    let mut p = Parser { path, diags };
    let mut rules = Vec::new();
    for (start, logical) in logical_lines(text) {
        let chars = &logical.chars;
        let line = if chars.is_empty() {
            start
        } else {
            logical.first_line()
        };
        // libwrap: only a `#` in the very first column starts a comment.
        if chars.first().is_some_and(|c| c.0 == '#') || chars.iter().all(|c| c.0.is_whitespace()) {
            continue;
        }
        let texts: String = chars.iter().map(|c| c.0).collect();
        if let Some(pos) = chars
            .iter()
            .position(|c| !c.0.is_whitespace())
            .filter(|&i| chars[i].0 == '#')
        {
            p.diag(chars[pos].1, chars[pos].2, Severity::Warning, DiagnosticKind::Suspicious,
                "an indented `#` does not start a comment in hosts_access(5): only `#` in the first column does; this line is read as a rule".into());
        }
        let Some(colon1) = split_index(chars, 0) else {
            p.diag(
                line,
                1,
                Severity::Error,
                DiagnosticKind::MissingSeparator,
                format!(
                    "missing \":\" separator in `{}`; line ignored",
                    texts.trim()
                ),
            );
            continue;
        };
        let colon2 = split_index(chars, colon1 + 1);
        let daemon_field = &chars[..colon1];
        let client_field = &chars[colon1 + 1..colon2.unwrap_or(chars.len())];
        let daemons = p.list(daemon_field, |p, t| p.daemon(t));
        let clients = p.list(client_field, |p, t| p.client(t));
        if daemons.groups.iter().all(Vec::is_empty) && daemons.groups.len() == 1 {
            p.diag(
                line,
                1,
                Severity::Warning,
                DiagnosticKind::Suspicious,
                "empty daemon list: this rule never matches".into(),
            );
        }
        if clients.groups.iter().all(Vec::is_empty) && clients.groups.len() == 1 {
            let (l, c) = chars.get(colon1).map_or((line, 1), |c| (c.1, c.2));
            let hint = if colon2.is_some() {
                " (an IPv6 address must be written in brackets, e.g. [::1])"
            } else {
                ""
            };
            p.diag(
                l,
                c,
                Severity::Warning,
                DiagnosticKind::Suspicious,
                format!("empty client list: this rule never matches{hint}"),
            );
        }
        let effect = match colon2 {
            Some(c2) => p.options(&chars[c2 + 1..]),
            None => Effect::Table,
        };
        rules.push(Rule {
            line,
            daemons,
            clients,
            effect,
        });
    }
    Ok(RuleTable {
        path: path.to_owned(),
        rules,
    })
}

/// Index of the first `:` at or after `from`, outside `[...]`.
fn split_index(chars: &[(char, usize, usize)], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in chars.iter().enumerate().skip(from) {
        match c.0 {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_keeps_positions() {
        let lines = logical_lines("a: b \\\n c\n#x\n");
        assert_eq!(lines[0].0, 1);
        let s: String = lines[0].1.chars.iter().map(|c| c.0).collect();
        assert_eq!(s, "a: b  c");
        assert_eq!(lines[0].1.chars.last().map(|c| (c.1, c.2)), Some((2, 2)));
    }
}
