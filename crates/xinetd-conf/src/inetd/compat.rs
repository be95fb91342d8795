//! `xinetd -inetd_compat`: inetd.conf lines merged into a loaded xinetd configuration
//! (F-809, F-830, F-831), through the same post-parse passes as xinetd.conf services.

use std::collections::BTreeSet;
use std::path::Path;

use crate::diagnostic::{diag, errno_text, Severity, XinetdLevel};
use crate::env::Environment;
use crate::load::{into_service, Checks, Claim, Draft, Loaded, Origin};
use crate::model::*;

use super::{parse_inetd, InetdEntry, InetdError, InetdLine, InetdServer, FUNC};

/// What [`merge_inetd_bytes`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InetdSummary {
    /// Whether the file was read (xinetd silently ignores a missing inetd.conf).
    pub read: bool,
    /// Entry lines found.
    pub entries: usize,
    /// Services added to the configuration.
    pub added: usize,
    /// Lines or services rejected (see the diagnostics).
    pub rejected: usize,
}

/// `xinetd -inetd_compat`: reads the inetd.conf at `path` (through
/// [`Environment::map_path`]) and merges its services into `loaded` with
/// [`merge_inetd_bytes`]. A file that cannot be read adds nothing, as in xinetd, and a
/// warning diagnostic says so.
pub fn load_inetd_compat(loaded: &mut Loaded, path: &Path, env: &Environment) -> InetdSummary {
    let shown = path.to_string_lossy().into_owned();
    match std::fs::read(env.map_path(&shown)) {
        Ok(bytes) => merge_inetd_bytes(loaded, &bytes, &shown, env),
        Err(e) => {
            let err = InetdError::Unreadable {
                path: shown.clone(),
                reason: errno_text(&e),
            };
            let mut d = err.to_diagnostic(&shown);
            d.severity = Severity::Warning;
            d.hint = Some("xinetd -inetd_compat skips an unreadable inetd.conf silently".into());
            loaded.diagnostics.push(d);
            InetdSummary::default()
        }
    }
}

/// Merges the services of inetd.conf text into `loaded` as xinetd 2.3.15.3 does after
/// reading its own configuration (F-830, F-831): each line becomes a service with
/// `groups = yes`; external servers get `flags = REUSE NOLIBWRAP NAMEINARGS` and the rest
/// of the line as argv; `internal` becomes `type = INTERNAL`; `rpc/...` protocols make RPC
/// services. Then, like every xinetd service, each one goes through the `enabled` /
/// `disabled` lists, the end-of-parse defaults fill (F-047: instances, per_source, cps,
/// max_load, umask, bind, log_type, log_on_success/failure — but not only_from,
/// no_access, passenv or banners, which xinetd copies only into xinetd.conf entries),
/// the /etc/services port lookup, builtin and /etc/rpc checks and the duplicate rule
/// (F-071) against every service accepted before it.
///
/// Bad lines are reported in `loaded.diagnostics` (with xinetd's own log line where it
/// writes one) and listed in `loaded.dropped`; the other lines still count. Diagnostics
/// are appended after those of the xinetd.conf load: first every line's parse messages,
/// then the post-parse checks, in xinetd's order (xinetd itself logs the inetd.conf parse
/// messages before the post-parse checks of the xinetd.conf services too).
pub fn merge_inetd_bytes(
    loaded: &mut Loaded,
    bytes: &[u8],
    file: &str,
    env: &Environment,
) -> InetdSummary {
    let lines = parse_inetd(bytes, file);
    let mut summary = InetdSummary {
        read: true,
        entries: lines.len(),
        ..InetdSummary::default()
    };
    let defaults = loaded.config.defaults.clone();
    let mut m = Merger {
        env,
        file,
        defaults: &defaults,
        loaded,
    };
    if !lines.is_empty() {
        m.note_uncopied_defaults(&lines[0].span);
    }
    // Like xinetd: every line is read (and its messages logged) first, then the entries go
    // through remove_disabled_services, service_fill and check_entry in file order.
    let mut read = Vec::new();
    for line in &lines {
        match m.read_line(line) {
            Some(r) => read.push(r),
            None => summary.rejected += 1,
        }
    }
    for (entry, lookups) in read {
        match m.service(&entry, lookups) {
            Some(s) => {
                m.loaded.config.services.push(Box::new(s));
                summary.added += 1;
            }
            None => summary.rejected += 1,
        }
    }
    summary
}

/// What get_next_inet_entry() looked up for an entry.
struct Lookups {
    protocol_number: i32,
    user: Spanned<User>,
    group: Option<Spanned<Group>>,
}

