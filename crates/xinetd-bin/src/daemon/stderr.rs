//! `log_stderr = yes` (extension): a server's standard error goes to a pipe the loop reads,
//! and each line becomes a `STDERR: <id> pid=<pid> <line>` record in the service's log,
//! instead of the bytes going onto the client's socket — what systemd does for the servers
//! of `Accept=yes` sockets.
//!
//! Each pipe is a small state machine like the sessions: its poll interest follows its
//! state. It is not watched while the server's spawn is in flight (the pid is not known
//! yet, and every record names it), watched for reading while the server runs, and not
//! watched while its line allowance is spent: a server that writes stderr faster than
//! [`LINES_PER_SEC`] is slowed down by the full pipe (backpressure) instead of costing the
//! daemon a core or flooding the log; nothing is dropped. A line longer than [`MAX_LINE`]
//! bytes is logged in pieces; a last line without a newline is logged at EOF. The pipe is
//! closed at EOF, or once the server has exited and what it left in the pipe is read (a
//! grandchild holding the write end open cannot keep it).
//!
//! Each pipe costs the daemon one descriptor while the server runs (two during the spawn):
//! it has a poll token, so the descriptor budget ([`super::budget`]) counts it, and a server
//! started when the budget has no room keeps xinetd's behaviour (stderr on the socket) with
//! a rate-limited notice.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::routes::Route;
use super::Daemon;
use crate::dlog::{Level, ProgramLog};
use crate::service::Service;

/// The longest line logged as one record (bytes); longer lines are split.
pub const MAX_LINE: usize = 1000;
/// Lines a server may log at once before the rate applies.
pub const BURST: f64 = 200.0;
/// Lines per second a server may log in the long run.
pub const LINES_PER_SEC: f64 = 100.0;
/// Bytes read from one pipe per loop turn before the others get theirs.
const TURN_BYTES: usize = 64 * 1024;
/// After the server exited, at most this much more is read (a full pipe and then some): a
/// background process that keeps the pipe open and writing cannot keep the daemon reading.
const DRAIN_BYTES: usize = 68 * 1024;

/// One server's stderr pipe.
struct ErrPipe {
    file: std::fs::File,
    token: Token,
    registered: bool,
    /// The spawn job, until the pid is known.
    job: u64,
    pid: Option<i32>,
    /// The service whose log gets the lines.
    svc: Service,
    partial: Vec<u8>,
    allowance: f64,
    refilled: Instant,
    paused_until: Option<Instant>,
    /// Set when the server exited: the bytes still to be read before the pipe is closed.
    drain_left: Option<usize>,
}

/// What a turn left.
enum Turn {
    Wait,
    Again,
    Done,
}

impl ErrPipe {
    fn want(&self) -> bool {
        self.pid.is_some() && self.paused_until.is_none()
    }

    /// Registers or deregisters so that the poll watches exactly what the state can use.
    fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        let want = self.want();
        if want == self.registered {
            return Ok(());
        }
        let fd = self.file.as_raw_fd();
        if want {
            registry.register(&mut SourceFd(&fd), self.token, Interest::READABLE)?;
        } else {
            registry.deregister(&mut SourceFd(&fd))?;
        }
        self.registered = want;
        Ok(())
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.allowance = (self.allowance + secs * LINES_PER_SEC).min(BURST);
        self.refilled = now;
    }

    fn emit(&mut self, line: &[u8], log: &mut ProgramLog) {
        let Some(pid) = self.pid else { return };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.svc
            .log_stderr_line(pid, &String::from_utf8_lossy(line), log);
        self.allowance -= 1.0;
    }

    /// Splits `bytes` into lines, keeping an unfinished one in `partial`.
    fn take(&mut self, bytes: &[u8], log: &mut ProgramLog) {
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&rest[..nl]);
            for piece in line.chunks(MAX_LINE) {
                self.emit(piece, log);
            }
            if line.is_empty() {
                self.emit(b"", log);
            }
            rest = &rest[nl + 1..];
        }
        self.partial.extend_from_slice(rest);
        while self.partial.len() >= MAX_LINE {
            let piece: Vec<u8> = self.partial.drain(..MAX_LINE).collect();
            self.emit(&piece, log);
        }
    }

    fn flush(&mut self, log: &mut ProgramLog) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, log);
        }
    }

    /// Reads and logs until the pipe would block, the allowance or the turn's bytes are
    /// spent, or EOF.
    fn turn(&mut self, now: Instant, log: &mut ProgramLog) -> Turn {
        if self.pid.is_none() {
            return Turn::Wait;
        }
        let mut consumed = 0;
        let mut buf = [0u8; 4096];
        loop {
            self.refill(now);
            if self.allowance < 1.0 && self.drain_left.is_none() {
                let wait = (1.0 - self.allowance) / LINES_PER_SEC;
                self.paused_until = Some(now + Duration::from_secs_f64(wait));
                return Turn::Wait;
            }
            if consumed >= TURN_BYTES {
                return Turn::Again;
            }
            match self.file.read(&mut buf) {
                Ok(0) => {
                    self.flush(log);
                    return Turn::Done;
                }
                Ok(n) => {
                    consumed += n;
                    self.take(&buf[..n], log);
                    if let Some(left) = self.drain_left.as_mut() {
                        *left = left.saturating_sub(n);
                        if *left == 0 {
                            self.flush(log);
                            return Turn::Done;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.drain_left.is_some() {
                        self.flush(log);
                        return Turn::Done;
                    }
                    return Turn::Wait;
                }
                Err(e) => {
                    log.msg(
                        Level::Err,
                        &format!(
                            "stderr of {} server {}: {}",
                            self.svc.id,
                            self.pid.unwrap_or(0),
                            xinetd_log::explain_errno(&e)
                        ),
                    );
                    self.flush(log);
                    return Turn::Done;
                }
            }
        }
    }
}

/// The stderr pipes of running servers.
#[derive(Default)]
pub struct StderrPipes {
    pipes: HashMap<Token, ErrPipe>,
    by_job: HashMap<u64, Token>,
    by_pid: HashMap<i32, Token>,
    /// Notices about servers started without a pipe for lack of descriptors.
    no_room: super::budget::Throttle,
}

impl StderrPipes {
    /// The earliest end of a pause.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pipes.values().filter_map(|p| p.paused_until).min()
    }
}

