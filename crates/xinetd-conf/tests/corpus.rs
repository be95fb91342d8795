//! Conformance against the real xinetd 2.3.15.3: every corpus file (and every `disable = no`
//! variant) must give the same accepted services as the oracle, and every message xinetd
//! logged while parsing must be one of ours, word for word (level, function, text, and the
//! `[file=] [line=]` suffix).
//!
//! The oracle's sandbox is reproduced through [`Environment`]: passwd/group = this system's
//! files plus `oracle-env/*.add`, the oracle's /etc/services, /etc/protocols, /etc/rpc, the
//! stub servers it created, /etc/hosts only (the sandbox had no DNS), `configs/NNN-x.d` (or an
//! empty directory) as /etc/xinetd.d, and `/corpus/...` as the file names.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use xinetd_conf::{
    load_bytes, parse_hosts, parse_numbered, parse_services, Environment, HostResolver, LoadError,
    LoadOptions, Loaded, ServerCheck, XinetdLevel,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// Files where we differ from the oracle on purpose (docs/compat.md: long lines).
const DELIBERATE: &[&str] = &[
    "invalid/i14-very-long-line.conf",
    "invalid/i34-line-cut-at-buffer-boundary.conf",
];

/// Extensions (docs/compat.md) the real xinetd rejects where this loader accepts them:
/// (file, service id, line). The service is left out of our accepted list and the oracle's
/// messages about that line out of its list; everything else must still agree.
const EXTENSION_ACCEPTED: &[(&str, &str, u32)] = &[
    // log_type = JOURNAL (issue 18): xinetd says `Unknown log type` and disables it.
    ("invalid/i21-bad-log-type.conf", "echo-log5", 52),
];

/// Functions whose messages come from activating services (binding sockets, portmapper),
/// which is the daemon's business, not the parser's.
const ACTIVATION: &[&str] = &[
    "activate_normal",
    "activate_rpc",
    "cnf_start_services",
    "svc_activate",
];

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

