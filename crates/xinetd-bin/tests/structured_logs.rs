//! Structured logs (issue 18): `log_type = JOURNAL` against a journal socket the test binds
//! (datagrams parsed, including the binary form of a value with a newline), a journal
//! socket that vanishes and comes back, the fallback when it is absent, `log_type = FILE
//! ... JSON` with its limits, `-journal` and `-stderr_json` for the daemon's own log —
//! all through the real daemon binary.

mod util;

use std::cell::RefCell;
use std::io::{BufRead, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// One journal entry: fields in order (a name may repeat).
type Entry = Vec<(String, Vec<u8>)>;

/// Parse a datagram in journald's native protocol: `NAME=value\n`, or `NAME\n` + 64-bit
/// little-endian length + value + `\n`.
fn parse_entry(b: &[u8]) -> Entry {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let nl = i + b[i..].iter().position(|&c| c == b'\n').expect("field ends");
        let line = &b[i..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            out.push((
                String::from_utf8(line[..eq].to_vec()).expect("name"),
                line[eq + 1..].to_vec(),
            ));
            i = nl + 1;
        } else {
            let len_bytes: [u8; 8] = b[nl + 1..nl + 9].try_into().expect("length");
            let len = u64::from_le_bytes(len_bytes) as usize;
            let start = nl + 9;
            out.push((
                String::from_utf8(line.to_vec()).expect("name"),
                b[start..start + len].to_vec(),
            ));
            assert_eq!(b[start + len], b'\n', "binary field ends with a newline");
            i = start + len + 1;
        }
    }
    out
}

fn field<'a>(e: &'a Entry, name: &str) -> Option<&'a str> {
    e.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| std::str::from_utf8(v).expect("utf8 value"))
}

/// A journal socket bound by the test, collecting what the daemon sends.
struct Journal {
    path: PathBuf,
    sock: UnixDatagram,
    entries: RefCell<Vec<Entry>>,
    raw: RefCell<Vec<Vec<u8>>>,
}

impl Journal {
    fn bind(path: PathBuf) -> Journal {
        let sock = UnixDatagram::bind(&path).expect("bind journal socket");
        sock.set_nonblocking(true).expect("nonblocking");
        Journal {
            path,
            sock,
            entries: RefCell::new(Vec::new()),
            raw: RefCell::new(Vec::new()),
        }
    }

    fn poll(&self) {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.sock.recv(&mut buf) {
            self.raw.borrow_mut().push(buf[..n].to_vec());
            self.entries.borrow_mut().push(parse_entry(&buf[..n]));
        }
    }

    /// Waits for an entry whose MESSAGE contains `needle` and returns it.
    fn wait(&self, needle: &str) -> Entry {
        let mut found = None;
        wait_until(10, &format!("'{needle}' in the journal"), || {
            self.poll();
            found = self
                .entries
                .borrow()
                .iter()
                .find(|e| field(e, "MESSAGE").is_some_and(|m| m.contains(needle)))
                .cloned();
            found.is_some()
        });
        found.expect("found")
    }
}

/// An external service running `/bin/sh DIR/srv.sh` (reads a line, answers, exits 3).
fn shell_service(id: &str, port: u16, dir: &Path, log_type: &str, extra: &str) -> String {
    std::fs::write(
        dir.join("srv.sh"),
        "read line\necho \"got $line\"\nexit 3\n",
    )
    .expect("script");
    external(
        id,
        port,
        "/bin/sh",
        &format!("{}/srv.sh", dir.display()),
        extra,
    )
    .replace(
        "log_type = FILE @DIR@/svc.log",
        &format!("log_type = {log_type}"),
    )
}

