//! `accept_loop` — the accept+spawn loop of the project's benchmark ceiling (outside this package), spawning with
//! `xinetd_spawn::spawn` instead, so `connbench` can compare both in the same session.
//!
//! usage: `accept_loop 127.0.0.1:PORT [--pgrp] [--user NAME] PROGRAM [ARGS...]`
//!
//! `--pgrp`: `Session::NewProcessGroup` (setpgid) instead of xinetd's `setsid`.
//!
//! One thread accepts and spawns (the connected socket on fds 0-2, `REMOTE_HOST` set, and
//! with `--user` the credentials of that user with `groups = yes`, umask and rlimits, i.e. the
//! full xinetd child set-up); a reaper thread collects exit statuses with `waitpid(-1)` as a
//! super-server must. Loopback addresses only.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};

use nix::errno::Errno;
use nix::sys::wait::wait;
use xinetd_spawn::{
    server_argv, spawn, Connection, Credentials, Environment, Rlimit, RlimitValue, Session,
    SpawnSpec,
};

/// Counts live children so the reaper blocks in `wait` only when there is one.
struct Reaper {
    live: Mutex<usize>,
    cv: Condvar,
}

impl Reaper {
    fn run(&self) {
        loop {
            {
                let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
                while *live == 0 {
                    live = self.cv.wait(live).unwrap_or_else(|e| e.into_inner());
                }
            }
            match wait() {
                Ok(_) => {
                    let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
                    *live = live.saturating_sub(1);
                }
                Err(Errno::ECHILD) => *self.live.lock().unwrap_or_else(|e| e.into_inner()) = 0,
                Err(_) => {}
            }
        }
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: accept_loop 127.0.0.1:PORT [--pgrp] [--user NAME] PROGRAM [ARGS...]");
        return ExitCode::from(2);
    }
    let addr: SocketAddr = match args.remove(0).parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("accept_loop: bad address: {e}");
            return ExitCode::from(2);
        }
    };
    if !addr.ip().is_loopback() {
        eprintln!("accept_loop: refusing non-loopback {addr}");
        return ExitCode::from(2);
    }
    let mut session = Session::NewSession;
    if args.first().map(String::as_str) == Some("--pgrp") {
        args.remove(0);
        session = Session::NewProcessGroup;
    }
    let mut user = None;
    if args.first().map(String::as_str) == Some("--user") && args.len() > 2 {
        args.remove(0);
        user = Some(args.remove(0));
    }
    let program = args.remove(0);
    let spec = (|| {
        let mut b = SpawnSpec::builder(&program)
            .argv(server_argv(program.as_ref(), &args, false)?)
            .environment(Environment::startup())
            .session(session);
        if let Some(user) = &user {
            b = b
                .credentials(Credentials::resolve(Some(user), None, true)?)
                .umask(0o022)
                .rlimit(Rlimit::As, RlimitValue::Limit(1 << 30))
                .rlimit(Rlimit::Cpu, RlimitValue::Limit(10))
                .rlimit(Rlimit::Data, RlimitValue::Limit(512 << 20))
                .rlimit(Rlimit::Rss, RlimitValue::Limit(256 << 20))
                .rlimit(Rlimit::Stack, RlimitValue::Limit(8 << 20));
        }
        b.build()
    })();
    let spec = match spec {
        Ok(s) => s,
        Err(e) => {
            eprintln!("accept_loop: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("accept_loop: bind {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    let reaper = Arc::new(Reaper {
        live: Mutex::new(0),
        cv: Condvar::new(),
    });
    let r2 = Arc::clone(&reaper);
    if let Err(e) = std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || r2.run())
    {
        eprintln!("accept_loop: reaper thread: {e}");
        return ExitCode::from(1);
    }
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept_loop: accept: {e}");
                continue;
            }
        };
        let conn = Connection::new(stream.as_fd()).remote_host(peer.ip());
        match spawn(&spec, conn) {
            Ok(child) => {
                for w in child.warnings() {
                    eprintln!("accept_loop: {w}");
                }
                *reaper.live.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                reaper.cv.notify_one();
            }
            Err(e) => eprintln!("accept_loop: spawn: {e}"),
        }
        drop(stream);
    }
}
