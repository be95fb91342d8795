//! Loader behaviour: defaults merging, operators, enabled/disabled, includes, validation,
//! diagnostics and the deliberate differences listed in docs/compat.md.

use xinetd_conf::{
    load, load_bytes, AddressFamily, AddressForm, DropReason, Environment, LoadError, LoadOptions,
    Loaded, LogFormat, LogType, ServiceFlag, Severity, SuccessFlag, XinetdLevel,
};

fn env() -> Environment {
    Environment::isolated()
        .services(xinetd_conf::parse_services(
            "echo 7/tcp\necho 7/udp\nauth 113/tcp ident\n",
        ))
        .process_env(["PATH"])
}

fn ok(text: &str) -> Loaded {
    load_bytes(text.as_bytes(), "t.conf", &env(), &LoadOptions::new()).expect("loads")
}

fn ids(l: &Loaded) -> Vec<&str> {
    l.config
        .services
        .iter()
        .map(|s| s.id.value.as_str())
        .collect()
}

fn svc(name: &str, port: u16, extra: &str) -> String {
    format!("service {name}\n{{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n\tport = {port}\n{extra}}}\n")
}

#[test]
fn copy_at_parse_time_versus_fill_at_end() {
    // only_from is copied when the service starts (F-046); instances is filled at the end
    // from the final defaults (F-047).
    let text = format!(
        "{}defaults\n{{\n\tonly_from = 10.0.0.0\n\tinstances = 7\n}}\n{}",
        svc("echo", 7001, ""),
        svc("discard", 7002, "\tonly_from += 192.168.1.1\n")
    );
    let l = ok(&text);
    let echo = &l.config.services[0];
    let discard = &l.config.services[1];
    assert!(echo.only_from.is_none());
    assert_eq!(echo.instances.value, xinetd_conf::Limit::Max(7));
    let words: Vec<&str> = discard
        .only_from
        .as_ref()
        .unwrap()
        .value
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(words, ["10.0.0.0", "192.168.1.1"]);
    assert_eq!(
        discard.only_from.as_ref().unwrap().value[0].form,
        AddressForm::Numeric("10.0.0.0".parse().unwrap())
    );
}

#[test]
fn operators_on_lists_and_flags() {
    let l = ok(&format!(
        "defaults\n{{\n\tlog_on_success = PID HOST\n\tlog_on_success = EXIT\n}}\n{}{}",
        svc(
            "echo",
            7001,
            "\tlog_on_success -= HOST\n\tonly_from = 1.2.3.4 5.6.7.8\n\tonly_from -= 1.2.3.4\n"
        ),
        svc(
            "discard",
            7002,
            "\tlog_on_success = DURATION\n\tonly_from =\n"
        ),
    ));
    let e = &l.config.services[0];
    assert_eq!(
        e.log_on_success.value,
        [SuccessFlag::Exit, SuccessFlag::Pid].into_iter().collect()
    );
    assert_eq!(e.only_from.as_ref().unwrap().value.len(), 1);
    let d = &l.config.services[1];
    assert_eq!(
        d.log_on_success.value,
        [SuccessFlag::Duration].into_iter().collect()
    );
    // Present but empty: nobody is allowed.
    assert_eq!(d.only_from.as_ref().map(|v| v.value.len()), Some(0));
}

#[test]
fn repeated_and_wrong_operator_warn_first_value_wins() {
    let l = ok(&svc(
        "echo",
        7001,
        "\tinstances = 3\n\tinstances = 5\n\tnice += 2\n",
    ));
    assert_eq!(
        l.config.services[0].instances.value,
        xinetd_conf::Limit::Max(3)
    );
    assert!(l.config.services[0].nice.is_none());
    let texts: Vec<&str> = l
        .diagnostics
        .iter()
        .flat_map(|d| d.xinetd.iter().map(|m| m.text.as_str()))
        .collect();
    assert!(
        texts.contains(&"Service echo: attribute already set: instances"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"Service echo: operator '+=' cannot be used for attribute 'nice'"),
        "{texts:?}"
    );
}

