//! Name lookups: the [`Resolver`] trait, the system implementation with a deadline, and a
//! table-driven test double.
//!
//! The decision API never calls a resolver itself: it answers
//! [`Decision::NeedsLookup`](crate::Decision::NeedsLookup) and the caller performs the lookup
//! where blocking is acceptable (a worker thread, or the forked child as xinetd does, F-205,
//! F-996). Only [`AccessList::add`](crate::AccessList::add) calls a resolver directly, while
//! the configuration is read, as xinetd does.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The lookup did not finish before the deadline.
    #[error("lookup of {what} timed out after {timeout:?}")]
    TimedOut {
        /// Name or address looked up.
        what: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// Too many lookups are already waiting on the system resolver; refused at once so that a
    /// flood of connections cannot pile up threads.
    #[error("too many lookups in flight ({limit}); {what} not looked up")]
    Busy {
        /// Name or address that was not looked up.
        what: String,
        /// The limit of concurrent lookups.
        limit: usize,
    },
    /// The resolver answered that there is no such name/address, or failed.
    #[error("lookup of {what} failed: {reason}")]
    Failed {
        /// Name or address looked up.
        what: String,
        /// The resolver's reason.
        reason: String,
    },
}

/// Name service used by access control.
///
/// Implementations must be usable from several threads (the daemon may run lookups on a pool).
pub trait Resolver: Send + Sync {
    /// Addresses of a host name (forward lookup), used while reading the configuration: xinetd
    /// only accepts a host-name entry that resolves (F-205).
    fn lookup_host(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError>;

    /// The name of an address (reverse lookup, `getnameinfo(NI_NAMEREQD)`), used to match host
    /// and `.domain` entries when a client connects. `Ok(None)` means "no name".
    fn reverse_lookup(&self, addr: IpAddr) -> Result<Option<String>, ResolveError>;

    /// Network number of a name in /etc/networks (F-207), e.g. `127` for `loopback`.
    fn lookup_network(&self, name: &str) -> Result<Option<u32>, ResolveError>;
}

/// The system resolver (getaddrinfo / getnameinfo through the C library, so /etc/hosts,
/// nsswitch.conf and DNS apply), each lookup bounded by a deadline.
///
/// Forward lookups use the standard library (`ToSocketAddrs`, which is getaddrinfo). Reverse
/// lookups use the `dns-lookup` crate's `getnameinfo` wrapper with `NI_NAMEREQD`, exactly what
/// xinetd calls; the standard library has no reverse lookup, and this crate forbids `unsafe`, so
/// a small, widely used FFI wrapper is the right tool. Network names are read from the
/// networks file (/etc/networks) directly: that is where glibc's `getnetbyname` looks with the
/// default nsswitch configuration, and it needs no FFI.
///
/// Each lookup runs on a helper thread; the caller waits at most the timeout. A lookup that
/// times out keeps its thread until the C library gives up (its own resolv.conf timeouts), so
/// the number of lookups in flight is capped ([`ResolveError::Busy`]).
#[derive(Debug, Clone)]
pub struct SystemResolver {
    timeout: Duration,
    max_in_flight: usize,
    in_flight: Arc<AtomicUsize>,
    networks_file: PathBuf,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::new(Duration::from_secs(5))
    }
}

impl SystemResolver {
    /// A resolver whose lookups give up after `timeout`, with at most 64 lookups in flight.
    pub fn new(timeout: Duration) -> SystemResolver {
        SystemResolver {
            timeout,
            max_in_flight: 64,
            in_flight: Arc::new(AtomicUsize::new(0)),
            networks_file: PathBuf::from("/etc/networks"),
        }
    }

    /// Change the cap on concurrent lookups.
    pub fn with_max_in_flight(mut self, max: usize) -> SystemResolver {
        self.max_in_flight = max.max(1);
        self
    }

    /// Read network names from another file than /etc/networks (for tests and chroots).
    pub fn with_networks_file(mut self, path: impl Into<PathBuf>) -> SystemResolver {
        self.networks_file = path.into();
        self
    }

