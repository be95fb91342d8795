//! An `only_from` or `no_access` list, indexed for matching in time independent of its length.
//!
//! xinetd scans its list linearly and stops at the first entry that matches (`addrlist_match`).
//! We need the *most specific* match instead (F-211, documented rule), and we want the cost of
//! a lookup not to grow with the list, so entries are indexed: networks in one prefix trie per
//! family (longest-prefix match), host names and `.domain` suffixes in hash maps keyed by the
//! lower-cased name (one probe per label of the client's name).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use crate::address::{parse_value, Entry, EntryTarget};
use crate::error::{AclError, AclWarning};
use crate::resolver::Resolver;

/// How specific a match is; a larger value is more specific.
///
/// The order is the documented rule of xinetd.conf(5) and the seed article ("the better match
/// wins"), made precise: an exact address or host name beats any network, a longer prefix
/// beats a shorter one, and any address or network beats a `.domain` suffix, where a suffix
/// with more labels beats one with fewer.
///
/// Prefix lengths are counted in the client's address family. For an IPv4 client on an IPv6
/// (dual-stack) socket, which arrives as `::ffff:a.b.c.d`, an IPv4 rule `/n` counts as `/96+n`,
/// so that `::/0` is less specific than `0.0.0.0` and `::ffff:10.0.0.1` ties with `10.0.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Specificity {
    /// A `.domain` suffix of the client's reverse-resolved name, with its number of labels
    /// (`.example.com` has 2).
    Domain {
        /// Number of labels of the suffix.
        labels: u8,
    },
    /// A network containing the client's address, with its prefix length in the client's
    /// family (never the full length: that is [`Specificity::Exact`]).
    Network {
        /// Prefix length in the client's address family.
        prefix_len: u8,
    },
    /// The client's exact address or host name.
    Exact,
}

/// How an entry matched the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MatchedBy {
    /// The client's address is inside the entry's network (or is one of the host's addresses).
    Address,
    /// The client's reverse-resolved name is the host name or ends with the domain suffix.
    Name(String),
}

/// The most specific entry of a list that matches a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Match {
    /// The entry (its `source` is the configuration value to show in logs).
    pub entry: Arc<Entry>,
    /// How specific the match is.
    pub specificity: Specificity,
    /// How the entry matched.
    pub by: MatchedBy,
}

type Ids = Vec<u32>;

/// An address list (`only_from` or `no_access`), built value by value like xinetd's
/// `addrlist_add` / `addrlist_remove` (`=`, `+=`, `-=`, F-209).
///
/// ```
/// use xinetd_acl::{AccessList, StaticResolver};
/// let none = StaticResolver::new();
/// let (list, warnings) = AccessList::from_values(["10.0.{1,2}", "192.168.0.0/16"], &none)?;
/// assert!(warnings.is_empty());
/// assert_eq!(list.len(), 3);
/// assert!(list.address_match("10.0.2.9".parse()?).is_some());
/// assert!(list.address_match("10.0.3.9".parse()?).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AccessList {
    entries: Vec<Option<Arc<Entry>>>,
    live: usize,
    v4: PrefixMap<Ipv4Net, Ids>,
    v6: PrefixMap<Ipv6Net, Ids>,
    hosts: HashMap<String, Ids>,
    domains: HashMap<String, Ids>,
    /// How many distinct domain keys have each label count: the specificities a reverse
    /// lookup could add, kept up to date so a decision does not walk every domain.
    domain_labels: BTreeMap<u8, usize>,
}

impl AccessList {
    /// An empty list. As `only_from` it admits nobody (F-113); as `no_access` it refuses nobody.
    pub fn new() -> AccessList {
        AccessList::default()
    }

