//! Name lookups off the event loop: one worker thread, started with the first lookup (most
//! configurations never need one, and an idle thread costs memory). It answers the two
//! kinds of question the admission pipeline asks ([`super::Ask`]): the names an
//! `only_from`/`no_access` host or `.domain` rule needs, and the verified client name a
//! libwrap name pattern needs. Answers come back through a channel and wake the poll.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xinetd_acl::hosts_access::NameLookup;
use xinetd_acl::{ClientName, LookupRequest, Resolved};

use super::{WaitId, LOOKUP_WAIT};

/// A question for the resolver thread.
pub enum Question {
    /// The names an access-list rule needs.
    Names(LookupRequest),
    /// The client's verified host name, for libwrap.
    ClientName(NameLookup),
}

/// The resolver thread's answer.
pub enum Answer {
    /// For [`Question::Names`].
    Names(Resolved),
    /// For [`Question::ClientName`]; a failed lookup gives `unknown`, as in libwrap.
    ClientName(ClientName),
}

/// The resolver thread, started on first use.
pub struct Resolvers {
    waker: Arc<mio::Waker>,
    timeout: Duration,
    worker: Option<Worker>,
}

struct Worker {
    tx: mpsc::Sender<(WaitId, Question, Instant)>,
    rx: mpsc::Receiver<(WaitId, Answer)>,
}

impl Resolvers {
    /// Lookups that wake the loop through `waker`; each DNS query gives up after `timeout`.
    pub fn new(waker: Arc<mio::Waker>, timeout: Duration) -> Resolvers {
        Resolvers {
            waker,
            timeout,
            worker: None,
        }
    }

    /// Queues a question; `Err` when no thread can be started (the caller refuses the
    /// request rather than waiting for an answer that cannot come).
    pub fn ask(&mut self, id: WaitId, q: Question) -> std::io::Result<()> {
        if self.worker.is_none() {
            self.worker = Some(Worker::start(self.waker.clone(), self.timeout)?);
        }
        match &self.worker {
            Some(w) if w.tx.send((id, q, Instant::now())).is_ok() => Ok(()),
            _ => Err(std::io::Error::other("the resolver thread has stopped")),
        }
    }

    /// Answers that arrived.
    pub fn answers(&self) -> Vec<(WaitId, Answer)> {
        match &self.worker {
            Some(w) => w.rx.try_iter().collect(),
            None => Vec::new(),
        }
    }
}

impl Worker {
    fn start(waker: Arc<mio::Waker>, timeout: Duration) -> std::io::Result<Worker> {
        let (tx, req_rx) = mpsc::channel::<(WaitId, Question, Instant)>();
        let (ans_tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("xinetd-resolver".into())
            .spawn(move || {
                let resolver = xinetd_acl::SystemResolver::new(timeout);
                while let Ok((id, q, asked)) = req_rx.recv() {
                    if asked.elapsed() >= LOOKUP_WAIT {
                        // Already refused by the loop: do not spend time on it.
                        continue;
                    }
                    let a = match q {
                        Question::Names(req) => Answer::Names(req.perform(&resolver)),
                        Question::ClientName(l) => Answer::ClientName(l.perform(&resolver).0),
                    };
                    if ans_tx.send((id, a)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(Worker { tx, rx })
    }
}
