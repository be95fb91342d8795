//! Shared helpers: start the real `xinetd` binary on free loopback ports with a generated
//! configuration, wait on conditions with deadlines, and stop it by PID.
// Each test binary uses its own part of the helpers.
#![allow(dead_code, unused_imports)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

// The helpers every test crate of the workspace shares; re-exported so the tests here keep
// reaching everything through `util::*`.
pub use xinetd_test_support::{
    connect, connect_from, free_port, is_root, require_root, skip, udp_from, wait_until,
};

/// The binary under test.
pub const XINETD: &str = env!("CARGO_BIN_EXE_xinetd");

/// A running daemon with its temp directory.
pub struct Daemon {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub prog_log: PathBuf,
    pub pidfile: PathBuf,
}

impl Daemon {
    /// Writes `conf_text` (with `@DIR@` replaced by the temp dir) and starts
    /// `xinetd -dontfork -filelog DIR/prog.log -pidfile DIR/pid -f DIR/xinetd.conf`, then
    /// waits for `Started working`.
    pub fn start(conf_text: &str) -> Daemon {
        Self::start_with(conf_text, &[])
    }

    /// As [`Daemon::start`] with extra options.
    pub fn start_with(conf_text: &str, extra: &[&str]) -> Daemon {
        let d = Self::spawn(conf_text, extra);
        d.wait_log(10, "Started working");
        d
    }

    /// Starts without waiting for anything.
    pub fn spawn(conf_text: &str, extra: &[&str]) -> Daemon {
        Self::spawn_with(conf_text, &[], &[], extra)
    }

    /// As [`Daemon::spawn`], started through `wrapper` (a program and its arguments that runs
    /// the daemon's command line given after them, e.g. `prlimit --nofile=256:256 --`), with
    /// `env` added; `@DIR@` in the wrapper's arguments is the temp dir.
    pub fn spawn_with(
        conf_text: &str,
        wrapper: &[&str],
        env: &[(&str, &str)],
        extra: &[&str],
    ) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("xinetd.conf");
        let prog_log = dir.path().join("prog.log");
        let pidfile = dir.path().join("xinetd.pid");
        std::fs::write(&conf, expand(conf_text, dir.path())).expect("write config");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args.iter().map(|a| expand(a, dir.path())));
                c.arg(XINETD);
                c
            }
            None => Command::new(XINETD),
        };
        let child = cmd
            .envs(env.iter().copied())
            .arg("-dontfork")
            .arg("-filelog")
            .arg(&prog_log)
            .arg("-pidfile")
            .arg(&pidfile)
            .arg("-f")
            .arg(&conf)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start xinetd");
        Daemon {
            child,
            dir,
            conf,
            prog_log,
            pidfile,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Text of a file in the temp dir ("" when absent).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    pub fn prog_log(&self) -> String {
        std::fs::read_to_string(&self.prog_log).unwrap_or_default()
    }

    /// Waits until the program log contains `needle`.
    pub fn wait_log(&self, secs: u64, needle: &str) {
        if !xinetd_test_support::wait_for(secs, || self.prog_log().contains(needle)) {
            // The log says why, when a wait fails only now and then.
            panic!(
                "timed out after {secs}s waiting for '{needle}' in the program log:\n{}",
                self.prog_log()
            );
        }
    }

    /// Waits until the program log contains `needle` `n` times.
    pub fn wait_log_count(&self, secs: u64, needle: &str, n: usize) {
        wait_until(
            secs,
            &format!("{n} x '{needle}' in the program log"),
            || self.prog_log().matches(needle).count() >= n,
        );
    }

    /// Waits until file `name` in the temp dir contains `needle`.
    pub fn wait_file(&self, secs: u64, name: &str, needle: &str) {
        wait_until(secs, &format!("'{needle}' in {name}"), || {
            self.read(name).contains(needle)
        });
    }

    /// Replaces the configuration file.
    pub fn rewrite(&self, conf_text: &str) {
        std::fs::write(&self.conf, expand(conf_text, self.dir.path())).expect("rewrite config");
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("kill");
    }

    /// Waits for the process to exit and returns its status code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let mut code = None;
        let exited = xinetd_test_support::wait_for(secs, || match self.child.try_wait() {
            Ok(Some(st)) => {
                code = Some(st.code());
                true
            }
            _ => false,
        });
        assert!(exited, "xinetd did not exit within {secs}s");
        code.flatten()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid()),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = self.child.wait();
        }
    }
}

fn expand(text: &str, dir: &Path) -> String {
    text.replace("@DIR@", &dir.display().to_string())
}

/// Reads until EOF (bounded by the read timeout and 1 MiB).
pub fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.take(1 << 20).read_to_end(&mut out);
    out
}

/// Sends `payload` and returns what comes back before EOF after a half-close.
pub fn exchange(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = connect(port);
    s.write_all(payload).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    read_all(&mut s)
}

/// The inode of the TCP socket listening on 127.0.0.1:`port` (from /proc/net/tcp).
pub fn listen_inode(port: u16) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = format!("0100007F:{port:04X}");
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&want.as_str()) && f.get(3) == Some(&"0A"))
            .then(|| f.get(9).and_then(|i| i.parse().ok()))
            .flatten()
    })
}

/// Socket inodes held open by process `pid` (from /proc/PID/fd).
pub fn socket_inodes(pid: i32) -> Vec<u64> {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let t = std::fs::read_link(e.ok()?.path()).ok()?;
        let t = t.to_str()?;
        t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
    })
    .collect()
}

