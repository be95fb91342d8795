//! [`SystemResolver`]: the C library's resolver with a deadline. Behind the cargo feature
//! `system-resolver` (on by default) so that a program bringing its own [`Resolver`] does not
//! link `dns-lookup`.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::resolver::{parse_networks, ResolveError, Resolver};

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
                reason: format!(
                    "cannot read {}: {}",
                    self.networks_file.display(),
                    crate::hosts_access::errno_text(&e)
                ),
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

#[cfg(test)]
mod tests {
    use super::*;

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
