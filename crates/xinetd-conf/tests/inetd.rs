//! inetd.conf support: `-inetd_compat` merging (F-830, F-831), the itox / xconv.pl
//! converters (F-900..F-911), round trips through the xinetd.conf loader, and a
//! differential test against Debian's `/usr/bin/itox` and `/usr/bin/xconv.pl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use xinetd_conf::*;

fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/inetd-samples")
        .join(name)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(sample_path(name)).expect("sample file")
}

const SAMPLES: [&str; 6] = [
    "standard.conf",
    "internal.conf",
    "rpc.conf",
    "tcpd.conf",
    "ipv6.conf",
    "bad.conf",
];

/// A fixed system: the databases the samples need, nothing from the host.
fn env() -> Environment {
    Environment::isolated()
        .passwd(parse_passwd(
            "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n\
             identd:x:110:65534::/:/bin/false\ntelnetd:x:111:120::/:/bin/false\n",
        ))
        .groups(parse_group(
            "root:x:0:\ntty:x:5:\nutmp:x:43:\nnogroup:x:65534:\n",
        ))
        .services(parse_services(
            "tcpmux 1/tcp\necho 7/tcp\necho 7/udp\ndiscard 9/tcp\ndaytime 13/tcp\n\
             daytime 13/udp\nchargen 19/tcp\nchargen 19/udp\nftp 21/tcp\ntelnet 23/tcp\n\
             time 37/tcp\ntime 37/udp\ntftp 69/udp\nfinger 79/tcp\nauth 113/tcp ident\n\
             talk 517/udp\nntalk 518/udp\n",
        ))
        .rpc(parse_numbered(
            "rstatd 100001 rstat\nrusersd 100002 rusers\nwalld 100008 rwall\n",
        ))
}

fn empty_loaded(env: &Environment) -> Loaded {
    load_bytes(b"", "xinetd.conf", env, &LoadOptions::new()).expect("empty config loads")
}

fn merged(name: &str) -> (Loaded, InetdSummary) {
    let env = env();
    let mut loaded = empty_loaded(&env);
    let file = format!("/etc/inetd.conf.d/{name}");
    let summary = merge_inetd_bytes(&mut loaded, &sample(name), &file, &env);
    (loaded, summary)
}

fn by_id<'a>(l: &'a Loaded, id: &str) -> &'a Service {
    l.config
        .services
        .iter()
        .find(|s| s.id.value == id)
        .unwrap_or_else(|| panic!("service {id} missing"))
}

fn xinetd_lines(l: &Loaded) -> Vec<String> {
    l.diagnostics
        .iter()
        .flat_map(|d| {
            d.xinetd
                .iter()
                .map(|x| format!("{}: {}", x.level.as_str(), x.render()))
        })
        .collect()
}

fn args(s: &Service) -> Vec<String> {
    s.server_args
        .as_ref()
        .map(|a| a.value.clone())
        .unwrap_or_default()
}

#[test]
fn compat_standard_services() {
    let (l, sum) = merged("standard.conf");
    assert_eq!((sum.entries, sum.added, sum.rejected), (7, 7, 0));
    let ftp = by_id(&l, "ftp");
    assert_eq!(ftp.port.as_ref().unwrap().value, 21);
    assert_eq!(ftp.server.as_ref().unwrap().value, "/usr/sbin/in.ftpd");
    assert_eq!(args(ftp), ["in.ftpd", "-l", "-a"]);
    let flags: Vec<_> = ftp.flags.value.iter().copied().collect();
    assert_eq!(
        flags,
        [
            ServiceFlag::Reuse,
            ServiceFlag::NameInArgs,
            ServiceFlag::NoLibwrap
        ]
    );
    assert!(ftp.groups.value, "inetd entries get groups = yes");
    assert!(!ftp.wait.value);
    assert_eq!(ftp.user.as_ref().unwrap().value.uid, 0);
    assert_eq!(ftp.family, AddressFamily::Ipv6);
    assert_eq!(ftp.protocol.value.number, 6);
    // Spans point into the inetd.conf.
    assert_eq!(
        ftp.server.as_ref().unwrap().span.to_string(),
        "/etc/inetd.conf.d/standard.conf:6:28"
    );

    let telnet = by_id(&l, "telnet");
    let user = &telnet.user.as_ref().unwrap().value;
    assert_eq!(
        (user.text.as_str(), user.uid, user.gid),
        ("telnetd", 111, 120)
    );
    assert_eq!(telnet.group.as_ref().unwrap().value.gid, 43);

    // nowait.400: xinetd logs the bad value and the service runs as wait = no.
    let finger = by_id(&l, "finger");
    assert!(!finger.wait.value);
    // wait.10: xinetd 2.3.15.3 would also say wait = no; we keep wait = yes (compat.md).
    let talk = by_id(&l, "talk");
    assert!(talk.wait.value);
    assert_eq!(talk.group.as_ref().unwrap().value.gid, 5);
    let lines = xinetd_lines(&l);
    assert!(lines.contains(&"ERROR: inetd.conf - Bad value for wait: nowait.400 [file=/etc/inetd.conf.d/standard.conf] [line=9]".to_string()), "{lines:#?}");
    assert!(lines.contains(
        &"DEBUG: added service ftp [file=/etc/inetd.conf.d/standard.conf] [line=6]".to_string()
    ));
    assert_eq!(by_id(&l, "auth").port.as_ref().unwrap().value, 113);
    assert_eq!(by_id(&l, "tftp").port.as_ref().unwrap().value, 69);
    assert!(l.dropped.is_empty());
}

