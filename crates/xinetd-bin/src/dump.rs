//! xinetd's dumps, line for line in xinetd 2.3.15.3's words and order: the configuration
//! blocks (`Service defaults`, `Service configuration: NAME`, F-851) that `-d` prints at
//! start-up (F-852), and the SIGUSR1 state dump around them (F-850).
//!
//! Checked against the real xinetd's dump of the same configuration (docs/compat.md lists
//! the lines that differ because the daemon works differently, e.g. the descriptor numbers).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use xinetd_acl::Resolver as _;
use xinetd_conf as conf;

use crate::service::Service;

/// What the blocks need besides the service: the `defaults` entry (xinetd prints some lines
/// only when the service set them itself, not when it inherited them) and the environment
/// servers start from.
pub struct Context<'a> {
    /// The merged `defaults` entry of the running configuration.
    pub defaults: &'a conf::Defaults,
    /// The daemon's start-up environment (`Environment strings:`).
    pub startup_env: &'a xinetd_spawn::Environment,
}

/// One service in the state dump.
pub struct ServiceEntry<'a> {
    /// The service.
    pub svc: &'a Service,
    /// `Active`, `Suspended` (a `wait = yes` server runs) or `Disabled`.
    pub state: &'static str,
    /// Running servers and held inline connections.
    pub running: u32,
    /// Requests waiting for another fork attempt.
    pub retries: usize,
    /// The listening descriptor, -1 without one.
    pub fd: i32,
}

/// One running server in the state dump's server table.
pub struct ServerEntry<'a> {
    /// The service that started it.
    pub svc: &'a Service,
    /// Its pid (-1 in the retry table: the fork failed, as xinetd records it).
    pub pid: i32,
    /// When it started (the epoch for a request still waiting for a fork).
    pub started: SystemTime,
    /// Failed forks so far (retry table).
    pub fork_failures: u32,
    /// The descriptor the daemon keeps for the connection: the service socket for
    /// `wait = yes`, -1 once a `wait = no` connection was handed over (xinetd closes it).
    pub descriptor: i32,
    /// The client, when known.
    pub peer: Option<SocketAddr>,
}

/// The totals at the end of the state dump.
pub struct Totals<'a> {
    /// Services with a polled socket.
    pub active: usize,
    /// Services with a socket.
    pub available: usize,
    /// Running external servers.
    pub running: usize,
    /// `-limit`.
    pub process_limit: u32,
    /// The configuration file.
    pub config_file: &'a std::path::Path,
    /// Descriptors held by connections served inside the daemon, and the most they may hold
    /// (issue 17; not in xinetd's dump, which has no such budget).
    pub descriptors: (usize, usize),
}

/// `-d`: the defaults block, then every service's block, each followed by a blank line.
pub fn config_dump<'a>(cx: &Context<'_>, services: impl Iterator<Item = &'a Service>) -> String {
    let mut out = String::new();
    out.push_str("Service defaults\n");
    defaults_block(&mut out, cx, 1);
    out.push('\n');
    for svc in services {
        let _ = writeln!(out, "Service configuration: {}", svc.name);
        service_block(&mut out, cx, svc, 1);
        out.push('\n');
    }
    out
}

