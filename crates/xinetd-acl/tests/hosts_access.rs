//! tcp_wrappers (hosts.allow / hosts.deny) evaluation: every hosts_access(5) construct, the
//! options that change the verdict, diagnostics, and (when Debian's `tcpdmatch` is installed)
//! a differential test against the real libwrap.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use xinetd_acl::hosts_access::{
    daemon_name, ClientName, Diagnostic, DiagnosticKind, HostsAccess, NameLookup, ServerKind,
    Severity, Table, WrapAllowed, WrapDecision, WrapDenial,
};
use xinetd_acl::{FailReason, Resolved, StaticResolver};

struct Files {
    dir: tempfile::TempDir,
    wrap: HostsAccess,
    diags: Vec<Diagnostic>,
}

fn files(allow: &str, deny: &str) -> Files {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("hosts.allow"), allow).expect("write hosts.allow");
    std::fs::write(dir.path().join("hosts.deny"), deny).expect("write hosts.deny");
    let (wrap, diags) = HostsAccess::load(
        dir.path().join("hosts.allow"),
        dir.path().join("hosts.deny"),
    )
    .expect("load");
    Files { dir, wrap, diags }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// `-`: not looked up; `?`: unknown; `!name`: name that does not map back (paranoid);
/// anything else: a verified name.
fn name(client: IpAddr, spec: &str) -> ClientName {
    match spec {
        "-" => ClientName::not_looked_up(),
        "?" => ClientName::unknown(),
        s if s.starts_with('!') => ClientName::from_lookups(client, Some(&s[1..]), &[]),
        s => ClientName::from_lookups(client, Some(s), &[client]),
    }
}

/// 'A' allow, 'D' deny, 'L' needs lookup, '?' a verdict these tests do not know.
fn verdict(d: &WrapDecision) -> char {
    match d {
        WrapDecision::Allow(_) => 'A',
        WrapDecision::Deny(_) => 'D',
        WrapDecision::NeedsLookup(_) => 'L',
        _ => '?',
    }
}

type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    char,
);

fn run_cases(cases: &[Case]) {
    for (n, (allow, deny, daemon, client, host, want)) in cases.iter().enumerate() {
        let f = files(allow, deny);
        let c = ip(client);
        let got = f.wrap.decide(daemon, c, &name(c, host));
        assert_eq!(
            verdict(&got),
            *want,
            "case {n}: allow={allow:?} deny={deny:?} daemon={daemon} client={client} name={host}: {got:?}"
        );
    }
}

#[test]
fn files_order_and_defaults() {
    run_cases(&[
        // No files at all / empty files: everyone is allowed.
        ("", "", "in.ftpd", "10.0.0.1", "-", 'A'),
        // Allow file first: a match there wins over the deny file.
        (
            "in.ftpd: 10.0.0.1\n",
            "ALL: ALL\n",
            "in.ftpd",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "in.ftpd: 10.0.0.1\n",
            "ALL: ALL\n",
            "in.ftpd",
            "10.0.0.2",
            "-",
            'D',
        ),
        (
            "in.ftpd: 10.0.0.1\n",
            "ALL: ALL\n",
            "sshd",
            "10.0.0.1",
            "-",
            'D',
        ),
        // Deny file only.
        ("", "in.ftpd: 10.0.0.1\n", "in.ftpd", "10.0.0.1", "-", 'D'),
        ("", "in.ftpd: 10.0.0.1\n", "in.ftpd", "10.0.0.2", "-", 'A'),
        // First match wins inside a file: the first rule has no options, so the second's
        // `deny` is never reached.
        (
            "ALL: 10.0.0.1\nALL: ALL: deny\n",
            "",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "ALL: 10.0.0.1\nALL: ALL: deny\n",
            "",
            "x",
            "10.0.0.2",
            "-",
            'D',
        ),
    ]);
}

#[test]
fn safety_all_all_in_hosts_deny_denies_everything() {
    for deny in ["ALL: ALL\n", "ALL:ALL", "all : all\n", "ALL: ALL EXCEPT\n"] {
        let f = files("", deny);
        for client in [
            "127.0.0.1",
            "10.1.2.3",
            "::1",
            "::ffff:192.0.2.1",
            "2001:db8::7",
        ] {
            let c = ip(client);
            for host in ["-", "?", "!evil.example", "host.example.com"] {
                for daemon in ["in.ftpd", "echo", "sshd", "unknown", ""] {
                    let d = f.wrap.decide(daemon, c, &name(c, host));
                    let WrapDecision::Deny(denial) = &d else {
                        panic!("{deny:?} {daemon} {client} {host}: {d:?}");
                    };
                    assert_eq!(denial.fail_reason(), FailReason::Libwrap);
                    assert_eq!(
                        denial.rule().map(|r| (r.table, r.line)),
                        Some((Table::Deny, 1))
                    );
                }
            }
        }
    }
    // A missing allow file changes nothing.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("hosts.deny"), "ALL: ALL\n").expect("write");
    let (wrap, diags) = HostsAccess::load(
        dir.path().join("nonexistent.allow"),
        dir.path().join("hosts.deny"),
    )
    .expect("load");
    assert!(diags.is_empty());
    assert!(wrap
        .decide("in.ftpd", ip("10.0.0.1"), &ClientName::unknown())
        .is_denied());
}

