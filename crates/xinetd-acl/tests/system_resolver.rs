//! End to end with the system resolver (loopback names from /etc/hosts only, no DNS needed):
//! configuration-time host-name resolution, and a decision that asks for a reverse lookup,
//! performed through `SystemResolver` with its deadline.

#![cfg(feature = "system-resolver")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::net::IpAddr;
use std::time::Duration;

use xinetd_acl::{AccessList, AccessPolicy, Decision, Resolved, Resolver, SystemResolver};

fn resolver() -> SystemResolver {
    SystemResolver::new(Duration::from_secs(10))
}

#[test]
fn localhost_entry_admits_loopback_clients_in_both_forms() {
    let r = resolver();
    let (list, warnings) = AccessList::from_values(["localhost"], &r).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let policy = AccessPolicy::new(Some(list), None, None);
    for peer in ["127.0.0.1", "::ffff:127.0.0.1"] {
        let peer: IpAddr = peer.parse().unwrap();
        // Matched through the addresses localhost had when the list was built: no lookup.
        assert!(
            policy.check_address(peer, &Resolved::none()).is_allowed(),
            "{peer}"
        );
    }
    // Any other client could still be named "localhost": ask, and deny without a name.
    let other: IpAddr = "192.0.2.1".parse().unwrap();
    assert!(matches!(
        policy.check_address(other, &Resolved::none()),
        Decision::NeedsLookup(_)
    ));
    assert!(policy
        .check_address(other, &Resolved::reverse_failed())
        .is_denied());
}

#[test]
fn domain_entry_goes_through_a_real_reverse_lookup() {
    let r = resolver();
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    let Some(name) = r.reverse_lookup(peer).unwrap() else {
        println!("skipping: 127.0.0.1 has no name on this system");
        return;
    };
    // A domain the loopback name does not end with, and one built from its own last label.
    let last_label = name.rsplit('.').next().unwrap();
    let cases = [
        (".nonexistent.invalid".to_owned(), false),
        (format!(".{last_label}"), name.contains('.')),
    ];
    for (domain, expected) in cases {
        let (list, _) = AccessList::from_values([domain.as_str()], &r).unwrap();
        let policy = AccessPolicy::new(Some(list), None, None);
        let Decision::NeedsLookup(request) = policy.check_address(peer, &Resolved::none()) else {
            panic!("a .domain entry needs the client's name")
        };
        let (resolved, error) = request.perform_reporting(&r);
        assert_eq!(error, None);
        assert_eq!(resolved.reverse_name(), Some(name.as_str()));
        assert_eq!(
            policy.check_address(peer, &resolved).is_allowed(),
            expected,
            "{domain} vs {name}"
        );
    }
}

#[test]
fn unresolvable_host_name_is_dropped_with_xinetds_message() {
    // `.invalid` never resolves (RFC 6761); the resolver's deadline bounds the wait.
    let r = SystemResolver::new(Duration::from_secs(5));
    let (list, warnings) = AccessList::from_values(["nosuchhost.invalid"], &r).unwrap();
    assert!(list.is_empty());
    assert_eq!(
        warnings[0].xinetd_message().unwrap().text,
        "failed to parse nosuchhost.invalid"
    );
}
