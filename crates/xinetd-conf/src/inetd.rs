//! inetd.conf support: the line parser, xinetd's `-inetd_compat` reader (F-809, F-830,
//! F-831) and the `itox` / `xconv.pl` converters (F-900..F-911).
//!
//! * [`parse_inetd`] splits an inetd.conf into [`InetdLine`]s (raw fields with spans) the
//!   way xinetd's `next_line()` does; [`InetdEntry::parse`] reads one line as xinetd's
//!   `get_next_inet_entry()` does, with typed [`InetdError`]s naming file:line:col.
//! * [`load_inetd_compat`] / [`merge_inetd_bytes`] add the services of an inetd.conf to a
//!   [`Loaded`] xinetd configuration exactly as `xinetd -inetd_compat` does after reading
//!   its own files: same defaults fill (F-047, but *not* the copy-at-start of F-046), same
//!   `enabled`/`disabled` filter, same validation and duplicate rules (F-071).
//! * [`convert_inetd`] writes xinetd.conf text for an inetd.conf, byte for byte as Debian's
//!   `itox` ([`ConvertStyle::Itox`], the default) or `xconv.pl` ([`ConvertStyle::Xconv`]).
//!
//! # Example: `-inetd_compat` and conversion
//!
//! ```
//! use xinetd_conf::{
//!     convert_inetd, load_bytes, merge_inetd_bytes, ConvertOptions, Environment, LoadOptions,
//!     parse_passwd, parse_services,
//! };
//!
//! let env = Environment::isolated()
//!     .passwd(parse_passwd("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"))
//!     .services(parse_services("echo 7/tcp\necho 7/udp\nfinger 79/tcp\n"));
//! let options = LoadOptions::new();
//! let inetd = "\
//! ## standard services
//! echo    stream tcp nowait root   internal
//! finger  stream tcp nowait nobody /usr/sbin/in.fingerd in.fingerd -w
//! ";
//! // xinetd -inetd_compat: the xinetd.conf first, then inetd.conf on top of it.
//! let mut loaded = load_bytes(b"", "xinetd.conf", &env, &options)?;
//! let summary = merge_inetd_bytes(&mut loaded, inetd.as_bytes(), "/etc/inetd.conf", &env);
//! assert_eq!(summary.added, 2);
//! let finger = &loaded.config.services[1];
//! assert_eq!(finger.id.value, "finger");
//! assert_eq!(finger.port.as_ref().map(|p| p.value), Some(79));
//! // NAMEINARGS: argv[0] is taken from the line, like inetd.
//! assert_eq!(finger.server_args.as_ref().unwrap().value, ["in.fingerd", "-w"]);
//! // Internal echo gets the id "echo-dgram" even on a stream line (F-831).
//! assert_eq!(loaded.config.services[0].id.value, "echo-dgram");
//!
//! // itox: the same file as xinetd.conf text, which loads back.
//! let conv = convert_inetd(inetd.as_bytes(), "inetd.conf", &ConvertOptions::default());
//! assert!(conv.errors.is_empty());
//! assert!(conv.text.starts_with("service echo\n{\n\tsocket_type     = stream\n"));
//! let back = load_bytes(conv.text.as_bytes(), "converted.conf", &env, &options)?;
//! assert_eq!(back.config.services.len(), 2);
//! # Ok::<(), xinetd_conf::LoadError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{diag, errno_text, Diagnostic, Severity, XinetdLevel};
use crate::env::Environment;
use crate::load::{into_service, Checks, Claim, Draft, Loaded, Origin};
use crate::model::*;

/// Where xinetd looks for the inetd configuration with `-inetd_compat` (F-809).
pub const INETD_CONF: &str = "/etc/inetd.conf";

/// The C function xinetd names in its inetd.conf messages.
const FUNC: &str = "get_next_inet_entry";

