//! The `xinetd` binary: xinetd 2.3.15.3's command line, then the daemon or `-check`.
//!
//! The binary only composes the libraries (docs/ARCHITECTURE.md):
//!
//! * [`cli`] — xinetd(8)'s options (F-800..F-811) plus `-check`/`-json`/`-v` and a few
//!   test/extension options (`-dumpfile`, `-inetd_conf`, `-ident_port`, `-hosts_allow`,
//!   `-hosts_deny`, `-pmap_port`) and `-convert-inetd` (issue 8).
//! * Issue 8: [`rpc`] (portmapper registration), [`retry`] (fork retry).
//! * [`config`] — loads the configuration with xinetd-conf and logs its diagnostics in
//!   xinetd's words; [`adapt`] turns each service of the model into the inputs of
//!   xinetd-acl (`AccessPolicy`), xinetd-limits (`ServiceLimits`), xinetd-spawn
//!   (`SpawnSpec`) and xinetd-log (`ServiceRecords` + destination), kept in a [`service`].
//! * [`admission`] — the one pipeline every request passes (sensor ban list, access_times,
//!   only_from/no_access, cps → max_load → instances → per_source → process limit,
//!   tcp_wrappers, ident), sans-I/O, with the [`admission::Hold`] that gives the limits back.
//! * [`session`] — connections served inside the daemon as state machines: inline builtins,
//!   tcpmux, the admin builtins (`servers`/`services`/`xadmin`) and `redirect`.
//! * [`daemon`] — one `mio::Poll` on one thread that only dispatches: listeners
//!   ([`listen`]), sessions, ident queries, signals through signal-hook-mio; launching
//!   servers on spawner threads ([`spawner`]), SIGCHLD reaping, timers, reload, the dumps
//!   ([`dump`]). Name lookups run on one resolver thread that wakes the poll; [`slog`] is the
//!   service log and [`dlog`] the program log.
//!
//! Run it on the bundled example:
//! `cargo run --release -p xinetd-bin -- -f examples/xinetd.conf -dontfork`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod activation;
mod adapt;
mod admission;
mod cgroup_release;
mod check;
mod cli;
mod config;
mod conn_env;
mod daemon;
mod dlog;
mod dump;
mod internal;
mod listen;
mod metrics;
mod proxied;
mod proxy_header;
mod requests;
mod retry;
mod rpc;
mod sandbox;
mod service;
mod session;
mod slog;
mod sockopt;
mod spawner;
mod tls;
mod unixsock;

use std::process::ExitCode;

use cli::{Command, Options};
use dlog::{Level, ProgramLog};

fn main() -> ExitCode {
    match cli::parse(std::env::args().skip(1)) {
        Command::Version => {
            // F-808: the version line goes to stderr, exit 0.
            eprintln!("{} {}", cli::VERSION, cli::COMPILED_OPTIONS);
            ExitCode::SUCCESS
        }
        Command::Usage(why) => {
            eprintln!("xinetd: {why}");
            eprintln!("{}", cli::USAGE);
            ExitCode::from(1)
        }
        Command::ConvertInetd {
            file,
            daemon_dir,
            xconv,
        } => ExitCode::from(convert_inetd(&file, daemon_dir, xconv)),
        Command::Run(opts) if opts.check => {
            ExitCode::from(check::run(&opts.config, opts.json, opts.verbose))
        }
        Command::Run(opts) => ExitCode::from(run(opts)),
    }
}

/// Start-up sequence of F-820, then the event loop. Returns the exit status.
fn run(mut opts: Options) -> u8 {
    for u in &opts.unknown {
        // xinetd ignores unknown options silently; we say so and go on (issue 7).
        eprintln!("xinetd: unknown option {u} ignored");
    }
    for n in &opts.notices {
        eprintln!("{n}");
    }
    // Reloads re-read the file after chdir("/") (F-820); resolve it now so a relative -f
    // keeps naming the same file (xinetd would look for it under /, F-981).
    if let Ok(abs) = std::path::absolute(&opts.config) {
        opts.config = abs;
    }
    // First, before any descriptor is opened (daemon::Notifier::new says why).
    let (mut notifier, notify_fd) =
        daemon::Notifier::new(opts.notify_fd, std::time::Instant::now());
    let mut log = match open_program_log(&opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("xinetd: msg_init failed: {e}");
            return 1;
        }
    };
    // F-820: the umask servers inherit is the start-up umask OR 022.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(old | nix::sys::stat::Mode::from_bits_truncate(0o022));
    if !opts.foreground() {
        // F-820: fork into the background; the parent exits 0 at once, the child starts a
        // new session with 0-2 on /dev/null.
        if let Err(e) = nix::unistd::daemon(true, false) {
            let e = std::io::Error::from(e);
            log.msg(
                Level::Err,
                &format!("fork failed: {}", xinetd_log::explain_errno(&e)),
            );
            return 1;
        }
    }
    write_pidfile(&opts, &mut log);
    if let Err(why) = notify_fd {
        log.msg(Level::Err, &why);
    }
    // Issue 17: the daemon holds in-loop connections itself; servers keep their own limit.
    if let Some((before, after)) = daemon::raise_nofile() {
        log.msg(
            Level::Debug,
            &format!("file descriptor limit raised from {before} to {after}"),
        );
    }
    // Sockets passed by a service manager (LISTEN_FDS), adopted by the services they match.
    let inherited = activation::Pool::from_env();
    // The environment servers inherit (F-410), less the service manager's protocol variables.
    let startup_env = xinetd_spawn::Environment::from_vars(daemon::without_manager_variables(
        std::env::vars_os(),
    ));
    let loaded = match config::load(&opts, &mut log, &startup_env) {
        Ok(s) => s.share(),
        Err(failure) => {
            match failure {
                // xinetd 2.3.15.3: ERROR `A fatal error ...` (logged with the diagnostics),
                // then WARNING `Exiting...`; no CRITICAL.
                config::Failure::FatalDefaults => log.msg(Level::Warning, "Exiting..."),
                config::Failure::Unusable => {
                    log.critical("init_services", "couldn't get configuration. Exiting...")
                }
            }
            if let Some(p) = &opts.pidfile {
                let _ = std::fs::remove_file(p);
            }
            notifier.failed("couldn't get configuration", EINVAL);
            return 1;
        }
    };
    let mut d =
        match daemon::Daemon::new(opts.clone(), log, startup_env, loaded, notifier, inherited) {
            Ok(d) => d,
            Err(e) => {
                eprintln!(
                    "xinetd: cannot set up the event loop: {}",
                    xinetd_log::explain_errno(&e)
                );
                return 1;
            }
        };
    let _ = std::env::set_current_dir("/");
    if opts.debug {
        // F-800, F-852: -d shows the parsed configuration before start-up.
        eprint!("{}", d.config_dump());
    }
    let n = d.available();
    d.log().msg(
        Level::Notice,
        &format!(
            "{} started with {} options compiled in.",
            cli::VERSION,
            cli::COMPILED_OPTIONS
        ),
    );
    if n == 0 && !opts.stayalive {
        d.log().critical("init_services", "no services. Exiting...");
        if let Some(p) = &opts.pidfile {
            let _ = std::fs::remove_file(p);
        }
        d.notifier().failed("no services", EINVAL);
        return 1;
    }
    d.log().msg(
        Level::Notice,
        &format!(
            "Started working: {n} available service{}",
            if n == 1 { "" } else { "s" }
        ),
    );
    d.ready();
    d.run().0
}

