//! Spawning servers the way xinetd does: credentials, chroot, nice, umask, rlimits, environment, fd layout.
//!
//! Skeleton: the implementation lands with its issue.
#![warn(missing_docs)]