/// A problem with one inetd.conf line, or with the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InetdError {
    /// The file cannot be read.
    #[error("{path}: cannot read inetd configuration: {reason}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The I/O error text.
        reason: String,
    },
    /// A required field is missing (`socket type`, `protocol`, `wait/nowait`,
    /// `user[.group]`, `server`, `server name`).
    #[error("{span}: {field} missing")]
    MissingField {
        /// Where the field should have been (just past the end of the line).
        span: Span,
        /// What is missing, in itox's words.
        field: &'static str,
    },
    /// The socket type is not `stream`, `dgram`, `raw` or `seqpacket`.
    #[error("{span}: bad socket type '{value}'")]
    BadSocketType {
        /// The field.
        span: Span,
        /// As written.
        value: String,
    },
    /// An `rpc/...` protocol with a service name lacking `/version`, or a version that is
    /// not `N` or `N-M` with N <= M.
    #[error("{span}: bad RPC version '{value}' (expected name/N or name/N-M)")]
    BadRpcVersion {
        /// The name field.
        span: Span,
        /// The text after `/` (empty when there is none).
        value: String,
    },
    /// An RPC protocol field without `/` (`rpc` instead of `rpc/tcp`).
    #[error("{span}: RPC protocol '{value}' must be written rpc/tcp or rpc/udp")]
    BadRpcProtocol {
        /// The field.
        span: Span,
        /// As written.
        value: String,
    },
    /// The protocol is not in /etc/protocols (this includes `tcp6` and `udp6`).
    #[error("{span}: protocol '{value}' is not in /etc/protocols")]
    UnknownProtocol {
        /// The field.
        span: Span,
        /// As looked up.
        value: String,
    },
    /// The user is not in the password database.
    #[error("{span}: unknown user '{value}'")]
    UnknownUser {
        /// The field.
        span: Span,
        /// As looked up.
        value: String,
    },
    /// The group is not in the group database.
    #[error("{span}: unknown group '{value}'")]
    UnknownGroup {
        /// The group part of the field.
        span: Span,
        /// As looked up.
        value: String,
    },
    /// `discard ... internal`: xinetd refuses it (F-830).
    #[error("{span}: internal service discard is not supported with -inetd_compat")]
    DiscardNotSupported {
        /// The server field.
        span: Span,
    },
    /// itox: the server is `tcpd` but no daemon directory was given (F-902).
    #[error("{span}: the server is tcpd: a daemon directory (-daemon_dir) is needed")]
    TcpdNeedsDaemonDir {
        /// The server field.
        span: Span,
    },
}

impl InetdError {
    /// Where the problem is.
    pub fn span(&self) -> Option<&Span> {
        match self {
            InetdError::Unreadable { .. } => None,
            InetdError::MissingField { span, .. }
            | InetdError::BadSocketType { span, .. }
            | InetdError::BadRpcVersion { span, .. }
            | InetdError::BadRpcProtocol { span, .. }
            | InetdError::UnknownProtocol { span, .. }
            | InetdError::UnknownUser { span, .. }
            | InetdError::UnknownGroup { span, .. }
            | InetdError::DiscardNotSupported { span }
            | InetdError::TcpdNeedsDaemonDir { span } => Some(span),
        }
    }

