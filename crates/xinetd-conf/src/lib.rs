//! Parser, typed model, validator and printer for xinetd.conf, the configuration language of
//! the xinetd super-server (as xinetd 2.3.15.3 reads it).
//!
//! * [`load`] / [`load_bytes`] read a file and everything it includes, merge `defaults`,
//!   validate every service against the [`Environment`] (users, groups, /etc/services,
//!   /etc/protocols, /etc/rpc, host names, server executables, included files) with the
//!   caller's [`LoadOptions`], and return a [`Loaded`]: the accepted [`Service`]s, every
//!   [`Diagnostic`] (ours, plus the exact line xinetd would log), and the services that
//!   were dropped. A bad value in `defaults` is fatal like in xinetd
//!   ([`LoadError::FatalDefaults`]) unless [`LoadOptions::debug`] is set (xinetd's `-d`).
//! * [`parse_document`] is the parse-only layer (no file system, no databases).
//! * [`print()`] writes a model back as canonical text; loading that text gives the same model.
//!
//! The outcome (which services survive) is xinetd's, quirks included: `#` starts a comment
//! only at the beginning of a line, a stray line swallows the next service, CRLF breaks
//! values, `disable = yes` stops reading the entry. Two deliberate differences are listed in
//! the repository's [docs/compat.md]: lines longer than xinetd's 8 KiB buffer are read
//! whole, and services disabled by a parse error stay disabled even when `enabled` lists
//! them. Extension attributes: `chroot`, `timeout`, `bind_device`, `activation`,
//! `log_stderr`, the `log_type` forms `JOURNAL [facility [level]]` and
//! `FILE path [soft [hard]] JSON`, the listening-socket options ([`SocketOptions`]:
//! `backlog`, `keepalive`, `reuseport`, `freebind`, `defer_accept`, `mark`,
//! `receive_buffer`, `send_buffer`), a scope on IPv6 link-local `bind` addresses,
//! `source_prefix` ([`SourcePrefix`]), Unix-domain listeners (`socket_path`, `socket_mode`,
//! `socket_owner`, `socket_group`, `only_uid`, `only_gid`), the load-balancer attributes of
//! module [`proxy`] (`proxy_protocol`, `proxy_from`, `proxy_timeout`, `redirect_proxy`,
//! `connection_env`), and the sandbox attributes of module [`sandbox`] (`no_new_privs`,
//! `capabilities`, `private_*`, `protect_*`, `seccomp`, `landlock_*`, `memory_max`,
//! `pids_max`, `cpu_max`, `io_weight`, `cgroup_root`), and the TLS
//! attributes of [`tls`] (`tls_cert`, `tls_key`, `tls_client_ca`, `tls_client_auth`,
//! `tls_alpn`, `tls_min_version`, `tls_handshake_timeout`); and one extension builtin, `metrics` (with the admin builtins).
//!
//! The grammar (`grammar.pest`) says what each physical line is in the terms xinetd's reader
//! uses (blank/comment, lone brace, entry header, `name op values`); `syntax.rs` drives it
//! like xinetd's find_next_entry / parse_entry / skip_entry loop over one mutable buffer, so
//! xinetd's in-buffer quirks come out the same. The two rules run on every line have
//! hand-written equivalents for speed, checked against the grammar on every short string
//! ([docs/performance.md]). Values are then read by functions that copy the C library's
//! acceptance rules (strtol, strtoull, sscanf, inet_aton), which a grammar would only
//! approximate.
//!
//! [docs/compat.md]: https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md
//! [docs/performance.md]: https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/performance.md
//!
//! # The world and the options
//!
//! [`Environment`] is what a load looks names up in: [`Environment::system`] for the running
//! machine, [`Environment::isolated`] for nothing at all, and builders to replace any part
//! (`.services(...)`, `.passwd(...)`, `.resolver(...)`, `.follow_includes(...)`,
//! `.map_prefix(...)`, ...). [`LoadOptions`] is what the caller decides about the load:
//! `LoadOptions::new()` loads as xinetd 2.3.15.3 does, `.debug(true)` is xinetd's `-d`,
//! `.admin_builtins(true)` accepts the `servers`/`services`/`xadmin` builtins.
//!
//! # Example: parse a file, list services with their ports
//!
//! ```
//! use xinetd_conf::{load, Environment, LoadOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("xinetd.conf");
//! std::fs::write(
//!     &path,
//!     "service echo\n\
//!      {\n\
//!      \ttype        = INTERNAL UNLISTED\n\
//!      \tsocket_type = stream\n\
//!      \tport        = 7007\n\
//!      \twait        = no\n\
//!      }\n\
//!      service daytime\n\
//!      {\n\
//!      \ttype        = INTERNAL UNLISTED\n\
//!      \tprotocol    = udp\n\
//!      \tport        = 1313\n\
//!      \twait        = yes\n\
//!      }\n",
//! )?;
//! // Environment::system() reads /etc/passwd, /etc/services, ...; the isolated one needs
//! // nothing, which is enough for internal services on explicit ports. LoadOptions::new()
//! // loads as xinetd 2.3.15.3 does (no -d, no admin builtins).
//! let loaded = load(&path, &Environment::isolated(), &LoadOptions::new())?;
//! let listing: Vec<String> = loaded
//!     .config
//!     .services
//!     .iter()
//!     .map(|s| {
//!         let port = s.port.as_ref().map_or(0, |p| p.value);
//!         format!("{} {}/{}", s.id.value, s.protocol.value.name, port)
//!     })
//!     .collect();
//! assert_eq!(listing, ["echo tcp/7007", "daytime udp/1313"]);
//! for d in &loaded.diagnostics {
//!     eprintln!("{}", d.render()); // file:line:col: severity: message
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc = "\n# inetd.conf\n\n[`inetd`] reads inetd.conf lines ([`parse_inetd`], [`InetdEntry`]), merges them into a [`Loaded`] configuration as `xinetd -inetd_compat` does ([`load_inetd_compat`], [`merge_inetd_bytes`]) and converts them to xinetd.conf text as `itox` / `xconv.pl` do ([`convert_inetd`])."]

