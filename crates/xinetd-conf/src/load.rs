//! Loading: documents → attribute values → defaults merging → validation, following
//! xinetd's parse.c / parsers.c / confparse.c rules (F-032..F-073) and reporting everything
//! in one pass.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use crate::attrs::{self, Attr, Count};
use crate::diagnostic::{diag, Diagnostic, Severity, Sink, XinetdLevel};
use crate::env::Environment;
use crate::model::*;
use crate::syntax::{self, AttrLine, Document, Entry, EntryEnd, EntryKind, Item, Op, Skip};
use crate::values::{self, AddressOutcome, IntervalError};

/// Maximum include nesting; xinetd has no loop protection and recurses until it crashes.
const MAX_INCLUDE_DEPTH: usize = 32;

/// The result of a successful load: the configuration, everything that was said about it,
/// and the services that did not make it.
#[derive(Debug, Clone)]
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
    #[error("{path}: cannot read configuration: {source}")]
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

/// Loads `path` (and its includes) against `env`.
pub fn load(path: &Path, env: &Environment) -> Result<Loaded, LoadError> {
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
            format!("cannot read configuration: {source}"),
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
    load_bytes(&bytes, &shown, env)
}

/// Loads configuration text held in memory; `file` names it in spans. Includes are
/// resolved against the file system as `env` allows.
pub fn load_bytes(bytes: &[u8], file: &str, env: &Environment) -> Result<Loaded, LoadError> {
    let mut l = Loader {
        env,
        sink: Sink::default(),
        defaults: Draft::new("(null)".into(), Span::synthetic(), true),
        drafts: Vec::new(),
        dropped: Vec::new(),
        depth: 0,
    };
    let doc = syntax::parse_document(bytes, file);
    if l.document(&doc).is_err() {
        return Err(LoadError::FatalDefaults {
            diagnostics: l.sink.items,
        });
    }
    Ok(l.finish())
}

fn errno_text(e: &std::io::Error) -> String {
    format!("{} (errno = {})", e, e.raw_os_error().unwrap_or(0))
}

/// Fatal defaults error marker.
struct Fatal;

/// A service (or the defaults) while its entry is read: xinetd's struct service_config.
#[derive(Debug, Clone)]
struct Draft {
    name: String,
    header: Span,
    is_defaults: bool,
    specified: HashSet<Attr>,
    disabled: bool,
    disabled_by_entry: bool,
    /// A value failed to parse (xinetd's SC_DISABLE from identify_attribute); unlike
    /// `disabled`, `disable = no` and `enabled` do not clear it (docs/compat.md).
    error: Option<Span>,
    id: Option<Spanned<String>>,
    socket_type: Option<Spanned<SocketType>>,
    protocol: Option<Spanned<Protocol>>,
    wait: Option<Spanned<bool>>,
    user: Option<Spanned<User>>,
    group: Option<Spanned<Group>>,
    server: Option<Spanned<String>>,
    server_args: Option<Spanned<Vec<String>>>,
    instances: Option<Spanned<Limit>>,
    log_on_success: Option<Spanned<BTreeSet<SuccessFlag>>>,
    log_on_failure: Option<Spanned<BTreeSet<FailureFlag>>>,
    log_type: Option<Spanned<LogType>>,
    only_from: Option<Spanned<AddressList>>,
    no_access: Option<Spanned<AddressList>>,
    access_times: Option<Spanned<Vec<TimeInterval>>>,
    types: Option<Spanned<BTreeSet<ServiceType>>>,
    rpc_version: Option<Spanned<RpcVersion>>,
    rpc_number: Option<Spanned<i32>>,
    env: Option<Spanned<Vec<EnvVar>>>,
    port: Option<Spanned<u16>>,
    passenv: Option<Spanned<Vec<String>>>,
    flags: Option<Spanned<BTreeSet<ServiceFlag>>>,
    nice: Option<Spanned<i32>>,
    redirect: Option<Spanned<Redirect>>,
    banner: Option<Spanned<String>>,
    bind: Option<Spanned<BindAddress>>,
    per_source: Option<Spanned<Limit>>,
    groups: Option<Spanned<bool>>,
    banner_success: Option<Spanned<String>>,
    banner_fail: Option<Spanned<String>>,
    cps: Option<Spanned<Cps>>,
    max_load: Option<Spanned<f64>>,
    rlimits: Rlimits,
    v6only: Option<Spanned<bool>>,
    deny_time: Option<Spanned<DenyTime>>,
    umask: Option<Spanned<u32>>,
    libwrap: Option<Spanned<String>>,
    enabled: Option<Spanned<Vec<String>>>,
    disabled_ids: Option<Spanned<Vec<String>>>,
    chroot: Option<Spanned<String>>,
    timeout: Option<Spanned<u32>>,
    bind_device: Option<Spanned<String>>,
}

impl Draft {
    fn new(name: String, header: Span, is_defaults: bool) -> Draft {
        Draft {
            name,
            header,
            is_defaults,
            specified: HashSet::new(),
            disabled: false,
            disabled_by_entry: false,
            error: None,
            id: None,
            socket_type: None,
            protocol: None,
            wait: None,
            user: None,
            group: None,
            server: None,
            server_args: None,
            instances: None,
            log_on_success: None,
            log_on_failure: None,
            log_type: None,
            only_from: None,
            no_access: None,
            access_times: None,
            types: None,
            rpc_version: None,
            rpc_number: None,
            env: None,
            port: None,
            passenv: None,
            flags: None,
            nice: None,
            redirect: None,
            banner: None,
            bind: None,
            per_source: None,
            groups: None,
            banner_success: None,
            banner_fail: None,
            cps: None,
            max_load: None,
            rlimits: Rlimits::default(),
            v6only: None,
            deny_time: None,
            umask: None,
            libwrap: None,
            enabled: None,
            disabled_ids: None,
            chroot: None,
            timeout: None,
            bind_device: None,
        }
    }
    fn id(&self) -> &str {
        self.id
            .as_ref()
            .map(|s| s.value.as_str())
            .unwrap_or(&self.name)
    }
    fn has_type(&self, t: ServiceType) -> bool {
        self.types.as_ref().is_some_and(|s| s.value.contains(&t))
    }
    fn has_flag(&self, f: ServiceFlag) -> bool {
        self.flags.as_ref().is_some_and(|s| s.value.contains(&f))
    }
    fn is_internal(&self) -> bool {
        self.has_type(ServiceType::Internal)
    }
    fn is_unlisted(&self) -> bool {
        self.has_type(ServiceType::Unlisted)
    }
    fn is_rpc(&self) -> bool {
        self.has_type(ServiceType::Rpc)
    }
    fn is_muxclient(&self) -> bool {
        self.has_type(ServiceType::Tcpmux) || self.has_type(ServiceType::TcpmuxPlus)
    }
    fn waits(&self) -> bool {
        self.wait.as_ref().is_some_and(|w| w.value)
    }
}

/// A value parser's failure: the specific xinetd line(s) and our message.
struct Failure {
    message: String,
    hint: Option<String>,
    xinetd: Option<(XinetdLevel, &'static str, String)>,
}

fn fail(function: &'static str, text: impl Into<String>) -> Failure {
    let text = text.into();
    Failure {
        message: text.clone(),
        hint: None,
        xinetd: Some((XinetdLevel::Error, function, text)),
    }
}

fn warn_fail(function: &'static str, text: impl Into<String>) -> Failure {
    let mut f = fail(function, text);
    if let Some(x) = f.xinetd.as_mut() {
        x.0 = XinetdLevel::Warning;
    }
    f
}

impl Failure {
    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    fn message(mut self, m: impl Into<String>) -> Self {
        self.message = m.into();
        self
    }
}

fn missing_values(function: &'static str, attr: &str) -> Failure {
    warn_fail(
        function,
        format!("attribute {attr} expects at least 1 value and none was given."),
    )
    .message(format!("'{attr}' needs at least one value"))
}

struct Loader<'e> {
    env: &'e Environment,
    sink: Sink,
    defaults: Draft,
    /// Boxed: a draft is about 2 KB, and the entries move through three lists in `finish`;
    /// boxes keep those moves to a pointer and the lists from holding spare capacity of
    /// whole drafts (the daemon's resident memory is set by this peak).
    #[allow(clippy::vec_box)]
    drafts: Vec<Box<Draft>>,
    dropped: Vec<DroppedService>,
    depth: usize,
}

