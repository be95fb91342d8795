//! `load(print(m)) == m` for generated models (proptest).
//!
//! Models are generated as configuration text covering every attribute, loaded (all services
//! must be accepted), printed, and loaded again.

use proptest::prelude::*;
use xinetd_conf::{load_bytes, print, Environment, LoadOptions, Severity};

fn env() -> Environment {
    Environment::isolated().process_env(["PATH", "HOME", "LANG", "TZ"])
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn subset(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::subsequence(items, 0..=items.len()).prop_map(|v| v.join(" "))
}

fn subset1(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::subsequence(items, 1..=items.len()).prop_map(|v| v.join(" "))
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_.-]{0,7}"
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=223, any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (1u8..=223, any::<u8>()).prop_map(|(a, b)| format!("{a}.{b}.0.0")),
        (1u8..=223, 0u8..=32).prop_map(|(a, m)| format!("{a}.0.0.0/{m}")),
        (1u8..=223, 0u8..=9, 10u8..=99).prop_map(|(a, x, y)| format!("{a}.7.{{{x},{y}}}")),
        pick(&[
            "::1",
            "::/0",
            "fe80::1",
            "2001:db8::/32",
            ".example.com",
            "0.0.0.0"
        ])
        .prop_map(str::to_string),
    ]
}

fn interval() -> impl Strategy<Value = String> {
    (0u16..1439)
        .prop_flat_map(|s| (Just(s), (s + 1)..1440))
        .prop_map(|(s, e)| format!("{}:{:02}-{}:{:02}", s / 60, s % 60, e / 60, e % 60))
}

fn opt<S: Strategy<Value = String>>(name: &'static str, s: S) -> impl Strategy<Value = String> {
    proptest::option::of(s)
        .prop_map(move |v| v.map(|v| format!("\t{name} = {v}\n")).unwrap_or_default())
}

