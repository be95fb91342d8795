//! Test probe for xinetd-spawn's integration tests: a server that reports what it was given.
//!
//! It writes `ready <pid> <cwd>` to stdout (fd 1, the spawned socket), then blocks reading
//! stdin until EOF, so the test can inspect `/proc/<pid>/*` of a live server (uid, groups,
//! umask, nice, limits, environ, cmdline, fds, root, cwd, session), and exits 0.

use std::io::{Read, Write};

fn main() {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("error:{e}"));
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready {} {}", std::process::id(), cwd);
    let _ = out.flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
