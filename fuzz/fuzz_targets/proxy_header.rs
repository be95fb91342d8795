//! The daemon's PROXY protocol header reader (issue 13): the bytes a connection sends, seen
//! through a growing window as the daemon peeks at them (one byte per segment up to all at
//! once), through the same function the daemon calls. The module is compiled from the
//! daemon's source as it is (it uses only `std` and `proxy-header`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/xinetd-bin/src/proxy_header.rs"]
#[allow(dead_code)]
mod proxy_header;

use proxy_header::{read, Accept, Read, MAX_HEADER};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the versions accepted; the rest is the wire.
    let Some((&mode, wire)) = data.split_first() else {
        return;
    };
    let accept = Accept {
        v1: mode & 1 == 0,
        v2: mode & 2 == 0,
    };
    let wire = &wire[..wire.len().min(MAX_HEADER + 64)];
    let whole = read(wire, accept);
    // Growing windows, as the peeks see them: the verdict never flips once given, More
    // comes only before it, and a complete header's length never exceeds what was seen.
    let mut verdict: Option<Read> = None;
    for n in 0..=wire.len() {
        let r = read(&wire[..n], accept);
        match (&verdict, r) {
            (None, Read::More) => {}
            (None, r) => verdict = Some(r),
            (Some(Read::Done(h, len)), Read::Done(h2, len2)) => {
                assert_eq!(
                    (h, *len),
                    (&h2, len2),
                    "a complete header changed with more bytes"
                );
            }
            (Some(Read::Bad(b)), Read::Bad(b2)) => assert_eq!(*b, b2),
            (Some(v), r) => panic!("verdict {v:?} became {r:?} after {n} bytes"),
        }
    }
    match (&verdict, &whole) {
        (Some(v), w) => assert_eq!(v, w),
        (None, w) => assert_eq!(w, &Read::More),
    }
    match whole {
        Read::Done(h, len) => {
            assert!(len <= wire.len() && len <= MAX_HEADER);
            assert!(h.version == 1 || h.version == 2);
            assert!(if h.version == 1 { accept.v1 } else { accept.v2 });
            if h.version == 1 {
                assert!(len <= proxy_header::MAX_V1);
                assert!(wire[..len].ends_with(b"\r\n"));
            }
            // The reader is stable under a re-read of exactly the header.
            assert_eq!(read(&wire[..len], accept), Read::Done(h, len));
        }
        Read::More => assert!(wire.len() < MAX_HEADER),
        Read::Bad(_) => {}
    }
});
