//! `xinetd -check`: parse and validate a configuration, print every diagnostic and one line
//! per accepted service, exit 0 (all declared services accepted), 1 (some dropped because of
//! errors) or 2 (unusable: unreadable file or a fatal error in `defaults`).
//!
//! Services turned off on purpose (`disable = yes`, `disabled =`, not in `enabled =`) are
//! listed as info diagnostics and do not make the exit status 1.

use std::path::Path;

use serde_json::{json, Value};
use xinetd_conf::{Diagnostic, Environment, LoadError, LoadOptions, Loaded, Service};

/// Runs the check and returns the process exit code (0 all accepted, 1 some dropped,
/// 2 unusable).
pub fn run(config: &Path, json: bool) -> u8 {
    let env = Environment::system();
    // As the daemon (crate::session::admin): servers/services/xadmin are builtins here.
    let options = LoadOptions::new().admin_builtins(true);
    match xinetd_conf::load(config, &env, &options) {
        Ok(mut loaded) => {
            let tls_dropped = check_tls(&mut loaded);
            let code = u8::from(loaded.has_dropped_errors() || tls_dropped > 0);
            if json {
                println!("{}", document(&loaded.config.services, &loaded.diagnostics));
            } else {
                print_text(&loaded, tls_dropped);
            }
            code
        }
        Err(e) => {
            if json {
                println!("{}", document(&[], e.diagnostics()));
            } else {
                for d in e.diagnostics() {
                    println!("{}", d.render());
                }
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

fn print_text(loaded: &Loaded, tls_dropped: usize) {
    for d in &loaded.diagnostics {
        println!("{}", d.render());
    }
    for s in &loaded.config.services {
        println!("{}", service_line(s));
    }
    let errors = loaded
        .dropped
        .iter()
        .filter(|d| d.reason == xinetd_conf::DropReason::Error)
        .count();
    let disabled = loaded.dropped.len() - errors;
    eprintln!(
        "{} service{} accepted, {} dropped, {} disabled",
        loaded.config.services.len(),
        if loaded.config.services.len() == 1 {
            ""
        } else {
            "s"
        },
        errors + tls_dropped,
        disabled
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
        s.bind
            .as_ref()
            .map_or_else(|| "*".to_string(), |b| b.value.address.to_string()),
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
            json!({
                "id": s.id.value,
                "name": s.name.value,
                "socket_type": s.socket_type.value.as_str(),
                "protocol": s.protocol.value.name,
                "port": s.port.as_ref().map(|p| p.value),
                "bind": s.bind.as_ref().map(|b| b.value.address.to_string()),
                "wait": s.wait.value,
                "type": s.types.value.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "tls": tls_json(&s.tls),
            })
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
