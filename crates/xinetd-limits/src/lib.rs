//! xinetd's DoS limits as a sans-I/O library: `instances`, `per_source`, `cps`, `max_load`,
//! the `-limit` process cap, the `-logprocs` ident cap and the SENSOR / `deny_time` global
//! deny list (spec §4, F-300..F-315; F-137, F-147, F-240..F-243; F-806, F-807).
//!
//! The daemon owns one [`Limits`]. For every request it calls [`Limits::admit`], which runs
//! xinetd's parent-side checks in xinetd's order — **cps → max_load → access_times →
//! instances → per_source → process limit** — and returns either a [`Permit`] or a
//! [`Refusal`] carrying the FAIL reason word ([`Reason::as_str`]), the program-log line xinetd
//! writes with it, and for a cps trip the [`Deactivation`] to perform (close the listening
//! socket until a given time). The permit is held while the server runs; dropping it gives
//! the counts back, so they cannot leak. [`Limits::check_address`] is the SENSOR part of the
//! later address check, and [`Limits::report_dgram_address_failure`] xinetd's once-a-minute
//! logging of repeated dgram address failures (F-314). [`Limits::tick`] and
//! [`Limits::next_deadline`] drive the timers (cps re-activation, deny-list scrub).
//! [`Limits::ident_lookup`] hands out the `-logprocs` slots for USERID-on-failure lookups.
//!
//! The decisions read no clock, file or socket and start no thread: time is an
//! [`Instant`](std::time::Instant) argument and the load average comes from a [`LoadSource`],
//! asked only for services with `max_load` — the small separate [`ProcLoadAvg`] reads the real
//! `/proc/loadavg`; [`FixedLoad`] or a closure stand in for it in tests. `Limits` belongs to the
//! daemon's single-threaded event loop: permits find their way back to it through an
//! `Rc`/`Weak` pair, so neither is `Send`.
//!
//! # Example
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::{Duration, Instant};
//! use xinetd_limits::{Cps, FixedLoad, GlobalLimits, Limits, Reason, Request, ServiceLimits};
//!
//! let start = Instant::now();
//! let mut limits = Limits::new(GlobalLimits::new(0, None), start);
//! let echo = limits.add_service(
//!     ServiceLimits::new("echo")
//!         .with_instances(Some(2))
//!         .with_per_source(Some(1))
//!         .with_cps(Cps::new(2, 3)),
//! );
//! let a: IpAddr = "127.0.0.2".parse()?;
//! let b: IpAddr = "127.0.0.3".parse()?;
//! let mut load = FixedLoad(0.0);
//!
//! let first = limits.admit(&echo, Request::new(Some(a), start), &mut load).expect("admitted");
//! let refused = limits.admit(&echo, Request::new(Some(a), start), &mut load).unwrap_err();
//! assert_eq!(refused.reason.as_str(), "per_source_limit");
//!
//! // The third request within one second trips `cps = 2 3`.
//! let tripped = limits.admit(&echo, Request::new(Some(b), start), &mut load).unwrap_err();
//! assert_eq!(tripped.reason, Reason::Cps);
//! let pause = tripped.deactivation.expect("cps deactivates the service");
//! assert_eq!(
//!     pause.message.text,
//!     "Deactivating service echo due to excessive incoming connections.  Restarting in 3 seconds."
//! );
//! assert_eq!(limits.next_deadline(), Some(start + Duration::from_secs(3)));
//!
//! // The daemon closes the socket, waits for the deadline, then re-binds.
//! let events = limits.tick(start + Duration::from_secs(3));
//! assert_eq!(events.len(), 1);
//! // The running server is still counted after the pause (xinetd-org issue 21 fixed).
//! assert_eq!(limits.running(&echo), 1);
//!
//! drop(first); // the child exited
//! assert_eq!(limits.running(&echo), 0);
//! assert_eq!(limits.stats().sources_tracked, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Internal services
//!
//! xinetd counts only forked servers. Every admitted request gets a [`Permit`]; the daemon
//! holds it as long as the request occupies a server: until the child is reaped for forked
//! servers, until the connection closes for internal stream services that xinetd would fork
//! but xinetd-rs serves inside its event loop (echo, discard, chargen, tcpmux), and only for
//! the duration of the call for inline one-shot services (daytime, time, dgram builtins,
//! sensors), which therefore never occupy a slot but are still refused by a full limit
//! (e.g. `instances = 0`) exactly as in xinetd.
//!
//! # Sources
//!
//! `per_source` and the SENSOR ban list key on a [`Source`]: the client's address by default,
//! the client's network with a [`SourcePrefix`] (`ServiceLimits::with_source_prefix`, the
//! `source_prefix` extension, so one IPv6 client cannot open a fresh source per address of its
//! /64), or a Unix-domain client's uid ([`Request::uid`]).
//!
//! ```
//! use std::time::Instant;
//! use xinetd_limits::{FixedLoad, GlobalLimits, Limits, Reason, Request, ServiceLimits, SourcePrefix};
//!
//! let now = Instant::now();
//! let mut limits = Limits::new(GlobalLimits::default(), now);
//! let svc = limits.add_service(
//!     ServiceLimits::new("ssh")
//!         .with_per_source(Some(1))
//!         .with_source_prefix(SourcePrefix::new(32, 64)?),
//! );
//! let mut load = FixedLoad(0.0);
//! let a = limits.admit(&svc, Request::new(Some("2001:db8:1:2::1".parse()?), now), &mut load);
//! assert!(a.is_ok());
//! let b = limits.admit(&svc, Request::new(Some("2001:db8:1:2::99".parse()?), now), &mut load);
//! assert_eq!(b.unwrap_err().reason, Reason::PerSourceLimit);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cost
//!
//! A decision is O(1): services live in a slab indexed by [`ServiceKey`], per-source counts in
//! one hash map per service keyed by client address (std `HashMap` with its randomly keyed
//! SipHash, because the keys are chosen by attackers). Entries are removed as soon as a
//! source has no live permit and the maps shrink when mostly empty, so memory follows the
//! number of *running* servers, not the number of sources ever seen. The deny list is capped
//! at [`MAX_GLOBAL_NO_ACCESS`] addresses.
//!
//! Measured with `cargo bench -p xinetd-limits` (criterion, 2 s warm-up, 8 s measurement,
//! release build, the project's 2-core CI-size VM, 2026-11-26, 1-minute load average ~2.5 from
//! other work on the machine, so expect ±10 %). Median time per decision and the resulting rate:
//!
//! | benchmark (`benches/decisions.rs`) | per decision | decisions/s |
//! |------------------------------------|--------------|-------------|
//! | `admit_release_100k_live_sources`: admit + release, 100,000 distinct live sources, every limit on | 225 ns | 4.5 M |
//! | `refuse_per_source_100k_live_sources`: `per_source_limit` refusal, 100,000 live sources | 89 ns | 11 M |
//! | `admit_inline_100k_distinct_sources`: admit + immediate release cycling through 100,000 sources | 126 ns | 7.9 M |
//! | `check_address_10240_banned`: SENSOR list lookup, list full (10,240 addresses) | 35 ns | 28 M |
//!
//! # Deliberate differences from xinetd 2.3.15.3
//!
//! Listed with their tests in [docs/compat.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md#limits-xinetd-limits): a cps pause does not reset
//! the running-instance count (xinetd-org issue 21); a repeat SENSOR hit extends the ban; a
//! ban covers an IPv4 client in both its IPv4 and IPv4-mapped forms; `-logprocs` is enforced.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod cps;
mod error;
mod limits;
mod loadavg;
mod message;
mod sensor;
mod source;

pub use config::{Cps, DenyTime, GlobalLimits, MaxLoad, ServiceLimits};
pub use error::LimitsError;
pub use limits::{
    Deactivation, Event, IdentPermit, Limits, Permit, Reactivation, Reason, Refusal, Request,
    ServiceId, ServiceKey, Stats,
};
pub use loadavg::{FixedLoad, LoadSource, ProcLoadAvg};
pub use message::{Level, LogMessage};
pub use sensor::MAX_GLOBAL_NO_ACCESS;
pub use source::{Source, SourcePrefix};

use std::collections::HashMap;
use std::hash::Hash;

/// Give memory back once a map is mostly empty, so a flood of distinct sources does not leave
/// a large table behind. Halving only below a quarter keeps this amortised O(1).
pub(crate) fn shrink_map<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    const KEEP: usize = 64;
    if map.capacity() > KEEP && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

// The README's example is compiled and run as a doc-test, so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