#[test]
fn enabled_disabled_and_disable() {
    let text = format!(
        "defaults\n{{\n\tenabled = a b\n\tdisabled = b\n}}\n{}{}{}",
        svc("echo", 7001, "\tid = a\n"),
        svc("echo", 7002, "\tid = b\n"),
        svc("echo", 7003, "\tid = c\n")
    );
    let l = ok(&text);
    assert_eq!(ids(&l), ["a"]);
    let reasons: Vec<_> = l
        .dropped
        .iter()
        .map(|d| (d.id.as_str(), d.reason.clone()))
        .collect();
    assert!(reasons.contains(&("b", DropReason::DisabledByDefaults)));
    assert!(reasons.contains(&("c", DropReason::NotEnabled)));
    assert!(!l.has_dropped_errors());

    let l = ok(&svc(
        "echo",
        7001,
        "\tdisable = yes\n\tthis line is garbage\n",
    ));
    assert!(l.config.services.is_empty());
    assert_eq!(l.dropped[0].reason, DropReason::DisabledInEntry);
    assert!(l.diagnostics.iter().all(|d| d.severity != Severity::Error));
}

#[test]
fn compat_errors_stay_fatal_for_the_service() {
    // xinetd 2.3.15.3 re-enables a service whose value failed to parse when `disable = no`
    // follows or when `enabled` lists it; xinetd-rs keeps it dropped (docs/compat.md).
    let l = ok(&svc("echo", 7001, "\tnice = abc\n\tdisable = no\n"));
    assert!(l.config.services.is_empty());
    assert!(l.has_dropped_errors());
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.message.contains("stays disabled")));
    let l = ok(&format!(
        "defaults\n{{\n\tenabled = echo\n}}\n{}",
        svc("echo", 7001, "\tnice = abc\n")
    ));
    assert!(l.config.services.is_empty());
}

#[test]
fn bad_value_in_defaults_is_fatal_unless_debug() {
    let text = "defaults\n{\n\tinstances = lots\n}\n";
    match load_bytes(text.as_bytes(), "t.conf", &env(), &LoadOptions::new()) {
        Err(LoadError::FatalDefaults { diagnostics }) => {
            let last = diagnostics.last().unwrap();
            assert_eq!(last.span.line, 3);
            assert_eq!(
                last.xinetd.last().unwrap().text,
                "A fatal error was encountered while parsing the default section. xinetd will exit."
            );
            assert!(last.xinetd.last().unwrap().location.is_none());
        }
        other => panic!("{other:?}"),
    }
    let debug = LoadOptions::new().debug(true);
    assert!(load_bytes(text.as_bytes(), "t.conf", &env(), &debug).is_ok());
}

#[test]
fn xinetd_wording_and_location() {
    let l = ok(&svc("echo", 7001, "\tnice = abc\n"));
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .unwrap();
    assert_eq!((d.span.line, d.span.column), (7, 2));
    let x: Vec<String> = d
        .xinetd
        .iter()
        .map(|m| format!("{}: {}", m.level.as_str(), m.render()))
        .collect();
    assert_eq!(
        x,
        [
            "ERROR: Error parsing: abc [file=t.conf] [line=7]",
            "ERROR: Error parsing attribute nice - DISABLING SERVICE [file=t.conf] [line=7]"
        ]
    );
    assert!(
        d.render()
            .starts_with("t.conf:7:2: error: nice 'abc' is not an integer"),
        "{}",
        d.render()
    );
}

#[test]
fn hints_for_silent_surprises() {
    let l = ok(&svc("echo", 7001, "\tper_source = 10 # per client\n"));
    let d = &l.diagnostics[0];
    assert_eq!(d.severity, Severity::Warning);
    assert!(d
        .hint
        .as_deref()
        .unwrap()
        .contains("'#' starts a comment only at the beginning of a line"));
    assert_eq!(ids(&l), ["echo"]);

    let l = ok("service echo\r\n{\r\n\ttype = INTERNAL UNLISTED\r\n\twait = no\r\n}\r\n");
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.hint.as_deref().is_some_and(|h| h.contains("CRLF"))));

    let l = ok("junk\nservice echo\n{\n}\n");
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.message.contains("swallowed")));
    assert!(l.has_dropped_errors());

    let l = ok(&svc("echo", 7001, "\tonlyfrom = 1.2.3.4\n"));
    assert_eq!(
        l.diagnostics[0].hint.as_deref(),
        Some("did you mean 'only_from'?")
    );
}

#[test]
fn long_lines_are_read_whole_with_a_warning() {
    let args: Vec<String> = (0..3000).map(|i| format!("a{i}")).collect();
    let text = svc(
        "echo",
        7001,
        &format!("\tserver_args = {}\n", args.join(" ")),
    );
    let l = ok(&text);
    assert_eq!(
        l.config.services[0]
            .server_args
            .as_ref()
            .unwrap()
            .value
            .len(),
        3000
    );
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Warning && d.message.contains("bytes long")));
}

