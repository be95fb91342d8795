//! Differential scenarios, features around the server: banners, `redirect`, tcpmux, libwrap
//! (hosts.allow / hosts.deny, F-250) and exec failures, under the real xinetd 2.3.15.3 and
//! ours. Skipped with a message when /usr/sbin/xinetd is absent or not root.

#[path = "util/diff.rs"]
mod diff;
mod util;

use diff::*;

const SOURCES: [Src; 4] = [Src::V4(1), Src::V4(2), Src::V4(3), Src::V6];

fn cat(over: &[(&str, &str)]) -> String {
    let mut o = vec![("server", "/bin/cat"), ("server_args", ""), ("bind", "")];
    o.extend_from_slice(over);
    stanza(&o)
}

/// Writes the banner files, then one exchange per source.
fn with_banners(side: &Side, obs: &mut Obs) {
    for (f, text) in [
        ("banner", "banner: hello\n"),
        ("banner_success", "banner_success: welcome\n"),
        ("banner_fail", "banner_fail: go away\n"),
    ] {
        std::fs::write(side.path(f), text).expect("banner file");
    }
    each_source(side, obs);
}

fn each_source(side: &Side, obs: &mut Obs) {
    for src in SOURCES {
        obs.put(src.label(), tcp(src, side.port(0), b"payload\n"));
    }
}

fn once(side: &Side, obs: &mut Obs) {
    obs.put("127.0.0.2", tcp(Src::V4(2), side.port(0), b"payload\n"));
}

fn tcpmux_client(side: &Side, obs: &mut Obs) {
    for (k, req) in [
        ("plus", &b"plus\r\n"[..]),
        ("plus, other case", b"PLUS\r\n"),
        ("quiet", b"quiet\r\n"),
        ("unknown", b"nosuch\r\n"),
        ("no CRLF", b"quiet\n"),
    ] {
        obs.put(k, tcp(Src::V4(2), side.port(0), req));
    }
}

/// A fake identd on 127.0.0.5:113 (RFC 1413) answering one query with `reply` (`{q}` is the
/// query), bounded to 5 s; returns the query it got.
fn identd(reply: &'static str) -> Option<std::thread::JoinHandle<String>> {
    use std::io::{BufRead, Write};
    let l = std::net::TcpListener::bind(("127.0.0.5", 113)).ok()?;
    l.set_nonblocking(true).ok()?;
    Some(std::thread::spawn(move || {
        let mut got = String::from("no query");
        wait_for(5, || match l.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
                let mut r = std::io::BufReader::new(&s);
                let mut q = String::new();
                let _ = r.read_line(&mut q);
                let q = q.trim().to_string();
                let _ = (&s).write_all(reply.replace("{q}", &q).as_bytes());
                got = "query".into();
                true
            }
            Err(_) => false,
        });
        got
    }))
}

fn userid_client(side: &Side, obs: &mut Obs, reply: &'static str) {
    let Some(id) = identd(reply) else {
        obs.put("identd", "127.0.0.5:113 is busy");
        return;
    };
    obs.put("client", tcp(Src::V4(5), side.port(0), b"who\n"));
    obs.put("identd", id.join().unwrap_or_default());
}

fn banner_row(name: &'static str, over: &[(&str, &str)]) -> Scenario {
    Scenario::new(name, cat(over), with_banners).check_in_child()
}

fn wrap_row(
    name: &'static str,
    over: &[(&str, &str)],
    allow: &'static str,
    deny: &'static str,
) -> Scenario {
    Scenario::new(name, cat(over), each_source)
        .hosts(allow, deny)
        .logs(Logs::Both)
        .check_in_child()
}