#[test]
fn compat_internal_services() {
    let (l, sum) = merged("internal.conf");
    assert_eq!(sum.added, 9);
    let ids: Vec<&str> = l
        .config
        .services
        .iter()
        .map(|s| s.id.value.as_str())
        .collect();
    // F-831: the stream test compares the protocol with "stream", so every one is -dgram.
    assert_eq!(
        ids,
        [
            "echo-dgram",
            "echo-dgram",
            "chargen-dgram",
            "chargen-dgram",
            "daytime-dgram",
            "daytime-dgram",
            "time-dgram",
            "time-dgram",
            "tcpmux"
        ]
    );
    let echo = &l.config.services[0];
    assert!(echo.has_type(ServiceType::Internal));
    assert_eq!(echo.builtin, Some(Builtin::Echo));
    assert_eq!(echo.socket_type.value, SocketType::Stream);
    assert!(echo.server.is_none() && echo.server_args.is_none());
    assert!(echo.flags.value.is_empty());
    assert_eq!(l.config.services[7].port.as_ref().unwrap().value, 37);
    assert_eq!(l.config.services[8].builtin, Some(Builtin::Tcpmux));
}

#[test]
fn compat_rpc_services() {
    let (l, sum) = merged("rpc.conf");
    assert_eq!((sum.added, sum.rejected), (3, 1));
    let rstatd = by_id(&l, "rstatd");
    assert!(rstatd.has_type(ServiceType::Rpc));
    assert_eq!(
        rstatd.rpc_version.as_ref().unwrap().value,
        RpcVersion { min: 2, max: 4 }
    );
    assert_eq!(rstatd.rpc_number.as_ref().unwrap().value, 100_001);
    assert_eq!(rstatd.protocol.value.name, "udp");
    assert!(rstatd.port.is_none());
    assert!(rstatd.wait.value);
    assert_eq!(by_id(&l, "walld").group.as_ref().unwrap().value.text, "tty");
    // sprayd is not in our /etc/rpc.
    assert!(xinetd_lines(&l).contains(&"ERROR: unknown RPC service: sprayd".to_string()));
    assert_eq!(l.dropped[0].id, "sprayd");
    assert_eq!(l.dropped[0].reason, DropReason::Error);
}

#[test]
fn compat_tcpd_entries_keep_tcpd_as_the_server() {
    let (l, sum) = merged("tcpd.conf");
    assert_eq!(sum.added, 4);
    let ftp = by_id(&l, "ftp");
    assert_eq!(ftp.server.as_ref().unwrap().value, "/usr/sbin/tcpd");
    assert_eq!(args(ftp), ["in.ftpd", "-l"]);
    assert!(ftp.has_flag(ServiceFlag::NoLibwrap));
    assert_eq!(args(by_id(&l, "telnet")), ["/usr/sbin/in.telnetd"]);
}

#[test]
fn compat_ipv6_protocols_and_user_colon_group_are_rejected_like_xinetd() {
    let (l, sum) = merged("ipv6.conf");
    assert_eq!((sum.added, sum.rejected), (1, 3));
    let lines = xinetd_lines(&l);
    let f = "[file=/etc/inetd.conf.d/ipv6.conf]";
    for want in [
        format!("ERROR: inetd.conf - Protocol tcp6 not in /etc/protocols {f} [line=3]"),
        format!("ERROR: inetd.conf - Protocol udp6 not in /etc/protocols {f} [line=4]"),
        format!("ERROR: inetd.conf - Unknown user: nobody:nogroup {f} [line=5]"),
    ] {
        assert!(lines.contains(&want), "{want} not in {lines:#?}");
    }
    let tcp6 = l
        .diagnostics
        .iter()
        .find(|d| d.message.contains("tcp6"))
        .unwrap();
    assert_eq!(tcp6.span.to_string(), "/etc/inetd.conf.d/ipv6.conf:3:12");
    assert!(tcp6.hint.as_deref().unwrap().contains("tcp or udp"));
}

