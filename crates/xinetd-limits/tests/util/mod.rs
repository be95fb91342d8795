//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use xinetd_limits::{FixedLoad, GlobalLimits, Limits, ServiceLimits};

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A fresh `Limits` whose clock origin is the returned instant.
pub fn limits(global: GlobalLimits) -> (Limits, Instant) {
    let start = Instant::now();
    (Limits::new(global, start), start)
}

/// A service with the cps limiter off, so that tests of other rules are not tripped by it.
pub fn service(name: &str) -> ServiceLimits {
    ServiceLimits::new(name).with_cps(xinetd_limits::Cps::new(0, 10))
}

pub fn idle() -> FixedLoad {
    FixedLoad(0.0)
}
