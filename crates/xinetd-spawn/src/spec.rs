//! [`SpawnSpec`]: everything about a server that does not change per connection, prepared as
//! C strings and plain numbers once, at configuration time.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::credentials::Credentials;
use crate::environment::Environment;
use crate::rlimits::{default_nofile, Rlimit, RlimitValue};
use crate::sandbox::Sandbox;
use crate::{server_argv, SetupStep, SpawnError};
use nix::errno::Errno;

/// A fully prepared server description: the input of [`spawn`](crate::spawn).
///
/// Build it with [`SpawnSpec::builder`] when the configuration is loaded (or reloaded) and
/// keep it with the service; spawning then only adds the per-connection `REMOTE_HOST`.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub(crate) program_path: PathBuf,
    pub(crate) program: CString,
    pub(crate) argv: Vec<CString>,
    /// Shared between services with the same environment ([`SharedEnvironments`]).
    pub(crate) env: Arc<[CString]>,
    pub(crate) uid: Option<libc::uid_t>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) groups: Vec<libc::gid_t>,
    pub(crate) initgroups: Option<(String, libc::gid_t)>,
    pub(crate) umask: Option<libc::mode_t>,
    pub(crate) nice: Option<libc::c_int>,
    pub(crate) rlimits: [Option<u64>; 5],
    pub(crate) nofile: u64,
    pub(crate) chroot: Option<CString>,
    pub(crate) clear_nonblocking: bool,
    pub(crate) session: Session,
    pub(crate) listen_fds: Option<ListenFds>,
    pub(crate) sandbox: Option<crate::sandbox::Prepared>,
}

/// The prepared entries of socket activation ([`SpawnSpecBuilder::listen_fds`]); the
/// `LISTEN_PID=` entry is written per spawn, by the child.
#[derive(Debug, Clone)]
pub(crate) struct ListenFds {
    /// `LISTEN_FDS=1`.
    pub(crate) fds: CString,
    /// `LISTEN_FDNAMES=<name>`.
    pub(crate) names: CString,
}

/// True for the `LISTEN_PID=`, `LISTEN_FDS=` and `LISTEN_FDNAMES=` entries.
pub(crate) fn is_listen_variable(entry: &[u8]) -> bool {
    [&b"LISTEN_PID="[..], b"LISTEN_FDS=", b"LISTEN_FDNAMES="]
        .iter()
        .any(|p| entry.starts_with(p))
}

/// How the server is detached from the daemon (F-412).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Session {
    /// `setsid()`, as xinetd: the server leads a new session (no controlling terminal) and a
    /// new process group. On kernels with `CONFIG_SCHED_AUTOGROUP` enabled (Debian's default)
    /// every new session also gets its own scheduler group, which costs the daemon CPU share
    /// when many servers run at once ([docs/performance.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/performance.md#spawning-xinetd-spawn)).
    #[default]
    NewSession,
    /// `setpgid(0, 0)`: a new process group only (the daemon can still kill the whole group),
    /// staying in the daemon's session and scheduler autogroup. Only for a daemon that has no
    /// controlling terminal (the normal case for a service manager or after `-dontfork` in a
    /// container).
    NewProcessGroup,
}

impl SpawnSpec {
    /// Starts a spec for the server program `server` (F-111). With
    /// [`chroot`](SpawnSpecBuilder::chroot) the path is looked up inside the new root.
    pub fn builder(server: impl Into<PathBuf>) -> SpawnSpecBuilder {
        SpawnSpecBuilder {
            program: server.into(),
            argv: None,
            environment: Environment::new(),
            credentials: Credentials::inherit(),
            umask: None,
            nice: None,
            rlimits: [None; 5],
            rlimit_files: None,
            chroot: None,
            clear_nonblocking: true,
            session: Session::NewSession,
            listen_fds: None,
            sandbox: Sandbox::default(),
        }
    }

    /// The server path given to `execve`.
    pub fn program(&self) -> &Path {
        &self.program_path
    }

    /// The argv given to `execve`.
    pub fn argv(&self) -> impl Iterator<Item = &OsStr> {
        self.argv.iter().map(|c| OsStr::from_bytes(c.as_bytes()))
    }