impl Loader<'_> {
    fn document(&mut self, doc: &Document) -> Result<(), Fatal> {
        for n in &doc.notes {
            self.sink.push(n.clone());
        }
        let mut found_defaults = false;
        for item in &doc.items {
            match item {
                Item::Include(path, span) => self.include(path, span)?,
                Item::IncludeDir(path, span) => self.includedir(path, span)?,
                Item::Rejected {
                    error,
                    service,
                    skip,
                } => {
                    self.sink.push(error.clone());
                    if let Some((name, span)) = service {
                        self.dropped.push(DroppedService {
                            name: name.clone(),
                            id: name.clone(),
                            span: span.clone(),
                            reason: DropReason::Error,
                        });
                    }
                    self.skip_notes(skip, &doc.file);
                }
                Item::Entry(e) => match &e.kind {
                    EntryKind::Defaults => {
                        if found_defaults {
                            self.sink.push(
                                diag(&e.open, Severity::Error, "second 'defaults' entry in this file is ignored")
                                    .hint("only one defaults entry per file is honoured; merge them (included files may carry their own)")
                                    .xparse(
                                        XinetdLevel::Error,
                                        "parse_conf_file",
                                        "only 1 defaults entry is allowed. This entry will be ignored",
                                    ),
                            );
                            // xinetd skips the block from its '{' to the next lone '}'.
                            self.skip_notes(&entry_skip(e), &doc.file);
                        } else if self.defaults_entry(e)? {
                            found_defaults = true;
                        }
                    }
                    EntryKind::Service(name) => self.service_entry(e, name),
                },
            }
        }
        Ok(())
    }

    fn skip_notes(&mut self, skip: &Skip, file: &Arc<str>) {
        for (name, span) in &skip.swallowed {
            self.sink.push(
                diag(span, Severity::Warning, format!("service '{name}' is swallowed: xinetd skips it while recovering from the error above"))
                    .hint("fix the error above; xinetd ignores every line up to the next line holding only '}'")
                    .service(Some(name)),
            );
            self.dropped.push(DroppedService {
                name: name.clone(),
                id: name.clone(),
                span: span.clone(),
                reason: DropReason::Error,
            });
        }
        if let Some(line) = skip.eof_line {
            let span = Span {
                file: file.clone(),
                line,
                column: 1,
            };
            self.sink.push(
                diag(&span, Severity::Warning, "missing '}' at end of file").xparse(
                    XinetdLevel::Warning,
                    "skip_entry",
                    "missing } in last service entry",
                ),
            );
        }
    }

    fn include(&mut self, path: &str, span: &Span) -> Result<(), Fatal> {
        if !self.env.follow_includes {
            self.sink.push(
                diag(span, Severity::Info, format!("include {path} not followed"))
                    .hint("includes are not read in this environment"),
            );
            return Ok(());
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            self.sink.push(diag(
                span,
                Severity::Error,
                format!("include {path} nested more than {MAX_INCLUDE_DEPTH} levels deep (include loop?); not read"),
            ));
            return Ok(());
        }
        let real = self.env.map_path(path);
        match std::fs::read(&real) {
            Ok(bytes) => {
                self.sink.push(
                    diag(
                        span,
                        Severity::Info,
                        format!("reading included file {path}"),
                    )
                    .xparse(
                        XinetdLevel::Debug,
                        "parse_conf_file",
                        format!("Reading included configuration file: {path}"),
                    ),
                );
                let doc = syntax::parse_document(&bytes, path);
                self.depth += 1;
                let r = self.document(&doc);
                self.depth -= 1;
                r
            }
            Err(e) => {
                self.sink.push(
                    diag(
                        span,
                        Severity::Error,
                        format!("cannot open included file {path}: {e}"),
                    )
                    .hint("xinetd logs this and continues with the rest of the file")
                    .xparse(
                        XinetdLevel::Error,
                        "parse_conf_file",
                        format!("Unable to open included configuration file: {path}"),
                    ),
                );
                Ok(())
            }
        }
    }

    fn includedir(&mut self, dir: &str, span: &Span) -> Result<(), Fatal> {
        if !self.env.follow_includes {
            self.sink.push(
                diag(
                    span,
                    Severity::Info,
                    format!("includedir {dir} not followed"),
                )
                .hint("includes are not read in this environment"),
            );
            return Ok(());
        }
        let real = self.env.map_path(dir);
        let entries = match std::fs::read_dir(&real) {
            Ok(rd) => rd,
            Err(e) => {
                self.sink.push(
                    diag(
                        span,
                        Severity::Error,
                        format!("cannot read included directory {dir}: {e}"),
                    )
                    .xparse(
                        XinetdLevel::Error,
                        "handle_includedir",
                        format!("Unable to read included directory: {dir}"),
                    ),
                );
                return Ok(());
            }
        };
        // strcmp order over the raw names (F-043).
        let mut names: Vec<Vec<u8>> = entries
            .filter_map(|e| e.ok())
            .map(|e| {
                use std::os::unix::ffi::OsStrExt;
                e.file_name().as_bytes().to_vec()
            })
            .collect();
        names.sort();
        for raw in names {
            let name = String::from_utf8_lossy(&raw).into_owned();
            let shown = format!("{dir}/{name}");
            if raw.contains(&b'.') || raw.last() == Some(&b'~') {
                if name != "." && name != ".." {
                    self.sink.push(
                        diag(span, Severity::Info, format!("includedir skips {shown}"))
                            .hint("xinetd ignores directory entries whose name contains '.' or ends in '~' (F-043)"),
                    );
                }
                continue;
            }
            let real_entry = real.join(&name);
            let meta = match std::fs::metadata(&real_entry) {
                Ok(m) => m,
                Err(_) => {
                    self.sink.push(
                        diag(span, Severity::Error, format!("cannot stat {shown}")).xparse(
                            XinetdLevel::Error,
                            "handle_includedir",
                            format!("Unable to stat includedir file {shown}"),
                        ),
                    );
                    continue;
                }
            };
            if !meta.is_file() {
                // xinetd logs this one with msg(), without a location suffix.
                self.sink.push(
                    diag(
                        span,
                        Severity::Error,
                        format!("{shown} is not a regular file; skipped"),
                    )
                    .xplain(
                        XinetdLevel::Error,
                        "handle_includedir",
                        format!("{shown} is not a regular file. It is being skipped."),
                    ),
                );
                continue;
            }
            match std::fs::read(&real_entry) {
                Ok(bytes) => {
                    self.sink.push(
                        diag(
                            span,
                            Severity::Info,
                            format!("reading included file {shown}"),
                        )
                        .xparse(
                            XinetdLevel::Debug,
                            "handle_includedir",
                            format!("Reading included configuration file: {shown}"),
                        ),
                    );
                    let doc = syntax::parse_document(&bytes, &shown);
                    self.depth += 1;
                    let r = self.document(&doc);
                    self.depth -= 1;
                    r?;
                }
                Err(_) => {
                    self.sink.push(
                        diag(span, Severity::Error, format!("cannot open {shown}")).xparse(
                            XinetdLevel::Error,
                            "handle_includedir",
                            format!("Unable to open included configuration file: {shown}"),
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Reads the defaults entry. Returns whether it counts as "found" (parse OK).
    fn defaults_entry(&mut self, e: &Entry) -> Result<bool, Fatal> {
        let mut d = std::mem::replace(
            &mut self.defaults,
            Draft::new("(null)".into(), Span::synthetic(), true),
        );
        if d.header.line == 0 {
            d.header = e.header.clone();
        }
        let r = self.entry_lines(&mut d, e);
        self.defaults = d;
        match r? {
            EntryOutcome::Complete => Ok(true),
            EntryOutcome::Failed => Ok(false),
        }
    }

    fn service_entry(&mut self, e: &Entry, name: &str) {
        let mut d = Draft::new(name.to_string(), e.header.clone(), false);
        // Copy-at-parse-time (F-046).
        let def = &self.defaults;
        if def.specified.contains(&Attr::LogOnSuccess) {
            d.log_on_success = def.log_on_success.clone();
        }
        if def.specified.contains(&Attr::LogOnFailure) {
            d.log_on_failure = def.log_on_failure.clone();
        }
        if def.specified.contains(&Attr::OnlyFrom) {
            d.only_from = def.only_from.clone();
        }
        if def.specified.contains(&Attr::NoAccess) {
            d.no_access = def.no_access.clone();
        }
        if def.specified.contains(&Attr::Passenv) {
            d.passenv = def.passenv.clone();
        }
        if def.specified.contains(&Attr::Banner) {
            d.banner = def.banner.clone();
        }
        if def.specified.contains(&Attr::BannerSuccess) {
            d.banner_success = def.banner_success.clone();
        }
        if def.specified.contains(&Attr::BannerFail) {
            d.banner_fail = def.banner_fail.clone();
        }
        // A service entry never returns Fatal.
        let outcome = self.entry_lines(&mut d, e).unwrap_or(EntryOutcome::Failed);
        match outcome {
            EntryOutcome::Complete => self.drafts.push(Box::new(d)),
            EntryOutcome::Failed => {
                let reason = if d.disabled_by_entry {
                    self.sink.push(
                        diag(&d.header, Severity::Info, format!("service '{}' is disabled (disable = yes)", d.id()))
                            .hint("xinetd stops reading the entry at `disable = yes`; later lines are not checked")
                            .service(Some(d.id())),
                    );
                    DropReason::DisabledInEntry
                } else {
                    DropReason::Error
                };
                self.dropped.push(DroppedService {
                    name: d.name.clone(),
                    id: d.id().to_string(),
                    span: d.header.clone(),
                    reason,
                });
            }
        }
    }

    /// parse_entry(): attribute lines in order, stopping at `disable` when the entry is
    /// disabled (F-007 for 2.3.15.3).
    fn entry_lines(&mut self, d: &mut Draft, e: &Entry) -> Result<EntryOutcome, Fatal> {
        for line in &e.lines {
            self.identify_attribute(d, line)?;
            if line.name.eq_ignore_ascii_case("disable") && d.disabled && !d.is_defaults {
                // xinetd stops reading the entry here and skips to the next lone '}'.
                self.skip_notes(&entry_skip(e), &e.header.file);
                return Ok(EntryOutcome::Failed);
            }
        }
        match &e.end {
            EntryEnd::Closed => Ok(EntryOutcome::Complete),
            EntryEnd::BadLine { error, skip } => {
                let what = if d.is_defaults {
                    "the rest of the defaults entry is ignored".to_string()
                } else {
                    format!("service '{}' is dropped", d.name)
                };
                let mut err = error.clone();
                err.message = format!("{}; {what}", err.message);
                err.service = (!d.is_defaults).then(|| d.id().to_string());
                self.sink.push(err);
                self.skip_notes(skip, &e.header.file);
                Ok(EntryOutcome::Failed)
            }
            EntryEnd::Eof { line } => {
                let span = Span {
                    file: e.header.file.clone(),
                    line: *line,
                    column: 1,
                };
                self.sink.push(
                    diag(
                        &span,
                        Severity::Error,
                        format!(
                            "end of file inside the entry started at line {}; it is dropped",
                            e.header.line
                        ),
                    )
                    .hint("add a line holding only '}'")
                    .service((!d.is_defaults).then_some(d.id()))
                    .xparse(
                        XinetdLevel::Error,
                        "parse_entry",
                        "incomplete entry",
                    ),
                );
                self.sink.push(
                    diag(&span, Severity::Warning, "missing '}' at end of file").xparse(
                        XinetdLevel::Warning,
                        "skip_entry",
                        "missing } in last service entry",
                    ),
                );
                Ok(EntryOutcome::Failed)
            }
        }
    }

    /// identify_attribute(): lookup, "already set", operator and count checks, then the
    /// value parser (F-032..F-037).
    fn identify_attribute(&mut self, d: &mut Draft, line: &AttrLine) -> Result<(), Fatal> {
        let table = if d.is_defaults {
            attrs::DEFAULTS_ATTRS
        } else {
            attrs::SERVICE_ATTRS
        };
        let name = line.name.as_str();
        let svc = (!d.is_defaults).then(|| d.id().to_string());
        let Some((canon, attr, count)) = attrs::lookup(table, name) else {
            let mut dg = if d.is_defaults {
                let in_service = attrs::lookup(attrs::SERVICE_ATTRS, name).is_some();
                diag(
                    &line.span,
                    Severity::Warning,
                    format!("attribute '{name}' is not allowed in defaults; ignored"),
                )
                .xparse(
                    XinetdLevel::Warning,
                    "attr_lookup",
                    format!("attribute: {name} should not be in default section"),
                )
                .hint(if in_service {
                    "set it in each service instead".to_string()
                } else {
                    "unknown attribute".to_string()
                })
            } else {
                diag(
                    &line.span,
                    Severity::Warning,
                    format!("unknown attribute '{name}'; ignored"),
                )
                .xparse(
                    XinetdLevel::Warning,
                    "attr_lookup",
                    format!("bad service attribute: {name}"),
                )
            };
            if !d.is_defaults {
                if let Some(s) = attrs::suggest(name) {
                    dg = dg.hint(format!("did you mean '{s}'?"));
                }
            }
            self.sink.push(dg.service(svc.as_deref()));
            return Ok(());
        };
        let mut op = line.op;
        if count != Count::Cumulative {
            if d.specified.contains(&attr) {
                self.sink.push(
                    diag(
                        &line.span,
                        Severity::Warning,
                        format!(
                            "'{canon}' is already set; this line is ignored (the first value wins)"
                        ),
                    )
                    .service(svc.as_deref())
                    .xparse(
                        XinetdLevel::Warning,
                        "identify_attribute",
                        format!("Service {}: attribute already set: {name}", d.name),
                    ),
                );
                return Ok(());
            }
            if op != Op::Set {
                self.sink.push(
                    diag(
                        &line.span,
                        Severity::Warning,
                        format!(
                            "operator '{}' cannot be used with '{canon}'; line ignored",
                            op.as_str()
                        ),
                    )
                    .service(svc.as_deref())
                    .xparse(
                        XinetdLevel::Warning,
                        "identify_attribute",
                        format!(
                            "Service {}: operator '{}' cannot be used for attribute '{name}'",
                            d.name,
                            op.as_str()
                        ),
                    ),
                );
                return Ok(());
            }
        } else if d.is_defaults && op == Op::Set {
            // In defaults '=' means '+=' (F-039).
            op = Op::Add;
        }
        if let Count::Exactly(n) = count {
            if line.values.len() != n {
                let mut dg = diag(
                    &line.span,
                    Severity::Warning,
                    format!(
                        "'{canon}' takes {n} value{} but {} {} given; line ignored",
                        if n == 1 { "" } else { "s" },
                        line.values.len(),
                        if line.values.len() == 1 {
                            "was"
                        } else {
                            "were"
                        }
                    ),
                )
                .service(svc.as_deref())
                .xparse(
                    XinetdLevel::Warning,
                    "identify_attribute",
                    format!(
                        "attribute {name} expects {n} values and {} values were specified",
                        line.values.len()
                    ),
                );
                if let Some(pos) = line.values.iter().position(|v| v.0.starts_with('#')) {
                    dg = dg.hint(format!(
                        "'#' starts a comment only at the beginning of a line (column {} here is part of the value); xinetd ignores this attribute",
                        line.values[pos].1.column
                    ));
                } else if line.values.last().is_some_and(|v| v.0.ends_with('\r')) {
                    dg = dg.hint("the file has CRLF line endings");
                }
                self.sink.push(dg);
                return Ok(());
            }
        }
        match self.parse_value(d, attr, canon, op, line) {
            Ok(()) => {
                d.specified.insert(attr);
                if attrs::is_extension(attr) {
                    self.sink.push(
                        diag(
                            &line.span,
                            Severity::Info,
                            format!("'{canon}' is an xinetd-rs extension"),
                        )
                        .hint("xinetd 2.3.15.3 ignores it with `bad service attribute`")
                        .service(svc.as_deref()),
                    );
                }
                Ok(())
            }
            Err(f) => {
                let mut dg =
                    diag(&line.span, Severity::Error, f.message.clone()).service(svc.as_deref());
                if line.values.last().is_some_and(|v| v.0.ends_with('\r')) {
                    dg = dg.hint("the value ends in a carriage return: the file has CRLF line endings, convert it to LF");
                } else if let Some(h) = &f.hint {
                    dg = dg.hint(h.clone());
                }
                if let Some((lvl, func, text)) = f.xinetd {
                    dg = dg.xparse(lvl, func, text);
                }
                if !d.is_defaults {
                    dg.message = format!("{}; service '{}' is dropped", dg.message, d.id());
                    dg = dg.xparse(
                        XinetdLevel::Error,
                        "identify_attribute",
                        format!("Error parsing attribute {name} - DISABLING SERVICE"),
                    );
                    self.sink.push(dg);
                    d.disabled = true;
                    if d.error.is_none() {
                        d.error = Some(line.span.clone());
                    }
                    Ok(())
                } else if self.env.debug {
                    dg.message = format!("{} (in defaults; not fatal in debug mode)", dg.message);
                    self.sink.push(dg);
                    Ok(())
                } else {
                    dg.message = format!("{} in the defaults section: this is fatal", dg.message);
                    dg = dg
                        .hint("xinetd exits (status 0) on a bad value in defaults, also on reload (F-037)")
                        .xplain(
                            XinetdLevel::Error,
                            "parse_entry",
                            "A fatal error was encountered while parsing the default section. xinetd will exit.",
                        );
                    self.sink.push(dg);
                    Err(Fatal)
                }
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn parse_value(
        &mut self,
        d: &mut Draft,
        attr: Attr,
        name: &str,
        op: Op,
        line: &AttrLine,
    ) -> Result<(), Failure> {
        let vals: Vec<&str> = line.values.iter().map(|v| v.0.as_str()).collect();
        let first = vals.first().copied().unwrap_or("");
        let span = line.span.clone();
        macro_rules! sp {
            ($v:expr) => {
                Spanned::new($v, span.clone())
            };
        }
        match attr {
            Attr::SocketType => {
                let t = SocketType::ALL
                    .into_iter()
                    .find(|t| t.as_str().eq_ignore_ascii_case(first))
                    .ok_or_else(|| {
                        fail("socket_type_parser", format!("Bad socket type: {first}"))
                    })?;
                d.socket_type = Some(sp!(t));
            }
            Attr::Protocol => {
                let n = self.env.protocol_number(first).ok_or_else(|| {
                    fail(
                        "protocol_parser",
                        format!("Protocol {first} not in /etc/protocols"),
                    )
                })?;
                d.protocol = Some(sp!(Protocol {
                    name: first.to_string(),
                    number: n,
                }));
            }
            Attr::Wait => d.wait = Some(sp!(yes_no(first, "wait_parser", "Bad value for wait")?)),
            Attr::Groups => {
                d.groups = Some(sp!(yes_no(first, "groups_parser", "Bad value for groups")?))
            }
            Attr::V6only => {
                d.v6only = Some(sp!(yes_no(first, "v6only_parser", "Bad value for v6only")?))
            }
            Attr::Disable => {
                let v = yes_no(first, "svcdisable_parser", "Bad value")?;
                // `no` is SC_ENABLE: it also clears a disable caused by an earlier error.
                d.disabled = v;
                d.disabled_by_entry = v;
            }
            Attr::User => {
                if first.bytes().all(|c| c.is_ascii_digit()) {
                    let uid = values::parse_c_uint(first).ok_or_else(|| {
                        fail(
                            "user_parser",
                            format!("Error parsing user as a number: {first}"),
                        )
                    })?;
                    d.user = Some(sp!(User {
                        text: first.to_string(),
                        uid,
                        gid: uid,
                    }));
                } else {
                    let pw = self
                        .env
                        .user_by_name(first)
                        .ok_or_else(|| fail("user_parser", format!("Unknown user: {first}")))?;
                    d.user = Some(sp!(User {
                        text: first.to_string(),
                        uid: pw.uid,
                        gid: pw.gid,
                    }));
                }
            }
            Attr::Group => {
                let gid = if first.bytes().all(|c| c.is_ascii_digit()) {
                    values::parse_c_uint(first).ok_or_else(|| {
                        fail(
                            "group_parser",
                            format!("Error parsing group as a number: {first}"),
                        )
                    })?
                } else {
                    self.env
                        .group_by_name(first)
                        .ok_or_else(|| fail("group_parser", format!("Unknown group: {first}")))?
                        .gid
                };
                d.group = Some(sp!(Group {
                    text: first.to_string(),
                    gid,
                }));
            }
            Attr::Server => {
                if !self.env.server_is_executable(first) {
                    return Err(
                        fail("server_parser", format!("Server {first} is not executable"))
                            .hint("xinetd checks access(X_OK) when it reads the file (F-111)"),
                    );
                }
                d.server = Some(sp!(first.to_string()));
            }
            Attr::ServerArgs => {
                if vals.is_empty() {
                    return Err(missing_values("server_args_parser", "server_args"));
                }
                d.server_args = Some(sp!(vals.iter().map(|s| s.to_string()).collect()));
            }
            Attr::Instances => {
                d.instances = Some(sp!(parse_limit_word(first).ok_or_else(|| {
                    fail(
                        "instances_parser",
                        format!("Number of instances is invalid: {first}"),
                    )
                })?))
            }
            Attr::PerSource => {
                d.per_source = Some(sp!(parse_limit_word(first).ok_or_else(|| {
                    fail(
                        "per_source_parser",
                        format!("Number of per source instances is invalid: {first}"),
                    )
                })?))
            }
            Attr::LogOnSuccess => {
                let mut set = if op == Op::Set {
                    BTreeSet::new()
                } else {
                    d.log_on_success.take().map(|s| s.value).unwrap_or_default()
                };
                let r = apply_words(
                    &mut set,
                    &vals,
                    op,
                    &SuccessFlag::ALL,
                    SuccessFlag::as_str,
                    "log_on_success flag",
                );
                d.log_on_success = Some(sp!(set));
                r?;
            }
            Attr::LogOnFailure => {
                let mut set = if op == Op::Set {
                    BTreeSet::new()
                } else {
                    d.log_on_failure.take().map(|s| s.value).unwrap_or_default()
                };
                let r = apply_words(
                    &mut set,
                    &vals,
                    op,
                    &FailureFlag::ALL,
                    FailureFlag::as_str,
                    "log_on_failure flag",
                );
                d.log_on_failure = Some(sp!(set));
                r?;
            }
            Attr::Type => {
                if vals.is_empty() {
                    return Err(missing_values("type_parser", "type"));
                }
                let mut set = d.types.take().map(|s| s.value).unwrap_or_default();
                let r = apply_words(
                    &mut set,
                    &vals,
                    Op::Add,
                    &ServiceType::ALL,
                    ServiceType::as_str,
                    "service type",
                );
                d.types = Some(sp!(set));
                r?;
            }
            Attr::Flags => {
                if vals.is_empty() {
                    return Err(missing_values("flags_parser", "flags"));
                }
                let mut set = d.flags.take().map(|s| s.value).unwrap_or_default();
                let r = apply_words(
                    &mut set,
                    &vals,
                    Op::Add,
                    &ServiceFlag::ALL,
                    ServiceFlag::as_str,
                    "service flag",
                );
                d.flags = Some(sp!(set));
                r?;
            }
            Attr::LogType => {
                if vals.is_empty() {
                    return Err(missing_values("parse_log_type", "log_type"));
                }
                if d.log_type.is_some() {
                    return Err(fail(
                        "parse_log_type",
                        "Cannot set more than one log_type attribute",
                    )
                    .hint("xinetd 2.3.15.3 accepts only one log_type per entry (F-006)"));
                }
                d.log_type = Some(sp!(parse_log_type(&vals)?));
            }
            Attr::OnlyFrom | Attr::NoAccess => {
                let current = if attr == Attr::OnlyFrom {
                    d.only_from.take()
                } else {
                    d.no_access.take()
                };
                let mut list = if op == Op::Set {
                    Vec::new()
                } else {
                    current.map(|s| s.value).unwrap_or_default()
                };
                let r = self.address_words(&mut list, line, op, d);
                let v = Some(sp!(list));
                if attr == Attr::OnlyFrom {
                    d.only_from = v;
                } else {
                    d.no_access = v;
                }
                r?;
            }
            Attr::AccessTimes => {
                if vals.is_empty() {
                    return Err(missing_values("access_times_parser", "access_times"));
                }
                let mut out = Vec::new();
                for v in &vals {
                    match values::parse_interval(v) {
                        Ok(t) => out.push(t),
                        Err(IntervalError::Incorrect) => {
                            return Err(fail("get_num", "incorrect time interval")
                                .message(format!("bad access_times interval '{v}'"))
                                .hint("intervals are H:MM-H:MM separated by blanks (no commas)"))
                        }
                        Err(IntervalError::OutOfRange) => {
                            return Err(fail("get_num", "invalid time interval")
                                .message(format!("access_times interval '{v}' is out of range"))
                                .hint("hours are 0-23 and minutes 0-59; use 23:59 for the end of the day (F-220)"))
                        }
                        Err(IntervalError::NotIncreasing) => {
                            return Err(fail("add_interval", format!("invalid time interval: {v}"))
                                .hint("the start must be before the end; intervals cannot wrap past midnight, split them in two"))
                        }
                    }
                }
                d.access_times = Some(sp!(out));
            }
            Attr::RpcVersion => {
                let (a, b) = match first.split_once('-') {
                    None => {
                        let v = values::parse_c_int(first, 10);
                        (v.unwrap_or(0), v.unwrap_or(-1))
                    }
                    Some((lo, hi)) => {
                        match (values::parse_c_int(lo, 10), values::parse_c_int(hi, 10)) {
                            (Some(l), Some(h)) => (l, h),
                            (l, _) => {
                                let l = l.unwrap_or(0);
                                (l, l.wrapping_sub(1))
                            }
                        }
                    }
                };
                if a > b {
                    let shown = first.split('-').next().unwrap_or(first);
                    return Err(fail(
                        "rpc_version_parser",
                        format!("bad version range: {shown}"),
                    ));
                }
                d.rpc_version = Some(sp!(RpcVersion { min: a, max: b }));
            }
            Attr::RpcNumber => {
                let n = values::parse_c_int(first, 10)
                    .ok_or_else(|| fail("rpc_number_parser", format!("Error parsing: {first}")))?;
                d.rpc_number = Some(sp!(n));
            }
            Attr::Id => d.id = Some(sp!(first.to_string())),
            Attr::Env => {
                if op == Op::Remove {
                    return Err(warn_fail(
                        "env_parser",
                        "operator '-=' not supported for env attribute",
                    ));
                }
                let mut list = if op == Op::Set {
                    Vec::new()
                } else {
                    d.env.take().map(|s| s.value).unwrap_or_default()
                };
                let mut err = None;
                for v in &vals {
                    match v.split_once('=') {
                        Some((n, val)) => list.push(EnvVar {
                            name: n.to_string(),
                            value: val.to_string(),
                        }),
                        None => {
                            err = Some(fail("env_parser", format!("{v} has no '='")));
                            break;
                        }
                    }
                }
                d.env = Some(sp!(list));
                if let Some(e) = err {
                    return Err(e);
                }
            }
            Attr::Port => {
                let p = values::parse_c_int(first, 10)
                    .filter(|p| (0..65536).contains(p))
                    .ok_or_else(|| {
                        fail("port_parser", "port number is invalid")
                            .message(format!("port '{first}' is not a number from 0 to 65535"))
                    })?;
                d.port = Some(sp!(p as u16));
            }
            Attr::Passenv => {
                let mut list = if op == Op::Set {
                    Vec::new()
                } else {
                    d.passenv.take().map(|s| s.value).unwrap_or_default()
                };
                for (v, vspan) in &line.values {
                    let pos = list.iter().position(|x: &String| x.eq_ignore_ascii_case(v));
                    match (op, pos) {
                        (Op::Remove, Some(i)) => {
                            list.remove(i);
                        }
                        (Op::Remove, None) | (_, Some(_)) => {}
                        (_, None) => {
                            if !self.env.env_defined(v) {
                                self.sink.push(
                                    diag(vspan, Severity::Warning, format!("passenv: '{v}' is not set in xinetd's environment; skipped"))
                                        .service((!d.is_defaults).then_some(d.id()))
                                        .xparse(
                                            XinetdLevel::Warning,
                                            "passenv_parser",
                                            format!("undefined environment variable: {v}"),
                                        ),
                                );
                                continue;
                            }
                            list.push(v.clone());
                        }
                    }
                }
                d.passenv = Some(sp!(list));
            }
            Attr::Nice => {
                let n = values::parse_c_int(first, 10).ok_or_else(|| {
                    fail("nice_parser", format!("Error parsing: {first}"))
                        .message(format!("nice '{first}' is not an integer"))
                })?;
                d.nice = Some(sp!(n));
            }
            Attr::Redirect => {
                let port_word = vals.get(1).copied().unwrap_or("");
                let port = match values::parse_c_int(port_word, 10).filter(|p| *p > 0) {
                    Some(p) => p as i64,
                    None => i64::from(
                        self.env
                            .service_port(port_word, "tcp")
                            .ok_or_else(|| fail("redir_parser", "port number invalid"))?,
                    ),
                };
                if port >= 65536 {
                    return Err(fail("redir_parser", "port number too large"));
                }
                let v6 = first.contains(':');
                let addr = values::parse_numeric_host(first)
                    .filter(|a| a.is_ipv6() == v6)
                    .or_else(|| self.env.resolve(first, Some(v6)).first().copied())
                    .ok_or_else(|| {
                        fail("redir_parser", "bad address")
                            .message(format!("redirect host '{first}' does not resolve"))
                    })?;
                d.redirect = Some(sp!(Redirect {
                    host: first.to_string(),
                    address: addr,
                    port: port as u16,
                }));
            }
            Attr::Bind => {
                let numeric_v4 = first.bytes().all(|c| c.is_ascii_digit() || c == b'.');
                let addr = if numeric_v4 {
                    values::parse_inet_aton(first).map(IpAddr::V4)
                } else if first.contains(':') {
                    first.parse().ok()
                } else {
                    self.env.resolve(first, None).first().copied()
                };
                let addr = addr.ok_or_else(|| {
                    fail("bind_parser", "bad address")
                        .message(format!("bind address '{first}' is not an address or a resolvable host name"))
                        .hint("interface names are not supported by xinetd's bind (F-125); use bind_device = IFNAME (xinetd-rs extension)")
                })?;
                d.bind = Some(sp!(BindAddress {
                    text: first.to_string(),
                    address: addr,
                }));
            }
            Attr::Banner => d.banner = Some(sp!(first.to_string())),
            Attr::BannerSuccess => d.banner_success = Some(sp!(first.to_string())),
            Attr::BannerFail => d.banner_fail = Some(sp!(first.to_string())),
            Attr::Cps => {
                let rate = values::parse_c_uint(first)
                    .ok_or_else(|| fail("cps_parser", "cps argument not a number"))?;
                let wait = values::parse_c_uint(vals.get(1).copied().unwrap_or(""))
                    .ok_or_else(|| fail("cps_parser", "cps time argument not a number"))?;
                d.cps = Some(sp!(Cps {
                    rate,
                    wait_secs: wait,
                }));
            }
            Attr::MaxLoad => {
                let v = values::parse_c_double(first)
                    .ok_or_else(|| fail("max_load_parser", "error reading max_load argument"))?;
                if v == 0.0 {
                    return Err(fail("max_load_parser", "error parsing max_load argument")
                        .hint("max_load = 0 is an error in xinetd (F-131); remove the line to disable the check"));
                }
                d.max_load = Some(sp!(v));
            }
            Attr::RlimitAs
            | Attr::RlimitData
            | Attr::RlimitFiles
            | Attr::RlimitRss
            | Attr::RlimitStack => {
                let (func, what) = match attr {
                    Attr::RlimitAs => ("rlim_as_parser", "Address space limit"),
                    Attr::RlimitData => ("rlim_data_parser", "Data limit"),
                    Attr::RlimitFiles => ("rlim_files_parser", "Max files limit"),
                    Attr::RlimitRss => ("rlim_rss_parser", "RSS limit"),
                    _ => ("rlim_stack_parser", "Stack limit"),
                };
                let v = if first.eq_ignore_ascii_case("UNLIMITED") {
                    Rlimit::Unlimited
                } else {
                    Rlimit::Value(values::parse_limit(first).ok_or_else(|| {
                        fail(func, format!("{what} is invalid: {first}"))
                            .hint("a number with an optional K or M suffix, or UNLIMITED")
                    })?)
                };
                let slot = match attr {
                    Attr::RlimitAs => &mut d.rlimits.address_space,
                    Attr::RlimitData => &mut d.rlimits.data,
                    Attr::RlimitFiles => &mut d.rlimits.files,
                    Attr::RlimitRss => &mut d.rlimits.rss,
                    _ => &mut d.rlimits.stack,
                };
                *slot = Some(sp!(v));
            }
            Attr::RlimitCpu => {
                let v = if first.eq_ignore_ascii_case("UNLIMITED") {
                    Rlimit::Unlimited
                } else {
                    Rlimit::Value(values::parse_c_ull(first).ok_or_else(|| {
                        fail("rlim_cpu_parser", format!("CPU limit is invalid: {first}"))
                    })?)
                };
                d.rlimits.cpu = Some(sp!(v));
            }
            Attr::DenyTime => {
                let v = if first.eq_ignore_ascii_case("FOREVER") {
                    DenyTime::Forever
                } else if first.eq_ignore_ascii_case("NEVER") {
                    DenyTime::Never
                } else {
                    match values::parse_c_int(first, 10) {
                        Some(0) => DenyTime::Never,
                        Some(-1) => DenyTime::Forever,
                        Some(n) => DenyTime::Minutes(n),
                        None => {
                            return Err(fail("deny_time_parser", format!("Error parsing: {first}")))
                        }
                    }
                };
                d.deny_time = Some(sp!(v));
            }
            Attr::Umask => {
                let v = values::parse_c_int(first, 8)
                    .filter(|v| (0..=0o777).contains(v))
                    .ok_or_else(|| {
                        fail("umask_parser", "umask argument is invalid.\n").message(format!(
                            "umask '{first}' is not an octal number from 0 to 777"
                        ))
                    })?;
                d.umask = Some(sp!(v as u32));
            }
            Attr::Libwrap => d.libwrap = Some(sp!(first.to_string())),
            Attr::Enabled | Attr::Disabled => {
                let slot = if attr == Attr::Enabled {
                    &mut d.enabled
                } else {
                    &mut d.disabled_ids
                };
                let mut list = slot.take().map(|s| s.value).unwrap_or_default();
                list.extend(vals.iter().map(|s| s.to_string()));
                *slot = Some(sp!(list));
            }
            Attr::Chroot => {
                if !first.starts_with('/') {
                    return Err(Failure {
                        message: format!("chroot '{first}' must be an absolute directory path"),
                        hint: None,
                        xinetd: None,
                    });
                }
                d.chroot = Some(sp!(first.to_string()));
            }
            Attr::Timeout => {
                let v = values::parse_c_int(first, 10)
                    .filter(|v| *v > 0)
                    .ok_or_else(|| Failure {
                        message: format!("timeout '{first}' is not a positive number of seconds"),
                        hint: None,
                        xinetd: None,
                    })?;
                d.timeout = Some(sp!(v as u32));
            }
            Attr::BindDevice => {
                if first.is_empty() || first.len() > 15 || first.contains('/') {
                    return Err(Failure {
                        message: format!("bind_device '{first}' is not an interface name (at most 15 bytes, no '/')"),
                        hint: None,
                        xinetd: None,
                    });
                }
                d.bind_device = Some(sp!(first.to_string()));
            }
        }
        let _ = name;
        Ok(())
    }

    fn address_words(
        &mut self,
        list: &mut AddressList,
        line: &AttrLine,
        op: Op,
        d: &Draft,
    ) -> Result<(), Failure> {
        for (word, span) in &line.values {
            if word.contains(',') && !word.contains('{') {
                return Err(fail(
                    "parse_inet_addresses",
                    format!("Address: {word} has a comma in it - remove the comma"),
                ));
            }
            match values::classify_address(word, self.env) {
                AddressOutcome::Parsed(form) => {
                    let entry = AddressEntry {
                        text: word.clone(),
                        form,
                        span: span.clone(),
                    };
                    if op == Op::Remove {
                        list.retain(|e| !same_address(e, &entry));
                    } else {
                        list.push(entry);
                    }
                }
                AddressOutcome::Unparsed => {
                    if word.is_empty() {
                        continue;
                    }
                    self.sink.push(
                        diag(span, Severity::Error, format!("'{word}' is not an address, network or resolvable host name; it is left out of {}", line.name))
                            .hint("xinetd drops the word and keeps the rest of the list; if it was the only word, the list is empty (for only_from: nobody is allowed)")
                            .service((!d.is_defaults).then_some(d.id()))
                            .xparse(XinetdLevel::Error, "addrlist_op", format!("failed to parse {word}")),
                    );
                    if op != Op::Remove {
                        list.push(AddressEntry {
                            text: word.clone(),
                            form: AddressForm::Unparsed,
                            span: span.clone(),
                        });
                    }
                }
                AddressOutcome::Error(msg) => {
                    // factorized_addr's message, then parse_inet_addresses' "Failed adding".
                    self.sink.push(
                        diag(
                            span,
                            Severity::Error,
                            format!("bad factorized address '{word}'"),
                        )
                        .hint("braces must be the last component: a.b.{x,y}")
                        .service((!d.is_defaults).then_some(d.id()))
                        .xparse(XinetdLevel::Error, "factorized_addr", msg),
                    );
                    return Err(
                        fail("parse_inet_addresses", format!("Failed adding: {word}"))
                            .message(format!("'{word}' cannot be added to {}", line.name)),
                    );
                }
            }
        }
        Ok(())
    }

    /// remove_disabled_services, service_fill, check_entry (cnf_get).
    fn finish(mut self) -> Loaded {
        let defaults = self.defaults.clone();
        let drafts = std::mem::take(&mut self.drafts);
        let enabled: Option<Vec<String>> = defaults.enabled.as_ref().map(|s| s.value.clone());
        let disabled: Option<Vec<String>> = defaults.disabled_ids.as_ref().map(|s| s.value.clone());
        let mut survivors = Vec::new();
        for mut d in drafts {
            let in_list = |l: &Option<Vec<String>>, id: &str| {
                l.as_ref()
                    .is_some_and(|l| l.iter().any(|x| x.eq_ignore_ascii_case(id)))
            };
            // The `enabled` filter disables every service, then enables the listed ones
            // (which also re-enables services disabled by an error; we drop those later).
            let mut filtered_out = false;
            if enabled.is_some() {
                let listed = in_list(&enabled, d.id());
                filtered_out = !listed;
                d.disabled = !listed;
            }
            let reason = if d.disabled {
                Some(if d.error.is_some() {
                    DropReason::Error
                } else if filtered_out {
                    DropReason::NotEnabled
                } else {
                    DropReason::DisabledInEntry
                })
            } else if in_list(&disabled, d.id()) {
                Some(DropReason::DisabledByDefaults)
            } else {
                None
            };
            match reason {
                Some(r) => {
                    let msg = match r {
                        DropReason::NotEnabled => format!(
                            "service '{}' is not listed in 'enabled' in defaults; removed",
                            d.id()
                        ),
                        DropReason::DisabledByDefaults => format!(
                            "service '{}' is listed in 'disabled' in defaults; removed",
                            d.id()
                        ),
                        _ => format!(
                            "service '{}' is removed because of the errors above",
                            d.id()
                        ),
                    };
                    let mut dg = diag(&d.header, Severity::Info, msg).service(Some(d.id()));
                    if r != DropReason::DisabledByDefaults {
                        dg = dg.xplain(
                            XinetdLevel::Debug,
                            "remove_disabled_services",
                            format!("removing {}", d.name),
                        );
                    }
                    self.sink.push(dg);
                    self.dropped.push(DroppedService {
                        name: d.name.clone(),
                        id: d.id().to_string(),
                        span: d.header.clone(),
                        reason: r,
                    });
                }
                None => survivors.push(d),
            }
        }
        let mut accepted: Vec<Box<Draft>> = Vec::new();
        for mut d in survivors {
            let mut ok =
                self.service_fill(&mut d, &defaults) && self.check_entry(&mut d, &accepted);
            if ok {
                if let Some(at) = &d.error {
                    // xinetd 2.3.15.3 would run this half-configured service: `disable = no`
                    // or `enabled` cleared the disable its parse error set (docs/compat.md).
                    self.sink.push(
                        diag(&d.header, Severity::Error, format!("service '{}' stays disabled because of the error at line {}", d.id(), at.line))
                            .hint("xinetd 2.3.15.3 would start it without the bad attribute, because `disable = no` or `enabled` re-enabled it; xinetd-rs follows the documented rule that a bad value disables the service")
                            .service(Some(d.id())),
                    );
                    ok = false;
                }
            }
            if ok {
                self.clear_identity_userid(&mut d);
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
            config: Config {
                defaults: into_defaults(defaults),
                services,
            },
            diagnostics: self.sink.items,
            dropped: self.dropped,
        }
    }

    fn post_error(
        &mut self,
        d: &Draft,
        function: &'static str,
        text: String,
        ours: String,
        hint: Option<&str>,
    ) {
        let mut dg = diag(
            &d.header,
            Severity::Error,
            format!("{ours}; service '{}' is dropped", d.id()),
        )
        .service(Some(d.id()))
        .xplain(XinetdLevel::Error, function, text);
        if let Some(h) = hint {
            dg = dg.hint(h);
        }
        self.sink.push(dg);
    }

    fn service_fill(&mut self, d: &mut Draft, def: &Draft) -> bool {
        let hs = d.header.clone();
        let has_redirect = d.redirect.is_some();
        if !d.is_internal() && !has_redirect && d.server.is_none() {
            let t = format!("Must specify a server in {}", d.name);
            self.post_error(d, "fix_server_argv", t, "no 'server' given".into(), Some("external services need server = /path/to/program (or type = INTERNAL, or redirect)"));
            return false;
        }
        if !d.is_internal() && d.has_flag(ServiceFlag::NameInArgs) && d.server_args.is_none() {
            self.post_error(
                d,
                "fix_server_argv",
                "Must specify server args if using NAMEINARGS flag".into(),
                "NAMEINARGS needs server_args (its first word becomes argv[0])".into(),
                None,
            );
            return false;
        }
        if d.instances.is_none() {
            d.instances = Some(
                def.instances
                    .clone()
                    .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
            );
        }
        if d.umask.is_none() {
            d.umask = def.umask.clone();
        }
        if d.per_source.is_none() {
            d.per_source = Some(
                def.per_source
                    .clone()
                    .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
            );
        }
        if d.groups.is_none() {
            d.groups = Some(
                def.groups
                    .clone()
                    .unwrap_or_else(|| Spanned::new(false, hs.clone())),
            );
        }
        if d.cps.is_none() {
            d.cps = Some(
                def.cps
                    .clone()
                    .unwrap_or_else(|| Spanned::new(Cps::default(), hs.clone())),
            );
        }
        if d.max_load.is_none() {
            d.max_load = def.max_load.clone();
        }
        if d.bind.is_none() {
            d.bind = def.bind.clone();
        }
        if d.deny_time.is_none() {
            d.deny_time = Some(Spanned::new(DenyTime::Never, hs.clone()));
        }
        // Protocol <-> socket_type inference (F-055).
        if d.protocol.is_none() {
            if let Some(st) = &d.socket_type {
                let p = match st.value {
                    SocketType::Stream => Some("tcp"),
                    SocketType::Dgram => Some("udp"),
                    _ => None,
                };
                if let Some(p) = p {
                    if let Some(n) = self.env.protocol_number(p) {
                        d.protocol = Some(Spanned::new(
                            Protocol {
                                name: p.into(),
                                number: n,
                            },
                            st.span.clone(),
                        ));
                        d.specified.insert(Attr::Protocol);
                    }
                }
            }
        } else if d.socket_type.is_none() {
            if let Some(p) = &d.protocol {
                let st = if p.value.name.eq_ignore_ascii_case("tcp") {
                    Some(SocketType::Stream)
                } else if p.value.name.eq_ignore_ascii_case("udp") {
                    Some(SocketType::Dgram)
                } else {
                    None
                };
                if let Some(st) = st {
                    d.socket_type = Some(Spanned::new(st, p.span.clone()));
                    d.specified.insert(Attr::SocketType);
                }
            }
        }
        if d.port.is_none() && !d.is_muxclient() && !d.is_rpc() {
            if d.is_unlisted() {
                let t = format!("Unlisted service: {} must have a port entry", d.name);
                self.post_error(
                    d,
                    "service_fill",
                    t,
                    "UNLISTED service without 'port'".into(),
                    None,
                );
                return false;
            }
            match &d.protocol {
                Some(p) => match self.env.service_port(&d.name, &p.value.name) {
                    Some(port) => {
                        d.port = Some(Spanned::new(port, hs.clone()));
                        d.specified.insert(Attr::Port);
                    }
                    None => {
                        let t = format!(
                            "Port not specified and can't find service: {} with getservbyname",
                            d.name
                        );
                        let ours = format!(
                            "'{}/{}' is not in /etc/services and no port is given",
                            d.name, p.value.name
                        );
                        let hint = if p.value.name != p.value.name.to_ascii_lowercase() {
                            "/etc/services lookups compare the protocol name case-sensitively: write it in lower case"
                        } else {
                            "add type = UNLISTED and a port, or use the /etc/services name"
                        };
                        self.post_error(d, "service_fill", t, ours, Some(hint));
                        return false;
                    }
                },
                None => {
                    let t = format!(
                        "Port not specified for service: {} and no protocol given",
                        d.name
                    );
                    self.post_error(
                        d,
                        "service_fill",
                        t,
                        "neither socket_type nor protocol given (and no port)".into(),
                        Some("add socket_type = stream|dgram"),
                    );
                    return false;
                }
            }
        }
        if !d.specified.contains(&Attr::LogOnSuccess) && def.specified.contains(&Attr::LogOnSuccess)
        {
            d.log_on_success = def.log_on_success.clone();
        }
        if !d.specified.contains(&Attr::LogOnFailure) && def.specified.contains(&Attr::LogOnFailure)
        {
            d.log_on_failure = def.log_on_failure.clone();
        }
        if d.log_type.is_none() {
            if let Some(lt) = &def.log_type {
                let mut v = lt.clone();
                if let LogType::File { shared, .. } = &mut v.value {
                    *shared = true;
                }
                d.log_type = Some(v);
            }
        }
        true
    }

    fn family(d: &Draft) -> AddressFamily {
        if d.has_flag(ServiceFlag::Ipv6) {
            AddressFamily::Ipv6
        } else if d.has_flag(ServiceFlag::Ipv4) {
            AddressFamily::Ipv4
        } else {
            match &d.bind {
                Some(b) if b.value.address.is_ipv4() => AddressFamily::Ipv4,
                _ => AddressFamily::Ipv6,
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn check_entry(&mut self, d: &mut Draft, accepted: &[Box<Draft>]) -> bool {
        // Duplicates, only against earlier services with a bind address (F-071).
        let port = d.port.as_ref().map(|p| p.value).unwrap_or(0);
        let proto = d.protocol.as_ref().map(|p| p.value.number).unwrap_or(0);
        for t in accepted {
            let Some(tb) = &t.bind else { continue };
            if t.port.as_ref().map(|p| p.value).unwrap_or(0) != port
                || t.protocol.as_ref().map(|p| p.value.number).unwrap_or(0) != proto
            {
                continue;
            }
            if let Some(b) = &d.bind {
                if b.value.address != tb.value.address {
                    continue;
                }
            }
            if d.is_rpc() && t.is_rpc() {
                let (n1, n2) = (
                    d.rpc_number.as_ref().map(|n| n.value),
                    t.rpc_number.as_ref().map(|n| n.value),
                );
                if n1 != n2 {
                    continue;
                }
                if let (Some(v1), Some(v2)) = (&d.rpc_version, &t.rpc_version) {
                    if v1.value.min > v2.value.max || v1.value.max < v2.value.min {
                        continue;
                    }
                }
            }
            let diff = !t.id().eq_ignore_ascii_case(d.id());
            let (text, ours) = if diff {
                (
                    format!("service: {} id: {} is unique but its identical to service: {} id: {} - DISABLING", d.name, d.id(), t.name, t.id()),
                    format!("same port, protocol and bind address as service '{}' (line {})", t.id(), t.header.line),
                )
            } else {
                (
                    format!("service: {} id: {} not unique or is a duplicate - DISABLING", d.name, d.id()),
                    format!("duplicate of service '{}' (line {}) on the same port, protocol and bind address", t.id(), t.header.line),
                )
            };
            self.post_error(d, "check_entry", text, ours, None);
            return false;
        }
        if d.has_flag(ServiceFlag::Intercept) {
            let mut clear = false;
            if d.is_internal() {
                self.sink.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "INTERCEPT is ignored on internal services",
                    )
                    .service(Some(d.id()))
                    .xplain(
                        XinetdLevel::Error,
                        "check_entry",
                        format!("Internal services cannot be intercepted: {} ", d.id()),
                    ),
                );
                clear = true;
            }
            if !d.waits() {
                self.sink.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "INTERCEPT is ignored on wait = no services",
                    )
                    .service(Some(d.id()))
                    .xplain(
                        XinetdLevel::Error,
                        "check_entry",
                        format!("Multi-threaded services cannot be intercepted: {}", d.id()),
                    ),
                );
                clear = true;
            }
            if clear {
                if let Some(f) = d.flags.as_mut() {
                    f.value.remove(&ServiceFlag::Intercept);
                }
            }
        }
        if d.has_flag(ServiceFlag::Sensor) {
            let span = d.header.clone();
            d.types
                .get_or_insert_with(|| Spanned::new(BTreeSet::new(), span))
                .value
                .insert(ServiceType::Internal);
        }
        let st_name = d
            .socket_type
            .as_ref()
            .map(|s| s.value.as_str())
            .unwrap_or("Unknown socket type");
        if d.is_internal() {
            let lookup = if d.has_flag(ServiceFlag::Sensor) {
                "sensor"
            } else {
                d.name.as_str()
            };
            let st = d.socket_type.as_ref().map(|s| s.value);
            let admin = || admin_builtin_for(lookup, st).filter(|_| self.env.admin_builtins);
            match builtin_for(lookup, st).or_else(admin) {
                Some(_) => {}
                None => {
                    let t = format!(
                        "No such internal service: {}/{} - DISABLING",
                        lookup, st_name
                    );
                    self.post_error(d, "builtin_find", t, format!("no builtin '{lookup}' for socket_type {st_name}"), Some("builtins: echo, discard, chargen, daytime, time (stream, dgram) and tcpmux (stream); they are chosen by service name, not id"));
                    return false;
                }
            }
        }
        if d.has_flag(ServiceFlag::Labeled) {
            let why = if d.is_internal() {
                Some(format!(
                    "Internal services cannot support labeled networking: {}",
                    d.id()
                ))
            } else if d.socket_type.as_ref().map(|s| s.value) != Some(SocketType::Stream) {
                Some(format!(
                    "Non-stream socket types cannot support labeled networking: {}",
                    d.id()
                ))
            } else if d.waits() {
                Some(format!(
                    "Tcp wait services cannot support labeled networking: {}",
                    d.id()
                ))
            } else if d.redirect.is_some() {
                Some(format!(
                    "Redirected services cannot support labeled networking: {}",
                    d.id()
                ))
            } else {
                None
            };
            if let Some(t) = why {
                let ours = t.clone();
                self.post_error(d, "check_entry", t, ours, None);
                return false;
            }
        }
        if d.is_muxclient() {
            if !d.is_unlisted() {
                let t = format!("Service: {} (tcpmux) should have UNLISTED in type.", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "TCPMUX services need type UNLISTED too".into(),
                    None,
                );
                return false;
            }
            if !d
                .protocol
                .as_ref()
                .is_some_and(|p| p.value.name.eq_ignore_ascii_case("tcp"))
            {
                let t = format!("Service: {} (tcpmux) should have tcp in protocol.", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "TCPMUX services need protocol tcp".into(),
                    None,
                );
                return false;
            }
        }
        if d.is_rpc() && !d.is_unlisted() {
            match self.env.rpc_number(&d.name) {
                Some(n) => d.rpc_number = Some(Spanned::new(n, d.header.clone())),
                None => {
                    let t = format!("unknown RPC service: {}", d.name);
                    self.post_error(
                        d,
                        "check_entry",
                        t,
                        format!("'{}' is not in /etc/rpc", d.name),
                        Some("add type = UNLISTED and rpc_number"),
                    );
                    return false;
                }
            }
        } else if !d.is_unlisted() {
            match &d.protocol {
                Some(p) => match self.env.service_port(&d.name, &p.value.name) {
                    None => {
                        let t = format!(
                            "service/protocol combination not in /etc/services: {}/{}",
                            d.name, p.value.name
                        );
                        self.post_error(d, "check_entry", t, format!("'{}/{}' is not in /etc/services", d.name, p.value.name), Some("add type = UNLISTED (and a port) for services /etc/services does not list"));
                        return false;
                    }
                    Some(sp) => {
                        if let Some(port) = &d.port {
                            if port.value != sp {
                                let t = format!(
                                    "Service {} expects port {}, not {}",
                                    d.name, sp, port.value
                                );
                                self.post_error(
                                    d,
                                    "check_entry",
                                    t,
                                    format!(
                                        "/etc/services gives port {sp} for '{}', not {}",
                                        d.name, port.value
                                    ),
                                    Some("add type = UNLISTED to use another port"),
                                );
                                return false;
                            }
                        }
                    }
                },
                None => {
                    let t = format!(
                        "A protocol or a socket_type must be specified for service: {}.",
                        d.name
                    );
                    self.post_error(
                        d,
                        "check_entry",
                        t,
                        "neither socket_type nor protocol given".into(),
                        None,
                    );
                    return false;
                }
            }
        }
        if d.redirect.is_some() {
            if d.socket_type.as_ref().map(|s| s.value) != Some(SocketType::Stream) {
                let t = format!(
                    "Only tcp sockets are supported for redirected service {}",
                    d.name
                );
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "redirect works for stream (tcp) services only".into(),
                    None,
                );
                return false;
            }
            if d.waits() {
                let t = format!("Redirected service {} must not wait", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "redirected services must have wait = no".into(),
                    None,
                );
                return false;
            }
            if d.has_flag(ServiceFlag::NameInArgs) {
                let t = format!(
                    "Redirected service {} should not have NAMEINARGS flag set",
                    d.name
                );
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "NAMEINARGS is not allowed with redirect".into(),
                    None,
                );
                return false;
            }
        } else if d
            .log_on_success
            .as_ref()
            .is_some_and(|s| s.value.contains(&SuccessFlag::Traffic))
        {
            let t = format!(
                "Service {} should not have TRAFFIC flag set since its not redirected",
                d.name
            );
            self.post_error(
                d,
                "check_entry",
                t,
                "log_on_success TRAFFIC is only for redirected services".into(),
                Some("remove TRAFFIC (it may come from defaults)"),
            );
            return false;
        }
        if d.has_flag(ServiceFlag::NameInArgs) {
            if d.is_internal() {
                let t = format!("Service {} is INTERNAL and has NAMEINARGS flag set", d.name);
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "NAMEINARGS is not allowed on INTERNAL services".into(),
                    None,
                );
                return false;
            } else if d.server_args.is_none() {
                let t = format!(
                    "Service {} has NAMEINARGS flag set and no server_args",
                    d.name
                );
                self.post_error(
                    d,
                    "check_entry",
                    t,
                    "NAMEINARGS needs server_args".into(),
                    None,
                );
                return false;
            }
        }
        // service_attr_check (F-055, F-056).
        if d.has_flag(ServiceFlag::Ipv4) && d.has_flag(ServiceFlag::Ipv6) {
            self.sink.push(
                diag(
                    &d.header,
                    Severity::Info,
                    "flags IPv4 and IPv6 together: the service listens dual-stack (IPv6)",
                )
                .service(Some(d.id()))
                .xplain(
                    XinetdLevel::Info,
                    "service_attr_check",
                    format!("Service {} will use IPv6 or fallback to IPv4", d.name),
                ),
            );
            if let Some(f) = d.flags.as_mut() {
                f.value.remove(&ServiceFlag::Ipv4);
            }
        }
        let mut must: Vec<(Attr, &str)> =
            vec![(Attr::Wait, "wait"), (Attr::SocketType, "socket_type")];
        if !d.is_internal() {
            must.push((Attr::User, "user"));
            must.push((Attr::Server, "server"));
            if d.is_unlisted() {
                must.push((Attr::Protocol, "protocol"));
                if !d.is_muxclient() {
                    must.push((Attr::Port, "port"));
                }
            }
        }
        if d.is_rpc() {
            must.retain(|(a, _)| *a != Attr::Port);
            must.push((Attr::Protocol, "protocol"));
            must.push((Attr::RpcVersion, "rpc_version"));
            if d.is_unlisted() {
                must.push((Attr::RpcNumber, "rpc_number"));
            }
        }
        let order = |a: &Attr| match a {
            Attr::Wait => 1,
            Attr::SocketType => 2,
            Attr::Protocol => 3,
            Attr::User => 4,
            Attr::Server => 6,
            Attr::RpcVersion => 12,
            Attr::Port => 19,
            _ => 22,
        };
        must.sort_by_key(|(a, _)| order(a));
        must.dedup();
        let mut missing = false;
        for (a, n) in must {
            let present = match a {
                Attr::Server => d.server.is_some() || d.redirect.is_some(),
                Attr::Port => d.port.is_some(),
                Attr::Protocol => d.protocol.is_some(),
                Attr::SocketType => d.socket_type.is_some(),
                Attr::Wait => d.wait.is_some(),
                Attr::User => d.user.is_some(),
                Attr::RpcVersion => d.rpc_version.is_some(),
                Attr::RpcNumber => d.rpc_number.is_some(),
                _ => true,
            };
            if !present {
                missing = true;
                let t = format!("Service {} missing attribute {n} - DISABLING", d.id());
                self.post_error(
                    d,
                    "service_attr_check",
                    t,
                    format!("required attribute '{n}' is missing"),
                    None,
                );
            }
        }
        !missing
    }

    fn clear_identity_userid(&mut self, d: &mut Draft) {
        let is_ident = d.port.as_ref().is_some_and(|p| p.value == 113)
            && d.protocol.as_ref().is_some_and(|p| p.value.number == 6);
        if !is_ident {
            return;
        }
        if let Some(s) = d.log_on_success.as_mut() {
            if s.value.remove(&SuccessFlag::Userid) {
                let id = d.id().to_string();
                self.sink.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "USERID removed from log_on_success of the identity service (tcp/113)",
                    )
                    .service(Some(&id))
                    .xplain(
                        XinetdLevel::Warning,
                        "cnf_get",
                        format!("{id} service: clearing USERID option from log_on_success"),
                    ),
                );
            }
        }
        if let Some(s) = d.log_on_failure.as_mut() {
            if s.value.remove(&FailureFlag::Userid) {
                let id = d.id().to_string();
                self.sink.push(
                    diag(
                        &d.header,
                        Severity::Warning,
                        "USERID removed from log_on_failure of the identity service (tcp/113)",
                    )
                    .service(Some(&id))
                    .xplain(
                        XinetdLevel::Warning,
                        "cnf_get",
                        format!("{id} service: clearing USERID option from log_on_failure"),
                    ),
                );
            }
        }
    }
}

enum EntryOutcome {
    Complete,
    Failed,
}

/// The skip that xinetd performs after abandoning an entry early: it ends where the entry
/// ended anyway (its `}` or the skip after its bad line), so we reuse that information.
fn entry_skip(e: &Entry) -> Skip {
    match &e.end {
        EntryEnd::Closed => Skip::default(),
        EntryEnd::BadLine { skip, .. } => skip.clone(),
        EntryEnd::Eof { line } => Skip {
            swallowed: Vec::new(),
            eof_line: Some(*line),
        },
    }
}

fn yes_no(v: &str, function: &'static str, what: &str) -> Result<bool, Failure> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(fail(function, format!("{what}: {v}")).hint("expected yes or no"))
    }
}

fn parse_limit_word(v: &str) -> Option<Limit> {
    if v.eq_ignore_ascii_case("UNLIMITED") {
        return Some(Limit::Unlimited);
    }
    values::parse_c_int(v, 10)
        .filter(|n| *n >= 0)
        .map(|n| Limit::Max(n as u32))
}

fn apply_words<T: Copy + Ord>(
    set: &mut BTreeSet<T>,
    words: &[&str],
    op: Op,
    all: &[T],
    name: fn(T) -> &'static str,
    description: &str,
) -> Result<(), Failure> {
    for w in words {
        match all.iter().find(|t| name(**t).eq_ignore_ascii_case(w)) {
            Some(t) => {
                if op == Op::Remove {
                    set.remove(t);
                } else {
                    set.insert(*t);
                }
            }
            None => {
                let known: Vec<&str> = all.iter().map(|t| name(*t)).collect();
                return Err(
                    warn_fail("parse_value_list", format!("Bad {description}: {w}"))
                        .message(format!("unknown {description} '{w}'"))
                        .hint(format!("known: {}", known.join(" "))),
                );
            }
        }
    }
    Ok(())
}

fn parse_log_type(vals: &[&str]) -> Result<LogType, Failure> {
    let kind = vals[0];
    if kind.eq_ignore_ascii_case("FILE") {
        if !(2..=4).contains(&vals.len()) {
            return Err(fail("parse_filelog", "wrong number of arguments")
                .message("log_type FILE takes a path and optional soft and hard limits"));
        }
        let mut soft = None;
        let mut hard = None;
        if vals.len() > 2 {
            let s = values::parse_limit(vals[2])
                .ok_or_else(|| fail("parse_filelog", "soft limit is invalid"))?;
            let h = if vals.len() == 4 {
                let h = values::parse_limit(vals[3])
                    .ok_or_else(|| fail("parse_filelog", "hard limit is invalid"))?;
                if h < s {
                    return Err(fail(
                        "parse_filelog",
                        format!("hard limit ({h}) is less than soft limit ({s})"),
                    ));
                }
                h
            } else {
                // LOG_EXTRA_MIN / LOG_EXTRA_MAX (F-712).
                s + (s / 100).clamp(5 * 1024, 20 * 1024)
            };
            soft = Some(s);
            hard = Some(h);
        }
        Ok(LogType::File {
            path: vals[1].to_string(),
            soft_limit: soft,
            hard_limit: hard,
            shared: false,
        })
    } else if kind.eq_ignore_ascii_case("SYSLOG") {
        if !(2..=3).contains(&vals.len()) {
            return Err(fail("parse_syslog", "wrong number of arguments")
                .message("log_type SYSLOG takes a facility and an optional level"));
        }
        let facility = SyslogFacility::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(vals[1]))
            .ok_or_else(|| {
                fail(
                    "parse_syslog",
                    format!("Unknown syslog facility: {}", vals[1]),
                )
            })?;
        let level = match vals.get(2) {
            None => SyslogLevel::Info,
            Some(l) => SyslogLevel::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(l))
                .ok_or_else(|| fail("parse_syslog", format!("Unknown syslog level: {l}")))?,
        };
        Ok(LogType::Syslog { facility, level })
    } else {
        Err(fail("parse_log_type", format!("Unknown log type: {kind}"))
            .hint("log_type is SYSLOG facility [level] or FILE path [soft [hard]]"))
    }
}

