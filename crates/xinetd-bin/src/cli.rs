//! The command line of xinetd(8) (spec §9.1, F-800..F-811), plus `-check`/`-json`.
//!
//! Options are exact single-dash words, as in xinetd. Unlike xinetd, an unknown option is
//! *reported* on stderr before start-up continues (xinetd ignores it silently; Debian's init
//! script passes the non-existent `-inetd_ipv6`, F-983, so start-up must continue).

use std::path::PathBuf;

/// Default configuration file, as xinetd(8).
pub const DEFAULT_CONFIG: &str = "/etc/xinetd.conf";

/// The version text xinetd prints for `-version` and in its start-up notice (F-009, F-010).
/// We are built with load-average support (`max_load`) and tcp_wrappers ([`crate::admission::wrap`]).
pub const VERSION: &str = "2.3.15.3";

/// Compiled-in options, in xinetd's order and spelling (F-010), as Debian's build prints them.
pub const COMPILED_OPTIONS: &str = "libwrap loadavg";

/// xinetd's usage text (spec §9.1), printed on stderr before exit status 1.
pub const USAGE: &str = "Usage: xinetd [-d] [-f config_file] [-filelog filename] \
[-syslog facility] [-reuse] [-limit proc_limit] [-pidfile filename] [-logprocs limit] \
[-shutdownprocs limit] [-cc interval]";

/// Where the daemon's own messages go (F-700, F-802).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramLog {
    /// syslog with this facility name (default `daemon`).
    Syslog(String),
    /// `-filelog FILE`: append to the file.
    File(PathBuf),
    /// `-journal` (extension): journald's native protocol, facility `daemon`, on
    /// `$XINETD_JOURNAL_SOCKET` or `/run/systemd/journal/socket`.
    Journal,
    /// `-stderr_json` (extension): one JSON object per message on standard error.
    StderrJson,
}

/// What `xinetd ARGS` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-d`: debug mode, foreground, messages on the terminal (F-800).
    pub debug: bool,
    /// `-f FILE` (F-801).
    pub config: PathBuf,
    /// `-filelog` / `-syslog` (F-802), `-journal` / `-stderr_json` (extensions); `None` =
    /// syslog facility `daemon` (stderr with `-dontfork`).
    pub log: Option<ProgramLog>,
    /// `-pidfile FILE` (F-803).
    pub pidfile: Option<PathBuf>,
    /// `-dontfork` (F-804); implies `stayalive`.
    pub dontfork: bool,
    /// `-stayalive` (F-805).
    pub stayalive: bool,
    /// `-limit N` (F-806); 0 = no limit.
    pub limit: u32,
    /// `-logprocs N` (F-807), default 15.
    pub logprocs: u32,
    /// `-inetd_compat` (F-809).
    pub inetd_compat: bool,
    /// `-cc N` (F-810): consistency check interval in seconds.
    pub cc: Option<u32>,
    /// `-ident_port N` (extension, for tests): the port asked for USERID lookups (113).
    pub ident_port: u16,
    /// `-inetd_conf FILE` (extension): the inetd.conf `-inetd_compat` reads (tests).
    pub inetd_conf: Option<PathBuf>,
    /// `-dumpfile FILE` (extension): where SIGUSR1 writes (default `/var/run/xinetd.dump`).
    pub dumpfile: Option<PathBuf>,
    /// `-hosts_allow FILE` (extension): the tcp_wrappers allow file (`/etc/hosts.allow`).
    pub hosts_allow: PathBuf,
    /// `-hosts_deny FILE` (extension): the tcp_wrappers deny file (`/etc/hosts.deny`).
    pub hosts_deny: PathBuf,
    /// `-pmap_port N` (extension, for tests): the UDP port of the portmapper on 127.0.0.1
    /// that RPC services register with (111).
    pub pmap_port: u16,
    /// `-notify_fd N` (extension, s6's `notification-fd`): a newline is written to descriptor
    /// N once the daemon is ready, then N is closed.
    pub notify_fd: Option<i32>,
    /// `-check` (issue 2).
    pub check: bool,
    /// `-json` with `-check`.
    pub json: bool,
    /// `-v` with `-check`: print `info` diagnostics too.
    pub verbose: bool,
    /// Unknown options seen (reported, then ignored).
    pub unknown: Vec<String>,
    /// Notices for stderr that do not stop start-up (e.g. `-shutdownprocs`, F-811).
    pub notices: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            debug: false,
            config: PathBuf::from(DEFAULT_CONFIG),
            log: None,
            pidfile: None,
            dontfork: false,
            stayalive: false,
            limit: 0,
            logprocs: 15,
            inetd_compat: false,
            cc: None,
            dumpfile: None,
            hosts_allow: PathBuf::from(crate::admission::wrap::HOSTS_ALLOW),
            hosts_deny: PathBuf::from(crate::admission::wrap::HOSTS_DENY),
            pmap_port: 111,
            inetd_conf: None,
            ident_port: 113,
            notify_fd: None,
            check: false,
            json: false,
            verbose: false,
            unknown: Vec::new(),
            notices: Vec::new(),
        }
    }
}

