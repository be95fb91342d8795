//! The daemon name xinetd passes to libwrap (F-250, F-139, F-605): what the first field of a
//! hosts.allow/hosts.deny rule is compared with.

/// How a service is served, for [`daemon_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind<'a> {
    /// `type = INTERNAL` (a builtin).
    Internal,
    /// `redirect = host port` (F-605).
    Redirect,
    /// An external server.
    External {
        /// The `server` attribute (a path).
        server: &'a str,
        /// The `server_args` words (without the server itself).
        server_args: &'a [&'a str],
        /// `flags = NAMEINARGS`: the first `server_args` word is argv\[0\].
        name_in_args: bool,
    },
}

/// The daemon name xinetd gives libwrap (F-250, F-139, F-605): the `libwrap` attribute if set;
/// else the service name for internal and redirected services; else, with `NAMEINARGS`, the
/// basename of the first `server_args` word; else the basename of `server`.
///
/// ```
/// use xinetd_acl::hosts_access::{daemon_name, ServerKind};
/// let tcpd = ServerKind::External {
///     server: "/usr/sbin/tcpd",
///     server_args: &["/usr/sbin/in.ftpd", "-l"],
///     name_in_args: true,
/// };
/// assert_eq!(daemon_name(None, "ftp", tcpd), "in.ftpd");
/// assert_eq!(daemon_name(Some("ftpd"), "ftp", tcpd), "ftpd");
/// assert_eq!(daemon_name(None, "echo", ServerKind::Internal), "echo");
/// ```
pub fn daemon_name<'a>(
    libwrap: Option<&'a str>,
    service_name: &'a str,
    kind: ServerKind<'a>,
) -> &'a str {
    if let Some(name) = libwrap {
        return name;
    }
    let basename = |p: &'a str| p.rsplit('/').next().unwrap_or(p);
    match kind {
        ServerKind::Internal | ServerKind::Redirect => service_name,
        ServerKind::External {
            server,
            server_args,
            name_in_args,
        } => match server_args.first() {
            Some(first) if name_in_args => basename(first),
            _ => basename(server),
        },
    }
}
