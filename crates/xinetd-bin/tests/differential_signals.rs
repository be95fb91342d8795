//! Differential scenarios, signals and the program log: SIGHUP reloads (services added,
//! removed, changed, broken), SIGUSR1 dumps, SIGTERM/SIGQUIT exits and configuration
//! messages at start-up, under the real xinetd 2.3.15.3 and ours.
//! Skipped with a message when /usr/sbin/xinetd is absent or not root.

#[path = "util/diff.rs"]
mod diff;
mod util;

use std::io::Write;

use diff::*;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

/// Sends `sig` and waits (bounded) for the daemon to exit; its status as text.
fn exit_on(side: &Side, sig: Signal) -> String {
    side.signal(sig);
    let pid = nix::unistd::Pid::from_raw(side.pid());
    let mut status = "still running".to_string();
    wait_for(10, || match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => {
            status = format!("exit {code}");
            true
        }
        Ok(WaitStatus::Signaled(_, s, _)) => {
            status = format!("killed by {s:?}");
            true
        }
        _ => false,
    });
    status
}

/// Rewrites the configuration, sends SIGHUP and waits for the reload to be logged.
fn reload(side: &Side, template: &str) {
    side.rewrite(template);
    side.signal(Signal::SIGHUP);
    wait_for(10, || side.read("prog.log").contains("Reconfigured:"));
}

/// SIGUSR1, then the dump's lines that both daemons write (F-851 block and frame), with the
/// lines that hold times, pids and descriptors masked.
fn dump(side: &Side, obs: &mut Obs) {
    side.signal(Signal::SIGUSR1);
    wait_for(10, || side.dump().contains("END OF DUMP"));
    let text = side.normalise(&side.dump());
    let keep = [
        "INTERNAL STATE DUMP",
        "Service = ",
        "State = ",
        "running servers = ",
        "Services + defaults",
        "id = ",
        "flags = ",
        "type = ",
        "socket_type = ",
        "Protocol ",
        "port = ",
        "Instances = ",
        "wait = ",
        "user = ",
        "group = ",
        "Groups = ",
        "umask = ",
        "Nice = ",
        "PER_SOURCE = ",
        "Bind = ",
        "Server = ",
        "Server argv = ",
        "Redirect",
        "Access times",
        "Only from",
        "No access",
        "Logging",
        "Log_on_success",
        "Log_on_failure",
        "active_services = ",
        "available_services = ",
        "running_servers = ",
        "config_file = ",
        "END OF DUMP",
    ];
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| keep.iter().any(|k| l.starts_with(k)))
        .map(str::to_string)
        .collect();
    obs.put("dump", lines.join("\n"));
}

fn echo_tcp() -> String {
    internal("echo", "stream", "@P0@", &[])
}

fn daytime_udp() -> String {
    internal("daytime", "dgram", "@P1@", &[])
}

fn probe_on_p2(over: &[(&str, &str)]) -> String {
    let mut o = vec![
        ("port", "@P2@"),
        ("server", "/bin/cat"),
        ("server_args", ""),
    ];
    o.extend_from_slice(over);
    stanza(&o)
}

/// Before and after a reload: the echo client from 127.0.0.2 and 127.0.0.3. Returns once
/// every server started has been reaped (its `EXIT` logged): xinetd's forked echo servers
/// that are still unreaped at a reload or exit get `Sending signal 15 to echo server N`.
fn clients(side: &Side, obs: &mut Obs, when: &str) {
    for src in [Src::V4(2), Src::V4(3)] {
        obs.put(
            format!("{when} echo {}", src.label()),
            tcp(src, side.port(0), b"e\n"),
        );
    }
    reaped(side);
}

/// Waits (bounded) until every `START` has its `EXIT`: no server left to signal.
fn reaped(side: &Side) {
    wait_for(10, || {
        let log = side.read("svc.log");
        log.matches("START: ").count() <= log.matches("EXIT: ").count()
    });
}

fn reload_add(side: &Side, obs: &mut Obs) {
    obs.put("cat before", tcp(Src::V4(2), side.port(2), b"c\n"));
    reload(side, &format!("{}{}", echo_tcp(), probe_on_p2(&[])));
    obs.put("cat after", tcp(Src::V4(2), side.port(2), b"c\n"));
}

fn reload_remove(side: &Side, obs: &mut Obs) {
    obs.put("cat before", tcp(Src::V4(2), side.port(2), b"c\n"));
    clients(side, obs, "before");
    reload(side, &echo_tcp());
    obs.put("cat after", tcp(Src::V4(2), side.port(2), b"c\n"));
    clients(side, obs, "after");
}

