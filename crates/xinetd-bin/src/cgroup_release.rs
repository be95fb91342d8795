//! Killing and removing the servers' cgroups off the event loop.
//!
//! `Cgroup::kill_all` on a v1 hierarchy freezes the tree and waits for the freezer (up to
//! about a second for a tree that is busy in the kernel), and `Cgroup::remove` retries its
//! `rmdir` while the killed members are still exiting: the loop must never wait for that.
//! So a server's cgroup is shared (`Arc`) between its entry in the loop's children table and
//! one background thread, which does the kills and removals in the order they were asked
//! for. Where the thread cannot be started, the work is done inline, as before.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use xinetd_spawn::sandbox::Cgroup;

enum Work {
    /// `timeout`, a reload removing the service, the SIGKILL of shutdown: the whole tree.
    Kill(Arc<Cgroup>),
    /// The server was reaped: what it left running is killed and the cgroup removed.
    Release(Arc<Cgroup>),
    /// Answers once everything queued before it is done.
    Flush(mpsc::Sender<()>),
}

fn run(work: Work) {
    match work {
        Work::Kill(cg) => cg.kill_all(),
        Work::Release(cg) => {
            cg.kill_all();
            cg.remove();
        }
        Work::Flush(done) => {
            let _ = done.send(());
        }
    }
}

/// The cgroup thread, started on first use.
#[derive(Default)]
pub struct Releaser {
    tx: OnceLock<Option<mpsc::Sender<Work>>>,
}

/// The thread only walks cgroup directories.
const STACK: usize = 128 * 1024;

impl Releaser {
    fn send(&self, work: Work) {
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Work>();
            std::thread::Builder::new()
                .name("xinetd-cgroups".to_owned())
                .stack_size(STACK)
                .spawn(move || {
                    for w in rx {
                        run(w);
                    }
                })
                .ok()
                .map(|_| tx)
        });
        match tx {
            Some(tx) => {
                if let Err(mpsc::SendError(w)) = tx.send(work) {
                    run(w);
                }
            }
            None => run(work),
        }
    }

    /// Kills every process of `cg` (in the background).
    pub fn kill(&self, cg: &Arc<Cgroup>) {
        self.send(Work::Kill(Arc::clone(cg)));
    }

    /// Kills what is left in `cg` and removes it (in the background).
    pub fn release(&self, cg: Arc<Cgroup>) {
        self.send(Work::Release(cg));
    }

    /// Waits up to `timeout` until everything asked so far is done (the daemon is exiting
    /// and must not leave cgroups behind).
    pub fn flush(&self, timeout: Duration) -> bool {
        if self.tx.get().is_none() {
            return true;
        }
        let (done, wait) = mpsc::channel();
        self.send(Work::Flush(done));
        wait.recv_timeout(timeout).is_ok()
    }
}
