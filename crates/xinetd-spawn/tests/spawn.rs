//! End-to-end tests of `spawn`: real children, inspected through `/proc/<pid>/*` while they
//! run. This binary is also the probe server (`--probe`): it prints `ready <pid> <cwd>` on
//! stdout, then waits for EOF on stdin. Tests that change credentials or chroot need root
//! and are skipped with a printed reason otherwise.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::WaitStatus;
use xinetd_spawn::{
    server_argv, spawn, Child, Connection, Credentials, Environment, Errno, Rlimit, RlimitValue,
    Session, SetupStep, SpawnError, SpawnSpec,
};

fn probe() {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("error:{e}"));
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready {} {}", std::process::id(), cwd);
    let _ = out.flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// A copy of this binary in a world-readable temporary directory, so unprivileged users
/// (and chroot jails) can execute it.
struct ProbeDir {
    dir: tempfile::TempDir,
}

impl ProbeDir {
    fn new() -> ProbeDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let exe = std::env::current_exe().expect("current_exe");
        let probe = dir.path().join("probe");
        fs::copy(&exe, &probe).expect("copy probe");
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).expect("chmod probe");
        ProbeDir { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("probe")
    }
}

/// A running probe: the client end of its socket and its pid.
struct Running {
    client: UnixStream,
    child: Child,
    cwd: String,
}

impl Running {
    fn start(spec: &SpawnSpec, peer: Option<IpAddr>) -> Running {
        Running::start_with(spec, peer, spawn)
    }

    fn start_with(
        spec: &SpawnSpec,
        peer: Option<IpAddr>,
        f: impl FnOnce(&SpawnSpec, Connection<'_>) -> Result<Child, SpawnError>,
    ) -> Running {
        let (server, client) = UnixStream::pair().expect("socketpair");
        // The daemon's sockets are non-blocking (mio); the server must get a blocking one.
        server.set_nonblocking(true).expect("nonblocking");
        let mut conn = Connection::new(server.as_fd());
        if let Some(peer) = peer {
            conn = conn.remote_host(peer);
        }
        let child = f(spec, conn).expect("spawn");
        drop(server);
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut line = String::new();
        BufReader::new(&client)
            .read_line(&mut line)
            .expect("probe greeting");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("ready"), "greeting {line:?}");
        let pid: i32 = words.next().and_then(|p| p.parse().ok()).expect("pid");
        assert_eq!(
            pid,
            child.pid().as_raw(),
            "Child::pid is the exec'ed server"
        );
        let cwd = words.next().unwrap_or_default().to_owned();
        Running { client, child, cwd }
    }

    fn proc(&self, what: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{what}", self.child.pid()))
    }

    fn read(&self, what: &str) -> String {
        fs::read_to_string(self.proc(what)).unwrap_or_else(|e| panic!("read {what}: {e}"))
    }

    fn status_field(&self, name: &str) -> String {
        self.read("status")
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {name} in status"))
    }

    fn stat_fields(&self) -> Vec<String> {
        let stat = self.read("stat");
        // Fields after the parenthesised command name; field 3 (state) is index 0.
        let after = stat.rsplit_once(") ").expect("stat format").1;
        after.split_whitespace().map(str::to_owned).collect()
    }

    fn limit(&self, name: &str) -> (String, String) {
        let limits = self.read("limits");
        let line = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in limits"));
        let rest: Vec<&str> = line[name.len()..].split_whitespace().collect();
        (rest[0].to_owned(), rest[1].to_owned())
    }

    fn fds(&self) -> BTreeSet<i32> {
        fs::read_dir(self.proc("fd"))
            .expect("fd dir")
            .map(|e| {
                e.expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .parse()
                    .expect("fd")
            })
            .collect()
    }