impl Daemon {
    /// For a server of a `log_stderr = yes` service about to be spawned as `job`: a pipe
    /// whose write end becomes the server's fd 2 (returned) and whose read end the loop
    /// keeps. `None` (stderr stays on the socket) when the descriptor budget has no room.
    pub(super) fn stderr_pipe(&mut self, job: u64, svc: &Service) -> Option<OwnedFd> {
        let now = Instant::now();
        if self.budget.room(self.held_fds()) < 2 {
            if let Some(n) = self.stderr.no_room.hit(now) {
                self.log.msg(
                    Level::Warning,
                    &format!(
                        "descriptor budget spent: {n} server(s) of {} started with stderr on the socket",
                        svc.id
                    ),
                );
            }
            return None;
        }
        let (read, write) = match nix::unistd::pipe2(
            nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK,
        ) {
            Ok(p) => p,
            Err(e) => {
                self.log.msg(
                    Level::Err,
                    &format!(
                        "service {}: cannot create the stderr pipe: {}",
                        svc.id,
                        xinetd_log::explain_errno(&io::Error::from(e))
                    ),
                );
                return None;
            }
        };
        // The server's end blocks as a normal stderr does (O_NONBLOCK is per open file, and
        // the two ends are separate ones).
        if let Ok(flags) = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_GETFL) {
            let flags =
                nix::fcntl::OFlag::from_bits_truncate(flags) - nix::fcntl::OFlag::O_NONBLOCK;
            let _ = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(flags));
        }
        let token = self.routes.add(Route::Stderr);
        self.stderr.pipes.insert(
            token,
            ErrPipe {
                file: std::fs::File::from(read),
                token,
                registered: false,
                job,
                pid: None,
                svc: svc.clone(),
                partial: Vec::new(),
                allowance: BURST,
                refilled: now,
                paused_until: None,
                drain_left: None,
            },
        );
        self.stderr.by_job.insert(job, token);
        Some(write)
    }

    /// The spawn `job` produced server `pid` (`None`: it failed, the pipe is dropped).
    pub(super) fn stderr_started(&mut self, job: u64, pid: Option<i32>) {
        let Some(token) = self.stderr.by_job.remove(&job) else {
            return;
        };
        match pid {
            Some(pid) => {
                self.stderr.by_pid.insert(pid, token);
                if let Some(p) = self.stderr.pipes.get_mut(&token) {
                    p.pid = Some(pid);
                    debug_assert_eq!(p.job, job);
                }
                // Whatever it wrote before the pid was known is read now.
                self.again.push(token);
                self.stderr_follow(token);
            }
            None => self.stderr_close(token),
        }
    }

    /// Server `pid` exited: log what it left in its pipe (before its EXIT) and close the
    /// pipe once it is drained.
    pub(super) fn stderr_server_exited(&mut self, pid: i32, now: Instant) {
        let Some(token) = self.stderr.by_pid.get(&pid).copied() else {
            return;
        };
        if let Some(p) = self.stderr.pipes.get_mut(&token) {
            p.drain_left = Some(DRAIN_BYTES);
            p.paused_until = None;
        }
        self.on_stderr(token, now);
    }

    /// Readiness of a stderr pipe (or another turn it asked for).
    pub(super) fn on_stderr(&mut self, token: Token, now: Instant) {
        let Some(p) = self.stderr.pipes.get_mut(&token) else {
            return;
        };
        match p.turn(now, &mut self.log) {
            Turn::Wait => self.stderr_follow(token),
            Turn::Again => self.again.push(token),
            Turn::Done => self.stderr_close(token),
        }
    }

    /// Pipes whose pause is over are read again.
    pub(super) fn expire_stderr(&mut self, now: Instant) {
        let due: Vec<Token> = self
            .stderr
            .pipes
            .values()
            .filter(|p| p.paused_until.is_some_and(|t| t <= now))
            .map(|p| p.token)
            .collect();
        for token in due {
            if let Some(p) = self.stderr.pipes.get_mut(&token) {
                p.paused_until = None;
            }
            self.on_stderr(token, now);
        }
    }

    fn stderr_follow(&mut self, token: Token) {
        let registry = self.poll.registry();
        let Some(p) = self.stderr.pipes.get_mut(&token) else {
            return;
        };
        if let Err(e) = p.follow(registry) {
            let text = format!(
                "stderr of {} server {}: cannot watch the pipe: {}",
                p.svc.id,
                p.pid.unwrap_or(0),
                xinetd_log::explain_errno(&e)
            );
            self.log.msg(Level::Err, &text);
            self.stderr_close(token);
        }
    }

    fn stderr_close(&mut self, token: Token) {
        let Some(mut p) = self.stderr.pipes.remove(&token) else {
            return;
        };
        p.paused_until = Some(Instant::now());
        let _ = p.follow(self.poll.registry());
        self.routes.remove(token);
        self.stderr.by_job.remove(&p.job);
        if let Some(pid) = p.pid {
            self.stderr.by_pid.remove(&pid);
        }
    }
}
