//! Differential scenarios, child set-up: what an external server sees of its process (argv,
//! environment, credentials, umask, nice, rlimits, fds, session) when started by the real
//! xinetd 2.3.15.3 and by ours from the same entry, plus the records logged for it.
//! Skipped with a message when /usr/sbin/xinetd is absent or not root.

#[path = "util/diff.rs"]
mod diff;
mod util;

use diff::*;

/// The probe's report over TCP from 127.0.0.1.
fn probe(side: &Side, obs: &mut Obs) {
    obs.put("probe", probe_tcp(side, side.port(0), b""));
}

/// The probe with `-r`: one line from the client first.
fn probe_line(side: &Side, obs: &mut Obs) {
    obs.put(
        "probe",
        probe_tcp(side, side.port(0), b"hello from the client\n"),
    );
}

/// The probe twice, from 127.0.0.2 and ::1.
fn probe_two_sources(side: &Side, obs: &mut Obs) {
    let v4 = tcp(Src::V4(2), side.port(0), b"");
    obs.put("from 127.0.0.2", mask_glibc_signals(&side.normalise(&v4)));
    let v6 = tcp(Src::V6, side.port(0), b"");
    obs.put("from ::1", mask_glibc_signals(&side.normalise(&v6)));
}

fn row(name: &'static str, over: &[(&str, &str)]) -> Scenario {
    Scenario::new(name, stanza(over), probe)
}

