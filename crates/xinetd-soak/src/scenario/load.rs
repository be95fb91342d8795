//! Load: a connection flood, slow clients held open, a UDP flood, connections in a row.

use super::*;

pub(super) fn flood(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let d = ctx.start(
        &conf::internal("echo", "echo", "stream", port, SVC_LOG, &[]),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(100_000, 1_000);
    let tally = Arc::new(Tally::default());
    let t0 = Instant::now();
    let (done, capped) = run_clients(16, n, ctx.cap(300, 30), &tally, move |_| {
        net::echo_once(Ipv4Addr::LOCALHOST, port, b"flood\n", TIMEOUT)
    });
    let mut row = Row::default();
    tally_into(&mut row, &tally);
    capped_note(&mut row, done, n, capped);
    row.notes.push(format!(
        "{n} connections from 16 threads, {:.0}/s",
        done as f64 / t0.elapsed().as_secs_f64()
    ));
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    Ok(row)
}

pub(super) fn slow(ctx: &Ctx<'_>) -> Result<Row, String> {
    let target = net::EchoTarget::start().map_err(|e| format!("echo target: {e}"))?;
    let (pe, pc, pr, pt) = (free_port(), free_port(), free_port(), free_port());
    let conf = [
        conf::internal("echo", "echo", "stream", pe, SVC_LOG, &[]),
        conf::external("cat", pc, "/bin/cat", "", SVC_LOG),
        conf::redirect("relay", pr, target.port(), SVC_LOG),
        conf::internal("tcpmux", "tcpmux", "stream", pt, SVC_LOG, &[]),
    ]
    .concat();
    let d = ctx.start(&conf, &[], &Launch::default())?;
    let n = ctx.count(3_000, 50);
    let deadline = Instant::now() + ctx.cap(600, 120);
    let mut row = Row::default();
    let tally = Tally::default();
    let mut held: Vec<TcpStream> = Vec::new();
    let mut per_kind = Vec::new();
    for (kind, port) in [("echo", pe), ("cat", pc), ("redirect", pr), ("tcpmux", pt)] {
        let mut ok = 0;
        for _ in 0..n {
            if Instant::now() >= deadline {
                break;
            }
            let mut s = match net::connect_from(Ipv4Addr::LOCALHOST, port, TIMEOUT) {
                Ok(s) => s,
                Err(e) => {
                    tally.add(net::classify(&e));
                    continue;
                }
            };
            if kind == "tcpmux" {
                // A tcpmux client that never sends its request: checked below.
                held.push(s);
                continue;
            }
            let exchange = s.write_all(b"slow\n").map_err(|e| net::classify(&e));
            match exchange.and_then(|()| net::read_exact(&mut s, 5)) {
                Ok(b) if b == b"slow\n" => {
                    ok += 1;
                    tally.add(Outcome::Served);
                    held.push(s);
                }
                Ok(_) => tally.add(Outcome::Error),
                Err(o) => tally.add(o),
            }
        }
        per_kind.push((kind, ok));
    }
    // The silent tcpmux clients are served while their connection stays open.
    let mut mux_ok = 0;
    for s in held
        .iter_mut()
        .rev()
        .take_while(|s| s.peer_addr().ok().map(|a| a.port()) == Some(pt))
    {
        let _ = s.set_nonblocking(true);
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                mux_ok += 1;
                tally.add(Outcome::Served);
            }
            Ok(_) => tally.add(Outcome::Refused(false)),
            Err(e) => tally.add(net::classify(&e)),
        }
    }
    if let Some(k) = per_kind.iter_mut().find(|k| k.0 == "tcpmux") {
        k.1 = mux_ok;
    }
    row.notes.push(format!(
        "{n} per kind held: {}",
        per_kind
            .iter()
            .map(|(k, ok)| format!("{k} {ok}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    row.idle_cpu_pct = idle_cpu(d.pid(), 5);
    drop(held);
    tally_into(&mut row, &tally);
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    drop(target);
    Ok(row)
}

pub(super) fn udp_flood(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let d = ctx.start(
        &conf::internal("echo", "echo-dgram", "dgram", port, SVC_LOG, &[]),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(200_000, 2_000);
    let threads = 4;
    let deadline = Instant::now() + ctx.cap(300, 30);
    let replies = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let send_errors = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .filter_map(|t| {
            let (replies, sent, send_errors) = (replies.clone(), sent.clone(), send_errors.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    let Ok(u) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
                        return;
                    };
                    if u.connect(("127.0.0.1", port)).is_err()
                        || u.set_read_timeout(Some(Duration::from_millis(20))).is_err()
                    {
                        return;
                    }
                    let mut rng = Rng::new(t + 1);
                    let mut buf = [0u8; 2048];
                    let mut mine = 0;
                    while mine < n / threads && Instant::now() < deadline {
                        // A window of 16 datagrams: a flood, but one whose replies we can
                        // still count.
                        let burst = 16.min(n / threads - mine);
                        for _ in 0..burst {
                            let len = 1 + rng.below(512) as usize;
                            if u.send(&rng.bytes(len)).is_err() {
                                send_errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        mine += burst;
                        sent.fetch_add(burst, Ordering::Relaxed);
                        let mut got = 0;
                        while got < burst {
                            match u.recv(&mut buf) {
                                Ok(_) => got += 1,
                                Err(_) => break,
                            }
                        }
                        replies.fetch_add(got, Ordering::Relaxed);
                    }
                })
                .ok()
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut row = Row::default();
    let (sent, replies) = (
        sent.load(Ordering::Relaxed),
        replies.load(Ordering::Relaxed),
    );
    row.served = replies;
    row.errors = send_errors.load(Ordering::Relaxed);
    capped_note(&mut row, sent, n, sent < n);
    row.notes.push(format!(
        "{sent} datagrams sent, {} unanswered",
        sent - replies.min(sent)
    ));
    let probe = net::echo_udp(port);
    row.notes.push(format!(
        "echo after the flood: {}",
        if probe { "answered" } else { "NO ANSWER" }
    ));
    let expected = Some(LogCount {
        written: 0,
        expected: replies,
        at_least: true,
    });
    // Datagram services log START only: what counts is that every answered datagram has its
    // line, which [`settle`] waits for via the lower bound.
    finish(d, &mut row, expected);
    Ok(row)
}

/// The fake identd's answers for the garbage scenario, by variant.
pub(super) fn connections(ctx: &Ctx<'_>) -> Result<Row, String> {
    let port = free_port();
    let d = ctx.start(
        &conf::internal("echo", "echo", "stream", port, SVC_LOG, &[]),
        &[],
        &Launch::default(),
    )?;
    let n = ctx.count(1_000_000, 10_000);
    let deadline = Instant::now() + ctx.cap(600, 60);
    let tally = Tally::default();
    let pid = d.pid();
    let mut marks = Vec::new();
    let t0 = Instant::now();
    let mut done = 0;
    for i in 0..n {
        if Instant::now() >= deadline {
            break;
        }
        tally.add(net::echo_once(Ipv4Addr::LOCALHOST, port, b"row\n", TIMEOUT));
        done = i + 1;
        if done == n / 10 || done == n / 2 {
            marks.push(procfs::rss_kib(pid).unwrap_or(0));
        }
    }
    let mut row = Row::default();
    tally_into(&mut row, &tally);
    capped_note(&mut row, done, n, done < n);
    marks.push(procfs::rss_kib(pid).unwrap_or(0));
    row.notes.push(format!(
        "one client, one connection at a time, {:.0}/s; RSS KiB at 10 %, 50 %, end: {}",
        done as f64 / t0.elapsed().as_secs_f64(),
        marks
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let served = row.served;
    finish(d, &mut row, start_exit(served));
    Ok(row)
}