    /// The ERROR lines xinetd's child would log for `err` (function name, text), so the
    /// daemon can keep xinetd's log lines (F-411, F-412, F-415); `%m` is rendered as xinetd
    /// does, `strerror (errno = N)`. `service` is the service name (for the `groups = yes`
    /// hint). Errors that xinetd would not log from the child (a fork failure, a bad spec)
    /// give their `Display` text under the function `spawn`; a `dup2` failure names the
    /// descriptors generically, and the `chroot` extension has its own wording.
    pub fn failure_messages(&self, err: &SpawnError, service: &str) -> Vec<(&'static str, String)> {
        let m = |e: &Errno| format!("{} (errno = {})", e.desc(), *e as i32);
        match err {
            SpawnError::ExecFailed { program, errno, .. } => vec![(
                "exec_server",
                format!("execv( {} ) failed: {}", program.display(), m(errno)),
            )],
            SpawnError::Setup { step, errno, .. } => match step {
                SetupStep::Setgid => vec![("set_credentials", format!("setgid failed: {}", m(errno)))],
                SetupStep::Setuid => vec![("set_credentials", format!("setuid failed: {}", m(errno)))],
                SetupStep::Setgroups => match &self.initgroups {
                    Some((user, gid)) => vec![(
                        "set_credentials",
                        format!("initgroups( {user}, {gid} ) failed: {}", m(errno)),
                    )],
                    None => vec![
                        ("set_credentials", format!("setgroups( 0, NULL ) failed: {}", m(errno))),
                        (
                            "set_credentials",
                            format!(
                                "Your system may require that 'groups = yes' be defined for this service: {service}"
                            ),
                        ),
                    ],
                },
                SetupStep::Dup if self.listen_fds.is_some() => vec![("exec_server", format!("dup2( conn, 3 ) failed: {}", m(errno)))],
                SetupStep::Dup => vec![("exec_server", format!("dup2( conn, 0..2 ) failed: {}", m(errno)))],
                SetupStep::DevNull => vec![("exec_server", format!("open( /dev/null ) for fds 0..2 failed: {}", m(errno)))],
                SetupStep::Chroot => vec![(
                    "child_process",
                    format!(
                        "chroot( {} ) failed: {}",
                        self.chroot
                            .as_ref()
                            .map(|c| c.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        m(errno)
                    ),
                )],
                other => vec![("child_process", format!("{other} failed: {}", m(errno)))],
            },
            other => vec![("spawn", other.to_string())],
        }
    }

    /// What the kernel could not enforce of a best-effort sandbox feature (Landlock access
    /// rights newer than the kernel's ABI), one line each, for the daemon to log when the
    /// service is loaded.
    pub fn sandbox_notes(&self) -> &[String] {
        self.sandbox.as_ref().map_or(&[], |s| s.notes())
    }

    /// The RLIMIT_NOFILE (soft = hard) the server gets (F-012).
    pub fn rlimit_files(&self) -> u64 {
        self.nofile
    }

    /// A copy whose environment also has `vars` (per-connection variables such as TLS's
    /// `SSL_*`), each replacing a variable of the same name. A name that is empty or holds
    /// `=`, or a name or value with a NUL byte, cannot be passed and is left out.
    ///
    /// ```
    /// let spec = xinetd_spawn::SpawnSpec::builder("/bin/true").build()?;
    /// let tls = spec.with_connection_env([("SSL_PROTOCOL", "TLSv1.3")]);
    /// assert_eq!(tls.env().last().map(|e| e.to_bytes()), Some(&b"SSL_PROTOCOL=TLSv1.3"[..]));
    /// # Ok::<(), xinetd_spawn::SpawnError>(())
    /// ```
    pub fn with_connection_env<'a>(
        &self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> SpawnSpec {
        let mut out = self.clone();
        let mut env = self.env.to_vec();
        for (name, value) in vars {
            if name.is_empty() || name.contains('=') {
                continue;
            }
            let Ok(entry) = CString::new(format!("{name}={value}")) else {
                continue;
            };
            let prefix = format!("{name}=");
            env.retain(|e| !e.as_bytes().starts_with(prefix.as_bytes()));
            env.push(entry);
        }
        out.env = env.into();
        out
    }

    /// Makes this spec use the copy of its environment that `shared` already holds, when
    /// another spec built the same one; otherwise `shared` keeps this one for the next.
    /// Every service inherits the daemon's environment unless it sets `env`/`passenv`, so a
    /// configuration of many services holds one copy instead of one per service.
    ///
    /// ```
    /// use xinetd_spawn::{SharedEnvironments, SpawnSpec};
    /// let mut shared = SharedEnvironments::default();
    /// let mut a = SpawnSpec::builder("/bin/true").build()?;
    /// let mut b = SpawnSpec::builder("/bin/cat").build()?;
    /// a.share_environment(&mut shared);
    /// b.share_environment(&mut shared);
    /// assert_eq!(shared.len(), 1);
    /// # Ok::<(), xinetd_spawn::SpawnError>(())
    /// ```
    pub fn share_environment(&mut self, shared: &mut SharedEnvironments) {
        match shared.0.get(&*self.env) {
            Some(same) => self.env = Arc::clone(same),
            None => {
                shared.0.insert(Arc::clone(&self.env));
            }
        }
    }

    /// The environment the server gets (without the per-connection `REMOTE_HOST`).
    pub fn env(&self) -> &[CString] {
        &self.env
    }
}

/// The distinct environments of the specs built so far ([`SpawnSpec::share_environment`]).
#[derive(Debug, Default)]
pub struct SharedEnvironments(std::collections::HashSet<Arc<[CString]>>);

impl SharedEnvironments {
    /// How many distinct environments are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No environment held yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Builder for [`SpawnSpec`]; every setting maps to one xinetd attribute.
#[derive(Debug, Clone)]
pub struct SpawnSpecBuilder {
    program: PathBuf,
    argv: Option<Vec<OsString>>,
    environment: Environment,
    credentials: Credentials,
    umask: Option<u32>,
    nice: Option<i32>,
    rlimits: [Option<RlimitValue>; 5],
    rlimit_files: Option<RlimitValue>,
    chroot: Option<PathBuf>,
    clear_nonblocking: bool,
    session: Session,
    listen_fds: Option<OsString>,
    sandbox: Sandbox,
}

impl SpawnSpecBuilder {
    /// The complete argv (see [`server_argv`] for `server_args` and `NAMEINARGS`, F-413).
    /// Default: `[basename(server)]`.
    pub fn argv<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.argv = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// The environment (see [`Environment::for_service`], F-410). Default: empty.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// `user`, `group`, `groups` (F-106..F-108). Default: inherit the daemon's identity.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// `umask` (F-138), applied after the credentials; only the permission bits are used.
    pub fn umask(mut self, umask: u32) -> Self {
        self.umask = Some(umask & 0o777);
        self
    }

