//! Differential harness: the same generated configuration served by Debian's xinetd 2.3.15.3
//! (`/usr/sbin/xinetd`) and by ours on different loopback ports, identical clients driven at
//! both, and the observations (bytes, log records, what a probe server reports about its
//! process) normalised and compared. Scenarios are table rows ([`Scenario`]); a row that
//! records a deliberate difference names its `docs/compat.md` entry and asserts our side.
//!
//! Included by the `differential_*.rs` files with `#[path = "util/diff.rs"] mod diff;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// Waits whose timeout is an outcome to compare, not a failure.
pub use xinetd_test_support::wait_for;
/// Debian's xinetd, the oracle.
pub use xinetd_test_support::REAL_XINETD as REAL;
/// The binary under test.
pub const OURS: &str = env!("CARGO_BIN_EXE_xinetd");
/// docs/compat.md, where every deliberate difference is a named entry.
pub const COMPAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/compat.md");

/// Why the differential suite cannot run here, if it cannot (printed by the caller).
pub fn skip_reason() -> Option<String> {
    if let Some(why) = xinetd_test_support::real_xinetd_absent() {
        return Some(format!("skipped: {why}"));
    }
    if !xinetd_test_support::is_root() {
        return Some(
            "skipped: the differential suite needs root (servers run as root/nobody, the real \
             xinetd's dump needs a private mount of /run)"
                .into(),
        );
    }
    None
}

/// Which daemon a [`Side`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Debian's /usr/sbin/xinetd.
    Real,
    /// Ours.
    Ours,
}

/// The probe server: a /bin/sh script that reports its own process state from /proc/$$.
/// `-o FILE` writes the report to FILE instead of standard output (dgram services);
/// `-r` first reads one line from standard input and reports it.
const PROBE: &str = r#"#!/bin/sh
line=
while [ $# -gt 0 ]; do
  case "$1" in
    -o) exec >"$2"; shift 2;;
    -r) read -r line; shift;;
    *) shift;;
  esac
done
printf 'cmdline:'; /usr/bin/tr '\000' ' ' < /proc/$$/cmdline; echo
[ -n "$line" ] && echo "stdin: $line"
/usr/bin/tr '\000' '\n' < /proc/$$/environ | /usr/bin/sort | /bin/sed 's/^/env: /'
# Read by the shell itself: no fork in flight blocks signals while it is read.
while read -r k v; do
  case "$k" in Uid:|Gid:|Groups:|Umask:|SigBlk:|SigIgn:|CapEff:|NoNewPrivs:) echo "$k $v";; esac
done < /proc/$$/status
set -- $(/bin/cat /proc/$$/stat)
echo "nice: ${19}"
[ "$5" = $$ ] && echo "pgrp: self" || echo "pgrp: other"
[ "$6" = $$ ] && echo "session: self" || echo "session: other"
echo "cwd: $(/bin/readlink /proc/$$/cwd)"
/bin/sed 's/  */ /g; s/ $//' /proc/$$/limits | /bin/sed 's/^/limit: /'
for f in /proc/$$/fd/*; do
  t=$(/bin/readlink "$f")
  case "$t" in socket:*) t=socket;; pipe:*) t=pipe;; esac
  echo "fd: ${f##*/} $t"
done
echo "end"
"#;

/// A tcp `wait = yes` server (perl-base is in every Debian): accepts one connection on the
/// listening socket it gets as fd 0, answers one line, exits. Written as DIR/acceptor.
const ACCEPTOR: &str = "#!/usr/bin/perl\n\
use Socket;\n\
accept(my $c, STDIN) or die \"accept: $!\";\n\
select($c); $| = 1;\n\
print \"accepted\\n\";\n\
my $line = <$c>;\n\
print \"got: $line\";\n\
close $c;\n";

/// One daemon with its own temp directory, ports and probe.
pub struct Side {
    pub which: Which,
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub ports: Vec<u16>,
    pub conf: PathBuf,
}