fn reload_only_from(side: &Side, obs: &mut Obs) {
    clients(side, obs, "before");
    reload(
        side,
        &internal("echo", "stream", "@P0@", &[("only_from", "127.0.0.3")]),
    );
    clients(side, obs, "after");
}

fn reload_same(side: &Side, obs: &mut Obs) {
    clients(side, obs, "before");
    reload(side, &echo_tcp());
    clients(side, obs, "after");
}

fn reload_port(side: &Side, obs: &mut Obs) {
    clients(side, obs, "before");
    reload(side, &internal("echo", "stream", "@P1@", &[]));
    obs.put("old port", tcp(Src::V4(2), side.port(0), b"o\n"));
    obs.put("new port", tcp(Src::V4(2), side.port(1), b"n\n"));
}

fn reload_broken_service(side: &Side, obs: &mut Obs) {
    reload(
        side,
        &format!(
            "{}{}",
            echo_tcp(),
            probe_on_p2(&[("user", "no-such-user-xd")])
        ),
    );
    clients(side, obs, "after");
    obs.put("cat after", tcp(Src::V4(2), side.port(2), b"c\n"));
}

fn reload_then_dump(side: &Side, obs: &mut Obs) {
    reload(side, &format!("{}{}", echo_tcp(), probe_on_p2(&[])));
    dump(side, obs);
}

fn term(side: &Side, obs: &mut Obs) {
    clients(side, obs, "before");
    // xinetd's forked echo servers must be reaped first, or it signals them on exit.
    wait_for(10, || side.read("svc.log").matches("EXIT").count() >= 2);
    obs.put("status", exit_on(side, Signal::SIGTERM));
}

fn quit(side: &Side, obs: &mut Obs) {
    obs.put("status", exit_on(side, Signal::SIGQUIT));
}

/// A connection held open to the /bin/cat service on P2 while something happens to the
/// daemon; whether the server is still running afterwards.
fn held_server(side: &Side, obs: &mut Obs, what: fn(&Side, &mut Obs)) {
    let held = connect(Src::V4(2), side.port(2));
    let mut held = match held {
        Ok(s) => s,
        Err(e) => {
            obs.put("held", e);
            return;
        }
    };
    let _ = held.write_all(b"h\n");
    wait_for(10, || !side.descendants().is_empty());
    let kids = side.descendants();
    what(side, obs);
    let alive = |pids: &[i32]| {
        pids.iter()
            .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
    };
    // Give a signalled server the time to die (bounded); a survivor stays alive.
    wait_for(5, || !alive(&kids));
    obs.put("server alive afterwards", alive(&kids).to_string());
    for k in kids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(k), Signal::SIGKILL);
    }
    wait_for(5, || side.descendants().is_empty());
}

