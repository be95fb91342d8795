//! Per-service sandbox (issue 14) end to end: the real daemon starts a probe script as the
//! server, and the script reports its own view (/proc/self/status, /proc/self/ns/*, writes
//! to protected paths, a forbidden system call) over the connection. Root only.

mod util;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use util::*;

/// A directory outside /tmp (a private /tmp hides the daemon's temp dir from the server),
/// readable by `nobody`.
fn outside_tmp() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("xinetd-rs-sandbox-")
        .tempdir_in("/var/lib")
        .expect("tempdir in /var/lib");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// `dir/rw`, writable by the servers' user (nobody).
fn rw_dir(dir: &Path) -> PathBuf {
    let rw = dir.join("rw");
    std::fs::create_dir(&rw).expect("rw dir");
    std::fs::set_permissions(&rw, std::fs::Permissions::from_mode(0o777)).expect("chmod rw");
    rw
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    write_script(dir, name, &format!("#!/bin/sh\n{body}\n"))
}

/// A probe body that leaves `/bin/sleep MARKER` running in a session of its own (out of
/// reach of a process-group kill), says `started`, and then sleeps as the server.
fn leaves_a_sleeper(marker: &str) -> String {
    format!(
        "/usr/bin/setsid /bin/sleep {marker} </dev/null >/dev/null 2>&1 &\necho started\nexec /bin/sleep 300"
    )
}

/// A connection to `port` whose reads wait up to 10 s (a sandboxed server takes a while to
/// set up).
fn connect_patiently(port: u16) -> TcpStream {
    let s = connect(port);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s
}

/// Connects to a [`leaves_a_sleeper`] probe and reads its `started`; the connection stays
/// open while the caller holds it.
fn connect_until_started(port: u16) -> TcpStream {
    let mut s = connect_patiently(port);
    let mut buf = [0u8; 8];
    let n = std::io::Read::read(&mut s, &mut buf).expect("read");
    assert_eq!(&buf[..n], b"started\n");
    s
}

/// What the server on `port` writes before it closes, when the client sends nothing.
fn output_of(port: u16) -> String {
    String::from_utf8_lossy(&exchange(port, b"")).into_owned()
}

/// The lines the server writes up to the first that starts with `last` (at most `max`
/// lines, or until EOF), for servers that keep the connection open.
fn lines_until(s: &TcpStream, last: &str, max: usize) -> String {
    let mut out = String::new();
    let mut r = std::io::BufReader::new(s.try_clone().expect("clone"));
    for _ in 0..max {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut r, &mut line).unwrap_or(0) == 0 {
            break;
        }
        out.push_str(&line);
        if line.starts_with(last) {
            break;
        }
    }
    out
}

fn stanza(id: &str, port: u16, user: &str, server: &Path, extra: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = no\n\tuser = {user}\n\tserver = {}\n\
         \tbind = 127.0.0.1\n\tcps = 0 0\n\tlog_type = FILE @DIR@/svc.log\n\
         \tlog_on_success = PID HOST EXIT\n\tlog_on_failure = HOST\n{extra}}}\n",
        server.display()
    )
}

const PROBE: &str = r#"
grep -E '^(Uid|NoNewPrivs|Seccomp|CapBnd|CapAmb|CapEff):' /proc/self/status | tr -d '\t' | sed 's/:/ /'
for n in net ipc uts pid mnt; do echo "ns_$n $(readlink /proc/self/ns/$n | tr -dc 0-9)"; done
echo "mypid $$"
echo "interfaces $(cut -d: -f1 /proc/self/net/dev | tail -n +3 | tr -d ' ' | tr '\n' ',')"
touch /etc/xinetd-rs-sandbox-probe 2>/dev/null && echo "etc writable"
touch /usr/xinetd-rs-sandbox-probe 2>/dev/null && echo "usr writable"
touch "$(dirname "$0")/rw/written" 2>/dev/null && echo "rw_ok yes"
touch /tmp/probe && echo "tmp_ok yes"
echo "tmp_entries $(ls -A /tmp | wc -l)"
echo "home_entries $(ls -A /root /home 2>/dev/null | grep -vc ':$')"
echo "unshare $(/usr/bin/unshare -u /bin/true 2>&1 | sed 's/.*: //')"
echo "end"
"#;

