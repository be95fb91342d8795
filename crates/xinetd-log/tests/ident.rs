//! The ident client against a tiny identd this test runs on loopback (ephemeral port):
//! the blocking lookup (forked child) and the non-blocking client driven by a mio event
//! loop, success, ERROR replies, no server, timeouts, and IDONLY's NOID line.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use xinetd_log::{
    lookup_blocking, IdentClient, IdentFailure, IdentResult, IdentTimeout, LogOnFailure,
    LogOnSuccess, Peer, ReceiveError, ServiceRecords,
};

/// How the test identd answers one query.
#[derive(Clone, Copy)]
enum Answer {
    /// `<req> : USERID : UNIX : <user>\r\n` echoing the request's ports.
    User(&'static str),
    /// `<req> : ERROR : NO-USER\r\n`.
    NoUser,
    /// Close without CR-LF.
    Hangup,
    /// Read the query and say nothing until the client gives up.
    Silent,
}

/// An identd on 127.0.0.1:<ephemeral> answering one connection; the thread returns the
/// request line it received.
fn identd(answer: Answer) -> (u16, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind identd");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request = String::new();
        reader.read_line(&mut request).expect("read request");
        let ports = request.trim_end().to_owned();
        let mut stream = stream;
        match answer {
            Answer::User(user) => {
                let _ = write!(stream, "{ports} : USERID : UNIX : {user}\r\n");
            }
            Answer::NoUser => {
                let _ = write!(stream, "{ports} : ERROR : NO-USER\r\n");
            }
            Answer::Hangup => {
                let _ = write!(stream, "{ports} : USERID : UNIX : cut");
            }
            Answer::Silent => {
                // Wait for the client to close.
                let mut rest = String::new();
                let _ = reader.read_line(&mut rest);
            }
        }
        request
    });
    (port, handle)
}

/// Our end of the client connection (the service) and the client's end.
fn conn(ip: &str) -> (SocketAddr, SocketAddr) {
    let ip: IpAddr = ip.parse().expect("address");
    (SocketAddr::new(ip, 2323), SocketAddr::new(ip, 40001))
}

fn after(ms: u64) -> IdentTimeout {
    IdentTimeout::After(Duration::from_millis(ms))
}

/// Drive an [`IdentClient`] with a mio event loop, as the daemon does.
fn drive(local: SocketAddr, peer: SocketAddr, port: u16, timeout: IdentTimeout) -> IdentResult {
    let mut client = IdentClient::start(local, peer, port, timeout, Instant::now())?;
    let mut poll = Poll::new().expect("poll");
    let fd = client.as_raw_fd();
    poll.registry()
        .register(
            &mut SourceFd(&fd),
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .expect("register");
    let mut events = Events::with_capacity(4);
    // Bounded: the identd answers at once or the deadline passes.
    for _ in 0..1000 {
        if let Some(r) = client.poll(Instant::now()) {
            return r;
        }
        let wait = client
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(10));
        poll.poll(&mut events, Some(wait)).expect("poll");
    }
    panic!("ident client never finished");
}

#[test]
fn blocking_lookup_gets_userid() {
    let (port, server) = identd(Answer::User("alice"));
    let (local, peer) = conn("127.0.0.1");
    let r = lookup_blocking(local, peer, port, after(5000)).expect("userid");
    assert_eq!(r.text(), "UNIX : alice");
    // The query names the client's port, then ours (RFC 1413).
    assert_eq!(server.join().expect("identd"), "40001,2323\r\n");
    let s = ServiceRecords::new(
        "telnet",
        LogOnSuccess::from_words(["USERID"]).expect("flags"),
        LogOnFailure::default(),
    );
    let o = s.ident_before_start(Peer::Addr(peer.ip()), &Ok(r), true);
    assert!(o.admit);
    assert_eq!(
        o.record.as_ref().map(|r| r.as_str()),
        Some("USERID: telnet UNIX : alice")
    );
}

#[test]
fn event_loop_lookup_gets_userid() {
    let (port, server) = identd(Answer::User("bob"));
    let (local, peer) = conn("127.0.0.1");
    let r = drive(local, peer, port, after(5000)).expect("userid");
    assert_eq!(r.text(), "UNIX : bob");
    assert_eq!(server.join().expect("identd"), "40001,2323\r\n");
}

#[test]
fn event_loop_lookup_on_a_dual_stack_connection() {
    // A dual-stack service sees IPv4 clients as ::ffff:a.b.c.d; the query goes to the
    // same mapped address.
    let (port, server) = identd(Answer::User("carol"));
    let (local, peer) = conn("::ffff:127.0.0.1");
    let r = drive(local, peer, port, after(5000)).expect("userid");
    assert_eq!(r.text(), "UNIX : carol");
    server.join().expect("identd");
}

#[test]
fn error_reply_is_a_bad_response_and_idonly_refuses() {
    let (port, server) = identd(Answer::NoUser);
    let (local, peer) = conn("127.0.0.1");
    let result = drive(local, peer, port, IdentTimeout::for_success(true));
    let Err(IdentFailure::BadResponse { line }) = &result else {
        panic!("expected bad response, got {result:?}");
    };
    assert_eq!(line, "40001,2323 : ERROR : NO-USER");
    server.join().expect("identd");
    let s = ServiceRecords::new(
        "telnet",
        LogOnSuccess::from_words(["USERID"]).expect("flags"),
        LogOnFailure::default(),
    );
    let o = s.ident_before_start(Peer::Addr(peer.ip()), &result, true);
    assert!(!o.admit);
    assert_eq!(
        o.record.as_ref().map(|r| r.as_str()),
        Some("NOID: telnet 127.0.0.1 bad response")
    );
    assert_eq!(
        o.diagnostics
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>(),
        ["Bad line received from identity server at 127.0.0.1: 40001,2323 : ERROR : NO-USER"]
    );
}

#[test]
fn no_identd_is_no_server() {
    // Free: nobody listens there.
    let port = xinetd_test_support::free_port();
    let (local, peer) = conn("127.0.0.1");
    assert_eq!(
        lookup_blocking(local, peer, port, after(5000)).map(|r| r.text().to_owned()),
        Err(IdentFailure::NoServer)
    );
    assert_eq!(
        drive(local, peer, port, after(5000)).map(|r| r.text().to_owned()),
        Err(IdentFailure::NoServer)
    );
}

#[test]
fn hangup_without_crlf_is_a_receive_error() {
    let (port, server) = identd(Answer::Hangup);
    let (local, peer) = conn("127.0.0.1");
    let r = lookup_blocking(local, peer, port, after(5000));
    assert_eq!(
        r.map(|r| r.text().to_owned()),
        Err(IdentFailure::Receive(ReceiveError::MissingCrlf))
    );
    server.join().expect("identd");
}

#[test]
fn silent_identd_times_out() {
    let (port, server) = identd(Answer::Silent);
    let (local, peer) = conn("127.0.0.1");
    assert_eq!(
        drive(local, peer, port, after(200)).map(|r| r.text().to_owned()),
        Err(IdentFailure::Timeout)
    );
    // The client dropped its socket: the identd thread sees EOF and ends.
    server.join().expect("identd");

    let (port, server) = identd(Answer::Silent);
    assert_eq!(
        lookup_blocking(local, peer, port, after(200)).map(|r| r.text().to_owned()),
        Err(IdentFailure::Timeout)
    );
    server.join().expect("identd");
}