fn optional_attrs() -> impl Strategy<Value = String> {
    let a = (
        opt(
            "instances",
            prop_oneof![
                Just("UNLIMITED".to_string()),
                (0u32..1000).prop_map(|n| n.to_string())
            ],
        ),
        opt(
            "per_source",
            prop_oneof![
                Just("unlimited".to_string()),
                (0u32..50).prop_map(|n| n.to_string())
            ],
        ),
        opt(
            "cps",
            (0u32..500, 0u32..60).prop_map(|(a, b)| format!("{a} {b}")),
        ),
        opt(
            "log_on_success",
            subset(&["PID", "HOST", "USERID", "EXIT", "DURATION"]),
        ),
        opt("log_on_failure", subset(&["HOST", "USERID", "ATTEMPT"])),
        opt(
            "log_type",
            prop_oneof![
                (
                    pick(&["daemon", "auth", "authpriv", "local0", "local7", "ftp"]),
                    pick(&["info", "err", "debug"])
                )
                    .prop_map(|(f, l)| format!("SYSLOG {f} {l}")),
                (
                    word(),
                    proptest::option::of((1u64..100, 0u64..100)),
                    pick(&["", " JSON", " json"])
                )
                    .prop_map(|(p, l, j)| match l {
                        None => format!("FILE /var/log/{p}{j}"),
                        Some((s, h)) => format!("FILE /var/log/{p} {s}K {}K{j}", s + h),
                    }),
                // Extension: journald's native protocol.
                (proptest::option::of((
                    pick(&["daemon", "local3"]),
                    proptest::option::of(pick(&["info", "warning"]))
                )))
                .prop_map(|fl| match fl {
                    None => "JOURNAL".to_string(),
                    Some((f, None)) => format!("JOURNAL {f}"),
                    Some((f, Some(l))) => format!("JOURNAL {f} {l}"),
                }),
            ],
        ),
        opt(
            "only_from",
            proptest::collection::vec(address(), 0..4).prop_map(|v| v.join(" ")),
        ),
        opt(
            "no_access",
            proptest::collection::vec(address(), 1..4).prop_map(|v| v.join(" ")),
        ),
    );
    let b = (
        opt(
            "access_times",
            proptest::collection::vec(interval(), 1..3).prop_map(|v| v.join(" ")),
        ),
        opt(
            "env",
            proptest::collection::vec(("[A-Z]{1,5}", "[a-z0-9=/]{0,6}"), 0..3).prop_map(|v| {
                v.into_iter()
                    .map(|(k, x)| format!("{k}={x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        ),
        opt("passenv", subset(&["PATH", "HOME", "LANG", "TZ"])),
        opt("nice", (-20i32..20).prop_map(|n| n.to_string())),
        opt("umask", (0u32..0o777).prop_map(|n| format!("{n:o}"))),
        opt(
            "rlimit_as",
            prop_oneof![
                Just("UNLIMITED".to_string()),
                (1u64..4096).prop_map(|n| format!("{n}K")),
                (1u64..64).prop_map(|n| format!("{n}M"))
            ],
        ),
        opt("rlimit_cpu", (1u64..1000).prop_map(|n| n.to_string())),
        opt("rlimit_files", (1u64..4096).prop_map(|n| n.to_string())),
    );
    let c = (
        opt("banner", word().prop_map(|w| format!("/etc/banners/{w}"))),
        opt(
            "banner_fail",
            word().prop_map(|w| format!("/etc/banners/{w}")),
        ),
        opt(
            "deny_time",
            prop_oneof![
                Just("FOREVER".to_string()),
                Just("NEVER".to_string()),
                (1i32..100).prop_map(|n| n.to_string())
            ],
        ),
        opt("v6only", pick(&["yes", "no"]).prop_map(str::to_string)),
        opt("libwrap", word()),
        opt("groups", pick(&["yes", "no"]).prop_map(str::to_string)),
        opt(
            "max_load",
            pick(&["0.5", "2", "3.25", "10"]).prop_map(str::to_string),
        ),
        opt(
            "flags",
            subset1(&[
                "REUSE",
                "NORETRY",
                "IDONLY",
                "NODELAY",
                "KEEPALIVE",
                "NOLIBWRAP",
                "IPv4",
            ]),
        ),
    );
    let d = (
        opt("group", (0u32..65535).prop_map(|n| n.to_string())),
        opt("chroot", word().prop_map(|w| format!("/srv/{w}"))),
        opt("timeout", (1u32..3600).prop_map(|n| n.to_string())),
        opt(
            "bind_device",
            pick(&["lo", "eth0"]).prop_map(str::to_string),
        ),
        opt("log_stderr", pick(&["yes", "no"]).prop_map(str::to_string)),
        opt(
            "bind",
            pick(&["127.0.0.1", "127.0.0.2", "::1", "fe80::1%eth0", "fe80::2%2"])
                .prop_map(str::to_string),
        ),
    );
    // Listening-socket options and source_prefix (extensions); the stream-only ones
    // (backlog, keepalive, defer_accept) would drop dgram services, so they are printed and
    // read back in xinetd-bin's tests/socket_options.rs instead.
    let e = (
        opt("reuseport", pick(&["yes", "no"]).prop_map(str::to_string)),
        opt("freebind", pick(&["yes", "no"]).prop_map(str::to_string)),
        opt(
            "mark",
            pick(&["0", "42", "0x2a", "4294967295"]).prop_map(str::to_string),
        ),
        opt(
            "receive_buffer",
            pick(&["1K", "64k", "1M", "65536"]).prop_map(str::to_string),
        ),
        opt(
            "send_buffer",
            pick(&["2K", "256K", "1024M"]).prop_map(str::to_string),
        ),
        opt(
            "source_prefix",
            pick(&["32 128", "24 64", "0 0", "8 48"]).prop_map(str::to_string),
        ),
    );
    (a, b, c, d, e).prop_map(|(a, b, c, d, e)| {
        [
            a.0, a.1, a.2, a.3, a.4, a.5, a.6, a.7, b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, c.0,
            c.1, c.2, c.3, c.4, c.5, c.6, c.7, d.0, d.1, d.2, d.3, d.4, d.5, e.0, e.1, e.2, e.3,
            e.4, e.5,
        ]
        .concat()
    })
}

fn service(index: usize) -> impl Strategy<Value = String> {
    let internal = (
        pick(&["echo", "discard", "chargen", "daytime", "time"]),
        pick(&["stream", "dgram"]),
        any::<bool>(),
    )
        .prop_map(|(n, st, w)| {
            (
                n.to_string(),
                format!(
                    "\ttype = INTERNAL UNLISTED\n\tsocket_type = {st}\n\twait = {}\n",
                    if w { "yes" } else { "no" }
                ),
            )
        });
    let external = (word(), pick(&["tcp", "udp"]), any::<bool>(), 0u32..65535, proptest::collection::vec("[a-z0-9-]{1,6}", 0..3))
        .prop_map(|(n, p, w, uid, args)| {
            let args = if args.is_empty() { String::new() } else { format!("\tserver_args = {}\n", args.join(" ")) };
            (
                format!("svc{n}"),
                format!(
                    "\ttype = UNLISTED\n\tprotocol = {p}\n\twait = {}\n\tuser = {uid}\n\tserver = /usr/sbin/{n}\n{args}",
                    if w { "yes" } else { "no" }
                ),
            )
        });
    (prop_oneof![internal, external], optional_attrs()).prop_map(move |((name, head), rest)| {
        format!(
            "service {name}\n{{\n\tid = id{index}\n\tport = {}\n{head}{rest}}}\n",
            2000 + index
        )
    })
}

fn config() -> impl Strategy<Value = String> {
    let defaults = (
        opt("instances", (1u32..100).prop_map(|n| n.to_string())),
        opt(
            "cps",
            (1u32..100, 1u32..30).prop_map(|(a, b)| format!("{a} {b}")),
        ),
        opt(
            "log_type",
            pick(&[
                "FILE /var/log/xinetd.log",
                "FILE /var/log/xinetd.json JSON",
                "JOURNAL",
            ])
            .prop_map(str::to_string),
        ),
        opt("log_on_failure", subset(&["HOST", "ATTEMPT"])),
        opt("umask", Just("022".to_string())),
    )
        .prop_map(|(a, b, c, d, e)| {
            let body = [a, b, c, d, e].concat();
            if body.is_empty() {
                String::new()
            } else {
                format!("defaults\n{{\n{body}}}\n")
            }
        });
    (
        defaults,
        (1usize..6).prop_flat_map(|n| (0..n).map(service).collect::<Vec<_>>()),
    )
        .prop_map(|(d, s)| format!("{d}\n{}", s.join("\n")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn print_then_load_gives_the_same_model(text in config()) {
        let env = env();
        let first = load_bytes(text.as_bytes(), "generated.conf", &env, &LoadOptions::new()).expect("generated config loads");
        let errors: Vec<String> = first.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.render()).collect();
        prop_assert!(errors.is_empty(), "generator produced errors: {errors:?}\n{text}");
        prop_assert_eq!(first.config.services.len(), text.matches("\nservice ").count() + usize::from(text.starts_with("service ")));
        let printed = print(&first.config);
        let second = load_bytes(printed.as_bytes(), "printed.conf", &env, &LoadOptions::new()).expect("printed config loads");
        let errors: Vec<String> = second.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.render()).collect();
        prop_assert!(errors.is_empty(), "printed text has errors: {errors:?}\n{printed}");
        prop_assert_eq!(&second.config, &first.config, "printed:\n{}", printed);
        // Printing is a fixpoint.
        prop_assert_eq!(print(&second.config), printed);
    }
}