    fn nul_list(&self, what: &str) -> Vec<String> {
        let raw = fs::read(self.proc(what)).expect("read");
        raw.split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    fn finish(self) -> WaitStatus {
        self.client
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        self.child.wait().expect("wait")
    }
}

macro_rules! require_root {
    ($name:expr) => {
        if !xinetd_test_support::require_root($name) {
            return;
        }
    };
}

fn sig_bit(sig: Signal) -> u64 {
    1u64 << (sig as i32 - 1)
}

// ---------------------------------------------------------------- tests

/// The full credentials spec of F-106..F-110, F-133..F-135, F-138 with F-410 environment.
fn full_spec_is_applied() {
    require_root!("full_spec_is_applied");
    let probe = ProbeDir::new();
    // Defences under test: a descriptor leaked without close-on-exec, and signals ignored
    // by the daemon must not reach the server.
    let (leak_r, leak_w): (OwnedFd, OwnedFd) = nix::unistd::pipe().expect("pipe");
    #[allow(unsafe_code)]
    // SAFETY: installing SIG_IGN runs no code in signal context.
    unsafe {
        signal(Signal::SIGHUP, SigHandler::SigIgn).expect("ignore SIGHUP");
    }

    let startup = Environment::from_vars([("PATH", "/bin"), ("HOME", "/root"), ("SECRET", "s")]);
    let env = Environment::for_service(
        &startup,
        Some(&["HOME", "NOT_THERE"]),
        &["A=1", "B=x=y", "REMOTE_HOST=bogus"],
    )
    .expect("env");
    assert_eq!(env.undefined, [OsString::from("NOT_THERE")]);
    let spec = SpawnSpec::builder(probe.path())
        .argv(server_argv(&probe.path(), &["--probe", "#literal"], false).expect("argv"))
        .environment(env.environment)
        .credentials(Credentials::resolve(Some("nobody"), None, false).expect("nobody"))
        .umask(0o027)
        .nice(7)
        .rlimit(Rlimit::As, RlimitValue::Limit(1 << 30))
        .rlimit(Rlimit::Cpu, RlimitValue::Limit(10))
        .rlimit(Rlimit::Data, RlimitValue::Limit(512 << 20))
        .rlimit(Rlimit::Rss, RlimitValue::Limit(64 << 20))
        .rlimit(Rlimit::Stack, RlimitValue::Limit(4 << 20))
        .rlimit_files(RlimitValue::Limit(64))
        .build()
        .expect("spec");
    let peer: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
    let r = Running::start(&spec, Some(peer));
    // SAFETY: restoring the default disposition runs no code in signal context.
    #[allow(unsafe_code)]
    unsafe {
        signal(Signal::SIGHUP, SigHandler::SigDfl).expect("default SIGHUP");
    }
    assert!(r.child.warnings().is_empty(), "{:?}", r.child.warnings());

    let pw = nix::unistd::User::from_name("nobody")
        .expect("lookup")
        .expect("nobody");
    let uid = pw.uid.as_raw();
    let gid = pw.gid.as_raw();
    assert_eq!(r.status_field("Uid"), format!("{uid}\t{uid}\t{uid}\t{uid}"));
    assert_eq!(r.status_field("Gid"), format!("{gid}\t{gid}\t{gid}\t{gid}"));
    assert_eq!(
        r.status_field("Groups"),
        "",
        "groups = no clears the list (F-108)"
    );
    assert_eq!(r.status_field("Umask"), "0027");
    let stat = r.stat_fields();
    assert_eq!(stat[16], "7", "nice (F-110)");
    let pid = r.child.pid().as_raw().to_string();
    assert_eq!(stat[2], pid, "process group leader (F-412)");
    assert_eq!(stat[3], pid, "session leader (F-412)");
    assert_eq!(stat[4], "0", "no controlling tty");
    assert_eq!(
        r.limit("Max address space"),
        ("1073741824".into(), "1073741824".into())
    );
    assert_eq!(r.limit("Max cpu time"), ("10".into(), "10".into()));
    assert_eq!(
        r.limit("Max data size"),
        ("536870912".into(), "536870912".into())
    );
    assert_eq!(
        r.limit("Max resident set"),
        ("67108864".into(), "67108864".into())
    );
    assert_eq!(
        r.limit("Max stack size"),
        ("4194304".into(), "4194304".into())
    );
    assert_eq!(r.limit("Max open files"), ("64".into(), "64".into()));
    assert_eq!(
        r.nul_list("environ"),
        ["HOME=/root", "A=1", "B=x=y", "REMOTE_HOST=::ffff:127.0.0.1"]
    );
    assert_eq!(r.nul_list("cmdline"), ["probe", "--probe", "#literal"]);
    assert_eq!(
        r.fds(),
        BTreeSet::from([0, 1, 2]),
        "exactly fds 0-2, leak fd {}",
        leak_w.as_raw_fd()
    );
    assert_eq!(r.status_field("SigBlk"), "0000000000000000");
    // The probe (Rust) itself ignores SIGPIPE; nothing else may be ignored.
    let ign = u64::from_str_radix(&r.status_field("SigIgn"), 16).expect("hex");
    assert_eq!(ign & !sig_bit(Signal::SIGPIPE), 0, "SigIgn {ign:x}");
    // fd 0 must be blocking although the daemon's socket was non-blocking.
    let fdinfo = r.read("fdinfo/0");
    let flags = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).expect("octal"))
        .expect("flags");
    assert_eq!(flags & libc::O_NONBLOCK as u32, 0, "O_NONBLOCK cleared");
    assert_eq!(
        r.cwd,
        std::env::current_dir().expect("cwd").display().to_string()
    );
    drop(leak_r);
    assert_exited_zero(r.finish());
}

