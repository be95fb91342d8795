//! `include` and `includedir` following (xinetd's parse_conf_file / handle_includedir).

use crate::diagnostic::{diag, errno_text, Severity, XinetdLevel};
use crate::model::*;
use crate::syntax::{self};

use super::{Fatal, Loader};

/// Maximum include nesting; xinetd has no loop protection and recurses until it crashes.
pub(super) const MAX_INCLUDE_DEPTH: usize = 32;

impl Loader<'_> {
    pub(super) fn include(&mut self, path: &str, span: &Span) -> Result<(), Fatal> {
        if !self.env.follows_includes() {
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
                        format!("cannot open included file {path}: {}", errno_text(&e)),
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

    pub(super) fn includedir(&mut self, dir: &str, span: &Span) -> Result<(), Fatal> {
        if !self.env.follows_includes() {
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
                        format!("cannot read included directory {dir}: {}", errno_text(&e)),
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
}