#[test]
fn compat_bad_lines_are_reported_and_skipped() {
    let (l, sum) = merged("bad.conf");
    // The indented comment is skipped like xinetd's next_line() does.
    assert_eq!(sum.entries, 9);
    let ids: Vec<&str> = l
        .config
        .services
        .iter()
        .map(|s| s.id.value.as_str())
        .collect();
    assert_eq!(ids, ["echo-dgram", "time-dgram"]);
    let rendered: Vec<String> = l
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| d.render().lines().next().unwrap().to_string())
        .collect();
    let f = "/etc/inetd.conf.d/bad.conf";
    assert_eq!(
        rendered,
        [
            format!("{f}:3:9: error: bad socket type 'sock'"),
            format!("{f}:4:26: error: unknown user 'nosuchuser'"),
            format!("{f}:5:28: error: unknown group 'nosuchgroup'"),
            format!(
                "{f}:6:32: warning: internal service discard is not supported with -inetd_compat"
            ),
            format!("{f}:7:1: error: bad RPC version '' (expected name/N or name/N-M)"),
            format!("{f}:9:27: error: server missing"),
            // Post-parse checks come after every line was read, as in xinetd.
            format!(
                "{f}:8:1: error: 'gopher/tcp' is not in /etc/services; service 'gopher' is dropped"
            ),
        ]
    );
    let lines = xinetd_lines(&l);
    assert!(lines.contains(&format!(
        "ERROR: inetd.conf - Bad socket type: (null) [file={f}] [line=3]"
    )));
    assert!(lines.contains(&format!(
        "WARNING: inetd.conf - service discard not supported [file={f}] [line=6]"
    )));
    assert!(lines.contains(
        &"ERROR: Port not specified and can't find service: gopher with getservbyname".to_string()
    ));
    let dropped: Vec<&str> = l.dropped.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        dropped,
        ["daytime", "finger", "ftp", "discard", "rstatd", "tftp", "gopher"]
    );
}

#[test]
fn compat_defaults_fill_filters_and_duplicates() {
    let env = env();
    let xinetd_conf = "\
defaults
{
\tinstances      = 10
\tlog_type       = FILE /var/log/servicelog
\tlog_on_success = HOST PID
\tonly_from      = 127.0.0.1
\tdisabled       = telnet
}
service ftp
{
\tsocket_type = stream
\twait        = no
\tuser        = root
\tserver      = /usr/sbin/in.ftpd
\tbind        = 127.0.0.1
}
";
    let mut loaded = load_bytes(
        xinetd_conf.as_bytes(),
        "xinetd.conf",
        &env,
        &LoadOptions::new(),
    )
    .unwrap();
    assert_eq!(loaded.config.services.len(), 1);
    let sum = merge_inetd_bytes(&mut loaded, &sample("standard.conf"), "inetd.conf", &env);
    // ftp collides with the bound xinetd ftp (F-071), telnet is in `disabled`.
    assert_eq!(sum.added, 5);
    assert!(xinetd_lines(&loaded).contains(
        &"ERROR: service: ftp id: ftp not unique or is a duplicate - DISABLING".to_string()
    ));
    let reasons: Vec<(&str, &DropReason)> = loaded
        .dropped
        .iter()
        .map(|d| (d.id.as_str(), &d.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("ftp", &DropReason::Error),
            ("telnet", &DropReason::DisabledByDefaults)
        ]
    );
    let finger = by_id(&loaded, "finger");
    assert_eq!(finger.instances.value, Limit::Max(10));
    assert!(matches!(
        finger.log_type.as_ref().unwrap().value,
        LogType::File { shared: true, .. }
    ));
    assert_eq!(finger.log_on_success.value.len(), 2);
    // xinetd copies only_from into xinetd.conf entries only (F-046), and we say so.
    assert!(finger.only_from.is_none());
    assert!(loaded
        .diagnostics
        .iter()
        .any(|d| d.message == "defaults only_from do not apply to inetd.conf services"));
}

#[test]
fn compat_enabled_list_and_identity_userid() {
    let env = env();
    let conf = "defaults\n{\n\tenabled = auth echo-dgram\n\tlog_on_success = PID USERID\n}\n";
    let mut loaded = load_bytes(conf.as_bytes(), "xinetd.conf", &env, &LoadOptions::new()).unwrap();
    let text = "auth stream tcp wait identd /usr/sbin/identd identd\necho dgram udp wait root internal\nftp stream tcp nowait root /usr/sbin/in.ftpd in.ftpd\n";
    let sum = merge_inetd_bytes(&mut loaded, text.as_bytes(), "inetd.conf", &env);
    assert_eq!(sum.added, 2);
    assert_eq!(loaded.dropped[0].reason, DropReason::NotEnabled);
    let auth = by_id(&loaded, "auth");
    assert!(!auth.log_on_success.value.contains(&SuccessFlag::Userid));
    assert!(xinetd_lines(&loaded).contains(
        &"WARNING: auth service: clearing USERID option from log_on_success".to_string()
    ));
}

#[test]
fn load_inetd_compat_reads_an_injected_path_and_tolerates_a_missing_one() {
    let env = env();
    let mut loaded = empty_loaded(&env);
    let sum = load_inetd_compat(&mut loaded, &sample_path("internal.conf"), &env);
    assert!(sum.read);
    assert_eq!(sum.added, 9);

    let mut loaded = empty_loaded(&env);
    let sum = load_inetd_compat(&mut loaded, Path::new("/nonexistent/inetd.conf"), &env);
    assert_eq!(sum, InetdSummary::default());
    assert!(loaded.config.services.is_empty());
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].severity, Severity::Warning);
}

