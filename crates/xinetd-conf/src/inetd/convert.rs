//! The `itox` and `xconv.pl` converters: inetd.conf to xinetd.conf text (F-900..F-911).

use std::fmt::Write as _;
use std::sync::Arc;

use crate::diagnostic::{diag, Diagnostic, Severity};
use crate::model::*;

use super::{physical_lines, words, InetdError, InetdLine};

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