/// The SIGUSR1 state dump (F-850).
pub fn state_dump(
    cx: &Context<'_>,
    services: &[ServiceEntry<'_>],
    servers: &[ServerEntry<'_>],
    retries: &[ServerEntry<'_>],
    totals: &Totals<'_>,
    socket_fds: &[i32],
) -> String {
    let now = SystemTime::now();
    let mut o = String::new();
    let _ = writeln!(o, "INTERNAL STATE DUMP: {}", crate::cli::VERSION);
    let _ = writeln!(o, "Current time: {}\n", ctime(now));
    o.push_str("Services + defaults:\nService defaults\n");
    defaults_block(&mut o, cx, 1);
    for e in services {
        let _ = writeln!(o, "Service = {}", e.svc.name);
        let _ = writeln!(o, "\tState = {}", e.state);
        let _ = writeln!(o, "\tService configuration: {}", e.svc.name);
        service_block(&mut o, cx, e.svc, 2);
        // xinetd prints the counters of active services only.
        if e.state == "Active" {
            let _ = writeln!(o, "\trunning servers = {}", e.running);
            let _ = writeln!(o, "\tretry servers = {}\n\tattempts = 0", e.retries);
            let _ = writeln!(o, "\tservice fd = {}", e.fd);
        }
        o.push('\n');
    }
    o.push_str("Server table dump:\n");
    for s in servers {
        server_entry(&mut o, s);
    }
    o.push_str("\nRetry table dump:\n");
    for s in retries {
        server_entry(&mut o, s);
    }
    o.push('\n');
    let open = open_descriptors();
    let _ = write!(o, "Socket mask:");
    for fd in socket_fds {
        let _ = write!(o, " {fd}");
    }
    let _ = writeln!(o, "\npfds_last = {}", socket_fds.len());
    let _ = write!(o, "Open descriptors (not in socket mask):");
    for fd in open.iter().filter(|fd| !socket_fds.contains(fd)) {
        let _ = write!(o, " {fd}");
    }
    o.push_str("\n\n");
    let max = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(0);
    let _ = writeln!(o, "active_services = {}", totals.active);
    let _ = writeln!(o, "available_services = {}", totals.available);
    let _ = writeln!(
        o,
        "descriptors_free = {}",
        max.saturating_sub(open.len() as u64)
    );
    let _ = writeln!(o, "running_servers = {}", totals.running);
    o.push_str("Logging service = enabled\n\n");
    let _ = writeln!(o, "max_descriptors = {max}");
    let _ = writeln!(o, "held_descriptors = {}", totals.descriptors.0);
    let _ = writeln!(o, "descriptor_budget = {}", totals.descriptors.1);
    let _ = writeln!(o, "process_limit = {}", totals.process_limit);
    let _ = writeln!(o, "config_file = {}\n", totals.config_file.display());
    o.push_str("END OF DUMP\n\n");
    o
}

/// One entry of the server or retry table (xinetd's `server_dump`).
fn server_entry(o: &mut String, s: &ServerEntry<'_>) {
    let _ = writeln!(o, "{} server", s.svc.id);
    let _ = writeln!(o, "pid = {}", s.pid);
    let _ = writeln!(o, "start_time = {}", ctime(s.started));
    o.push_str("Connection info:\n");
    let _ = writeln!(o, "\tservice = {}", s.svc.id);
    let _ = writeln!(o, "\tdescriptor = {}", s.descriptor);
    // xinetd's connection flags: 1 = the peer address is known, 2 = an accepted
    // (new) descriptor.
    let flags = u8::from(s.peer.is_some()) | if s.svc.wait { 0 } else { 2 };
    let _ = writeln!(o, "\tflags = {flags}");
    match s.peer {
        Some(p) => {
            let _ = writeln!(o, "\tremote_address = {},{}", p.ip(), p.port());
        }
        None => o.push_str("\tremote_address = <no address>,0\n"),
    }
    let userid = s
        .svc
        .rt
        .conf
        .log_on_success
        .value
        .contains(&conf::SuccessFlag::Userid);
    let yes = if userid { "YES" } else { "NO" };
    // xinetd's `server_dump`: fork_failures only when there were some.
    if s.fork_failures > 0 {
        let _ = writeln!(o, "fork_failures = {}", s.fork_failures);
    }
    let _ = writeln!(o, "log_remote_user = {yes}");
    let _ = writeln!(o, "writes_to_log = {yes}\n");
}

/// The `Service defaults` lines (only those set in `defaults`).
fn defaults_block(o: &mut String, cx: &Context<'_>, tabs: usize) {
    let d = cx.defaults;
    let t = "\t".repeat(tabs);
    if let Some(i) = &d.instances {
        let _ = writeln!(o, "{t}Instances = {}", limit_text(&i.value));
    }
    if let Some(g) = &d.groups {
        let _ = writeln!(o, "{t}Groups = {}", yes_no(g.value));
    }
    if let Some(u) = &d.umask {
        let _ = writeln!(o, "{t}umask = {:o}", u.value);
    }
    if let Some(c) = &d.cps {
        let _ = writeln!(
            o,
            "{t}CPS = max conn:{} wait:{}",
            c.value.rate, c.value.wait_secs
        );
    }
    if let Some(p) = &d.per_source {
        let _ = writeln!(o, "{t}PER_SOURCE = {}", per_source(&p.value));
    }
    bind_line(o, &t, d.bind.as_ref().map(|b| b.value.address));
    access_lines(o, &t, &d.only_from, &d.no_access);
    log_lines(
        o,
        &t,
        d.log_type.as_ref().map(|l| &l.value),
        d.log_on_success.as_ref().map(|s| &s.value),
        d.log_on_failure.as_ref().map(|f| &f.value),
    );
    if let Some(p) = &d.passenv {
        let _ = writeln!(o, "{t}Passenv = {}", p.value.join(" "));
        env_strings(o, &t, cx.startup_env, Some(&p.value), &[]);
    }
}

/// The `Service configuration` lines of one service (F-851).
fn service_block(o: &mut String, cx: &Context<'_>, svc: &Service, tabs: usize) {
    let c = &svc.rt.conf;
    let d = cx.defaults;
    let t = "\t".repeat(tabs);
    let join = |v: Vec<&str>| v.join(" ");
    // A value the service set itself, not one it inherited from defaults or the built-in
    // default (xinetd-conf gives those the span of the `service` line): xinetd prints
    // Instances, CPS and Passenv only then.
    let own = |span: &conf::Span, inherited: Option<&conf::Span>| {
        span.file.as_ref() != "<built-in>" && *span != c.name.span && Some(span) != inherited
    };
    let _ = writeln!(o, "{t}id = {}", svc.id);
    let mut flags: Vec<&str> = c.flags.value.iter().map(|f| f.as_str()).collect();
    let family = match c.family {
        conf::AddressFamily::Ipv4 => "IPv4",
        conf::AddressFamily::Ipv6 => "IPv6",
    };
    if !flags.contains(&family) {
        flags.push(family);
    }
    let _ = writeln!(o, "{t}flags = {}", join(flags));
    let types: Vec<&str> = c.types.value.iter().map(|t| t.as_str()).collect();
    if !types.is_empty() {
        let _ = writeln!(o, "{t}type = {}", join(types));
    }
    let _ = writeln!(o, "{t}socket_type = {}", c.socket_type.value.as_str());
    let _ = writeln!(
        o,
        "{t}Protocol (name,number) = ({},{})",
        c.protocol.value.name, c.protocol.value.number
    );
    let _ = writeln!(o, "{t}port = {}", svc.listen.port);
    if own(&c.instances.span, d.instances.as_ref().map(|i| &i.span)) {
        let _ = writeln!(o, "{t}Instances = {}", limit_text(&c.instances.value));
    }
    let _ = writeln!(o, "{t}wait = {}", yes_no(svc.wait));
    if let Some(u) = &c.user {
        let _ = writeln!(o, "{t}user = {}", u.value.uid);
    }
    if let Some(g) = &c.group {
        let _ = writeln!(o, "{t}group = {}", g.value.gid);
    }
    let _ = writeln!(o, "{t}Groups = {}", yes_no(c.groups.value));
    if let Some(u) = &c.umask {
        let _ = writeln!(o, "{t}umask = {:o}", u.value);
    }
    if let Some(n) = &c.nice {
        let _ = writeln!(o, "{t}Nice = {}", n.value);
    }
    if own(&c.cps.span, d.cps.as_ref().map(|c| &c.span)) {
        let _ = writeln!(
            o,
            "{t}CPS = max conn:{} wait:{}",
            c.cps.value.rate, c.cps.value.wait_secs
        );
    }
    let _ = writeln!(o, "{t}PER_SOURCE = {}", per_source(&c.per_source.value));
    bind_line(o, &t, c.bind.as_ref().map(|b| b.value.address));
    if let Some(spec) = &svc.rt.spawn {
        let _ = writeln!(o, "{t}Server = {}", spec.program().display());
        let argv: Vec<String> = spec
            .argv()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let _ = writeln!(o, "{t}Server argv = {}", argv.join(" "));
    }
    if let Some(r) = &c.redirect {
        let _ = writeln!(
            o,
            "{t}Redirect = {}:{}",
            host_name(r.value.address),
            r.value.port
        );
    }
    if let Some(times) = &c.access_times {
        let times: Vec<String> = times
            .value
            .iter()
            .map(|i| {
                format!(
                    "{:02}:{:02}-{:02}:{:02}",
                    i.start_minute / 60,
                    i.start_minute % 60,
                    i.end_minute / 60,
                    i.end_minute % 60
                )
            })
            .collect();
        let _ = writeln!(o, "{t}Access times = {}", times.join(" "));
    }
    match svc.rt.access.only_from() {
        Some(l) => {
            let _ = writeln!(o, "{t}Only from: {}", l.xinetd_dump());
        }
        None => {
            let _ = writeln!(o, "{t}Only from: All sites");
        }
    }
    match svc.rt.access.no_access() {
        Some(l) => {
            let _ = writeln!(o, "{t}No access: {}", l.xinetd_dump());
        }
        None => {
            let _ = writeln!(o, "{t}No access: No blocked sites");
        }
    }
    if c.has_flag(conf::ServiceFlag::Sensor) {
        if let conf::DenyTime::Minutes(m) = c.deny_time.value {
            let _ = writeln!(o, "{t}Deny Time: {m}");
        }
    }
    log_lines(
        o,
        &t,
        c.log_type.as_ref().map(|l| &l.value),
        Some(&c.log_on_success.value),
        Some(&c.log_on_failure.value),
    );
    if let Some(p) = &c.passenv {
        let _ = writeln!(o, "{t}Passenv = {}", p.value.join(" "));
    }
    let env = crate::adapt::env_words(c);
    if !env.is_empty() {
        let _ = writeln!(o, "{t}Environment additions:");
        for e in &env {
            let _ = writeln!(o, "{t}\t{e}");
        }
    }
    // xinetd builds (and prints) a server environment of its own when the service itself
    // sets `env` or `passenv`; an inherited passenv uses the defaults' environment.
    let own_passenv = c
        .passenv
        .as_ref()
        .filter(|p| own(&p.span, d.passenv.as_ref().map(|p| &p.span)));
    if own_passenv.is_some() || !env.is_empty() {
        let pass = c.passenv.as_ref().map(|p| p.value.as_slice());
        env_strings(o, &t, cx.startup_env, pass, &env);
    }
}

/// `Environment strings:` and the variables a server gets.
fn env_strings(
    o: &mut String,
    t: &str,
    startup: &xinetd_spawn::Environment,
    passenv: Option<&[String]>,
    env: &[String],
) {
    let Ok(e) = xinetd_spawn::Environment::for_service(startup, passenv, env) else {
        return;
    };
    let _ = writeln!(o, "{t}Environment strings:");
    for (k, v) in e.environment.iter() {
        let _ = writeln!(o, "{t}\t{}={}", k.to_string_lossy(), v.to_string_lossy());
    }
}

fn bind_line(o: &mut String, t: &str, bind: Option<IpAddr>) {
    match bind {
        Some(ip) => {
            let _ = writeln!(o, "{t}Bind = {}", host_name(ip));
        }
        None => {
            let _ = writeln!(o, "{t}Bind = All addresses.");
        }
    }
}

fn access_lines(
    o: &mut String,
    t: &str,
    only_from: &Option<conf::Spanned<conf::AddressList>>,
    no_access: &Option<conf::Spanned<conf::AddressList>>,
) {
    // The defaults' lists as xinetd-acl prints them.
    let resolver = xinetd_acl::SystemResolver::new(Duration::from_secs(2));
    let list = |l: &conf::Spanned<conf::AddressList>| {
        let words = l
            .value
            .iter()
            .filter(|e| e.form != conf::AddressForm::Unparsed)
            .map(|e| e.text.as_str());
        xinetd_acl::AccessList::from_values(words, &resolver)
            .ok()
            .map(|(l, _)| l.xinetd_dump())
    };
    match only_from.as_ref().and_then(list) {
        Some(s) => {
            let _ = writeln!(o, "{t}Only from: {s}");
        }
        None => {
            let _ = writeln!(o, "{t}Only from: All sites");
        }
    }
    match no_access.as_ref().and_then(list) {
        Some(s) => {
            let _ = writeln!(o, "{t}No access: {s}");
        }
        None => {
            let _ = writeln!(o, "{t}No access: No blocked sites");
        }
    }
}

fn log_lines(
    o: &mut String,
    t: &str,
    log_type: Option<&conf::LogType>,
    success: Option<&std::collections::BTreeSet<conf::SuccessFlag>>,
    failure: Option<&std::collections::BTreeSet<conf::FailureFlag>>,
) {
    match log_type {
        None => {
            let _ = writeln!(o, "{t}No logging");
            return;
        }
        Some(conf::LogType::File { shared: true, .. }) => {
            let _ = writeln!(o, "{t}Logging to common log file");
        }
        Some(conf::LogType::File {
            path,
            soft_limit,
            hard_limit,
            format,
            ..
        }) => {
            // Extension: JSON lines say so after xinetd's text.
            let json = if *format == conf::LogFormat::Json {
                ", JSON"
            } else {
                ""
            };
            match (soft_limit, hard_limit) {
                (Some(s), Some(h)) => {
                    let _ = writeln!(o, "{t}Logging to file: {path} (soft={s} hard={h}{json})");
                }
                _ => {
                    let _ = writeln!(o, "{t}Logging to file: {path} (no limits{json})");
                }
            }
        }
        Some(conf::LogType::Journal { facility, level }) => {
            let _ = writeln!(
                o,
                "{t}Logging to the journal. Facility = {}, level = {}",
                facility.as_str(),
                level.as_str()
            );
        }
        Some(conf::LogType::Syslog { facility, level }) => {
            let _ = writeln!(
                o,
                "{t}Logging to syslog. Facility = {}, level = {}",
                facility.as_str(),
                level.as_str()
            );
        }
    }
    // xinetd writes `flags =` and then ` NAME` per flag (nothing for an empty set).
    let _ = write!(o, "{t}Log_on_success flags =");
    for f in success.into_iter().flatten() {
        let _ = write!(o, " {}", f.as_str());
    }
    let _ = write!(o, "\n{t}Log_on_failure flags =");
    for f in failure.into_iter().flatten() {
        let _ = write!(o, " {}", f.as_str());
    }
    o.push('\n');
}

/// The name xinetd prints for a `bind` or `redirect` address: the host name the address
/// maps back to, or `unknown` (it asks the resolver, as xinetd does, with a short limit).
fn host_name(ip: IpAddr) -> String {
    let r = xinetd_acl::SystemResolver::new(Duration::from_secs(2));
    match r.reverse_lookup(ip) {
        Ok(Some(name)) => name,
        _ => "unknown".to_string(),
    }
}

fn limit_text(l: &conf::Limit) -> String {
    match l {
        conf::Limit::Max(n) => n.to_string(),
        conf::Limit::Unlimited => "UNLIMITED".to_string(),
    }
}

fn per_source(l: &conf::Limit) -> i64 {
    match l {
        conf::Limit::Max(n) => i64::from(*n),
        conf::Limit::Unlimited => -1,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `ctime()` without the newline.
fn ctime(t: SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.to_zoned(xinetd_log::system_time_zone())
        .strftime("%a %b %e %H:%M:%S %Y")
        .to_string()
}

/// The daemon's open descriptors (from /proc/self/fd).
fn open_descriptors() -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // The directory handle used for the listing is not one of ours.
    fds.sort_unstable();
    fds.retain(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok());
    fds
}