/// The README's examples, compiled and run as doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod attrs;
mod diagnostic;
mod env;
mod extension;
pub use extension::{AttributeGroup, Extension, ExtensionMut};
pub mod inetd;
pub use inetd::{
    convert_inetd, load_inetd_compat, merge_inetd_bytes, parse_inetd, Conversion, ConvertOptions,
    ConvertStyle, InetdEntry, InetdError, InetdLine, InetdServer, InetdSummary, INETD_CONF,
};
mod load;
mod model;
mod print;
mod sockopts;
pub use sockopts::{Keepalive, Named, SocketOptions, SourcePrefix, UnixPath};
pub mod proxy;
pub mod sandbox;
mod syntax;
mod syslog_names;
pub mod tls;
mod values;

pub use diagnostic::{Diagnostic, Severity, XinetdLevel, XinetdMessage};
pub use env::{
    parse_group, parse_hosts, parse_numbered, parse_passwd, parse_services, Environment,
    GroupEntry, HostResolver, LoadOptions, NumberedEntry, PasswdEntry, ServerCheck, ServicesEntry,
};
pub use load::{builtin_for, load, load_bytes, LoadError, Loaded};
pub use model::*;
pub use print::{log_type as print_log_type, print, print_service};
pub use sandbox::Sandbox;

/// Every attribute name the parser knows (service and `defaults` tables, each name once),
/// with whether it is an extension of xinetd 2.3.15.3: for documentation checks, editors'
/// completion and linters.
///
/// ```
/// let all = xinetd_conf::known_attributes();
/// assert!(all.contains(&("only_from", false)));
/// assert!(all.contains(&("timeout", true)));
/// ```
pub fn known_attributes() -> Vec<(&'static str, bool)> {
    let mut out: Vec<(&'static str, bool)> = Vec::new();
    for (name, attr, _) in attrs::SERVICE_ATTRS.iter().chain(attrs::DEFAULTS_ATTRS) {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name, attrs::is_extension(*attr)));
        }
    }
    out
}
pub use syntax::{
    parse_document, AttrLine, Document, Entry, EntryEnd, EntryKind, Item, Op, Skip, XINETD_BUFFER,
};
pub use values::{classify_address, AddressOutcome};