    /// The line xinetd 2.3.15.3 logs for the same problem with `-inetd_compat`, if any
    /// (xinetd crashes on a missing protocol field and drops bad RPC versions silently).
    fn xinetd_text(&self) -> Option<(XinetdLevel, String)> {
        let e = XinetdLevel::Error;
        Some(match self {
            // xinetd has messages for missing fields, but it indexes its field list without
            // a bound check first, so what it does on a short line is undefined (observed:
            // SIGSEGV for a line without a server). No line to copy.
            InetdError::MissingField { .. } => return None,
            // xinetd prints a pointer that is NULL at that point: glibc writes "(null)".
            InetdError::BadSocketType { .. } => (e, "inetd.conf - Bad socket type: (null)".into()),
            InetdError::BadRpcProtocol { .. } => (e, "inetd.conf - bad rpc version numbers".into()),
            InetdError::UnknownProtocol { value, .. } => (
                e,
                format!("inetd.conf - Protocol {value} not in /etc/protocols"),
            ),
            InetdError::UnknownUser { value, .. } => {
                (e, format!("inetd.conf - Unknown user: {value}"))
            }
            InetdError::UnknownGroup { value, .. } => {
                (e, format!("inetd.conf - Unknown group: {value}"))
            }
            InetdError::DiscardNotSupported { .. } => (
                XinetdLevel::Warning,
                "inetd.conf - service discard not supported".into(),
            ),
            _ => return None,
        })
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            InetdError::UnknownProtocol { value, .. } if value.ends_with('6') => Some(
                "xinetd reads tcp6/udp6 as protocol names, which /etc/protocols does not list; write tcp or udp (xinetd-rs services listen dual-stack by default)",
            ),
            InetdError::UnknownUser { value, .. } if value.contains(':') => Some(
                "xinetd only understands user.group; write the group after a '.'",
            ),
            InetdError::BadRpcVersion { .. } => {
                Some("xinetd drops this line without a message")
            }
            InetdError::MissingField { .. } => Some(
                "xinetd 2.3.15.3 reads past the end of the line here and may crash (observed: SIGSEGV)",
            ),
            InetdError::DiscardNotSupported { .. } => Some(
                "declare discard in xinetd.conf instead (type = INTERNAL, id = discard-stream)",
            ),
            _ => None,
        }
    }

    /// The error as a [`Diagnostic`] carrying xinetd's log line.
    pub fn to_diagnostic(&self, file: &str) -> Diagnostic {
        let span = self.span().cloned().unwrap_or(Span {
            file: Arc::from(file),
            line: 0,
            column: 0,
        });
        let severity = if matches!(self, InetdError::DiscardNotSupported { .. }) {
            Severity::Warning
        } else {
            Severity::Error
        };
        let message = match self {
            InetdError::Unreadable { .. } => self.to_string(),
            other => {
                let full = other.to_string();
                let prefix = format!("{span}: ");
                full.strip_prefix(&prefix).unwrap_or(&full).to_string()
            }
        };
        let mut d = diag(&span, severity, message);
        if let Some(h) = self.hint() {
            d = d.hint(h);
        }
        if let Some((level, text)) = self.xinetd_text() {
            d = d.xparse(level, FUNC, text);
        }
        d
    }
}

/// One non-comment inetd.conf line split into fields (on spaces and tabs only, like
/// xinetd's `str_parse(line, " \t")`).
#[derive(Debug, Clone, PartialEq)]
pub struct InetdLine {
    /// The line (column 1).
    pub span: Span,
    /// The whole line as read (up to a NUL byte, without the newline).
    pub text: String,
    /// The fields with their spans.
    pub fields: Vec<Spanned<String>>,
}

impl InetdLine {
    fn field(&self, i: usize, what: &'static str) -> Result<&Spanned<String>, InetdError> {
        self.fields.get(i).ok_or_else(|| InetdError::MissingField {
            span: self.end_span(),
            field: what,
        })
    }
    fn end_span(&self) -> Span {
        Span {
            column: u32::try_from(self.text.len() + 1).unwrap_or(u32::MAX),
            ..self.span.clone()
        }
    }
}

/// Physical lines of a file as xinetd's `Srdline()` returns them: split on `\n`, each cut
/// at its first NUL byte. Yields (1-based number, text).
fn physical_lines(bytes: &[u8]) -> impl Iterator<Item = (u32, String)> + '_ {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .enumerate()
        .map(|(i, raw)| {
            let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
            (
                u32::try_from(i + 1).unwrap_or(u32::MAX),
                String::from_utf8_lossy(raw).into_owned(),
            )
        })
}

