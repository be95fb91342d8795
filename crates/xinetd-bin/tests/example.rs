//! The README's example configuration (`examples/xinetd.conf`) starts and serves.

mod util;

use std::process::{Command, Stdio};

use util::*;

#[test]
fn bundled_example_serves_every_service() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/xinetd.conf");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("prog.log");
    let mut child = Command::new(XINETD)
        .args(["-dontfork", "-filelog"])
        .arg(&log)
        .arg("-f")
        .arg(example)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let guard = KillOnDrop(child.id() as i32);
    wait_until(10, "start-up", || read().contains("Started working"));
    let text = read();
    // The daemon says where each service listens.
    for (id, at) in [
        ("echo-stream", "tcp 127.0.0.1:10007"),
        ("echo-dgram", "udp 127.0.0.1:10007"),
        ("daytime", "tcp 127.0.0.1:10013"),
        ("chargen", "tcp 127.0.0.1:10019"),
        ("date", "tcp 127.0.0.1:10100"),
    ] {
        assert!(
            text.contains(&format!("Started service: {id} ({at})")),
            "{id} in {text}"
        );
    }
    assert!(text.contains("Started working: 5 available services"));
    assert_eq!(exchange(10007, b"example"), b"example");
    assert!(read_all(&mut connect(10013)).ends_with(b"\r\n"));
    let mut chargen = connect(10019);
    let mut line = [0u8; 74];
    std::io::Read::read_exact(&mut chargen, &mut line).expect("chargen line");
    assert_eq!(line[0], b'!');
    if is_root() {
        // /bin/date -u as user nobody.
        let out = String::from_utf8(read_all(&mut connect(10100))).expect("utf-8");
        assert!(out.contains("UTC"), "{out:?}");
    }
    drop(guard);
    let _ = child.wait();
}

struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}
