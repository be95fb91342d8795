//! The sandbox seen from inside the server: each test spawns `/bin/sh -c SCRIPT` with a
//! sandbox and reads what the script prints about its own process. Root only (skipped with
//! a printed reason otherwise).

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use xinetd_spawn::sandbox::{
    Capability, Cgroup, ProtectHome, ProtectSystem, SeccompAction, SeccompGroup, SeccompPolicy,
};
use xinetd_spawn::{spawn, Child, Connection, Credentials, Sandbox, SpawnError, SpawnSpec};

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: sandbox tests need root");
        false
    }
}

fn python3() -> bool {
    if std::path::Path::new("/usr/bin/python3").exists() {
        return true;
    }
    eprintln!("skipped: python3 is missing");
    false
}

/// The scripts' `PATH` (a spec's environment is otherwise empty).
fn search_path() -> xinetd_spawn::Environment {
    xinetd_spawn::Environment::from_vars([("PATH", "/usr/bin:/bin")])
}

/// Spawns `spec` with one end of a socket pair as its connection: the child and the other
/// end, where the server's output arrives.
fn start(spec: &SpawnSpec) -> Result<(Child, UnixStream), SpawnError> {
    let (server, client) = UnixStream::pair().expect("socketpair");
    let child = spawn(spec, Connection::new(server.as_fd()))?;
    Ok((child, client))
}

/// Everything the server writes until every holder of its end has closed it.
fn read_to_end(mut client: UnixStream) -> String {
    let mut out = String::new();
    client.read_to_string(&mut out).expect("read");
    out
}

/// Runs a server that has a cgroup to its end: the cgroup (still there) and its output.
fn run_in_cgroup(spec: &SpawnSpec) -> (Cgroup, String) {
    let (mut child, client) = start(spec).expect("spawn");
    let cg = child.take_cgroup().expect("a cgroup");
    let out = read_to_end(client);
    child.wait().expect("wait");
    (cg, out)
}

fn run(sandbox: Sandbox, user: Option<&str>, script: &str) -> Result<String, SpawnError> {
    let mut b = SpawnSpec::builder("/bin/sh")
        .argv(["sh", "-c", script])
        .environment(search_path())
        .sandbox(sandbox);
    if let Some(u) = user {
        b = b.credentials(Credentials::resolve(Some(u), None, false)?);
    }
    let (child, client) = start(&b.build()?)?;
    let out = read_to_end(client);
    child.wait().expect("wait");
    Ok(out)
}

fn status_field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{name} missing in {out}"))
}

#[test]
fn no_new_privs_and_bounding_set() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.no_new_privs = true;
    s.capabilities = Some(vec![Capability::CAP_NET_BIND_SERVICE, Capability::CAP_KILL]);
    let out = run(s, None, "cat /proc/self/status").expect("spawn");
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    let want = format!("{:016x}", (1u64 << 10) | (1u64 << 5));
    assert_eq!(status_field(&out, "CapBnd"), want);
    assert_eq!(status_field(&out, "CapEff"), want);
}

#[test]
fn ambient_capabilities_survive_setuid() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.capabilities = Some(vec![Capability::CAP_NET_BIND_SERVICE]);
    s.ambient_capabilities = vec![Capability::CAP_NET_BIND_SERVICE];
    let out = run(s, Some("nobody"), "cat /proc/self/status").expect("spawn");
    let want = format!("{:016x}", 1u64 << 10);
    assert_eq!(status_field(&out, "CapAmb"), want);
    assert_eq!(status_field(&out, "CapEff"), want);
    assert_eq!(status_field(&out, "CapBnd"), want);
    assert!(status_field(&out, "Uid").starts_with("65534"));
}

#[test]
fn ambient_without_user_is_refused_at_build() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.ambient_capabilities = vec![Capability::CAP_NET_BIND_SERVICE];
    let err = run(s, None, "true").unwrap_err();
    assert!(matches!(err, SpawnError::Sandbox(_)), "{err}");
}