/// Starts the daemon with exactly these arguments and environment, stderr to `stderr`.
fn start_raw(args: &[&str], env: &[(&str, &str)], stderr: &Path) -> Child {
    Command::new(XINETD)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).expect("stderr file"))
        .spawn()
        .expect("start xinetd")
}

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ask(port: u16, src: Option<Ipv4Addr>) -> (String, u16) {
    let mut s = match src {
        Some(a) => connect_from(a, port),
        None => connect(port),
    };
    let local = s.local_addr().expect("local").port();
    let _ = s.write_all(b"hello\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    (out, local)
}

#[test]
fn journal_records_and_program_log_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::bind(dir.path().join("journal.sock"));
    let port = free_port();
    // A configuration file whose name has a newline: the program log's messages about it
    // carry `[file=...]`, so MESSAGE needs journald's binary (length-prefixed) form.
    let conf = dir.path().join("odd\nname.conf");
    let text = shell_service(
        "sh",
        port,
        dir.path(),
        "JOURNAL daemon notice",
        "\tonly_from = 127.0.0.1\n\tbogus_attribute = 1\n",
    );
    std::fs::write(&conf, text).expect("config");
    let pidfile = dir.path().join("pid");
    let _d = Reaped(start_raw(
        &[
            "-dontfork",
            "-journal",
            "-pidfile",
            pidfile.to_str().expect("utf8"),
            "-f",
            conf.to_str().expect("utf8"),
        ],
        &[(
            "XINETD_JOURNAL_SOCKET",
            journal.path.to_str().expect("utf8"),
        )],
        &dir.path().join("stderr"),
    ));
    let started = journal.wait("Started working");
    assert_eq!(field(&started, "SYSLOG_IDENTIFIER"), Some("xinetd"));
    assert_eq!(
        field(&started, "MESSAGE_ID"),
        Some("f7ac145e4c2343cd81991a3351c302c2")
    );
    assert_eq!(field(&started, "PRIORITY"), Some("5"));
    assert_eq!(field(&started, "SYSLOG_FACILITY"), Some("3"));
    // The bad attribute's warning names the file, newline and all, in the binary form.
    let warning = journal.wait("bogus_attribute");
    let msg = field(&warning, "MESSAGE").expect("message");
    assert!(msg.contains("odd\nname.conf"), "{msg:?}");
    assert!(
        journal
            .raw
            .borrow()
            .iter()
            .any(|d| d.windows(8).any(|w| w == b"MESSAGE\n")),
        "a MESSAGE in the binary form"
    );
    assert_eq!(field(&warning, "PRIORITY"), Some("4"));

    // A served client: START and EXIT with the structured fields.
    let (reply, client_port) = ask(port, None);
    assert_eq!(reply, "got hello\n");
    let start = journal.wait("START: sh");
    let text = field(&start, "MESSAGE").expect("message");
    assert!(text.starts_with("START: sh pid="), "{text}");
    assert!(text.ends_with(" from=127.0.0.1"), "{text}");
    assert_eq!(
        field(&start, "MESSAGE_ID"),
        Some("beef5d7d208545a7ba46d83106939094")
    );
    assert_eq!(field(&start, "PRIORITY"), Some("5"));
    assert_eq!(field(&start, "XINETD_SERVICE"), Some("sh"));
    assert_eq!(field(&start, "XINETD_RECORD"), Some("START"));
    assert_eq!(field(&start, "REMOTE_ADDR"), Some("127.0.0.1"));
    assert_eq!(
        field(&start, "REMOTE_PORT"),
        Some(client_port.to_string().as_str())
    );
    let pid = field(&start, "PID").expect("PID").to_string();
    assert!(text.contains(&format!("pid={pid} ")), "{text}");
    let exit = journal.wait("EXIT: sh");
    assert_eq!(field(&exit, "EXIT_STATUS"), Some("3"));
    assert_eq!(field(&exit, "PID"), Some(pid.as_str()));
    assert_eq!(
        field(&exit, "MESSAGE_ID"),
        Some("108b3783a8aa4ec38a487f9205460b43")
    );
    let usec: u64 = field(&exit, "DURATION_USEC")
        .expect("DURATION_USEC")
        .parse()
        .expect("number");
    assert!(usec < 60_000_000, "{usec}");
    assert!(field(&exit, "MESSAGE")
        .expect("message")
        .starts_with(&format!("EXIT: sh status=3 pid={pid} duration=")));

    // A refused client: FAIL with the reason and the address.
    let _ = ask(port, Some(SRC2));
    let fail = journal.wait("FAIL: sh");
    assert_eq!(
        field(&fail, "MESSAGE"),
        Some("FAIL: sh address from=127.0.0.2")
    );
    assert_eq!(field(&fail, "XINETD_REASON"), Some("address"));
    assert_eq!(field(&fail, "REMOTE_ADDR"), Some("127.0.0.2"));
    assert_eq!(
        field(&fail, "MESSAGE_ID"),
        Some("e16e3b4f9d004b469a7614324b4652c3")
    );
}

