//! The access decision: `only_from`, `no_access` and `access_times` together (F-210..F-212,
//! F-221), sans-I/O.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use crate::access_list::{AccessList, Match, Specificity};
use crate::access_times::{AccessTimes, LocalTime};
use crate::error::{Level, XinetdMessage};
use crate::resolver::{ResolveError, Resolver};

/// The reason words of xinetd's `FAIL: <id> <reason>` lines (F-721, `access_code_names` in
/// access.c). This crate produces [`FailReason::Address`] and [`FailReason::Time`]; the others
/// are listed so the daemon and the limits library log the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// `address`: only_from / no_access (and sensors).
    Address,
    /// `time`: outside access_times.
    Time,
    /// `fork`: the server could not be forked.
    Fork,
    /// `service_limit`: instances reached.
    ServiceLimit,
    /// `per_source_limit`: per_source reached.
    PerSourceLimit,
    /// `process_limit`: the daemon's process limit reached.
    ProcessLimit,
    /// `libwrap`: refused by tcp_wrappers.
    Libwrap,
    /// `load`: max_load reached.
    Load,
    /// `connections per second`: cps tripped.
    ConnectionsPerSecond,
}

impl FailReason {
    /// The word xinetd logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Address => "address",
            FailReason::Time => "time",
            FailReason::Fork => "fork",
            FailReason::ServiceLimit => "service_limit",
            FailReason::PerSourceLimit => "per_source_limit",
            FailReason::ProcessLimit => "process_limit",
            FailReason::Libwrap => "libwrap",
            FailReason::Load => "load",
            FailReason::ConnectionsPerSecond => "connections per second",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller has found out about the client so far, beyond its address.
///
/// A `Resolved` describes one client: build a new one (starting from [`Resolved::none`]) for
/// every connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    reverse: Option<ReverseName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ReverseName {
    Name(String),
    NoName,
}

impl Resolved {
    /// Nothing looked up yet.
    pub fn none() -> Resolved {
        Resolved::default()
    }

    /// The reverse lookup of the client gave `name`.
    pub fn with_reverse_name(name: impl Into<String>) -> Resolved {
        Resolved {
            reverse: Some(ReverseName::Name(name.into())),
        }
    }

    /// The reverse lookup gave no name or failed (timed out, resolver down): name entries are
    /// skipped, as xinetd does (F-205).
    pub fn reverse_failed() -> Resolved {
        Resolved {
            reverse: Some(ReverseName::NoName),
        }
    }

    /// The reverse name, if one was found.
    pub fn reverse_name(&self) -> Option<&str> {
        match &self.reverse {
            Some(ReverseName::Name(n)) => Some(n),
            _ => None,
        }
    }
}

/// A lookup the decision needs before it can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookupRequest {
    /// The reverse-resolved name of this address (for host-name and `.domain` entries).
    ReverseName(IpAddr),
}

impl LookupRequest {
    /// Perform the lookup with `resolver` (this blocks up to the resolver's deadline: call it
    /// off the event loop) and return what to pass to the next `decide`.
    pub fn perform(&self, resolver: &dyn Resolver) -> Resolved {
        self.perform_reporting(resolver).0
    }

    /// Like [`perform`](Self::perform), also returning the resolver's error so the caller can
    /// log it.
    pub fn perform_reporting(&self, resolver: &dyn Resolver) -> (Resolved, Option<ResolveError>) {
        match self {
            LookupRequest::ReverseName(addr) => match resolver.reverse_lookup(*addr) {
                Ok(Some(name)) => (Resolved::with_reverse_name(name), None),
                Ok(None) => (Resolved::reverse_failed(), None),
                Err(e) => (Resolved::reverse_failed(), Some(e)),
            },
        }
    }
}

/// Why a client is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Allowed {
    /// Neither `only_from` nor `no_access` is set (F-210).
    NoLists,
    /// Only `no_access` is set and the client is not in it.
    NotInNoAccess,
    /// The client matches `only_from` and not `no_access`.
    OnlyFrom(Match),
    /// The client matches both lists and the `only_from` entry is more specific.
    OnlyFromMoreSpecific {
        /// The winning `only_from` entry.
        only_from: Match,
        /// The less specific `no_access` entry.
        no_access: Match,
    },
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::NoLists => f.write_str("no only_from or no_access list"),
            Allowed::NotInNoAccess => f.write_str("not in no_access"),
            Allowed::OnlyFrom(m) => write!(f, "matches only_from entry {}", m.entry.source),
            Allowed::OnlyFromMoreSpecific {
                only_from,
                no_access,
            } => write!(
                f,
                "only_from entry {} is more specific than no_access entry {}",
                only_from.entry.source, no_access.entry.source
            ),
        }
    }
}

