//! Entries and their attribute lines into drafts (xinetd's parse_conf_file, parse_entry,
//! identify_attribute).

use std::sync::Arc;

use crate::attrs::{self, Attr, Count};
use crate::diagnostic::{diag, Severity, XinetdLevel};
use crate::model::*;
use crate::syntax::{AttrLine, Document, Entry, EntryEnd, EntryKind, Item, Op, Skip};

use super::draft::Draft;
use super::{Fatal, Loader};

impl Loader<'_> {
    pub(super) fn document(&mut self, doc: &Document) -> Result<(), Fatal> {
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

    pub(super) fn skip_notes(&mut self, skip: &Skip, file: &Arc<str>) {
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

    /// Reads the defaults entry. Returns whether it counts as "found" (parse OK).
    pub(super) fn defaults_entry(&mut self, e: &Entry) -> Result<bool, Fatal> {
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

    pub(super) fn service_entry(&mut self, e: &Entry, name: &str) {
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
        // The load-balancer extensions are copied like only_from (only what was set).
        d.proxy = def.proxy.clone();
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
    pub(super) fn entry_lines(&mut self, d: &mut Draft, e: &Entry) -> Result<EntryOutcome, Fatal> {
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
    pub(super) fn identify_attribute(
        &mut self,
        d: &mut Draft,
        line: &AttrLine,
    ) -> Result<(), Fatal> {
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
                if attr == Attr::LogType {
                    if let Some(word) = d
                        .log_type
                        .as_ref()
                        .and_then(|l| log_type_extension(&l.value))
                    {
                        self.sink.push(
                            diag(
                                &line.span,
                                Severity::Info,
                                format!("'log_type = {word}' is an xinetd-rs extension"),
                            )
                            .hint("xinetd 2.3.15.3 rejects it (`Unknown log type` / `soft limit is invalid`) and disables the service")
                            .service(svc.as_deref()),
                        );
                    }
                }
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
                } else if self.options.is_debug() {
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
                    if self.options.keeps_going() {
                        // -check: remember the fatal error and read on, so that every later
                        // problem is reported too; the load still fails at the end.
                        self.fatal_defaults = true;
                        Ok(())
                    } else {
                        Err(Fatal)
                    }
                }
            }
        }
    }
}

pub(super) enum EntryOutcome {
    Complete,
    Failed,
}

/// The skip that xinetd performs after abandoning an entry early: it ends where the entry
/// ended anyway (its `}` or the skip after its bad line), so we reuse that information.
pub(super) fn entry_skip(e: &Entry) -> Skip {
    match &e.end {
        EntryEnd::Closed => Skip::default(),
        EntryEnd::BadLine { skip, .. } => skip.clone(),
        EntryEnd::Eof { line } => Skip {
            swallowed: Vec::new(),
            eof_line: Some(*line),
        },
    }
}

/// The extension word of a `log_type` value (`JOURNAL`, `FILE ... JSON`), if any.
fn log_type_extension(l: &crate::model::LogType) -> Option<&'static str> {
    match l {
        crate::model::LogType::Journal { .. } => Some("JOURNAL"),
        crate::model::LogType::File {
            format: crate::model::LogFormat::Json,
            ..
        } => Some("FILE ... JSON"),
        _ => None,
    }
}
