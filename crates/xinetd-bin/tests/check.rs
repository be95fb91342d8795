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