#[test]
fn merged_configuration_prints_and_loads_back() {
    // The merged model fits xinetd.conf: printing it and loading the text gives the same
    // services (NAMEINARGS argv, groups = yes, -dgram ids, RPC data included).
    let env = env();
    for name in ["standard.conf", "internal.conf", "rpc.conf", "tcpd.conf"] {
        let (l, _) = merged(name);
        let text = print(&l.config);
        let back = load_bytes(text.as_bytes(), "printed.conf", &env, &LoadOptions::new()).unwrap();
        assert_eq!(back.config.services, l.config.services, "{name}:\n{text}");
    }
}

fn itox(text: &[u8], dir: Option<&str>) -> Conversion {
    convert_inetd(
        text,
        "inetd.conf",
        &ConvertOptions::new()
            .style(ConvertStyle::Itox)
            .daemon_dir(dir.map(str::to_string)),
    )
}

#[test]
fn itox_layout() {
    let c = itox(&sample("rpc.conf"), None);
    assert!(c.is_ok());
    assert!(c.text.starts_with(
        "service rstatd\n{\n\ttype            = RPC\n\trpc_version     = 2-4\n\tsocket_type     = dgram\n\tprotocol        = udp\n\twait            = yes\n\tuser            = root\n\tserver          = /usr/sbin/rpc.rstatd\n}\n\n"
    ));
    let c = itox(&sample("internal.conf"), None);
    assert!(c
        .text
        .contains("\ttype            = INTERNAL\n\tid              = echo-stream\n"));
    assert!(c.text.contains("\tid              = echo-dgram\n"));
}

#[test]
fn itox_tcpd_needs_daemon_dir() {
    let c = itox(&sample("tcpd.conf"), None);
    assert_eq!(c.errors.len(), 4);
    assert!(matches!(&c.errors[0], InetdError::TcpdNeedsDaemonDir { span } if span.line == 2));
    let c = itox(&sample("tcpd.conf"), Some("/usr/sbin/"));
    assert!(c.is_ok());
    assert!(c
        .text
        .contains("\tserver          = /usr/sbin/in.ftpd\n\tserver_args     = -l\n"));
    // An absolute daemon path is kept.
    assert!(c
        .text
        .contains("\tserver          = /usr/sbin/in.telnetd\n}\n"));
}

#[test]
fn itox_bad_lines_are_reported_and_the_rest_converted() {
    let c = itox(&sample("bad.conf"), None);
    let errs: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errs,
        [
            "inetd.conf:9:27: server missing",
            "inetd.conf:10:25: user[.group] missing",
        ]
    );
    assert!(c.text.ends_with("service time\n{\n\tsocket_type     = dgram\n\tprotocol        = udp\n\twait            = yes\n\tuser            = root\n\ttype            = INTERNAL\n\tid              = time-dgram\n}\n\n"));
}

/// What the converted text loads into, compared with the `-inetd_compat` reading of the
/// same file: same names, sockets, protocols, ports, wait, users and groups; itox drops
/// argv[0] and the NAMEINARGS flag.
#[test]
fn itox_output_loads_back_into_the_expected_services() {
    let env = env();
    for (name, dir) in [
        ("standard.conf", None),
        ("internal.conf", None),
        ("rpc.conf", None),
        ("tcpd.conf", Some("/usr/sbin")),
    ] {
        let c = itox(&sample(name), dir);
        assert!(c.is_ok(), "{name}: {:?}", c.errors);
        let back = load_bytes(
            c.text.as_bytes(),
            "converted.conf",
            &env,
            &LoadOptions::new(),
        )
        .unwrap();
        let (compat, _) = merged(name);
        let key = |s: &Service| {
            (
                s.name.value.clone(),
                s.socket_type.value,
                s.protocol.value.name.clone(),
                s.port.as_ref().map(|p| p.value),
                s.user.as_ref().map(|u| u.value.uid),
                s.group.as_ref().map(|g| g.value.gid),
                s.builtin,
                s.rpc_number.as_ref().map(|n| n.value),
            )
        };
        let got: Vec<_> = back.config.services.iter().map(|s| key(s)).collect();
        let want: Vec<_> = compat.config.services.iter().map(|s| key(s)).collect();
        assert_eq!(got, want, "{name}:\n{}", c.text);
        for s in &back.config.services {
            assert!(!s.has_flag(ServiceFlag::NameInArgs));
            if let (Some(server), Some(orig)) = (
                &s.server,
                compat
                    .config
                    .services
                    .iter()
                    .find(|o| o.name.value == s.name.value),
            ) {
                // itox drops argv[0]: the rest of the arguments are the same.
                let orig_args = args(orig);
                assert_eq!(args(s), orig_args[1..], "{name} {}", server.value);
            }
        }
    }
    // The standard sample: every wait is what the line says (finger nowait.400 → no).
    let c = itox(&sample("standard.conf"), None);
    let back = load_bytes(
        c.text.as_bytes(),
        "converted.conf",
        &env,
        &LoadOptions::new(),
    )
    .unwrap();
    let waits: Vec<(String, bool)> = back
        .config
        .services
        .iter()
        .map(|s| (s.name.value.clone(), s.wait.value))
        .collect();
    assert_eq!(
        waits,
        [
            ("ftp".to_string(), false),
            ("telnet".into(), false),
            ("finger".into(), false),
            ("auth".into(), true),
            ("talk".into(), true),
            ("ntalk".into(), true),
            ("tftp".into(), true),
        ]
    );
    assert_eq!(c.warnings.len(), 2, "two .max suffixes");
}