fn assert_exited_zero(status: WaitStatus) {
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

/// `groups = yes` sets what initgroups() would (F-108), with `group` overriding the gid.
fn groups_yes_uses_the_group_database() {
    require_root!("groups_yes_uses_the_group_database");
    // Find a user with a supplementary membership in /etc/group, computed independently.
    let group_file = fs::read_to_string("/etc/group").expect("/etc/group");
    let member = group_file.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let members = f.get(3)?;
        let first = members.split(',').find(|m| !m.is_empty())?;
        nix::unistd::User::from_name(first)
            .ok()
            .flatten()
            .map(|u| u.name)
    });
    let Some(user) = member else {
        println!("  skipped: no user with a supplementary group in /etc/group");
        return;
    };
    let pw = nix::unistd::User::from_name(&user)
        .expect("lookup")
        .expect("user");
    let mut expect: BTreeSet<u32> = group_file
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let listed = f.get(3)?.split(',').any(|m| m == user);
            listed.then(|| f.get(2)?.parse().ok()).flatten()
        })
        .collect();
    expect.insert(pw.gid.as_raw());

    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .credentials(Credentials::resolve(Some(&user), Some("1"), true).expect("creds"))
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    let groups: BTreeSet<u32> = r
        .status_field("Groups")
        .split_whitespace()
        .map(|g| g.parse().expect("gid"))
        .collect();
    assert_eq!(groups, expect, "supplementary groups of {user}");
    assert!(r.status_field("Gid").starts_with("1\t1\t1\t1"));
    assert_exited_zero(r.finish());
}

/// A numeric `user` is used without lookup and gives the same gid (F-106).
fn numeric_user_gets_same_gid() {
    require_root!("numeric_user_gets_same_gid");
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .credentials(Credentials::resolve(Some("4242"), None, false).expect("creds"))
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    assert_eq!(r.status_field("Uid"), "4242\t4242\t4242\t4242");
    assert_eq!(r.status_field("Gid"), "4242\t4242\t4242\t4242");
    assert_eq!(r.status_field("Groups"), "");
    assert_exited_zero(r.finish());
}

/// `group` without `user`: setgid + empty supplementary list, the uid stays (F-107, F-411);
/// `UNLIMITED` limits are passed as RLIM_INFINITY.
fn group_only_keeps_uid() {
    require_root!("group_only_keeps_uid");
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .credentials(Credentials::resolve(None, Some("5"), true).expect("creds"))
        .rlimit(Rlimit::Stack, RlimitValue::Unlimited) // soft is 8 MiB in the parent
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    assert_eq!(r.status_field("Uid"), "0\t0\t0\t0");
    assert_eq!(r.status_field("Gid"), "5\t5\t5\t5");
    assert_eq!(r.status_field("Groups"), "");
    assert_eq!(
        r.limit("Max stack size"),
        ("unlimited".into(), "unlimited".into())
    );
    assert_exited_zero(r.finish());
}