fn table() -> Vec<Scenario> {
    let base = format!("{}{}", echo_tcp(), daytime_udp());
    let with_cat = format!("{}{}", echo_tcp(), probe_on_p2(&[]));
    vec![
        Scenario::new("dump: internal services", base.clone(), dump).logs(Logs::Both),
        Scenario::new("dump: internal and external", with_cat.clone(), dump).logs(Logs::Both),
        Scenario::new(
            "dump: access lists and limits",
            format!(
                "{}{}",
                internal(
                    "echo",
                    "stream",
                    "@P0@",
                    &[
                        ("only_from", "127.0.0.2 127.0.0.0/8"),
                        ("no_access", "127.0.0.9"),
                        ("instances", "7"),
                        ("per_source", "3")
                    ]
                ),
                probe_on_p2(&[
                    ("user", "nobody"),
                    ("group", "nogroup"),
                    ("umask", "027"),
                    ("nice", "4"),
                    ("server_args", "-u")
                ])
            ),
            dump,
        ),
        Scenario::new(
            "dump: defaults and a service that sets instances",
            format!(
                "defaults\n{{\n\tinstances = 30\n\tper_source = 5\n\tonly_from = 127.0.0.0/8\n\
                 \tno_access = 127.0.0.9\n\tumask = 022\n}}\n{}{}",
                echo_tcp(),
                probe_on_p2(&[("instances", "4"), ("env", "A=1"), ("passenv", "PATH")])
            ),
            dump,
        )
        .logs(Logs::Both),
        Scenario::new("dump: while a server runs", with_cat.clone(), |s, o| {
            let held = connect(Src::V4(2), s.port(2));
            // The server runs, and its daemon has counted it (START is logged once the
            // spawn's result reached the loop; the process exists a little earlier).
            wait_for(5, || {
                !s.descendants().is_empty() && s.read("svc.log").contains("START: ")
            });
            dump(s, o);
            drop(held);
            wait_for(5, || s.descendants().is_empty());
        })
        .logs(Logs::Both)
        .real_has("dump", "running_servers = 1"),
        Scenario::new("dump: after a reload", echo_tcp(), reload_then_dump).logs(Logs::Both),
        Scenario::new("reload: a service added", echo_tcp(), reload_add)
            .logs(Logs::Both)
            .unordered(),
        Scenario::new("reload: a service removed", with_cat.clone(), reload_remove)
            .logs(Logs::Both)
            .unordered(),
        Scenario::new("reload: only_from changed", echo_tcp(), reload_only_from)
            .logs(Logs::Both)
            .check_in_child(),
        Scenario::new("reload: same configuration", echo_tcp(), reload_same)
            .logs(Logs::Both)
            .unordered(),
        Scenario::new("reload: port changed", format!("{}# @P1@\n", echo_tcp()), reload_port)
            .logs(Logs::Both)
            .unordered(),
        Scenario::new("reload: a broken service added", echo_tcp(), reload_broken_service)
            .logs(Logs::Both)
            .unordered(),
        Scenario::new("exit: SIGTERM", echo_tcp(), term).logs(Logs::Both),
        Scenario::new("exit: SIGQUIT", echo_tcp(), quit).logs(Logs::Both),
        // No SIGINT row: whether SIGINT is ignored is inherited from whatever starts the
        // test (a background job ignores it), and both daemons keep an inherited ignore.
        Scenario::new("signal: SIGUSR2", echo_tcp(), |s, o| {
            clients(s, o, "before");
            s.rewrite(&format!("{}{}", echo_tcp(), probe_on_p2(&[])));
            s.signal(Signal::SIGUSR2);
            wait_for(10, || s.read("prog.log").contains("Reconfigured"));
            o.put("cat after", tcp(Src::V4(2), s.port(2), b"c\n"));
            clients(s, o, "after");
        })
        .logs(Logs::Both),
        Scenario::new("signal: SIGABRT consistency check", with_cat.clone(), |s, o| {
            s.signal(Signal::SIGABRT);
            wait_for(10, || s.read("prog.log").contains("Consistency check"));
            o.put("echo after", tcp(Src::V4(2), s.port(0), b"e\n"));
        })
        .logs(Logs::Both),
        Scenario::new(
            "reload: server_args of a kept service changes",
            stanza(&[("server_args", "@PROBE@ old")]),
            |s, o| {
                o.put("probe before", probe_tcp(s, s.port(0), b""));
                reaped(s);
                reload(s, &stanza(&[("server_args", "@PROBE@ new")]));
                o.put("probe after", probe_tcp(s, s.port(0), b""));
            },
        )
        .logs(Logs::Both),
        Scenario::new("exit: SIGTERM with a running external server", with_cat.clone(), |s, o| {
            held_server(s, o, |s, o| o.put("status", exit_on(s, Signal::SIGTERM)))
        })
        .deliberate(
            "SIGTERM stops external servers too",
            &[
                ("server alive afterwards", "false"),
                ("svc.log", "EXIT: probe signal=15 pid=N"),
            ],
        ),
        Scenario::new("exit: SIGQUIT with a running external server", with_cat.clone(), |s, o| {
            held_server(s, o, |s, o| o.put("status", exit_on(s, Signal::SIGQUIT)))
        }),
        Scenario::new(
            "reload: removed service with a running server",
            with_cat.clone(),
            |s, o| held_server(s, o, |s, _| reload(s, &echo_tcp())),
        )
        .logs(Logs::Both)
        .unordered()
        .deliberate(
            "Servers killed by a reload are logged as killed",
            &[
                ("svc.log", "EXIT: probe signal=9 pid=N"),
                ("prog.log", "!unknown child process"),
            ],
        ),
        Scenario::new(
            "config: includedir, one file read",
            "includedir @DIR@/xinetd.d\n".to_string(),
            |s, o| {
                o.put("echo", tcp(Src::V4(2), s.port(0), b"e\n"));
                o.put("cat", tcp(Src::V4(2), s.port(2), b"c\n"));
            },
        )
        .file("xinetd.d/cat", probe_on_p2(&[]))
        .file("xinetd.d/.hidden", internal("discard", "stream", "@P1@", &[]))
        .file("xinetd.d/backup~", internal("discard", "stream", "@P1@", &[]))
        .file("xinetd.d/with.dot", internal("daytime", "stream", "@P1@", &[]))
        .logs(Logs::Both),
        Scenario::new(
            "config: includedir, files read one after the other",
            "includedir @DIR@/xinetd.d\n".to_string(),
            |s, o| {
                o.put("echo", tcp(Src::V4(2), s.port(0), b"e\n"));
                o.put("cat", tcp(Src::V4(2), s.port(2), b"c\n"));
            },
        )
        .file("xinetd.d/echo", echo_tcp())
        .file("xinetd.d/cat", probe_on_p2(&[]))
        .file("xinetd.d/.hidden", internal("discard", "stream", "@P1@", &[]))
        .file("xinetd.d/backup~", internal("discard", "stream", "@P1@", &[]))
        .file("xinetd.d/with.dot", internal("daytime", "stream", "@P1@", &[]))
        .logs(Logs::Both)
        .real_has(
            "prog.log",
            "DEBUG: Reading included configuration file: @DIR@/xinetd.d/echo \
             [file=@DIR@/xinetd.d/echo] [line=15]",
        )
        .deliberate(
            "`includedir` messages name the `includedir` line",
            &[(
                "prog.log",
                "DEBUG: Reading included configuration file: @DIR@/xinetd.d/echo \
                 [file=@DIR@/xinetd.conf] [line=1]",
            )],
        ),
        Scenario::new(
            "config: include of a file with defaults",
            "include @DIR@/extra.conf\n".to_string(),
            |s, o| {
                o.put("127.0.0.2", tcp(Src::V4(2), s.port(0), b"e\n"));
                o.put("127.0.0.3", tcp(Src::V4(3), s.port(0), b"e\n"));
            },
        )
        .file(
            "extra.conf",
            format!("defaults\n{{\n\tonly_from = 127.0.0.3\n}}\n{}", echo_tcp()),
        )
        .logs(Logs::Both)
        .check_in_child(),
        Scenario::new(
            "config: the same service twice",
            format!("{}{}", echo_tcp(), internal("echo", "stream", "@P1@", &[])),
            |s, o| {
                o.put("first", tcp(Src::V4(2), s.port(0), b"1\n"));
                o.put("second", tcp(Src::V4(2), s.port(1), b"2\n"));
            },
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: two ids of one service",
            format!(
                "{}{}",
                echo_tcp(),
                internal("echo", "stream", "@P1@", &[("id", "echo-two")])
            ),
            |s, o| {
                o.put("first", tcp(Src::V4(2), s.port(0), b"1\n"));
                o.put("second", tcp(Src::V4(2), s.port(1), b"2\n"));
            },
        )
        .logs(Logs::Both),
        Scenario::new(
            "config: missing include file",
            format!("include @DIR@/nonexistent.conf\n{}", echo_tcp()),
            |s, o| o.put("echo", tcp(Src::V4(2), s.port(0), b"e\n")),
        )
        .logs(Logs::Prog),
        Scenario::new(
            "reload: defaults only_from changes",
            format!("defaults\n{{\n\tonly_from = 127.0.0.2\n}}\n{}", echo_tcp()),
            |s, o| {
                clients(s, o, "before");
                reload(
                    s,
                    &format!("defaults\n{{\n\tonly_from = 127.0.0.3\n}}\n{}", echo_tcp()),
                );
                clients(s, o, "after");
            },
        )
        .logs(Logs::Both)
        .check_in_child(),
        Scenario::new(
            "config: unknown attribute",
            format!("{}service x\n{{\n\tport = @P1@\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\tfrobnicate = yes\n}}\n", echo_tcp()),
            |_, _| {},
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: unknown user",
            format!("{}{}", echo_tcp(), probe_on_p2(&[("user", "no-such-user-xd")])),
            |_, _| {},
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: missing server",
            format!("{}{}", echo_tcp(), probe_on_p2(&[("server", "")])),
            |_, _| {},
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: bad socket_type",
            format!("{}{}", echo_tcp(), probe_on_p2(&[("socket_type", "streem")])),
            |_, _| {},
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: bad flag",
            format!("{}{}", echo_tcp(), probe_on_p2(&[("flags", "NOSUCHFLAG")])),
            |_, _| {},
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: disable = yes",
            format!("{}{}", echo_tcp(), probe_on_p2(&[("disable", "yes")])),
            |s, o| o.put("cat", tcp(Src::V4(2), s.port(2), b"c\n")),
        )
        .logs(Logs::Prog),
        Scenario::new(
            "config: port already in use",
            format!("{}{}", echo_tcp(), internal("discard", "stream", "@P0@", &[])),
            |s, o| o.put("echo", tcp(Src::V4(2), s.port(0), b"e\n")),
        )
        .logs(Logs::Prog),
    ]
}

#[test]
fn differential_signals_and_program_log() {
    run_table(
        table()
            .into_iter()
            .filter(|s| !s.name.starts_with("dump:"))
            .collect(),
    );
}

/// The SIGUSR1 dump rows, in a test of their own (they run in parallel with the others).
#[test]
fn differential_state_dump() {
    run_table(
        table()
            .into_iter()
            .filter(|s| s.name.starts_with("dump:"))
            .collect(),
    );
}