/// C `isspace()` in the C locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Splits `text` on `seps`, dropping empty words, keeping byte columns.
fn words(text: &str, span: &Span, is_sep: fn(char) -> bool) -> Vec<Spanned<String>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if is_sep(c) {
            if let Some(s) = start.take() {
                out.push(Spanned::new(
                    text[s..i].to_string(),
                    Span {
                        column: u32::try_from(s + 1).unwrap_or(u32::MAX),
                        ..span.clone()
                    },
                ));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    out
}

/// Splits an inetd.conf into its entry lines, skipping what xinetd's `next_line()` skips:
/// lines that are blank (C `isspace`) or whose first non-blank character is `#`.
pub fn parse_inetd(bytes: &[u8], file: &str) -> Vec<InetdLine> {
    let file: Arc<str> = Arc::from(file);
    physical_lines(bytes)
        .filter_map(|(number, text)| {
            let first = text.chars().find(|c| !is_c_space(*c))?;
            if first == '#' {
                return None;
            }
            let span = Span {
                file: file.clone(),
                line: number,
                column: 1,
            };
            let fields = words(&text, &span, |c| c == ' ' || c == '\t');
            Some(InetdLine { span, text, fields })
        })
        .collect()
}

/// What runs for an inetd.conf entry.
#[derive(Debug, Clone, PartialEq)]
pub enum InetdServer {
    /// `internal` (compared case-insensitively, as xinetd does): an xinetd builtin.
    Internal(Span),
    /// A program and its full argv (`argv[0]` included, inetd style).
    External {
        /// The program path.
        path: Spanned<String>,
        /// argv, starting with `argv[0]`; may be empty when the line ends at the path.
        argv: Vec<Spanned<String>>,
    },
}

/// One inetd.conf line read as `xinetd -inetd_compat` reads it (before any database
/// lookup).
#[derive(Debug, Clone, PartialEq)]
pub struct InetdEntry {
    /// The whole line.
    pub span: Span,
    /// The service name (without `/version`).
    pub name: Spanned<String>,
    /// For `rpc/...` protocols: the versions from `name/N` or `name/N-M`.
    pub rpc_version: Option<Spanned<RpcVersion>>,
    /// The socket type.
    pub socket_type: Spanned<SocketType>,
    /// The protocol name to look up (the part after `rpc/` for RPC services).
    pub protocol: Spanned<String>,
    /// `wait` → true, `nowait` → false (see [`InetdEntry::wait_note`]).
    pub wait: Spanned<bool>,
    /// Set when the wait field was not exactly `wait` or `nowait` (e.g. `nowait.400`).
    pub wait_note: Option<Spanned<String>>,
    /// The user (before the first `.`).
    pub user: Spanned<String>,
    /// The group (after the first `.`).
    pub group: Option<Spanned<String>>,
    /// The server.
    pub server: InetdServer,
}

impl InetdEntry {
    /// Whether the protocol field named an RPC protocol.
    pub fn is_rpc(&self) -> bool {
        self.rpc_version.is_some()
    }

    /// Reads the fields of one line in xinetd's order (F-830), without database lookups
    /// (and so without the checks that follow them in xinetd: protocol, group, user, and
    /// the refusal of internal `discard`, which [`merge_inetd_bytes`] applies).
    pub fn parse(line: &InetdLine) -> Result<InetdEntry, InetdError> {
        let name_f = line.field(0, "service name")?;
        let (name, version) = match name_f.value.split_once('/') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (name_f.value.clone(), None),
        };
        let name = Spanned::new(name, name_f.span.clone());
        let st_f = line.field(1, "socket type")?;
        let socket_type = SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(&st_f.value))
            .ok_or_else(|| InetdError::BadSocketType {
                span: st_f.span.clone(),
                value: st_f.value.clone(),
            })?;
        let socket_type = Spanned::new(socket_type, st_f.span.clone());
        let proto_f = line.field(2, "protocol")?;
        let mut protocol = proto_f.clone();
        let mut rpc_version = None;
        // xinetd: strstr(proto, "rpc"), case-sensitive.
        if proto_f.value.contains("rpc") {
            let bad = || InetdError::BadRpcVersion {
                span: name_f.span.clone(),
                value: version.clone().unwrap_or_default(),
            };
            let v = version.as_deref().ok_or_else(bad)?;
            let (min, max) = match v.split_once('-') {
                Some((a, b)) => {
                    let min: i32 = a.parse().map_err(|_| bad())?;
                    let max: i32 = b.parse().map_err(|_| bad())?;
                    if min > max {
                        return Err(bad());
                    }
                    (min, max)
                }
                None => {
                    let n: i32 = v.parse().map_err(|_| bad())?;
                    (n, n)
                }
            };
            let (_, after) =
                proto_f
                    .value
                    .split_once('/')
                    .ok_or_else(|| InetdError::BadRpcProtocol {
                        span: proto_f.span.clone(),
                        value: proto_f.value.clone(),
                    })?;
            let offset = proto_f.value.len() - after.len();
            protocol = Spanned::new(
                after.to_string(),
                Span {
                    column: proto_f.span.column + u32::try_from(offset).unwrap_or(0),
                    ..proto_f.span.clone()
                },
            );
            rpc_version = Some(Spanned::new(RpcVersion { min, max }, name_f.span.clone()));
        }
        let wait_f = line.field(3, "wait/nowait")?;
        // xinetd accepts exactly `wait` / `nowait` (case-insensitive). Anything else is
        // logged and, in xinetd, leaves wait = no; we honour the word before a `.max`
        // suffix instead (docs/compat.md: `wait.N` stays a wait service).
        let head = wait_f.value.split('.').next().unwrap_or("");
        let (wait, wait_note) = if wait_f.value.eq_ignore_ascii_case("wait") {
            (true, None)
        } else if wait_f.value.eq_ignore_ascii_case("nowait") {
            (false, None)
        } else {
            (head.eq_ignore_ascii_case("wait"), Some(wait_f.clone()))
        };
        let wait = Spanned::new(wait, wait_f.span.clone());
        let user_f = line.field(4, "user[.group]")?;
        let (user, group) = match user_f.value.split_once('.') {
            Some((u, g)) => {
                let gspan = Span {
                    column: user_f.span.column + u32::try_from(u.len() + 1).unwrap_or(0),
                    ..user_f.span.clone()
                };
                (
                    Spanned::new(u.to_string(), user_f.span.clone()),
                    Some(Spanned::new(g.to_string(), gspan)),
                )
            }
            None => (user_f.clone(), None),
        };
        let server_f = line.field(5, "server")?;
        let server = if server_f.value.eq_ignore_ascii_case("internal") {
            InetdServer::Internal(server_f.span.clone())
        } else {
            InetdServer::External {
                path: server_f.clone(),
                argv: line.fields[6..].to_vec(),
            }
        };
        Ok(InetdEntry {
            span: line.span.clone(),
            name,
            rpc_version,
            socket_type,
            protocol,
            wait,
            wait_note,
            user,
            group,
            server,
        })
    }

    /// The id xinetd gives the service: internal `time`, `daytime`, `chargen` and `echo`
    /// always get `<name>-dgram` (xinetd compares the *protocol* with `stream`, F-831);
    /// everything else keeps its name.
    pub fn id(&self) -> String {
        if matches!(self.server, InetdServer::Internal(_)) {
            for n in ["time", "daytime", "chargen", "echo"] {
                if self.name.value.eq_ignore_ascii_case(n) {
                    return format!("{n}-dgram");
                }
            }
        }
        self.name.value.clone()
    }
}

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

