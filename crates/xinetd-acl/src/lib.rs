//! xinetd's access control as a library: `only_from`, `no_access`, host names, `.domain`
//! suffixes and `access_times`, decided without doing any I/O.
//!
//! The library is *sans-I/O*, in the style of rustls: you give it the rules (parsed from the
//! raw values of a configuration), the client's address, the current local time and whatever
//! name lookups you have already done, and it answers with a [`Decision`]. It never reads the
//! clock and never blocks on DNS during a decision: when a host-name or `.domain` rule could
//! change the outcome it answers [`Decision::NeedsLookup`], you run the lookup where blocking
//! is acceptable (a worker thread, a forked child), and you ask again.
//!
//! # Embedding it
//!
//! ```
//! use std::net::IpAddr;
//! use xinetd_acl::{
//!     AccessList, AccessPolicy, AccessTimes, Decision, Denial, LocalTime, Resolved,
//!     StaticResolver,
//! };
//!
//! // Any `Resolver` works; `SystemResolver` uses the C library with a deadline.
//! let resolver = StaticResolver::new().reverse("10.1.2.3".parse()?, "pc7.lab.example.com");
//!
//! // only_from    = 192.168.1.0/24 .example.com
//! // no_access    = 192.168.1.66
//! // access_times = 7:00-12:30 13:30-21:00
//! let (only_from, warnings) =
//!     AccessList::from_values(["192.168.1.0/24", ".example.com"], &resolver)?;
//! assert!(warnings.is_empty());
//! let (no_access, _) = AccessList::from_values(["192.168.1.66"], &resolver)?;
//! let times = AccessTimes::parse(["7:00-12:30", "13:30-21:00"])?;
//! let policy = AccessPolicy::new(Some(only_from), Some(no_access), Some(times));
//! let morning = LocalTime::new(9, 15).expect("valid time");
//!
//! // Inside the /24: allowed, without any lookup.
//! let peer: IpAddr = "192.168.1.7".parse()?;
//! assert!(policy.decide(peer, morning, &Resolved::none()).is_allowed());
//!
//! // The exact no_access entry is more specific than the /24: refused, `FAIL: id address`.
//! let Decision::Deny(denial) = policy.decide("192.168.1.66".parse()?, morning, &Resolved::none())
//! else { panic!("expected a refusal") };
//! assert_eq!(denial.fail_reason().as_str(), "address");
//!
//! // Outside the /24 the client may still be in `.example.com`: a lookup is needed.
//! let outsider: IpAddr = "10.1.2.3".parse()?;
//! let Decision::NeedsLookup(request) = policy.decide(outsider, morning, &Resolved::none())
//! else { panic!("expected a lookup request") };
//! let resolved = request.perform(&resolver); // blocks: do this off your event loop
//! assert!(policy.decide(outsider, morning, &resolved).is_allowed());
//!
//! // Outside access_times: refused with xinetd's reason word `time`.
//! let lunch = LocalTime::new(13, 0).expect("valid time");
//! let Decision::Deny(d) = policy.decide(peer, lunch, &Resolved::none()) else { panic!() };
//! assert!(matches!(d, Denial::OutsideAccessTimes { .. }));
//! assert_eq!(d.fail_reason().to_string(), "time");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The rules
//!
//! * **Address forms** ([`parse_value`], F-200..F-209): dotted IPv4 with trailing-zero
//!   wildcards (`128.138.0.0` is a /16) and glibc's short forms (`127.1`); `0.0.0.0` matches
//!   every IPv4 client; `addr/bits` for IPv4 and IPv6; factorized `128.138.{12,71}`; IPv6
//!   addresses (exact); host names (must resolve when the configuration is read); `.domain`
//!   suffixes; network names from /etc/networks. Values that fit no form are
//!   [warnings](AclWarning) (`failed to parse X`, the value is dropped); malformed factorized
//!   values and commas are [errors](AclError) that disable the service, as in xinetd.
//! * **Decision** ([`AccessPolicy`]): no lists → allow; an empty `only_from` → deny; a client
//!   matched by one list gets that list's verdict; matched by both → the **more specific**
//!   match wins ([`Specificity`]: exact address or host name > longer prefix > shorter prefix
//!   > `.domain`); an exact tie → deny, with xinetd's `only_from list and no_access list match
//!   equally the address` line. IPv4 rules apply to IPv4-mapped IPv6 clients.
//! * **access_times** ([`AccessTimes`]): `H:MM-H:MM` intervals, bounds included, validated as
//!   xinetd does (`24:00` and intervals across midnight are rejected, with a hint).
//! * **tcp_wrappers** ([`hosts_access`], F-250, F-307): /etc/hosts.allow and /etc/hosts.deny in
//!   hosts_access(5) syntax, parsed once per reload ([`HostsAccess::load`]) and decided per
//!   connection like libwrap's `hosts_access()`, with the daemon name xinetd chooses
//!   ([`hosts_access::daemon_name`]); commands (`spawn`, `twist`) are never run.
//!
//! Where we differ from xinetd 2.3.15.3 on purpose (the more-specific rule, `::1/128`, host
//! names matched by their configured addresses too, ...) is listed in the project's
//! [docs/compat.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md#access-control-xinetd-acl), each item with the test that asserts it.
//!
//! # Performance
//!
//! The cost of a lookup is bounded by the address length, not by the list length: networks live
//! in one prefix trie per family ([`prefix_trie`], longest-prefix match), host names and
//! domains in hash maps (one probe per label of the client's name). Criterion benchmark
//! `benches/lookup.rs` (`cargo bench -p xinetd-acl`), one IPv4 `only_from` decision on the
//! project's 2-core machine, against a linear scan over the same networks that finds the most
//! specific one:
//!
//! | CIDR entries | `AccessPolicy::decide` (trie) | linear scan |
//! |-------------:|------------------------------:|------------:|
//! | 10           | 90 ns                         | 17 ns       |
//! | 1,000        | 140 ns                        | 1.29 µs     |
//! | 100,000      | 400 ns                        | 340 µs      |
//!
//! (Medians, measured while other builds shared the machine; see the project's
//! [docs/performance.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/performance.md#access-control-xinetd-acl) for the conditions. For ten entries the scan is faster, and both are
//! negligible next to a `fork`.)
//!
//! # Dependencies and features
//!
//! `ipnet` and `prefix-trie` (the project's chosen crates) for networks and longest-prefix
//! match; `thiserror` for the error types. Nothing here knows about the event loop or the
//! configuration parser: the daemon passes the raw attribute values.
//!
//! The cargo feature **`system-resolver`** (on by default) provides `SystemResolver`, the C
//! library's resolver with a deadline, and with it the `dns-lookup` dependency for its reverse
//! lookups: the standard library resolves names forward (`ToSocketAddrs`) but has no
//! `getnameinfo`, and this crate forbids `unsafe`, so a small, widely used wrapper of the C
//! call xinetd itself makes (`getnameinfo(NI_NAMEREQD)`) is the right tool. A program with its
//! own name service turns the feature off (`default-features = false`) and implements
//! [`Resolver`]; [`StaticResolver`] answers from tables.
//!
//! # Errors
//!
//! [`AclError`] and [`AclWarning`] carry the offending value and give the exact lines xinetd
//! logs ([`XinetdMessage`]); [`ResolveError`] is what a [`Resolver`] reports (kept separate
//! because it is about the network at run time, not about the configuration).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access_list;
mod access_times;
mod address;
mod error;
mod policy;
mod resolver;
#[cfg(feature = "system-resolver")]
mod system_resolver;

pub mod hosts_access;

pub use access_list::{AccessList, Match, MatchedBy, Specificity};
pub use access_times::{AccessTimes, LocalTime, TimeInterval};
pub use address::{inet_aton, parse_value, Entry, EntryKind, EntryTarget, ParsedValue};
pub use error::{AclError, AclWarning, Level, XinetdMessage};
pub use hosts_access::{ClientName, HostsAccess, WrapDecision};
pub use policy::{AccessPolicy, Allowed, Decision, Denial, FailReason, LookupRequest, Resolved};
pub use resolver::{parse_networks, ResolveError, Resolver, StaticResolver};
#[cfg(feature = "system-resolver")]
pub use system_resolver::SystemResolver;

// The README's example is compiled and run as a doc-test, so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
