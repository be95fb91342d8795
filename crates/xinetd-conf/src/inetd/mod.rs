//! inetd.conf support: the line parser, xinetd's `-inetd_compat` reader (F-809, F-830,
//! F-831) and the `itox` / `xconv.pl` converters (F-900..F-911).
//!
//! * [`parse_inetd`] splits an inetd.conf into [`InetdLine`]s (raw fields with spans) the
//!   way xinetd's `next_line()` does; [`InetdEntry::parse`] reads one line as xinetd's
//!   `get_next_inet_entry()` does, with typed [`InetdError`]s naming file:line:col.
//! * [`load_inetd_compat`] / [`merge_inetd_bytes`] add the services of an inetd.conf to a
//!   [`Loaded`](crate::Loaded) xinetd configuration exactly as `xinetd -inetd_compat` does
//!   after reading its own files: the same passes as xinetd.conf services (defaults fill,
//!   F-047, but *not* the copy-at-start of F-046; the `enabled`/`disabled` filter;
//!   validation and the duplicate rule, F-071).
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

use std::sync::Arc;

use crate::diagnostic::{diag, Diagnostic, Severity, XinetdLevel};
use crate::model::*;

mod compat;
mod convert;

pub use compat::{load_inetd_compat, merge_inetd_bytes, InetdSummary};
pub use convert::{convert_inetd, Conversion, ConvertOptions, ConvertStyle};

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
