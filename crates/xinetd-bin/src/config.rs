//! Loading the configuration through xinetd-conf and logging its diagnostics in xinetd's
//! words (with ` [file=F] [line=N]` for parse-time messages, F-704).

use std::time::Duration;

use xinetd_conf::{Diagnostic, LoadError, XinetdLevel};

use crate::cli::Options;
use crate::dlog::{Level, Messages};
use crate::service::{Built, Service};

/// The inetd.conf read with `-inetd_compat` (F-809).
const INETD_CONF: &str = "/etc/inetd.conf";

/// Reads `opts.config` (and its includes) and builds the runtime services. `Err` when the
/// file cannot be used at all (unreadable, fatal `defaults` error); the messages are logged
/// to `log`: the program log at start-up, a recording on a reload's worker thread (issue
/// 16). Everything here may block (files, host names in only_from/no_access, TLS files),
/// and nothing here touches the event loop's state, so a reload runs it off the loop.
pub fn load(
    opts: &Options,
    log: &mut dyn Messages,
    startup_env: &xinetd_spawn::Environment,
) -> Result<Loaded<Built>, Failure> {
    let env = xinetd_conf::Environment::system();
    // Issue 8: the servers/services/xadmin builtins (crate::session::admin).
    let options = xinetd_conf::LoadOptions::new()
        .debug(opts.debug)
        .admin_builtins(true);
    let mut loaded = match xinetd_conf::load(&opts.config, &env, &options) {
        Ok(l) => l,
        Err(e) => {
            let diags = match &e {
                LoadError::Unreadable { diagnostics, .. } => diagnostics.as_slice(),
                LoadError::FatalDefaults { diagnostics } => diagnostics.as_slice(),
                _ => &[],
            };
            // For a fatal `defaults` error the diagnostics already carry xinetd's ERROR `A
            // fatal error was encountered while parsing the default section. xinetd will
            // exit.`: logged once, at xinetd's level.
            log_diagnostics(log, diags);
            return Err(match e {
                LoadError::FatalDefaults { .. } => Failure::FatalDefaults,
                _ => Failure::Unusable,
            });
        }
    };
    if opts.inetd_compat {
        // F-809, F-830: after every xinetd file, /etc/inetd.conf (its messages carry
        // `[file=/etc/inetd.conf]`); a missing file adds nothing.
        let path = opts
            .inetd_conf
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(INETD_CONF));
        xinetd_conf::load_inetd_compat(&mut loaded, &path, &env);
    }
    log_diagnostics(log, &loaded.diagnostics);
    // Host names in only_from/no_access are resolved now, as xinetd does at parse time.
    let resolver = xinetd_acl::SystemResolver::new(Duration::from_secs(5));
    let mut out = Loaded {
        defaults: loaded.config.defaults.clone(),
        services: Vec::new(),
        tcpmux_clients: Vec::new(),
        tls_failed: Vec::new(),
    };
    let mut cache = crate::adapt::LoadCache::default();
    for c in std::mem::take(&mut loaded.config.services) {
        let tcpmux_client = c.is_tcpmux_client();
        let service = crate::adapt::service(c, startup_env, &resolver, &mut cache);
        if let Ok(s) = &service {
            crate::sandbox::log_notes(log, s);
        }
        match service {
            Ok(s) if tcpmux_client => out.tcpmux_clients.push(s),
            Ok(s) => out.services.push(s),
            Err(msg) => log.msg(Level::Err, &format!("{msg} - DISABLING")),
        }
    }
    if !cache.journal_absent.is_empty() {
        let path = xinetd_log::journal_socket_path();
        log.msg(
            Level::Warning,
            &format!(
                "journal socket {} is absent: {} log{} to syslog instead",
                path.display(),
                cache.journal_absent.join(", "),
                if cache.journal_absent.len() == 1 {
                    "s"
                } else {
                    ""
                }
            ),
        );
    }
    out.tls_failed = cache.tls_failed;
    Ok(out)
}

/// Why a configuration could not be used (its messages are already logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A bad value in `defaults` (F-037): xinetd says so at ERROR and then `Exiting...`.
    FatalDefaults,
    /// The file cannot be read (xinetd: CRITICAL `couldn't get configuration. Exiting...`).
    Unusable,
}

/// A loaded configuration: as the loader builds it (`Loaded<Built>`, `Send`), then ready for
/// the event loop (`Loaded<Service>`, after [`Loaded::share`]).
pub struct Loaded<S = Service> {
    /// Services with a socket.
    pub services: Vec<S>,
    /// TCPMUX/TCPMUXPLUS clients, reachable through the `tcpmux` builtin only (F-540).
    pub tcpmux_clients: Vec<S>,
    /// The merged `defaults` entry (for the dumps, F-850..F-852).
    pub defaults: xinetd_conf::Defaults,
    /// Services skipped because a TLS file could not be used: a reload keeps the running
    /// service with the certificate it has (issue 15).
    pub tls_failed: Vec<String>,
}

impl Loaded<Built> {
    /// The services ready for the loop (their runtimes shared).
    pub fn share(self) -> Loaded {
        Loaded {
            services: self.services.into_iter().map(Built::share).collect(),
            tcpmux_clients: self.tcpmux_clients.into_iter().map(Built::share).collect(),
            defaults: self.defaults,
            tls_failed: self.tls_failed,
        }
    }
}

/// Writes xinetd's lines for every diagnostic.
fn log_diagnostics(log: &mut dyn Messages, diags: &[Diagnostic]) {
    for d in diags {
        for m in &d.xinetd {
            let text = m.render();
            match m.level {
                XinetdLevel::Critical => log.critical(m.function, &text),
                XinetdLevel::Error => log.msg(Level::Err, &text),
                XinetdLevel::Warning => log.msg(Level::Warning, &text),
                XinetdLevel::Notice => log.msg(Level::Notice, &text),
                XinetdLevel::Info => log.msg(Level::Info, &text),
                XinetdLevel::Debug => log.msg(Level::Debug, &text),
            }
        }
    }
}
