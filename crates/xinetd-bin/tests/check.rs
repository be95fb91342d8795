//! `xinetd -f FILE -check [-json]` end to end: output and exit codes 0/1/2.

use std::path::Path;
use std::process::{Command, Output};

fn xinetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xinetd"))
        .args(args)
        .output()
        .expect("run xinetd")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write config");
    p.to_string_lossy().into_owned()
}

const GOOD: &str = "\
defaults
{
\tinstances = 10
}

service echo
{
\tid          = echo-test
\ttype        = INTERNAL UNLISTED
\tsocket_type = stream
\tport        = 17007
\tbind        = 127.0.0.1
\twait        = no
}

service myprog
{
\ttype        = UNLISTED
\tprotocol    = udp
\tport        = 17008
\twait        = yes
\tuser        = 0
\tserver      = /bin/sh
}
";

#[test]
fn all_accepted_exits_0_and_lists_services() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "good.conf", GOOD);
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "echo-test socket_type=stream protocol=tcp port=17007 bind=127.0.0.1 wait=no type=INTERNAL,UNLISTED"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "myprog socket_type=dgram protocol=udp port=17008 bind=* wait=yes type=UNLISTED"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains(": error:"), "{stdout}");
}

#[test]
fn dropped_service_exits_1_with_located_diagnostics_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{GOOD}
service broken
{{
\ttype        = INTERNAL UNLISTED
\tsocket_type = stream
\tport        = 17009
\twait        = maybe
\tper_source  = 10 # per client
}}
"
    );
    let f = write(dir.path(), "some-bad.conf", &text);
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // Compiler-style location of the bad value (line 31, column 2: the attribute name).
    assert!(
        stdout.contains(&format!(
            "{f}:31:2: error: Bad value for wait: maybe; service 'broken' is dropped"
        )),
        "{stdout}"
    );
    // The '#' hint for the CTF idiom.
    assert!(stdout.contains(&format!("{f}:32:2: warning:")), "{stdout}");
    assert!(
        stdout.contains("'#' starts a comment only at the beginning of a line"),
        "{stdout}"
    );
    // Good services are still listed; the broken one is not.
    assert!(stdout.contains("echo-test socket_type=stream"), "{stdout}");
    assert!(!stdout.contains("broken socket_type"), "{stdout}");
}

#[test]
fn disabled_services_do_not_count_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let text = GOOD.replace(
        "\twait        = no\n}",
        "\twait        = no\n\tdisable     = yes\n}",
    );
    let f = write(dir.path(), "disabled.conf", &text);
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("echo-test socket_type"), "{stdout}");
    assert!(stdout.contains("myprog socket_type"), "{stdout}");
}

#[test]
fn fatal_defaults_and_unreadable_file_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "fatal.conf",
        "defaults\n{\n\tinstances = lots\n}\n",
    );
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{f}:3:2: error: Number of instances is invalid: lots"
        )),
        "{stdout}"
    );

    let missing = dir.path().join("nope.conf");
    let out = xinetd(&["-f", missing.to_str().unwrap(), "-check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot read configuration"));
}

