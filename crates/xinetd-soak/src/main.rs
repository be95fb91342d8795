//! `xinetd-soak`: issue 17's robustness scenarios against a candidate daemon and,
//! optionally, Debian's xinetd in the same run, on loopback only, bounded in count and time.
//! Prints progress on stderr and one markdown table on stdout.
#![forbid(unsafe_code)]

mod args;
mod conf;
mod daemon;
mod logs;
mod net;
mod procfs;
mod scenario;
mod table;

use std::process::ExitCode;

use daemon::{Kind, Target};
use scenario::{Ctx, Scenario};

fn main() -> ExitCode {
    match args::parse(std::env::args().skip(1)) {
        Ok(args::Parsed::Help) => {
            println!("{}{}", args::USAGE, scenario_names());
            ExitCode::SUCCESS
        }
        Ok(args::Parsed::Run(o)) => match run(&o) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xinetd-soak: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("xinetd-soak: {e}\n{}{}", args::USAGE, scenario_names());
            ExitCode::from(2)
        }
    }
}

fn scenario_names() -> String {
    Scenario::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn run(o: &args::Options) -> Result<(), String> {
    let mut targets = vec![Target {
        kind: Kind::Candidate,
        path: o.candidate.clone(),
    }];
    if let Some(x) = &o.xinetd {
        targets.push(Target {
            kind: Kind::Xinetd,
            path: x.clone(),
        });
    }
    for t in &targets {
        if !t.path.is_file() {
            return Err(format!("{}: no such daemon binary", t.path.display()));
        }
    }
    prepare_process()?;
    let root = nix::unistd::geteuid().is_root();
    let temp = tempfile::Builder::new()
        .prefix("xinetd-soak-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let base = o.keep.as_deref().unwrap_or(temp.path());
    // Old logs in a kept directory would be counted as this run's.
    if std::fs::read_dir(base).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{}: not empty", base.display()));
    }
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    // Scenario by scenario, each daemon in turn, so both meet the machine in the same state.
    for (i, s) in o.only.iter().enumerate() {
        for t in &targets {
            eprintln!(
                "[{:>6.1}s] {} on {} ...",
                started.elapsed().as_secs_f64(),
                s.name(),
                t.label()
            );
            let ctx = Ctx {
                target: t,
                scale: o.scale,
                dir: base.join(format!("{i}-{}-{}", s.name(), t.label())),
                root,
            };
            let row = s.run(&ctx);
            eprintln!(
                "{}",
                table::render(std::slice::from_ref(&row))
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            rows.push(row);
        }
    }
    println!(
        "xinetd-soak --scale {}: {} scenario(s), {:.0} s in all\n",
        o.scale,
        o.only.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", table::render(&rows));
    Ok(())
}

/// Raises the descriptor limit to the hard limit (the slow-client scenario holds thousands
/// of connections; the daemons inherit the limit) and makes this process a child subreaper,
/// so servers a daemon leaves behind become its children and can be counted and reaped.
fn prepare_process() -> Result<(), String> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|e| format!("setrlimit: {e}"))?;
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))
}