fn table() -> Vec<Scenario> {
    vec![
        row("spawn: root, defaults", &[]),
        row("spawn: user = nobody", &[("user", "nobody")]),
        row(
            "spawn: user = nobody, group = nogroup",
            &[("user", "nobody"), ("group", "nogroup")],
        ),
        row("spawn: user = daemon", &[("user", "daemon")]),
        row(
            "spawn: user = daemon, groups = yes",
            &[("user", "daemon"), ("groups", "yes")],
        ),
        row("spawn: user = root, group = adm", &[("group", "adm")]),
        row(
            "spawn: numeric user and group",
            &[("user", "65534"), ("group", "4")],
        ),
        row("spawn: umask = 077", &[("umask", "077")]),
        row("spawn: umask = 0", &[("umask", "0")]),
        row("spawn: nice = 5", &[("nice", "5")]),
        row("spawn: nice = -4", &[("nice", "-4")]),
        row("spawn: rlimit_as = 512M", &[("rlimit_as", "512M")]),
        row("spawn: rlimit_cpu = 10", &[("rlimit_cpu", "10")]),
        row(
            "spawn: rlimit_data = 300000K",
            &[("rlimit_data", "300000K")],
        ),
        row("spawn: rlimit_rss = 16M", &[("rlimit_rss", "16M")]),
        row("spawn: rlimit_stack = 4M", &[("rlimit_stack", "4M")]),
        row("spawn: rlimit_files = 64", &[("rlimit_files", "64")]),
        row(
            "spawn: rlimit_cpu = UNLIMITED",
            &[("rlimit_cpu", "UNLIMITED")],
        ),
        row("spawn: env = A=1 B=two", &[("env", "A=1 B=two")]),
        row(
            "spawn: env replaces an inherited variable",
            &[("env", "XDIFF=replaced PATH=/nowhere")],
        ),
        row("spawn: passenv = XDIFF", &[("passenv", "XDIFF")]),
        row("spawn: passenv = (empty)", &[("passenv", "")]),
        row(
            "spawn: passenv = XDIFF PATH + env",
            &[("passenv", "XDIFF PATH"), ("env", "C=3")],
        ),
        row(
            "spawn: passenv of an undefined variable",
            &[("passenv", "NOSUCHVAR XDIFF")],
        ),
        row(
            "spawn: server_args with several words",
            &[("server_args", "@PROBE@ one two  three")],
        ),
        // 2.3.15.3 execs only argv[0] and its child crashes in libwrap (SIGSEGV, EXIT
        // status=1); with NOLIBWRAP the server still gets argv[0] alone.
        row(
            "spawn: NAMEINARGS sets argv[0]",
            &[
                ("flags", "NAMEINARGS"),
                ("server_args", "my-name @PROBE@ x y"),
            ],
        )
        .deliberate(
            "NAMEINARGS passes the whole argument list",
            &[
                ("probe", "cmdline:my-name @DIR@/probe x y \nenv: LANG=C"),
                ("svc.log", "EXIT: probe status=0"),
            ],
        ),
        row(
            "spawn: NAMEINARGS NOLIBWRAP sets argv[0]",
            &[
                ("flags", "NAMEINARGS NOLIBWRAP"),
                ("server_args", "my-name @PROBE@ x y"),
            ],
        )
        .deliberate(
            "NAMEINARGS passes the whole argument list",
            &[("probe", "cmdline:my-name @DIR@/probe x y \nenv: LANG=C")],
        ),
        row(
            "spawn: server is the script (#!)",
            &[("server", "@PROBE@"), ("server_args", "a b")],
        ),
        row(
            "spawn: no server_args",
            &[("server", "@PROBE@"), ("server_args", "")],
        ),
        Scenario::new(
            "spawn: stdin is the connection",
            stanza(&[("server_args", "@PROBE@ -r")]),
            probe_line,
        ),
        Scenario::new(
            "spawn: dual stack (no bind), IPv4 and ::1 clients",
            stanza(&[("bind", "")]),
            probe_two_sources,
        )
        .unordered(),
        Scenario::new(
            "spawn: flags = IPv6, ::1 client",
            stanza(&[("bind", ""), ("flags", "IPv6")]),
            probe_two_sources,
        )
        .unordered(),
        Scenario::new(
            "spawn: flags = IPv4, both clients",
            stanza(&[("bind", ""), ("flags", "IPv4")]),
            probe_two_sources,
        )
        .unordered(),
        row(
            "spawn: log_on_success = PID only",
            &[("log_on_success", "PID")],
        ),
        row(
            "spawn: log_on_success = HOST EXIT",
            &[("log_on_success", "HOST EXIT")],
        ),
        row("spawn: log_on_success empty", &[("log_on_success", "")]),
        row(
            "spawn: log_on_success += DURATION",
            &[
                ("log_on_success", "PID"),
                ("log_on_success +=", "DURATION EXIT"),
            ],
        ),
        row("spawn: env += adds", &[("env", "A=1"), ("env +=", "B=2")]),
        row(
            "spawn: rlimit_as = UNLIMITED",
            &[("rlimit_as", "UNLIMITED")],
        ),
        row(
            "spawn: rlimit_files = UNLIMITED",
            &[("rlimit_files", "UNLIMITED")],
        ),
        row("spawn: rlimit_stack = 512K", &[("rlimit_stack", "512K")]),
        row(
            "spawn: server_args with a # inside",
            &[("server_args", "@PROBE@ a#b #c")],
        ),
        row(
            "spawn: user, group and groups = yes",
            &[("user", "daemon"), ("group", "adm"), ("groups", "yes")],
        ),
        Scenario::new(
            "spawn: defaults umask and groups",
            format!(
                "defaults\n{{\n\tumask = 027\n\tgroups = yes\n}}\n{}",
                stanza(&[("user", "daemon")])
            ),
            probe,
        ),
        Scenario::new(
            "spawn: defaults passenv",
            format!("defaults\n{{\n\tpassenv = XDIFF\n}}\n{}", stanza(&[])),
            probe,
        ),
        Scenario::new(
            "spawn: defaults passenv, service adds PATH",
            format!(
                "defaults\n{{\n\tpassenv = XDIFF\n}}\n{}",
                stanza(&[("passenv +=", "PATH")])
            ),
            probe,
        ),
        Scenario::new(
            "spawn: bind = ::1, client ::1",
            stanza(&[("bind", "::1")]),
            |s, o| {
                let r = tcp(Src::V6, s.port(0), b"");
                o.put("probe ::1", mask_glibc_signals(&s.normalise(&r)));
            },
        ),
        Scenario::new(
            "spawn: v6only = yes",
            stanza(&[("bind", ""), ("flags", "IPv6"), ("v6only", "yes")]),
            probe_two_sources,
        ),
        Scenario::new(
            "spawn: v6only = no",
            stanza(&[("bind", ""), ("flags", "IPv6"), ("v6only", "no")]),
            probe_two_sources,
        )
        .real_has("from 127.0.0.2", "connect: ConnectionRefused")
        .deliberate(
            "`v6only = no` means dual-stack",
            &[
                ("from 127.0.0.2", "env: REMOTE_HOST=::ffff:127.0.0.2"),
                ("svc.log", "START: probe pid=N from=::ffff:127.0.0.2"),
            ],
        ),
        row(
            "spawn: nice and umask and user together",
            &[("user", "nobody"), ("nice", "3"), ("umask", "027")],
        ),
    ]
}

#[test]
fn differential_child_set_up() {
    run_table(table());
}
