//! One row per scenario and daemon, rendered as a markdown table.

use std::fmt::Write as _;
use std::time::Duration;

/// Service-log lines: how many were written and how many the clients' outcomes call for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogCount {
    /// START + EXIT + FAIL lines found in the service log.
    pub written: u64,
    /// Lines expected from what the clients saw.
    pub expected: u64,
    /// `expected` is a lower bound (datagrams the daemon read but whose reply was lost).
    pub at_least: bool,
}

/// What one scenario measured on one daemon.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Daemon label (`candidate`, `xinetd`).
    pub daemon: String,
    /// Set when the scenario does not apply to this daemon: the reason.
    pub not_applicable: Option<String>,
    /// Requests served (connections answered, datagrams echoed, servers started).
    pub served: u64,
    /// Requests refused (connection refused or reset, closed without service).
    pub refused: u64,
    /// Client-side errors (timeouts, unexpected answers).
    pub errors: u64,
    /// Peak and final VmRSS of the daemon, KiB.
    pub rss_kib: Option<(u64, u64)>,
    /// Peak and final open descriptors of the daemon.
    pub fds: Option<(u64, u64)>,
    /// Children and zombies of the daemon once the scenario's clients are gone (for
    /// `sigterm`: servers left running after the daemon exited, and zombies among them).
    pub children_zombies: Option<(u64, u64)>,
    /// Service-log lines.
    pub log: Option<LogCount>,
    /// The daemon's CPU, percent of one core, while idle but holding connections.
    pub idle_cpu_pct: Option<f64>,
    /// Wall time of the scenario.
    pub duration: Duration,
    /// Anything else worth a reader's attention.
    pub notes: Vec<String>,
}

const HEADER: [&str; 12] = [
    "scenario",
    "daemon",
    "served",
    "refused",
    "errors",
    "RSS peak / final (KiB)",
    "fds peak / final",
    "children / zombies after",
    "log lines written / expected",
    "idle CPU",
    "time",
    "notes",
];

fn pair(p: Option<(u64, u64)>) -> String {
    p.map_or_else(|| "-".to_string(), |(a, b)| format!("{a} / {b}"))
}

/// A markdown cell: `|` would end the cell and a newline the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Row {
    fn cells(&self) -> Vec<String> {
        let mut c = vec![cell(&self.scenario), cell(&self.daemon)];
        if let Some(why) = &self.not_applicable {
            c.extend(std::iter::repeat_n("n/a".to_string(), 9));
            c.push(cell(why));
            return c;
        }
        c.push(self.served.to_string());
        c.push(self.refused.to_string());
        c.push(self.errors.to_string());
        c.push(pair(self.rss_kib));
        c.push(pair(self.fds));
        c.push(pair(self.children_zombies));
        c.push(self.log.map_or_else(
            || "-".to_string(),
            |l| {
                let ge = if l.at_least { "≥" } else { "" };
                format!("{} / {ge}{}", l.written, l.expected)
            },
        ));
        c.push(
            self.idle_cpu_pct
                .map_or_else(|| "-".to_string(), |p| format!("{p:.1} %")),
        );
        c.push(format!("{:.1} s", self.duration.as_secs_f64()));
        c.push(cell(&self.notes.join("; ")));
        c
    }
}

/// The rows as a markdown table (header, separator, one line per row).
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        HEADER
            .iter()
            .enumerate()
            .map(|(i, _)| if (2..=10).contains(&i) {
                "---:|"
            } else {
                "---|"
            })
            .collect::<String>()
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.cells().join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_as_one_markdown_table() {
        let rows = vec![
            Row {
                scenario: "flood".into(),
                daemon: "candidate".into(),
                served: 10_000,
                refused: 1,
                rss_kib: Some((4000, 3900)),
                fds: Some((30, 12)),
                children_zombies: Some((0, 0)),
                log: Some(LogCount {
                    written: 20_000,
                    expected: 20_000,
                    at_least: false,
                }),
                idle_cpu_pct: Some(0.25),
                duration: Duration::from_millis(12_340),
                notes: vec!["a | b".into(), "second\nline".into()],
                ..Row::default()
            },
            Row {
                scenario: "garbage".into(),
                daemon: "xinetd".into(),
                not_applicable: Some("no xadmin builtin".into()),
                ..Row::default()
            },
        ];
        let t = render(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        let columns = |l: &str| l.matches(" | ").count();
        assert_eq!(columns(lines[0]), 11);
        assert_eq!(lines[1].matches('|').count(), 13);
        assert_eq!(
            lines[2],
            "| flood | candidate | 10000 | 1 | 0 | 4000 / 3900 | 30 / 12 | 0 / 0 | \
             20000 / 20000 | 0.2 % | 12.3 s | a \\| b; second line |"
        );
        assert_eq!(columns(lines[2]), 11);
        assert_eq!(
            lines[3],
            "| garbage | xinetd | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | \
             no xadmin builtin |"
        );
        let lower = Row {
            log: Some(LogCount {
                written: 5,
                expected: 4,
                at_least: true,
            }),
            ..Row::default()
        };
        assert!(render(&[lower]).contains("| 5 / ≥4 |"));
    }
}