struct Merger<'a> {
    env: &'a Environment,
    file: &'a str,
    defaults: &'a Defaults,
    loaded: &'a mut Loaded,
}

impl Merger<'_> {
    /// xinetd copies these defaults only into xinetd.conf entries (F-046): say so once.
    fn note_uncopied_defaults(&mut self, at: &Span) {
        let d = self.defaults;
        let names: Vec<&str> = [
            ("only_from", d.only_from.is_some()),
            ("no_access", d.no_access.is_some()),
            ("passenv", d.passenv.is_some()),
            ("banner", d.banner.is_some()),
            ("banner_success", d.banner_success.is_some()),
            ("banner_fail", d.banner_fail.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect();
        if names.is_empty() {
            return;
        }
        let at = Span {
            column: 0,
            line: 0,
            ..at.clone()
        };
        self.loaded.diagnostics.push(
            diag(
                &at,
                Severity::Warning,
                format!(
                    "defaults {} do not apply to inetd.conf services",
                    names.join(", ")
                ),
            )
            .hint("xinetd copies these attributes from defaults only into xinetd.conf entries; an inetd.conf service is not restricted by a defaults only_from"),
        );
    }

    fn reject(&mut self, line: &InetdLine, err: &InetdError) {
        self.loaded.diagnostics.push(err.to_diagnostic(self.file));
        if let Some(name) = line.fields.first() {
            let name = name.value.split('/').next().unwrap_or("").to_string();
            self.loaded.dropped.push(DroppedService {
                id: name.clone(),
                name,
                span: line.span.clone(),
                reason: DropReason::Error,
            });
        }
    }

    fn drop(&mut self, e: &InetdEntry, reason: DropReason) {
        self.loaded.dropped.push(DroppedService {
            name: e.name.value.clone(),
            id: e.id(),
            span: e.span.clone(),
            reason,
        });
    }

    /// get_next_inet_entry(): one line read, with its lookups; `None` when it is rejected
    /// (reported).
    fn read_line(&mut self, line: &InetdLine) -> Option<(InetdEntry, Lookups)> {
        // xinetd splits on spaces and tabs only: a DOS line ending stays in the last field
        // (`internal\r` is then a server path). Keep that, and say so.
        if let Some(last) = line.fields.last().filter(|f| f.value.ends_with('\r')) {
            self.loaded.diagnostics.push(
                diag(
                    &last.span,
                    Severity::Warning,
                    format!("the last field '{}' ends with a carriage return", last.value.trim_end_matches('\r')),
                )
                .hint("xinetd keeps the CR of a CRLF line ending in the last field; convert the file to Unix line endings"),
            );
        }
        let result = InetdEntry::parse(line).and_then(|e| {
            let l = self.lookups(&e)?;
            Ok((e, l))
        });
        match result {
            Ok(r) => Some(r),
            Err(err) => {
                self.reject(line, &err);
                None
            }
        }
    }

    /// get_next_inet_entry's lookups and checks after the line was split.
    fn lookups(&mut self, e: &InetdEntry) -> Result<Lookups, InetdError> {
        let env = self.env;
        let number =
            env.protocol_number(&e.protocol.value)
                .ok_or_else(|| InetdError::UnknownProtocol {
                    span: e.protocol.span.clone(),
                    value: e.protocol.value.clone(),
                })?;
        if let Some(w) = &e.wait_note {
            let keeps = if e.wait.value {
                "wait = yes"
            } else {
                "wait = no"
            };
            self.loaded.diagnostics.push(
                diag(
                    &w.span,
                    Severity::Warning,
                    format!("'{}' read as {keeps}; anything after '.' (inetd's max rate) is ignored", w.value),
                )
                .hint("xinetd 2.3.15.3 logs this and uses wait = no even for wait.N (docs/compat.md); use cps for a rate limit")
                .xparse(XinetdLevel::Error, FUNC, format!("inetd.conf - Bad value for wait: {}", w.value)),
            );
        }
        // xinetd looks the group up before the user.
        let group = match &e.group {
            Some(g) => {
                let ge = env
                    .group_by_name(&g.value)
                    .ok_or_else(|| InetdError::UnknownGroup {
                        span: g.span.clone(),
                        value: g.value.clone(),
                    })?;
                Some(Spanned::new(
                    Group {
                        text: g.value.clone(),
                        gid: ge.gid,
                    },
                    g.span.clone(),
                ))
            }
            None => None,
        };
        let pw = env
            .user_by_name(&e.user.value)
            .ok_or_else(|| InetdError::UnknownUser {
                span: e.user.span.clone(),
                value: e.user.value.clone(),
            })?;
        let user = Spanned::new(
            User {
                text: e.user.value.clone(),
                uid: pw.uid,
                gid: pw.gid,
            },
            e.user.span.clone(),
        );
        // xinetd refuses internal discard after the user lookup (F-830).
        if let InetdServer::Internal(span) = &e.server {
            if e.name.value.eq_ignore_ascii_case("discard") {
                return Err(InetdError::DiscardNotSupported { span: span.clone() });
            }
        }
        let id = e.id();
        self.loaded.diagnostics.push(
            diag(
                &e.span,
                Severity::Info,
                format!("inetd.conf service '{id}' read"),
            )
            .service(Some(&id))
            .xparse(
                XinetdLevel::Debug,
                FUNC,
                format!("added service {}", e.name.value),
            ),
        );
        Ok(Lookups {
            protocol_number: number,
            user,
            group,
        })
    }

    /// remove_disabled_services, service_fill and check_entry for one entry, the same
    /// passes as for an xinetd.conf service; `None` when it is dropped (reported).
    fn service(&mut self, e: &InetdEntry, lookups: Lookups) -> Option<Service> {
        let mut d = draft(e, lookups);
        let loaded = &mut *self.loaded;
        let mut checks = Checks {
            env: self.env,
            // The admin builtins exist for xinetd.conf entries only.
            admin_builtins: false,
            diagnostics: &mut loaded.diagnostics,
        };
        if let Some(reason) = checks.remove_disabled(&mut d, self.defaults) {
            self.drop(e, reason);
            return None;
        }
        // Duplicates (F-071) are checked against every service accepted before this one,
        // xinetd.conf's and the earlier inetd.conf lines'.
        let ok = checks.service_fill(&mut d, self.defaults)
            && checks.check_entry(
                &mut d,
                loaded
                    .config
                    .services
                    .iter()
                    .filter_map(|s| Claim::of_service(s)),
            );
        if !ok {
            self.drop(e, DropReason::Error);
            return None;
        }
        checks.clear_identity_userid(&mut d);
        Some(into_service(d))
    }
}

/// An inetd.conf entry as the service xinetd makes of it (F-830, F-831), before the
/// defaults fill: `groups = yes`; external servers get `flags = REUSE NOLIBWRAP NAMEINARGS`
/// and the rest of the line as argv; `internal` becomes `type = INTERNAL`; `rpc/...`
/// protocols make RPC services. Values carry the span of the field they come from, the
/// others that of the service name.
fn draft(e: &InetdEntry, lookups: Lookups) -> Draft {
    let hs = e.name.span.clone();
    let mut d = Draft::new(e.name.value.clone(), hs.clone(), false);
    d.origin = Origin::InetdConf;
    d.id = Some(Spanned::new(e.id(), hs.clone()));
    d.socket_type = Some(e.socket_type.clone());
    d.protocol = Some(Spanned::new(
        Protocol {
            name: e.protocol.value.clone(),
            number: lookups.protocol_number,
        },
        e.protocol.span.clone(),
    ));
    d.wait = Some(e.wait.clone());
    d.user = Some(lookups.user);
    d.group = lookups.group;
    // inetd runs servers with the user's supplementary groups (F-830).
    d.groups = Some(Spanned::new(true, e.user.span.clone()));
    d.rpc_version = e.rpc_version.clone();
    match &e.server {
        InetdServer::Internal(span) => {
            let mut t = BTreeSet::from([ServiceType::Internal]);
            if e.is_rpc() {
                t.insert(ServiceType::Rpc);
            }
            d.types = Some(Spanned::new(t, span.clone()));
        }
        InetdServer::External { path, argv } => {
            let t = if e.is_rpc() {
                BTreeSet::from([ServiceType::Rpc])
            } else {
                BTreeSet::new()
            };
            d.types = Some(Spanned::new(t, hs));
            d.flags = Some(Spanned::new(
                BTreeSet::from([
                    ServiceFlag::Reuse,
                    ServiceFlag::NoLibwrap,
                    ServiceFlag::NameInArgs,
                ]),
                path.span.clone(),
            ));
            d.server = Some(path.clone());
            let args_span = argv
                .first()
                .map_or_else(|| path.span.clone(), |a| a.span.clone());
            d.server_args = Some(Spanned::new(
                argv.iter().map(|a| a.value.clone()).collect(),
                args_span,
            ));
        }
    }
    d
}
