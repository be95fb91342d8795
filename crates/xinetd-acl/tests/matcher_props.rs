//! Property tests: the trie-indexed matcher agrees with a naive linear scan written
//! independently with plain integer arithmetic, on random lists and clients (IPv4, native IPv6
//! and IPv4-mapped IPv6), and so does the whole decision.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use xinetd_acl::{
    AccessList, AccessPolicy, Decision, Denial, Resolved, Specificity, StaticResolver,
};

/// One generated value with the network it must mean, computed without the library.
#[derive(Debug, Clone)]
struct Value {
    text: String,
    net: Net,
}

#[derive(Debug, Clone, Copy)]
enum Net {
    V4 { addr: u32, len: u32 },
    V6 { addr: u128, len: u32 },
}

fn mask32(len: u32) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len)
    }
}

fn mask128(len: u32) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    }
}

/// Octets drawn from a few values so that random lists and clients overlap often.
fn octet() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0u8),
        Just(1),
        Just(10),
        Just(127),
        Just(192),
        Just(255),
        any::<u8>()
    ]
}

fn v4() -> impl Strategy<Value = u32> {
    (octet(), octet(), octet(), octet())
        .prop_map(|(a, b, c, d)| u32::from(Ipv4Addr::new(a, b, c, d)))
}

fn v6() -> impl Strategy<Value = u128> {
    let base = prop_oneof![
        Just(0x2001_0db8u128 << 96),
        Just(0xfe80u128 << 112),
        Just(0xffffu128 << 32), // the IPv4-mapped range ::ffff:0:0/96
        Just(0u128),
    ];
    (base, any::<u16>(), any::<u32>(), 0u8..4).prop_map(|(b, mid, low, pick)| match pick {
        0 => b,
        1 => b | u128::from(low),
        2 => b | (u128::from(mid) << 64) | u128::from(low & 0xff),
        _ => b | u128::from(mid),
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        // IPv4 CIDR
        (v4(), 0u32..=32).prop_map(|(a, len)| Value {
            text: format!("{}/{len}", Ipv4Addr::from(a)),
            net: Net::V4 {
                addr: a & mask32(len),
                len
            },
        }),
        // IPv4 numeric with xinetd's trailing-zero wildcard rule
        v4().prop_map(|a| {
            let len = if a == 0 {
                0
            } else {
                32 - 8 * (a.trailing_zeros() / 8)
            };
            Value {
                text: Ipv4Addr::from(a).to_string(),
                net: Net::V4 { addr: a, len },
            }
        }),
        // IPv6 CIDR (including /128, which xinetd 2.3.15 never matched)
        (v6(), 0u32..=128).prop_map(|(a, len)| Value {
            text: format!("{}/{len}", Ipv6Addr::from(a)),
            net: Net::V6 {
                addr: a & mask128(len),
                len
            },
        }),
        // IPv6 exact (skip ::, which xinetd matches against nothing, tested elsewhere)
        v6().prop_filter("not ::", |a| *a != 0).prop_map(|a| Value {
            text: Ipv6Addr::from(a).to_string(),
            net: Net::V6 { addr: a, len: 128 },
        }),
    ]
}

fn peer() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        v6().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        v4().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
    ]
}

/// Longest matching prefix length in the client's family, and the first value giving it.
fn naive_best(values: &[Value], peer: IpAddr) -> Option<(u32, usize)> {
    let mut best: Option<(u32, usize)> = None;
    for (i, v) in values.iter().enumerate() {
        let len = match (v.net, peer) {
            (Net::V4 { addr, len }, IpAddr::V4(p)) => {
                (u32::from(p) & mask32(len) == addr).then_some(len)
            }
            (Net::V4 { addr, len }, IpAddr::V6(p)) => {
                let p = u128::from(p);
                // IPv4 rules see the IPv4 address inside ::ffff:a.b.c.d, counted as /96+n.
                let mapped = p >> 32 == 0xffff;
                (mapped && (p as u32) & mask32(len) == addr).then_some(len + 96)
            }
            (Net::V6 { addr, len }, IpAddr::V6(p)) => {
                (u128::from(p) & mask128(len) == addr).then_some(len)
            }
            (Net::V6 { .. }, IpAddr::V4(_)) => None,
        };
        if let Some(len) = len {
            if best.is_none_or(|(b, _)| len > b) {
                best = Some((len, i));
            }
        }
    }
    best
}

fn specificity(len: u32, peer: IpAddr) -> Specificity {
    let full = if peer.is_ipv4() { 32 } else { 128 };
    if len == full {
        Specificity::Exact
    } else {
        Specificity::Network {
            prefix_len: len as u8,
        }
    }
}