    /// The deadline of each lookup.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run<T: Send + 'static>(
        &self,
        what: String,
        f: impl FnOnce() -> Result<T, ResolveError> + Send + 'static,
    ) -> Result<T, ResolveError> {
        let previous = self.in_flight.fetch_add(1, Ordering::SeqCst);
        if previous >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(ResolveError::Busy {
                what,
                limit: self.max_in_flight,
            });
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let counter = Arc::clone(&self.in_flight);
        let spawned = std::thread::Builder::new()
            .name("xinetd-acl-lookup".into())
            .spawn(move || {
                let result = f();
                counter.fetch_sub(1, Ordering::SeqCst);
                // The receiver is gone when the caller timed out; nothing to do then.
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(ResolveError::Failed {
                what,
                reason: format!("cannot start lookup thread: {e}"),
            });
        }
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(_) => Err(ResolveError::TimedOut {
                what,
                timeout: self.timeout,
            }),
        }
    }
}

impl Resolver for SystemResolver {
    fn lookup_host(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let owned = name.to_owned();
        self.run(name.to_owned(), move || {
            match (owned.as_str(), 0u16).to_socket_addrs() {
                Ok(addrs) => {
                    let mut out: Vec<IpAddr> = Vec::new();
                    for a in addrs {
                        if !out.contains(&a.ip()) {
                            out.push(a.ip());
                        }
                    }
                    Ok(out)
                }
                Err(e) => Err(ResolveError::Failed {
                    what: owned,
                    reason: e.to_string(),
                }),
            }
        })
    }

    fn reverse_lookup(&self, addr: IpAddr) -> Result<Option<String>, ResolveError> {
        // glibc does not consult /etc/hosts for IPv4-mapped IPv6 addresses, so `only_from =
        // localhost` fails for IPv4 clients of a dual-stack service in xinetd (F-205, F-973).
        // Looking up the embedded IPv4 address instead fixes that.
        let addr = canonical(addr);
        self.run(addr.to_string(), move || {
            match dns_lookup::lookup_addr(&addr) {
                Ok(name) => Ok(Some(name)),
                // NI_NAMEREQD: "no name" is an error from getnameinfo; xinetd then skips name
                // entries, which is what `None` means.
                Err(_) => Ok(None),
            }
        })
    }

    fn lookup_network(&self, name: &str) -> Result<Option<u32>, ResolveError> {
        match std::fs::read_to_string(&self.networks_file) {
            Ok(text) => Ok(parse_networks(&text, name)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ResolveError::Failed {
                what: name.to_owned(),
                reason: format!("cannot read {}: {e}", self.networks_file.display()),
            }),
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; anything else unchanged.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

/// Find `name` (or an alias) in the text of an /etc/networks file: `name number [aliases]`,
/// `#` comments; the number in `inet_network` form (`127`, `192.168.1`, `0x7f`).
/// Names are case-sensitive, as in glibc's files backend.
pub fn parse_networks(text: &str, name: &str) -> Option<u32> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(official), Some(number)) = (fields.next(), fields.next()) else {
            continue;
        };
        if official == name || fields.any(|alias| alias == name) {
            return inet_network(number);
        }
    }
    None
}

/// glibc's `inet_network`: up to four dot-separated parts, each a byte, combined base 256.
fn inet_network(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut value: u32 = 0;
    for p in parts {
        let v = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse().ok()?
        };
        if v > 255 {
            return None;
        }
        value = (value << 8) | v;
    }
    Some(value)
}