/// Copies `bin` and the shared objects `ldd` lists into `jail`, at the same paths.
fn populate_jail(jail: &Path, bin: &Path, inside: &str) {
    let out = std::process::Command::new("ldd")
        .arg(bin)
        .output()
        .expect("ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(lib) = path {
            let dest = jail.join(lib.strip_prefix("/").expect("absolute"));
            fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            fs::copy(&lib, &dest).expect("copy lib");
        }
    }
    let dest = jail.join(inside.trim_start_matches('/'));
    fs::copy(bin, &dest).expect("copy bin");
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Extension `chroot = DIR`: chroot while privileged, then chdir("/"), then drop to nobody.
fn chroot_then_drop_privileges() {
    require_root!("chroot_then_drop_privileges");
    if std::process::Command::new("ldd")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("  skipped: ldd not available to populate the jail");
        return;
    }
    let jail = tempfile::tempdir().expect("jail");
    fs::set_permissions(jail.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    populate_jail(
        jail.path(),
        &std::env::current_exe().expect("exe"),
        "/probe",
    );
    let spec = SpawnSpec::builder("/probe")
        .argv(["probe", "--probe"])
        .chroot(jail.path())
        .credentials(Credentials::resolve(Some("nobody"), None, false).expect("nobody"))
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    let jail_path = fs::canonicalize(jail.path()).expect("canonical");
    assert_eq!(fs::read_link(r.proc("root")).expect("root"), jail_path);
    assert_eq!(fs::read_link(r.proc("cwd")).expect("cwd"), jail_path);
    assert_eq!(r.cwd, "/", "the server sees / as its cwd");
    assert!(r.status_field("Uid").starts_with("65534\t"));
    assert_exited_zero(r.finish());
}

/// F-415: a missing server is reported as ExecFailed/ENOENT, and the child is reaped.
fn missing_program_is_exec_failed() {
    let spec = SpawnSpec::builder("/nonexistent/xinetd-rs-server")
        .build()
        .expect("spec");
    let (a, _b) = UnixStream::pair().expect("pair");
    match spawn(&spec, Connection::new(a.as_fd())) {
        Err(SpawnError::ExecFailed {
            program,
            errno,
            pid,
        }) => {
            assert_eq!(errno, Errno::ENOENT);
            assert_eq!(program, Path::new("/nonexistent/xinetd-rs-server"));
            // Already reaped: waiting for it again finds no such child.
            assert_eq!(
                nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None),
                Err(Errno::ECHILD)
            );
        }
        other => panic!("expected ExecFailed, got {other:?}"),
    }
    // A file that is not executable: EACCES.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    fs::write(&file, "not a program").expect("write");
    let spec = SpawnSpec::builder(&file).build().expect("spec");
    let err = spawn(&spec, Connection::new(a.as_fd())).expect_err("not executable");
    assert!(
        matches!(
            err,
            SpawnError::ExecFailed {
                errno: Errno::EACCES,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "execv( {} ) failed: EACCES: Permission denied",
            file.display()
        )
    );
}

/// A chroot into a missing directory fails at the chroot step, before anything else.
fn bad_chroot_is_a_setup_error() {
    let spec = SpawnSpec::builder("/bin/true")
        .chroot("/nonexistent/xinetd-rs-jail")
        .build()
        .expect("spec");
    let (a, _b) = UnixStream::pair().expect("pair");
    let err = spawn(&spec, Connection::new(a.as_fd())).expect_err("chroot");
    match err {
        SpawnError::Setup { step, errno, .. } => {
            assert_eq!(step, SetupStep::Chroot);
            // The kernel resolves the path before checking privileges: ENOENT either way.
            assert_eq!(errno, Errno::ENOENT);
        }
        other => panic!("expected Setup, got {other:?}"),
    }
}