#[test]
fn syntax_comments_continuations_and_separators() {
    run_cases(&[
        ("# ALL: ALL\n", "ALL: ALL\n", "x", "10.0.0.1", "-", 'D'),
        (
            "\n\n   \n\t\nALL: 10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        // Backslash-newline joins lines.
        (
            "ALL: 10.0.0.9 \\\n   10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "ALL: 10.0.0.9,\\\n10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        // A backslash followed by a blank does not continue the line.
        (
            "ALL: 10.0.0.9 \\ \n 10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "?",
            'D',
        ),
        // Commas and/or blanks separate items, in both lists.
        (
            "a,b c\t,d: 10.0.0.1,10.0.0.2  10.0.0.3\n",
            "ALL: ALL\n",
            "c",
            "10.0.0.3",
            "-",
            'A',
        ),
        (
            "a,b c\t,d: 10.0.0.1,10.0.0.2  10.0.0.3\n",
            "ALL: ALL\n",
            "d",
            "10.0.0.2",
            "-",
            'A',
        ),
        (
            "a,b c\t,d: 10.0.0.1,10.0.0.2  10.0.0.3\n",
            "ALL: ALL\n",
            "e",
            "10.0.0.2",
            "-",
            'D',
        ),
        // A line without `:` is ignored.
        ("ALL 10.0.0.1\n", "ALL: ALL\n", "x", "10.0.0.1", "-", 'D'),
        // No final newline is fine.
        ("", "ALL: ALL", "x", "10.0.0.1", "-", 'D'),
        // CRLF line endings: `\r` is a separator.
        (
            "ALL: 10.0.0.1\r\n",
            "ALL: ALL\r\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        // Everything is case-insensitive.
        (
            "IN.FTPD: all except 10.0.0.1\n",
            "",
            "in.ftpd",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "IN.FTPD: all except 10.0.0.1 : DENY\n",
            "",
            "In.FtpD",
            "10.0.0.2",
            "-",
            'D',
        ),
        // An indented `#` is not a comment (libwrap reads the line as a rule).
        ("  # x: ALL\n", "ALL: ALL\n", "x", "10.0.0.1", "-", 'A'),
    ]);
}

#[test]
fn daemon_patterns() {
    run_cases(&[
        ("ALL: ALL\n", "ALL: ALL\n", "anything", "10.0.0.1", "-", 'A'),
        (
            "in.*: ALL\n",
            "ALL: ALL\n",
            "in.telnetd",
            "10.0.0.1",
            "-",
            'A',
        ),
        ("in.*: ALL\n", "ALL: ALL\n", "sshd", "10.0.0.1", "-", 'D'),
        ("ftp?: ALL\n", "ALL: ALL\n", "ftpd", "10.0.0.1", "-", 'A'),
        ("ftp?: ALL\n", "ALL: ALL\n", "ftp", "10.0.0.1", "-", 'D'),
        // `.suffix` and `prefix.` are string patterns for daemon names too.
        (
            ".telnetd: ALL\n",
            "ALL: ALL\n",
            "in.telnetd",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            ".telnetd: ALL\n",
            "ALL: ALL\n",
            ".telnetd",
            "10.0.0.1",
            "-",
            'D',
        ),
        ("in.: ALL\n", "ALL: ALL\n", "in.ftpd", "10.0.0.1", "-", 'A'),
        ("KNOWN: ALL\n", "ALL: ALL\n", "ftpd", "10.0.0.1", "-", 'A'),
        (
            "KNOWN: ALL\n",
            "ALL: ALL\n",
            "unknown",
            "10.0.0.1",
            "-",
            'D',
        ),
        // EXCEPT in the daemon list.
        (
            "ALL EXCEPT in.fingerd: ALL\n",
            "ALL: ALL\n",
            "in.fingerd",
            "10.0.0.1",
            "-",
            'D',
        ),
        (
            "ALL EXCEPT in.fingerd: ALL\n",
            "ALL: ALL\n",
            "in.ftpd",
            "10.0.0.1",
            "-",
            'A',
        ),
        // daemon@host without server information never matches.
        (
            "in.ftpd@10.0.0.100: ALL\n",
            "ALL: ALL\n",
            "in.ftpd",
            "10.0.0.1",
            "-",
            'D',
        ),
    ]);
}

#[test]
fn daemon_at_server_address() {
    let f = files(
        "in.ftpd@192.0.2.0/24: ALL\nsshd@[2001:db8::1]: ALL\n",
        "ALL: ALL\n",
    );
    let c = ip("10.0.0.1");
    let n = ClientName::not_looked_up();
    let at = |d: &str, s: &str| f.wrap.decide_at(d, Some(ip(s)), c, &n);
    assert!(at("in.ftpd", "192.0.2.9").is_allowed());
    assert!(at("in.ftpd", "::ffff:192.0.2.9").is_allowed());
    assert!(at("in.ftpd", "198.51.100.1").is_denied());
    assert!(at("sshd", "2001:db8::1").is_allowed());
    assert!(at("sshd", "2001:db8::2").is_denied());
    assert!(f.wrap.decide("in.ftpd", c, &n).is_denied());
    // Name patterns for the server never match, not even UNKNOWN.
    let f2 = files("in.ftpd@UNKNOWN: ALL\nin.ftpd@KNOWN: ALL\n", "ALL: ALL\n");
    assert!(f2
        .wrap
        .decide_at("in.ftpd", Some(ip("192.0.2.9")), c, &n)
        .is_denied());
    assert_eq!(f2.diags.len(), 2, "{:?}", f2.diags);
    // A server host name is reported: we do not look up the server's name.
    let f = files("in.ftpd@ftp.example.com: ALL\n", "");
    assert_eq!(f.diags.len(), 1, "{:?}", f.diags);
    assert_eq!(f.diags[0].kind, DiagnosticKind::UnsupportedPattern);
    assert_eq!((f.diags[0].line, f.diags[0].column), (1, 9));
}

#[test]
fn client_address_patterns() {
    run_cases(&[
        // Exact address, IPv4-mapped clients match IPv4 patterns.
        ("ALL: 192.0.2.7\n", "ALL: ALL\n", "x", "192.0.2.7", "-", 'A'),
        (
            "ALL: 192.0.2.7\n",
            "ALL: ALL\n",
            "x",
            "::ffff:192.0.2.7",
            "-",
            'A',
        ),
        (
            "ALL: 192.0.2.7\n",
            "ALL: ALL\n",
            "x",
            "192.0.2.70",
            "-",
            'D',
        ),
        // `net.` prefix.
        (
            "ALL: 192.168.\n",
            "ALL: ALL\n",
            "x",
            "192.168.44.1",
            "-",
            'A',
        ),
        (
            "ALL: 192.168.\n",
            "ALL: ALL\n",
            "x",
            "::ffff:192.168.44.1",
            "-",
            'A',
        ),
        (
            "ALL: 192.168.\n",
            "ALL: ALL\n",
            "x",
            "192.169.0.1",
            "-",
            'D',
        ),
        ("ALL: 192.16.\n", "ALL: ALL\n", "x", "192.168.0.1", "-", 'D'),
        // net/mask, including a non-contiguous mask (bitwise AND, as libwrap).
        (
            "ALL: 131.155.72.0/255.255.254.0\n",
            "ALL: ALL\n",
            "x",
            "131.155.73.255",
            "-",
            'A',
        ),
        (
            "ALL: 131.155.72.0/255.255.254.0\n",
            "ALL: ALL\n",
            "x",
            "131.155.74.0",
            "-",
            'D',
        ),
        (
            "ALL: 10.0.0.0/255.255.0.255\n",
            "ALL: ALL\n",
            "x",
            "10.0.5.0",
            "-",
            'A',
        ),
        (
            "ALL: 10.0.0.0/255.255.0.255\n",
            "ALL: ALL\n",
            "x",
            "10.0.5.1",
            "-",
            'D',
        ),
        (
            "ALL: 10.0.0.0/255.0.0.0\n",
            "ALL: ALL\n",
            "x",
            "::ffff:10.1.1.1",
            "-",
            'A',
        ),
        // A net with bits outside the mask never matches (libwrap compares addr&mask == net).
        (
            "ALL: 10.0.0.1/255.0.0.0\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        // n.n.n.n/prefixlen.
        (
            "ALL: 10.0.0.0/8\n",
            "ALL: ALL\n",
            "x",
            "10.200.0.1",
            "-",
            'A',
        ),
        ("ALL: 10.0.0.0/8\n", "ALL: ALL\n", "x", "11.0.0.1", "-", 'D'),
        (
            "ALL: 0.0.0.0/0\n",
            "ALL: ALL\n",
            "x",
            "203.0.113.5",
            "-",
            'A',
        ),
        (
            "ALL: 0.0.0.0/0\n",
            "ALL: ALL\n",
            "x",
            "2001:db8::1",
            "-",
            'D',
        ),
        // [ipv6] and [ipv6]/prefixlen.
        ("ALL: [::1]\n", "ALL: ALL\n", "x", "::1", "-", 'A'),
        ("ALL: [::1]\n", "ALL: ALL\n", "x", "::2", "-", 'D'),
        (
            "ALL: [3ffe:505:2:1::]/64\n",
            "ALL: ALL\n",
            "x",
            "3ffe:505:2:1:ffff::1",
            "-",
            'A',
        ),
        (
            "ALL: [3ffe:505:2:1::]/64\n",
            "ALL: ALL\n",
            "x",
            "3ffe:505:2:2::1",
            "-",
            'D',
        ),
        (
            "ALL: [::ffff:10.0.0.0]/104\n",
            "ALL: ALL\n",
            "x",
            "10.9.9.9",
            "-",
            'A',
        ),
        ("ALL: [::]/0\n", "ALL: ALL\n", "x", "2001:db8::1", "-", 'A'),
        (
            "ALL: [192.0.2.7]\n",
            "ALL: ALL\n",
            "x",
            "::ffff:192.0.2.7",
            "-",
            'A',
        ),
        // An empty daemon list never matches.
        (": ALL\n", "ALL: ALL\n", "x", "192.0.2.7", "-", 'D'),
        // An unbracketed IPv6 address is cut at its first `:` (libwrap): never matches.
        ("ALL: ::1\n", "ALL: ALL\n", "x", "::1", "-", 'D'),
        // Wildcards on addresses. `*` and `?` are not address characters, so when the address
        // does not match, the pattern is tried on the host name too (as libwrap does).
        (
            "ALL: 192.168.1.*\n",
            "ALL: ALL\n",
            "x",
            "192.168.1.19",
            "-",
            'A',
        ),
        (
            "ALL: 192.168.1.*\n",
            "ALL: ALL\n",
            "x",
            "192.168.2.19",
            "-",
            'L',
        ),
        (
            "ALL: 192.168.1.*\n",
            "ALL: ALL\n",
            "x",
            "192.168.2.19",
            "?",
            'D',
        ),
        (
            "ALL: 192.168.1.?\n",
            "ALL: ALL\n",
            "x",
            "192.168.1.9",
            "-",
            'A',
        ),
        (
            "ALL: 192.168.1.?\n",
            "ALL: ALL\n",
            "x",
            "192.168.1.19",
            "?",
            'D',
        ),
        // A `.suffix` is compared with the address string too (libwrap's string_match).
        ("ALL: .7\n", "ALL: ALL\n", "x", "192.0.2.7", "-", 'A'),
    ]);
}

#[test]
fn client_name_patterns_and_wildcards() {
    run_cases(&[
        // ALL never needs a name.
        ("ALL: ALL\n", "", "x", "10.0.0.1", "-", 'A'),
        // Names, .domain, KNOWN, UNKNOWN, LOCAL, PARANOID need the name when the address
        // alone does not decide.
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'L',
        ),
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "pc.example.com",
            'A',
        ),
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "PC.Example.COM",
            'A',
        ),
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "example.com",
            'D',
        ),
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "pc.example.org",
            'D',
        ),
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "?",
            'D',
        ),
        // A name that does not map back to the address is `paranoid`: no domain match.
        (
            "ALL: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "!pc.example.com",
            'D',
        ),
        (
            "ALL: pc.example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "pc.example.com",
            'A',
        ),
        (
            "ALL: pc.example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "pc2.example.com",
            'D',
        ),
        (
            "ALL: pc*.example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "pc42.example.com",
            'A',
        ),
        ("ALL: KNOWN\n", "ALL: ALL\n", "x", "10.0.0.1", "-", 'L'),
        (
            "ALL: KNOWN\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "h.example",
            'A',
        ),
        ("ALL: KNOWN\n", "ALL: ALL\n", "x", "10.0.0.1", "?", 'D'),
        (
            "ALL: KNOWN\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "!h.example",
            'D',
        ),
        ("", "ALL: UNKNOWN\n", "x", "10.0.0.1", "-", 'L'),
        ("", "ALL: UNKNOWN\n", "x", "10.0.0.1", "?", 'D'),
        ("", "ALL: UNKNOWN\n", "x", "10.0.0.1", "h.example", 'A'),
        ("", "ALL: UNKNOWN\n", "x", "10.0.0.1", "!h.example", 'A'),
        ("", "ALL: PARANOID\n", "x", "10.0.0.1", "-", 'L'),
        ("", "ALL: PARANOID\n", "x", "10.0.0.1", "!h.example", 'D'),
        ("", "ALL: PARANOID\n", "x", "10.0.0.1", "h.example", 'A'),
        ("", "ALL: PARANOID\n", "x", "10.0.0.1", "?", 'A'),
        (
            "ALL: LOCAL\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "printer",
            'A',
        ),
        (
            "ALL: LOCAL\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "printer.lan",
            'D',
        ),
        ("ALL: LOCAL\n", "ALL: ALL\n", "x", "10.0.0.1", "?", 'D'),
        (
            "ALL: LOCAL\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "!printer",
            'D',
        ),
        // The address decides before any lookup: no lookup requested.
        (
            "ALL: 10.0.0.1 .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        // Only digits and dots: never compared with the name (libwrap's NOT_INADDR).
        ("ALL: 10.0.0.\n", "ALL: ALL\n", "x", "192.0.2.1", "-", 'D'),
        // The daemon does not match: the name is never needed.
        (
            "sshd: .example.com\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        // A verified name `localhost` matches exactly.
        (
            "ALL: localhost\n",
            "ALL: ALL\n",
            "x",
            "127.0.0.1",
            "localhost",
            'A',
        ),
    ]);
}