    /// `nice` (F-110): an increment passed to `nice()` after the credentials, whose failure
    /// (a negative value for a non-root user) is ignored as in xinetd.
    pub fn nice(mut self, increment: i32) -> Self {
        self.nice = Some(increment);
        self
    }

    /// `rlimit_as`/`_cpu`/`_data`/`_rss`/`_stack` (F-133, F-134): soft = hard = `value`.
    /// `Limit(0)` means "not set", as in xinetd.
    pub fn rlimit(mut self, which: Rlimit, value: RlimitValue) -> Self {
        if let Some(slot) = self.rlimits.get_mut(which.index()) {
            *slot = (value != RlimitValue::Limit(0)).then_some(value);
        }
        self
    }

    /// `rlimit_files` (F-135): soft = hard = `value`. When not set, the server gets the
    /// daemon's hard limit (4096 if infinite) as both soft and hard limit (F-012).
    pub fn rlimit_files(mut self, value: RlimitValue) -> Self {
        self.rlimit_files = (value != RlimitValue::Limit(0)).then_some(value);
        self
    }

    /// `chroot = DIR` (extension; real xinetd needs `server = /usr/sbin/chroot`): the child
    /// chroots before dropping privileges, then `chdir("/")`; the server path and everything
    /// the server opens are then resolved inside `dir`.
    pub fn chroot(mut self, dir: impl Into<PathBuf>) -> Self {
        self.chroot = Some(dir.into());
        self
    }

