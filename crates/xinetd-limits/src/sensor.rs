//! The global `no_access` list that SENSOR services fill and every service consults
//! (F-240..F-243).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::source::{Source, SourcePrefix};
use std::time::{Duration, Instant};

use crate::config::DenyTime;
use crate::message::{Level, LogMessage};

/// xinetd's `MAX_GLOBAL_NO_ACCESS`: the list never holds more addresses than this (F-242).
pub const MAX_GLOBAL_NO_ACCESS: usize = 10240;

/// xinetd scrubs the list from a timer that runs every 60 seconds while it is non-empty.
pub(crate) const SCRUB_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expiry {
    At(Instant),
    Forever,
}

/// Banned addresses with their expiry, plus the scrub timer.
#[derive(Debug, Default)]
pub(crate) struct SensorList {
    /// Keyed by the banned network: the canonical address (IPv4-mapped IPv6 folded to IPv4,
    /// see `canonical`) masked to the SENSOR service's `source_prefix`.
    entries: HashMap<Source, Expiry>,
    /// How many entries have each (is IPv6, prefix length): a lookup masks the address once
    /// per length in use, which is one length unless services set different prefixes.
    lengths: BTreeMap<(bool, u8), usize>,
    next_scrub: Option<Instant>,
}

/// One key per host whatever family the connection arrived in: xinetd stores the text of the
/// address as it arrived, so an IPv4 client banned through a dual-stack sensor stays allowed
/// on `IPv4`-flagged services (F-243, F-972); we fold the mapped form so that a ban covers
/// "all services", as xinetd.conf(5) documents for `deny_time`.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn length_key(s: Source) -> (bool, u8) {
    (s.network().is_ipv6(), s.prefix_len())
}

impl SensorList {
    /// A SENSOR service was hit by `peer` (F-240). Returns the message xinetd logs, if any.
    pub(crate) fn trip(
        &mut self,
        peer: IpAddr,
        source: Source,
        deny: DenyTime,
        now: Instant,
    ) -> Option<LogMessage> {
        let expiry = match deny {
            // `NEVER`/0 only makes the request fail (F-242).
            DenyTime::Never => return None,
            DenyTime::Minutes(m) => Expiry::At(now + Duration::from_secs(60 * u64::from(m.get()))),
            DenyTime::Forever => Expiry::Forever,
        };
        // xinetd checks the size before looking the address up, so a full list logs this even
        // for an address that is already listed.
        if self.entries.len() >= MAX_GLOBAL_NO_ACCESS {
            return Some(LogMessage::new(
                Level::Err,
                "process_sensor",
                "Maximum global_no_access count reached.".to_owned(),
            ));
        }
        match self.entries.get_mut(&source) {
            Some(current) => {
                // A repeat trip extends the ban to the later of the two expiries (what
                // xinetd's sensor.c sets out to do; the 2.3.15.3 binary never extends, F-972).
                // xinetd logs nothing here.
                if expiry > *current {
                    *current = expiry;
                }
                None
            }
            None => {
                self.entries.insert(source, expiry);
                *self.lengths.entry(length_key(source)).or_insert(0) += 1;
                // An exact ban names the address as it arrived, as xinetd does.
                let banned = if source.is_exact() {
                    peer.to_string()
                } else {
                    source.to_string()
                };
                if self.next_scrub.is_none() {
                    self.next_scrub = Some(now + SCRUB_INTERVAL);
                }
                Some(LogMessage::new(
                    Level::Crit,
                    "process_sensor",
                    format!(
                        "Adding {banned} to the global_no_access list for {} minutes",
                        deny.as_minutes()
                    ),
                ))
            }
        }
    }

    /// Whether `peer` is on the list (F-241). Entries leave the list only when the scrub timer
    /// runs, so a ban lasts until the first scrub at or after its expiry (F-242).
    pub(crate) fn is_banned(&self, peer: IpAddr) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        let peer = canonical(peer);
        self.lengths
            .keys()
            .filter(|(v6, _)| *v6 == peer.is_ipv6())
            .any(|&(v6, len)| {
                let prefix = if v6 {
                    SourcePrefix::new(32, len)
                } else {
                    SourcePrefix::new(len, 128)
                };
                prefix.is_ok_and(|p| self.entries.contains_key(&p.source(peer)))
            })
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    pub(crate) fn next_scrub(&self) -> Option<Instant> {
        self.next_scrub
    }

    /// Run the scrub timer if it is due, appending xinetd's INFO messages to `out`.
    pub(crate) fn tick(&mut self, now: Instant, out: &mut Vec<LogMessage>) {
        match self.next_scrub {
            Some(due) if due <= now => {}
            _ => return,
        }
        const FUNC: &str = "scrub_global_no_access_list";
        let before = self.entries.len();
        let lengths = &mut self.lengths;
        self.entries.retain(|source, expiry| {
            let keep = match expiry {
                Expiry::At(at) => *at > now,
                Expiry::Forever => true,
            };
            if !keep {
                let k = length_key(*source);
                if let Some(n) = lengths.get_mut(&k) {
                    *n -= 1;
                    if *n == 0 {
                        lengths.remove(&k);
                    }
                }
            }
            keep
        });
        if self.entries.len() != before {
            out.push(LogMessage::new(
                Level::Info,
                FUNC,
                "At least 1 DENY_TIME has expired, global_no_access list updated".to_owned(),
            ));
            crate::shrink_map(&mut self.entries);
        }
        if self.entries.is_empty() {
            self.next_scrub = None;
            // xinetd only reaches this message from a scrub that found a non-empty list.
            if before != 0 {
                out.push(LogMessage::new(
                    Level::Info,
                    FUNC,
                    "global_no_access list is empty.".to_owned(),
                ));
            }
        } else {
            self.next_scrub = Some(now + SCRUB_INTERVAL);
        }
    }
}
