//! The configurations the scenarios give both daemons: xinetd.conf syntax that Debian's
//! xinetd 2.3.15.3 reads the same way as the candidate.

/// Attributes every service gets: loopback only, no rate or instance limit (xinetd's
/// default `cps = 50 10` would pause a flooded service and measure the limiter instead of
/// the daemon), records in the FILE log `log`.
fn common(log: &str) -> Vec<(&'static str, String)> {
    vec![
        ("bind", "127.0.0.1".into()),
        ("cps", "0 0".into()),
        ("instances", "UNLIMITED".into()),
        ("per_source", "UNLIMITED".into()),
        ("log_type", format!("FILE {log}")),
        ("log_on_success", "PID HOST EXIT DURATION".into()),
        ("log_on_failure", "HOST".into()),
    ]
}

/// A service block.
pub fn entry(name: &str, attrs: &[(&str, String)]) -> String {
    let mut s = format!("service {name}\n{{\n");
    for (k, v) in attrs {
        s.push_str(&format!("\t{k} = {v}\n"));
    }
    s.push_str("}\n");
    s
}

/// Replaces or adds attributes.
fn with(
    mut base: Vec<(&'static str, String)>,
    over: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    for (k, v) in over {
        match base.iter_mut().find(|(kk, _)| kk == k) {
            Some(slot) => slot.1 = (*v).to_string(),
            None => base.push((k, (*v).to_string())),
        }
    }
    base
}

/// An internal service `name` (id `id`) on `port`, logging to `log`.
pub fn internal(
    name: &str,
    id: &str,
    sock: &str,
    port: u16,
    log: &str,
    over: &[(&'static str, &str)],
) -> String {
    let wait = if sock == "dgram" { "yes" } else { "no" };
    let mut attrs = vec![
        ("id", id.to_string()),
        ("type", "INTERNAL UNLISTED".into()),
        ("socket_type", sock.into()),
        (
            "protocol",
            if sock == "dgram" { "udp" } else { "tcp" }.into(),
        ),
        ("port", port.to_string()),
        ("wait", wait.into()),
        ("user", "root".into()),
    ];
    attrs.extend(common(log));
    entry(name, &with(attrs, over))
}

/// An external stream service running `server` with `args` as root.
pub fn external(id: &str, port: u16, server: &str, args: &str, log: &str) -> String {
    let mut attrs = vec![
        ("type", "UNLISTED".into()),
        ("socket_type", "stream".into()),
        ("protocol", "tcp".into()),
        ("port", port.to_string()),
        ("wait", "no".into()),
        ("user", "root".into()),
        ("server", server.into()),
    ];
    if !args.is_empty() {
        attrs.push(("server_args", args.into()));
    }
    attrs.extend(common(log));
    entry(id, &attrs)
}

/// A stream service relaying to 127.0.0.1:`target`.
pub fn redirect(id: &str, port: u16, target: u16, log: &str) -> String {
    let mut attrs = vec![
        ("type", "UNLISTED".into()),
        ("socket_type", "stream".into()),
        ("protocol", "tcp".into()),
        ("port", port.to_string()),
        ("wait", "no".into()),
        ("user", "root".into()),
        ("redirect", format!("127.0.0.1 {target}")),
    ];
    attrs.extend(common(log));
    entry(id, &attrs)
}

/// The service log of the measured services.
pub const SVC_LOG: &str = "@DIR@/svc.log";
/// The log of helper services, kept apart so [`SVC_LOG`] counts only what is measured.
pub const AUX_LOG: &str = "@DIR@/aux.log";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_block() {
        let s = internal(
            "echo",
            "echo",
            "stream",
            7007,
            SVC_LOG,
            &[("log_on_success", "PID")],
        );
        assert!(s.starts_with("service echo\n{\n\tid = echo\n\ttype = INTERNAL UNLISTED\n"));
        assert!(s.contains("\tport = 7007\n\twait = no\n"));
        assert!(s.contains("\tcps = 0 0\n"));
        assert!(s.contains("\tlog_type = FILE @DIR@/svc.log\n"));
        assert!(s.contains("\tlog_on_success = PID\n"));
        assert!(!s.contains("EXIT DURATION"));
        assert!(s.ends_with("}\n"));
        let d = internal("echo", "echo-udp", "dgram", 7, AUX_LOG, &[]);
        assert!(d.contains("\tprotocol = udp\n\tport = 7\n\twait = yes\n"));
    }

    #[test]
    fn every_block_the_scenarios_write_loads_without_a_dropped_service() {
        use xinetd_conf::{load_bytes, parse_passwd, Environment, LoadOptions};
        let text = [
            internal("echo", "echo", "stream", 7001, SVC_LOG, &[]),
            internal("echo", "echo-dgram", "dgram", 7001, SVC_LOG, &[]),
            internal("chargen", "chargen", "stream", 7002, SVC_LOG, &[]),
            internal("discard", "discard", "stream", 7003, SVC_LOG, &[]),
            internal("daytime", "daytime", "stream", 7004, AUX_LOG, &[]),
            internal("tcpmux", "tcpmux", "stream", 7005, SVC_LOG, &[]),
            internal(
                "xadmin",
                "xadmin",
                "stream",
                7006,
                SVC_LOG,
                &[("only_from", "127.0.0.1")],
            ),
            internal(
                "echo",
                "echo-ident",
                "stream",
                7007,
                SVC_LOG,
                &[("log_on_success", "PID HOST EXIT DURATION USERID")],
            ),
            external("cat", 7008, "/bin/cat", "", SVC_LOG),
            external("sleep", 7009, "/bin/sleep", "60", SVC_LOG),
            redirect("relay", 7010, 7011, SVC_LOG),
        ]
        .concat()
        .replace("@DIR@", "/tmp/soak");
        let env = Environment::isolated().passwd(parse_passwd("root:x:0:0::/root:/bin/sh\n"));
        // As the daemon loads it: with the servers/services/xadmin builtins of issue 8.
        let options = LoadOptions::new().admin_builtins(true);
        let loaded = load_bytes(text.as_bytes(), "soak.conf", &env, &options).expect("loads");
        assert!(loaded.dropped.is_empty(), "{:?}", loaded.dropped);
        assert_eq!(loaded.config.services.len(), 11);
    }

    #[test]
    fn external_and_redirect_blocks() {
        let e = external("sleep", 9, "/bin/sleep", "60", SVC_LOG);
        assert!(e.contains("\tserver = /bin/sleep\n\tserver_args = 60\n"));
        let r = redirect("relay", 10, 11, SVC_LOG);
        assert!(r.contains("\tredirect = 127.0.0.1 11\n"));
    }
}
