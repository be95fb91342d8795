//! Hostile clients: more connections than descriptors, garbage on every in-loop protocol.

use super::*;

pub(super) fn fd_exhaustion(ctx: &Ctx<'_>) -> Result<Row, String> {
    let (pe, pd) = (free_port(), free_port());
    let conf = conf::internal("echo", "echo", "stream", pe, SVC_LOG, &[])
        + &conf::internal("daytime", "daytime", "stream", pd, AUX_LOG, &[]);
    let d = ctx.start(&conf, &[], &Launch { nofile: Some(256) })?;
    let hold = ctx.count(400, 400);
    let mut row = Row::default();
    let tally = Tally::default();
    let mut open: Vec<TcpStream> = Vec::new();
    let mut timeouts_in_a_row = 0;
    for i in 0..hold {
        match net::connect_from(Ipv4Addr::LOCALHOST, pe, Duration::from_secs(2)) {
            Ok(mut s) => {
                timeouts_in_a_row = 0;
                match s.write_all(b"x\n") {
                    Ok(()) => open.push(s),
                    Err(e) => tally.add(net::classify(&e)),
                }
            }
            Err(e) => {
                let o = net::classify(&e);
                tally.add(o);
                if o == Outcome::Error {
                    timeouts_in_a_row += 1;
                    if timeouts_in_a_row >= 5 {
                        row.notes.push(format!("connects time out after {i}"));
                        break;
                    }
                }
            }
        }
    }
    // Wait (5 s) for each held client to be echoed, closed or reset.
    let mut pending: Vec<Option<TcpStream>> = open.into_iter().map(Some).collect();
    for s in pending.iter().flatten() {
        let _ = s.set_nonblocking(true);
    }
    let mut answered: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && pending.iter().any(Option::is_some) {
        for slot in pending.iter_mut() {
            let Some(s) = slot.as_mut() else { continue };
            let mut b = [0u8; 2];
            match s.read(&mut b) {
                Ok(0) => {
                    tally.add(Outcome::Refused(false));
                    *slot = None;
                }
                Ok(_) => {
                    tally.add(Outcome::Served);
                    if let Some(s) = slot.take() {
                        answered.push(s);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => {
                    tally.add(net::classify(&e));
                    *slot = None;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiting = pending.iter().flatten().count();
    row.notes.push(format!(
        "{hold} echo clients under a 256-descriptor limit; {waiting} neither answered nor refused after 5 s"
    ));
    // Another service while the echo clients are held.
    let probe = match net::connect_from(Ipv4Addr::LOCALHOST, pd, Duration::from_secs(2)) {
        Ok(mut s) => match net::drain(&mut s, 4096, Instant::now() + TIMEOUT) {
            (n, None) if n > 0 => format!("answered ({n} bytes)"),
            (_, None) => "closed without answer".into(),
            (_, Some(Outcome::Refused(true))) => "RESET".into(),
            (n, Some(_)) => format!("no answer within 5 s ({n} bytes)"),
        },
        Err(e) => format!("connect failed: {e}"),
    };
    row.notes.push(format!("daytime while held: {probe}"));
    row.idle_cpu_pct = idle_cpu(d.pid(), 3);
    let fails = logs::count_records(&d.read("svc.log")).fail;
    row.notes.push(format!("FAIL records: {fails}"));
    drop(pending);
    drop(answered);
    std::thread::sleep(Duration::from_millis(500));
    let after = net::echo_once(Ipv4Addr::LOCALHOST, pe, b"again\n", TIMEOUT);
    row.notes.push(format!("echo after release: {after:?}"));
    tally_into(&mut row, &tally);
    let mut expected = start_exit(row.served + u64::from(after == Outcome::Served));
    if let Some(e) = expected.as_mut() {
        e.expected += fails;
    }
    finish(d, &mut row, expected);
    Ok(row)
}

pub(super) fn ident_reply(rng: &mut Rng, query: &str) -> Vec<u8> {
    let ports = query.trim_end();
    match rng.below(9) {
        0 => rng.some_bytes(300),
        1 => [rng.some_bytes(300), b"\r\n".to_vec()].concat(),
        2 => b"1,2 : USERID : UNIX : wrongports\r\n".to_vec(),
        3 => format!("{ports} : USERID : UNIX : soak\r\n").into_bytes(),
        4 => vec![b'A'; 1500],
        // A reply whose user name carries a line of its own into the service log.
        5 => format!("{ports} : USERID : UNIX : soak\nFORGED: by identd\r\n").into_bytes(),
        6 => Vec::new(),
        7 => format!("{ports} : USERID : UNIX : so\0ak\r\n").into_bytes(),
        _ => format!("{ports} : ERROR : NO-USER\r\n").into_bytes(),
    }
}

/// The address of the garbage scenario's identd clients: the daemon asks the client's own
/// address, so the fake identd listens there (port 113 needs root). 127.0.0.1 because it is
/// in /etc/hosts: xinetd's libwrap looks the client's name up, and an address the hosts file
/// does not know would send DNS queries off the machine.
const IDENT_CLIENT: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn fake_identd(stop: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<u64>> {
    let l = TcpListener::bind((IDENT_CLIENT, 113)).ok()?;
    l.set_nonblocking(true).ok()?;
    let h = std::thread::Builder::new()
        .name("identd".into())
        .spawn(move || {
            let mut rng = Rng::new(113);
            let mut answered = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut q = [0u8; 64];
                let n = s.read(&mut q).unwrap_or(0);
                let query = String::from_utf8_lossy(&q[..n]).into_owned();
                let _ = s.write_all(&ident_reply(&mut rng, &query));
                answered += 1;
            }
            answered
        })
        .ok()?;
    Some(h)
}

pub(super) fn garbage(ctx: &Ctx<'_>) -> Result<Row, String> {
    let candidate = ctx.target.kind == Kind::Candidate;
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let mut conf = [
        conf::internal("tcpmux", "tcpmux", "stream", ports[0], SVC_LOG, &[]),
        conf::internal("echo", "echo", "stream", ports[1], SVC_LOG, &[]),
        conf::internal("chargen", "chargen", "stream", ports[2], SVC_LOG, &[]),
        conf::internal("discard", "discard", "stream", ports[3], SVC_LOG, &[]),
        conf::internal(
            "echo",
            "echo-ident",
            "stream",
            ports[5],
            SVC_LOG,
            &[("log_on_success", "PID HOST EXIT DURATION USERID")],
        ),
    ]
    .concat();
    if candidate {
        // xinetd 2.3.15 has no xadmin builtin ("No such internal service").
        conf += &conf::internal(
            "xadmin",
            "xadmin",
            "stream",
            ports[4],
            SVC_LOG,
            &[("only_from", "127.0.0.1")],
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let identd = if ctx.root {
        fake_identd(stop.clone())
    } else {
        None
    };
    let d = ctx.start(&conf, &[], &Launch::default()).inspect_err(|_| {
        // The identd thread must end even when the daemon does not start.
        stop.store(true, Ordering::Relaxed);
    })?;
    let k = ctx.count(2_000, 50);
    let deadline = Instant::now() + ctx.cap(300, 60);
    let mut row = Row::default();
    let mut protocols = vec![
        ("tcpmux", ports[0], Ipv4Addr::LOCALHOST),
        ("echo", ports[1], Ipv4Addr::LOCALHOST),
        ("chargen", ports[2], Ipv4Addr::LOCALHOST),
        ("discard", ports[3], Ipv4Addr::LOCALHOST),
    ];
    if candidate {
        protocols.push(("xadmin", ports[4], Ipv4Addr::LOCALHOST));
    } else {
        row.notes
            .push("xadmin n/a (not a builtin of xinetd 2.3.15)".into());
    }
    if identd.is_some() {
        protocols.push(("ident", ports[5], IDENT_CLIENT));
    } else {
        row.notes
            .push("ident n/a (127.0.0.1:113 not bindable)".into());
    }
    let connected = Arc::new(Tally::default());
    let resets = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = protocols
        .iter()
        .enumerate()
        .filter_map(|(p, &(name, port, src))| {
            let (connected, resets) = (connected.clone(), resets.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    let mut rng = Rng::new(0x5eed + p as u64);
                    for _ in 0..k {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let mut s = match net::connect_from(src, port, Duration::from_secs(2)) {
                            Ok(s) => s,
                            Err(e) => {
                                connected.add(net::classify(&e));
                                continue;
                            }
                        };
                        connected.add(Outcome::Served);
                        let mut payload = rng.some_bytes(2048);
                        if name == "xadmin" && rng.below(8) == 0 {
                            // Now and then a real command, so the answers are rendered too.
                            payload = [&b"show run\n"[..], b"show avail\n", b"help\n", b"bye\n"]
                                [rng.below(4) as usize]
                                .to_vec();
                        }
                        let mut ended = None;
                        for chunk in payload.chunks(1 + rng.below(512) as usize) {
                            if let Err(e) = s.write_all(chunk) {
                                ended = Some(net::classify(&e));
                                break;
                            }
                        }
                        match (ended, rng.below(3)) {
                            (Some(_), _) => {}
                            (None, 0) => {
                                let _ = s.shutdown(std::net::Shutdown::Write);
                                ended = net::drain(
                                    &mut s,
                                    64 * 1024,
                                    Instant::now() + Duration::from_secs(2),
                                )
                                .1;
                            }
                            (None, 1) => {
                                net::reset(s);
                                continue;
                            }
                            (None, _) => {
                                ended = net::drain(
                                    &mut s,
                                    64 * 1024,
                                    Instant::now() + Duration::from_millis(200),
                                )
                                .1;
                            }
                        }
                        if ended == Some(Outcome::Refused(true)) {
                            resets.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
                .ok()
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let (c, r, e, _) = connected.get();
    row.served = c;
    row.refused = r;
    row.errors = e;
    row.notes.push(format!(
        "{k} connections each on {}; {} ended by a reset from the daemon",
        protocols.iter().map(|p| p.0).collect::<Vec<_>>().join(", "),
        resets.load(Ordering::Relaxed)
    ));
    let after = net::echo_once(Ipv4Addr::LOCALHOST, ports[1], b"after\n", TIMEOUT);
    row.notes.push(format!("echo afterwards: {after:?}"));
    let served = row.served + u64::from(after == Outcome::Served);
    finish(d, &mut row, start_exit(served));
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = identd {
        if let Ok(n) = h.join() {
            row.notes.push(format!("identd answered {n} queries"));
        }
    }
    Ok(row)
}