/// `key value` lines as a map.
fn fields(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

fn ns_inode(pid: i32, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .expect("ns link")
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[test]
fn the_server_sees_its_sandbox() {
    if !require_root("sandbox end-to-end test") {
        return;
    }
    if !Path::new("/usr/bin/unshare").exists() {
        skip("/usr/bin/unshare (util-linux) is missing");
        return;
    }
    let dir = outside_tmp();
    let rw = rw_dir(dir.path());
    let probe = script(dir.path(), "probe.sh", PROBE);
    let port = free_port();
    let plain_port = free_port();
    let extra = format!(
        "\tno_new_privs = yes\n\tcapabilities = CAP_NET_BIND_SERVICE\n\
         \tambient_capabilities = CAP_NET_BIND_SERVICE\n\tprivate_network = yes\n\
         \tprivate_tmp = yes\n\tprivate_ipc = yes\n\tprivate_uts = yes\n\tprivate_pid = yes\n\
         \tprotect_system = strict\n\tread_write_paths = {}\n\tprotect_home = yes\n\
         \tseccomp = default\n\tseccomp_action = EACCES\n",
        rw.display()
    );
    let conf = stanza("hardened", port, "nobody", &probe, &extra)
        + &stanza("plain", plain_port, "nobody", &probe, "");
    let d = Daemon::start(&conf);

    let out = output_of(port);
    let f = fields(&out);
    assert_eq!(f.get("end").map(String::as_str), None, "{out}");
    assert!(out.ends_with("end\n"), "{out}");
    assert!(f["Uid"].starts_with("65534"), "{out}");
    assert_eq!(f["NoNewPrivs"], "1", "{out}");
    assert_eq!(f["Seccomp"], "2", "{out}");
    let bind = format!("{:016x}", 1u64 << 10);
    assert_eq!(f["CapBnd"], bind, "{out}");
    assert_eq!(f["CapAmb"], bind, "{out}");
    assert_eq!(f["CapEff"], bind, "{out}");
    for ns in ["net", "ipc", "uts", "pid", "mnt"] {
        assert_ne!(f[&format!("ns_{ns}")], ns_inode(d.pid(), ns), "{ns}: {out}");
    }
    assert_eq!(f["mypid"], "1", "{out}");
    assert_eq!(f["interfaces"], "lo,", "{out}");
    assert!(!out.contains("etc writable"), "{out}");
    assert!(!out.contains("usr writable"), "{out}");
    assert_eq!(f["rw_ok"], "yes", "{out}");
    assert_eq!(f["tmp_ok"], "yes", "{out}");
    assert_eq!(f["tmp_entries"], "1", "{out}");
    assert_eq!(f["home_entries"], "0", "{out}");
    // unshare(2) is in the default deny list; EACCES is the chosen errno (nobody's own
    // failure would be EPERM).
    assert_eq!(f["unshare"], "Permission denied", "{out}");
    assert!(rw.join("written").exists());
    assert!(!Path::new("/etc/xinetd-rs-sandbox-probe").exists());

    // The same probe without sandbox attributes: the daemon's namespaces, no filter.
    let out = output_of(plain_port);
    let f = fields(&out);
    assert_eq!(f["NoNewPrivs"], "0", "{out}");
    assert_eq!(f["Seccomp"], "0", "{out}");
    assert_eq!(f["CapAmb"], "0000000000000000", "{out}");
    for ns in ["net", "ipc", "uts", "pid", "mnt"] {
        assert_eq!(f[&format!("ns_{ns}")], ns_inode(d.pid(), ns), "{ns}: {out}");
    }
    assert_eq!(f["unshare"], "Operation not permitted", "{out}");
    d.wait_file(5, "svc.log", "EXIT: hardened status=0");
}

#[test]
fn what_cannot_be_provided_disables_the_service_at_load() {
    if !require_root("sandbox end-to-end test") {
        return;
    }
    let dir = outside_tmp();
    let probe = script(dir.path(), "hello.sh", "echo hello");
    let bad = free_port();
    let good = free_port();
    let conf = stanza(
        "missing",
        bad,
        "nobody",
        &probe,
        "\tprotect_system = strict\n\tread_write_paths = /nonexistent/xinetd-rs\n",
    ) + &stanza("fine", good, "nobody", &probe, "\tprivate_network = yes\n");
    let d = Daemon::start(&conf);
    d.wait_log(
        5,
        "service missing: sandbox: read_write_paths: /nonexistent/xinetd-rs does not exist (or is not absolute) - DISABLING",
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", bad)).is_err());
    assert_eq!(exchange(good, b""), b"hello\n");
}

#[test]
fn private_pid_lets_timeout_kill_escaped_grandchildren() {
    if !require_root("sandbox end-to-end test") {
        return;
    }
    let dir = outside_tmp();
    // A grandchild in a session of its own escapes the process-group kill of `timeout`;
    // as a member of the server's PID namespace it dies with the server (PID 1).
    let marker = format!("{}", 3000 + std::process::id() % 1000);
    let probe = script(
        dir.path(),
        "fork.sh",
        &leaves_a_sleeper(&format!("{marker}.5")),
    );
    let port = free_port();
    let conf = stanza(
        "forker",
        port,
        "nobody",
        &probe,
        "\tprivate_pid = yes\n\ttimeout = 1\n",
    );
    let d = Daemon::start(&conf);
    let _conn = connect_until_started(port);
    let sleeping = || cmdlines().any(|c| c == format!("/bin/sleep\0{marker}.5\0").as_bytes());
    wait_until(5, "the grandchild is running", sleeping);
    d.wait_file(10, "svc.log", "EXIT: forker");
    wait_until(5, "the grandchild is gone", || !sleeping());
}

#[test]
fn check_json_shows_the_sandbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = stanza(
        "ctf",
        31337,
        "root",
        Path::new("/bin/sh"),
        "\tprivate_network = yes\n\tseccomp = default\n\tcapabilities =\n\tio_weight = 50\n",
    );
    let (_, out) = run_check(dir.path(), "x.conf", &conf, &["-json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sb = &v["services"][0]["sandbox"];
    assert_eq!(sb["private_network"], "yes", "{v}");
    assert_eq!(sb["seccomp"], "default", "{v}");
    assert_eq!(sb["capabilities"], "", "{v}");
    assert_eq!(sb["io_weight"], "50", "{v}");
}

#[test]
fn landlock_confines_the_server_and_logs_what_the_kernel_cannot_enforce() {
    if !require_root("sandbox end-to-end test") {
        return;
    }
    // The Landlock ABI, read with the call the daemon makes (landlock_create_ruleset, VERSION).
    let abi = std::process::Command::new("python3")
        .args([
            "-c",
            "import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))",
        ])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<i32>()
                .ok()
        });
    let Some(abi) = abi else {
        skip("python3 is needed to read the Landlock ABI");
        return;
    };
    if abi <= 0 {
        skip("this kernel has no Landlock");
        return;
    }
    let dir = outside_tmp();
    rw_dir(dir.path());
    let probe = script(
        dir.path(),
        "probe.sh",
        "cat /etc/hostname >/dev/null 2>&1 || echo etc_denied yes\n\
         touch \"$(dirname \"$0\")/rw/ok\" && echo rw_ok yes\n\
         touch \"$(dirname \"$0\")/not-rw\" 2>/dev/null || echo dir_readonly yes\n\
         /usr/bin/python3 -c 'import socket\n\
try:\n    socket.create_connection((\"127.0.0.1\", 9))\n\
except OSError as e:\n    print(\"connect\", e.errno)'\n\
         echo end",
    );
    let read: Vec<String> = ["/usr", "/bin", "/lib", "/lib64", "/etc/ld.so.cache"]
        .iter()
        .filter(|p| Path::new(p).exists())
        .map(|p| p.to_string())
        .chain([dir.path().display().to_string()])
        .collect();
    let port = free_port();
    let extra = format!(
        "\tlandlock_read = {}\n\tlandlock_write = {}/rw /dev/null\n\tlandlock_tcp_connect =\n",
        read.join(" "),
        dir.path().display()
    );
    let d = Daemon::start(&stanza("confined", port, "nobody", &probe, &extra));
    let out = output_of(port);
    let log = d.prog_log();
    let f = fields(&out);
    assert!(out.ends_with("end\n"), "{out}");
    assert_eq!(
        f.get("etc_denied").map(String::as_str),
        Some("yes"),
        "{out}"
    );
    assert_eq!(f.get("rw_ok").map(String::as_str), Some("yes"), "{out}");
    assert_eq!(
        f.get("dir_readonly").map(String::as_str),
        Some("yes"),
        "{out}"
    );
    // Landlock ABI 4 rules, no port allowed: connect fails with EACCES (not ECONNREFUSED).
    if abi >= 4 {
        assert_eq!(f.get("connect").map(String::as_str), Some("13"), "{out}");
    } else {
        assert!(
            log.contains("landlock_tcp_connect is not enforced"),
            "{log}"
        );
    }
    // The crate knows ABIs up to 10 at least; an older kernel gets one WARNING line naming
    // the rights it cannot restrict.
    if abi < 9 {
        assert!(
            log.contains(&format!(
                "service confined: sandbox: landlock: this kernel's ABI {abi} cannot restrict"
            )),
            "{log}"
        );
    }
}

/// What the v1 cgroup tests need: root, the pids, memory and cpu controllers as v1
/// hierarchies (the v2 layout is not exercised by these tests: the project's machines keep
/// the controllers on v1) and python3; `None`, with the skip printed, when one is missing.
/// Then the test waits for its turn (see [`CGROUP_TESTS`]) and gets a directory for its
/// server.
fn cgroup_v1_test() -> Option<(std::sync::MutexGuard<'static, ()>, tempfile::TempDir)> {
    if !require_root("cgroup end-to-end test") {
        return None;
    }
    let v1 = ["pids", "memory", "cpu"]
        .iter()
        .all(|c| Path::new(&format!("/sys/fs/cgroup/{c}/cgroup.procs")).exists());
    if !v1 {
        skip("the pids, memory and cpu controllers are not v1 hierarchies under /sys/fs/cgroup");
        return None;
    }
    if !Path::new("/usr/bin/python3").exists() {
        skip("python3 is missing");
        return None;
    }
    Some((serial(), outside_tmp()))
}

/// The cgroup tests run one at a time: every daemon that loads a service with cgroup limits
/// sweeps the cgroups of daemons that no longer exist, which would otherwise reach into
/// `cgroups_left_by_a_killed_daemon_are_swept_at_the_next_start` while it checks that the
/// cgroups of its SIGKILLed daemon are still there.
static CGROUP_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    CGROUP_TESTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops the daemon with SIGTERM when the test ends, however it ends: the daemon then kills
/// every server's cgroup and removes it (a SIGKILLed daemon would leave them behind).
struct Terminate(Daemon);

impl std::ops::Deref for Terminate {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl Drop for Terminate {
    fn drop(&mut self) {
        self.0.signal(nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait_exit(10);
    }
}

/// The command lines (NUL-separated arguments) of every process.
fn cmdlines() -> impl Iterator<Item = Vec<u8>> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
}

/// How many processes have `marker` in their command line.
fn running(marker: &str) -> usize {
    cmdlines()
        .filter(|c| String::from_utf8_lossy(c).contains(marker))
        .count()
}

/// The cgroup of `controller`'s hierarchy in `out`, the server's /proc/self/cgroup
/// (`ID:CONTROLLERS:PATH` lines), checked to be one the daemon made for `server`.
fn server_cgroup<'a>(out: &'a str, controller: &str, server: &str) -> &'a str {
    let line = out
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|x| x == controller))
        })
        .unwrap_or_else(|| panic!("{controller} in {out}"));
    let rel = line.splitn(3, ':').nth(2).expect("path");
    assert!(rel.contains(&format!("/xinetd-rs/{server}-")), "{line}");
    rel
}

