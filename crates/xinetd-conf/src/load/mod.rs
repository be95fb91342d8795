//! Loading: documents → attribute values → defaults merging → validation, following
//! xinetd's parse.c / parsers.c / confparse.c rules (F-032..F-073) and reporting everything
//! in one pass.
//!
//! One [`Loader`] walks the documents; its work is split by responsibility:
//! [`include`] follows `include`/`includedir`, [`entry`] turns entries and their attribute
//! lines into [`Draft`]s, [`attribute`] and [`address`] type the values (operators
//! included), [`fill`] merges the defaults at the end of the parse, [`validate`] runs the
//! post-parse checks, and [`draft`] holds the draft and its conversion into the model.

use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{diag, errno_text, Diagnostic, Severity, Sink, XinetdLevel};
use crate::env::{Environment, LoadOptions};
use crate::model::*;
use crate::syntax::{self};

mod address;
mod attribute;
pub(crate) mod draft;
mod entry;
mod fill;
mod include;
mod proxy;
mod sockopts;
mod tls;
mod validate;

use draft::into_defaults;
pub(crate) use draft::{into_service, Draft, Origin};
pub use validate::builtin_for;
pub(crate) use validate::Claim;

/// The result of a successful load: the configuration, everything that was said about it,
/// and the services that did not make it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Loaded {
    /// Accepted services and merged defaults.
    pub config: Config,
    /// All diagnostics, in the order xinetd would log them.
    pub diagnostics: Vec<Diagnostic>,
    /// Declared services that were dropped, with the reason.
    pub dropped: Vec<DroppedService>,
}

impl Loaded {
    /// `true` when some declared service was dropped because of an error (disabled ones do
    /// not count).
    pub fn has_dropped_errors(&self) -> bool {
        self.dropped.iter().any(|d| d.reason == DropReason::Error)
    }
}

/// Why a configuration could not be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The main file cannot be read.
    #[error("{path}: cannot read configuration: {}", errno_text(source))]
    Unreadable {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
        /// xinetd's wording for the daemon log.
        diagnostics: Vec<Diagnostic>,
    },
    /// A bad value in `defaults` (fatal unless `-d`, F-037).
    #[error("fatal error in the defaults section")]
    FatalDefaults {
        /// Everything reported up to and including the fatal error.
        diagnostics: Vec<Diagnostic>,
    },
}

impl LoadError {
    /// The diagnostics that explain the failure.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Unreadable { diagnostics, .. }
            | LoadError::FatalDefaults { diagnostics } => diagnostics,
        }
    }
}

/// Loads `path` (and its includes), looking names up in `env`.
pub fn load(path: &Path, env: &Environment, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let shown = path.to_string_lossy().into_owned();
    let bytes = std::fs::read(path).map_err(|source| {
        let span = Span {
            file: Arc::from(shown.as_str()),
            line: 0,
            column: 0,
        };
        let d = diag(
            &span,
            Severity::Error,
            format!("cannot read configuration: {}", errno_text(&source)),
        )
        .xplain(
            XinetdLevel::Critical,
            "cnf_init",
            format!("open( {shown} ) failed: {}", errno_text(&source)),
        );
        LoadError::Unreadable {
            path: shown.clone(),
            source,
            diagnostics: vec![d],
        }
    })?;
    load_bytes(&bytes, &shown, env, options)
}

/// Loads configuration text held in memory; `file` names it in spans. Includes are
/// resolved against the file system as `env` allows.
pub fn load_bytes(
    bytes: &[u8],
    file: &str,
    env: &Environment,
    options: &LoadOptions,
) -> Result<Loaded, LoadError> {
    let mut l = Loader {
        env,
        options,
        sink: Sink::default(),
        defaults: Draft::new("(null)".into(), Span::synthetic(), true),
        drafts: Vec::new(),
        dropped: Vec::new(),
        depth: 0,
        fatal_defaults: false,
    };
    let doc = syntax::parse_document(bytes, file);
    if l.document(&doc).is_err() {
        return Err(LoadError::FatalDefaults {
            diagnostics: l.sink.items,
        });
    }
    if l.fatal_defaults {
        // LoadOptions::keep_going: the whole configuration was read and checked; it is
        // still unusable.
        return Err(LoadError::FatalDefaults {
            diagnostics: l.finish().diagnostics,
        });
    }
    Ok(l.finish())
}