    /// Whether the child clears `O_NONBLOCK` on the socket it hands to the server (default:
    /// yes). Servers expect the blocking sockets xinetd gives them. The flag belongs to the
    /// open file description, so for a `wait = yes` service the daemon's listening socket
    /// becomes blocking too; it must set `O_NONBLOCK` again (or use `MSG_DONTWAIT`) when it
    /// resumes polling that socket after the server exits.
    pub fn clear_nonblocking(mut self, clear: bool) -> Self {
        self.clear_nonblocking = clear;
        self
    }

    /// `setsid` (default, F-412) or only a new process group; see [`Session`].
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    /// Socket activation, systemd's protocol (sd_listen_fds(3)): the socket of the
    /// [`Connection`](crate::Connection) goes on fd 3 instead of 0, 1 and 2, which get
    /// `/dev/null`; the environment gets `LISTEN_FDS=1`, `LISTEN_FDNAMES=<name>` and
    /// `LISTEN_PID=<the server's pid>` (written by the child itself, after clone), replacing
    /// any `LISTEN_*` entries of the environment. Meant for the listening socket of a
    /// `wait = yes` service.
    pub fn listen_fds(mut self, name: impl Into<OsString>) -> Self {
        self.listen_fds = Some(name.into());
        self
    }

    /// The per-service sandbox (namespaces, mounts, capabilities, `no_new_privs`, seccomp;
    /// see [`Sandbox`]). [`build`](Self::build) checks it against the running kernel and the
    /// daemon's privileges and fails with [`SpawnError::Sandbox`] naming what is missing.
    pub fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// Converts everything to C strings and numbers; fails on NUL bytes and when the argv
    /// would be empty.
    pub fn build(self) -> Result<SpawnSpec, SpawnError> {
        let argv = match self.argv {
            Some(argv) => argv,
            None => server_argv::<&str>(&self.program, &[], false)?,
        };
        if argv.is_empty() {
            return Err(SpawnError::EmptyArgv);
        }
        let program = c_string("server", self.program.clone().into_os_string())?;
        let argv = argv
            .into_iter()
            .map(|a| c_string("server argument", a))
            .collect::<Result<Vec<_>, _>>()?;
        let env = self
            .environment
            .iter()
            .map(|(k, v)| {
                let mut entry = k.to_os_string();
                entry.push("=");
                entry.push(v);
                c_string("environment entry", entry)
            })
            .collect::<Result<Arc<[CString]>, _>>()?;
        let chroot = self
            .chroot
            .map(|dir| c_string("chroot directory", dir.into_os_string()))
            .transpose()?;
        let mut rlimits = [None; 5];
        for which in Rlimit::ALL {
            if let (Some(slot), Some(value)) = (
                rlimits.get_mut(which.index()),
                self.rlimits.get(which.index()).copied().flatten(),
            ) {
                *slot = Some(value.raw());
            }
        }
        let listen_fds = match self.listen_fds {
            Some(name) => {
                let mut names = OsString::from("LISTEN_FDNAMES=");
                names.push(name);
                Some(ListenFds {
                    fds: c_string("environment entry", "LISTEN_FDS=1".into())?,
                    names: c_string("environment entry", names)?,
                })
            }
            None => None,
        };
        let uid = self.credentials.uid().map(|u| u.as_raw());
        let sandbox = if self.sandbox.is_empty() {
            None
        } else {
            Some(self.sandbox.prepare(uid, &self.program)?)
        };
        let nofile = match self.rlimit_files {
            Some(value) => value.raw(),
            None => default_nofile(),
        };
        Ok(SpawnSpec {
            program_path: self.program,
            program,
            argv,
            env,
            uid: self.credentials.uid().map(|u| u.as_raw()),
            gid: self.credentials.gid().map(|g| g.as_raw()),
            groups: self
                .credentials
                .supplementary()
                .iter()
                .map(|g| g.as_raw())
                .collect(),
            initgroups: self
                .credentials
                .initgroups()
                .map(|(name, gid)| (name.to_owned(), gid.as_raw())),
            umask: self.umask.map(|m| m as libc::mode_t),
            nice: self.nice,
            rlimits,
            nofile,
            chroot,
            clear_nonblocking: self.clear_nonblocking,
            session: self.session,
            listen_fds,
            sandbox,
        })
    }
}

fn c_string(what: &'static str, value: OsString) -> Result<CString, SpawnError> {
    CString::new(value.into_vec()).map_err(|e| SpawnError::NulByte {
        what,
        value: String::from_utf8_lossy(&e.into_vec()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_argv_is_the_basename() {
        let spec = SpawnSpec::builder("/bin/true").build().unwrap();
        assert_eq!(spec.argv().collect::<Vec<_>>(), ["true"]);
        assert_eq!(spec.program(), Path::new("/bin/true"));
    }

    #[test]
    fn nul_bytes_are_rejected() {
        let r = SpawnSpec::builder("/bin/true").argv(["a\0b"]).build();
        assert!(matches!(
            r,
            Err(SpawnError::NulByte {
                what: "server argument",
                ..
            })
        ));
    }

    #[test]
    fn zero_limits_mean_not_set_and_nofile_defaults() {
        let spec = SpawnSpec::builder("/bin/true")
            .rlimit(Rlimit::Cpu, RlimitValue::Limit(0))
            .rlimit(Rlimit::As, RlimitValue::Limit(1 << 26))
            .rlimit(Rlimit::Stack, RlimitValue::Unlimited)
            .build()
            .unwrap();
        assert_eq!(spec.rlimits[Rlimit::Cpu.index()], None);
        assert_eq!(spec.rlimits[Rlimit::As.index()], Some(1 << 26));
        assert_eq!(
            spec.rlimits[Rlimit::Stack.index()],
            Some(libc::RLIM_INFINITY)
        );
        assert_eq!(spec.rlimit_files(), default_nofile());
        let spec = SpawnSpec::builder("/bin/true")
            .rlimit_files(RlimitValue::Limit(64))
            .build()
            .unwrap();
        assert_eq!(spec.rlimit_files(), 64);
    }

    #[test]
    fn empty_argv_is_rejected() {
        let r = SpawnSpec::builder("/bin/true")
            .argv(Vec::<String>::new())
            .build();
        assert!(matches!(r, Err(SpawnError::EmptyArgv)));
    }

    #[test]
    fn failure_messages_are_xinetds() {
        let spec = SpawnSpec::builder("/bin/true").build().unwrap();
        let setup = |step| SpawnError::Setup {
            step,
            errno: Errno::EPERM,
            pid: 1,
        };
        assert_eq!(
            spec.failure_messages(&setup(SetupStep::Setuid), "ftp"),
            [(
                "set_credentials",
                "setuid failed: Operation not permitted (errno = 1)".to_owned()
            )]
        );
        let lines = spec.failure_messages(&setup(SetupStep::Setgroups), "ftp");
        assert_eq!(
            lines[0].1,
            "setgroups( 0, NULL ) failed: Operation not permitted (errno = 1)"
        );
        assert_eq!(
            lines[1].1,
            "Your system may require that 'groups = yes' be defined for this service: ftp"
        );
        let exec = SpawnError::ExecFailed {
            program: "/usr/sbin/in.x".into(),
            errno: Errno::ENOENT,
            pid: 1,
        };
        assert_eq!(
            spec.failure_messages(&exec, "x"),
            [(
                "exec_server",
                "execv( /usr/sbin/in.x ) failed: No such file or directory (errno = 2)".to_owned()
            )]
        );
        let groups = SpawnSpec::builder("/bin/true")
            .credentials(Credentials::resolve(Some("root"), None, true).unwrap())
            .build()
            .unwrap();
        assert_eq!(
            groups.failure_messages(&setup(SetupStep::Setgroups), "x")[0].1,
            "initgroups( root, 0 ) failed: Operation not permitted (errno = 1)"
        );
    }

    #[test]
    fn specs_and_children_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<SpawnSpec>();
        send_sync::<crate::Child>();
        send_sync::<SpawnError>();
    }

    #[test]
    fn umask_keeps_permission_bits() {
        let spec = SpawnSpec::builder("/bin/true")
            .umask(0o4077)
            .build()
            .unwrap();
        assert_eq!(spec.umask, Some(0o077));
    }
}