/// As a non-root daemon, setuid is still attempted (F-411) and its failure is reported.
fn setuid_failure_is_reported_when_not_root() {
    if xinetd_test_support::is_root() {
        xinetd_test_support::skip("setuid cannot fail for root");
        return;
    }
    let spec = SpawnSpec::builder("/bin/true")
        .credentials(Credentials::numeric(Some(1), None, &[]))
        .build()
        .expect("spec");
    let (a, _b) = UnixStream::pair().expect("pair");
    let err = spawn(&spec, Connection::new(a.as_fd())).expect_err("setuid");
    assert!(
        matches!(
            err,
            SpawnError::Setup {
                step: SetupStep::Setuid,
                errno: Errno::EPERM,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Steps xinetd ignores still let the server run, and come back as warnings.
fn ignored_failures_become_warnings() {
    require_root!("ignored_failures_become_warnings");
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .credentials(Credentials::resolve(Some("nobody"), None, false).expect("nobody"))
        .nice(-5) // not allowed for nobody: ignored (F-110)
        .rlimit_files(RlimitValue::Unlimited) // above nr_open: ignored (F-012 setrlimit)
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    let steps: Vec<SetupStep> = r.child.warnings().iter().map(|w| w.step).collect();
    assert_eq!(steps, [SetupStep::Nice, SetupStep::RlimitFiles]);
    assert_eq!(r.stat_fields()[16], "0", "nice unchanged");
    assert_exited_zero(r.finish());
}

/// NAMEINARGS: the first server_args word is argv[0] (F-143).
fn nameinargs_argv() {
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(server_argv(&probe.path(), &["renamed", "--probe", "x"], true).expect("argv"))
        .build()
        .expect("spec");
    let r = Running::start(&spec, Some("192.0.2.1".parse().expect("ip")));
    assert_eq!(r.nul_list("cmdline"), ["renamed", "--probe", "x"]);
    // F-012: without rlimit_files, soft = hard = the daemon's hard limit (4096 if infinite).
    let nofile = xinetd_spawn::default_nofile().to_string();
    assert_eq!(r.limit("Max open files"), (nofile.clone(), nofile));
    assert_eq!(r.nul_list("environ"), ["REMOTE_HOST=192.0.2.1"]);
    assert_eq!(r.fds(), BTreeSet::from([0, 1, 2]));
    assert_exited_zero(r.finish());
}

/// `Connection::stderr`: fd 2 is the given descriptor, fds 0 and 1 the socket.
fn stderr_on_its_own_descriptor() {
    let spec = SpawnSpec::builder("/bin/sh")
        .argv(["sh", "-c", "echo to-stderr >&2; echo to-socket"])
        .build()
        .expect("spec");
    let (a, b) = UnixStream::pair().expect("pair");
    let (err_r, err_w) = nix::unistd::pipe().expect("pipe");
    let child = spawn(&spec, Connection::new(a.as_fd()).stderr(err_w.as_fd())).expect("spawn");
    drop(a);
    drop(err_w);
    let mut out = String::new();
    (&b).read_to_string(&mut out).expect("read socket");
    assert_eq!(out, "to-socket\n");
    let mut err = String::new();
    fs::File::from(err_r)
        .read_to_string(&mut err)
        .expect("read pipe");
    assert_eq!(err, "to-stderr\n");
    assert_exited_zero(child.wait().expect("wait"));
}

/// The server leads its own process group, which the daemon can kill as a whole.
fn process_group_can_be_killed() {
    let spec = SpawnSpec::builder("/bin/sh")
        .argv(["sh", "-c", "sleep 30 & sleep 30; echo never"])
        .build()
        .expect("spec");
    let (a, b) = UnixStream::pair().expect("pair");
    let child = spawn(&spec, Connection::new(a.as_fd())).expect("spawn");
    drop(a);
    // Wait until the background sleep exists in the group, with a deadline.
    let pgid = child.pid().as_raw();
    let members = || {
        fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| {
                        s.rsplit_once(") ")
                            .map(|(_, r)| r.split_whitespace().nth(2).map(str::to_owned))
                    })
                    .flatten()
                    .is_some_and(|g| g == pgid.to_string())
            })
            .count()
    };
    xinetd_test_support::wait_until(10, "the children of the server", || members() >= 3);
    child.kill_process_group(Signal::SIGKILL).expect("killpg");
    let mut out = Vec::new();
    (&b).read_to_end(&mut out).expect("read");
    assert!(out.is_empty(), "the sleeps were killed: no output");
    assert_eq!(
        child.wait().expect("wait"),
        WaitStatus::Signaled(nix::unistd::Pid::from_raw(pgid), Signal::SIGKILL, false)
    );
}

/// The child shares the daemon's memory until exec; its setuid must not leave the daemon's
/// address space marked non-dumpable (the kernel does that to the *mm* on an euid change).
fn daemon_stays_dumpable() {
    require_root!("daemon_stays_dumpable");
    use nix::sys::prctl::{get_dumpable, set_dumpable};
    set_dumpable(true).expect("set_dumpable");
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .credentials(Credentials::resolve(Some("nobody"), None, false).expect("nobody"))
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    assert!(
        get_dumpable().expect("get_dumpable"),
        "daemon became non-dumpable"
    );
    assert_exited_zero(r.finish());
}

/// `Session::NewProcessGroup`: a process-group leader that stays in the daemon's session.
fn new_process_group_only() {
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .session(Session::NewProcessGroup)
        .build()
        .expect("spec");
    let r = Running::start(&spec, None);
    let stat = r.stat_fields();
    let pid = r.child.pid().as_raw().to_string();
    assert_eq!(stat[2], pid, "process group leader");
    let own_session = nix::unistd::getsid(None)
        .expect("getsid")
        .as_raw()
        .to_string();
    assert_eq!(stat[3], own_session, "still in the daemon's session");
    assert!(r.child.warnings().is_empty());
    assert_exited_zero(r.finish());
}

/// Several threads spawning at once, each with its own cached child stack.
fn concurrent_spawns_from_threads() {
    let spec = SpawnSpec::builder("/bin/sh")
        .argv(["sh", "-c", "echo $REMOTE_HOST"])
        .build()
        .expect("spec");
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let spec = &spec;
            scope.spawn(move || {
                for i in 0..15u8 {
                    let (a, b) = UnixStream::pair().expect("pair");
                    let peer = IpAddr::from([10, t, i, 1]);
                    let child =
                        spawn(spec, Connection::new(a.as_fd()).remote_host(peer)).expect("spawn");
                    drop(a);
                    let mut out = String::new();
                    (&b).read_to_string(&mut out).expect("read");
                    assert_eq!(out, format!("{peer}\n"));
                    assert_exited_zero(child.wait().expect("wait"));
                }
            });
        }
    });
}

