//! Typing the listening-socket options and `source_prefix` (extensions, crate::sockopts), and
//! their checks against the rest of the service (stream-only options, link-local scopes).
//!
//! These attributes are not xinetd's, so their numbers are read strictly (plain decimal, no C
//! `strtol` leniency): a typo is an error naming the attribute, never a silent zero.

use std::net::IpAddr;

use crate::attrs::Attr;
use crate::diagnostic::{diag, Severity};
use crate::model::{SocketType, Spanned};
use crate::sockopts::{Keepalive, SourcePrefix, UnixPath};
use crate::syntax::AttrLine;

use super::attribute::Failure;
use super::draft::Draft;
use super::Checks;

fn ours(message: String, hint: &str) -> Failure {
    Failure {
        message,
        hint: (!hint.is_empty()).then(|| hint.to_string()),
        xinetd: None,
    }
}

/// A plain decimal number within `range`, or a failure naming `attr`.
fn number(
    attr: &str,
    what: &str,
    v: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, Failure> {
    let n = (!v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()))
        .then(|| v.parse::<u64>().ok())
        .flatten();
    match n {
        Some(n) if n >= u64::from(*range.start()) && n <= u64::from(*range.end()) => Ok(n as u32),
        _ => Err(ours(
            format!(
                "{attr}: {what} '{v}' is not a number from {} to {}",
                range.start(),
                range.end()
            ),
            "",
        )),
    }
}

fn yes_no(attr: &str, v: &str) -> Result<bool, Failure> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(ours(format!("{attr}: '{v}' is not yes or no"), ""))
    }
}

/// Buffer sizes: bytes with an optional K or M suffix, 1K..=1G.
fn size(attr: &str, v: &str) -> Result<u32, Failure> {
    const MIN: u64 = 1024;
    const MAX: u64 = 1 << 30;
    let (digits, mult) = match v.as_bytes().last() {
        Some(b'k' | b'K') => (&v[..v.len() - 1], 1024u64),
        Some(b'm' | b'M') => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    let n = (!digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .and_then(|n| n.checked_mul(mult));
    match n {
        Some(n) if (MIN..=MAX).contains(&n) => Ok(n as u32),
        _ => Err(ours(
            format!("{attr}: '{v}' is not a size from 1K to 1024M"),
            "a number of bytes with an optional K or M suffix, e.g. 256K",
        )),
    }
}

/// `mark`: 32 bits, decimal or 0x hexadecimal.
fn mark(v: &str) -> Result<u32, Failure> {
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) => v.parse().ok(),
        None => None,
    };
    parsed.ok_or_else(|| {
        ours(
            format!("mark: '{v}' is not a 32-bit number"),
            "decimal or 0x hexadecimal, from 0 to 4294967295 (0xffffffff)",
        )
    })
}

/// Types one socket-option or `source_prefix` line into the draft.
macro_rules! sp {
    ($line:expr, $v:expr) => {
        Spanned::new($v, $line.span.clone())
    };
}