fn table() -> Vec<Scenario> {
    vec![
        banner_row("banner: banner", &[("banner", "@DIR@/banner")]),
        banner_row(
            "banner: banner_success",
            &[("banner_success", "@DIR@/banner_success")],
        ),
        banner_row(
            "banner: banner_fail for refused clients",
            &[
                ("banner_fail", "@DIR@/banner_fail"),
                ("only_from", "127.0.0.2 ::1"),
            ],
        ),
        banner_row(
            "banner: all three",
            &[
                ("banner", "@DIR@/banner"),
                ("banner_success", "@DIR@/banner_success"),
                ("banner_fail", "@DIR@/banner_fail"),
                ("only_from", "127.0.0.3"),
            ],
        ),
        banner_row(
            "banner: missing banner file",
            &[("banner", "@DIR@/no-such-banner")],
        ),
        Scenario::new(
            "redirect: to an echo service",
            format!(
                "{}{}",
                cat(&[
                    ("redirect", "127.0.0.1 @P1@"),
                    ("server", ""),
                    ("log_on_success", "PID HOST EXIT DURATION TRAFFIC")
                ]),
                internal(
                    "echo",
                    "stream",
                    "@P1@",
                    &[("log_type", "FILE @DIR@/echo.log")]
                )
            ),
            each_source,
        )
        .unordered()
        // The client half-closes after its payload: xinetd ends the session there (out=0),
        // we pass the EOF on and relay the echo back.
        .real_has("svc.log", "out=0(bytes)")
        .deliberate(
            "Half-close is propagated through `redirect`",
            &[
                ("127.0.0.1", "payload"),
                ("127.0.0.2", "payload"),
                ("127.0.0.3", "payload"),
                ("::1", "payload"),
                ("svc.log", "out=8(bytes)"),
            ],
        ),
        Scenario::new(
            "redirect: to a closed port",
            cat(&[("redirect", "127.0.0.1 @P2@"), ("server", "")]),
            once,
        )
        .logs(Logs::Both)
        .deliberate(
            "`redirect` is relayed inside the loop",
            &[("prog.log", "!IPV6_V6ONLY")],
        ),
        Scenario::new(
            "tcpmux: a TCPMUX service through the tcpmux listener",
            format!(
                "{}{}{}",
                internal("tcpmux", "stream", "@P0@", &[("log_on_success", "HOST")]),
                entry(
                    "plus",
                    PROBE_SERVICE,
                    &[
                        ("type", "TCPMUXPLUS UNLISTED"),
                        ("port", ""),
                        ("bind", ""),
                        ("server", "/bin/echo"),
                        ("server_args", "hi")
                    ]
                ),
                entry(
                    "quiet",
                    PROBE_SERVICE,
                    &[
                        ("type", "TCPMUX UNLISTED"),
                        ("port", ""),
                        ("bind", ""),
                        ("server", "/bin/echo"),
                        ("server_args", "+ok")
                    ]
                ),
            ),
            tcpmux_client,
        )
        .unordered()
        .deliberate(
            "Internal services never fork",
            &[
                ("plus", "\"+Go\\r\\nhi\\n\" +eof"),
                ("plus, other case", "\"+Go\\r\\nhi\\n\" +eof"),
                ("unknown", "\"-Service name not found\\r\\n\" +eof"),
            ],
        ),
        Scenario::new(
            "exec: server does not exist",
            cat(&[("server", "/nonexistent/server")]),
            once,
        )
        .logs(Logs::Both),
        Scenario::new(
            "exec: server is not executable",
            cat(&[("server", "/etc/hostname")]),
            once,
        )
        .logs(Logs::Both),
        Scenario::new(
            "userid: log_on_success USERID",
            cat(&[("log_on_success", "HOST USERID")]),
            |s, o| userid_client(s, o, "{q} : USERID : UNIX : alice\r\n"),
        )
        .real_has("svc.log", "USERID: probe"),
        Scenario::new(
            "userid: identd answers ERROR",
            cat(&[("log_on_success", "HOST USERID")]),
            |s, o| userid_client(s, o, "{q} : ERROR : NO-USER\r\n"),
        ),
        Scenario::new(
            "userid: IDONLY with a named user",
            cat(&[("log_on_success", "HOST USERID"), ("flags", "IDONLY")]),
            |s, o| userid_client(s, o, "{q} : USERID : UNIX : bob\r\n"),
        ),
        Scenario::new(
            "admin: internal servers service",
            internal("servers", "stream", "@P0@", &[("only_from", "127.0.0.1")]),
            |s, o| o.put("servers", tcp(Src::V4(1), s.port(0), b"")),
        )
        .logs(Logs::Both)
        .real_has("prog.log", "No such internal service: servers/stream")
        .deliberate(
            "`servers`, `services` and `xadmin` exist",
            &[
                ("prog.log", "!No such internal service"),
                // No server is running: an empty list.
                ("servers", "closed"),
                ("svc.log", "START: servers pid=N from=127.0.0.1"),
            ],
        ),
        wrap_row("libwrap: empty files", &[], "", ""),
        wrap_row("libwrap: deny ALL: ALL", &[], "", "ALL: ALL\n"),
        wrap_row(
            "libwrap: allow one client, deny the rest",
            &[],
            "cat: 127.0.0.2\n",
            "ALL: ALL\n",
        ),
        wrap_row(
            "libwrap: deny by daemon name",
            &[],
            "",
            "cat: 127.0.0.3 [::1]\n",
        ),
        wrap_row(
            "libwrap: other daemon names do not match",
            &[],
            "",
            "sshd: ALL\n",
        ),
        wrap_row("libwrap: EXCEPT", &[], "", "ALL: ALL EXCEPT 127.0.0.1\n"),
        wrap_row(
            "libwrap: network/mask",
            &[],
            "",
            "cat: 127.0.0.0/255.255.255.252\n",
        ),
        wrap_row(
            "libwrap: flags = NOLIBWRAP",
            &[("flags", "NOLIBWRAP")],
            "",
            "ALL: ALL\n",
        ),
        wrap_row(
            "libwrap: libwrap attribute names the daemon",
            &[("libwrap", "special")],
            "",
            "special: 127.0.0.2\n",
        ),
        Scenario::new(
            "libwrap: internal service by service name",
            internal("echo", "stream", "@P0@", &[("bind", "")]),
            each_source,
        )
        .hosts("", "echo: 127.0.0.3\n")
        .logs(Logs::Both)
        .check_in_child(),
    ]
}

#[test]
fn differential_banners_redirect_tcpmux_libwrap() {
    run_table(table());
}