/// Why a client is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// The current time is outside every `access_times` interval (`FAIL: id time`).
    OutsideAccessTimes {
        /// The time that was checked.
        now: LocalTime,
    },
    /// The client matches `no_access` and not `only_from`.
    NoAccess(Match),
    /// The client matches both lists and the `no_access` entry is more specific.
    NoAccessMoreSpecific {
        /// The winning `no_access` entry.
        no_access: Match,
        /// The less specific `only_from` entry.
        only_from: Match,
    },
    /// `only_from` is set and the client matches none of its entries (`only_from` with no
    /// value refuses everybody).
    NotInOnlyFrom {
        /// `true` when `only_from` has no entries at all.
        only_from_empty: bool,
    },
    /// The client matches both lists equally specifically: refused, and xinetd's error line
    /// is logged ([`Denial::xinetd_message`]).
    Tie {
        /// The `only_from` entry.
        only_from: Match,
        /// The `no_access` entry.
        no_access: Match,
    },
}

impl Denial {
    /// The word for the `FAIL:` line.
    pub fn fail_reason(&self) -> FailReason {
        match self {
            Denial::OutsideAccessTimes { .. } => FailReason::Time,
            _ => FailReason::Address,
        }
    }

    /// The extra line xinetd logs for this refusal, if any: for a tie, ERROR
    /// `Service=<id>: only_from list and no_access list match equally the address <peer>`
    /// (logged by `remote_addr_chk`, F-211).
    pub fn xinetd_message(&self, service_id: &str, peer: IpAddr) -> Option<XinetdMessage> {
        match self {
            Denial::Tie { .. } => Some(XinetdMessage {
                level: Level::Error,
                function: "remote_addr_chk",
                text: format!(
                    "Service={service_id}: only_from list and no_access list match equally the address {peer}"
                ),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::OutsideAccessTimes { now } => {
                write!(f, "{now} is outside access_times")
            }
            Denial::NoAccess(m) => write!(f, "matches no_access entry {}", m.entry.source),
            Denial::NoAccessMoreSpecific {
                no_access,
                only_from,
            } => write!(
                f,
                "no_access entry {} is more specific than only_from entry {}",
                no_access.entry.source, only_from.entry.source
            ),
            Denial::NotInOnlyFrom {
                only_from_empty: true,
            } => f.write_str("only_from is empty"),
            Denial::NotInOnlyFrom { .. } => f.write_str("not in only_from"),
            Denial::Tie { .. } => {
                f.write_str("only_from list and no_access list match equally the address")
            }
        }
    }
}

/// The outcome of [`AccessPolicy::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum Decision {
    /// Serve the client.
    Allow(Allowed),
    /// Refuse the client; log `FAIL: <id> <reason>` with [`Denial::fail_reason`].
    Deny(Denial),
    /// A name lookup could change the outcome: perform it (off the event loop) and call
    /// `decide` again with its result.
    NeedsLookup(LookupRequest),
}

impl Decision {
    /// `true` for [`Decision::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// `true` for [`Decision::Deny`].
    pub fn is_denied(&self) -> bool {
        matches!(self, Decision::Deny(_))
    }
}

/// The access rules of one service.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    only_from: Option<AccessList>,
    no_access: Option<AccessList>,
    access_times: Option<AccessTimes>,
}

impl AccessPolicy {
    /// Rules from the service's (merged) attributes; `None` means "attribute not set", which is
    /// different from an empty `only_from` (nobody allowed).
    pub fn new(
        only_from: Option<AccessList>,
        no_access: Option<AccessList>,
        access_times: Option<AccessTimes>,
    ) -> AccessPolicy {
        AccessPolicy {
            only_from,
            no_access,
            access_times,
        }
    }

    /// The `only_from` list, if set.
    pub fn only_from(&self) -> Option<&AccessList> {
        self.only_from.as_ref()
    }

    /// The `no_access` list, if set.
    pub fn no_access(&self) -> Option<&AccessList> {
        self.no_access.as_ref()
    }

    /// The `access_times`, if set.
    pub fn access_times(&self) -> Option<&AccessTimes> {
        self.access_times.as_ref()
    }

    /// The whole decision: time first (xinetd checks it in the parent, before the address
    /// check in the child, so a client failing both is logged as `time`), then address.
    pub fn decide(&self, peer: IpAddr, now: LocalTime, resolved: &Resolved) -> Decision {
        if let Some(denial) = self.check_time(now) {
            return Decision::Deny(denial);
        }
        self.check_address(peer, resolved)
    }

    /// The `access_times` check alone (xinetd's parent-side check, F-215, F-221).
    pub fn check_time(&self, now: LocalTime) -> Option<Denial> {
        match &self.access_times {
            Some(t) if !t.contains(now) => Some(Denial::OutsideAccessTimes { now }),
            _ => None,
        }
    }