#[test]
fn validation_rules() {
    let e = env().passwd(xinetd_conf::parse_passwd(
        "nobody:x:65534:65534::/:/bin/false\n",
    ));
    let load = |t: &str| load_bytes(t.as_bytes(), "t.conf", &e, &LoadOptions::new()).unwrap();
    // Listed service: port from /etc/services, mismatch rejected.
    let l = load("service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\nservice echo\n{\n\tid = e2\n\ttype = INTERNAL\n\tsocket_type = dgram\n\twait = yes\n\tport = 8\n}\n");
    assert_eq!(l.config.services[0].port.as_ref().unwrap().value, 7);
    assert!(l.diagnostics.iter().any(|d| d
        .xinetd
        .iter()
        .any(|m| m.text == "Service echo expects port 7, not 8")));
    // External: user and server required; user resolved; family from bind.
    let l = load("service x\n{\n\ttype = UNLISTED\n\tprotocol = tcp\n\tport = 9000\n\twait = no\n\tuser = nobody\n\tserver = /bin/true\n\tbind = 127.0.0.1\n}\nservice y\n{\n\ttype = UNLISTED\n\tprotocol = tcp\n\tport = 9001\n\twait = no\n\tserver = /bin/true\n}\n");
    let x = &l.config.services[0];
    assert_eq!(
        (
            x.user.as_ref().unwrap().value.uid,
            x.user.as_ref().unwrap().value.gid
        ),
        (65534, 65534)
    );
    assert_eq!(x.family, AddressFamily::Ipv4);
    assert_eq!(ids(&l), ["x"]);
    assert!(l.diagnostics.iter().any(|d| {
        d.xinetd.iter().any(|m| {
            m.text == "Service y missing attribute user - DISABLING" && m.location.is_none()
        })
    }));
    // Duplicates only with bind.
    let l = load(&format!(
        "{}{}",
        svc("echo", 7001, "\tbind = 127.0.0.1\n"),
        svc("echo", 7001, "\tid = other\n\tbind = 127.0.0.1\n")
    ));
    assert_eq!(ids(&l), ["echo"]);
    // Identity service loses USERID.
    let l = load("service auth\n{\n\tsocket_type = stream\n\twait = no\n\tuser = nobody\n\tserver = /bin/true\n\tlog_on_success = USERID PID\n}\n");
    assert_eq!(
        l.config.services[0].log_on_success.value,
        [SuccessFlag::Pid].into_iter().collect()
    );
}

#[test]
fn extensions_and_log_type() {
    let l = ok(&format!(
        "defaults\n{{\n\tlog_type = FILE /var/log/x 1K\n}}\n{}",
        svc(
            "echo",
            7001,
            "\tchroot = /srv/jail\n\ttimeout = 30\n\tbind_device = lo\n\tflags = IPv4 IPv6\n"
        )
    ));
    let s = &l.config.services[0];
    assert_eq!(s.chroot.as_ref().unwrap().value, "/srv/jail");
    assert_eq!(s.timeout.as_ref().unwrap().value, 30);
    assert_eq!(s.bind_device.as_ref().unwrap().value, "lo");
    assert_eq!(s.family, AddressFamily::Ipv6);
    assert!(!s.has_flag(ServiceFlag::Ipv4));
    assert_eq!(
        s.log_type.as_ref().unwrap().value,
        LogType::File {
            path: "/var/log/x".into(),
            soft_limit: Some(1024),
            hard_limit: Some(1024 + 5 * 1024),
            shared: true,
            format: LogFormat::Text,
        }
    );
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Info && d.message.contains("extension")));
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.xinetd.iter().any(|m| m.level == XinetdLevel::Info)));
    let l = ok(&svc("echo", 7001, "\ttimeout = -3\n"));
    assert!(l.config.services.is_empty());
}

