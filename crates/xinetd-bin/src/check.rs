//! `xinetd -check`: parse and validate a configuration, print every diagnostic and one line
//! per accepted service, exit 0 (all declared services accepted), 1 (some dropped because of
//! errors) or 2 (unusable: unreadable file or a fatal error in `defaults`).
//!
//! Services turned off on purpose (`disable = yes`, `disabled =`, not in `enabled =`) are
//! info diagnostics and do not make the exit status 1.
//!
//! The text output is a lint's: quiet when all is well. Errors and warnings are printed,
//! `info` diagnostics only with `-v`, and a hint only the first time its text comes up (a
//! stock Debian configuration gets the same `disable = yes` hint for every file); the
//! closing summary always. `-json` keeps every diagnostic with its hint.

use std::path::Path;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;

use xinetd_conf::{Diagnostic, Environment, LoadError, LoadOptions, Loaded, Service, Severity};

/// A line on stdout; a closed pipe (`xinetd -check | head`) ends the output quietly
/// instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Runs the check and returns the process exit code (0 all accepted, 1 some dropped,
/// 2 unusable).
pub fn run(config: &Path, json: bool, verbose: bool) -> u8 {
    let env = Environment::system();
    // As the daemon (crate::session::admin): servers/services/xadmin are builtins here.
    // keep_going: a fatal error in defaults still fails the check (exit 2), but everything
    // after it is checked and reported too.
    let options = LoadOptions::new().admin_builtins(true).keep_going(true);
    match xinetd_conf::load(config, &env, &options) {
        Ok(mut loaded) => {
            let tls_dropped = check_tls(&mut loaded);
            let code = u8::from(loaded.has_dropped_errors() || tls_dropped > 0);
            if json {
                out!("{}", document(&loaded.config.services, &loaded.diagnostics));
            } else {
                print_text(&loaded, verbose, tls_dropped);
            }
            code
        }
        Err(e) => {
            if json {
                out!("{}", document(&[], e.diagnostics()));
            } else {
                print_diagnostics(e.diagnostics(), verbose);
                match &e {
                    LoadError::FatalDefaults { .. } => {
                        eprintln!(
                            "xinetd: {}: unusable: fatal error in defaults",
                            config.display()
                        );
                    }
                    _ => eprintln!("xinetd: {e}"),
                }
            }
            2
        }
    }
}

/// Errors and warnings (and `info` with `-v`), each distinct hint once.
fn print_diagnostics(diagnostics: &[Diagnostic], verbose: bool) {
    let mut hinted: HashSet<&str> = HashSet::new();
    for d in diagnostics {
        if d.severity == Severity::Info && !verbose {
            continue;
        }
        out!("{}: {}: {}", d.span, d.severity.as_str(), d.message);
        if let Some(h) = &d.hint {
            if hinted.insert(h.as_str()) {
                out!("  hint: {h}");
            }
        }
    }
}

/// Reads the TLS files of every service as the daemon would (issue 15): a file that cannot
/// be used drops its service, with an error at the attribute naming it. Returns how many.
fn check_tls(loaded: &mut Loaded) -> usize {
    let mut dropped = 0;
    let mut diagnostics = Vec::new();
    loaded
        .config
        .services
        .retain(|s| match crate::tls::load(&s.tls) {
            Ok(_) => true,
            Err(e) => {
                dropped += 1;
                diagnostics.push(Diagnostic {
                    span: e.span,
                    severity: xinetd_conf::Severity::Error,
                    message: format!("{}; service '{}' is dropped", e.message, s.id.value),
                    hint: None,
                    service: Some(s.id.value.clone()),
                    xinetd: Vec::new(),
                });
                false
            }
        });
    loaded.diagnostics.extend(diagnostics);
    dropped
}

fn print_text(loaded: &Loaded, verbose: bool, tls_dropped: usize) {
    print_diagnostics(&loaded.diagnostics, verbose);
    for s in &loaded.config.services {
        out!("{}", service_line(s));
    }
    let errors = loaded
        .dropped
        .iter()
        .filter(|d| d.reason == xinetd_conf::DropReason::Error)
        .count();
    eprintln!(
        "{} service{} accepted, {} dropped, {} disabled",
        loaded.config.services.len(),
        if loaded.config.services.len() == 1 {
            ""
        } else {
            "s"
        },
        errors + tls_dropped,
        loaded.dropped.len() - errors
    );
}

/// `id socket_type=.. protocol=.. port=.. bind=.. wait=.. type=..`
fn service_line(s: &Service) -> String {
    let types: Vec<&str> = s.types.value.iter().map(|t| t.as_str()).collect();
    format!(
        "{} socket_type={} protocol={} port={} bind={} wait={} type={}",
        s.id.value,
        s.socket_type.value.as_str(),
        s.protocol.value.name,
        s.port
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.value.to_string()),
        match (&s.socket.socket_path, &s.bind) {
            // Extension: a Unix-domain listener.
            (Some(p), _) => format!("unix:{}", p.value.text()),
            (None, Some(b)) => b.value.address.to_string(),
            (None, None) => "*".to_string(),
        },
        if s.wait.value { "yes" } else { "no" },
        if types.is_empty() {
            "-".to_string()
        } else {
            types.join(",")
        }
    )
}

