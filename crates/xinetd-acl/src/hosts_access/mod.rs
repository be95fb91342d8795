//! tcp_wrappers compatibility: /etc/hosts.allow and /etc/hosts.deny in hosts_access(5) syntax,
//! evaluated as Debian's and Red Hat's libwrap-enabled xinetd does (F-250, F-307), sans-I/O.
//!
//! xinetd calls libwrap's `hosts_access()` in the child, after the address check, with a
//! daemon name chosen by [`daemon_name`] (F-250, F-139, F-605), unless the service has
//! `flags = NOLIBWRAP` (F-146; forced for TCP RPC services, F-976). libwrap re-reads both files
//! for every connection; [`HostsAccess::load`] parses them once (per reload) and
//! [`HostsAccess::decide`] answers without any I/O:
//!
//! * the allow file is searched first, then the deny file; the **first** matching rule of a
//!   file ends the search of that file; a match in the allow file grants, a match in the deny
//!   file refuses, no match grants. A missing file is an empty file, as in libwrap.
//! * rules are `daemon_list : client_list [ : option : option ... ]`; a backslash right before
//!   the newline joins lines; lines starting with `#` and blank lines are ignored; list items
//!   are separated by commas and/or blanks; `EXCEPT` nests to the right
//!   (`a EXCEPT b EXCEPT c` is `a EXCEPT (b EXCEPT c)`); everything is case-insensitive.
//! * the third field is the hosts_options(5) language (Debian builds libwrap with
//!   `PROCESS_OPTIONS`): `allow` / `deny` (last option) override the file's verdict; a syntax
//!   error in the options (unknown keyword, `allow` not last, missing value) refuses the
//!   connection, as libwrap does. Options that would run commands or change the server process
//!   (`spawn`, `twist`, `aclexec`, `setenv`, `user`, `banners`, ...) are **never executed**; each
//!   is reported once as a [`Diagnostic`] when the files are loaded. `twist` replaces the
//!   server with a command in libwrap, and `aclexec` lets a command decide: we refuse the
//!   connection for both, so a rule meant to turn clients away never lets them in.
//!
//! Patterns that need the client's host name (`KNOWN`, `UNKNOWN`, `LOCAL`, `PARANOID`, host
//! names, `.domain`, `*`/`?` patterns) are tried only when the address alone does
//! not decide; then [`HostsAccess::decide`] answers [`WrapDecision::NeedsLookup`] and the caller
//! performs the [`NameLookup`] where blocking is acceptable. Like libwrap, the name counts only
//! if it maps back to the client's address (double-reverse lookup): otherwise the host name is
//! `paranoid`: `PARANOID` and `ALL` match it, name and domain patterns, `KNOWN` and
//! `UNKNOWN` do not.
//!
//! Unsupported, each reported with file:line:col when loaded: NIS netgroups (`@group`: never
//! match, as in a libwrap built without NETGROUP), `user@host` client patterns other than
//! `ALL@host` (they need an ident lookup: never match), host *names* in the server part of
//! `daemon@host` (only server addresses are compared), and the options listed above.
//!
//! ```
//! use std::net::IpAddr;
//! use xinetd_acl::hosts_access::{ClientName, HostsAccess, WrapDecision};
//!
//! let dir = std::env::temp_dir().join(format!("hosts-access-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("hosts.allow"), "in.ftpd: 192.168. EXCEPT 192.168.1.66\n")?;
//! std::fs::write(dir.join("hosts.deny"), "ALL: ALL\n")?;
//! let (wrap, diagnostics) = HostsAccess::load(dir.join("hosts.allow"), dir.join("hosts.deny"))?;
//! assert!(diagnostics.is_empty());
//!
//! let client: IpAddr = "192.168.1.7".parse()?;
//! assert!(wrap.decide("in.ftpd", client, &ClientName::not_looked_up()).is_allowed());
//!
//! let WrapDecision::Deny(refusal) =
//!     wrap.decide("in.ftpd", "192.168.1.66".parse()?, &ClientName::not_looked_up())
//! else { panic!("expected a refusal") };
//! assert_eq!(refusal.rule().map(|r| r.line), Some(1)); // hosts.deny line 1
//! assert_eq!(
//!     refusal.log_text("ftp", "in.ftpd", "192.168.1.66"),
//!     "libwrap refused connection to ftp (libwrap=in.ftpd) from 192.168.1.66"
//! );
//! assert_eq!(refusal.fail_reason().as_str(), "libwrap");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::IpAddr;

mod client_name;
mod daemon_name;
mod decide;
mod diagnostic;
mod options;
mod parse;
mod pattern;
mod table;

pub use client_name::{ClientName, NameLookup};
pub use daemon_name::{daemon_name, ServerKind};
pub use decide::{HostsAccess, RuleLocation, Table, WrapAllowed, WrapDecision, WrapDenial};
// For the system resolver's messages (feature `system-resolver`).
#[cfg(feature = "system-resolver")]
pub(crate) use diagnostic::errno_text;
pub use diagnostic::{Diagnostic, DiagnosticKind, HostsAccessError, Severity};

/// IPv4-mapped IPv6 addresses are their IPv4 address (libwrap on Debian matches them so).
/// Here because patterns, client names and decisions all compare addresses this way.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}
