//! The tcpmux request (RFC 1078, F-541): one `read()` of arbitrary bytes through the same
//! pure function the daemon's tcpmux session calls. The module is compiled from the daemon's
//! source as it is (it uses only `std` for this reason).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/xinetd-bin/src/requests.rs"]
#[allow(dead_code)]
mod requests;

fuzz_target!(|data: &[u8]| {
    // The session reads into a fixed buffer; xinetd's is 80 bytes, ours may differ, so any
    // length is fair game here.
    match requests::tcpmux_name(data) {
        Some(name) => {
            // The name is exactly the request without its CR-LF: nothing is dropped or
            // invented (a name with an inner CR-LF is only ever compared, never logged).
            assert!(data.len() >= 3);
            assert_eq!([name.as_bytes(), b"\r\n"].concat(), data);
            assert!(!name.is_empty());
        }
        None => {
            let well_formed = data.len() >= 3
                && data.ends_with(b"\r\n")
                && std::str::from_utf8(&data[..data.len() - 2]).is_ok();
            assert!(!well_formed, "a well-formed request was refused: {data:?}");
        }
    }
});