/// The calling thread's signal mask is the same after a spawn (all signals are blocked only
/// across the clone), also after a failed one.
fn parent_signal_mask_is_restored() {
    let blocked = || {
        fs::read_to_string("/proc/thread-self/status")
            .expect("status")
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:").map(|v| v.trim().to_owned()))
            .expect("SigBlk")
    };
    let before = blocked();
    let (a, _b) = UnixStream::pair().expect("pair");
    let ok = SpawnSpec::builder("/bin/true").build().expect("spec");
    let child = spawn(&ok, Connection::new(a.as_fd())).expect("spawn");
    assert_eq!(blocked(), before);
    assert_exited_zero(child.wait().expect("wait"));
    let bad = SpawnSpec::builder("/nonexistent/x").build().expect("spec");
    assert!(spawn(&bad, Connection::new(a.as_fd())).is_err());
    assert_eq!(blocked(), before);
}

/// A connection that sits on fd 0..2 of the daemon is not lost by the dup2 loop.
fn connection_on_a_low_fd() {
    let probe = ProbeDir::new();
    let spec = SpawnSpec::builder(probe.path())
        .argv(["probe", "--probe"])
        .build()
        .expect("spec");
    let (server, client) = UnixStream::pair().expect("pair");
    // Park the real stdin, put the socket on fd 0, spawn, restore.
    let saved = nix::unistd::dup(std::io::stdin().as_fd()).expect("dup");
    nix::unistd::dup2_stdin(server.as_fd()).expect("dup2");
    let child = spawn(&spec, Connection::new(std::io::stdin().as_fd()));
    nix::unistd::dup2_stdin(saved.as_fd()).expect("restore");
    let child = child.expect("spawn");
    drop(server);
    let mut line = String::new();
    BufReader::new(&client)
        .read_line(&mut line)
        .expect("greeting");
    assert!(line.starts_with("ready "), "{line:?}");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    assert_exited_zero(child.wait().expect("wait"));
}