impl Side {
    /// Writes the configuration (`@DIR@`, `@PROBE@`, `@P0@`.. expanded) and the probe, and
    /// starts the daemon as `-dontfork -filelog DIR/prog.log -pidfile DIR/pid -f DIR/xinetd.conf`.
    /// The real xinetd runs in a private mount namespace with DIR/run on /run, so its
    /// SIGUSR1 dump (always `/var/run/xinetd.dump`) lands in DIR/run.
    /// `hosts` are the texts of hosts.allow and hosts.deny for libwrap: ours reads them through
    /// `-hosts_allow`/`-hosts_deny`, the real xinetd sees them bind-mounted on /etc.
    /// `files` are written (expanded) into DIR before the start (included configuration
    /// files, banners).
    pub fn start(
        which: Which,
        template: &str,
        nports: usize,
        hosts: (&str, &str),
        files: &[(&'static str, String)],
        extra: &[&str],
    ) -> Side {
        let dir = tempfile::tempdir().expect("tempdir");
        // The probe must be reachable by `user = nobody`.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod dir");
        std::fs::create_dir(dir.path().join("run")).expect("run dir");
        let probe = dir.path().join("probe");
        std::fs::write(&probe, PROBE).expect("write probe");
        std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755))
            .expect("chmod probe");
        let acceptor = dir.path().join("acceptor");
        std::fs::write(&acceptor, ACCEPTOR).expect("write acceptor");
        std::fs::set_permissions(&acceptor, std::fs::Permissions::from_mode(0o755))
            .expect("chmod acceptor");
        let ports: Vec<u16> = (0..nports).map(|_| crate::util::free_port()).collect();
        let conf = dir.path().join("xinetd.conf");
        std::fs::write(&conf, expand(template, dir.path(), &ports)).expect("write config");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("dir for a file");
            }
            std::fs::write(&path, expand(text, dir.path(), &ports)).expect("write a file");
        }
        std::fs::write(dir.path().join("hosts.allow"), hosts.0).expect("hosts.allow");
        std::fs::write(dir.path().join("hosts.deny"), hosts.1).expect("hosts.deny");
        // xinetd's libwrap looks clients' names up (127.0.0.2 is not in /etc/hosts): its DNS
        // queries go to loopback, where nothing answers, never off the machine.
        std::fs::write(dir.path().join("resolv.conf"), LOOPBACK_RESOLV).expect("resolv.conf");
        let d = dir.path();
        let mut args: Vec<String> = vec![
            "-dontfork".into(),
            "-filelog".into(),
            d.join("prog.log").display().to_string(),
            "-pidfile".into(),
            d.join("pid").display().to_string(),
            "-f".into(),
            conf.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut cmd = match which {
            Which::Real => {
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "sh", "-c"])
                    .arg(format!(
                        "mount --bind \"$0\" /run || exit 1; \
                         mount --bind \"$0/../resolv.conf\" /etc/resolv.conf || exit 1; \
                         for f in allow deny; do \
                           [ ! -e /etc/hosts.$f ] || mount --bind \"$0/../hosts.$f\" /etc/hosts.$f || exit 1; \
                         done; \
                         unset PWD OLDPWD; exec {REAL} \"$@\"",
                    ))
                    .arg(d.join("run"));
                c
            }
            Which::Ours => {
                args.push("-dumpfile".into());
                args.push(d.join("run/xinetd.dump").display().to_string());
                for f in ["allow", "deny"] {
                    args.push(format!("-hosts_{f}"));
                    args.push(d.join(format!("hosts.{f}")).display().to_string());
                }
                Command::new(OURS)
            }
        };
        // A process group of its own: a daemon that signals its group (xinetd on some exits)
        // must not reach the test runner.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args(&args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C")
            .env("XDIFF", "inherited")
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start daemon");
        Side {
            which,
            child,
            dir,
            ports,
            conf,
        }
    }

    /// Replaces the configuration (for a reload).
    pub fn rewrite(&self, template: &str) {
        std::fs::write(&self.conf, self.expand(template)).expect("rewrite config");
    }

    /// `@DIR@`, `@PROBE@` and `@Pn@` replaced by this side's values.
    pub fn expand(&self, template: &str) -> String {
        expand(template, self.dir.path(), &self.ports)
    }

    /// The reverse of [`Side::expand`], for comparing texts of both sides.
    pub fn normalise(&self, text: &str) -> String {
        let d = self.dir.path().display().to_string();
        // Our `-dumpfile` stands for the real one's fixed /var/run/xinetd.dump.
        let mut t = text
            .replace(&format!("{d}/run/xinetd.dump"), "/var/run/xinetd.dump")
            .replace(&d, "@DIR@");
        for (i, p) in self.ports.iter().enumerate() {
            t = replace_word(&t, &p.to_string(), &format!("@P{i}@"));
        }
        t
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn port(&self, i: usize) -> u16 {
        self.ports[i]
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Text of a file in the temp dir ("" when absent).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Waits (bounded) for `Started working` or an exit; false if neither came.
    pub fn wait_started(&mut self) -> bool {
        wait_for(10, || {
            self.read("prog.log").contains("Started working")
                || matches!(self.child.try_wait(), Ok(Some(_)))
        })
    }

    pub fn signal(&self, sig: Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// Program log records: `LEVEL: text`, without stamp and pid, normalised.
    pub fn prog_records(&self) -> Vec<String> {
        self.read("prog.log")
            .lines()
            .map(|l| {
                let r = l.split_once("]: ").map(|(_, r)| r).unwrap_or(l);
                normalise_record(&self.normalise(r))
            })
            .collect()
    }

    /// FILE log records of a service log: without the stamp, pids and durations normalised.
    pub fn log_records(&self, name: &str) -> Vec<String> {
        self.read(name)
            .lines()
            .map(|l| {
                // `YY/M/D@HH:MM:SS: RECORD` (a continuation line has no stamp).
                let r = match l.split_once(": ") {
                    Some((stamp, r)) if stamp.contains('@') => r,
                    _ => l,
                };
                normalise_record(&self.normalise(r))
            })
            .collect()
    }

    /// Pids of the processes that descend from the daemon.
    pub fn descendants(&self) -> Vec<i32> {
        descendants_of(self.pid())
    }

    /// The dump file's text.
    pub fn dump(&self) -> String {
        self.read("run/xinetd.dump")
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        // Servers first (the real xinetd leaves external ones running on exit, F-842), then
        // the daemon, by pid; bounded waits.
        for _ in 0..3 {
            let kids = self.descendants();
            if kids.is_empty() {
                break;
            }
            for k in kids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(k), Signal::SIGKILL);
            }
            wait_for(2, || self.descendants().is_empty());
        }
        if let Ok(None) = self.child.try_wait() {
            self.signal(Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn expand(template: &str, dir: &Path, ports: &[u16]) -> String {
    let d = dir.display().to_string();
    let mut t = template
        .replace("@PROBE@", &format!("{d}/probe"))
        .replace("@DIR@", &d);
    for (i, p) in ports.iter().enumerate().rev() {
        t = t.replace(&format!("@P{i}@"), &p.to_string());
    }
    t
}

/// All processes whose parent chain leads to `root` (from /proc).
pub fn descendants_of(root: i32) -> Vec<i32> {
    let mut parent: BTreeMap<i32, i32> = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) S ppid ...`; comm may hold spaces, so split after the last ')'.
            if let Some((_, rest)) = stat.rsplit_once(')') {
                if let Some(pp) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                    parent.insert(pid, pp);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (&pid, _) in parent.iter() {
        let mut p = pid;
        for _ in 0..64 {
            match parent.get(&p) {
                Some(&pp) if pp == root => {
                    out.push(pid);
                    break;
                }
                Some(&pp) if pp > 1 => p = pp,
                _ => break,
            }
        }
    }
    out
}

/// Replaces `word` where it is not part of a longer run of digits.
fn replace_word(text: &str, word: &str, by: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(word) {
            let before = i == 0 || !b[i - 1].is_ascii_digit();
            let after = b.get(i + word.len()).is_none_or(|c| !c.is_ascii_digit());
            if before && after {
                out.push_str(by);
                i += word.len();
                continue;
            }
        }
        let ch = text[i..].chars().next().expect("char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// `pid=123` → `pid=N`, `duration=4(sec)` → `duration=N(sec)`, `server 123` → `server N`.
pub fn normalise_record(r: &str) -> String {
    let words: Vec<String> = r
        .split(' ')
        .map(|w| {
            for key in ["pid=", "duration="] {
                if let Some(v) = w.strip_prefix(key) {
                    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
                    if digits > 0 {
                        return format!("{key}N{}", &v[digits..]);
                    }
                }
            }
            w.to_string()
        })
        .collect();
    let mut out = words.join(" ");
    // `Sending signal 9 to S server 1234`, `unknown child process 1234 died`.
    for marker in [" server ", "child process "] {
        if let Some(i) = out.find(marker) {
            let start = i + marker.len();
            let n = out[start..].bytes().take_while(u8::is_ascii_digit).count();
            if n > 0 {
                out.replace_range(start..start + n, "N");
            }
        }
    }
    out
}

/// Where a client connects from.
#[derive(Debug, Clone, Copy)]
pub enum Src {
    /// 127.0.0.x to 127.0.0.1.
    V4(u8),
    /// ::1 to ::1.
    V6,
}

impl Src {
    pub fn label(self) -> String {
        match self {
            Src::V4(x) => format!("127.0.0.{x}"),
            Src::V6 => "::1".into(),
        }
    }
    fn pair(self, port: u16) -> (SocketAddr, SocketAddr) {
        match self {
            Src::V4(x) => (
                SocketAddr::from((Ipv4Addr::new(127, 0, 0, x), 0)),
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            ),
            Src::V6 => (
                SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
            ),
        }
    }
}

/// Connects from `src`; Err names what failed.
pub fn connect(src: Src, port: u16) -> Result<TcpStream, String> {
    let (from, to) = src.pair(port);
    let dom = if from.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let sock = socket2::Socket::new(dom, socket2::Type::STREAM, None).map_err(|e| e.to_string())?;
    sock.bind(&from.into()).map_err(|e| format!("bind: {e}"))?;
    sock.connect_timeout(&to.into(), Duration::from_secs(3))
        .map_err(|e| format!("connect: {:?}", e.kind()))?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(4)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// Reads until EOF, an error or 1 MiB; the outcome as text: `bytes "..."` plus `+eof`,
/// `+reset` or `+timeout`.
pub fn read_outcome(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let end = loop {
        match s.read(&mut buf) {
            Ok(0) => break "eof",
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 1 << 20 {
                    break "limit";
                }
            }
            // FIN or RST after the last byte depends on whether the peer had read the
            // client's bytes when it closed: a race on both sides, so both count as the end.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "eof",
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break "timeout"
            }
            Err(_) => break "error",
        }
    };
    // A refusal is a close without a byte.
    if out.is_empty() && end == "eof" {
        return "closed".into();
    }
    match std::str::from_utf8(&out) {
        Ok(text) if out.len() <= 8192 && !text.contains('\r') => format!("{text}+{end}"),
        _ => format!("{} +{end}", show(&out)),
    }
}

/// Bytes as an escaped string (long ones summarised).
pub fn show(b: &[u8]) -> String {
    if b.len() > 8192 {
        let sum: u64 = b.iter().map(|&x| x as u64).sum();
        return format!("<{} bytes, sum {sum}, head {}>", b.len(), show(&b[..64]));
    }
    format!("{:?}", String::from_utf8_lossy(b))
}

/// Connect from `src`, send `payload`, half-close, read to the end.
pub fn tcp(src: Src, port: u16, payload: &[u8]) -> String {
    match connect(src, port) {
        Ok(mut s) => {
            if !payload.is_empty() && s.write_all(payload).is_err() {
                return format!("write failed; {}", read_outcome(&mut s));
            }
            let _ = s.shutdown(std::net::Shutdown::Write);
            read_outcome(&mut s)
        }
        Err(e) => e,
    }
}

/// One datagram from `src`; the reply or `no reply`.
pub fn udp(src: Src, port: u16, payload: &[u8], wait_ms: u64) -> String {
    let (from, to) = src.pair(port);
    let Ok(u) = UdpSocket::bind(from) else {
        return "bind failed".into();
    };
    let _ = u.set_read_timeout(Some(Duration::from_millis(wait_ms)));
    if u.send_to(payload, to).is_err() {
        return "send failed".into();
    }
    let mut buf = vec![0u8; 65536];
    match u.recv_from(&mut buf) {
        Ok((n, _)) => show(&buf[..n]),
        Err(_) => "no reply".into(),
    }
}

/// What the clients of a scenario saw on one side: ordered `key → value` pairs.
#[derive(Default, Debug)]
pub struct Obs {
    pub items: Vec<(String, String)>,
}

impl Obs {
    pub fn put(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.items.push((key.into(), value.into()));
    }
}

/// Which log files a scenario compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logs {
    /// Only the client observations.
    None,
    /// Plus the service FILE log `svc.log`.
    Svc,
    /// Plus the program log (`-filelog`).
    Prog,
    /// Both logs.
    Both,
}

/// A difference we make on purpose: the compat.md entry (its bold title) and, per
/// observation key, a text our value must contain (`!text`: must not contain).
pub struct Deliberate {
    pub entry: &'static str,
    pub ours: &'static [(&'static str, &'static str)],
}

/// A table row.
pub struct Scenario {
    pub name: &'static str,
    /// Configuration template (`@DIR@`, `@PROBE@`, `@P0@`...).
    pub conf: String,
    pub ports: usize,
    /// The client script, run against each side in turn.
    pub client: fn(&Side, &mut Obs),
    pub logs: Logs,
    /// Compare log records as multisets. The default: even for clients that run one after
    /// the other, the real xinetd writes an `EXIT` when it gets to reap the server, which
    /// may come after the next client's `START`.
    pub unordered: bool,
    pub deliberate: Option<Deliberate>,
    /// The real xinetd checks addresses in the forked child of an external or forking
    /// internal service, so a refusal there is `START`, `FAIL`, `EXIT status=0`; ours logs
    /// the `FAIL` alone (docs/compat.md "Order of checks"). When set, the real side's extra
    /// `START`/`EXIT` of each refused client are removed before comparing.
    pub check_in_child: bool,
    /// Checks of the oracle itself: (key, text the real side's value must contain), so that
    /// a row where both daemons fail the same way cannot pass unnoticed.
    pub real_has: Vec<(&'static str, &'static str)>,
    /// hosts.allow and hosts.deny texts (libwrap, F-250).
    pub hosts: (&'static str, &'static str),
    /// Files written into DIR before the start (`@DIR@`, `@Pn@` expanded).
    pub files: Vec<(&'static str, String)>,
    /// Extra command-line options for both daemons (`-limit 1`).
    pub args: Vec<&'static str>,
}

impl Scenario {
    pub fn new(name: &'static str, conf: String, client: fn(&Side, &mut Obs)) -> Scenario {
        // Reloads may bring in ports the first configuration does not name: at least 3.
        let ports = (0..10)
            .filter(|i| conf.contains(&format!("@P{i}@")))
            .count()
            .max(3);
        Scenario {
            name,
            conf,
            ports,
            client,
            logs: Logs::Svc,
            unordered: true,
            deliberate: None,
            check_in_child: false,
            hosts: ("", ""),
            real_has: Vec::new(),
            files: Vec::new(),
            args: Vec::new(),
        }
    }
    pub fn logs(mut self, logs: Logs) -> Self {
        self.logs = logs;
        self
    }
    /// See [`Scenario::check_in_child`]; also compares logs unordered.
    pub fn check_in_child(mut self) -> Self {
        self.check_in_child = true;
        self.unordered = true;
        self
    }
    /// The real side's `key` must contain `text` (see [`Scenario::real_has`]).
    pub fn real_has(mut self, key: &'static str, text: &'static str) -> Self {
        self.real_has.push((key, text));
        self
    }
    /// Extra command-line options for both daemons.
    pub fn args(mut self, args: &[&'static str]) -> Self {
        self.args.extend_from_slice(args);
        self
    }
    /// A file written into DIR before the start.
    pub fn file(mut self, name: &'static str, text: impl Into<String>) -> Self {
        self.files.push((name, text.into()));
        self
    }
    /// hosts.allow / hosts.deny for this row.
    pub fn hosts(mut self, allow: &'static str, deny: &'static str) -> Self {
        self.hosts = (allow, deny);
        self
    }
    /// Compare log records in order (one client, or records written by one process).
    pub fn ordered(mut self) -> Self {
        self.unordered = false;
        self
    }
    pub fn unordered(mut self) -> Self {
        self.unordered = true;
        self
    }
    pub fn deliberate(
        mut self,
        entry: &'static str,
        ours: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.deliberate = Some(Deliberate { entry, ours });
        self
    }
}

/// The resolv.conf the real xinetd sees: name lookups stay on loopback and fail at once.
const LOOPBACK_RESOLV: &str = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";

/// Program-log records only we write, on purpose (docs/compat.md "New or moved messages",
/// "Version and options").
fn ours_only_prog(r: &str) -> bool {
    r.starts_with("DEBUG: Started service: ")
        || r.starts_with("DEBUG: file descriptor limit raised from ")
        || r.contains(" options compiled in.")
}

/// Waits until both sides are quiet: logs unchanged for 300 ms and no server running, at
/// most `secs`.
pub fn quiesce(sides: &[&Side], secs: u64) {
    let snapshot = || {
        sides
            .iter()
            .map(|s| {
                (
                    s.read("prog.log").len() + s.read("svc.log").len(),
                    s.descendants().len(),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut last = snapshot();
    let mut since = Instant::now();
    wait_for(secs, || {
        let now = snapshot();
        if now != last {
            last = now;
            since = Instant::now();
            return false;
        }
        since.elapsed() >= Duration::from_millis(300) && last.iter().all(|&(_, kids)| kids == 0)
    });
}

/// Runs one scenario on both daemons; `Err` describes every difference.
pub fn run(sc: &Scenario) -> Result<(), String> {
    let mut real = Side::start(
        Which::Real,
        &sc.conf,
        sc.ports,
        sc.hosts,
        &sc.files,
        &sc.args,
    );
    let mut ours = Side::start(
        Which::Ours,
        &sc.conf,
        sc.ports,
        sc.hosts,
        &sc.files,
        &sc.args,
    );
    if !real.wait_started() || !ours.wait_started() {
        return Err(format!(
            "{}: a daemon did not start\nreal:\n{}\nours:\n{}",
            sc.name,
            real.read("prog.log"),
            ours.read("prog.log")
        ));
    }
    let mut obs_real = Obs::default();
    let mut obs_ours = Obs::default();
    (sc.client)(&real, &mut obs_real);
    (sc.client)(&ours, &mut obs_ours);
    quiesce(&[&real, &ours], 10);
    for (side, obs) in [(&real, &mut obs_real), (&ours, &mut obs_ours)] {
        if matches!(sc.logs, Logs::Svc | Logs::Both) {
            let mut r = side.log_records("svc.log");
            if std::env::var("XDIFF_DEBUG").is_ok() {
                eprintln!(
                    "{:?} svc.log:\n{}\nprog.log:\n{}\nobs: {:?}",
                    side.which,
                    side.read("svc.log"),
                    side.read("prog.log"),
                    obs
                );
            }
            if sc.check_in_child && side.which == Which::Real {
                r = without_child_refusal_records(r);
            }
            if sc.unordered {
                r.sort();
            }
            obs.put("svc.log", r.join("\n"));
        }
        if matches!(sc.logs, Logs::Prog | Logs::Both) {
            let mut r: Vec<String> = side
                .prog_records()
                .into_iter()
                .filter(|r| !ours_only_prog(r))
                .collect();
            if sc.unordered {
                r.sort();
            }
            obs.put("prog.log", r.join("\n"));
        }
    }
    compare(sc, &obs_real, &obs_ours)
}

/// Removes, for each `FAIL: id address from=X`, one `START: id pid=N from=X` and one
/// `EXIT: id status=0 ...` (the records of xinetd's child that refused the client).
pub fn without_child_refusal_records(mut r: Vec<String>) -> Vec<String> {
    let fails: Vec<(String, String)> = r
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("FAIL: ")?;
            let (id, rest) = rest.split_once(' ')?;
            let from = rest.split(' ').find(|w| w.starts_with("from="))?;
            Some((id.to_string(), from.to_string()))
        })
        .collect();
    for (id, from) in fails {
        let start = format!("START: {id} pid=N {from}");
        if let Some(i) = r.iter().position(|l| *l == start) {
            r.remove(i);
            let exit = format!("EXIT: {id} status=0 pid=N");
            if let Some(j) = r.iter().position(|l| l.starts_with(&exit)) {
                r.remove(j);
            }
        }
    }
    r
}

fn compare(sc: &Scenario, real: &Obs, ours: &Obs) -> Result<(), String> {
    let mut errs = Vec::new();
    let keys: Vec<&String> = {
        let mut k: Vec<&String> = real.items.iter().map(|(k, _)| k).collect();
        for (key, _) in &ours.items {
            if !k.contains(&key) {
                k.push(key);
            }
        }
        k
    };
    let get = |o: &Obs, k: &str| {
        o.items
            .iter()
            .filter(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut deliberate_keys: Vec<&str> = Vec::new();
    if sc.check_in_child
        && !std::fs::read_to_string(COMPAT)
            .unwrap_or_default()
            .contains("**Order of checks")
    {
        errs.push("docs/compat.md lost its \"Order of checks\" entry".into());
    }
    if let Some(d) = &sc.deliberate {
        let compat = std::fs::read_to_string(COMPAT).unwrap_or_default();
        if !compat.contains(&format!("**{}", d.entry)) {
            errs.push(format!(
                "deliberate difference '{}' has no entry in docs/compat.md",
                d.entry
            ));
        }
        for (k, want) in d.ours {
            deliberate_keys.push(k);
            let got = get(ours, k);
            // `!text`: our value must not contain `text`.
            let ok = match want.strip_prefix('!') {
                Some(absent) => !got.contains(absent),
                None => got.contains(want),
            };
            if !ok {
                errs.push(format!(
                    "[{k}] (deliberate: {}) ours should contain {want:?}\n  ours: {got}\n  real: {}",
                    d.entry,
                    get(real, k)
                ));
            }
        }
    }
    for (k, want) in &sc.real_has {
        if !get(real, k).contains(want) {
            errs.push(format!(
                "[{k}] the real side should contain {want:?}: {}",
                get(real, k)
            ));
        }
    }
    for k in keys {
        // A probe that did not run to its end proves nothing.
        if k.starts_with("probe")
            && !deliberate_keys.contains(&k.as_str())
            && !get(real, k).contains("\nend\n")
        {
            errs.push(format!(
                "[{k}] the real side's probe did not report: {}",
                get(real, k)
            ));
        }
        if deliberate_keys.contains(&k.as_str()) {
            continue;
        }
        let (a, b) = (get(real, k), get(ours, k));
        if a != b {
            errs.push(format!("[{k}]\n{}", diff_lines(&a, &b)));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{}:\n{}", sc.name, errs.join("\n")))
    }
}

/// Line diff: lines only in real (`-`) and only in ours (`+`), in order.
fn diff_lines(a: &str, b: &str) -> String {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let mut out = Vec::new();
    for l in &la {
        if !lb.contains(l) {
            out.push(format!("  - real: {l}"));
        }
    }
    for l in &lb {
        if !la.contains(l) {
            out.push(format!("  + ours: {l}"));
        }
    }
    if out.is_empty() {
        out.push(format!(
            "  (same lines, different order)\n  real: {la:?}\n  ours: {lb:?}"
        ));
    }
    out.join("\n")
}

/// Runs every row of a table (or the rows named in `XDIFF_ONLY`), printing each result;
/// panics at the end with every difference found.
pub fn run_table(table: Vec<Scenario>) {
    if let Some(why) = skip_reason() {
        println!("{why}");
        return;
    }
    let only = std::env::var("XDIFF_ONLY").ok();
    let mut failures = Vec::new();
    let (mut equal, mut deliberate) = (0, 0);
    for sc in &table {
        if let Some(o) = &only {
            if !sc.name.contains(o.as_str()) {
                continue;
            }
        }
        let no_etc =
            !Path::new("/etc/hosts.allow").exists() || !Path::new("/etc/hosts.deny").exists();
        if sc.hosts != ("", "") && no_etc {
            println!(
                "skipped: {} (needs /etc/hosts.allow and /etc/hosts.deny to mount over)",
                sc.name
            );
            continue;
        }
        match run(sc) {
            Ok(()) => {
                if sc.deliberate.is_some() {
                    deliberate += 1;
                    println!("deliberate difference: {}", sc.name);
                } else {
                    equal += 1;
                    println!("same: {}", sc.name);
                }
            }
            Err(e) => {
                println!("DIFFERENT: {e}");
                failures.push(e);
            }
        }
    }
    println!(
        "{} scenarios: {equal} equal, {deliberate} deliberate differences, {} failed",
        table.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Reads the probe's report off a TCP connection (from 127.0.0.1), normalised.
pub fn probe_tcp(side: &Side, port: u16, payload: &[u8]) -> String {
    mask_glibc_signals(&side.normalise(&tcp(Src::V4(1), port, payload)))
}

/// Signals 32 and 33 are glibc's own (SIGCANCEL, SIGSETXID): the real xinetd cannot change
/// their disposition through sigaction(2) wrappers, so an ignore inherited from whatever
/// started the test survives there. Their bits are cleared from `SigIgn`/`SigBlk`.
pub fn mask_glibc_signals(report: &str) -> String {
    report
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((k @ ("SigIgn:" | "SigBlk:"), v)) => match u64::from_str_radix(v.trim(), 16) {
                Ok(bits) => format!("{k} {:016x}", bits & !(3u64 << 31)),
                Err(_) => l.to_string(),
            },
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if report.ends_with('\n') { "\n" } else { "" }
}

/// Helper for `Path` tests in scenario files.
pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The attributes of [`stanza`]'s external probe service before overrides.
pub const PROBE_SERVICE: &[(&str, &str)] = &[
    ("type", "UNLISTED"),
    ("socket_type", "stream"),
    ("protocol", "tcp"),
    ("port", "@P0@"),
    ("wait", "no"),
    ("user", "root"),
    ("server", "/bin/sh"),
    ("server_args", "@PROBE@"),
    ("bind", "127.0.0.1"),
    ("cps", "0 0"),
    ("log_type", "FILE @DIR@/svc.log"),
    ("log_on_success", "PID HOST EXIT DURATION"),
    ("log_on_failure", "HOST"),
];

/// A service entry: `base` attributes with `over` applied (same name replaces, `""` removes,
/// new names are appended; a name with an operator, `"env +="`, is written as is).
pub fn entry(name: &str, base: &[(&str, &str)], over: &[(&str, &str)]) -> String {
    let mut attrs: Vec<(String, String)> = base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in over {
        match attrs.iter_mut().find(|(kk, _)| kk == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => attrs.push((k.to_string(), v.to_string())),
        }
    }
    let mut s = format!("service {name}\n{{\n");
    for (k, v) in attrs {
        if v.is_empty() && !k.contains('=') {
            continue;
        }
        if k.contains('=') {
            s.push_str(&format!("\t{k} {v}\n"));
        } else {
            s.push_str(&format!("\t{k} = {v}\n"));
        }
    }
    s.push_str("}\n");
    s
}

/// The probe service `probe` with overrides.
pub fn stanza(over: &[(&str, &str)]) -> String {
    entry("probe", PROBE_SERVICE, over)
}

/// An internal service entry (`id`, socket type, port placeholder) with overrides.
pub fn internal(name: &str, sock: &str, port: &str, over: &[(&str, &str)]) -> String {
    let wait = if sock == "dgram" { "yes" } else { "no" };
    let base = [
        ("type", "INTERNAL UNLISTED"),
        ("socket_type", sock),
        ("port", port),
        ("wait", wait),
        ("bind", "127.0.0.1"),
        ("cps", "0 0"),
        ("log_type", "FILE @DIR@/svc.log"),
        ("log_on_success", "PID HOST EXIT DURATION"),
        ("log_on_failure", "HOST"),
    ];
    entry(name, &base, over)
}
