//! Differential test against the real xinetd (Debian's 2.3.15.3 at /usr/sbin/xinetd): run it
//! on loopback with FILE-logged internal services, make it log START/EXIT/FAIL lines and its
//! own `-filelog` lines, then re-create every line with this crate from the values it printed
//! (pids, durations) and compare — text, field order, gating, address forms, `pid=0` for an
//! inline service, and the local-time timestamp.
//!
//! Skipped (with a message) when the binary is missing or the test is not root.

mod util;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xinetd_log::{
    file_timestamp, DaemonLog, ExitStatus, FailReason, Level, LocalClock, LogOnFailure,
    LogOnSuccess, Peer, Server, ServiceRecords, StderrStyle,
};

const XINETD: &str = "/usr/sbin/xinetd";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    // Free on the IPv6 wildcard means free for the dual-stack service too.
    let l = TcpListener::bind("[::]:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Kills xinetd by its pid when the test ends, whatever happens.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect_from(src: &str, port: u16) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let src: IpAddr = src.parse().expect("address");
    socket
        .bind(&SocketAddr::new(src, 0).into())
        .expect("bind source");
    socket
        .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("connect");
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(key)
        .unwrap_or_else(|| panic!("{key} in {line:?}"))
        + key.len();
    line[start..].split([' ', '(']).next().unwrap_or("")
}