#[test]
fn a_vanishing_journal_is_reported_once_and_changes_nothing_else() {
    let jdir = tempfile::tempdir().expect("tempdir");
    let jpath = jdir.path().join("journal.sock");
    let journal = Journal::bind(jpath.clone());
    let port = free_port();
    let conf = internal("echo", "echo", "stream", port, "")
        .replace("log_type = FILE @DIR@/svc.log", "log_type = JOURNAL");
    let d = Daemon::spawn_with(
        &conf,
        &[],
        &[("XINETD_JOURNAL_SOCKET", jpath.to_str().expect("utf8"))],
        &[],
    );
    d.wait_log(10, "Started working");
    assert_eq!(exchange(port, b"one\n"), b"one\n");
    journal.wait("START: echo");
    journal.wait("EXIT: echo");

    // journald goes away (stopped, socket removed).
    drop(journal);
    std::fs::remove_file(&jpath).expect("remove socket");
    for _ in 0..3 {
        assert_eq!(exchange(port, b"two\n"), b"two\n", "service unaffected");
    }
    d.wait_log(
        10,
        "Error in echo log: No such file or directory (errno = 2)",
    );
    // Reported once, not per lost record.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(d.prog_log().matches("Error in echo log").count(), 1);

    // It comes back: the next record gets through and the losses are counted.
    let journal = Journal::bind(jpath);
    assert_eq!(exchange(port, b"three\n"), b"three\n");
    journal.wait("START: echo");
    d.wait_log(10, "echo log writable again; 6 lines were lost");
}

#[test]
fn an_absent_journal_falls_back_to_syslog_with_one_warning() {
    let port = free_port();
    let conf = internal("echo", "echo", "stream", port, "")
        .replace("log_type = FILE @DIR@/svc.log", "log_type = JOURNAL")
        + &internal("echo", "echo2", "stream", free_port(), "").replace(
            "log_type = FILE @DIR@/svc.log",
            "log_type = JOURNAL local3 err",
        );
    let d = Daemon::spawn_with(
        &conf,
        &[],
        &[("XINETD_JOURNAL_SOCKET", "/nonexistent/journal.sock")],
        &[],
    );
    d.wait_log(10, "Started working");
    assert_eq!(exchange(port, b"x\n"), b"x\n");
    let log = d.prog_log();
    assert_eq!(
        log.matches(
            "journal socket /nonexistent/journal.sock is absent: echo, echo2 log to syslog instead"
        )
        .count(),
        1,
        "{log}"
    );
}

