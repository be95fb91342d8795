//! The `metrics` builtin (issue 18, extension) end to end: the daemon serves real traffic —
//! served and refused connections (address, instances, sensor), external servers that exit
//! and are killed, a server that cannot start, a redirect — and reloads (one applied, one
//! failed); then a real HTTP client (Python's urllib, and curl when installed) scrapes it and
//! Python's `prometheus_client` parses both formats (Prometheus text 0.0.4 and OpenMetrics
//! 1.0, whose parser also checks the histogram's consistency). Requests that are not HTTP,
//! too large or never completed get their status and one log record.

mod util;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;

use nix::sys::signal::Signal;
use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SRC3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Fetches with urllib (`om` asks for OpenMetrics) and parses with prometheus_client; prints
/// `{"content_type": ..., "types": {family: type}, "samples": {"name{k=\"v\",...}": value}}`.
const SCRAPE: &str = r#"
import json, sys, urllib.request
url, fmt = sys.argv[1], sys.argv[2]
headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if fmt == "om" else {}
with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
    ctype = r.headers["Content-Type"]
    body = r.read().decode()
if fmt == "om":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
out = {"content_type": ctype, "types": {}, "samples": {}}
for fam in text_string_to_metric_families(body):
    out["types"][fam.name] = fam.type
    for s in fam.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        out["samples"]["%s{%s}" % (s.name, labels)] = s.value
print(json.dumps(out))
"#;

struct Scrape {
    content_type: String,
    types: BTreeMap<String, String>,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn get(&self, key: &str) -> f64 {
        match self.samples.get(key) {
            Some(v) => *v,
            None => panic!("no sample {key}; have {:#?}", self.samples.keys()),
        }
    }
}