    /// Build a list from the values of one `only_from = ...` / `no_access = ...` line.
    ///
    /// Returns the warnings to log (values xinetd drops with `failed to parse`, and our
    /// diagnostics); an [`AclError`] means xinetd would disable the service. xinetd logs the
    /// warnings of the values before a bad one too; to reproduce its log exactly, call
    /// [`add`](Self::add) value by value instead and log as you go.
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = &'a str>,
        resolver: &dyn Resolver,
    ) -> Result<(AccessList, Vec<AclWarning>), AclError> {
        let mut list = AccessList::new();
        let mut warnings = Vec::new();
        for v in values {
            warnings.extend(list.add(v, resolver)?);
        }
        Ok((list, warnings))
    }

    /// Add one value (`+=`, and each value of `=`). See [`crate::parse_value`] for the forms.
    pub fn add(
        &mut self,
        value: &str,
        resolver: &dyn Resolver,
    ) -> Result<Vec<AclWarning>, AclError> {
        let parsed = parse_value(value, resolver)?;
        for entry in parsed.entries {
            self.insert(entry);
        }
        Ok(parsed.warnings)
    }

    /// Remove the entries equal to one value (`-=`, F-209): same network, or same host name /
    /// domain. Removing something that is not there is silent, as in xinetd.
    pub fn remove(
        &mut self,
        value: &str,
        resolver: &dyn Resolver,
    ) -> Result<Vec<AclWarning>, AclError> {
        let parsed = parse_value(value, resolver)?;
        for gone in &parsed.entries {
            let ids: Vec<u32> = self
                .iter_ids()
                .filter(|(_, e)| same_entry(e, gone))
                .map(|(id, _)| id)
                .collect();
            for id in ids {
                self.delete(id);
            }
        }
        Ok(parsed.warnings)
    }

    /// Number of entries (a factorized value counts once per element).
    pub fn len(&self) -> usize {
        self.live
    }

    /// `true` when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.entries.iter().flatten().map(|e| e.as_ref())
    }

    /// `true` when some entry can only be matched through the client's reverse-resolved name
    /// (host names and `.domain` suffixes).
    pub fn has_names(&self) -> bool {
        !self.hosts.is_empty() || !self.domains.is_empty()
    }

    /// The entries as xinetd prints them after `Only from:` / `No access:` in its configuration
    /// dump: each entry preceded by a space, e.g. ` 10.0.1.0(NUMERIC) localhost(HOST)`.
    pub fn xinetd_dump(&self) -> String {
        self.entries()
            .map(|e| format!(" {}", e.xinetd_dump()))
            .collect()
    }

    /// The most specific entry matching the client's address, without any name lookup.
    ///
    /// IPv4 entries apply to IPv4 clients and to IPv4-mapped IPv6 clients (F-202); IPv6 entries
    /// apply to IPv6 clients only, mapped ones included (`::/0`, `::ffff:127.0.0.1`).
    pub fn address_match(&self, peer: IpAddr) -> Option<Match> {
        let (id, specificity) = match peer {
            IpAddr::V4(a) => {
                let (net, ids) = self.v4.get_lpm(&Ipv4Net::from(a))?;
                (first(ids), spec(net.prefix_len(), 32))
            }
            IpAddr::V6(a) => {
                let v6 = self
                    .v6
                    .get_lpm(&Ipv6Net::from(a))
                    .map(|(net, ids)| (first(ids), net.prefix_len()));
                let v4 = a.to_ipv4_mapped().and_then(|m| {
                    self.v4
                        .get_lpm(&Ipv4Net::from(m))
                        .map(|(net, ids)| (first(ids), net.prefix_len() + 96))
                });
                let (id, len) = match (v6, v4) {
                    (Some(x), Some(y)) => match x.1.cmp(&y.1) {
                        Ordering::Greater => x,
                        Ordering::Less => y,
                        // Same length: the entry added first, as xinetd's scan would report.
                        Ordering::Equal => {
                            if x.0 <= y.0 {
                                x
                            } else {
                                y
                            }
                        }
                    },
                    (Some(x), None) => x,
                    (None, Some(y)) => y,
                    (None, None) => return None,
                };
                (id, spec(len, 128))
            }
        };
        Some(Match {
            entry: self.entry(id),
            specificity,
            by: MatchedBy::Address,
        })
    }

    /// The most specific host-name or `.domain` entry matching the client's reverse-resolved
    /// name (compared ignoring ASCII case, F-205, F-206).
    pub fn name_match(&self, name: &str) -> Option<Match> {
        if !self.has_names() || name.is_empty() {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        if let Some(ids) = self.hosts.get(&lower) {
            return Some(Match {
                entry: self.entry(first(ids)),
                specificity: Specificity::Exact,
                by: MatchedBy::Name(name.to_owned()),
            });
        }
        // The longest suffix starts at the leftmost dot.
        for (i, _) in lower.match_indices('.') {
            if let Some(ids) = self.domains.get(&lower[i..]) {
                return Some(Match {
                    entry: self.entry(first(ids)),
                    specificity: Specificity::Domain {
                        labels: labels(&lower[i..]),
                    },
                    by: MatchedBy::Name(name.to_owned()),
                });
            }
        }
        None
    }

    /// The specificities a name match could have: what a reverse lookup might add.
    pub(crate) fn name_specificities(&self) -> BTreeSet<Specificity> {
        let mut out: BTreeSet<Specificity> = self
            .domain_labels
            .keys()
            .map(|&labels| Specificity::Domain { labels })
            .collect();
        if !self.hosts.is_empty() {
            out.insert(Specificity::Exact);
        }
        out
    }

    fn entry(&self, id: u32) -> Arc<Entry> {
        Arc::clone(
            self.entries[id as usize]
                .as_ref()
                .expect("index only holds ids of live entries"),
        )
    }

    fn iter_ids(&self) -> impl Iterator<Item = (u32, &Entry)> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            e.as_ref().map(|e| {
                (
                    u32::try_from(i).expect("at most u32::MAX entries"),
                    e.as_ref(),
                )
            })
        })
    }

    fn insert(&mut self, entry: Entry) {
        let id = u32::try_from(self.entries.len()).expect("fewer than 2^32 entries");
        match &entry.target {
            EntryTarget::Network { net, .. } => self.index_net(*net, id),
            EntryTarget::Host { name, addresses } => {
                self.hosts
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .push(id);
                for a in addresses {
                    self.index_net(IpNet::from(*a), id);
                }
            }
            EntryTarget::Domain { suffix } => {
                let key = suffix.to_ascii_lowercase();
                if !self.domains.contains_key(&key) {
                    *self.domain_labels.entry(labels(&key)).or_default() += 1;
                }
                self.domains.entry(key).or_default().push(id);
            }
        }
        self.entries.push(Some(Arc::new(entry)));
        self.live += 1;
    }

    fn index_net(&mut self, net: IpNet, id: u32) {
        match net {
            IpNet::V4(n) => self.v4.entry(n).or_default().push(id),
            IpNet::V6(n) => self.v6.entry(n).or_default().push(id),
        }
    }

    fn delete(&mut self, id: u32) {
        let Some(entry) = self.entries[id as usize].take() else {
            return;
        };
        self.live -= 1;
        match &entry.target {
            EntryTarget::Network { net, .. } => self.unindex_net(*net, id),
            EntryTarget::Host { name, addresses } => {
                unindex(&mut self.hosts, &name.to_ascii_lowercase(), id);
                for a in addresses {
                    self.unindex_net(IpNet::from(*a), id);
                }
            }
            EntryTarget::Domain { suffix } => {
                let key = suffix.to_ascii_lowercase();
                unindex(&mut self.domains, &key, id);
                if !self.domains.contains_key(&key) {
                    let n = labels(&key);
                    if let Some(count) = self.domain_labels.get_mut(&n) {
                        *count -= 1;
                        if *count == 0 {
                            self.domain_labels.remove(&n);
                        }
                    }
                }
            }
        }
    }

    fn unindex_net(&mut self, net: IpNet, id: u32) {
        match net {
            IpNet::V4(n) => {
                if let Some(ids) = self.v4.get_mut(&n) {
                    ids.retain(|&x| x != id);
                    if ids.is_empty() {
                        self.v4.remove(&n);
                    }
                }
            }
            IpNet::V6(n) => {
                if let Some(ids) = self.v6.get_mut(&n) {
                    ids.retain(|&x| x != id);
                    if ids.is_empty() {
                        self.v6.remove(&n);
                    }
                }
            }
        }
    }
}

