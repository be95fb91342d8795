//! DoS limits of xinetd (instances, per_source, cps, max_load, process limit, sensors), sans-I/O.
//!
//! Skeleton: the implementation lands with its issue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
