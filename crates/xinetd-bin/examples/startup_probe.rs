//! Start-up time of a super-server: from `exec` to every listed TCP port listening.
//!
//! The shared bench harness polls with `ss` plus one `grep` per port, so its start-up figure
//! is dominated by its own polling (about 200 ms for 100 ports); reading `/proc/net/tcp`
//! costs about 4 ms per read on this kernel, however few sockets there are. This probe
//! starts the daemon itself and connects to the ports that are not yet known to listen,
//! highest first: a refused connect costs microseconds, and as both daemons bind in
//! configuration order, only the last port is connected to before the clock stops (one
//! server start, after the measurement).
//!
//! ```sh
//! cargo run --release -p xinetd-bin --example startup_probe -- \
//!     CONFIG FIRST_PORT COUNT RUNS /usr/sbin/xinetd target/release/xinetd
//! ```
//! Each daemon is started as `BIN -f CONFIG -dontfork -filelog /dev/null` with an empty
//! environment except `PATH`, the daemons alternate run by run, and the median, minimum and
//! maximum per daemon are printed.
//!
//! `BIN` may be `floor`: this program itself, started again to do nothing but bind and listen
//! on the same ports with std (no configuration, no logging), then wait for SIGTERM. It is
//! the floor any process that binds its own sockets pays here (exec, dynamic loading, the
//! socket system calls), against which a daemon's start-up is compared.

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn listens(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// The `floor` process: binds 127.0.0.1:`first`.. (`count` ports), then waits to be killed.
fn bind_only(first: u16, count: u16) -> ! {
    // Named, so the listeners stay open for as long as the process lives.
    let _listeners: Vec<std::net::TcpListener> = (first..first.saturating_add(count))
        .filter_map(|port| std::net::TcpListener::bind(("127.0.0.1", port)).ok())
        .collect();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, first, count] = args.as_slice() {
        if mode == "--bind-only" {
            match (first.parse(), count.parse()) {
                (Ok(first), Ok(count)) => bind_only(first, count),
                _ => std::process::exit(2),
            }
        }
    }
    if args.len() < 5 {
        eprintln!("usage: startup_probe CONFIG FIRST_PORT COUNT RUNS BIN...");
        std::process::exit(2);
    }
    let config = &args[0];
    let (Ok(first), Ok(count), Ok(runs)) = (
        args[1].parse::<u16>(),
        args[2].parse::<u16>(),
        args[3].parse::<usize>(),
    ) else {
        eprintln!("FIRST_PORT, COUNT and RUNS must be numbers");
        std::process::exit(2);
    };
    let wanted: Vec<u16> = (first..first.saturating_add(count)).collect();
    let bins = &args[4..];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); bins.len()];
    for _ in 0..runs {
        for (which, bin) in bins.iter().enumerate() {
            if wanted.iter().any(|&port| listens(port)) {
                eprintln!("a port of the range is already listening; stop its owner first");
                std::process::exit(1);
            }
            let mut command = if bin == "floor" {
                let mut c = Command::new(std::env::current_exe().unwrap_or_default());
                c.args(["--bind-only", &args[1], &args[2]]);
                c
            } else {
                let mut c = Command::new(bin);
                c.args(["-f", config, "-dontfork", "-filelog", "/dev/null"]);
                c
            };
            let started = Instant::now();
            let mut child = match command
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(e) => {
                    eprintln!("{bin}: {e}");
                    std::process::exit(1);
                }
            };
            // The clock stops when the highest port listens; the others are checked after
            // that, and only if one of them is still missing does the clock run on.
            let mut elapsed = None;
            let mut pending = wanted.clone();
            while started.elapsed() < Duration::from_secs(5) {
                match pending.last() {
                    Some(&port) if listens(port) => {
                        elapsed.get_or_insert_with(|| started.elapsed());
                        pending.pop();
                    }
                    Some(_) => elapsed = None,
                    None => break,
                }
            }
            let ready = pending.is_empty();
            let elapsed = elapsed.unwrap_or_default().as_secs_f64() * 1000.0;
            // SIGTERM through kill(1): std only offers SIGKILL, and both daemons should be
            // stopped the way an administrator stops them.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            if !ready {
                eprintln!("{bin}: not all ports listening after 5 s");
                std::process::exit(1);
            }
            times[which].push(elapsed);
            let deadline = Instant::now() + Duration::from_secs(5);
            while wanted.iter().any(|&port| listens(port)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for (bin, mut t) in bins.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        if let (Some(min), Some(max)) = (t.first(), t.last()) {
            println!(
                "{bin}: median {:.2} ms, min {min:.2}, max {max:.2} ({} runs)",
                t[t.len() / 2],
                t.len()
            );
        }
    }
}
