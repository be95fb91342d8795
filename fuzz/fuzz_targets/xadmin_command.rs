//! xadmin commands (xinetd 2.3.11's `xadmin_handler`): one read of at most `MAX_CMD` bytes
//! through the pure matcher the daemon's admin session calls.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/xinetd-bin/src/requests.rs"]
#[allow(dead_code)]
mod requests;

use requests::{command, Reply, MAX_CMD};

fuzz_target!(|data: &[u8]| {
    // The session never hands over more than one read of MAX_CMD bytes.
    let cmd = &data[..data.len().min(MAX_CMD)];
    let run = std::cell::Cell::new(0u32);
    let avail = std::cell::Cell::new(0u32);
    let reply = command(
        cmd,
        || {
            run.set(run.get() + 1);
            "RUN\n".to_string()
        },
        || {
            avail.set(avail.get() + 1);
            "AVAIL\n".to_string()
        },
    );
    // xinetd's strncmp over min(read, len(word)): a prefix either way ends the session.
    let prefix = |word: &[u8]| {
        let n = cmd.len().min(word.len());
        cmd[..n] == word[..n]
    };
    let bye = prefix(b"bye") || prefix(b"exit") || prefix(b"quit");
    match reply {
        Reply::Bye => assert!(bye, "{cmd:?} ended the session"),
        Reply::Text(text) => {
            assert!(!bye, "{cmd:?} should end the session");
            // The answer is built only from fixed texts and the two renderings, each asked
            // for at most once, so no client byte is ever echoed back.
            assert!(run.get() + avail.get() <= 1);
            let known = text
                .replace("xinetd admin help:\n", "")
                .replace(
                    "show run  :   shows information about running services\n",
                    "",
                )
                .replace(
                    "show avail:   shows what services are currently available\n",
                    "",
                )
                .replace("bye, exit :   exits the admin shell\n", "")
                .replace("Relevant commands:\n", "")
                .replace("run   : Show currently running servers\n", "")
                .replace("avail : Show currently available servers\n", "")
                .replace("RUN\n", "")
                .replace("AVAIL\n", "");
            assert!(known.is_empty(), "unexpected text {known:?} for {cmd:?}");
        }
    }
});