/// Socket activation: the socket on fd 3, /dev/null on 0..2, nothing on 4, and LISTEN_PID is
/// the server's own pid (written by the child), replacing inherited LISTEN_* variables.
fn listen_fds_layout() {
    let script = "l=$(readlink /proc/$$/fd/0); o=$(readlink /proc/$$/fd/1); \
                  if [ -e /proc/$$/fd/4 ]; then x=open; else x=closed; fi; \
                  echo \"$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES $l $o $x\" >&3";
    let env = Environment::from_vars([
        ("LISTEN_PID", "1"),
        ("LISTEN_FDS", "7"),
        ("LISTEN_FDNAMES", "other"),
        ("PATH", "/usr/bin:/bin"),
    ]);
    let spec = SpawnSpec::builder("/bin/sh")
        .argv(["sh", "-c", script])
        .environment(env)
        .listen_fds("my-svc")
        .build()
        .expect("spec");
    let (server, client) = UnixStream::pair().expect("pair");
    let child = spawn(&spec, Connection::new(server.as_fd())).expect("spawn");
    drop(server);
    let pid = child.pid().as_raw();
    let mut line = String::new();
    BufReader::new(&client).read_line(&mut line).expect("line");
    assert_exited_zero(child.wait().expect("wait"));
    assert_eq!(
        line.trim_end(),
        format!("{pid} {pid} 1 my-svc /dev/null /dev/null closed")
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        probe();
        return ExitCode::SUCCESS;
    }
    let tests: &[(&str, fn())] = &[
        ("full_spec_is_applied", full_spec_is_applied),
        (
            "groups_yes_uses_the_group_database",
            groups_yes_uses_the_group_database,
        ),
        ("numeric_user_gets_same_gid", numeric_user_gets_same_gid),
        ("group_only_keeps_uid", group_only_keeps_uid),
        ("chroot_then_drop_privileges", chroot_then_drop_privileges),
        (
            "missing_program_is_exec_failed",
            missing_program_is_exec_failed,
        ),
        ("bad_chroot_is_a_setup_error", bad_chroot_is_a_setup_error),
        (
            "setuid_failure_is_reported_when_not_root",
            setuid_failure_is_reported_when_not_root,
        ),
        (
            "ignored_failures_become_warnings",
            ignored_failures_become_warnings,
        ),
        ("nameinargs_argv", nameinargs_argv),
        ("process_group_can_be_killed", process_group_can_be_killed),
        ("connection_on_a_low_fd", connection_on_a_low_fd),
        (
            "concurrent_spawns_from_threads",
            concurrent_spawns_from_threads,
        ),
        (
            "parent_signal_mask_is_restored",
            parent_signal_mask_is_restored,
        ),
        ("daemon_stays_dumpable", daemon_stays_dumpable),
        ("new_process_group_only", new_process_group_only),
        ("listen_fds_layout", listen_fds_layout),
        ("stderr_on_its_own_descriptor", stderr_on_its_own_descriptor),
    ];
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        println!("test {name} ...");
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failures: {failed:?}");
        ExitCode::FAILURE
    }
}