/// A resolver answering from tables: for tests, and for embedders that want decisions without
/// any name service. Unknown names and addresses have no answer (`Ok` with nothing), unless
/// marked as failing.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<IpAddr>>,
    names: HashMap<IpAddr, String>,
    networks: HashMap<String, u32>,
    failing: Vec<IpAddr>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Add a host name with its addresses (forward lookups).
    pub fn host(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> StaticResolver {
        self.hosts.entry(name.to_owned()).or_default().extend(addrs);
        self
    }

    /// Add the reverse name of an address.
    pub fn reverse(mut self, addr: IpAddr, name: &str) -> StaticResolver {
        self.names.insert(addr, name.to_owned());
        self
    }

    /// Add a network name with its network number (as in /etc/networks).
    pub fn network(mut self, name: &str, number: u32) -> StaticResolver {
        self.networks.insert(name.to_owned(), number);
        self
    }

    /// Make reverse lookups of `addr` fail, as a resolver that times out would.
    pub fn failing(mut self, addr: IpAddr) -> StaticResolver {
        self.failing.push(addr);
        self
    }
}

impl Resolver for StaticResolver {
    fn lookup_host(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        Ok(self.hosts.get(name).cloned().unwrap_or_default())
    }

    fn reverse_lookup(&self, addr: IpAddr) -> Result<Option<String>, ResolveError> {
        if self.failing.contains(&addr) {
            return Err(ResolveError::TimedOut {
                what: addr.to_string(),
                timeout: Duration::ZERO,
            });
        }
        Ok(self.names.get(&addr).cloned())
    }

    fn lookup_network(&self, name: &str) -> Result<Option<u32>, ResolveError> {
        Ok(self.networks.get(name).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_file_is_parsed_like_glibc() {
        let text = "# comment\ndefault 0.0.0.0\nloopback 127.0.0.0 lo-net\nlink-local 169.254.0.0\nmynet 192.168.1 office # trailing\n";
        assert_eq!(parse_networks(text, "loopback"), Some(0x7F00_0000));
        assert_eq!(parse_networks(text, "lo-net"), Some(0x7F00_0000));
        assert_eq!(parse_networks(text, "mynet"), Some(0xC0A801));
        assert_eq!(parse_networks(text, "office"), Some(0xC0A801));
        assert_eq!(parse_networks(text, "nosuch"), None);
    }

    #[test]
    fn system_resolver_resolves_localhost_and_reads_networks_file() {
        let dir = std::env::temp_dir().join(format!("xinetd-acl-networks-{}", std::process::id()));
        std::fs::write(&dir, "testnet 10.9\n").expect("write temp networks file");
        let r = SystemResolver::new(Duration::from_secs(10)).with_networks_file(&dir);
        assert_eq!(r.lookup_network("testnet"), Ok(Some(0x0A09)));
        assert_eq!(r.lookup_network("other"), Ok(None));
        let _ = std::fs::remove_file(&dir);
        // localhost comes from /etc/hosts on every system the daemon targets.
        let addrs = r.lookup_host("localhost").expect("localhost resolves");
        assert!(addrs.iter().any(|a| a.is_loopback()), "{addrs:?}");
    }

    #[test]
    fn system_resolver_reverse_resolves_mapped_addresses_as_ipv4() {
        // F-973: glibc skips /etc/hosts for ::ffff:127.0.0.1; we look up 127.0.0.1 instead.
        let r = SystemResolver::new(Duration::from_secs(10));
        let v4 = r.reverse_lookup("127.0.0.1".parse().unwrap()).unwrap();
        if v4.is_none() {
            println!("skipping: 127.0.0.1 has no name on this system");
            return;
        }
        let mapped = r
            .reverse_lookup("::ffff:127.0.0.1".parse().unwrap())
            .unwrap();
        assert_eq!(mapped, v4);
    }

    #[test]
    fn system_resolver_refuses_when_too_many_lookups_are_in_flight() {
        let r = SystemResolver::new(Duration::from_secs(10)).with_max_in_flight(1);
        r.in_flight.store(1, Ordering::SeqCst);
        assert!(matches!(
            r.lookup_host("localhost"),
            Err(ResolveError::Busy { limit: 1, .. })
        ));
    }

    #[test]
    fn system_resolver_times_out() {
        let r = SystemResolver::new(Duration::from_millis(50));
        let result = r.run("slow".into(), || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        });
        assert!(matches!(result, Err(ResolveError::TimedOut { .. })));
    }
}
