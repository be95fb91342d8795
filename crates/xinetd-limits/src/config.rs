//! Plain-number inputs: what the daemon converts its configuration into.
//!
//! This crate does not depend on `xinetd-conf`; the daemon fills these structs from the parsed
//! model (after defaults were merged, F-047).

use std::num::NonZeroU32;

use crate::LimitsError;

/// `cps = rate wait` (F-130, F-310): at most `rate` connections per second, else the service is
/// deactivated for `wait_secs` seconds. `rate = 0` turns the limiter off but `wait_secs` is still
/// the pause used for descriptor exhaustion (F-312).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cps {
    /// Connections per second; 0 disables the limiter.
    pub rate: u32,
    /// Seconds the service stays deactivated after a trip.
    pub wait_secs: u32,
}

impl Cps {
    /// xinetd's default since 2.3.10: `cps = 50 10` (F-047, F-992).
    pub const DEFAULT: Cps = Cps {
        rate: 50,
        wait_secs: 10,
    };

    /// `cps = rate wait_secs`.
    pub fn new(rate: u32, wait_secs: u32) -> Self {
        Cps { rate, wait_secs }
    }
}

impl Default for Cps {
    fn default() -> Self {
        Cps::DEFAULT
    }
}

/// `max_load` (F-131): refuse when the 1-minute load average is at or above this value.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct MaxLoad(f64);

impl MaxLoad {
    /// A load threshold; must be finite and > 0 (`max_load = 0` is a parse error in xinetd).
    pub fn new(value: f64) -> Result<Self, LimitsError> {
        if value.is_finite() && value > 0.0 {
            Ok(MaxLoad(value))
        } else {
            Err(LimitsError::InvalidMaxLoad(value))
        }
    }

    /// The threshold.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// `deny_time` of a SENSOR service (F-137, F-242).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DenyTime {
    /// `NEVER` or `0` (the default): the sensor only makes the request fail; nobody is banned.
    #[default]
    Never,
    /// Ban the source for this many minutes.
    Minutes(NonZeroU32),
    /// `FOREVER`: ban until the daemon exits (a reload keeps the list, F-864).
    Forever,
}

impl DenyTime {
    /// The number xinetd stores and prints in `Adding %s ... for %d minutes`: `-1` for
    /// `FOREVER`, `0` for `NEVER`.
    pub fn as_minutes(self) -> i64 {
        match self {
            DenyTime::Never => 0,
            DenyTime::Minutes(m) => i64::from(m.get()),
            DenyTime::Forever => -1,
        }
    }
}

/// The limits of one service, as plain numbers.
///
/// Built with [`ServiceLimits::new`] and the `with_*` methods (or by assigning the fields):
/// the struct is `#[non_exhaustive]` because xinetd attributes that limit a service may be
/// added.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceLimits {
    /// The service **name** (not id): xinetd's cps messages use `SC_NAME` (F-311).
    pub name: String,
    /// `instances`; `None` = `UNLIMITED` (F-109, F-300).
    pub instances: Option<u32>,
    /// `per_source`; `None` = `UNLIMITED` (F-129, F-301).
    pub per_source: Option<u32>,
    /// `cps` (F-130); defaults to `50 10`.
    pub cps: Cps,
    /// `max_load`; `None` = off (F-131).
    pub max_load: Option<MaxLoad>,
    /// `Some` when the service has `flags = SENSOR` (F-147, F-240), with its `deny_time`.
    pub sensor: Option<DenyTime>,
    /// `flags = INTERCEPT`: the process limit reserves two processes for it (F-304).
    pub intercepted: bool,
    /// Extension `source_prefix`: the networks `per_source` counts and a SENSOR bans.
    pub source_prefix: crate::SourcePrefix,
}

impl ServiceLimits {
    /// A service with xinetd's defaults: unlimited instances and per_source, `cps = 50 10`,
    /// no `max_load`, not a sensor, not intercepted.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceLimits {
            name: name.into(),
            instances: None,
            per_source: None,
            cps: Cps::DEFAULT,
            max_load: None,
            sensor: None,
            intercepted: false,
            source_prefix: crate::SourcePrefix::EXACT,
        }
    }

    /// Set `instances` (`None` = `UNLIMITED`).
    #[must_use]
    pub fn with_instances(mut self, instances: Option<u32>) -> Self {
        self.instances = instances;
        self
    }

    /// Set `per_source` (`None` = `UNLIMITED`).
    #[must_use]
    pub fn with_per_source(mut self, per_source: Option<u32>) -> Self {
        self.per_source = per_source;
        self
    }

    /// Set `cps`.
    #[must_use]
    pub fn with_cps(mut self, cps: Cps) -> Self {
        self.cps = cps;
        self
    }

    /// Set `max_load` (`None` = off).
    #[must_use]
    pub fn with_max_load(mut self, max_load: Option<MaxLoad>) -> Self {
        self.max_load = max_load;
        self
    }

    /// Make the service a SENSOR with this `deny_time` (`None` = not a sensor).
    #[must_use]
    pub fn with_sensor(mut self, sensor: Option<DenyTime>) -> Self {
        self.sensor = sensor;
        self
    }

    /// Set `source_prefix` ([`crate::SourcePrefix::EXACT`] is xinetd's behaviour).
    #[must_use]
    pub fn with_source_prefix(mut self, prefix: crate::SourcePrefix) -> Self {
        self.source_prefix = prefix;
        self
    }

    /// Set `flags = INTERCEPT`.
    #[must_use]
    pub fn with_intercepted(mut self, intercepted: bool) -> Self {
        self.intercepted = intercepted;
        self
    }
}

/// Daemon-wide limits from the command line (F-806, F-807). Built with
/// [`GlobalLimits::new`]; `#[non_exhaustive]` because daemon options may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct GlobalLimits {
    /// `-limit N`: cap on running servers of all services; `None` when absent or 0.
    pub process_limit: Option<NonZeroU32>,
    /// `-logprocs N`: cap on concurrent ident (USERID-on-failure) lookups; default 15.
    pub logprocs: u32,
}

impl GlobalLimits {
    /// xinetd's default for `-logprocs` (`DEFAULT_LOGPROCS`).
    pub const DEFAULT_LOGPROCS: u32 = 15;

    /// Build from the raw option values; `-limit 0` means no limit, as in xinetd.
    pub fn new(process_limit: u32, logprocs: Option<u32>) -> Self {
        GlobalLimits {
            process_limit: NonZeroU32::new(process_limit),
            logprocs: logprocs.unwrap_or(Self::DEFAULT_LOGPROCS),
        }
    }
}

impl Default for GlobalLimits {
    fn default() -> Self {
        GlobalLimits::new(0, None)
    }
}