fn ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .expect("ns link")
        .display()
        .to_string()
}

#[test]
fn namespaces_differ_from_the_parent() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.private_network = true;
    s.private_ipc = true;
    s.private_uts = true;
    s.private_pid = true;
    let out = run(
        s,
        None,
        "for n in net ipc uts pid mnt; do echo $n $(readlink /proc/self/ns/$n); done; echo pid $$; cut -d: -f1 /proc/self/net/dev | tail -n +3; \
         python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); socket.create_connection(s.getsockname()); print(\"lo-up\")'",
    )
    .expect("spawn");
    for n in ["net", "ipc", "uts", "pid"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{n} {n}:")))
            .unwrap_or_else(|| panic!("{n} in {out}"));
        assert_ne!(line.split(' ').nth(1).unwrap(), ns(n), "{out}");
    }
    assert!(out.contains("pid 1\n"), "{out}");
    // Only loopback, and up.
    let interfaces: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("pid 1"))
        .skip(1)
        .take_while(|l| *l != "lo-up")
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "{out}");
    assert!(out.ends_with("lo-up\n"), "{out}");
}

#[test]
fn protect_system_strict_private_tmp_and_home() {
    if !root() {
        return;
    }
    let rw = tempfile::tempdir_in("/var/lib").expect("tempdir");
    let host_tmp = tempfile::NamedTempFile::new_in("/tmp").expect("tmp file");
    let mut s = Sandbox::default();
    s.private_tmp = true;
    s.protect_system = ProtectSystem::Strict;
    s.read_write_paths = vec![rw.path().to_owned()];
    s.protect_home = ProtectHome::Yes;
    let script = format!(
        "touch /etc/xinetd-sandbox-probe && echo etc-writable; \
         touch /usr/xinetd-sandbox-probe && echo usr-writable; \
         touch {rw}/ok && echo rw-ok; \
         touch /tmp/ok && echo tmp-ok; \
         test -e {host} && echo host-tmp-visible; \
         test -z \"$(ls -A /root)\" && echo root-empty; \
         echo done",
        rw = rw.path().display(),
        host = host_tmp.path().display()
    );
    let out = run(s, None, &script).expect("spawn");
    assert!(out.contains("rw-ok"), "{out}");
    assert!(out.contains("tmp-ok"), "{out}");
    assert!(!out.contains("etc-writable"), "{out}");
    assert!(!out.contains("usr-writable"), "{out}");
    assert!(!out.contains("host-tmp-visible"), "{out}");
    assert!(out.contains("root-empty"), "{out}");
    assert!(out.contains("done"), "{out}");
    assert!(rw.path().join("ok").exists());
    assert!(!std::path::Path::new("/etc/xinetd-sandbox-probe").exists());
}

#[test]
fn seccomp_deny_list_fails_with_the_chosen_errno() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.seccomp = Some(SeccompPolicy::Deny(
        SeccompGroup::DEFAULT_DENY.to_vec(),
        SeccompAction::Errno(libc::EACCES),
    ));
    // unshare(1) calls unshare(2), in @namespaces.
    let out = run(
        s,
        None,
        "grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status; unshare -u true 2>&1; echo rc=$?",
    )
    .expect("spawn");
    assert_eq!(status_field(&out, "Seccomp"), "2");
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert!(out.contains("Permission denied"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
}

#[test]
fn seccomp_allow_list_runs_a_shell() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.seccomp = Some(SeccompPolicy::Allow(
        vec![
            SeccompGroup::Basic,
            SeccompGroup::Process,
            SeccompGroup::Files,
        ],
        SeccompAction::Errno(libc::ENOSYS),
    ));
    // socket(2) is not allowed: python/sh cannot open one; echo still works.
    let out = run(
        s,
        None,
        "echo hello; cat /proc/self/status | grep ^Seccomp:",
    )
    .expect("spawn");
    assert!(out.contains("hello"), "{out}");
    assert_eq!(status_field(&out, "Seccomp"), "2");
}

