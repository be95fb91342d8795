//! The man pages (crates/xinetd-bin/man) cover every attribute of the configuration
//! language and every option of the command line, and render without warnings.
//!
//! The lists come from the sources themselves (xinetd-conf's attribute tables, the
//! option arms of cli.rs), so an attribute or option added there without its page entry
//! fails here, naming what is missing.

use std::path::Path;
use std::process::Command;

const MAN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/man");
const ATTRS_RS: &str = include_str!("../../xinetd-conf/src/attrs.rs");
const CLI_RS: &str = include_str!("../src/cli.rs");

fn page(name: &str) -> String {
    std::fs::read_to_string(Path::new(MAN_DIR).join(name)).expect("man page")
}

/// Every `("name", Attr::Variant, ...)` row of the attribute tables.
fn attributes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in ATTRS_RS.lines() {
        let t = line.trim();
        let Some(rest) = t.strip_prefix("(\"") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('"') else {
            continue;
        };
        let Some(variant) = rest
            .trim_start_matches([',', ' '])
            .strip_prefix("Attr::")
            .and_then(|v| v.split(',').next())
        else {
            continue;
        };
        if !out.iter().any(|(n, _): &(String, String)| n == name) {
            out.push((name.to_string(), variant.to_string()));
        }
    }
    out
}

/// The `Attr::X` variants `is_extension` lists.
fn extension_variants() -> Vec<String> {
    let start = ATTRS_RS
        .find("pub fn is_extension")
        .expect("attrs.rs has is_extension()");
    let body = &ATTRS_RS[start..];
    let body = &body[..body.find("\n}").expect("end of is_extension")];
    body.split("Attr::")
        .skip(1)
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Every `"-option" =>` arm of cli.rs's parser.
fn options() -> Vec<String> {
    let mut out = Vec::new();
    for line in CLI_RS.lines() {
        let t = line.trim();
        let Some(rest) = t.strip_prefix("\"-") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('"') else {
            continue;
        };
        if name.is_empty() || !rest.trim_start().starts_with("=>") {
            continue;
        }
        let opt = format!("-{name}");
        if !out.contains(&opt) {
            out.push(opt);
        }
    }
    out
}

/// The entry of `term` in a page: from its `.TP` heading line to the next `.TP`/`.SH`/`.SS`.
fn entry(text: &str, heading: impl Fn(&str) -> bool) -> Option<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .windows(2)
        .position(|w| w[0] == ".TP" && heading(w[1]))?;
    let start: usize = lines[..=at].iter().map(|l| l.len() + 1).sum();
    let rest = &text[start..];
    let end = rest
        .find("\n.TP\n")
        .or_else(|| rest.find("\n.SH"))
        .or_else(|| rest.find("\n.SS"))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `.B name`, `.BR a ", " b ...` and `.BI name " arg"` heading words.
fn heading_words(line: &str) -> Vec<String> {
    let Some(rest) = line
        .strip_prefix(".BR ")
        .or_else(|| line.strip_prefix(".BI "))
        .or_else(|| line.strip_prefix(".B "))
    else {
        return Vec::new();
    };
    rest.split('"')
        .step_by(2)
        .flat_map(|s| s.split_whitespace())
        .map(|w| w.replace("\\-", "-"))
        .collect()
}

#[test]
fn the_sources_are_read() {
    // Guards the parsers above: if attrs.rs or cli.rs change shape, this says so instead
    // of the coverage tests passing on an empty list.
    let attrs = attributes();
    assert!(
        attrs.len() >= 48,
        "attribute rows found in attrs.rs: {attrs:?}"
    );
    assert!(attrs.iter().any(|(n, v)| n == "interface" && v == "Bind"));
    assert!(extension_variants().contains(&"Chroot".to_string()));
    let opts = options();
    for o in ["-d", "-f", "-notify_fd", "-check", "-json", "-version"] {
        assert!(opts.contains(&o.to_string()), "{o} in {opts:?}");
    }
}

#[test]
fn xinetd_conf_5_documents_every_attribute_and_marks_the_extensions() {
    let text = page("xinetd.conf.5");
    let extensions = extension_variants();
    let mut missing = Vec::new();
    let mut unmarked = Vec::new();
    for (name, variant) in attributes() {
        let Some(body) = entry(&text, |l| heading_words(l).contains(&name)) else {
            missing.push(name);
            continue;
        };
        if extensions.contains(&variant) && !body.contains("(extension)") {
            unmarked.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "attributes of crates/xinetd-conf/src/attrs.rs without an entry (`.TP` then `.B NAME`) \
         in crates/xinetd-bin/man/xinetd.conf.5: {missing:?}"
    );
    assert!(
        unmarked.is_empty(),
        "extension attributes (attrs::is_extension) whose entry in \
         crates/xinetd-bin/man/xinetd.conf.5 does not say `.B (extension)`: {unmarked:?}"
    );
}

#[test]
fn xinetd_8_documents_every_option() {
    let text = page("xinetd.8");
    let missing: Vec<String> = options()
        .into_iter()
        .filter(|o| entry(&text, |l| heading_words(l).first() == Some(o)).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "options of crates/xinetd-bin/src/cli.rs without an entry (`.TP` then `.B {{option}}` \
         or `.BI {{option}} \" arg\"`) in crates/xinetd-bin/man/xinetd.8: {missing:?}"
    );
}

#[test]
fn the_pages_render_without_warnings() {
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!("skipped: groff is not installed (apt-get install groff-base)");
        return;
    }
    for name in ["xinetd.8", "xinetd.conf.5"] {
        let path = Path::new(MAN_DIR).join(name);
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&path)
            .output()
            .expect("run groff");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "groff -man -ww {name}: {stderr}"
        );
        // And man(1) itself, when installed, finds a NAME section to index.
        if let Ok(out) = Command::new("man")
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env_remove("MAN_KEEP_FORMATTING")
            .args(["--warnings", "-l"])
            .arg(&path)
            .output()
        {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "man -l {name}: {stderr}"
            );
            // Overstrike bold (`N\bN`) when formatting is kept: drop each char before a \b.
            let mut plain = String::new();
            for c in String::from_utf8_lossy(&out.stdout).chars() {
                if c == '\u{8}' {
                    plain.pop();
                } else {
                    plain.push(c);
                }
            }
            assert!(plain.contains("NAME"), "man -l {name}: {plain}");
        }
    }
}