#[test]
fn xconv_layout_and_load_back() {
    let env = env();
    let c = convert_inetd(
        &sample("standard.conf"),
        "inetd.conf",
        &ConvertOptions::new()
            .style(ConvertStyle::Xconv)
            .daemon_dir(None),
    );
    assert!(c.text.starts_with("# This file generated by xconv.pl"));
    assert!(c.text.contains("service ftp\n{\n\tflags       = NAMEINARGS\n\tsocket_type = stream\n\tprotocol    = tcp\n\twait        = no\n\tuser        = root\n\tserver      = /usr/sbin/in.ftpd\n\tserver_args = in.ftpd -l -a \n}\n\n"));
    let back = load_bytes(c.text.as_bytes(), "xconv.conf", &env, &LoadOptions::new()).unwrap();
    assert_eq!(back.config.services.len(), 7);
    assert_eq!(
        back.config.defaults.instances.as_ref().unwrap().value,
        Limit::Max(25)
    );
    assert_eq!(args(by_id(&back, "ftp")), ["in.ftpd", "-l", "-a"]);
    let rpc = convert_inetd(
        &sample("rpc.conf"),
        "rpc.conf",
        &ConvertOptions::new()
            .style(ConvertStyle::Xconv)
            .daemon_dir(None),
    );
    assert!(!rpc.text.contains("service rstatd"));
    assert_eq!(rpc.warnings.len(), 4);
}

// ---- Differential test against Debian's converters --------------------------------------

fn run_tool(program: &str, args: &[&str], input: &[u8]) -> Option<(i32, Vec<u8>, String)> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take()?;
        stdin.write_all(input).ok()?;
    }
    let out = child.wait_with_output().ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// Extra inputs for the differential test: spacing, CRLF, missing argv, odd wait words.
const EXTRA: &[&str] = &[
    "  ftp   stream\t\ttcp  nowait  root   /usr/sbin/in.ftpd   in.ftpd  -l  \n",
    "finger stream tcp nowait nobody /usr/sbin/in.fingerd in.fingerd\r\n",
    "x stream tcp WAIT root /bin/x x\ny dgram udp Wait.5 root /bin/y y a b c\n",
    "z/1-2 stream rpc/tcp nowait root internal\n",
    "w stream tcp nowait root:wheel /bin/w w\n",
    "",
    "#only a comment\n",
];

/// The samples and the extra inputs, named.
fn differential_inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs: Vec<(String, Vec<u8>)> =
        SAMPLES.iter().map(|n| (n.to_string(), sample(n))).collect();
    inputs.extend(
        EXTRA
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("extra #{i}"), t.as_bytes().to_vec())),
    );
    inputs
}

#[test]
fn differential_against_debian_itox() {
    let Some(tool) = find_tool("itox") else {
        println!("skipped: itox is not installed (Debian package xinetd ships /usr/bin/itox)");
        return;
    };
    let tool = tool.to_string_lossy().into_owned();
    let inputs = differential_inputs();
    let mut compared = 0;
    for (name, input) in &inputs {
        for dir in [None, Some("/usr/sbin/")] {
            let args: Vec<&str> = dir.map_or(vec![], |d| vec!["-daemon_dir", d]);
            let (code, stdout, stderr) = run_tool(&tool, &args, input).expect("itox runs");
            let ours = itox(input, dir);
            match ours.errors.first() {
                None => {
                    assert_eq!(code, 0, "{name}: itox failed: {stderr}");
                    assert_eq!(
                        String::from_utf8_lossy(&stdout),
                        ours.text,
                        "{name} {dir:?}"
                    );
                    // itox prints two stderr lines per warning we also report.
                    let itox_warnings = stderr.lines().count() / 2;
                    let ours_itox: usize = ours
                        .warnings
                        .iter()
                        .filter(|w| w.message.contains("cannot be converted"))
                        .count();
                    assert_eq!(itox_warnings, ours_itox, "{name}: {stderr}");
                }
                Some(InetdError::MissingField { span, field }) => {
                    assert_eq!(code, 1, "{name}");
                    assert!(
                        stderr.contains(&format!("Line {}: {field} missing \n", span.line)),
                        "{name}: itox said {stderr:?}, we say {field} at line {}",
                        span.line
                    );
                }
                Some(InetdError::TcpdNeedsDaemonDir { .. }) => {
                    assert_eq!(code, 1, "{name}");
                    assert!(stderr.contains("You must use option -daemon_dir if you use tcpd"));
                }
                Some(other) => panic!("{name}: unexpected converter error {other}"),
            }
            compared += 1;
        }
    }
    println!("compared {compared} itox runs");
}