fn same_address(a: &AddressEntry, b: &AddressEntry) -> bool {
    match (&a.form, &b.form) {
        (AddressForm::Host(x), AddressForm::Host(y))
        | (AddressForm::Domain(x), AddressForm::Domain(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => x == y,
    }
}

/// The builtin for `name`/`socket_type` (builtins.c's table, F-060).
pub fn builtin_for(name: &str, st: Option<SocketType>) -> Option<Builtin> {
    let st = st?;
    let n = name.to_ascii_lowercase();
    let b = match n.as_str() {
        "echo" => Builtin::Echo,
        "discard" => Builtin::Discard,
        "chargen" => Builtin::Chargen,
        "daytime" => Builtin::Daytime,
        "time" => Builtin::Time,
        "sensor" => Builtin::Sensor,
        "tcpmux" if st == SocketType::Stream => return Some(Builtin::Tcpmux),
        _ => return None,
    };
    matches!(st, SocketType::Stream | SocketType::Dgram).then_some(b)
}

/// The admin builtins of xinetd ≤ 2.3.11 (`servers`, `services`, `xadmin`; stream only),
/// accepted only with [`Environment::admin_builtins`] (F-530, issue 8).
pub fn admin_builtin_for(name: &str, st: Option<SocketType>) -> Option<Builtin> {
    if st? != SocketType::Stream {
        return None;
    }
    match name.to_ascii_lowercase().as_str() {
        "servers" => Some(Builtin::Servers),
        "services" => Some(Builtin::Services),
        "xadmin" => Some(Builtin::Xadmin),
        _ => None,
    }
}

fn into_service(d: Draft) -> Service {
    let hs = d.header.clone();
    let family = Loader::family(&d);
    let builtin = if d.is_internal() {
        let lookup = if d.has_flag(ServiceFlag::Sensor) {
            "sensor"
        } else {
            d.name.as_str()
        };
        // Admin builtins reach this point only when the environment allowed them.
        let st = d.socket_type.as_ref().map(|s| s.value);
        builtin_for(lookup, st).or_else(|| admin_builtin_for(lookup, st))
    } else {
        None
    };
    let port = if d.is_rpc() { None } else { d.port };
    Service {
        id: d
            .id
            .clone()
            .unwrap_or_else(|| Spanned::new(d.name.clone(), hs.clone())),
        name: Spanned::new(d.name, hs.clone()),
        socket_type: d
            .socket_type
            .unwrap_or_else(|| Spanned::new(SocketType::Stream, hs.clone())),
        protocol: d.protocol.unwrap_or_else(|| {
            Spanned::new(
                Protocol {
                    name: "tcp".into(),
                    number: 6,
                },
                hs.clone(),
            )
        }),
        port,
        bind: d.bind,
        family,
        wait: d.wait.unwrap_or_else(|| Spanned::new(false, hs.clone())),
        types: d
            .types
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        flags: d
            .flags
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        user: d.user,
        group: d.group,
        groups: d.groups.unwrap_or_else(|| Spanned::new(false, hs.clone())),
        server: if d.redirect.is_some() { None } else { d.server },
        server_args: d.server_args,
        env: d.env,
        passenv: d.passenv,
        only_from: d.only_from,
        no_access: d.no_access,
        access_times: d.access_times,
        log_type: d.log_type,
        log_on_success: d
            .log_on_success
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        log_on_failure: d
            .log_on_failure
            .unwrap_or_else(|| Spanned::new(BTreeSet::new(), hs.clone())),
        instances: d
            .instances
            .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
        per_source: d
            .per_source
            .unwrap_or_else(|| Spanned::new(Limit::Unlimited, hs.clone())),
        cps: d
            .cps
            .unwrap_or_else(|| Spanned::new(Cps::default(), hs.clone())),
        max_load: d.max_load,
        rlimits: d.rlimits,
        umask: d.umask,
        nice: d.nice,
        banner: d.banner,
        banner_success: d.banner_success,
        banner_fail: d.banner_fail,
        redirect: d.redirect,
        rpc_version: d.rpc_version,
        rpc_number: d.rpc_number,
        deny_time: d
            .deny_time
            .unwrap_or_else(|| Spanned::new(DenyTime::Never, hs.clone())),
        v6only: d.v6only,
        libwrap: d.libwrap,
        builtin,
        chroot: d.chroot,
        timeout: d.timeout,
        bind_device: d.bind_device,
    }
}

fn into_defaults(d: Draft) -> Defaults {
    let keep = |a: Attr| d.specified.contains(&a);
    Defaults {
        log_type: d.log_type.clone().filter(|_| keep(Attr::LogType)),
        log_on_success: d
            .log_on_success
            .clone()
            .filter(|_| keep(Attr::LogOnSuccess)),
        log_on_failure: d
            .log_on_failure
            .clone()
            .filter(|_| keep(Attr::LogOnFailure)),
        only_from: d.only_from.clone().filter(|_| keep(Attr::OnlyFrom)),
        no_access: d.no_access.clone().filter(|_| keep(Attr::NoAccess)),
        passenv: d.passenv.clone().filter(|_| keep(Attr::Passenv)),
        instances: d.instances.clone(),
        per_source: d.per_source.clone(),
        cps: d.cps.clone(),
        max_load: d.max_load.clone(),
        groups: d.groups.clone(),
        umask: d.umask.clone(),
        bind: d.bind.clone(),
        v6only: d.v6only.clone(),
        banner: d.banner.clone(),
        banner_success: d.banner_success.clone(),
        banner_fail: d.banner_fail.clone(),
        enabled: d.enabled.clone().filter(|_| keep(Attr::Enabled)),
        disabled: d.disabled_ids.clone().filter(|_| keep(Attr::Disabled)),
    }
}