fn python_has_prometheus_client() -> bool {
    Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn scrape(port: u16, openmetrics: bool) -> Scrape {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let out = Command::new("python3")
        .args(["-c", SCRAPE, &url, if openmetrics { "om" } else { "text" }])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "scrape failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let map = |k: &str| v[k].as_object().cloned().unwrap_or_default();
    Scrape {
        content_type: v["content_type"].as_str().unwrap_or("").to_string(),
        types: map("types")
            .into_iter()
            .map(|(k, t)| (k, t.as_str().unwrap_or("").to_string()))
            .collect(),
        samples: map("samples")
            .into_iter()
            .map(|(k, n)| (k, n.as_f64().unwrap_or(f64::NAN)))
            .collect(),
    }
}

/// Scrapes until `cond` holds (the loop counts an exit when it reaps the server).
fn scrape_until(port: u16, what: &str, cond: impl Fn(&Scrape) -> bool) -> Scrape {
    let mut last = None;
    let ok = xinetd_test_support::wait_for(10, || {
        let s = scrape(port, false);
        let done = cond(&s);
        last = Some(s);
        done
    });
    let last = last.expect("scraped");
    assert!(ok, "{what}; last scrape: {:#?}", last.samples);
    last
}

fn metrics_service(id: &str, port: u16, extra: &str) -> String {
    internal(
        "metrics",
        id,
        "stream",
        port,
        &format!("\tonly_from = 127.0.0.1\n{extra}"),
    )
}

fn external_service(id: &str, port: u16, server: &str, args: &str, extra: &str) -> String {
    external(id, port, server, args, extra)
}

/// Sends a raw request and returns the whole answer.
fn raw(port: u16, request: &[u8]) -> String {
    let mut s = connect(port);
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_real_scraper_reads_what_the_daemon_did() {
    if !python_has_prometheus_client() {
        skip("python3 with prometheus_client is not installed (pip install prometheus_client)");
        return;
    }
    let p: Vec<u16> = (0..10).map(|_| free_port()).collect();
    let (metrics, echo, discard, sensor, fails, nochroot, sleeper, redirect, quick, target) =
        (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]);
    let conf = metrics_service("metrics", metrics, "")
        + &metrics_service("metrics-quick", quick, "\ttimeout = 1\n")
        + &internal("echo", "echo", "stream", echo, "\tonly_from = 127.0.0.1 127.0.0.3\n")
        + &internal("discard", "discard", "stream", discard, "\tinstances = 1\n")
        + &format!(
            "service discard\n{{\n\tid = trap\n\ttype = INTERNAL UNLISTED\n\tflags = SENSOR\n\
             \tsocket_type = stream\n\tport = {sensor}\n\twait = no\n\tbind = 127.0.0.1\n\
             \tdeny_time = 5\n\tcps = 0 0\n}}\n"
        )
        + &external_service("fails", fails, "/bin/false", "", "")
        + &external_service("nochroot", nochroot, "/bin/true", "", "\tchroot = /nonexistent-jail\n")
        + &external_service("sleeper", sleeper, "/bin/sleep", "30", "\ttimeout = 1\n")
        + &format!(
            "service relay\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
             \tport = {redirect}\n\twait = no\n\tbind = 127.0.0.1\n\tredirect = 127.0.0.1 {target}\n\tuser = root\n\
             \tcps = 0 0\n}}\n"
        )
        + &internal("echo", "target", "stream", target, "");
    let d = Daemon::start(&conf);

    // echo: two served, one refused by address (127.0.0.2 is not in its only_from).
    assert_eq!(exchange(echo, b"one"), b"one");
    assert_eq!(exchange(echo, b"two"), b"two");
    assert_eq!(read_all(&mut connect_from(SRC2, echo)), b"");
    // discard: one held open, the next refused by instances.
    let held = connect(discard);
    d.wait_file(5, "svc.log", "START: discard");
    assert_eq!(read_all(&mut connect(discard)), b"");
    d.wait_file(5, "svc.log", "FAIL: discard service_limit");
    // The sensor bans 127.0.0.3, which echo then refuses as a sensor refusal.
    assert_eq!(read_all(&mut connect_from(SRC3, sensor)), b"");
    d.wait_log(5, "Adding 127.0.0.3 to the global_no_access list");
    assert_eq!(read_all(&mut connect_from(SRC3, echo)), b"");
    // External servers: one exits 1, one cannot start, one is killed at its timeout.
    read_all(&mut connect(fails));
    read_all(&mut connect(nochroot));
    let _sleeping = connect(sleeper);
    // redirect: 5 bytes in, 5 back.
    assert_eq!(exchange(redirect, b"relay"), b"relay");
    // The metrics service answers only its only_from.
    assert_eq!(read_all(&mut connect_from(SRC2, metrics)), b"");

    let s = scrape_until(metrics, "servers reaped and counted", |s| {
        s.samples
            .get("xinetd_server_signals_total{service=\"sleeper\",signal=\"SIGKILL\"}")
            == Some(&1.0)
            && s.samples
                .get("xinetd_server_exits_total{service=\"fails\",status=\"1\"}")
                == Some(&1.0)
            && s.samples
                .get("xinetd_redirect_bytes_total{direction=\"out\",service=\"relay\"}")
                == Some(&5.0)
    });
    assert_eq!(s.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(
        s.get("xinetd_service_accepted_total{service=\"echo\"}"),
        4.0
    );
    let refused = |s: &Scrape, svc: &str, why: &str| {
        s.get(&format!(
            "xinetd_service_refused_total{{reason=\"{why}\",service=\"{svc}\"}}"
        ))
    };
    assert_eq!(refused(&s, "echo", "address"), 1.0);
    assert_eq!(refused(&s, "echo", "sensor"), 1.0);
    assert_eq!(refused(&s, "trap", "sensor"), 1.0);
    assert_eq!(refused(&s, "discard", "instances"), 1.0);
    assert_eq!(refused(&s, "metrics", "address"), 1.0);
    assert_eq!(refused(&s, "echo", "proxy"), 0.0);
    assert_eq!(refused(&s, "echo", "cps"), 0.0);
    assert_eq!(s.get("xinetd_service_running{service=\"discard\"}"), 1.0);
    assert_eq!(
        s.get("xinetd_service_spawn_failures_total{service=\"nochroot\"}"),
        1.0
    );
    assert_eq!(
        s.get("xinetd_redirect_bytes_total{direction=\"in\",service=\"relay\"}"),
        5.0
    );
    assert_eq!(s.get("xinetd_sensor_banned_addresses{}"), 1.0);
    assert!(s.get("xinetd_open_fds{}") > 3.0);
    assert_eq!(s.types["xinetd_connection_duration_seconds"], "histogram");
    let count = s.get("xinetd_connection_duration_seconds_count{service=\"echo\"}");
    assert_eq!(count, 2.0);
    assert_eq!(
        s.get("xinetd_connection_duration_seconds_bucket{le=\"+Inf\",service=\"echo\"}"),
        count
    );
    // The sleeper ran about its one-second timeout: not in the buckets below 0.5 s.
    assert_eq!(
        s.get("xinetd_connection_duration_seconds_bucket{le=\"0.5\",service=\"sleeper\"}"),
        0.0
    );
    assert_eq!(
        s.get("xinetd_connection_duration_seconds_count{service=\"sleeper\"}"),
        1.0
    );

    // OpenMetrics when asked; its parser checks the families, the histogram and `# EOF`.
    let om = scrape(metrics, true);
    assert_eq!(
        om.content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(om.types["xinetd_service_accepted"], "counter");
    assert_eq!(
        om.get("xinetd_service_accepted_total{service=\"echo\"}"),
        4.0
    );

    // A reload that keeps the services keeps their counters; a failed one is counted too.
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "Reconfigured:");
    std::fs::remove_file(&d.conf).expect("rm config");
    d.signal(Signal::SIGHUP);
    d.wait_log(10, "reconfiguration failed");
    let s = scrape(metrics, false);
    assert_eq!(s.get("xinetd_reloads_total{result=\"ok\"}"), 1.0);
    assert_eq!(s.get("xinetd_reloads_total{result=\"failed\"}"), 1.0);
    assert_eq!(
        s.get("xinetd_service_accepted_total{service=\"echo\"}"),
        4.0
    );
    assert_eq!(refused(&s, "echo", "address"), 1.0);

    // curl, when installed: the headers a scraper sees.
    if Command::new("curl").arg("--version").output().is_ok() {
        let out = Command::new("curl")
            .args(["-s", "-i", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{metrics}/"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("\r\nContent-Type: text/plain; version=0.0.4"),
            "{text}"
        );
        assert!(
            text.contains("\nxinetd_reloads_total{result=\"ok\"} 1\n"),
            "{text}"
        );
    } else {
        skip("curl is not installed: only urllib scraped");
    }

    // Not HTTP: a 400 at once (not at the deadline) and one log record.
    let answer = raw(metrics, b"\x16\x03\x01\x00\xa5\x01\x00\x00");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
    d.wait_log(
        5,
        "service metrics: bad request answered 400 Bad Request (not an HTTP request",
    );
    let answer = raw(metrics, b"hello there\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
    // Another method, and a head over the bound.
    let answer = raw(
        metrics,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert!(
        answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
            && answer.contains("Allow: GET, HEAD"),
        "{answer:?}"
    );
    let mut big = b"GET /".to_vec();
    big.resize(20_000, b'a');
    let answer = raw(metrics, &big);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    // HEAD: the headers only.
    let answer = raw(metrics, b"HEAD / HTTP/1.0\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("\r\n\r\n"),
        "{answer:?}"
    );
    // A request never completed is closed at the deadline (here the service's timeout of
    // one second) and logged.
    let mut slow = connect(quick);
    slow.write_all(b"GET /metrics HTTP/1.1\r\n").expect("write");
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    d.wait_log(
        5,
        "service metrics-quick: incomplete request after 23 bytes",
    );
    assert_eq!(
        d.prog_log().matches("bad request answered").count(),
        4,
        "{}",
        d.prog_log()
    );
    // A connection that sends nothing and leaves is not a bad request.
    drop(TcpStream::connect(("127.0.0.1", metrics)).expect("connect"));
    let s = scrape(metrics, false);
    assert_eq!(s.get("xinetd_service_running{service=\"discard\"}"), 1.0);
    assert_eq!(
        d.prog_log().matches("bad request answered").count(),
        4,
        "{}",
        d.prog_log()
    );
    drop(held);
}