#[test]
fn differential_against_debian_xconv_pl() {
    let Some(tool) = find_tool("xconv.pl") else {
        println!(
            "skipped: xconv.pl is not installed (Debian package xinetd ships /usr/bin/xconv.pl)"
        );
        return;
    };
    if Command::new("perl").arg("-v").output().is_err() {
        println!("skipped: perl is not installed");
        return;
    }
    let tool = tool.to_string_lossy().into_owned();
    let inputs = differential_inputs();
    for (name, input) in &inputs {
        let (code, stdout, stderr) = run_tool("perl", &[&tool], input).expect("xconv.pl runs");
        assert_eq!(code, 0, "{name}: {stderr}");
        let ours = convert_inetd(
            input,
            "inetd.conf",
            &ConvertOptions::new()
                .style(ConvertStyle::Xconv)
                .daemon_dir(None),
        );
        assert_eq!(String::from_utf8_lossy(&stdout), ours.text, "{name}");
        let skipped = stderr.matches("not added because").count();
        let ours_skipped = ours
            .warnings
            .iter()
            .filter(|w| w.message.contains("skips RPC"))
            .count();
        assert_eq!(skipped, ours_skipped, "{name}");
    }
}

// ---- Differential test against the real xinetd -inetd_compat ----------------------------

/// Runs Debian's xinetd with `-inetd_compat` on `inetd_conf` inside a private mount and
/// network namespace, where an overlay puts the file at /etc/inetd.conf (the real /etc is
/// not touched). Returns (log, dump) or why it cannot run.
fn run_real_xinetd(inetd_conf: &[u8], xinetd_conf: &str) -> Result<(String, String), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    for sub in ["up", "work"] {
        std::fs::create_dir(d.join(sub)).map_err(|e| e.to_string())?;
    }
    std::fs::write(d.join("up/inetd.conf"), inetd_conf).map_err(|e| e.to_string())?;
    std::fs::write(d.join("xinetd.conf"), xinetd_conf).map_err(|e| e.to_string())?;
    let script = format!(
        r#"set -e
D={d}
mount -t overlay overlay -o lowerdir=/etc,upperdir=$D/up,workdir=$D/work /etc
mount -t tmpfs tmpfs /run
/usr/sbin/xinetd -dontfork -stayalive -filelog $D/log -inetd_compat -f $D/xinetd.conf &
P=$!
i=0; until grep -q 'Started working' $D/log 2>/dev/null; do i=$((i+1)); [ $i -lt 100 ] || exit 3; sleep 0.05; done
kill -USR1 $P
i=0; until grep -q 'END OF DUMP' /run/xinetd.dump 2>/dev/null; do i=$((i+1)); [ $i -lt 100 ] || exit 4; sleep 0.05; done
cp /run/xinetd.dump $D/dump
kill -QUIT $P
wait $P || true
"#,
        d = d.display()
    );
    let out = Command::new("timeout")
        .args(["30", "unshare", "-m", "-n", "sh", "-c", &script])
        .output()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "namespace run failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let log = std::fs::read_to_string(d.join("log")).map_err(|e| e.to_string())?;
    let dump = std::fs::read_to_string(d.join("dump")).map_err(|e| e.to_string())?;
    Ok((log, dump))
}

/// (name, id, port, wait, uid, gid, argv, only_from) per service in an xinetd state dump;
/// only_from is `All sites` or `restricted`.
type DumpRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn dump_rows(dump: &str) -> Vec<DumpRow> {
    let mut rows: Vec<DumpRow> = Vec::new();
    let mut cur: Option<DumpRow> = None;
    for line in dump.lines() {
        if let Some(name) = line.strip_prefix("Service = ") {
            rows.extend(cur.take());
            cur = Some((
                name.into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
            ));
            continue;
        }
        if let (Some(r), Some(v)) = (cur.as_mut(), line.trim().strip_prefix("Only from:")) {
            r.7 = if v.trim() == "All sites" {
                "All sites".into()
            } else {
                "restricted".into()
            };
            continue;
        }
        let Some(r) = cur.as_mut() else { continue };
        let Some((k, v)) = line
            .trim()
            .split_once(" = ")
            .or_else(|| line.trim().strip_suffix(" =").map(|k| (k, "")))
        else {
            if line.starts_with("Server table dump") {
                rows.extend(cur.take());
            }
            continue;
        };
        let v = v.to_string();
        match k {
            "id" => r.1 = v,
            "port" => r.2 = v,
            "wait" => r.3 = v,
            "user" => r.4 = v,
            "group" => r.5 = v,
            "Server argv" => r.6 = v,
            _ => {}
        }
    }
    rows.extend(cur);
    rows
}