/// What the command line asks for besides running.
// Parsed once at start-up: boxing `Options` would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run (daemon or `-check`) with these options.
    Run(Options),
    /// `-version`: print the version line on stderr, exit 0 (F-808).
    Version,
    /// `-convert-inetd FILE [-daemon_dir DIR] [-xconv]` (extension): print FILE converted
    /// to xinetd.conf entries, as `itox` (or `xconv.pl` with `-xconv`) would.
    ConvertInetd {
        /// The inetd.conf to convert.
        file: PathBuf,
        /// itox's `-daemon_dir`.
        daemon_dir: Option<String>,
        /// `xconv.pl` layout instead of itox's.
        xconv: bool,
    },
    /// Bad command line: print [`USAGE`] on stderr, exit 1. The string says what was wrong
    /// (xinetd prints only the usage; we add the reason on the line before).
    Usage(String),
}

impl Options {
    /// True when the daemon stays in the foreground (`-d` or `-dontfork`, F-800, F-804).
    pub fn foreground(&self) -> bool {
        self.debug || self.dontfork
    }
}

/// Why parsing stopped early.
enum Stop {
    Version,
    Usage(String),
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Command {
    let mut o = Options::default();
    let mut args = args.into_iter();
    let mut saw_syslog = false;
    let mut saw_filelog = false;
    // -journal / -stderr_json: like -syslog and -filelog, one program log destination.
    let mut saw_structured = 0u32;
    let mut convert: Option<PathBuf> = None;
    let mut daemon_dir: Option<String> = None;
    let mut xconv = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<String, Stop> {
            args.next()
                .ok_or_else(|| Stop::Usage(format!("option {name} needs an argument")))
        };
        let number = |name: &str, v: String| -> Result<u32, Stop> {
            v.parse::<u32>()
                .map_err(|_| Stop::Usage(format!("option {name}: bad number '{v}'")))
        };
        let step: Result<(), Stop> = (|| {
            match arg.as_str() {
                "-d" => o.debug = true,
                "-f" => o.config = PathBuf::from(value("-f")?),
                "-filelog" => {
                    saw_filelog = true;
                    o.log = Some(ProgramLog::File(PathBuf::from(value("-filelog")?)));
                }
                "-syslog" => {
                    saw_syslog = true;
                    o.log = Some(ProgramLog::Syslog(value("-syslog")?));
                }
                "-journal" => {
                    saw_structured += 1;
                    o.log = Some(ProgramLog::Journal);
                }
                "-stderr_json" => {
                    saw_structured += 1;
                    o.log = Some(ProgramLog::StderrJson);
                }
                "-reuse" => {} // F-811: accepted, no effect.
                "-limit" => o.limit = number("-limit", value("-limit")?)?,
                "-pidfile" => o.pidfile = Some(PathBuf::from(value("-pidfile")?)),
                "-logprocs" => o.logprocs = number("-logprocs", value("-logprocs")?)?,
                "-shutdownprocs" => {
                    number("-shutdownprocs", value("-shutdownprocs")?)?;
                    o.notices
                        .push("The shutdownprocs option has been deprecated.".to_string());
                }
                "-cc" => o.cc = Some(number("-cc", value("-cc")?)?),
                "-dontfork" => {
                    o.dontfork = true;
                    o.stayalive = true;
                }
                "-stayalive" => o.stayalive = true,
                "-dumpfile" => o.dumpfile = Some(PathBuf::from(value("-dumpfile")?)),
                "-inetd_compat" => o.inetd_compat = true,
                "-ident_port" => {
                    let v = value("-ident_port")?;
                    o.ident_port = v.parse().map_err(|_| {
                        Stop::Usage(format!("option -ident_port: bad number '{v}'"))
                    })?;
                }
                "-inetd_conf" => o.inetd_conf = Some(PathBuf::from(value("-inetd_conf")?)),
                "-hosts_allow" => o.hosts_allow = PathBuf::from(value("-hosts_allow")?),
                "-hosts_deny" => o.hosts_deny = PathBuf::from(value("-hosts_deny")?),
                "-pmap_port" => {
                    let v = value("-pmap_port")?;
                    o.pmap_port = v
                        .parse()
                        .map_err(|_| Stop::Usage(format!("option -pmap_port: bad number '{v}'")))?;
                }
                "-notify_fd" => {
                    let n: u32 = number("-notify_fd", value("-notify_fd")?)?;
                    if n < 3 {
                        return Err(Stop::Usage(
                            "-notify_fd takes a descriptor above 2".to_string(),
                        ));
                    }
                    o.notify_fd = i32::try_from(n).ok();
                }
                "-convert-inetd" => convert = Some(PathBuf::from(value("-convert-inetd")?)),
                "-daemon_dir" => daemon_dir = Some(value("-daemon_dir")?),
                "-xconv" => xconv = true,
                "-version" => return Err(Stop::Version),
                "-check" => o.check = true,
                "-json" => o.json = true,
                "-v" => o.verbose = true,
                "-" => return Err(Stop::Usage("'-' is not an option".to_string())),
                other if other.starts_with('-') => o.unknown.push(other.to_string()),
                other => return Err(Stop::Usage(format!("unexpected argument '{other}'"))),
            }
            Ok(())
        })();
        match step {
            Ok(()) => {}
            Err(Stop::Version) => return Command::Version,
            Err(Stop::Usage(e)) => return Command::Usage(e),
        }
        if saw_syslog && saw_filelog {
            return Command::Usage("-syslog and -filelog cannot be used together".to_string());
        }
        if saw_structured > 1 || (saw_structured == 1 && (saw_syslog || saw_filelog)) {
            return Command::Usage(
                "-syslog, -filelog, -journal and -stderr_json cannot be used together".to_string(),
            );
        }
    }
    if let Some(file) = convert {
        return Command::ConvertInetd {
            file,
            daemon_dir,
            xconv,
        };
    }
    if daemon_dir.is_some() || xconv {
        return Command::Usage("-daemon_dir and -xconv go with -convert-inetd".to_string());
    }
    Command::Run(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Command {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_match_xinetd() {
        let Command::Run(o) = p(&[]) else {
            panic!("no args must run")
        };
        assert_eq!(o.config, PathBuf::from("/etc/xinetd.conf"));
        assert_eq!(o.logprocs, 15);
        assert!(!o.foreground());
    }

    #[test]
    fn dontfork_implies_stayalive() {
        let Command::Run(o) = p(&["-dontfork", "-f", "x.conf", "-filelog", "l"]) else {
            panic!("valid line")
        };
        assert!(o.stayalive && o.foreground());
        assert_eq!(o.log, Some(ProgramLog::File("l".into())));
    }

    #[test]
    fn unknown_options_are_collected_and_startup_continues() {
        let Command::Run(o) = p(&["-inetd_ipv6", "-f", "c"]) else {
            panic!("unknown options do not stop start-up")
        };
        assert_eq!(o.unknown, vec!["-inetd_ipv6".to_string()]);
        assert_eq!(o.config, PathBuf::from("c"));
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &["-f"][..],
            &["-limit", "x"],
            &["-"],
            &["foo"],
            &["-syslog", "daemon", "-filelog", "f"],
        ] {
            assert!(matches!(p(bad), Command::Usage(_)), "{bad:?}");
        }
    }

    #[test]
    fn structured_program_logs_exclude_the_others() {
        let Command::Run(o) = p(&["-journal"]) else {
            panic!("-journal runs");
        };
        assert_eq!(o.log, Some(ProgramLog::Journal));
        let Command::Run(o) = p(&["-stderr_json", "-dontfork"]) else {
            panic!("-stderr_json runs");
        };
        assert_eq!(o.log, Some(ProgramLog::StderrJson));
        assert!(matches!(
            p(&["-journal", "-syslog", "daemon"]),
            Command::Usage(_)
        ));
        assert!(matches!(
            p(&["-journal", "-stderr_json"]),
            Command::Usage(_)
        ));
    }

    #[test]
    fn notify_fd_takes_a_descriptor_above_stderr() {
        let Command::Run(o) = p(&["-notify_fd", "3"]) else {
            panic!("valid")
        };
        assert_eq!(o.notify_fd, Some(3));
        for bad in ["2", "x"] {
            assert!(
                matches!(p(&["-notify_fd", bad]), Command::Usage(_)),
                "-notify_fd {bad}"
            );
        }
    }

    #[test]
    fn issue8_options() {
        let Command::Run(o) = p(&[
            "-hosts_allow",
            "a",
            "-hosts_deny",
            "d",
            "-pmap_port",
            "1111",
        ]) else {
            panic!("valid")
        };
        assert_eq!(
            (o.hosts_allow, o.hosts_deny, o.pmap_port),
            (PathBuf::from("a"), PathBuf::from("d"), 1111)
        );
        assert_eq!(
            p(&["-convert-inetd", "inetd.conf", "-xconv"]),
            Command::ConvertInetd {
                file: PathBuf::from("inetd.conf"),
                daemon_dir: None,
                xconv: true
            }
        );
        assert!(matches!(p(&["-xconv"]), Command::Usage(_)));
        assert!(matches!(p(&["-pmap_port", "x"]), Command::Usage(_)));
    }

    #[test]
    fn version_and_numbers() {
        assert_eq!(p(&["-f", "c", "-version"]), Command::Version);
        let Command::Run(o) = p(&["-limit", "7", "-cc", "30", "-logprocs", "3"]) else {
            panic!("valid")
        };
        assert_eq!((o.limit, o.cc, o.logprocs), (7, Some(30), 3));
    }
}