/// The `ERRNO=` a service manager is told when start-up fails for want of a usable
/// configuration (EINVAL, "invalid argument").
const EINVAL: u32 = 22;

/// `-convert-inetd`: the converted entries on stdout, diagnostics on stderr as
/// `file:line:col: ...`; exit 1 when the file is unreadable or a line could not be converted.
fn convert_inetd(file: &std::path::Path, daemon_dir: Option<String>, xconv: bool) -> u8 {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "xinetd: cannot read {}: {}",
                file.display(),
                xinetd_log::explain_errno(&e)
            );
            return 1;
        }
    };
    let options = xinetd_conf::ConvertOptions::new()
        .style(if xconv {
            xinetd_conf::inetd::ConvertStyle::Xconv
        } else {
            xinetd_conf::inetd::ConvertStyle::Itox
        })
        .daemon_dir(daemon_dir);
    let conv = xinetd_conf::convert_inetd(&bytes, &file.to_string_lossy(), &options);
    print!("{}", conv.text);
    for w in &conv.warnings {
        eprintln!("{w}");
    }
    for e in &conv.errors {
        eprintln!("{e}");
    }
    u8::from(!conv.is_ok())
}

fn open_program_log(opts: &Options) -> Result<ProgramLog, String> {
    use xinetd_log::{DaemonLog, Facility, StderrStyle};
    let log = if opts.debug {
        // -d: the debug layout on stderr (xinetd writes it to /dev/tty, F-703).
        DaemonLog::stderr(StderrStyle::Debug)
    } else {
        match &opts.log {
            Some(cli::ProgramLog::File(p)) => {
                DaemonLog::file(p).map_err(|_| "can't open log file".to_string())?
            }
            Some(cli::ProgramLog::Syslog(f)) => match f.parse::<Facility>() {
                Ok(fac) => DaemonLog::syslog(fac),
                Err(_) => {
                    let mut l = DaemonLog::syslog(Facility::Daemon);
                    let _ = l.log(
                        xinetd_log::Level::Err,
                        "main",
                        &format!("Bad syslog facility: {f}"),
                    );
                    l
                }
            },
            Some(cli::ProgramLog::StderrJson) => DaemonLog::stderr_json(),
            Some(cli::ProgramLog::Journal) => {
                let path = xinetd_log::journal_socket_path();
                if xinetd_log::journal_present(&path) {
                    DaemonLog::journal(Facility::Daemon, &path)
                } else {
                    // No journald: where the messages go without -journal, and one
                    // warning there saying so.
                    let mut l = default_program_log(opts);
                    let _ = l.log(
                        xinetd_log::Level::Warning,
                        "main",
                        &format!(
                            "journal socket {} is absent: the program log goes to {} instead",
                            path.display(),
                            if opts.dontfork { "stderr" } else { "syslog" }
                        ),
                    );
                    l
                }
            }
            None => default_program_log(opts),
        }
    };
    Ok(ProgramLog::new(log))
}

/// Foreground without a destination: stderr in the -filelog layout (for containers); in the
/// background xinetd's default, syslog `daemon`.
fn default_program_log(opts: &Options) -> xinetd_log::DaemonLog {
    use xinetd_log::{DaemonLog, Facility, StderrStyle};
    if opts.dontfork {
        DaemonLog::stderr(StderrStyle::FileLog)
    } else {
        DaemonLog::syslog(Facility::Daemon)
    }
}

/// F-803: unlink, create exclusively with mode 0644, write `<pid>\n`; failures are only
/// logged at DEBUG, as xinetd does.
fn write_pidfile(opts: &Options, log: &mut ProgramLog) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = &opts.pidfile else {
        return;
    };
    let _ = std::fs::remove_file(path);
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .and_then(|mut f| writeln!(f, "{}", std::process::id()));
    if let Err(e) = r {
        log.msg(
            Level::Debug,
            &format!(
                "couldn't write pidfile {}: {}",
                path.display(),
                xinetd_log::explain_errno(&e)
            ),
        );
    }
}