#[test]
fn landlock_limits_reads_and_writes() {
    if !root() {
        return;
    }
    let rw = tempfile::tempdir_in("/var/lib").expect("tempdir");
    let mut s = Sandbox::default();
    s.landlock_read = [
        "/usr",
        "/bin",
        "/lib",
        "/lib64",
        "/etc/ld.so.cache",
        "/proc",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .filter(|p| p.exists())
    .collect();
    s.landlock_write = vec![rw.path().to_owned(), "/dev/null".into()];
    let script = format!(
        "cat /etc/hostname >/dev/null 2>&1 || echo etc-denied; \
         touch {rw}/ok && echo rw-ok; \
         touch /var/lib/xinetd-landlock-probe 2>/dev/null || echo var-denied; \
         grep ^NoNewPrivs: /proc/self/status",
        rw = rw.path().display()
    );
    let out = run(s, None, &script).expect("spawn");
    assert!(out.contains("etc-denied"), "{out}");
    assert!(out.contains("rw-ok"), "{out}");
    assert!(out.contains("var-denied"), "{out}");
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert!(!std::path::Path::new("/var/lib/xinetd-landlock-probe").exists());
}

#[test]
fn landlock_missing_path_is_refused_at_build() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.landlock_read = vec!["/nonexistent/xinetd-rs".into()];
    let err = run(s, None, "true").unwrap_err();
    assert!(
        err.to_string()
            .contains("landlock_read: /nonexistent/xinetd-rs"),
        "{err}"
    );
}

#[test]
fn pids_max_stops_a_fork_bomb_and_the_cgroup_is_killed_and_removed() {
    if !root() {
        return;
    }
    if !python3() {
        return;
    }
    let mut s = Sandbox::default();
    s.cgroup.pids_max = Some(8);
    s.cgroup.memory_max = Some(256 << 20);
    let spec = SpawnSpec::builder("/usr/bin/python3")
        .argv([
            "python3",
            "-c",
            "import os, sys, time\n\
             print(open('/proc/self/cgroup').read(), flush=True)\n\
             n = 0\n\
             for i in range(40):\n\
             \x20   try:\n\
             \x20       pid = os.fork()\n\
             \x20   except OSError as e:\n\
             \x20       print('fork-failed', e.errno, flush=True); break\n\
             \x20   if pid == 0:\n\
             \x20       time.sleep(60); os._exit(0)\n\
             \x20   n += 1\n\
             print('forked', n, flush=True)\n\
             sys.stdout.close()\n\
             time.sleep(60)\n",
        ])
        .sandbox(s)
        .build()
        .expect("spec");
    let (mut child, mut client) = start(&spec).expect("spawn");
    let cg = child.take_cgroup().expect("a cgroup");
    // The children keep the socket open: read up to the `forked` line, not to EOF.
    let mut out = String::new();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(&mut client));
    for line in lines.by_ref().take(100) {
        let line = line.expect("read");
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("forked") {
            break;
        }
    }
    assert!(out.contains("fork-failed 11"), "{out}"); // EAGAIN
                                                      // The server plus at most 7 children.
    assert!(out.contains("forked 7"), "{out}");
    for dir in cg.paths() {
        let leaf = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(out.contains(&leaf), "{leaf} not in {out}");
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap()
                .lines()
                .count(),
            8
        );
    }
    let pids_dir = cg
        .paths()
        .iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids") || d.join("pids.max").exists());
    if let Some(d) = pids_dir {
        assert_eq!(
            std::fs::read_to_string(d.join("pids.max")).unwrap().trim(),
            "8"
        );
    }
    cg.kill_all();
    child.wait().expect("wait");
    cg.remove();
    for dir in cg.paths() {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn landlock_tcp_rules_limit_bind_and_connect() {
    if !root() {
        return;
    }
    if !python3() {
        return;
    }
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = allowed.local_addr().expect("addr").port();
    drop(allowed);
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let other_port = other.local_addr().expect("addr").port();
    let mut s = Sandbox::default();
    s.landlock_tcp_bind = Some(vec![port]);
    s.landlock_tcp_connect = Some(vec![]);
    let script = format!(
        "import socket\n\
         def attempt(what, f):\n\
         \x20   s = socket.socket()\n\
         \x20   try:\n\
         \x20       f(s); print(what, 'ok')\n\
         \x20   except OSError as e:\n\
         \x20       print(what, e.errno)\n\
         attempt('bind_allowed', lambda s: s.bind(('127.0.0.1', {port})))\n\
         attempt('bind_other', lambda s: s.bind(('127.0.0.1', {port2})))\n\
         attempt('connect', lambda s: s.connect(('127.0.0.1', {other_port})))\n",
        port2 = port.wrapping_add(1).max(1024),
    );
    let spec = SpawnSpec::builder("/usr/bin/python3")
        .argv(["python3", "-c", &script])
        .sandbox(s)
        .build();
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => panic!("{e}"),
    };
    if spec
        .sandbox_notes()
        .iter()
        .any(|n| n.contains("no TCP rules"))
    {
        eprintln!("skipped: this kernel's Landlock has no TCP rules (ABI < 4)");
        return;
    }
    let (child, client) = start(&spec).expect("spawn");
    let out = read_to_end(client);
    child.wait().expect("wait");
    drop(other);
    assert!(out.contains("bind_allowed ok"), "{out}");
    assert!(out.contains("bind_other 13"), "{out}");
    assert!(out.contains("connect 13"), "{out}");
}