/// Which converter's output to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConvertStyle {
    /// `itox` (the C converter, F-900..F-902): `\t%-15s = %s` lines, `argv[0]` dropped,
    /// `tcpd` replaced by the daemon with `-daemon_dir`, no defaults block.
    #[default]
    Itox,
    /// `xconv.pl` (F-910, F-911): a comment header and a fixed `defaults` block, RPC
    /// lines skipped, `flags = NAMEINARGS` on every service, tcpd kept as the server.
    Xconv,
}

/// Options of [`convert_inetd`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// Output layout.
    pub style: ConvertStyle,
    /// itox's `-daemon_dir DIR`: where the daemons run by `tcpd` live (one trailing `/` is
    /// removed, as itox does). Ignored by [`ConvertStyle::Xconv`].
    pub daemon_dir: Option<String>,
}

impl ConvertOptions {
    /// itox's output, no `-daemon_dir`.
    pub fn new() -> ConvertOptions {
        ConvertOptions::default()
    }
    /// Sets [`ConvertOptions::style`].
    pub fn style(mut self, style: ConvertStyle) -> Self {
        self.style = style;
        self
    }
    /// Sets [`ConvertOptions::daemon_dir`].
    pub fn daemon_dir(mut self, dir: Option<String>) -> Self {
        self.daemon_dir = dir;
        self
    }
}

/// The result of [`convert_inetd`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Conversion {
    /// The xinetd.conf text for every convertible line.
    pub text: String,
    /// What the converter would print on stderr without stopping, and what will not load.
    pub warnings: Vec<Diagnostic>,
    /// Lines that could not be converted (the converter stops at the first one; we report
    /// and skip each of them).
    pub errors: Vec<InetdError>,
}

