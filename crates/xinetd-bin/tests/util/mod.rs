//! Shared helpers: start the real `xinetd` binary on free loopback ports with a generated
//! configuration, wait on conditions with deadlines, and stop it by PID.
// Each test binary uses its own part of the helpers.
#![allow(dead_code, unused_imports)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