/// The argv xinetd execs: NAMEINARGS takes it from server_args, otherwise argv[0] is the
/// server's basename.
fn argv(s: &Service) -> String {
    let mut v = args(s);
    if !s.has_flag(ServiceFlag::NameInArgs) {
        if let Some(server) = &s.server {
            let base = server.value.rsplit('/').next().unwrap_or("").to_string();
            v.insert(0, base);
        }
    }
    v.join(" ")
}

#[test]
fn differential_against_real_xinetd_inetd_compat() {
    if let Some(why) = xinetd_test_support::real_xinetd_absent() {
        xinetd_test_support::skip(why);
        return;
    }
    if !xinetd_test_support::require_root("the mount namespace with an overlay on /etc") {
        return;
    }
    let env = Environment::system();
    // rpc.conf is left out: xinetd drops short RPC names through a use-after-free
    // (docs/compat.md). Lines with a missing field are left out: xinetd may crash on them.
    // A defaults block whose only_from, banner and disabled list meet inetd entries, and a
    // bound xinetd.conf ftp that the inetd ftp duplicates (F-071).
    let with_defaults = "defaults\n{\n\tonly_from = 127.0.0.1\n\tinstances = 7\n\tdisabled = tftp\n\tlog_type = SYSLOG daemon\n\tlog_on_success = PID USERID\n\tbanner = /etc/hostname\n}\nservice ftp\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/true\n\tbind = 127.0.0.1\n}\n";
    for (name, xinetd_conf) in [
        ("standard.conf", "defaults\n{\n}\n"),
        ("internal.conf", "defaults\n{\n}\n"),
        ("tcpd.conf", "defaults\n{\n}\n"),
        ("ipv6.conf", "defaults\n{\n}\n"),
        ("bad.conf", "defaults\n{\n}\n"),
        ("standard.conf", with_defaults),
    ] {
        let text = String::from_utf8(sample(name)).unwrap();
        let input: String = text
            .lines()
            .filter(|l| {
                let parsed = parse_inetd(l.as_bytes(), "x");
                parsed.first().is_none_or(|line| {
                    !matches!(
                        InetdEntry::parse(line),
                        Err(InetdError::MissingField { .. })
                    )
                })
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let (log, dump) = match run_real_xinetd(input.as_bytes(), xinetd_conf) {
            Ok(r) => r,
            Err(why) => {
                println!("skipped: {why}");
                return;
            }
        };
        let mut loaded = load_bytes(
            xinetd_conf.as_bytes(),
            "xinetd.conf",
            &env,
            &LoadOptions::new(),
        )
        .unwrap();
        merge_inetd_bytes(&mut loaded, input.as_bytes(), "/etc/inetd.conf", &env);

        // The inetd.conf messages and the post-parse errors, word for word.
        let theirs: Vec<String> = log
            .lines()
            .filter_map(|l| l.split_once("]: ").map(|(_, m)| m.to_string()))
            .filter(|m| {
                m.contains("[file=/etc/inetd.conf]")
                    || (m.starts_with("ERROR: ") && !m.contains("bind"))
                    || m.starts_with("WARNING: ") && !m.contains("Exiting")
            })
            .collect();
        let ours: Vec<String> = xinetd_lines(&loaded);
        assert_eq!(ours, theirs, "{name}: messages differ");
        let messages = ours.len();

        // The services: id, port, wait, uid, gid, argv.
        let theirs = dump_rows(&dump);
        let ours: Vec<DumpRow> = loaded
            .config
            .services
            .iter()
            .map(|s| {
                // xinetd leaves the id of internal tcpmux unset and dumps "(null)"
                // (docs/compat.md); we use the name.
                (
                    s.name.value.clone(),
                    s.id.value.clone(),
                    s.port
                        .as_ref()
                        .map_or(String::new(), |p| p.value.to_string()),
                    if s.wait.value {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    s.user
                        .as_ref()
                        .map_or(String::new(), |u| u.value.uid.to_string()),
                    s.group
                        .as_ref()
                        .map_or(String::new(), |g| g.value.gid.to_string()),
                    argv(s),
                    if s.only_from.is_some() {
                        "restricted".into()
                    } else {
                        "All sites".into()
                    },
                )
            })
            .collect();
        let theirs: Vec<DumpRow> = theirs
            .into_iter()
            .map(|mut r| {
                if r.1 == "(null)" {
                    r.1 = r.0.clone();
                }
                r
            })
            .collect();
        // wait.N: xinetd says no, we say yes (docs/compat.md).
        let ours: Vec<DumpRow> = ours
            .into_iter()
            .map(|mut r| {
                if text
                    .lines()
                    .any(|l| l.starts_with(&r.0) && l.contains("\twait."))
                {
                    r.3 = "no".into();
                }
                r
            })
            .collect();
        assert_eq!(ours, theirs, "{name}: services differ\n{dump}");
        println!(
            "{name}: {} services and {messages} messages agree",
            ours.len()
        );
    }
}

#[test]
fn compat_crlf_lines_keep_the_cr_like_xinetd_and_warn() {
    let env = env();
    let mut loaded = empty_loaded(&env);
    let text = b"echo stream tcp nowait root internal\r\nfinger stream tcp nowait nobody /usr/sbin/in.fingerd in.fingerd\r\n";
    let sum = merge_inetd_bytes(&mut loaded, text, "inetd.conf", &env);
    assert_eq!(sum.added, 2);
    // `internal\r` is not `internal`: xinetd runs it as a program of that name.
    let echo = by_id(&loaded, "echo");
    assert_eq!(echo.server.as_ref().unwrap().value, "internal\r");
    assert_eq!(args(by_id(&loaded, "finger")), ["in.fingerd\r"]);
    let warnings = loaded
        .diagnostics
        .iter()
        .filter(|d| d.message.contains("carriage return"))
        .count();
    assert_eq!(warnings, 2);
}

// ---- Properties ---------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any bytes: parsing, merging and both converters never panic, and every error
        /// names a line that exists.
        #[test]
        fn arbitrary_input_never_panics(text in "[a-z0-9/.:#\\- \t\r\n]{0,200}") {
            let env = env();
            let lines = text.split('\n').count();
            for l in parse_inetd(text.as_bytes(), "f") {
                if let Err(e) = InetdEntry::parse(&l) {
                    prop_assert!(e.span().is_some_and(|s| (s.line as usize) <= lines));
                }
            }
            let mut loaded = empty_loaded(&env);
            merge_inetd_bytes(&mut loaded, text.as_bytes(), "f", &env);
            for style in [ConvertStyle::Itox, ConvertStyle::Xconv] {
                let c = convert_inetd(text.as_bytes(), "f", &ConvertOptions::new().style(style).daemon_dir(Some("/d".into())));
                for e in &c.errors {
                    prop_assert!(e.span().is_some_and(|s| (s.line as usize) <= lines));
                }
            }
        }

        /// Well-formed lines: the -inetd_compat service and the itox conversion loaded back
        /// say what the line says.
        #[test]
        fn well_formed_lines_round_trip(
            svc in prop::sample::select(vec!["ftp", "telnet", "finger", "tftp", "talk"]),
            wait in prop::sample::select(vec!["wait", "nowait", "nowait.100"]),
            user in prop::sample::select(vec!["root", "nobody", "nobody.tty", "root.utmp"]),
            args in prop::collection::vec("-[a-z]{1,3}", 0..4),
            sep in prop::sample::select(vec![" ", "\t", "  \t "]),
        ) {
            let env = env();
            let (st, proto) = if svc == "tftp" || svc == "talk" { ("dgram", "udp") } else { ("stream", "tcp") };
            let server = format!("/usr/sbin/in.{svc}d");
            let argv0 = format!("in.{svc}d");
            let mut fields = vec![svc, st, proto, wait, user, server.as_str(), argv0.as_str()];
            fields.extend(args.iter().map(String::as_str));
            let line = format!("{}\n", fields.join(sep));

            let mut loaded = empty_loaded(&env);
            let sum = merge_inetd_bytes(&mut loaded, line.as_bytes(), "f", &env);
            prop_assert_eq!(sum.added, 1);
            let s = &loaded.config.services[0];
            let (u, g) = user.split_once('.').map_or((user, None), |(u, g)| (u, Some(g)));
            prop_assert_eq!(&s.user.as_ref().unwrap().value.text, u);
            prop_assert_eq!(s.group.as_ref().map(|g| g.value.text.as_str()), g);
            prop_assert_eq!(s.wait.value, wait == "wait");
            prop_assert_eq!(s.socket_type.value.as_str(), st);
            let mut want_args = vec![argv0.clone()];
            want_args.extend(args.iter().cloned());
            prop_assert_eq!(super::args(s), want_args);

            let c = convert_inetd(line.as_bytes(), "f", &ConvertOptions::default());
            prop_assert!(c.is_ok());
            let back = load_bytes(c.text.as_bytes(), "c", &env, &LoadOptions::new()).unwrap();
            prop_assert_eq!(back.config.services.len(), 1);
            let b = &back.config.services[0];
            prop_assert_eq!(&b.server.as_ref().unwrap().value, &server);
            prop_assert_eq!(super::args(b), args.clone());
            prop_assert_eq!(b.wait.value, wait == "wait");
            prop_assert_eq!(b.port.as_ref().map(|p| p.value), s.port.as_ref().map(|p| p.value));
            prop_assert_eq!(b.user.as_ref().map(|u| u.value.uid), s.user.as_ref().map(|u| u.value.uid));
            prop_assert_eq!(b.group.as_ref().map(|g| g.value.gid), s.group.as_ref().map(|g| g.value.gid));
        }
    }
}