impl Conversion {
    /// `true` when every line was converted.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Converts inetd.conf text to xinetd.conf text as `itox` or `xconv.pl` would (see
/// [`ConvertStyle`]). The text of convertible lines is exactly what the tool prints;
/// where the tool would stop at a bad line (itox exits with `Line N: ... missing`), we
/// record an [`InetdError`] and continue with the next line.
pub fn convert_inetd(bytes: &[u8], file: &str, options: &ConvertOptions) -> Conversion {
    match options.style {
        ConvertStyle::Itox => convert_itox(bytes, file, options.daemon_dir.as_deref()),
        ConvertStyle::Xconv => convert_xconv(bytes, file),
    }
}

fn itox_line(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "\t{name:<15} = {value}");
}

fn warn(span: &Span, message: String, hint: &str) -> Diagnostic {
    diag(span, Severity::Warning, message).hint(hint)
}

fn convert_itox(bytes: &[u8], file: &str, daemon_dir: Option<&str>) -> Conversion {
    let file: Arc<str> = Arc::from(file);
    let dir = daemon_dir.map(|d| d.strip_suffix('/').unwrap_or(d).to_string());
    let mut conv = Conversion::default();
    for (number, text) in physical_lines(bytes) {
        // itox skips only empty lines and lines with `#` in column 1 (F-900).
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let span = Span {
            file: file.clone(),
            line: number,
            column: 1,
        };
        let line = InetdLine {
            fields: words(&text, &span, |c| c == ' ' || c == '\t'),
            span,
            text,
        };
        let mut warnings = Vec::new();
        match itox_entry(&line, dir.as_deref(), &mut warnings) {
            Ok(s) => {
                conv.text.push_str(&s);
                conv.warnings.append(&mut warnings);
            }
            Err(e) => conv.errors.push(e),
        }
    }
    conv
}