#[test]
fn json_document() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{GOOD}\nservice x\n{{\n\tbogus = 1\n}}\n");
    let f = write(dir.path(), "json.conf", &text);
    // Other xinetd options around -check must not disturb it.
    let out = xinetd(&["-dontfork", "-f", &f, "-check", "-json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[0]["id"], "echo-test");
    assert_eq!(services[0]["name"], "echo");
    assert_eq!(services[0]["socket_type"], "stream");
    assert_eq!(services[0]["protocol"], "tcp");
    assert_eq!(services[0]["port"], 17007);
    assert_eq!(services[0]["bind"], "127.0.0.1");
    assert_eq!(services[0]["wait"], false);
    assert_eq!(
        services[0]["type"],
        serde_json::json!(["INTERNAL", "UNLISTED"])
    );
    assert_eq!(services[1]["bind"], serde_json::Value::Null);
    let diags = v["diagnostics"].as_array().unwrap();
    let bogus = diags
        .iter()
        .find(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("unknown attribute 'bogus'")
        })
        .expect("bogus diagnostic");
    assert_eq!(bogus["file"], f.as_str());
    assert_eq!(bogus["line"], 28);
    assert_eq!(bogus["column"], 2);
    assert_eq!(bogus["severity"], "warning");
    assert!(diags.iter().any(|d| d["severity"] == "error"));

    // Fatal: still one document, exit 2.
    let f2 = write(dir.path(), "fatal.conf", "defaults\n{\n\tmax_load = 0\n}\n");
    let out = xinetd(&["-f", &f2, "-check", "-json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["services"], serde_json::json!([]));
    assert_eq!(v["diagnostics"][0]["line"], 3);
}

/// Debian's stock layout: an `includedir` of files whose services are all `disable = yes`.
fn stock_debian_like(dir: &Path) -> String {
    let d = dir.join("xinetd.d");
    std::fs::create_dir(&d).expect("mkdir");
    for (name, port) in [("echo", 17011), ("daytime", 17012), ("time", 17013)] {
        std::fs::write(
            d.join(name),
            format!(
                "service {name}\n{{\n\tdisable = yes\n\ttype = INTERNAL UNLISTED\n\tid = {name}-stream\n\tsocket_type = stream\n\tport = {port}\n\twait = no\n}}\n"
            ),
        )
        .expect("write");
    }
    write(
        dir,
        "xinetd.conf",
        &format!("defaults\n{{\n}}\n\nincludedir {}\n", d.display()),
    )
}

#[test]
fn quiet_when_all_is_well_info_with_v_each_hint_once_json_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let f = stock_debian_like(dir.path());
    // Default: no diagnostics at all, only the closing summary.
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "", "a clean configuration prints no diagnostics");
    assert_eq!(stderr, "0 services accepted, 0 dropped, 3 disabled\n");

    // -v: the info lines (included files, disabled services), the same hint once.
    let out = xinetd(&["-f", &f, "-check", "-v"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.matches(": info: reading included file ").count(),
        3,
        "{stdout}"
    );
    assert_eq!(stdout.matches(": info: service '").count(), 3, "{stdout}");
    assert_eq!(
        stdout
            .matches("hint: xinetd stops reading the entry at `disable = yes`")
            .count(),
        1,
        "each hint once: {stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 disabled"));

    // -json: every diagnostic, every hint.
    let out = xinetd(&["-f", &f, "-check", "-json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(diags.iter().filter(|d| d["severity"] == "info").count(), 6);
    assert_eq!(
        diags
            .iter()
            .filter(|d| d["hint"]
                .as_str()
                .is_some_and(|h| h.contains("disable = yes")))
            .count(),
        3
    );
}

#[test]
fn warnings_and_errors_are_printed_without_v() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{GOOD}\nservice x\n{{\n\tbogus = 1\n\tbogus2 = 1\n}}\n");
    let f = write(dir.path(), "warn.conf", &text);
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{f}:28:2: warning: ")), "{stdout}");
    assert!(stdout.contains(&format!("{f}:29:2: warning: ")), "{stdout}");
    assert!(stdout.contains(": error: "), "{stdout}");
    assert!(!stdout.contains(": info: "), "{stdout}");
}

#[test]
fn a_fatal_defaults_error_does_not_hide_later_problems() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "fatal-then-more.conf",
        "defaults\n{\n\tinstances = lots\n\tbogus = 1\n}\n\nservice x\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\tport = 17020\n\twait = maybe\n}\n\nstray line\n",
    );
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "still unusable: {stdout}");
    assert!(
        stdout.contains(&format!(
            "{f}:3:2: error: Number of instances is invalid: lots in the defaults section: this is fatal"
        )),
        "{stdout}"
    );
    // Everything after it is reported too: in defaults, in a service, outside entries.
    assert!(stdout.contains(&format!("{f}:4:2: warning: ")), "{stdout}");
    assert!(
        stdout.contains(&format!("{f}:12:2: error: Bad value for wait: maybe")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{f}:15:1: error: expected 'service'")),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unusable: fatal error in defaults"));

    let out = xinetd(&["-f", &f, "-check", "-json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let lines: Vec<u64> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    for want in [3, 4, 12, 15] {
        assert!(lines.contains(&want), "line {want} in {lines:?}");
    }
}

