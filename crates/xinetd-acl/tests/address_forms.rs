//! Address-list values: which are entries, which are warnings (value dropped) and which are
//! errors (service disabled), with xinetd's exact messages; checked against the oracle outputs
//! of the real xinetd where the corpus is present.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;

use xinetd_acl::{parse_value, AccessList, AclError, AclWarning, EntryKind, StaticResolver};

fn resolver() -> StaticResolver {
    StaticResolver::new().host(
        "localhost",
        ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    )
}

fn dump(value: &str) -> String {
    let p = parse_value(value, &resolver()).expect("not a hard error");
    p.entries
        .iter()
        .map(|e| e.xinetd_dump())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn entry_forms() {
    // (value, xinetd dump of the entries)
    let table = [
        ("128.138.12.0", "128.138.12.0(NUMERIC)"),
        ("127.1", "127.0.0.1(NUMERIC)"),
        ("0.0.0.0", "0.0.0.0(NUMERIC)"),
        ("192.168.1.0/24", "192.168.1.0/255.255.255.0(NET)"),
        ("10.1.2.3/8", "10.1.2.3/255.0.0.0(NET)"),
        ("10.0.0.1/32", "10.0.0.1(NUMERIC)"),
        ("::1", "::1(NUMERIC)"),
        ("fe80::/10", "fe80::/ffc0::(NET)"),
        (
            "128.138.{12,71}",
            "128.138.12.0(NUMERIC) 128.138.71.0(NUMERIC)",
        ),
        ("{10,11}", "10.0.0.0(NUMERIC) 11.0.0.0(NUMERIC)"),
        ("localhost", "localhost(HOST)"),
        (".example.com", ".example.com(HOST)"),
        ("", ""),
    ];
    for (value, expected) in table {
        assert_eq!(dump(value), expected, "value {value:?}");
    }
    let p = parse_value("128.138.{12,71}", &resolver()).unwrap();
    assert!(p.entries.iter().all(|e| e.kind == EntryKind::Numeric));
    assert!(p.entries.iter().all(|e| e.source == "128.138.{12,71}"));
}

#[test]
fn warnings_keep_the_service() {
    let r = resolver();
    // (value, xinetd's line or None for a diagnostic of ours, entries kept)
    let table: [(&str, Option<&str>, usize); 9] = [
        ("300.1.2.3", Some("failed to parse 300.1.2.3"), 0),
        ("::gg", Some("failed to parse ::gg"), 0),
        (
            "nosuchhost.invalid",
            Some("failed to parse nosuchhost.invalid"),
            0,
        ),
        ("+", Some("failed to parse +"), 0),
        ("10.0.0.0/", Some("failed to parse 10.0.0.0/"), 0),
        ("1.2.3.", Some("failed to parse 1.2.3."), 0),
        ("10.0.0.0/40", None, 1),
        ("::1/300", None, 1),
        ("::", None, 1),
    ];
    for (value, line, kept) in table {
        let p = parse_value(value, &r).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(p.entries.len(), kept, "{value}");
        assert_eq!(p.warnings.len(), 1, "{value}: {:?}", p.warnings);
        let w = &p.warnings[0];
        assert_eq!(w.text(), value);
        assert_eq!(w.xinetd_message().map(|m| m.text), line.map(String::from));
        assert!(w.to_string().contains(value), "{w}");
    }
    let p = parse_value("10.0.0.0/8x", &r).unwrap();
    assert!(matches!(
        p.warnings[..],
        [AclWarning::TrailingTextAfterMask { .. }]
    ));
    assert_eq!(p.entries.len(), 1);
}

#[test]
fn errors_disable_the_service() {
    let r = resolver();
    let table: [(&str, &[&str]); 10] = [
        // Stricter than xinetd, which silently computes another network for these.
        (
            "10.0{1}",
            &["Bad address: 10.0{1}", "Failed adding: 10.0{1}"],
        ),
        (
            "1.2.3.4.{5}",
            &["Bad address: 1.2.3.4.{5}", "Failed adding: 1.2.3.4.{5}"],
        ),
        (
            "10.0.{1,2}.5",
            &["Bad address: 10.0.{1,2}.5", "Failed adding: 10.0.{1,2}.5"],
        ),
        (
            "10.0.{1,,2}",
            &[
                "Bad address: 10.0.{1,,2}. Consecutive commas",
                "Failed adding: 10.0.{1,,2}",
            ],
        ),
        (
            "10..0.{1}",
            &[
                "Bad address: 10..0.{1}. Consecutive dots",
                "Failed adding: 10..0.{1}",
            ],
        ),
        (
            "1..2",
            &["Bad address: 1..2. Consecutive dots", "Failed adding: 1..2"],
        ),
        (
            "10.{1,2",
            &["Bad address: 10.{1,2", "Failed adding: 10.{1,2"],
        ),
        ("10.{a}", &["Bad address: 10.{a}", "Failed adding: 10.{a}"]),
        (
            "10.0.{300}",
            &["Bad address: 10.0.{300}", "Failed adding: 10.0.{300}"],
        ),
        (
            "10.0.0.1,10.0.0.2",
            &["Address: 10.0.0.1,10.0.0.2 has a comma in it - remove the comma"],
        ),
    ];
    for (value, lines) in table {
        let err = parse_value(value, &r).expect_err(value);
        assert_eq!(err.text(), value);
        let got: Vec<String> = err.xinetd_messages().into_iter().map(|m| m.text).collect();
        assert_eq!(got, lines.to_vec(), "{value}");
        assert!(err.to_string().contains(value), "{err}");
    }
    assert!(matches!(
        AccessList::from_values(["127.0.0.1", "a,b"], &r),
        Err(AclError::CommaInAddress { .. })
    ));
}

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipping: corpus not found at {}", p.display());
        None
    }
}