/// A stanza for an internal service on 127.0.0.1.
pub fn internal(name: &str, id: &str, sock: &str, port: u16, extra: &str) -> String {
    let wait = if sock == "dgram" { "yes" } else { "no" };
    format!(
        "service {name}\n{{\n\tid = {id}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = {sock}\n\
         \tport = {port}\n\twait = {wait}\n\tbind = 127.0.0.1\n\tcps = 0 0\n\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST EXIT DURATION\n\
         \tlog_on_failure = HOST\n{extra}}}\n"
    )
}

/// A stanza for an external stream service on 127.0.0.1.
pub fn external(id: &str, port: u16, server: &str, args: &str, extra: &str) -> String {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("\tserver_args = {args}\n")
    };
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = no\n\tuser = root\n\tserver = {server}\n{args}\
         \tbind = 127.0.0.1\n\tcps = 0 0\n\tlog_type = FILE @DIR@/svc.log\n\
         \tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST\n{extra}}}\n"
    )
}

/// A helper process (rpcbind, a daemon started through `prlimit`/`setpriv`) killed and reaped
/// when the test ends, however it ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `text` to `dir/name` as an executable (mode 0755) script for a service's `server`.
pub fn write_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod script");
    path
}

/// A temporary directory holding just the script `name` ([`write_script`]), and the script's
/// path as text, for a service's `server =`; the script lives as long as the directory.
pub fn script_dir(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_script(dir.path(), name, text).display().to_string();
    (dir, path)
}

/// True when /usr/bin/python3 exists; otherwise prints `skipped: needs /usr/bin/python3 for
/// PURPOSE` and returns false, for `if !has_python3("...") { return; }`.
pub fn has_python3(purpose: &str) -> bool {
    if Path::new("/usr/bin/python3").exists() {
        return true;
    }
    skip(format_args!("needs /usr/bin/python3 for {purpose}"));
    false
}

/// Writes `conf_text` to `dir/name` and runs `xinetd -f FILE -check` followed by `extra`
/// (`-json`): the file's path (diagnostics start with it) and what the run gave.
pub fn run_check(dir: &Path, name: &str, conf_text: &str, extra: &[&str]) -> (PathBuf, Output) {
    let path = dir.join(name);
    std::fs::write(&path, conf_text).expect("write config");
    let out = Command::new(XINETD)
        .args(["-f", path.to_str().expect("utf-8"), "-check"])
        .args(extra)
        .output()
        .expect("run xinetd -check");
    (path, out)
}

/// `xinetd -check` of `conf_text` (written to `dir/bad.conf`), whose output must have the
/// located diagnostic `FILE:LINE:2: error: WANT` (column 2: the attribute after its tab):
/// the exit status and the output, for the caller's further checks.
pub fn check_diagnostic(
    dir: &Path,
    conf_text: &str,
    line: usize,
    want: &str,
) -> (Option<i32>, String) {
    let (path, out) = run_check(dir, "bad.conf", conf_text, &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let located = format!("{}:{line}:2: error: {want}", path.display());
    assert!(text.contains(&located), "want {located:?} in\n{text}");
    (out.status.code(), text)
}

/// `xinetd -check -json` of a configuration that must load (exit status 0): the file's path
/// and the JSON document.
pub fn check_json(dir: &Path, name: &str, conf_text: &str) -> (PathBuf, serde_json::Value) {
    let (path, out) = run_check(dir, name, conf_text, &["-json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc = serde_json::from_slice(&out.stdout).expect("json");
    (path, doc)
}

/// `xinetd_conf::print` of the configuration in `path` (loaded in `env`), checked to contain
/// each of `wants` and to load back to the same configuration: the print and what loading it
/// gave.
pub fn print_round_trip(
    path: &Path,
    env: &xinetd_conf::Environment,
    wants: &[&str],
) -> (String, xinetd_conf::Loaded) {
    let options = xinetd_conf::LoadOptions::new();
    let loaded = xinetd_conf::load(path, env, &options).expect("loads");
    let printed = xinetd_conf::print(&loaded.config);
    for want in wants {
        assert!(printed.contains(want), "{want} in\n{printed}");
    }
    let again = xinetd_conf::load_bytes(printed.as_bytes(), "printed.conf", env, &options)
        .expect("printed configuration loads");
    assert_eq!(again.config, loaded.config);
    (printed, again)
}

/// A network namespace made with `ip netns add`, deleted when dropped, for tests that need
/// interfaces of their own (veth pairs, link-local and IPv6 addresses) without touching the
/// machine's.
pub struct Netns(pub String);

impl Netns {
    /// `ip netns add NAME`; the error is `ip`'s own message.
    pub fn add(name: String) -> Result<Netns, String> {
        run_ip(&["netns", "add", &name])?;
        Ok(Netns(name))
    }

    /// `ip -n NAME ARGS...`.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// Starts the daemon inside the namespace and waits for `Started working`. `ip netns exec`
    /// execs the daemon in place: same pid, so Daemon's drop kills the daemon itself.
    pub fn start_daemon(&self, conf_text: &str) -> Daemon {
        let d = Daemon::spawn_with(conf_text, &["ip", "netns", "exec", &self.0], &[], &[]);
        d.wait_log(10, "Started working");
        d
    }

    /// Runs `f` on a thread that has joined the namespace (a thread's namespace is its own:
    /// the test's other threads stay where they are) and returns what it returns.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let path = format!("/var/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("setns: {e}"))?;
            f()
        })
        .join()
        .expect("thread in the namespace")
    }

    /// Connects to `addr` from inside the namespace and returns what is read until EOF, or
    /// the connect error (3 s connect and read timeouts).
    pub fn fetch(&self, addr: SocketAddr) -> Result<Vec<u8>, String> {
        self.run(move || {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(3)))
                .map_err(|e| e.to_string())?;
            Ok(read_all(&mut s))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Runs `ip ARGS...`; a failure is `ip ARGS: what ip said`.
pub fn run_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