/// A fresh directory in the machine's cgroup v2 hierarchy (`/sys/fs/cgroup/unified` on a
/// hybrid machine, `/sys/fs/cgroup` on a unified one), removed on drop. Placing processes
/// needs no controller, so this works on hybrid machines too; nothing is remounted.
struct V2Root(std::path::PathBuf);

impl V2Root {
    fn new(tag: &str) -> Option<V2Root> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mount = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))?
        });
        let Some(mount) = mount else {
            eprintln!("skipped: no cgroup v2 hierarchy is mounted");
            return None;
        };
        let dir = mount.join(format!("xinetd-spawn-test-{}-{tag}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => Some(V2Root(dir)),
            Err(e) => {
                eprintln!("skipped: cannot create {}: {e}", dir.display());
                None
            }
        }
    }

    /// The path as `/proc/<pid>/cgroup` shows it (relative to the hierarchy's root).
    fn shown(&self, dir: &std::path::Path) -> String {
        let mount = self.0.parent().expect("parent");
        format!("/{}", dir.strip_prefix(mount).expect("under").display())
    }
}

impl Drop for V2Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(self.0.join("xinetd-rs"));
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (ma, mi) >= (major, minor)
}

/// clone3(CLONE_INTO_CGROUP): the server is created inside its v2 cgroup (the `0::` line of
/// its own /proc/self/cgroup), together with the namespace flags (here a PID namespace:
/// the server is PID 1), and the cgroup is gone once the server is reaped.
#[test]
fn clone3_starts_the_server_inside_its_v2_cgroup() {
    if !root() {
        return;
    }
    let Some(root_dir) = V2Root::new("into") else {
        return;
    };
    let mut s = Sandbox::default();
    s.cgroup_root = Some(root_dir.0.clone());
    s.private_pid = true;
    let spec = SpawnSpec::builder("/bin/sh")
        .argv(["sh", "-c", "echo pid=$$; cat /proc/self/cgroup"])
        .sandbox(s)
        .build()
        .expect("spec");
    let (cg, out) = run_in_cgroup(&spec);
    let dir = cg.paths()[0].clone();
    assert_eq!(dir.parent(), Some(root_dir.0.join("xinetd-rs").as_path()));
    assert!(out.contains("pid=1\n"), "{out}");
    assert!(
        out.lines()
            .any(|l| l == format!("0::{}", root_dir.shown(&dir))),
        "{} not the 0:: line of {out}",
        dir.display()
    );
    if kernel_at_least(5, 7) {
        assert!(cg.started_inside(), "clone3(CLONE_INTO_CGROUP) not used");
    } else {
        eprintln!("kernel < 5.7: the child joined its cgroup itself");
    }
    cg.remove();
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// cgroup v2's kill path: `cgroup.kill` reaches what the server left running (here two
/// daemonised `sleep`s in another session), and the cgroup is then removed.
#[test]
fn v2_cgroup_kill_reaches_the_servers_grandchildren() {
    if !root() {
        return;
    }
    if !kernel_at_least(5, 14) {
        eprintln!("skipped: cgroup.kill needs Linux 5.14");
        return;
    }
    let Some(root_dir) = V2Root::new("kill") else {
        return;
    };
    let mut s = Sandbox::default();
    s.cgroup_root = Some(root_dir.0.clone());
    let spec = SpawnSpec::builder("/bin/sh")
        .argv([
            "sh",
            "-c",
            "setsid sleep 100 </dev/null >/dev/null 2>&1 & setsid sleep 100 </dev/null >/dev/null 2>&1 & echo ready",
        ])
        .environment(search_path())
        .sandbox(s)
        .build()
        .expect("spec");
    let (cg, out) = run_in_cgroup(&spec);
    assert_eq!(out, "ready\n");
    let dir = cg.paths()[0].clone();
    let members = || -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    // The sleeps may still be starting: wait (bounded) until both are in the cgroup.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut left = members();
    while left.len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        left = members();
    }
    assert_eq!(left.len(), 2, "{left:?}");
    cg.kill_all();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !members().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(members(), Vec::<i32>::new());
    for pid in left {
        // Reaped by init (they were reparented): gone from /proc, or a zombie at most.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z "),
            "{pid} survived cgroup.kill: {state}"
        );
    }
    cg.remove();
    assert!(!dir.exists());
}

