//! The printer: writes a [`Config`] back as a canonical xinetd.conf.
//!
//! Every service is written with all of its attributes explicit, so reading the output back
//! gives the same model (`load(print(m)) == m`). The `defaults` block comes last: the values
//! xinetd copies from defaults when a service entry starts (F-046) are already explicit in
//! each service, and the values it fills in at the end (F-047) still apply.

use std::fmt::Write;

use crate::model::*;

fn join<T: Copy>(items: impl IntoIterator<Item = T>, f: fn(T) -> &'static str) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join(" ")
}

fn limit(l: Limit) -> String {
    match l {
        Limit::Unlimited => "UNLIMITED".into(),
        Limit::Max(n) => n.to_string(),
    }
}

fn rlimit(r: Rlimit) -> String {
    match r {
        Rlimit::Unlimited => "UNLIMITED".into(),
        Rlimit::Value(v) => v.to_string(),
    }
}

/// `log_type`'s value as the printer writes it (also `-check -json`'s `log_type`).
pub fn log_type(l: &LogType) -> String {
    match l {
        LogType::Syslog { facility, level } => {
            format!("SYSLOG {} {}", facility.as_str(), level.as_str())
        }
        LogType::File {
            path,
            soft_limit,
            hard_limit,
            format,
            ..
        } => {
            let mut s = format!("FILE {path}");
            if let Some(v) = soft_limit {
                let _ = write!(s, " {v}");
            }
            if let Some(v) = hard_limit {
                let _ = write!(s, " {v}");
            }
            if *format == LogFormat::Json {
                s.push_str(" JSON");
            }
            s
        }
        LogType::Journal { facility, level } => {
            format!("JOURNAL {} {}", facility.as_str(), level.as_str())
        }
    }
}