    /// The `only_from` / `no_access` check alone (xinetd's child-side check, F-215).
    ///
    /// For a tcp `wait = yes` service the daemon never sees the client's address; xinetd then
    /// checks an empty address and refuses everything when `only_from` is set (F-213, F-963),
    /// while xinetd.conf(5) says no address control is done. Following the documentation, call
    /// only [`check_time`](Self::check_time) for such services.
    ///
    /// Asks for a reverse lookup only when a list has host-name or `.domain` entries **and**
    /// the answer could change whether the client is allowed; otherwise it decides on the
    /// address alone, so most connections never wait for DNS.
    pub fn check_address(&self, peer: IpAddr, resolved: &Resolved) -> Decision {
        if self.only_from.is_none() && self.no_access.is_none() {
            return Decision::Allow(Allowed::NoLists);
        }
        let of_addr = self.only_from.as_ref().map(|l| l.address_match(peer));
        let na_addr = self.no_access.as_ref().map(|l| l.address_match(peer));
        let names_matter = self.only_from.as_ref().is_some_and(AccessList::has_names)
            || self.no_access.as_ref().is_some_and(AccessList::has_names);
        match &resolved.reverse {
            Some(ReverseName::Name(name)) if names_matter => {
                let best = |list: &Option<AccessList>, addr: Option<Option<Match>>| {
                    addr.map(|a| {
                        let by_name = list.as_ref().and_then(|l| l.name_match(name));
                        more_specific(a, by_name)
                    })
                };
                let of = best(&self.only_from, of_addr);
                let na = best(&self.no_access, na_addr);
                evaluate(&self.only_from, of, na)
            }
            None if names_matter && self.lookup_could_change(&of_addr, &na_addr) => {
                Decision::NeedsLookup(LookupRequest::ReverseName(peer))
            }
            _ => evaluate(&self.only_from, of_addr, na_addr),
        }
    }

    /// Whether some possible name match changes allow/deny compared with the address alone.
    fn lookup_could_change(
        &self,
        of_addr: &Option<Option<Match>>,
        na_addr: &Option<Option<Match>>,
    ) -> bool {
        let spec =
            |m: &Option<Option<Match>>| m.as_ref().map(|o| o.as_ref().map(|m| m.specificity));
        let (of_spec, na_spec) = (spec(of_addr), spec(na_addr));
        let baseline = verdict(of_spec, na_spec);
        let options = |list: &Option<AccessList>, addr: Option<Option<Specificity>>| {
            let mut out: BTreeSet<Option<Option<Specificity>>> = BTreeSet::new();
            out.insert(addr);
            if let (Some(l), Some(a)) = (list, addr) {
                for s in l.name_specificities() {
                    out.insert(Some(Some(a.map_or(s, |a| a.max(s)))));
                }
            }
            out
        };
        let of_options = options(&self.only_from, of_spec);
        let na_options = options(&self.no_access, na_spec);
        of_options
            .iter()
            .any(|of| na_options.iter().any(|na| verdict(*of, *na) != baseline))
    }
}

fn more_specific(a: Option<Match>, b: Option<Match>) -> Option<Match> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.specificity > a.specificity { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Allow (`true`) or deny, from the best specificity in each list (outer `None`: list not set;
/// inner `None`: no match).
fn verdict(of: Option<Option<Specificity>>, na: Option<Option<Specificity>>) -> bool {
    match (of.flatten(), na.flatten()) {
        (Some(o), Some(n)) => o > n,
        (None, Some(_)) => false,
        (Some(_), None) => true,
        (None, None) => of.is_none(),
    }
}

/// The documented rule (xinetd.conf(5), seed article; F-211 notes that 2.3.15 denies every
/// double match instead — see [docs/compat.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md#access-control-xinetd-acl)).
fn evaluate(
    only_from: &Option<AccessList>,
    of: Option<Option<Match>>,
    na: Option<Option<Match>>,
) -> Decision {
    let of_set = of.is_some();
    match (of.flatten(), na.flatten()) {
        (Some(o), Some(n)) => match o.specificity.cmp(&n.specificity) {
            std::cmp::Ordering::Greater => Decision::Allow(Allowed::OnlyFromMoreSpecific {
                only_from: o,
                no_access: n,
            }),
            std::cmp::Ordering::Less => Decision::Deny(Denial::NoAccessMoreSpecific {
                no_access: n,
                only_from: o,
            }),
            std::cmp::Ordering::Equal => Decision::Deny(Denial::Tie {
                only_from: o,
                no_access: n,
            }),
        },
        (None, Some(n)) => Decision::Deny(Denial::NoAccess(n)),
        (Some(o), None) => Decision::Allow(Allowed::OnlyFrom(o)),
        (None, None) if of_set => Decision::Deny(Denial::NotInOnlyFrom {
            only_from_empty: only_from.as_ref().is_some_and(AccessList::is_empty),
        }),
        (None, None) => Decision::Allow(Allowed::NotInNoAccess),
    }
}