/// Fatal defaults error marker.
pub(crate) struct Fatal;

pub(crate) struct Loader<'e> {
    env: &'e Environment,
    options: &'e LoadOptions,
    sink: Sink,
    defaults: Draft,
    /// Boxed: a draft is about 2 KB, and the entries move through three lists in `finish`;
    /// boxes keep those moves to a pointer and the lists from holding spare capacity of
    /// whole drafts (the daemon's resident memory is set by this peak).
    #[allow(clippy::vec_box)]
    drafts: Vec<Box<Draft>>,
    dropped: Vec<DroppedService>,
    depth: usize,
    /// A fatal `defaults` error was reported under [`LoadOptions::keep_going`].
    fatal_defaults: bool,
}

/// The post-parse passes' context (remove_disabled_services, service_fill, check_entry,
/// cnf_get): the world to look names up in and where their diagnostics go. The loader and
/// the inetd.conf merger (`-inetd_compat`) run the same passes through it.
pub(crate) struct Checks<'a> {
    pub(crate) env: &'a Environment,
    /// [`LoadOptions::admin_builtins`].
    pub(crate) admin_builtins: bool,
    pub(crate) diagnostics: &'a mut Vec<Diagnostic>,
}

impl Loader<'_> {
    /// remove_disabled_services, service_fill, check_entry (cnf_get).
    fn finish(mut self) -> Loaded {
        let defaults = into_defaults(self.defaults.clone());
        let drafts = std::mem::take(&mut self.drafts);
        let mut checks = Checks {
            env: self.env,
            admin_builtins: self.options.admin_builtins_enabled(),
            diagnostics: &mut self.sink.items,
        };
        // xinetd removes the disabled services first, then fills and checks the others.
        let mut survivors = Vec::new();
        for mut d in drafts {
            match checks.remove_disabled(&mut d, &defaults) {
                Some(reason) => self.dropped.push(DroppedService {
                    name: d.name.clone(),
                    id: d.id().to_string(),
                    span: d.header.clone(),
                    reason,
                }),
                None => survivors.push(d),
            }
        }
        let mut accepted: Vec<Box<Draft>> = Vec::new();
        for mut d in survivors {
            let mut ok = checks.service_fill(&mut d, &defaults)
                && checks.check_entry(&mut d, accepted.iter().filter_map(|t| Claim::of_draft(t)))
                && checks.check_socket_options(&d)
                && checks.check_proxy(&mut d)
                && checks.check_tls(&d);
            if ok {
                if let Some(at) = &d.error {
                    // xinetd 2.3.15.3 would run this half-configured service: `disable = no`
                    // or `enabled` cleared the disable its parse error set (docs/compat.md).
                    checks.diagnostics.push(
                        diag(&d.header, Severity::Error, format!("service '{}' stays disabled because of the error at line {}", d.id(), at.line))
                            .hint("xinetd 2.3.15.3 would start it without the bad attribute, because `disable = no` or `enabled` re-enabled it; xinetd-rs follows the documented rule that a bad value disables the service")
                            .service(Some(d.id())),
                    );
                    ok = false;
                }
            }
            if ok {
                checks.clear_identity_userid(&mut d);
                accepted.push(d);
            } else {
                self.dropped.push(DroppedService {
                    name: d.name.clone(),
                    id: d.id().to_string(),
                    span: d.header.clone(),
                    reason: DropReason::Error,
                });
            }
        }
        // Each draft is freed as its service is made, so the allocator can reuse it.
        let services = accepted
            .into_iter()
            .map(|d| Box::new(into_service(*d)))
            .collect();
        Loaded {
            config: Config { defaults, services },
            diagnostics: self.sink.items,
            dropped: self.dropped,
        }
    }
}