fn list(values: &[Value]) -> AccessList {
    let (l, warnings) = AccessList::from_values(
        values.iter().map(|v| v.text.as_str()),
        &StaticResolver::new(),
    )
    .expect("generated values are valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    l
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn trie_agrees_with_linear_scan(
        values in prop::collection::vec(value(), 0..40),
        peers in prop::collection::vec(peer(), 1..16),
    ) {
        let l = list(&values);
        for p in peers {
            let fast = l.address_match(p);
            match naive_best(&values, p) {
                None => prop_assert!(fast.is_none(), "{p}: trie matched {fast:?}"),
                Some((len, i)) => {
                    let m = fast.expect("trie must match too");
                    prop_assert_eq!(m.specificity, specificity(len, p), "{}", p);
                    // Same length from different families (v6 /104 vs v4 /8) or duplicates
                    // may name another value; it must still be an equally good match.
                    if m.entry.source != values[i].text {
                        let j = values.iter().position(|v| v.text == m.entry.source).expect("source is a value");
                        let other = naive_best(&values[j..=j], p).map(|(l, _)| l);
                        prop_assert_eq!(other, Some(len));
                    }
                }
            }
        }
    }

    #[test]
    fn decision_agrees_with_reference_rule(
        only_from in prop::option::of(prop::collection::vec(value(), 0..12)),
        no_access in prop::option::of(prop::collection::vec(value(), 0..12)),
        peers in prop::collection::vec(peer(), 1..8),
    ) {
        let policy = AccessPolicy::new(
            only_from.as_deref().map(list),
            no_access.as_deref().map(list),
            None,
        );
        for p in peers {
            let of = only_from.as_deref().map(|v| naive_best(v, p).map(|b| b.0));
            let na = no_access.as_deref().map(|v| naive_best(v, p).map(|b| b.0));
            // The documented rule, spelled out.
            let expected = match (of, na) {
                (None, None) => "allow",
                (Some(Some(o)), Some(Some(n))) if o > n => "allow",
                (Some(Some(o)), Some(Some(n))) if o < n => "deny",
                (Some(Some(_)), Some(Some(_))) => "tie",
                (_, Some(Some(_))) => "deny",
                (Some(Some(_)), _) => "allow",
                (Some(None), _) => "deny",
                (None, Some(None)) => "allow",
            };
            let got = match policy.check_address(p, &Resolved::none()) {
                Decision::Allow(_) => "allow",
                Decision::Deny(Denial::Tie { .. }) => "tie",
                Decision::Deny(_) => "deny",
                Decision::NeedsLookup(_) => "lookup",
                _ => "unknown decision",
            };
            prop_assert_eq!(got, expected, "peer {}", p);
        }
    }
}

/// Values with names: networks, host names (resolving to addresses) and `.domain` suffixes.
fn named_value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.1.1",
        "0.0.0.0/0",
        "::/0",
        "host1",
        "host2",
        ".a.com",
        ".b.a.com",
        ".c.com",
        ".A.COM",
    ])
}

fn named_peer() -> impl Strategy<Value = IpAddr> {
    prop::sample::select(vec![
        IpAddr::from([10, 1, 1, 1]),
        IpAddr::from([10, 1, 2, 3]),
        IpAddr::from([10, 2, 0, 1]),
        IpAddr::from([11, 0, 0, 1]),
        "::ffff:10.1.1.1".parse().unwrap(),
        "2001:db8::1".parse().unwrap(),
    ])
}

const REVERSE_NAMES: [Option<&str>; 6] = [
    None,
    Some("host1"),
    Some("HOST2"),
    Some("x.b.a.com"),
    Some("y.c.com"),
    Some("z.org"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// When `decide` does not ask for a lookup, no reverse name could have changed the verdict.
    #[test]
    fn skipped_lookups_never_change_the_verdict(
        only_from in prop::option::of(prop::collection::vec(named_value(), 0..5)),
        no_access in prop::option::of(prop::collection::vec(named_value(), 0..5)),
        peer in named_peer(),
    ) {
        let r = StaticResolver::new()
            .host("host1", [IpAddr::from([10, 9, 9, 9])])
            .host("host2", ["2001:db8::2".parse().unwrap()]);
        let build = |v: &Vec<&str>| AccessList::from_values(v.iter().copied(), &r).unwrap().0;
        let policy = AccessPolicy::new(only_from.as_ref().map(build), no_access.as_ref().map(build), None);
        let first = policy.check_address(peer, &Resolved::none());
        for name in REVERSE_NAMES {
            let resolved = match name {
                Some(n) => Resolved::with_reverse_name(n),
                None => Resolved::reverse_failed(),
            };
            let with_name = policy.check_address(peer, &resolved);
            prop_assert!(!matches!(with_name, Decision::NeedsLookup(_)));
            if !matches!(first, Decision::NeedsLookup(_)) {
                prop_assert_eq!(
                    first.is_allowed(),
                    with_name.is_allowed(),
                    "peer {} name {:?}: {:?} vs {:?}", peer, name, first, with_name
                );
            }
        }
    }
}
