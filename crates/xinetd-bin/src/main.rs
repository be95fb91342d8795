//! The `xinetd` binary: command line, then the daemon or `-check`.

mod check;

use std::path::PathBuf;
use std::process::ExitCode;

/// Default configuration file, as xinetd(8).
const DEFAULT_CONFIG: &str = "/etc/xinetd.conf";

fn main() -> ExitCode {
    let mut config = PathBuf::from(DEFAULT_CONFIG);
    let mut check_mode = false;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-f" => match args.next() {
                Some(path) => config = PathBuf::from(path),
                None => {
                    eprintln!("xinetd: option -f needs a file name");
                    return ExitCode::from(1);
                }
            },
            "-check" => check_mode = true,
            "-json" => json = true,
            other => eprintln!("xinetd: unknown option {other} ignored"),
        }
    }
    if check_mode {
        return ExitCode::from(check::run(&config, json));
    }
    eprintln!("xinetd: the daemon is not built yet; use -check");
    ExitCode::from(1)
}