#[test]
fn same_lines_as_the_real_xinetd() {
    if !Path::new(XINETD).exists() {
        println!("skipping: {XINETD} not installed (apt-get install xinetd)");
        return;
    }
    if !is_root() {
        println!("skipping: the real xinetd needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let svc_log = dir.path().join("svc.log");
    let prog_log = dir.path().join("xinetd.log");
    let lim_log = dir.path().join("lim.log");
    let (p_echo, p_day, p_lim) = (free_port(), free_port(), free_port());
    let conf = format!(
        "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tid = echo-t\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tport = {p_echo}\n\tbind = 127.0.0.1\n\
         \tlog_type = FILE {log}\n\tlog_on_success = PID HOST EXIT DURATION\n\
         \tlog_on_failure = HOST\n}}\n\
         service daytime\n{{\n\ttype = INTERNAL UNLISTED\n\tid = day-t\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tport = {p_day}\n\
         \tlog_type = FILE {log}\n\tlog_on_success = PID HOST\n\
         \tlog_on_failure = HOST ATTEMPT\n\tonly_from = 127.0.0.2\n}}\n\
         service discard\n{{\n\ttype = INTERNAL UNLISTED\n\tid = lim\n\tsocket_type = stream\n\
         \tprotocol = tcp\n\twait = no\n\tport = {p_lim}\n\tinstances = 0\n\
         \tlog_type = FILE {lim} 100 150\n\tlog_on_success = PID HOST\n\
         \tlog_on_failure = HOST\n}}\n",
        log = svc_log.display(),
        lim = lim_log.display()
    );
    let conf_path = dir.path().join("xinetd.conf");
    std::fs::write(&conf_path, conf).expect("write conf");
    let child = Command::new(XINETD)
        .arg("-dontfork")
        .arg("-filelog")
        .arg(&prog_log)
        .arg("-f")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xinetd");
    let daemon = Daemon(child);
    let started = wait_for_lines(&prog_log, 2);
    assert!(
        started
            .iter()
            .any(|l| l.contains("Started working: 3 available services")),
        "{started:?}"
    );

    // echo (forking internal, IPv4 bind): START + EXIT.
    let mut c = connect_from("127.0.0.1", p_echo);
    c.write_all(b"ping\n").expect("send");
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).expect("echo reply");
    drop(c);
    // daytime from 127.0.0.1: refused by only_from, parent-side FAIL (dual-stack address).
    let mut c = connect_from("127.0.0.1", p_day);
    let _ = c.read(&mut [0u8; 64]);
    // daytime from 127.0.0.2: inline service, START pid=0 and no EXIT.
    let mut c = connect_from("127.0.0.2", p_day);
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    assert!(!reply.is_empty(), "daytime answered");

    // lim (instances = 0): every connection is a FAIL line until the FILE log's hard limit
    // (150 bytes) closes it.
    for _ in 0..6 {
        let mut c = connect_from("127.0.0.1", p_lim);
        let _ = c.read(&mut [0u8; 16]);
    }
    let lines = wait_for_lines(&svc_log, 4);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&prog_log)
        .unwrap_or_default()
        .contains("Error in lim log")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(daemon);
    assert_eq!(lines.len(), 4, "{lines:?}");

    // Re-create each line with our formatter from the values the real one printed.
    let echo = ServiceRecords::new(
        "echo-t",
        LogOnSuccess::from_words(["PID", "HOST", "EXIT", "DURATION"]).expect("flags"),
        LogOnFailure::from_words(["HOST"]).expect("flags"),
    );
    let day = ServiceRecords::new(
        "day-t",
        LogOnSuccess::from_words(["PID", "HOST"]).expect("flags"),
        LogOnFailure::from_words(["HOST", "ATTEMPT"]).expect("flags"),
    );
    let v4 = Peer::Addr("127.0.0.1".parse::<IpAddr>().expect("addr"));
    let mapped = |s: &str| Peer::Addr(s.parse::<IpAddr>().expect("addr"));
    let now = jiff::Zoned::now();
    let recent: Vec<String> = (0..120)
        .map(|s| {
            let t = now
                .checked_sub(jiff::SignedDuration::from_secs(s))
                .expect("in range");
            file_timestamp(&t)
        })
        .collect();
    let mut seen_kinds = Vec::new();
    for line in &lines {
        let stamp = &line[..line.find(": ").expect("separator")];
        assert!(
            recent.iter().any(|r| r == stamp),
            "timestamp {stamp:?} is not local time within the last two minutes ({})",
            recent[0]
        );
        let record = util::strip_timestamp(line);
        let ours = if record.starts_with("START: echo-t") {
            let pid: u32 = field(record, "pid=").parse().expect("pid");
            echo.start(Server::Forked(pid), v4)
        } else if record.starts_with("EXIT: echo-t") {
            let pid: u32 = field(record, "pid=").parse().expect("pid");
            let status: i32 = field(record, "status=").parse().expect("status");
            let duration: i64 = field(record, "duration=").parse().expect("duration");
            echo.exit(Server::Forked(pid), ExitStatus::Exited(status), duration)
        } else if record.starts_with("FAIL: day-t") {
            day.fail(FailReason::Address, mapped("::ffff:127.0.0.1"))
        } else if record.starts_with("START: day-t") {
            day.start(Server::Inline, mapped("::ffff:127.0.0.2"))
        } else {
            panic!("unexpected line {line:?}");
        };
        assert_eq!(ours.as_ref().map(|r| r.as_str()), Some(record));
        seen_kinds.push(record.split(' ').take(2).collect::<Vec<_>>().join(" "));
    }
    seen_kinds.sort();
    assert_eq!(
        seen_kinds,
        [
            "EXIT: echo-t",
            "FAIL: day-t",
            "START: day-t",
            "START: echo-t"
        ]
    );

    // The FILE limits: the same lines through our FileLog stop at the same line, with
    // xinetd's message.
    let real_lim = std::fs::read_to_string(&lim_log).expect("lim log");
    let real_lines: Vec<&str> = real_lim.lines().collect();
    assert_eq!(real_lines.len(), 3, "{real_lim}");
    let ours_path = dir.path().join("ours.log");
    let (ours_lim, diags) = xinetd_log::FileLog::open(
        &ours_path,
        "lim",
        Some(xinetd_log::FileLimits::new(100, Some(150)).expect("limits")),
    )
    .expect("open");
    assert!(diags.is_empty());
    let mut ours_lim = ours_lim;
    let lim = ServiceRecords::new(
        "lim",
        LogOnSuccess::from_words(["PID", "HOST"]).expect("flags"),
        LogOnFailure::from_words(["HOST"]).expect("flags"),
    );
    let mut our_diags = Vec::new();
    for _ in 0..6 {
        let rec = lim
            .fail(FailReason::ServiceLimit, mapped("::ffff:127.0.0.1"))
            .expect("FAIL");
        assert_eq!(rec.as_str(), util::strip_timestamp(real_lines[0]));
        our_diags.extend(ours_lim.write(&rec).diagnostics);
    }
    let ours_text = std::fs::read_to_string(&ours_path).expect("ours");
    assert_eq!(ours_text.lines().count(), real_lines.len());
    assert_eq!(ours_text.len(), real_lim.len());
    let hard_msg = "Size of lim log exceeded hard limit";
    let prog_text = std::fs::read_to_string(&prog_log).expect("program log");
    assert!(
        prog_text.contains(&format!("ERROR: {hard_msg}\n")),
        "{prog_text}"
    );
    assert!(
        our_diags.iter().any(|d| d.text == hard_msg),
        "{our_diags:?}"
    );

    // The program log: same prefix and text from our DaemonLog.
    let prog = std::fs::read_to_string(&prog_log).expect("program log");
    let mut ours = DaemonLog::stderr(StderrStyle::FileLog).with_clock(LocalClock::system());
    let mut compared = 0;
    for line in prog.lines() {
        if line.contains("Error in lim log:") {
            // xinetd's uninitialised error number after the hard limit (F-971): we
            // deliberately do not write this line (docs/compat.md).
            continue;
        }
        let rest = util::strip_timestamp(line);
        let after_ident = rest.strip_prefix("xinetd[").expect("xinetd[pid]");
        let (pid, rest) = after_ident.split_once("]: ").expect("pid");
        let pid: u32 = pid.parse().expect("numeric pid");
        let (word, text) = rest.split_once(": ").expect("level");
        let level = match word {
            "NOTICE" => Level::Notice,
            "WARNING" => Level::Warning,
            "ERROR" => Level::Err,
            "INFO" => Level::Info,
            "DEBUG" => Level::Debug,
            other => panic!("level {other}"),
        };
        let mine = ours.format_line(level, Some("main"), text, pid);
        assert_eq!(util::strip_timestamp(&mine), util::strip_timestamp(line));
        compared += 1;
    }
    assert!(compared >= 2);
}
