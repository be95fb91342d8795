//! The options field of a rule, hosts_options(5) (libwrap's `process_options`): only what
//! changes the verdict is applied; commands are never run.

use super::diagnostic::{DiagnosticKind, Severity};
use super::parse::Parser;
use super::table::Effect;

impl Parser<'_> {
    /// The options field(s), hosts_options(5): `option : option ...`, `\:` protects a colon.
    pub(super) fn options(&mut self, field: &[(char, usize, usize)]) -> Effect {
        // Split at unescaped colons.
        let mut opts: Vec<Vec<(char, usize, usize)>> = vec![Vec::new()];
        let mut i = 0;
        while i < field.len() {
            let c = field[i];
            if c.0 == '\\' && field.get(i + 1).is_some_and(|n| n.0 == ':') {
                opts.last_mut().expect("never empty").push(field[i + 1]);
                i += 2;
                continue;
            }
            if c.0 == ':' {
                opts.push(Vec::new());
            } else {
                opts.last_mut().expect("never empty").push(c);
            }
            i += 1;
        }
        let opts: Vec<_> = opts
            .into_iter()
            .map(|o| {
                let start = o
                    .iter()
                    .position(|c| !c.0.is_whitespace())
                    .unwrap_or(o.len());
                let end = o
                    .iter()
                    .rposition(|c| !c.0.is_whitespace())
                    .map_or(start, |e| e + 1);
                o[start..end.max(start)].to_vec()
            })
            .filter(|o| !o.is_empty())
            .collect();
        let mut effect = Effect::Table;
        let count = opts.len();
        for (n, opt) in opts.iter().enumerate() {
            let text: String = opt.iter().map(|c| c.0).collect();
            let (line, col) = (opt[0].1, opt[0].2);
            let key_end = text
                .find(|c: char| c.is_whitespace() || c == '=')
                .unwrap_or(text.len());
            let keyword = text[..key_end].to_ascii_lowercase();
            let value = text[key_end..].trim_start().trim_start_matches('=').trim();
            let last = n + 1 == count;
            let bad = |p: &mut Self, msg: String| {
                p.diag(
                    line,
                    col,
                    Severity::Error,
                    DiagnosticKind::BadOption,
                    format!("{msg}; libwrap refuses clients matching this rule"),
                );
                Effect::BadOptions
            };
            let needs_value = |p: &mut Self, kw: &str| -> Option<Effect> {
                if value.is_empty() {
                    Some(bad(p, format!("option `{kw}` needs a value")))
                } else {
                    None
                }
            };
            let outcome: Option<Effect> = match keyword.as_str() {
                "allow" | "deny" => {
                    if !value.is_empty() {
                        Some(bad(self, format!("option `{keyword}` takes no value")))
                    } else if !last {
                        Some(bad(self, format!("option `{keyword}` must be the last option")))
                    } else if keyword == "allow" {
                        Some(Effect::Allow)
                    } else {
                        Some(Effect::Deny)
                    }
                }
                "twist" | "aclexec" => needs_value(self, &keyword).or_else(|| {
                    if keyword == "twist" && !last {
                        return Some(bad(self, "option `twist` must be the last option".into()));
                    }
                    self.diag(line, col, Severity::Warning, DiagnosticKind::RefusingOption,
                        format!("option `{keyword}` runs a command that decides or serves the client; commands are never run, so clients matching this rule are refused"));
                    Some(Effect::UnsupportedCommand)
                }),
                "spawn" | "setenv" | "umask" | "user" | "group" | "banners" | "linger"
                | "severity" => needs_value(self, &keyword).or_else(|| {
                    self.unsupported(line, col, &keyword);
                    None
                }),
                "keepalive" => {
                    if value.is_empty() {
                        self.unsupported(line, col, &keyword);
                        None
                    } else {
                        Some(bad(self, "option `keepalive` takes no value".into()))
                    }
                }
                "rfc931" | "nice" => {
                    self.unsupported(line, col, &keyword);
                    None
                }
                _ => Some(bad(self, format!("unknown option `{keyword}`"))),
            };
            if let Some(e) = outcome {
                effect = e;
                if matches!(
                    e,
                    Effect::BadOptions | Effect::UnsupportedCommand | Effect::Deny
                ) {
                    // libwrap stops processing options here (it jumps out with a verdict).
                    break;
                }
            }
        }
        effect
    }

    fn unsupported(&mut self, line: usize, col: usize, keyword: &str) {
        self.diag(
            line,
            col,
            Severity::Warning,
            DiagnosticKind::UnsupportedOption,
            format!(
                "option `{keyword}` is not supported and is ignored (the verdict is unchanged)"
            ),
        );
    }
}