/// The TLS attributes (issue 15); `null` for a service without TLS.
fn tls_json(t: &xinetd_conf::tls::TlsAttrs) -> Value {
    if !t.enabled() {
        return Value::Null;
    }
    json!({
        "cert": t.cert.as_ref().map(|v| &v.value),
        "key": t.key.as_ref().map(|v| &v.value),
        "client_ca": t.client_ca.as_ref().map(|v| &v.value),
        "client_auth": crate::tls::client_auth(t).as_str(),
        "alpn": t.alpn.as_ref().map(|v| &v.value),
        "min_version": t.min_version.as_ref().map_or("1.2", |v| v.value.as_str()),
        "handshake_timeout": t.handshake_timeout(),
    })
}

fn document(services: &[Box<Service>], diagnostics: &[Diagnostic]) -> Value {
    let services: Vec<Value> = services
        .iter()
        .map(|s| {
            let mut v = json!({
                "id": s.id.value,
                "name": s.name.value,
                "socket_type": s.socket_type.value.as_str(),
                "protocol": s.protocol.value.name,
                "port": s.port.as_ref().map(|p| p.value),
                "bind": s.bind.as_ref().map(|b| b.value.address.to_string()),
                "wait": s.wait.value,
                "type": s.types.value.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "activation": s.activation.as_ref().map(|a| a.value.as_str()),
                "log_type": s.log_type.as_ref().map(|l| xinetd_conf::print_log_type(&l.value)),
                "log_stderr": s.log_stderr.as_ref().map(|v| v.value),
                "bind_scope": s.bind.as_ref().and_then(|b| b.value.scope.clone()),
                "socket_options": socket_options(&s.socket),
                "source_prefix": s.source_prefix.as_ref().map(|p| json!({"v4": p.value.v4, "v6": p.value.v6})),
                "tls": tls_json(&s.tls),
                "sandbox": s.sandbox.entries().into_iter().map(|(k, v)| (k.to_owned(), Value::from(v))).collect::<serde_json::Map<_, _>>(),
            });
            if let Value::Object(m) = &mut v {
                m.extend(proxy_json(&s.proxy));
            }
            v
        })
        .collect();
    let diagnostics: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            json!({
                "file": &*d.span.file,
                "line": d.span.line,
                "column": d.span.column,
                "severity": d.severity.as_str(),
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    json!({ "services": services, "diagnostics": diagnostics })
}

/// The listening-socket options (extensions); absent ones are `null`, so a consumer sees
/// every name this version knows.
fn socket_options(o: &xinetd_conf::SocketOptions) -> Value {
    json!({
        "backlog": o.backlog.as_ref().map(|v| v.value),
        "keepalive": o.keepalive.as_ref().map(|k| json!({
            "idle": k.value.idle,
            "interval": k.value.interval,
            "count": k.value.count,
        })),
        "reuseport": o.reuseport.as_ref().map(|v| v.value),
        "freebind": o.freebind.as_ref().map(|v| v.value),
        "defer_accept": o.defer_accept.as_ref().map(|v| v.value),
        "mark": o.mark.as_ref().map(|v| v.value),
        "receive_buffer": o.receive_buffer.as_ref().map(|v| v.value),
        "send_buffer": o.send_buffer.as_ref().map(|v| v.value),
        "socket_path": o.socket_path.as_ref().map(|v| v.value.text()),
        "socket_mode": o.socket_mode.as_ref().map(|v| format!("{:04o}", v.value)),
        "socket_owner": o.socket_owner.as_ref().map(|v| v.value.id),
        "socket_group": o.socket_group.as_ref().map(|v| v.value.id),
        "only_uid": o.only_uid.as_ref().map(|v| v.value.iter().map(|n| n.id).collect::<Vec<_>>()),
        "only_gid": o.only_gid.as_ref().map(|v| v.value.iter().map(|n| n.id).collect::<Vec<_>>()),
    })
}

/// The load-balancer attributes (issue 13) as keys of a service, `null` when not set
/// (`proxy_timeout` shows the value in force).
fn proxy_json(p: &xinetd_conf::proxy::ProxyAttrs) -> Vec<(String, Value)> {
    let pp = p
        .proxy_protocol
        .as_ref()
        .map(|v| json!({ "versions": v.value.versions.as_str(), "direct": v.value.direct }));
    let from = p.proxy_from.as_ref().map(|l| {
        l.value
            .iter()
            .map(|e| e.text.clone())
            .collect::<Vec<String>>()
    });
    let env = p
        .connection_env
        .as_ref()
        .map(|s| s.value.iter().map(|e| e.as_str()).collect::<Vec<_>>());
    vec![
        ("proxy_protocol".into(), json!(pp)),
        ("proxy_from".into(), json!(from)),
        ("proxy_timeout".into(), json!(p.timeout_secs())),
        (
            "redirect_proxy".into(),
            json!(p.redirect_proxy.as_ref().map(|v| v.value.as_str())),
        ),
        ("connection_env".into(), json!(env.unwrap_or_default())),
    ]
}