#[test]
fn except_nests_to_the_right() {
    let allow = "ALL: 10.0.0.0/8 EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3\n";
    run_cases(&[
        (allow, "ALL: ALL\n", "x", "10.9.0.1", "-", 'A'),
        (allow, "ALL: ALL\n", "x", "10.1.0.1", "-", 'D'),
        (allow, "ALL: ALL\n", "x", "10.1.2.3", "-", 'A'),
        (allow, "ALL: ALL\n", "x", "11.0.0.1", "-", 'D'),
        // A leading EXCEPT: the list never matches.
        (
            "ALL: EXCEPT 10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.2",
            "-",
            'D',
        ),
        // A trailing EXCEPT with nothing after it excepts nothing.
        (
            "ALL: 10.0.0.1 EXCEPT\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        // The man page's example.
        (
            "ALL: .foobar.edu EXCEPT terminalserver.foobar.edu\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "terminalserver.foobar.edu",
            'D',
        ),
        (
            "ALL: .foobar.edu EXCEPT terminalserver.foobar.edu\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "ws.foobar.edu",
            'A',
        ),
        // An address exception decides even before the name is known when the first list
        // does not match by address: here the name is needed.
        (
            "ALL: .foobar.edu EXCEPT 10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.2",
            "-",
            'L',
        ),
        // ... but not when the exception already matches.
        (
            "ALL: .foobar.edu EXCEPT 10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
    ]);
}

#[test]
fn pattern_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pats = dir.path().join("trusted");
    std::fs::write(&pats, "10.1.2.3\n# comment\n 192.168.0.0/16 .example.org\n").expect("write");
    let allow = format!("ALL: {}\n", pats.display());
    let (wrap, diags) =
        HostsAccess::parse("hosts.allow", &allow, "hosts.deny", "ALL: ALL\n").expect("parse");
    assert!(diags.is_empty(), "{diags:?}");
    let unknown = ClientName::unknown();
    assert!(wrap.decide("x", ip("10.1.2.3"), &unknown).is_allowed());
    assert!(wrap.decide("x", ip("192.168.5.5"), &unknown).is_allowed());
    assert!(wrap.decide("x", ip("1.1.1.1"), &unknown).is_denied());
    let c = ip("1.1.1.1");
    assert!(matches!(
        wrap.decide("x", c, &ClientName::not_looked_up()),
        WrapDecision::NeedsLookup(_)
    ));
    assert!(wrap.decide("x", c, &name(c, "a.example.org")).is_allowed());
    assert!(wrap.uses_host_names());
    // A missing pattern file matches nothing, with a diagnostic.
    let (wrap, diags) = HostsAccess::parse(
        "hosts.allow",
        "ALL: /nonexistent/file\n",
        "hosts.deny",
        "ALL: ALL\n",
    )
    .expect("parse");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].kind, DiagnosticKind::NeverMatches);
    assert_eq!((diags[0].line, diags[0].column), (1, 6));
    assert!(wrap.decide("x", ip("10.0.0.1"), &unknown).is_denied());
}