fn itox_entry(
    line: &InetdLine,
    dir: Option<&str>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<String, InetdError> {
    let mut out = String::new();
    let name_f = line.field(0, "service name")?;
    let (service, version) = match name_f.value.split_once('/') {
        Some((n, v)) => (n, Some(v)),
        None => (name_f.value.as_str(), None),
    };
    let _ = write!(out, "service {service}\n{{\n");
    if let Some(v) = version {
        itox_line(&mut out, "type", "RPC");
        itox_line(&mut out, "rpc_version", v);
    }
    let socket_type = &line.field(1, "socket type")?.value;
    itox_line(&mut out, "socket_type", socket_type);
    let proto_f = line.field(2, "protocol")?;
    let protocol = proto_f
        .value
        .split_once('/')
        .map_or(proto_f.value.as_str(), |(_, p)| p);
    itox_line(&mut out, "protocol", protocol);
    if protocol.ends_with('6') {
        warnings.push(warn(
            &proto_f.span,
            format!(
                "protocol '{protocol}' is copied as is; xinetd will not find it in /etc/protocols"
            ),
            "write tcp or udp",
        ));
    }
    let wait_f = line.field(3, "wait/nowait")?;
    let word = match wait_f.value.split_once('.') {
        Some((w, _)) => {
            warnings.push(warn(
                &wait_f.span,
                format!("the entry for service {service}/{protocol} may be wrong: the .max option of the wait/nowait field cannot be converted"),
                "use cps for a rate limit",
            ));
            w
        }
        None => wait_f.value.as_str(),
    };
    itox_line(&mut out, "wait", if word == "wait" { "yes" } else { "no" });
    let user_f = line.field(4, "user[.group]")?;
    match user_f.value.split_once('.') {
        Some((u, g)) => {
            itox_line(&mut out, "user", u);
            itox_line(&mut out, "group", g);
        }
        None => {
            itox_line(&mut out, "user", &user_f.value);
            if user_f.value.contains(':') {
                warnings.push(warn(
                    &user_f.span,
                    format!(
                        "user '{}' is copied as is; xinetd has no user:group syntax",
                        user_f.value
                    ),
                    "write user.group in inetd.conf, or user and group lines in the output",
                ));
            }
        }
    }
    let server_f = line.field(5, "server")?;
    if server_f.value == "internal" {
        if version.is_some() {
            warnings.push(warn(
                &server_f.span,
                format!("the entry for service {service} will be wrong: internal RPC services cannot be converted"),
                "xinetd has no internal RPC services",
            ));
        } else {
            itox_line(&mut out, "type", "INTERNAL");
            itox_line(&mut out, "id", &format!("{service}-{socket_type}"));
        }
    } else {
        let argv0 = line.field(6, "server name")?;
        let base = server_f
            .value
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        let server = if base == "tcpd" {
            let Some(dir) = dir else {
                return Err(InetdError::TcpdNeedsDaemonDir {
                    span: server_f.span.clone(),
                });
            };
            if argv0.value.starts_with('/') {
                argv0.value.clone()
            } else {
                format!("{dir}/{}", argv0.value)
            }
        } else {
            server_f.value.clone()
        };
        itox_line(&mut out, "server", &server);
        let args: Vec<&str> = line.fields[7..].iter().map(|f| f.value.as_str()).collect();
        if !args.is_empty() {
            itox_line(&mut out, "server_args", &args.join(" "));
        }
    }
    out.push_str("}\n\n");
    Ok(out)
}

const XCONV_HEADER: &str = "\
# This file generated by xconv.pl, included with the xinetd
# package.  xconv.pl was written by Rob Braun (bbraun@synack.net)
#
# The file is merely a translation of your inetd.conf file into
# the equivalent in xinetd.conf syntax.  xinetd has many 
# features that may not be taken advantage of with this translation.
# Please refer to the xinetd.conf man page for more information 
# on how to properly configure xinetd.


# The defaults section sets some information for all services
defaults
{
\t#The maximum number of requests a particular service may handle
\t# at once.
\tinstances   = 25

\t# The type of logging.  This logs to a file that is specified.
\t# Another option is: SYSLOG syslog_facility [syslog_level]
\tlog_type    = FILE /var/log/servicelog

\t# What to log when the connection succeeds.
\t# PID logs the pid of the server processing the request.
\t# HOST logs the remote host's ip address.
\t# USERID logs the remote user (using RFC 1413)
\t# EXIT logs the exit status of the server.
\t# DURATION logs the duration of the session.
\tlog_on_success = HOST PID

\t# What to log when the connection fails.  Same options as above
\tlog_on_failure = HOST

\t# The maximum number of connections a specific IP address can
\t# have to a specific service.  
\tper_source  = 5
}

";

/// Perl's default `split`: on runs of whitespace, leading whitespace ignored.
fn is_perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn convert_xconv(bytes: &[u8], file: &str) -> Conversion {
    let file: Arc<str> = Arc::from(file);
    let mut conv = Conversion {
        text: XCONV_HEADER.to_string(),
        ..Conversion::default()
    };
    for (number, text) in physical_lines(bytes) {
        if text.starts_with('#') {
            continue;
        }
        let span = Span {
            file: file.clone(),
            line: number,
            column: 1,
        };
        let f = words(&text, &span, is_perl_space);
        if f.is_empty() {
            continue;
        }
        let get = |i: usize| f.get(i).map_or("", |w| w.value.as_str());
        if get(2).contains("rpc") {
            conv.warnings.push(warn(
                &f[2].span,
                format!("service {} not added: xconv.pl skips RPC services", get(0)),
                "use the itox style, which converts RPC entries",
            ));
            continue;
        }
        let out = &mut conv.text;
        let _ = writeln!(out, "service {}\n{{", get(0));
        out.push_str("\tflags       = NAMEINARGS\n");
        let _ = writeln!(out, "\tsocket_type = {}", get(1));
        let _ = writeln!(out, "\tprotocol    = {}", get(2));
        let wait = if get(3).contains("no") { "no" } else { "yes" };
        let _ = writeln!(out, "\twait        = {wait}");
        // Perl's split drops trailing empty fields.
        let mut ug: Vec<&str> = get(4).split([':', '.']).collect();
        while ug.last() == Some(&"") {
            ug.pop();
        }
        let _ = writeln!(out, "\tuser        = {}", ug.first().copied().unwrap_or(""));
        if let Some(g) = ug.get(1) {
            let _ = writeln!(out, "\tgroup       = {g}");
        }
        if get(5).contains("internal") {
            out.push_str("\ttype        = INTERNAL\n");
            let _ = writeln!(out, "\tid          = {}-{}", get(0), get(1));
            conv.warnings.push(warn(
                &f[5].span,
                format!(
                    "service {}: xinetd rejects NAMEINARGS on an INTERNAL service",
                    get(0)
                ),
                "remove the flags line from this entry",
            ));
        } else {
            let _ = writeln!(out, "\tserver      = {}", get(5));
            out.push_str("\tserver_args = ");
            for w in f.iter().skip(6) {
                out.push_str(&w.value);
                out.push(' ');
            }
            out.push('\n');
            if f.len() <= 6 {
                conv.warnings.push(warn(
                    &span,
                    format!(
                        "service {}: empty server_args, which xinetd rejects",
                        get(0)
                    ),
                    "add the program name (argv[0]) after the server path",
                ));
            }
        }
        out.push_str("}\n\n");
    }
    conv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> InetdLine {
        parse_inetd(text.as_bytes(), "t").remove(0)
    }

    #[test]
    fn skips_blank_and_comment_lines_like_next_line() {
        let l = parse_inetd(
            b"# c\n   # indented\n\t\r\n\nftp stream tcp nowait root /x x\n",
            "f",
        );
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].span.line, 5);
        assert_eq!(l[0].fields[6].span.column, 31);
    }

    #[test]
    fn nul_byte_ends_the_line() {
        let l = parse_inetd(b"ftp stream\0 tcp\n", "f");
        assert_eq!(l[0].fields.len(), 2);
    }

    #[test]
    fn entry_fields() {
        let e = InetdEntry::parse(&line(
            "rstatd/2-4 dgram rpc/udp WAIT nobody.nogroup /usr/sbin/rpc.rstatd rpc.rstatd",
        ))
        .unwrap();
        assert_eq!(e.name.value, "rstatd");
        assert_eq!(
            e.rpc_version.as_ref().unwrap().value,
            RpcVersion { min: 2, max: 4 }
        );
        assert_eq!(e.protocol.value, "udp");
        assert_eq!(e.protocol.span.column, 22);
        assert!(e.wait.value);
        assert_eq!(e.group.as_ref().unwrap().value, "nogroup");
        assert_eq!(e.group.as_ref().unwrap().span.column, 38);
    }

    #[test]
    fn typed_errors() {
        let err = |t: &str| InetdEntry::parse(&line(t)).unwrap_err();
        assert!(matches!(
            err("x stream"),
            InetdError::MissingField {
                field: "protocol",
                ..
            }
        ));
        assert!(matches!(
            err("x sock tcp"),
            InetdError::BadSocketType { .. }
        ));
        assert!(matches!(
            err("x dgram rpc/udp wait root /s"),
            InetdError::BadRpcVersion { .. }
        ));
        assert!(matches!(
            err("x/3-1 dgram rpc/udp wait root /s"),
            InetdError::BadRpcVersion { .. }
        ));
        assert!(matches!(
            err("x/1 dgram rpc wait root /s"),
            InetdError::BadRpcProtocol { .. }
        ));
        let e = err("x stream tcp nowait");
        assert_eq!(e.to_string(), "t:1:20: user[.group] missing");
        let d = e.to_diagnostic("t");
        assert!(d.xinetd.is_empty());
        assert!(d.hint.unwrap().contains("SIGSEGV"));
    }

    #[test]
    fn wait_max_suffix() {
        let e = InetdEntry::parse(&line("x dgram udp wait.100 root /s s")).unwrap();
        assert!(e.wait.value);
        assert!(e.wait_note.is_some());
        let e = InetdEntry::parse(&line("x stream tcp nowait.400 root /s s")).unwrap();
        assert!(!e.wait.value);
    }

    #[test]
    fn ids_of_internal_entries() {
        let e = InetdEntry::parse(&line("Echo stream tcp nowait root internal")).unwrap();
        assert_eq!(e.id(), "echo-dgram");
        let e = InetdEntry::parse(&line("tcpmux stream tcp nowait root internal")).unwrap();
        assert_eq!(e.id(), "tcpmux");
    }
}
