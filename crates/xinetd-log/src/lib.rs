//! Logging in xinetd's formats: syslog, FILE with soft/hard limits, ident client.
//!
//! Skeleton: the implementation lands with its issue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