/// The v1 pids cgroup of the daemon's first server `server`.
fn first_pids_cgroup(d: &Daemon, server: &str) -> PathBuf {
    PathBuf::from("/sys/fs/cgroup/pids/xinetd-rs").join(format!("{server}-{}-0", d.pid()))
}

const FORK_BOMB: &str = r#"#!/usr/bin/python3
import os, sys, time
marker = sys.argv[1]
for line in open('/proc/self/cgroup'):
    print('cgroup', line.strip(), flush=True)
n = 0
for i in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        print('fork_failed', e.errno, flush=True)
        break
    if pid == 0:
        os.execv('/bin/sleep', ['sleep', marker])
    n += 1
print('forked', n, flush=True)
sys.stdin.read(1)
"#;

#[test]
fn pids_max_bounds_a_fork_bomb_and_the_cgroup_goes_with_the_server() {
    let Some((_serial, dir)) = cgroup_v1_test() else {
        return;
    };
    let bomb = write_script(dir.path(), "bomb.py", FORK_BOMB);
    let marker = format!("{}.25", 4000 + std::process::id() % 1000);
    let port = free_port();
    let conf = stanza(
        "bomb",
        port,
        "nobody",
        &bomb,
        &format!(
            "\tserver_args = {marker}\n\tpids_max = 10\n\tmemory_max = 128M\n\tcpu_max = 50%\n"
        ),
    );
    let d = Terminate(Daemon::start(&conf));
    let mut s = connect_patiently(port);
    let out = lines_until(&s, "forked", 50);
    assert!(out.contains("fork_failed 11\n"), "{out}");
    assert!(out.contains("forked 9\n"), "{out}");
    let path = |ctrl: &str| -> PathBuf {
        let rel = server_cgroup(&out, ctrl, "bomb.py");
        PathBuf::from(format!("/sys/fs/cgroup/{ctrl}{rel}"))
    };
    let (pids, memory, cpu) = (path("pids"), path("memory"), path("cpu"));
    let read = |p: PathBuf| std::fs::read_to_string(p).expect("read").trim().to_owned();
    assert_eq!(read(pids.join("pids.max")), "10");
    assert_eq!(
        read(memory.join("memory.limit_in_bytes")),
        (128u64 << 20).to_string()
    );
    assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
    // The nine sleepers and the server (whose argument is the marker too); the last child
    // may still be between fork and exec.
    wait_until(5, "nine sleepers and the server", || running(&marker) == 10);
    // The server exits; what it left running is killed and its cgroups are removed.
    s.write_all(b"x").expect("write");
    d.wait_file(10, "svc.log", "EXIT: bomb status=0");
    wait_until(5, "the sleepers are killed", || running(&marker) == 0);
    wait_until(5, "the cgroups are removed", || {
        !pids.exists() && !memory.exists() && !cpu.exists()
    });
}

