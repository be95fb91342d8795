//! Parser, typed model, validator and printer for xinetd.conf.
//!
//! Skeleton: the implementation lands with its issue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