fn unindex(map: &mut HashMap<String, Ids>, key: &str, id: u32) {
    if let Some(ids) = map.get_mut(key) {
        ids.retain(|&x| x != id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

/// The entry added first among those sharing an index key.
fn first(ids: &Ids) -> u32 {
    ids.iter()
        .copied()
        .min()
        .expect("index keys are removed with their last id")
}

fn spec(len: u8, full: u8) -> Specificity {
    if len >= full {
        Specificity::Exact
    } else {
        Specificity::Network { prefix_len: len }
    }
}

fn labels(suffix: &str) -> u8 {
    u8::try_from(suffix.split('.').filter(|l| !l.is_empty()).count()).unwrap_or(u8::MAX)
}

/// xinetd's `xremove` equality: names compare as written; networks by family, address and
/// mask (we compare the truncated network, see [docs/compat.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md#access-control-xinetd-acl)).
fn same_entry(existing: &Entry, gone: &Entry) -> bool {
    match (&existing.target, &gone.target) {
        (EntryTarget::Network { net: a, .. }, EntryTarget::Network { net: b, .. }) => a == b,
        (EntryTarget::Host { name: a, .. }, EntryTarget::Host { name: b, .. }) => a == b,
        (EntryTarget::Domain { suffix: a }, EntryTarget::Domain { suffix: b }) => a == b,
        (EntryTarget::Host { name: a, .. }, EntryTarget::Domain { suffix: b })
        | (EntryTarget::Domain { suffix: a }, EntryTarget::Host { name: b, .. }) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::StaticResolver;

    fn list(values: &[&str]) -> AccessList {
        let r = StaticResolver::new().host("localhost", ["127.0.0.1".parse().unwrap()]);
        AccessList::from_values(values.iter().copied(), &r)
            .unwrap()
            .0
    }

    #[test]
    fn longest_prefix_wins_within_a_list() {
        let l = list(&["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3"]);
        let m = l.address_match("10.1.2.3".parse().unwrap()).unwrap();
        assert_eq!(m.entry.source, "10.1.2.3");
        assert_eq!(m.specificity, Specificity::Exact);
        let m = l.address_match("10.1.9.9".parse().unwrap()).unwrap();
        assert_eq!(m.specificity, Specificity::Network { prefix_len: 16 });
    }

    #[test]
    fn remove_deletes_equal_entries_only() {
        let mut l = list(&["10.0.0.0", "10.0.0.0/8", "localhost", "127.0.0.1"]);
        let none = StaticResolver::new();
        l.remove("10.0.0.0/8", &none).unwrap();
        assert!(l.address_match("10.9.9.9".parse().unwrap()).is_none());
        l.remove("127.0.0.1", &none).unwrap();
        // localhost still matches 127.0.0.1 through its parse-time address.
        let m = l.address_match("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(m.entry.source, "localhost");
        l.remove("nothere.example", &none).unwrap();
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn remove_compares_networks_not_written_addresses() {
        // docs/compat.md: xinetd compares the address as written, so `-= 10.0.0.0/8` would
        // leave `10.1.2.3/8` in place; both mean the same network, and we remove it.
        let mut l = list(&["10.1.2.3/8"]);
        l.remove("10.0.0.0/8", &StaticResolver::new()).unwrap();
        assert!(l.is_empty());
    }

    #[test]
    fn domains_match_case_insensitively_by_suffix() {
        let l = list(&[".Example.COM", ".b.example.com"]);
        let m = l.name_match("a.b.EXAMPLE.com").unwrap();
        assert_eq!(m.entry.source, ".b.example.com");
        assert_eq!(m.specificity, Specificity::Domain { labels: 3 });
        assert!(l.name_match("example.com").is_none());
        assert!(l.name_match("badexample.com").is_none());
    }
}
