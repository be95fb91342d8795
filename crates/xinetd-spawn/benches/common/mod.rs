//! Shared by the spawn benchmarks: the specs under test and the raw libc baselines
//! (`fork`+`execve` and `posix_spawn`, as in the ceiling of the project's benchmark harness).
#![allow(dead_code)] // each bench uses a subset
#![allow(unsafe_code)] // the baselines are raw libc fork/posix_spawn, like the ceiling

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use nix::sys::wait::waitpid;
use nix::unistd::{geteuid, Pid};
use xinetd_spawn::{Credentials, Environment, Rlimit, RlimitValue, Session, SpawnSpec};

pub const TRUE: &str = "/bin/true";

/// `/bin/true` with every attribute set: environment, umask, nice, all rlimits and, as root,
/// `user = nobody`, `groups = yes`.
pub fn full_spec(session: Session) -> SpawnSpec {
    let mut b = SpawnSpec::builder(TRUE)
        .environment(Environment::from_vars([
            ("PATH", "/usr/bin:/bin"),
            ("LANG", "C"),
        ]))
        .umask(0o022)
        .nice(0) // exercised, but a positive value would slow the measured child itself
        .rlimit(Rlimit::As, RlimitValue::Limit(1 << 30))
        .rlimit(Rlimit::Cpu, RlimitValue::Limit(10))
        .rlimit(Rlimit::Data, RlimitValue::Limit(512 << 20))
        .rlimit(Rlimit::Rss, RlimitValue::Limit(256 << 20))
        .rlimit(Rlimit::Stack, RlimitValue::Limit(8 << 20))
        .rlimit_files(RlimitValue::Limit(1024));
    if geteuid().is_root() {
        b = b.credentials(Credentials::resolve(Some("nobody"), None, true).expect("nobody"));
    } else {
        eprintln!("note: not root, the full spec runs without user/group changes");
    }
    b.session(session).build().expect("spec")
}

pub struct Baseline {
    path: CString,
    argv: Vec<CString>,
}

impl Baseline {
    pub fn new() -> Baseline {
        Baseline {
            path: CString::new(TRUE).expect("path"),
            argv: vec![CString::new("true").expect("argv0")],
        }
    }

    fn ptrs(&self) -> Vec<*const libc::c_char> {
        let mut v: Vec<_> = self.argv.iter().map(|a| a.as_ptr()).collect();
        v.push(std::ptr::null());
        v
    }

    /// fork + dup2 x3 + execve, as the ceiling's `fork` mode and xinetd do.
    pub fn fork_exec(&self, fd: i32) -> Pid {
        let argv = self.ptrs();
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: the child only calls async-signal-safe functions on prepared data.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: as above.
            unsafe {
                for t in 0..3 {
                    libc::dup2(fd, t);
                }
                libc::execve(self.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        assert!(pid > 0, "fork failed");
        Pid::from_raw(pid)
    }

    /// posix_spawn with dup2 file actions, as the ceiling's `spawn` mode.
    pub fn posix_spawn(&self, fd: i32) -> Pid {
        let argv = self.ptrs();
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: standard posix_spawn usage with initialised attribute objects.
        unsafe {
            let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
            libc::posix_spawn_file_actions_init(&mut fa);
            for t in 0..3 {
                libc::posix_spawn_file_actions_adddup2(&mut fa, fd, t);
            }
            let mut pid = 0;
            let rc = libc::posix_spawn(
                &mut pid,
                self.path.as_ptr(),
                &fa,
                std::ptr::null(),
                argv.as_ptr() as *const *mut _,
                envp.as_ptr() as *const *mut _,
            );
            libc::posix_spawn_file_actions_destroy(&mut fa);
            assert_eq!(rc, 0, "posix_spawn failed");
            Pid::from_raw(pid)
        }
    }
}

pub fn command(conn: &OwnedFd) -> std::process::Child {
    Command::new(TRUE)
        .env_clear()
        .stdin(Stdio::from(conn.try_clone().expect("dup")))
        .stdout(Stdio::from(conn.try_clone().expect("dup")))
        .stderr(Stdio::from(conn.try_clone().expect("dup")))
        .spawn()
        .expect("spawn")
}

pub fn reap(pid: Pid) {
    waitpid(pid, None).expect("waitpid");
}
