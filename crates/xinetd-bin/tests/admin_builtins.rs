//! The `servers`, `services` and `xadmin` builtins (issue 8; seed article 4.3, F-530): what
//! each reports, that they answer only the addresses of their `only_from`, that they exist
//! only when configured, and that an xadmin session ends when a reload removes it.

mod util;

use std::net::Ipv4Addr;

use nix::sys::signal::Signal;
use util::*;

const SRC2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SRC3: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn admin_service(name: &str, id: &str, port: u16, only_from: &str) -> String {
    internal(name, id, "stream", port, "")
        .replace("\tcps = 0 0\n", &format!("\tcps = 0 0\n{only_from}"))
}

#[test]
fn servers_services_and_xadmin_report_and_answer_only_their_only_from() {
    use std::io::{Read, Write};
    let (xadmin, servers, services, open, echo) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let conf = admin_service("xadmin", "xadmin", xadmin, "\tonly_from = 127.0.0.1\n")
        + &admin_service("servers", "servers", servers, "\tonly_from = 127.0.0.1\n")
        + &admin_service(
            "services",
            "services",
            services,
            "\tonly_from = 127.0.0.1\n",
        )
        + &admin_service("services", "open-services", open, "")
        + &internal("echo", "echo", "stream", echo, "");
    let d = Daemon::start(&conf);
    // services: `name protocol port` per service, in configuration order.
    let text = String::from_utf8(read_all(&mut connect(services))).expect("text");
    assert_eq!(
        text,
        format!(
            "xadmin tcp {xadmin}\nservers tcp {servers}\nservices tcp {services}\n\
             services tcp {open}\necho tcp {echo}\n"
        )
    );
    // Refused from an address its only_from does not list, and without only_from at all.
    assert_eq!(read_all(&mut connect_from(SRC2, services)), b"");
    d.wait_file(5, "svc.log", "FAIL: services address from=127.0.0.2");
    assert_eq!(read_all(&mut connect(open)), b"");
    d.wait_file(5, "svc.log", "FAIL: open-services address from=127.0.0.1");
    d.wait_log(
        5,
        "service open-services: services answers only the addresses of its only_from",
    );

    // servers: one block per running server (the echo connection held open).
    let mut held = connect_from(SRC3, echo);
    held.write_all(b"x").expect("write");
    let mut b = [0u8; 1];
    held.read_exact(&mut b).expect("echo");
    let text = String::from_utf8(read_all(&mut connect(servers))).expect("text");
    assert!(
        text.starts_with("echo server\npid = 0\nstart_time = "),
        "{text}"
    );
    assert!(
        text.contains("Connection info:\n\tservice = echo\n\tremote_address = 127.0.0.3,"),
        "{text}"
    );
    assert!(
        text.ends_with("log_remote_user = NO\nwrites_to_log = NO\n\n"),
        "{text}"
    );
    assert!(!text.contains("servers server"), "{text}");

    // xadmin: prompt, commands, bye.
    let mut s = connect(xadmin);
    let expect = |s: &mut std::net::TcpStream, send: &str, until: &str| -> String {
        if !send.is_empty() {
            s.write_all(send.as_bytes()).expect("write");
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).ends_with(until) {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "EOF after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).expect("text")
    };
    assert_eq!(expect(&mut s, "", "> "), "> ");
    let help = expect(&mut s, "help\n", "> ");
    assert_eq!(
        help,
        "xinetd admin help:\nshow run  :   shows information about running services\n\
         show avail:   shows what services are currently available\n\
         bye, exit :   exits the admin shell\n> "
    );
    let avail = expect(&mut s, "show avail\n", "> ");
    assert!(
        avail.starts_with(
            "Available services:\nservice    port   bound address    uid redir addr redir port\n"
        ),
        "{avail}"
    );
    let uid = nix::unistd::getuid().as_raw();
    let echo_line = format!(
        "{:<10} {:<6} {:<16} {:<6}\n",
        "echo", echo, "127.0.0.1", uid
    );
    assert!(avail.contains(&echo_line), "{avail}");
    let run = expect(&mut s, "show run\n", "> ");
    assert!(
        run.starts_with("Running services:\nservice  run retry attempts descriptor\n"),
        "{run}"
    );
    assert!(
        run.contains("echo server\n") && run.contains("xadmin server\n"),
        "{run}"
    );
    let other = expect(&mut s, "show me\n", "> ");
    assert!(other.starts_with("Relevant commands:\n"), "{other}");
    assert_eq!(expect(&mut s, "bye\n", "bye bye\n"), "bye bye\n");
    assert_eq!(read_all(&mut s), b"");
    d.wait_file(5, "svc.log", "EXIT: xadmin status=0 pid=0");
}

#[test]
fn admin_builtins_exist_only_when_configured() {
    // Without a service block nothing listens; with one, the daemon starts it (2.3.15.3 says
    // `No such internal service` instead, F-530).
    let port = free_port();
    let d = Daemon::start(&admin_service(
        "xadmin",
        "xadmin",
        port,
        "\tonly_from = 127.0.0.1\n",
    ));
    assert!(!d.prog_log().contains("No such internal service"));
    assert!(d
        .prog_log()
        .contains("Started working: 1 available service"));
    // -check agrees with the daemon.
    let out = std::process::Command::new(XINETD)
        .args(["-check", "-f"])
        .arg(&d.conf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 service accepted"),
        "{out:?}"
    );
}

#[test]
fn an_xadmin_session_ends_when_a_reload_removes_the_service() {
    use std::io::Read;
    let (xadmin, echo) = (free_port(), free_port());
    let keep = internal("echo", "echo", "stream", echo, "");
    let d = Daemon::start(
        &(admin_service("xadmin", "xadmin", xadmin, "\tonly_from = 127.0.0.1\n") + &keep),
    );
    let mut s = connect(xadmin);
    let mut prompt = [0u8; 2];
    s.read_exact(&mut prompt).expect("prompt");
    assert_eq!(&prompt, b"> ");
    d.rewrite(&keep);
    d.signal(Signal::SIGHUP);
    d.wait_log(5, "Reconfigured");
    assert_eq!(read_all(&mut s), b"");
    d.wait_file(5, "svc.log", "EXIT: xadmin status=0 pid=0");
}

#[test]
fn servers_lists_external_servers_with_their_client() {
    use std::io::Read;
    if !is_root() {
        eprintln!("skipped: the external server runs as user = root; needs root");
        return;
    }
    let (servers, sleeper) = (free_port(), free_port());
    let conf = admin_service("servers", "servers", servers, "\tonly_from = 127.0.0.1\n")
        + &external("sleeper", sleeper, "/bin/cat", "", "");
    let d = Daemon::start(&conf);
    let mut held = connect_from(SRC2, sleeper);
    d.wait_file(5, "svc.log", "START: sleeper pid=");
    let text = String::from_utf8(read_all(&mut connect(servers))).expect("text");
    let pid_line = d
        .read("svc.log")
        .lines()
        .find_map(|l| l.split("START: sleeper pid=").nth(1).map(str::to_string))
        .and_then(|r| r.split_whitespace().next().map(str::to_string))
        .expect("pid");
    assert!(
        text.starts_with(&format!("sleeper server\npid = {pid_line}\nstart_time = ")),
        "{text}"
    );
    assert!(
        text.contains("\tservice = sleeper\n\tremote_address = 127.0.0.2,"),
        "{text}"
    );
    held.set_read_timeout(Some(std::time::Duration::from_millis(10)))
        .expect("timeout");
    let _ = held.read(&mut [0u8; 1]);
}