fn environment(corpus: &Path, xinetd_d: &Path) -> Environment {
    let envdir = corpus.join("oracle-env");
    let passwd = read(Path::new("/etc/passwd")) + &read(&envdir.join("passwd.add"));
    let group = read(Path::new("/etc/group")) + &read(&envdir.join("group.add"));
    let mut stubs: HashSet<String> = read(&envdir.join("server-stubs.list"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    // Servers the corpus names that existed on the oracle machine (no `not executable` error
    // for them in summary.json) but may be missing from a minimal image (net-tools, procps).
    stubs.extend(
        [
            "/bin/date",
            "/bin/netstat",
            "/bin/sh",
            "/usr/bin/false",
            "/usr/bin/ps",
            "/usr/sbin/chroot",
        ]
        .map(String::from),
    );
    // The oracle ran under python with LC_ALL set; SOMENV* variables were not set.
    let process_env: HashSet<String> = [
        "PATH", "HOME", "LC_ALL", "STUB", "TERM", "LANG", "USER", "SHELL", "PWD",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Environment::isolated()
        .passwd(xinetd_conf::parse_passwd(&passwd))
        .groups(xinetd_conf::parse_group(&group))
        .services(parse_services(&read(&envdir.join("services"))))
        .protocols(parse_numbered(&read(&envdir.join("protocols"))))
        .rpc(parse_numbered(&read(&envdir.join("rpc"))))
        .resolver(HostResolver::Hosts(parse_hosts(&read(Path::new(
            "/etc/hosts",
        )))))
        .server_check(ServerCheck::FileSystem)
        .also_executable(stubs)
        .map_prefix("/etc/xinetd.d", xinetd_d)
        .follow_includes(true)
        .process_env(process_env)
}

#[derive(Debug)]
struct Outcome {
    accepted: Vec<(String, String)>,
    /// (level, function, first line of the rendered text)
    messages: Vec<(String, String, String)>,
    fatal: bool,
}

fn level_word(l: XinetdLevel) -> &'static str {
    l.as_str()
}

fn run(corpus: &Path, rel: &str, bytes: &[u8], debug: bool, empty: &Path) -> Outcome {
    let side = corpus.join(rel.replace(".conf", ".d"));
    let xinetd_d = if rel.starts_with("configs/") && side.is_dir() {
        side
    } else {
        empty.to_path_buf()
    };
    let env = environment(corpus, &xinetd_d);
    let options = LoadOptions::new().debug(debug);
    let shown = format!("/corpus/{rel}");
    let (loaded, fatal): (Option<Loaded>, bool) = match load_bytes(bytes, &shown, &env, &options) {
        Ok(l) => (Some(l), false),
        Err(LoadError::FatalDefaults { diagnostics }) => {
            let messages = collect(&diagnostics);
            return Outcome {
                accepted: Vec::new(),
                messages,
                fatal: true,
            };
        }
        Err(e) => panic!("{rel}: {e}"),
    };
    let loaded = loaded.expect("loaded");
    Outcome {
        accepted: loaded
            .config
            .services
            .iter()
            .map(|s| (s.name.value.clone(), s.id.value.clone()))
            .collect(),
        messages: collect(&loaded.diagnostics),
        fatal,
    }
}

fn collect(diags: &[xinetd_conf::Diagnostic]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in diags {
        for m in &d.xinetd {
            if matches!(
                m.level,
                XinetdLevel::Critical | XinetdLevel::Error | XinetdLevel::Warning
            ) {
                let text = m.render();
                // The oracle's logs were split like Python's splitlines(): at \n, \r, \v, \f too.
                let first = text
                    .split(['\n', '\r', '\x0b', '\x0c'])
                    .next()
                    .unwrap_or("")
                    .to_string();
                out.push((
                    level_word(m.level).to_string(),
                    m.function.to_string(),
                    first,
                ));
            }
        }
    }
    out
}

fn oracle_messages(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    let lvl = m[0].as_str()?.to_string();
                    let func = m[1].as_str()?.to_string();
                    let text = m[2].as_str()?.to_string();
                    (!ACTIVATION.contains(&func.as_str()) && text != "Exiting...")
                        .then_some((lvl, func, text))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or("").to_string(),
                        p[1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn multiset_diff(
    a: &[(String, String, String)],
    b: &[(String, String, String)],
) -> Vec<(String, String, String)> {
    let mut counts: BTreeMap<&(String, String, String), i32> = BTreeMap::new();
    for x in b {
        *counts.entry(x).or_default() += 1;
    }
    let mut missing = Vec::new();
    for x in a {
        let c = counts.entry(x).or_default();
        if *c > 0 {
            *c -= 1;
        } else {
            missing.push(x.clone());
        }
    }
    missing
}

fn enable(bytes: &[u8]) -> Vec<u8> {
    // Same rewrite as tools/run_oracle.py: (?im)^([ \t]*disable[ \t]*=[ \t]*)yes\b -> ...no
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let raw_lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let _ = text;
    for (i, line) in raw_lines.iter().enumerate() {
        let mut l = line.to_vec();
        let s = String::from_utf8_lossy(line).into_owned();
        let trimmed = s.trim_start_matches([' ', '\t']);
        let lead = s.len() - trimmed.len();
        if trimmed.len() >= 7 && trimmed[..7].eq_ignore_ascii_case("disable") {
            let rest = trimmed[7..].trim_start_matches([' ', '\t']);
            if let Some(after_eq) = rest.strip_prefix('=') {
                let v = after_eq.trim_start_matches([' ', '\t']);
                let boundary = v
                    .as_bytes()
                    .get(3)
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_');
                if v.len() >= 3 && v[..3].eq_ignore_ascii_case("yes") && boundary {
                    let pos = lead + (trimmed.len() - v.len());
                    l = [&line[..pos], b"no", &line[pos + 3..]].concat();
                }
            }
        }
        out.extend_from_slice(&l);
        if i + 1 < raw_lines.len() {
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn corpus_matches_oracle() {
    let corpus = Path::new(CORPUS);
    if !corpus.join("oracle/summary.json").exists() {
        println!("skipped: corpus not found at {CORPUS}");
        return;
    }
    let summary: serde_json::Value =
        serde_json::from_str(&read(&corpus.join("oracle/summary.json"))).expect("summary.json");
    let empty = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let (mut files, mut files_ok, mut variants, mut variants_ok) = (0, 0, 0, 0);
    let obj = summary.as_object().expect("object");
    for (rel, entry) in obj {
        let bytes = std::fs::read(corpus.join(rel)).expect("corpus file");
        files += 1;
        let mut ours = run(corpus, rel, &bytes, true, empty.path());
        let mut problems = Vec::new();
        let extension_lines: Vec<String> = EXTENSION_ACCEPTED
            .iter()
            .filter(|(f, _, _)| f == rel)
            .map(|(_, id, line)| {
                ours.accepted.retain(|p| p.1 != *id);
                format!("[line={line}]")
            })
            .collect();
        if DELIBERATE.contains(&rel.as_str()) {
            let ids: Vec<&str> = ours.accepted.iter().map(|p| p.1.as_str()).collect();
            let expected: &[&str] = if rel.contains("i14") {
                &["echo-longargs", "echo-longtoken", "echo-ok"]
            } else {
                &[]
            };
            if ids != expected {
                problems.push(format!("deliberate outcome changed: {ids:?}"));
            }
        } else {
            let want = pairs(&entry["accepted"]);
            if ours.accepted != want {
                problems.push(format!(
                    "accepted: ours {:?}, oracle {:?}",
                    ours.accepted, want
                ));
            }
            let mut theirs = oracle_messages(&entry["debug"]["messages"]);
            theirs.retain(|m| !extension_lines.iter().any(|l| m.2.ends_with(l.as_str())));
            let missing = multiset_diff(&theirs, &ours.messages);
            let extra = multiset_diff(&ours.messages, &theirs);
            if !missing.is_empty() {
                problems.push(format!("oracle messages we lack: {missing:#?}"));
            }
            if !extra.is_empty() {
                problems.push(format!("messages the oracle does not log: {extra:#?}"));
            }
            // Production mode: only the defaults-fatal verdict differs.
            let nodebug = run(corpus, rel, &bytes, false, empty.path());
            let oracle_fatal = entry["nodebug"]["messages"].as_array().is_some_and(|m| {
                m.iter().any(|x| {
                    x[2].as_str()
                        .is_some_and(|t| t.starts_with("A fatal error"))
                })
            });
            if nodebug.fatal != oracle_fatal {
                problems.push(format!(
                    "fatal without -d: ours {}, oracle {}",
                    nodebug.fatal, oracle_fatal
                ));
            }
        }
        if problems.is_empty() {
            files_ok += 1;
        } else {
            failures.push(format!("{rel}:\n  {}", problems.join("\n  ")));
        }
        if let Some(var) = entry.get("enabled_variant") {
            variants += 1;
            let ours = run(corpus, rel, &enable(&bytes), true, empty.path());
            let mut problems = Vec::new();
            let want = pairs(&var["accepted"]);
            if ours.accepted != want {
                problems.push(format!(
                    "accepted: ours {:?}, oracle {:?}",
                    ours.accepted, want
                ));
            }
            let theirs = oracle_messages(&var["messages"]);
            let missing = multiset_diff(&theirs, &ours.messages);
            let extra = multiset_diff(&ours.messages, &theirs);
            if !missing.is_empty() {
                problems.push(format!("oracle messages we lack: {missing:#?}"));
            }
            if !extra.is_empty() {
                problems.push(format!("messages the oracle does not log: {extra:#?}"));
            }
            if problems.is_empty() {
                variants_ok += 1;
            } else {
                failures.push(format!(
                    "{rel} (disable = no):\n  {}",
                    problems.join("\n  ")
                ));
            }
        }
    }
    println!("corpus agreement: {files_ok}/{files} files, {variants_ok}/{variants} variants");
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(files, 123, "the corpus should hold 123 files");
    assert_eq!(
        variants, 41,
        "the corpus should hold 41 disable = no variants"
    );
}
