//! Starting a daemon under test on a generated configuration, watching its memory and
//! descriptors while a scenario runs, and stopping it by its pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{logs, procfs};

/// Which daemon a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The daemon of this repository.
    Candidate,
    /// Debian's xinetd 2.3.15.3 (no xadmin builtin, no `-ident_port`).
    Xinetd,
}

/// A daemon binary to test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which one.
    pub kind: Kind,
    /// Its path.
    pub path: PathBuf,
}

impl Target {
    /// The label in the table.
    pub fn label(&self) -> &'static str {
        match self.kind {
            Kind::Candidate => "candidate",
            Kind::Xinetd => "xinetd",
        }
    }
}

/// How to start a daemon.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Run under `prlimit --nofile=N:N`.
    pub nofile: Option<u64>,
}

/// Peak values seen by the [`Sampler`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peaks {
    /// Highest VmRSS, KiB.
    pub rss_kib: u64,
    /// Most open descriptors.
    pub fds: u64,
}

/// A thread reading the daemon's VmRSS and descriptor count every 50 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Peaks>>,
}

impl Sampler {
    fn start(pid: i32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let mut peaks = Peaks::default();
                while !flag.load(Ordering::Relaxed) {
                    if let Some(r) = procfs::rss_kib(pid) {
                        peaks.rss_kib = peaks.rss_kib.max(r);
                    }
                    if let Some(n) = procfs::fd_count(pid) {
                        peaks.fds = peaks.fds.max(n);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                peaks
            })
            .ok();
        Sampler { stop, thread }
    }

    fn finish(&mut self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

/// A running daemon in its own directory (configuration, program log, service logs).
pub struct Daemon {
    child: Child,
    dir: PathBuf,
    conf: PathBuf,
    prog_log: PathBuf,
    sampler: Sampler,
    exited: Option<String>,
}

impl Daemon {
    /// Writes `conf` (with `@DIR@` replaced by `dir`) and starts
    /// `DAEMON -dontfork -filelog DIR/prog.log -f DIR/xinetd.conf EXTRA...`, then waits
    /// (15 s at most) for `Started working` in the program log.
    pub fn start(
        target: &Target,
        dir: &Path,
        conf: &str,
        extra: &[&str],
        launch: &Launch,
    ) -> Result<Daemon, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let conf_path = dir.join("xinetd.conf");
        let prog_log = dir.join("prog.log");
        write_atomically(&conf_path, &expand(conf, dir))?;
        let mut cmd = match launch.nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                // prlimit sets the limit and execs the daemon: same pid.
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(&target.path);
                c
            }
            None => Command::new(&target.path),
        };
        cmd.arg("-dontfork")
            .arg("-filelog")
            .arg(&prog_log)
            .arg("-f")
            .arg(&conf_path)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A process group of its own: xinetd signals its group on some exits, which must
        // not reach the soak tool.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", target.path.display()))?;
        let pid = i32::try_from(child.id()).map_err(|_| "pid out of range".to_string())?;
        let mut d = Daemon {
            child,
            dir: dir.to_path_buf(),
            conf: conf_path,
            prog_log,
            sampler: Sampler::start(pid),
            exited: None,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if d.prog_log().contains("Started working") {
                return Ok(d);
            }
            if let Some(why) = d.check_alive() {
                return Err(format!("{} exited at start-up: {why}", target.label()));
            }
            if Instant::now() > deadline {
                d.kill_now();
                return Err(format!("{} did not start within 15 s", target.label()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// The program log so far.
    pub fn prog_log(&self) -> String {
        logs::read(&self.prog_log)
    }

    /// A file of the daemon's directory ("" when absent).
    pub fn read(&self, name: &str) -> String {
        logs::read(&self.dir.join(name))
    }

    /// Replaces the configuration (atomically, so a reload never reads half a file).
    pub fn rewrite(&self, conf: &str) -> Result<(), String> {
        write_atomically(&self.conf, &expand(conf, &self.dir))
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: Signal) -> Result<(), String> {
        kill(Pid::from_raw(self.pid()), sig).map_err(|e| format!("kill {sig}: {e}"))
    }

    /// `Some(status)` once the daemon has exited (remembered, so a crash is reported
    /// even after the fact).
    pub fn check_alive(&mut self) -> Option<String> {
        if self.exited.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.exited = Some(st.to_string());
            }
        }
        self.exited.clone()
    }

    /// Waits up to `limit` for the daemon to exit; true when it did.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.check_alive().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.check_alive().is_some()
    }

    /// The peaks seen so far (stops the sampler).
    pub fn peaks(&mut self) -> Peaks {
        self.sampler.finish()
    }

    /// SIGTERM, then SIGKILL after 10 s; waits for the exit. Returns the status text when the
    /// daemon had already exited on its own before this call.
    pub fn stop(&mut self) -> Option<String> {
        let died = self.check_alive();
        if died.is_none() {
            let _ = self.signal(Signal::SIGTERM);
            if !self.wait_exit(Duration::from_secs(10)) {
                self.kill_now();
            }
        }
        self.sampler.finish();
        died
    }

    fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.sampler.finish();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.check_alive().is_none() {
            self.kill_now();
        }
    }
}

fn expand(text: &str, dir: &Path) -> String {
    text.replace("@DIR@", &dir.display().to_string())
}

fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