fn addresses(list: &AddressList) -> String {
    list.iter()
        .map(|e| e.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

struct Block(String);

impl Block {
    fn attr(&mut self, name: &str, value: impl AsRef<str>) {
        let mut v = value.as_ref();
        // A value read across lines (xinetd's name overrun, see `syntax::name_overrun`) may
        // hold a line break, which would end this line and start another: its words are
        // written on this line instead, as the parser would split them.
        let words;
        if v.contains('\n') {
            words = v
                .split(['\n', ' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            v = &words;
        }
        if v.is_empty() {
            let _ = writeln!(self.0, "\t{name} =");
        } else {
            let _ = writeln!(self.0, "\t{name} = {v}");
        }
    }
}

/// Writes the configuration as canonical xinetd.conf text.
pub fn print(config: &Config) -> String {
    let mut out = String::from("# Written by xinetd-conf.\n");
    for s in &config.services {
        out.push('\n');
        out.push_str(&print_service(s));
    }
    let d = &config.defaults;
    let mut b = Block(String::new());
    if let Some(v) = &d.log_type {
        b.attr("log_type", log_type(v));
    }
    if let Some(v) = &d.log_on_success {
        b.attr(
            "log_on_success",
            join(v.value.iter().copied(), SuccessFlag::as_str),
        );
    }
    if let Some(v) = &d.log_on_failure {
        b.attr(
            "log_on_failure",
            join(v.value.iter().copied(), FailureFlag::as_str),
        );
    }
    if let Some(v) = &d.only_from {
        b.attr("only_from", addresses(v));
    }
    if let Some(v) = &d.no_access {
        b.attr("no_access", addresses(v));
    }
    if let Some(v) = &d.passenv {
        b.attr("passenv", v.value.join(" "));
    }
    if let Some(v) = &d.instances {
        b.attr("instances", limit(v.value));
    }
    if let Some(v) = &d.per_source {
        b.attr("per_source", limit(v.value));
    }
    if let Some(v) = &d.cps {
        b.attr("cps", format!("{} {}", v.value.rate, v.value.wait_secs));
    }
    if let Some(v) = &d.max_load {
        b.attr("max_load", v.value.to_string());
    }
    if let Some(v) = &d.groups {
        b.attr("groups", yes_no(v.value));
    }
    if let Some(v) = &d.umask {
        b.attr("umask", format!("{:03o}", v.value));
    }
    if let Some(v) = &d.bind {
        b.attr("bind", &v.value.text);
    }
    if let Some(v) = &d.v6only {
        b.attr("v6only", yes_no(v.value));
    }
    if let Some(v) = &d.banner {
        b.attr("banner", &v.value);
    }
    if let Some(v) = &d.banner_success {
        b.attr("banner_success", &v.value);
    }
    if let Some(v) = &d.banner_fail {
        b.attr("banner_fail", &v.value);
    }
    if let Some(v) = &d.enabled {
        b.attr("enabled", v.value.join(" "));
    }
    if let Some(v) = &d.disabled {
        b.attr("disabled", v.value.join(" "));
    }
    if let Some(v) = &d.source_prefix {
        b.attr("source_prefix", format!("{} {}", v.value.v4, v.value.v6));
    }
    for (name, value) in d.proxy.printed() {
        b.attr(name, value);
    }
    if !b.0.is_empty() {
        let _ = write!(out, "\ndefaults\n{{\n{}}}\n", b.0);
    }
    out
}

/// Writes one service entry.
pub fn print_service(s: &Service) -> String {
    let mut b = Block(String::new());
    b.attr("id", &s.id.value);
    if !s.types.value.is_empty() {
        b.attr(
            "type",
            join(s.types.value.iter().copied(), ServiceType::as_str),
        );
    }
    if !s.flags.value.is_empty() {
        b.attr(
            "flags",
            join(s.flags.value.iter().copied(), ServiceFlag::as_str),
        );
    }
    b.attr("socket_type", s.socket_type.value.as_str());
    b.attr("protocol", &s.protocol.value.name);
    if let Some(p) = &s.port {
        b.attr("port", p.value.to_string());
    }
    b.attr("wait", yes_no(s.wait.value));
    if let Some(v) = &s.bind {
        b.attr("bind", &v.value.text);
    }
    if let Some(v) = &s.user {
        b.attr("user", &v.value.text);
    }
    if let Some(v) = &s.group {
        b.attr("group", &v.value.text);
    }
    b.attr("groups", yes_no(s.groups.value));
    if let Some(v) = &s.server {
        b.attr("server", &v.value);
    }
    if let Some(v) = &s.server_args {
        b.attr("server_args", v.value.join(" "));
    }
    if let Some(v) = &s.env {
        let words: Vec<String> = v
            .value
            .iter()
            .map(|e| format!("{}={}", e.name, e.value))
            .collect();
        b.attr("env", words.join(" "));
    }
    if let Some(v) = &s.passenv {
        b.attr("passenv", v.value.join(" "));
    }
    if let Some(v) = &s.only_from {
        b.attr("only_from", addresses(v));
    }
    if let Some(v) = &s.no_access {
        b.attr("no_access", addresses(v));
    }
    if let Some(v) = &s.access_times {
        let words: Vec<String> = v
            .value
            .iter()
            .map(|t| {
                format!(
                    "{}:{:02}-{}:{:02}",
                    t.start_minute / 60,
                    t.start_minute % 60,
                    t.end_minute / 60,
                    t.end_minute % 60
                )
            })
            .collect();
        b.attr("access_times", words.join(" "));
    }
    if let Some(v) = &s.log_type {
        // A FILE inherited from defaults is the shared file: it comes back from defaults.
        if !matches!(v.value, LogType::File { shared: true, .. }) {
            b.attr("log_type", log_type(&v.value));
        }
    }
    b.attr(
        "log_on_success",
        join(s.log_on_success.value.iter().copied(), SuccessFlag::as_str),
    );
    b.attr(
        "log_on_failure",
        join(s.log_on_failure.value.iter().copied(), FailureFlag::as_str),
    );
    b.attr("instances", limit(s.instances.value));
    b.attr("per_source", limit(s.per_source.value));
    b.attr(
        "cps",
        format!("{} {}", s.cps.value.rate, s.cps.value.wait_secs),
    );
    if let Some(v) = &s.max_load {
        b.attr("max_load", v.value.to_string());
    }
    let r = &s.rlimits;
    for (name, v) in [
        ("rlimit_as", &r.address_space),
        ("rlimit_cpu", &r.cpu),
        ("rlimit_data", &r.data),
        ("rlimit_files", &r.files),
        ("rlimit_rss", &r.rss),
        ("rlimit_stack", &r.stack),
    ] {
        if let Some(v) = v {
            b.attr(name, rlimit(v.value));
        }
    }
    if let Some(v) = &s.umask {
        b.attr("umask", format!("{:03o}", v.value));
    }
    if let Some(v) = &s.nice {
        b.attr("nice", v.value.to_string());
    }
    if let Some(v) = &s.banner {
        b.attr("banner", &v.value);
    }
    if let Some(v) = &s.banner_success {
        b.attr("banner_success", &v.value);
    }
    if let Some(v) = &s.banner_fail {
        b.attr("banner_fail", &v.value);
    }
    if let Some(v) = &s.redirect {
        b.attr("redirect", format!("{} {}", v.value.host, v.value.port));
    }
    if let Some(v) = &s.rpc_version {
        if v.value.min == v.value.max {
            b.attr("rpc_version", v.value.min.to_string());
        } else {
            b.attr("rpc_version", format!("{}-{}", v.value.min, v.value.max));
        }
    }
    if let Some(v) = &s.rpc_number {
        b.attr("rpc_number", v.value.to_string());
    }
    b.attr(
        "deny_time",
        match s.deny_time.value {
            DenyTime::Never => "NEVER".to_string(),
            DenyTime::Forever => "FOREVER".to_string(),
            DenyTime::Minutes(m) => m.to_string(),
        },
    );
    if let Some(v) = &s.v6only {
        b.attr("v6only", yes_no(v.value));
    }
    if let Some(v) = &s.libwrap {
        b.attr("libwrap", &v.value);
    }
    if let Some(v) = &s.chroot {
        b.attr("chroot", &v.value);
    }
    if let Some(v) = &s.timeout {
        b.attr("timeout", v.value.to_string());
    }
    if let Some(v) = &s.bind_device {
        b.attr("bind_device", &v.value);
    }
    if let Some(v) = &s.activation {
        b.attr("activation", v.value.as_str());
    }
    if let Some(v) = &s.log_stderr {
        b.attr("log_stderr", if v.value { "yes" } else { "no" });
    }
    socket_options(&mut b, &s.socket);
    if let Some(v) = &s.source_prefix {
        b.attr("source_prefix", format!("{} {}", v.value.v4, v.value.v6));
    }
    for (name, value) in s.sandbox.entries() {
        b.attr(name, value);
    }
    for (name, value) in s.proxy.printed() {
        b.attr(name, value);
    }
    for (name, value) in s.tls.lines() {
        b.attr(name, value);
    }
    format!("service {}\n{{\n{}}}\n", s.name.value, b.0)
}

/// The listening-socket options (extensions), in the words the loader reads.
fn socket_options(b: &mut Block, o: &crate::sockopts::SocketOptions) {
    if let Some(v) = &o.backlog {
        b.attr("backlog", v.value.to_string());
    }
    if let Some(v) = &o.keepalive {
        let k = v.value;
        let mut text = k.idle.to_string();
        for n in [k.interval, k.count].into_iter().map_while(|n| n) {
            let _ = write!(text, " {n}");
        }
        b.attr("keepalive", text);
    }
    if let Some(v) = &o.reuseport {
        b.attr("reuseport", yes_no(v.value));
    }
    if let Some(v) = &o.freebind {
        b.attr("freebind", yes_no(v.value));
    }
    if let Some(v) = &o.defer_accept {
        b.attr("defer_accept", v.value.to_string());
    }
    if let Some(v) = &o.mark {
        b.attr("mark", format!("{:#x}", v.value));
    }
    if let Some(v) = &o.receive_buffer {
        b.attr("receive_buffer", v.value.to_string());
    }
    if let Some(v) = &o.send_buffer {
        b.attr("send_buffer", v.value.to_string());
    }
    if let Some(v) = &o.socket_path {
        b.attr("socket_path", v.value.text());
    }
    if let Some(v) = &o.socket_mode {
        b.attr("socket_mode", format!("{:04o}", v.value));
    }
    if let Some(v) = &o.socket_owner {
        b.attr("socket_owner", &v.value.text);
    }
    if let Some(v) = &o.socket_group {
        b.attr("socket_group", &v.value.text);
    }
    for (name, list) in [("only_uid", &o.only_uid), ("only_gid", &o.only_gid)] {
        if let Some(v) = list {
            let words: Vec<&str> = v.value.iter().map(|n| n.text.as_str()).collect();
            b.attr(name, words.join(" "));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{load_bytes, print, Environment, LoadOptions};

    /// The `parse_config` fuzz target's minimised input (docs/reliability.md): `only_from`
    /// ends its line, so the value is read from the next one across the line break and holds
    /// a `\n`; printed as it was, the `\n` made a line of its own and the printed text no
    /// longer printed the same once loaded again.
    #[test]
    fn values_read_across_lines_print_on_one_line() {
        let env = Environment::isolated();
        let options = LoadOptions::new();
        for input in [
            &b"defaults\n{\nonly_from\n =\n"[..],
            b"defaults\n{\nonly_from\n = 127.0.0.0/x ::1\n\tinstances = 50\n}\n",
        ] {
            let loaded = load_bytes(input, "fuzz.conf", &env, &options).expect("loads");
            let text = print(&loaded.config);
            assert!(!text.contains("\n\n}"), "{text:?}");
            let again = load_bytes(text.as_bytes(), "printed.conf", &env, &options)
                .expect("printed configuration loads");
            assert_eq!(print(&again.config), text);
        }
    }
}
