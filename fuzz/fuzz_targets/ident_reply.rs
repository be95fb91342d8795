//! An identd reply (RFC 1413) of arbitrary bytes, fed to xinetd-log's sans-I/O `IdentQuery`
//! in chunks chosen by the input, then `eof`: what the daemon's loop does with the bytes a
//! client's identd sends.
//!
//! Input layout: 2 bytes remote port, 2 bytes local port, 1 byte chunking seed, the reply.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use xinetd_log::{
    IdentQuery, IdentResult, IdentTimeout, LogOnFailure, LogOnSuccess, Peer, ServiceRecords,
    MAX_REPLY_LEN,
};

fn feed(q: &mut IdentQuery, reply: &[u8], seed: u8) -> IdentResult {
    let mut rest = reply;
    let mut step = usize::from(seed % 7) + 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        if let Some(result) = q.receive(&rest[..n]) {
            return result;
        }
        rest = &rest[n..];
        // Chunk sizes vary so that CR and LF land in different reads.
        step = (step * 5 + usize::from(seed)) % 97 + 1;
    }
    q.eof()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let remote = u16::from_be_bytes([data[0], data[1]]);
    let local = u16::from_be_bytes([data[2], data[3]]);
    let seed = data[4];
    let reply = &data[5..];
    let now = Instant::now();
    let mut chunked = IdentQuery::new(remote, local, IdentTimeout::for_success(false), now);
    let mut whole = IdentQuery::new(remote, local, IdentTimeout::for_success(true), now);
    assert_eq!(
        chunked.request(),
        format!("{remote},{local}\r\n").as_bytes()
    );

    let a = feed(&mut chunked, reply, seed);
    // How the reply is split into reads must not change the outcome.
    let b = match whole.receive(reply) {
        Some(r) => r,
        None => whole.eof(),
    };
    assert_eq!(a, b, "chunking changed the result");

    let records = ServiceRecords::new(
        "fuzz",
        LogOnSuccess {
            userid: true,
            ..LogOnSuccess::default()
        },
        LogOnFailure::default(),
    );
    let peer = Peer::Addr("192.0.2.1".parse().expect("address"));
    if let Ok(ok) = &a {
        let line = ok.line();
        // At most one character per byte read (invalid UTF-8 becomes U+FFFD, three bytes,
        // so the byte length may exceed the limit; records cut at 1023 bytes anyway).
        assert!(line.chars().count() < MAX_REPLY_LEN);
        assert!(!line.contains('\0'));
        assert!(!line.contains("\r\n"));
        assert!(line.ends_with(ok.text()));
        assert!(!ok.text().is_empty());
    }
    let outcome = records.ident_before_start(peer, &a, false);
    assert!(outcome.admit);
    let outcome = records.ident_before_start(peer, &a, true);
    assert_eq!(outcome.admit, a.is_ok());
    let _ = records.ident_after_refusal(peer, &a);
    // One record is one log line: the peer runs the identd, so its reply must not be able to
    // forge lines of its own in the service log.
    if let Some(record) = outcome.record {
        assert!(
            !record.as_str().contains(['\n', '\r']),
            "a reply split the USERID record: {:?}",
            record.as_str()
        );
    }
});