/// Where xinetd logs `missing service keyword` / `service name missing` (the corpus's
/// recorded verdicts of the real xinetd), `-check` has a diagnostic at that very line,
/// also for the lines that follow a broken one.
#[test]
fn every_line_xinetd_rejects_after_a_broken_one_gets_a_diagnostic() {
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    if !corpus.is_dir() {
        eprintln!("skipped: {} is absent", corpus.display());
        return;
    }
    let mut checked = 0;
    for name in [
        "i16-nested-braces",
        "i31-trailing-garbage",
        "i30-utf8-bom",
        "i13-includedir-missing",
    ] {
        let conf = corpus.join("invalid").join(format!("{name}.conf"));
        let oracle = std::fs::read_to_string(corpus.join("invalid").join(format!("{name}.out")))
            .expect("oracle output");
        let want: Vec<u32> = oracle
            .lines()
            .filter(|l| l.contains("missing service keyword") || l.contains("service name missing"))
            .filter_map(|l| {
                l.rsplit("[line=")
                    .next()?
                    .trim_end_matches(']')
                    .parse()
                    .ok()
            })
            .collect();
        assert!(!want.is_empty(), "{name}: the oracle has such lines");
        let conf_s = conf.to_str().unwrap();
        let out = xinetd(&["-f", conf_s, "-check"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in &want {
            assert!(
                stdout.contains(&format!("{conf_s}:{line}:")),
                "{name}: xinetd rejects line {line}, -check says nothing there:\n{stdout}"
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "i16 alone has 100 such lines");
}

/// The daemon (not -check) logs a fatal `defaults` error once, at xinetd's level: ERROR
/// `A fatal error ...`, then WARNING `Exiting...`, as xinetd 2.3.15.3 does; no CRITICAL.
#[test]
fn the_daemon_logs_a_fatal_defaults_error_once_at_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "fatal.conf",
        "defaults\n{\n\tinstances = lots\n}\n",
    );
    let log = dir.path().join("daemon.log");
    let out = xinetd(&[
        "-dontfork",
        "-f",
        &f,
        "-filelog",
        log.to_str().unwrap(),
        "-pidfile",
        dir.path().join("pid").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = std::fs::read_to_string(&log).expect("program log");
    let records: Vec<&str> = text
        .lines()
        .map(|l| l.split_once("]: ").map_or(l, |(_, r)| r))
        .collect();
    assert_eq!(
        records,
        [
            format!("ERROR: Number of instances is invalid: lots [file={f}] [line=3]").as_str(),
            "ERROR: A fatal error was encountered while parsing the default section. xinetd will exit.",
            "WARNING: Exiting...",
        ],
        "{text}"
    );
}

/// The same, live: the real xinetd (when installed) reads a file with every kind of line
/// that follows a broken one — a stray word, a stray `}`/`{`, an attribute after a skip,
/// `} # x`, a header without a name — and `-check` has a diagnostic at each line it
/// rejects.
#[test]
fn every_line_the_real_xinetd_rejects_gets_a_diagnostic() {
    const REAL: &str = "/usr/sbin/xinetd";
    if !Path::new(REAL).exists() {
        eprintln!("skipped: {REAL} is not installed (apt-get install xinetd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "after-broken.conf",
        "stray\nservice b\n{\n\tid = b\n}\n\tx = y\n}\nservice c\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n} # x\nservice d\n{\n\ttype = INTERNAL\n}\n\tfoo\n\tbar = 1\n}\n}\nservice\nservice e\n{\n}\n{\n}\ninclude\n}\nincludedir\nmore\n}\n",
    );
    // No service survives, so the real daemon binds nothing; it is stopped once it has
    // read the file.
    let log = dir.path().join("real.log");
    let mut real = Command::new(REAL)
        .args(["-dontfork", "-f", &f, "-filelog"])
        .arg(&log)
        .arg("-pidfile")
        .arg(dir.path().join("real.pid"))
        .spawn()
        .expect("start the real xinetd");
    let started = xinetd_test_support::wait_for(10, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Started working"))
    });
    let _ = real.kill();
    let _ = real.wait();
    assert!(started, "the real xinetd did not start");
    let text = std::fs::read_to_string(&log).expect("real log");
    let want: Vec<u32> = text
        .lines()
        .filter(|l| l.contains("missing service keyword") || l.contains("service name missing"))
        .filter_map(|l| {
            l.rsplit("[line=")
                .next()?
                .trim_end_matches(']')
                .parse()
                .ok()
        })
        .collect();
    assert!(want.len() >= 6, "{text}");
    let out = xinetd(&["-f", &f, "-check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in want {
        assert!(
            stdout.contains(&format!("{f}:{line}:")),
            "xinetd rejects line {line}, -check says nothing there:\n{stdout}\nxinetd:\n{text}"
        );
    }
}

#[test]
fn load_balancer_attributes_in_check_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let text = "service echo\n{\n\ttype = INTERNAL UNLISTED\n\tport = 17107\n\
                \tsocket_type = stream\n\twait = no\n\tproxy_protocol = any direct\n\
                \tproxy_from = 10.0.0.0/8\n\tproxy_timeout = 7\n\tconnection_env = ucspi\n}\n\
                service daytime\n{\n\ttype = INTERNAL UNLISTED\n\tport = 17113\n\
                \tsocket_type = stream\n\twait = no\n\tproxy_timeout = forever\n}\n";
    let f = write(dir.path(), "lb.conf", text);
    let out = xinetd(&["-f", &f, "-check", "-json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the bad proxy_timeout is an error"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let s = &v["services"][0];
    assert_eq!(
        s["proxy_protocol"],
        serde_json::json!({ "versions": "any", "direct": true })
    );
    assert_eq!(s["proxy_from"], serde_json::json!(["10.0.0.0/8"]));
    assert_eq!(s["proxy_timeout"], 7);
    assert_eq!(s["connection_env"], serde_json::json!(["ucspi"]));
    assert_eq!(s["redirect_proxy"], serde_json::Value::Null);
    let bad = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("proxy_timeout 'forever'")
        })
        .expect("located diagnostic");
    assert_eq!(bad["file"], f.as_str());
    assert_eq!(bad["line"], 18);
    assert_eq!(bad["column"], 2);
    assert_eq!(bad["severity"], "error");
}