#[test]
fn memory_max_kills_a_memory_hog_and_says_so() {
    let Some((_serial, dir)) = cgroup_v1_test() else {
        return;
    };
    let hog = script(
        dir.path(),
        "hog.sh",
        "echo start\nexec /usr/bin/python3 -c 'b = bytearray(512 << 20); print(\"survived\")'",
    );
    let port = free_port();
    let d = Terminate(Daemon::start(&stanza(
        "hog",
        port,
        "nobody",
        &hog,
        "\tmemory_max = 32M\n",
    )));
    let out = output_of(port);
    assert_eq!(out, "start\n");
    d.wait_file(10, "svc.log", "EXIT: hog signal=9");
    d.wait_log(5, "service hog: server ");
    assert!(d.prog_log().contains("hit memory_max"), "{}", d.prog_log());
}

#[test]
fn timeout_kills_the_whole_cgroup() {
    let Some((_serial, dir)) = cgroup_v1_test() else {
        return;
    };
    let marker = format!("{}.75", 5000 + std::process::id() % 1000);
    let probe = script(dir.path(), "escape.sh", &leaves_a_sleeper(&marker));
    let port = free_port();
    let d = Terminate(Daemon::start(&stanza(
        "escape",
        port,
        "nobody",
        &probe,
        "\tpids_max = 20\n\ttimeout = 1\n",
    )));
    let _conn = connect_until_started(port);
    wait_until(5, "the escaped grandchild runs", || running(&marker) == 1);
    d.wait_file(10, "svc.log", "EXIT: escape signal=9");
    wait_until(5, "the escaped grandchild is killed", || {
        running(&marker) == 0
    });
}