/// A `cgroup_root` that is not a v2 cgroup is refused when the spec is built.
#[test]
fn a_cgroup_root_outside_cgroup_v2_is_refused() {
    let mut s = Sandbox::default();
    s.cgroup_root = Some("/tmp".into());
    let err = SpawnSpec::builder("/bin/true")
        .sandbox(s)
        .build()
        .expect_err("refused");
    assert!(
        err.to_string().contains("is not a cgroup v2 directory"),
        "{err}"
    );
}

/// `io_weight` on this machine's layout: a weight file of the server's cgroup carries it
/// (v1 `blkio.weight` ×5), or, where the kernel offers no weight, the spec is refused.
#[test]
fn io_weight_is_written_or_refused() {
    if !root() {
        return;
    }
    let mut s = Sandbox::default();
    s.cgroup.io_weight = Some(40);
    let built = SpawnSpec::builder("/bin/cat")
        .argv(["cat", "/proc/self/cgroup"])
        .sandbox(s)
        .build();
    let spec = match built {
        Ok(spec) => spec,
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("io_weight: the kernel offers no I/O weight here")
                    || e.contains("the io controller is neither"),
                "{e}"
            );
            eprintln!("skipped: no I/O weight on this machine; refused as expected: {e}");
            return;
        }
    };
    let (cg, _) = run_in_cgroup(&spec);
    let weights = [
        "io.weight",
        "io.bfq.weight",
        "blkio.weight",
        "blkio.bfq.weight",
    ];
    let found: Vec<String> = cg
        .paths()
        .iter()
        .flat_map(|d| weights.iter().map(move |f| d.join(f)))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    cg.remove();
    assert!(
        found
            .iter()
            .any(|w| w.split_whitespace().any(|x| x == "40" || x == "200")),
        "{found:?}"
    );
}