#[test]
fn includes_follow_xinetd_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("xinetd.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("b"), svc("echo", 7002, "\tid = from-b\n")).unwrap();
    std::fs::write(d.join("B"), svc("echo", 7001, "\tid = from-B\n")).unwrap();
    std::fs::write(d.join("c.conf"), svc("echo", 7003, "\tid = dotted\n")).unwrap();
    std::fs::write(d.join("d~"), svc("echo", 7004, "\tid = backup\n")).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    let main = dir.path().join("xinetd.conf");
    std::fs::write(
        &main,
        "includedir /etc/xinetd.d\ninclude /nonexistent/file\n",
    )
    .unwrap();
    let e = env()
        .follow_includes(true)
        .map_prefix("/etc/xinetd.d", d.clone());
    let l = load(&main, &e, &LoadOptions::new()).unwrap();
    // strcmp order: "B" before "b"; dotted and ~ names skipped with an info note.
    assert_eq!(ids(&l), ["from-B", "from-b"]);
    assert_eq!(
        l.config.services[0].name.span.file.as_ref(),
        "/etc/xinetd.d/B"
    );
    let msgs: Vec<String> = l
        .diagnostics
        .iter()
        .flat_map(|d| d.xinetd.iter().map(|m| m.render()))
        .collect();
    assert!(
        msgs.contains(&"/etc/xinetd.d/sub is not a regular file. It is being skipped.".to_string()),
        "{msgs:?}"
    );
    assert!(msgs
        .iter()
        .any(|m| m.starts_with("Unable to open included configuration file: /nonexistent/file")));
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.message.contains("skips /etc/xinetd.d/c.conf")));
    // Unreadable main file.
    assert!(matches!(
        load(&dir.path().join("missing"), &e, &LoadOptions::new()),
        Err(LoadError::Unreadable { .. })
    ));
}

#[test]
fn include_loops_stop_with_an_error() {
    // xinetd has no loop protection and recurses until it crashes; we stop at 32 levels.
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("loop.conf");
    let shown = main.to_string_lossy().into_owned();
    std::fs::write(&main, format!("include {shown}\n{}", svc("echo", 7001, ""))).unwrap();
    let e = env().follow_includes(true);
    let l = load(&main, &e, &LoadOptions::new()).unwrap();
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error
                && d.message.contains("nested more than 32 levels"))
    );
    // Each nesting level still declares (and accepts) its echo service.
    assert_eq!(l.config.services.len(), 33);
}

#[test]
fn activation_listen_fds_loads_prints_and_is_checked() {
    let text = "service act\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
                \tport = 7100\n\twait = yes\n\tuser = 0\n\tserver = /bin/cat\n\
                \tactivation = listen_fds\n}\n\
                service nowait\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
                \tport = 7101\n\twait = no\n\tuser = 0\n\tserver = /bin/cat\n\
                \tactivation = listen_fds\n}\n";
    let l = ok(text);
    assert_eq!(ids(&l), ["act"]);
    let s = &l.config.services[0];
    assert_eq!(
        s.activation.as_ref().map(|a| a.value),
        Some(xinetd_conf::Activation::ListenFds)
    );
    // The refusal is located at the attribute, not only at the service header.
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .expect("an error for nowait");
    assert_eq!((d.span.line, d.span.column), (21, 2), "{}", d.message);
    assert!(d.message.contains("needs wait = yes"), "{}", d.message);
    // The printer round-trips it.
    let printed = xinetd_conf::print(&l.config);
    assert!(printed.contains("activation"), "{printed}");
    let again = ok(&printed);
    assert_eq!(
        again.config.services[0]
            .activation
            .as_ref()
            .map(|a| a.value),
        Some(xinetd_conf::Activation::ListenFds)
    );
    // Its id is the LISTEN_FDNAMES name: no ':' (the names' separator).
    let l = ok(
        "service act\n{\n\tid = a:b\n\ttype = UNLISTED\n\tsocket_type = stream\n\
                \tprotocol = tcp\n\tport = 7100\n\twait = yes\n\tuser = 0\n\
                \tserver = /bin/cat\n\tactivation = listen_fds\n}\n",
    );
    assert!(l.config.services.is_empty());
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error && d.message.contains("LISTEN_FDNAMES name")));
    // The metrics builtin is an admin builtin.
    let l = load_bytes(
        "service metrics\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
         \tport = 9100\n\twait = no\n}\n"
            .as_bytes(),
        "t.conf",
        &env(),
        &LoadOptions::new().admin_builtins(true),
    )
    .expect("loads");
    assert_eq!(
        l.config.services[0].builtin,
        Some(xinetd_conf::Builtin::Metrics)
    );
    // Without only_from it answers nobody: legal, but -check says so.
    assert!(
        l.diagnostics.iter().any(|d| d.severity == Severity::Warning
            && d.message
                .contains("metrics builtin answers only the addresses of its only_from")),
        "{:?}",
        l.diagnostics
    );
}