pub(super) fn parse(d: &mut Draft, attr: Attr, line: &AttrLine) -> Result<(), Failure> {
    let vals: Vec<&str> = line.values.iter().map(|v| v.0.as_str()).collect();
    let first = vals.first().copied().unwrap_or("");
    let mut o = d.socket.make_mut();
    match attr {
        Attr::Backlog => {
            o.backlog = Some(sp!(line, number("backlog", "length", first, 1..=65535)?))
        }
        Attr::Keepalive => {
            if vals.is_empty() || vals.len() > 3 {
                return Err(ours(
                    format!("keepalive takes 1 to 3 values, {} given", vals.len()),
                    "keepalive = IDLE [INTERVAL [COUNT]]: seconds before the first probe, seconds between probes, probes before giving up",
                ));
            }
            let secs = 1..=Keepalive::MAX_SECS;
            let idle = number("keepalive", "idle time", first, secs.clone())?;
            let interval = vals
                .get(1)
                .map(|v| number("keepalive", "interval", v, secs.clone()))
                .transpose()?;
            let count = vals
                .get(2)
                .map(|v| number("keepalive", "probe count", v, 1..=Keepalive::MAX_COUNT))
                .transpose()?;
            o.keepalive = Some(sp!(
                line,
                Keepalive {
                    idle,
                    interval,
                    count,
                }
            ));
        }
        Attr::Reuseport => o.reuseport = Some(sp!(line, yes_no("reuseport", first)?)),
        Attr::Freebind => o.freebind = Some(sp!(line, yes_no("freebind", first)?)),
        Attr::DeferAccept => {
            o.defer_accept = Some(sp!(line, number("defer_accept", "time", first, 1..=3600)?))
        }
        Attr::Mark => o.mark = Some(sp!(line, mark(first)?)),
        Attr::ReceiveBuffer => o.receive_buffer = Some(sp!(line, size("receive_buffer", first)?)),
        Attr::SendBuffer => o.send_buffer = Some(sp!(line, size("send_buffer", first)?)),
        Attr::SourcePrefix => {
            if vals.len() != 2 {
                return Err(ours(
                    format!("source_prefix takes 2 values, {} given", vals.len()),
                    "source_prefix = V4BITS V6BITS, e.g. 32 64 (per_source and SENSOR bans count each IPv6 /64 as one client)",
                ));
            }
            let v4 = number("source_prefix", "IPv4 prefix length", first, 0..=32)?;
            let v6 = number("source_prefix", "IPv6 prefix length", vals[1], 0..=128)?;
            d.source_prefix = Some(sp!(
                line,
                SourcePrefix {
                    v4: v4 as u8,
                    v6: v6 as u8,
                }
            ));
        }
        Attr::SocketPath => o.socket_path = Some(sp!(line, unix_path(first)?)),
        Attr::SocketMode => {
            let mode = (!first.is_empty() && first.bytes().all(|c| (b'0'..=b'7').contains(&c)))
                .then(|| u32::from_str_radix(first, 8).ok())
                .flatten()
                .filter(|m| *m <= 0o777);
            o.socket_mode = Some(sp!(
                line,
                mode.ok_or_else(|| ours(
                    format!("socket_mode: '{first}' is not an octal mode from 0 to 777"),
                    "e.g. socket_mode = 0660",
                ))?
            ));
        }
        _ => unreachable!("sockopts::parse is only called for its own attributes"),
    }
    Ok(())
}

/// `socket_path`: an absolute path that fits in sun_path, or `@NAME` (abstract).
fn unix_path(v: &str) -> Result<UnixPath, Failure> {
    // sun_path is 108 bytes; a file path needs its terminating NUL, an abstract name its
    // leading one.
    const SUN_PATH: usize = 108;
    if let Some(name) = v.strip_prefix('@') {
        if name.is_empty() || name.len() > SUN_PATH - 1 {
            return Err(ours(
                format!("socket_path: abstract name '{v}' must have 1 to 107 bytes after '@'"),
                "",
            ));
        }
        return Ok(UnixPath::Abstract(name.to_string()));
    }
    if !v.starts_with('/') || v.ends_with('/') || v.len() > SUN_PATH - 1 || v.contains('\0') {
        return Err(ours(
            format!("socket_path: '{v}' is not an absolute file path of at most 107 bytes"),
            "socket_path = /run/NAME.sock, or @NAME for an abstract socket",
        ));
    }
    Ok(UnixPath::File(v.to_string()))
}

/// Splits `fe80::1%eth0` into the address text and the scope; a scope is an interface name
/// (at most 15 bytes, no '/') or an interface index.
pub(super) fn split_scope(word: &str) -> Result<(&str, Option<String>), Failure> {
    let Some((addr, scope)) = word.split_once('%') else {
        return Ok((word, None));
    };
    if scope.is_empty() || scope.len() > 15 || scope.contains(['/', '%']) {
        return Err(ours(
            format!("bind: scope '{scope}' of '{word}' is not an interface name or index"),
            "write the interface after '%', e.g. fe80::1%eth0",
        ));
    }
    Ok((addr, Some(scope.to_string())))
}

/// An IPv6 link-local unicast address (fe80::/10): it means nothing without an interface.
fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

