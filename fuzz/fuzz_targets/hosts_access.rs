//! tcp_wrappers' hosts.allow / hosts.deny (xinetd-acl's `hosts_access`): arbitrary texts
//! parsed, then a few decisions for fixed and fuzzed clients and names.
//!
//! Input layout: the allow text and the deny text separated by the first NUL byte; the last
//! 16 bytes of the deny part (when present) also give a client address.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use xinetd_acl::hosts_access::{ClientName, HostsAccess, WrapDecision};

/// `/path` client patterns are read from the file system when parsed; a fuzzer that spells
/// `/dev/zero` or `/proc/kmsg` would read forever. Paths are turned into names that cannot
/// exist, so the pattern is still parsed (as an unreadable file) but nothing is opened.
fn defuse_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = ' ';
    for c in text.chars() {
        let token_start = !(prev.is_ascii_alphanumeric() || matches!(prev, '.' | ']' | '[' | ':'));
        if c == '/' && token_start {
            out.push_str("/nonexistent-fuzz/");
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (allow, deny) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let allow = defuse_paths(&String::from_utf8_lossy(allow));
    let deny_text = defuse_paths(&String::from_utf8_lossy(deny));
    let Ok((wrap, _diagnostics)) =
        HostsAccess::parse("hosts.allow", &allow, "hosts.deny", &deny_text)
    else {
        return;
    };
    let (a, d) = wrap.rule_counts();
    assert!(a <= allow.lines().count() + 1 && d <= deny_text.lines().count() + 1);

    let mut clients: Vec<IpAddr> = vec![
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 66)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        "::ffff:10.1.2.3".parse().expect("address"),
    ];
    if deny.len() >= 16 {
        let tail: [u8; 16] = deny[deny.len() - 16..].try_into().expect("16 bytes");
        clients.push(IpAddr::V6(Ipv6Addr::from(tail)));
        clients.push(IpAddr::V4(Ipv4Addr::new(
            tail[0], tail[1], tail[2], tail[3],
        )));
    }
    let fuzzed_name = String::from_utf8_lossy(&deny[..deny.len().min(24)]).into_owned();
    for client in clients {
        let names = [
            ClientName::not_looked_up(),
            ClientName::unknown(),
            ClientName::from_lookups(client, Some("host.example.org."), &[client]),
            ClientName::from_lookups(client, Some("spoofed.example.org"), &[]),
            ClientName::from_lookups(client, Some(&fuzzed_name), &[client]),
        ];
        for daemon in ["in.ftpd", "ECHO", "", &fuzzed_name] {
            for name in &names {
                let decision = wrap.decide(daemon, client, name);
                // Only a client whose name was never looked up can be asked for one.
                if let WrapDecision::NeedsLookup(_) = decision {
                    assert!(name.as_str().is_none(), "asked again for {name:?}");
                }
                assert!(!(decision.is_allowed() && decision.is_denied()));
                let _ = wrap.decide_at(daemon, Some(client), client, name);
            }
        }
    }
});
