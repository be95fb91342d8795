//! xinetd's fork retry (issue 8; F-420) and `flags = NORETRY` (F-141): the daemon runs as
//! `nobody` with RLIMIT_NPROC 1 so that its forks fail until the test lifts the limit; a
//! failed fork is retried 5 s later, NORETRY fails the request at once, and a reload that
//! removes the service drops its pending retries.

mod util;

use nix::sys::signal::Signal;
use util::*;

/// Tests that run processes as `nobody` take this lock: RLIMIT_NPROC counts every process of
/// the user, so they must not overlap. (It covers this test binary; `cargo test` runs the
/// binaries one after another, and `start_without_forks` also waits for stray `nobody`
/// processes to go.)
static NOBODY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn nobody_lock() -> std::sync::MutexGuard<'static, ()> {
    NOBODY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the daemon as `nobody` with RLIMIT_NPROC 1, so that it cannot fork (or start a
/// thread) until the test lifts the limit with `prlimit --pid`. Needs root, `prlimit`
/// and `setpriv`; `None` (with the reason printed) otherwise.
fn start_without_forks(conf: &str) -> Option<(std::process::Child, tempfile::TempDir)> {
    if !is_root() {
        eprintln!("skipped: needs root to run the daemon as nobody with RLIMIT_NPROC");
        return None;
    }
    for tool in ["prlimit", "setpriv"] {
        if std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: {tool} is not installed");
            return None;
        }
    }
    // Other processes of `nobody` would count against the limit (those of the previous
    // test may still be exiting).
    let busy = || {
        std::process::Command::new("pgrep")
            .args(["-u", "nobody"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while busy() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if busy() {
        eprintln!("skipped: processes of nobody are running (they count for RLIMIT_NPROC)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let conf_path = dir.path().join("xinetd.conf");
    std::fs::write(
        &conf_path,
        conf.replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("write config");
    let empty = dir.path().join("hosts.empty");
    std::fs::write(&empty, "").expect("write");
    let child = std::process::Command::new("prlimit")
        .args([
            "--nproc=1:",
            "--",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", XINETD, "-dontfork", "-filelog"])
        .arg(dir.path().join("prog.log"))
        .arg("-f")
        .arg(&conf_path)
        .arg("-hosts_allow")
        .arg(&empty)
        .arg("-hosts_deny")
        .arg(&empty)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start xinetd");
    let log = dir.path().join("prog.log");
    wait_until(10, "Started working", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Started working")
    });
    Some((child, dir))
}

fn nobody_echo(id: &str, port: u16, flags: &str) -> String {
    format!(
        "service {id}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\
         \tport = {port}\n\twait = no\n\tuser = nobody\n\tserver = /bin/echo\n\
         \tserver_args = hello\n\tbind = 127.0.0.1\n\tcps = 0 0\n{flags}\
         \tlog_type = FILE @DIR@/svc.log\n\tlog_on_success = PID HOST EXIT\n\
         \tlog_on_failure = HOST\n}}\n"
    )
}

#[test]
fn a_failed_fork_is_retried_five_seconds_later() {
    let _nobody = nobody_lock();
    let port = free_port();
    let Some((child, dir)) = start_without_forks(&nobody_echo("retry", port, "")) else {
        return;
    };
    let child = KillOnDrop(child);
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let mut client = connect(port);
    wait_until(5, "the fork failure", || {
        log("prog.log").contains("retry: fork failed: ")
    });
    // Let it fork again: the retry 5 s later serves the waiting client. (Raising the soft
    // limit of another user's process needs its uid, not root without CAP_SYS_RESOURCE.)
    let st = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "prlimit",
        ])
        .args(["--pid", &child.0.id().to_string(), "--nproc=1000:"])
        .status()
        .expect("prlimit");
    assert!(st.success());
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(read_all(&mut client), b"hello\n");
    assert!(
        log("svc.log").contains("START: retry pid="),
        "{}",
        log("svc.log")
    );
    assert!(!log("svc.log").contains("FAIL"), "{}", log("svc.log"));
}

#[test]
fn noretry_fails_the_request_at_once() {
    let _nobody = nobody_lock();
    let port = free_port();
    let conf = nobody_echo("noretry", port, "\tflags = NORETRY\n");
    let Some((child, dir)) = start_without_forks(&conf) else {
        return;
    };
    let _child = KillOnDrop(child);
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let started = std::time::Instant::now();
    assert_eq!(read_all(&mut connect(port)), b"");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    wait_until(5, "FAIL fork", || {
        log("svc.log").contains("FAIL: noretry fork from=127.0.0.1")
    });
    assert!(log("prog.log").contains("noretry: fork failed: "));
}

#[test]
fn a_reload_that_removes_the_service_drops_its_retries() {
    let _nobody = nobody_lock();
    let (port, other) = (free_port(), free_port());
    let conf = nobody_echo("gone", port, "") + &nobody_echo("kept", other, "");
    let Some((child, dir)) = start_without_forks(&conf) else {
        return;
    };
    let child = KillOnDrop(child);
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let mut client = connect(port);
    wait_until(5, "the fork failure", || {
        log("prog.log").contains("gone: fork failed: ")
    });
    std::fs::write(
        dir.path().join("xinetd.conf"),
        nobody_echo("kept", other, "").replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("rewrite");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        Signal::SIGHUP,
    )
    .expect("SIGHUP");
    wait_until(5, "the dropped retry", || {
        log("prog.log").contains("NOTICE: dropping retry attempt for service gone")
    });
    // The waiting client is closed, not served.
    assert_eq!(read_all(&mut client), b"");
}
