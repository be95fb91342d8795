//! The README's example configuration (`examples/xinetd.conf`) starts and serves, and logs
//! nowhere a root daemon could be tricked into writing.
//!
//! The example listens on fixed ports (10007-10100); the test runs a copy rewritten onto free
//! ports, from its own temporary directory, so it runs beside other tests and whichever user
//! ran it before (issue 17 §3: a root CI run once left a root-owned log file in /tmp that
//! broke the example for a normal user). `.ci/run` also runs this file (`--test example`)
//! against the static build.

mod util;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use util::*;
use xinetd_test_support::wait_for;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/xinetd.conf");
/// Where the README runs the example from (`cargo run ... -f examples/xinetd.conf`).
const REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The example's text with every `port = N` on a free port; the map from N to that port
/// (echo's tcp and udp services share one number, and so share one free port).
fn on_free_ports(text: &str) -> (String, BTreeMap<u16, u16>) {
    let mut ports = BTreeMap::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let port = line
            .split_once('=')
            .filter(|(name, _)| name.trim() == "port")
            .and_then(|(_, value)| value.trim().parse::<u16>().ok());
        match port {
            Some(n) => {
                let free = *ports.entry(n).or_insert_with(free_port);
                out.push_str(&format!("\tport        = {free}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (out, ports)
}

/// The daemon on the rewritten example, as the README starts it (`-dontfork`, nothing else),
/// with its standard error collected: that is where the example sends every log line.
struct Example {
    child: Child,
    stderr: Arc<Mutex<String>>,
    // Held for the daemon's lifetime: its configuration (and its start-up directory).
    _dir: tempfile::TempDir,
}

impl Example {
    fn start(conf: &str) -> Example {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("xinetd.conf");
        std::fs::write(&path, conf).expect("write the example");
        let mut child = Command::new(XINETD)
            .arg("-f")
            .arg(&path)
            .arg("-dontfork")
            // A relative log path would land here, not in the repository.
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start xinetd");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr pipe");
        let sink = Arc::clone(&stderr);
        // Drained continuously so the daemon never blocks on (or drops lines into) a full
        // pipe; ends at EOF when the daemon exits.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Example {
            child,
            stderr,
            _dir: dir,
        }
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn wait_stderr(&self, needle: &str) {
        wait_until(10, &format!("'{needle}' on standard error"), || {
            self.stderr().contains(needle)
        });
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if !wait_for(5, || matches!(self.child.try_wait(), Ok(Some(_)))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn bundled_example_serves_every_service() {
    let text = std::fs::read_to_string(EXAMPLE).expect("read the example");
    let (conf, ports) = on_free_ports(&text);
    let port = |n: u16| {
        *ports
            .get(&n)
            .unwrap_or_else(|| panic!("port {n} in the example"))
    };
    let d = Example::start(&conf);
    d.wait_stderr("Started working");
    let text = d.stderr();
    // The daemon says where each service listens.
    for (id, proto, n) in [
        ("echo-stream", "tcp", 10007),
        ("echo-dgram", "udp", 10007),
        ("daytime", "tcp", 10013),
        ("chargen", "tcp", 10019),
        ("date", "tcp", 10100),
    ] {
        let at = format!("{proto} 127.0.0.1:{}", port(n));
        assert!(
            text.contains(&format!("Started service: {id} ({at})")),
            "{id} in {text}"
        );
    }
    assert!(text.contains("Started working: 5 available services"));
    assert_eq!(exchange(port(10007), b"example"), b"example");
    assert!(read_all(&mut connect(port(10013))).ends_with(b"\r\n"));
    let mut chargen = connect(port(10019));
    let mut line = [0u8; 74];
    chargen.read_exact(&mut line).expect("chargen line");
    assert_eq!(line[0], b'!');
    if is_root() {
        // /bin/date -u as user nobody.
        let out = String::from_utf8(read_all(&mut connect(port(10100)))).expect("utf-8");
        assert!(out.contains("UTC"), "{out:?}");
    }
    // The service lines reach the user where the example says: standard error.
    d.wait_stderr("START: echo-stream");
    d.wait_stderr("START: daytime");
}

/// Issue 17 §3: the example's service log must not be a file in a directory others can
/// write to (a root daemon appending to a predictable name there follows a planted symlink).
/// Standard error and syslog pass; a relative path is taken from the repository root, where
/// the README runs the example.
#[test]
fn bundled_example_logs_nowhere_world_writable() {
    let env = xinetd_conf::Environment::system();
    let options = xinetd_conf::LoadOptions::new();
    let loaded = xinetd_conf::load(Path::new(EXAMPLE), &env, &options).expect("load the example");
    let services = &loaded.config.services;
    assert_eq!(services.len(), 5, "{:?}", loaded.diagnostics);
    for s in services {
        let id = &s.id.value;
        let Some(log_type) = &s.log_type else {
            continue;
        };
        let path = match &log_type.value {
            xinetd_conf::LogType::Syslog { .. } | xinetd_conf::LogType::Journal { .. } => continue,
            xinetd_conf::LogType::File { path, .. } => Path::new(REPOSITORY).join(path),
        };
        // Every directory on the way, symlinks followed: the one holding the file and each
        // one above it (renaming a directory in a writable parent swaps what is below).
        for dir in path.ancestors().skip(1) {
            let mode = std::fs::metadata(dir)
                .unwrap_or_else(|e| panic!("{id}: log directory {}: {e}", dir.display()))
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o002,
                0,
                "{id}: log_type FILE {} is under the world-writable {} (mode {mode:o})",
                path.display(),
                dir.display()
            );
        }
    }
}
