//! `xinetd -check`: parse and validate a configuration, print diagnostics and services.

use std::path::Path;

/// Runs the check and returns the process exit code (0 all accepted, 1 some dropped,
/// 2 unusable).
pub fn run(config: &Path, _json: bool) -> u8 {
    eprintln!(
        "xinetd: {}: the configuration checker lands with xinetd-conf",
        config.display()
    );
    2
}