impl Checks<'_> {
    fn drop_at(&mut self, d: &Draft, span: &crate::model::Span, text: String, hint: &str) {
        let mut dg = diag(
            span,
            Severity::Error,
            format!("{text}; service '{}' is dropped", d.id()),
        )
        .service(Some(d.id()));
        if !hint.is_empty() {
            dg = dg.hint(hint);
        }
        self.diagnostics.push(dg);
    }

    /// Unix-domain listeners: what they need and what cannot go with them.
    fn check_unix(&mut self, d: &Draft) -> bool {
        let o = &d.socket;
        let file_attrs = [
            (
                "socket_mode",
                o.socket_mode.as_ref().map(|v| v.span.clone()),
            ),
            (
                "socket_owner",
                o.socket_owner.as_ref().map(|v| v.span.clone()),
            ),
            (
                "socket_group",
                o.socket_group.as_ref().map(|v| v.span.clone()),
            ),
        ];
        let creds = [
            ("only_uid", o.only_uid.as_ref().map(|v| v.span.clone())),
            ("only_gid", o.only_gid.as_ref().map(|v| v.span.clone())),
        ];
        let Some(path) = &o.socket_path else {
            for (name, span) in file_attrs.into_iter().chain(creds) {
                if let Some(span) = span {
                    self.drop_at(d, &span, format!("'{name}' needs socket_path"), "");
                    return false;
                }
            }
            return true;
        };
        if matches!(path.value, UnixPath::Abstract(_)) {
            for (name, span) in file_attrs {
                if let Some(span) = span {
                    self.drop_at(
                        d,
                        &span,
                        format!("'{name}' applies to socket files; '{}' is an abstract socket", path.value.text()),
                        "abstract sockets have no file and no permissions; use a socket file to restrict who may connect",
                    );
                    return false;
                }
            }
        }
        if d.is_internal() {
            self.drop_at(
                d,
                &path.span,
                "socket_path: internal services are not served over Unix sockets".into(),
                "",
            );
            return false;
        }
        let stream = d.socket_type.as_ref().map(|s| s.value) == Some(SocketType::Stream);
        if !d.waits() && !stream {
            self.drop_at(
                d,
                &path.span,
                "a dgram socket_path service needs wait = yes: the server reads the Unix socket itself".into(),
                "",
            );
            return false;
        }
        if d.waits() {
            // The server accepts: the daemon never sees a client's credentials.
            for (name, span) in creds {
                if let Some(span) = span {
                    self.drop_at(
                        d,
                        &span,
                        format!("'{name}' needs wait = no: with wait = yes the server accepts the clients, the daemon never sees them"),
                        "",
                    );
                    return false;
                }
            }
        }
        let ip_only = [
            (Attr::Port, "port"),
            (Attr::Bind, "bind"),
            (Attr::Redirect, "redirect"),
            (Attr::BindDevice, "bind_device"),
            (Attr::OnlyFrom, "only_from"),
            (Attr::NoAccess, "no_access"),
            (Attr::V6only, "v6only"),
            (Attr::Freebind, "freebind"),
            (Attr::Keepalive, "keepalive"),
            (Attr::DeferAccept, "defer_accept"),
            (Attr::Mark, "mark"),
            (Attr::Reuseport, "reuseport"),
        ];
        for (attr, name) in ip_only {
            if d.specified.contains(&attr) {
                self.drop_at(
                    d,
                    &path.span,
                    format!(
                        "socket_path cannot be combined with '{name}' (an IP socket attribute)"
                    ),
                    "",
                );
                return false;
            }
        }
        true
    }

    /// The options that make sense only on some services; `false` when the service is
    /// dropped (reported at the attribute's line).
    pub(crate) fn check_socket_options(&mut self, d: &Draft) -> bool {
        let stream = d.socket_type.as_ref().map(|s| s.value) == Some(SocketType::Stream);
        let o = &d.socket;
        let stream_only = [
            ("keepalive", o.keepalive.as_ref().map(|v| &v.span)),
            ("defer_accept", o.defer_accept.as_ref().map(|v| &v.span)),
            ("backlog", o.backlog.as_ref().map(|v| &v.span)),
        ];
        for (name, span) in stream_only {
            if let (Some(span), false) = (span, stream) {
                self.diagnostics.push(
                    diag(
                        span,
                        Severity::Error,
                        format!(
                            "'{name}' applies to stream services only; service '{}' is dropped",
                            d.id()
                        ),
                    )
                    .service(Some(d.id())),
                );
                return false;
            }
        }
        if !self.check_unix(d) {
            return false;
        }
        if let Some(b) = &d.bind {
            let problem = match (&b.value.scope, is_link_local(b.value.address)) {
                (Some(_), false) if !b.value.address.is_ipv6() => {
                    Some("a scope ('%IFNAME') is only meaningful on an IPv6 address")
                }
                (None, true) => Some("an IPv6 link-local bind address needs a scope"),
                _ => None,
            };
            if let Some(p) = problem {
                self.diagnostics.push(
                    diag(
                        &b.span,
                        Severity::Error,
                        format!(
                            "bind '{}': {p}; service '{}' is dropped",
                            b.value.text,
                            d.id()
                        ),
                    )
                    .hint("write the interface after '%', e.g. bind = fe80::1%eth0")
                    .service(Some(d.id())),
                );
                return false;
            }
        }
        true
    }
}
