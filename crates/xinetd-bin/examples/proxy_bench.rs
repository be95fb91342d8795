//! The cost of the PROXY protocol per connection (issue 13): the internal echo service
//! through a v1 header, through a v2 header, and without one, in the same daemon and the
//! same run.
//!
//! ```sh
//! cargo build --release -p xinetd-bin --example proxy_bench
//! target/release/examples/proxy_bench target/release/xinetd [ROUNDS] [SECONDS]
//! ```
//! One daemon serves three echo services on loopback (`proxy_protocol = v1`, `= v2`, none;
//! `proxy_from = 127.0.0.1`, `cps = 0 0`, a FILE log with START/EXIT like the other
//! benchmarks). One client connects, sends the header (if any) and 1 byte, reads the byte
//! back, and closes, for SECONDS per variant; the variants alternate round by round, and
//! the median conn/s per variant and its cost against no header are printed, with the
//! daemon's own CPU time per connection (user + system, from `/proc/PID/stat`), which a
//! busy shared machine disturbs much less than the rate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn header(version: u8, client: SocketAddr, port: u16) -> Vec<u8> {
    let dest = SocketAddr::from(([127, 0, 0, 1], port));
    match version {
        1 => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            client.ip(),
            dest.ip(),
            client.port(),
            port
        )
        .into_bytes(),
        2 => {
            let mut h = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
            if let (SocketAddr::V4(c), SocketAddr::V4(d)) = (client, dest) {
                h.extend_from_slice(&c.ip().octets());
                h.extend_from_slice(&d.ip().octets());
                h.extend_from_slice(&c.port().to_be_bytes());
                h.extend_from_slice(&d.port().to_be_bytes());
            }
            h
        }
        _ => Vec::new(),
    }
}

/// The daemon's CPU time so far (user + system, clock ticks of 10 ms).
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Connections per second for `secs` seconds, and the connections made.
fn rate(port: u16, version: u8, secs: f64) -> (f64, u64) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n = 0u64;
    let mut buf = [0u8; 1];
    while Instant::now() < deadline {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let client = s
            .local_addr()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 1)));
        let mut msg = header(version, client, port);
        msg.push(b'x');
        if s.write_all(&msg).is_ok() && s.read_exact(&mut buf).is_ok() {
            n += 1;
        }
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(bin) = args.first() else {
        eprintln!("usage: proxy_bench XINETD [ROUNDS] [SECONDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(5);
    let secs: f64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2.0);
    let dir = std::env::temp_dir().join(format!("proxy_bench.{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let ports = [free_port(), free_port(), free_port()];
    let mut conf = String::new();
    for (i, (port, pp)) in ports.iter().zip(["none", "v1", "v2"]).enumerate() {
        let proxy = if pp == "none" {
            String::new()
        } else {
            format!("\tproxy_protocol = {pp}\n\tproxy_from = 127.0.0.1\n")
        };
        conf.push_str(&format!(
            "service echo\n{{\n\tid = echo-{i}\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\
             \tport = {port}\n\twait = no\n\tbind = 127.0.0.1\n\tcps = 0 0\n\
             \tlog_type = FILE {}/svc.log\n\tlog_on_success = PID HOST EXIT\n{proxy}}}\n",
            dir.display()
        ));
    }
    let conf_path = dir.join("xinetd.conf");
    if std::fs::write(&conf_path, conf).is_err() {
        eprintln!("cannot write {}", conf_path.display());
        std::process::exit(1);
    }
    let child = Command::new(bin)
        .arg("-dontfork")
        .arg("-f")
        .arg(&conf_path)
        .arg("-filelog")
        .arg(dir.join("prog.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("cannot start {bin}");
        std::process::exit(1);
    };
    // Until the last service listens.
    let up = Instant::now();
    while TcpStream::connect(("127.0.0.1", ports[0])).is_err() {
        if up.elapsed() > Duration::from_secs(10) {
            eprintln!("the daemon did not start");
            let _ = child.kill();
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let names = ["no header", "PROXY v1", "PROXY v2"];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let pid = child.id();
    // Warm-up, then alternate the variants round by round.
    for (v, port) in ports.iter().enumerate() {
        rate(*port, v as u8, 0.3);
    }
    for r in 0..rounds {
        for (v, port) in ports.iter().enumerate() {
            let before = cpu_ticks(pid);
            let (x, n) = rate(*port, v as u8, secs);
            let us = (cpu_ticks(pid) - before) as f64 * 10_000.0 / n.max(1) as f64;
            results[v].push(x);
            cpu[v].push(us);
            println!(
                "round {} {:<9} {:>9.0} conn/s {:>6.1} us daemon CPU/conn",
                r + 1,
                names[v],
                x,
                us
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let base = median(&mut results[0].clone());
    let base_cpu = median(&mut cpu[0].clone());
    println!("\nmedian of {rounds} rounds of {secs} s, 1 client, 1 byte:");
    for (v, r) in results.iter_mut().enumerate() {
        let m = median(r);
        let min = r.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.iter().copied().fold(0.0, f64::max);
        let c = median(&mut cpu[v]);
        println!(
            "{:<9} {:>9.0} conn/s (min {:.0}, max {:.0}), time per connection {:+.1} %; \
             daemon CPU {:.1} us/conn ({:+.1} %)",
            names[v],
            m,
            min,
            max,
            (base / m - 1.0) * 100.0,
            c,
            (c / base_cpu - 1.0) * 100.0
        );
    }
}
