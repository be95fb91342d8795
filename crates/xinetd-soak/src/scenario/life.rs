//! The daemon's life: reloads under load, a full log disk, SIGTERM with running servers.

use super::*;

pub(super) fn sighup(ctx: &Ctx<'_>) -> Result<Row, String> {
    let (pe, pc) = (free_port(), free_port());
    let a = conf::internal("echo", "echo", "stream", pe, SVC_LOG, &[]);
    let b = a.clone() + &conf::internal("chargen", "chargen", "stream", pc, AUX_LOG, &[]);
    let mut d = ctx.start(&a, &[], &Launch::default())?;
    let hups = ctx.count(200, 20);
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .filter_map(|_| {
            let (tally, done) = (tally.clone(), done.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        tally.add(net::echo_once(Ipv4Addr::LOCALHOST, pe, b"hup\n", TIMEOUT));
                    }
                })
                .ok()
        })
        .collect();
    let mut missed = 0;
    let mut row = Row::default();
    let deadline = Instant::now() + ctx.cap(300, 60);
    let mut sent = 0;
    for i in 0..hups {
        if Instant::now() >= deadline || d.check_alive().is_some() {
            break;
        }
        // On an error the load below must still stop: no `?` inside this loop.
        let hup = d
            .rewrite(if i % 2 == 0 { &b } else { &a })
            .and_then(|()| d.signal(Signal::SIGHUP));
        if let Err(e) = hup {
            row.notes.push(format!("stopped: {e}"));
            break;
        }
        sent += 1;
        let wait = Instant::now() + Duration::from_secs(3);
        while logs::count_lines(&d.prog_log(), "Reconfigured") < i + 1 {
            if Instant::now() >= wait {
                missed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    done.store(true, Ordering::Relaxed);
    for h in load {
        let _ = h.join();
    }
    let reconfigured = logs::count_lines(&d.prog_log(), "Reconfigured");
    row.notes.push(format!(
        "{sent} SIGHUPs, {reconfigured} 'Reconfigured' lines, {missed} waits over 3 s; 4 echo clients throughout"
    ));
    tally_into(&mut row, &tally);
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    Ok(row)
}

/// A tmpfs mounted for the scenario, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: PathBuf, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(&at).map_err(|e| format!("{}: {e}", at.display()))?;
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .map_err(|e| format!("mount: {e}"))?;
        if !st.success() {
            return Err(format!("mount -t tmpfs failed: {st}"));
        }
        Ok(Mount(at))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

pub(super) fn log_disk(ctx: &Ctx<'_>) -> Result<Row, String> {
    if !ctx.root {
        return Ok(Row {
            not_applicable: Some("skipped: mounting a small tmpfs needs root".into()),
            ..Row::default()
        });
    }
    // Declared first so it is dropped (unmounted) after the daemon has stopped.
    let mount = Mount::tmpfs(ctx.dir.join("logfs"), "64k")?;
    let port = free_port();
    let log = "@DIR@/logfs/svc.log";
    let d = ctx.start(
        &conf::internal("echo", "echo", "stream", port, log, &[]),
        &[],
        &Launch::default(),
    )?;
    let tally = Tally::default();
    tally.add(net::echo_once(
        Ipv4Addr::LOCALHOST,
        port,
        b"disk\n",
        TIMEOUT,
    ));
    // Fill the file system (bounded: 64 KiB in 1 KiB writes).
    let filler = mount.0.join("filler");
    if let Ok(mut f) = std::fs::File::create(&filler) {
        for _ in 0..1024 {
            if f.write_all(&[b'x'; 1024]).is_err() {
                break;
            }
        }
    }
    let size = |name: &str| std::fs::metadata(mount.0.join(name)).map_or(0, |m| m.len());
    let filled = format!(
        "disk filled: filler {} B, service log {} B",
        size("filler"),
        size("svc.log")
    );
    let full = ctx.count(500, 50);
    for _ in 0..full {
        tally.add(net::echo_once(
            Ipv4Addr::LOCALHOST,
            port,
            b"disk\n",
            TIMEOUT,
        ));
    }
    let before_space = format!("{} B before space came back", size("svc.log"));
    let _ = std::fs::remove_file(&filler);
    let after = 20;
    for _ in 0..after {
        tally.add(net::echo_once(
            Ipv4Addr::LOCALHOST,
            port,
            b"disk\n",
            TIMEOUT,
        ));
    }
    let mut row = Row::default();
    tally_into(&mut row, &tally);
    // The records are on the tmpfs: count them there, then the common columns.
    let expected = 2 * row.served;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && procfs::children_and_zombies(d.pid()).0 > 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let records = logs::count_records(&logs::read(&mount.0.join("svc.log")));
    let prog = d.prog_log();
    let errors = logs::count_lines(&prog, "No space left on device");
    // The messages without their stamp and `xinetd[pid]: ` prefix.
    let lost: Vec<&str> = prog
        .lines()
        .filter(|l| l.contains("lost"))
        .map(|l| l.split_once("]: ").map_or(l, |(_, t)| t))
        .collect();
    row.notes.push(format!(
        "{full} connections on a full disk, then {after} with space; disk errors reported {errors} times; {}",
        if lost.is_empty() {
            "no lost-line count".to_string()
        } else {
            format!("'{}'", lost.join("', '"))
        }
    ));
    row.notes.push(format!("{filled}, {before_space}"));
    finish(d, &mut row, None);
    row.log = Some(LogCount {
        written: records.total(),
        expected,
        at_least: false,
    });
    drop(mount);
    Ok(row)
}

pub(super) fn sigterm(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let mut d = ctx.start(
        &conf::external("sleep", port, "/bin/sleep", "60", SVC_LOG),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(50, 50);
    let mut row = Row::default();
    let tally = Tally::default();
    let mut clients = Vec::new();
    for _ in 0..n {
        match net::connect_from(Ipv4Addr::LOCALHOST, port, TIMEOUT) {
            Ok(s) => clients.push(s),
            Err(e) => tally.add(net::classify(&e)),
        }
    }
    let pid = d.pid();
    let sleeps = || -> Vec<i32> {
        procfs::children(pid)
            .into_iter()
            .filter(|p| p.stat.comm == "sleep")
            .map(|p| p.pid)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while sleeps().len() < clients.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let servers = sleeps();
    row.served = servers.len() as u64;
    row.idle_cpu_pct = idle_cpu(pid, 3);
    let rss = procfs::rss_kib(pid).unwrap_or(0);
    let fds = procfs::fd_count(pid).unwrap_or(0);
    let peaks = d.peaks();
    row.rss_kib = Some((peaks.rss_kib.max(rss), rss));
    row.fds = Some((peaks.fds.max(fds), fds));
    if let Some(st) = d.check_alive() {
        row.notes
            .push(format!("DAEMON EXITED DURING THE SCENARIO: {st}"));
    }
    d.signal(Signal::SIGTERM)?;
    let exited = d.wait_exit(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    // The soak is a child subreaper: servers the daemon left are now its children.
    let states: Vec<Option<char>> = servers
        .iter()
        .map(|&p| procfs::stat(p).map(|s| s.state))
        .collect();
    let zombies = states.iter().filter(|s| **s == Some('Z')).count() as u64;
    let running = states
        .iter()
        .filter(|s| matches!(s, Some(c) if *c != 'Z'))
        .count() as u64;
    row.children_zombies = Some((running, zombies));
    for &p in &servers {
        if procfs::exists(p) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    drop(clients);
    std::thread::sleep(Duration::from_millis(200));
    reap_orphans();
    let records = logs::count_records(&d.read("svc.log"));
    row.log = Some(LogCount {
        written: records.total(),
        expected: row.served,
        at_least: true,
    });
    row.notes.push(format!(
        "{} servers running at SIGTERM; daemon exited: {}; {} left running (orphans) after 1 s; EXIT records {}",
        servers.len(),
        if exited { "yes" } else { "NO (killed)" },
        running,
        records.exit
    ));
    tally_into(&mut row, &tally);
    Ok(row)
}