#[test]
fn sigterm_of_the_daemon_kills_the_whole_cgroup() {
    let Some((_serial, dir)) = cgroup_v1_test() else {
        return;
    };
    let marker = format!("{}.5", 6000 + std::process::id() % 1000);
    let probe = script(dir.path(), "stay.sh", &leaves_a_sleeper(&marker));
    let port = free_port();
    let mut d = Daemon::start(&stanza("stay", port, "nobody", &probe, "\tpids_max = 20\n"));
    let _conn = connect_until_started(port);
    wait_until(5, "the escaped grandchild runs", || running(&marker) == 1);
    let leaf = first_pids_cgroup(&d, "stay.sh");
    assert!(leaf.exists(), "{}", leaf.display());
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(10).is_some(), "the daemon exits");
    // The kill and removal run on the daemon's cgroup thread, which it waits for before
    // exiting: nothing is left once it is gone.
    assert!(!leaf.exists(), "{} left behind", leaf.display());
    // The server died of SIGTERM (its process group); the grandchild in a session of its
    // own went with the server's cgroup.
    wait_until(5, "the escaped grandchild is killed", || {
        running(&marker) == 0
    });
    assert!(
        d.read("svc.log").contains("EXIT: stay signal=15"),
        "{}",
        d.read("svc.log")
    );
}

