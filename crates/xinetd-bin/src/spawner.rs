//! Spawning off the event loop.
//!
//! xinetd-spawn starts servers with `clone(CLONE_VM | CLONE_VFORK)`: the calling thread is
//! suspended until the child has exec'ed. Called from the event loop, that would stall every
//! other client for the child's whole set-up and `execve` (xinetd's plain `fork()` returns at
//! once and lets the child exec on another core). So the loop hands each spawn to a small
//! pool of spawner threads and learns the result through a channel and the poll's waker.

use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// One spawn to do.
pub struct Job {
    /// The loop's id for this spawn.
    pub id: u64,
    /// The server.
    pub spec: Arc<xinetd_spawn::SpawnSpec>,
    /// The socket that becomes fds 0-2; closed by the spawner thread afterwards (F-400).
    pub fd: OwnedFd,
    /// `REMOTE_HOST` (F-410).
    pub peer: Option<IpAddr>,
    /// Service name (for xinetd's `groups = yes` hint in failure messages).
    pub name: String,
    /// Service id (for the fork failure message).
    pub svc_id: String,
    /// Per-connection variables (`connection_env`, PROXY protocol values), `NAME=VALUE`.
    pub env: Vec<String>,
    /// `log_stderr = yes`: the pipe that becomes the server's fd 2; closed with `fd`.
    pub stderr: Option<OwnedFd>,
}

/// The outcome of a [`Job`]: the server's pid, or the pid of a child that failed before exec
/// (already reaped by xinetd-spawn) with xinetd's ERROR lines.
pub type Outcome = Result<(i32, Option<xinetd_spawn::sandbox::Cgroup>), (Option<i32>, Vec<String>)>;

/// The spawner threads.
pub struct Spawner {
    tx: mpsc::Sender<Job>,
    rx: mpsc::Receiver<(u64, Outcome)>,
}

/// Spawner threads: one per two CPUs (at least one, at most eight).
///
/// Starting servers faster than the CPUs can run them buys no throughput and costs the tail:
/// each new server is its own session (`setsid`, F-412), hence its own scheduler group, so
/// the scheduler shares the CPUs among all servers still loading instead of finishing the
/// older ones first. With two threads on two CPUs, `/bin/cat` at 16 clients: the same
/// 1,900-1,950 conn/s, but p99 30-33 ms and worst 104-111 ms, against 13.6-14.1 ms and
/// 19-22 ms with one thread (docs/performance.md, "Performance II").
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 8))
}
/// Spawner threads only call into xinetd-spawn (its child stack is its own allocation).
const STACK: usize = 256 * 1024;

impl Spawner {
    /// Starts the threads; `waker` wakes the loop when a result is ready.
    pub fn start(waker: Arc<mio::Waker>) -> std::io::Result<Spawner> {
        let (tx, jobs) = mpsc::channel::<Job>();
        let (done_tx, rx) = mpsc::channel();
        let jobs = Arc::new(Mutex::new(jobs));
        let mut started = 0;
        for n in 0..threads() {
            let jobs = Arc::clone(&jobs);
            let done_tx = done_tx.clone();
            let waker = Arc::clone(&waker);
            let spawned = std::thread::Builder::new()
                .name(format!("xinetd-spawn-{n}"))
                .stack_size(STACK)
                .spawn(move || {
                    block_signals();
                    loop {
                        let job = {
                            let Ok(rx) = jobs.lock() else {
                                return;
                            };
                            match rx.recv() {
                                Ok(job) => job,
                                Err(_) => return,
                            }
                        };
                        let outcome = run(&job);
                        drop(job.fd);
                        drop(job.stderr);
                        if done_tx.send((job.id, outcome)).is_err() {
                            return;
                        }
                        let _ = waker.wake();
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                // Short of threads (RLIMIT_NPROC, memory): the threads that did start serve
                // alone. Dropping them would free their slots to whatever forks next, so
                // whether a server can start would depend on how fast they exit.
                Err(e) if started == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(Spawner { tx, rx })
    }

    /// Queues a spawn; gives the job back if the threads are gone.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        self.tx.send(job).map_err(|e| e.0)
    }

    /// Finished spawns.
    pub fn results(&self) -> Vec<(u64, Outcome)> {
        self.rx.try_iter().collect()
    }

    /// Waits up to `timeout` for the next result (used when the daemon exits with spawns in
    /// flight, so that every forked server gets its START record and can be stopped).
    pub fn next_result(&self, timeout: std::time::Duration) -> Option<(u64, Outcome)> {
        self.rx.recv_timeout(timeout).ok()
    }
}

/// Keeps the daemon's signals off this thread: the kernel then delivers them to the loop's
/// thread, which waits in `epoll_wait` for exactly that. Otherwise a SIGCHLD (a server that
/// just exited) often lands here as the thread wakes for the next spawn, and its handler runs
/// first, on the way to the next server's `clone` (issue 16, `/bin/cat` with 1 client).
/// xinetd-spawn gives each child an empty mask (F-411).
fn block_signals() {
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::all()),
        None,
    );
}

/// Runs one spawn (also used inline when the threads cannot be started).
pub fn run(job: &Job) -> Outcome {
    use xinetd_spawn::SpawnError;
    let mut conn = xinetd_spawn::Connection::new(job.fd.as_fd());
    if let Some(ip) = job.peer {
        conn = conn.remote_host(ip);
    }
    conn = conn.vars(&job.env);
    if let Some(e) = &job.stderr {
        conn = conn.stderr(e.as_fd());
    }
    match xinetd_spawn::spawn(&job.spec, conn) {
        Ok(mut child) => Ok((child.pid().as_raw(), child.take_cgroup())),
        Err(e) => {
            let pid = match &e {
                SpawnError::Setup { pid, .. } | SpawnError::ExecFailed { pid, .. } => Some(*pid),
                _ => None,
            };
            let lines = match &e {
                SpawnError::Fork(errno) => vec![format!(
                    "{}: fork failed: {}",
                    job.svc_id,
                    xinetd_log::explain_errno(&std::io::Error::from_raw_os_error(*errno as i32))
                )],
                // xinetd's child ERROR lines (F-411, F-412, F-415), from xinetd-spawn.
                other => job
                    .spec
                    .failure_messages(other, &job.name)
                    .into_iter()
                    .map(|(_, text)| text)
                    .collect(),
            };
            Err((pid, lines))
        }
    }
}
