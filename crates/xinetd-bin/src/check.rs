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
        Ok(loaded) => {
            let code = u8::from(loaded.has_dropped_errors());
            if json {
                println!("{}", document(&loaded.config.services, &loaded.diagnostics));
            } else {
                print_text(&loaded);
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

fn print_text(loaded: &Loaded) {
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
    eprintln!(
        "{} service{} accepted, {} dropped, {} disabled",
        loaded.config.services.len(),
        if loaded.config.services.len() == 1 {
            ""
        } else {
            "s"
        },
        errors,
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