#[test]
fn options_change_the_verdict() {
    run_cases(&[
        // hosts_options(5): a single-file policy in hosts.allow.
        (
            "ALL: .friendly.domain: ALLOW\nALL: ALL: DENY\n",
            "",
            "x",
            "10.0.0.1",
            "a.friendly.domain",
            'A',
        ),
        (
            "ALL: .friendly.domain: ALLOW\nALL: ALL: DENY\n",
            "",
            "x",
            "10.0.0.1",
            "a.hostile.domain",
            'D',
        ),
        (
            "ALL: .bad.domain: DENY\nALL: ALL: ALLOW\n",
            "",
            "x",
            "10.0.0.1",
            "x.bad.domain",
            'D',
        ),
        (
            "ALL: .bad.domain: DENY\nALL: ALL: ALLOW\n",
            "",
            "x",
            "10.0.0.1",
            "x.good.domain",
            'A',
        ),
        // `allow` in hosts.deny grants.
        ("", "ALL: ALL: allow\n", "x", "10.0.0.1", "-", 'A'),
        // allow/deny must be last: otherwise a syntax error, and libwrap refuses.
        ("ALL: ALL: allow : deny\n", "", "x", "10.0.0.1", "-", 'D'),
        ("ALL: ALL: deny : allow\n", "", "x", "10.0.0.1", "-", 'D'),
        ("ALL: ALL: allow = yes\n", "", "x", "10.0.0.1", "-", 'D'),
        // Unknown option: refused.
        ("ALL: ALL: bogus\n", "", "x", "10.0.0.1", "-", 'D'),
        // The man page's booby trap in hosts.deny (a shell command, not an option): refused.
        (
            "",
            "in.tftpd: ALL: (/usr/sbin/safe_finger -l @%h | \\\n /usr/bin/mail -s %d-%h root) &\n",
            "in.tftpd",
            "10.0.0.1",
            "-",
            'D',
        ),
        // spawn and other process options are not run; the verdict is the file's.
        (
            "ALL: 10.0.0.1: spawn /bin/echo %a\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "ALL: 10.0.0.1: keepalive : nice 5 : umask 022 : allow\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "",
            "ALL: 10.0.0.1: spawn echo a\\:b : setenv X 1\n",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        // A `\:` stays inside the option; the final `deny` is still an option.
        (
            "ALL: 10.0.0.1: spawn echo a\\:b : deny\n",
            "",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        // twist/aclexec are never run: refused.
        (
            "ALL: ALL: twist /bin/echo 421 go away\n",
            "",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        (
            "ALL: ALL: aclexec /usr/local/bin/check %a\n",
            "",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        // Options requiring a value without one: refused.
        ("ALL: ALL: spawn\n", "", "x", "10.0.0.1", "-", 'D'),
        ("ALL: ALL: keepalive 5\n", "", "x", "10.0.0.1", "-", 'D'),
        // An empty options field is no option.
        ("ALL: 10.0.0.1 :\n", "ALL: ALL\n", "x", "10.0.0.1", "-", 'A'),
    ]);
}

#[test]
fn option_denials_say_why() {
    let f = files("ALL: ALL: twist /bin/false\n", "");
    let WrapDecision::Deny(WrapDenial::UnsupportedCommand(loc)) =
        f.wrap.decide("x", ip("10.0.0.1"), &ClientName::unknown())
    else {
        panic!("twist must refuse");
    };
    assert_eq!((loc.table, loc.line), (Table::Allow, 1));
    assert_eq!(f.diags[0].kind, DiagnosticKind::RefusingOption);
    let f = files("", "ALL: ALL: allow\n");
    assert!(matches!(
        f.wrap.decide("x", ip("10.0.0.1"), &ClientName::unknown()),
        WrapDecision::Allow(WrapAllowed::AllowOption(_))
    ));
    let f = files("ALL: 10.0.0.1: deny\n", "");
    assert!(matches!(
        f.wrap.decide("x", ip("10.0.0.1"), &ClientName::unknown()),
        WrapDecision::Deny(WrapDenial::DenyOption(_))
    ));
    assert!(matches!(
        f.wrap.decide("x", ip("10.0.0.2"), &ClientName::unknown()),
        WrapDecision::Allow(WrapAllowed::NoMatch)
    ));
}

#[test]
fn unsupported_constructs_never_match_and_are_reported() {
    // Netgroups and user@host (other than ALL@host) never match.
    run_cases(&[
        (
            "ALL: @trusted\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "h.example",
            'D',
        ),
        ("", "ALL: @bad\n", "x", "10.0.0.1", "h.example", 'A'),
        (
            "ALL: root@10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        (
            "ALL: KNOWN@10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'D',
        ),
        (
            "ALL: ALL@10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.1",
            "-",
            'A',
        ),
        (
            "ALL: ALL@10.0.0.1\n",
            "ALL: ALL\n",
            "x",
            "10.0.0.2",
            "-",
            'D',
        ),
    ]);
    let f = files(
        "ALL: @trusted root@10.0.0.1\nin.ftpd: ALL: spawn echo %a\n",
        "ALL: ALL: twist /bin/echo no\nALL: ::1\nALL 10.0.0.1\n  # x: ALL\nALL: 10.0.0.1/255.0.0.0 1.2.3.4/40 [zz]\n",
    );
    let summary: Vec<(String, usize, usize, Severity, DiagnosticKind)> = f
        .diags
        .iter()
        .map(|d| {
            let file = d
                .file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            (file, d.line, d.column, d.severity, d.kind)
        })
        .collect();
    use DiagnosticKind::*;
    use Severity::*;
    let expect = |f: &str, l, c, s, k| (f.to_owned(), l, c, s, k);
    assert_eq!(
        summary,
        vec![
            expect("hosts.allow", 1, 6, Warning, UnsupportedPattern),
            expect("hosts.allow", 1, 15, Warning, UnsupportedPattern),
            expect("hosts.allow", 2, 15, Warning, UnsupportedOption),
            expect("hosts.deny", 1, 11, Warning, RefusingOption),
            expect("hosts.deny", 2, 4, Warning, Suspicious),
            // `ALL: ::1` is cut into client list ` ` and options `:1`: option `1` is unknown.
            expect("hosts.deny", 2, 8, Error, BadOption),
            expect("hosts.deny", 3, 1, Error, MissingSeparator),
            expect("hosts.deny", 4, 3, Warning, Suspicious),
            expect("hosts.deny", 5, 6, Warning, NeverMatches),
            expect("hosts.deny", 5, 25, Warning, NeverMatches),
            expect("hosts.deny", 5, 36, Warning, NeverMatches),
        ],
        "{:#?}",
        f.diags
    );
    // Diagnostics print like a compiler: file:line:col: severity: message.
    let shown = f.diags[6].to_string();
    assert!(
        shown.ends_with(
            "hosts.deny:3:1: error: missing \":\" separator in `ALL 10.0.0.1`; line ignored"
        ),
        "{shown}"
    );
    let _ = f.dir;
}

#[test]
fn rules_are_a_snapshot_until_reloaded() {
    // libwrap re-reads the files for every connection; we parse them once per reload.
    let f = files("", "");
    let c = ip("10.0.0.1");
    assert!(f.wrap.decide("x", c, &ClientName::unknown()).is_allowed());
    std::fs::write(f.dir.path().join("hosts.deny"), "ALL: ALL\n").expect("write");
    assert!(f.wrap.decide("x", c, &ClientName::unknown()).is_allowed());
    let (reloaded, _) = HostsAccess::load(
        f.dir.path().join("hosts.allow"),
        f.dir.path().join("hosts.deny"),
    )
    .expect("reload");
    assert!(reloaded.decide("x", c, &ClientName::unknown()).is_denied());
    assert_eq!(reloaded.rule_counts(), (0, 1));
}

#[test]
fn unreadable_file_is_an_error_not_an_open_door() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory where the deny file should be: reading fails with something else than
    // "not found".
    std::fs::create_dir(dir.path().join("hosts.deny")).expect("mkdir");
    let err = HostsAccess::load(
        dir.path().join("hosts.allow"),
        dir.path().join("hosts.deny"),
    )
    .expect_err("must fail");
    assert!(err.to_string().contains("hosts.deny"), "{err}");
}

#[test]
fn name_lookup_double_checks_the_name() {
    let client = ip("10.0.0.1");
    let resolver = StaticResolver::new()
        .reverse(client, "pc.example.com")
        .host("pc.example.com", [client])
        .reverse(ip("10.0.0.2"), "liar.example.com")
        .host("liar.example.com", [ip("192.0.2.1")]);
    let f = files("ALL: .example.com\n", "ALL: PARANOID\n");
    let WrapDecision::NeedsLookup(req) = f.wrap.decide("x", client, &ClientName::not_looked_up())
    else {
        panic!("expected a lookup");
    };
    assert_eq!(req, NameLookup { client });
    let (n, err) = req.perform(&resolver);
    assert!(err.is_none());
    assert_eq!(n.as_str(), Some("pc.example.com"));
    assert!(f.wrap.decide("x", client, &n).is_allowed());
    // A PTR record that the forward zone does not confirm is `paranoid`.
    let liar = ip("10.0.0.2");
    let (n, _) = NameLookup { client: liar }.perform(&resolver);
    assert_eq!(n.as_str(), Some("paranoid"));
    assert!(f.wrap.decide("x", liar, &n).is_denied());
    // Reusing the reverse name found for only_from: only the forward lookup is made.
    let (n, _) = NameLookup { client }
        .perform_with(&Resolved::with_reverse_name("PC.example.com."), &resolver);
    assert_eq!(n.as_str(), Some("pc.example.com"));
    let (n, _) = NameLookup { client }.perform_with(&Resolved::reverse_failed(), &resolver);
    assert_eq!(n.as_str(), Some("unknown"));
    // No name at all: unknown.
    let (n, _) = NameLookup {
        client: ip("10.0.0.3"),
    }
    .perform(&resolver);
    assert_eq!(n, ClientName::unknown());
    // A numeric reverse name is paranoid, even if it "resolves" to the client.
    assert_eq!(
        ClientName::from_lookups(client, Some("10.0.0.1"), &[client]).as_str(),
        Some("paranoid")
    );
    // IPv4-mapped clients are confirmed against IPv4 addresses.
    let mapped = ip("::ffff:10.0.0.1");
    assert_eq!(
        ClientName::from_lookups(mapped, Some("pc.example.com"), &[client]).as_str(),
        Some("pc.example.com")
    );
}

#[cfg(feature = "system-resolver")]
#[test]
fn system_resolver_verifies_localhost() {
    // End to end with the C library's resolver: 127.0.0.1 is `localhost` in /etc/hosts on the
    // systems the daemon targets, and `localhost` resolves back to it.
    let resolver = xinetd_acl::SystemResolver::new(std::time::Duration::from_secs(10));
    let client = ip("127.0.0.1");
    let (n, err) = NameLookup { client }.perform(&resolver);
    let Some(host) = n.as_str().filter(|h| *h != "unknown") else {
        println!("skipping: 127.0.0.1 has no name here ({err:?})");
        return;
    };
    assert_ne!(host, "paranoid", "{err:?}");
    let f = files("ALL: KNOWN\n", "ALL: ALL\n");
    assert!(f.wrap.decide("x", client, &n).is_allowed());
    // The mapped form of the same client gets the same name.
    let (mapped, _) = NameLookup {
        client: ip("::ffff:127.0.0.1"),
    }
    .perform(&resolver);
    assert_eq!(mapped.as_str(), Some(host));
}

#[test]
fn system_files_agree_with_debian_libwrap() {
    // The machine's own /etc/hosts.allow and /etc/hosts.deny, read only.
    let Some(bin) = tcpdmatch() else {
        println!("skipping: tcpdmatch not installed (Debian package tcpd)");
        return;
    };
    let (wrap, diags) = match HostsAccess::load("/etc/hosts.allow", "/etc/hosts.deny") {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("skipping: {e}");
            return;
        }
    };
    for d in &diags {
        println!("{d}");
    }
    let mut compared = 0;
    for daemon in ["in.ftpd", "sshd", "echo", "portmap"] {
        for client in ["127.0.0.1", "10.0.0.1", "192.168.1.1", "::1"] {
            let out = Command::new(bin)
                .arg(daemon)
                .arg(client)
                .output()
                .expect("tcpdmatch");
            let text = String::from_utf8_lossy(&out.stdout);
            let Some(theirs) = text.lines().find_map(|l| l.strip_prefix("access:   ")) else {
                continue;
            };
            let theirs = if theirs.trim() == "granted" { 'A' } else { 'D' };
            let ours = verdict(&wrap.decide(daemon, ip(client), &ClientName::unknown()));
            assert_eq!(ours, theirs, "{daemon} {client}");
            compared += 1;
        }
    }
    println!("compared {compared} verdicts on the system files");
}

#[test]
fn daemon_name_selection() {
    let ext = |server, args: &'static [&'static str], nia| ServerKind::External {
        server,
        server_args: args,
        name_in_args: nia,
    };
    assert_eq!(daemon_name(Some("foo"), "ftp", ServerKind::Internal), "foo");
    assert_eq!(daemon_name(None, "echo", ServerKind::Internal), "echo");
    assert_eq!(daemon_name(None, "web", ServerKind::Redirect), "web");
    assert_eq!(
        daemon_name(None, "ftp", ext("/usr/sbin/in.ftpd", &["-l"], false)),
        "in.ftpd"
    );
    assert_eq!(
        daemon_name(
            None,
            "ftp",
            ext("/usr/sbin/tcpd", &["/usr/sbin/in.ftpd", "-l"], true)
        ),
        "in.ftpd"
    );
    assert_eq!(
        daemon_name(None, "ftp", ext("in.ftpd", &[], false)),
        "in.ftpd"
    );
    assert_eq!(
        daemon_name(None, "ftp", ext("/usr/sbin/tcpd", &[], true)),
        "tcpd"
    );
    assert_eq!(
        daemon_name(Some("x"), "ftp", ext("/bin/y", &["z"], true)),
        "x"
    );
}

#[test]
fn refusal_log_line() {
    let f = files("", "in.tftpd: ALL\n");
    let WrapDecision::Deny(d) =
        f.wrap
            .decide("in.tftpd", ip("192.168.2.135"), &ClientName::unknown())
    else {
        panic!("expected a refusal");
    };
    assert_eq!(
        d.log_text("tftp", "in.tftpd", "192.168.2.135"),
        "libwrap refused connection to tftp (libwrap=in.tftpd) from 192.168.2.135"
    );
    assert_eq!(d.fail_reason().as_str(), "libwrap");
    assert!(d.to_string().contains("hosts.deny:1"), "{d}");
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

/// libwrap's list_match, written as it scans tokens, as the reference for EXCEPT chains.
fn reference_list_match(tokens: &[&str], client: &str) -> bool {
    fn scan(tokens: &[&str], client: &str) -> bool {
        let mut i = 0;
        while i < tokens.len() {
            if tokens[i].eq_ignore_ascii_case("EXCEPT") {
                return false;
            }
            if tokens[i] == client {
                // Skip to the next EXCEPT and recurse on what follows it.
                while i < tokens.len() && !tokens[i].eq_ignore_ascii_case("EXCEPT") {
                    i += 1;
                }
                return i == tokens.len() || !scan(&tokens[i + 1..], client);
            }
            i += 1;
        }
        false
    }
    scan(tokens, client)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn except_chains_match_the_reference(
        tokens in prop::collection::vec(
            prop::sample::select(vec!["10.0.0.1", "10.0.0.2", "10.0.0.3", "EXCEPT", "except"]),
            0..12,
        ),
        client in prop::sample::select(vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    ) {
        let allow = format!("ALL: {}\n", tokens.join(" "));
        let (wrap, _) = HostsAccess::parse("a", &allow, "d", "ALL: ALL\n").expect("parse");
        let got = wrap.decide("x", ip(client), &ClientName::not_looked_up());
        prop_assert_eq!(got.is_allowed(), reference_list_match(&tokens, client), "{}", allow);
    }

    #[test]
    fn arbitrary_text_never_panics(allow in "[ -~\n\\\\:#\\[\\]@/]{0,120}", deny in "[ -~\n]{0,60}") {
        let (wrap, diags) = HostsAccess::parse("a", &allow, "d", &deny).expect("parse");
        for d in &diags {
            prop_assert!(d.line >= 1 && d.column >= 1, "{}", d);
        }
        for c in ["10.0.0.1", "::1", "::ffff:10.0.0.1"] {
            let c = ip(c);
            for n in [ClientName::not_looked_up(), ClientName::unknown(), name(c, "h.example")] {
                let _ = wrap.decide("x", c, &n);
                let _ = wrap.decide_at("x", Some(c), c, &n);
            }
        }
    }

    /// Knowing the name never flips a decision that did not ask for it.
    #[test]
    fn a_decision_without_lookup_is_final(
        items in prop::collection::vec(
            prop::sample::select(vec![
                "10.0.0.1", "10.0.0.", ".example.com", "KNOWN", "LOCAL", "UNKNOWN",
                "PARANOID", "EXCEPT", "ALL", "h*.example.com", "10.0.0.0/255.255.255.0",
            ]),
            1..8,
        ),
        in_deny in any::<bool>(),
        client in prop::sample::select(vec!["10.0.0.1", "10.0.0.9", "192.0.2.1"]),
        host in prop::sample::select(vec!["?", "!h.example.com", "h1.example.com", "printer"]),
    ) {
        let rule = format!("ALL: {}\n", items.join(" "));
        let (allow, deny) = if in_deny { ("", rule.as_str()) } else { (rule.as_str(), "ALL: ALL\n") };
        let (wrap, _) = HostsAccess::parse("a", allow, "d", deny).expect("parse");
        let c = ip(client);
        let early = wrap.decide("x", c, &ClientName::not_looked_up());
        let late = wrap.decide("x", c, &name(c, host));
        prop_assert!(!matches!(late, WrapDecision::NeedsLookup(_)));
        if !matches!(early, WrapDecision::NeedsLookup(_)) {
            prop_assert_eq!(early, late, "{}", rule);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Differential test against Debian's libwrap (tcpdmatch, package tcpd)
// ---------------------------------------------------------------------------------------------

fn tcpdmatch() -> Option<&'static str> {
    ["/usr/sbin/tcpdmatch", "/usr/bin/tcpdmatch"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// tcpdmatch's verdicts for `daemon client` in `dir` (one per client address it reports).
fn tcpdmatch_verdicts(bin: &str, dir: &Path, daemon: &str, client: &str) -> Vec<(String, char)> {
    let out = Command::new(bin)
        .arg("-d")
        .arg(daemon)
        .arg(client)
        .current_dir(dir)
        .output()
        .expect("run tcpdmatch");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut addr = String::new();
    let mut verdicts = Vec::new();
    for line in text.lines() {
        if let Some(a) = line.strip_prefix("client:   address  ") {
            addr = a.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("access:   ") {
            // `delegated` is twist: the real server does not run; we refuse.
            let v = if v.trim() == "granted" { 'A' } else { 'D' };
            verdicts.push((addr.clone(), v));
        }
    }
    verdicts
}

#[test]
fn same_verdicts_as_debian_libwrap() {
    let Some(bin) = tcpdmatch() else {
        println!("skipping: tcpdmatch not installed (Debian package tcpd)");
        return;
    };
    let rule_sets: &[(&str, &str)] = &[
        ("", "ALL: ALL\n"),
        ("in.ftpd: 192.168. EXCEPT 192.168.1.66\n", "ALL: ALL\n"),
        (
            "ALL: 10.0.0.0/255.0.0.0 : deny\nfoo,bar : 192.168. EXCEPT 192.168.1.5\n",
            "",
        ),
        (
            "ALL: 10.0.0.0/8 EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3\n",
            "ALL: ALL\n",
        ),
        (
            "ALL: 10.0.0.1/255.0.0.0 10.0.0.0/255.255.0.255\n",
            "ALL: ALL\n",
        ),
        ("ALL: [::1] [2001:db8::]/32\n", "ALL: ALL\n"),
        ("ALL: ::1\n", "ALL: ALL\n"),
        ("ALL: 192.168.1.* 172.16.?.1\n", "ALL: ALL\n"),
        ("in.* EXCEPT in.fingerd: ALL\n", "ALL: ALL\n"),
        ("ALL: KNOWN\n", "ALL: UNKNOWN\n"),
        ("ALL: LOCAL\n", "ALL: ALL\n"),
        (
            "ALL: .example.com 127.0.0.1 EXCEPT localhost\n",
            "ALL: ALL\n",
        ),
        ("", "ALL: PARANOID\nALL: .7\n"),
        ("ALL: ALL: allow : deny\n", ""),
        ("ALL: ALL: bogus\n", ""),
        (
            "ALL: 10.0.0.1: spawn /bin/true : allow\nALL: ALL: twist /bin/echo no\n",
            "",
        ),
        ("  # x: ALL\n", "ALL: ALL\n"),
        ("ALL 10.0.0.1\nALL: 10.0.0.2 \\\n 10.0.0.1\n", "ALL: ALL\n"),
        ("ALL: ALL@10.0.0.1 root@10.0.0.2 @netgroup\n", "ALL: ALL\n"),
        ("", "ALL: ALL: allow\n"),
        ("X: 10.0.0.1\n", "x: ALL\n"),
    ];
    let daemons = ["in.ftpd", "foo", "in.fingerd", "x", "sshd"];
    let clients = [
        "10.0.0.1",
        "10.0.0.2",
        "10.1.2.3",
        "10.1.9.9",
        "10.0.5.0",
        "192.168.1.5",
        "192.168.1.66",
        "192.168.2.2",
        "172.16.5.1",
        "192.0.2.7",
        "127.0.0.1",
        "::1",
        "2001:db8::5",
        "::ffff:10.0.0.1",
        "localhost",
    ];
    let (mut compared, mut granted) = (0, 0);
    for (allow, deny) in rule_sets {
        let f = files(allow, deny);
        for daemon in daemons {
            for client in clients {
                for (addr, theirs) in tcpdmatch_verdicts(bin, f.dir.path(), daemon, client) {
                    let Ok(addr) = addr.parse::<IpAddr>() else {
                        continue;
                    };
                    // An address argument means "name lookup failed" to tcpdmatch; a name
                    // argument is resolved and used as the (verified) host name.
                    let n = if client.parse::<IpAddr>().is_ok() {
                        ClientName::unknown()
                    } else {
                        ClientName::from_lookups(addr, Some(client), &[addr])
                    };
                    let ours = verdict(&f.wrap.decide(daemon, addr, &n));
                    assert_eq!(
                        ours, theirs,
                        "allow={allow:?} deny={deny:?} daemon={daemon} client={client} ({addr})"
                    );
                    compared += 1;
                    granted += usize::from(theirs == 'A');
                }
            }
        }
    }
    println!("compared {compared} verdicts with {bin} ({granted} granted)");
    assert!(compared > 1000, "only {compared} verdicts compared");
    assert!(
        granted > 100 && compared - granted > 100,
        "the rule sets must exercise both verdicts"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Random rules from hosts_access(5)'s vocabulary give the same verdicts as libwrap.
    #[test]
    fn random_rules_agree_with_debian_libwrap(
        rules in prop::collection::vec(
            (
                prop::collection::vec(
                    prop::sample::select(vec!["ALL", "foo", "f*", "EXCEPT", "bar", "KNOWN", ".oo"]),
                    1..4,
                ),
                prop::collection::vec(
                    prop::sample::select(vec![
                        "ALL", "EXCEPT", "10.0.0.1", "10.0.", "10.0.0.0/255.255.255.0",
                        "10.0.0.0/24", "192.168.1.*", "[::1]", "[2001:db8::]/32", "KNOWN",
                        "UNKNOWN", "LOCAL", "PARANOID", ".example.com", ".1", "localhost",
                    ]),
                    1..5,
                ),
                prop::sample::select(vec!["", ": allow", ": deny", ": spawn /bin/true", ": nice 5 : deny"]),
                any::<bool>(),
            ),
            1..4,
        ),
    ) {
        let Some(bin) = tcpdmatch() else { return Ok(()); };
        let (mut allow, mut deny) = (String::new(), String::new());
        for (daemons, clients, options, in_allow) in &rules {
            let line = format!("{}: {} {}\n", daemons.join(" "), clients.join(", "), options);
            if *in_allow { allow.push_str(&line) } else { deny.push_str(&line) }
        }
        let f = files(&allow, &deny);
        for daemon in ["foo", "bar"] {
            for client in ["10.0.0.1", "10.0.0.77", "10.0.1.1", "192.168.1.5", "::1", "2001:db8::9"] {
                for (addr, theirs) in tcpdmatch_verdicts(bin, f.dir.path(), daemon, client) {
                    let addr: IpAddr = addr.parse().expect("tcpdmatch prints the address");
                    let ours = verdict(&f.wrap.decide(daemon, addr, &ClientName::unknown()));
                    prop_assert_eq!(ours, theirs, "allow={:?} deny={:?} {} {}", allow, deny, daemon, client);
                }
            }
        }
    }
}
