//! Access control decisions of xinetd (only_from, no_access, access_times), sans-I/O.
//!
//! Skeleton: the implementation lands with its issue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