#[test]
fn cgroups_left_by_a_killed_daemon_are_swept_at_the_next_start() {
    let Some((_serial, dir)) = cgroup_v1_test() else {
        return;
    };
    let marker = format!("{}.125", 7000 + std::process::id() % 1000);
    let probe = script(dir.path(), "leave.sh", &leaves_a_sleeper(&marker));
    let port = free_port();
    let conf = stanza("leave", port, "nobody", &probe, "\tpids_max = 20\n");
    let leaf = {
        let d = Daemon::start(&conf);
        let _conn = connect_until_started(port);
        wait_until(5, "the grandchild runs", || running(&marker) == 1);
        let leaf = first_pids_cgroup(&d, "leave.sh");
        assert!(leaf.exists(), "{}", leaf.display());
        leaf
        // The daemon is SIGKILLed here (Daemon's drop): nothing cleans up.
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(leaf.exists(), "the killed daemon's cgroup stays");
    assert!(running(&marker) >= 1, "and what runs in it");
    let d = Terminate(Daemon::start(&conf));
    wait_until(5, "the stale cgroup's processes are killed", || {
        running(&marker) == 0
    });
    wait_until(5, "the stale cgroup is removed", || !leaf.exists());
    drop(d);
}

/// `io_weight`: where the kernel offers a weight (v1 `blkio.weight`, mapped ×5; or
/// `blkio.bfq.weight`), the server's blkio cgroup has it; where it does not (no BFQ/CFQ
/// scheduler: the weight files are missing), the service is refused at load with one
/// ERROR line saying so, and the rest of the configuration still serves.
#[test]
fn io_weight_is_enforced_or_refused_at_load() {
    if !require_root("cgroup end-to-end test") {
        return;
    }
    let blkio = Path::new("/sys/fs/cgroup/blkio");
    if !blkio.join("cgroup.procs").exists() {
        skip("no v1 blkio hierarchy at /sys/fs/cgroup/blkio");
        return;
    }
    let dir = outside_tmp();
    let probe = script(dir.path(), "io.sh", "cat /proc/self/cgroup");
    let (weighted, plain) = (free_port(), free_port());
    let conf = stanza("weighted", weighted, "nobody", &probe, "\tio_weight = 50\n")
        + &stanza("plain", plain, "nobody", &probe, "");
    let d = Terminate(Daemon::start(&conf));
    let weights = ["blkio.weight", "blkio.bfq.weight"];
    if !weights.iter().any(|f| blkio.join(f).exists()) {
        skip("io_weight enforcement: /sys/fs/cgroup/blkio has no blkio.weight nor blkio.bfq.weight (no BFQ/CFQ scheduler); checking the refusal instead");
        d.wait_log(
            5,
            "service weighted: sandbox: io_weight: the kernel offers no I/O weight here (neither blkio.weight nor blkio.bfq.weight in /sys/fs/cgroup/blkio",
        );
        assert!(d.prog_log().contains("- DISABLING"), "{}", d.prog_log());
        assert!(std::net::TcpStream::connect(("127.0.0.1", weighted)).is_err());
        assert!(output_of(plain).contains("0::/"));
        return;
    }
    let out = output_of(weighted);
    let rel = server_cgroup(&out, "blkio", "io.sh");
    let cg = blkio.join(rel.trim_start_matches('/'));
    let weight = weights
        .iter()
        .find_map(|f| std::fs::read_to_string(cg.join(f)).ok())
        .expect("a weight file");
    // 50 on the v2 scale is 250 on v1's (default 100 <-> 500).
    assert!(weight.split_whitespace().any(|w| w == "250"), "{weight}");
}

/// `cgroup_root` on the machine's cgroup v2 tree (a hybrid machine's controller-less
/// `/sys/fs/cgroup/unified` will do: placing processes and `cgroup.kill` need no
/// controller): the server starts in `<root>/xinetd-rs/<server>-<daemon pid>-<n>` (its own
/// `0::` line), `timeout` kills its whole tree with `cgroup.kill` (a grandchild in a session
/// of its own, which the process-group kill misses), and the cgroup is removed.
#[test]
fn cgroup_root_on_v2_places_the_server_and_timeout_kills_its_tree() {
    if !require_root("cgroup end-to-end test") {
        return;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    if (v.next().unwrap_or(0), v.next().unwrap_or(0)) < (5, 14) {
        skip("cgroup.kill needs Linux 5.14");
        return;
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let Some(mount) = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split(' ').nth(4).map(PathBuf::from))?
    }) else {
        skip("no cgroup v2 hierarchy is mounted");
        return;
    };
    let root = mount.join(format!("xinetd-rs-test-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&root) {
        skip(format_args!("cannot create {}: {e}", root.display()));
        return;
    }
    struct Rmdir(PathBuf);
    impl Drop for Rmdir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(self.0.join("xinetd-rs"));
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let root = Rmdir(root);
    let dir = outside_tmp();
    let marker = format!("{}.75", 8000 + std::process::id() % 1000);
    let probe = script(
        dir.path(),
        "v2.sh",
        &format!(
            "grep '^0::' /proc/self/cgroup\n{}",
            leaves_a_sleeper(&marker)
        ),
    );
    let port = free_port();
    let conf = stanza(
        "v2",
        port,
        "nobody",
        &probe,
        &format!("\tcgroup_root = {}\n\ttimeout = 1\n", root.0.display()),
    );
    let d = Terminate(Daemon::start(&conf));
    let s = connect_patiently(port);
    let out = lines_until(&s, "started", 5);
    let leaf = root
        .0
        .join("xinetd-rs")
        .join(format!("v2.sh-{}-0", d.pid()));
    let shown = format!(
        "0::/{}",
        leaf.strip_prefix(&mount)
            .expect("under the mount")
            .display()
    );
    assert!(out.lines().any(|l| l == shown), "{shown} not in {out}");
    wait_until(5, "the grandchild runs", || running(&marker) == 1);
    d.wait_file(10, "svc.log", "EXIT: v2");
    wait_until(5, "cgroup.kill reached the grandchild", || {
        running(&marker) == 0
    });
    wait_until(5, "the cgroup is removed", || !leaf.exists());
}