#[test]
fn json_file_log_lines_and_limits() {
    let port = free_port();
    // Soft 1 KiB, hard 2 KiB: a few hundred-byte JSON lines cross both.
    let conf = internal("echo", "echo", "stream", port, "").replace(
        "log_type = FILE @DIR@/svc.log",
        "log_type = FILE @DIR@/svc.json 1K 2K json",
    );
    let d = Daemon::start(&conf);
    let (reply, client_port) = {
        let mut s = connect(port);
        let p = s.local_addr().expect("local").port();
        s.write_all(b"a\n").expect("write");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        (read_all(&mut s), p)
    };
    assert_eq!(reply, b"a\n");
    d.wait_file(10, "svc.json", "\"EXIT\"");
    let text = d.read("svc.json");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let start = &lines[0];
    assert_eq!(start["MESSAGE"], "START: echo pid=0 from=127.0.0.1");
    assert_eq!(start["XINETD_RECORD"], "START");
    assert_eq!(start["XINETD_SERVICE"], "echo");
    assert_eq!(start["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(start["REMOTE_PORT"], u64::from(client_port));
    assert_eq!(start["PID"], 0);
    assert_eq!(start["PRIORITY"], 6);
    assert_eq!(start["MESSAGE_ID"], "beef5d7d208545a7ba46d83106939094");
    let ts = start["TIMESTAMP"].as_str().expect("TIMESTAMP");
    assert_eq!(ts.len(), "2026-12-06T03:04:05.123456+00:00".len(), "{ts}");
    let exit = &lines[1];
    assert_eq!(exit["EXIT_STATUS"], 0);
    assert!(exit["DURATION_USEC"].is_u64());

    // The limits count JSON bytes: past 2 KiB the log closes, the daemon says so once.
    for _ in 0..12 {
        assert_eq!(exchange(port, b"b\n"), b"b\n");
    }
    d.wait_log(10, "Size of echo log exceeded hard limit");
    let size = std::fs::metadata(d.path("svc.json")).expect("stat").len();
    assert!(size > 2048, "{size}");
    for _ in 0..3 {
        assert_eq!(exchange(port, b"c\n"), b"c\n");
    }
    assert_eq!(
        std::fs::metadata(d.path("svc.json")).expect("stat").len(),
        size,
        "nothing written past the hard limit"
    );
    for l in d.read("svc.json").lines() {
        let _: serde_json::Value = serde_json::from_str(l).expect("every line is JSON");
    }
}

#[test]
fn stderr_json_program_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("xinetd.conf");
    std::fs::write(
        &conf,
        internal("echo", "echo", "stream", port, "")
            .replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("config");
    let err = dir.path().join("stderr");
    let pidfile = dir.path().join("pid");
    let mut child = Reaped(start_raw(
        &[
            "-dontfork",
            "-stderr_json",
            "-pidfile",
            pidfile.to_str().expect("utf8"),
            "-f",
            conf.to_str().expect("utf8"),
        ],
        &[],
        &err,
    ));
    wait_until(10, "Started working on stderr", || {
        std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("Started working")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    let _ = child.0.wait();
    let text = std::fs::read(&err).expect("stderr");
    let mut messages = Vec::new();
    for line in text.lines() {
        let line = line.expect("line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON object per line");
        assert_eq!(v["SYSLOG_IDENTIFIER"], "xinetd");
        assert_eq!(v["MESSAGE_ID"], "f7ac145e4c2343cd81991a3351c302c2");
        assert!(v["TIMESTAMP"].is_string());
        messages.push((
            v["MESSAGE"].as_str().expect("MESSAGE").to_string(),
            v["PRIORITY"].as_u64().expect("PRIORITY"),
        ));
    }
    assert!(
        messages
            .iter()
            .any(|(m, p)| m.starts_with("Started working") && *p == 5),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|(m, _)| m.contains("Exiting")),
        "{messages:?}"
    );
}

/// `log_stderr = yes`: the server's stderr becomes STDERR records (before its EXIT), not
/// bytes on the client's socket; long lines are split, a last partial line is flushed, and
/// a flood is slowed down, not dropped.
#[test]
fn log_stderr_lines_go_to_the_service_log() {
    let port = free_port();
    let conf = external(
        "sh",
        port,
        "/bin/sh",
        "@DIR@/srv.sh",
        "\tlog_stderr = yes\n",
    );
    let d = Daemon::spawn(&conf, &[]);
    std::fs::write(
        d.path("srv.sh"),
        "echo 'first warning' >&2\n\
         echo out\n\
         head -c 2500 /dev/zero | tr '\\0' x >&2; echo >&2\n\
         i=0; while [ $i -lt 300 ]; do echo \"line $i\" >&2; i=$((i+1)); done\n\
         printf 'no newline' >&2\n\
         sleep 3 </dev/null >/dev/null &\n\
         exit 0\n",
    )
    .expect("script");
    d.wait_log(10, "Started working");
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
            .expect("fd dir")
            .count()
    };
    let before = fds();
    let (reply, _) = ask(port, None);
    assert_eq!(reply, "out\n", "stderr is not sent to the client");
    d.wait_file(20, "svc.log", "EXIT: sh");
    let records: Vec<String> = d
        .read("svc.log")
        .lines()
        .map(|l| xinetd_test_support::strip_log_timestamp(l).to_string())
        .collect();
    let pid = records
        .iter()
        .find_map(|r| r.strip_prefix("START: sh pid="))
        .and_then(|r| r.split(' ').next())
        .expect("START with pid")
        .to_string();
    let stderr: Vec<&str> = records
        .iter()
        .filter_map(|r| r.strip_prefix(&format!("STDERR: sh pid={pid} ")))
        .collect();
    assert_eq!(stderr[0], "first warning");
    assert_eq!(stderr[1], "x".repeat(1000));
    assert_eq!(stderr[2], "x".repeat(1000));
    assert_eq!(stderr[3], "x".repeat(500));
    for i in 0..300 {
        assert_eq!(stderr[4 + i], format!("line {i}"), "every line, in order");
    }
    assert_eq!(stderr[304], "no newline");
    assert_eq!(stderr.len(), 305);
    // Every STDERR record precedes the EXIT, even though `sleep` still holds the pipe.
    let exit_at = records
        .iter()
        .position(|r| r.starts_with("EXIT: sh"))
        .expect("EXIT");
    let last_stderr = records
        .iter()
        .rposition(|r| r.starts_with("STDERR: sh"))
        .expect("STDERR");
    assert!(last_stderr < exit_at, "{records:?}");
    // The pipe was closed although `sleep` still holds its write end, and the daemon
    // keeps serving.
    assert_eq!(fds(), before, "no descriptor left behind");
    let (reply, _) = ask(port, None);
    assert_eq!(reply, "out\n");
}

#[test]
fn check_types_and_prints_the_extensions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("x.conf");
    std::fs::write(
        &conf,
        "service a\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 7001\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\
         \tlog_type = JOURNAL local2 warning\n\tlog_stderr = yes\n}\n\
         service b\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 7002\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\
         \tlog_type = FILE /tmp/b.json 10K json\n}\n\
         service c\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 7003\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\
         \tlog_type = JOURNAL daemon info extra\n\tlog_stderr = maybe\n}\n\
         service e\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = 7005\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n\
         \tlog_stderr = yes\n}\n",
    )
    .expect("config");
    let out = Command::new(XINETD)
        .args(["-check", "-json", "-f"])
        .arg(&conf)
        .output()
        .expect("run -check");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let services = v["services"].as_array().expect("services");
    let a = services.iter().find(|s| s["id"] == "a").expect("a");
    assert_eq!(a["log_type"], "JOURNAL local2 warning");
    assert_eq!(a["log_stderr"], true);
    let b = services.iter().find(|s| s["id"] == "b").expect("b");
    assert_eq!(b["log_type"], "FILE /tmp/b.json 10240 15360 JSON");
    let diags = v["diagnostics"].as_array().expect("diagnostics");
    // Each bad value is reported at its own line and column 2 (after the tab).
    let text = std::fs::read_to_string(&conf).expect("read");
    let line_of = |needle: &str| {
        let at = text.rfind(needle).expect("in config");
        1 + text[..at].matches('\n').count() as u64
    };
    for (needle, message) in [
        ("log_stderr = maybe", "Bad value for log_stderr: maybe"),
        (
            "log_stderr = yes\n}\n",
            "log_stderr = yes without a log_type: the servers' stderr is discarded",
        ),
        (
            "JOURNAL daemon info extra",
            "log_type JOURNAL takes an optional facility and level",
        ),
    ] {
        let d = diags
            .iter()
            .find(|d| d["message"].as_str().is_some_and(|m| m.contains(message)))
            .unwrap_or_else(|| panic!("'{message}' in {diags:?}"));
        assert_eq!(d["line"], line_of(needle), "{d}");
        assert_eq!(d["column"], 2, "{d}");
        assert_eq!(d["file"], conf.to_str().expect("utf8"));
    }
    assert!(services.iter().all(|s| s["id"] != "c"));
}

/// A server that writes stderr faster than the allowance, then stays alive: its pipe stops
/// being read for a while (the allowance is spent) and is read again when it has refilled,
/// so every line arrives, in order, while the server still runs.
#[test]
fn log_stderr_pauses_and_resumes_a_fast_writer() {
    let port = free_port();
    let conf = external(
        "sh",
        port,
        "/bin/sh",
        "@DIR@/srv.sh",
        "\tlog_stderr = yes\n",
    );
    let d = Daemon::spawn(&conf, &[]);
    std::fs::write(
        d.path("srv.sh"),
        "i=0; while [ $i -lt 700 ]; do echo \"line $i\" >&2; i=$((i+1)); done\n\
         echo written\n\
         cat >/dev/null\n",
    )
    .expect("script");
    d.wait_log(10, "Started working");
    let mut s = connect(port);
    let mut line = String::new();
    std::io::BufReader::new(&s)
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "written\n");
    // The server is still running (it waits for EOF): the last line must come from the
    // resumed reading, not from the drain at exit.
    d.wait_file(20, "svc.log", "STDERR: sh pid=");
    wait_until(20, "line 699 while the server runs", || {
        d.read("svc.log").contains(" line 699\n")
    });
    assert!(!d.read("svc.log").contains("EXIT: sh"));
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let _ = s.read_to_end(&mut Vec::new());
    d.wait_file(10, "svc.log", "EXIT: sh");
    let lines: Vec<String> = d
        .read("svc.log")
        .lines()
        .filter_map(|l| {
            let r = xinetd_test_support::strip_log_timestamp(l);
            r.strip_prefix("STDERR: sh pid=")
                .and_then(|r| r.split_once(' '))
                .map(|(_, t)| t.to_string())
        })
        .collect();
    let want: Vec<String> = (0..700).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, want);
}
