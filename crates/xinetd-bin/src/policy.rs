//! Composition of the libraries for one request: access control, limits, spawning and the
//! service log. The event loop only calls this module.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cli::Options;
use crate::dlog::ProgramLog;
use crate::service::Service;

/// Limit tokens held by a running request; released when it ends.
#[derive(Debug, Default)]
pub struct Admission {}

/// Why a request was refused.
#[derive(Debug)]
pub struct Refusal {
    /// xinetd's FAIL reason word (F-721).
    pub reason: &'static str,
    /// The cps limiter tripped: close the socket for its wait time (F-311).
    pub deactivate_cps: bool,
}

/// Access, limits, spawning and service logging for all services.
pub struct Policy {}

impl Policy {
    /// A policy for the given options.
    pub fn new(_opts: &Options) -> Policy {
        Policy {}
    }

    /// Runs the checks in order; `Ok` carries the tokens to release later.
    pub fn admit(
        &mut self,
        _svc: &Service,
        _peer: Option<SocketAddr>,
        _now: Instant,
    ) -> Result<Admission, Refusal> {
        Ok(Admission::default())
    }

    /// Releases the tokens of a finished request.
    pub fn release(&mut self, _a: Admission) {}

    /// Logs a refusal and closes the client (banner_fail first).
    pub fn refused(
        &mut self,
        svc: &Service,
        peer: SocketAddr,
        r: &Refusal,
        _stream: Option<&mut mio::net::TcpStream>,
    ) {
        self.log_fail(svc, r.reason, Some(peer));
    }

    /// A refusal without a peer address (`wait = yes`).
    pub fn refused_nopeer(&mut self, svc: &Service, r: &Refusal) {
        self.log_fail(svc, r.reason, None);
    }

    /// START line.
    pub fn log_start(&mut self, _svc: &Service, _pid: i32, _peer: Option<SocketAddr>) {}

    /// FAIL line.
    pub fn log_fail(&mut self, _svc: &Service, _reason: &str, _peer: Option<SocketAddr>) {}

    /// EXIT line.
    pub fn log_exit(
        &mut self,
        _svc: &Service,
        _pid: i32,
        _status: Option<i32>,
        _signal: Option<i32>,
        _duration: Duration,
    ) {
    }

    /// EXIT line of a server whose service was removed by a reload.
    pub fn log_exit_removed(
        &mut self,
        _id: &str,
        _pid: i32,
        _status: Option<i32>,
        _signal: Option<i32>,
        _duration: Duration,
    ) {
    }

    /// Starts the external server of `svc` on `fd`; returns its pid or the message to log.
    pub fn spawn(
        &mut self,
        svc: &Service,
        _fd: OwnedFd,
        _peer: Option<SocketAddr>,
    ) -> Result<i32, String> {
        Err(format!("{}: spawning lands with xinetd-spawn", svc.id))
    }

    /// Re-reads the configuration (F-860).
    pub fn reload(&mut self, _opts: &Options, _log: &mut ProgramLog) -> Result<Vec<Service>, ()> {
        Err(())
    }

    /// Removes the pid file (F-803).
    pub fn remove_pidfile(&mut self, opts: &Options) {
        if let Some(p) = &opts.pidfile {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Where SIGUSR1 writes (F-841).
    pub fn dump_path(&self, _opts: &Options) -> PathBuf {
        PathBuf::from("/var/run/xinetd.dump")
    }

    /// The configuration block of the state dump (F-851).
    pub fn describe(&self, svc: &Service) -> String {
        format!("\tid = {}\n", svc.id)
    }
}
