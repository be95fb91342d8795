//! End-to-end tests of `redirect = host port` (issue 8): half-close propagated both ways, IPv6
//! targets from a dual-stack service, and a target that stops reading never stalls other
//! services. Each test starts the real binary on loopback.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use util::*;

/// A redirect stanza on 127.0.0.1 `port` to `target` ("host port"), logging TRAFFIC.
fn redirect(id: &str, port: u16, target: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = no\n\tuser = root\n\tredirect = {target}\n\
         \tbind = 127.0.0.1\n\tcps = 0 0\n\tlog_type = FILE @DIR@/svc.log\n\
         \tlog_on_success = PID HOST EXIT TRAFFIC\n}}\n"
    )
}

/// A target that reads until EOF, then answers with the byte count and closes: it can only
/// answer when the client's half-close reaches it through the relay.
fn counting_target(listener: TcpListener) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut got = Vec::new();
        if s.read_to_end(&mut got).is_ok() {
            let _ = write!(s, "got {} bytes", got.len());
        }
    })
}

#[test]
fn half_close_reaches_the_target_and_the_answer_comes_back() {
    let target = TcpListener::bind("127.0.0.1:0").expect("target");
    let tport = target.local_addr().expect("addr").port();
    let server = counting_target(target);
    let port = free_port();
    let d = Daemon::start(&redirect("count", port, &format!("127.0.0.1 {tport}")));

    // xinetd ends the session at the client's EOF (F-601), so this answer never arrives
    // there; we pass the EOF on and keep relaying the other way.
    let mut s = connect(port);
    s.write_all(&[7u8; 10_000]).expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    assert_eq!(read_all(&mut s), b"got 10000 bytes");
    server.join().expect("target thread");
    d.wait_file(5, "svc.log", "TRAFFIC: count in=10000(bytes) out=15(bytes)");
    d.wait_file(5, "svc.log", "EXIT: count status=0 pid=0");
}

#[test]
fn the_targets_half_close_reaches_the_client() {
    // The target says hello and shuts its sending half, then still reads the client.
    let target = TcpListener::bind("127.0.0.1:0").expect("target");
    let tport = target.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let Ok((mut s, _)) = target.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.write_all(b"hello");
        let _ = s.shutdown(Shutdown::Write);
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = tx.send(got);
    });
    let port = free_port();
    let _d = Daemon::start(&redirect("greet", port, &format!("127.0.0.1 {tport}")));

    let mut s = connect(port);
    let mut hello = Vec::new();
    s.read_to_end(&mut hello).expect("EOF after hello");
    assert_eq!(hello, b"hello");
    // The client can still talk after the target's EOF.
    s.write_all(b"still here")
        .expect("write after EOF from the target");
    s.shutdown(Shutdown::Write).expect("half-close");
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("target got the rest");
    assert_eq!(got, b"still here");
    server.join().expect("target thread");
}

#[test]
fn redirect_to_an_ipv6_target_from_a_dual_stack_service() {
    let Ok(target) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let tport = target.local_addr().expect("addr").port();
    let server = counting_target(target);
    let port = free_port();
    // No `bind`: 2.3.15.3's dual-stack listening socket (F-001); xinetd would set
    // IPV6_V6ONLY on the outgoing socket (F-604). The target is IPv6, the client IPv4.
    let conf = redirect("six", port, &format!("::1 {tport}")).replace("\tbind = 127.0.0.1\n", "");
    let d = Daemon::start(&conf);
    let mut s = connect(port);
    s.write_all(b"over six").expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    assert_eq!(read_all(&mut s), b"got 8 bytes");
    server.join().expect("target thread");
    d.wait_file(5, "svc.log", "START: six pid=0 from=::ffff:127.0.0.1");
    assert!(!d.prog_log().contains("IPV6_V6ONLY"));
}

#[test]
fn a_target_that_stops_reading_does_not_stall_other_services() {
    // The target accepts and never reads: the relay's buffers and the kernel's fill up.
    let target = TcpListener::bind("127.0.0.1:0").expect("target");
    let tport = target.local_addr().expect("addr").port();
    let (hold_tx, hold_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let held = target.accept();
        let _ = hold_rx.recv_timeout(Duration::from_secs(30));
        drop(held);
    });
    let (port, echo) = (free_port(), free_port());
    let conf = [
        redirect("stuck", port, &format!("127.0.0.1 {tport}")),
        internal("echo", "echo", "stream", echo, ""),
    ]
    .concat();
    let d = Daemon::start(&conf);

    // A client pushes far more than the socket buffers hold, from its own thread.
    let mut s = connect(port);
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let pusher = thread::spawn(move || {
        let chunk = [0u8; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut sent = 0usize;
        while Instant::now() < deadline && sent < 64 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    // Meanwhile, other services answer as usual, several times over.
    for i in 0..20 {
        let msg = format!("ping {i}");
        assert_eq!(exchange(echo, msg.as_bytes()), msg.as_bytes());
    }
    let sent = pusher.join().expect("pusher");
    assert!(sent > 0, "the client could send at first");
    // The stuck session is still held (not torn down), and the daemon is alive.
    assert!(d.prog_log().contains("Started working"));
    assert_eq!(exchange(echo, b"after"), b"after");
    let _ = hold_tx.send(());
    holder.join().expect("holder thread");
}