/// Values of every `only_from` / `no_access` line of a config file, in order.
fn address_lines(conf: &str) -> Vec<(String, Vec<String>)> {
    conf.lines()
        .filter_map(|l| {
            let (name, values) = l.split_once('=')?;
            let name = name.trim();
            (name == "only_from" || name == "no_access").then(|| {
                (
                    name.to_owned(),
                    values.split_whitespace().map(String::from).collect(),
                )
            })
        })
        .collect()
}

#[test]
fn corpus_082_dump_matches_the_real_xinetd() {
    let Some(dir) = corpus() else { return };
    let conf = std::fs::read_to_string(dir.join("configs/082-tricky-addresses.conf"))
        .expect("read 082 config");
    let oracle = std::fs::read_to_string(dir.join("oracle/082-tricky-addresses.out"))
        .expect("read 082 oracle");
    let r = resolver();
    for (attr, values) in address_lines(&conf) {
        let (list, warnings) =
            AccessList::from_values(values.iter().map(String::as_str), &r).expect("082 is valid");
        assert!(warnings.is_empty(), "{warnings:?}");
        let label = if attr == "only_from" {
            "Only from: "
        } else {
            "No access: "
        };
        let line = format!("\t{label}{}", list.xinetd_dump());
        assert!(
            oracle.lines().any(|l| l == line),
            "oracle has no line {line:?}"
        );
    }
}

#[test]
fn corpus_i06_messages_match_the_real_xinetd() {
    let Some(dir) = corpus() else { return };
    let conf =
        std::fs::read_to_string(dir.join("invalid/i06-bad-address.conf")).expect("read i06 config");
    let oracle = std::fs::read_to_string(dir.join("invalid/i06-bad-address.nodebug.out"))
        .expect("read i06 oracle");
    let r = StaticResolver::new(); // the oracle sandbox had no DNS
    let mut checked = 0;
    for (_, values) in address_lines(&conf) {
        for v in values {
            let lines: Vec<String> = match parse_value(&v, &r) {
                Ok(p) => p
                    .warnings
                    .iter()
                    .filter_map(|w| w.xinetd_message())
                    .map(|m| m.text)
                    .collect(),
                Err(e) => e.xinetd_messages().into_iter().map(|m| m.text).collect(),
            };
            for l in lines {
                let expected = format!("xinetd[<PID>]: ERROR: {l} [file=");
                assert!(
                    oracle.lines().any(|o| o.starts_with(&expected)),
                    "oracle lacks {expected:?}"
                );
                checked += 1;
            }
        }
    }
    // 300.1.2.3, 10.0.{1,2}.5 (two lines), nosuchhost.invalid, ::gg
    assert_eq!(checked, 5);
}

#[test]
fn corpus_i11_access_times_messages_match_the_real_xinetd() {
    let Some(dir) = corpus() else { return };
    let conf = std::fs::read_to_string(dir.join("invalid/i11-bad-access-times.conf"))
        .expect("read i11 config");
    let oracle = std::fs::read_to_string(dir.join("invalid/i11-bad-access-times.out"))
        .expect("read i11 oracle");
    let mut checked = 0;
    for (n, l) in conf.lines().enumerate() {
        let Some((name, values)) = l.split_once('=') else {
            continue;
        };
        if name.trim() != "access_times" {
            continue;
        }
        let err = xinetd_acl::AccessTimes::parse(values.split_whitespace())
            .expect_err("every i11 value is invalid");
        let m = &err.xinetd_messages()[0];
        let expected = format!(
            "ERROR: <PID> {{{}}} {} [file=/corpus/invalid/i11-bad-access-times.conf] [line={}]",
            m.function,
            m.text,
            n + 1
        );
        assert!(
            oracle.lines().any(|o| o == expected),
            "oracle lacks {expected:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6);
}
